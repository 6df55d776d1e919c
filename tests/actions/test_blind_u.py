"""Kinds of failure found by the blind conversations of batches u and v (and make run) in this stop."""
from __future__ import annotations

import pytest

from actions.bills import ActionQueryBill, ValidateBillForm
from actions.common import period_label
from tests.actions.test_bills import bills_of, verified_slots
from tests.support.dialogue import make_tracker, run_action, slot_values, texts


def shown_bill_tracker(app, said: str, account_no: str, shown: str, **slots):
    return make_tracker(said, intent="query_bill", slots={
        **verified_slots(app, account_no), "bill_query": "details", "bill_shown_period": shown, **slots})


@pytest.mark.asyncio
async def test_is_it_still_unpaid_after_the_bill_answers_that_alone(actions_gateway):
    app = actions_gateway.app
    latest = bills_of(app)[0]
    assert latest.status == "unpaid"
    events, messages = await run_action(ActionQueryBill(), shown_bill_tracker(
        app, "那我是不是还没交", "3201000001", latest.period))
    replies = texts(messages)
    assert f"{float(latest.amount):.2f} 元还没有缴" in replies[0]
    assert not any("用电量" in r for r in replies)  # not the whole bill again
    values = slot_values(events)
    assert "bill_shown_period" not in values  # the same bill stays the one spoken of


@pytest.mark.asyncio
async def test_peak_and_valley_asked_after_the_bill_gives_the_split(actions_gateway):
    app = actions_gateway.app
    latest = bills_of(app, "3201000004")[0]
    assert latest.peak_kwh is not None
    _, messages = await run_action(ActionQueryBill(), shown_bill_tracker(
        app, "峰段谷段各用了多少", "3201000004", latest.period))
    reply = texts(messages)[0]
    assert f"{latest.peak_kwh:.0f} 度" in reply and f"{latest.valley_kwh:.0f} 度" in reply
    assert "电费金额" not in reply


@pytest.mark.asyncio
async def test_peak_and_valley_asked_of_a_tiered_bill_says_there_is_none(actions_gateway):
    app = actions_gateway.app
    latest = bills_of(app)[0]
    _, messages = await run_action(ActionQueryBill(), shown_bill_tracker(
        app, "峰谷各用了多少", "3201000001", latest.period))
    assert "没有按峰谷分时计费" in texts(messages)[0]


@pytest.mark.asyncio
async def test_another_month_after_a_bill_is_shown_whole(actions_gateway):
    app = actions_gateway.app
    latest, earlier = bills_of(app)[0], bills_of(app)[1]
    label = period_label(earlier.period)
    events, messages = await run_action(ActionQueryBill(), shown_bill_tracker(
        app, f"{label}用了多少度", "3201000001", latest.period, period=label))
    assert f"{float(earlier.amount):.2f} 元" in texts(messages)[0] and "用电量" in texts(messages)[0]
    assert slot_values(events)["bill_shown_period"] == earlier.period


def said(text: str) -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "inform"}, "entities": []}}


async def at_account_question(text: str, prior: list = ()):
    """The bill form's answer to ``text`` said where it asks for the 户号, after ``prior``."""
    tracker = make_tracker(text, intent="inform", form="bill_form", slots={"requested_slot": "account_no"},
                           prior_events=prior)
    return await run_action(ValidateBillForm(), tracker)


@pytest.mark.asyncio
async def test_a_customer_without_the_account_number_is_found_by_name_and_registered_mobile(actions_gateway):
    events, messages = await at_account_question("电话是13905172316", [
        said("我叫李秀英 住横溪石塘村45号 户号我不晓得"), {"event": "bot", "text": "请告诉我您的10位户号"}])
    values = slot_values(events)
    assert values["account_no"] == "3201000002" and values["identity_verified"] is True
    assert values["verified_account_no"] == "3201000002"
    assert [m.get("response") for m in messages] == ["utter_identity_verified_by_phone"]


@pytest.mark.asyncio
async def test_the_name_asked_after_a_mobile_finds_the_account(actions_gateway):
    events, _ = await at_account_question("李秀英", [said("13905172316"), {
        "event": "bot", "text": "请再告诉我户主的姓名", "metadata": {"utter_action": "utter_account_by_phone_ask_name"}}])
    assert slot_values(events)["account_no"] == "3201000002"


@pytest.mark.asyncio
async def test_a_mobile_with_another_name_verifies_nothing(actions_gateway):
    events, messages = await at_account_question("手机13905172316", [
        said("我叫王建国"), {"event": "bot", "text": "请告诉我您的10位户号"}])
    values = slot_values(events)
    assert values["account_no"] is None and not values.get("identity_verified")
    assert [m.get("response") for m in messages] == ["utter_account_by_phone_mismatch"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["户号是什么东西啊 我不晓得", "不记得户号了", "户号在哪看啊"])
