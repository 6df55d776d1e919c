"""The retention job: deletes or anonymises what is past its period (``privacy.yml``).

Run daily by one gateway (the day is claimed in ``retention_runs``, so several gateways run
it once) and by ``python -m bot privacy retention``. Each run is recorded with its counts.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.privacy import audit
from bot.privacy.policy import RetentionPolicy
from bot.privacy.subject import anonymise_ticket, delete_tracker_events, ERASED
from bot.store.models import AuditEntry, Conversation, ConversationNote, SearchTerm, Handoff, Message, RetentionRun, SurveyAnswer, Ticket
from bot.store.types import SHANGHAI, now_utc

log = logging.getLogger(__name__)

# Tables of identity-check records (attempts, lock-outs), when the store has them.
IDENTITY_CHECK_TABLES = ("throttle_hits",)  # bot/throttle.py: failed log-ins and identity checks


def apply(session: Session, policy: RetentionPolicy, now: datetime, *, dry_run: bool = False) -> dict[str, int]:
    """Deletes/anonymises everything past its period; returns how many rows of each kind."""
    def cutoff(kind: str) -> datetime:
        return now - timedelta(days=policy.period(kind))

    counts: dict[str, int] = {}
    old_messages = select(Message.id).where(Message.created_at < cutoff("messages"))
    session.execute(delete(SearchTerm).where(SearchTerm.kind == "m", SearchTerm.ref.in_(old_messages))
                    .execution_options(synchronize_session=False))
    # Staff notes about a conversation are kept as long as its messages.
    counts["conversation_notes"] = session.execute(
        delete(ConversationNote).where(ConversationNote.created_at < cutoff("messages"))).rowcount or 0
    counts["messages"] = session.execute(
        delete(Message).where(Message.created_at < cutoff("messages"))).rowcount or 0
    counts["tracker_events"] = delete_tracker_events(before_timestamp=cutoff("messages").timestamp(),
                                                     count_only=dry_run)
    counts["conversations"] = session.execute(
        update(Conversation).where(Conversation.last_message_at < cutoff("conversations"),
                                   (Conversation.account_no.is_not(None)) | (Conversation.note.is_not(None)))
        .values(account_no=None, note=None)).rowcount or 0
    counts["handoff_summaries"] = session.execute(
        update(Handoff).where(Handoff.created_at < cutoff("handoff_summaries"), Handoff.summary.is_not(None))
        .values(summary=None)).rowcount or 0
    counts["survey_comments"] = session.execute(
        update(SurveyAnswer).where(SurveyAnswer.created_at < cutoff("survey_comments"),
                                   SurveyAnswer.comment.is_not(None)).values(comment=None)).rowcount or 0
    old_tickets = list(session.execute(select(Ticket).where(
        Ticket.closed_at.is_not(None), Ticket.closed_at < cutoff("tickets"), Ticket.summary != ERASED)).scalars())
    for ticket in old_tickets:
        anonymise_ticket(ticket, now)
    if old_tickets:
        session.execute(delete(SearchTerm).where(SearchTerm.kind == "t",
                                                 SearchTerm.ref.in_([t.id for t in old_tickets]))
                        .execution_options(synchronize_session=False))
    counts["tickets"] = len(old_tickets)
    counts["identity_checks"] = _delete_identity_checks(session, cutoff("identity_checks"))
    counts["audit_log"] = session.execute(
        delete(AuditEntry).where(AuditEntry.at < cutoff("audit_log"))).rowcount or 0
    session.flush()
    return counts


def _delete_identity_checks(session: Session, before: datetime) -> int:
    from sqlalchemy import MetaData, Table

    bind = session.get_bind()
    names = set(inspect(bind).get_table_names())
    total = 0
    for name in IDENTITY_CHECK_TABLES:
        if name not in names:
            continue
        table = Table(name, MetaData(), autoload_with=bind)
        column = next((table.c[c] for c in ("at", "created_at", "attempted_at", "updated_at") if c in table.c), None)
        if column is None:
            continue
        total += session.execute(table.delete().where(column < before)).rowcount or 0
    return total


def run(store, policy: RetentionPolicy, *, trigger: str, actor: str, now: datetime | None = None,
        scheduled_day: str | None = None) -> dict[str, int] | None:
    """Runs the job once and records it; ``None`` if the scheduled day was claimed already."""
    now = now or now_utc()
    with store.session() as session:
        claim = RetentionRun(scheduled_day=scheduled_day, trigger=trigger, actor=actor, started_at=now, counts={})
        session.add(claim)
        try:
            session.flush()
        except IntegrityError:
            return None
        run_id = claim.id
    with store.session() as session:
        counts = apply(session, policy, now)
        claim = session.get(RetentionRun, run_id)
        claim.counts = counts
        claim.finished_at = now_utc()
        audit.record(session, actor=actor, actor_role="system" if trigger == "schedule" else trigger,
                     action="retention_run", subject_kind="retention", subject_id=str(run_id),
                     detail={"counts": counts, "trigger": trigger})
    log.info("retention run %s (%s): %s", run_id, trigger, counts)
    return counts


def next_run_after(now: datetime, policy: RetentionPolicy) -> datetime:
    local = now.astimezone(SHANGHAI)
    candidate = local.replace(hour=policy.run_at.hour, minute=policy.run_at.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


async def schedule(store, policy: RetentionPolicy, stop: asyncio.Event,
                   clock: Callable[[], datetime] = now_utc) -> None:
    """Runs the job every day at ``policy.run_at`` until ``stop`` is set."""
    while not stop.is_set():
        due = next_run_after(clock(), policy)
        try:
            await asyncio.wait_for(stop.wait(), timeout=max(1.0, (due - clock()).total_seconds()))
            return
        except asyncio.TimeoutError:
            pass
        day = due.date().isoformat()
        try:
            await store.run(run, store, policy, trigger="schedule", actor="system", scheduled_day=day)
        except Exception:  # a failed run is retried tomorrow; the gateway keeps serving
            log.exception("retention run of %s failed", day)
