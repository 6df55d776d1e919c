"""What a message is for, by its own words, when NLU's intent alone misleads.

- Inside a form, a short statement NLU reads as another request ("身份证我有的" as a progress
  query) does not pause the form unless it names that request's subject.
- Outside a form, a detail given with the words of a request ("…11栋2603 家里没电了 帮我报修")
  starts that request instead of the menu."""
from __future__ import annotations

import pytest

from actions.common import is_digression
from actions.menu import ActionAnswerBareDetail, named_request
from tests.support.dialogue import make_tracker, run_action, slot_values, texts

@pytest.mark.parametrize("text, intent, digression", [
    ("身份证我有的", "query_progress", False),
    ("等哈 我先看看是不是跳闸了", "query_bill", False),
    ("先帮我查下电费", "query_bill", True),
    ("我上次报修的进度呢", "query_progress", True),
    ("什么时候来电", "query_outage", True),
])
def test_a_new_request_inside_a_form_names_its_subject(text, intent, digression):
    tracker = make_tracker(text, intent=intent, confidence=0.97, form="application_form",
                           slots={"requested_slot": "applicant_name"})
    assert is_digression(tracker, "applicant_name") is digression


@pytest.mark.parametrize("text, form", [
    ("玄武区珠江路130号金陵小区11栋2603 家里没电了 帮我报修 电话17778014144", "fault_form"),
    ("鼓楼区湖南路18号 这周停不停电", "outage_form"),
    ("3201000009 我要办过户", "application_form"),
    ("3201000009 查下电费", "bill_form"),
    ("玄武区珠江路130号", None),
])
def test_the_words_beside_a_detail_name_the_request(text, form):
    assert named_request(text) == form


