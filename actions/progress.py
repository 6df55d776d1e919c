"""Progress: one ticket by its number, or every open ticket of a verified account."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.common import (
    asks_progress_of_earlier,
    DONE_STATUSES,
    wants_to_complain,
    TICKET_STATUS_LABELS,
    TICKET_TYPE_LABELS,
    BaseFormValidation,
    IdentityValidation,
    finish_service,
    format_time,
    identity_blocked_reply,
    identity_missing,
    latest_text,
    milestone_lines,
    names_its_subject,
    next_deadline,
)

TICKET_NO = re.compile(r"(?<![A-Za-z])([A-Za-z]{2}\d{11})(?!\d)")
# Letters and digits that look like a ticket number of another shape (a typo, another system's).
LOOSE_TICKET_NO = re.compile(r"(?<![A-Za-z])([A-Za-z]{1,4}\d{6,16})(?!\d)")


def ticket_progress(ticket: Dict[str, Any]) -> Tuple[str, Dict[str, str]]:
    """One ticket's progress: the response (done, next deadline, late, waiting) and its values."""
    values = {"ticket_no": str(ticket.get("ticket_no")),
              "type_label": TICKET_TYPE_LABELS.get(ticket.get("type", ""), "工单"),
              "status_label": str(TICKET_STATUS_LABELS.get(ticket.get("status", ""), ticket.get("status")))}
    deadline = next_deadline(ticket)
    if ticket.get("status") in DONE_STATUSES:
        return "utter_ticket_progress_done", values
    if not deadline:
        return "utter_ticket_progress_waiting", values
    values.update(milestone=str(deadline.get("name")), due=format_time(deadline.get("due_at")))
    return ("utter_ticket_progress_late" if deadline.get("breached") else "utter_ticket_progress_due"), values


def ticket_summary(ticket: Dict[str, Any]) -> str:
    """One ticket of the list of a customer's open tickets. The list has any length, which a
    template cannot repeat: its items are assembled here, in the words of utter_ticket_progress_*
    (tests/actions/test_texts.py checks that they agree)."""
    response, values = ticket_progress(ticket)
    lines = [f"工单 {values['ticket_no']}（{values['type_label']}）", f"当前状态：{values['status_label']}"]
    if response == "utter_ticket_progress_waiting":
        lines.append("各环节时限均已完成，正在等待办结。")
    elif response != "utter_ticket_progress_done":
        late = "，已超时，我们正在加急处理" if response == "utter_ticket_progress_late" else ""
        lines.append(f"下一个时限：{values['milestone']}，{values['due']} 前{late}")
    return "\n".join(lines)


# "不记得单号了", "工单号找不到了", "没有单号": the lookup by 户号 the question offers.
FORGOT_NUMBER = re.compile(r"(不记得|记不得|记不清|忘了|忘记|找不到|找不着|不知道|没记|丢了|没有|没存|删了)"
                           r".{0,4}(单号|工单号|编号|号码|号)|(单号|工单号|编号).{0,4}(忘了|忘记|丢了|找不到|不记得|没了)"
                           r"|用户号查|户号查|按户号")


# A mobile number where the ticket number was asked for.
PHONE_GIVEN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


# "那大概还要几天能来装表", "什么时候能办好": when the work of a ticket will be done.
WHEN_ASKED = re.compile(r"(还要|还得|大概|大约|估计|要)(几天|多久|多长时间|几个工作日)|(什么时候|啥时候|哪天|几号|多久)"
                        r"(能|可以|才能|会)?(来|到|装|接|办|好|批|通|弄)")
PROGRESS_ANSWERS = ("utter_open_tickets", "utter_open_tickets_more", "utter_ticket_progress_due",
                    "utter_ticket_progress_late", "utter_ticket_progress_waiting", "utter_ticket_milestones")


