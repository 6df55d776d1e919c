"""Issue 15, the dialogue part: forms that validate and listen, reconnection after arrears,
tone and safety, the one satisfaction question — custom actions against a real gateway."""
from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select
from rasa_sdk.executor import CollectingDispatcher

from actions.applications import ValidateApplicationForm
from actions.bills import ActionCheckReconnection, ActionQueryBill, ValidateBillForm
from actions.common import ActionCancelForm, ActionWrapUp, looks_like_address, non_value_kind
from actions.faults import ActionQueryOutage, ActionSubmitFault, ValidateFaultForm, ValidateOutageForm
from actions.feedback import ValidateFeedbackForm
from actions.handoff import ActionDefaultAskAffirmation
from actions.progress import ValidateProgressForm
from bot.store.models import Customer, Ticket
from tests.support.dialogue import DOMAIN, make_tracker, run_action, slot_values, texts
from bot.store import STORE


def ticket_count(app) -> int:
    with app[STORE].session() as session:
        return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


def latest_ticket(app) -> Ticket:
    with app[STORE].session() as session:
        return session.execute(select(Ticket).order_by(Ticket.id.desc())).scalars().first()


def responses(messages) -> list:
    return [m.get("response") for m in messages]


def response_text(name: str) -> str:
    return DOMAIN["responses"][name][0]["text"]


def verified(app, account_no: str) -> dict:
    with app[STORE].session() as session:
        row = session.execute(select(Customer).where(Customer.account_no == account_no)).scalar_one()
        return {"account_no": account_no, "verified_account_no": account_no, "identity_verified": True,
                "phone_last4": row.phone[-4:], "customer_name": row.name, "customer_address": row.address,
                "area_type": row.area_type}


def at_slot(slot: str, form: str, text: str, intent: str = "inform", confidence: float = 0.8, **kw):
    slots = {"requested_slot": slot, **kw.pop("slots", {})}
    return make_tracker(text, intent=intent, confidence=confidence, form=form, slots=slots, **kw)


# --- what is and is not a value ---------------------------------------------------------

def test_an_address_names_a_place_and_a_number():
    assert looks_like_address("玄武区中山路18号")
    assert looks_like_address("和平社区81号")
    assert looks_like_address("江宁区石塘村")  # a village needs no house number
    assert not looks_like_address("3377")
    assert not looks_like_address("能不能快点 家里有老人")
    assert not looks_like_address("推上去又跳")
    assert not looks_like_address("中山路")  # a street without a number is not enough for a crew
    assert looks_like_address("中山路", need_number=False)  # it is for an outage question


@pytest.mark.parametrize("text,slot,kind", [
    ("不用修了", "address", "stop"),
    ("算了不用了", "contact_phone", "stop"),
    ("等等", "address", "wait"),
    ("能不能快点 家里有老人", "address", "plea"),
    ("你们能不能快点来人啊", "contact_phone", "plea"),
    ("推上去又跳", "address", "story"),
    ("一开空调就跳闸", "address", "story"),
    ("不对不对，地址说错了，是和平社区81号", "contact_phone", "correction"),
    ("3201000002", "contact_phone", "account"),
    ("3201000002", "phone_last4", "account"),
    ("玄武区中山路18号", "address", None),
    ("13912345678", "contact_phone", None),
])
def test_what_a_message_is_when_a_slot_is_asked(text, slot, kind):
    assert non_value_kind(make_tracker(text, intent="inform", slots={"requested_slot": slot}), slot) == kind


# --- kind 1: a form takes only values -------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("text,intent", [
    ("能不能快点 家里有老人", "report_fault"),
    ("推上去又跳", "report_fault"),
    ("3377", "inform"),
    ("不用修了", "deny"),
    ("等等，我先查个电费看看是不是欠费停的", "query_bill"),
    ("等等", "nlu_fallback"),
])
async def test_nothing_but_an_address_is_stored_as_the_address(actions_gateway, text, intent):
    tracker = at_slot("address", "fault_form", text, intent=intent, confidence=0.86)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("address") is None, (text, events)


