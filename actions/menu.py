"""A detail said on its own, with no request in progress ("南京市玄武区中山路18号"), and a phone
number left for a callback that was opened before the customer gave one."""
from __future__ import annotations

import re
from typing import List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    add_to_just_filed,
    bot_texts_within,
    complete_callback,
    correct_just_filed_address,
    correct_just_filed_phone,
    earlier_customer_texts,
    entity_values,
    find_mobile,
    latest_text,
    previous_turn,
)
from actions.responses import echoed
from actions.notices import ActionManageNotices, unbind_asked

# A detail given together with the words of a request: the request it is for.
REQUEST_WORDS = (
    ("fault_form", re.compile(r"(?<![有])没电(?![费话])|没得电|(?<!有)没有电(?![费话])|缺相|缺了一相|到现在(还)?没(来电|电)|(昨晚|昨天|早上|一早上|半天|一上午)[^，,。？?]{0,6}(就)?停电了|一闪一闪|忽明忽暗|灯闪|闪个不停|电压不稳|报修|报(个|下|一下)修|修一下|来修|派人|抢修|维修|修理|帮我修|(再|重新)(帮我)?报|还是没电|家里没电|没电了|不来电|"
                               r"(电灯|灯泡|(?<![道路廊街])灯|电视|冰箱)(都|也|全)?(不亮|打不开|不转|没反应)了?|一点电都没")),
    ("outage_form", re.compile(r"停电(吗|安排|计划|通知)|停不停电|要停电|会停电|什么时候来电|啥时候来电|几点来电|"
                               r"(计划|检修)停电|有没有.{0,6}停电|"
                               r"停多(长时间|久)|要停几个?(小时|钟头)|哪天停|几号停|停到几点")),
    ("application_form", re.compile(r"申请|办理|报装|装个?电表|过户|销户|增容|移表|挪表|电表.{0,8}(挪|移)|充电桩|光伏|并网|太阳能板|"
                                    r"(改|换)(回|成|为)(普通|居民|商业|峰谷|分时)(电价|的|电)?|(不想|不要)(用)?峰谷")),
    ("bill_form", re.compile(r"电费|账单|欠费")),
)


def named_request(text: str) -> Optional[str]:
    """The form of the request whose words come first in the text, if any."""
    found = [(match.start(), form) for form, words in REQUEST_WORDS for match in [words.search(text or "")] if match]
    return min(found)[1] if found else None


FORM_INTENTS = {"fault_form": "report_fault", "outage_form": "query_outage", "application_form": "apply_service",
                "bill_form": "query_bill"}
# Offers made under another intent's name ("您是想查询电费吗？" for a bill reason question).
OFFERED_AS = {"ask_bill_reason": "bill_form"}

# "0945", "尾号1448", "手机号后四位1448": the last four digits of the registered phone on their own.
LAST_FOUR_ALONE = re.compile(r"^(手机|电话)?(号码?)?(的)?(尾号|后四位|后4位|最后四位)?(是)?\s*(\d{4})[。.！!]?$")


# User turns after an offer within which a yes still answers it.
OFFER_TURNS = 2

def offered_request(tracker: Tracker) -> Optional[str]:
    """The form of the request the bot offered in its last answer ("您是想查询电费吗？" with a
    "/query_bill" button), if any."""
    forms = {intent: form for form, intent in FORM_INTENTS.items()} | OFFERED_AS
    for event in previous_turn(tracker):
        if event.get("event") != "bot":
            continue
        for button in ((event.get("data") or {}).get("buttons") or [])[:1]:
            payload = str(button.get("payload") or "")
            intent = payload[1:].split("{", 1)[0] if payload.startswith("/") else ""
            if intent in forms:
                return forms[intent]
    return None


