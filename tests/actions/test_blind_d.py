"""Kinds of failure found by the fourth blind batch (tests/conversations/dev/d_*.yml), each
against the real gateway with the demo data."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.bills import ValidateBillForm
from bot.store import STORE
from bot.store.models import Customer
from tests.support.dialogue import make_tracker, run_action, slot_values, texts

def registered_phone(app, account_no: str) -> str:
    with app[STORE].session() as session:
        return session.execute(select(Customer.phone).where(Customer.account_no == account_no)).scalar_one()


@pytest.mark.asyncio
async def test_the_whole_registered_phone_beside_the_account_proves_identity(actions_gateway):
    phone = registered_phone(actions_gateway.app, "3201000021")
    tracker = make_tracker(f"户号3201000021，电话{phone}", intent="inform", form="bill_form",
                           candidates={"account_no": "3201000021"}, slots={"requested_slot": "account_no"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert values.get("identity_verified") is True
    assert values.get("verified_account_no") == "3201000021"
    assert not any("后四位" in text for text in texts(messages))


@pytest.mark.asyncio
async def test_a_whole_phone_that_is_not_the_registered_one_counts_as_a_wrong_try(actions_gateway):
    tracker = make_tracker("户号3201000021 电话13911112222", intent="inform", form="bill_form",
                           candidates={"account_no": "3201000021"}, slots={"requested_slot": "account_no"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert not values.get("identity_verified")
    assert values.get("identity_attempts") == 1.0


@pytest.mark.asyncio
@pytest.mark.parametrize("form, intent", [("feedback_form", "tip_off"), ("feedback_form", "complain")])
async def test_a_person_shocked_leads_to_what_to_do_now_and_a_repair_whatever_form_opened(actions_gateway, form, intent):
    from actions.feedback import ValidateFeedbackForm

    text = "救命 有人被电到了 工地上有人碰到电线倒在地上了"
    tracker = make_tracker(text, intent=intent, form=form,
                           slots={"feedback_type": "tip_off" if intent == "tip_off" else "complaint"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    said = texts(messages)
    assert said and "120" in said[0]  # the first line: call an ambulance
    assert slot_values(events).get("hazard") is True
    assert slot_values(events).get("feedback_type", "unset") is None
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["fault_form"]


@pytest.mark.asyncio
async def test_a_tip_off_about_a_bare_wire_stays_a_tip_off(actions_gateway):
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("我要举报 楼下有人偷电 从电表箱私拉了一根线", intent="tip_off", form="feedback_form",
                           slots={"feedback_type": "tip_off"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert not slot_values(events).get("hazard")
    assert not [e for e in events if e.get("event") == "followup"]


@pytest.mark.parametrize("said, expected", [
    ("哦不对不对 打错了 是13栋 不是31栋", "雨花台区雨花南路238号梅园新村13栋2004室"),
    ("不是31栋，是13栋", "雨花台区雨花南路238号梅园新村13栋2004室"),
    ("栋号打错了 应该是13栋", "雨花台区雨花南路238号梅园新村13栋2004室"),
    ("不对 是1204室", "雨花台区雨花南路238号梅园新村31栋1204室"),
])
def test_a_corrected_part_changes_that_part_of_the_address(said, expected):
    from actions.common import corrected_value

    tracker = make_tracker(said, intent="inform", form="fault_form",
                           slots={"address": "雨花台区雨花南路238号梅园新村31栋2004室", "requested_slot": "contact_phone"})
    assert corrected_value(tracker, "address") == expected


@pytest.mark.asyncio
async def test_a_complaint_given_up_for_a_crew_becomes_a_repair(actions_gateway):
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("算了算了 投诉也没用 你们先派人来修吧 溧水区白马镇曹家桥村72号", intent="report_fault",
                           form="feedback_form", slots={"feedback_type": "complaint", "requested_slot": "contact_phone",
                                                        "feedback_content": "怎么又停电了 我要投诉你们"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["fault_form"]
    assert slot_values(events).get("feedback_type", "unset") is None
    # a complaint about crews that came is still a complaint
    tracker = make_tracker("你们派人来修了三次都没修好", intent="complain", form="feedback_form",
                           slots={"feedback_type": "complaint", "requested_slot": "contact_phone",
                                  "feedback_content": "怎么又停电了 我要投诉你们"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert not [e for e in events if e.get("event") == "followup"]


def with_selector(tracker, ranking, intent_ranking):
    """The parse data Rasa gives the fallback action: the answer selector's ranking and the
    intents as ranked (the FAQ guard puts nlu_fallback first when only the selector was unsure)."""
    entries = [{"intent_response_key": f"faq/{topic}", "confidence": confidence} for topic, confidence in ranking]
    tracker.latest_message["response_selector"] = {"faq": {"response": {**entries[0], "utter_action": ""},
                                                           "ranking": entries}}
    tracker.latest_message["intent_ranking"] = [{"name": name, "confidence": c} for name, c in intent_ranking]
    return tracker


@pytest.mark.asyncio
async def test_a_faq_question_only_the_answer_selector_was_unsure_of_is_answered_on_a_topic_it_touches(actions_gateway):
    from actions.handoff import ActionDefaultAskAffirmation

    said = "我家光伏并网半年了 发电的钱什么时候打给我 在哪能查"
    guarded = [("nlu_fallback", 0.25), ("faq", 1.0)]
    tracker = with_selector(make_tracker(said, intent="nlu_fallback", confidence=0.25),
                            [("pv_settlement", 0.17), ("docs_pv_connection", 0.12)], guarded)
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert slot_values(events).get("faq_topic") == "pv_settlement"
    # the intent classifier itself unsure: no answer at that confidence
    unsure = [("nlu_fallback", 0.5), ("faq", 0.45), ("query_bill", 0.4)]
    tracker = with_selector(make_tracker(said, intent="nlu_fallback", confidence=0.5),
                            [("pv_settlement", 0.17)], unsure)
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert slot_values(events).get("faq_topic") is None
    # a topic the message does not touch is never answered
    tracker = with_selector(make_tracker("我家光伏并网半年了 怎么还没人联系我", intent="nlu_fallback", confidence=0.25),
                            [("peak_valley_hours", 0.2)], guarded)
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert slot_values(events).get("faq_topic") is None


@pytest.mark.asyncio
async def test_a_documents_question_during_an_application_gets_that_business_s_documents(actions_gateway):
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = make_tracker("要带啥材料啊 物业要不要盖章", intent="nlu_fallback", confidence=0.25,
                           slots={"business_type": "ev_charger"})
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert slot_values(events).get("faq_topic") == "docs_ev_charger"


@pytest.mark.asyncio
async def test_when_power_returns_after_paying_is_said_before_the_identity_check(actions_gateway):
    tracker = make_tracker("我刚才用微信把欠的电费交了 什么时候能来电啊", intent="query_bill", form="bill_form")
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert any("24" in text for text in texts(messages))
    assert not slot_values(events).get("identity_verified")


@pytest.mark.asyncio
async def test_a_crew_asked_for_beside_a_bill_question_follows_the_bill(actions_gateway):
    from actions.common import second_request_events

    said = "帮我查下电费还欠多少 还有我家电压不稳 灯老是一暗一亮的 你们来看下"
    events = second_request_events(said, "bill_form")
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["fault_form"]
    assert slot_values(events)["fault_description"] == said
    assert second_request_events("欠费停电了 交了钱你们派人来送电吧", "bill_form") == []


@pytest.mark.asyncio
async def test_a_repair_after_an_outage_question_takes_the_situation_told_there(actions_gateway):
    from actions.faults import ValidateFaultForm

    prior = [{"event": "user", "text": "我们小区现在停电了 是计划停电吗 要停多久"},
             {"event": "active_loop", "name": "outage_form"},
             {"event": "active_loop", "name": None},
             {"event": "bot", "text": "暂未查到该地址附近有计划停电或故障停电。"}]
    tracker = make_tracker("那帮我报个修吧 电话18920521734", intent="report_fault", form="fault_form",
                           prior_events=prior, slots={"address": "栖霞区迈皋桥路109号锦绣苑13栋"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("fault_description") == "我们小区现在停电了 是计划停电吗 要停多久"


@pytest.mark.parametrize("said, kind", [("好 我先跟领导汇报一下 定下来再来申请", "stop"), ("回头再办吧", "stop"),
                                        ("先不申请了 谢谢", "stop"), ("张建华", None)])
def test_not_now_at_an_application_question_stops_it(said, kind):
    from actions.common import non_value_kind

    tracker = make_tracker(said, intent="inform", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "capacity_change"})
    assert non_value_kind(tracker, "applicant_name") == kind


@pytest.mark.asyncio
async def test_a_go_ahead_at_the_name_question_after_a_account_was_given_names_its_holder_unshown(actions_gateway):
    from actions.applications import ActionSubmitApplication, ValidateApplicationForm
    from bot.store.models import Ticket

    slots = {"requested_slot": "applicant_name", "business_type": "ev_charger", "documents_shown_for": "ev_charger",
             "account_no": "3201000005", "contact_phone": "13327420710", "address": "雨花台区软件大道275号长江苑 车位B2-136"}
    tracker = make_tracker("嗯 提交吧", intent="affirm", form="application_form", slots=slots)
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["applicant_name"] == "registered"
    assert not any("不是姓名" in text for text in texts(messages))
    filled = {**slots, "applicant_name": "registered", "requested_slot": None}
    _, messages = await run_action(ActionSubmitApplication(), make_tracker("嗯 提交吧", slots=filled,
                                                                           sender_id="holder-applies"))
    shown = "".join(texts(messages))
    with actions_gateway.app[STORE].session() as session:
        holder = session.execute(select(Customer.name).where(Customer.account_no == "3201000005")).scalar_one()
    assert "尾号0005登记的户主" in shown and holder not in shown
    with actions_gateway.app[STORE].session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.conversation_id == "holder-applies")).scalar_one()
    assert ticket.contact_name == holder and ticket.account_no == "3201000005"
    # without a 户号 the same words are no name, and none is taken
    tracker = make_tracker("嗯 提交吧", intent="affirm", form="application_form",
                           slots={**slots, "account_no": None})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events).get("applicant_name") in (None,)


@pytest.mark.asyncio
@pytest.mark.parametrize("said, words_kept", [("电话18124769695 希望给个说法", True), ("18124769695", False),
                                              ("电话18124769695 还有我要报修 家里没电了", None)])
async def test_a_phone_right_after_a_complaint_was_filed_is_that_complaints_number(actions_gateway, said, words_kept):
    """complaint-d01: a complaint filed on the account's registered phone, then "电话… 希望给个说法"
    (NLU heard a new complaint): the complaint gets the number and the words; no new ticket. A phone
    said with a new request is left to that request."""
    import uuid

    from actions import api_client
    from actions.feedback import ValidateFeedbackForm

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "complaint", "summary": "社区一个月停电四五次 不提前通知",
        "channel": "web", "contact_phone": "13800000023", "details": {}})
    prior = [{"event": "user", "text": "户号3201000023 江宁区谷里街道张溪社区32号"},
             {"event": "bot", "text": f"已为您登记投诉，工单号：{ticket['ticket_no']}。"}]
    tracker = make_tracker(said, intent="complain", form="feedback_form", prior_events=prior,
                           slots={"requested_slot": None, "feedback_type": "complaint"},
                           entities=[{"entity": "phone", "value": "18124769695"}])
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    stored = await api_client.get_ticket(ticket["ticket_no"])
    notes = [e["data"].get("note") for e in stored["events"] if e["kind"] == "note"]
    if words_kept is None:
        assert stored["contact_phone"] == "13800000023"
        # the repair asked for is served (a complaint's form closed only to open the repair's)
        closed = any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
        assert not closed or [e.get("name") for e in events if e.get("event") == "followup"] == ["fault_form"]
        return
    assert stored["contact_phone"] == "18124769695"
    assert ("客户补充：希望给个说法" in notes) is words_kept
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert messages[0].get("response") == ("utter_ticket_phone_and_words_noted" if words_kept else "utter_ticket_phone_noted")


async def filed_complaint(conversation_id: str, summary: str) -> dict:
    import uuid

    from actions import api_client

    return await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "complaint", "summary": summary, "channel": "web",
        "conversation_id": conversation_id, "account_no": "3201000021", "details": {"use_registered_phone": True}})


@pytest.mark.asyncio
@pytest.mark.parametrize("content, merged", [("修完了我还要投诉 老这么停谁受得了", True),
                                              ("另外还有个事要投诉 抄表员态度很差", False)])
async def test_more_of_a_complaint_filed_earlier_goes_onto_that_ticket(actions_gateway, content, merged):
    """b-mixed-004: a complaint, then a repair, then "修完了我还要投诉…" of the same outages: one
    complaint with the whole story, not two; another matter named as such is a ticket of its own."""
    import uuid

    from actions import api_client
    from actions.feedback import ActionSubmitFeedback

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    earlier = await filed_complaint(conversation, "投诉：又停电了 这个月第三回了 你们到底管不管")
    prior = [{"event": "bot", "text": f"您的投诉已登记，编号：{earlier['ticket_no']}。"},
             {"event": "user", "text": "先派人来修 曹家桥村93号"},
             {"event": "bot", "text": "已为您登记故障报修，工单号：BX20991231001。"}]
    tracker = make_tracker(content, intent="complain", prior_events=prior, sender_id=conversation,
                           slots={"feedback_type": "complaint", "feedback_content": content,
                                  "identity_verified": True, "verified_account_no": "3201000021",
                                  "account_no": "3201000021"})
    events, messages = await run_action(ActionSubmitFeedback(), tracker)
    stored = await api_client.get_ticket(earlier["ticket_no"])
    notes = [e["data"].get("note") for e in stored["events"] if e["kind"] == "note"]
    last_ticket = slot_values(events).get("last_ticket_no")
    if merged:
        assert f"客户补充：{content}" in notes
        assert last_ticket == earlier["ticket_no"]
        assert messages[0].get("response") == "utter_feedback_added_to_earlier"
    else:
        assert not notes
        assert last_ticket and last_ticket != earlier["ticket_no"]
        assert (await api_client.get_ticket(last_ticket))["type"] == "complaint"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, noted", [("昨天下午停的 一点招呼都没打", True), ("现在又停了 快派人来看看", False)])
async def test_when_the_outage_happened_right_after_a_complaint_is_no_repair(actions_gateway, said, noted):
    """b-complaint-004: "昨天下午停的…" right after the complaint about an unannounced outage was
    filed (NLU heard a fault): when it happened, kept on the complaint; no crew is sent."""
    import uuid

    from actions import api_client
    from actions.faults import ValidateFaultForm

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    earlier = await filed_complaint(conversation, "投诉：停电为什么不提前通知 鱼缸的鱼死了一大半")
    prior = [{"event": "user", "text": "户号3201000021 尾号0330"},
             {"event": "bot", "text": f"您的投诉已登记，编号：{earlier['ticket_no']}。"}]
    tracker = make_tracker(said, intent="report_fault", form="fault_form", prior_events=prior,
                           sender_id=conversation, slots={"requested_slot": None})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    stored = await api_client.get_ticket(earlier["ticket_no"])
    notes = [e["data"].get("note") for e in stored["events"] if e["kind"] == "note"]
    assert (f"客户补充：{said}" in notes) is noted
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events) is noted


@pytest.mark.asyncio
@pytest.mark.parametrize("said, followup", [("好 我先跟领导汇报一下 定下来再来申请", "action_cancel_form"),
                                            ("我要转人工", "action_handoff")])
async def test_not_now_heard_as_a_wish_for_a_person_only_stops_the_application(actions_gateway, said, followup):
    """application-d03: "定下来再来申请" at the name question, which NLU heard as request_human:
    the application stops (nothing filed), no hand-off; a person asked for in words is one."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker(said, intent="request_human", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "capacity_change"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == [followup]


