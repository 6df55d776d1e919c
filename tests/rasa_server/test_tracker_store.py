"""GatewaySQLTrackerStore (rasa_server/tracker_store.py) is interchangeable with Rasa's SQLTrackerStore.

Both stores work on one real database (PostgreSQL as in production, and SQLite): what one
writes the other reads back event for event, the conversation-session rule is the same, a
turn's new events are stored exactly once, and the COUNT query is skipped only for trackers
the store read itself.
"""
from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server.tracker_store import GatewaySQLTrackerStore

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, query_bill, inform]
entities: [account_no]
slots:
  account_no:
    type: text
    mappings: [{type: from_entity, entity: account_no}]
responses:
  utter_greet: [{text: "您好"}]
""")


def _user(text: str, intent: str, timestamp: float) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.98}, timestamp=timestamp,
                       parse_data={"intent": {"name": intent, "confidence": 0.98}, "text": text})


def _turn(start: float, text: str, intent: str) -> list:
    return [_user(text, intent, start), ActionExecuted("utter_greet", timestamp=start + 0.1),
            ActionExecuted("action_listen", timestamp=start + 0.2)]


def _session(start: float) -> list:
    return [ActionExecuted("action_session_start", timestamp=start), SessionStarted(timestamp=start + 0.01),
            ActionExecuted("action_listen", timestamp=start + 0.02)]


def _stores(kind: str, request, tmp_path):
    if kind == "postgresql":
        url = urlsplit(request.getfixturevalue("postgres_url"))
        kwargs = dict(dialect="postgresql", host=url.hostname, port=url.port, db=url.path.lstrip("/"),
                      username=url.username, password=url.password)
    else:
        kwargs = dict(dialect="sqlite", db=str(tmp_path / "trackers.db"))
    return GatewaySQLTrackerStore(domain=DOMAIN, **kwargs), SQLTrackerStore(domain=DOMAIN, **kwargs)


def _counts(store) -> list:
    """Records the SQL statements the store's engine runs."""
    statements: list = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: statements.append(statement))
    return statements


def _dicts(tracker) -> list:
    return [event.as_dict() for event in tracker.events]


@pytest.fixture(params=["postgresql", "sqlite"])
def stores(request, tmp_path):
    return _stores(request.param, request, tmp_path)


def _rows(store, sender_id: str) -> list:
    table = store.SQLEvent.__table__
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            sa.select(table.c.type_name, table.c.timestamp, table.c.intent_name, table.c.action_name, table.c.data)
            .where(table.c.sender_id == sender_id).order_by(table.c.id))]


def test_same_rows_and_same_trackers_as_rasas_store(stores):
    fast, rasa = stores
    events = _session(1000.0) + _turn(1001.0, "你好", "greet") + [SlotSet("account_no", "3201000001", timestamp=1002.0)]
    asyncio.run(fast.save(DialogueStateTracker.from_events("by-fast", events, DOMAIN.slots)))
    asyncio.run(rasa.save(DialogueStateTracker.from_events("by-rasa", events, DOMAIN.slots)))
    assert _rows(fast, "by-fast") == _rows(rasa, "by-rasa")
    assert len(_rows(fast, "by-fast")) == len(events)

    # Each store continues a conversation the other one wrote.
    for writer, reader in ((rasa, fast), (fast, rasa)):
        tracker = asyncio.run(reader.retrieve("by-fast"))
        assert _dicts(tracker) == _dicts(asyncio.run(writer.retrieve("by-fast")))
        assert tracker.get_slot("account_no") == "3201000001"
        for event in _turn(tracker.events[-1].timestamp + 1, "查电费", "query_bill"):
            tracker.update(event)
        asyncio.run(reader.save(tracker))
    assert len(_rows(fast, "by-fast")) == len(events) + 6


def test_turns_are_stored_once_without_a_count_query(stores):
    fast, rasa = stores
    asyncio.run(fast.save(DialogueStateTracker.from_events("c2", _session(2000.0), DOMAIN.slots)))
    statements = _counts(fast)
    for turn in range(3):
        tracker = asyncio.run(fast.retrieve("c2"))
        for event in _turn(2001.0 + turn, f"第{turn}句", "inform"):
            tracker.update(event)
        asyncio.run(fast.save(tracker))
        asyncio.run(fast.save(tracker))  # saving the same tracker again adds nothing
    assert not any("count(" in s.lower() for s in statements), statements
    assert len(_rows(fast, "c2")) == 3 + 3 * 3
    stored = asyncio.run(rasa.retrieve("c2"))
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["第0句", "第1句", "第2句"]


