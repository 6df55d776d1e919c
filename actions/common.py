"""Helpers every flow shares: time and periods, request keys, free-text answers, labels,
the identity check, and the actions that stop or pause a form."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from bot.masking import mask_phone  # noqa: F401  (the one masking rule; flows import it from here)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOTLINE = "95598"

# Said whenever the gateway fails: no promise, a way forward.
API_FAILURE_TEXT = (
    "抱歉，系统暂时繁忙，这次没能为您办理成功。"
    "您可以稍后再试，或转人工客服，也可以直接拨打95598供电服务热线。"
)

# Intents that, asked inside a form, are a new request rather than an answer.
DIGRESSION_INTENTS = {"query_bill", "ask_bill_reason", "query_outage", "query_progress"}
STOP_INTENTS = {"cancel", "request_human"}

FORM_LABELS = {
    "bill_form": "电费查询",
    "fault_form": "故障报修",
    "outage_form": "停电查询",
    "application_form": "业务办理",
    "feedback_form": "诉求登记",
    "progress_form": "进度查询",
}
TICKET_TYPE_LABELS = {
    "repair": "故障报修",
    "complaint": "投诉",
    "tip_off": "举报",
    "suggestion": "意见建议",
    "praise": "表扬",
    "application": "业务办理",
    "callback": "回访",
}
# A ticket in these statuses needs nothing more from anyone.
DONE_STATUSES = ("resolved", "closed", "cancelled")
TICKET_STATUS_LABELS = {
    "new": "已登记，待受理",
    "accepted": "已受理",
    "dispatched": "已派工，抢修人员正在赶往现场",
    "arrived": "抢修人员已到达现场",
    "in_progress": "正在处理",
    "resolved": "已处理完成",
    "closed": "已办结",
    "cancelled": "已撤销",
}


# --- time ---------------------------------------------------------------------------

def now_shanghai() -> datetime:
    return datetime.now(SHANGHAI)


_CN_MONTHS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
              "十": 10, "十一": 11, "十二": 12, "正": 1, "腊": 12, "冬": 11}
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def normalize_period(text: Optional[str], now: Optional[datetime] = None) -> Optional[str]:
    """Turns what a customer says about a month into YYYY-MM (Asia/Shanghai), or None.

    上个月, 上上个月, 本月, 9月, 九月份, 去年12月, 2026年9月, 2026-09, 2026.9 ...
    A bare month later than the current one means last year's: bills are never in the future.
    """
    if not text:
        return None
    now = (now or now_shanghai()).astimezone(SHANGHAI)
    value = str(text).translate(_FULLWIDTH).replace(" ", "")
    if re.search(r"上上个?月", value):
        y, m = _shift_month(now.year, now.month, -2)
        return f"{y:04d}-{m:02d}"
    if re.search(r"上个?月|上月份", value):
        y, m = _shift_month(now.year, now.month, -1)
        return f"{y:04d}-{m:02d}"
    if re.search(r"(本|这个?|当)月", value):
        return f"{now.year:04d}-{now.month:02d}"
    match = re.search(r"(\d{4})\s*[-/.年]\s*(\d{1,2})", value)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None
    year: Optional[int] = None
    if "前年" in value:
        year = now.year - 2
    elif "去年" in value:
        year = now.year - 1
    elif "今年" in value:
        year = now.year
    match = re.search(r"(\d{1,2})\s*月", value) or re.fullmatch(r"(\d{1,2})", value)
    month: Optional[int] = int(match.group(1)) if match else None
    if month is None:
        match = re.search(r"(十[一二]|[一二三四五六七八九十正腊冬])月", value)
        month = _CN_MONTHS.get(match.group(1)) if match else None
    if month is None or not 1 <= month <= 12:
        return None
    if year is None:
        year = now.year if month <= now.month else now.year - 1
    return f"{year:04d}-{month:02d}"


def period_label(period: str) -> str:
    year, month = period.split("-")
    return f"{int(year)}年{int(month)}月"


def parse_iso(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    return parsed.astimezone(SHANGHAI)


def format_time(value: Optional[str], now: Optional[datetime] = None) -> str:
    """'今天 15:30', '明天 09:00' or '11月28日 17:00' in Shanghai time."""
    moment = parse_iso(value)
    if moment is None:
        return str(value or "")
    today = (now or now_shanghai()).astimezone(SHANGHAI).date()
    delta = (moment.date() - today).days
    prefix = {0: "今天", 1: "明天", 2: "后天", -1: "昨天"}.get(delta)
    if prefix is None:
        prefix = f"{moment.month}月{moment.day}日" if moment.year == today.year else \
            f"{moment.year}年{moment.month}月{moment.day}日"
    return f"{prefix} {moment:%H:%M}"


def format_date(value: Optional[str]) -> str:
    if not value:
        return ""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", str(value))
    if not match:
        return str(value)
    return f"{int(match.group(1))}年{int(match.group(2))}月{int(match.group(3))}日"


# --- the conversation ---------------------------------------------------------------

def latest_user_event(tracker: Tracker) -> Dict[str, Any]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return {}


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_intent(tracker: Tracker) -> tuple[Optional[str], float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def channel_of(tracker: Tracker) -> str:
    metadata = (tracker.latest_message or {}).get("metadata") or latest_user_event(tracker).get("metadata") or {}
    channel = metadata.get("channel") if isinstance(metadata, dict) else None
    return str(channel) if channel else "web"


def asker(tracker: Tracker) -> Dict[str, Optional[str]]:
    """Who asks, for the gateway's limit on account-number lookups: the conversation and the
    client behind it (the web channel's ``client`` metadata, set by the gateway)."""
    metadata = (tracker.latest_message or {}).get("metadata") or latest_user_event(tracker).get("metadata") or {}
    client = metadata.get("client") if isinstance(metadata, dict) else None
    return {"conversation_id": tracker.sender_id, "client": str(client) if client else None}


# Too many different account numbers asked about from one conversation or client.
RATE_LIMITED_TEXT = ("您短时间内查询的户号较多，为保护用户信息安全，请稍后再试。"
                     "如需帮助，可以转人工客服，或拨打95598供电服务热线。")


def request_key(tracker: Tracker, purpose: str) -> str:
    """Same conversation + same user message + same purpose = same key, so a retried action
    (Rasa retries, a double click) finds the first ticket instead of creating a second."""
    event = latest_user_event(tracker)
    message_id = (tracker.latest_message or {}).get("message_id") or event.get("message_id") \
        or event.get("timestamp") or ""
    raw = f"{tracker.sender_id}|{message_id}|{purpose}"
    return f"rasa:{purpose}:{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:40]}"


def entity_values(tracker: Tracker, entity: str) -> List[str]:
    return [str(e.get("value")) for e in (tracker.latest_message or {}).get("entities") or []
            if e.get("entity") == entity and e.get("value") is not None]


# Slots whose answer is a story in the customer's words: a question there may be the story.
NARRATIVE_SLOTS = {"fault_description", "feedback_content"}
ASIDE_INTENTS = {"faq", "chitchat", "out_of_scope", "greet", "thank"}


def is_digression(tracker: Tracker, slot: Optional[str] = None) -> bool:
    """A message that is not an answer: a command, a short new request NLU is sure of
    ("先帮我查下电费"), or, for short-answer slots, a question or small talk."""
    intent, confidence = latest_intent(tracker)
    if intent in STOP_INTENTS:
        return True
    if intent in DIGRESSION_INTENTS and confidence >= 0.8 and len(latest_text(tracker)) <= 14:
        return True
    return slot not in NARRATIVE_SLOTS and intent in ASIDE_INTENTS and confidence >= 0.8


def free_text_answer(tracker: Tracker, slot: str) -> Optional[str]:
    """The latest message as the answer to `slot`, if the form asked for it and the message
    is not a command or a new request; buttons (`/intent{...}`) are never free text."""
    if tracker.get_slot("requested_slot") != slot:
        return None
    text = latest_text(tracker).strip()
    if not text or text.startswith("/") or is_digression(tracker, slot):
        return None
    return text


def mask_name(name: Optional[str]) -> str:
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def digits_only(text: Optional[str]) -> str:
    return re.sub(r"\D", "", str(text or "").translate(_FULLWIDTH))


def find_mobile(text: Optional[str]) -> Optional[str]:
    match = re.search(r"(?<!\d)(1[3-9]\d{9})(?!\d)", re.sub(r"[\s-]", "", str(text or "").translate(_FULLWIDTH)))
    return match.group(1) if match else None


def next_deadline(ticket: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for milestone in ticket.get("milestones") or []:
        if not milestone.get("met_at"):
            return milestone
    return None


def milestone_lines(ticket: Dict[str, Any]) -> List[str]:
    lines = []
    for index, milestone in enumerate(ticket.get("milestones") or [], start=1):
        lines.append(f"{index}. {milestone.get('name')}：{format_time(milestone.get('due_at'))} 前")
    return lines


def finish_service(dispatcher: CollectingDispatcher, tracker: Tracker, served: bool,
                   ticket_no: Optional[str] = None) -> List[EventType]:
    """After a request: back to a paused form if there is one (a rule resumes it), else
    ask the one satisfaction question when something was actually served."""
    paused = tracker.get_slot("paused_form")
    if paused:
        dispatcher.utter_message(text=f"我们接着办理刚才的{FORM_LABELS.get(paused, '业务')}。")
        return []
    if served:
        if not rating_question_pending(tracker):
            dispatcher.utter_message(response="utter_ask_rating")
        return [SlotSet("survey_ticket_no", ticket_no)]
    return []


RATING_QUESTION = "请问您对这次服务满意吗？"


def rating_question_pending(tracker: Tracker) -> bool:
    """True when the satisfaction question was asked and not answered yet: asking it again
    right after a follow-up ("为什么这么贵") would nag; the next answer rates the latest service."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and \
                (event.get("parse_data") or {}).get("intent", {}).get("name") == "rate_service":
            return False
        if event.get("event") == "bot" and (
                event.get("text") == RATING_QUESTION
                or (event.get("metadata") or {}).get("utter_action") == "utter_ask_rating"):
            return True
    return False


# --- identity -----------------------------------------------------------------------

IDENTITY_SLOTS = ["account_no", "phone_last4"]


def identity_missing(tracker: Tracker) -> List[str]:
    """The identity slots of a form; [] once the check is locked or the API failed.

    Filled slots stay in the list (the SDK validates only slots in it); once verified both
    are filled and the form asks nothing."""
    if tracker.get_slot("identity_locked") or tracker.get_slot("api_failed"):
        return []
    return list(IDENTITY_SLOTS)


def account_no_before_this_message(tracker: Tracker) -> Optional[str]:
    """The account number the conversation held before the customer's latest message."""
    seen_latest_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_latest_user = True
        elif seen_latest_user and event.get("event") == "slot" and event.get("name") == "account_no":
            return event.get("value")
    return None


def typed_digits(tracker: Tracker, digits: str) -> bool:
    """Whether the customer's latest message holds these four digits on their own."""
    text = latest_text(tracker).translate(_FULLWIDTH).replace(" ", "")
    return digits in re.findall(r"(?<!\d)\d{4}(?!\d)", text)


class IdentityValidation:
    """validate_account_no / validate_phone_last4 for any form that needs a verified account.

    Three wrong phone numbers lock the check for the conversation; the submit action then
    offers a person (hand-off reason ``identity_failed``)."""

    async def extract_account_no(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[Text, Any]:
        # Backs up the NLU entity when the customer answers the question with bare digits.
        if tracker.get_slot("requested_slot") != "account_no" or "account_no" in tracker.slots_to_validate():
            return {}
        digits = digits_only(latest_text(tracker))
        return {"account_no": digits} if len(digits) == 10 else {}

    async def extract_phone_last4(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[Text, Any]:
        if "account_no" in tracker.slots_to_validate():
            return {}  # "不对，户号是…": a correction, not an answer
        text = free_text_answer(tracker, "phone_last4")
        return {"phone_last4": text} if text else {}

    async def validate_account_no(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        account_no = digits_only(value)
        if len(account_no) != 10:
            dispatcher.utter_message(text="户号是10位数字，可以在电费单或“网上国网”App里查到，请再核对一下。")
            return {"account_no": None}
        if tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no") == account_no:
            return {"account_no": account_no}
        try:
            await api_client.get_account(account_no, **asker(tracker))
        except api_client.RateLimited:
            dispatcher.utter_message(text=RATE_LIMITED_TEXT)
            return {"account_no": None}
        except api_client.NotFound:
            dispatcher.utter_message(text=f"没有查到户号 {account_no}，请核对后重新输入。")
            return {"account_no": None}
        except api_client.ApiError:
            dispatcher.utter_message(text=API_FAILURE_TEXT)
            return {"account_no": None, "api_failed": True}
        # A new account number (a correction) restarts the check for that account.
        if account_no_before_this_message(tracker) not in (None, account_no):
            dispatcher.utter_message(text=f"好的，户号已改为尾号{account_no[-4:]}。")
        return {"account_no": account_no, "phone_last4": None, "identity_verified": False,
                "verified_account_no": None, "identity_attempts": 0.0}

    async def validate_phone_last4(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        match = re.search(r"(?<!\d)(\d{4})(?!\d)", str(value or "").translate(_FULLWIDTH).replace(" ", ""))
        if not match:
            dispatcher.utter_message(text="请输入登记手机号的后四位数字，比如“0001”。")
            return {"phone_last4": None}
        account_no = tracker.get_slot("account_no")
        if not account_no:
            return {"phone_last4": None}
        if tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no") == account_no:
            return {"phone_last4": match.group(1)}  # re-validated on a form's activation: already done
        if tracker.get_slot("phone_last4") is None and not typed_digits(tracker, match.group(1)):
            # The account changed in this very validation (validate_account_no cleared the digits):
            # these are the digits of the account verified before. Checking them against the new
            # account would count a failure the customer never made; ask for the new account's.
            return {"phone_last4": None}
        try:
            result = await api_client.verify_identity(account_no, match.group(1), **asker(tracker))
        except api_client.RateLimited:
            dispatcher.utter_message(text=RATE_LIMITED_TEXT)
            return {"phone_last4": None}
        except api_client.ApiError:
            dispatcher.utter_message(text=API_FAILURE_TEXT)
            return {"phone_last4": None, "api_failed": True}
        if result.get("verified"):
            customer = result.get("customer") or {}
            dispatcher.utter_message(text=f"身份验证通过，{mask_name(customer.get('name'))}您好。")
            return {
                "phone_last4": match.group(1),
                "identity_verified": True,
                "verified_account_no": account_no,
                "customer_name": customer.get("name"),
                "customer_address": customer.get("address"),
                "area_type": customer.get("area_type"),
                "customer_type": customer.get("customer_type"),
            }
        if result.get("reason") == "not_found":
            dispatcher.utter_message(text=f"没有查到户号 {account_no}，请核对后重新输入户号。")
            return {"phone_last4": None, "account_no": None}
        attempts = int(tracker.get_slot("identity_attempts") or 0) + 1
        if result.get("reason") == "locked" or attempts >= 3:
            dispatcher.utter_message(
                text="手机号后四位多次与登记信息不一致，为保护您的账户安全，本次查询先暂停。")
            return {"phone_last4": None, "identity_attempts": float(attempts), "identity_locked": True}
        dispatcher.utter_message(
            text=f"手机号后四位与登记信息不一致，请再核对一下（还可以再试{3 - attempts}次）。")
        return {"phone_last4": None, "identity_attempts": float(attempts)}


def identity_blocked_reply(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """What a flow says when it cannot go on without a verified identity."""
    if tracker.get_slot("identity_locked"):
        dispatcher.utter_message(response="utter_identity_locked")
        return [SlotSet("handoff_reason", "identity_failed")]
    dispatcher.utter_message(response="utter_offer_human")
    return [SlotSet("api_failed", False), SlotSet("handoff_reason", "api_failure")]


# --- form control -------------------------------------------------------------------

FORM_SLOTS = {
    "bill_form": ["period", "bill_query"],
    "fault_form": ["address", "fault_description", "contact_phone", "hazard", "outage_notice",
                   "address_from_account", "repair_area_type"],
    "outage_form": ["address", "address_from_account"],
    "application_form": ["business_type", "applicant_name", "contact_phone", "address", "confirm"],
    "feedback_form": ["feedback_type", "feedback_content", "contact_phone", "confirm"],
    "progress_form": ["ticket_no"],
}


def reset_form_slots(form: Optional[str]) -> List[EventType]:
    names = FORM_SLOTS.get(form or "", [])
    return [SlotSet(name, None) for name in names]


class ActionCancelForm(Action):
    """"算了" / "不办了": stop the form, keep nothing half-done, say so."""

    def name(self) -> Text:
        return "action_cancel_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        from actions.applications import BUSINESS_TYPES  # applications imports this module

        form = tracker.active_loop.get("name") if tracker.active_loop else None
        paused = tracker.get_slot("paused_form")
        # "算了不报修了，我想申请充电桩": the same message names what to do instead.
        instead = next((value for value in tracker.get_latest_entity_values("business_type")
                        if value in BUSINESS_TYPES), None)
        ask = f"现在为您办理{BUSINESS_TYPES[instead]['label']}。" if instead else "还有其他可以帮您的吗？"
        if form or paused:
            label = FORM_LABELS.get(form or paused, "办理")
            dispatcher.utter_message(text=f"好的，已为您取消本次{label}，没有提交任何信息。{ask}")
        else:
            dispatcher.utter_message(text=f"好的。{ask}")
        events: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None),
                                   SlotSet("paused_form", None), SlotSet("api_failed", False)]
        for name in {form, paused} - {None}:
            events += reset_form_slots(name)
        if instead:
            events += [SlotSet("business_type", instead), FollowupAction("application_form")]
        return events


class ActionPauseForm(Action):
    """A new request inside a form ("先帮我查下电费"): remember the form, leave it, and let
    the rule start the other flow; a rule brings the customer back afterwards."""

    def name(self) -> Text:
        return "action_pause_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        form = tracker.active_loop.get("name") if tracker.active_loop else None
        if form:
            dispatcher.utter_message(text=f"好的，先帮您处理这个，稍后再继续{FORM_LABELS.get(form, '刚才的业务')}。")
        return [SlotSet("paused_form", form), ActiveLoop(None), SlotSet("requested_slot", None)]


def join_lines(lines: Iterable[str]) -> str:
    return "\n".join(line for line in lines if line)


class BaseFormValidation:
    """Mixed into every FormValidationAction: a resumed form clears `paused_form`."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        events = await super().run(dispatcher, tracker, domain)  # type: ignore[misc]
        if tracker.get_slot("paused_form") == self.form_name():  # type: ignore[attr-defined]
            events.append(SlotSet("paused_form", None))
        return events


# What a form may learn about the customer's identity while asking something else (户号 and the
# phone's last four digits given for a contact); rasa_sdk keeps only required slots.
IDENTITY_RESULT_SLOTS = ("account_no", "phone_last4", "identity_verified", "verified_account_no",
                         "customer_name", "customer_address", "area_type", "customer_type")


class KeepsIdentitySlots:
    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> List[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)  # type: ignore[misc]
        names = {event.get("name") for event in events}
        for name, value in tracker.slots_to_validate().items():
            if name in IDENTITY_RESULT_SLOTS and name not in names:
                events.append(SlotSet(name, value))
        return events

