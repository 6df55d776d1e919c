"""Kinds of failure the blind batch bb (a summer heat wave and thunderstorm week: tripping air
conditioners, trees on lines, tenants and landlords, voice input, 南京话) showed at first sight."""
import uuid

import pytest
from sqlalchemy import select

from bot.store import STORE
from bot.store.models import Handoff
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


STILL_OWING = [{"event": "user", "text": "13800000330"},
               {"event": "bot", "text": "系统里还显示2026年11月的电费共 109.82 元未结清（刚缴的费用到账可能有几分钟延迟）。",
                "metadata": {"utter_action": "utter_reconnection_still_owing"}}]


@pytest.mark.asyncio
async def test_the_bills_still_owing_ask_no_satisfaction_yet(actions_gateway):
    """bb-arrears_reconnect-001: "系统里还显示…未结清" was followed by "请问您对这次服务满意吗？"."""
    from actions.bills import ActionQueryBill

    slots = {"identity_verified": True, "verified_account_no": "3201000018", "account_no": "3201000018",
             "bill_query": "reconnect"}
    _, messages = await run_action(ActionQueryBill(), make_tracker("俺家电给停掉了 说是欠费 刚刚钱交过了", slots=slots))
    responses = [m.get("response") for m in messages]
    assert "utter_reconnection_still_owing" in responses and "utter_ask_rating" not in responses


@pytest.mark.asyncio
@pytest.mark.parametrize("intent", ["nlu_fallback", "two_stage", "query_bill"])
async def test_a_payment_insisted_on_after_the_bills_still_owing_is_answered(actions_gateway, intent):
    """bb-arrears_reconnect-001: "交了六百 就一个钟头之前 在村口超市交的" right after the bills still
    showed the arrears got "没太理解" (and, heard as a bill query, would get the same bills again)."""
    from actions.bills import ValidateBillForm
    from actions.handoff import ActionDefaultAskAffirmation, ActionDefaultFallback

    action = {"nlu_fallback": ActionDefaultFallback(), "query_bill": ValidateBillForm(),
              "two_stage": ActionDefaultAskAffirmation()}[intent]
    intent = "nlu_fallback" if intent == "two_stage" else intent
    tracker = make_tracker("交了六百 就一个钟头之前 在村口超市交的", intent=intent,
                           form="bill_form" if intent == "query_bill" else None, prior_events=STILL_OWING,
                           slots={"identity_verified": True, "verified_account_no": "3201000021", "requested_slot": None})
    events, messages = await run_action(action, tracker)
    assert [m.get("response") for m in messages] == ["utter_payment_not_credited_yet"]
    reply = texts(messages)[0]
    assert "凭证" in reply and "24小时" in reply and "转人工" in reply
    assert {"event": "followup", "timestamp": None, "name": "action_listen"} in events


@pytest.mark.asyncio
async def test_an_urge_while_the_payment_does_not_show_is_no_suggestion(actions_gateway):
    """bb-arrears_reconnect-001: "天这么热 屋里有老人 能不能快点" two turns after the bills still showed
    the arrears (a "没太理解" in between) was filed as a suggestion."""
    from actions.feedback import ValidateFeedbackForm

    not_understood = STILL_OWING + [
        {"event": "user", "text": "交了六百 就一个钟头之前 在村口超市交的"},
        {"event": "bot", "text": "不好意思，我没太理解您的意思，能换个说法再说一遍吗？",
         "metadata": {"utter_action": "utter_ask_rephrase"}}]
    tracker = make_tracker("天这么热 屋里有老人 能不能快点", intent="suggest", form="feedback_form",
                           candidates={"feedback_type": "suggestion"}, prior_events=not_understood)
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_urged_reconnection_unconfirmed"]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    # The reply does not claim the bill is paid (it is not shown paid yet).
    assert "已经缴清" not in texts(messages)[0] and "95598" in texts(messages)[0]


