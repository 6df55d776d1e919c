"""Notices the customer chooses (issue 19): 绑定户号, 我的订阅, 退订/重新订阅, 解绑户号, and the
一图看懂 usage chart the bill flow shows for a question about usage.

One intent, ``manage_notices``; what the customer wants is read from the words (:func:`wanted`)
or from a button's entities (``notice_action``, ``notice_kind``). Binding needs a verified
identity: a customer who has not proved one goes through ``notice_form`` (the same identity
check as the bill form) and comes back here. The gateway checks again itself: it binds only an
account proved in this very conversation. The channel and the channel user are the gateway's
own record of the conversation (the tracker's sender id is the gateway's conversation id).
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.common import (
    BaseFormValidation,
    IdentityValidation,
    channel_of,
    identity_blocked_reply,
    identity_missing,
    latest_text,
    previous_turn,
)
from bot import vocabulary

KIND_NAMES = vocabulary.NOTICE_KINDS
SWITCHABLE = [k for k in KIND_NAMES if k not in vocabulary.NOTICE_KINDS_ALWAYS_ON]
CHANNEL_NAMES = {"wechat": "微信", "wecom": "企业微信", "web": "网页客服", "sms": "短信"}
# How a notice reaches the customer on each channel (bot/notices/senders.py): the web widget shows
# it at once while a window is open (on any gateway), else when the customer next opens it; WeChat
# sends a template message of the official account; WeCom an application message. The line of the
# binding's channel is the value ``arrival`` of utter_notices_bound*: a response cannot choose by
# the customer's channel (Rasa's channel variations are by output channel, always the gateway's).
HOW_NOTICES_ARRIVE = {
    "web": "客服窗口开着时，通知会立即显示在这里；窗口关着时，会在您下次打开客服窗口时显示。",
    "wechat": "通知会由本公众号直接推送给您，不需要您先发消息。",
    "wecom": "通知会以企业微信应用消息的形式发给您。",
}

# What the customer wants, in the order it is decided (解绑 before 绑定, 退订 before 订阅).
UNBIND_WORDS = re.compile(r"解绑|解除.{0,4}绑定|取消.{0,4}绑定|删除.{0,4}绑定|不绑了|不(要|用|想)再?绑")
LIST_WORDS = re.compile(r"我的订阅|(订阅|订)的.{0,6}(哪些|什么|啥)|订阅了(哪些|什么|啥)|订了(哪些|什么|啥)|(哪些|什么|啥)(通知|提醒)|订阅(情况|状态|列表|设置)"
                        r"|(查|看)(看|一下|下)?.{0,4}(订阅|通知设置)|收(哪些|什么|啥)|绑定了(哪些|几个|什么)|绑了(哪些|几个)")
OFF_WORDS = re.compile(r"退订|退定|取消订阅|取消.{0,8}(通知|提醒|推送)|不(要|用|想|需要)(再)?(给我)?(发|收|推|通知|提醒|接收)"
                       r"|别(再)?(给我)?(发|推|提醒|通知)|(关闭|关掉|关了|停掉|屏蔽)|不再(接收|收|发)|停止(发|推|接收)"
                       r"|(不需要|不要|不用|用不着)了")
ON_WORDS = re.compile(r"订阅|重新(开|打开|开启|接收)|恢复(接收|推送|通知)|(开启|打开|开通|开一下|开下)|照常|继续(给我)?(发|推)|还是要(发|收)|要(接收|收)")
BIND_WORDS = re.compile(r"绑定|绑一下|绑上|绑户号|绑到|绑个|邦定|帮定|关联|发给我|通知我|提醒我|告诉我|推给我|发我|发到(这|微信|我)|推送给我")
ALL_WORDS = re.compile(r"所有|全部|一切|任何|都不要|什么通知都|通知都|提醒都")
AFFIRM_WORDS = re.compile(r"确认|确定|是的|对|好的?|嗯|可以|行")
# Kinds by the words customers use (the first that matches a span wins; 复电 before 停电).
KIND_WORDS: Tuple[Tuple[str, re.Pattern], ...] = (
    ("restoration", re.compile(r"复电|恢复供电|来电(通知|提醒)|送电")),
    ("planned_outage", re.compile(r"停电|检修")),
    ("overdue", re.compile(r"欠费|逾期|违约金|催缴|催费|滞纳金")),
    ("due_reminder", re.compile(r"到期|缴费提醒|交费提醒|缴费通知|交费通知|截止|快到期|交费日|缴费日")),
    ("low_balance", re.compile(r"余额|预付费|预存|快用完|充值提醒")),
    ("bill_issued", re.compile(r"账单|出账|电费单|电费通知|电费消息")),
    ("abnormal_usage", re.compile(r"异常|突增|暴增|用电.{0,2}(突然|异常)")),
    ("ticket_status", re.compile(r"工单|进度|报修.{0,4}(通知|消息)|处理结果")),
    ("adhoc", re.compile(r"紧急|应急")),
)
# The unbinding question, and its words (tests/actions/test_texts.py: the response has them) by
# which a bot event of it is recognised.
UNBIND_QUESTION = "utter_notices_ask_unbind"
UNBIND_QUESTION_WORDS = "确定要解除"
# Some word about notices or binding: without one, NLU's manage_notices was a guess ("帮我订个酒店").
ABOUT_NOTICES = re.compile(r"通知|提醒|订阅|关联|退订|退定|绑|邦定|解绑|消息|短信|推送|告诉我|发给我|发我|通知我|提醒我")


def kinds_named(text: str) -> List[str]:
    """The notice kinds a message names ([] for none; every switchable kind for 所有/全部)."""
    found: List[str] = []
    rest = text or ""
    for kind, words in KIND_WORDS:
        if words.search(rest):
            found.append(kind)
            rest = words.sub("", rest)
    if not found and ALL_WORDS.search(text or ""):
        return list(SWITCHABLE)
    return found


def unbind_asked(tracker: Tracker) -> bool:
    """The bot's previous answer asked the customer to confirm unbinding."""
    return any(e.get("event") == "bot" and ((e.get("metadata") or {}).get("utter_action") == UNBIND_QUESTION
                                            or UNBIND_QUESTION_WORDS in (e.get("text") or ""))
               for e in previous_turn(tracker))


