"""Ticket-status notices are the notice kind ``ticket_status``: a supervisor's switch holds them,
and each is in the notice engine's delivery log once (two gateways announcing at the same time),
with a failing channel retried by the engine's rounds and shown on the console."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.conversations import HUB, ConversationHub
from bot.notices import console as notices_console, engine, settings as notice_settings
from bot.notices.senders import ConversationSender
from bot.sla.notify import claim_notice, notify_ticket_status
from bot.store import STORE
from bot.store.models import Message, NoticeDelivery, Ticket, TicketEvent
from tests.support.sla import SH, add_conversation, add_ticket, migrated_store, sqlite_url

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=SH)


def test_no_ticket_status_notice_while_the_kind_is_switched_off_and_one_after():
    store = migrated_store(sqlite_url())
    try:
        number = add_ticket(store, "repair", T0, status="accepted", conversation_id="sess-t")
        add_conversation(store, "sess-t")
        with store.session() as session:
            notice_settings.change(session, "kind.ticket_status", False, by="lead")
        with store.session() as session:
            assert claim_notice(session, number, "accepted", T0) is None
        with store.session() as session:
            events = session.execute(select(TicketEvent.kind).join(Ticket).where(Ticket.ticket_no == number)).scalars()
            assert "customer_notified" not in list(events)
            assert session.execute(select(NoticeDelivery)).first() is None
            notice_settings.change(session, "kind.ticket_status", True, by="lead")
        with store.session() as session:
            notice = claim_notice(session, number, "accepted", T0)
        assert notice is not None and notice.conversation_id == "sess-t" and "已受理" in notice.messages[0]["text"]
        assert notice.delivery_id is not None
    finally:
        store.close()


class Channel:
    """A channel adapter that records what it delivers; ``down`` makes the platform refuse."""

    def __init__(self, name: str, down: int = 0):
        self.name, self.down = name, down
        self.delivered: list[tuple[str, dict]] = []

    async def deliver(self, conversation_id: str, message: dict) -> bool:
        await asyncio.sleep(0.01)  # a platform call: lets the other gateway run meanwhile
        if self.down:
            self.down -= 1
            return False
        self.delivered.append((conversation_id, message))
        return True


def gateway(url: str, channel: Channel) -> dict:
    """What notify_ticket_status needs of a gateway: its own store (pool) and hub."""
    store = migrated_store(url)
    hub = ConversationHub(store, Settings(database_url=url, redis_url=""))
    hub.register_channel(channel)
    return {STORE: store, HUB: hub}


def ticket_rows(store, number: str) -> list[NoticeDelivery]:
    with store.session() as session:
        return list(session.execute(select(NoticeDelivery).where(NoticeDelivery.kind == "ticket_status",
                                                                 NoticeDelivery.event_key.like(f"{number}:%"))
                                    .order_by(NoticeDelivery.id)).scalars())


def system_messages(store, conversation_id: str) -> list[Message]:
    with store.session() as session:
        return list(session.execute(select(Message).where(Message.conversation_id == conversation_id,
                                                          Message.sender == "system").order_by(Message.id)).scalars())


async def _two_gateways_announce_at_once(url: str) -> None:
    channels = Channel("web"), Channel("web")
    first, second = gateway(url, channels[0]), gateway(url, channels[1])
    try:
        add_conversation(first[STORE], "web-t2", "web")
        number = add_ticket(first[STORE], "repair", T0, status="accepted", conversation_id="web-t2")
        results = await asyncio.gather(*(notify_ticket_status(gw, number, "accepted", now=T0)
                                         for gw in (first, second, first, second)))
        assert sorted(results) == [False, False, False, True]
        rows = ticket_rows(first[STORE], number)
        assert len(rows) == 1
        row = rows[0]
        assert (row.event_key, row.binding_id, row.conversation_id, row.channel, row.status, row.attempts) == (
            f"{number}:accepted", None, "web-t2", "web", "sent", 1)
        assert row.urgent and "已受理" in row.payload["text"]
        assert len(system_messages(first[STORE], "web-t2")) == 1
        assert sum(len(c.delivered) for c in channels) == 1
        with first[STORE].session() as session:
            events = session.execute(select(TicketEvent.data).join(Ticket).where(
                Ticket.ticket_no == number, TicketEvent.kind == "customer_notified")).scalars().all()
        assert [e["status"] for e in events] == ["accepted"]
        # The engine's next round finds nothing left to send.
        assert (await engine.run_once(first[STORE], now=T0 + timedelta(hours=1),
                                      senders={engine.CONVERSATION: ConversationSender(first[HUB])})).sent == 0
    finally:
        for gw in (first, second):
            await gw[HUB].close()
            gw[STORE].close()


@pytest.mark.asyncio
async def test_two_gateways_announcing_at_once_log_and_send_the_status_once_on_sqlite():
    await _two_gateways_announce_at_once(sqlite_url())


@pytest.mark.asyncio
async def test_two_gateways_announcing_at_once_log_and_send_the_status_once_on_postgresql(postgres_url):
    await _two_gateways_announce_at_once(postgres_url)


@pytest.mark.asyncio
async def test_a_failing_platform_is_retried_by_the_engine_logged_and_shown_on_the_console():
    wechat = Channel("wechat", down=3)  # the first try meets two refusals (one per message pushed)
    gw = gateway(sqlite_url(), wechat)
    store = gw[STORE]
    try:
        add_conversation(store, "wechat:o-ticket", "wechat")
        number = add_ticket(store, "repair", T0, status="resolved", conversation_id="wechat:o-ticket",
                            channel="wechat")
        assert not await notify_ticket_status(gw, number, "resolved", now=T0)
        [row] = ticket_rows(store, number)
        assert (row.status, row.attempts, row.channel) == ("failed", 1, "wechat")
        assert "wechat did not take the message" in row.last_error
        assert row.next_attempt_at == T0 + engine.BACKOFF[0]
        assert wechat.delivered == []
        # Stored once in the conversation (the notice and the 回访 question), waiting there.
        assert len(system_messages(store, "wechat:o-ticket")) == 2

        period = notices_console.Period(T0.date(), T0.date())
        with store.session() as session:
            figures = notices_console.delivery_figures(session, period)
            failures = notices_console.recent_failures(session, period)
        [line] = [r for r in figures["rows"] if r["kind"] == "ticket_status"]
        assert (line["channel"], line["counts"]["failed"]) == ("wechat", 1)
        assert [(f["kind"], f["ticket_no"], f["status"]) for f in failures] == [("ticket_status", number, "failed")]

        senders = {engine.CONVERSATION: ConversationSender(gw[HUB])}
        # Not due before its back-off; then the platform refuses once more; then it takes both.
        assert (await engine.run_once(store, now=T0 + timedelta(seconds=30), senders=senders)).failed == 0
        assert (await engine.run_once(store, now=T0 + timedelta(minutes=2), senders=senders)).failed == 1
        [row] = ticket_rows(store, number)
        assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, T0 + timedelta(minutes=2)
                                                                   + engine.BACKOFF[1])
        result = await engine.run_once(store, now=T0 + timedelta(minutes=8), senders=senders)
        assert result.sent == 1
        [row] = ticket_rows(store, number)
        assert (row.status, row.attempts) == ("sent", 3) and "did not take" in row.last_error
        assert [m["text"][:8] for _, m in wechat.delivered] == ["您报修的故障已处", "为了把服务做得更"]
        assert len(system_messages(store, "wechat:o-ticket")) == 2  # delivered, never stored twice
        assert all(m.delivered_at is not None for m in system_messages(store, "wechat:o-ticket"))
        with store.session() as session:
            figures = notices_console.delivery_figures(session, period)
        [line] = [r for r in figures["rows"] if r["kind"] == "ticket_status"]
        assert (line["counts"]["sent"], line["counts"]["failed"]) == (1, 0)
    finally:
        await gw[HUB].close()
        store.close()


@pytest.mark.asyncio
async def test_a_status_to_a_conversation_that_is_gone_is_logged_as_failed():
    gw = gateway(sqlite_url(), Channel("web"))
    try:
        number = add_ticket(gw[STORE], "complaint", T0, status="accepted", conversation_id="never-seen")
        assert not await notify_ticket_status(gw, number, "accepted", now=T0)
        [row] = ticket_rows(gw[STORE], number)
        assert row.status == "failed" and "never-seen is unknown" in row.last_error and row.channel == "web"
    finally:
        await gw[HUB].close()
        gw[STORE].close()


@pytest.mark.asyncio
async def test_a_round_without_the_conversations_channels_leaves_ticket_notices_to_the_gateways():
    """``python -m bot notices run-once`` has no WeChat/WeCom channel to write into a ticket's
    conversation: its rounds leave those deliveries alone (a gateway's round retries them)."""
    from bot.notices import senders as notice_senders

    wechat = Channel("wechat", down=1)
    gw = gateway(sqlite_url(), wechat)
    store = gw[STORE]
    try:
        add_conversation(store, "wechat:o-cli", "wechat")
        number = add_ticket(store, "repair", T0, status="accepted", conversation_id="wechat:o-cli", channel="wechat")
        assert not await notify_ticket_status(gw, number, "accepted", now=T0)
        cli = notice_senders.build(hub=gw[HUB], environ={})
        assert engine.CONVERSATION not in cli.by_channel
        later = T0 + timedelta(minutes=2)
        assert (await engine.run_once(store, now=later, senders=cli.by_channel)).failed == 0
        [row] = ticket_rows(store, number)
        assert (row.status, row.attempts) == ("failed", 1)  # untouched
        result = await engine.run_once(store, now=later, senders={engine.CONVERSATION: ConversationSender(gw[HUB])})
        assert result.sent == 1
    finally:
        await gw[HUB].close()
        store.close()
