"""What the gateway keeps on its aiohttp application is under typed ``web.AppKey`` constants,
each defined beside what it holds (``bot.config.SETTINGS``, ``bot.store.STORE``,
``bot.conversations.HUB``...), so that mypy checks what is put there and taken out, and a
concern set up before the one it needs fails naming the key."""
from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import START_BACKGROUND, create_app
from bot.config import SETTINGS, Settings
from bot.conversations import HUB, ConversationHub
from bot.handoff import HANDOFF_SERVICE, HandoffService
from bot.sla import AREAS, SLA_RULES, AreaMap, SlaRules
from bot.store import STORE, Store
from bot.throttle import THROTTLE, SqlThrottle
from bot.web_channel import SIO, WEB_CHANNEL, WebChannel

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = ("app", "application", "config_dict")  # names (or attributes) that hold an application, and *_app


def test_the_gateway_sets_only_typed_keys(gateway_settings):
    with warnings.catch_warnings():
        warnings.simplefilter("error", web.NotAppKeyWarning)  # aiohttp's warning for a str key
        app = create_app(gateway_settings, start_background=False)
    assert [key for key in app if not isinstance(key, web.AppKey)] == []
    for key, kind in ((SETTINGS, Settings), (STORE, Store), (HUB, ConversationHub), (SLA_RULES, SlaRules),
                      (AREAS, AreaMap), (THROTTLE, SqlThrottle), (HANDOFF_SERVICE, HandoffService),
                      (WEB_CHANNEL, WebChannel), (START_BACKGROUND, bool)):
        assert isinstance(app[key], kind), key
    assert app[START_BACKGROUND] is False and SIO in app
    app[STORE].close()


def test_a_concern_set_up_too_early_names_the_key_it_misses():
    from bot import conversations

    with pytest.raises(KeyError, match="bot.store.db.store"):
        conversations.setup(web.Application())


def _string_keys(path: Path) -> list[str]:
    def holds_app(node: ast.AST) -> bool:
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
        return name in APPS or name.endswith("_app")

    def text(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str)

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Subscript) and holds_app(node.value) and text(node.slice):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "pop")
              and holds_app(node.func.value) and node.args and text(node.args[0])):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif (isinstance(node, ast.Compare) and text(node.left) and isinstance(node.ops[0], (ast.In, ast.NotIn))
              and holds_app(node.comparators[0])):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_string_app_keys_in_the_gateway_nor_its_tests():
    found = [hit for folder in ("bot", "tests", "scripts") for path in sorted((ROOT / folder).rglob("*.py"))
             for hit in _string_keys(path)]
    assert found == []
