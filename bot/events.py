"""The gateway's one event bus: every live event, every subscriber, every console stream.

What happens live — a message stored, a conversation's state, a hand-off, a staff note, an
agent's availability, an identity check, an SLA warning — is published once on the bus
(``app[EVENT_BUS]``) as one of the typed events below. The bus owns who hears it:

- *subscribers* (``subscribe``): callbacks in this process, e.g. the Redis relay
  (``bot.event_relay``) and tests;
- *console streams* (``open_stream``): one per open staff console (Server-Sent Events,
  ``bot.console.views.events``); a stream gets the event's console view (``console_view``:
  what changed where, or a supervisor's SLA notice), and only if its viewer is in the event's
  audience (``audience_of``: SLA warnings are for supervisors).

Events of another gateway arrive through the relay as console views and go to this gateway's
console streams only (``deliver_relayed``), with the same audience rule, so a supervisor sees
the same notice whichever gateway raised it and no subscriber acts on an event twice.

This module imports nothing of the gateway: publishers (hub, hand-off service, SLA watcher,
REST API, console) and subscribers depend on it, never on one another.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Awaitable, Callable, Literal, Optional, Protocol, TypedDict, Union

from aiohttp import web

log = logging.getLogger(__name__)

STREAM_SIZE = 200  # events waiting for one browser; beyond it a stalled browser misses events (it also polls)

Audience = Literal["staff", "supervisor"]
AUDIENCES: tuple[Audience, ...] = ("staff", "supervisor")


# ---------------------------------------------------------------- what is published

class MessageEvent(TypedDict):
    """A message of a conversation was stored (customer, bot, staff or system)."""
    type: Literal["message"]
    conversation_id: str
    message: dict[str, Any]  # bot.conversations.message_json


class StateEvent(TypedDict):
    type: Literal["state"]
    conversation_id: str
    state: str  # bot.store.models.CONVERSATION_STATES
    agent: Optional[str]


class HandoffEvent(TypedDict):
    type: Literal["handoff"]
    conversation_id: str
    handoff: dict[str, Any]  # bot.handoff.handoff_json


class NoteEvent(TypedDict):
    """A staff-only entry (note, labels, transfer record) was added to a conversation."""
    type: Literal["note"]
    conversation_id: str


class IdentityEvent(TypedDict):
    """A conversation's customer proved who they are (the console re-fetches the customer card)."""
    type: Literal["identity"]
    conversation_id: str
    account_no: str


class AvailabilityEvent(TypedDict):
    """A staff member went online, busy or away (queues re-check who can take a hand-off)."""
    type: Literal["availability"]
    conversation_id: None


class SlaEvent(TypedDict):
    """A ticket's milestone is at risk or breached (bot.sla.watcher); for supervisors."""
    type: Literal["sla"]
    kind: Literal["at_risk", "breached"]
    audience: Literal["supervisor"]
    ticket_no: str
    ticket_type: str
    area_type: Optional[str]
    rule: str
    milestone: str
    due_at: str  # ISO-8601 with offset
    at: str
    priority: str
    priority_before: str


Event = Union[MessageEvent, StateEvent, HandoffEvent, NoteEvent, IdentityEvent, AvailabilityEvent, SlaEvent]


# ---------------------------------------------------------------- what a console stream carries

class ConsoleUpdate(TypedDict, total=False):
    """What changed where: pages fetch the content themselves, with the viewer's masking."""
    type: str
    conversation_id: Optional[str]
    state: str  # state events only


class SlaNotice(TypedDict):
    """A supervisor's SLA warning, as bot/console/static/console.js shows it."""
    type: Literal["sla"]
    kind: str
    ticket_no: str
    ticket_type: str
    area_type: Optional[str]
    milestone: str
    due_at: str
    priority: str


ConsoleView = Union[ConsoleUpdate, SlaNotice]
SLA_NOTICE_KEYS = tuple(SlaNotice.__annotations__)
SUPERVISOR_ONLY_TYPES = frozenset({"sla"})


def audience_of(event: Any) -> Audience:
    """Who may see an event (or its console view) on a console. Fails closed: a supervisor-only
    type or an explicit supervisor audience makes it the supervisors' on every gateway."""
    if event.get("type") in SUPERVISOR_ONLY_TYPES or event.get("audience") == "supervisor":
        return "supervisor"
    return "staff"


