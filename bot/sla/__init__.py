"""Response-time rules: sla.yml, the working-day calendar, milestone planning, enforcement.

``setup(app)`` loads ``app["settings"].sla_config`` into ``app["sla"]`` and, when the app
runs its background tasks, starts the watcher that flags milestones at risk or breached.
"""
from __future__ import annotations

from bot.sla.calendar import WorkingCalendar
from bot.sla.rules import Limit, PlannedMilestone, Rule, SlaRules, load_rules, priority_rank, sort_key

__all__ = ["Limit", "PlannedMilestone", "Rule", "SlaRules", "WorkingCalendar", "load_rules",
           "priority_rank", "sort_key", "setup"]


def setup(app) -> None:
    app["sla"] = load_rules(app["settings"].sla_config)
    from bot.sla import watcher

    watcher.setup(app)
