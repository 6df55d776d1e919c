"""Kinds of failure found by the fifth blind batch (tests/conversations/dev/e_*.yml), each
against the real gateway with the demo data."""
from __future__ import annotations

import uuid

import pytest

from actions import api_client
from tests.support.dialogue import make_tracker, run_action, slot_values, texts


async def callback_waiting(conversation_id: str) -> dict:
    """A callback ticket the gateway opened with the desk closed, no phone to call yet."""
    return await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "callback", "summary": "回电：客户要求转人工，非服务时间",
        "channel": "web", "conversation_id": conversation_id})


@pytest.mark.asyncio
@pytest.mark.parametrize("said, intent, action", [
    ("有人吗 打电话给我 13905172316", "nlu_fallback", "fallback"),
    ("我现在的电话是13905172316 让人打过来", "nlu_fallback", "fallback"),
    ("我不要填什么表 我就要人 电话13905172316 让人马上打给我", "request_human", "handoff"),
])
async def test_a_phone_said_after_the_desk_closed_notice_goes_onto_the_callback(actions_gateway, said, intent, action):
    """e-handoff-04/06/08: the gateway opened a callback and asked for a phone; the phone came in
    words NLU did not know (or as a second wish for a person): the callback gets it, no second
    hand-off, no "没能理解"."""
    from actions.handoff import ActionDefaultAskAffirmation, ActionHandoff

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    ticket = await callback_waiting(conversation)
    tracker = make_tracker(said, intent=intent, sender_id=conversation)
    runner = ActionDefaultAskAffirmation() if action == "fallback" else ActionHandoff()
    _, messages = await run_action(runner, tracker)
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "13905172316"
    assert [m.get("response") for m in messages] == ["utter_callback_phone_noted"]


@pytest.mark.asyncio
async def test_a_phone_with_no_callback_waiting_is_not_taken_for_one(actions_gateway):
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = make_tracker("有人吗 打电话给我 13905172316", intent="nlu_fallback",
                           sender_id=f"conv-{uuid.uuid4().hex[:8]}")
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert "utter_callback_phone_noted" not in [m.get("response") for m in messages]


@pytest.mark.parametrize("said, person", [("能不能让人直接打电话给她", True), ("有人吗 打电话给我", True),
                                          ("我给他打电话没人接", False), ("电费多少", False)])
def test_asking_to_be_called_is_asking_for_a_person(said, person):
    """e-handoff-07: "她眼睛不好看不了手机 能不能让人直接打电话给她" at a bill query's opening."""
    from actions.common import ASKS_FOR_A_PERSON

    assert bool(ASKS_FOR_A_PERSON.search(said)) is person


@pytest.mark.asyncio
async def test_a_flooded_distribution_box_is_a_hazard_with_its_own_advice(actions_gateway):
    """e-hazard-05: "地下车库的配电箱整个泡水里了 … 还有嗡嗡的声音", which NLU did not know: keep
    out of the water, then an urgent repair."""
    from actions.faults import find_hazards, safety_response
    from actions.handoff import ActionDefaultAskAffirmation

    said = "下了一夜的雨 我们地下车库的配电箱整个泡水里了 水都漫到箱子一半了 还有嗡嗡的声音"
    assert find_hazards(said) and safety_response(said) == "utter_safety_flood"
    assert not find_hazards("家里水管进水了") and safety_response("电箱旁边有点水渍") is None
    events, messages = await run_action(ActionDefaultAskAffirmation(), make_tracker(said, intent="nlu_fallback"))
    assert messages[0].get("response") == "utter_safety_flood"
    assert slot_values(events).get("hazard") is True
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["fault_form"]


