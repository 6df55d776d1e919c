"""Issue 16, item 2: a long conversation stays fast — its Rasa session is compacted.

Rasa reloads, copies, replays and featurises every event of the current session on every turn,
so turns slowed from ~0.1 s to ~2 s over 500 turns. The tracker stores (rasa_server/tracker_store.py)
start a new session carrying the state over once a session is long; these tests check that the
dialogue cannot tell: same slots, same active form, same recent states for the policies, same
state after a fallback's revert, on SQLite, PostgreSQL and in memory. The speed is measured by
``make bench`` (long-conversation section), not here.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, SessionStarted, SlotSet,
                                     UserUttered, UserUtteranceReverted)
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server.tracker_store import GatewayInMemoryTrackerStore, GatewaySQLTrackerStore, compacted_session

ROOT = Path(__file__).resolve().parent.parent.parent
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
T0 = 1_700_000_000.0  # in the past: the store's new session starts now


def _user(text: str, intent: str, at: float) -> UserUttered:
    data = {"intent": {"name": intent, "confidence": 0.97}, "entities": [], "text": text}
    return UserUttered(text, data["intent"], [], parse_data=data, timestamp=at, message_id=f"m{at}")


def _conversation(faq_turns: int) -> list:
    """A customer verifies their account in the bill form, then asks many questions while the
    form waits, as a long chat does."""
    t = T0
    events = [ActionExecuted("action_session_start", timestamp=t), SessionStarted(timestamp=t + 0.01),
              ActionExecuted("action_listen", timestamp=t + 0.02),
              _user("查电费", "query_bill", t + 1), ActionExecuted("bill_form", timestamp=t + 1.1),
              ActiveLoop("bill_form", timestamp=t + 1.1), SlotSet("requested_slot", "account_no", timestamp=t + 1.1),
              ActionExecuted("action_listen", timestamp=t + 1.2),
              _user("3201000001", "inform", t + 2), SlotSet("account_no", "3201000001", timestamp=t + 2.1),
              SlotSet("identity_verified", True, timestamp=t + 2.1),
              SlotSet("customer_name", "张伟", timestamp=t + 2.1), ActionExecuted("bill_form", timestamp=t + 2.2),
              SlotSet("requested_slot", "phone_last4", timestamp=t + 2.2),
              ActionExecuted("action_listen", timestamp=t + 2.3)]
    for i in range(faq_turns):
        at = T0 + 10 + i * 10
        events += [_user("怎么交电费", "faq", at), ActionExecuted("utter_faq", timestamp=at + 0.1),
                   BotUttered(f"交电费的方式 {i}", timestamp=at + 0.1),
                   ActionExecuted("bill_form", timestamp=at + 0.2),
                   ActionExecuted("action_listen", timestamp=at + 0.3)]
    return events


def _tracker(events: list) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("long-1", events, DOMAIN.slots)


def _same_dialogue(long: DialogueStateTracker, short: DialogueStateTracker) -> None:
    assert short.current_slot_values() == long.current_slot_values()
    assert short.active_loop_name == long.active_loop_name == "bill_form"
    assert short.latest_message.text == long.latest_message.text
    assert short.latest_action_name == long.latest_action_name
    # The policies (max_history 5) see the same recent dialogue.
    assert short.past_states(DOMAIN)[-6:] == long.past_states(DOMAIN)[-6:]


def test_a_long_session_is_compacted_into_an_equivalent_short_one():
    long = _tracker(_conversation(60))  # 315 events
    new_session = compacted_session(long, DOMAIN.slots, now=T0 + 10_000, compact_after=120, keep_turns=8)
    assert new_session is not None and len(new_session) < 60
    assert isinstance(new_session[1], SessionStarted)
    assert all(e.timestamp >= new_session[1].timestamp for e in new_session[1:])
    short = _tracker(new_session)
    _same_dialogue(long, short)
    assert sum(isinstance(e, UserUttered) for e in short.events) == 8
    # A fallback's revert replays the tracker from its first event: the carried state survives.
    long.update(UserUtteranceReverted())
    short.update(UserUtteranceReverted())
    assert short.current_slot_values() == long.current_slot_values()
    assert short.current_slot_values()["identity_verified"] is True
    # Short sessions are left alone.
    assert compacted_session(_tracker(_conversation(10)), DOMAIN.slots, compact_after=120) is None


TSF = "action_two_stage_fallback"


def _fallback_flood(messages: int) -> list:
    """Not-understood messages one after another, with the events Rasa's two-stage fallback
    leaves: the first of each pair starts the loop and asks, the second gives up and reverts."""
    events = [ActionExecuted("action_session_start", timestamp=T0), SessionStarted(timestamp=T0 + 0.01),
              ActionExecuted("action_listen", timestamp=T0 + 0.02)]
    for i in range(messages):
        at = T0 + 10 + i * 10
        events += [_user(f"怎么交电费{i}", "nlu_fallback", at), ActionExecuted(TSF, timestamp=at + 0.1)]
        if i % 2 == 0:
            events += [ActiveLoop(TSF, timestamp=at + 0.1), BotUttered("抱歉，这个我现在答不上来。", timestamp=at + 0.1)]
        else:
            events += [ActiveLoop(None, timestamp=at + 0.1), BotUttered("抱歉，我还是没能理解。", timestamp=at + 0.1),
                       UserUtteranceReverted(timestamp=at + 0.1), SlotSet("handoff_reason", "fallback", timestamp=at + 0.1)]
        events.append(ActionExecuted("action_listen", timestamp=at + 0.2))
    return events


@pytest.mark.parametrize("messages", [31, 32])
def test_a_session_is_never_cut_inside_a_two_stage_fallback(messages):
    # Cut after a fallback started the loop, the revert that ends it cannot reach the carried-over
    # activation: the loop stayed on and Rasa predicted it for ever (a flood hung the conversation).
    long = _tracker(_fallback_flood(messages))
    new_session = compacted_session(long, DOMAIN.slots, now=T0 + 10_000, compact_after=80, keep_turns=6)
    assert new_session is not None
    short = _tracker(new_session)
    assert short.active_loop_name == long.active_loop_name
    # The next not-understood message and the loop's end replay to the same state.
    for tracker in (long, short):
        at = tracker.events[-1].timestamp + 1
        for event in [_user("还是不懂", "nlu_fallback", at), ActionExecuted(TSF, timestamp=at + 0.1),
                      ActiveLoop(TSF, timestamp=at + 0.1), ActionExecuted("action_listen", timestamp=at + 0.2),
                      _user("阶梯电价怎么收费", "faq", at + 1), ActionExecuted(TSF, timestamp=at + 1.1),
                      ActiveLoop(None, timestamp=at + 1.1), UserUtteranceReverted(timestamp=at + 1.1),
                      ActionExecuted("action_listen", timestamp=at + 1.1), _user("阶梯电价怎么收费", "faq", at + 1.2)]:
            tracker.update(event)
    assert long.active_loop_name is None and short.active_loop_name is None
    assert short.past_states(DOMAIN)[-6:] == long.past_states(DOMAIN)[-6:]


def _sql_store(kind: str, request, tmp_path) -> GatewaySQLTrackerStore:
    if kind == "postgresql":
        url = urlsplit(request.getfixturevalue("postgres_url"))
        return GatewaySQLTrackerStore(domain=DOMAIN, dialect="postgresql", host=url.hostname, port=url.port,
                                      db=url.path.lstrip("/"), username=url.username, password=url.password)
    return GatewaySQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "trackers.db"))


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_the_sql_store_loads_a_short_session_after_a_long_one(kind, request, tmp_path):
    store = _sql_store(kind, request, tmp_path)
    events = _conversation(60)
    await store.save(_tracker(events[:20]))  # a turn at a time, as Rasa saves
    tracker = await store.retrieve("long-1")
    for event in events[20:]:
        tracker.update(event)
    await store.save(tracker)  # compacts: the session is long now
    await store.save(tracker)  # the same object saved again adds nothing twice
    short = await store.retrieve("long-1")
    assert len(short.events) < 60
    _same_dialogue(_tracker(events), short)
    # Nothing is lost: the whole history is still in the table, the new session after it.
    full = await store.retrieve_full_tracker("long-1")
    assert [e for e in full.events][:len(events)] == events
    with store.engine.connect() as conn:
        starts = conn.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = 'long-1' "
                                      "AND type_name = 'session_started'")).scalar()
    assert starts == 2
    # The next turn is stored after the new session and read back with it.
    short.update(_user("谢谢", "thank", short.events[-1].timestamp + 1))
    await store.save(short)
    again = await store.retrieve("long-1")
    assert again.latest_message.text == "谢谢" and len(again.events) == len(short.events)
    store.engine.dispose()


@pytest.mark.asyncio
async def test_the_in_memory_store_keeps_only_the_compacted_session():
    store = GatewayInMemoryTrackerStore(DOMAIN)
    events = _conversation(60)
    await store.save(_tracker(events))
    short = await store.retrieve("long-1")
    assert len(short.events) < 60
    _same_dialogue(_tracker(events), short)
