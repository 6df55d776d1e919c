"""Hand-off, fallback, cancel/pause and the satisfaction question against a real gateway."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.common import ActionCancelForm, ActionPauseForm
from actions.handoff import ActionDefaultAskAffirmation, ActionDefaultFallback, ActionHandoff
from actions.survey import ActionSubmitSurvey, rating_from_text
from bot.store.models import Handoff, SurveyAnswer
from tests.support.dialogue import make_tracker, response_text, run_action, slot_values, texts
from bot.sla import SLA_RULES
from bot.store import STORE


def handoffs(app) -> list[Handoff]:
    with app[STORE].session() as session:
        return session.execute(select(Handoff).order_by(Handoff.id)).scalars().all()


@pytest.mark.asyncio
async def test_request_human_records_the_handoff_with_channel_and_summary(actions_gateway):
    app = actions_gateway.app
    tracker = make_tracker("转人工", intent="request_human", sender_id="wechat:oAbc123", channel="wechat",
                           active_loop="bill_form",
                           slots={"account_no": "3201000001", "requested_slot": "phone_last4"})
    events, messages = await run_action(ActionHandoff(), tracker)
    [row] = handoffs(app)
    assert row.conversation_id == "wechat:oAbc123" and row.reason == "customer_request"
    assert "3201000001" in (row.summary or "") and "转人工" in (row.summary or "")
    # The gateway told the customer about the queue itself (customer_notified): no second message.
    # (A query ends; a repair, an application or a complaint goes on after a closed desk's callback:
    # tests/actions/test_blind_l.py.)
    assert messages == []
    assert {"event": "active_loop", "name": None} in [{k: e.get(k) for k in ("event", "name")} for e in events]
    # Then the bot listens, whatever led here (no policy's guess under the hand-off notice).
    assert events[-1].get("event") == "followup" and events[-1].get("name") == "action_listen"


@pytest.mark.asyncio
async def test_handoff_after_the_fallback_offer_says_why(actions_gateway):
    # The bot offered a person after two failures (handoff_reason set in its last turn).
    offer = [{"event": "user", "text": "啊吧啊吧", "parse_data": {}},
             {"event": "bot", "text": "抱歉，我还是没能理解您的问题。"},
             {"event": "slot", "name": "handoff_reason", "value": "fallback"}]
    tracker = make_tracker("/request_human", intent="request_human", prior_events=offer,
                           slots={"handoff_reason": "fallback"}, sender_id="conv-fallback")
    await run_action(ActionHandoff(), tracker)
    assert handoffs(actions_gateway.app)[-1].reason == "fallback"

    # An old offer does not colour a later, ordinary request.
    later = offer + [{"event": "user", "text": "查电费", "parse_data": {}}, {"event": "bot", "text": "请告诉我户号"}]
    tracker = make_tracker("转人工", intent="request_human", prior_events=later,
                           slots={"handoff_reason": "fallback"}, sender_id="conv-later")
    await run_action(ActionHandoff(), tracker)
    assert handoffs(actions_gateway.app)[-1].reason == "customer_request"


@pytest.mark.asyncio
async def test_identity_lock_handoff_reason(actions_gateway):
    tracker = make_tracker("转人工", intent="request_human", slots={"identity_locked": True},
                           sender_id="conv-locked")
    await run_action(ActionHandoff(), tracker)
    assert handoffs(actions_gateway.app)[-1].reason == "identity_failed"


@pytest.mark.asyncio
async def test_handoff_when_the_gateway_is_down(dead_gateway):
    _, messages = await run_action(ActionHandoff(), make_tracker("转人工", intent="request_human"))
    assert messages[0]["response"] == "utter_handoff_failed"


@pytest.mark.asyncio
async def test_fallback_offers_a_person_and_remembers_why():
    # (after a first try: the bot asked the customer to say it again)
    prior = [{"event": "user", "text": "啊啊", "parse_data": {"intent": {"name": "nlu_fallback"}}},
             {"event": "bot", "text": "不好意思，我没太理解您的意思", "metadata": {"utter_action": "utter_ask_rephrase"}}]
    events, messages = await run_action(ActionDefaultFallback(), make_tracker("嗯嗯啊啊", intent="nlu_fallback",
                                                                              prior_events=prior))
    assert messages[0]["response"] == "utter_default"
    assert events[0]["event"] == "rewind"
    assert slot_values(events)["handoff_reason"] == "fallback"


@pytest.mark.asyncio
async def test_affirmation_question_is_chinese_with_buttons():
    tracker = make_tracker("电费那个", intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                {"name": "query_bill", "confidence": 0.45}]
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert "查询电费" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/query_bill", "/out_of_scope"]


@pytest.mark.asyncio
async def test_cancel_clears_the_form_and_says_nothing_was_filed():
    tracker = make_tracker("算了", intent="cancel", active_loop="application_form",
                           slots={"business_type": "ev_charger", "applicant_name": "王建国"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    values = slot_values(events)
    assert values["business_type"] is None and values["applicant_name"] is None
    assert "业务办理" in texts(messages)[0] and "没有提交" in texts(messages)[0]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


@pytest.mark.asyncio
async def test_a_question_after_the_stop_is_not_ignored():
    tracker = make_tracker("算了不查了 我家楼道灯不亮了 是你们管吗", intent="cancel", active_loop="outage_form",
                           slots={"requested_slot": "address"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert messages[0]["text"] == "好的，已为您取消本次停电查询，没有提交任何信息。"
    # Not silently dropped: whose the corridor light is (its words name the topic).
    assert "物业" in messages[1]["text"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


@pytest.mark.asyncio
async def test_another_request_after_the_stop_is_served_at_once():
    tracker = make_tracker("算了算了不报了，我想问问明天中华路停不停电", intent="cancel", active_loop="fault_form",
                           slots={"requested_slot": "address"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert texts(messages) == ["好的，已为您取消本次故障报修，没有提交任何信息。"]
    assert events[-1] == {"event": "followup", "name": "outage_form", "timestamp": None}
    # The stop alone still asks what else, and starts nothing.
    events, messages = await run_action(ActionCancelForm(), make_tracker("算了不报了", intent="cancel",
                                                                        active_loop="fault_form"))
    assert texts(messages)[0].endswith("还有其他可以帮您的吗？")
    assert not [e for e in events if e["event"] == "followup"]


@pytest.mark.asyncio
async def test_cancel_that_names_an_application_starts_it():
    tracker = make_tracker("算了不报修了，我想申请充电桩", intent="cancel", active_loop="fault_form",
                           entities=[{"entity": "business_type", "value": "ev_charger", "start": 11, "end": 14}],
                           slots={"address": "中山路18号", "requested_slot": "fault_description"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert texts(messages) == ["好的，已为您取消本次故障报修，没有提交任何信息。现在为您办理充电桩报装。"]
    assert slot_values(events)["address"] is None
    assert slot_values(events)["business_type"] == "ev_charger"
    assert events[-1] == {"event": "followup", "name": "application_form", "timestamp": None}


@pytest.mark.asyncio
async def test_pause_remembers_the_form():
    tracker = make_tracker("先帮我查下电费", intent="query_bill", active_loop="fault_form",
                           slots={"address": "中山路18号", "requested_slot": "fault_description"})
    events, _ = await run_action(ActionPauseForm(), tracker)
    values = slot_values(events)
    assert values["paused_form"] == "fault_form" and values["requested_slot"] is None
    assert "address" not in values  # what was said so far is kept for the return


@pytest.mark.parametrize("said, rating", [("满意", "satisfied"), ("非常满意", "satisfied"), ("一般般吧", "neutral"),
                                          ("不满意", "dissatisfied"), ("太差了", "dissatisfied"), ("嗯", None)])
def test_rating_words(said, rating):
    assert rating_from_text(said) == rating


@pytest.mark.asyncio
async def test_rating_is_stored_with_the_ticket(actions_gateway, service_headers):
    client = actions_gateway
    created = await client.post("/api/v1/tickets", headers=service_headers, json={
        "type": "repair", "summary": "停电", "channel": "web", "conversation_id": "conv-rate",
        "request_key": "survey-test"})
    ticket_no = (await created.json())["ticket_no"]
    tracker = make_tracker('/rate_service{"rating":"dissatisfied"}', intent="rate_service",
                           slots={"rating": "dissatisfied", "survey_ticket_no": ticket_no}, sender_id="conv-rate")
    events, messages = await run_action(ActionSubmitSurvey(), tracker)
    with client.app[STORE].session() as session:
        [answer] = session.execute(select(SurveyAnswer)).scalars().all()
        assert answer.rating == "dissatisfied"
    assert messages[0]["response"] == "utter_thank_rating_dissatisfied"
    assert slot_values(events)["rating"] is None


@pytest.mark.asyncio
async def test_affirmation_never_offers_a_faq_it_cannot_answer():
    tracker = make_tracker("居民生活用电", intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.25},
                                                {"name": "faq", "confidence": 0.99},
                                                {"name": "apply_service", "confidence": 0.35}]
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert "办理用电业务" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/apply_service", "/out_of_scope"]
    tracker.latest_message["intent_ranking"] = tracker.latest_message["intent_ranking"][:2]
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ask_rephrase"]


@pytest.mark.asyncio
async def test_how_long_after_a_request_gets_that_tickets_remaining_deadlines(actions_gateway):
    from bot import tickets

    app = actions_gateway.app
    with app[STORE].session() as session:
        created = tickets.create_ticket(session, app[SLA_RULES], type="application", summary="新装用电",
                                        channel="web", business_type="new_connection",
                                        conversation_id="conv-apply", request_key="test-apply-1")
        ticket_no = created.ticket.ticket_no
        steps = [m.name for m in sorted(created.ticket.milestones, key=lambda m: m.due_at)]
    tracker = make_tracker("要几天能办好", intent="nlu_fallback", sender_id="conv-apply",
                           slots={"last_ticket_no": ticket_no})
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    [said] = texts(messages)
    assert events == [] and ticket_no in said and "按承诺的时限" in said
    assert len(steps) >= 3 and all(step in said for step in steps)
    assert said.index(steps[0]) < said.index(steps[-1])  # in the order they fall due
    assert "buttons" not in messages[0] or not messages[0]["buttons"]


@pytest.mark.asyncio
async def test_how_long_without_a_ticket_offers_the_progress_query():
    _, messages = await run_action(ActionDefaultAskAffirmation(),
                                   make_tracker("大概要多长时间", intent="nlu_fallback"))
    assert "查询办理进度" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/query_progress"


@pytest.mark.asyncio
async def test_how_long_with_the_gateway_down_apologises(dead_gateway):
    API_FAILURE_TEXT = response_text("utter_api_failure")  # the text the gateway's customer gets

    tracker = make_tracker("要几天能办好", intent="nlu_fallback", slots={"last_ticket_no": "YK20261127001"})
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert texts(messages) == [API_FAILURE_TEXT]


@pytest.mark.asyncio
async def test_feedback_named_at_the_start_of_an_unclear_message_opens_that_feedback():
    tracker = make_tracker("举报你们一个装表的师傅 说不给他两百块就拖着不给装", intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                {"name": "complain", "confidence": 0.4}]
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert slot_values(events)["feedback_type"] == "tip_off"
    assert [e["name"] for e in events if e["event"] == "followup"] == ["feedback_form"] and not messages


@pytest.mark.asyncio
async def test_an_unclear_outage_question_goes_to_the_outage_query():
    tracker = make_tracker("六合竹镇大泉村113号 听说过几天要停电 停多长时间 我家有冷柜", intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                {"name": "faq", "confidence": 0.45},
                                                {"name": "query_outage", "confidence": 0.3}]
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["outage_form"]


@pytest.mark.asyncio
async def test_a_question_without_a_question_mark_after_the_stop_is_not_ignored():
    tracker = make_tracker("算了不用了 表后面那段线坏了 归你们管不", intent="cancel", active_loop="fault_form",
                           slots={"requested_slot": "address"})
    _, messages = await run_action(ActionCancelForm(), tracker)
    assert not texts(messages)[0].endswith("还有其他可以帮您的吗？")
    assert len(messages) == 2  # the stop said, then the question answered (or a person offered)