@pytest.mark.asyncio
@pytest.mark.parametrize("hazard, accepted", [(True, True), (None, False)])
async def test_a_hazard_on_a_road_needs_no_door_number(actions_gateway, hazard, accepted):
    """e-hazard-02: a wire down "在栖霞区龙潭街道 龙潭菜市场门口那条路上": a crew can find it; a
    household's repair still needs the door number."""
    from actions.faults import ValidateFaultForm

    said = "在栖霞区龙潭街道 龙潭菜市场门口那条路上"
    tracker = make_tracker(said, intent="inform", form="fault_form", candidates={"address": said},
                           slots={"requested_slot": "address", "hazard": hazard,
                                  "fault_description": "有根电线掉地上了 在马路中间"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    address = slot_values(events).get("address")
    assert bool(address and "龙潭菜市场" in address) is accepted


@pytest.mark.asyncio
@pytest.mark.parametrize("kind, content, form", [
    ("complaint", "我要投诉 这个月我们张溪社区都停了三回电了 你们到底管不管；现在又没电了！！冰箱里东西都要坏了 赶紧派人来修",
     "fault_form"),
    ("praise", "上回来我们大泉村修电的师傅真好；就是六合区竹镇镇大泉村的 顺便问下 听说过几天我们村要停电是吧 哪天停",
     "outage_form"),
    ("complaint", "报了三次修都没人来 态度太差了", None),
])
async def test_another_request_said_while_feedback_was_taken_follows_the_filing(actions_gateway, kind, content, form):
    """e-mixed-03/13/14: "两个事一起说": the complaint (or praise) is filed, then the repair or the
    outage question is served, with the place and phone already given; a story about a repair
    long ago asks for none."""
    from actions.feedback import ActionSubmitFeedback

    tracker = make_tracker("江宁区谷里街道张溪社区32号 任立新 18124769695", intent="inform",
                           sender_id=f"conv-{uuid.uuid4().hex[:8]}",
                           entities=[{"entity": "address", "value": "江宁区谷里街道张溪社区32号"}],
                           slots={"feedback_type": kind, "feedback_content": content, "contact_phone": "18124769695"})
    events, messages = await run_action(ActionSubmitFeedback(), tracker)
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert followups == ([form] if form else [])
    values = slot_values(events)
    if form == "fault_form":
        assert values["address"] == "江宁区谷里街道张溪社区32号" and values["contact_phone"] == "18124769695"
        assert "派人来修" in values["fault_description"]
    if form:
        assert not any("满意" in text for text in texts(messages))  # more is to come


@pytest.mark.asyncio
async def test_no_repair_after_all_and_the_bill_instead(actions_gateway):
    """e-mixed-05: "等下 算了不报修了 先查电费 是不是欠费被停了啊" at the repair's address question:
    the repair stops and the bill query starts (not "好的，不着急" and the address again)."""
    from actions.common import ActionCancelForm, non_value_kind

    said = "等下 算了不报修了 先查电费 是不是欠费被停了啊 上个月好像忘交了"
    tracker = make_tracker(said, intent="query_bill", form="fault_form", slots={"requested_slot": "address"})
    assert non_value_kind(tracker, "address") == "stop"
    events, _ = await run_action(ActionCancelForm(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["bill_form"]


@pytest.mark.asyncio
async def test_paid_and_still_no_power_is_the_reconnection_question(actions_gateway):
    """e-arrears_reconnect-01: "我电费刚刚在手机上交了 怎么家里还是没电" (NLU unsure): the
    reconnection answer, not "您是想故障报修吗？"."""
    from actions.faq import ASKS_WHEN_POWER_RETURNS
    from actions.handoff import ActionDefaultAskAffirmation

    said = "我电费刚刚在手机上交了 怎么家里还是没电"
    assert ASKS_WHEN_POWER_RETURNS.search(said) and not ASKS_WHEN_POWER_RETURNS.search("交了电费 今天没电了")
    events, messages = await run_action(ActionDefaultAskAffirmation(), make_tracker(said, intent="nlu_fallback"))
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_answer_faq"]
    assert not messages


@pytest.mark.asyncio
async def test_an_outage_blamed_on_arrears_checks_the_bills_first(actions_gateway):
    """e-arrears_reconnect-03: "我茶社今天被停电了 是不是欠费了 要怎么才能来电", heard as an
    outage question: the bills first (then what is owed and the reconnection)."""
    from actions.faults import ValidateOutageForm

    tracker = make_tracker("我茶社今天被停电了 是不是欠费了 要怎么才能来电 下午还有客人", intent="query_outage",
                           form="outage_form", slots={"requested_slot": None})
    events, messages = await run_action(ValidateOutageForm(), tracker)
    assert slot_values(events)["bill_query"] == "suspect_arrears"
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["bill_form"]


@pytest.mark.asyncio
async def test_someone_posing_as_staff_is_a_tip_off_whatever_form_opened(actions_gateway):
    """e-tip_off-02: "说是供电所的 要收什么电表改造费三百块 我觉得是骗子", heard as a bill query."""
    from actions.bills import ValidateBillForm

    said = "今天有两个人到我妈家 说是供电所的 要收什么电表改造费三百块 我觉得是骗子 给你们反映一下"
    events, _ = await run_action(ValidateBillForm(), make_tracker(said, intent="query_bill", form="bill_form",
                                                                  slots={"requested_slot": None}))
    assert slot_values(events)["feedback_type"] == "tip_off"
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["feedback_form"]


@pytest.mark.asyncio
async def test_a_village_house_found_by_directions_is_an_address(actions_gateway):
    """e-repair-08: "江宁区禄口街道 溧塘村 村委会往东第三家 两层小楼" (NLU saw only the street):
    the whole of it, not "地址好像不太完整" twice."""
    from actions.faults import ValidateFaultForm

    said = "江宁区禄口街道 溧塘村 村委会往东第三家 两层小楼"
    tracker = make_tracker(said, intent="inform", form="fault_form", candidates={"address": "江宁区禄口街道"},
                           slots={"requested_slot": "address", "fault_description": "租的房子没电了"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["address"] == said and values["repair_area_type"] == "rural"


@pytest.mark.asyncio
@pytest.mark.parametrize("form, opens", [("progress_form", True), ("fault_form", False)])
async def test_a_complaint_said_at_an_identity_question_is_taken(actions_gateway, form, opens):
    """e-mixed-04: "查不到？那我要投诉你们 报了修没人管" at the progress query's identity question:
    the complaint, in these words (not "稍后再帮您看"); during a repair the same words urge it."""
    from actions.faults import ValidateFaultForm
    from actions.progress import ValidateProgressForm

    said = "查不到？那我要投诉你们 报了修没人管 电话也打不通 态度太差了"
    slot = "phone_last4" if form == "progress_form" else "address"
    tracker = make_tracker(said, intent="complain", form=form,
                           slots={"requested_slot": slot, "account_no": "3201000009"})
    runner = ValidateProgressForm() if form == "progress_form" else ValidateFaultForm()
    events, _ = await run_action(runner, tracker)
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert (followups == ["feedback_form"]) is opens
    if opens:
        assert slot_values(events)["feedback_content"] == said


@pytest.mark.asyncio
async def test_an_address_corrected_with_the_phone_at_the_phone_question_keeps_both(actions_gateway):
    """e-mixed-06: "不对不对打错了 是27栋2401室 不是21栋 电话19908134549" at the phone question:
    the repair goes to 27栋, called on that phone (the ticket had kept 21栋)."""
    from actions.faults import ValidateFaultForm

    said = "不对不对打错了 是27栋2401室 不是21栋 电话19908134549"
    held = "鼓楼区中山北路313号紫金花园21栋2401"
    tracker = make_tracker(said, intent="inform", form="fault_form",
                           entities=[{"entity": "phone", "value": "19908134549"}],
                           slots={"requested_slot": "contact_phone", "address": held, "address_checked": held,
                                  "repair_area_type": "urban", "fault_description": "我家停电了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["address"] == "鼓楼区中山北路313号紫金花园27栋2401"
    assert values["contact_phone"] == "19908134549"
    assert messages[0].get("response") == "utter_corrected"


def test_the_part_of_an_address_before_what_nlu_saw_belongs_to_it():
    """hazard-d03: "雨花台区宁丹路122号翠竹园12栋 20楼楼道" extracted as "竹园12栋"."""
    from actions.faults import whole_address

    assert whole_address("竹园12栋", "雨花台区宁丹路122号翠竹园12栋 20楼楼道") == "雨花台区宁丹路122号翠竹园12栋"
    assert whole_address("中山路18号", "我家在玄武区中山路18号 谢谢") == "玄武区中山路18号"
    assert whole_address("中山路18号", "好的 中山路18号") == "中山路18号"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, progress", [("我的充电桩申请到哪了 户号3201000008", True),
                                            ("过户办好了没 一直没人联系我", True),
                                            ("我想申请充电桩 上次那个批下来没", False),
                                            ("想装个充电桩", False)])
async def test_how_far_an_application_has_got_is_no_new_application(actions_gateway, said, progress):
    """a-progress-005: heard as apply_service, "…申请到哪了" would be filed as a second application
    now that nothing is confirmed first."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker(said, intent="apply_service", form="application_form", slots={"requested_slot": None})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert ([e.get("name") for e in events if e.get("event") == "followup"] == ["progress_form"]) is progress


@pytest.mark.asyncio
async def test_details_after_an_application_offer_are_for_it_not_a_repair(actions_gateway):
    """e-application-04: "户号… 谢子涵 133… 软件大道275号长江苑 车位在B2层" after a charger
    application was offered, heard as a fault: the application, no repair ticket."""
    from actions.faults import ValidateFaultForm

    said = "户号3201000005 谢子涵 13327420710 雨花台区软件大道275号长江苑 车位在B2层"
    prior = [{"event": "slot", "name": "offered_business", "value": "ev_charger"},
             {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交充电桩报装申请。"}]
    tracker = make_tracker(said, intent="report_fault", form="fault_form", prior_events=prior,
                           slots={"requested_slot": None, "offered_business": "ev_charger"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["business_type"] == "ev_charger"
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["application_form"]
    tracker = make_tracker("家里没电了 " + said, intent="report_fault", form="fault_form", prior_events=prior,
                           slots={"requested_slot": None, "offered_business": "ev_charger"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert "application_form" not in [e.get("name") for e in events if e.get("event") == "followup"]


def test_the_utility_itself_is_no_business_applicant():
    """e-application-04: "物业说要先找供电公司报装" is a household's charger, not a company's."""
    from actions.applications import BUSINESS_WORDS

    assert not BUSINESS_WORDS.search("物业说要先找供电公司报装")
    assert BUSINESS_WORDS.search("我们公司要增容")


@pytest.mark.asyncio
@pytest.mark.parametrize("said, withdrawn", [("电话不用留了", False), ("算了算了 不用了", True)])
async def test_no_phone_wanted_right_after_filing_withdraws_nothing(actions_gateway, said, withdrawn):
    """b-praise-001: "电话不用留了" right after the praise was registered is no withdrawal."""
    from rasa_sdk.executor import CollectingDispatcher

    from actions.common import withdraw_just_opened

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "praise", "summary": "表扬：半夜冒雨来修的师傅",
        "channel": "web"})
    prior = [{"event": "user", "text": "江宁湖熟和平社区的 师傅好像姓陈"},
             {"event": "bot", "text": f"您的表扬已登记，编号：{ticket['ticket_no']}。"}]
    done = await withdraw_just_opened(CollectingDispatcher(), make_tracker(said, intent="cancel", prior_events=prior))
    assert bool(done) is withdrawn


@pytest.mark.asyncio
@pytest.mark.parametrize("said, complaint", [("还没交是吧 这两天去交", False), ("抄表的把数抄错了，想反映一下", True),
                                             ("服务太烂了", True)])
async def test_a_short_remark_with_no_grievance_is_no_complaint(actions_gateway, said, complaint):
    """cbill-005: "还没交是吧 这两天去交" right after the bill, heard as a complaint."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker(said, intent="complain", form="feedback_form", slots={"requested_slot": None})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert (followups != ["action_default_ask_affirmation"]) is complaint


@pytest.mark.asyncio
async def test_a_complaint_said_during_a_repair_follows_the_repair(actions_gateway):
    """b-mixed-004: "修完了我还要投诉 老这么停谁受得了" at the repair's phone question: the
    repair is finished first (the phone asked again), then the complaint in those words."""
    from actions.faults import ActionSubmitFault, ValidateFaultForm

    said = "修完了我还要投诉 老这么停谁受得了"
    slots = {"requested_slot": "contact_phone", "address": "溧水区白马镇曹家桥村93号", "repair_area_type": "rural",
             "address_checked": "溧水区白马镇曹家桥村93号", "fault_description": "又停电了 这个月第三回了"}
    events, messages = await run_action(ValidateFaultForm(), make_tracker(said, intent="complain", form="fault_form",
                                                                          slots=slots))
    values = slot_values(events)
    assert values["feedback_type"] == "complaint" and values["feedback_content"] == said
    assert values["requested_slot"] == "contact_phone"
    assert messages[0].get("response") == "utter_complaint_after_repair"
    filled = {**slots, **values, "contact_phone": "13800000330", "requested_slot": None}
    events, _ = await run_action(ActionSubmitFault(), make_tracker("13800000330", slots=filled,
                                                                   sender_id=f"conv-{uuid.uuid4().hex[:8]}"))
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["feedback_form"]
    assert slot_values(events)["contact_phone"] == "13800000330"


def test_no_second_offer_of_an_application_just_filed():
    """b-application-004: "移表要收费不" right after the meter move was filed: the fee, and no offer
    to apply again (a yes to it filed a second application)."""
    from rasa_sdk.executor import CollectingDispatcher

    from actions.faq import offer_application

    filed = [{"event": "bot", "text": "您的移表申请已提交，工单号：YK20261203004。"}]
    dispatcher = CollectingDispatcher()
    assert offer_application("fee_meter_move", dispatcher, make_tracker("移表要收费不", prior_events=filed)) is None
    assert offer_application("fee_meter_move", dispatcher, make_tracker("移表要收费不")) == "meter_move"


@pytest.mark.asyncio
@pytest.mark.parametrize("just_answered, listed", [("docs_ev_charger", False), ("fee_meter_move", True)])
async def test_the_documents_just_answered_are_not_listed_again(actions_gateway, just_answered, listed):
    """Tried as a customer: "我要装个充电桩 要啥材料" answered the documents, then the details
    started the application and the same list came again."""
    from actions.applications import ValidateApplicationForm

    prior = [{"event": "user", "text": "我要装个充电桩 要啥材料"},
             {"event": "slot", "name": "faq_topic", "value": just_answered}]
    tracker = make_tracker("我叫张伟 电话13851620518 地址玄武区中山路18号3栋501", intent="inform", form="application_form",
                           prior_events=prior, candidates={"business_type": "ev_charger"},
                           slots={"requested_slot": None, "faq_topic": just_answered})
    _, messages = await run_action(ValidateApplicationForm(), tracker)
    assert ("utter_application_documents" in [m.get("response") for m in messages]) is listed


@pytest.mark.asyncio
async def test_a_phone_for_the_callback_is_taken_whatever_form_opened(actions_gateway):
    """e-handoff-08: "我现在的电话是13813906642 让人打过来" after the desk-closed notice, heard as a
    bill query: the callback gets the number; the bill's identity question is not asked."""
    from actions.bills import ValidateBillForm

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    ticket = await callback_waiting(conversation)
    tracker = make_tracker("我现在的电话是13813906642 让人打过来", intent="query_bill", form="bill_form",
                           sender_id=conversation, slots={"requested_slot": None})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "13813906642"
    assert [m.get("response") for m in messages] == ["utter_callback_phone_noted"]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)


@pytest.mark.asyncio
@pytest.mark.parametrize("said, answered", [("要不要交钱啊 大概多久能通上电", True), ("明天中华路停不停电", False)])
async def test_a_fee_or_time_question_after_a_business_answer_is_about_that_business(actions_gateway, said, answered):
    """e-application-01: "要不要交钱啊 大概多久能通上电" right after the new connection's documents,
    heard as an outage question: the fee and the time of a new connection."""
    from actions.faults import ValidateOutageForm

    prior = [{"event": "user", "text": "我家新盖了房子 要装个电表通电 怎么申请 要带啥材料"},
             {"event": "slot", "name": "faq_topic", "value": "docs_new_connection"}]
    tracker = make_tracker(said, intent="query_outage", form="outage_form", prior_events=prior,
                           slots={"requested_slot": None, "faq_topic": "docs_new_connection"})
    events, messages = await run_action(ValidateOutageForm(), tracker)
    said_back = texts(messages)
    if answered:
        assert len(said_back) == 2 and "不收" in said_back[0] and "工作日" in said_back[1]  # the fee, then the time
        assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    else:
        assert not any("工作日" in text or "不收" in text for text in said_back)


@pytest.mark.asyncio
async def test_a_phone_for_the_callback_not_understood_twice_is_still_taken(actions_gateway):
    """e-handoff-08: the second fallback in a row ("我现在的电话是13813906642 让人打过来") no longer
    offers a person again while the callback waits for that very number."""
    from actions.handoff import ActionDefaultFallback

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    ticket = await callback_waiting(conversation)
    tracker = make_tracker("我现在的电话是13813906642 让人打过来", intent="nlu_fallback", sender_id=conversation)
    _, messages = await run_action(ActionDefaultFallback(), tracker)
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "13813906642"
    assert [m.get("response") for m in messages] == ["utter_callback_phone_noted"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, applies", [("江宁区谷里街道张溪社区58号 我叫任志军 电话15850612273", True),
                                           ("江宁区谷里街道张溪社区58号", False)])
async def test_an_address_and_a_phone_after_an_application_offer_apply(actions_gateway, said, applies):
    """e-application-01: the details right after the new connection was offered started nothing."""
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "slot", "name": "offered_business", "value": "new_connection"},
             {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交新装用电申请。"}]
    entities = [{"entity": "address", "value": "江宁区谷里街道张溪社区58号"}]
    if "158" in said:
        entities.append({"entity": "phone", "value": "15850612273"})
    tracker = make_tracker(said, intent="inform", prior_events=prior, entities=entities,
                           slots={"offered_business": "new_connection"})
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert ([e.get("name") for e in events if e.get("event") == "followup"] == ["application_form"]) is applies


def test_a_bare_place_word_takes_the_name_before_it():
    """e-application-01: "新房在张溪社区58号" extracted as "社区58号"."""
    from actions.faults import joined_address

    assert joined_address("社区58号", "江宁区谷里街道张溪社区 新房在张溪社区58号 我叫任志军") == "张溪社区58号"
    assert joined_address("玄武区中山路18号", "玄武区中山路18号 我叫张伟") == "玄武区中山路18号"
