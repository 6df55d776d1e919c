"""The notice engine: claim what is due, send it once, retry what failed, log every attempt.

``run_once(store, now, senders)`` does one round:

1. **claim** — ``bot.notices.scan`` finds the events due and the bindings not told yet; one
   ``notice_deliveries`` row per (kind, event_key, binding) is inserted with
   ``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite alike, sorted by key so two
   gateways inserting the same rows cannot deadlock). The unique key is the exactly-once claim:
   a second gateway, or the next round, inserts nothing.
2. **lease** — due rows (``pending``/``failed`` with ``next_attempt_at <= now``) are taken in
   batches: the chosen rows' ``next_attempt_at`` moves ``LEASE`` ahead in the same transaction
   that selects them (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: the transaction starts
   with a write, so it holds the database's write lock). Another gateway skips them; if this
   one dies mid-send, the rows come back after the lease.
3. **decide and send** — at send time, from the store, not from the claim: an unbound binding,
   a customer who opted out of the kind (``notice_subscriptions``; not for kinds customers
   cannot switch off), a kind a supervisor switched off, SMS without consent, a notice whose
   moment has passed (``expires_at``): ``skipped`` with the reason in ``last_error``. A
   non-urgent notice in quiet hours waits until they end; one over the binding's daily cap of
   non-urgent notices waits until the next morning. Everything else goes to the binding
   channel's sender.
4. **record** — ``sent`` with ``sent_at``; a failure is ``failed`` with the error and the next
   try after 1 min, 5 min, 30 min, 2 h; the fifth failure is ``dead``. ``attempts`` counts tries.

A ticket's status (``bot.sla.notify``) is a row without a binding: its recipient is the
ticket's conversation (``conversation_id``), its own partial unique key the claim; the gateway
that claims it sends it at once (``send_claimed``, within the row's lease) through the
``CONVERSATION`` sender, and the rounds retry it if that failed.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Awaitable, Callable, Mapping, Optional

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import vocabulary
from bot.notices import scan as scanning
from bot.notices import settings as notice_settings
from bot.store.models import CustomerBinding, NoticeDelivery, NoticeSubscription
from bot.store.types import SHANGHAI, now_utc

log = logging.getLogger(__name__)

BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
MAX_ATTEMPTS = len(BACKOFF) + 1  # the fifth failed try is the last
LEASE = timedelta(minutes=5)
BATCH = 500
INSERT_CHUNK = 1000
SEND_CONCURRENCY = 8
MAX_ERROR_CHARS = 500
# Within a batch, what the daily cap lets through first (the most pressing first).
PRIORITY = {kind: rank for rank, kind in enumerate(("adhoc", "restoration", "planned_outage", "ticket_status",
                                                     "overdue", "low_balance", "due_reminder", "bill_issued",
                                                     "abnormal_usage"))}


@dataclass(frozen=True)
class Target:
    """One notice to one binding, as a sender needs it."""

    delivery_id: int
    kind: str
    account_no: str
    channel: str
    channel_user: str
    conversation_id: Optional[str]
    payload: dict
    attempts: int = 0  # tries before this one

    @property
    def text(self) -> str:
        return str(self.payload.get("text") or "")

    @property
    def title(self) -> str:
        return str(self.payload.get("title") or vocabulary.NOTICE_KINDS.get(self.kind, "通知"))


Sender = Callable[[Target], Awaitable[None]]
# The sender of a delivery without a binding (a ticket's status): it writes into the conversation
# the ticket came from, whatever its channel (bot.notices.senders.ConversationSender).
CONVERSATION = "conversation"


class SendError(RuntimeError):
    """A channel did not take the notice (retried with back-off)."""


@dataclass
class RunResult:
    events: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    deferred: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- claiming

def _insert(dialect: str):
    table = NoticeDelivery.__table__
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(constraint="uq_notice_deliveries_once")
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["kind", "event_key", "binding_id"])
    raise NotImplementedError(f"notices need PostgreSQL or SQLite, not {dialect}")


def claim_rows(events: list[scanning.Event], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for event in events:
        payload = event.payload()
        for binding_id, channel in event.bindings:
            rows.append({"kind": event.kind, "event_key": event.event_key, "binding_id": binding_id,
                         "account_no": event.account_no, "channel": channel, "urgent": event.urgent,
                         "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": now,
                         "last_error": None, "adhoc_id": event.adhoc_id, "created_at": now, "sent_at": None})
    rows.sort(key=lambda r: (r["kind"], r["event_key"], r["binding_id"]))
    return rows


def claim(session: Session, now: datetime, values: Optional[dict[str, Any]] = None) -> tuple[int, int]:
    """Scans and inserts the claims (the caller commits): (events found, rows claimed)."""
    values = values if values is not None else notice_settings.load(session)
    events = scanning.scan(session, now, values, idle_check=True)
    rows = claim_rows(events, now)
    claimed = 0
    statement = _insert(session.get_bind().dialect.name)
    for start in range(0, len(rows), INSERT_CHUNK):
        result = session.execute(statement, rows[start:start + INSERT_CHUNK])
        claimed += max(result.rowcount or 0, 0)
    return len(events), claimed


# ---------------------------------------------------------------- leasing

@dataclass
class Leased:
    id: int
    kind: str
    account_no: str
    channel: str
    urgent: bool
    payload: dict
    attempts: int
    binding_id: Optional[int]  # None: a ticket's status to its conversation
    channel_user: str
    conversation_id: Optional[str]
    sms_consent: bool
    unbound: bool
    subscribed: Optional[bool]  # None: no choice stored (the kind's default)
    last_error: Optional[str] = None


def lease(session: Session, now: datetime, limit: int = BATCH, *, conversations: bool = True) -> list[Leased]:
    """Takes up to ``limit`` due deliveries for this process (the caller commits at once);
    without ``conversations``, none without a binding (a ticket's status: only a process with
    the channels of the conversations, a gateway, can send it)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # The transaction starts with a write: it holds SQLite's write lock from here to the
        # commit, so a second process cannot select the same rows before this one moves them.
        session.execute(text("UPDATE notice_deliveries SET status = status WHERE 1 = 0"))
    due = (select(NoticeDelivery.id)
           .where(NoticeDelivery.status.in_(("pending", "failed")), NoticeDelivery.next_attempt_at <= now)
           .order_by(NoticeDelivery.next_attempt_at, NoticeDelivery.id).limit(limit))
    if not conversations:
        due = due.where(NoticeDelivery.binding_id.is_not(None))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.execute(due).scalars())
    if not ids:
        return []
    session.execute(update(NoticeDelivery).where(NoticeDelivery.id.in_(ids))
                    .values(next_attempt_at=now + LEASE).execution_options(synchronize_session=False))
    return leased_rows(session, ids)


