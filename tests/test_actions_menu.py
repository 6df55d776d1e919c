"""A detail said on its own (no request in progress) is acknowledged with what it is usually for."""
from __future__ import annotations

import pytest

from actions.menu import ActionAnswerBareDetail
from tests.support.dialogue import make_tracker, run_action, texts


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
