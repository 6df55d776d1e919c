"""Live hand-off from the bot to a person, and back.

A hand-off goes ``waiting`` → ``accepted`` → ``returned`` (back to the bot) or ``closed``;
or ``waiting`` → ``missed`` when nobody accepts in time or the desk is closed, in which
case the customer is told so and a callback ticket (type ``callback``) is opened with its
deadline. Nobody waits in silence. Within ``STAFF_HOURS`` the desk counts as closed too when
no agent is online (``bot.agent_tools.availability``; a store without staff accounts keeps the
hours-only rule). An accepted hand-off may be transferred to another online agent
(``transfer``, claimed on its current agent, recorded in the conversation's staff history).

Every transition is claimed in the database with ``UPDATE ... WHERE status = <expected>``
so that two gateways (or two agents) never both act on the same hand-off.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.api.errors import validation_error
from bot.api.validation import json_object, string
from bot.app import START_BACKGROUND
from bot.conversations import HUB
from bot.events import EventBus, HandoffEvent, Publisher, bus_of
from bot.masking import mask_phone
from bot.sla import SLA_RULES
from bot.store import STORE
from bot.store.models import Conversation, Customer, Handoff, Ticket
from bot.store.types import SHANGHAI, iso_local, now_utc

if TYPE_CHECKING:
    from bot.conversations import Hub

log = logging.getLogger(__name__)

REASONS = ("customer_request", "fallback", "identity_failed", "staff_takeover")
ACTIVE_STATUSES = ("waiting", "accepted")

Clock = Callable[[], datetime]


class HandoffError(Exception):
    """A refused hand-off operation; ``code`` is the API error code, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# ---------------------------------------------------------------- settings

@dataclass(frozen=True)
class StaffHours:
    """Opening hours of the staff desk, every day, in Asia/Shanghai (ranges may cross midnight)."""

    ranges: tuple[tuple[time, time | None], ...]  # end None = 24:00
    text: str

    @classmethod
    def parse(cls, text: str) -> "StaffHours":
        ranges = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                start_s, end_s = (p.strip() for p in part.split("-", 1))
                start = time.fromisoformat(start_s)
                end = None if end_s in ("24:00", "24:00:00") else time.fromisoformat(end_s)
            except ValueError as exc:
                raise ValueError(f"STAFF_HOURS: bad range {part!r}, expected HH:MM-HH:MM") from exc
            ranges.append((start, end))
        if not ranges:
            raise ValueError("STAFF_HOURS is empty")
        return cls(tuple(ranges), text.strip())

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(SHANGHAI).time()
        for start, end in self.ranges:
            if end is None:
                if local >= start:
                    return True
            elif start <= end:
                if start <= local < end:
                    return True
            elif local >= start or local < end:  # crosses midnight
                return True
        return False

    def describe(self) -> str:
        parts = [f"{s.strftime('%H:%M')}-{e.strftime('%H:%M') if e else '24:00'}" for s, e in self.ranges]
        return "、".join(parts)


@dataclass(frozen=True)
class HandoffSettings:
    accept_seconds: float = 180.0
    staff_hours: StaffHours = StaffHours.parse("08:00-20:00")
    check_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "HandoffSettings":
        env = os.environ if env is None else env
        return cls(
            accept_seconds=float(env.get("HANDOFF_ACCEPT_SECONDS") or 180),
            staff_hours=StaffHours.parse(env.get("STAFF_HOURS") or "08:00-20:00"),
            check_seconds=float(env.get("HANDOFF_CHECK_SECONDS") or 5),
        )


# ---------------------------------------------------------------- JSON form

def handoff_contract_json(h: Handoff) -> dict[str, Any]:
    """The contract's hand-off fields (``bot handoffs --json``)."""
    return {
        "conversation_id": h.conversation_id,
        "channel": h.channel,
        "reason": h.reason,
        "status": h.status,
        "created_at": iso_local(h.created_at),
        "accepted_at": iso_local(h.accepted_at),
        "agent": h.agent,
        "callback_ticket_no": h.callback_ticket_no,
    }


def handoff_json(h: Handoff) -> dict[str, Any]:
    """The contract's fields plus what the API and console also need."""
    return {**handoff_contract_json(h), "id": h.id, "summary": h.summary,
            "accept_due_at": iso_local(h.accept_due_at), "ended_at": iso_local(h.ended_at)}


