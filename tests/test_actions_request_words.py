"""What a message is for, by its own words, when NLU's intent alone misleads.

- Inside a form, a short statement NLU reads as another request ("身份证我有的" as a progress
  query) does not pause the form unless it names that request's subject.
- Outside a form, a detail given with the words of a request ("…11栋2603 家里没电了 帮我报修")
  starts that request instead of the menu."""
from __future__ import annotations

import pytest

from actions.applications import ValidateApplicationForm
from actions.common import is_digression
from actions.menu import ActionAnswerBareDetail, named_request
from tests.support.dialogue import make_tracker, run_action, slot_values, texts

CONFIRMING = {"business_type": "new_connection", "applicant_name": "杨老三", "contact_phone": "13584160927",
              "address": "溧水区白马镇曹家桥村40号", "documents_shown_for": "new_connection",
              "requested_slot": "confirm"}


@pytest.mark.parametrize("text, intent, digression", [
    ("身份证我有的", "query_progress", False),
    ("等哈 我先看看是不是跳闸了", "query_bill", False),
    ("先帮我查下电费", "query_bill", True),
    ("我上次报修的进度呢", "query_progress", True),
    ("什么时候来电", "query_outage", True),
])
def test_a_new_request_inside_a_form_names_its_subject(text, intent, digression):
    tracker = make_tracker(text, intent=intent, confidence=0.97, form="application_form",
                           slots={"requested_slot": "confirm"})
    assert is_digression(tracker, "confirm") is digression


@pytest.mark.asyncio
async def test_a_statement_at_the_confirmation_is_a_detail_not_a_new_request(actions_gateway):
    tracker = make_tracker("身份证我有的", intent="query_progress", confidence=0.97, form="application_form",
                           slots=CONFIRMING)
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert "confirm" in values and values["confirm"] is None  # the question stands, the form goes on
    assert any("工作人员核验资料时会一并了解" in t for t in texts(messages))


@pytest.mark.parametrize("text, form", [
    ("玄武区珠江路130号金陵小区11栋2603 家里没电了 帮我报修 电话17778014144", "fault_form"),
    ("鼓楼区湖南路18号 这周停不停电", "outage_form"),
    ("3201000009 我要办过户", "application_form"),
    ("3201000009 查下电费", "bill_form"),
    ("玄武区珠江路130号", None),
])
def test_the_words_beside_a_detail_name_the_request(text, form):
    assert named_request(text) == form


@pytest.mark.asyncio
async def test_a_detail_with_a_request_starts_that_request():
    text = "玄武区珠江路130号金陵小区11栋2603 家里没电了 帮我报修"
    tracker = make_tracker(text, intent="inform", entities=[
        {"entity": "address", "value": "玄武区珠江路130号金陵小区11栋2603", "start": 0, "end": 21}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert messages == []
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["fault_form"]


@pytest.mark.asyncio
async def test_a_bare_detail_still_gets_the_choices():
    tracker = make_tracker("玄武区珠江路130号", intent="inform", entities=[
        {"entity": "address", "value": "玄武区珠江路130号", "start": 0, "end": 11}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert not any(e.get("event") == "followup" for e in events)
    assert "停电查询" in [b["title"] for b in messages[0]["buttons"]]
