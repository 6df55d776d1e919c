"""Kinds of failure found by the dev half's transcripts and the tenth and eleventh blind batches
(tests/conversations/dev/j_*.yml, k_*.yml), each against the real gateway with the demo data."""
from __future__ import annotations

import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values, texts


def followups(events) -> list:
    return [e.get("name") for e in events if e.get("event") == "followup"]


def responses(messages) -> list:
    return [m.get("response") for m in messages]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, followup", [
    ("算了 先不报修了 看看是不是欠费停的", "bill_form"),
    ("那还是不修了 中华路明天停不停电", "outage_form"),
])
async def test_a_stop_said_with_first_or_still_is_read_past_for_the_request_after_it(actions_gateway, said, followup):
    """"算了 先不报修了 看看是不是欠费停的" cancelled the repair, then said "这个问题我暂时回答
    不了": "先不报修了" was not read as part of the stop, so the bill check it asks for never came."""
    from actions.common import ActionCancelForm

    events, messages = await run_action(ActionCancelForm(), make_tracker(
        said, intent="query_bill", form="fault_form", slots={"fault_description": "家里没电了"}))
    assert followups(events) == [followup]
    assert "utter_cannot_answer" not in responses(messages)


@pytest.mark.asyncio
@pytest.mark.parametrize("said, shown", [
    ("等等，先问下你们这个电费能用微信交吗", "微信"),
    ("欠多少钱 咋交 我不会弄那个app", "营业厅"),
])
async def test_how_to_pay_asked_at_the_identity_question_is_answered(actions_gateway, said, shown):
    """a-bill-012, carrears-002: how to pay, asked while the bill form waits for the last four
    digits (NLU hears a bill query, the selector is unsure), got "这个问题我这里答不上来"."""
    from actions.bills import ValidateBillForm

    tracker = make_tracker(said, intent="query_bill", form="bill_form",
                           slots={"requested_slot": "phone_last4", "account_no": "3201000009"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert "utter_question_unanswered_in_form" not in responses(messages)
    assert shown in "".join(texts(messages))
    assert slot_values(events).get("phone_last4") is None


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["用了多少度啊", "那我欠了多少钱啊"])
async def test_a_bill_figure_asked_before_the_identity_is_proved_is_promised_after_it(actions_gateway, said):
    """cbill-004: "用了多少度啊" at the identity question got "这个问题我这里答不上来"; it is what
    the bill shows once the customer is proved."""
    from actions.bills import ValidateBillForm

    tracker = make_tracker(said, intent="query_bill", form="bill_form",
                           slots={"requested_slot": "phone_last4", "account_no": "3201000033"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert "utter_bill_after_identity" in responses(messages)
    assert "utter_question_unanswered_in_form" not in responses(messages)
    assert slot_values(events).get("requested_slot") == "phone_last4"


@pytest.mark.asyncio
async def test_asking_to_apply_again_at_a_progress_query_starts_the_application_talked_about(actions_gateway):
    """cprogress-002: "查不到？…那你重新帮我申请一个吧" at the progress query's identity question
    got "这个问题我这里答不上来"; the charger application asked about is applied for again."""
    from actions.progress import ValidateProgressForm

    prior = [{"event": "user", "text": "上礼拜申请的充电桩 到现在没人联系我 进度咋样了",
              "parse_data": {"intent": {"name": "query_progress"}}}]
    tracker = make_tracker("查不到？可能是我老婆用她手机弄的 那你重新帮我申请一个吧", intent="apply_service",
                           form="progress_form", prior_events=prior,
                           slots={"requested_slot": "phone_last4", "account_no": "3201000016"})
    events, messages = await run_action(ValidateProgressForm(), tracker)
    assert followups(events) == ["application_form"]
    assert slot_values(events).get("business_type") == "ev_charger"
    assert "utter_switch_to_application" in responses(messages)


@pytest.mark.asyncio
async def test_asking_to_report_again_at_a_progress_query_starts_a_repair(actions_gateway):
    """cprogress-001: "那你再给我报一遍 湖熟街道和平社区81号 家里还是没电" at the progress query
    kept asking for the last four digits; the repair is reported again."""
    from actions.progress import ValidateProgressForm

    tracker = make_tracker("那你再给我报一遍 湖熟街道和平社区81号 家里还是没电", intent="report_fault",
                           form="progress_form", slots={"requested_slot": "phone_last4", "account_no": "3201000022"})
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert followups(events) == ["fault_form"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, errand", [
    ("好的 我去喊人不让靠近", True),
    ("好 我让女儿带我去", True),
    ("我要找人工", False),
])
async def test_the_customers_own_errand_after_a_filing_is_no_hand_off(actions_gateway, said, errand):
    """b-hazard-001, cinfo-004: "好的 我去喊人不让靠近" right after the urgent repair was
    registered, heard as a wish for a person, opened a callback ticket."""
    from actions.handoff import ActionHandoff

    prior = [{"event": "user", "text": "我电话13605187724", "parse_data": {"intent": {"name": "inform"}}},
             {"event": "bot", "text": "已为您登记紧急故障报修，工单号：BX20261203001。"}]
    events, messages = await run_action(ActionHandoff(), make_tracker(said, intent="request_human", confidence=0.76,
                                                                      prior_events=prior))
    assert ("utter_own_errand_ok" in responses(messages)) is errand
    if errand:
        assert events == []


@pytest.mark.asyncio
@pytest.mark.parametrize("said, business", [
    ("新能源车到了 想在小区地下车库自己车位上装个充电桩 物业说要先找供电公司报装", "ev_charger"),
    ("店面要重新装修 电表位置碍事 能不能给挪一下", "meter_move"),
    ("新房子要报装用电", "new_connection"),
])
async def test_the_business_the_words_name_wins_over_a_generic_new_connection(actions_gateway, said, business):
    """e-application-04, application-d05: NLU's generic "报装" entity (a new connection) filed
    a charger and a meter move as new connections."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker(said, intent="apply_service", form="application_form",
                           entities=[{"entity": "business_type", "value": "new_connection"}],
                           candidates={"business_type": "new_connection"})
    from tests.support.dialogue import DOMAIN, RenderingDispatcher

    result = await ValidateApplicationForm().validate_business_type("new_connection", RenderingDispatcher(tracker),
                                                                    tracker, DOMAIN)
    assert result["business_type"] == business


@pytest.mark.asyncio
async def test_can_i_pay_for_someone_heard_as_a_suggestion_is_answered_not_filed(actions_gateway):
    """f-bill-04: "能不能我在网上替她交 她不会用手机" after the mother's bill was filed as a
    suggestion; it asks how to pay for her."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "手机号后四位6985", "parse_data": {"intent": {"name": "inform"}}},
             {"event": "bot", "text": "2026年11月电费账单（户号尾号0018）：\n· 电费金额：106.65 元"}]
    tracker = make_tracker("能不能我在网上替她交 她不会用手机", intent="suggest", form="feedback_form",
                           prior_events=prior, candidates={"feedback_type": "suggestion"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert "网上国网" in "".join(texts(messages))
    assert slot_values(events).get("feedback_type") is None
    assert followups(events) == ["action_listen"]


@pytest.mark.asyncio
async def test_a_tip_off_told_with_a_fault_is_kept_for_after_the_repair(actions_gateway):
    """e-mixed-13: "我要举报 …工地私自从我们楼的电箱里接线 现在我们这栋楼都没电了 两个事一起说"
    got the repair only; the tip-off was lost. It is taken after the repair, in these words."""
    from actions.faults import ValidateFaultForm

    said = "我要举报 我们小区旁边那个工地私自从我们楼的电箱里接线 现在我们这栋楼都没电了 两个事一起说"
    events, _ = await run_action(ValidateFaultForm(), make_tracker(said, intent="report_fault", form="fault_form"))
    slots = slot_values(events)
    assert slots.get("feedback_type") == "tip_off"
    assert slots.get("feedback_content") == said
    assert slots.get("fault_description") == said  # the repair goes on


@pytest.mark.asyncio
async def test_a_fault_alone_carries_no_tip_off(actions_gateway):
    from actions.faults import ValidateFaultForm

    events, _ = await run_action(ValidateFaultForm(), make_tracker("我们这栋楼都没电了 快派人来", intent="report_fault",
                                                                   form="fault_form"))
    assert slot_values(events).get("feedback_type") is None


@pytest.mark.asyncio
async def test_a_story_heard_as_a_wish_for_a_person_inside_a_form_stays_in_the_form(actions_gateway):
    """j-hazard-001, k-complaint-002: "我让小孩都别过去了" at the hazard repair's phone question
    (request_human at 0.52) went form → hand-off → form … until Rasa gave up: the two-stage
    fallback ended the form and the urgent repair was never filed."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("我让小孩都别过去了", intent="request_human", confidence=0.52, form="fault_form",
                           slots={"requested_slot": "contact_phone", "hazard": True,
                                  "address": "江宁区横溪街道石塘村 村口小卖部旁边", "repair_area_type": "rural",
                                  "fault_description": "电线断了冒火星"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert "action_handoff" not in followups(events)
    assert slot_values(events).get("requested_slot") == "contact_phone"


def test_an_unclear_message_inside_every_form_goes_to_the_form():
    """The two-stage fallback inside a form ended it; each form keeps an unclear message."""
    import yaml

    from tests.support.dialogue import DOMAIN

    rules = yaml.safe_load(open("data/rules/interruptions.yml", encoding="utf-8"))["rules"]
    kept = {rule["condition"][0]["active_loop"] for rule in rules
            if rule.get("steps", [{}])[0].get("intent") == "nlu_fallback"
            and rule["steps"][1].get("action") == rule["condition"][0]["active_loop"]}
    assert kept == set(DOMAIN["forms"])


@pytest.mark.asyncio
async def test_a_phone_left_for_an_earlier_ticket_is_used_for_the_next_one(actions_gateway):
    """k-mixed-011, k-mixed-013, k-mixed-006: a praise after a tip-off (a complaint after a repair)
    asked again for the phone left a minute before; the customer had moved on."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "我电话13327420710", "parse_data": {"intent": {"name": "inform"}}},
             {"event": "bot", "text": "您的举报已登记，编号：JB20261203003。"}]
    tracker = make_tracker("另外再表扬一下你们上个月来长江苑换表的小伙子 态度真好 名字我忘了", intent="praise",
                           form="feedback_form", prior_events=prior, candidates={"feedback_type": "praise"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events).get("contact_phone") == "13327420710"
    assert "133****0710" in "".join(texts(messages))


@pytest.mark.asyncio
@pytest.mark.parametrize("said, name", [
    ("联系人赵立群，18793805895", "赵立群"),
    ("联系人刘工 18305187764", "刘工"),
    ("单位是南京华宁纺织有限公司，户号3201000036", "南京华宁纺织有限公司"),
])
async def test_a_contact_person_or_a_company_answers_who_applies(actions_gateway, said, name):
    """j-app-003, j-app-013, k-application-003, k-mixed-020: a factory's "联系人刘工 183…" or
    "单位是…有限公司" got "请问申请人的姓名是？" again and again; no application was filed."""
    from actions.applications import ValidateApplicationForm
    from tests.support.dialogue import DOMAIN, RenderingDispatcher

    tracker = make_tracker(said, intent="inform", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "capacity_change"})
    form = ValidateApplicationForm()
    extracted = await form.extract_applicant_name(RenderingDispatcher(tracker), tracker, DOMAIN)
    assert extracted == {"applicant_name": name}
    checked = await form.validate_applicant_name(name, RenderingDispatcher(tracker), tracker, DOMAIN)
    assert checked == {"applicant_name": name}


@pytest.mark.asyncio
@pytest.mark.parametrize("heard, said, stored", [
    ("秦淮区龙蟠中路141号", "户号是3201000013，地址秦淮区龙蟠中路141号翠竹园1栋1301室", "秦淮区龙蟠中路141号翠竹园1栋1301室"),
    ("区112", "哦 地址是建邺区嘉陵江东街18号 奥体名都地下车库B区112车位", "建邺区嘉陵江东街18号 奥体名都地下车库B区112车位"),
])
async def test_an_application_keeps_the_whole_address_said(actions_gateway, heard, said, stored):
    """j-app-005, k-mixed-010, k-mixed-005: NLU heard part of the address; the application was
    filed for "秦淮区龙蟠中路141号" (no building or flat) and for "区112"."""
    from actions.applications import ValidateApplicationForm
    from tests.support.dialogue import DOMAIN, RenderingDispatcher

    tracker = make_tracker(said, intent="inform", form="application_form",
                           slots={"requested_slot": "address", "business_type": "name_transfer"})
    result = await ValidateApplicationForm().validate_address(heard, RenderingDispatcher(tracker), tracker, DOMAIN)
    assert result.get("address") == stored


@pytest.mark.asyncio
@pytest.mark.parametrize("said, prior_bot", [
    ("村里电工说是欠费给停了，我刚刚在微信上都交掉了，什么时候能来电啊，奶奶一个人在家晚上黑灯瞎火的",
     "您有 1 个月的电费逾期未缴（2026年10月），合计 162.91 元，请尽快缴纳。"),
    ("那需要我报修吗 还是等着就行",
     "查到了：2026年11月的电费共 80.83 元还没有交，停电是欠费造成的，不是线路故障。交清后24小时内会恢复供电。"),
])
async def test_paid_arrears_opened_as_a_repair_is_the_reconnection_answer(actions_gateway, said, prior_bot):
    """j-arrears-002, j-arrears-004: after the arrears were shown, "交掉了 什么时候能来电" and
    "那需要我报修吗 还是等着就行" opened repairs with a 45/90-minute crew promise."""
    from actions.faults import ValidateFaultForm

    prior = [{"event": "user", "text": "2468", "parse_data": {"intent": {"name": "inform"}}},
             {"event": "bot", "text": prior_bot}]
    events, _ = await run_action(ValidateFaultForm(), make_tracker(said, intent="report_fault", form="fault_form",
                                                                   prior_events=prior))
    assert followups(events) == ["action_answer_faq"]


@pytest.mark.asyncio
async def test_arrears_suspected_at_the_phone_question_checks_the_bills(actions_gateway):
    """k-mixed-002: "哦对了 是不是因为电费没交啊 好像两个月都没交" at the repair's phone question
    got "这个问题我这里答不上来" and a crew was sent to a house cut for arrears."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("哦对了 是不是因为电费没交啊 好像两个月都没交", intent="query_bill", form="fault_form",
                           slots={"requested_slot": "contact_phone", "address": "横溪石塘村70号",
                                  "account_no": "3201000018", "fault_description": "家里又没电了 这回一整天了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert followups(events) == ["bill_form"]
    assert slot_values(events).get("bill_query") == "suspect_arrears"
    assert "fault_description" not in slot_values(events)  # the story told first is kept


@pytest.mark.parametrize("said, street", [
    ("行 晓得了。还有个事 楼下贴了张条子说明天长乐路停电 几点到几点啊", "长乐路"),
    ("帮我查下电费 顺便问下明天长乐路那边是不是要停电", "长乐路"),
    ("鼓楼区湖南路这几天要停电吗", "湖南路"),
    ("龙蟠中路要停电吗", "龙蟠中路"),
    ("我家明天停电吗", None),
    ("马路上停电了", None),
])
def test_the_street_of_an_outage_question_is_found_anywhere_in_it(said, street):
    """k-mixed-001, mixed-d01: "…说明天长乐路停电 几点到几点啊" asked for the address again."""
    from actions.faults import street_before_outage_words

    assert street_before_outage_words(said) == street


@pytest.mark.asyncio
async def test_a_stop_right_after_the_callback_withdraws_it_and_the_question_is_answered(actions_gateway):
    """k-mixed-007, a-handoff-004: "哎算了 不用了 就问个简单的 营业厅周六开不开门" right after the
    desk-closed callback left the callback open; staff would call someone who no longer wants it."""
    from actions import api_client
    from actions.faq import ActionAnswerFaq

    conversation = "test-callback-withdrawn"
    ticket = await api_client.create_ticket({"request_key": f"test:{conversation}", "type": "callback",
                                             "summary": "回电：客户要求转人工", "channel": "web",
                                             "conversation_id": conversation})
    prior = [{"event": "user", "text": "转人工", "parse_data": {"intent": {"name": "request_human"}}},
             {"event": "action", "name": "action_handoff"}]
    tracker = make_tracker("哎算了 不用了 就问个简单的 营业厅周六开不开门", intent="faq", sender_id=conversation,
                           prior_events=prior)
    _, messages = await run_action(ActionAnswerFaq(), tracker)
    said = "".join(texts(messages))
    assert ticket["ticket_no"] in said and "撤销" in said
    assert (await api_client.get_ticket(ticket["ticket_no"]))["status"] == "cancelled"


@pytest.mark.parametrize("said, topic", [
    ("上上个月才八十几 怎么一下翻了一倍 阶梯电价到底怎么算的你给我讲清楚", "tiered_tariff"),
    ("改了以后白天是不是更贵", "peak_valley_prices"),
    ("谷电是几点到几点啊", "peak_valley_hours"),
    ("营业厅周六开不开门", "business_hall_weekend"),
    ("我家电表不走字了", None),
])
def test_questions_whose_words_name_the_topic(said, topic):
    from actions.faq import topic_by_words

    assert topic_by_words(said) == topic


@pytest.mark.asyncio
async def test_a_documents_question_right_after_a_filing_is_about_that_business(actions_gateway):
    """j-app-005: "需要死亡证明吗" right after the name transfer was filed got the EV charger's
    documents (the selector's guess at 0.11)."""
    from actions.handoff import ActionDefaultAskAffirmation

    prior = [{"event": "user", "text": "我母亲叫陈桂兰 13770268814", "parse_data": {"intent": {"name": "inform"}}},
             {"event": "bot", "text": "您的过户申请已提交，工单号：YK20261203004。"}]
    tracker = make_tracker("需要死亡证明吗", intent="nlu_fallback", confidence=0.25, prior_events=prior)
    tracker.latest_message["response_selector"] = {"faq": {"response": {
        "intent_response_key": "faq/docs_ev_charger", "utter_action": "utter_faq/docs_ev_charger", "confidence": 0.11}}}
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert slot_values(events).get("faq_topic") == "docs_name_transfer"
    assert "充电桩" not in "".join(texts(messages))


@pytest.mark.parametrize("said, business", [
    ("申请充点桩", "ev_charger"),
    ("我家一楼原来租给人家开店的 现在收回来自己住了 电价能不能从商业的改回居民的", "tariff_change"),
])
def test_business_words_in_typos_and_in_the_customers_own_words(said, business):
    """j-app-008, j-app-011: "充点桩" and "从商业的改回居民的" named no business; the form asked
    "请问您要办理哪项业务？" until the customer gave up."""
    from actions.applications import business_from_text

    assert business_from_text(said) == business


@pytest.mark.asyncio
async def test_the_identity_proved_at_an_outage_question_gives_its_place(actions_gateway):
    """j-arrears-001: "户号3201000030 电话尾号3420" at the outage question's address passed the
    check and the address was asked for again."""
    from actions.faults import ValidateOutageForm

    tracker = make_tracker("户号3201000030 电话尾号3420", intent="inform", form="outage_form",
                           slots={"requested_slot": "address"})
    events, _ = await run_action(ValidateOutageForm(), tracker)
    slots = slot_values(events)
    assert slots.get("identity_verified") is True
    assert slots.get("address") and slots.get("address_from_account") is True


@pytest.mark.asyncio
@pytest.mark.parametrize("said, checked", [
    ("上个月电费181块？？我家就两口人 你们是不是抄错表了！", True),
    ("我家这个月一半时间都回娘家了 根本没人用电 电费肯定是抄错了", False),
])
async def test_whether_the_bill_is_wrong_asked_is_checked_said_for_sure_is_a_complaint(actions_gateway, said, checked):
    """k-bill-002: "上个月电费181块？？…你们是不是抄错表了！" was filed as a complaint before the
    bill was even looked at."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker(said, intent="complain", form="feedback_form", candidates={"feedback_type": "complaint"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert (followups(events) == ["bill_form"]) is checked


@pytest.mark.asyncio
async def test_praise_in_a_few_words_opens_the_praise_not_a_loop(actions_gateway):
    """i-praise-02: "给你们营业厅的小姑娘点个赞", a short remark without a feedback word, went to the
    fallback, which sent it back to the praise: Rasa's circuit breaker, "系统暂时繁忙" to every turn."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("给你们营业厅的小姑娘点个赞", intent="praise", form="feedback_form",
                           candidates={"feedback_type": "praise"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert followups(events) == []
    assert slot_values(events).get("feedback_content") == "给你们营业厅的小姑娘点个赞"


@pytest.mark.asyncio
async def test_an_address_said_in_parts_is_put_together(actions_gateway):
    """h-repair-08: "玄武区", then "珠江路那块 金陵小区" (each too little), then "7栋 是7栋 三楼 301":
    the crew was sent to "7栋 是7栋 三楼 301"."""
    from actions.faults import ValidateFaultForm

    asked = {"event": "bot", "text": "请告诉我故障的详细地址（如“玄武区中山路18号3栋”）。"}
    prior = [{"event": "user", "text": "家里没电 灯都不亮"}, asked,
             {"event": "user", "text": "玄武区"}, asked,
             {"event": "user", "text": "珠江路那块 金陵小区"}, {"event": "bot", "text": "地址好像不太完整，请说到街道（村）和门牌号。"}, asked]
    tracker = make_tracker("7栋 是7栋 三楼 301", intent="inform", form="fault_form", prior_events=prior,
                           slots={"requested_slot": "address", "fault_description": "没电"},
                           candidates={"address": "7栋 是7栋 三楼 301"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    address = slot_values(events).get("address") or ""
    assert address.startswith("玄武区 珠江路那块 金陵小区") and address.endswith("301")


@pytest.mark.asyncio
async def test_a_fault_in_a_few_words_after_a_greeting_is_a_repair(actions_gateway):
    """h-repair-02: "喂 同志啊 我家电灯不亮了" got "我没太理解您的意思"; the lights out at home is
    a fault said in a few words (a corridor light is not: it may not be the utility's)."""
    from actions.handoff import ActionDefaultAskAffirmation
    from actions.menu import named_request

    tracker = make_tracker("喂 同志啊 我家电灯不亮了", intent="nlu_fallback", confidence=0.4)
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.4},
                                                {"name": "greet", "confidence": 0.3}]
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert followups(events) == ["fault_form"]
    assert named_request("楼道灯不亮了 是你们管吗") is None


@pytest.mark.asyncio
async def test_a_rambling_bill_question_with_the_identity_in_it_is_the_bill_query(actions_gateway):
    """a-bill-010: a long message asking last month's bill and whether it was paid, with 户号 and
    尾号 in it, got "我没太理解您的意思"."""
    from actions.handoff import ActionDefaultAskAffirmation

    said = "你好我想问一下就是我们家上个月的电费是多少钱啊还有就是到底交了没有我自己也记不清了户号3201000016手机尾号0945"
    tracker = make_tracker(said, intent="nlu_fallback", confidence=0.4)
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.4},
                                                {"name": "query_bill", "confidence": 0.35}]
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert followups(events) == ["bill_form"]
