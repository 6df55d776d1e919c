"""Kinds of failure the blind batch x showed (customers who never saw our data)."""
import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values


# --- arrears: paid and still dark, suspected cut-offs, a grace period asked -----------------------

@pytest.mark.parametrize("text", [
    "电费我早上交过了咋还没来电 你们停电倒是快得很",
    "喂 我家电停掉了 儿子说是没交电费 他在手机上帮我交过了",
])
def test_paid_and_still_dark_is_the_customers_own_reconnection(text):
    from actions.bills import wants_reconnection

    assert wants_reconnection(text)


@pytest.mark.parametrize("text, suspected", [
    ("家里突然没电了 隔壁都有电 是不是把我停了", True),
    ("是不是给我家断了 邻居都有电", True),
    ("家里突然没电了 隔壁也没电", False),
])
def test_a_cut_off_suspected_in_plain_words_checks_the_bills_first(text, suspected):
    from actions.faults import SUSPECTED_ARREARS

    assert bool(SUSPECTED_ARREARS.search(text)) is suspected


@pytest.mark.asyncio
async def test_a_grace_period_asked_for_arrears_is_no_suggestion(actions_gateway):
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("收到短信说我们茶社欠费要停电 能不能宽限几天", intent="suggest", form="feedback_form",
                           slots={"feedback_type": "suggestion", "requested_slot": None})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_arrears_grace"]
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "bill_form"}
    assert slot_values(events).get("feedback_type") is None


@pytest.mark.asyncio
async def test_a_repair_paused_for_the_reconnection_check_is_not_resumed_when_it_is_the_arrears(actions_gateway):
    from actions.bills import ActionQueryBill

    slots = {"identity_verified": True, "verified_account_no": "3201000018", "account_no": "3201000018",
             "bill_query": "reconnect", "paused_form": "fault_form", "fault_description": "家里突然没电了"}
    events, messages = await run_action(ActionQueryBill(), make_tracker("那我现在微信上交 交了多久能来电", slots=slots))
    assert "utter_reconnection_still_owing" in [m.get("response") for m in messages]
    values = slot_values(events)
    assert "paused_form" in values and values["paused_form"] is None
    assert values.get("fault_description", "kept") is None


# --- a second request in the opening message is served after the first ----------------------------

def test_an_outage_question_with_a_bill_query_is_a_second_request():
    from actions.common import second_request

    assert second_request("明天长乐路停电是真的吗 顺便帮我查下电费", "bill_form") == "outage_form"
    assert second_request("帮我查下电费", "bill_form") is None


@pytest.mark.parametrize("opening, followed", [
    ("上个月电费多少 还有我想在车库装个充电桩", "bill_form"),
    ("想装光伏 卖的电钱怎么算", None),                      # money of the business, no bill asked
    ("我要装充电桩 对了明天停不停电", "outage_form"),
])
def test_an_application_is_followed_by_the_bill_or_outage_question_of_its_message(opening, followed):
    from actions.applications import bill_or_outage_asked_too

    events = bill_or_outage_asked_too(opening)
    assert (events[-1]["name"] if events else None) == followed


def test_a_meter_to_be_moved_in_plain_words_is_a_meter_move():
    from actions.applications import business_from_text

    assert business_from_text("我家装修 电表在墙当中碍事 能不能往外挪一挪") == "meter_move"
    assert business_from_text("电表坏了 走得快") is None


# --- a bare address after a fault told the message before does not bounce between actions --------

@pytest.mark.asyncio
async def test_an_address_after_a_fault_story_stays_in_the_repair(actions_gateway):
    from actions.faults import ValidateFaultForm

    prior = [{"event": "user", "text": "推上去了还是没电 我出门看了楼道灯也不亮 隔壁也没电"},
             {"event": "bot", "text": "简单说：表前归我们，表后归您。"}]
    tracker = make_tracker("玄武区中山路18号3栋501", intent="report_fault", form="fault_form", prior_events=prior,
                           entities=[{"entity": "address", "value": "玄武区中山路18号3栋501"}],
                           slots={"requested_slot": None})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert not any(e.get("name") == "action_answer_bare_detail" for e in events)


# --- a phone in Chinese numerals, then the holder's name: the account found as 95598 would ---------

