"""The gateway's event bus (bot/events.py): who hears what, in this process and from other gateways."""
from __future__ import annotations

import asyncio
import json

import pytest

from bot.event_relay import receive, wire
from bot.events import EventBus

pytestmark = pytest.mark.asyncio

SLA = {"type": "sla", "kind": "at_risk", "audience": "supervisor", "ticket_no": "GD20261126000123",
       "ticket_type": "complaint", "area_type": None, "rule": "complaint.reply", "milestone": "处理意见答复",
       "due_at": "2026-11-27T10:00:00+08:00", "at": "2026-11-26T20:00:00+08:00", "priority": "high",
       "priority_before": "normal"}
SLA_VIEW = {"type": "sla", "kind": "at_risk", "ticket_no": "GD20261126000123", "ticket_type": "complaint",
            "area_type": None, "milestone": "处理意见答复", "due_at": "2026-11-27T10:00:00+08:00",
            "priority": "high"}


def drain(stream) -> list:
    items = []
    while not stream.empty():
        items.append(stream.get_nowait())
    return items


async def test_streams_get_the_console_view_and_sla_notices_reach_supervisors_only():
    bus = EventBus()
    agent, supervisor = bus.open_stream(supervisor=False), bus.open_stream(supervisor=True)
    await bus.publish(SLA)
    await bus.publish({"type": "message", "conversation_id": "c1", "message": {"id": 7, "text": "正文不外传"}})
    await bus.publish({"type": "state", "conversation_id": "c1", "state": "human", "agent": "li"})
    conversation_views = [{"type": "message", "conversation_id": "c1"},
                          {"type": "state", "conversation_id": "c1", "state": "human"}]
    assert drain(supervisor) == [SLA_VIEW, *conversation_views]
    assert drain(agent) == conversation_views
    bus.close_stream(agent)
    await bus.publish({"type": "note", "conversation_id": "c1"})
    assert agent.empty() and bus.has_streams
    bus.close_stream(supervisor)
    assert not bus.has_streams


async def test_subscribers_get_the_whole_event_and_a_broken_one_breaks_nothing():
    bus = EventBus()
    heard = []

    async def broken(event):
        raise RuntimeError("console gone")

    async def record(event):
        heard.append(event)

    bus.subscribe(broken)
    unsubscribe = bus.subscribe(record)
    await bus.publish(SLA)
    assert heard == [SLA]
    unsubscribe()
    await bus.publish(SLA)
    assert heard == [SLA]


async def test_relayed_events_keep_their_audience_reach_streams_only_and_incomplete_ones_are_dropped():
    bus = EventBus()
    heard = []

    async def record(event):
        heard.append(event)

    bus.subscribe(record)
    agent, supervisor = bus.open_stream(supervisor=False), bus.open_stream(supervisor=True)
    assert json.loads(wire("gateway-a", SLA)) == {"origin": "gateway-a", "audience": "supervisor", "event": SLA_VIEW}
    assert receive(bus, "gateway-b", wire("gateway-a", SLA))
    # An SLA notice is the supervisors' even if the sender called it everyone's.
    assert receive(bus, "gateway-b", json.dumps({"origin": "gateway-a", "audience": "staff", "event": SLA_VIEW}))
    assert drain(supervisor) == [SLA_VIEW, SLA_VIEW] and agent.empty()
    assert heard == []  # relayed events never reach this gateway's subscribers
    # Our own echo, garbage, and an SLA notice a page cannot show (an older gateway's) are dropped.
    assert not receive(bus, "gateway-a", wire("gateway-a", SLA))
    assert not receive(bus, "gateway-b", b"not json")
    assert not receive(bus, "gateway-b", json.dumps({"origin": "gateway-a", "event": {"type": "sla"}}))
    assert not receive(bus, "gateway-b", json.dumps({"origin": "gateway-a", "event": "sla"}))
    assert drain(supervisor) == [] and agent.empty()
    assert receive(bus, "gateway-b", wire("gateway-a", {"type": "availability", "conversation_id": None}))
    assert drain(agent) == drain(supervisor) == [{"type": "availability", "conversation_id": None}]


async def test_shutdown_ends_every_stream_even_a_stalled_one():
    bus = EventBus()
    stalled = bus.open_stream(supervisor=False)
    for n in range(stalled.maxsize + 5):
        await bus.publish({"type": "note", "conversation_id": f"c{n}"})
    reading = bus.open_stream(supervisor=True)
    waiting = asyncio.create_task(reading.get())
    await asyncio.sleep(0)
    bus.end_streams()
    assert await asyncio.wait_for(waiting, 1) is None
    assert drain(stalled)[-1] is None
