"""Kinds of failure the blind batches aa/ab showed, and ones noticed in earlier trials."""
import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values


@pytest.mark.parametrize("text, response", [
    ("我家插座冒火花了", "utter_safety_sparks"),
    ("电表箱滋滋响还冒火花", "utter_safety_sparks"),
    ("热水器漏电", "utter_safety_sparks"),
    ("开关啪啪响", "utter_safety_sparks"),
    ("电表箱里全是水 还滋滋响", "utter_safety_flood"),
    ("路边电线杆上噼里啪啦冒火花", "utter_safety_wire"),
    ("电线掉地上了还在打火", "utter_safety_wire"),
    ("刮大风把树杈子刮到电线上了 一直在闪火花", "utter_safety_wire"),
    ("插座冒烟了", "utter_safety_fire"),
    ("家里没电了", None),
])
def test_the_safety_advice_fits_the_danger_named(text, response):
    from actions.faults import safety_response

    assert safety_response(text) == response


def test_sparks_at_home_say_to_cut_the_power_not_to_keep_away_from_a_fallen_wire():
    from tests.support.dialogue import response_text

    first_line = response_text("utter_safety_sparks").split("\n")[0]
    assert "总闸" in first_line and "8米" not in first_line


@pytest.mark.asyncio
@pytest.mark.parametrize("said, prior", [
    # ab-mixed-004: the whole registered mobile with the 户号 in the opening message.
    ("上个月电费多少 户号3201000017 手机13847325028", []),
    # aa-mixed-001: given with the repair, then the bill of the same message served.
    ("那帮我查下上个月电费多少", [{"event": "user", "text": "户号3201000017 手机13847325028"}]),
])
async def test_a_registered_mobile_typed_with_the_account_is_the_identity_check(actions_gateway, said, prior):
    from actions.bills import ValidateBillForm

    tracker = make_tracker(said, intent="query_bill", form="bill_form", prior_events=prior,
                           slots={"account_no": "3201000017" if prior else None})
    events, messages = await run_action(ValidateBillForm(), tracker)
    slots = slot_values(events)
    assert slots.get("identity_verified") is True and slots.get("verified_account_no") == "3201000017"
    assert "utter_ask_phone_last4" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_a_contact_mobile_that_is_not_the_registered_one_costs_no_try(actions_gateway):
    from actions.bills import ValidateBillForm

    tracker = make_tracker("上个月电费多少", intent="query_bill", form="bill_form", slots={"account_no": "3201000017"},
                           prior_events=[{"event": "user", "text": "户号3201000017 手机13900001111"}])
    events, messages = await run_action(ValidateBillForm(), tracker)
    slots = slot_values(events)
    assert not slots.get("identity_verified") and not slots.get("identity_attempts")
    assert not [m for m in messages if m.get("response") == "utter_phone_last4_wrong"]


