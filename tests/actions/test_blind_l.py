"""Kinds of failure found by the twelfth and thirteenth blind batches (tests/conversations/dev/
l_*.yml, m_*.yml), each against the real gateway with the demo data."""
from __future__ import annotations

import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values, texts


def followups(events) -> list:
    return [e.get("name") for e in events if e.get("event") == "followup"]


def responses(messages) -> list:
    return [m.get("response") for m in messages]


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["我家停电了 女儿说是欠了电费 她刚才手机上帮我交了", "回家发现没电了 一看app说欠费 我刚交了"])
async def test_cut_for_arrears_and_paid_told_as_news_is_no_repair(actions_gateway, said):
    """l-arrears-reconnect-001, m-008: power cut for arrears and already paid, said without a
    question, opened a repair with a 45/120-minute crew promise."""
    from actions.faults import ValidateFaultForm

    events, _ = await run_action(ValidateFaultForm(), make_tracker(said, intent="report_fault", form="fault_form"))
    assert followups(events) == ["action_answer_faq"]


@pytest.mark.asyncio
async def test_a_bill_amount_question_naming_a_tariff_is_no_tariff_change(actions_gateway):
    """m-004: "我家是峰谷电 上个月怎么还要五十多" (峰谷 read as a tariff change) filed a tariff
    change application on the verified account."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("我家是峰谷电 上个月怎么还要五十多", intent="apply_service", form="application_form",
                           candidates={"business_type": "tariff_change"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert followups(events) == ["bill_form"]
    assert slot_values(events).get("business_type") is None


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["我不留名可以吗", "我能不能不留名字 怕他报复"])
async def test_asking_to_stay_anonymous_files_the_tip_off_anonymously(actions_gateway, said):
    """l-tip-off-101, m-042: "我不留名可以吗" at the tip-off's phone question was not understood;
    answered, the phone was asked again and the tip-off never filed."""
    from actions.feedback import NO_CONTACT, ValidateFeedbackForm

    tracker = make_tracker(said, intent="tip_off", form="feedback_form",
                           slots={"requested_slot": "contact_phone", "feedback_type": "tip_off",
                                  "feedback_content": "楼下烧烤店从电表前面另外接了根线"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events).get("contact_phone") == NO_CONTACT
    assert "utter_tip_off_taken_anonymously" in responses(messages)


@pytest.mark.asyncio
async def test_a_flooded_switch_room_reported_is_an_urgent_repair_not_the_storm_advice(actions_gateway):
    """m-025: "地下配电房进水了 水已经没过电缆沟" got the storm safety answer; the repair that
    followed was filed as normal."""
    from actions.faq import ActionAnswerFaq

    events, _ = await run_action(ActionAnswerFaq(), make_tracker("地下配电房进水了 水已经没过电缆沟 快到柜子底了",
                                                                 intent="faq"))
    assert followups(events) == ["fault_form"]


@pytest.mark.asyncio
async def test_a_stop_with_i_want_to_complain_inside_a_complaint_keeps_it(actions_gateway):
    """m-037: "电刚才自己来了 不用修了 但这事我要投诉 不是催" cancelled the complaint being taken."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("电刚才自己来了 不用修了 但这事我要投诉 不是催", intent="cancel", form="feedback_form",
                           slots={"requested_slot": "contact_phone", "feedback_type": "complaint",
                                  "feedback_content": "你们说45分钟到 现在两个半小时了人呢"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert "action_cancel_form" not in followups(events)
    assert "我要投诉" in (slot_values(events).get("feedback_content") or "")


def test_a_formal_complaint_is_a_wish_to_complain():
    """m-038: "我要正式投诉，并且要求重新核算" after the bill was shown opened an application."""
    from actions.common import WANTS_TO_COMPLAIN

    assert WANTS_TO_COMPLAIN.search("我要正式投诉，并且要求重新核算")


@pytest.mark.asyncio
async def test_outages_too_often_unclear_to_nlu_is_a_complaint(actions_gateway):
    """l-complaint-002: "我们大泉村这个月停了四回电了 你们到底管不管" got "我没太理解"; the next
    words opened a repair no one asked for."""
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = make_tracker("我们大泉村这个月停了四回电了 你们到底管不管", intent="nlu_fallback", confidence=0.4)
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.4},
                                                {"name": "complain", "confidence": 0.35}]
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert followups(events) == ["feedback_form"]
    assert slot_values(events).get("feedback_type") == "complaint"


