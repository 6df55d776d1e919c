"""Kinds of failure found by trying the widget as customers would (a blind helper wrote the
customer side): a person asked for in a longer message, a go-ahead after a detail, a name typed
among other details, more of the story at another question, and words for a new connection."""
from __future__ import annotations

import pytest

from actions.applications import ValidateApplicationForm, business_from_text, name_beside_details
from actions.faults import ValidateFaultForm
from actions.feedback import ValidateFeedbackForm
from tests.support.dialogue import make_tracker, repair_just_filed, run_action, slot_values, texts
from bot.store import STORE


@pytest.mark.asyncio
async def test_a_person_asked_for_inside_a_form_is_a_hand_off_whatever_the_intent(actions_gateway):
    tracker = make_tracker("都一个礼拜了还在处理中？？这算啥 转人工", intent="complain", confidence=0.7,
                           form="fault_form", slots={"requested_slot": "address"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_handoff"]


@pytest.mark.asyncio
async def test_a_person_asked_for_in_a_message_nlu_did_not_place_is_handed_off(actions_gateway):
    from sqlalchemy import select

    from actions.handoff import ActionDefaultAskAffirmation
    from bot.store.models import Handoff

    tracker = make_tracker("都一个礼拜了还在处理中？？这算啥 转人工", intent="nlu_fallback", sender_id="human-words")
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                {"name": "complain", "confidence": 0.4}]
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    # Handed off at once, then the bot listens (no stray "没能理解" after the hand-off notice).
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]
    assert not any("您是想" in t for t in texts(messages))
    with actions_gateway.app[STORE].session() as session:
        reasons = session.execute(select(Handoff.reason).where(Handoff.conversation_id == "human-words")).scalars().all()
    assert reasons == ["customer_request"]


@pytest.mark.parametrize("text, name", [
    ("江宁区横溪街道石塘村45号 李秀英 户号3201000002", "李秀英"),
    ("户主写我妈李秀英 电话13770882316 就家里住人用", "李秀英"),
    ("我叫陈刚 电话15996208843 哦不对 是15996208834 打错了", "陈刚"),
    ("欧阳娜娜 13912345678", "欧阳娜娜"),
    ("石塘村 新房是47号 就在老房子边上", None),
    ("王师傅 电话15850632217", None),
    ("屋顶大概一百二十平 平顶的", None),
])
def test_a_name_typed_among_other_details_is_found(text, name):
    assert name_beside_details(text) == name