@pytest.mark.asyncio
async def test_a_detail_with_a_request_starts_that_request():
    text = "玄武区珠江路130号金陵小区11栋2603 家里没电了 帮我报修"
    tracker = make_tracker(text, intent="inform", entities=[
        {"entity": "address", "value": "玄武区珠江路130号金陵小区11栋2603", "start": 0, "end": 21}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert messages == []
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["fault_form"]


@pytest.mark.asyncio
async def test_a_bare_detail_still_gets_the_choices():
    tracker = make_tracker("玄武区珠江路130号", intent="inform", entities=[
        {"entity": "address", "value": "玄武区珠江路130号", "start": 0, "end": 11}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert not any(e.get("event") == "followup" for e in events)
    assert "停电查询" in [b["title"] for b in messages[0]["buttons"]]


# --- a new request or a question said with "wait" inside a form ---------------------------

@pytest.mark.asyncio
async def test_wait_then_a_bill_question_pauses_the_repair_for_it(actions_gateway):
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("等下 是不是我没交电费啊 先帮我查查 户号3201000018", intent="query_bill", confidence=0.9,
                           form="fault_form", slots={"requested_slot": "address", "fault_description": "家里没电了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    # Nothing extracted and nothing said: the form is rejected and the pause rule runs the bill query.
    assert not any(t for t in texts(messages))
    assert slot_values(events).get("address") is None


@pytest.mark.asyncio
async def test_a_question_inside_a_form_gets_the_faq_answer_the_selector_is_sure_of(actions_gateway):
    from actions.bills import ValidateBillForm

    tracker = make_tracker("等等，先问下你们这个电费能用微信交吗", intent="query_bill", confidence=0.7,
                           form="bill_form", slots={"requested_slot": "phone_last4", "account_no": "3201000009"})
    tracker.latest_message["response_selector"] = {"faq": {"response": {
        "intent_response_key": "faq/pay_by_wechat_alipay", "utter_action": "utter_faq/pay_by_wechat_alipay",
        "confidence": 0.93}}}
    events, messages = await run_action(ValidateBillForm(), tracker)
    said = texts(messages)
    assert any("微信" in t for t in said)
    assert slot_values(events)["requested_slot"] == "phone_last4"


# --- a question about planned outages opens no repair ---------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("text, outage", [
    ("雨花台区软件大道275号这几天有没有停电计划 我要在家办公", True),
    ("中华路明天停不停电", True),
    ("家里停电了 明天能修好吗", False),
    ("跳闸了 是不是计划停电", False),
])
async def test_a_planned_outage_question_is_no_fault_report(actions_gateway, text, outage):
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(text, intent="report_fault", confidence=0.8, form="fault_form")
    events, _ = await run_action(ValidateFaultForm(), tracker)
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert (followups == ["outage_form"]) is outage


# --- a ticket number of another shape --------------------------------------------------------

@pytest.mark.asyncio
async def test_a_ticket_number_of_another_shape_is_said_not_to_exist(actions_gateway):
    from actions.progress import ValidateProgressForm

    tracker = make_tracker("帮我查下工单GD2026112000123到哪一步了", intent="query_progress", form="progress_form")
    events, messages = await run_action(ValidateProgressForm(), tracker)
    assert any("没有查到工单 GD2026112000123" in t for t in texts(messages))
    assert slot_values(events).get("ticket_no") is None


# --- other utilities --------------------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("text, response", [
    ("我家水表好像坏了 走得飞快 水费在哪交啊", "utter_out_of_scope_water"),
    ("燃气费怎么交", "utter_out_of_scope_gas"),
    ("帮我订个外卖", "utter_out_of_scope"),
])
async def test_out_of_scope_says_who_can_help(text, response):
    from actions.menu import ActionOutOfScope
    from tests.support.dialogue import DOMAIN

    _, messages = await run_action(ActionOutOfScope(), make_tracker(text, intent="out_of_scope"))
    assert messages[0]["response"] == response and response in DOMAIN["responses"]


# --- the last four digits at the phone question, after a 户号 ------------------------------

@pytest.mark.asyncio
async def test_last_four_digits_at_the_phone_question_prove_the_identity(actions_gateway):
    from actions.faults import ValidateFaultForm

    # Demo customer 3201000009 (冯秀英), registered phone ending 8842.
    slots = {"requested_slot": "contact_phone", "account_no": "3201000009", "address_from_account": True,
             "address": "江苏省南京市秦淮区太平南路305号阳光花园18栋701室", "repair_area_type": "urban",
             "fault_description": "家里没电了", "address_checked": "江苏省南京市秦淮区太平南路305号阳光花园18栋701室"}
    events, messages = await run_action(ValidateFaultForm(), make_tracker("8842", intent="inform", form="fault_form",
                                                                          slots=slots))
    values = slot_values(events)
    assert values["identity_verified"] is True
    assert values["requested_slot"] is None  # a verified customer is called on the registered phone
    assert not any("没有识别到" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_wrong_last_four_digits_at_the_phone_question_ask_for_a_phone(actions_gateway):
    from actions.faults import ValidateFaultForm

    slots = {"requested_slot": "contact_phone", "account_no": "3201000009", "address": "太平南路305号",
             "repair_area_type": "urban", "fault_description": "家里没电了", "address_checked": "太平南路305号"}
    events, messages = await run_action(ValidateFaultForm(), make_tracker("1234", intent="inform", form="fault_form",
                                                                          slots=slots))
    values = slot_values(events)
    assert not values.get("identity_verified")
    assert values["requested_slot"] == "contact_phone"


# --- "算了不修了" right after the ticket was opened -------------------------------------------

async def open_repair(app) -> str:
    import uuid

    from actions import api_client

    ticket = await api_client.create_ticket({"request_key": f"test:{uuid.uuid4().hex}",
        "type": "repair", "summary": "家里灯一闪一闪的", "channel": "web", "conversation_id": "withdraw-test",
        "contact_phone": "13912345678", "area_type": "urban", "details": {"address": "玄武区中山路18号"}})
    return ticket["ticket_no"]


def just_announced(ticket_no: str) -> list:
    return [{"event": "user", "text": "家里灯一闪一闪的 我要报修", "parse_data": {"intent": {"name": "report_fault"}}},
            {"event": "bot", "text": f"已为您登记故障报修，工单号：{ticket_no}。\n抢修人员将在今天 16:24前到达现场。"}]


@pytest.mark.asyncio
async def test_a_stop_right_after_the_ticket_was_opened_withdraws_it(actions_gateway):
    from actions import api_client
    from actions.common import ActionCancelForm

    ticket_no = await open_repair(actions_gateway.app)
    tracker = make_tracker("算了算了不修了", intent="cancel", prior_events=just_announced(ticket_no))
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert (await api_client.get_ticket(ticket_no))["status"] == "cancelled"
    assert f"故障报修工单 {ticket_no} 已为您撤销" in texts(messages)[0]


@pytest.mark.asyncio
async def test_a_stop_later_or_about_a_taken_ticket_withdraws_nothing(actions_gateway):
    from actions import api_client
    from actions.common import ActionCancelForm

    ticket_no = await open_repair(actions_gateway.app)
    later = just_announced(ticket_no) + [{"event": "user", "text": "好的谢谢", "parse_data": {"intent": {"name": "thank"}}},
                                         {"event": "bot", "text": "不客气"}]
    await run_action(ActionCancelForm(), make_tracker("算了", intent="cancel", prior_events=later))
    assert (await api_client.get_ticket(ticket_no))["status"] == "new"
    await api_client.change_ticket_status(ticket_no, "dispatched", actor="staff:dispatcher")
    _, messages = await run_action(ActionCancelForm(), make_tracker("算了不修了", intent="cancel",
                                                                    prior_events=just_announced(ticket_no)))
    assert (await api_client.get_ticket(ticket_no))["status"] == "dispatched"
    assert "撤销" not in texts(messages)[0]


@pytest.mark.asyncio
async def test_a_stop_with_another_request_serves_that_request(actions_gateway):
    from actions.common import ActionCancelForm

    events, _ = await run_action(ActionCancelForm(), make_tracker("算了算了不用了 我就问问秦淮区中华路明天停不停电",
                                                                  intent="cancel"))
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["outage_form"]


# --- the identity given whole in the opening message --------------------------------------

@pytest.mark.asyncio
async def test_the_identity_in_the_opening_message_is_checked_at_once(actions_gateway):
    from actions.bills import ValidateBillForm

    # Demo customer 3201000009, registered phone ending 8842.
    text = "你好我想问一下就是我们家上个月的电费是多少钱啊户号3201000009手机尾号8842"
    tracker = make_tracker(text, intent="query_bill", form="bill_form",
                           entities=[{"entity": "account_no", "value": "3201000009", "start": 26, "end": 36}])
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert values["identity_verified"] is True and values["phone_last4"] == "8842"
    assert not any("后四位" in t for t in texts(messages))
    assert sum("身份验证通过" in t for t in texts(messages)) == 1


@pytest.mark.parametrize("text, angry", [
    ("上个月的电费到底交了没有我自己也记不清了", False),
    ("一个月停了三回电了，你们到底还管不管！！", True),
    ("到底什么时候来电", True),
])
def test_doubt_is_not_anger(text, angry):
    from actions.common import is_angry

    assert is_angry(text) is angry


# --- "是不是欠费给我停了": the bills first ------------------------------------------------------

def owing_and_clean_accounts():
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).resolve().parents[2] / "demo" / "demo_data.json").read_text(encoding="utf-8"))
    owing = {b["account_no"] for b in data["bills"] if b.get("status") in ("unpaid", "overdue")}
    customers = {c["account_no"]: c for c in data["customers"]}
    clean = sorted(set(customers) - owing)
    return customers[sorted(owing)[0]], customers[clean[0]]