def wanted(tracker: Tracker) -> Tuple[str, List[str]]:
    """``(action, kinds)``: action one of bind, list, off, on, unbind, unbind_confirmed."""
    text = latest_text(tracker)
    slot_kinds = [k for k in str(tracker.get_slot("notice_kind") or "").split(",") if k in KIND_NAMES]
    action = tracker.get_slot("notice_action")
    kinds = slot_kinds or kinds_named(text)
    if action in ("bind", "list", "off", "on", "unbind", "unbind_confirmed"):
        return action, kinds
    if UNBIND_WORDS.search(text):
        confirmed = unbind_asked(tracker) and AFFIRM_WORDS.search(UNBIND_WORDS.sub("", text))
        return ("unbind_confirmed" if confirmed else "unbind"), kinds
    if OFF_WORDS.search(text):
        return "off", kinds
    if LIST_WORDS.search(text):
        return "list", kinds
    if ON_WORDS.search(text) and "绑定" not in text:
        return "on", kinds
    if BIND_WORDS.search(text) or kinds:
        # "以后停电通知发给我": a kind asked for, no word of binding: switched on where the person
        # is bound already, else bound (run() decides).
        return ("on" if kinds and not re.search(r"绑|邦定|帮定|关联", text) else "bind"), kinds
    return "list", kinds


# Lists of any length (kinds, accounts, a binding's subscriptions) are assembled here and handed
# to the responses as one value: Rasa's templates do not repeat.


def names(kinds: List[str]) -> str:
    return "、".join(KIND_NAMES[k] for k in kinds)


def tails(bindings: List[Dict[str, Any]]) -> str:
    return "、".join(f"尾号{b['account_no'][-4:]}" for b in bindings)


def button_payload(action: str, kind: Optional[str] = None) -> str:
    """The payload of a notices button of domain.yml (its braces doubled there)."""
    entities = {"notice_action": action, **({"notice_kind": kind} if kind else {})}
    return "/manage_notices" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


def subscription_lines(binding: Dict[str, Any]) -> List[str]:
    lines = [f"户号尾号{binding['account_no'][-4:]}（{CHANNEL_NAMES.get(str(binding.get('channel')), '本渠道')}）："]
    for item in binding.get("subscriptions") or []:
        state = "已开启" if item.get("enabled") else "已关闭"
        fixed = "（与您的报修、申请有关，不能关闭）" if not item.get("switchable") else ""
        lines.append(f"· {item.get('name')}：{state}{fixed}")
    return lines


def came_from_form(tracker: Tracker) -> bool:
    """This action runs right after notice_form (the identity check) ended."""
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") not in (None, "action_manage_notices"):
            return event.get("name") == "notice_form"
        if event.get("event") == "user":
            return False
    return False


class ValidateNoticeForm(BaseFormValidation, IdentityValidation, FormValidationAction):
    def name(self) -> Text:
        return "validate_notice_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        text = latest_text(tracker)
        if tracker.get_slot("requested_slot") is None and not text.startswith("/") and not any(
                words.search(text) for words in (ABOUT_NOTICES, OFF_WORDS, UNBIND_WORDS, BIND_WORDS)):
            # "我店里说是欠费被停电了 我现在就交 …多久能恢复": nothing about notices was said; the
            # question is answered as a question (or its request served), no identity asked.
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_answer_faq")]
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        return identity_missing(tracker)