@pytest.mark.parametrize("text, business", [("我家峰谷电不想用了 用下来反而贵 能改回普通电价吗", "tariff_change"),
                                            ("新房要通电 怎么办", "new_connection"),
                                            ("不是过户 是想把电表移到外头", "meter_move"),
                                            ("老家这个电表户想销掉 咋办手续", "account_closing")])
def test_a_word_inside_another_business_word_is_not_that_business(text, business):
    """application-d08: "普通电价" holds "通电" (a new connection's word): the longer word is said."""
    from actions.applications import business_from_text

    assert business_from_text(text) == business


@pytest.mark.asyncio
async def test_a_business_asked_for_as_a_can_i_question_starts_its_application(actions_gateway):
    """application-d08: "…能改回普通电价吗" with no answer the selector is sure of: the tariff
    change is applied for, not "答不上来"."""
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = with_selector(make_tracker("我家峰谷电不想用了 白天家里有人 用下来反而贵 能改回普通电价吗",
                                         intent="nlu_fallback"),
                            [("faq/tiered_tariff", 0.2)], [("nlu_fallback", 0.5), ("faq", 0.3), ("query_bill", 0.1)])
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert slot_values(events).get("business_type") == "tariff_change"
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["application_form"]
    assert not messages


@pytest.mark.asyncio
async def test_asking_again_for_a_repair_with_an_address_starts_the_repair(actions_gateway):
    """progress-d02: "那你再帮我报一下吧 还是没电 地址…" after "no open tickets": a repair, not
    the menu of what an address may be for."""
    from actions.menu import ActionAnswerBareDetail

    said = "那你再帮我报一下吧 还是没电 地址龙蟠中路141号翠竹园1栋1301"
    tracker = make_tracker(said, intent="inform", entities=[{"entity": "address", "value": "龙蟠中路141号翠竹园1栋1301"}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["fault_form"]