@pytest.mark.asyncio
async def test_a_suspected_arrears_cut_checks_the_bills_before_a_repair(actions_gateway):
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("家里没电了 邻居家都有电 是不是欠费给我停了", intent="report_fault", form="fault_form")
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["bill_query"] == "suspect_arrears" and values["requested_slot"] is None
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["bill_form"]
    assert messages[0]["response"] == "utter_arrears_check"


@pytest.mark.asyncio
async def test_owing_bills_explain_the_cut_and_no_repair_is_opened(actions_gateway):
    from actions.bills import ActionQueryBill

    owing, clean = owing_and_clean_accounts()
    slots = {"identity_verified": True, "verified_account_no": owing["account_no"], "bill_query": "suspect_arrears",
             "fault_description": "是不是欠费给我停了"}
    events, messages = await run_action(ActionQueryBill(), make_tracker("8842", intent="inform", slots=slots))
    assert messages[0]["response"] == "utter_arrears_cut" and float(messages[0]["total"]) > 0
    assert not any(e.get("event") == "followup" and e.get("name") == "fault_form" for e in events)
    assert slot_values(events)["fault_description"] is None

    slots.update(verified_account_no=clean["account_no"])
    events, messages = await run_action(ActionQueryBill(), make_tracker("8842", intent="inform", slots=slots))
    assert messages[0]["response"] == "utter_no_arrears_repair"
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["fault_form"]