@pytest.mark.asyncio
async def test_the_account_and_four_digits_at_the_phone_question_are_the_identity_check(actions_gateway):
    """ab-complaint-002: "户号3201000013 5821" where the complaint asked for a phone "or the 户号 and
    the registered phone's last four digits" was added to the complaint's words."""
    from actions.common import ACCOUNT_AND_FOUR
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("户号3201000013 5821", intent="inform", form="feedback_form",
                           slots={"feedback_type": "complaint", "feedback_content": "电表走得太快",
                                  "requested_slot": "contact_phone"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    slots = slot_values(events)
    assert slots.get("identity_verified") is True and slots.get("verified_account_no") == "3201000013"
    assert ACCOUNT_AND_FOUR.fullmatch("3201000013，尾号5821") and not ACCOUNT_AND_FOUR.fullmatch("3201000013 58210")


@pytest.mark.parametrize("text, hazard", [
    ("刮大风把我家门口一棵大树刮歪了 压在电线上 电线都被压弯了", True),
    ("路边的树枝搭在高压线上了", True),
    ("电线被树压着 一晃一晃的", True),
    ("我家门口的树要砍 你们管不管", False),
])
def test_a_tree_on_a_line_is_a_danger(text, hazard):
    """ab-hazard-004: a tree leaning on the line was filed as a normal repair."""
    from actions.faults import find_hazards, safety_response

    assert bool(find_hazards(text)) is hazard
    assert (safety_response(text) == "utter_safety_wire") is hazard


@pytest.mark.asyncio
async def test_more_of_what_is_wrong_at_the_phone_question_is_kept_with_the_repair(actions_gateway):
    """ab-hazard-004: "电还有 就是怕树倒下来把线砸断" at the phone question got "这个问题我这里答不上来"."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("电还有 就是怕树倒下来把线砸断", intent="report_fault", form="fault_form",
                           slots={"address": "横溪街道石塘村70号", "fault_description": "大树压在电线上",
                                  "repair_area_type": "rural", "hazard": True, "requested_slot": "contact_phone"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_story_noted"]
    assert slot_values(events)["fault_description"] == "大树压在电线上；电还有 就是怕树倒下来把线砸断"
    assert slot_values(events)["requested_slot"] == "contact_phone"


@pytest.mark.asyncio
async def test_wires_pulled_from_our_box_by_others_are_a_tip_off_not_a_repair(actions_gateway):
    """ab-tip_off-002: street vendors pulling lines from a distribution box was filed as a repair."""
    from actions.faults import ValidateFaultForm, tells_a_fault

    said = "珠江路那边晚上摆摊的 从电脑城旁边配电箱里私拉了好几根线 拖了一地 哪天出事就麻烦了"
    events, _ = await run_action(ValidateFaultForm(), make_tracker(said, intent="report_fault", form="fault_form"))
    assert slot_values(events).get("feedback_type") == "tip_off"
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "feedback_form"}
    assert not tells_a_fault("楼下私接了一根线 我家现在没电了") and tells_a_fault("我家现在没电了")


@pytest.mark.asyncio
@pytest.mark.parametrize("said, prior", [
    ("我们新建了个小厂房 做塑料加工的 用电量大 听说要上高压 10千伏的那种 怎么申请", []),
    ("容量大概630千伏安吧 我也不太懂 电工说的", [{"event": "user", "text": "六合区龙池街道雄州南路200号 还没有户号 新厂"}]),
])
async def test_power_for_premises_that_have_none_is_a_new_connection(actions_gateway, said, prior):
    """ab-application-003: a new factory needing 10 kV got the business menu twice, then a
    capacity change from "630千伏安"."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker(said, intent="apply_service", form="application_form", prior_events=prior,
                           slots={"requested_slot": "business_type" if prior else None})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events).get("business_type") == "new_connection"


@pytest.mark.asyncio
async def test_the_place_told_right_after_a_tip_off_goes_onto_it(actions_gateway):
    """ab-tip_off-001: "栖霞区迈皋桥路109号锦绣苑13栋 他家是901" right after the tip-off was filed got
    "请问您是想查询这里的停电信息、报修故障，还是办理用电业务？"."""
    import uuid

    from actions import api_client
    from actions.menu import ActionAnswerBareDetail

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "tip_off", "summary": "楼下那户疑似偷电",
        "channel": "web", "details": {"content": "楼下那户疑似偷电"}})
    prior = [{"event": "user", "text": "不是我瞎说 我观察好久了"},
             {"event": "bot", "text": f"您的举报已登记，编号：{ticket['ticket_no']}。"}]
    tracker = make_tracker("栖霞区迈皋桥路109号锦绣苑13栋 他家是901", intent="inform", prior_events=prior,
                           entities=[{"entity": "address", "value": "栖霞区迈皋桥路109号锦绣苑13栋"}])
    _, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ticket_address_added"]
    stored = await api_client.get_ticket(ticket["ticket_no"])
    assert stored["details"]["address"] == "栖霞区迈皋桥路109号锦绣苑13栋901"


