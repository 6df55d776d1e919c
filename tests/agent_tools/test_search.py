"""Console search (bot.agent_tools.search) on SQLite and PostgreSQL: jieba terms index, every
query term required, direct 户号/phone/ticket look-ups, incremental indexing, bounded results,
erasure forgets the terms; the console page masks for agents."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.agent_tools import search
from bot.store.models import Conversation, Customer, Message, SearchTerm, Ticket
from bot.store.types import now_utc
from tests.support.console import add_staff, log_in
from bot.store import STORE


def _load(session):
    now = now_utc()
    session.add(Customer(account_no="3201009001", name="周晓梅", phone="13700001111", address="南京市鼓楼区汉中路8号",
                         area_type="urban", customer_type="residential"))
    session.add(Customer(account_no="3201009002", name="孙建国", phone="13700002222", address="南京市江宁区秣陵街道",
                         area_type="rural", customer_type="residential"))
    for cid, account in (("s-1", "3201009001"), ("s-2", None), ("s-3", "3201009002")):
        session.add(Conversation(id=cid, channel="web", state="closed", account_no=account,
                                 created_at=now - timedelta(days=1), last_message_at=now))
    session.flush()
    for cid, sender, text in (("s-1", "customer", "我家电表坏了，一直不走字"),
                              ("s-1", "bot", "电表坏了请报修，电表知识如下"),
                              ("s-2", "customer", "抄表员态度很差，我要投诉"),
                              ("s-2", "staff", "已为您登记电表检修"),
                              ("s-3", "customer", "停电了吗？什么时候来电")):
        session.add(Message(conversation_id=cid, sender=sender, channel="web", text=text, created_at=now))
    session.add(Ticket(ticket_no="BX20261201001", type="repair", status="new", account_no="3201009001",
                       conversation_id="s-1", channel="web", summary="电表不走字", details={}))


def _ids(result, kind, key="id"):
    return [row[key] for row in result[kind]]


def test_search_terms_on_both_stores(backend_store):
    with backend_store.session() as session:
        _load(session)
    with backend_store.session() as session:
        r = search.search(session, "电表 坏了")
        texts = [m["text"] for m in r["messages"]]
        assert texts == ["我家电表坏了，一直不走字"]  # the bot's answer is not indexed
        assert _ids(r, "conversations") == ["s-1"] and r["conversations"][0]["customer_name"] == "周晓梅"
        r = search.search(session, "抄表员态度")
        assert [m["text"] for m in r["messages"]] == ["抄表员态度很差，我要投诉"]
        r = search.search(session, "电表")
        assert sorted(m["text"] for m in r["messages"]) == ["已为您登记电表检修", "我家电表坏了，一直不走字"]
        assert _ids(r, "tickets", "ticket_no") == ["BX20261201001"]
        assert search.search(session, "停电")["messages"][0]["conversation_id"] == "s-3"
        assert search.search(session, "水表")["messages"] == []
        # Customers by name or address words; directly by 户号, phone, ticket number.
        assert _ids(search.search(session, "周晓梅"), "customers", "account_no") == ["3201009001"]
        assert _ids(search.search(session, "江宁"), "customers", "account_no") == ["3201009002"]
        r = search.search(session, "3201009001")
        assert _ids(r, "customers", "account_no") == ["3201009001"] and _ids(r, "conversations") == ["s-1"]
        assert _ids(r, "tickets", "ticket_no") == ["BX20261201001"]
        assert _ids(search.search(session, "137 0000 2222"), "customers", "account_no") == ["3201009002"]
        assert _ids(search.search(session, "bx20261201001"), "tickets", "ticket_no") == ["BX20261201001"]
        assert search.search(session, "")["messages"] == []
    # Incremental: a new message is found by the next search; nothing is indexed twice.
    with backend_store.session() as session:
        session.add(Message(conversation_id="s-3", sender="customer", channel="web", text="电表又坏了", created_at=now_utc()))
    with backend_store.session() as session:
        assert len(search.search(session, "电表 坏了")["messages"]) == 2
        rows = session.execute(select(func.count()).select_from(SearchTerm)).scalar_one()
        search.catch_up(session)
        assert session.execute(select(func.count()).select_from(SearchTerm)).scalar_one() == rows


def test_results_are_bounded_newest_first(backend_store):
    with backend_store.session() as session:
        session.add(Conversation(id="many", channel="web", state="bot"))
        session.flush()
        session.add_all([Message(conversation_id="many", sender="customer", channel="web", text=f"欠费停电 第{i}次",
                                 created_at=now_utc()) for i in range(70)])
    with backend_store.session() as session:
        r = search.search(session, "欠费停电", limit=50)
        assert len(r["messages"]) == 50 and r["messages"][0]["text"] == "欠费停电 第69次"
        assert _ids(r, "conversations") == ["many"]
        search.catch_up(session, batch=10)  # nothing left to do


def test_search_indexes_the_last_rows_in_small_batches(backend_store, monkeypatch):
    monkeypatch.setattr(search, "SEARCH_BATCH", 3)
    with backend_store.session() as session:
        session.add(Conversation(id="few", channel="web", state="bot"))
        session.flush()
        session.add_all([Message(conversation_id="few", sender="customer", channel="web", text=f"峰谷电价{i}",
                                 created_at=now_utc()) for i in range(7)])
    found = []
    for _ in range(3):
        with backend_store.session() as session:
            found.append(len(search.search(session, "峰谷电价")["messages"]))
    assert found == [3, 6, 7]


def test_erasure_forgets_the_terms(backend_store):
    from bot.privacy import subject as subjects

    with backend_store.session() as session:
        _load(session)
    with backend_store.session() as session:
        assert search.search(session, "抄表员态度")["messages"]
    with backend_store.session() as session:
        subjects.erase(session, subjects.Subject(conversation_id="s-2"))
        subjects.erase(session, subjects.Subject(account_no="3201009001"), include_account=True)
    with backend_store.session() as session:
        assert search.search(session, "抄表员态度")["messages"] == []
        assert search.search(session, "电表 坏了")["messages"] == []
        assert search.search(session, "周晓梅")["customers"] == []
        assert search.search(session, "电表")["tickets"] == []


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")


@pytest.mark.asyncio
async def test_search_page_masks_for_agents(aiohttp_client, gateway_app):
    with gateway_app[STORE].session() as session:
        _load(session)
        session.add(Message(conversation_id="s-2", sender="customer", channel="web", text="电表坏了 回电13912345678",
                            created_at=now_utc()))
    add_staff(gateway_app, "li", "李娜", "agent")
    add_staff(gateway_app, "boss", "王主管", "supervisor")
    anonymous = await aiohttp_client(gateway_app)
    assert (await anonymous.get("/console/search?q=电表", headers={"Accept": "application/json"})).status == 401
    agent = await aiohttp_client(gateway_app)
    await log_in(agent, "li")
    html = await (await agent.get("/console/search?q=电表坏了")).text()
    assert "139****5678" in html and "13912345678" not in html
    html = await (await agent.get("/console/search?q=3201009001")).text()
    assert "周**" in html and "周晓梅" not in html and "137****1111" in html
    assert "/console/customers/3201009001" in html and "BX20261201001" in html
    boss = await aiohttp_client(gateway_app)
    await log_in(boss, "boss")
    html = await (await boss.get("/console/search?q=3201009001")).text()
    assert "周晓梅" in html and "13700001111" in html


@pytest.mark.asyncio
async def test_background_indexer_catches_up(backend_store):
    import asyncio

    with backend_store.session() as session:
        _load(session)
    with backend_store.session() as session:
        assert search.pending(session)
    stop = asyncio.Event()
    task = asyncio.create_task(search.run_indexer(backend_store, stop, interval=0.1))
    for _ in range(100):
        await asyncio.sleep(0.1)
        if not await backend_store.run(lambda: _pending(backend_store)):
            break
    stop.set()
    await task
    with backend_store.session() as session:
        assert not search.pending(session)
        terms = session.execute(select(func.count()).select_from(SearchTerm)
                                .where(SearchTerm.term == "电表", SearchTerm.kind == "m")).scalar_one()
        assert terms == 2  # the customer's and the staff's message, not the bot's


def _pending(store) -> bool:
    with store.session() as session:
        return search.pending(session)
