"""Kinds of failure left open by the blind batches (prepaid balance, …), mended in this stop."""
from __future__ import annotations

from datetime import timedelta

import pytest

from actions.bills import ActionQueryBill
from tests.actions.test_bills import bills_of, verified_slots
from tests.support.dialogue import make_tracker, run_action, texts

PREPAID = "3201000038"  # 孙丽: a prepaid account with a low balance in the demo data


def bill_question(app, said: str, account_no: str, **slots):
    return make_tracker(said, intent="query_bill", slots={
        **verified_slots(app, account_no), "bill_query": "details", **slots})


@pytest.mark.asyncio
async def test_a_prepaid_accounts_bill_shows_its_balance_and_says_to_top_up_when_low(actions_gateway):
    app = actions_gateway.app
    _, messages = await run_action(ActionQueryBill(), bill_question(app, "查一下电费", PREPAID))
    replies = texts(messages)
    assert "用电量" in replies[0]  # the bill first
    balance = next(r for r in replies if "余额" in r)
    assert "18.60 元" in balance and "充值" in balance


@pytest.mark.asyncio
async def test_the_balance_asked_after_the_bill_is_answered_alone(actions_gateway):
    app = actions_gateway.app
    shown = bills_of(app, PREPAID)[0].period
    _, messages = await run_action(ActionQueryBill(), bill_question(
        app, "那余额还剩多少", PREPAID, bill_shown_period=shown))
    replies = texts(messages)
    assert any("18.60 元" in r for r in replies)
    assert not any("用电量" in r for r in replies)  # not the whole bill again


@pytest.mark.asyncio
async def test_a_post_paid_customer_asking_for_a_balance_is_told_there_is_none(actions_gateway):
    app = actions_gateway.app
    _, messages = await run_action(ActionQueryBill(), bill_question(app, "我家电费余额还有多少", "3201000001"))
    replies = texts(messages)
    assert "用电量" in replies[0]
    assert any("后付费" in r for r in replies)
    assert not any("预存余额 " in r for r in replies)


@pytest.mark.asyncio
async def test_a_post_paid_bill_not_asked_for_a_balance_says_nothing_of_one(actions_gateway):
    app = actions_gateway.app
    _, messages = await run_action(ActionQueryBill(), bill_question(app, "查下上个月电费", "3201000001"))
    assert not any("余额" in r for r in texts(messages))


@pytest.mark.asyncio
async def test_a_balance_question_that_opened_the_form_is_answered_after_the_identity_check(actions_gateway):
    app = actions_gateway.app
    opened = [{"event": "user", "text": "我家预存的钱还剩多少", "parse_data": {"intent": {"name": "query_bill"}}},
              {"event": "active_loop", "name": "bill_form"}]
    tracker = make_tracker("1234", intent="inform", prior_events=opened,
                           slots={**verified_slots(app, "3201000001"), "bill_query": "details"})
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert any("后付费" in r for r in texts(messages))


@pytest.mark.asyncio
@pytest.mark.parametrize("opening, asked", [
    ("查下电费 户号我不记得了", "utter_account_no_help"),
    ("我想查电费，但是不知道户号是啥", "utter_account_no_help"),
    ("查电费", "utter_ask_account_no"),
])
async def test_the_account_question_at_the_opening_helps_who_said_they_do_not_know_it(opening, asked):
    from actions.bills import ActionAskBillFormAccountNo

    tracker = make_tracker(opening, intent="query_bill", active_loop="bill_form")
    _, messages = await run_action(ActionAskBillFormAccountNo(), tracker)
    assert [m.get("response") for m in messages] == [asked]


@pytest.mark.asyncio
async def test_the_account_question_is_not_repeated_after_the_help_of_the_same_turn():
    from actions.bills import ActionAskBillFormAccountNo

    tracker = make_tracker("户号是啥东西", intent="inform", active_loop="bill_form")
    tracker.events.append({"event": "bot", "text": "户号是您家电费账户的10位编号",
                           "metadata": {"utter_action": "utter_account_no_help"}})
    _, messages = await run_action(ActionAskBillFormAccountNo(), tracker)
    assert messages == []