@pytest.mark.asyncio
async def test_one_more_suggestion_at_the_phone_question_is_kept_with_the_first(actions_gateway):
    """ab-suggestion-001: "还有缴费成功以后最好发个短信…" at the suggestion's phone question (heard as a
    bill query) paused the suggestion and asked for a 户号."""
    from actions.common import ActionPauseForm

    slots = {"feedback_type": "suggestion", "feedback_content": "网上国网能不能搞个老年版", "requested_slot": "contact_phone"}
    tracker = make_tracker("还有缴费成功以后最好发个短信 现在啥也不发 老人家心里没底", intent="query_bill",
                           active_loop="feedback_form", slots=slots)
    events, messages = await run_action(ActionPauseForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_suggestion_also_noted"]
    content = slot_values(events)["feedback_content"]
    assert content.endswith("；还有缴费成功以后最好发个短信 现在啥也不发 老人家心里没底")
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "feedback_form"}
    # (Rasa runs the interrupted form again: it asks its question without reading the message again.)

    tracker = make_tracker("先帮我查下电费 户号3201000013", intent="query_bill", active_loop="feedback_form", slots=slots)
    events, messages = await run_action(ActionPauseForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_form_paused"]


@pytest.mark.asyncio
async def test_a_question_on_the_outage_just_told_is_answered_not_repeated(actions_gateway):
    """aa-outage-003/004: "哪一天 停多久", "晚上停啊 那冰柜里的东西要不要拿出来 停到早上几点" got the
    same notice word for word."""
    from actions import api_client
    from actions.common import format_time
    from actions.faults import ActionQueryOutage
    from tests.support.dialogue import response_text

    outage = (await api_client.find_outages(address="鼓楼区湖南路42号"))[0]
    told = f"您所在的区域有计划停电安排：时间为{format_time(outage['start'])}至{format_time(outage['end'])}。"
    from actions.faults import said_span

    assert said_span({"start": "2026-12-06T08:00:00+08:00", "end": "2026-12-06T17:00:00+08:00"})[1] == "17:00"
    prior = [{"event": "user", "text": "湖南路这边是不是要停电"}, {"event": "bot", "text": told}]
    tracker = make_tracker("晚上停啊 那冰柜里的东西要不要拿出来 停到早上几点", intent="query_outage",
                           prior_events=prior, slots={"address": "鼓楼区湖南路42号"})
    _, messages = await run_action(ActionQueryOutage(), tracker)
    names = [m.get("response") for m in messages]
    assert names[:2] == ["utter_outage_span", "utter_outage_fridge_tip"] and "utter_outage_planned" not in names
    assert messages[0]["end"] == said_span(outage)[1] and float(messages[0]["hours"]) > 0
    assert "冰柜" in response_text("utter_outage_fridge_tip")

    tracker = make_tracker("湖南路这边是不是要停电", intent="query_outage", slots={"address": "鼓楼区湖南路42号"})
    _, messages = await run_action(ActionQueryOutage(), tracker)
    assert messages[0].get("response") == "utter_outage_planned"


def test_days_ahead_are_said_as_customers_plan_by_them():
    from datetime import datetime

    from actions.common import SHANGHAI, format_time

    now = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)
    assert format_time("2026-12-07T22:00:00+08:00", now) == "大后天（12月7日） 22:00"
    assert format_time("2026-12-09T08:00:00+08:00", now) == "12月9日（周三） 08:00"
    assert format_time("2026-12-20T08:00:00+08:00", now) == "12月20日 08:00"


@pytest.mark.asyncio
async def test_a_complaint_said_after_a_stop_is_registered_with_its_words(actions_gateway):
    """aa-complaint-003: "算了不查了 我就是觉得表有问题 直接给我登记投诉吧" after the bill got
    "好的。还有其他可以帮您的吗？"."""
    from actions.common import ActionCancelForm

    prior = [{"event": "user", "text": "户号3201000031 手机尾号4036"},
             {"event": "bot", "text": "近12个月共用电43527度，电费27935.62元。"}]
    tracker = make_tracker("算了不查了 我就是觉得表有问题 直接给我登记投诉吧", intent="cancel", prior_events=prior)
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_cancelled_then"]
    assert slot_values(events)["feedback_type"] == "complaint"
    assert slot_values(events)["feedback_content"] == "我就是觉得表有问题 直接给我登记投诉吧"
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "feedback_form"}


