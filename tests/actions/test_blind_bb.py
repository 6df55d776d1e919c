"""Kinds of failure the blind batch bb (a summer heat wave and thunderstorm week: tripping air
conditioners, trees on lines, tenants and landlords, voice input, 南京话) showed at first sight."""
import uuid

import pytest

from tests.support.dialogue import make_tracker, run_action, texts


async def complaint_just_filed(conversation: str) -> tuple:
    """A complaint on a high bill filed a moment ago: (ticket number, the events that announced it)."""
    from actions import api_client

    complaint = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "complaint", "summary": "投诉：电费这么贵 我要投诉你们乱收费",
        "channel": "web", "conversation_id": conversation, "contact_phone": "17778014144",
        "details": {"content": "电费这么贵 我要投诉你们乱收费"}})
    ticket_no = complaint["ticket_no"]
    events = [{"event": "user", "text": "户号3201000011 手机17778014144"},
              {"event": "bot", "text": f"您的投诉已登记，编号：{ticket_no}。"},
              {"event": "bot", "text": "请问您对这次服务满意吗？"}]
    return ticket_no, events


@pytest.mark.asyncio
@pytest.mark.parametrize("intent", ["complain", "cancel"])
async def test_a_complaint_taken_back_in_words_right_after_filing_is_withdrawn(actions_gateway, intent):
    """bb-mixed-003: "哦 用了一千多度啊 那可能是空调开得太狠了 算了 不投诉了" right after the complaint
    was filed was noted on it as more of the complaint; the complaint stayed open."""
    from actions import api_client
    from actions.common import ActionCancelForm
    from actions.feedback import ValidateFeedbackForm

    ticket_no, filed = await complaint_just_filed(f"conv-{uuid.uuid4().hex[:8]}")
    said = "哦 用了一千多度啊 那可能是空调开得太狠了 算了 不投诉了"
    action = ValidateFeedbackForm() if intent == "complain" else ActionCancelForm()
    tracker = make_tracker(said, intent=intent, form="feedback_form" if intent == "complain" else None,
                           prior_events=filed)
    _, messages = await run_action(action, tracker)
    ticket = await api_client.get_ticket(ticket_no)
    assert ticket["status"] == "cancelled"
    assert f"投诉工单 {ticket_no} 已为您撤销" in "".join(texts(messages))


@pytest.mark.asyncio
async def test_resignation_after_a_complaint_keeps_it(actions_gateway):
    """"算了 投诉也没用" is resignation, not a withdrawal: the complaint stands."""
    from actions import api_client
    from actions.common import ActionCancelForm

    ticket_no, filed = await complaint_just_filed(f"conv-{uuid.uuid4().hex[:8]}")
    _, messages = await run_action(ActionCancelForm(), make_tracker("算了 投诉也没用", intent="cancel", prior_events=filed))
    assert (await api_client.get_ticket(ticket_no))["status"] == "new"
    assert "撤销" not in "".join(texts(messages))


@pytest.mark.parametrize("text, withdraws", [
    ("那这个投诉撤了吧", True), ("撤销刚才的投诉", True), ("举报先不举了", True), ("投诉就算了", True),
    ("算了 投诉也没用", False), ("投诉不投诉的无所谓 你们赶紧来修", False), ("我要投诉", False),
])
def test_the_words_that_take_a_complaint_back(text, withdraws):
    from actions.common import WITHDRAWS_FEEDBACK

    assert bool(WITHDRAWS_FEEDBACK.search(text)) is withdraws, text
