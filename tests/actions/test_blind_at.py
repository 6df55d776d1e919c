"""Kinds of failure the blind batches at (relatives writing for someone, half-remembered terms), au
(hurried, night-time, stories before the request), av (small businesses, institutions, students), aw
(ordinary weekdays, elliptical messages), ax (annoyed, suspicious, sarcastic) and ay (formal, phonetic,
voice-dictated, near-empty messages) showed at first sight."""
import pytest

from tests.support.dialogue import make_tracker, praise_just_filed, run_action, slot_values, texts


def followups(events):
    return [e.get("name") for e in events if e.get("event") == "followup"]


@pytest.mark.parametrize("text, hazard", [
    ("我要举报 我们楼下那户从楼道公共电表箱里私自拉了根线进屋 这不是偷电吗 万一着火全楼遭殃", False),  # au-tip_off-001
    ("楼道里乱拉电线 存在火灾隐患", False),
    ("隔壁私接电线 我怕哪天起火", False),
    ("电线短路导致起火了", True),             # a cause, not a fear: the fire is now
    ("插座冒烟了 可能会着火", True),          # the smoke is now
    ("电线掉地上了 怕有人触电", True),        # the wire is down now
])
def test_a_feared_danger_is_not_a_danger_now(text, hazard):
    """au-tip_off-001: a tip-off on illegal wiring, "万一着火全楼遭殃", got the fire safety text and an
    urgent repair instead of the tip-off."""
    from actions.faults import find_hazards, safety_response

    assert bool(find_hazards(text)) is hazard, text
    assert (safety_response(text) is not None) is hazard, text


@pytest.mark.asyncio
async def test_the_customers_own_reason_for_the_usage_after_the_bill_sends_no_crew(actions_gateway):
    """av-bill-001: "哦 那应该是天热空调一直开着 行吧 知道了" right after the bill (heard as a fault)
    filed a repair at the restaurant's street."""
    from actions.faults import ValidateFaultForm

    shown = [{"event": "user", "text": "那上个月跟这个月各用了多少度啊"},
             {"event": "bot", "text": "2026年11月电费账单（户号尾号0033）：\n· 用电量：3950 度"}]
    for text, crew in [("哦 那应该是天热空调一直开着 行吧 知道了", False),
                       ("估计是电暖器天天开着", False),
                       ("应该是空调一直开着 但是现在家里突然没电了", True)]:
        tracker = make_tracker(text, intent="report_fault", form="fault_form", prior_events=shown,
                               slots={"address": "横溪大街"})
        events, _ = await run_action(ValidateFaultForm(), tracker)
        left = any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
        assert left is not crew, text


