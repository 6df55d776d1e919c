"""Ticket-status notices are the notice kind ``ticket_status``: a supervisor's switch holds them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.notices import settings as notice_settings
from bot.sla.notify import claim_notice
from bot.store.models import Ticket, TicketEvent
from tests.support.sla import SH, add_ticket, migrated_store, sqlite_url

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=SH)


def test_no_ticket_status_notice_while_the_kind_is_switched_off_and_one_after():
    store = migrated_store(sqlite_url())
    try:
        number = add_ticket(store, "repair", T0, status="accepted", conversation_id="sess-t")
        with store.session() as session:
            notice_settings.change(session, "kind.ticket_status", False, by="lead")
        with store.session() as session:
            assert claim_notice(session, number, "accepted", T0) is None
        with store.session() as session:
            events = session.execute(select(TicketEvent.kind).join(Ticket).where(Ticket.ticket_no == number)).scalars()
            assert "customer_notified" not in list(events)
            notice_settings.change(session, "kind.ticket_status", True, by="lead")
        with store.session() as session:
            notice = claim_notice(session, number, "accepted", T0)
        assert notice is not None and notice.conversation_id == "sess-t" and "已受理" in notice.messages[0]["text"]
    finally:
        store.close()
