"""Rasa's SQL tracker store with cheaper reads and writes per turn (Rasa 3.6).

``GatewaySQLTrackerStore`` is a drop-in for ``type: SQL`` in ``endpoints.yml``: the same
``events`` table, the same rows, the same conversation-session rule, so servers using it and
servers using Rasa's own store can share one database (and switching back needs no migration).
Select it with ``type: rasa_server.tracker_store.GatewaySQLTrackerStore`` and the same keys.

What it changes, measured with pyinstrument on a Rasa server under load (the SQL store was
about a quarter of the server's CPU per turn):

- reading a tracker selects only the ``data`` column with one Core statement (compiled once
  and cached by SQLAlchemy) instead of loading ORM objects through a query rebuilt per call;
- saving inserts the new events with one multi-row ``INSERT`` instead of one ORM object each,
  and knows how many events of the current session are stored because it read them itself,
  so it skips Rasa's ``COUNT`` query (it still counts for trackers it did not read);
- it remembers the parse data of the latest user message it saved, so the ``gateway`` channel
  can answer the intent headers without reading the database again.

Reads and writes on PostgreSQL run on a small thread pool: Rasa's store is synchronous and
blocked the Rasa server's event loop for every round trip (about 15 % of a server's request
time under load went to waiting for PostgreSQL, during which it could not parse or predict
for any other conversation). SQLite (tests, a laptop) stays inline: a local file, and an
in-memory SQLite database is one per thread.

The count shortcut is safe because Rasa holds the conversation's lock (Redis in production)
from reading the tracker until saving it, so no other writer adds events in between.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterable, Optional, Text

import os
import time

import sqlalchemy as sa
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.constants import (ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME,
                                        ACTION_TWO_STAGE_FALLBACK_NAME)
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

log = logging.getLogger(__name__)

# The number of current-session events a tracker was read with (set by retrieve and kept
# up to date by save); an attribute on the tracker object, so it dies with it.
_STORED_COUNT = "_gateway_stored_session_events"
# Set on a tracker object whose session this store compacted: how many of its events are stored.
_COMPACTED_AT = "_gateway_compacted_at"
LATEST_PARSE_CACHE = 2048  # conversations whose latest parse data is kept for the channel
DATABASE_THREADS = 4  # at most this many turns wait for PostgreSQL at once (pool size is 5)


# ---- a long conversation stays fast -------------------------------------------------------
# Rasa loads, copies, replays and featurises every event of the current session on every turn
# (and the in-memory store serialises the whole history on every save): measured on this model,
# a turn took ~0.1 s with 65 events, ~0.37 s with 600 and ~1.8 s with 3,000 (500 turns). Once a
# session holds more than COMPACT_AFTER events, the store starts a new session that carries the
# state over: the slots and the active form as they were KEEP_TURNS user turns ago, then those
# last turns' events again, so the policies (max_history 5) see the same recent dialogue and a
# revert (fallback) replays from a complete state. The old events stay in the table.
COMPACT_AFTER = int(os.environ.get("TRACKER_COMPACT_AFTER") or 80)  # events in a session (0: never)
KEEP_TURNS = int(os.environ.get("TRACKER_KEEP_TURNS") or 6)  # user turns copied into the new session


def compacted_session(tracker: DialogueStateTracker, slots: Any, now: Optional[float] = None,
                      compact_after: Optional[int] = None, keep_turns: Optional[int] = None
                      ) -> Optional[list]:
    """The events of a new session equivalent to ``tracker``'s current one, or None when the
    session is short enough (or has no safe cut: fewer than ``keep_turns`` user turns).

    ``[action_session_start, SessionStarted, SlotSet…, ActiveLoop?, <the last keep_turns turns>]``,
    timestamped from ``now`` on (the SQL store finds a session by its start's timestamp)."""
    compact_after = COMPACT_AFTER if compact_after is None else compact_after
    keep_turns = KEEP_TURNS if keep_turns is None else keep_turns
    events = list(tracker.events)
    start = max((i for i, e in enumerate(events) if isinstance(e, SessionStarted)), default=0)
    if compact_after <= 0 or len(events) - start <= compact_after:
        return None
    users = [i for i in range(start, len(events)) if isinstance(events[i], UserUttered)]
    if len(users) <= keep_turns:
        return None
    # Never cut inside a two-stage fallback: ending it reverts the message that started it, and
    # with that message left behind the cut the revert could not undo the carried-over
    # activation, so the loop stayed active and Rasa predicted it for ever (a flood of
    # not-understood messages hung the conversation). Keep more turns until a cut is outside it.
    for cut in reversed(users[:len(users) - keep_turns + 1]):
        previous = events[cut - 1]
        if isinstance(previous, ActionExecuted) and previous.action_name == ACTION_LISTEN_NAME:
            cut -= 1  # the tail starts with the action_listen before the user's turn, as Rasa's do
        # The state at the cut: one replay of the session so far (once per compaction try).
        before = DialogueStateTracker.from_events(tracker.sender_id, events[start:cut], slots)
        if before.active_loop_name != ACTION_TWO_STAGE_FALLBACK_NAME:
            break
    else:
        return None  # no safe cut yet: the next save tries again
    if now is None:  # after every stored event, even from a server whose clock runs ahead
        now = max(time.time(), max((e.timestamp or 0.0) for e in events) + 1e-3)
    new: list = [ActionExecuted(ACTION_SESSION_START_NAME, timestamp=now - 1e-3),
                 SessionStarted(timestamp=now)]
    new += [SlotSet(slot.name, slot.value, timestamp=now)
            for slot in before.slots.values() if slot.value != slot.initial_value]
    if before.active_loop_name:
        new.append(ActiveLoop(before.active_loop_name, timestamp=now))
    for offset, event in enumerate(events[cut:], start=1):
        copy = Event.from_parameters(event.as_dict())
        copy.timestamp = now + offset * 1e-6  # after the new start, in their order
        new.append(copy)
    return new


class GatewayInMemoryTrackerStore(InMemoryTrackerStore):
    """Rasa's in-memory store (``make run``) whose long sessions are compacted. The in-memory
    store serialises a conversation's whole history on every save, so a compacted conversation
    keeps only its new session here (the gateway's store keeps every message)."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        new_session = compacted_session(tracker, self.domain.slots)
        if new_session is not None:
            compact = DialogueStateTracker.from_events(tracker.sender_id, new_session, self.domain.slots)
            self.store[tracker.sender_id] = self.serialise_tracker(compact)
            log.debug("compacted the session of %s: %d -> %d events", tracker.sender_id,
                      len(tracker.events), len(new_session))


class GatewaySQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` with the per-turn work of the production layout made cheaper."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = self.SQLEvent.__table__
        sender = sa.bindparam("sender_id")
        session_start = (
            sa.select(sa.func.max(table.c.timestamp))
            .where(table.c.sender_id == sender, table.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        # Rasa's rule (SQLTrackerStore._event_query): the events at or after the latest
        # SessionStarted, or all events when the conversation never started a session.
        current_session = sa.and_(
            table.c.sender_id == sender,
            sa.or_(table.c.timestamp >= session_start, session_start.is_(None)),
        )
        self._select_session = sa.select(table.c.data).where(current_session).order_by(table.c.id)
        self._select_all = sa.select(table.c.data).where(table.c.sender_id == sender).order_by(table.c.id)
        self._count_session = sa.select(sa.func.count()).select_from(table).where(current_session)
        self._insert = table.insert()
        self._latest_parse: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
        self._database_threads: Optional[ThreadPoolExecutor] = None
        if self.engine.dialect.name != "sqlite":
            self._database_threads = ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="tracker-store")

    async def _off_loop(self, function: Any, *args: Any) -> Any:
        """``function(*args)`` on the database threads (PostgreSQL) or inline (SQLite)."""
        if self._database_threads is None:
            return function(*args)
        return await asyncio.get_running_loop().run_in_executor(self._database_threads, function, *args)

    # ---- reading ---------------------------------------------------------------------
    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._read(sender_id, self._select_session, remember_count=True)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self._read(conversation_id, self._select_all, remember_count=False)

    def _select_rows(self, statement: Any, sender_id: Text) -> list:
        with self.engine.connect() as connection:
            return connection.execute(statement, {"sender_id": sender_id}).scalars().all()

    async def _read(self, sender_id: Text, statement: Any, remember_count: bool) -> Optional[DialogueStateTracker]:
        rows = await self._off_loop(self._select_rows, statement, sender_id)
        if not self.domain or not rows:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(data) for data in rows], self.domain.slots)
        if remember_count and len(tracker.events) == len(rows):
            setattr(tracker, _STORED_COUNT, len(rows))
        return tracker

    # ---- writing ---------------------------------------------------------------------
    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        compacted_at = getattr(tracker, _COMPACTED_AT, None)
        stored = compacted_at if compacted_at is not None else getattr(tracker, _STORED_COUNT, None)
        # A tracker object saved again after its compaction only adds its new events (a second
        # compaction, or Rasa's count of the now short session, would write wrong rows).
        new_session = compacted_session(tracker, self.domain.slots) \
            if self.domain is not None and compacted_at is None else None
        stored, new_events = await self._off_loop(
            self._insert_new_events, tracker.sender_id, list(tracker.events), stored, new_session)
        if new_session is not None or compacted_at is not None:
            setattr(tracker, _COMPACTED_AT, len(tracker.events))
            if new_session is not None:
                log.debug("compacted the session of %s: %d -> %d events", tracker.sender_id,
                          len(tracker.events), len(new_session))
            self._remember_latest_parse(tracker, new_events)
            return
        if new_events and not any(isinstance(event, SessionStarted) for event in new_events):
            setattr(tracker, _STORED_COUNT, stored + len(new_events))
        elif new_events and hasattr(tracker, _STORED_COUNT):
            # A new session began: its count is what Rasa's query would say (next save counts).
            delattr(tracker, _STORED_COUNT)
        self._remember_latest_parse(tracker, new_events)

    def _insert_new_events(self, sender_id: Text, events: list, stored: Optional[int],
                           new_session: Optional[list] = None) -> tuple:
        """Inserts the events after the ``stored`` ones (counted when unknown), then the events
        of a compacted new session if any, in one transaction; returns the count it started
        from and the (turn's) events it inserted."""
        with self.engine.begin() as connection:
            if stored is None:
                stored = connection.execute(self._count_session, {"sender_id": sender_id}).scalar_one()
            new_events = list(itertools.islice(events, stored, len(events)))
            rows = [self._row(sender_id, event) for event in new_events + (new_session or [])]
            if rows:
                connection.execute(self._insert, rows)
        return stored, new_events

    @staticmethod
    def _row(sender_id: Text, event: Any) -> Dict[str, Any]:
        # The same columns and values as SQLTrackerStore.save writes.
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": (data.get("parse_data", {}).get("intent", {}) or {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    # ---- the channel's intent headers ------------------------------------------------
    def _remember_latest_parse(self, tracker: DialogueStateTracker, new_events: Iterable[Any]) -> None:
        users = [event for event in new_events if isinstance(event, UserUttered)]
        if not users:
            return
        self._latest_parse[tracker.sender_id] = users[-1].parse_data or {}
        self._latest_parse.move_to_end(tracker.sender_id)
        while len(self._latest_parse) > LATEST_PARSE_CACHE:
            self._latest_parse.popitem(last=False)

    def pop_latest_parse_data(self, sender_id: Text) -> Optional[Dict[str, Any]]:
        """Parse data of the latest user message this process saved for ``sender_id``, once."""
        return self._latest_parse.pop(sender_id, None)


def unwrap(store: Any) -> Any:
    """The tracker store inside Rasa's wrappers (FailSafeTrackerStore, AwaitableTrackerStore)."""
    seen = 0
    while hasattr(store, "_tracker_store") and seen < 5:
        store, seen = store._tracker_store, seen + 1
    return store
