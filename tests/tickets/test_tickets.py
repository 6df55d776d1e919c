"""The ticket service on SQLite and PostgreSQL: numbering, milestones, idempotency, status changes."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot import tickets as ticket_service
from bot.config import ROOT
from bot.sla import load_rules
from bot.store import Store
from bot.store.models import Customer, Milestone, Ticket, TicketEvent

UTC = timezone.utc
# 2026-11-26 15:30 UTC is 23:30 in Shanghai; 16:30 UTC is already the 27th there.
LATE_EVENING = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)
AFTER_MIDNIGHT = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def rules():
    return load_rules(ROOT / "sla.yml")


def add_customer(store: Store, account_no: str = "3201000001", area_type: str = "rural",
                 customer_type: str = "residential") -> None:
    with store.session() as session:
        session.add(Customer(account_no=account_no, name="张伟", phone="13851620518",
                             address="江苏省南京市江宁区横溪街道石塘村45号", area_type=area_type,
                             customer_type=customer_type))


def create(store: Store, rules, now: datetime = LATE_EVENING, **fields):
    """Creates a ticket; returns its JSON as seen at creation time, and whether it is new."""
    fields.setdefault("type", "repair")
    fields.setdefault("summary", "家里停电了")
    fields.setdefault("channel", "web")
    with store.session() as session:
        result = ticket_service.create_ticket(session, rules, now=now, **fields)
        return ticket_service.ticket_json(result.ticket, now=now), result.created


def change(store: Store, rules, ticket_no: str, status: str, at: datetime, actor: str = "crew-7"):
    with store.session() as session:
        ticket_service.change_status(session, rules, ticket_no, status, actor=actor, now=at)
    with store.session() as session:
        return ticket_service.ticket_json(ticket_service.get_ticket(session, ticket_no),
                                          with_events=True, now=at)


def count(store: Store, model) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_numbers_say_type_and_shanghai_day_and_count_per_day(backend_store, rules):
    first, _ = create(backend_store, rules)
    second, _ = create(backend_store, rules, now=LATE_EVENING + timedelta(minutes=5))
    complaint, _ = create(backend_store, rules, type="complaint", summary="抄表员态度差")
    next_day, _ = create(backend_store, rules, now=AFTER_MIDNIGHT)
    assert [first["ticket_no"], second["ticket_no"]] == ["BX20261126001", "BX20261126002"]
    assert complaint["ticket_no"] == "TS20261126001"
    assert next_day["ticket_no"] == "BX20261127001"
    assert first["created_at"] == "2026-11-26T23:30:00+08:00"


def test_milestones_come_from_the_rules_first_due_first(backend_store, rules):
    add_customer(backend_store, area_type="rural")
    ticket, created = create(backend_store, rules, account_no="3201000001")
    assert created
    assert ticket["area_type"] == "rural"  # taken from the account
    expected = rules.plan("repair", "normal", "rural", None, LATE_EVENING)
    assert [m["rule"] for m in ticket["milestones"]] == [p.rule for p in expected]
    # Rural repair: crew on site within 90 minutes, across midnight in Shanghai time.
    assert ticket["milestones"][0] == {"name": "抢修人员到达现场", "rule": "repair.arrival",
                                       "due_at": "2026-11-27T01:00:00+08:00", "met_at": None,
                                       "breached": False}
    dues = [m["due_at"] for m in ticket["milestones"]]
    assert dues == sorted(dues)
    assert set(ticket) >= {"ticket_no", "type", "status", "priority", "account_no", "conversation_id",
                           "channel", "summary", "created_at", "milestones"}
    assert ticket["status"] == "new"


def test_without_account_or_area_the_strictest_area_applies(backend_store, rules):
    ticket, _ = create(backend_store, rules)
    assert ticket["area_type"] == "urban"
    arrival = next(m for m in ticket["milestones"] if m["rule"] == "repair.arrival")
    assert arrival["due_at"] == "2026-11-27T00:15:00+08:00"  # 45 minutes


def test_application_milestones_depend_on_customer_type(backend_store, rules):
    add_customer(backend_store, account_no="3201000010", area_type="urban", customer_type="commercial")
    ticket, _ = create(backend_store, rules, type="application", summary="商铺新装", business_type="new_connection",
                       account_no="3201000010")
    planned = rules.plan("application", "normal", "urban", "new_connection", LATE_EVENING,
                         customer_type="commercial")
    assert [(m["rule"], m["due_at"]) for m in ticket["milestones"]] == \
           [(p.rule, p.due_at.astimezone(timezone(timedelta(hours=8))).isoformat()) for p in planned]
    assert ticket["ticket_no"].startswith("YK20261126")


def test_a_retry_with_the_same_request_key_returns_the_first_ticket(backend_store, rules):
    first, created_first = create(backend_store, rules, request_key="conv-1:msg-9")
    again, created_again = create(backend_store, rules, request_key="conv-1:msg-9",
                                  now=LATE_EVENING + timedelta(seconds=3))
    assert created_first and not created_again
    assert again["ticket_no"] == first["ticket_no"]
    assert count(backend_store, Ticket) == 1
    with pytest.raises(ticket_service.TicketConflict):
        create(backend_store, rules, type="complaint", request_key="conv-1:msg-9")
    assert count(backend_store, Ticket) == 1


def test_unknown_account_writes_nothing(backend_store, rules):
    with pytest.raises(ticket_service.TicketError) as refused:
        create(backend_store, rules, account_no="3201999999", request_key="k")
    assert refused.value.field == "account_no"
    assert count(backend_store, Ticket) == 0
    # The numbering did not skip: the next ticket of the day is still 001.
    ticket, _ = create(backend_store, rules)
    assert ticket["ticket_no"] == "BX20261126001"


def test_status_change_meets_the_milestones_whose_rule_lists_it(backend_store, rules):
    ticket, _ = create(backend_store, rules)
    number = ticket["ticket_no"]
    accepted_at = LATE_EVENING + timedelta(minutes=10)
    after_accept = change(backend_store, rules, number, "accepted", accepted_at, actor="agent-li")
    met = {m["rule"]: m["met_at"] for m in after_accept["milestones"]}
    assert met == {"first_response": "2026-11-26T23:40:00+08:00", "repair.arrival": None,
                   "repair.restoration": None}
    # The crew arrives 50 minutes after creation: the 45-minute promise is missed.
    arrived = change(backend_store, rules, number, "arrived", LATE_EVENING + timedelta(minutes=50))
    arrival = next(m for m in arrived["milestones"] if m["rule"] == "repair.arrival")
    assert arrival["met_at"] == "2026-11-27T00:20:00+08:00" and arrival["breached"] is True
    restoration = next(m for m in arrived["milestones"] if m["rule"] == "repair.restoration")
    assert restoration["met_at"] is None and restoration["breached"] is False
    kinds = [(e["kind"], e["actor"]) for e in arrived["events"]]
    assert kinds == [("created", "system"), ("status_changed", "agent-li"), ("milestone_met", "agent-li"),
                     ("status_changed", "crew-7"), ("milestone_met", "crew-7")]
    assert arrived["events"][3]["data"] == {"from": "accepted", "to": "arrived"}
    with backend_store.session() as session:
        stored = session.execute(select(Milestone).where(Milestone.rule == "repair.arrival")).scalar_one()
        assert stored.breached is True


def test_setting_the_same_status_again_changes_nothing(backend_store, rules):
    ticket, _ = create(backend_store, rules)
    change(backend_store, rules, ticket["ticket_no"], "accepted", LATE_EVENING + timedelta(minutes=1))
    events = count(backend_store, TicketEvent)
    again = change(backend_store, rules, ticket["ticket_no"], "accepted", LATE_EVENING + timedelta(minutes=2))
    assert count(backend_store, TicketEvent) == events
    assert again["status"] == "accepted"


def test_closed_tickets_do_not_change(backend_store, rules):
    ticket, _ = create(backend_store, rules, type="praise", summary="抢修师傅很负责")
    closed = change(backend_store, rules, ticket["ticket_no"], "closed", LATE_EVENING + timedelta(hours=1))
    assert closed["closed_at"] == "2026-11-27T00:30:00+08:00"
    assert all(m["met_at"] for m in closed["milestones"])
    with pytest.raises(ticket_service.TicketConflict):
        change(backend_store, rules, ticket["ticket_no"], "accepted", LATE_EVENING + timedelta(hours=2))
    with pytest.raises(ticket_service.TicketNotFound):
        change(backend_store, rules, "BX20990101001", "accepted", LATE_EVENING)
    with pytest.raises(ticket_service.TicketError) as bad:
        change(backend_store, rules, ticket["ticket_no"], "done", LATE_EVENING)
    assert bad.value.field == "status"


def test_list_newest_first_with_filters(backend_store, rules):
    add_customer(backend_store)
    old, _ = create(backend_store, rules, account_no="3201000001")
    other, _ = create(backend_store, rules, type="complaint", summary="投诉", now=LATE_EVENING + timedelta(minutes=1))
    new, _ = create(backend_store, rules, account_no="3201000001", now=LATE_EVENING + timedelta(minutes=2))
    change(backend_store, rules, old["ticket_no"], "closed", LATE_EVENING + timedelta(minutes=3))
    with backend_store.session() as session:
        mine = [t.ticket_no for t in ticket_service.list_tickets(session, account_no="3201000001")]
        open_ones = [t.ticket_no for t in ticket_service.list_tickets(session, status="open")]
        complaints = [t.ticket_no for t in ticket_service.list_tickets(session, ticket_type="complaint")]
    assert mine == [new["ticket_no"], old["ticket_no"]]
    assert open_ones == [new["ticket_no"], other["ticket_no"]]
    assert complaints == [other["ticket_no"]]


# ---------------------------------------------------------------- concurrency


def _create_in_threads(url: str, rules, workers: int, fields_for) -> list[tuple[str, bool]]:
    """Creates tickets from ``workers`` threads released at the same moment."""
    store = Store(url, max_workers=1)
    barrier = threading.Barrier(workers)

    def one(index: int):
        barrier.wait(timeout=30)
        with store.session() as session:
            result = ticket_service.create_ticket(session, rules, type="repair", summary=f"停电 {index}",
                                                  channel="web", now=LATE_EVENING, **fields_for(index))
            return result.ticket.ticket_no, result.created

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, range(workers), timeout=120))
    finally:
        store.close()


def test_concurrent_creation_on_postgres_gives_unique_consecutive_numbers(postgres_url, rules):
    from bot.store import migrate

    migrate(postgres_url)
    results = _create_in_threads(postgres_url, rules, 24, lambda i: {"request_key": f"key-{i}"})
    numbers = sorted(number for number, _ in results)
    assert numbers == [f"BX20261126{i:03d}" for i in range(1, 25)]
    assert all(created for _, created in results)


def test_racing_identical_requests_on_postgres_make_one_ticket(postgres_url, rules):
    from bot.store import migrate

    migrate(postgres_url)
    results = _create_in_threads(postgres_url, rules, 12, lambda i: {"request_key": "same-retry"})
    assert len({number for number, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    store = Store(postgres_url)
    try:
        assert count(store, Ticket) == 1
    finally:
        store.close()


def test_concurrent_creation_on_sqlite_is_serialised(tmp_path, rules):
    from bot.store import migrate

    url = f"sqlite:///{tmp_path / 'race.db'}"
    migrate(url)
    results = _create_in_threads(url, rules, 8, lambda i: {"request_key": "same" if i % 2 else f"k{i}"})
    numbers = {number for number, _ in results}
    assert len(numbers) == 5  # four distinct keys plus one shared key
    assert sum(created for _, created in results) == 5
