"""The notice engine in the gateway's background and as ``python -m bot notices run-once``."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.notices import runner
from bot.notices import settings as notice_settings
from bot.store.models import Conversation, Message, NoticeDelivery
from bot.store.types import now_utc
from tests.support.notices import add_customer, bind
from tests.support.sla import migrated_store, sqlite_url
from bot.app import START_BACKGROUND
from bot.conversations import HUB
from bot.store import STORE

ROOT = Path(__file__).resolve().parent.parent.parent


def _no_quiet_hours(store) -> None:
    with store.session() as session:
        notice_settings.change(session, "quiet_hours", "", by="test")


@pytest.mark.asyncio
async def test_the_gateway_runs_rounds_in_the_background_and_stops_with_it():
    store = migrated_store(sqlite_url())
    _no_quiet_hours(store)

    class Hub:
        def __init__(self):
            self.pushed = []

        async def push(self, conversation_id, message, sender="bot"):
            self.pushed.append((conversation_id, message["text"]))

    app = web.Application()
    hub = Hub()
    app[STORE], app[HUB], app[START_BACKGROUND] = store, hub, True
    runner.setup(app, environ={"NOTICE_INTERVAL_SECONDS": "0.05"})
    account = add_customer(store, balance=3)
    bind(store, account, "web", "sess-9")
    app_runner = web.AppRunner(app, handle_signals=False)
    await app_runner.setup()
    try:
        for _ in range(100):
            if hub.pushed:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # more rounds: nothing is sent twice
    finally:
        await app_runner.cleanup()
    assert len(hub.pushed) == 1 and hub.pushed[0][0] == "sess-9" and "余额" in hub.pushed[0][1]
    assert app[runner.RUNNER]["rounds"] >= 2 and app[runner.RUNNER]["channels"] == ["web"]
    store.close()


def test_no_background_rounds_when_switched_off_or_without_timers():
    for start_background, environ in ((True, {"NOTICES_ENABLED": "false"}), (False, {})):
        app = web.Application()
        app[START_BACKGROUND] = start_background
        runner.setup(app, environ=environ)
        assert not app.cleanup_ctx


def test_run_once_from_the_command_line_leaves_web_notices_for_the_next_visit(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = migrated_store(url)
    _no_quiet_hours(store)
    account = add_customer(store, balance=12)
    with store.session() as session:
        session.add(Conversation(id="sess-cli", channel="web", account_no=account,
                                 last_message_at=now_utc() - timedelta(days=3)))
    bind(store, account, "web", "sess-cli")
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "WECOM_", "TENCENT"))}
    env.update(DATABASE_URL=url, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "bot", "notices", "run-once"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["claimed"] == 1 and result["sent"] == 1
    store = migrated_store(url)
    with store.session() as session:
        [message] = session.execute(select(Message).where(Message.conversation_id == "sess-cli")).scalars().all()
        assert message.sender == "bot" and "低于20元" in message.text and message.delivered_at is None
        assert session.execute(select(NoticeDelivery.status)).scalar_one() == "sent"
    store.close()