def leased_rows(session: Session, ids: list[int]) -> list[Leased]:
    """What the sending needs of the deliveries ``ids`` (already leased by this process)."""
    d, b, s = NoticeDelivery, CustomerBinding, NoticeSubscription
    rows = session.execute(
        select(d.id, d.kind, d.account_no, d.channel, d.urgent, d.payload, d.attempts, d.last_error,
               d.binding_id, d.conversation_id.label("delivery_conversation"),
               b.channel_user, b.conversation_id, b.sms_consent, b.unbound_at, s.enabled)
        .outerjoin(b, b.id == d.binding_id)
        .outerjoin(s, and_(s.binding_id == d.binding_id, s.kind == d.kind))
        .where(d.id.in_(ids)).order_by(d.id)
    ).all()
    return [Leased(id=r.id, kind=r.kind, account_no=r.account_no or "", channel=r.channel, urgent=bool(r.urgent),
                   payload=dict(r.payload or {}), attempts=r.attempts or 0, binding_id=r.binding_id,
                   channel_user=(r.channel_user if r.binding_id is not None else r.delivery_conversation) or "",
                   conversation_id=r.conversation_id if r.binding_id is not None else r.delivery_conversation,
                   sms_consent=bool(r.sms_consent), unbound=r.unbound_at is not None, subscribed=r.enabled,
                   last_error=r.last_error)
            for r in rows]


def sent_today(session: Session, binding_ids: list[int], now: datetime) -> dict[int, int]:
    """Non-urgent notices sent to each binding since midnight (Asia/Shanghai)."""
    if not binding_ids:
        return {}
    local = now.astimezone(SHANGHAI)
    midnight = datetime.combine(local.date(), time(0), SHANGHAI)
    d = NoticeDelivery
    return dict(session.execute(
        select(d.binding_id, func.count(d.id))
        .where(d.binding_id.in_(binding_ids), d.status == "sent", d.urgent.is_(False), d.sent_at >= midnight)
        .group_by(d.binding_id)).all())