PAID_STILL_DARK = "昨天夜里刚把欠的电费交掉 到现在还没电"


@pytest.mark.asyncio
async def test_paid_arrears_and_still_dark_is_answered_with_the_reconnection_rule_and_a_bill_check(actions_gateway):
    from actions.faq import ActionAnswerFaq

    events, messages = await run_action(ActionAnswerFaq(), make_tracker(PAID_STILL_DARK, intent="query_outage"))
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert values["faq_topic"] == "reconnection" and values["bill_query"] == "reconnect"
    assert any("24" in m.get("text", "") for m in messages)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "bill_form"}


@pytest.mark.asyncio
async def test_a_bill_query_opened_by_paid_and_still_dark_checks_the_payment_not_shows_the_bill(actions_gateway):
    app = actions_gateway.app
    opened = [{"event": "user", "text": PAID_STILL_DARK, "parse_data": {"intent": {"name": "query_bill"}}},
              {"event": "active_loop", "name": "bill_form"}]
    tracker = make_tracker("手机尾号5041", intent="inform", prior_events=opened,
                           slots={**verified_slots(app, "3201000027"), "bill_query": "details"})
    _, messages = await run_action(ActionQueryBill(), tracker)
    replies = texts(messages)
    assert any("未结清" in r and "24小时" in r for r in replies)  # the October bill has not arrived yet
    assert not any("用电量" in r for r in replies)


@pytest.mark.asyncio
async def test_how_long_to_wait_after_the_arrears_answer_is_not_a_repair():
    from actions.faults import ValidateFaultForm

    answered = [{"event": "user", "text": "手机尾号5041", "parse_data": {"intent": {"name": "inform"}}},
                {"event": "bot", "text": "如果因欠费停了电，缴清后一般会在24小时内恢复供电。"}]
    tracker = make_tracker("那还要等多久啊 冰箱里东西要坏了", intent="complain", form="fault_form",
                           prior_events=answered)
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert {"event": "followup", "timestamp": None, "name": "action_answer_faq"} in events


# --- a meter the customer doubts is tested on request (电能表校验: result within 5 working days) ---

@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["这表肯定走得快 我要申请校验", "麻烦派人来验表", "我想申请检测电表",
                                  "想把电价改成峰谷的"])
async def test_a_meter_test_asked_for_is_an_application_with_its_documents(actions_gateway, text):
    from actions.applications import BUSINESS_TYPES, ValidateApplicationForm

    tracker = make_tracker(text, intent="apply_service", form="application_form")
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    # (电价变更 has no documents topic either: its list was never told before this stop)
    assert values["business_type"] in ("meter_check", "tariff_change")
    assert BUSINESS_TYPES[values["business_type"]]["documents"][0] in texts(messages)[0]


@pytest.mark.asyncio
async def test_a_meter_test_is_filed_with_the_result_due_in_five_working_days(actions_gateway):
    from actions.applications import ActionSubmitApplication
    from tests.actions.test_requests import last_ticket

    app = actions_gateway.app
    slots = {"business_type": "meter_check", "applicant_name": "王建国", "address": "南京市玄武区中山路18号3栋501",
             "contact_phone": "13700001234"}
    _, messages = await run_action(ActionSubmitApplication(), make_tracker("13700001234", slots=slots))
    stored = last_ticket(app)
    assert stored.type == "application" and stored.business_type == "meter_check"
    assert [m.name for m in stored.milestones][-1] == "出具校验结果"
    import chinese_calendar
    from bot.store.types import SHANGHAI

    result = stored.milestones[-1]
    created = stored.created_at.astimezone(SHANGHAI).date()
    due = result.due_at.astimezone(SHANGHAI).date()
    assert len(chinese_calendar.get_workdays(created + timedelta(days=1), due)) == 5
    reply = texts(messages)[0]
    assert "电能表校验" in reply and f"出具校验结果：{due.month}月{due.day}日" in reply