class ActionAnswerBareDetail(Action):
    """Acknowledges the address or account number (its slot is kept, so the request the
    customer picks next does not ask for it again) and offers what it is usually for;
    anything else gets the menu."""

    def name(self) -> Text:
        return "action_answer_bare_detail"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        addresses = entity_values(tracker, "address")
        accounts = entity_values(tracker, "account_no")
        corrected = await correct_just_filed_phone(dispatcher, tracker) or \
            await correct_just_filed_address(dispatcher, tracker)
        if corrected is not None:
            return corrected
        phone = next(filter(None, map(find_mobile, entity_values(tracker, "phone"))), None) or find_mobile(latest_text(tracker))
        if phone and await complete_callback(dispatcher, tracker, phone):
            return []
        added = None if phone or accounts else await add_to_just_filed(dispatcher, tracker)
        if added is not None:
            return added  # "江宁区湖熟街道和平社区 小太阳幼儿园" right after a praise: where it happened
        offered = offered_request(tracker)
        if (accounts or phone) and offered_business(tracker):
            # "户号3201000023" (or "…张溪社区58号 我叫任志军 电话158…") right after an application
            # was offered: the customer is applying, these are the applicant's details.
            return [SlotSet("offered_business", None), SlotSet("business_type", offered_business(tracker)),
                    FollowupAction("application_form")]
        if (addresses or accounts) and offered == "fault_form" and not phone:
            from actions.faults import tells_a_fault  # faults imports this module

            said = list(earlier_customer_texts(tracker, 3))
            # (The outage answer may come after a bill, for "查电费 顺便问下明天停不停电": the
            # question is then further back than the customer's identity answers.)
            outage_answered = any(named_request(text) == "outage_form" for text in said[:2]) or any(
                event.get("event") == "action" and event.get("name") == "action_query_outage"
                for event in previous_turn(tracker))
            if outage_answered and not any(tells_a_fault(text) for text in said + [latest_text(tracker)]):
                # "雄州南路这一片下周有没有计划停电", answered "none found; if you have no power now,
                # a repair?", then the exact address: a closer look for outages there, not a repair
                # nobody asked for (ag-outage-002 got a crew sent to a factory planning its week).
                return [FollowupAction("outage_form")]
        if offered and (accounts or addresses or phone):
            # "您是想查询电费吗？[是的][不是]" answered with "户号3201000030": a yes, with the detail.
            return [FollowupAction(offered)]
        last_four = LAST_FOUR_ALONE.match(latest_text(tracker).strip())
        if last_four and not accounts and tracker.get_slot("account_no") and not tracker.get_slot("identity_verified"):
            # "户号3201000020" (noted, no request named) then "手机号后四位1448": the customer proves
            # who they are to see the account: the bill, checked as any bill query is.
            return [SlotSet("phone_last4", last_four.group(6)), FollowupAction("bill_form")]
        from actions.faq import last_faq_topic  # faq imports this module

        if accounts and last_faq_topic(tracker, within_turns=1) in ("prepaid", "prepaid_low_balance"):
            # "户号3201000038 电话后四位6627" right after the prepaid answer: the balance asked
            # about is the customer's own (the bill shows it, after the identity check).
            return [FollowupAction("bill_form")]
        request = named_request(latest_text(tracker)) if addresses or accounts else None
        if request:
            # "玄武区珠江路130号…11栋2603 家里没电了 帮我报修": NLU saw the address, the words say
            # what it is for; the form takes the address (and phone) from this message.
            return [FollowupAction(request)]
        if accounts and bill_asked_just_before(tracker):
            # "户号三二零一…" right after a bill question that was not understood: that bill.
            return [FollowupAction("bill_form")]
        if addresses and outage_asked_just_before(tracker):
            return [FollowupAction("outage_form")]  # the place of the outage question just asked
        if (addresses or accounts) and fault_told_just_before(tracker):
            # "十楼以上全部没电 电梯也停了" (answered with who maintains what, or not understood),
            # then the address: the repair it was for (the form checks for outages first).
            return [FollowupAction("fault_form")]
        if not (addresses or accounts) and named_request(latest_text(tracker)) == "fault_form" \
                and not re.search(r"[吗？?]|是不是|会不会", latest_text(tracker)):
            # "奇怪了 我们这栋楼二单元没电 一单元三单元都有电" (NLU: a detail): a fault told.
            return [FollowupAction("fault_form")]
        # The buttons: what a customer usually wants when the first thing they give is an
        # address or an account.
        if addresses:
            dispatcher.utter_message(response="utter_address_noted_choices", address=echoed(addresses[0]))
        elif accounts:
            dispatcher.utter_message(response="utter_account_noted_choices", tail=accounts[0][-4:])
        else:
            dispatcher.utter_message(response="utter_menu")
        return []


# The bot's offer to file a repair once it has the address ("告诉我地址，我马上为您报修").
REPAIR_OFFERED = re.compile(r"告诉我地址[^。]{0,6}报修|马上为您报修")
# Something filed or asked in between: the earlier words are served already.
SERVED = re.compile(r"工单号|编号|请问您是想")


def fault_told_just_before(tracker: Tracker) -> bool:
    """The customer's message before this one told of a fault, or the bot's last reply offered
    a repair for an address, and nothing has been filed or offered since."""
    replies = list(bot_texts_within(tracker, 1))
    if any(SERVED.search(reply) for reply in replies):
        return False
    if any(REPAIR_OFFERED.search(reply) for reply in replies):
        return True
    before = next(earlier_customer_texts(tracker, 1), "")
    return named_request(before) == "fault_form" and not re.search(r"[吗？?]|是不是|会不会", before)


