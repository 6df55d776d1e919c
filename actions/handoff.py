"""Hand-off to a person, and the fallback that leads there after two failures."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from bot import vocabulary
from actions.faq import answer_topic, follow_up_topic, last_faq_topic, topic_by_words
from actions.faults import BILL_ASKED
from actions.common import (
    AMOUNT_DOUBTED,
    LET_DOWN,
    SEND_A_CREW,
    STOP_WORDS,
    previous_turn,
    phone_answers_the_question,
    add_to_just_filed,
    wants_to_complain,
    complete_callback,
    correct_just_filed_address,
    correct_just_filed_phone,
    find_mobile,
    DONE_STATUSES,
    ASKS_FOR_A_PERSON,
    bot_answered_last_turn,
    HUMAN_WORDS,
    payment_not_shown_yet,
    reassure_after_filing,
    ticket_announced_last_turn,
    ILLEGAL_USE,
    IMPERSONATION,
    FORM_LABELS,
    TICKET_STATUS_LABELS,
    TICKET_TYPE_LABELS,
    apologise_if_angry,
    channel_of,
    format_time,
    identity_offered,
    latest_text,
    mask_phone,
    phone_given_earlier,
    scam_answer,
)

REASONS = ("customer_request", "fallback", "identity_failed")
INTENT_LABELS = {
    "query_bill": "查询电费",
    "ask_bill_reason": "问电费为什么变高",
    "report_fault": "故障报修",
    "query_outage": "查询停电信息",
    "apply_service": "办理用电业务",
    "query_progress": "查询办理进度",
    "complain": "投诉",
    "tip_off": "举报",
    "suggest": "提意见建议",
    "praise": "表扬",
    "request_human": "转人工客服",
    "faq": "咨询用电问题",
    "greet": "打招呼",
    "goodbye": "结束对话",
    "thank": "表示感谢",
    "cancel": "取消当前办理",
}


def offered_reason(tracker: Tracker) -> Optional[str]:
    """The reason the bot itself gave when it offered a person in its last turn, if it did."""
    user_seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            user_seen += 1
            if user_seen == 2:
                return None
        elif user_seen == 1 and event.get("event") == "slot" and event.get("name") == "handoff_reason":
            return event.get("value")
    return None


def conversation_summary(tracker: Tracker) -> str:
    texts = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")
             and not str(e.get("text")).startswith("/")]
    parts = []
    form = (tracker.active_loop or {}).get("name") or tracker.get_slot("paused_form")
    if form:
        parts.append(f"办理中：{FORM_LABELS.get(form, form)}")
    if tracker.get_slot("identity_verified"):
        parts.append(f"已验证户号 {tracker.get_slot('verified_account_no')}")
    elif tracker.get_slot("account_no"):
        parts.append(f"未验证户号 {tracker.get_slot('account_no')}")
    if tracker.get_slot("contact_phone") and tracker.get_slot("contact_phone") != "none":
        parts.append(f"联系电话 {mask_phone(tracker.get_slot('contact_phone'))}")
    if tracker.get_slot("last_ticket_no"):
        parts.append(f"本次工单 {tracker.get_slot('last_ticket_no')}")
    if texts:
        parts.append("客户最近说：" + " / ".join(str(t)[:80] for t in texts[-3:]))
    return "；".join(parts)[:1000]


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        phone = find_mobile(latest_text(tracker))
        if phone and await complete_callback(dispatcher, tracker, phone):
            # "我不要填什么表 我就要人 电话159… 让人马上打给我" after the desk-closed notice:
            # the callback already opened gets the number; no second request.
            closing = [ActiveLoop(None), SlotSet("requested_slot", None)] if tracker.active_loop else []
            return closing + [SlotSet("handoff_reason", None), FollowupAction("action_listen")]
        form = (tracker.active_loop or {}).get("name")
        text = latest_text(tracker)
        if phone and not form and not (HUMAN_WORDS.search(text) or ASKS_FOR_A_PERSON.search(text)):
            # "电话15192823606 一定要帮我转达啊" right after a praise was filed and added to: the
            # number for that praise ("转达": pass it on), nobody asked for.
            corrected = await correct_just_filed_phone(dispatcher, tracker)
            if corrected is not None:
                return corrected + [SlotSet("handoff_reason", None), FollowupAction("action_listen")]
        if HANDOFF_WITHDRAWN.search(text) and not text.startswith("/"):
            return await self.withdrawn(dispatcher, tracker, domain, form, text)
        if form and tracker.get_slot("requested_slot") and not text.startswith("/") \
                and (not names_a_person(text) or phone_answers_the_question(tracker, text)):
            # ("要回复的话打我电话130…" at the phone question is the phone asked for.)
            # "我已经让小孩离远点了" at a hazard repair's phone question, heard as a wish for a
            # person: nobody was asked for; the form takes it as what it is and asks again.
            return [FollowupAction(form)]
        if not form and not text.startswith("/") and WAIT_AND_SEE.search(text) and not names_a_person(text):
            # "好 那我再等等看" to "您可以转人工客服…[转人工]": not now; nobody is fetched.
            dispatcher.utter_message(response="utter_ok_no_problem")
            return [SlotSet("handoff_reason", None)]
        if not form and not text.startswith("/") and offered_reason(tracker) not in REASONS \
                and not names_a_person(text):
            from actions.applications import business_from_text  # applications imports this module
            from actions.menu import named_request

            if WARNS_OTHERS_OFF.search(text) and ticket_announced_last_turn(tracker) and not named_request(text):
                # "要不要我先找人把路拦起来" right after a fallen-wire repair: how to keep others away
                # safely, not a wish for a person.
                dispatcher.utter_message(response="utter_keep_others_away_while_waiting")
                return [SlotSet("handoff_reason", None)]
            if OWN_ERRAND.search(text) and not named_request(text):
                # "好的 我去喊人不让靠近", "好 我让女儿带我去": the customer fetches someone; no
                # person was asked of us.
                dispatcher.utter_message(response="utter_own_errand_ok")
                return []

            request = named_request(text)
            if request:
                # "我儿子让我问 屋顶装那个太阳能板发电 要跟你们报个啥并网" heard as a wish for a
                # person: nobody was asked for, the words name a request the bot serves.
                business = business_from_text(text) if request == "application_form" else None
                return ([SlotSet("business_type", business)] if business else []) + [FollowupAction(request)]
            reassured = await reassure_after_filing(dispatcher, tracker)
            if reassured is not None:
                return reassured  # "快点处理" right after a filing: the committed times again
            # ("我年纪大了手机上弄不来 就想去窗口交": a sentence that names nobody to talk to, even
            # when the fallback's rephrasing made NLU sure of it.)
            if ticket_announced_last_turn(tracker) or tracker.latest_message.get("intent", {}).get("confidence", 1) < 0.9 \
                    or len(text) >= 10 and not re.search(r"转|接|找个|叫个|喊个|来个", text):
                # "好 我让大家都别过去" after an urgent repair was registered: no person was asked
                # for; asked what is meant (a yes on the button still hands off).
                return [FollowupAction("action_default_ask_affirmation")]
        reason = offered_reason(tracker)
        if reason not in REASONS:
            reason = "identity_failed" if tracker.get_slot("identity_locked") else "customer_request"
        payload: Dict[str, Any] = {
            "conversation_id": tracker.sender_id,
            "channel": channel_of(tracker),
            "reason": reason,
            "summary": conversation_summary(tracker),
        }
        events: List[EventType] = [SlotSet("handoff_reason", None), SlotSet("paused_form", None)]
        if tracker.active_loop and tracker.active_loop.get("name"):
            events = [ActiveLoop(None), SlotSet("requested_slot", None)] + events
        # Then the bot listens, however the hand-off was reached (a rule, or a form or the
        # fallback that heard 转人工 in a complaint): no policy guesses one more turn after it
        # (that was "抱歉，我还是没能理解" right under the hand-off notice).
        listen = FollowupAction("action_listen")
        try:
            handoff = await api_client.create_handoff(payload)
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_handoff_failed")
            return events + [listen]
        # The gateway tells the customer itself when it knows the queue (waiting time, or the
        # desk is closed and a callback ticket was opened); saying more would contradict it.
        if not (isinstance(handoff, dict) and handoff.get("customer_notified")):
            dispatcher.utter_message(response="utter_handoff")
        elif handoff.get("status") == "missed" and form in GOES_ON_AFTER_A_CALLBACK:
            # "你别问了 给我找个人说" inside a repair while the desk is closed: the callback is
            # registered (the gateway said so); the request being made goes on meanwhile, at the
            # question it had reached, or nothing of it would be filed.
            from actions.common import slot_before_this_message

            slot = tracker.get_slot("requested_slot") or slot_before_this_message(tracker, "requested_slot")
            responses = (domain or {}).get("responses") or {}
            ask = next((name for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}") if name in responses), None)
            if slot == "contact_phone":
                # The notice asked for the phone already: the one number given next serves the
                # callback and this request (actions/common.py, BaseFormValidation.run).
                dispatcher.utter_message(response="utter_request_goes_on_same_phone", form_label=FORM_LABELS[form])
                return [SlotSet("handoff_reason", None), SlotSet("requested_slot", slot), listen]
            if slot and ask:
                dispatcher.utter_message(response="utter_request_goes_on", form_label=FORM_LABELS[form])
                dispatcher.utter_message(response=ask)
                return [SlotSet("handoff_reason", None), SlotSet("requested_slot", slot), listen]
        if isinstance(handoff, dict) and handoff.get("customer_notified"):
            phone = find_mobile(latest_text(tracker)) or phone_given_earlier(tracker)
            if phone:
                # "人工客服 … 让人打我电话13761094036", or the number typed just before "我要找人说话":
                # the callback the closed desk opened gets it (nothing happens when none is waiting).
                await complete_callback(dispatcher, tracker, phone)
        return events + [listen]


    @staticmethod
    async def withdrawn(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                        form: Optional[str], text: str) -> List[EventType]:
        """"算了 不转了 人工也是问这些 你直接派人来吧" after the closed desk opened a callback:
        the callback nobody has taken up yet is withdrawn (said so); the request in hand goes on
        at its question, or what the rest of the message asks is served."""
        from actions.common import answer_inline, slot_before_this_message
        from actions.menu import named_request  # menu imports this module

        withdrawn = None
        try:
            waiting = await api_client.conversation_tickets(tracker.sender_id, "callback", status="new")
            if waiting:
                withdrawn = waiting[0]["ticket_no"]
                await api_client.change_ticket_status(withdrawn, "cancelled", note=f"客户不再需要人工：{text[:200]}")
        except api_client.ApiError:
            withdrawn = None  # the callback stands; staff calling back is no harm
        listen = FollowupAction("action_listen")
        rest = HANDOFF_WITHDRAWN.split(text)[-1]
        label = TICKET_TYPE_LABELS.get("callback", "")
        ends_here = not rest.strip() and not (form or tracker.get_slot("paused_form"))
        if withdrawn:
            dispatcher.utter_message(response="utter_ticket_withdrawn" if ends_here else "utter_ticket_withdrawn_then",
                                     ticket_no=withdrawn, type_label=label)
        elif ends_here:
            dispatcher.utter_message(response="utter_anything_else")
        form = form or tracker.get_slot("paused_form")
        if form in FORM_LABELS:
            # The request being made goes on: its form asks the question it had reached.
            slot = tracker.get_slot("requested_slot") or slot_before_this_message(tracker, "requested_slot")
            return [SlotSet("handoff_reason", None), SlotSet("paused_form", None), SlotSet("requested_slot", slot),
                    ActiveLoop(form), FollowupAction(form)]
        request = named_request(rest) if rest.strip() else None
        if request:
            return [SlotSet("handoff_reason", None), FollowupAction(request)]
        if rest.strip() and not answer_inline(dispatcher, tracker, domain) and not ends_here:
            dispatcher.utter_message(response="utter_cannot_answer")
        return [SlotSet("handoff_reason", None), listen]


# The person asked for is no longer wanted: "不转了", "不用转人工了", "人工就不要了".
HANDOFF_WITHDRAWN = re.compile(r"不(?:用|要|找)?转(?:人工)?了|不(?:用|要|找)人工了|人工(?:就|也)?(?:不用|不要|不找|算)了|"
                               r"(?:别|不用|不要)(?:再)?(?:给我)?转(?:人工)?了")
ACCOUNT_NO = re.compile(r"(?<!\d)32\d{8}(?!\d)")
# "从昨晚上就停电了 到现在还没来 是不是哪里线坏了": out of power for a while, asked as a question.
OUT_SINCE = re.compile(r"到现在(还)?没(来|电)|(昨晚|昨天|早上|一早上|半天|一上午)[^，,。？?]{0,6}(就)?停电了")
# "俺家叫停电了 短信讲是欠费", "欠费被停电了": power cut for unpaid bills, said as news.
CUT_FOR_ARREARS = re.compile(r"欠费.{0,10}(停电|断电|停了|掐|拉闸|没电)|(停电|断电|停了电|没电|掐了电).{0,12}(欠费|没交电费|电费没交)")
# The customer's own errand with someone of theirs: "我去喊人", "我让女儿带我去", "叫我儿子来弄".
OWN_ERRAND = re.compile(r"我(这就|马上|先|等下|回头)?(去)?(让|叫|喊|找|去)(我|我家|家里)?(的)?"
                        r"(人|女儿|儿子|孩子|小孩|老伴|老头|老婆|媳妇|爱人|孙子|孙女|邻居|家里人|物业|电工|师傅|大家)")


# Requests that go on, while the desk is closed, after the callback was registered.
GOES_ON_AFTER_A_CALLBACK = ("fault_form", "application_form", "feedback_form")
# Topics of lights the utility does not look after.
LIGHTS_NOT_OURS = ("ownership_boundary", "street_light")


def names_a_person(text: str) -> bool:
    """Whether the words ask for, or speak of, someone to talk to (else a hand-off NLU heard in
    them is not one)."""
    if ASKS_WHETHER_TO_CALL.search(text) and not (HUMAN_WORDS.search(text) or ASKS_FOR_A_PERSON.search(text)):
        return False  # "要不要再打电话叫人过来合闸": a question about what to do, no wish for a person
    return bool(HUMAN_WORDS.search(text) or ASKS_FOR_A_PERSON.search(text) or PERSON_WORDS.search(text))


ASKS_WHETHER_TO_CALL = re.compile(r"(要不要|需不需要|用不用|还用|还要不要|得不得)(我)?(先|再)?(去)?(打电话|打个电话|叫人|找人|喊人)")
# "找人把路拦起来", "让人在路口看着": keeping others away from a danger until the crew comes.
WARNS_OTHERS_OFF = re.compile(r"拦(起来|住|着)|围(起来|住)|挡(起来|住|着)|(看着|守着)|不让(人|别人|小孩|车)|别让(人|小孩|车)|绕(道|行|开)")


# Words about people to talk to: a hand-off heard in a form is kept when any is said.
PERSON_WORDS = re.compile(r"人工|客服|真人|机器|人来|人接|找人|有人吗|有个人|个人来|电话|打给|来电|经理|领导|"
                          r"负责人|接线|说不清|讲不清|不会弄|不会用")

SMALL_TALK_GUESSES = {"goodbye", "affirm", "deny", "thank", "greet", "chitchat", "rate_service", "cancel"}
# "要几天能办好", "多久能修好", "大概什么时候": how long something takes.
# A question rather than a request ("…吗", "怎么…", "…几点"): unanswered, it gets an honest reply.
QUESTION = re.compile(r"[吗呢嘛么？?][。！!～~\s]*$|[吗呢嘛][，,]|怎么|咋|如何|多少|几[点天号个次]|哪[里儿个家]|[在去到]哪|哪能|什么|啥|"
                      r"为什么|为啥|能不能|可不可以|是不是|有没有|会不会|要不要|行不行|赔不赔|管不管|算不算")
# Below this confidence of the best guess, a question is not offered as that request.
SURE_ENOUGH_FOR_A_QUESTION = 0.4
# A how-long question is about a request only when it says so (or one was just made).
REQUEST_WORDS = re.compile(r"申请|工单|单子|办理|进度|报修|投诉|业务")
# A bare "要多久" (no clock time such as 几点) is most often about a request made earlier.
HOW_LONG = re.compile(r"多久|几天|多少天|多长时间|几个工作日")


def is_question(text: str) -> bool:
    return bool(QUESTION.search(text or ""))


DURATION_QUESTION = re.compile(r"几天|多少天|几个工作日|多久|多长时间|什么时候|啥时候|哪天|几号|几点")


def time_limits(ticket: Dict[str, Any]) -> Tuple[str, Dict[str, str]]:
    """The steps of a ticket still to come, each with its committed deadline: which of
    utter_time_limits_{done,met,open} says it, and its values (``steps``: the open steps, a list
    of any length, assembled here)."""
    values = {"type_label": TICKET_TYPE_LABELS.get(ticket.get("type", ""), "工单"),
              "ticket_no": str(ticket.get("ticket_no")),
              "status_label": TICKET_STATUS_LABELS.get(ticket.get("status", ""), "在办理中")}
    if ticket.get("status") in DONE_STATUSES:
        return "done", values
    open_steps = [m for m in ticket.get("milestones") or [] if not m.get("met_at")]
    if not open_steps:
        return "met", values
    values["steps"] = "；".join(f"{m.get('name')} {format_time(m.get('due_at'))} 前" for m in open_steps)
    return "open", values


# A request said as one ("查下", "帮我", "要办"), not a topic named in passing ("电费那个").
# Wanting a business done, said as a wish or as a can-I question ("能改回普通电价吗").
WANTS_A_BUSINESS = re.compile(r"想|要|打算|准备|申请|办理?|能不能|能否|可以|可不可以|能.{0,10}[吗么嘛]")
ASKS_FOR_IT = re.compile(r"查|帮我|帮忙|我要|要办|想办|申请|报修|来修|问问|看看|打听")


# The answer selector's confidence at which a question the intent classifier was unsure of is
# answered from the FAQ (lower than a FAQ intent's own gate: the message must also ask).
FALLBACK_ANSWER_CONFIDENCE = 0.5
# ... and when the intent classifier was this sure it is a FAQ question, a touched topic at this.
FAQ_INTENT_SURE = 0.8
GUARDED_FAQ_ANSWER_CONFIDENCE = 0.1
# "好 我自己去", "晓得了", "哦 那还好": an answer taken in.
# "那就帮我办一下", "行 申请吧", "给我登记上": an offered application asked for.
DO_IT = re.compile(r"帮我(办|申请|登记|弄|提交)|给我(办|申请|登记|弄)|办(一下|了吧|吧)|申请(一下|吧)|登记(一下|上|吧)|"
                   r"提交(一下|吧)|就这么办|那就办|那就申请|我要(办|申请)")
# "好 那我再等等看", "先看看再说": not now; a person offered is not wanted yet.
WAIT_AND_SEE = re.compile(r"(再|先)等(等|一等|一下|两天|几天)|等等(看|再说)|再看看|先看看|晚点再说|回头再说|过两天再说")
ACKNOWLEDGED = re.compile(r"^\s*(哦+|噢|喔|嗯+|(好的?|行|知道了|晓得了|明白了|了解了|懂了|那好|那行|那还好|好嘞|好吧)"
                          r"([\s，,。!！~]|$))")


# "我要举报…", "投诉你们…", "表扬一下…": the kind of feedback, named at the start.
FEEDBACK_NAMED = re.compile(r"^\s*(我要|我想|想|要|给你们)?(举报|投诉|表扬|提个?建议|提个?意见|点个?赞|夸夸?)")
FEEDBACK_KINDS = {"举报": "tip_off", "投诉": "complaint", "表扬": "praise", "点赞": "praise", "点个赞": "praise",
                  "夸": "praise", "夸夸": "praise"}


PRAISED = re.compile(r"点个?赞|给个?好评|必须表扬|要表扬|值得表扬")


def feedback_named(text: str) -> Optional[str]:
    found = FEEDBACK_NAMED.match(text or "")
    if not found and wants_to_complain(text):
        return "tip_off" if "举报" in text else "complaint"  # "这次我不报修了 直接投诉", "投诉他"
    if not found:
        # "给你们营业厅的小姑娘点个赞": praise named anywhere, with nothing to complain of.
        return "praise" if PRAISED.search(text or "") and not re.search(r"投诉|不满|差|骂", text or "") else None
    return FEEDBACK_KINDS.get(found.group(2), "suggestion")


class ActionDefaultAskAffirmation(Action):
    """First stage of the two-stage fallback, in Chinese and in the customer's words."""

    def name(self) -> Text:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        scam = scam_answer(dispatcher, tracker)
        if scam is not None:
            return scam  # "收到这个 是真的吗 【国家电网】…点击 http://…": not "您是想…吗？"
        from actions.faq import (
            asks_about_shown_outages,
            business_topic,
            follow_the_shown_outages,
            topic_of_business_in_talk,
            selected_topic_and_confidence,
        )
        from actions.faults import find_hazards, safety_response

        text = latest_text(tracker)
        safety = safety_response(text)
        if safety and find_hazards(text) and not tracker.get_slot("hazard"):
            # "快快 我老公换灯泡的时候被电打了": what to do now first, then the urgent repair at once.
            dispatcher.utter_message(response=safety)
            return [SlotSet("hazard", True), SlotSet("fault_description", text[:500]),
                    ActiveLoop(None), FollowupAction("fault_form")]
        if HUMAN_WORDS.search(text):
            # "…这算啥 转人工": a person was asked for, whatever NLU made of the rest. Handed off
            # here, and then the bot listens: a follow-up action would leave the fallback loop to
            # predict one more "没能理解" after the hand-off notice.
            events = await ActionHandoff().run(dispatcher, tracker, domain)  # ends with action_listen
            return [ActiveLoop(None)] + [e for e in events if e.get("event") != "active_loop"]
        corrected = await correct_just_filed_phone(dispatcher, tracker) or \
            await correct_just_filed_address(dispatcher, tracker) or payment_not_shown_yet(dispatcher, tracker)
        if corrected is not None:
            # "哎不对 手机号打错了 是189…", "地址打错了 是221号…": the ticket just registered gets it;
            # "我真的交了 六百块 一个钟头前交的" after the bills still showed the arrears: answered.
            return corrected
        phone = find_mobile(text)
        if phone and await complete_callback(dispatcher, tracker, phone):
            return []  # "有人吗 打电话给我 139…": the number for the callback opened before
        added = await add_to_just_filed(dispatcher, tracker)
        if added:
            return added  # "就是那个姓王的师傅 人特别好": more of the story just registered
        taken_up = self._offer_taken_up(tracker, text)
        if taken_up is not None:
            return taken_up
        from actions.faq import answer_again_plainly

        if answer_again_plainly(dispatcher, tracker, domain):
            return [ActiveLoop(None)]  # "没听懂 你说简单点": the last answer again, in its other words
        if asks_about_shown_outages(tracker):
            # "那礼拜六呢" right after an outage answer: that address, the day asked.
            return [ActiveLoop(None)] + follow_the_shown_outages(tracker)
        from actions.faq import asks_power_back_after_paying

        if asks_power_back_after_paying(text):
            # "我电费刚刚在手机上交了 怎么家里还是没电": the reconnection rule, then the bills.
            return [ActiveLoop(None), FollowupAction("action_answer_faq")]
        if CUT_FOR_ARREARS.search(text) and not tracker.active_loop:
            # "俺家叫停电了 短信讲是欠费": the bills are checked, then what paying brings.
            from actions.faults import arrears_check_first

            return arrears_check_first(dispatcher, tracker)
        apologise_if_angry(dispatcher, tracker)
        # "那要钱吗" right after a FAQ answer: the follow-up of that answer.
        follow_up = follow_up_topic(last_faq_topic(tracker), text)
        if follow_up and answer_topic(follow_up, dispatcher, tracker, domain):
            return [SlotSet("faq_topic", follow_up)]
        # It asks by itself (documents, how long, the fee), or of the business just talked about.
        named_topic = business_topic(text) or topic_of_business_in_talk(tracker, text)
        from actions.applications import business_just_filed  # applications imports this module

        business = tracker.get_slot("business_type") or tracker.get_slot("documents_shown_for") \
            or business_just_filed(tracker)
        if not named_topic and business and is_question(text):
            # "要带啥材料啊 物业要不要盖章" while a charger is being applied for: that business's.
            named_topic = business_topic(f"{vocabulary.BUSINESS_TYPES.get(business, '')} {text}")
        if named_topic and answer_topic(named_topic, dispatcher, tracker, domain):
            # "过户要带啥材料啊": that business's answer; "家里新盖的房子要通电 要办啥手续": and the
            # application offered, so the name and phone said next start it.
            from actions.faq import offer_application

            offered = None if tracker.active_loop else offer_application(named_topic, dispatcher, tracker)
            return [SlotSet("faq_topic", named_topic)] + ([SlotSet("offered_business", offered)] if offered else [])
        topic, confidence = selected_topic_and_confidence(tracker)
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        # The intent classifier was sure it is a FAQ question and only the answer selector was
        # unsure (nlu_components/faq_guard.py): a topic the question touches is answered at a
        # lower confidence ("我家光伏并网半年了 发电的钱什么时候打给我": pv_settlement at 0.17).
        faq_by_intent = any(r.get("name") == "faq" and (r.get("confidence") or 0) >= FAQ_INTENT_SURE
                            for r in ranking[:2])
        needed = GUARDED_FAQ_ANSWER_CONFIDENCE if faq_by_intent else FALLBACK_ANSWER_CONFIDENCE
        if topic and confidence >= needed and is_question(text) \
                and answer_topic(topic, dispatcher, tracker, domain):
            # "过户要带啥材料啊": the intent was unsure between a request and a question, the
            # answer selector was not, and the message asks.
            return [SlotSet("faq_topic", topic)]
        worded = topic_by_words(text)
        if not (is_question(text) or re.search(r"讲|说|解释", text)) and worded not in LIGHTS_NOT_OURS:
            worded = None  # ("楼道灯坏了一个礼拜了" is told, not asked: who looks after it, still)
        if worded and answer_topic(worded, dispatcher, tracker, domain):
            # "阶梯电价到底怎么算的你给我讲清楚": the words name the topic, the selector was unsure.
            return [SlotSet("faq_topic", worded)]
        if ACKNOWLEDGED.match(text) and not is_question(text) and bot_answered_last_turn(tracker):
            # "好 我让女儿带我去", "哦晚上啊 那还好 谢谢": the answer was taken in.
            dispatcher.utter_message(response="utter_ok_no_problem")
            return []
        if DURATION_QUESTION.search(text) and (tracker.get_slot("last_ticket_no") or REQUEST_WORDS.search(text)
                                               or HOW_LONG.search(text) and len(text) <= 10):
            return await self._answer_duration(dispatcher, tracker)
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        from actions.menu import FORM_INTENTS, named_request, other_utility_response

        request = named_request(text)
        if request and not tracker.active_loop and ACCOUNT_NO.search(text) and (
                not is_question(text.replace("是多少", "")) or identity_offered(tracker)):
            # "…上个月的电费是多少钱啊还有就是到底交了没有…户号3201000016手机尾号0945": the 户号
            # and the words of a request; the request takes the details from this message.
            return [ActiveLoop(None), FollowupAction(request)]
        if request == "fault_form" and not tracker.active_loop and (
                len(re.sub(r"^(喂|你好|您好|同志|师傅|在吗|哎)[\s，,啊呀]*", "", text)) <= 12 and not is_question(text)
                or OUT_SINCE.search(text)):
            # "没电", "灯一闪一闪的": a fault said in two words, whatever the model made of it.
            return [ActiveLoop(None), FollowupAction("fault_form")]
        leaning = [r.get("name") for r in ranking[:3]]
        from actions.faults import FAULT_NOW, OUTAGES_TOO_OFTEN  # faults imports this module

        kind = feedback_named(text) or ("tip_off" if IMPERSONATION.search(text) or ILLEGAL_USE.search(text) else None) \
            or ("complaint" if OUTAGES_TOO_OFTEN.search(text) and not FAULT_NOW.search(text) else None)
        if not kind and not request and LET_DOWN.search(text) and not is_question(text) \
                and not tracker.active_loop:
            # "你们说好昨天下午来换电表的 我在家等了一下午 人影子都没见到": a broken promise told,
            # the word 投诉 never said: a complaint, with an apology first.
            if not any(m.get("response") in ("utter_apology_complaint", "utter_apology_angry") for m in dispatcher.messages):
                dispatcher.utter_message(response="utter_apology_complaint")
            kind = "complaint"
        # ("我们大泉村这个月停了四回电了 你们到底管不管": a grievance about how often, a complaint.)
        if kind and not request:
            # "举报你们一个装表的师傅 说不给他两百块就拖着不给装": the customer names what it is.
            return [ActiveLoop(None), SlotSet("feedback_type", kind), FollowupAction("feedback_form")]
        if request == "application_form" and WANTS_A_BUSINESS.search(text) and not tracker.active_loop:
            from actions.applications import business_from_text  # applications imports this module

            business = business_from_text(text)
            if business:
                # "峰谷电不想用了 … 能改回普通电价吗": a business the customer wants, asked as a
                # question; the application starts with what it needs.
                return [SlotSet("business_type", business), FollowupAction("application_form")]
        if request == "bill_form" and not tracker.active_loop and (BILL_ASKED.search(text) or AMOUNT_DOUBTED.search(text)):
            # "上个月电费多少钱？顺便问下能不能微信交", "三个月前那个电费怎么二百多块 咋回事啊": the
            # bill asked for or doubted in so many words; a 95598 agent looks it up, whatever the
            # model leaned to (a complaint, a question).
            reason = [SlotSet("bill_query", "reason")] if AMOUNT_DOUBTED.search(text) else []
            return [ActiveLoop(None)] + reason + [FollowupAction("bill_form")]
        if request and FORM_INTENTS[request] in leaning and (ASKS_FOR_IT.search(text) or (
                request == "outage_form" and is_question(text))):
            # An outage question is a request by itself ("听说过几天要停电 停多长时间").
            # "户号3201000010 查下上个月电费 另外听说马台街要停电": the words say it, the model leaned
            # that way; asking "您是想查询电费吗？" would only make the customer say it again.
            return [ActiveLoop(None), FollowupAction(request)]
        other = other_utility_response(text)
        if other:
            dispatcher.utter_message(response=other)  # "燃气灶打不着火了": who can help
            return []
        # Not "faq": without an answer the selector is sure of, "是的" could not be answered either.
        candidates = [r.get("name") for r in ranking
                      if r.get("name") not in (None, "nlu_fallback", "out_of_scope", "faq")]
        top: Dict[str, Any] = next((r for r in ranking if r.get("name") == (candidates[0] if candidates else None)), {})
        intent = candidates[0] if candidates else None
        # Guessing "结束对话"/"确认" for gibberish sounds odd: only offer a real request, and
        # only when the model leaned towards it at all.
        if is_question(text) and (top.get("confidence") or 0) < SURE_ENOUGH_FOR_A_QUESTION:
            # A question we have no answer for: say so and offer a person, never a guessed flow.
            dispatcher.utter_message(response="utter_cannot_answer")
            return [SlotSet("handoff_reason", "fallback")]
        if intent not in INTENT_LABELS or intent in SMALL_TALK_GUESSES or (top.get("confidence") or 0) < 0.3:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        self._offer(dispatcher, intent)
        return []

    @staticmethod
    def _offer_taken_up(tracker: Tracker, text: str) -> Optional[List[EventType]]:
        """"好 那就帮我办一下" right after an application was offered, "那就是他家坏了呗 你们能派人去
        看看吗" right after "需要的话我马上为您报修": the offer taken up in the customer's words."""
        from actions.menu import offered_business, offered_request, other_utility_response

        if tracker.active_loop or STOP_WORDS.search(text) or HANDOFF_WITHDRAWN.search(text):
            return None
        business = offered_business(tracker)
        if business and DO_IT.search(text):
            return [ActiveLoop(None), SlotSet("offered_business", None), SlotSet("business_type", business),
                    FollowupAction("application_form")]
        if offered_request(tracker) == "fault_form" and SEND_A_CREW.search(text) and not other_utility_response(text):
            return [ActiveLoop(None), FollowupAction("fault_form")]
        return None

    @staticmethod
    def _offer(dispatcher: CollectingDispatcher, intent: Text) -> None:
        dispatcher.utter_message(response="utter_ask_affirm_request", request_label=INTENT_LABELS[intent],
                                 intent=intent)

    async def _answer_duration(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        """"要几天能办好" right after a request: that ticket's remaining steps and deadlines;
        with no ticket in this conversation, offer the progress query (it asks for the number)."""
        ticket_no = tracker.get_slot("last_ticket_no")
        if not ticket_no:
            self._offer(dispatcher, "query_progress")
            return []
        try:
            ticket = await api_client.get_ticket(ticket_no)
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return []
        kind, values = time_limits(ticket)
        dispatcher.utter_message(response=f"utter_time_limits_{kind}", **values)
        return []


def is_clarifying(event: Dict[str, Any]) -> bool:
    """The bot asking the customer to say it again or to confirm what was meant."""
    return (event.get("metadata") or {}).get("utter_action") in ("utter_ask_rephrase", "utter_default") \
        or event.get("event") == "action" and event.get("name") in ("action_default_ask_affirmation",
                                                                     "action_two_stage_fallback")


def events_of_this_turn(tracker: Tracker) -> List[Dict[str, Any]]:
    """What the bot has done since the customer's latest message."""
    after: List[Dict[str, Any]] = []
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        after.append(event)
    return after


class ActionDefaultFallback(Action):
    """Two failures in a row: offer a person (hand-off reason ``fallback``)."""

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if any(e.get("event") == "bot" for e in events_of_this_turn(tracker)):
            # The bot has answered this message already (a reconnection answer after an outage
            # question, "您是想…吗？" from the two-stage fallback): the policies being unsure what
            # comes next is no reason to speak again; the customer's turn.
            return [FollowupAction("action_listen")]
        scam = scam_answer(dispatcher, tracker)
        if scam is not None:
            return scam
        phone = find_mobile(latest_text(tracker))
        if phone and await complete_callback(dispatcher, tracker, phone):
            # "我现在的电话是138… 让人打过来", not understood twice: the callback's number.
            return [ActiveLoop(None), FollowupAction("action_listen")]
        corrected = await correct_just_filed_phone(dispatcher, tracker)
        if corrected is not None:
            # "那就留个电话吧 135… 别跟他们说是我讲的" after an anonymous tip-off, whatever the
            # policies made of it: the ticket's contact.
            return corrected + [ActiveLoop(None), FollowupAction("action_listen")]
        insisted = payment_not_shown_yet(dispatcher, tracker)
        if insisted is not None:
            # "交了六百 就一个钟头之前 在村口超市交的" right after the bills still showed the arrears.
            return insisted
        from actions.faq import asks_power_back_after_paying

        if asks_power_back_after_paying(latest_text(tracker)):
            # "俺马上去交 交了以后多长时间能来电", not understood twice: the reconnection rule.
            return [ActiveLoop(None), FollowupAction("action_answer_faq")]
        # "还是没能理解" after a first try; a first message the policies gave up on is asked again.
        asked_before = any(is_clarifying(e) for e in previous_turn(tracker))
        text = latest_text(tracker)
        if ACKNOWLEDGED.match(text) and not is_question(text) and bot_answered_last_turn(tracker) and not asked_before:
            # "哦 夏天开空调开多了 明白了" after the tier prices: the answer was taken in, not a
            # second failure to understand.
            dispatcher.utter_message(response="utter_ok_no_problem")
            return [ActiveLoop(None), FollowupAction("action_listen")]
        dispatcher.utter_message(response="utter_default" if asked_before else "utter_ask_rephrase")
        return [UserUtteranceReverted(), SlotSet("handoff_reason", "fallback")]