@pytest.mark.asyncio
async def test_the_meter_test_answer_offers_to_file_the_request():
    from actions.faq import ActionAnswerFaq
    from tests.actions.test_faq import faq_tracker

    events, messages = await run_action(ActionAnswerFaq(), faq_tracker("电表老是走得快 不准怎么办", "meter_calibration"))
    assert {e["name"]: e["value"] for e in events if e.get("event") == "slot"}["offered_business"] == "meter_check"
    assert "meter_check" in messages[-1]["buttons"][0]["payload"]


# --- an application's earlier request asked after; an address after a filing is no fault --------

@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["我们增容的申请审核过了没有 户号3201000033 尾号3530", "充电桩申请通过了吗",
                                  "提交的过户有消息了吗"])
async def test_a_question_on_an_earlier_application_is_a_progress_query_not_a_new_one(text):
    from actions.applications import ValidateApplicationForm

    events, _ = await run_action(ValidateApplicationForm(), make_tracker(text, intent="apply_service",
                                                                          form="application_form"))
    assert events[-1]["name"] == "progress_form"


@pytest.mark.asyncio
async def test_a_review_question_about_a_new_application_stays_an_application():
    from actions.applications import ValidateApplicationForm

    events, _ = await run_action(ValidateApplicationForm(), make_tracker(
        "想改峰谷电 要审核吗", intent="apply_service", form="application_form"))
    assert not any(e.get("name") == "progress_form" for e in events)


async def filed_application(address: str) -> dict:
    import uuid

    from actions import api_client

    return await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "application", "business_type": "tariff_change",
        "summary": "电价变更", "channel": "web", "account_no": "3201000012", "details": {"address": address}})


def after_filing(ticket_no: str, said: str, address: str):
    prior = [{"event": "user", "text": "户号3201000012 手机尾号1734"},
             {"event": "bot", "text": f"您的电价变更申请已提交，工单号：{ticket_no}。"}]
    return make_tracker(said, intent="inform", prior_events=prior, entities=[{"entity": "address", "value": address}])


@pytest.mark.asyncio
async def test_the_same_address_right_after_the_filing_is_confirmed_and_no_repair(actions_gateway):
    from actions.faults import ValidateFaultForm
    from actions.menu import ActionAnswerBareDetail

    ticket = await filed_application("江苏省南京市栖霞区迈皋桥路109号锦绣苑13栋1001室")
    said = "迈皋桥路109号锦绣苑13栋1001"
    heard_as_fault = after_filing(ticket["ticket_no"], said, said)
    heard_as_fault.latest_message["intent"] = {"name": "report_fault", "confidence": 1.0}
    heard_as_fault.active_loop = {"name": "fault_form"}
    events, _ = await run_action(ValidateFaultForm(), heard_as_fault)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_answer_bare_detail"}
    _, messages = await run_action(ActionAnswerBareDetail(), after_filing(ticket["ticket_no"], said, said))
    assert [m.get("response") for m in messages] == ["utter_ticket_address_same"]


@pytest.mark.asyncio
async def test_an_address_corrected_after_the_filing_goes_onto_that_ticket(actions_gateway):
    from actions import api_client
    from actions.menu import ActionAnswerBareDetail

    ticket = await filed_application("和平社区21号")
    _, messages = await run_action(ActionAnswerBareDetail(), after_filing(
        ticket["ticket_no"], "不对不对 地址说错了 是和平社区81号", "和平社区81号"))
    assert [m.get("response") for m in messages] == ["utter_ticket_address_corrected"]
    stored = await api_client.get_ticket(ticket["ticket_no"])
    assert stored["details"]["address"] == "和平社区81号"
    assert any(e["kind"] == "address_changed" and e["data"] == {"from": "和平社区21号", "to": "和平社区81号"}
               for e in stored["events"])


# --- an application form opened by words of another request serves that request -----------------

@pytest.mark.asyncio
@pytest.mark.parametrize("text, followed", [
    ("喂 我是枫香岭村的老徐 儿子在外地用支付宝帮我把电费交掉了 电还是不来", "action_answer_faq"),
    ("师傅 我们是个小木工作坊 早上一开机器就全停了 现在整个车间没电 隔壁厂也没有", "fault_form"),
])
async def test_an_application_opened_by_another_requests_words_serves_that_request(text, followed):
    from actions.applications import ValidateApplicationForm

    events, messages = await run_action(ValidateApplicationForm(), make_tracker(text, intent="apply_service",
                                                                                 form="application_form"))
    assert events[-1]["name"] == followed and messages == []


