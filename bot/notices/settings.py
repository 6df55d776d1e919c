"""The notice engine's settings: defaults here, a supervisor's changes in ``notice_settings``.

Read with :func:`load` (one query, defaults filled in), changed with :func:`change`, which
checks the value and answers a clear error for staff (``SettingError``) rather than storing
something the engine cannot use.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any, Dict

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import vocabulary
from bot.store.models import NoticeSetting
from bot.store.types import now_utc

DEFAULTS: Dict[str, Any] = {
    # Days before the due date a reminder goes out (网上国网: 15 and 7 days; ours: 7 and 1).
    "due_reminder_days": [7, 1],
    # Prepaid balance thresholds in yuan (网上国网 warns at 30, 20 and 0).
    "low_balance_thresholds": [30, 20, 0],
    # No non-urgent notice in these hours (Asia/Shanghai); "" for none.
    "quiet_hours": "21:00-08:00",
    # At most this many non-urgent notices per customer binding and day (0: no cap).
    "daily_cap": 3,
    # A month's usage this far above or below the customer's own reference is abnormal (0.5: ±50 %).
    "abnormal_usage_ratio": 0.5,
    # Planned-outage notices: this many hours before the start (and at the start and the end).
    "outage_notice_hours_before": 24,
    # Every kind is on unless a supervisor switched it off.
    **{f"kind.{kind}": True for kind in vocabulary.NOTICE_KINDS},
}
_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class SettingError(ValueError):
    """A setting a supervisor tried to store is unknown or not usable (message for staff)."""


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # across midnight (21:00-08:00)


def quiet_hours(value: str) -> QuietHours | None:
    if not value:
        return None
    match = _QUIET.match(value)
    if not match:
        raise SettingError("免打扰时段格式应为 HH:MM-HH:MM，例如 21:00-08:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return QuietHours(time(h1, m1), time(h2, m2))


def check(key: str, value: Any) -> Any:
    """The value to store for ``key``, or SettingError."""
    if key not in DEFAULTS:
        raise SettingError(f"未知的设置项：{key}")
    if key.startswith("kind."):
        if not isinstance(value, bool):
            raise SettingError("通知开关只能是开或关")
        return value
    if key == "quiet_hours":
        value = (value or "").strip()
        quiet_hours(value)
        return value
    if key in ("due_reminder_days", "low_balance_thresholds"):
        if not isinstance(value, list) or not value or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 365 for v in value):
            raise SettingError("请填写一组 0 到 365 之间的数字，例如 7,1")
        return sorted({int(v) if float(v).is_integer() else float(v) for v in value}, reverse=True)
    if key == "daily_cap":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 50:
            raise SettingError("每日上限应为 0 到 50 之间的整数（0 表示不限）")
        return value
    if key == "abnormal_usage_ratio":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.1 <= value <= 5:
            raise SettingError("异常用电判定比例应在 0.1 到 5 之间")
        return float(value)
    if key == "outage_notice_hours_before":
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 168:
            raise SettingError("停电提前通知时间应为 1 到 168 小时")
        return value
    raise SettingError(f"未知的设置项：{key}")  # pragma: no cover (every key is handled above)


def load(session: Session) -> Dict[str, Any]:
    """Every setting: the defaults with the stored changes over them."""
    values = dict(DEFAULTS)
    for row in session.execute(select(NoticeSetting)).scalars():
        if row.key in DEFAULTS:
            values[row.key] = row.value
    return values


def change(session: Session, key: str, value: Any, by: str) -> Any:
    """Stores a checked setting (the caller commits); answers the value stored."""
    value = check(key, value)
    row = session.get(NoticeSetting, key)
    if row is None:
        session.add(NoticeSetting(key=key, value=value, updated_by=by, updated_at=now_utc()))
    else:
        row.value, row.updated_by, row.updated_at = value, by, now_utc()
    return value


def kind_enabled(values: Dict[str, Any], kind: str) -> bool:
    return bool(values.get(f"kind.{kind}", True))