@pytest.mark.asyncio
async def test_a_name_beside_a_phone_correction_is_kept(actions_gateway):
    tracker = make_tracker("我叫陈刚 电话15996208843 哦不对 是15996208834 打错了", intent="inform",
                           form="application_form", slots={"requested_slot": "applicant_name",
                                                           "business_type": "name_transfer",
                                                           "documents_shown_for": "name_transfer",
                                                           "contact_phone": "15996208843"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["applicant_name"] == "陈刚" and values["contact_phone"] == "15996208834"
    assert values["requested_slot"] == "address"


@pytest.mark.asyncio
async def test_more_of_the_story_at_the_address_question_is_kept_with_it(actions_gateway):
    tracker = make_tracker("空开我看了没跳 楼上楼下好像也没电", intent="query_outage", confidence=0.7, form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "家里突然停电了 整个屋都没电"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["fault_description"] == "家里突然停电了 整个屋都没电；空开我看了没跳 楼上楼下好像也没电"
    assert messages[0]["response"] == "utter_story_noted"


@pytest.mark.asyncio
async def test_more_of_a_complaint_at_the_phone_question_joins_the_complaint(actions_gateway):
    tracker = make_tracker("我就问他表数咋跟上回对不上 他就很不耐烦 说爱交不交", intent="complain", confidence=0.6,
                           form="feedback_form", slots={"requested_slot": "contact_phone", "feedback_type": "complaint",
                                                        "feedback_content": "投诉！你们抄表那个人态度太恶劣了"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert "表数咋跟上回对不上" in (slot_values(events).get("feedback_content") or "")
    assert not any("稍后再帮您看" in t for t in texts(messages))


def test_words_for_running_power_to_a_new_house():
    assert business_from_text("我在老家新盖了房子 要拉电 咋弄") == "new_connection"


@pytest.mark.asyncio
async def test_an_urge_right_after_the_repair_hears_the_committed_times_not_a_complaint(actions_gateway):
    ticket, prior = await repair_just_filed("电线断了掉地上", "13913520518", "玄武区中山路18号",
                                            "我叫张伟 电话13913520518", conversation_id="urge-test")
    tracker = make_tracker("没人碰 我让小孩都走远了 你们快点来啊", intent="complain", form="feedback_form",
                           prior_events=prior)
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert "理解您着急" in texts(messages)[0] and ticket["ticket_no"] in texts(messages)[0]
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]
    assert "feedback_type" not in slot_values(events)


@pytest.mark.asyncio
async def test_a_repair_opened_at_another_forms_question_uses_the_verified_address(actions_gateway):
    slots = {"identity_verified": True, "verified_account_no": "3201000009", "account_no": "3201000009",
             "customer_address": "江苏省南京市秦淮区太平南路305号阳光花园18栋701室", "area_type": "urban",
             "requested_slot": "business_type"}
    tracker = make_tracker("那能不能派人来看看表是不是坏了", intent="report_fault", form="fault_form", slots=slots)
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["address"] == slots["customer_address"]


def test_alarm_in_a_hazard_report_is_not_anger():
    from actions.common import is_angry

    assert not is_angry("紧急！！路边电线断了掉地上 还在冒火花")
    assert is_angry("电线断了半天了你们到底管不管！！")


@pytest.mark.asyncio
async def test_asking_when_power_returns_after_paying_gets_the_24_hours():
    from actions.faq import ActionAnswerFaq
    from tests.actions.test_faq import faq_tracker

    for text in ("欠费停电了 交完钱多久能来电啊", "我店里说是欠费被停电了 我现在就交 交完多久能恢复"):
        events, messages = await run_action(ActionAnswerFaq(), faq_tracker(text, "arrears_power_cut"))
        assert slot_values(events)["faq_topic"] == "reconnection"
        assert "24小时" in texts(messages)[0]


@pytest.mark.asyncio
async def test_asking_for_a_real_person_is_a_hand_off(actions_gateway):
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = make_tracker("我年纪大了 弄不来这个东西 有没有真人跟我讲啊", intent="nlu_fallback")
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]


@pytest.mark.asyncio
async def test_an_urge_right_after_the_repair_opens_no_new_repair(actions_gateway):
    import uuid

    from actions import api_client

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "repair", "summary": "电线断了掉地上", "channel": "web",
        "conversation_id": "urge-fault", "contact_phone": "13913520518", "area_type": "urban",
        "details": {"address": "玄武区中山路18号"}})
    prior = [{"event": "user", "text": "我叫张伟 电话13913520518"},
             {"event": "bot", "text": f"已为您登记紧急故障报修，工单号：{ticket['ticket_no']}。"}]
    tracker = make_tracker("没人碰 我让小孩都走远了 你们快点来啊", intent="report_fault", form="fault_form",
                           prior_events=prior)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert "理解您着急" in texts(messages)[0]
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text, served", [
    ("买了个二手房 电费户名还是前房东的 要过户到我名下", "application_form"),
    ("我上礼拜报的故障 咋到现在还没人处理", None),
    ("查一下BX20261126001", None),
])
async def test_a_request_misread_as_a_progress_query_is_served_as_that_request(actions_gateway, text, served):
    from actions.progress import ValidateProgressForm

    events, _ = await run_action(ValidateProgressForm(), make_tracker(text, intent="query_progress",
                                                                      form="progress_form"))
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert followups == ([served] if served else [])


@pytest.mark.asyncio
@pytest.mark.parametrize("text, waits", [("好 我在家等着", True), ("行 那我等你们来", True),
                                         ("我在家等着 大概几点能来电？", False), ("中山路明天停不停电", False)])
async def test_saying_one_will_wait_after_a_repair_is_no_outage_question(actions_gateway, text, waits):
    import uuid

    from actions import api_client
    from actions.faults import ValidateOutageForm

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "repair", "summary": "家里没电了", "channel": "web",
        "conversation_id": "wait-test", "contact_phone": "13913520518", "area_type": "urban",
        "details": {"address": "玄武区中山路18号"}})
    prior = [{"event": "user", "text": "电话13913520518"},
             {"event": "bot", "text": f"已为您登记故障报修，工单号：{ticket['ticket_no']}。"}]
    tracker = make_tracker(text, intent="query_outage", form="outage_form", prior_events=prior)
    events, messages = await run_action(ValidateOutageForm(), tracker)
    told = texts(messages)
    if waits:
        assert "保持电话畅通" in told[0]
        assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]
    else:
        assert not any("保持电话畅通" in t for t in told)


@pytest.mark.asyncio
@pytest.mark.parametrize("text, hands_off", [("停电两天了 打95598也打不通 我要转人工", True),
                                             ("我要投诉你们的人工客服 态度太差了", False)])
async def test_a_person_asked_for_in_the_message_that_opens_a_form_is_a_hand_off(actions_gateway, text, hands_off):
    tracker = make_tracker(text, intent="complain", form="feedback_form", slots={"requested_slot": None})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert (followups == ["action_handoff"]) is hands_off