def tickets_just_shown(tracker: Tracker) -> List[str]:
    """The tickets whose progress the answer to one of the customer's last two messages showed."""
    from actions.common import bot_responses_within, bot_texts_within

    if not any(action in PROGRESS_ANSWERS for action in bot_responses_within(tracker, 2)):
        return []
    found: List[str] = []
    for text in bot_texts_within(tracker, 2):
        for ticket_no in TICKET_NO.findall(text):
            if ticket_no not in found:
                found.append(ticket_no)
    return found


async def tell_when_after_progress(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """"那大概还要几天能来装表" right after the progress was shown: every step's deadline of
    those tickets (the progress answer gave only the next one); False when it does not apply."""
    text = latest_text(tracker)
    shown = tickets_just_shown(tracker) if WHEN_ASKED.search(text) and not text.startswith("/") else []
    told = False
    for ticket_no in shown[:3]:
        try:
            ticket = await api_client.get_ticket(ticket_no)
        except api_client.ApiError:
            continue
        if ticket.get("status") in DONE_STATUSES or not ticket.get("milestones"):
            continue
        dispatcher.utter_message(response="utter_ticket_milestones", ticket_no=ticket_no,
                                 type_label=ticket_progress(ticket)[1]["type_label"],
                                 milestones="\n".join(milestone_lines(ticket)))
        told = True
    return told


class ValidateProgressForm(BaseFormValidation, IdentityValidation, FormValidationAction):
    def name(self) -> Text:
        return "validate_progress_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        text = latest_text(tracker)
        if tracker.get_slot("requested_slot") is None and await tell_when_after_progress(dispatcher, tracker):
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
        if tracker.get_slot("requested_slot") is None:
            from actions.faults import about_notice_subscriptions  # faults imports the forms' helpers

            if about_notice_subscriptions(text):
                # "退订工单进度通知": the customer's notices, not a progress query.
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_manage_notices")]
        if tracker.get_slot("requested_slot") is None and wants_to_complain(text):
            # "昨天晚上报的修 等了三个钟头才来人 你们承诺的时间呢 我要投诉": a complaint, told.
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_type", "complaint"),
                    SlotSet("feedback_content", text[:1000]), FollowupAction("feedback_form")]
        if tracker.get_slot("requested_slot") is None and not tracker.get_slot("ticket_no") \
                and not tracker.get_slot("last_ticket_no") \
                and not text.startswith("/") and not names_its_subject(tracker, "query_progress") \
                and not asks_progress_of_earlier(text) and not TICKET_NO.search(text.replace(" ", "")):
            # (asks_progress_of_earlier: what the application form sends here; never sent back)
            # "买了个二手房 电费户名还是前房东的 要过户到我名下" read as a progress query: no word of
            # progress, the words of another request; that request is served.
            from actions.applications import business_from_text
            from actions.menu import named_request  # menu imports the forms' helpers

            request = "application_form" if business_from_text(text) else named_request(text)
            if request and request != "progress_form":
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction(request)]
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("api_failed"):
            return []
        if tracker.get_slot("ticket_no"):
            return ["ticket_no"]
        if tracker.get_slot("identity_verified") or tracker.get_slot("account_no") \
                or tracker.get_slot("progress_by_account") \
                or tracker.get_slot("requested_slot") in ("account_no", "phone_last4"):
            return identity_missing(tracker)  # "all my tickets": the account must be verified
        return ["ticket_no"]

    async def listen(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: DomainDict) -> Optional[List[EventType]]:
        text = latest_text(tracker)
        only_a_phone = tracker.get_slot("requested_slot") == "ticket_no" and bool(PHONE_GIVEN.search(text.replace(" ", "")))
        if tracker.get_slot("requested_slot") in (None, "ticket_no") and not tracker.get_slot("ticket_no") \
                and (FORGOT_NUMBER.search(text) or only_a_phone) \
                and not TICKET_NO.search(text.replace(" ", "")):
            # Not a cancel: the question offered the lookup by 户号, after the identity check.
            events: List[EventType] = [SlotSet("progress_by_account", True), SlotSet("ticket_no", None)]
            tracker.add_slots(events)
            if tracker.get_slot("identity_verified"):
                return events + [SlotSet("requested_slot", None)]
            # "报修的时候留的电话是139…" at the ticket-number question: a phone finds no ticket by
            # itself (anyone may know it); the lookup by 户号 after the identity check is offered.
            dispatcher.utter_message(response="utter_progress_by_account_not_phone" if only_a_phone
                                     else "utter_progress_by_account")
            missing = "phone_last4" if tracker.get_slot("account_no") else "account_no"
            return events + [SlotSet("requested_slot", missing)]
        return await super().listen(dispatcher, tracker, domain)

    async def extract_ticket_no(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> Dict[Text, Any]:
        if "ticket_no" in tracker.slots_to_validate():
            return {}
        text = latest_text(tracker).replace(" ", "")
        match = TICKET_NO.search(text)
        if not match and not text.startswith("/"):
            # "GD2026112000123": a number of another shape is looked at, and said not to exist.
            loose = LOOSE_TICKET_NO.search(text)
            if loose and tracker.get_slot("requested_slot") in (None, "ticket_no"):
                return {"ticket_no": loose.group(1).upper()}
        if tracker.get_slot("requested_slot") == "ticket_no":
            return {"ticket_no": match.group(1).upper()} if match else {}
        # "申请要几天能办好" right after a request: the ticket this conversation just opened.
        last = tracker.get_slot("last_ticket_no")
        if tracker.get_slot("requested_slot") is None and not match and last and not tracker.get_slot("ticket_no"):
            return {"ticket_no": last}
        return {}

    async def validate_ticket_no(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        match = TICKET_NO.search(str(value or "").replace(" ", ""))
        if not match:
            loose = LOOSE_TICKET_NO.search(str(value or "").replace(" ", ""))
            if loose:
                dispatcher.utter_message(response="utter_ticket_no_unknown", ticket_no=loose.group(1).upper())
            else:
                dispatcher.utter_message(response="utter_ticket_no_invalid")
            return {"ticket_no": None}
        return {"ticket_no": match.group(1).upper()}


class ActionQueryProgress(Action):
    def name(self) -> Text:
        return "action_query_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        reset = [SlotSet("ticket_no", None), SlotSet("progress_by_account", None)]
        ticket_no = tracker.get_slot("ticket_no")
        if tracker.get_slot("api_failed"):
            return identity_blocked_reply(dispatcher, tracker) + reset
        try:
            if ticket_no:
                try:
                    ticket = await api_client.get_ticket(ticket_no)
                except api_client.NotFound:
                    dispatcher.utter_message(response="utter_ticket_not_found", ticket_no=ticket_no)
                    return reset + finish_service(dispatcher, tracker, served=False)
                response, values = ticket_progress(ticket)
                dispatcher.utter_message(response=response, **values)
                return reset + finish_service(dispatcher, tracker, served=True, ticket_no=ticket_no)
            if not tracker.get_slot("identity_verified"):
                return identity_blocked_reply(dispatcher, tracker) + reset + \
                    finish_service(dispatcher, tracker, served=False)
            account_no = tracker.get_slot("verified_account_no") or tracker.get_slot("account_no")
            tickets = await api_client.list_tickets(account_no, status="open")
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return reset + [SlotSet("handoff_reason", "api_failure")] + \
                finish_service(dispatcher, tracker, served=False)
        if not tickets:
            dispatcher.utter_message(response="utter_no_open_tickets")
        else:
            dispatcher.utter_message(response="utter_open_tickets_more" if len(tickets) > 5 else "utter_open_tickets",
                                     count=str(len(tickets)),
                                     tickets="\n\n".join(ticket_summary(t) for t in tickets[:5]))
        return reset + finish_service(dispatcher, tracker, served=True)


