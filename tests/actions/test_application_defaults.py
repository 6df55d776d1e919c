"""Applications: what a verified account already answers, questions inside the form, opening words.

Kinds of failure found by customers' conversations: a verified holder was asked for a name and an
address the account holds (and looped on "好的" as a name), a question about the documents was
taken for a name, a district in the opening words was called an incomplete address before any
address was asked, and "装电" was no business."""
from __future__ import annotations

import pytest

from actions.applications import ActionSubmitApplication, ValidateApplicationForm, business_from_text
from tests.support.dialogue import make_tracker, run_action, slot_values, texts

# Demo customer 3201000009: 冯秀英, phone ending 8842, 太平南路305号阳光花园18栋701室.
HOLDER = {"identity_verified": True, "verified_account_no": "3201000009", "account_no": "3201000009",
          "phone_last4": "8842", "customer_name": "冯秀英",
          "customer_address": "江苏省南京市秦淮区太平南路305号阳光花园18栋701室", "area_type": "urban"}


def at_slot(slot, text, intent="inform", slots=None, candidates=None):
    return make_tracker(text, intent=intent, confidence=0.8, form="application_form",
                        slots={"requested_slot": slot, **(slots or {})}, candidates=candidates)


@pytest.mark.asyncio
async def test_identity_proved_at_the_name_question_answers_name_and_address(actions_gateway):
    tracker = at_slot("applicant_name", "户号3201000009 尾号8842",
                      slots={"business_type": "meter_move", "documents_shown_for": "meter_move"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["identity_verified"] is True
    assert values["applicant_name"] == "冯秀英"
    assert values["address"] == HOLDER["customer_address"]
    assert values["requested_slot"] is None  # nothing else to ask a verified holder: filed
    assert not any("姓名" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_a_verified_holder_is_not_asked_again_after_a_detail(actions_gateway):
    tracker = at_slot("applicant_name", "现在是4千瓦的 想加到8千瓦",
                      slots={**HOLDER, "business_type": "capacity_change", "documents_shown_for": "capacity_change"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["applicant_name"] == "冯秀英" and values["requested_slot"] is None
    assert not any("好像不是姓名" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_a_new_connection_still_asks_where_the_new_supply_is(actions_gateway):
    tracker = at_slot("applicant_name", "好的",
                      slots={**HOLDER, "business_type": "new_connection", "documents_shown_for": "new_connection"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["applicant_name"] == "冯秀英"
    assert "address" not in values and values["requested_slot"] == "address"


@pytest.mark.asyncio
async def test_a_name_the_customer_gives_wins_over_the_holder(actions_gateway):
    tracker = at_slot("applicant_name", "买家叫刘强 电话13770528816",
                      slots={**HOLDER, "business_type": "name_transfer", "documents_shown_for": "name_transfer"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["applicant_name"] == "刘强"


@pytest.mark.asyncio
async def test_what_was_registered_marks_what_came_from_the_account(actions_gateway):
    slots = {**HOLDER, "business_type": "meter_move", "applicant_name": "冯秀英",
             "address": HOLDER["customer_address"], "requested_slot": None}
    _, messages = await run_action(ActionSubmitApplication(), make_tracker(slots=slots, sender_id="conv-marks"))
    shown = next(t for t in texts(messages) if "登记的申请人" in t)
    assert "冯**（户主）" in shown and "冯秀英" not in shown
    assert "（账户登记地址）" in shown and "账户登记的手机" in shown


@pytest.mark.asyncio
@pytest.mark.parametrize("question", ["要带些什么东西", "要准备啥材料", "需要哪些资料？"])
async def test_a_documents_question_inside_the_form_is_answered(actions_gateway, question):
    tracker = at_slot("applicant_name", question, intent="faq",
                      slots={"business_type": "name_transfer", "documents_shown_for": "name_transfer"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("applicant_name") is None and values["requested_slot"] == "applicant_name"
    [answer] = texts(messages)
    assert "办理过户需要准备以下资料" in answer and "新户主身份证" in answer


@pytest.mark.asyncio
async def test_documents_asked_before_the_business_is_known_offers_the_businesses(actions_gateway):
    events, messages = await run_action(ValidateApplicationForm(), at_slot("business_type", "要啥资料", intent="faq"))
    assert slot_values(events)["requested_slot"] == "business_type"
    assert "要看办理哪项业务" in texts(messages)[0] and messages[0]["buttons"]


@pytest.mark.asyncio
async def test_a_district_in_the_opening_words_is_not_called_an_incomplete_address(actions_gateway):
    tracker = make_tracker("在雨花台区开了个小饭馆 新租的门面 要申请装电 商用的", intent="apply_service",
                           form="application_form", candidates={"address": "雨花台区"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["business_type"] == "new_connection" and values.get("address") is None
    assert not any("不太完整" in t for t in texts(messages))
    assert any("营业执照" in t for t in texts(messages))  # a restaurant gets the business documents


def test_words_for_getting_connected_name_a_new_connection():
    assert business_from_text("新租的门面 要申请装电") == "new_connection"
    assert business_from_text("想申请用电") == "new_connection"
    assert business_from_text("小区车位上装电动车充电桩") == "ev_charger"