# ---------------------------------------------------------------- deciding

def quiet_end(quiet: notice_settings.QuietHours, now: datetime) -> datetime:
    """The next moment the quiet hours end (Asia/Shanghai)."""
    local = now.astimezone(SHANGHAI)
    end = datetime.combine(local.date(), quiet.end, SHANGHAI)
    return end if end > local else end + timedelta(days=1)


def next_morning(quiet: Optional[notice_settings.QuietHours], now: datetime) -> datetime:
    """Tomorrow when the quiet hours end (00:00 without quiet hours)."""
    local = now.astimezone(SHANGHAI)
    start_of_day = quiet.end if quiet is not None else time(0)
    return datetime.combine(local.date() + timedelta(days=1), start_of_day, SHANGHAI)


def skip_reason(item: Leased, values: dict[str, Any], now: datetime) -> Optional[str]:
    if item.unbound:
        return "unbound"
    if item.kind not in vocabulary.NOTICE_KINDS_ALWAYS_ON and item.subscribed is False:
        return "opted_out"
    if not notice_settings.kind_enabled(values, item.kind):
        return "kind_off"
    if item.channel == "sms" and not item.sms_consent:
        return "no_sms_consent"
    expires = item.payload.get("expires_at")
    if expires:
        try:
            if datetime.fromisoformat(expires) <= now:
                return "expired"
        except ValueError:
            pass
    return None


# ---------------------------------------------------------------- one round

async def run_once(store, now: Optional[datetime] = None, senders: Optional[Mapping[str, Sender]] = None, *,
                   batch: int = BATCH, claim_first: bool = True) -> RunResult:
    """One round of the engine: claim, then send every delivery due (see the module's doc)."""
    now = now or now_utc()
    senders = senders or {}
    result = RunResult()

    def _claim() -> dict[str, Any]:
        with store.session() as session:
            values = notice_settings.load(session)
        if claim_first:
            try:
                with store.session() as session:
                    result.events, result.claimed = claim(session, now, values)
            except Exception:  # a broken scan must not hold up what is already claimed
                log.exception("notices: claiming failed; sending what was claimed before")
        return values

    values = await store.run(_claim)
    quiet = notice_settings.quiet_hours(values.get("quiet_hours") or "")
    cap = int(values.get("daily_cap") or 0)
    while True:
        def _lease() -> tuple[list[Leased], dict[int, int]]:
            with store.session() as session:
                items = lease(session, now, batch, conversations=CONVERSATION in senders)
            with store.session() as session:
                counts = sent_today(session, sorted({i.binding_id for i in items
                                                     if not i.urgent and i.binding_id is not None}), now) if cap else {}
            return items, counts

        items, counts = await store.run(_lease)
        if not items:
            break
        outcomes = await _handle(items, counts, values, quiet, cap, now, senders, result)
        await store.run(_record, store, outcomes)
        if len(items) < batch:
            break
    if result.claimed or result.sent or result.failed or result.dead:
        log.info("notices: %s", result.as_dict())
    return result


