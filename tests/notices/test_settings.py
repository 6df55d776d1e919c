"""Notice settings (issue 19): defaults, a supervisor's changes, and refusal of unusable values."""
from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy.orm import Session

from bot.notices import settings
from bot.store.db import make_engine, migrate


@pytest.fixture()
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    engine = make_engine(url)
    with Session(engine, future=True) as s:
        yield s
    engine.dispose()


def test_defaults_then_a_supervisors_change(session):
    assert settings.load(session)["due_reminder_days"] == [7, 1]
    assert settings.change(session, "due_reminder_days", [1, 15, 7], by="lead") == [15, 7, 1]
    settings.change(session, "kind.abnormal_usage", False, by="lead")
    session.commit()
    values = settings.load(session)
    assert values["due_reminder_days"] == [15, 7, 1]
    assert not settings.kind_enabled(values, "abnormal_usage") and settings.kind_enabled(values, "overdue")


@pytest.mark.parametrize("key, value", [("daily_cap", -1), ("daily_cap", "3"), ("quiet_hours", "9pm-8am"),
                                        ("due_reminder_days", []), ("kind.overdue", "yes"), ("nonsense", 1),
                                        ("abnormal_usage_ratio", 0)])
def test_unusable_values_are_refused_in_words_staff_understand(session, key, value):
    with pytest.raises(settings.SettingError) as refused:
        settings.change(session, key, value, by="lead")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(refused.value))


def test_quiet_hours_across_midnight():
    quiet = settings.quiet_hours("21:00-08:00")
    assert quiet.contains(time(22, 30)) and quiet.contains(time(7, 59))
    assert not quiet.contains(time(8, 0)) and not quiet.contains(time(20, 59))
    assert settings.quiet_hours("") is None
    assert settings.quiet_hours("12:00-14:00").contains(time(13, 0))