@pytest.mark.asyncio
async def test_no_news_of_an_earlier_complaint_is_a_progress_question(actions_gateway):
    """l-progress-103: "我之前投诉的事怎么没人理我" filed a new complaint with these words."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("我之前投诉的事怎么没人理我", intent="complain", form="feedback_form",
                           candidates={"feedback_type": "complaint"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert followups(events) == ["progress_form"]


@pytest.mark.asyncio
async def test_a_phone_corrected_two_messages_after_the_filing_goes_on_the_ticket(actions_gateway):
    """l-repair-105: "哎呀电话说错了 那是我老号 新号是19850176624" two messages after the repair
    was filed got the menu; the crew would call the old number."""
    import uuid

    from actions import api_client
    from actions.menu import ActionAnswerBareDetail

    conversation = f"test-{uuid.uuid4().hex[:8]}"
    ticket = await api_client.create_ticket({"request_key": f"test:{conversation}", "type": "repair",
                                             "summary": "厨房插座没电", "channel": "web", "conversation_id": conversation,
                                             "contact_phone": "13951832207"})
    prior = [{"event": "user", "text": "电话13951832207"},
             {"event": "bot", "text": f"已为您登记故障报修，工单号：{ticket['ticket_no']}。"},
             {"event": "user", "text": "其他房间都有电 就厨房"},
             {"event": "bot", "text": "感谢您的咨询，祝您生活愉快，再见！"}]
    tracker = make_tracker("哎呀电话说错了 那是我老号 新号是19850176624", intent="inform", sender_id=conversation,
                           prior_events=prior)
    await run_action(ActionAnswerBareDetail(), tracker)
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "19850176624"


def test_someone_posing_as_staff_asking_a_fee_in_more_words():
    """l-tip-off-002: "说是供电局的 要收什么电表更换费三百块" was read as a bill question."""
    from actions.common import IMPERSONATION

    assert IMPERSONATION.search("刚才有两个人来敲门 说是供电局的 要收什么电表更换费三百块")


@pytest.mark.asyncio
async def test_whose_corridor_light_it_is_gets_an_answer_not_a_crew(actions_gateway):
    """m-012: "这个是你们供电公司修还是物业修啊" about a corridor light opened a repair."""
    from actions.faults import ValidateFaultForm

    prior = [{"event": "user", "text": "楼道灯坏了一个礼拜了 黑咕隆咚的"}]
    events, messages = await run_action(ValidateFaultForm(), make_tracker(
        "这个是你们供电公司修还是物业修啊 物业推来推去的", intent="report_fault", form="fault_form", prior_events=prior))
    assert followups(events) == ["action_listen"]
    assert "物业" in "".join(texts(messages))


@pytest.mark.asyncio
async def test_the_phone_said_with_a_wish_for_a_person_goes_on_the_callback(actions_gateway, monkeypatch):
    """l-handoff-103, l-handoff-101: "人工客服 … 让人打我电话13761094036" (or the number typed just
    before "我要找人说话"): the closed desk's callback was left without a phone."""
    import uuid

    from actions import api_client
    from actions.handoff import ActionHandoff

    conversation = f"test-{uuid.uuid4().hex[:8]}"
    callback = await api_client.create_ticket({"request_key": f"test:{conversation}", "type": "callback",
                                               "summary": "回电：客户要求转人工", "channel": "web",
                                               "conversation_id": conversation})

    async def closed_desk(payload):
        return {"customer_notified": True}

    monkeypatch.setattr(api_client, "create_handoff", closed_desk)
    prior = [{"event": "user", "text": "17743415821"}, {"event": "bot", "text": "我可以帮您办理这些事情"}]
    tracker = make_tracker("我要找人说话 这个我不会弄", intent="request_human", sender_id=conversation, prior_events=prior)
    _, messages = await run_action(ActionHandoff(), tracker)
    assert (await api_client.get_ticket(callback["ticket_no"]))["contact_phone"] == "17743415821"
    assert "177****5821" in "".join(texts(messages))


@pytest.mark.parametrize("said, person", [("你别问了 给我找个人说", True), ("能不能找个人跟我说", True),
                                          ("我找个人问问", False), ("我去找个人来修", False)])
def test_asking_for_someone_in_plain_words(said, person):
    """l-repair-103: "你别问了 给我找个人说" inside a repair was taken for nothing; the address
    question came again."""
    from actions.common import HUMAN_WORDS

    assert bool(HUMAN_WORDS.search(said)) is person