@pytest.mark.asyncio
async def test_selling_the_house_names_the_name_transfer():
    from actions.applications import ValidateApplicationForm

    events, _ = await run_action(ValidateApplicationForm(), make_tracker(
        "房子卖掉了 买家要把电户过到他名下 我这边要做啥", intent="apply_service", form="application_form"))
    assert {e["name"]: e["value"] for e in events if e.get("event") == "slot"}["business_type"] == "name_transfer"


@pytest.mark.asyncio
async def test_wiring_before_the_meter_told_in_a_repair_is_a_tip_off():
    from actions.faults import ValidateFaultForm

    text = "我租的房子楼下有个加工厂 晚上机器轰轰响 我看见他们电线直接接在表前面 根本不走电表"
    events, _ = await run_action(ValidateFaultForm(), make_tracker(text, intent="report_fault", form="fault_form"))
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert values["feedback_type"] == "tip_off" and events[-1]["name"] == "feedback_form"


@pytest.mark.asyncio
async def test_go_ahead_right_after_the_application_was_filed_files_no_second_one(actions_gateway):
    from actions import api_client
    from actions.applications import ValidateApplicationForm

    ticket = await filed_application("江苏省南京市秦淮区太平南路305号阳光花园18栋701室")
    prior = [{"event": "user", "text": "手机尾号8842"},
             {"event": "bot", "text": f"您的电价变更申请已提交，工单号：{ticket['ticket_no']}。"},
             {"event": "user", "text": "要收费不"}, {"event": "bot", "text": "一般不收费。"}]
    tracker = make_tracker("那就办吧 太平南路305号阳光花园18栋702", intent="apply_service", form="application_form",
                           prior_events=prior)
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_application_already_filed", "utter_ticket_address_corrected"]
    assert events[-1]["name"] == "action_listen"
    assert (await api_client.get_ticket(ticket["ticket_no"]))["details"]["address"] == "太平南路305号阳光花园18栋702"
    again = make_tracker("再申请一个 给我店里也改一下", intent="apply_service", form="application_form", prior_events=prior)
    events, _ = await run_action(ValidateApplicationForm(), again)
    assert not any(e.get("name") == "action_listen" for e in events)  # one more is another application


@pytest.mark.asyncio
async def test_a_part_of_the_address_corrected_after_the_filing_amends_the_filed_address(actions_gateway):
    from actions import api_client
    from actions.menu import ActionAnswerBareDetail

    ticket = await filed_application("建邺区所街152号阳光花园16栋1503室")
    tracker = after_filing(ticket["ticket_no"], "不对 写错了 是6栋1503室 不是16栋", "了 是6栋1503室 不是16栋")
    _, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ticket_address_corrected"]
    stored = await api_client.get_ticket(ticket["ticket_no"])
    assert stored["details"]["address"] == "建邺区所街152号阳光花园6栋1503室"


