"""Working days in mainland China: weekends, statutory holidays and adjusted workdays (调休).

The State Council publishes each year's holidays in the previous winter, so the
``chinese_calendar`` package only knows the years published before its release (1.11
stops at 2026). The operator can add a year's holidays and adjusted workdays in
``sla.yml``; a year that neither knows falls back to "Monday to Friday", with one
warning per year, so a ticket filed in late December never fails to be created.

Deadline convention for limits in working days (pinned in tests/tickets/test_sla_rules.py):
the day the request is accepted does not count (as the Civil Code, art. 201, counts
periods in days); the limit ends at the close of business (``working_day_end``, 17:30 by
default) of the N-th working day after that day (art. 203: "有业务时间的，停止业务活动的
时间为截止时间"). A request received on a Saturday counts from the following Monday's
working day as day one, exactly like one received on Friday.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_WORKING_DAY_END = time(17, 30)
# Enough for the longest limit (32 working days) plus the Spring Festival; a guard
# against a configuration that would make every day a holiday.
_MAX_SCAN_DAYS = 3660


def _known_years() -> set[int]:
    """Years the installed chinese_calendar has data for."""
    return {day.year for day in chinese_calendar.holidays} | {day.year for day in chinese_calendar.workdays}


class WorkingCalendar:
    """Decides whether a date is a working day and adds working days to a time."""

    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = (),
                 working_day_end: time = DEFAULT_WORKING_DAY_END, tz: ZoneInfo = SHANGHAI):
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        overlap = self.extra_holidays & self.extra_workdays
        if overlap:
            raise ValueError(f"dates listed both as holiday and as workday: {sorted(overlap)}")
        self.working_day_end = working_day_end
        self.tz = tz
        self.package_years = _known_years()
        self.configured_years = {d.year for d in self.extra_holidays | self.extra_workdays}
        self._warned_years: set[int] = set()

    @classmethod
    def from_config(cls, data: Mapping | None) -> "WorkingCalendar":
        """Builds the calendar from the ``calendar:`` section of sla.yml."""
        data = data or {}
        end = data.get("working_day_end", "17:30")
        try:
            hours, minutes = (int(part) for part in str(end).split(":"))
            end_time = time(hours, minutes)
        except ValueError as exc:
            raise ValueError(f"calendar.working_day_end must be HH:MM, got {end!r}") from exc
        return cls(extra_holidays=_dates(data.get("holidays"), "calendar.holidays"),
                   extra_workdays=_dates(data.get("workdays"), "calendar.workdays"),
                   working_day_end=end_time)

    def knows_year(self, year: int) -> bool:
        return year in self.package_years or year in self.configured_years

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_holidays:
            return False
        if day in self.extra_workdays:
            return True
        if day.year in self.configured_years:
            # The operator describes this year: their list plus weekends is the whole truth.
            return day.weekday() < 5
        if day.year in self.package_years:
            return chinese_calendar.is_workday(day)
        if day.year not in self._warned_years:
            self._warned_years.add(day.year)
            log.warning("no holiday calendar for %s: counting Monday to Friday as working days; "
                        "add the year's holidays and adjusted workdays under calendar: in sla.yml",
                        day.year)
        return day.weekday() < 5

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Close of business of the n-th working day after the (local) day of ``start``."""
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        if n < 1:
            raise ValueError(f"a limit in working days must be at least 1, got {n}")
        day = start.astimezone(self.tz).date()
        counted = 0
        for _ in range(_MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted == n:
                    return datetime.combine(day, self.working_day_end, tzinfo=self.tz)
        raise ValueError(f"no {n} working days within {_MAX_SCAN_DAYS} days of {start}")


def _dates(section, where: str) -> list[date]:
    """Reads ``{2027: ["2027-01-01", ...]}`` (or a flat list) into dates."""
    if not section:
        return []
    values = []
    if isinstance(section, Mapping):
        for year, days in section.items():
            for value in days or []:
                day = _date(value, where)
                if day.year != int(year):
                    raise ValueError(f"{where}.{year}: {value} is not in {year}")
                values.append(day)
    else:
        values = [_date(value, where) for value in section]
    return values


def _date(value, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc
