"""Applications, complaints/tip-offs/suggestions/praise and progress against a real gateway."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions.applications import (
    BUSINESS_TYPES,
    ActionSubmitApplication,
    ValidateApplicationForm,
)
from actions.common import TICKET_STATUS_LABELS
from actions.feedback import ActionSubmitFeedback, ValidateFeedbackForm
from actions.progress import ActionQueryProgress, ValidateProgressForm
from bot.store.models import Customer, Ticket
from tests.support.dialogue import make_tracker, run_action, slot_values, texts
from tests.support.gateway import auth_headers
from bot.store import STORE


def last_ticket(app) -> Ticket:
    with app[STORE].session() as session:
        row = session.execute(select(Ticket).order_by(Ticket.id.desc())).scalars().first()
        _ = row.milestones
        return row


def ticket_count(app) -> int:
    with app[STORE].session() as session:
        return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


# ------------------------------------------------------------------ applications


@pytest.mark.asyncio
async def test_free_text_business_type_shows_its_documents(actions_gateway):
    tracker = make_tracker("我想在小区车位装个充电桩", intent="apply_service", form="application_form")
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["business_type"] == "ev_charger"
    said = texts(messages)[0]
    for document in BUSINESS_TYPES["ev_charger"]["documents"]:
        assert document in said


@pytest.mark.asyncio
async def test_unknown_business_type_offers_buttons(actions_gateway):
    tracker = make_tracker("办个那个啥", intent="inform", form="application_form",
                           candidates={"business_type": "办个那个啥"}, slots={"requested_slot": "business_type"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["business_type"] is None
    assert len(messages[0]["buttons"]) == len(BUSINESS_TYPES)


@pytest.mark.asyncio
async def test_application_filed_once_known_with_its_steps_and_what_was_registered(actions_gateway):
    app = actions_gateway.app
    slots = {"business_type": "pv_connection", "applicant_name": "王建国", "address": "南京市江宁区秣陵街道佳湖小区12栋",
             "requested_slot": "contact_phone"}
    # The last answer completes the form: no confirmation round, nothing more is asked.
    tracker = make_tracker("13700001234", intent="inform", form="application_form", slots=slots,
                           entities=[{"entity": "phone", "value": "13700001234"}], candidates={"contact_phone": "13700001234"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["contact_phone"] == "13700001234" and values.get("requested_slot") is None
    filled = {**slots, **values}
    required = await ValidateApplicationForm().required_slots([], None, make_tracker("", slots=filled), {})
    assert all(filled.get(name) for name in required)  # nothing left to ask
    events, messages = await run_action(ActionSubmitApplication(), make_tracker("13700001234", slots=filled,
                                                                                sender_id="conv-app"))
    stored = last_ticket(app)
    assert stored.type == "application" and stored.business_type == "pv_connection"
    assert stored.contact_name == "王建国" and stored.conversation_id == "conv-app"
    reply, registered = texts(messages)[:2]
    assert stored.ticket_no in reply and "光伏并网" in reply
    for milestone in stored.milestones:
        assert milestone.name in reply  # every step with its limit
    assert "王建国" in registered and "137****1234" in registered and "佳湖小区12栋" in registered
    assert slot_values(events)["business_type"] is None  # nothing left over for the next request


# ------------------------------------------------------------------ complaints and friends


@pytest.mark.asyncio
async def test_complaint_from_the_opening_message_needs_a_phone(actions_gateway):
    app = actions_gateway.app
    opening = "我要投诉，你们抄表员上门态度特别差，还乱收费"
    tracker = make_tracker(opening, intent="complain", form="feedback_form")
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    values = slot_values(events)
    assert values["feedback_type"] == "complaint"
    assert values["feedback_content"] == opening

    tracker = make_tracker("不留了", intent="deny", form="feedback_form",
                           slots={**values, "requested_slot": "contact_phone"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    # Recorded without a phone (the customer's choice), saying the result cannot be called back.
    assert slot_values(events)["contact_phone"] == "none"
    assert "不留电话也可以登记" in texts(messages)[0]

    slots = {**values, "contact_phone": "13600005678", "confirm": True}
    events, messages = await run_action(ActionSubmitFeedback(), make_tracker("确认", slots=slots))
    stored = last_ticket(app)
    assert stored.type == "complaint" and stored.contact_phone == "13600005678"
    reply = texts(messages)[0]
    assert stored.ticket_no in reply and "24小时内" in reply


@pytest.mark.asyncio
async def test_anonymous_tip_off(actions_gateway):
    app = actions_gateway.app
    tracker = make_tracker("我要举报", intent="tip_off", form="feedback_form")
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    values = slot_values(events)
    assert values["feedback_type"] == "tip_off"
    assert "feedback_content" not in values  # "我要举报" says nothing yet: it is asked

    tracker = make_tracker("匿名", intent="deny", form="feedback_form",
                           slots={**values, "feedback_content": "隔壁厂房晚上私接电线偷电",
                                  "requested_slot": "contact_phone"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events)["contact_phone"] == "none"

    slots = {**values, "feedback_content": "隔壁厂房晚上私接电线偷电", "contact_phone": "none", "confirm": True}
    _, messages = await run_action(ActionSubmitFeedback(), make_tracker("确认", slots=slots))
    stored = last_ticket(app)
    assert stored.type == "tip_off" and stored.contact_phone is None
    assert stored.details["anonymous"] is True
    assert "保密" in texts(messages)[0]


@pytest.mark.asyncio
async def test_praise_is_filed_and_thanked(actions_gateway):
    slots = {"feedback_type": "praise", "feedback_content": "抢修师傅半夜冒雨来修，特别负责",
             "contact_phone": "none", "confirm": True}
    _, messages = await run_action(ActionSubmitFeedback(), make_tracker("确认", slots=slots))
    stored = last_ticket(actions_gateway.app)
    assert stored.type == "praise" and stored.ticket_no in texts(messages)[0]


@pytest.mark.asyncio
async def test_feedback_when_the_gateway_is_down(dead_gateway):
    slots = {"feedback_type": "complaint", "feedback_content": "停电三天没人管",
             "contact_phone": "13600005678", "confirm": True}
    events, messages = await run_action(ActionSubmitFeedback(), make_tracker("确认", slots=slots))
    said = "".join(texts(messages))
    assert "编号" not in said and "已登记" not in said and "95598" in said
    assert slot_values(events)["handoff_reason"] == "api_failure"


# ------------------------------------------------------------------ progress


@pytest.mark.asyncio
async def test_progress_by_ticket_number(actions_gateway):
    client = actions_gateway
    created = await client.post("/api/v1/tickets", headers=auth_headers(), json={
        "type": "repair", "summary": "家里停电", "channel": "web", "request_key": "progress-test-1"})
    ticket = await created.json()
    await client.post(f"/api/v1/tickets/{ticket['ticket_no']}/status", headers=auth_headers(),
                      json={"status": "accepted", "actor": "tester"})
    lower = ticket["ticket_no"].lower()
    tracker = make_tracker(f"帮我查下{lower}", intent="query_progress", form="progress_form",
                           slots={"requested_slot": "ticket_no"})
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert slot_values(events)["ticket_no"] == ticket["ticket_no"]

    events, messages = await run_action(ActionQueryProgress(),
                                        make_tracker("", slots={"ticket_no": ticket["ticket_no"]}))
    reply = texts(messages)[0]
    assert ticket["ticket_no"] in reply and TICKET_STATUS_LABELS["accepted"] in reply
    assert "下一个时限" in reply
    assert slot_values(events)["ticket_no"] is None


@pytest.mark.asyncio
async def test_unknown_ticket_number(actions_gateway):
    _, messages = await run_action(ActionQueryProgress(), make_tracker("", slots={"ticket_no": "BX20200101999"}))
    assert "没有查到工单 BX20200101999" in texts(messages)[0]


@pytest.mark.asyncio
async def test_all_open_tickets_of_a_verified_account(actions_gateway):
    client = actions_gateway
    with client.app[STORE].session() as session:
        row = session.execute(select(Customer).where(Customer.account_no == "3201000003")).scalar_one()
    numbers = []
    for index, kind in enumerate(("repair", "complaint")):
        response = await client.post("/api/v1/tickets", headers=auth_headers(), json={
            "type": kind, "summary": "测试", "channel": "web", "account_no": row.account_no,
            "request_key": f"progress-account-{index}"})
        numbers.append((await response.json())["ticket_no"])
    # Without a ticket number the form asks for identity when an account number is given.
    tracker = make_tracker(row.account_no, intent="inform", form="progress_form",
                           candidates={"account_no": row.account_no}, slots={"requested_slot": "ticket_no"})
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert slot_values(events).get("requested_slot", "phone_last4") == "phone_last4"

    slots = {"identity_verified": True, "verified_account_no": row.account_no, "account_no": row.account_no}
    _, messages = await run_action(ActionQueryProgress(), make_tracker("", slots=slots))
    reply = texts(messages)[0]
    for number in numbers:
        assert number in reply


@pytest.mark.asyncio
async def test_progress_question_right_after_a_request_means_that_ticket(actions_gateway):
    tracker = make_tracker("申请要几天能办好", intent="query_progress", form="progress_form",
                           slots={"last_ticket_no": "YK20261127003"})
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert slot_values(events)["ticket_no"] == "YK20261127003"

    # A ticket number in the question wins over the one just opened.
    tracker = make_tracker("BX20261126001怎么样了", intent="query_progress", form="progress_form",
                           slots={"last_ticket_no": "YK20261127003", "ticket_no": "BX20261126001"})
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert slot_values(events).get("ticket_no", "BX20261126001") == "BX20261126001"