def test_a_mobile_spoken_in_chinese_numerals_is_found():
    from actions.common import find_mobile

    assert find_mobile("户号在哪看啊不知道 电话一三九九一八二三四二零 许记五金") == "13991823420"
    assert find_mobile("三二零一零零零零三七 尾号二四六八") is None  # a 户号 is no mobile


@pytest.mark.asyncio
async def test_the_name_after_the_help_finds_the_account_with_the_phone_said_before(actions_gateway):
    from actions.bills import ValidateBillForm

    prior = [{"event": "user", "text": "户号在哪看啊不知道 电话一三九九一八二三四二零 许记五金"},
             {"event": "bot", "text": "户号是您家电费账户的10位编号……告诉我户主姓名和登记的手机号",
              "metadata": {"utter_action": "utter_account_no_help"}}]
    tracker = make_tracker("许红霞 湖南路42号商铺", intent="inform", form="bill_form", prior_events=prior,
                           slots={"requested_slot": "account_no"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert values.get("account_no") == "3201000030" and values.get("identity_verified") is True
    assert [m.get("response") for m in messages] == ["utter_identity_verified_by_phone"]


@pytest.mark.asyncio
async def test_a_peak_valley_question_heard_as_an_outage_question_is_answered_not_asked_an_address(actions_gateway):
    from actions.faults import ValidateOutageForm

    tracker = make_tracker("峰谷电到底几点算谷电 我们白天都上班晚上才用电 开这个划得来伐", intent="query_outage",
                           form="outage_form", slots={"requested_slot": None})
    events, messages = await run_action(ValidateOutageForm(), tracker)
    assert len(messages) == 1 and ("21:00" in messages[0]["text"] or "晚上9点" in messages[0]["text"])
    assert {"event": "active_loop", "timestamp": None, "name": None} in events


@pytest.mark.asyncio
async def test_an_outage_question_still_asks_the_address(actions_gateway):
    from actions.faults import ValidateOutageForm

    tracker = make_tracker("谷电那边明天停不停电", intent="query_outage", form="outage_form", slots={"requested_slot": None})
    events, messages = await run_action(ValidateOutageForm(), tracker)
    assert not any("21:00" in (m.get("text") or "") or "晚上9点" in (m.get("text") or "") for m in messages)
    assert {"event": "active_loop", "timestamp": None, "name": None} not in events


@pytest.mark.asyncio
async def test_do_it_now_after_the_offer_starts_the_offered_application(actions_gateway):
    from actions.faq import ActionAnswerFaq

    prior = [{"event": "user", "text": "小区地库装充电桩要准备啥 物业要开证明吗"},
             {"event": "slot", "name": "offered_business", "value": "ev_charger"},
             {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交充电桩报装申请。"}]
    tracker = make_tracker("物业同意书我已经拿到了 车位也是买的 那直接帮我报装吧", intent="faq", prior_events=prior,
                           slots={"offered_business": "ev_charger"})
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert slot_values(events).get("business_type") == "ev_charger"
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "application_form"}


@pytest.mark.asyncio
@pytest.mark.parametrize("text, answered", [
    ("老号已经停了 收不到验证码 还能在app上改吗", True),
    ("建议你们app改手机号的流程简单一点", False),
])
async def test_a_question_on_the_answer_just_given_is_no_suggestion(actions_gateway, text, answered):
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "户号上登记的手机号换了 怎么改"},
             {"event": "slot", "name": "faq_topic", "value": "change_phone"},
             {"event": "bot", "text": "变更预留手机号：在“网上国网”App“户号管理”中修改。"}]
    tracker = make_tracker(text, intent="suggest", form="feedback_form", prior_events=prior,
                           slots={"feedback_type": "suggestion", "requested_slot": None, "faq_topic": "change_phone"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    followed = events[-1].get("name") if events and events[-1].get("event") == "followup" else None
    assert (followed == "action_answer_faq") is answered


@pytest.mark.parametrize("value, text, whole", [
    ("宁丹路122号", "人没事 就麻了一下 宁丹路122号翠竹园北门那个", "宁丹路122号翠竹园北门"),
    ("中华路66号", "中华路66号 家里没电", "中华路66号"),
])
def test_the_estate_and_its_gate_after_the_street_number_stay_in_the_address(value, text, whole):
    from actions.faults import whole_address

    assert whole_address(value, text) == whole


@pytest.mark.asyncio
async def test_power_gone_heard_as_a_bill_query_is_a_repair(actions_gateway):
    from actions.bills import ValidateBillForm

    tracker = make_tracker("同志啊 俺家电没得了 从早上到现在 冰箱里肉都要坏了", intent="query_bill", form="bill_form",
                           slots={"requested_slot": None}, candidates={"bill_query": "details"})  # the intent's mapping
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "fault_form"}
    assert slot_values(events)["fault_description"].startswith("同志啊")


@pytest.mark.asyncio
async def test_a_forgotten_bill_heard_as_a_fault_is_the_bill(actions_gateway):
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("我家好像有个月忘交了 户号3201000018", intent="report_fault", form="fault_form",
                           slots={"requested_slot": None}, entities=[{"entity": "account_no", "value": "3201000018"}])
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "bill_form"}


def test_a_customer_saying_power_was_cut_quickly_reports_no_hazard():
    from actions.faults import find_hazards, safety_response

    assert find_hazards("电费我早上交过了咋还没来电 你们停电倒是快得很") == []
    assert safety_response("电费我早上交过了咋还没来电 你们停电倒是快得很") is None
    assert safety_response("老人被电倒在地上了") == "utter_safety_shock"


def test_a_name_after_an_dialect_i_am_is_a_name():
    from actions.common import NAME_SAID

    assert NAME_SAID.search("谷里张溪社区103号 俺叫沈永刚").group(1) == "沈永刚"


@pytest.mark.asyncio
async def test_an_account_right_after_the_prepaid_answer_shows_the_customers_own_balance(actions_gateway):
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": "我家是预付费的吧 卡里还剩多少钱 会不会马上停啊"},
             {"event": "slot", "name": "faq_topic", "value": "prepaid_low_balance"},
             {"event": "bot", "text": "预付费（预购电）账户余额降到30元、20元时，会通过短信提醒您。"}]
    tracker = make_tracker("户号3201000038，电话后四位6627", intent="inform", prior_events=prior,
                           entities=[{"entity": "account_no", "value": "3201000038"}],
                           slots={"faq_topic": "prepaid_low_balance"})
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "bill_form"}