def test_a_tracker_it_did_not_read_is_counted(stores):
    fast, rasa = stores
    asyncio.run(rasa.save(DialogueStateTracker.from_events("c3", _session(3000.0), DOMAIN.slots)))
    tracker = asyncio.run(rasa.retrieve("c3"))  # read by Rasa's store, saved by ours
    for event in _turn(3001.0, "你好", "greet"):
        tracker.update(event)
    statements = _counts(fast)
    asyncio.run(fast.save(tracker))
    assert any("count(" in s.lower() for s in statements)
    assert len(_rows(fast, "c3")) == 3 + 3
    assert _dicts(asyncio.run(rasa.retrieve("c3"))) == _dicts(asyncio.run(fast.retrieve("c3")))


def test_only_the_current_session_is_read_and_full_history_on_request(stores):
    fast, rasa = stores
    first = _session(4000.0) + _turn(4001.0, "你好", "greet")
    tracker = DialogueStateTracker.from_events("c4", first, DOMAIN.slots)
    asyncio.run(fast.save(tracker))
    tracker = asyncio.run(fast.retrieve("c4"))
    for event in _session(9000.0) + _turn(9001.0, "又来了", "greet"):  # a new session within one save
        tracker.update(event)
    asyncio.run(fast.save(tracker))
    tracker = asyncio.run(fast.retrieve("c4"))
    tracker.update(_user("查电费", "query_bill", 9002.0))
    asyncio.run(fast.save(tracker))
    for read in (fast, rasa):
        current = asyncio.run(read.retrieve("c4"))
        assert [e.text for e in current.events if isinstance(e, UserUttered)] == ["又来了", "查电费"]
        full = asyncio.run(read.retrieve_full_tracker("c4"))
        assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["你好", "又来了", "查电费"]


def test_latest_parse_data_is_kept_for_the_channel_once(stores):
    fast, _ = stores
    assert fast.pop_latest_parse_data("c5") is None
    tracker = DialogueStateTracker.from_events("c5", _session(5000.0) + _turn(5001.0, "查电费", "query_bill"),
                                               DOMAIN.slots)
    asyncio.run(fast.save(tracker))
    assert fast.pop_latest_parse_data("c5")["intent"]["name"] == "query_bill"
    assert fast.pop_latest_parse_data("c5") is None


def test_production_endpoints_use_it():
    import yaml
    from pathlib import Path

    endpoints = yaml.safe_load((Path(__file__).resolve().parent.parent.parent / "deploy" / "endpoints.prod.yml").read_text())
    assert endpoints["tracker_store"]["type"] == "rasa_server.tracker_store.GatewaySQLTrackerStore"


def test_postgresql_round_trips_leave_the_event_loop_free(stores):
    """PostgreSQL statements run on the store's threads (SQLite inline); many conversations
    saved and read at once each get exactly their own events."""
    import threading

    fast, _ = stores
    threads: set = set()
    sa.event.listen(fast.engine, "before_cursor_execute",
                    lambda *args: threads.add(threading.current_thread().name))

    async def conversation(index: int) -> list:
        sender = f"parallel-{index}"
        await fast.save(DialogueStateTracker.from_events(sender, _session(6000.0 + index), DOMAIN.slots))
        tracker = await fast.retrieve(sender)
        for event in _turn(6001.0 + index, f"第{index}位客户", "inform"):
            tracker.update(event)
        await fast.save(tracker)
        return [e.text for e in (await fast.retrieve(sender)).events if isinstance(e, UserUttered)]

    async def all_at_once() -> list:
        return await asyncio.gather(*(conversation(i) for i in range(12)))

    assert asyncio.run(all_at_once()) == [[f"第{i}位客户"] for i in range(12)]
    if fast.engine.dialect.name == "postgresql":
        assert threads and all(name.startswith("tracker-store") for name in threads), threads
    else:
        assert threads == {threading.main_thread().name}
