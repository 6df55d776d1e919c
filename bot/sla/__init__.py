"""Response-time rules: sla.yml, the working-day calendar, milestone planning, enforcement.

``setup(app)`` loads ``app["settings"].sla_config`` into ``app["sla"]``, the area types of
places (``areas_config``, areas.yml) into ``app["areas"]`` and, when the app
runs its background tasks, starts the watcher that flags milestones at risk or breached.
"""
from __future__ import annotations

from pathlib import Path

from bot.sla.areas import AreaMap, load_areas
from bot.sla.calendar import WorkingCalendar
from bot.sla.rules import Limit, PlannedMilestone, Rule, SlaRules, load_rules, priority_rank, sort_key

__all__ = ["AreaMap", "load_areas", "Limit", "PlannedMilestone", "Rule", "SlaRules", "WorkingCalendar",
           "load_rules", "priority_rank", "sort_key", "setup"]


def setup(app) -> None:
    settings = app["settings"]
    app["sla"] = load_rules(settings.sla_config)
    app["areas"] = load_areas(getattr(settings, "areas_config", None)
                              or Path(settings.sla_config).with_name("areas.yml"))
    from bot.sla import watcher

    watcher.setup(app)