@pytest.mark.parametrize("text, topic", [
    ("家里厨房有个插座不来电了 别的灯啊空调都好的 这个归你们修还是我自己找电工啊", "ownership_boundary"),
    ("我家户号登记的是我家老头子的手机号 他那个号码不用了 怎么改成我的号啊", "change_phone"),
    ("家里没电了 你们来修一下", None),
])
def test_questions_whose_words_name_their_topic(text, topic):
    from actions.faq import topic_by_words

    assert topic_by_words(text) == topic


@pytest.mark.asyncio
async def test_a_generic_apply_word_after_an_offer_applies_for_the_offered_business(actions_gateway):
    from actions.applications import ValidateApplicationForm

    prior = [{"event": "user", "text": "小区地库装充电桩要准备啥 物业要开证明吗"},
             {"event": "slot", "name": "offered_business", "value": "ev_charger"},
             {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交充电桩报装申请。"}]
    tracker = make_tracker("物业同意书我已经拿到了 车位也是买的 那直接帮我报装吧", intent="apply_service",
                           form="application_form", prior_events=prior,
                           entities=[{"entity": "business_type", "value": "new_connection"}],
                           slots={"offered_business": "ev_charger", "requested_slot": None},
                           candidates={"business_type": "new_connection"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events).get("business_type") == "ev_charger"
    assert not any("新装" in (m.get("text") or "") for m in messages)


@pytest.mark.asyncio
async def test_a_question_heard_as_an_application_with_no_business_is_answered(actions_gateway):
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("我家户号登记的是我家老头子的手机号 他那个号码不用了 怎么改成我的号啊", intent="apply_service",
                           form="application_form", slots={"requested_slot": None})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert len(messages) == 1 and ("营业厅" in messages[0]["text"] or "网上国网" in messages[0]["text"])
    assert {"event": "active_loop", "timestamp": None, "name": None} in events