@pytest.mark.asyncio
async def test_the_outage_question_of_an_earlier_message_keeps_its_place(actions_gateway):
    from actions.faults import ValidateOutageForm

    asked = "户号3201000010 查下上个月电费 另外听说马台街要停电 是哪天几点"
    prior = [{"event": "user", "text": asked, "parse_data": {
        "intent": {"name": "query_bill"}, "entities": [{"entity": "address", "value": "马台街"}]}},
        {"event": "bot", "text": "为保护您的信息安全，请输入该户登记手机号的后四位。"}]
    slots = {"identity_verified": True, "verified_account_no": "3201000010", "account_no": "3201000010",
             "customer_address": "江苏省南京市秦淮区中华路66号2栋302"}
    tracker = make_tracker("手机尾号1112", intent="inform", form="outage_form", slots=slots, prior_events=prior)
    events, messages = await run_action(ValidateOutageForm(), tracker)
    assert slot_values(events)["address"] == "马台街"
    assert not any("登记地址" in t for t in texts(messages))


@pytest.mark.asyncio
@pytest.mark.parametrize("text, response", [
    ("13912345678", "utter_account_by_phone_ask_name"),
    ("玄武区中山路18号3栋501", "utter_account_not_address"),
])
async def test_a_phone_or_an_address_at_the_account_question_is_told_what_is_needed(actions_gateway, text, response):
    from actions.bills import ValidateBillForm

    tracker = make_tracker(text, intent="inform", form="bill_form", slots={"requested_slot": "account_no"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert [m.get("response") for m in messages] == [response]
    values = slot_values(events)
    assert "account_no" in values and values["account_no"] is None  # an answer: the form asks again


@pytest.mark.asyncio
async def test_a_fallback_on_a_message_that_says_its_request_starts_it():
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = make_tracker("户号3201000010 查下上个月电费 另外听说马台街要停电 是哪天几点", intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                {"name": "query_outage", "confidence": 0.41},
                                                {"name": "query_bill", "confidence": 0.38}]
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert messages == []
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["bill_form"]  # said first


@pytest.mark.asyncio
async def test_gas_opened_as_a_repair_says_who_can_help(actions_gateway):
    from actions.faults import ValidateFaultForm, safety_response

    assert safety_response("燃气灶打不着火了") is None
    tracker = make_tracker("燃气灶打不着火了 你们能派个人来看看吗", intent="report_fault", form="fault_form")
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_out_of_scope_gas"]
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]


@pytest.mark.asyncio
async def test_the_repair_says_how_many_minutes(actions_gateway):
    from actions.faults import ActionSubmitFault

    slots = {"address": "玄武区中山路18号3栋501", "repair_area_type": "urban", "fault_description": "家里没电了",
             "contact_phone": "13912345678", "address_checked": "玄武区中山路18号3栋501"}
    _, messages = await run_action(ActionSubmitFault(), make_tracker("13912345678", intent="inform", slots=slots))
    assert "45分钟内" in texts(messages)[0]


@pytest.mark.asyncio
async def test_an_account_number_after_an_offer_starts_the_application():
    events, messages = await run_action(ActionAnswerBareDetail(), make_tracker(
        "3201000023", intent="inform", slots={"offered_business": "pv_connection"},
        entities=[{"entity": "account_no", "value": "3201000023"}],
        prior_events=[{"event": "user", "text": "想装光伏 去哪申请"},
                      {"event": "slot", "name": "offered_business", "value": "pv_connection"}]))
    assert slot_values(events)["business_type"] == "pv_connection"
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["application_form"]


@pytest.mark.asyncio
async def test_a_stop_right_after_an_off_hours_hand_off_withdraws_the_callback(actions_gateway):
    import uuid

    from actions import api_client
    from actions.common import ActionCancelForm

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "callback", "summary": "回电：客户要求转人工",
        "channel": "web", "conversation_id": "withdraw-callback"})
    prior = [{"event": "user", "text": "人工客服", "parse_data": {"intent": {"name": "request_human"}}},
             {"event": "action", "name": "action_handoff"}]
    tracker = make_tracker("算了算了不用了", intent="cancel", sender_id="withdraw-callback", prior_events=prior)
    _, messages = await run_action(ActionCancelForm(), tracker)
    assert (await api_client.get_ticket(ticket["ticket_no"]))["status"] == "cancelled"
    assert f"回电工单 {ticket['ticket_no']} 已为您撤销" in texts(messages)[0]


