"""Issue 16, item 1: the action server hangs or dies mid-conversation — the customer still gets
an answer (an apology offering a person and 95598) within a bounded time, the message is kept,
and "转人工" still reaches a person although the bot's hand-off action cannot run.

Real processes (gateway, Rasa server, action server) of this module only: the test stops
their action server, so it cannot share the session's ``stack``.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import pytest_asyncio
import socketio
from sqlalchemy import create_engine, text

from bot.conversations import ACTION_FAILED_TEXT, HUMAN_BUTTON
from bot.handoff import TEXT_TRANSFER
from tests.support.services import free_port, in_ci, unavailable
from tests.support import webchat  # noqa: F401  (the socket.io client shim for aiohttp 3.9)

ROOT = Path(__file__).resolve().parent.parent.parent
ACTION_TIMEOUT = 4  # seconds a custom action may take (ACTION_TIMEOUT of the Rasa server)
BOUND = ACTION_TIMEOUT + 8  # the answer must come within this many seconds (the gateway waits up to 60)


@pytest.fixture(scope="module")
def own_stack():
    from scripts.run_all import Ports, Stack, StackError, latest_model

    model = latest_model(ROOT / "models")
    if model is None:
        unavailable("a trained Rasa model in models/ (run scripts/setup.sh)")
    workdir = Path(tempfile.mkdtemp(prefix="stack-actions-down-"))
    database_url = f"sqlite:///{workdir / 'store.db'}"
    env = {"DATABASE_URL": database_url, "SERVICE_TOKEN": "actions-down-token",
           "SESSION_SECRET": "actions-down-secret", "RASA_TIMEOUT": "60", "ACTION_TIMEOUT": str(ACTION_TIMEOUT),
           "TZ": "Asia/Shanghai", "STAFF_HOURS": "00:00-24:00", "HANDOFF_ACCEPT_SECONDS": "600"}
    init = subprocess.run([sys.executable, "-m", "bot", "init-store", "--demo-if-empty"], cwd=ROOT,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=300)
    assert init.returncode == 0, init.stdout + init.stderr
    processes = Stack(ports=Ports(gateway=free_port(), rasa=free_port(), actions=free_port()), model=model,
                      env=env, log_dir=workdir, say=lambda _: None)
    try:
        processes.start()
        processes.wait_ready(timeout=600)
    except StackError as exc:
        processes.stop()
        pytest.fail(f"the stack did not start: {exc}")
    processes.database_url = database_url
    try:
        yield processes
    finally:
        processes.stop()
        if not in_ci():
            shutil.rmtree(workdir, ignore_errors=True)


class Chat:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.uttered: asyncio.Queue = asyncio.Queue()
        self.sio.on("bot_uttered", self.uttered.put)

    async def open(self, url: str) -> str:
        confirmed: asyncio.Queue = asyncio.Queue()
        self.sio.on("session_confirm", confirmed.put)
        await self.sio.connect(url, transports=["websocket"], wait_timeout=10)
        await self.sio.emit("session_request", {"session_id": None})
        self.session_id = await asyncio.wait_for(confirmed.get(), 10)
        return self.session_id

    async def turn(self, message: str, timeout: float, quiet: float = 2.0) -> tuple[list[dict], float]:
        """Says ``message``; the replies until ``quiet`` seconds pass without one, and the
        seconds until the first reply."""
        started = time.monotonic()
        ack = await self.sio.call("user_uttered", {"message": message, "session_id": self.session_id,
                                                   "message_id": f"m-{time.monotonic_ns()}"}, timeout=10)
        assert ack["ok"] is True, ack
        first = await asyncio.wait_for(self.uttered.get(), timeout)
        first_after = time.monotonic() - started
        replies = [first]
        while True:
            try:
                replies.append(await asyncio.wait_for(self.uttered.get(), quiet))
            except asyncio.TimeoutError:
                return replies, first_after


def _stored(database_url: str, session_id: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                text("SELECT sender, text FROM messages WHERE conversation_id = :c ORDER BY id"), {"c": session_id})]
    finally:
        engine.dispose()


def _state(database_url: str, session_id: str) -> str:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT state FROM conversations WHERE id = :c"), {"c": session_id}).scalar()
    finally:
        engine.dispose()


@pytest.mark.asyncio
async def test_customer_gets_an_apology_when_the_action_server_hangs_or_dies(own_stack):
    actions = own_stack.process("actions")
    chat = Chat()
    try:
        session_id = await chat.open(own_stack.gateway_url)
        replies, _ = await chat.turn("查电费", timeout=60)
        assert any("户号" in (r.get("text") or "") for r in replies), replies
        replies, _ = await chat.turn("3201000001", timeout=60)
        assert replies and not any(r.get("text") == ACTION_FAILED_TEXT for r in replies), replies

        # 1. The action server hangs (stopped, its socket still open): bounded by ACTION_TIMEOUT.
        os.killpg(actions.pid, signal.SIGSTOP)
        try:
            replies, first_after = await chat.turn("0518", timeout=BOUND)
        finally:
            os.killpg(actions.pid, signal.SIGCONT)
        assert replies[-1]["text"] == ACTION_FAILED_TEXT, replies
        assert replies[-1]["quick_replies"][0]["payload"] == HUMAN_BUTTON["payload"]
        assert first_after < BOUND

        # 2. The action server is gone: the apology comes at once, for any request.
        os.killpg(actions.pid, signal.SIGKILL)
        actions.popen.wait(timeout=10)
        replies, first_after = await chat.turn("家里停电了", timeout=BOUND)
        assert replies[-1]["text"] == ACTION_FAILED_TEXT, replies
        assert first_after < BOUND

        # 3. The offered person: the bot's hand-off action cannot run, the gateway hands off itself.
        replies, _ = await chat.turn(HUMAN_BUTTON["payload"], timeout=BOUND)
        assert replies[-1]["text"].startswith(TEXT_TRANSFER.split("{")[0]), replies
    finally:
        await chat.sio.disconnect()
    stored = _stored(own_stack.database_url, session_id)
    customer = [t for s, t in stored if s == "customer"]
    assert customer == ["查电费", "3201000001", "0518", "家里停电了", "/request_human"]
    assert [t for s, t in stored if s == "system"].count(ACTION_FAILED_TEXT) == 2
    assert _state(own_stack.database_url, session_id) == "waiting"


# ---- the gateway's side alone (fake Rasa): fast, and each case fails without its rule ----------
@pytest_asyncio.fixture
async def fake_rasa():
    from tests.support.webchat import FakeRasa

    fake = await FakeRasa().start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture
async def mini_gateway(fake_rasa):
    from tests.support.webchat import start_mini_gateway

    gateway = await start_mini_gateway(fake_rasa.url, rasa_timeout=3)
    yield gateway
    await gateway.stop()


@pytest.mark.asyncio
async def test_an_empty_answer_or_a_failed_action_still_answers_the_customer(mini_gateway):
    from bot.conversations import APOLOGY_TEXT

    chat = Chat()
    try:
        await chat.open(mini_gateway.url)
        replies, _ = await chat.turn("沉默", timeout=5, quiet=0.5)
        assert [r["text"] for r in replies] == [APOLOGY_TEXT]
        assert replies[0]["quick_replies"][0]["payload"] == "/request_human"
        replies, _ = await chat.turn("动作失败", timeout=5, quiet=0.5)
        assert [r["text"] for r in replies] == ["好的，正在查询", ACTION_FAILED_TEXT]
        replies, _ = await chat.turn("你好", timeout=5, quiet=0.5)
        assert [r["text"] for r in replies] == ["收到：你好"]  # a normal turn: no apology
    finally:
        await chat.sio.disconnect()
    senders = [(m["sender"], m["text"]) for m in await mini_gateway.hub.history(chat.session_id)]
    assert senders == [("customer", "沉默"), ("system", APOLOGY_TEXT), ("customer", "动作失败"),
                       ("bot", "好的，正在查询"), ("system", ACTION_FAILED_TEXT), ("customer", "你好"),
                       ("bot", "收到：你好")]


@pytest.mark.asyncio
async def test_inside_rasa_a_failed_action_is_recorded_and_the_turn_does_not_wait_again():
    """``rasa_server.action_failures`` around Rasa's own RemoteAction: an unreachable action server
    is recorded for the turn's header, and a second custom action of the same turn fails at once."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import EndpointConfig

    from rasa_server import action_failures

    action_failures.install()
    dead = EndpointConfig(url=f"http://127.0.0.1:{free_port()}/webhook")
    tracker = type("T", (), {})()
    with action_failures.recording() as failed:
        for name in ("action_query_bill", "validate_bill_form"):
            action = RemoteAction(name, dead)
            action._action_call_format = lambda *_: {}  # the body does not matter to a closed port
            with pytest.raises(RasaException):
                await action.run(None, None, tracker, None)
    assert failed == ["action_query_bill", "validate_bill_form"]
    with action_failures.recording() as failed:
        assert failed == []  # each turn starts clean