def list_handoffs(session: Session, status: str | None = None, limit: int | None = None) -> list[Handoff]:
    query = select(Handoff).order_by(Handoff.created_at.desc(), Handoff.id.desc())
    if status:
        query = query.where(Handoff.status == status)
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def active_handoff(session: Session, conversation_id: str) -> Handoff | None:
    return session.execute(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(ACTIVE_STATUSES))
        .order_by(Handoff.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _claim(session: Session, handoff_id: int, expected: str | Iterable[str], **values) -> bool:
    """Moves a hand-off on only if it is still in ``expected``; True if this caller won."""
    expected = (expected,) if isinstance(expected, str) else tuple(expected)
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status.in_(expected))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _claim_agent(session: Session, handoff_id: int, from_agent: str | None, to_agent: str) -> bool:
    """Moves an accepted hand-off from ``from_agent`` to ``to_agent``; True if this caller won."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status == "accepted", Handoff.agent == from_agent)
        .values(agent=to_agent)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# ---------------------------------------------------------------- customer texts

def _local_deadline(due: datetime, now: datetime) -> str:
    """今天15:30 / 明天09:00 / 12月8日17:30, as the customer reads it."""
    from bot.sla.notify import describe_time

    return describe_time(due, now)


TEXT_TRANSFER = "好的，正在为您转接人工客服，请稍候。我们会在{minutes}内接入；若暂时无人接听，将为您登记回电。"
TEXT_ALREADY_WAITING = "您已在人工客服的排队中，请稍候，客服接入后会直接在这里回复您。"
TEXT_ACCEPTED = "您好，人工客服{agent}为您服务，请问有什么可以帮您？"
TEXT_TAKEOVER = "您好，人工客服{agent}已加入对话，接下来由我为您服务。"
TEXT_RETURNED = "人工服务已结束，接下来由智能客服继续为您服务。如需再次转人工，请回复“转人工”。"
TEXT_CLOSED = "本次服务已结束，感谢您的耐心。如还有问题，随时给我们留言。"
TEXT_BUSY = "非常抱歉，人工客服暂时繁忙，未能及时接入。"
TEXT_CLOSED_DESK = "人工客服的服务时间为每天 {hours}，现在暂时无法接入。"
TEXT_NOBODY_ONLINE = "非常抱歉，人工客服暂时都不在线，现在无法接入。"
TEXT_TRANSFERRED = "您的会话已转给客服{agent}，请稍候，马上为您继续服务。"
TEXT_CALLBACK = "已为您登记回电工单 {ticket_no}，工作人员将于{deadline}前与您联系。"
TEXT_CALLBACK_ALREADY = "您的回电工单 {ticket_no} 已经登记好了，不用重复登记，"
TEXT_CALLBACK_WHEN = "工作人员将于{deadline}前与您联系。"
TEXT_CALLBACK_SOON = "工作人员会尽快与您联系。"
TEXT_CALLBACK_NO_DEADLINE = "已为您登记回电工单 {ticket_no}，工作人员将尽快与您联系。"
# The bot puts a mobile number the customer sends next on the callback ticket (actions/menu.py).
TEXT_CALLBACK_NO_PHONE = "为便于回电，请直接回复您的手机号。"
# The customer proved their identity in this conversation: call the registered phone, say which.
TEXT_CALLBACK_REGISTERED_PHONE = "回电将拨打您登记的手机号 {phone}。"
# Not verified, but left a contact phone on a request in this conversation (a repair, a complaint).
TEXT_CALLBACK_GIVEN_PHONE = "回电将拨打您刚才留下的联系电话 {phone}。"
TEXT_BACK_TO_BOT = "在此期间，智能客服仍可继续为您服务。"


def _minutes_text(seconds: float) -> str:
    if seconds >= 60:
        minutes = seconds / 60
        return f"{minutes:g}分钟"
    return f"{seconds:g}秒"


# ---------------------------------------------------------------- the service

class HandoffService:
    def __init__(self, store, hub: Hub | None = None, settings: HandoffSettings | None = None,
                 clock: Clock = now_utc, sla=None, events: Publisher | None = None):
        self.store = store
        self.hub = hub
        self.settings = settings or HandoffSettings.from_env()
        self.clock = clock
        self.sla = sla
        # Live events go where the hub's go (the app's bus, bot.events); without a hub, to a bus
        # of the service's own (unit use: a test subscribes to ``service.events``).
        self.events: Publisher = events if events is not None else (hub.bus if hub is not None else EventBus())

    # -- live events for consoles
    async def _emit(self, handoff: dict) -> None:
        event = HandoffEvent(type="handoff", conversation_id=handoff["conversation_id"], handoff=handoff)
        try:
            await self.events.publish(event)
        except Exception:  # a broken console must not break a hand-off
            log.exception("hand-off event failed for %s", handoff["conversation_id"])

    async def _set_state(self, conversation_id: str, state: str, agent: str | None = None) -> None:
        if self.hub is not None:
            await self.hub.set_state(conversation_id, state, agent=agent)
        else:  # no hub (unit use): keep the store consistent anyway
            def _update(session_state=state):
                with self.store.session() as session:
                    conv = session.get(Conversation, conversation_id)
                    if conv is not None:
                        conv.state = session_state
                        conv.assigned_agent = agent
            await self.store.run(_update)

    async def _tell(self, conversation_id: str, text: str, sender: str = "system",
                    agent: str | None = None) -> None:
        if self.hub is None:
            return
        message: dict[str, Any] = {"text": text}
        if agent:
            message["metadata"] = {"agent": agent}
        try:
            await self.hub.push(conversation_id, message, sender=sender, agent=agent)
        except Exception:
            log.exception("could not tell conversation %s", conversation_id)

    # -- request
    async def request(self, conversation_id: str, channel: str, reason: str,
                      summary: str | None = None) -> tuple[dict, bool]:
        """Queues a conversation for a person. Returns (hand-off JSON, created)."""
        if reason not in REASONS:
            raise HandoffError("bad_reason", f"reason must be one of {', '.join(REASONS)}", 400)
        now = self.clock()
        desk_open = self.settings.staff_hours.is_open(now)
        nobody_online = False
        if desk_open:
            # Within the hours the desk is open only with somebody online to take it
            # (bot.agent_tools.availability); otherwise it counts as closed.
            from bot.agent_tools.availability import desk_staffed

            nobody_online = not await self.store.run(self._in_session, desk_staffed, now)
            desk_open = not nobody_online

        def _create():
            with self.store.session() as session:
                conv = session.get(Conversation, conversation_id)
                if conv is None:
                    conv = Conversation(id=conversation_id, channel=channel, state="bot",
                                        created_at=now, last_message_at=now)
                    session.add(conv)
                    session.flush()
                existing = active_handoff(session, conversation_id)
                if existing is not None:
                    return handoff_json(existing), False
                h = Handoff(conversation_id=conversation_id, channel=conv.channel or channel,
                            reason=reason, status="waiting", summary=summary, created_at=now,
                            accept_due_at=now + timedelta(seconds=self.settings.accept_seconds))
                session.add(h)
                session.flush()
                return handoff_json(h), True

        if not desk_open:
            pending = await self.store.run(self._pending_callback, conversation_id, summary, now)
            if pending is not None:
                # "转人工" said again while the desk is closed: the callback already registered in
                # this conversation stands (with what was said since noted on it); a second
                # ticket would only have two people call the same customer.
                data, ticket, registered = pending
                await self._tell(conversation_id, self._callback_text(ticket, registered, now, again=True))
                return data, False

        data, created = await self.store.run(_create)
        if not created:
            if data["status"] == "waiting":
                await self._tell(conversation_id, TEXT_ALREADY_WAITING)
            return data, False
        if not desk_open:
            missed = await self._miss(data["id"], desk_closed=True, nobody_online=nobody_online)
            return (missed or data), True
        await self._set_state(conversation_id, "waiting")
        await self._tell(conversation_id, TEXT_TRANSFER.format(minutes=_minutes_text(self.settings.accept_seconds)))
        await self._emit(data)
        return data, True

    # -- accept
    async def accept(self, conversation_id: str, username: str, display_name: str) -> dict:
        now = self.clock()

        def _accept():
            with self.store.session() as session:
                h = active_handoff(session, conversation_id)
                if h is None or h.status != "waiting":
                    raise HandoffError("not_waiting", "该会话当前不在排队中，可能已被其他同事接入或已转回机器人。")
                if not _claim(session, h.id, "waiting", status="accepted", accepted_at=now, agent=username):
                    raise HandoffError("not_waiting", "该会话已被其他同事接入。")
                session.refresh(h)
                return handoff_json(h)

        data = await self.store.run(_accept)
        await self.store.run(self._callbacks_served_live, conversation_id, username, display_name, now)
        await self._set_state(conversation_id, "human", agent=username)
        await self._tell(conversation_id, TEXT_ACCEPTED.format(agent=display_name), sender="system")
        await self._emit(data)
        return data

    # -- take over a live bot conversation
    async def take_over(self, conversation_id: str, username: str, display_name: str) -> dict:
        now = self.clock()

        def _take():
            with self.store.session() as session:
                conv = session.get(Conversation, conversation_id)
                if conv is None:
                    raise HandoffError("not_found", "会话不存在。", 404)
                if conv.state == "closed":
                    raise HandoffError("closed", "会话已结束，无法接管。")
                existing = active_handoff(session, conversation_id)
                if existing is not None:
                    if existing.status == "waiting" and _claim(
                            session, existing.id, "waiting", status="accepted", accepted_at=now, agent=username):
                        session.refresh(existing)
                        return handoff_json(existing)
                    raise HandoffError("already_human", "该会话已由人工服务。")
                h = Handoff(conversation_id=conversation_id, channel=conv.channel, reason="staff_takeover",
                            status="accepted", created_at=now, accept_due_at=now, accepted_at=now,
                            agent=username, summary=f"{display_name} 主动接管")
                session.add(h)
                session.flush()
                return handoff_json(h)

        data = await self.store.run(_take)
        await self.store.run(self._callbacks_served_live, conversation_id, username, display_name, now)
        await self._set_state(conversation_id, "human", agent=username)
        await self._tell(conversation_id, TEXT_TAKEOVER.format(agent=display_name), sender="system")
        await self._emit(data)
        return data

    # -- staff reply
    async def reply(self, conversation_id: str, username: str, display_name: str, text: str,
                    supervisor: bool = False) -> None:
        text = (text or "").strip()
        if not text:
            raise HandoffError("empty", "回复内容不能为空。", 400)
        if len(text) > 2000:
            raise HandoffError("too_long", "回复内容过长（最多 2000 字）。", 400)

        def _check():
            with self.store.session() as session:
                h = active_handoff(session, conversation_id)
                if h is None or h.status != "accepted":
                    raise HandoffError("not_accepted", "请先接入该会话再回复。")
                if h.agent != username and not supervisor:
                    raise HandoffError("not_yours", "该会话由其他同事服务。", 403)

        await self.store.run(_check)
        assert self.hub is not None  # staff reply only in a gateway, which has a hub
        await self.hub.push(conversation_id, {"text": text, "metadata": {"agent": display_name}},
                            sender="staff", agent=display_name)

    # -- transfer to another agent
    async def transfer(self, conversation_id: str, username: str, display_name: str, to_username: str,
                       to_display_name: str, reason: str | None = None, supervisor: bool = False) -> dict:
        """Moves an accepted hand-off to another agent (claimed: only from its current agent);
        records it in the conversation's staff history and tells the customer who serves them."""
        reason = (reason or "").strip()[:200] or None

        def _move():
            from bot.agent_tools.notes import add_note

            with self.store.session() as session:
                h = active_handoff(session, conversation_id)
                if h is None or h.status != "accepted":
                    raise HandoffError("not_accepted", "该会话没有进行中的人工服务，无法转接。")
                if h.agent != username and not supervisor:
                    raise HandoffError("not_yours", "该会话由其他同事服务。", 403)
                if h.agent == to_username:
                    raise HandoffError("same_agent", "该会话已由这位同事服务。")
                previous = h.agent
                if not _claim_agent(session, h.id, previous, to_username):
                    raise HandoffError("not_active", "该会话状态已变化，请刷新。")
                text = f"{display_name} 将会话转接给 {to_display_name}" + (f"：{reason}" if reason else "")
                add_note(session, conversation_id, username, text, kind="transfer",
                         data={"from": previous, "to": to_username, "by": username, "reason": reason,
                               "handoff_id": h.id})
                session.refresh(h)
                return handoff_json(h)

        data = await self.store.run(_move)
        await self._set_state(conversation_id, "human", agent=to_username)
        await self._tell(conversation_id, TEXT_TRANSFERRED.format(agent=to_display_name))
        await self._emit(data)
        return data

    # -- hand back to the bot
    async def hand_back(self, conversation_id: str, username: str, supervisor: bool = False) -> dict:
        now = self.clock()

        def _back():
            with self.store.session() as session:
                h = active_handoff(session, conversation_id)
                if h is None:
                    raise HandoffError("not_active", "该会话没有进行中的人工服务。")
                if h.status == "accepted" and h.agent != username and not supervisor:
                    raise HandoffError("not_yours", "该会话由其他同事服务。", 403)
                if not _claim(session, h.id, h.status, status="returned", ended_at=now):
                    raise HandoffError("not_active", "该会话状态已变化，请刷新。")
                session.refresh(h)
                return handoff_json(h)

        data = await self.store.run(_back)
        await self._set_state(conversation_id, "bot")
        await self._tell(conversation_id, TEXT_RETURNED)
        await self._emit(data)
        return data

    # -- close the conversation
    async def close(self, conversation_id: str, username: str, tags: list[str] | None = None,
                    note: str | None = None, supervisor: bool = False) -> dict | None:
        now = self.clock()
        tags = [t.strip()[:32] for t in (tags or []) if t and t.strip()][:20]
        note = (note or "").strip()[:4000] or None

        def _close():
            with self.store.session() as session:
                conv = session.get(Conversation, conversation_id)
                if conv is None:
                    raise HandoffError("not_found", "会话不存在。", 404)
                h = active_handoff(session, conversation_id)
                data = None
                if h is not None:
                    if h.status == "accepted" and h.agent != username and not supervisor:
                        raise HandoffError("not_yours", "该会话由其他同事服务。", 403)
                    if not _claim(session, h.id, h.status, status="closed", ended_at=now):
                        raise HandoffError("not_active", "该会话状态已变化，请刷新。")
                    session.refresh(h)
                    data = handoff_json(h)
                merged = list(dict.fromkeys([*(conv.tags or []), *tags]))
                conv.tags = merged
                if note:
                    conv.note = f"{conv.note}\n{note}" if conv.note else note
                conv.closed_at = now
                return data, conv.state != "closed"

        data, was_open = await self.store.run(_close)
        if was_open:
            await self._tell(conversation_id, TEXT_CLOSED)
            await self._set_state(conversation_id, "closed")
        if data:
            await self._emit(data)
        return data

    # -- queue rule: missed hand-offs become callback tickets
    async def check_timeouts(self) -> list[dict]:
        """Turns every waiting hand-off past its accept deadline into a callback ticket."""
        now = self.clock()

        def _due():
            with self.store.session() as session:
                return list(session.execute(
                    select(Handoff.id).where(Handoff.status == "waiting", Handoff.accept_due_at <= now)
                ).scalars())

        missed = []
        for handoff_id in await self.store.run(_due):
            data = await self._miss(handoff_id, desk_closed=False)
            if data is not None:
                missed.append(data)
        return missed

    def _in_session(self, fn, *args):
        with self.store.session() as session:
            return fn(session, *args)

    def _callbacks_served_live(self, conversation_id: str, username: str, display_name: str,
                               now: datetime) -> list[str]:
        """An agent now serving the conversation live is the call back the customer was promised:
        its open callback tickets move to in progress (which meets their 2-hour rule), with a note
        of who took it. Without SLA rules (unit use) only the note is added."""
        from bot import tickets
        from bot.vocabulary import DONE_STATUSES

        note = f"{display_name}已在线接入会话，与客户直接沟通。"
        with self.store.session() as session:
            open_callbacks = session.execute(
                select(Ticket.ticket_no).where(Ticket.conversation_id == conversation_id, Ticket.type == "callback",
                                               Ticket.status.not_in(DONE_STATUSES + ("in_progress",)))).scalars().all()
            for ticket_no in open_callbacks:
                if self.sla is not None:
                    tickets.change_status(session, self.sla, ticket_no, "in_progress", actor=username, note=note, now=now)
                else:
                    tickets.add_note(session, ticket_no, actor=username, note=note)
            return list(open_callbacks)

    def _pending_callback(self, conversation_id: str, summary: str | None,
                          now: datetime) -> tuple[dict, dict, bool] | None:
        """The open callback ticket of a hand-off missed earlier in this conversation, with that
        hand-off's JSON; the new summary is added to it as a note."""
        from bot import tickets
        from bot.vocabulary import DONE_STATUSES

        with self.store.session() as session:
            row = session.execute(
                select(Handoff, Ticket)
                .join(Ticket, Ticket.ticket_no == Handoff.callback_ticket_no)
                .where(Handoff.conversation_id == conversation_id, Ticket.type == "callback",
                       Ticket.status.not_in(DONE_STATUSES))
                .order_by(Handoff.id.desc()).limit(1)).first()
            if row is None:
                return None
            handoff, ticket = row
            if summary:
                tickets.add_note(session, ticket.ticket_no, actor="system", note=f"客户再次要求转人工。{summary}"[:1000])
            conv = session.get(Conversation, conversation_id)
            registered = False
            if conv is not None and conv.account_no and ticket.contact_phone:
                phone = session.execute(select(Customer.phone).where(
                    Customer.account_no == conv.account_no)).scalar_one_or_none()
                registered = phone == ticket.contact_phone
            return handoff_json(handoff), tickets.ticket_json(ticket, with_events=True, now=now), registered

    @staticmethod
    def _callback_text(ticket: dict, registered: bool, now: datetime, again: bool = False) -> str:
        due = _first_due(ticket)
        if again:
            parts = [TEXT_CALLBACK_ALREADY.format(ticket_no=ticket["ticket_no"]),
                     TEXT_CALLBACK_WHEN.format(deadline=_local_deadline(due, now)) if due else TEXT_CALLBACK_SOON]
        elif due:
            parts = [TEXT_CALLBACK.format(ticket_no=ticket["ticket_no"], deadline=_local_deadline(due, now))]
        else:
            parts = [TEXT_CALLBACK_NO_DEADLINE.format(ticket_no=ticket["ticket_no"])]
        contact_phone = ticket.get("contact_phone")
        if contact_phone:
            text = TEXT_CALLBACK_REGISTERED_PHONE if registered else TEXT_CALLBACK_GIVEN_PHONE
            parts.append(text.format(phone=mask_phone(contact_phone)))
        else:
            parts.append(TEXT_CALLBACK_NO_PHONE)
        parts.append(TEXT_BACK_TO_BOT)
        return "".join(parts)

    async def _miss(self, handoff_id: int, desk_closed: bool, nobody_online: bool = False) -> dict | None:
        now = self.clock()

        def _claim_and_ticket():
            with self.store.session() as session:
                if not _claim(session, handoff_id, "waiting", status="missed", ended_at=now):
                    return None  # accepted meanwhile, or another gateway got it
                h = session.get(Handoff, handoff_id)
                session.refresh(h)
                ticket, registered = _open_callback_ticket(session, h, now, self.sla, desk_closed,
                                                           nobody_online=nobody_online)
                h.callback_ticket_no = ticket["ticket_no"]
                session.flush()
                return handoff_json(h), ticket, registered

        result = await self.store.run(_claim_and_ticket)
        if result is None:
            return None
        data, ticket, registered = result
        if nobody_online:
            opening = TEXT_NOBODY_ONLINE
        else:
            opening = TEXT_CLOSED_DESK.format(hours=self.settings.staff_hours.describe()) if desk_closed else TEXT_BUSY
        await self._set_state(data["conversation_id"], "bot")
        await self._tell(data["conversation_id"], opening + self._callback_text(ticket, registered, now))
        await self._emit(data)
        log.info("hand-off %s missed (%s): callback ticket %s", handoff_id,
                 "desk closed" if desk_closed else "not accepted in time", ticket["ticket_no"])
        return data

    async def run_watcher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check_timeouts()
            except Exception:
                log.exception("hand-off timeout check failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.check_seconds)
            except asyncio.TimeoutError:
                pass


HANDOFF_SERVICE = web.AppKey("handoff", HandoffService)  # the gateway's hand-off service on its app


def _first_due(ticket: dict) -> datetime | None:
    dues = [m.get("due_at") for m in ticket.get("milestones") or [] if m.get("due_at") and not m.get("met_at")]
    if not dues:
        return None
    parsed = [datetime.fromisoformat(d) if isinstance(d, str) else d for d in dues]
    return min(parsed)


def _open_callback_ticket(session: Session, h: Handoff, now: datetime, sla, desk_closed: bool,
                          nobody_online: bool = False) -> tuple[dict, bool]:
    """Opens (idempotently, keyed by the hand-off) the callback ticket through bot.tickets;
    returns it and whether its phone is the verified account's registered one.

    The phone to call: the verified account's registered phone; else the contact phone the
    customer left on an earlier request of this conversation (a repair, a complaint)."""
    from bot import tickets

    conv = session.get(Conversation, h.conversation_id)
    account_no = conv.account_no if conv else None
    customer = None
    if account_no:
        customer = session.execute(select(Customer).where(Customer.account_no == account_no)).scalar_one_or_none()
    contact_name = customer.name if customer else None
    contact_phone = customer.phone if customer else None
    if not contact_phone:
        earlier = session.execute(
            select(Ticket.contact_name, Ticket.contact_phone)
            .where(Ticket.conversation_id == h.conversation_id, Ticket.contact_phone.is_not(None))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(1)).first()
        if earlier is not None:
            contact_name, contact_phone = earlier.contact_name, earlier.contact_phone
    why = "无坐席在线" if nobody_online else ("非服务时间" if desk_closed else "排队超时无人接入")
    reason_text = {"customer_request": "客户要求转人工", "fallback": "机器人多次未能理解",
                   "identity_failed": "身份核验多次失败", "staff_takeover": "人工接管"}.get(h.reason, h.reason)
    summary = f"回电：{reason_text}，{why}"
    if h.summary:
        summary += f"。{h.summary}"
    result = tickets.create_ticket(
        session, sla,
        type="callback",
        summary=summary,
        channel=h.channel,
        priority="normal",
        account_no=customer.account_no if customer else None,
        conversation_id=h.conversation_id,
        area_type=customer.area_type if customer else None,
        contact_name=contact_name,
        contact_phone=contact_phone,
        details={"handoff_id": h.id, "reason": h.reason, "desk_closed": desk_closed,
                 **({"nobody_online": True} if nobody_online else {})},
        request_key=f"handoff-callback-{h.id}",
        actor="system",
        now=now,
    )
    data = tickets.ticket_json(result.ticket, with_events=True, now=now)
    return data, bool(customer and customer.phone)


# ---------------------------------------------------------------- REST API

async def post_handoff(request: web.Request) -> web.Response:
    # The same validation and error codes as the rest of /api/v1 (bot.api.validation): 415 for a
    # non-JSON body, 400 invalid_json, 400 validation_error naming the field.
    body = await json_object(request)
    conversation_id = string(body, "conversation_id", required=True, max_len=128)
    channel = string(body, "channel", required=True, max_len=16)
    reason = string(body, "reason", required=True, max_len=32, choices=REASONS)
    summary = body.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise validation_error("summary", "must be a string")
    if summary is not None and len(summary) > 2000:
        raise validation_error("summary", "must be at most 2000 characters")
    service: HandoffService = request.config_dict[HANDOFF_SERVICE]
    assert isinstance(conversation_id, str) and isinstance(channel, str) and isinstance(reason, str)  # checked above
    try:
        data, created = await service.request(conversation_id, channel, reason, summary)
    except HandoffError as exc:
        return _error(exc.code, exc.message, exc.status)
    # Tells action_handoff that the customer has been told (queued, or desk closed and called back).
    data = {**data, "customer_notified": service.hub is not None}
    return web.json_response(data, status=201 if created else 200)


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def setup(app: web.Application) -> None:
    service = HandoffService(app[STORE], app.get(HUB), HandoffSettings.from_env(), sla=app.get(SLA_RULES),
                             events=bus_of(app))
    app[HANDOFF_SERVICE] = service
    hub = app.get(HUB)
    if hub is not None:
        hub.handoff = service  # the hub hands off itself when the bot cannot act
    app.router.add_post("/api/v1/handoffs", post_handoff)

    if app.get(START_BACKGROUND):
        async def watcher(app: web.Application):
            stop = asyncio.Event()
            task = asyncio.create_task(service.run_watcher(stop))
            yield
            stop.set()
            await task

        app.cleanup_ctx.append(watcher)