@pytest.mark.asyncio
async def test_a_phone_for_a_praise_added_to_a_moment_ago_is_its_contact_not_a_hand_off(actions_gateway):
    """bb-praise-001: "电话15192823606 一定要帮我转达啊" after the praise was filed and her address noted
    on it was heard as a wish for a person: a callback was opened at night; the praise had no phone."""
    from actions import api_client
    from actions.handoff import ActionHandoff
    from tests.support.dialogue import praise_just_filed

    conversation, ticket_no, filed = await praise_just_filed("两个小伙子半夜冒着雨来修好了", "一个姓周的 个子高高的")
    noted = filed + [{"event": "user", "text": "我是湖熟街道和平社区81号的 叫高桂英"},
                     {"event": "bot", "text": f"好的，已把您补充的内容记到工单 {ticket_no} 里了。",
                      "metadata": {"utter_action": "utter_ticket_note_added"}}]
    tracker = make_tracker("电话15192823606 一定要帮我转达啊", intent="request_human", prior_events=noted,
                           sender_id=conversation)
    events, messages = await run_action(ActionHandoff(), tracker)
    assert (await api_client.get_ticket(ticket_no))["contact_phone"] == "15192823606"
    assert not await api_client.conversation_tickets(conversation, "callback")
    assert ticket_no in "".join(texts(messages))
    # "转人工 电话151…" is a person asked for: the hand-off goes on.
    tracker = make_tracker("转人工 电话15192823606", intent="request_human", prior_events=noted, sender_id=conversation)
    await run_action(ActionHandoff(), tracker)
    with actions_gateway.app[STORE].session() as session:
        handed_off = session.execute(select(Handoff.reason).where(Handoff.conversation_id == conversation)).scalars().all()
    assert handed_off == ["customer_request"]


@pytest.mark.asyncio
async def test_an_address_given_right_after_more_was_added_to_a_tip_off_goes_onto_it(actions_gateway):
    """The same turn-taking as bb-praise-001, for a place: a tip-off filed, more of its story noted,
    then only where it happens; the place goes onto that tip-off."""
    from actions import api_client
    from actions.common import correct_just_filed_address

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    tip_off = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "tip_off", "summary": "举报：有人私拉电线",
        "channel": "web", "conversation_id": conversation, "details": {"content": "有人私拉电线"}})
    ticket_no = tip_off["ticket_no"]
    events = [{"event": "user", "text": "有人私拉电线"},
              {"event": "bot", "text": f"您的举报已登记，编号：{ticket_no}。"},
              {"event": "user", "text": "晚上偷偷接的 接了好几个月了"},
              {"event": "bot", "text": f"好的，已把您补充的内容记到工单 {ticket_no} 里了。",
               "metadata": {"utter_action": "utter_ticket_note_added"}}]
    tracker = make_tracker("迈皋桥路109号锦绣苑13栋", intent="inform", prior_events=events, sender_id=conversation,
                           candidates={"address": "迈皋桥路109号锦绣苑13栋"})
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    assert await correct_just_filed_address(dispatcher, tracker) is not None
    assert "迈皋桥路109号" in str(await api_client.get_ticket(ticket_no))
    assert [(m.get("response"), m.get("ticket_no")) for m in dispatcher.messages] == \
        [("utter_ticket_address_added", ticket_no)]


@pytest.mark.asyncio
async def test_a_repair_cancelled_for_a_bill_question_does_not_start_again_by_itself(actions_gateway):
    """Found trying it in the widget: "等下 先不报修了 我想先查下这个月店费多少" at the repair's phone
    question cancelled it and looked the bill up; after the bill the policies started the repair
    form again, and a repair was filed at the account's address without a word from the customer."""
    from actions.faults import ValidateFaultForm

    story = [{"event": "user", "text": "你好 我家楼道那个点表箱一直嗡嗡响 是不是坏了",
              "parse_data": {"intent": {"name": "report_fault"}}},
             {"event": "bot", "text": "请留一个能联系到您的电话，方便抢修人员联系。"},
             {"event": "user", "text": "等下 先不报修了 我想先查下这个月店费多少", "parse_data": {"intent": {"name": "cancel"}}},
             {"event": "bot", "text": "好的，已为您取消本次故障报修，没有提交任何信息。"},
             {"event": "user", "text": "户号3201000010", "parse_data": {"intent": {"name": "inform"}}}]
    slots = {"identity_verified": True, "verified_account_no": "3201000010", "account_no": "3201000010"}
    events, messages = await run_action(ValidateFaultForm(), make_tracker("尾号1112", intent="inform", form="fault_form",
                                                                          slots=slots, prior_events=story))
    assert {"event": "active_loop", "timestamp": None, "name": None} in events and not messages
    # Asked for again, the repair goes on.
    again = story + [{"event": "bot", "text": "2026年11月电费账单…"}]
    events, _ = await run_action(ValidateFaultForm(), make_tracker("电表箱还是嗡嗡响 还是帮我报个修吧", intent="report_fault",
                                                                   form="fault_form", slots=slots, prior_events=again))
    assert {"event": "active_loop", "timestamp": None, "name": None} not in events