@pytest.mark.asyncio
async def test_how_long_to_wait_sent_on_by_the_complaint_form_is_still_not_a_repair():
    from actions.faults import ValidateFaultForm

    answered = [{"event": "user", "text": "手机尾号5041", "parse_data": {"intent": {"name": "inform"}}},
                {"event": "bot", "text": "系统里还显示的电费共 227.17 元未结清。电费结清后24小时内恢复供电。"}]
    said = "那还要等多久啊 冰箱里东西要坏了"
    tracker = make_tracker(said, intent="complain", form="fault_form", prior_events=answered,
                           slots={"fault_description": said})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert {"event": "followup", "timestamp": None, "name": "action_answer_faq"} in events


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["不要登记不要登记 我就是说说 没得事了", "别登记了 我就发发牢骚"])
async def test_a_grumble_that_asks_not_to_be_filed_is_not_filed(said):
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker(said, intent="deny", form="feedback_form", slots={
        "feedback_type": "complaint", "feedback_content": "个么搞的嘛 昨天晚上又停电 电视看一半黑掉了",
        "requested_slot": "contact_phone"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_cancel_form"}


@pytest.mark.asyncio
async def test_a_phone_corrected_in_words_heard_as_a_no_goes_onto_the_ticket_just_filed(actions_gateway):
    import uuid

    from actions import api_client
    from actions.menu import ActionDenyOutsideForm

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "repair", "summary": "清凉门大街56号：家里没电",
        "channel": "web", "contact_phone": "18951763024", "details": {"address": "鼓楼区清凉门大街56号3幢402"}})
    prior = [{"event": "user", "text": "电话18951763024"},
             {"event": "bot", "text": f"已为您登记故障报修，工单号：{ticket['ticket_no']}。"}]
    tracker = make_tracker("不对不对 号码打错了 是18951763042", intent="deny", prior_events=prior,
                           entities=[{"entity": "phone", "value": "18951763042"}])
    _, messages = await run_action(ActionDenyOutsideForm(), tracker)
    assert messages[0].get("response") == "utter_ticket_phone_corrected"
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "18951763042"
    _, plain = await run_action(ActionDenyOutsideForm(), make_tracker("不用了", intent="deny"))
    assert [m.get("response") for m in plain] == ["utter_ok_no_problem"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text, heard, meant", [
    ("想在小区车位装个充电桩，另外问下峰谷电价谷时段几点开始算", "tariff_change", "ev_charger"),
    ("等等 物业说我家容量不够 得先增容？那我先办增容吧 充电桩以后再说", "ev_charger", "capacity_change"),
])
async def test_of_two_businesses_named_the_one_meant_now_is_applied_for(text, heard, meant):
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker(text, intent="apply_service", form="application_form", candidates={"business_type": heard})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert {e["name"]: e["value"] for e in events if e.get("event") == "slot"}["business_type"] == meant


@pytest.mark.asyncio
async def test_a_fragment_heard_in_a_whole_address_keeps_the_whole_address():
    from actions.applications import ValidateApplicationForm

    text = "哦 地址是建邺区嘉陵江东街18号 奥体名都地下车库B区112车位"
    tracker = make_tracker(text, intent="inform", form="application_form", slots={
        "business_type": "ev_charger", "applicant_name": "钱晓东", "contact_phone": "13675189022",
        "requested_slot": "address"}, candidates={"address": "区112"}, entities=[{"entity": "address", "value": "区112"}])
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    address = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}["address"]
    assert address.startswith("建邺区嘉陵江东街18号") and address.endswith("B区112车位")


@pytest.mark.asyncio
async def test_a_fee_question_at_the_address_question_is_not_an_incomplete_address():
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("对了问一下 装这个你们收不收钱的 拉线要不要另外给钱", intent="faq", form="application_form",
                           slots={"business_type": "ev_charger", "applicant_name": "钱晓东",
                                  "contact_phone": "13675189022", "requested_slot": "address"})
    _, messages = await run_action(ValidateApplicationForm(), tracker)
    assert "utter_address_incomplete" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_the_whole_address_said_again_with_the_correction_replaces_the_filed_one(actions_gateway):
    from actions import api_client
    from actions.menu import ActionAnswerBareDetail

    ticket = await filed_application("鼓楼区中央路211号4栋1单元601")
    tracker = after_filing(ticket["ticket_no"], "哎呀地址打错了 是221号 不是211 中央路221号4栋1单元601",
                           "中央路221号4栋1单元601")
    _, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ticket_address_corrected"]
    assert "中央路221号4栋1单元601" in (await api_client.get_ticket(ticket["ticket_no"]))["details"]["address"]


@pytest.mark.asyncio
async def test_an_opening_with_questions_after_the_address_does_not_make_them_the_address():
    from actions.applications import ValidateApplicationForm

    text = "新房子要装电表开户 我叫韩晓东 电话18652093311 地址浦口区江浦街道凤凰大道9号天润城16栋702 要带什么材料 多久能通电"
    tracker = make_tracker(text, intent="apply_service", form="application_form",
                           slots={"business_type": "new_connection", "requested_slot": "address"},
                           candidates={"address": "浦口区江浦街道凤凰大道9号"},
                           entities=[{"entity": "address", "value": "浦口区江浦街道凤凰大道9号"}])
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    address = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}.get("address") or ""
    assert "材料" not in address and "新房子" not in address