def outage_asked_just_before(tracker: Tracker) -> bool:
    """The customer's message before this one asked about outages ("过几天村里是不是要停电"),
    and it was answered with something else, nothing filed or offered since."""
    if any(SERVED.search(reply) or "停电信息" in reply for reply in bot_texts_within(tracker, 1)):
        return False
    return named_request(next(earlier_customer_texts(tracker, 1), "")) == "outage_form"


def bill_asked_just_before(tracker: Tracker) -> bool:
    """The customer's message before this one asked about the bill ("三个月前那个电费怎么二百多块"),
    and no bill was shown or anything filed or offered since."""
    if any(SERVED.search(reply) or "电费账单" in reply for reply in bot_texts_within(tracker, 1)):
        return False
    return named_request(next(earlier_customer_texts(tracker, 1), "")) == "bill_form"


def offered_business(tracker: Tracker) -> Optional[str]:
    """The application an FAQ answer offered in the last turns, if the offer still stands."""
    key = tracker.get_slot("offered_business")
    if not key:
        # An offer made by the fallback's first stage: Rasa reverts that turn's slots when the
        # next message is neither yes nor no, the offer's button is still there.
        return offered_in_buttons(tracker)
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users += 1
        elif event.get("event") == "slot" and event.get("name") == "offered_business":
            return key if users <= OFFER_TURNS else None
    return None


OFFER_PAYLOAD = re.compile(r'^/apply_service\{"business_type":\s*"([a-z_]+)"\}$')


def offered_in_buttons(tracker: Tracker) -> Optional[str]:
    """The business of an "在线申请…" button the bot showed in its last answer, if any."""
    for event in previous_turn(tracker):
        if event.get("event") != "bot":
            continue
        for button in (event.get("data") or {}).get("buttons") or []:
            found = OFFER_PAYLOAD.match(str(button.get("payload") or ""))
            if found:
                return found.group(1)
    return None


class ActionAffirmOutsideForm(Action):
    """A yes with no question of a form pending: "嗯 办吧" right after an answer that offered an
    application starts it; otherwise the customer is asked what else they need."""

    def name(self) -> Text:
        return "action_affirm_outside_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if unbind_asked(tracker):  # "是的" to "确定要解除户号…的绑定吗？"
            return await ActionManageNotices().unbind_confirmed(dispatcher, tracker)
        key = offered_business(tracker)
        if key:
            from actions.faq import TOPIC_BUSINESS

            # The documents were the answer itself: the form does not list them again.
            shown = key if TOPIC_BUSINESS.get(tracker.get_slot("faq_topic") or "") == key \
                and str(tracker.get_slot("faq_topic")).startswith("docs_") else None
            return [SlotSet("offered_business", None), SlotSet("business_type", key),
                    SlotSet("documents_shown_for", shown), FollowupAction("application_form")]
        dispatcher.utter_message(response="utter_anything_else")
        return []


class ActionDenyOutsideForm(Action):
    """A no with no question of a form pending. "不对不对 号码打错了 是18951763042" (heard as a
    no) right after a ticket was registered corrects that ticket's phone (or address);
    otherwise the bot says it is there when needed."""

    def name(self) -> Text:
        return "action_deny_outside_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        corrected = await correct_just_filed_phone(dispatcher, tracker) or \
            await correct_just_filed_address(dispatcher, tracker)
        if corrected is not None:
            return corrected
        dispatcher.utter_message(response="utter_ok_no_problem")
        return []


# Other utilities: the customer is told who can help instead of a bare "not my business".
OTHER_UTILITIES = (
    ("utter_out_of_scope_gas", re.compile(r"燃气|煤气|天然气|液化气|气费|燃气费|燃气表")),
    ("utter_out_of_scope_water", re.compile(r"水表|水费|停水|自来水|水管|水压|没水|供水|漏水")),
    ("utter_out_of_scope_telecom", re.compile(r"话费|宽带|流量|手机信号|网络|移动公司|联通|电信公司|光猫")),
    ("utter_out_of_scope_heating", re.compile(r"暖气|供暖|供热|地暖不热")),
)


def other_utility_response(text: str) -> Optional[str]:
    """The response naming who can help with a gas/water/telecom/heating matter (no 电 in it)."""
    if "电" in (text or "").replace("电话", "").replace("电信", ""):
        return None
    return next((name for name, words in OTHER_UTILITIES if words.search(text or "")), None)


class ActionOutOfScope(Action):
    def name(self) -> Text:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        text = latest_text(tracker)
        response = next((name for name, words in OTHER_UTILITIES if words.search(text)), "utter_out_of_scope")
        dispatcher.utter_message(response=response)
        return []