@pytest.mark.asyncio
async def test_a_corrected_account_number_uses_the_last_four_digits_already_said(actions_gateway):
    """e-mixed-08: "户号3201000073 手机后四位2468" (a typo: not found), then "哦不好意思 户号是
    3201000037 我刚才73打反了": the last four digits were asked for again."""
    from actions.bills import ValidateBillForm
    from tests.support.dialogue import DOMAIN, RenderingDispatcher

    prior = [{"event": "user", "text": "查一下我家欠多少电费 户号3201000073 手机后四位2468"},
             {"event": "bot", "text": "没有查到户号 3201000073，请核对后重新输入户号。"}]
    tracker = make_tracker("哦不好意思 户号是3201000037 我刚才73打反了", intent="inform", form="bill_form",
                           prior_events=prior, slots={"requested_slot": "account_no"})
    result = await ValidateBillForm().validate_account_no("3201000037", RenderingDispatcher(tracker), tracker, DOMAIN)
    assert result.get("identity_verified") is True and result.get("phone_last4") == "2468"


@pytest.mark.asyncio
@pytest.mark.parametrize("status, goes_on", [("missed", True), ("waiting", False)])
async def test_a_request_goes_on_after_the_closed_desks_callback(actions_gateway, monkeypatch, status, goes_on):
    """l-repair-103: "你别问了 给我找个人说" in a repair while the desk was closed: the callback
    was registered and the repair dropped; the address given next got the menu. With a person
    coming (waiting), the form ends as before."""
    from actions import api_client
    from actions.handoff import ActionHandoff

    async def handed(payload):
        return {"customer_notified": True, "status": status}

    monkeypatch.setattr(api_client, "create_handoff", handed)
    tracker = make_tracker("你别问了 给我找个人说", intent="request_human", form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "家里灯一闪一闪的"})
    events, messages = await run_action(ActionHandoff(), tracker)
    deactivated = any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert deactivated is not goes_on
    assert ("utter_request_goes_on" in responses(messages)) is goes_on
    if goes_on:
        assert "utter_ask_fault_form_address" in responses(messages)