@pytest.mark.asyncio
async def test_an_answer_taken_in_is_no_second_failure_to_understand(actions_gateway):
    """aa-bill-004: "哦 夏天开空调开多了 明白了" after the tier prices got "抱歉，我还是没能理解您的问题"."""
    from actions.handoff import ActionDefaultFallback

    prior = [{"event": "user", "text": "阶梯是咋回事"},
             {"event": "bot", "text": "居民用电按年阶梯计价（江苏）：一年2760千瓦时以内每度0.5283元…"}]
    tracker = make_tracker("哦 夏天开空调开多了 明白了", intent="nlu_fallback", prior_events=prior)
    _, messages = await run_action(ActionDefaultFallback(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ok_no_problem"]
    tracker = make_tracker("哦 那我家怎么还没电啊", intent="nlu_fallback", prior_events=prior)
    _, messages = await run_action(ActionDefaultFallback(), tracker)
    assert [m.get("response") for m in messages] != ["utter_ok_no_problem"]


def test_a_month_counted_back_is_that_month():
    """aa-bill-004: "三个月前那个电费怎么两百七十多" showed last month's bill."""
    from datetime import datetime

    from actions.common import SHANGHAI, normalize_period

    now = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)
    assert normalize_period("三个月前", now) == "2026-09"
    assert normalize_period("两个月以前", now) == "2026-10"
    assert normalize_period("12个月前", now) == "2025-12"
    assert normalize_period("上个月", now) == "2026-11"


@pytest.mark.asyncio
async def test_the_bill_of_a_month_counted_back_is_shown(actions_gateway):
    from actions.bills import ActionQueryBill
    from actions.common import normalize_period

    tracker = make_tracker("三个月前那个电费怎么两百七十多 是不是算错了", intent="query_bill",
                           slots={"identity_verified": True, "account_no": "3201000007", "verified_account_no": "3201000007"})
    _, messages = await run_action(ActionQueryBill(), tracker)
    shown = [m for m in messages if m.get("response", "").startswith("utter_bill")]
    from actions.common import period_label

    assert shown and period_label(normalize_period("三个月前")) in str(shown[0])


@pytest.mark.asyncio
async def test_a_proved_customer_doubting_the_usage_hears_the_figures_with_the_complaint(actions_gateway):
    """ab-complaint-002: "我一个人住一个月两百多度 我家电表是不是会自己发电啊" (identity proved) was
    registered, the customer had to say "262度？" themselves."""
    from actions.common import AMOUNT_DOUBTED
    from actions.feedback import ActionSubmitFeedback

    slots = {"feedback_type": "complaint", "feedback_content": "我一个人住一个月两百多度 我家电表是不是会自己发电啊",
             "identity_verified": True, "account_no": "3201000013", "verified_account_no": "3201000013"}
    events, messages = await run_action(ActionSubmitFeedback(), make_tracker("户号3201000013 5821", slots=slots))
    assert "utter_feedback_registered_as" in [m.get("response") for m in messages]
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_query_bill"}
    assert not AMOUNT_DOUBTED.search("抄表员态度很差 说话很冲")


@pytest.mark.asyncio
async def test_a_complaint_about_him_takes_the_story_of_him_told_before(actions_gateway):
    """ab-mixed-004: "我要投诉他 这种人怎么当的工作人员" was registered without who he was and what he did."""
    from actions.bills import ValidateBillForm

    prior = [{"event": "user", "text": "上个月电费多少 户号3201000017"},
             {"event": "user", "text": "还没交？上次来催费那个人说话很冲 骂骂咧咧的 什么态度啊"}]
    tracker = make_tracker("我要投诉他 这种人怎么当的工作人员", intent="complain", form="bill_form", prior_events=prior,
                           slots={"account_no": "3201000017", "requested_slot": "phone_last4"})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events)["feedback_content"] == \
        "还没交？上次来催费那个人说话很冲 骂骂咧咧的 什么态度啊；我要投诉他 这种人怎么当的工作人员"
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "feedback_form"}


