"""Kinds of failure found trying the widget after the thirteenth blind batch, and by the batches
p, q and r (tests/conversations/dev/p_*.yml, q_*.yml, r_*.yml), against the real gateway with the
demo data."""
from __future__ import annotations

import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values


def responses(messages) -> list:
    return [m.get("response") for m in messages]


def test_an_estate_and_flat_after_a_pause_stay_in_the_address():
    """"鼓楼区湖南路二三一号 锦绣苑三栋四零二" was stored as 鼓楼区湖南路231号: the estate,
    building and flat after the space were lost (a crew cannot find the door)."""
    from actions.faults import whole_address

    assert whole_address("鼓楼区湖南路231号", "鼓楼区湖南路231号 锦绣苑3栋402") == "鼓楼区湖南路231号 锦绣苑3栋402"
    # a phone or a 户号 after the pause is no part of the address
    assert whole_address("鼓楼区湖南路231号", "鼓楼区湖南路231号，电话13851620518") == "鼓楼区湖南路231号"
    assert whole_address("湖南路231号", "湖南路231号 户号3201000001") == "湖南路231号"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, stored", [("哦不对 是四零一", "锦绣苑3栋401"), ("不对不对 是2303", "锦绣苑3栋2303")])
async def test_a_bare_room_number_corrected_at_the_phone_question_changes_the_address(actions_gateway, said, stored):
    """"哦不对 是四零一" at the phone question, right after "…锦绣苑三栋四零二", was read as a bad
    phone number ("没有识别到电话号码"); the ticket kept room 402."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(said, intent="inform", form="fault_form",
                           slots={"requested_slot": "contact_phone", "address": "鼓楼区湖南路231号 锦绣苑3栋402",
                                  "address_checked": "鼓楼区湖南路231号 锦绣苑3栋402", "repair_area_type": "urban",
                                  "fault_description": "家里没电了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert (slot_values(events).get("address") or "").endswith(stored)
    assert "utter_corrected" in responses(messages)
    assert slot_values(events).get("contact_phone") is None


@pytest.mark.asyncio
async def test_a_bare_number_at_the_last_four_digits_question_is_no_address_correction(actions_gateway):
    """The same words where the last four digits are asked correct those, not the room."""
    from actions.common import correction_target

    tracker = make_tracker("不对 是0518", intent="inform",
                           slots={"requested_slot": "phone_last4", "address": "鼓楼区湖南路231号 锦绣苑3栋402"})
    assert correction_target(tracker) != "address"


def test_a_switch_that_keeps_tripping_is_no_anger():
    """"空开老是跳" got the angry customer's apology; a fault told plainly is no complaint about us."""
    from actions.common import is_angry

    assert not is_angry("空开老是跳 一开大功率就跳")
    assert not is_angry("漏保动不动就跳闸")
    assert is_angry("这个月老是停电 你们到底管不管")
    assert is_angry("动不动就停电")


@pytest.mark.asyncio
async def test_a_humming_transformer_outside_is_urgent_and_its_place_is_asked(actions_gateway):
    """"楼下那个变压器嗡嗡响" after a bill query was filed at once, not urgent, at the verified
    customer's flat: a transformer is the utility's equipment out of doors, and noise is a hazard."""
    from actions.faults import ValidateFaultForm, find_hazards

    assert find_hazards("楼下那个变压器嗡嗡响")
    tracker = make_tracker("楼下那个变压器嗡嗡响 声音很大", intent="report_fault", form="fault_form",
                           slots={"identity_verified": True, "account_no": "3201000001",
                                  "verified_account_no": "3201000001",
                                  "customer_address": "江苏省南京市玄武区中山路18号3栋501"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("address") is None
    assert "utter_using_registered_address" not in responses(messages)


@pytest.mark.asyncio
async def test_no_power_at_home_for_a_verified_customer_still_uses_the_registered_address(actions_gateway):
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("家里突然没电了 对面楼都有电", intent="report_fault", form="fault_form",
                           slots={"identity_verified": True, "account_no": "3201000001",
                                  "verified_account_no": "3201000001",
                                  "customer_address": "江苏省南京市玄武区中山路18号3栋501"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("address") == "江苏省南京市玄武区中山路18号3栋501"
    assert "utter_using_registered_address" in responses(messages)
