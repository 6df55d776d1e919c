"""Response-time rules: sla.yml, the working-day calendar, milestone planning, enforcement.

``setup(app)`` loads ``app[SETTINGS].sla_config`` into ``app[SLA_RULES]``, the area types of
places (``areas_config``, areas.yml) into ``app[AREAS]`` and, when the app
runs its background tasks, starts the watcher that flags milestones at risk or breached.
"""
from __future__ import annotations

from pathlib import Path

from bot.config import SETTINGS
from bot.sla.areas import AREAS, AreaMap, load_areas
from bot.sla.calendar import WorkingCalendar
from bot.sla.rules import SLA_RULES, Limit, PlannedMilestone, Rule, SlaRules, load_rules, priority_rank, sort_key

__all__ = ["AREAS", "SLA_RULES", "AreaMap", "load_areas", "Limit", "PlannedMilestone", "Rule", "SlaRules", "WorkingCalendar",
           "load_rules", "priority_rank", "sort_key", "setup"]


def setup(app) -> None:
    settings = app[SETTINGS]
    app[SLA_RULES] = load_rules(settings.sla_config)
    app[AREAS] = load_areas(getattr(settings, "areas_config", None)
                              or Path(settings.sla_config).with_name("areas.yml"))
    from bot.sla import watcher

    watcher.setup(app)
