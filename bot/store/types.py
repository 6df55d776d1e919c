"""Column types shared by the models."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import overload
from zoneinfo import ZoneInfo

from sqlalchemy.types import DateTime, TypeDecorator

SHANGHAI = ZoneInfo("Asia/Shanghai")


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC on every backend and returns them aware (UTC).

    SQLite keeps no offset, so naive values from the database are UTC by construction.
    Naive values passed in are refused: a time without an offset is a bug here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def to_local(value: datetime | None) -> datetime | None:
    return value.astimezone(SHANGHAI) if value is not None else None


@overload
def iso_local(value: datetime) -> str: ...


@overload
def iso_local(value: None) -> None: ...


def iso_local(value: datetime | None) -> str | None:
    """ISO-8601 in Asia/Shanghai with offset, as the contract shows times."""
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds") if value is not None else None