async def test_not_knowing_the_account_number_gets_where_to_find_it_and_the_other_way(actions_gateway, text):
    _, messages = await at_account_question(text)
    assert [m.get("response") for m in messages] == ["utter_account_no_help"]
    assert "户主姓名和登记的手机号" in texts(messages)[0]


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["秦淮区中华路66号2栋302", "电话18751963377", "名字就不留了"])
async def test_details_given_at_the_name_question_file_the_application_without_it(actions_gateway, text):
    from actions.applications import NAME_LATER, ValidateApplicationForm

    tracker = make_tracker(text, intent="inform", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "meter_move"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["applicant_name"] == NAME_LATER
    assert values.get("requested_slot") != "applicant_name"


@pytest.mark.asyncio
async def test_a_name_is_still_taken_as_the_name(actions_gateway):
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("王建国", intent="inform", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "meter_move"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["applicant_name"] == "王建国"


@pytest.mark.asyncio
async def test_no_property_certificate_asked_in_an_application_gets_what_to_bring_instead(actions_gateway):
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("要哪些材料 我们是宅基地自己盖的房子 没有房产证咋办", intent="faq",
                           form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "pv_connection"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert "宅基地使用证" in texts(messages)[0]
    assert slot_values(events)["requested_slot"] == "applicant_name"


@pytest.mark.asyncio
async def test_a_complaint_that_says_it_is_no_repair_stops_the_repair_and_keeps_the_story(actions_gateway):
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("我要投诉 不是报修 现在有电", intent="complain", form="fault_form", slots={
        "requested_slot": "contact_phone", "address": "浦口永宁青山村8号",
        "fault_description": "这个月第三回停电了 每次一停就是大半天"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["feedback_type"] == "complaint"
    assert "第三回停电" in values["feedback_content"] and "青山村8号" in values["feedback_content"]
    assert values["address"] is None  # no repair is left half-filled
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["feedback_form"]
    assert [m.get("response") for m in messages] == ["utter_complaint_instead_of_repair"]


@pytest.mark.asyncio
async def test_i_only_make_a_suggestion_inside_an_application_files_a_suggestion(actions_gateway):
    from actions.applications import ValidateApplicationForm

    prior = [said("电费短信能不能把峰谷电价分开写"), {"event": "action", "name": "application_form"},
             {"event": "active_loop", "name": "application_form"}]
    tracker = make_tracker("我就提个意见 不用回电话", intent="suggest", form="application_form", prior_events=prior,
                           slots={"requested_slot": "applicant_name", "business_type": "tariff_change"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["feedback_type"] == "suggestion" and "峰谷电价分开写" in values["feedback_content"]
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["feedback_form"]


@pytest.mark.asyncio
async def test_a_name_alone_at_the_account_question_asks_for_the_mobile_with_it(actions_gateway):
    _, messages = await at_account_question("我叫孙丽")
    assert [m.get("response") for m in messages] == ["utter_account_no_help"]


@pytest.mark.asyncio
async def test_a_first_message_the_policies_give_up_on_is_asked_again_not_offered_a_person():
    from actions.handoff import ActionDefaultFallback

    _, messages = await run_action(ActionDefaultFallback(), make_tracker("湖熟营业厅那个小刘", intent="nlu_fallback"))
    assert [m.get("response") for m in messages] == ["utter_ask_rephrase"]


@pytest.mark.asyncio
async def test_no_second_fallback_on_top_of_the_confirmation_asked_in_the_same_turn():
    from actions.handoff import ActionDefaultFallback

    tracker = make_tracker("湖熟营业厅那个小刘 服务真好", intent="nlu_fallback")
    tracker.events += [{"event": "action", "name": "action_two_stage_fallback"},
                       {"event": "bot", "text": "不好意思，我没太明白。您是想表扬吗？"}]
    events, messages = await run_action(ActionDefaultFallback(), tracker)
    assert messages == [] and not any(e.get("event") == "rewind" for e in events)
    # and the bot waits for the answer (no other action is predicted on top of it)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]


@pytest.mark.asyncio
async def test_a_fallback_after_the_reconnection_answer_in_the_same_turn_does_not_answer_again():
    from actions.handoff import ActionDefaultFallback

    tracker = make_tracker("我现在就在微信上交 交完多长时间来电", intent="query_outage")
    tracker.events += [{"event": "action", "name": "action_answer_faq"},
                       {"event": "bot", "text": "结清欠费后，供电公司在24小时内恢复供电。"}]
    events, messages = await run_action(ActionDefaultFallback(), tracker)
    assert messages == [] and [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]


@pytest.mark.asyncio
async def test_progress_of_an_earlier_application_is_not_sent_to_the_application_form(actions_gateway):
    from actions.progress import ValidateProgressForm

    tracker = make_tracker("我们店上个月报的增容 批下来没有", intent="query_progress", form="progress_form")
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert "application_form" not in [e.get("name") for e in events if e.get("event") == "followup"]