@pytest.mark.asyncio
async def test_a_question_naming_the_business_applied_for_is_answered_inside_the_form(actions_gateway):
    """i-application-07: "挪表要钱吗 大概几天" at the meter move's address question got the
    address question again: NLU's business entity filled the slot, so the form never gave way to
    the FAQ rule."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("挪表要钱吗 大概几天", intent="faq", form="application_form",
                           entities=[{"entity": "business_type", "value": "meter_move"}],
                           slots={"requested_slot": "address", "business_type": "meter_move",
                                  "applicant_name": "钱立伟", "contact_phone": "15896001257"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    said = "".join(texts(messages))
    assert "移表" in said and "工作日" in said
    assert slot_values(events).get("requested_slot") == "address"


def test_forgot_to_pay_is_no_payment():
    """e-mixed-05 (a regression of this stop): "是不是欠费被停了啊 上个月好像忘交了" read as paid."""
    from actions.faq import asks_power_back_after_paying

    assert not asks_power_back_after_paying("等下 算了不报修了 先查电费 是不是欠费被停了啊 上个月好像忘交了")
    assert asks_power_back_after_paying("回家发现没电了 一看app说欠费 我刚交了")


@pytest.mark.asyncio
@pytest.mark.parametrize("said, name", [
    ("经办人刘芳 电话18793805895", "刘芳"),
    ("先登记吧 联系人后勤处吴老师 电话13770568912", "吴老师"),
    ("工程部汪涛 17712590836", "汪涛"),
    ("南京华宁纺织有限公司 六合龙池街道雄州南路177号", "南京华宁纺织有限公司"),
])
async def test_a_business_applies_through_its_contact_or_in_its_own_name(actions_gateway, said, name):
    """o-biz-005, o-biz-016, o-biz-023 (batch o, first run): "经办人刘芳", "联系人后勤处吴老师",
    "工程部汪涛", a company name alone: "请问申请人的姓名是？" again and again, nothing filed."""
    from actions.applications import ValidateApplicationForm
    from tests.support.dialogue import DOMAIN, RenderingDispatcher

    tracker = make_tracker(said, intent="inform", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "capacity_change"})
    form = ValidateApplicationForm()
    assert await form.extract_applicant_name(RenderingDispatcher(tracker), tracker, DOMAIN) == {"applicant_name": name}
    assert await form.validate_applicant_name(name, RenderingDispatcher(tracker), tracker, DOMAIN) == {"applicant_name": name}


@pytest.mark.parametrize("said, business", [
    ("我是房东 房子卖了 电表户名要转给新房主", "name_transfer"),
    ("老板 我租了个门面开饭店 要装新的电表 三相的 咋个弄", "new_connection"),
    ("工地要办临时用电 塔吊 搅拌站都要用 怎么申请", "new_connection"),
])
def test_businesses_in_more_of_their_words(said, business):
    """n-application-101 ("新房主" held "新房": a new connection was filed), o-biz-006, o-biz-007."""
    from actions.applications import business_from_text

    assert business_from_text(said) == business


@pytest.mark.asyncio
async def test_an_angry_when_does_power_return_after_paying_is_no_complaint(actions_gateway):
    """n-arrears-102: "欠费？？就欠了两个月就给我停了？行 我现在交 交完马上来电吗" was filed as a
    complaint in these words."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("欠费？？就欠了两个月就给我停了？行 我现在交 交完马上来电吗", intent="complain",
                           form="feedback_form", candidates={"feedback_type": "complaint"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert followups(events) == ["action_answer_faq"]


@pytest.mark.parametrize("said, hazard", [("昨晚雨下得大 我奶奶家门口的电表箱里全是水 还滋滋响", True),
                                          ("插座噼里啪啦响", True), ("电表箱有点旧了", False)])
def test_water_in_a_meter_box_and_arcing_sounds_are_hazards(said, hazard):
    """o-reg-014 (batch o, first run): a meter box full of water and fizzing was filed as a
    normal repair."""
    from actions.faults import find_hazards

    assert bool(find_hazards(said)) is hazard


@pytest.mark.asyncio
async def test_a_house_number_spelled_digit_by_digit_completes_the_address(actions_gateway):
    """o-reg-007 (batch o, first run): "江宁谷里街道张溪社区一零三号": NLU heard the place without
    "一零三号" (its normaliser rewrites runs of four digits or more) and the address was refused."""
    from actions.applications import ValidateApplicationForm
    from tests.support.dialogue import DOMAIN, RenderingDispatcher

    said = "江宁谷里街道张溪社区一零三号"
    tracker = make_tracker(said, intent="inform", form="application_form",
                           entities=[{"entity": "address", "value": "江宁谷里街道张溪社区"}],
                           slots={"requested_slot": "address", "business_type": "pv_connection"})
    result = await ValidateApplicationForm().validate_address("江宁谷里街道张溪社区", RenderingDispatcher(tracker),
                                                              tracker, DOMAIN)
    assert result.get("address") == "江宁谷里街道张溪社区103号"


@pytest.mark.asyncio
async def test_why_the_power_is_out_today_when_the_plan_is_for_later_is_answered(actions_gateway):
    """o-reg-011 (batch o, first run): "不是说过几天才停么 咋今天就么得了" after another day's
    planned outage was shown got "这个问题我这里答不上来"."""
    from actions.faults import ValidateFaultForm

    prior = [{"event": "user", "text": "大泉村八十七号 卢明辉"},
             {"event": "bot", "text": "上面这条是另一个时间的停电安排，不是您现在没电的原因。我马上为您登记故障报修。"}]
    tracker = make_tracker("不是说过几天才停么 咋今天就么得了", intent="query_outage", form="fault_form", prior_events=prior,
                           slots={"requested_slot": "contact_phone", "address": "大泉村87号", "repair_area_type": "remote",
                                  "fault_description": "俺家停电了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert "utter_not_the_planned_outage" in responses(messages)
    assert slot_values(events).get("requested_slot") == "contact_phone"


@pytest.mark.asyncio
async def test_a_question_right_after_an_application_was_filed_opens_no_second_one(actions_gateway):
    """Found trying it in the widget: "减容以后要恢复麻烦吗" right after the capacity change was filed
    opened a second application ("请问申请人的姓名是？")."""
    from actions.applications import ValidateApplicationForm

    prior = [{"event": "user", "text": "联系人周工 电话13647202292 地址江宁区秣陵街道将军大道177号"},
             {"event": "bot", "text": "您的增容/减容申请已提交，工单号：YK20261203001。"}]
    tracker = make_tracker("减容以后要恢复麻烦吗", intent="apply_service", form="application_form", prior_events=prior,
                           candidates={"business_type": "capacity_change"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert followups(events) == ["action_listen"]
    assert "utter_ask_applicant_name" not in responses(messages) and messages


def test_a_business_told_as_past_in_a_praise_is_no_new_request():
    """Found trying it in the widget: a praise for the hall ("上礼拜去建邺的营业厅办增容 她给我讲了
    好久…") started a capacity-change application after the praise was filed."""
    from actions.feedback import other_request_in_story

    told = other_request_in_story("给你们营业厅的小姑娘点个赞；上礼拜去建邺的营业厅办增容 她给我讲了好久 材料都帮我理好了",
                                  None, None)
    assert not [e for e in told if e.get("event") == "followup"]
    wanted = other_request_in_story("先表扬一下上回来修线路的师傅；另外我餐馆想再加两台空调 电不够用 要增容", None, None)
    assert [e.get("name") for e in wanted if e.get("event") == "followup"] == ["application_form"]