class ActionManageNotices(Action):
    def name(self) -> Text:
        return "action_manage_notices"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        events = await self.serve(dispatcher, tracker)
        if not any(e.get("event") == "followup" for e in events):
            # The answer is complete however the action was reached (its rule, or a FollowupAction
            # from the outage form that heard "停电通知不要再发了", where no rule says what is next).
            events.append(FollowupAction("action_listen"))
        return events

    async def serve(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        action, kinds = wanted(tracker)
        reset: List[EventType] = [SlotSet("notice_action", None), SlotSet("notice_kind", None)]
        text = latest_text(tracker)
        if not tracker.get_slot("notice_action") and not kinds \
                and not any(words.search(text) for words in (ABOUT_NOTICES, OFF_WORDS, UNBIND_WORDS, BIND_WORDS)):
            return reset + [FollowupAction("action_out_of_scope")]
        try:
            if action == "list":
                return reset + await self.show(dispatcher, tracker)
            if action in ("unbind", "unbind_confirmed"):
                return reset + await self.unbind(dispatcher, tracker, confirmed=action == "unbind_confirmed")
            if action == "off":
                return reset + await self.switch(dispatcher, tracker, kinds, False)
            if action == "on":
                bindings = await api_client.notice_bindings(tracker.sender_id)
                if bindings:
                    return reset + await self.switch(dispatcher, tracker, kinds, True)
            return await self.bind(dispatcher, tracker, "bind", kinds, reset)
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return reset + [SlotSet("handoff_reason", "api_failure")]

    async def bind(self, dispatcher: CollectingDispatcher, tracker: Tracker, action: str, kinds: List[str],
                   reset: List[EventType]) -> List[EventType]:
        if not tracker.get_slot("identity_verified"):
            if came_from_form(tracker) or tracker.get_slot("identity_locked") or tracker.get_slot("api_failed"):
                return reset + identity_blocked_reply(dispatcher, tracker)
            dispatcher.utter_message(response="utter_notices_verify_first")
            return [SlotSet("notice_action", action), SlotSet("notice_kind", ",".join(kinds) or None),
                    FollowupAction("notice_form")]
        account_no = tracker.get_slot("verified_account_no")
        try:
            result = await api_client.bind_notices(account_no, tracker.sender_id)
        except api_client.Forbidden:
            # The gateway has no proof of this account in this conversation (it forgets after an
            # hour of silence): the check is asked again rather than trusting the slots.
            dispatcher.utter_message(response="utter_notices_verify_again")
            return [SlotSet("identity_verified", False), SlotSet("verified_account_no", None),
                    SlotSet("phone_last4", None), SlotSet("notice_action", action),
                    SlotSet("notice_kind", ",".join(kinds) or None), FollowupAction("notice_form")]
        binding = result.get("binding") or {}
        off = [item["kind"] for item in binding.get("subscriptions") or []
               if item.get("kind") in kinds and not item.get("enabled")]
        if off:  # "以后停电通知发给我": what they asked for is on, even if they had switched it off
            await api_client.set_notice_subscription(tracker.sender_id, off, True, account_no=account_no)
        channel = CHANNEL_NAMES.get(binding.get("channel") or channel_of(tracker), "这里")
        response = "utter_notices_bound" + ("" if result.get("created") else "_already") + ("_kinds" if kinds else "")
        how = HOW_NOTICES_ARRIVE.get(binding.get("channel") or channel_of(tracker))
        dispatcher.utter_message(response=response, tail=account_no[-4:], channel_name=channel,
                                 arrival=f"\n{how}" if how else "", **({"kinds": names(kinds)} if kinds else {}))
        return reset

    async def show(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        bindings = await api_client.notice_bindings(tracker.sender_id)
        if not bindings:
            dispatcher.utter_message(response="utter_notices_none_bound")
            return []
        lines: List[str] = []
        for binding in bindings:
            lines += subscription_lines(binding)
        dispatcher.utter_message(response="utter_notices_subscriptions", subscriptions="\n".join(filter(None, lines)))
        return []

    async def switch(self, dispatcher: CollectingDispatcher, tracker: Tracker, kinds: List[str],
                     enabled: bool) -> List[EventType]:
        fixed = [k for k in kinds if k in vocabulary.NOTICE_KINDS_ALWAYS_ON]
        kinds = [k for k in kinds if k not in vocabulary.NOTICE_KINDS_ALWAYS_ON]
        if fixed and not enabled:
            dispatcher.utter_message(response="utter_notices_always_on", kinds=names(fixed))
            if not kinds:
                return []
        if not kinds:
            dispatcher.utter_message(response="utter_notices_ask_kind_on" if enabled else "utter_notices_ask_kind_off")
            return []
        try:
            bindings = await api_client.set_notice_subscription(tracker.sender_id, kinds, enabled)
        except api_client.NotFound:
            dispatcher.utter_message(response="utter_notices_switch_not_bound")
            return []
        if enabled:
            dispatcher.utter_message(response="utter_notices_switched_on", kinds=names(kinds), accounts=tails(bindings))
        else:
            dispatcher.utter_message(response="utter_notices_switched_off", kinds=names(kinds), accounts=tails(bindings),
                                     first_kind=KIND_NAMES[kinds[0]])
        return []

    async def unbind_confirmed(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        """The typed yes to the unbinding question (from action_affirm_outside_form, whose rule
        then listens): unbinds here and now."""
        reset: List[EventType] = [SlotSet("notice_action", None), SlotSet("notice_kind", None)]
        try:
            return reset + await self.unbind(dispatcher, tracker, confirmed=True)
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return reset + [SlotSet("handoff_reason", "api_failure")]

    async def unbind(self, dispatcher: CollectingDispatcher, tracker: Tracker, confirmed: bool) -> List[EventType]:
        bindings = await api_client.notice_bindings(tracker.sender_id)
        named = [e.get("value") for e in (tracker.latest_message or {}).get("entities") or []
                 if e.get("entity") == "account_no"]
        chosen = [b for b in bindings if b["account_no"] in named] or bindings
        if not chosen:
            dispatcher.utter_message(response="utter_notices_nothing_to_unbind")
            return []
        if not confirmed:
            dispatcher.utter_message(response=UNBIND_QUESTION, accounts=tails(chosen))
            return [SlotSet("notice_unbind_account", chosen[0]["account_no"] if len(chosen) == 1 else None)]
        account_no = tracker.get_slot("notice_unbind_account")
        result = await api_client.unbind_notices(tracker.sender_id, account_no=account_no)
        ended = result.get("unbound") or []
        if not ended:
            dispatcher.utter_message(response="utter_notices_nothing_to_unbind")
            return [SlotSet("notice_unbind_account", None)]
        left = result.get("bindings") or []
        ended_tails = tails([{"account_no": no} for no in ended])
        if left:
            dispatcher.utter_message(response="utter_notices_unbound_others_left", accounts=ended_tails,
                                     others=tails(left))
        else:
            dispatcher.utter_message(response="utter_notices_unbound", accounts=ended_tails)
        return [SlotSet("notice_unbind_account", None)]


# ---------------------------------------------------------------- 一图看懂

# A question about usage over time, not one month's bill ("最近用电情况怎么样", "帮我看看用电趋势").
USAGE_WORDS = re.compile(
    r"用电(的)?(情况|趋势|走势|变化|曲线|图)|用电量(的)?(变化|趋势|走势|情况|曲线)|一图看懂|(用电|电量|电费).{0,4}(图表|柱状图|统计图)"
    r"|每个?月.{0,4}用(了)?多少(度)?电|(近|最近|这|过去)(一年|1年|12个月|十二个月|几个月|半年|一段时间).{0,8}(用电|电量|电费)"
    r"|电费(的)?(趋势|走势|变化情况)|用电(习惯|规律)")


def wants_usage_chart(text: Optional[str]) -> bool:
    return bool(USAGE_WORDS.search(text or ""))


async def usage_chart_reply(dispatcher: CollectingDispatcher, tracker: Tracker,
                            account_no: str) -> Optional[List[EventType]]:
    """The chart as an image (the contract's attachment) and its summary; None when the gateway
    refuses it (identity not proved in this conversation): the caller answers another way."""
    try:
        chart = await api_client.usage_chart(account_no, tracker.sender_id)
    except api_client.Forbidden:
        return None
    url = chart.get("url")
    if not url:
        if chart.get("text"):
            dispatcher.utter_message(text=chart["text"])
        else:
            dispatcher.utter_message(response="utter_usage_chart_no_bills")
        return []
    title = chart.get("title") or "近12个月用电情况"
    # WeChat and WeCom get the picture itself (an image message, bot.channels.common); elsewhere it
    # is a link that expires, and the response says so.
    ready = ("utter_usage_chart_ready_picture" if channel_of(tracker) in ("wechat", "wecom")
             else "utter_usage_chart_ready")
    dispatcher.utter_message(response=ready, tail=account_no[-4:])
    dispatcher.utter_message(attachment={"type": "image", "payload": {"src": url, "title": title}})
    dispatcher.utter_message(text=chart.get("text") or "")
    return []
