"""Response-time rules from sla.yml, and the milestones they give a new ticket.

``SlaRules.plan`` answers "which deadlines does this ticket get": the first-response rule
every ticket has, plus the rules of its type (repair by area type, applications by
business type). Limits in minutes or hours run on the wall clock (the service runs day
and night); limits in working days follow ``WorkingCalendar`` (see its docstring for the
convention). A rule with ``after: <rule>`` starts at that rule's deadline: restoring
power is promised within 3 or 4 hours of the crew's arrival deadline.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

import yaml
from aiohttp import web

from bot.sla.calendar import SHANGHAI, WorkingCalendar

AREA_TYPES = ("urban", "rural", "remote")
PRIORITY_ORDER = ("urgent", "high", "normal")

_UNITS = {
    "minutes": "minutes", "minute": "minutes", "min": "minutes", "m": "minutes", "分钟": "minutes",
    "hours": "hours", "hour": "hours", "h": "hours", "小时": "hours",
    "working days": "working_days", "working day": "working_days", "wd": "working_days",
    "工作日": "working_days", "个工作日": "working_days",
}
_LIMIT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z\u4e00-\u9fff ]+?)\s*$")


@dataclass(frozen=True)
class Limit:
    amount: float
    unit: str  # minutes | hours | working_days

    @classmethod
    def parse(cls, text: Any, where: str) -> "Limit":
        match = _LIMIT_RE.match(str(text))
        unit = _UNITS.get(match.group(2).strip().lower()) if match else None
        if not match or unit is None:
            raise ValueError(f"{where}: limit {text!r} is not like '45 minutes', '2 hours' or '7 working days'")
        amount = float(match.group(1))
        if amount <= 0 or (unit == "working_days" and amount != int(amount)):
            raise ValueError(f"{where}: limit {text!r} must be positive (whole working days)")
        return cls(amount, unit)

    def due(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        if self.unit == "minutes":
            return start + timedelta(minutes=self.amount)
        if self.unit == "hours":
            return start + timedelta(hours=self.amount)
        return calendar.add_working_days(start, int(self.amount))

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {self.unit.replace('_', ' ')}"


@dataclass(frozen=True)
class Rule:
    key: str  # e.g. repair.arrival, stored as Milestone.rule
    name: str  # shown to staff and customers, e.g. 抢修人员到达现场
    limits: Mapping[str, Limit]  # area type (or "*") -> limit
    met_by: tuple[str, ...]  # ticket statuses that meet it
    after: str | None = None  # key of the rule whose deadline starts this one

    def limit_for(self, area_type: str) -> Limit:
        return self.limits.get(area_type) or self.limits["*"]


@dataclass(frozen=True)
class PlannedMilestone:
    rule: str
    name: str
    started_at: datetime
    due_at: datetime
    met_by: tuple[str, ...]


def priority_rank(priority: str | None) -> int:
    """0 for urgent, 1 for high, 2 for normal (unknown sorts as normal)."""
    try:
        return PRIORITY_ORDER.index(priority or "normal")
    except ValueError:
        return len(PRIORITY_ORDER) - 1


def sort_key(priority: str | None, due_at: datetime) -> tuple[int, datetime]:
    """Work-queue order: urgent hazards first, then the earliest deadline."""
    return priority_rank(priority), due_at


class SlaRules:
    """The parsed sla.yml."""

    def __init__(self, config: Mapping[str, Any], source: str = "sla.yml"):
        self.source = source
        self.calendar = WorkingCalendar.from_config(config.get("calendar"))
        enforcement = config.get("enforcement") or {}
        self.at_risk_fraction = float(enforcement.get("at_risk_fraction", 0.8))
        if not 0 < self.at_risk_fraction < 1:
            raise ValueError(f"{source}: enforcement.at_risk_fraction must be between 0 and 1")
        self.scan_interval_seconds = float(enforcement.get("scan_interval_seconds", 30))
        if self.scan_interval_seconds <= 0:
            raise ValueError(f"{source}: enforcement.scan_interval_seconds must be positive")
        self.default_area_type = config.get("default_area_type", "urban")
        if self.default_area_type not in AREA_TYPES:
            raise ValueError(f"{source}: default_area_type must be one of {AREA_TYPES}")

        self.every_ticket = self._rules(config.get("every_ticket"), "every_ticket")
        self.by_type: dict[str, list[Rule]] = {}
        self.business_types: dict[str, list[Rule]] = {}
        self.business_aliases: dict[str, str] = {}
        self.business_titles: dict[str, str] = {}
        for ticket_type, section in (config.get("ticket_types") or {}).items():
            section = section or {}
            self.by_type[ticket_type] = self._rules(section.get("milestones"), f"ticket_types.{ticket_type}")
            if "business_types" in section:
                self._business(ticket_type, section)
        self.ticket_types = tuple(self.by_type)

    # -- parsing ---------------------------------------------------------------------------
    def _rules(self, items, where: str, prefix: str | None = None) -> list[Rule]:
        rules: list[Rule] = []
        for index, item in enumerate(items or []):
            here = f"{where}[{index}]"
            if not isinstance(item, Mapping) or not {"rule", "name", "limit"} <= set(item):
                raise ValueError(f"{self.source}: {here} needs rule, name and limit")
            key = f"{prefix}.{item['rule']}" if prefix else str(item["rule"])
            raw_limit = item["limit"]
            if isinstance(raw_limit, Mapping):
                limits = {str(area): Limit.parse(text, f"{here}.limit.{area}") for area, text in raw_limit.items()}
                unknown = set(limits) - set(AREA_TYPES) - {"*"}
                if unknown:
                    raise ValueError(f"{self.source}: {here}.limit: unknown area types {sorted(unknown)}")
                if "*" not in limits and set(limits) != set(AREA_TYPES):
                    raise ValueError(f"{self.source}: {here}.limit must give urban, rural and remote (or '*')")
            else:
                limits = {"*": Limit.parse(raw_limit, f"{here}.limit")}
            after = item.get("after")
            if after is not None:
                after = f"{prefix}.{after}" if prefix and "." not in str(after) else str(after)
                if after not in {rule.key for rule in rules}:
                    raise ValueError(f"{self.source}: {here}.after: {after} must be a rule listed before it")
            met_by = tuple(item.get("met_by") or ())
            if not met_by:
                raise ValueError(f"{self.source}: {here} needs met_by (the statuses that meet it)")
            rules.append(Rule(key=key, name=str(item["name"]), limits=limits, met_by=met_by, after=after))
        return rules

    def _business(self, ticket_type: str, section: Mapping) -> None:
        for key, value in (section.get("business_types") or {}).items():
            key = str(key)
            if isinstance(value, str):
                self.business_aliases[key] = value
            else:
                self.business_titles[key] = str(value.get("title", key))
                self.business_types[key] = self._rules(value.get("milestones"),
                                                       f"ticket_types.{ticket_type}.business_types.{key}",
                                                       prefix=f"{ticket_type}.{key}")
        for alias, target in self.business_aliases.items():
            if target not in self.business_types:
                raise ValueError(f"{self.source}: business type {alias} points to unknown {target}")
        self.default_business_type = section.get("default_business_type")
        if self.default_business_type and self.resolve_business_type(self.default_business_type) is None:
            raise ValueError(f"{self.source}: default_business_type {self.default_business_type} is unknown")

    # -- queries ---------------------------------------------------------------------------
    def resolve_business_type(self, business_type: str | None, customer_type: str | None = None) -> str | None:
        """The business profile for a business type (``new_connection/commercial`` first)."""
        candidates = []
        if business_type:
            if customer_type:
                candidates.append(f"{business_type}/{customer_type}")
            candidates.append(business_type)
        for candidate in candidates:
            if candidate in self.business_types:
                return candidate
            if candidate in self.business_aliases:
                return self.business_aliases[candidate]
        return None

    def plan(self, ticket_type: str, priority: str | None, area_type: str | None,
             business_type: str | None, created_at: datetime, *,
             customer_type: str | None = None) -> list[PlannedMilestone]:
        """The milestones of a new ticket, first due first.

        ``priority`` does not change limits (urgent hazards keep them but sort first, see
        ``sort_key``). An unknown area type uses ``default_area_type``; an application of an
        unknown business type uses ``default_business_type``.
        """
        if created_at.tzinfo is None:
            raise ValueError("created_at must be an aware datetime")
        if ticket_type not in self.by_type:
            raise ValueError(f"unknown ticket type {ticket_type!r} (known: {', '.join(self.ticket_types)})")
        area = area_type if area_type in AREA_TYPES else self.default_area_type
        rules = list(self.every_ticket) + list(self.by_type[ticket_type])
        if ticket_type == "application":
            profile = (self.resolve_business_type(business_type, customer_type)
                       or self.resolve_business_type(self.default_business_type))
            if profile:
                rules += self.business_types[profile]
        start = created_at.astimezone(SHANGHAI)
        due_by_rule: dict[str, datetime] = {}
        planned = []
        for order, rule in enumerate(rules):
            started = due_by_rule[rule.after] if rule.after else start
            due = rule.limit_for(area).due(started, self.calendar)
            due_by_rule[rule.key] = due
            planned.append((due, order, PlannedMilestone(rule.key, rule.name, started, due, rule.met_by)))
        planned.sort(key=lambda entry: (entry[0], entry[1]))
        return [entry[2] for entry in planned]

    def rule(self, key: str) -> Rule | None:
        for rule in self.all_rules():
            if rule.key == key:
                return rule
        return None

    def all_rules(self) -> list[Rule]:
        rules = list(self.every_ticket)
        for group in list(self.by_type.values()) + list(self.business_types.values()):
            rules.extend(group)
        return rules

    sort_key = staticmethod(sort_key)
    priority_rank = staticmethod(priority_rank)


SLA_RULES = web.AppKey("sla", SlaRules)  # the gateway's sla.yml on its app


def load_rules(path: str | Path) -> SlaRules:
    """Reads and validates sla.yml; a mistake names the place in the file."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    if not isinstance(config, Mapping):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return SlaRules(config, source=str(path))