@pytest.mark.asyncio
async def test_an_offered_application_asked_for_in_words_starts(actions_gateway):
    """av-mixed-001: "好 那就帮我办一下" right after "需要的话，我现在就可以帮您在线提交电价变更申请"
    (NLU unsure) got "好的，如有需要随时找我" and nothing was filed."""
    from actions.handoff import ActionDefaultAskAffirmation

    offer = [{"event": "user", "text": "那我能不能改成峰谷电 晚上抽水便宜些"},
             {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交电价变更申请。"},
             {"event": "slot", "name": "offered_business", "value": "tariff_change"}]
    tracker = make_tracker("好 那就帮我办一下", intent="nlu_fallback", confidence=0.4, prior_events=offer,
                           slots={"offered_business": "tariff_change"})
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert followups(events) == ["application_form"] and slot_values(events)["business_type"] == "tariff_change"
    assert not messages
    # A plain "好的 知道了" takes the answer in; nothing starts.
    tracker = make_tracker("好的 知道了", intent="nlu_fallback", confidence=0.4, prior_events=offer,
                           slots={"offered_business": "tariff_change"})
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert "application_form" not in followups(events)


@pytest.mark.asyncio
async def test_a_crew_asked_for_after_no_outage_was_found_is_a_repair(actions_gateway):
    """at-mixed-002: "没有停电通知的话那就是他家坏了呗 你们能派人去看看吗" right after "暂未查到…需要的话
    我马上为您报修" got "这个问题我暂时回答不了"."""
    from actions.handoff import ActionDefaultAskAffirmation

    answered = [{"event": "user", "text": "浦口永宁青山村今天是不是停电了"},
                {"event": "bot", "text": "暂未查到该地址附近有计划停电或故障停电。需要的话我马上为您报修。",
                 "data": {"buttons": [{"title": "我要报修", "payload": "/report_fault"}]}},
                {"event": "bot", "text": "请问您对这次服务满意吗？"}]
    tracker = make_tracker("没有停电通知的话那就是他家坏了呗 你们能派人去看看吗", intent="nlu_fallback",
                           confidence=0.4, prior_events=answered)
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert followups(events) == ["fault_form"] and not messages
    # Without the offer, the same words are not taken for a repair by this rule.
    tracker = make_tracker("没有停电通知的话那就是他家坏了呗 你们能派人去看看吗", intent="nlu_fallback",
                           confidence=0.4, prior_events=answered[:1] + [{"event": "bot", "text": "好的。"}])
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert "fault_form" not in followups(events)


@pytest.mark.asyncio
async def test_wait_and_see_at_the_offer_of_a_person_fetches_nobody(actions_gateway):
    """at-bill-003: "好 那我再等等看" to "您可以转人工客服…[转人工]" (heard as a yes) opened a callback."""
    from actions.handoff import ActionHandoff
    from tests.actions.test_handoff_survey import handoffs

    offer = [{"event": "user", "text": "那我那200块钱到底去哪了 要不要再交一遍啊"},
             {"event": "bot", "text": "这个问题我暂时回答不了。您可以转人工客服，或拨打95598咨询。"},
             {"event": "slot", "name": "handoff_reason", "value": "fallback"}]
    before = len(handoffs(actions_gateway.app))
    tracker = make_tracker("好 那我再等等看", intent="affirm", prior_events=offer,
                           slots={"handoff_reason": "fallback"}, sender_id="conv-wait")
    events, messages = await run_action(ActionHandoff(), tracker)
    assert len(handoffs(actions_gateway.app)) == before
    assert [m.get("response") for m in messages] == ["utter_ok_no_problem"]
    # The button itself still hands off.
    tracker = make_tracker("/request_human", intent="request_human", prior_events=offer,
                           slots={"handoff_reason": "fallback"}, sender_id="conv-wait")
    await run_action(ActionHandoff(), tracker)
    assert len(handoffs(actions_gateway.app)) == before + 1


@pytest.mark.asyncio
async def test_where_and_who_after_a_praise_go_onto_it(actions_gateway):
    """av-praise-001: the place ("江宁区湖熟街道和平社区 小太阳幼儿园") and then the phone given right after
    the praise was filed got "您是想查询这里的停电信息…" and an outage answer; the praise kept no phone."""
    from actions import api_client
    from actions.menu import ActionAnswerBareDetail

    conversation, ticket_no, filed = await praise_just_filed("上周六来我们幼儿园修线路的师傅", "师傅好像姓孙 个子高高的")
    place = "江宁区湖熟街道和平社区 小太阳幼儿园"
    tracker = make_tracker(place, intent="inform", sender_id=conversation, prior_events=filed,
                           entities=[{"entity": "address", "value": "江宁区湖熟街道和平社区"}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert ticket_no in "".join(texts(messages)) and "停电信息" not in "".join(texts(messages))
    noted = filed + [{"event": "user", "text": place},
                     {"event": "bot", "text": f"好的，已把您补充的内容记到工单 {ticket_no} 里了。"}]
    tracker = make_tracker("我是园长 姓邵 电话15251893064", intent="inform", sender_id=conversation,
                           prior_events=noted, entities=[{"entity": "phone", "value": "15251893064"}])
    await run_action(ActionAnswerBareDetail(), tracker)
    ticket = await api_client.get_ticket(ticket_no)
    assert ticket.get("contact_phone") == "15251893064" and "小太阳幼儿园" in str(ticket)


@pytest.mark.asyncio
async def test_two_months_asked_at_once_are_shown_side_by_side(actions_gateway):
    """av-bill-001: "那上个月跟这个月各用了多少度啊" right after the bill showed the same month again."""
    from actions.bills import ActionQueryBill
    from tests.actions.test_bills import verified_slots

    slots = verified_slots(actions_gateway.app) | {"bill_shown_period": "2026-11"}
    tracker = make_tracker("那上个月跟这个月各用了多少度啊", intent="query_bill", slots=slots,
                           entities=[{"entity": "period", "value": "上个月"}, {"entity": "period", "value": "这个月"}])
    _, messages = await run_action(ActionQueryBill(), tracker)
    said = "".join(texts(messages))
    assert "utter_bill_reason_compared" in [m.get("response") for m in messages], said
    assert said.count("用电") >= 2 and "10月" in said and "11月" in said
    # One month asked: that month's bill, as before.
    tracker = make_tracker("上个月用了多少度", intent="query_bill", slots=verified_slots(actions_gateway.app),
                           entities=[{"entity": "period", "value": "上个月"}])
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert "utter_bill_reason_compared" not in [m.get("response") for m in messages]


async def smoking_meter_box_repair(conversation_id: str) -> dict:
    """The urgent repair aw-hazard-002 registered (a smoking meter box in a stairwell)."""
    import uuid

    from actions import api_client

    return await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "repair", "priority": "urgent", "area_type": "urban",
        "summary": "报修：楼道里电表箱冒烟了", "channel": "web", "conversation_id": conversation_id,
        "address": "鼓楼区马台街60号紫金花园22栋", "contact_phone": "15375621112",
        "details": {"description": "楼道里电表箱冒烟了", "hazard": True}})


@pytest.mark.asyncio
async def test_a_safety_question_right_after_an_urgent_repair_is_answered_not_filed_again(actions_gateway):
    """aw-hazard-002: "没看到明火 就是冒烟 要不要打119啊" right after the urgent repair was registered
    started a second repair form; "好的 我们已经下楼了" then became its address."""
    from actions.faults import ValidateFaultForm

    repair = await smoking_meter_box_repair("conv-smoke")
    filed = [{"event": "user", "text": "沈金凤 15375621112"},
             {"event": "bot", "text": f"已为您登记紧急故障报修，工单号：{repair['ticket_no']}。"}]
    tracker = make_tracker("没看到明火 就是冒烟 要不要打119啊", intent="report_fault", form="fault_form",
                           prior_events=filed, sender_id="conv-smoke")
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_safety_while_waiting"]
    assert followups(events) == ["action_listen"] and "请告诉我" not in "".join(texts(messages))


@pytest.mark.parametrize("text", ["好的 我们已经下楼了", "人都跑出楼了", "已经下楼了 没事了"])
def test_people_leaving_a_building_name_no_place(text):
    """aw-hazard-002: "好的 我们已经下楼了" at a hazard's address question was stored as the address."""
    from actions.common import looks_like_address

    assert not looks_like_address(text, need_number=False)
    assert looks_like_address("紫金花园22栋楼下", need_number=False)


@pytest.mark.parametrize("text, business", [
    ("要那么久啊 那好吧 我先充个充电宝", None),                          # aw-arrears_reconnect-001
    ("另外我想办峰谷电 晚上充电瓶车划算 怎么申请", "tariff_change"),     # ay-mixed-001
    ("手机充电器坏了", None),
    ("我想装充电桩", "ev_charger"),
    ("不是过户 是想把电表移到外头", "meter_move"),
])
def test_the_business_asked_for_not_a_phone_charger_or_a_reason(text, business):
    """aw-arrears_reconnect-001: "我先充个充电宝" filed an EV charger application; ay-mixed-001: "我想办
    峰谷电 晚上充电瓶车划算" filed an EV charger instead of the tariff change asked for."""
    from actions.applications import business_from_text

    assert business_from_text(text) == business


@pytest.mark.parametrize("text, earlier", [
    ("我三个礼拜前申请的增容到现在一点动静都没有 你们效率真高啊", True),   # ax-progress-001
    ("半个月前报的修 到现在一点消息也没有", True),
    ("我想申请增容 要多久", False),
])
def test_a_request_made_weeks_ago_with_no_news_is_a_progress_question(text, earlier):
    """ax-progress-001: the progress question was sent on to a new capacity application, filed."""
    from actions.common import asks_progress_of_earlier

    assert asks_progress_of_earlier(text) is earlier


@pytest.mark.asyncio
@pytest.mark.parametrize("text, repair", [
    ("你们这电咋回事 这个月停了四五回了 俺饭馆的菜都坏了 生意也没法做 俺要头诉", False),  # ay-complaint-001
    ("这个月停了四五回了 饭馆菜都坏了", False),
    ("家里停电了 冰箱里的菜都要坏了", True),
])
async def test_outages_counted_over_a_month_are_a_complaint(actions_gateway, text, repair):
    """ay-complaint-001: "这个月停了四五回了 … 俺要头诉" (投诉 mistyped) filed a repair first."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker(text, intent="complain", form="feedback_form", candidates={"feedback_type": "complaint"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert ("fault_form" in followups(events)) is repair, text


@pytest.mark.asyncio
async def test_an_account_given_with_the_phone_in_an_application_supplies_its_premises(actions_gateway):
    """ay-application-001: "我司户号为3201000034，户名南京宁新电子有限公司，联系电话13647202292。" at the
    phone question of a capacity change: the phone was kept, the 户号 ignored, and the address asked
    for four times; the account's registered premises answer it."""
    from actions.applications import REGISTERED, ValidateApplicationForm

    text = "我司户号为3201000034，户名南京宁新电子有限公司，联系电话13647202292。"
    tracker = make_tracker(text, intent="inform", form="application_form",
                           entities=[{"entity": "account_no", "value": "3201000034"},
                                     {"entity": "phone", "value": "13647202292"}],
                           slots={"business_type": "capacity_change", "requested_slot": "contact_phone"},
                           candidates={"contact_phone": "13647202292"})   # the phone entity's mapping
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("contact_phone") == "13647202292"
    assert values.get("account_no") == "3201000034" and values.get("address") == REGISTERED
    assert "尾号0034" in "".join(texts(messages))
    # A new connection has no premises yet: the phone only.
    tracker = make_tracker(text, intent="inform", form="application_form",
                           slots={"business_type": "new_connection", "requested_slot": "contact_phone"},
                           candidates={"contact_phone": "13647202292"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events).get("contact_phone") == "13647202292" and "address" not in slot_values(events)


@pytest.mark.asyncio
async def test_the_documents_just_listed_are_not_listed_again_when_the_application_starts(actions_gateway):
    """Tried as a customer: "我能不能改成峰谷电" got the tariff change's documents and an offer; "好 那就帮我
    办一下" listed the same documents again before filing."""
    from actions.applications import ValidateApplicationForm

    listed = [{"event": "user", "text": "我能不能改成峰谷电 晚上抽水便宜些"},
              {"event": "bot", "text": "办理电价变更需要准备以下资料：\n1. 户主身份证\n2. 变更原因说明"},
              {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交电价变更申请。"}]
    for prior, listed_again in [(listed, False), (listed[:1], True)]:
        tracker = make_tracker("好 那就帮我办一下", intent="affirm", form="application_form", prior_events=prior,
                               candidates={"business_type": "tariff_change"})
        _, messages = await run_action(ValidateApplicationForm(), tracker)
        responses = [m.get("response") for m in messages]
        assert ("utter_application_documents" in responses) is listed_again


@pytest.mark.asyncio
@pytest.mark.parametrize("text, crew", [
    ("行 我先自己关了总闸看看表还转不转 谢谢", False),   # ax-bill-001, after the meter-test answer
    ("好的 我自己先去看看", False),
    ("没电了 我先自己看看总闸", True),                   # a fault told: the repair goes on
])
async def test_the_customer_looking_for_themselves_sends_no_crew(actions_gateway, text, crew):
    """ax-bill-001 (dev, after this stop's fixes): "行 我先自己关了总闸看看表还转不转 谢谢" after the meter
    test was offered (NLU heard a fault) filed a repair at the account's address."""
    from actions.faults import ValidateFaultForm

    offer = [{"event": "user", "text": "要是觉得表不准 你们能来检测吗 要不要钱"},
             {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交电能表校验申请。"}]
    tracker = make_tracker(text, intent="report_fault", form="fault_form", prior_events=offer,
                           slots={"account_no": "3201000004", "identity_verified": True})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    left = any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert left is not crew, text


@pytest.mark.asyncio
@pytest.mark.parametrize("text, filed", [
    ("行 我再等两天 再没消息我就真要投诉了", False),     # ax-progress-001 (dev, after this stop's fixes)
    ("要是明天还不来人 我就投诉你们", False),
    ("等了三天没消息 我要投诉", True),
])
async def test_a_complaint_kept_for_later_is_not_filed_now(actions_gateway, text, filed):
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker(text, intent="complain", form="feedback_form", candidates={"feedback_type": "complaint"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    closed = any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert closed is not filed, text
    if not filed:
        assert [m.get("response") for m in messages] == ["utter_ok_no_problem"]


def test_thanks_is_not_a_name():
    """Tried as a customer at the end of this stop: "好 谢谢" at the applicant-name question was kept as
    the name; a surname 谢 still is one."""
    from actions.applications import NOT_A_NAME

    assert NOT_A_NAME.search("好 谢谢") and NOT_A_NAME.search("多谢")
    assert not NOT_A_NAME.search("谢子涵")


@pytest.mark.asyncio
async def test_thanks_at_the_name_question_is_not_kept_as_the_name(actions_gateway):
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("好 谢谢", intent="thank", form="application_form",
                           slots={"business_type": "pv_connection", "requested_slot": "applicant_name"},
                           candidates={"applicant_name": "好 谢谢"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert not slot_values(events).get("applicant_name")


@pytest.mark.asyncio
@pytest.mark.parametrize("text, waits", [("好的 我们已经下楼了", True), ("嗯 人都已经出来了", True),
                                         ("好的 谢谢", False)])
async def test_leaving_the_building_after_an_urgent_repair_is_no_goodbye(actions_gateway, text, waits):
    """Tried as a customer: "好的 我们已经下楼了" right after the safety advice of an urgent repair got the
    satisfaction question and a goodbye while the crew was still on its way."""
    from actions.common import ActionWrapUp

    repair = await smoking_meter_box_repair("conv-downstairs")
    answered = [{"event": "action", "name": "action_submit_fault"},
                {"event": "user", "text": "没看到明火 就是冒烟 要不要打119啊"},
                {"event": "bot", "text": f"抢修人员正在赶来（工单 {repair['ticket_no']}）。到达之前请这样做：……"}]
    tracker = make_tracker(text, intent="goodbye" if waits else "thank", prior_events=answered,
                           sender_id="conv-downstairs")
    events, messages = await run_action(ActionWrapUp(), tracker)
    responses = [m.get("response") for m in messages]
    if waits:
        assert responses == ["utter_wait_for_crew"]
        assert followups(events) == ["action_listen"]
    else:
        assert "utter_wait_for_crew" not in responses and "utter_thank" in responses


@pytest.mark.parametrize("text, topic", [
    ("我想问下光伏并网要多久", "duration_pv_connection"),
    ("屋顶光伏并网收费吗", "fee_pv_connection"),
    ("充电桩报装要几天", "duration_ev_charger"),
    ("装充电桩要钱吗", "fee_ev_charger"),
    ("光伏并网要带什么材料", "docs_pv_connection"),
])
def test_how_long_and_what_it_costs_are_answered_for_pv_and_chargers(text, topic):
    """Tried as a customer: "算了 先不投诉了 我想问下光伏并网要多久" got the PV documents (the table had
    no time limit or fee for PV or chargers), "那要钱吗" after them the new connection's fee."""
    from actions.faq import business_topic

    assert business_topic(text) == topic


@pytest.mark.asyncio
async def test_the_fee_asked_after_the_pv_documents_is_the_pv_fee(actions_gateway):
    from actions.faq import ActionAnswerFaq

    tracker = make_tracker("那要钱吗", intent="faq", slots={"faq_topic": "docs_pv_connection"},
                           prior_events=[{"event": "user", "text": "光伏并网要什么材料"},
                                         {"event": "slot", "name": "faq_topic", "value": "docs_pv_connection"}])
    tracker.latest_message["response_selector"] = {"faq": {
        "response": {"intent_response_key": "faq/fee_new_connection", "confidence": 0.67, "utter_action": ""},
        "ranking": [{"intent_response_key": "faq/fee_new_connection", "confidence": 0.67}]}}
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert slot_values(events).get("faq_topic") == "fee_pv_connection"
    told = "".join(texts(messages))
    assert "光伏" in told and ("不收费" in told or "不花钱" in told)
    # and what the ticket of a PV application will say: the 6 working days of sla.yml's profile
    assert "6个工作日" in told


@pytest.mark.parametrize("said, kept", [
    (["我司拟将现有容量由400千伏安增至800千伏安"], "400千伏安 → 800千伏安"),
    (["厂里变压器要从315增加到630KVA"], "315千伏安 → 630千伏安"),
    (["新厂房", "容量大概630千伏安"], "630千伏安"),
    (["我家空调多了 想增容"], None),
])
def test_the_capacity_the_customer_named_is_kept_for_staff(said, kept):
    """ay-application-001: "拟将现有容量由400千伏安增至800千伏安" said at the address question was not kept."""
    from actions.applications import capacity_said

    prior = [{"event": "user", "text": text} for text in said[:-1]]
    assert capacity_said(make_tracker(said[-1], intent="inform", prior_events=prior)) == kept


@pytest.mark.asyncio
async def test_the_capacity_named_is_on_the_filed_capacity_increase(actions_gateway):
    from actions.applications import ActionSubmitApplication
    from tests.actions.test_requests import last_ticket

    slots = {"business_type": "capacity_change", "applicant_name": "南京华宁纺织有限公司",
             "address": "江宁区秣陵街道将军大道88号", "contact_phone": "13700001234"}
    said = [{"event": "user", "text": "我司拟将现有容量由400千伏安增至800千伏安"}]
    await run_action(ActionSubmitApplication(), make_tracker("13700001234", slots=slots, prior_events=said,
                                                             sender_id="conv-capacity"))
    stored = last_ticket(actions_gateway.app)
    assert stored.business_type == "capacity_change" and stored.details["capacity"] == "400千伏安 → 800千伏安"


@pytest.mark.asyncio
@pytest.mark.parametrize("text, applies", [("算了 先不投诉了 我想问下光伏并网要多久", False),
                                           ("算了不投诉了 帮我申请光伏并网 要多久", True)])
async def test_a_question_on_a_business_after_a_stop_is_answered_not_applied_for(actions_gateway, text, applies):
    """Tried as a customer: "算了 先不投诉了 我想问下光伏并网要多久" in the complaint form started a PV
    application; how long it takes was never said."""
    from actions.common import ActionCancelForm

    prior = [{"event": "user", "text": "我要投诉"}, {"event": "active_loop", "name": "feedback_form"},
             {"event": "bot", "text": "请问您要投诉的是什么事情？"}]
    tracker = make_tracker(text, intent="faq", slots={"feedback_type": "complaint"}, prior_events=prior,
                           entities=[{"entity": "business_type", "value": "pv_connection"}])
    tracker.active_loop = {"name": "feedback_form"}
    events, messages = await run_action(ActionCancelForm(), tracker)
    told = "".join(texts(messages))
    assert "取消" in told
    if applies:
        assert followups(events) == ["application_form"]
    else:
        assert followups(events) == [] and "6个工作日" in told and "光伏" in told
        # tried again in the widget: "那要钱吗" next got the meter move's fee (no topic was kept)
        assert slot_values(events).get("faq_topic") == "duration_pv_connection"


@pytest.mark.parametrize("text, kept", [
    ("家里突然没电了 顺便问下我这个月电费多少", "家里突然没电了"),
    ("查一下电费，另外我家插座冒火花了", "我家插座冒火花了"),
    ("我家总闸老是跳 明天中山路停不停电", "我家总闸老是跳"),
    ("家里没电了", "家里没电了"),
    ("楼道的灯 不亮了", "楼道的灯 不亮了"),   # no clause tells it alone: all of it
])
def test_a_repair_opened_beside_another_request_keeps_only_the_fault(text, kept):
    """Noticed in earlier stops: a repair opened from a two-request message kept the whole message (the
    bill question too) as its description."""
    from actions.faults import fault_part

    assert fault_part(text) == kept


@pytest.mark.asyncio
async def test_a_repair_told_with_a_bill_question_is_described_by_the_fault(actions_gateway):
    """Tried in the widget: "哦 还有 家里突然没电了 顺便问下我这个月电费多少" opened the repair (NLU: a
    fault) with the whole message as the ticket's description."""
    from actions.faults import ValidateFaultForm

    extracted = await ValidateFaultForm().extract_fault_description(
        None, make_tracker("哦 还有 家里突然没电了 顺便问下我这个月电费多少", intent="report_fault", form="fault_form"), {})
    assert extracted == {"fault_description": "家里突然没电了"}


@pytest.mark.parametrize("text, offered", [
    ("我家已经开了峰谷电 想问下谷电几点开始", None),
    ("我们家用的是峰谷电 想问问峰段多少钱", None),
    ("想开个峰谷电 谷电几点开始", "tariff_change"),
])
def test_a_customer_already_on_time_of_use_is_not_offered_it(text, offered):
    """Noticed in earlier stops: a customer on time-of-use was offered the time-of-use application."""
    from actions.faq import offer_application
    from tests.support.dialogue import RenderingDispatcher

    tracker = make_tracker(text, intent="faq")
    dispatcher = RenderingDispatcher(tracker)
    assert offer_application("peak_valley_hours", dispatcher, tracker) == offered
    assert bool(dispatcher.messages) is bool(offered)


@pytest.mark.asyncio
async def test_a_customer_asking_whether_the_bill_is_owed_gets_the_bills_checked_before_a_repair(actions_gateway):
    """ba-arrears_reconnect-001 (first sight): "帮我查一下我家是不是欠电费了 早上起来就没电了 邻居家都有电"
    filed a repair at the account's address before the bills were looked at ("欠电费", not "欠费")."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("帮我查一下我家是不是欠电费了 早上起来就没电了 邻居家都有电", intent="report_fault",
                           form="fault_form", slots={"requested_slot": None})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["bill_query"] == "suspect_arrears"
    assert followups(events) == ["bill_form"]