@pytest.mark.asyncio
@pytest.mark.parametrize("said, ranking, reason", [
    ("你好我是横溪大街叶记餐馆的 上个月电费多少钱？顺便问下能不能微信交 店里忙没空跑营业厅",
     [("nlu_fallback", 0.5), ("complain", 0.41), ("query_bill", 0.36)], False),
    ("三个月前那个电费怎么二百多块 咋回事啊", [("nlu_fallback", 0.5), ("complain", 0.27), ("faq", 0.21)], True),
])
async def test_the_bill_asked_for_or_doubted_in_so_many_words_is_looked_up(actions_gateway, said, ranking, reason):
    """ac-bill-003/004: "…上个月电费多少钱？" (model unsure) was offered as a complaint; "三个月前那个电费
    怎么二百多块" got "这个我现在答不上来"."""
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = make_tracker(said, intent="nlu_fallback", confidence=0.5)
    tracker.latest_message["intent_ranking"] = [{"name": n, "confidence": c} for n, c in ranking]
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "bill_form"}
    assert (slot_values(events).get("bill_query") == "reason") is reason
    assert "utter_ask_affirm_request" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_arrears_paid_remembered_in_the_middle_of_a_repair_is_a_reconnection(actions_gateway):
    """ac-arrears_reconnect-002: "哦 想起来了 前两个月电费没交 收到过短信说要停电 昨天去信用社交掉了"
    at the repair's phone question was kept as more of the fault and a crew was promised in 120 minutes."""
    from actions.faults import ValidateFaultForm

    said = "哦 想起来了 前两个月电费没交 收到过短信说要停电 昨天去信用社交掉了"
    tracker = make_tracker(said, intent="report_fault", form="fault_form",
                           slots={"address": "溧水晶桥枫香岭村57号", "fault_description": "屋里没电了",
                                  "repair_area_type": "remote", "requested_slot": "contact_phone"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_answer_faq"}


@pytest.mark.asyncio
async def test_damage_from_a_fault_that_is_over_is_a_claim_not_a_repair(actions_gateway):
    """ac-complaint-003: "…电压老是不稳…现在是好了 但是我店里烧坏了一台切割机 这个你们管不管" opened a
    repair, then "我要投诉 还要赔偿" filed the repair and the complaint."""
    from actions.faults import ValidateFaultForm

    said = "前两天横溪大街这边电压老是不稳 灯一闪一闪的 现在是好了 但是我店里烧坏了一台切割机 这个你们管不管"
    events, messages = await run_action(ValidateFaultForm(), make_tracker(said, intent="report_fault", form="fault_form"))
    assert len(messages) == 1 and "赔" in messages[0].get("text", "") and "7天内" in messages[0]["text"]
    assert slot_values(events)["faq_topic"] == "appliance_damage"
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_listen"}

    tracker = make_tracker("我要投诉 还要赔偿", intent="complain", form="fault_form",
                           slots={"fault_description": said, "requested_slot": "contact_phone"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_complaint_instead_of_repair"]
    assert slot_values(events)["feedback_type"] == "complaint" and events[-1]["name"] == "feedback_form"


@pytest.mark.asyncio
async def test_an_account_number_right_after_a_bill_question_not_understood_is_for_that_bill(actions_gateway):
    """ac-bill-003: "户号三二零一零零零零一三" after "三个月前那个电费怎么二百多块" (not understood) got
    "请问您是想查电费、报修故障，还是办理用电业务？", and the bill shown was last month's."""
    from actions.bills import ActionQueryBill
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": "三个月前那个电费怎么二百多块 咋回事啊"},
             {"event": "bot", "text": "抱歉，这个我现在答不上来。"}]
    tracker = make_tracker("户号3201000013", intent="inform", prior_events=prior,
                           entities=[{"entity": "account_no", "value": "3201000013"}])
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert events == [{"event": "followup", "timestamp": None, "name": "bill_form"}]
    tracker = make_tracker("不对，是5821，我记反了", intent="inform", prior_events=prior,
                           slots={"identity_verified": True, "account_no": "3201000013", "verified_account_no": "3201000013"})
    _, messages = await run_action(ActionQueryBill(), tracker)
    from actions.common import normalize_period, period_label

    month = period_label(normalize_period("三个月前"))
    assert month in str([m for m in messages if m.get("response", "").startswith("utter_bill")][0])


@pytest.mark.asyncio
async def test_how_to_pay_asked_with_the_bill_is_answered_after_it(actions_gateway):
    """ac-bill-004: "上个月电费多少钱？顺便问下能不能微信交" got the (paid) bill and nothing on paying."""
    from actions.bills import ASKS_WHERE_TO_PAY, ActionQueryBill

    said = "你好我是横溪大街叶记餐馆的 上个月电费多少钱？顺便问下能不能微信交 店里忙没空跑营业厅"
    prior = [{"event": "user", "text": said}, {"event": "active_loop", "name": "bill_form"},
             {"event": "active_loop", "name": None}]
    tracker = make_tracker("号码后四位3530", intent="inform", prior_events=prior, slots={
        "identity_verified": True, "account_no": "3201000033", "verified_account_no": "3201000033"})
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert messages[0].get("response") == "utter_bill_details"
    assert any("微信" in (m.get("text") or "") and "网上国网" in (m.get("text") or "") for m in messages)
    assert not ASKS_WHERE_TO_PAY.search("上个月电费交了多少") and ASKS_WHERE_TO_PAY.search("在哪交啊")


def test_whether_a_months_bill_is_paid_is_a_bill_question():
    """ac-mixed-001: "…把这个户销掉 上个月的交了没": the account closing was filed, the bill never told."""
    from actions.faults import BILL_ASKED

    assert BILL_ASKED.search("我要搬走了 想把电费结清然后把这个户销掉 上个月的交了没")
    assert not BILL_ASKED.search("我要搬走了 想把这个户销掉")


@pytest.mark.asyncio
async def test_a_sentence_that_names_nobody_to_talk_to_is_no_hand_off(actions_gateway):
    """ab-info-001: "我年纪大了手机上弄不来 就想去窗口交" (NLU: a person, made sure by the fallback's
    rephrasing) opened a callback ticket."""
    from actions.handoff import ActionHandoff

    tracker = make_tracker("我年纪大了手机上弄不来 就想去窗口交", intent="request_human", confidence=1.0)
    events, messages = await run_action(ActionHandoff(), tracker)
    assert events == [{"event": "followup", "timestamp": None, "name": "action_default_ask_affirmation"}]
    events, _ = await run_action(ActionHandoff(), make_tracker("帮我转人工", intent="request_human", confidence=1.0))
    assert events[-1]["name"] == "action_listen"


@pytest.mark.asyncio
async def test_who_to_ask_about_what_was_just_told_is_whose_it_is(actions_gateway):
    """v-info-003 (once the FAQ guard kept questions as faq): "不归你们管？那我找谁" after "小区门口路灯
    坏了一个礼拜了" got "抱歉，这个我现在答不上来"."""
    from actions.faq import ActionAnswerFaq

    prior = [{"event": "user", "text": "小区门口路灯坏了一个礼拜了"},
             {"event": "bot", "text": "请告诉我故障的详细地址"}]
    tracker = make_tracker("不归你们管？那我找谁", intent="faq", prior_events=prior)
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert slot_values(events)["faq_topic"] == "street_light"
    assert any("12345" in (m.get("text") or "") or "路灯" in (m.get("text") or "") for m in messages)


@pytest.mark.asyncio
async def test_what_a_repair_costs_asked_inside_it_is_answered(actions_gateway):
    """ac-repair-006: "师傅上门修要收钱吗？租客那边要问我的" at the area question got "非常理解您着急的心情"."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("师傅上门修要收钱吗？租客那边要问我的", intent="faq", form="fault_form",
                           slots={"address": "雨花南路238号梅园新村13栋2004室", "fault_description": "租客说没电了",
                                  "requested_slot": "repair_area_type"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert len(messages) == 1 and "utter_empathy_hurry" != messages[0].get("response")
    assert slot_values(events)["requested_slot"] == "repair_area_type"


@pytest.mark.asyncio
async def test_a_phone_given_at_another_question_of_a_repair_is_no_hand_off(actions_gateway):
    """ac-repair-006: "我的电话180… 租客电话我不方便给 你们先联系我" at the area question opened a callback."""
    from actions.handoff import ActionHandoff

    tracker = make_tracker("我的电话18012486695 租客电话我不方便给 你们先联系我", intent="request_human",
                           form="fault_form", slots={"requested_slot": "repair_area_type"})
    events, _ = await run_action(ActionHandoff(), tracker)
    assert events == [{"event": "followup", "timestamp": None, "name": "fault_form"}]


@pytest.mark.asyncio
async def test_how_a_tariff_works_is_answered_without_an_account(actions_gateway):
    """ac-application-005: "峰谷电是怎么收费的 我想了解下" (NLU: a bill query) asked for a 户号."""
    from actions.bills import ValidateBillForm

    events, messages = await run_action(ValidateBillForm(), make_tracker(
        "峰谷电是怎么收费的 我想了解下", intent="query_bill", form="bill_form"))
    assert slot_values(events)["faq_topic"] == "peak_valley_prices" and len(messages) == 1
    events, messages = await run_action(ValidateBillForm(), make_tracker(
        "我家上个月峰谷电是怎么收费的", intent="query_bill", form="bill_form"))
    assert "faq_topic" not in slot_values(events)


@pytest.mark.asyncio
async def test_a_bill_doubted_in_a_bill_query_gets_the_reason(actions_gateway):
    """Tried as a user: "我家电费这两个月咋涨了这么多 以前一个月才八十多" (NLU: a bill query) got the plain bill."""
    from actions.bills import ActionQueryBill

    prior = [{"event": "user", "text": "你好 我家电费这两个月咋涨了这么多 以前一个月才八十多"},
             {"event": "active_loop", "name": "bill_form"}, {"event": "active_loop", "name": None}]
    tracker = make_tracker("尾号6695", intent="inform", prior_events=prior, slots={
        "identity_verified": True, "account_no": "3201000008", "verified_account_no": "3201000008", "bill_query": "details"})
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert messages[0].get("response") != "utter_bill_details"
