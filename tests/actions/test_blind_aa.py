"""Kinds of failure the blind batches aa/ab showed, and ones noticed in earlier trials."""
import pytest


@pytest.mark.parametrize("text, response", [
    ("我家插座冒火花了", "utter_safety_sparks"),
    ("电表箱滋滋响还冒火花", "utter_safety_sparks"),
    ("热水器漏电", "utter_safety_sparks"),
    ("开关啪啪响", "utter_safety_sparks"),
    ("电表箱里全是水 还滋滋响", "utter_safety_flood"),
    ("路边电线杆上噼里啪啦冒火花", "utter_safety_wire"),
    ("电线掉地上了还在打火", "utter_safety_wire"),
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