def console_view(event: Event) -> ConsoleView:
    """The part of an event a console stream carries (and the relay sends to other gateways)."""
    if event["type"] == "sla":
        return SlaNotice(**{key: event.get(key) for key in SLA_NOTICE_KEYS})  # type: ignore[typeddict-item]
    view = ConsoleUpdate(type=event["type"], conversation_id=event.get("conversation_id"))
    if event["type"] == "state":
        view["state"] = event["state"]  # type: ignore[typeddict-item]
    return view


def valid_view(view: Any) -> bool:
    """A console view from another gateway that a page can show (an SLA notice with its ticket)."""
    if not isinstance(view, dict) or not isinstance(view.get("type"), str):
        return False
    if view["type"] == "sla":
        return all(isinstance(view.get(key), str) and view[key] for key in ("kind", "ticket_no", "milestone"))
    return True


# ---------------------------------------------------------------- the bus

Subscriber = Callable[[Event], Awaitable[None]]


class Publisher(Protocol):
    """What publishes live events: the bus (and, in tests, a recorder)."""

    async def publish(self, event: Event) -> None: ...


class ConsoleStream(asyncio.Queue):
    """One open console's live stream: console views, then ``None`` when the gateway shuts down."""

    def __init__(self, supervisor: bool, maxsize: int = STREAM_SIZE) -> None:
        super().__init__(maxsize)
        self.supervisor = supervisor

    def sees(self, audience: Audience) -> bool:
        return audience == "staff" or self.supervisor

    def offer(self, view: ConsoleView) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a stalled browser misses events; it also polls
            self.put_nowait(view)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._streams: set[ConsoleStream] = set()

    # -- subscribers in this process
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Registers a callback for every event published here; returns a function that removes it."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    async def publish(self, event: Event) -> None:
        """Gives an event of this gateway to its console streams, then to every subscriber."""
        self._to_streams(console_view(event), audience_of(event))
        for callback in list(self._subscribers):
            try:
                await callback(event)
            except Exception:  # a broken subscriber must not break the customer's conversation
                log.exception("event subscriber failed on %s", event.get("type"))

    def deliver_relayed(self, view: Any, audience: Any = None) -> bool:
        """An event another gateway published (its console view, bot.event_relay): to this
        gateway's console streams only, for the same audience. False if it is not one."""
        if not valid_view(view):
            return False
        strictest = audience_of({**view, "audience": audience})
        self._to_streams(view, strictest)
        return True

    # -- console streams
    def open_stream(self, supervisor: bool) -> ConsoleStream:
        stream = ConsoleStream(supervisor)
        self._streams.add(stream)
        return stream

    def close_stream(self, stream: ConsoleStream) -> None:
        self._streams.discard(stream)

    @property
    def has_streams(self) -> bool:
        return bool(self._streams)

    def end_streams(self) -> None:
        """Ends every open stream (the gateway is shutting down)."""
        for stream in list(self._streams):
            if stream.full():  # a stalled browser: it reconnects and re-fetches anyway
                stream.get_nowait()
            stream.put_nowait(None)

    def _to_streams(self, view: ConsoleView, audience: Audience) -> None:
        for stream in list(self._streams):
            if stream.sees(audience):
                stream.offer(view)


EVENT_BUS = web.AppKey("event_bus", EventBus)


def setup(app: web.Application) -> EventBus:
    """Puts the bus on the app (``create_app`` does it first: every other concern publishes or
    subscribes on it); a concern set up on an app without one (a test's partial gateway) gets
    it through ``bus_of``."""
    bus = EventBus()
    app[EVENT_BUS] = bus

    async def end_streams(_app: web.Application) -> None:
        bus.end_streams()

    app.on_shutdown.append(end_streams)  # type: ignore[arg-type]  # aiohttp 3.9's signal types predate aiosignal 1.4
    return bus


def bus_of(app: web.Application) -> EventBus:
    """The app's bus, set up on first use."""
    bus = app.get(EVENT_BUS)
    return bus if bus is not None else setup(app)