async def _handle(items: list[Leased], counts: dict[int, int], values: dict[str, Any],
                  quiet: Optional[notice_settings.QuietHours], cap: int, now: datetime,
                  senders: Mapping[str, Sender], result: RunResult) -> list[dict[str, Any]]:
    outcomes: list[dict[str, Any]] = []
    to_send: list[Leased] = []
    in_quiet = quiet is not None and quiet.contains(now.astimezone(SHANGHAI).time())
    for item in sorted(items, key=lambda i: (PRIORITY.get(i.kind, 99), i.id)):
        reason = skip_reason(item, values, now)
        if reason:
            result.skipped += 1
            result.skipped_reasons[reason] = result.skipped_reasons.get(reason, 0) + 1
            outcomes.append({"id": item.id, "status": "skipped", "attempts": item.attempts, "next": None,
                             "error": reason, "sent_at": None})
            continue
        if not item.urgent and in_quiet:
            assert quiet is not None
            result.deferred += 1
            outcomes.append({"id": item.id, "status": "pending", "attempts": item.attempts,
                             "next": quiet_end(quiet, now), "error": "quiet_hours", "sent_at": None})
            continue
        if not item.urgent and cap:
            binding = item.binding_id or 0  # a non-urgent notice always has a binding
            if counts.get(binding, 0) >= cap:
                result.deferred += 1
                outcomes.append({"id": item.id, "status": "pending", "attempts": item.attempts,
                                 "next": next_morning(quiet, now), "error": "daily_cap", "sent_at": None})
                continue
            counts[binding] = counts.get(binding, 0) + 1
        to_send.append(item)

    limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(item: Leased) -> dict[str, Any]:
        attempts = item.attempts + 1
        sender = senders.get(item.channel if item.binding_id is not None else CONVERSATION)
        try:
            if sender is None:
                raise SendError(f"no sender for channel {item.channel} (not configured)")
            async with limit:
                await sender(Target(item.id, item.kind, item.account_no, item.channel, item.channel_user,
                                    item.conversation_id, item.payload, item.attempts))
        except Exception as exc:  # any failure of a channel is retried, never fatal to the round
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            if attempts >= MAX_ATTEMPTS:
                result.dead += 1
                log.warning("notice %s to %s is dead after %d tries: %s", item.id, item.channel, attempts, error)
                return {"id": item.id, "status": "dead", "attempts": attempts, "next": None, "error": error,
                        "sent_at": None}
            result.failed += 1
            return {"id": item.id, "status": "failed", "attempts": attempts,
                    "next": now + BACKOFF[attempts - 1], "error": error, "sent_at": None}
        result.sent += 1
        # The last failure stays in the log: a notice that went through on a later try shows why.
        return {"id": item.id, "status": "sent", "attempts": attempts, "next": None,
                "error": item.last_error if item.attempts else None, "sent_at": now}

    outcomes += await asyncio.gather(*(send(item) for item in to_send))
    return outcomes


async def send_claimed(store, ids: list[int], senders: Mapping[str, Sender], now: Optional[datetime] = None
                       ) -> RunResult:
    """Sends deliveries this process has just claimed and holds the lease of (their
    ``next_attempt_at`` is ``LEASE`` ahead), as ``run_once`` would, and records the outcome: a
    ticket's status goes out at once instead of at the next round; a failure is retried by the
    rounds like any other."""
    now = now or now_utc()
    result = RunResult()

    def _load() -> tuple[list[Leased], dict[str, Any]]:
        with store.session() as session:
            return leased_rows(session, ids), notice_settings.load(session)

    items, values = await store.run(_load)
    if not items:
        return result
    quiet = notice_settings.quiet_hours(values.get("quiet_hours") or "")
    cap = int(values.get("daily_cap") or 0)
    if cap and any(not i.urgent for i in items):
        counts = await store.run(_sent_today, store, sorted({i.binding_id for i in items
                                                             if not i.urgent and i.binding_id is not None}), now)
    else:
        counts = {}
    outcomes = await _handle(items, counts, values, quiet, cap, now, senders, result)
    await store.run(_record, store, outcomes)
    return result


def _sent_today(store, binding_ids: list[int], now: datetime) -> dict[int, int]:
    with store.session() as session:
        return sent_today(session, binding_ids, now)


def _record(store, outcomes: list[dict[str, Any]]) -> None:
    """Writes a batch's outcomes: one ``UPDATE … WHERE id IN (…)`` per distinct outcome (all the
    sent ones of a try, the skipped ones of a reason, the held ones of a time), in one transaction."""
    if not outcomes:
        return
    groups: dict[tuple, list[int]] = {}
    for o in outcomes:
        groups.setdefault((o["status"], o["attempts"], o["next"], o["error"], o["sent_at"]), []).append(o["id"])
    with store.transaction() as connection:
        for (status, attempts, next_at, error, sent_at), ids in groups.items():
            for start in range(0, len(ids), 1000):
                connection.execute(
                    update(NoticeDelivery.__table__).where(NoticeDelivery.__table__.c.id.in_(ids[start:start + 1000]))
                    .values(status=status, attempts=attempts, next_attempt_at=next_at, last_error=error,
                            sent_at=sent_at))
