"""The response-time rules of sla.yml: exact deadlines, pinned.

Convention for working days (bot/sla/calendar.py): the day of acceptance does not count;
the deadline is 17:30 on the N-th working day after it.
"""
from __future__ import annotations

import copy
import logging
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import yaml

from bot.app import START_BACKGROUND
from bot.config import SETTINGS
from bot.sla import SLA_RULES, PlannedMilestone, SlaRules, load_rules
from bot.sla import setup as sla_setup
from bot.sla.rules import sort_key

SH = ZoneInfo("Asia/Shanghai")
SLA_YML = Path(__file__).resolve().parent.parent.parent / "sla.yml"


def at(y, mo, d, h=0, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(SLA_YML.read_text(encoding="utf-8"))


@pytest.fixture
def rules() -> SlaRules:
    return load_rules(SLA_YML)


def dues(planned: list[PlannedMilestone]) -> dict[str, datetime]:
    return {m.name: m.due_at for m in planned}


def test_the_2026_national_day_calendar_is_what_the_tests_assume():
    # Holiday Oct 1-7; adjusted working days Sunday Sep 20 and Saturday Oct 10.
    assert all(not chinese_calendar.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert chinese_calendar.is_workday(date(2026, 9, 20)) and date(2026, 9, 20).weekday() == 6
    assert chinese_calendar.is_workday(date(2026, 10, 10)) and date(2026, 10, 10).weekday() == 5
    assert not chinese_calendar.is_workday(date(2026, 10, 11))


def test_setup_loads_the_configured_file_into_the_app():
    class FakeSettings:
        sla_config = SLA_YML

    app = {SETTINGS: FakeSettings(), START_BACKGROUND: False}
    sla_setup(app)
    assert isinstance(app[SLA_RULES], SlaRules)
    assert app[SLA_RULES].at_risk_fraction == 0.8


# -- repair: wall-clock limits, across midnight -------------------------------------------

@pytest.mark.parametrize("area, arrival, restoration", [
    ("urban", at(2026, 11, 27, 0, 25), at(2026, 11, 27, 3, 25)),
    ("rural", at(2026, 11, 27, 1, 10), at(2026, 11, 27, 5, 10)),
    ("remote", at(2026, 11, 27, 1, 40), at(2026, 11, 27, 5, 40)),
])
def test_repair_deadlines_cross_midnight_by_area(rules, area, arrival, restoration):
    planned = rules.plan("repair", "normal", area, None, at(2026, 11, 26, 23, 40))
    assert dues(planned) == {"受理": at(2026, 11, 27, 1, 40), "抢修人员到达现场": arrival, "恢复送电": restoration}
    # Restoration is counted from the arrival deadline.
    restore = next(m for m in planned if m.rule == "repair.restoration")
    assert restore.started_at == arrival
    assert "arrived" in next(m for m in planned if m.rule == "repair.arrival").met_by


def test_milestones_come_first_due_first(rules):
    planned = rules.plan("repair", "normal", "urban", None, at(2026, 11, 26, 10, 0))
    assert [m.name for m in planned] == ["抢修人员到达现场", "受理", "恢复送电"]
    assert [m.due_at for m in planned] == sorted(m.due_at for m in planned)


def test_urgent_keeps_the_limits_but_sorts_first(rules):
    created = at(2026, 11, 26, 10, 0)
    normal = rules.plan("repair", "normal", "urban", None, created)
    urgent = rules.plan("repair", "urgent", "urban", None, created)
    assert dues(urgent) == dues(normal)
    later_urgent = sort_key("urgent", at(2026, 11, 26, 18, 0))
    earlier_normal = sort_key("normal", at(2026, 11, 26, 11, 0))
    earlier_high = sort_key("high", at(2026, 11, 26, 12, 0))
    assert sorted([earlier_normal, later_urgent, earlier_high]) == [later_urgent, earlier_high, earlier_normal]


def test_unknown_area_uses_the_strictest_default(rules):
    planned = rules.plan("repair", "normal", None, None, at(2026, 11, 26, 10, 0))
    assert dues(planned)["抢修人员到达现场"] == at(2026, 11, 26, 10, 45)


# -- complaints and working days across a weekend ----------------------------------------

def test_complaint_over_a_weekend(rules):
    # Friday 27 Nov 2026, 10:00: contact within 24 h (Saturday), opinion 7 working days:
    # Mon 30, Tue 1, Wed 2, Thu 3, Fri 4, Mon 7, Tue 8 Dec -> Tue 8 Dec 17:30.
    planned = rules.plan("complaint", "normal", "urban", None, at(2026, 11, 27, 10, 0))
    assert dues(planned) == {
        "受理": at(2026, 11, 27, 12, 0),
        "联系客户": at(2026, 11, 28, 10, 0),
        "处理意见答复": at(2026, 12, 8, 17, 30),
    }


def test_a_saturday_request_counts_like_a_friday_one(rules):
    friday = dues(rules.plan("suggestion", "normal", "urban", None, at(2026, 11, 27, 9, 0)))
    saturday = dues(rules.plan("suggestion", "normal", "urban", None, at(2026, 11, 28, 23, 59)))
    assert friday["答复客户"] == saturday["答复客户"] == at(2026, 12, 8, 17, 30)


def test_late_evening_request_does_not_count_its_own_day(rules):
    # Monday 30 Nov 23:30: day one is Tuesday 1 Dec; 5 working days -> Monday 7 Dec.
    assert rules.calendar.add_working_days(at(2026, 11, 30, 23, 30), 5) == at(2026, 12, 7, 17, 30)
    # Just after midnight it is already Tuesday: day one is Wednesday.
    assert rules.calendar.add_working_days(at(2026, 12, 1, 0, 10), 5) == at(2026, 12, 8, 17, 30)


# -- the 2026 National Day holiday and its adjusted working days --------------------------

def test_tip_off_across_national_day_counts_the_adjusted_saturday(rules):
    # Wed 30 Sep 16:00: Oct 1-7 holiday; Thu 8 (1), Fri 9 (2), Sat 10 adjusted workday (3),
    # Sun 11 off, Mon 12 (4), Tue 13 (5), Wed 14 (6), Thu 15 (7).
    planned = rules.plan("tip_off", "normal", "rural", None, at(2026, 9, 30, 16, 0))
    assert dues(planned)["答复客户"] == at(2026, 10, 15, 17, 30)


def test_complaint_filed_before_national_day(rules):
    # Fri 25 Sep (Mid-Autumn, itself a holiday): Mon 28 (1), Tue 29 (2), Wed 30 (3), Thu 8 Oct (4), Fri 9 (5), Sat 10 (6), Mon 12 (7).
    planned = rules.plan("complaint", "normal", "urban", None, at(2026, 9, 25, 10, 0))
    assert dues(planned)["处理意见答复"] == at(2026, 10, 12, 17, 30)


def test_adjusted_sunday_is_a_working_day(rules):
    # Friday 18 Sep 2026: the next working day is the adjusted Sunday 20 Sep.
    planned = rules.plan("application", "normal", "urban", "new_connection", at(2026, 9, 18, 15, 0))
    assert dues(planned)["勘察"] == at(2026, 9, 20, 17, 30)
    # Inside the holiday: accepted on Oct 3, day one is Oct 8.
    assert rules.calendar.add_working_days(at(2026, 10, 3, 11, 0), 1) == at(2026, 10, 8, 17, 30)
    assert rules.calendar.add_working_days(at(2026, 10, 9, 11, 0), 1) == at(2026, 10, 10, 17, 30)


# -- applications by business type ---------------------------------------------------------

@pytest.mark.parametrize("business_type, customer_type, total, steps", [
    ("new_connection", None, 5, ["受理", "勘察", "供电方案答复", "装表接电"]),
    ("new_connection", "commercial", 6, ["受理", "勘察", "供电方案答复", "装表接电"]),
    ("capacity_change", None, 6, ["受理", "勘察", "供电方案答复", "装表接电"]),
    ("high_voltage_single", None, 22, ["受理", "勘察", "供电方案答复", "装表接电"]),
    ("high_voltage_dual", None, 32, ["受理", "勘察", "供电方案答复", "装表接电"]),
    ("name_transfer", None, 5, ["受理", "业务办结"]),
    ("tariff_change", None, 5, ["受理", "业务办结"]),
    ("something_new", None, 5, ["受理", "业务办结"]),  # unknown -> other changes
])
def test_application_steps_and_totals(rules, business_type, customer_type, total, steps):
    created = at(2026, 11, 26, 14, 0)  # Thursday
    planned = rules.plan("application", "normal", "urban", business_type, created, customer_type=customer_type)
    assert [m.name for m in planned] == steps
    assert planned[-1].due_at == rules.calendar.add_working_days(created, total)


def test_residential_new_connection_exact_dates(rules):
    # Thu 26 Nov 14:00: survey Fri 27, plan Mon 30, connection Thu 3 Dec (5 working days).
    planned = rules.plan("application", "normal", "urban", "new_connection", at(2026, 11, 26, 14, 0))
    assert dues(planned) == {"受理": at(2026, 11, 26, 16, 0), "勘察": at(2026, 11, 27, 17, 30),
                             "供电方案答复": at(2026, 11, 30, 17, 30), "装表接电": at(2026, 12, 3, 17, 30)}


def test_high_voltage_dual_supply_spans_32_working_days(rules):
    # Mon 7 Sep 2026: 32 working days, skipping Mid-Autumn (Fri 25 Sep) and National Day,
    # counting the adjusted Sun 20 Sep and Sat 10 Oct: Sep 8-24 (14), Sep 28-30 (17),
    # Oct 8-10 (20), 12-16 (25), 19-23 (30), Mon 26 (31), Tue 27 (32).
    planned = rules.plan("application", "normal", "urban", "high_voltage_dual", at(2026, 9, 7, 9, 0))
    assert dues(planned)["装表接电"] == at(2026, 10, 27, 17, 30)


def test_reconnection_callback_and_praise(rules):
    created = at(2026, 11, 26, 22, 30)
    assert dues(rules.plan("application", "normal", "urban", "reconnection", created)) == {
        "受理": at(2026, 11, 27, 0, 30), "恢复供电": at(2026, 11, 27, 22, 30)}
    assert dues(rules.plan("callback", "high", "urban", None, created)) == {
        "受理": at(2026, 11, 27, 0, 30), "回电联系客户": at(2026, 11, 27, 0, 30)}
    praise = rules.plan("praise", "normal", "urban", None, created)
    assert [(m.rule, m.name) for m in praise] == [("first_response", "受理")]


def test_unknown_ticket_type_is_refused(rules):
    with pytest.raises(ValueError, match="unknown ticket type"):
        rules.plan("lottery", "normal", "urban", None, at(2026, 11, 26, 10, 0))


# -- a year the calendar package does not know ----------------------------------------------

def test_unknown_year_counts_weekends_only_and_warns_once(rules, caplog):
    # Mon 28 Dec 2026: Tue 29 (1), Wed 30 (2), Thu 31 (3), Fri 1 Jan 2027 (4, New Year's Day is
    # unknown), Mon 4 (5), Tue 5 (6), Wed 6 (7).
    with caplog.at_level(logging.WARNING, logger="bot.sla.calendar"):
        first = rules.plan("complaint", "normal", "urban", None, at(2026, 12, 28, 9, 0))
        second = rules.plan("tip_off", "normal", "urban", None, at(2026, 12, 29, 9, 0))
    assert dues(first)["处理意见答复"] == at(2027, 1, 6, 17, 30)
    assert dues(second)["答复客户"] == at(2027, 1, 7, 17, 30)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "2027" in r.getMessage()]
    assert len(warnings) == 1


def test_operator_holidays_for_an_unknown_year_are_honoured(config, caplog):
    configured = copy.deepcopy(config)
    configured["calendar"]["holidays"] = {2027: ["2027-01-01"]}
    rules = SlaRules(configured)
    with caplog.at_level(logging.WARNING, logger="bot.sla.calendar"):
        planned = rules.plan("complaint", "normal", "urban", None, at(2026, 12, 28, 9, 0))
    # New Year's Day skipped: ... Thu 31 (3), Mon 4 (4), ..., Thu 7 (7).
    assert dues(planned)["处理意见答复"] == at(2027, 1, 7, 17, 30)
    assert not [r for r in caplog.records if "2027" in r.getMessage()]

    # An adjusted working Saturday for 2027 counts too.
    configured["calendar"]["workdays"] = {2027: [date(2027, 1, 2)]}
    rules = SlaRules(configured)
    planned = rules.plan("complaint", "normal", "urban", None, at(2026, 12, 28, 9, 0))
    assert dues(planned)["处理意见答复"] == at(2027, 1, 6, 17, 30)


def test_bad_configuration_names_the_place(config):
    broken = copy.deepcopy(config)
    broken["ticket_types"]["repair"]["milestones"][0]["limit"]["rural"] = "ninety minutes"
    with pytest.raises(ValueError, match=r"ticket_types.repair\[0\].limit.rural"):
        SlaRules(broken)
    broken = copy.deepcopy(config)
    broken["calendar"]["holidays"] = {2027: ["2028-01-01"]}
    with pytest.raises(ValueError, match="not in 2027"):
        SlaRules(broken)