@pytest.mark.asyncio
async def test_a_plea_is_answered_with_empathy_and_the_address_asked_again(actions_gateway):
    events, messages = await run_action(
        ValidateFaultForm(), at_slot("address", "fault_form", "能不能快点 家里有老人", intent="report_fault"))
    assert responses(messages) == ["utter_empathy_hurry"]
    assert slot_values(events)["requested_slot"] == "address"


@pytest.mark.asyncio
async def test_a_description_at_the_address_question_is_kept_as_the_description(actions_gateway):
    events, messages = await run_action(
        ValidateFaultForm(), at_slot("address", "fault_form", "推上去又跳", intent="report_fault"))
    values = slot_values(events)
    assert values["fault_description"] == "推上去又跳"
    assert values.get("address") is None and values["requested_slot"] == "address"


@pytest.mark.asyncio
async def test_asking_for_a_person_inside_a_form_hands_off_instead_of_cancelling(actions_gateway):
    from actions.bills import ValidateBillForm

    tracker = at_slot("account_no", "bill_form", "算了 我要转人工", intent="request_human")
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert {"event": "followup", "timestamp": None, "name": "action_handoff"} in events
    assert {"event": "followup", "timestamp": None, "name": "action_cancel_form"} not in events
    assert slot_values(events)["requested_slot"] is None


@pytest.mark.asyncio
async def test_stopping_a_form_cancels_it_and_opens_nothing(actions_gateway):
    app = actions_gateway.app
    before = ticket_count(app)
    events, _ = await run_action(ValidateFaultForm(), at_slot("address", "fault_form", "不用修了", intent="deny"))
    values = slot_values(events)
    assert values["requested_slot"] is None  # the form ends without asking again
    assert {"event": "followup", "timestamp": None, "name": "action_cancel_form"} in events
    # the cancel action, run right after the form ended, names what was cancelled
    ended = make_tracker("不用修了", intent="deny", prior_events=[
        {"event": "active_loop", "name": "fault_form"}])
    ended.events.extend([{"event": "action", "name": "fault_form"}, {"event": "active_loop", "name": None},
                         {"event": "followup", "name": "action_cancel_form"}])
    events, messages = await run_action(ActionCancelForm(), ended)
    assert "故障报修" in texts(messages)[0] and "取消" in texts(messages)[0]
    assert ticket_count(app) == before


@pytest.mark.asyncio
async def test_four_digits_are_not_an_address(actions_gateway):
    tracker = at_slot("address", "outage_form", "3377", candidates={"address": "3377"})
    events, messages = await run_action(ValidateOutageForm(), tracker)
    assert slot_values(events)["address"] is None
    assert responses(messages) == ["utter_address_not_digits"]


