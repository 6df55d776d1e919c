"""A detail said on its own (no request in progress) is acknowledged with what it is usually for."""
from __future__ import annotations

import pytest

from actions.menu import ActionAnswerBareDetail
from tests.support.dialogue import make_tracker, response_text, run_action, texts
from bot.sla import SLA_RULES
from bot.store import STORE


@pytest.mark.asyncio
async def test_a_bare_address_is_acknowledged_with_the_address_requests():
    tracker = make_tracker("南京市玄武区中山路18号", intent="inform",
                           entities=[{"entity": "address", "value": "南京市玄武区中山路18号"}],
                           slots={"address": "南京市玄武区中山路18号"})
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert events == []  # the address slot Rasa filled is kept for the request picked next
    assert "南京市玄武区中山路18号" in texts(messages)[0]
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        "/query_outage", "/report_fault", "/apply_service", "/request_human"]


@pytest.mark.asyncio
async def test_a_bare_account_number_is_acknowledged_masked():
    tracker = make_tracker("3201000001", intent="inform", entities=[{"entity": "account_no", "value": "3201000001"}])
    _, messages = await run_action(ActionAnswerBareDetail(), tracker)
    said = texts(messages)[0]
    assert "尾号0001" in said and "3201000001" not in said
    assert messages[0]["buttons"][0]["payload"] == "/query_bill"


@pytest.mark.asyncio
async def test_any_other_bare_detail_gets_the_menu():
    tracker = make_tracker("王建国", intent="inform", entities=[{"entity": "person_name", "value": "王建国"}])
    _, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [m.get("response") for m in messages] == ["utter_menu"]


def _callback_ticket(app, conversation_id: str, contact_phone=None) -> str:
    from bot import tickets

    with app[STORE].session() as session:
        result = tickets.create_ticket(session, app[SLA_RULES], type="callback", summary="回电：客户要求转人工，非服务时间",
                                       channel="web", conversation_id=conversation_id, contact_phone=contact_phone,
                                       request_key=f"test-callback-{conversation_id}")
        return result.ticket.ticket_no


@pytest.mark.asyncio
async def test_a_phone_left_after_a_callback_without_one_is_put_on_the_ticket(actions_gateway):
    from sqlalchemy import select

    from bot.store.models import Ticket

    app = actions_gateway.app
    ticket_no = _callback_ticket(app, "conv-callback")
    tracker = make_tracker("13912345678", intent="inform", sender_id="conv-callback",
                           entities=[{"entity": "phone", "value": "13912345678"}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    said = texts(messages)
    assert events == [] and len(said) == 1
    assert ticket_no in said[0] and "139****5678" in said[0] and "13912345678" not in said[0]
    with app[STORE].session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ticket_no == ticket_no)).scalar_one()
        assert ticket.contact_phone == "13912345678"
        assert [(e.kind, e.actor, e.data["to"]) for e in ticket.events if e.kind == "contact_changed"] == [
            ("contact_changed", "bot", "13912345678")]

    # The number is on the ticket now: another bare number is not taken for it.
    tracker = make_tracker("13800001111", intent="inform", sender_id="conv-callback",
                           entities=[{"entity": "phone", "value": "13800001111"}])
    _, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [m.get("response") for m in messages] == ["utter_menu"]
    with app[STORE].session() as session:
        assert session.execute(select(Ticket.contact_phone).where(Ticket.ticket_no == ticket_no)).scalar() \
            == "13912345678"


@pytest.mark.asyncio
async def test_a_bare_phone_without_a_waiting_callback_gets_the_menu(actions_gateway):
    _callback_ticket(actions_gateway.app, "conv-other")  # another conversation's callback stays untouched
    tracker = make_tracker("13912345678", intent="inform", sender_id="conv-no-callback",
                           entities=[{"entity": "phone", "value": "13912345678"}])
    _, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [m.get("response") for m in messages] == ["utter_menu"]


@pytest.mark.asyncio
async def test_a_phone_for_a_callback_with_the_gateway_down_gets_an_apology(dead_gateway):
    API_FAILURE_TEXT = response_text("utter_api_failure")  # the text the gateway's customer gets

    tracker = make_tracker("13912345678", intent="inform", sender_id="conv-callback",
                           entities=[{"entity": "phone", "value": "13912345678"}])
    _, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert texts(messages) == [API_FAILURE_TEXT]


@pytest.mark.asyncio
async def test_an_offer_answered_with_a_detail_is_taken_as_a_yes():
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": "我店里上个月电费咋又两千多 你们是不是算错了"},
             {"event": "bot", "text": "不好意思，我没太明白。您是想查询电费吗？",
              "data": {"buttons": [{"title": "是的", "payload": "/query_bill"},
                                   {"title": "不是", "payload": "/out_of_scope"}]}}]
    tracker = make_tracker("户号3201000030", intent="inform", prior_events=prior,
                           entities=[{"entity": "account_no", "value": "3201000030"}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["bill_form"] and not messages
    # No offer before: the usual choices.
    tracker = make_tracker("户号3201000030", intent="inform", entities=[{"entity": "account_no", "value": "3201000030"}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert not [e for e in events if e["event"] == "followup"] and messages