@pytest.mark.asyncio
async def test_where_it_happened_after_a_tip_off_goes_onto_the_tip_off_not_a_repair(actions_gateway):
    import uuid

    from actions import api_client
    from actions.faults import ValidateFaultForm

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "tip_off", "summary": "有人冒充供电局上门收费",
        "channel": "web"})
    prior = [{"event": "user", "text": "我没给 他们没有工作证 我觉得是骗子"},
             {"event": "bot", "text": f"您的举报已登记，编号：{ticket['ticket_no']}。"}]
    said = "雨花台区雨花南路238号梅园新村 那一片好几家都去了"
    tracker = make_tracker(said, intent="report_fault", form="fault_form", prior_events=prior,
                           entities=[{"entity": "address", "value": "雨花台区雨花南路238号梅园新村"}])
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ticket_note_added"]
    notes = [e for e in (await api_client.get_ticket(ticket["ticket_no"]))["events"] if e["kind"] == "note"]
    assert said in notes[-1]["data"]["note"]


@pytest.mark.asyncio
async def test_look_into_it_after_a_tip_off_is_more_of_the_tip_off_not_a_bill_query(actions_gateway):
    import uuid

    from actions import api_client
    from actions.bills import ValidateBillForm

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "tip_off", "summary": "有人冒充供电局上门收费",
        "channel": "web"})
    prior = [{"event": "user", "text": "梅园新村 那一片好几家都去了"},
             {"event": "bot", "text": f"好的，已把您补充的内容记到工单 {ticket['ticket_no']} 里了。"}]
    tracker = make_tracker("你们要查一查 别让老人上当", intent="query_bill", form="bill_form", prior_events=prior)
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ticket_note_added"]
    assert events[-1]["name"] == "action_listen"
    plain = make_tracker("查一下电费", intent="query_bill", form="bill_form", prior_events=prior)
    _, asked = await run_action(ValidateBillForm(), plain)
    assert "utter_ticket_note_added" not in [m.get("response") for m in asked]


@pytest.mark.asyncio
async def test_an_address_correction_the_model_did_not_understand_still_goes_onto_the_ticket(actions_gateway):
    from actions import api_client
    from actions.handoff import ActionDefaultAskAffirmation

    ticket = await filed_application("鼓楼区中央路211号4栋1单元601")
    tracker = after_filing(ticket["ticket_no"], "哎呀地址打错了 是221号 不是211 中央路221号4栋1单元601",
                           "中央路221号4栋1单元601")
    tracker.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.4}
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ticket_address_corrected"]
    assert "中央路221号" in (await api_client.get_ticket(ticket["ticket_no"]))["details"]["address"]


@pytest.mark.asyncio
async def test_an_address_alone_heard_as_an_application_is_a_detail_given():
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("南京市鼓楼区中央路100号", intent="apply_service", form="application_form",
                           entities=[{"entity": "address", "value": "南京市鼓楼区中央路100号"}])
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert events[-1]["name"] == "action_answer_bare_detail" and messages == []


@pytest.mark.asyncio
@pytest.mark.parametrize("said, entity, wanted", [
    ("不对不对 是6栋501 我刚搬来记错了", "6栋501", "鼓楼区清凉门大街9号6栋501"),
    ("不对 是6栋501", "6栋501", "鼓楼区清凉门大街9号6栋501"),
    ("哦不对 是7栋401 刚才说成6栋了", "7栋401", "鼓楼区清凉门大街9号7栋401"),
])
async def test_a_building_and_room_corrected_after_the_filing_amend_its_address(actions_gateway, said, entity, wanted):
    from actions import api_client
    from actions.menu import ActionAnswerBareDetail

    ticket = await filed_application("鼓楼区清凉门大街9号6栋401")
    _, messages = await run_action(ActionAnswerBareDetail(), after_filing(ticket["ticket_no"], said, entity))
    assert [m.get("response") for m in messages] == ["utter_ticket_address_corrected"]
    stored = await api_client.get_ticket(ticket["ticket_no"])
    assert stored["details"]["address"] == wanted
