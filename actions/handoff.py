"""Hand-off to a person, and the fallback that leads there after two failures."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.common import FORM_LABELS, channel_of, mask_phone

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
        try:
            handoff = await api_client.create_handoff(payload)
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_handoff_failed")
            return events
        # The gateway tells the customer itself when it knows the queue (waiting time, or the
        # desk is closed and a callback ticket was opened); saying more would contradict it.
        if not (isinstance(handoff, dict) and handoff.get("customer_notified")):
            dispatcher.utter_message(response="utter_handoff")
        return events


SMALL_TALK_GUESSES = {"goodbye", "affirm", "deny", "thank", "greet", "chitchat", "rate_service", "cancel"}


class ActionDefaultAskAffirmation(Action):
    """First stage of the two-stage fallback, in Chinese and in the customer's words."""

    def name(self) -> Text:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        candidates = [r.get("name") for r in ranking if r.get("name") not in (None, "nlu_fallback", "out_of_scope")]
        top = next((r for r in ranking if r.get("name") == (candidates[0] if candidates else None)), {})
        intent = candidates[0] if candidates else None
        # Guessing "结束对话"/"确认" for gibberish sounds odd: only offer a real request, and
        # only when the model leaned towards it at all.
        if intent not in INTENT_LABELS or intent in SMALL_TALK_GUESSES or (top.get("confidence") or 0) < 0.3:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        dispatcher.utter_message(
            text=f"不好意思，我没太明白。您是想{INTENT_LABELS[intent]}吗？",
            buttons=[{"title": "是的", "payload": f"/{intent}"},
                     {"title": "不是", "payload": "/out_of_scope"}])
        return []


class ActionDefaultFallback(Action):
    """Two failures in a row: offer a person (hand-off reason ``fallback``)."""

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_default")
        return [UserUtteranceReverted(), SlotSet("handoff_reason", "fallback")]
