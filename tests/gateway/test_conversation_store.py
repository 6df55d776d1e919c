"""The hub's per-turn store work (Core statements) on SQLite and on PostgreSQL, and the
store's idle-connection ping that replaced ``pool_pre_ping``."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text

from bot.config import Settings
from bot.conversations import ConversationHub
from bot.store import Store, migrate
from bot.store import db as store_db
from bot.store.models import Conversation, Message


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate(url)
    store = Store(url, max_workers=2)
    yield store
    store.close()


@pytest.fixture
def hub(store):
    return ConversationHub(store, Settings(database_url=store.url))


def _messages(store, conversation_id):
    with store.session() as session:
        return session.execute(select(Message).where(Message.conversation_id == conversation_id)
                               .order_by(Message.id)).scalars().all()


def test_customer_message_is_stored_once_per_client_id(hub, store):
    (first, duplicate, state), reopened = hub._store_customer_message("web", "conv-a", "你好", "c-1")
    assert (duplicate, state, reopened) == (False, "bot", False)
    (again, duplicate, _), _ = hub._store_customer_message("web", "conv-a", "你好（重发）", "c-1")
    assert duplicate is True
    assert again["id"] == first["id"] and again["text"] == "你好"
    stored = _messages(store, "conv-a")
    assert [(m.id, m.sender, m.text, m.client_msg_id) for m in stored] == [(first["id"], "customer", "你好", "c-1")]
    assert first["created_at"] == first["delivered_at"] is not None
    with store.session() as session:
        assert session.get(Conversation, "conv-a").channel == "web"


def test_a_closed_conversation_reopens_for_the_bot(hub, store):
    hub._store_customer_message("web", "conv-b", "第一句", None)
    hub._set_state("conv-b", "human", "王芳")
    hub._set_state("conv-b", "closed", None)
    (_, _, state), reopened = hub._store_customer_message("web", "conv-b", "又来了", None)
    assert (state, reopened) == ("bot", True)
    with store.session() as session:
        conversation = session.get(Conversation, "conv-b")
        assert (conversation.state, conversation.assigned_agent, conversation.closed_at) == ("bot", None, None)


def test_turn_stores_intent_and_replies_in_order_and_lists_pending(hub, store):
    (customer, _, _), _ = hub._store_customer_message("web", "conv-c", "查电费", "c-9")
    contents = [{"text": "请提供户号"}, {"text": "或者选择", "buttons": [{"title": "人工", "payload": "/request_human"}]}]
    stored, channel, pending = hub._insert_messages("conv-c", contents, "bot", None,
                                                    (customer["id"], "query_bill", 0.91))
    assert channel == "web"
    assert [m["text"] for m in stored] == ["请提供户号", "或者选择"]
    assert stored[0]["id"] < stored[1]["id"]
    assert stored[1]["buttons"] == [{"title": "人工", "payload": "/request_human"}]
    assert [m["id"] for m in pending] == [m["id"] for m in stored]  # nothing delivered yet
    assert pending[1]["buttons"] == stored[1]["buttons"]
    rows = _messages(store, "conv-c")
    assert (rows[0].intent, rows[0].confidence) == ("query_bill", 0.91)
    assert [r.sender for r in rows] == ["customer", "bot", "bot"]

    hub._mark_delivered([stored[0]["id"]])
    channel, pending = hub._channel_and_pending("conv-c")
    assert [m["id"] for m in pending] == [stored[1]["id"]]
    assert channel == "web"
    assert hub._channel_and_pending("nobody") == (None, [])
    info = hub._conversation_info("conv-c")
    assert (info["id"], info["channel"], info["state"], info["account_no"]) == ("conv-c", "web", "bot", None)
    assert info["created_at"].endswith("+08:00") and hub._conversation_info("nobody") is None


def test_replies_to_an_unknown_conversation_write_nothing(hub, store):
    with pytest.raises(LookupError):
        hub._insert_messages("ghost", [{"text": "你好"}], "bot", None)
    with store.session() as session:
        assert session.execute(select(Message)).first() is None
        assert session.get(Conversation, "ghost") is None


def test_an_idle_connection_cut_by_the_database_is_replaced(postgres_url, monkeypatch):
    migrate(postgres_url)
    store = Store(postgres_url, max_workers=1)
    monkeypatch.setattr(store_db, "PING_IF_IDLE_SECONDS", 0.05)
    try:
        with store.transaction() as conn:
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        # What a database restart or an idle timeout does to a pooled connection.
        killer = Store(postgres_url, max_workers=1)
        try:
            with killer.transaction() as conn:
                assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar()
        finally:
            killer.close()
        time.sleep(0.1)
        with store.transaction() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != backend
    finally:
        store.close()