@pytest.mark.asyncio
async def test_a_paused_repair_of_a_house_without_power_is_not_filed_when_a_bill_is_overdue(actions_gateway):
    import json
    from pathlib import Path

    from actions.bills import ActionQueryBill

    data = json.loads((Path(__file__).resolve().parents[2] / "demo" / "demo_data.json").read_text(encoding="utf-8"))
    overdue = sorted({b["account_no"] for b in data["bills"] if b.get("status") == "overdue"})[0]
    # The repair was asked many events ago (slots, actions, the bill form's questions).
    prior = [{"event": "user", "text": "家里没电了 报修", "parse_data": {"intent": {"name": "report_fault"}}}] + \
        [{"event": "slot", "name": "requested_slot", "value": "address"}] * 60
    slots = {"identity_verified": True, "verified_account_no": overdue, "account_no": overdue,
             "paused_form": "fault_form"}
    events, messages = await run_action(ActionQueryBill(), make_tracker("6985", intent="inform", slots=slots,
                                                                        prior_events=prior))
    assert "utter_power_cut_is_arrears" in [m.get("response") for m in messages]
    assert not any("接着办理" in t for t in texts(messages))
    assert slot_values(events)["paused_form"] is None
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]


@pytest.mark.asyncio
async def test_another_utility_misread_as_a_question_or_nothing_says_who_can_help():
    from actions.faq import ActionAnswerFaq
    from actions.handoff import ActionDefaultAskAffirmation

    tracker = make_tracker("燃气灶打不着火了 你们能派个人来看看吗", intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                {"name": "report_fault", "confidence": 0.3}]
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert [m.get("response") for m in messages] == ["utter_out_of_scope_gas"]
    _, messages = await run_action(ActionAnswerFaq(), make_tracker("水费在哪交啊", intent="faq"))
    assert [m.get("response") for m in messages] == ["utter_out_of_scope_water"]