@pytest.mark.asyncio
async def test_an_account_number_at_the_phone_question_is_the_account(actions_gateway):
    tracker = at_slot("contact_phone", "fault_form", "3201000002",
                      slots={"address": "江宁区横溪街道石塘村45号", "fault_description": "家里没电",
                             "repair_area_type": "rural"},
                      entities=[{"entity": "account_no", "value": "3201000002"}])
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["account_no"] == "3201000002"
    # The crew calls the account's registered phone; the form goes on.
    assert values.get("contact_phone") == "registered" and values["requested_slot"] != "contact_phone"
    assert responses(messages) == ["utter_crew_calls_registered_phone"]
    assert not any("没有识别到电话号码" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_a_request_is_not_a_name(actions_gateway):
    for text in ("能不能快点办", "我要装充电桩", "等一下", "123"):
        tracker = at_slot("applicant_name", "application_form", text,
                          slots={"business_type": "ev_charger", "documents_shown_for": "ev_charger"})
        events, _ = await run_action(ValidateApplicationForm(), tracker)
        assert slot_values(events).get("applicant_name") is None, text


# --- kind 2: corrections change the field they name --------------------------------------

@pytest.mark.asyncio
async def test_an_address_correction_at_the_phone_question_changes_the_address(actions_gateway):
    tracker = at_slot("contact_phone", "fault_form", "不对不对，地址说错了，是和平社区81号", intent="deny",
                      confidence=0.59, slots={"address": "和平社区21号", "address_checked": "和平社区21号",
                                              "fault_description": "电线冒烟了", "hazard": True,
                                              "repair_area_type": "urban"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["address"] == "和平社区81号"
    assert values.get("contact_phone") is None and values["requested_slot"] == "contact_phone"
    assert "utter_corrected" in responses(messages)
    assert not any("没有识别到电话号码" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_a_correction_at_a_later_question_changes_that_field_and_asks_again(actions_gateway):
    slots = {"business_type": "ev_charger", "documents_shown_for": "ev_charger", "applicant_name": "王建国",
             "address": "秦淮区中华路66号2栋302"}
    tracker = at_slot("contact_phone", "application_form", "地址说错了，应该是秦淮区中华路68号1栋101", intent="deny",
                      slots=slots)
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["address"] == "秦淮区中华路68号1栋101"
    assert values["requested_slot"] == "contact_phone"
    assert "applicant_name" not in values  # the rest is kept
    assert "utter_corrected" in responses(messages)


@pytest.mark.asyncio
async def test_a_forgotten_ticket_number_leads_to_the_lookup_by_account(actions_gateway):
    tracker = at_slot("ticket_no", "progress_form", "不记得单号了", intent="cancel", confidence=0.52)
    events, messages = await run_action(ValidateProgressForm(), tracker)
    values = slot_values(events)
    assert values["progress_by_account"] is True and values["requested_slot"] == "account_no"
    assert responses(messages) == ["utter_progress_by_account"]
    # once the account is known the form asks for the identity check, not for a number
    tracker = at_slot("account_no", "progress_form", "3201000001", slots={"progress_by_account": True},
                      candidates={"account_no": "3201000001"})
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert slot_values(events)["requested_slot"] == "phone_last4"


@pytest.mark.asyncio
async def test_the_whole_registered_mobile_at_the_last_four_question_verifies(actions_gateway):
    tracker = at_slot("phone_last4", "bill_form", "18751963377", slots={"account_no": "3201000003"})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events)["identity_verified"] is True


# --- kind 3: what was said earlier is used ---------------------------------------------

@pytest.mark.asyncio
async def test_an_outage_question_with_an_account_uses_its_address_without_reading_it_out(actions_gateway):
    opening = "查电费，顺便问问明天我们那停不停电，户号3201000003"
    tracker = make_tracker(opening, intent="query_outage", form="outage_form",
                           entities=[{"entity": "account_no", "value": "3201000003"}],
                           slots={"account_no": "3201000003"}, candidates={"account_no": "3201000003"})
    events, messages = await run_action(ValidateOutageForm(), tracker)
    values = slot_values(events)
    assert values["address_from_account"] is True and values["address"]
    assert responses(messages) == ["utter_using_account_address"]
    prior = [{"event": "user", "text": opening}, {"event": "active_loop", "name": "outage_form"}]
    tracker = make_tracker("", slots={**values, "account_no": "3201000003"}, prior_events=prior)
    events, messages = await run_action(ActionQueryOutage(), tracker)
    reply = "".join(texts(messages))
    assert "登记地址所在的区域" in reply and "计划停电" in reply
    assert "中华路" not in reply and "秦淮" not in reply  # the customer has not proved the account is theirs
    assert {"event": "followup", "timestamp": None, "name": "bill_form"} in events  # the bill part comes next
    assert "utter_ask_rating" not in responses(messages)


# --- kind 6: reconnection after arrears --------------------------------------------------

@pytest.mark.asyncio
async def test_a_paid_arrears_question_goes_on_to_the_bill_check(actions_gateway):
    events, messages = await run_action(
        ActionCheckReconnection(), make_tracker("欠费停电，我刚在支付宝上把钱交了，多久能来电", intent="faq"))
    assert slot_values(events) == {"bill_query": "reconnect"}
    assert {"event": "followup", "timestamp": None, "name": "bill_form"} in events
    events, _ = await run_action(ActionCheckReconnection(), make_tracker("欠费多久会停电", intent="faq"))
    assert events == []  # the general rule: the FAQ answer was enough


@pytest.mark.asyncio
async def test_reconnection_within_24_hours_of_paying_opens_nothing(actions_gateway):
    app = actions_gateway.app
    before = ticket_count(app)
    tracker = make_tracker("2316", intent="inform", slots={**verified(app, "3201000002"), "bill_query": "reconnect"},
                           prior_events=[{"event": "user", "text": "欠费停电，我刚在支付宝上把钱交了，多久能来电"}])
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert ticket_count(app) == before
    assert responses(messages)[0] == "utter_reconnection_paid_wait"
    assert "24小时" in response_text("utter_reconnection_paid_wait")


@pytest.mark.asyncio
async def test_reconnection_still_off_after_24_hours_opens_a_reconnection_request_never_a_repair(actions_gateway):
    app = actions_gateway.app
    tracker = make_tracker("2316", intent="inform", slots={**verified(app, "3201000002"), "bill_query": "reconnect"},
                           prior_events=[{"event": "user", "text": "欠费的钱昨天就交了，都超过24小时了还是没电"}])
    events, messages = await run_action(ActionQueryBill(), tracker)
    ticket = latest_ticket(app)
    assert ticket.type == "application" and ticket.business_type == "reconnection"
    assert ticket.account_no == "3201000002"
    reply = "".join(texts(messages))
    assert responses(messages)[0] == "utter_reconnection_paid"
    assert "24小时" in response_text("utter_reconnection_paid")
    assert slot_values(events)["last_ticket_no"] == ticket.ticket_no
    assert "工单号" not in reply or "报修" not in reply


@pytest.mark.asyncio
async def test_reconnection_with_bills_still_owing_opens_nothing(actions_gateway):
    app = actions_gateway.app
    before = ticket_count(app)
    tracker = make_tracker("0518", intent="inform", slots={**verified(app, "3201000001"), "bill_query": "reconnect"})
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert ticket_count(app) == before
    assert responses(messages)[0] == "utter_reconnection_still_owing"


# --- kind 8: tone, safety, the satisfaction question ------------------------------------

@pytest.mark.asyncio
async def test_an_electric_shock_leads_with_what_to_do_now(actions_gateway):
    tracker = make_tracker("救命 我爸碰到电线被电了", intent="report_fault", form="fault_form")
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert responses(messages)[0] == "utter_safety_shock"
    first_line = response_text("utter_safety_shock").split("\n")[0]
    assert "120" in first_line and "断电" in first_line and "不要" in first_line
    fire_line = response_text("utter_safety_fire").split("\n")[0]
    assert "119" in fire_line and "断电" in fire_line
    assert slot_values(events)["hazard"] is True


@pytest.mark.asyncio
async def test_an_angry_customer_gets_an_apology_first(actions_gateway):
    tracker = make_tracker("你们什么破服务！！这个月第三次停电了", intent="complain", form="feedback_form")
    _, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert responses(messages)[0] == "utter_apology_angry"
    assert "抱歉" in response_text("utter_apology_angry")
    fallback = make_tracker("你们什么破服务！！这个月第三次停电了", intent="nlu_fallback", confidence=0.5)
    _, messages = await run_action(ActionDefaultAskAffirmation(), fallback)
    assert responses(messages)[0] == "utter_apology_angry"


@pytest.mark.asyncio
async def test_no_satisfaction_question_right_after_a_repair_is_registered(actions_gateway):
    slots = {"address": "南京市玄武区北京东路9号", "fault_description": "家里没电了，邻居家有电",
             "contact_phone": "13900005555"}
    _, messages = await run_action(ActionSubmitFault(), make_tracker("13900005555", slots=slots))
    assert "utter_ask_rating" not in responses(messages)
    # the customer's thanks at the end brings it, once
    served = [{"event": "action", "name": "action_submit_fault"}]
    _, messages = await run_action(ActionWrapUp(), make_tracker("谢谢", intent="thank", prior_events=served))
    assert responses(messages) == ["utter_thank", "utter_ask_rating"]
    asked = served + [{"event": "bot", "text": "请问您对这次服务满意吗？",
                       "metadata": {"utter_action": "utter_ask_rating"}}]
    _, messages = await run_action(ActionWrapUp(), make_tracker("再见", intent="goodbye", prior_events=asked))
    assert responses(messages) == ["utter_goodbye"]


@pytest.mark.asyncio
async def test_the_satisfaction_question_is_asked_once_per_conversation(actions_gateway):
    app = actions_gateway.app
    asked = [{"event": "bot", "text": "请问您对这次服务满意吗？", "metadata": {"utter_action": "utter_ask_rating"}},
             {"event": "user", "text": "满意", "parse_data": {"intent": {"name": "rate_service"}}}]
    tracker = make_tracker("上个月电费", intent="query_bill", prior_events=asked, slots=verified(app, "3201000002"))
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert "utter_ask_rating" not in responses(messages)


def test_every_response_the_actions_use_is_in_the_domain():
    import re
    from pathlib import Path

    used = set()
    for path in Path("actions").glob("*.py"):
        used |= set(re.findall(r'response="(utter_[a-z_]+)"', path.read_text(encoding="utf-8")))
    missing = sorted(name for name in used if name not in DOMAIN["responses"])
    assert not missing, missing
    # variations for the texts this work added
    for name in ("utter_empathy_hurry", "utter_apology_angry", "utter_corrected", "utter_reconnection_paid"):
        assert len(DOMAIN["responses"][name]) >= 2, name
    yaml.safe_dump(DOMAIN)  # still plain YAML


# --- details given on the way ------------------------------------------------------------

@pytest.mark.asyncio
async def test_account_and_last_four_said_inside_a_repair_verify_and_no_phone_is_asked(actions_gateway):
    tracker = at_slot("contact_phone", "fault_form", "手机尾号是2316",
                      slots={"account_no": "3201000002", "address": "江苏省南京市江宁区横溪街道石塘村45号",
                             "address_from_account": True, "fault_description": "家里没电了",
                             "repair_area_type": "rural"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["identity_verified"] is True and values["verified_account_no"] == "3201000002"
    assert values["requested_slot"] is None  # a verified customer is reached on the registered phone
    tracker = at_slot("account_no", "bill_form", "户号3201000007 尾号4286",
                      entities=[{"entity": "account_no", "value": "3201000007"}],
                      candidates={"account_no": "3201000007"})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events)["identity_verified"] is True and slot_values(events)["requested_slot"] is None


@pytest.mark.asyncio
async def test_a_corrected_house_number_changes_only_the_number(actions_gateway):
    tracker = at_slot("contact_phone", "fault_form", "哎呀不对不对 门牌说错了 我家是81号 21号是前面那家",
                      slots={"address": "湖熟街道和平社区21号", "address_checked": "湖熟街道和平社区21号",
                             "fault_description": "屋里没电了", "repair_area_type": "rural"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["address"] == "湖熟街道和平社区81号"


@pytest.mark.asyncio
async def test_a_phone_corrected_right_after_filing_is_the_last_number_named(actions_gateway):
    import uuid

    from actions import api_client
    from actions.common import correct_just_filed_phone

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "complaint", "summary": "投诉：抢修的人说好下午来，到晚上都没人来",
        "channel": "web", "contact_phone": "13805174426"})
    prior = [{"event": "user", "text": "13805174426"},
             {"event": "bot", "text": f"您的投诉已登记，编号：{ticket['ticket_no']}。"}]
    tracker = make_tracker("不对 电话说错了 最后两位是62 13805174462", intent="deny", prior_events=prior)
    assert await correct_just_filed_phone(CollectingDispatcher(), tracker) is not None
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "13805174462"


@pytest.mark.asyncio
async def test_a_changed_business_is_taken_at_any_question(actions_gateway):
    tracker = at_slot("applicant_name", "application_form", "哦不对 不是过户 我是想把电表移到院子外头去",
                      intent="apply_service", slots={"business_type": "name_transfer",
                                                     "documents_shown_for": "name_transfer"},
                      candidates={"business_type": "name_transfer"})  # NLU saw the word 过户
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["business_type"] == "meter_move" and values.get("applicant_name") is None


@pytest.mark.asyncio
async def test_a_complaint_is_taken_without_a_phone_when_the_customer_refuses_one(actions_gateway):
    slots = {"feedback_type": "complaint", "feedback_content": "营业厅的人态度太差了"}
    tracker = at_slot("contact_phone", "feedback_form", "电话就不留了 你们记下来就行", intent="deny", slots=slots)
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events)["contact_phone"] == "none"
    assert "不留电话" in texts(messages)[0]
    tracker = at_slot("contact_phone", "feedback_form", "算了算了 我再找物业问问 先不投诉了", intent="cancel",
                      slots=slots)
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert {"event": "followup", "timestamp": None, "name": "action_cancel_form"} in events


@pytest.mark.asyncio
async def test_an_application_uses_what_is_known_and_what_was_said_on_the_way(actions_gateway):
    # the address given at the name question is the address; the name said later is the name
    base = {"business_type": "new_connection", "documents_shown_for": "new_connection"}
    tracker = at_slot("applicant_name", "application_form", "江宁区谷里街道张溪社区56号", slots=base)
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["address"] == "江宁区谷里街道张溪社区56号" and values.get("applicant_name") == "name_later"
    tracker = at_slot("contact_phone", "application_form", "我叫孙福根 电话13182765530",
                      slots={**base, "address": values["address"], "applicant_name": values["applicant_name"]},
                      candidates={"contact_phone": "13182765530"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["applicant_name"] == "孙福根" and values["contact_phone"] == "13182765530"


@pytest.mark.asyncio
async def test_a_verified_complainant_is_called_on_the_registered_phone(actions_gateway):
    from actions.feedback import ActionSubmitFeedback

    app = actions_gateway.app
    slots = {**verified(app, "3201000024"), "feedback_type": "complaint",
             "feedback_content": "这个月停了四五回电，冰箱里东西都臭了", "requested_slot": "contact_phone"}
    tracker = at_slot("contact_phone", "feedback_form", "尾号7728", slots=slots)
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events)["requested_slot"] is None  # no number asked of a verified customer
    events, _ = await run_action(ActionSubmitFeedback(), make_tracker("尾号7728", slots=slots))
    ticket = latest_ticket(app)
    assert ticket.type == "complaint" and ticket.account_no == "3201000024"
    with app[STORE].session() as session:
        phone = session.execute(select(Customer.phone).where(Customer.account_no == "3201000024")).scalar_one()
    assert ticket.contact_phone == phone


@pytest.mark.asyncio
async def test_an_emergency_nlu_did_not_understand_still_gets_safety_first_and_the_repair(actions_gateway):
    text = "快快 我老公换灯泡的时候被电打了 人倒地上不动了"
    events, messages = await run_action(ActionDefaultAskAffirmation(),
                                        make_tracker(text, intent="nlu_fallback", confidence=0.4))
    assert responses(messages)[0] == "utter_safety_shock"
    assert {"event": "followup", "timestamp": None, "name": "fault_form"} in events
    assert slot_values(events)["hazard"] is True


@pytest.mark.asyncio
async def test_the_whole_answer_is_the_address_when_the_entity_misses_the_number(actions_gateway):
    said = "浦口区永宁街道青山村 就在村口小卖部旁边 青山村15号门口"
    tracker = at_slot("address", "fault_form", said, entities=[{"entity": "address", "value": "浦口区永宁街道青山村"}],
                      candidates={"address": "浦口区永宁街道青山村"}, slots={"hazard": True})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert "青山村15号" in slot_values(events)["address"]


@pytest.mark.asyncio
async def test_the_same_place_said_differently_is_not_a_second_repair(actions_gateway):
    app = actions_gateway.app
    slots = {**verified(app, "3201000010"), "address": "江苏省南京市鼓楼区马台街60号紫金花园22栋1403室",
             "address_from_account": True, "fault_description": "电表箱冒烟了", "hazard": True}
    await run_action(ActionSubmitFault(), make_tracker("尾号1112", slots=slots, sender_id="conv-same-place"))
    first = latest_ticket(app)
    before = ticket_count(app)
    again = {**verified(app, "3201000010"), "address": "马台街60号紫金花园22栋1403",
             "fault_description": "马台街60号紫金花园22栋1403", "last_ticket_no": first.ticket_no}
    _, messages = await run_action(ActionSubmitFault(), make_tracker("马台街60号紫金花园22栋1403", slots=again,
                                                                     sender_id="conv-same-place"))
    assert ticket_count(app) == before
    assert first.ticket_no in texts(messages)[0]


@pytest.mark.asyncio
async def test_praise_needs_no_confirmation(actions_gateway):
    slots = {"feedback_type": "praise", "feedback_content": "表扬昨天冒雨来修电的师傅", "contact_phone": "none"}
    events, _ = await run_action(ValidateFeedbackForm(), at_slot("contact_phone", "feedback_form", "电话不用留了",
                                                                 intent="deny", slots=slots))
    assert slot_values(events).get("requested_slot") is None  # filed without a confirmation round


@pytest.mark.asyncio
async def test_values_for_other_questions_are_kept_where_they_belong(actions_gateway):
    # a phone given while another question is open
    tracker = at_slot("applicant_name", "application_form", "电话15192823606",
                      slots={"business_type": "new_connection", "documents_shown_for": "new_connection"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    # (the name waits for the documents: the application goes on to the address)
    assert values["contact_phone"] == "15192823606" and values["requested_slot"] == "address"
    assert values["applicant_name"] == "name_later"
    # a house number corrected although NLU saw only "社区81号"
    tracker = at_slot("repair_area_type", "fault_form", "哎呀不对不对 门牌说错了 我家是81号 21号是前面那家",
                      entities=[{"entity": "address", "value": "社区81号"}],
                      slots={"address": "湖熟街道和平社区21号", "fault_description": "屋里没电了"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["address"] == "湖熟街道和平社区81号"
    # only the number from NLU: the whole answer is the address
    tracker = at_slot("address", "fault_form", "谷里街道张溪社区103号", candidates={"address": "103号"},
                      slots={"fault_description": "电压低"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["address"] == "谷里街道张溪社区103号"
    # where a tip-off happened, said at the contact question, is part of the tip-off
    slots = {"feedback_type": "tip_off", "feedback_content": "隔壁小作坊偷电，电表底下接了根线"}
    tracker = at_slot("contact_phone", "feedback_form", "栖霞区迈皋桥街道万寿村13号", slots=slots)
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert "万寿村13号" in slot_values(events)["feedback_content"]


@pytest.mark.asyncio
async def test_every_complaint_starts_with_an_apology(actions_gateway):
    for text, first in (("抄表的把数抄错了，想反映一下", "utter_apology_complaint"),
                        ("阿有人管啊 我们小区天天晚上跳电 打了几次电话都没人来", "utter_apology_angry")):
        _, messages = await run_action(ValidateFeedbackForm(),
                                       make_tracker(text, intent="complain", form="feedback_form"))
        assert responses(messages)[0] == first, text
        assert responses(messages).count("utter_apology_complaint") + \
            responses(messages).count("utter_apology_angry") == 1
