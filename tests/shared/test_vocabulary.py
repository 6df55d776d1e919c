"""One vocabulary (bot/vocabulary.py): the gateway, the console (pages and scripts), the SLA
notices and report and the actions see the same ticket types, statuses and business types."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot import vocabulary
from tests.support.console import add_staff

ROOT = Path(__file__).resolve().parent.parent.parent
STATIC = ROOT / "bot" / "console" / "static"


def test_vocabulary_imports_neither_rasa_nor_aiohttp_nor_the_store():
    code = ("import sys, bot.vocabulary, bot.masking; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'rasa', 'rasa_sdk', 'aiohttp', 'sqlalchemy'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_keys_are_the_contracts_and_the_stores():
    from bot import tickets
    from bot.store import models

    assert list(vocabulary.TICKET_TYPES) == ["repair", "complaint", "tip_off", "suggestion", "praise",
                                             "application", "callback"]
    assert models.TICKET_TYPES == tuple(vocabulary.TICKET_TYPES)
    assert models.AREA_TYPES == ("urban", "rural", "remote") == tuple(vocabulary.AREA_TYPES)
    assert set(tickets.TICKET_PREFIXES) == set(vocabulary.TICKET_TYPES)
    assert tickets.TICKET_STATUSES == tuple(vocabulary.TICKET_STATUSES)
    assert set(vocabulary.TICKET_STATUS_PHRASES) == set(vocabulary.TICKET_STATUSES)
    assert set(vocabulary.FINAL_STATUSES) < set(vocabulary.DONE_STATUSES) <= set(vocabulary.TICKET_STATUSES)
    assert tickets.FINAL_STATUSES == vocabulary.FINAL_STATUSES
    assert all(vocabulary.TICKET_TYPES.values()) and all(vocabulary.BUSINESS_TYPES.values())


def test_gateway_console_and_actions_use_the_same_names():
    from actions import applications, common, feedback
    from bot.console import labels, queries

    assert labels.TICKET_TYPES is vocabulary.TICKET_TYPES
    assert labels.TICKET_STATUSES is vocabulary.TICKET_STATUSES
    assert labels.BUSINESS_TYPES is vocabulary.BUSINESS_TYPES
    assert labels.AREAS is vocabulary.AREA_TYPES
    assert queries.FINAL_TICKET_STATUSES == vocabulary.FINAL_STATUSES
    assert common.TICKET_TYPE_LABELS is vocabulary.TICKET_TYPES
    assert common.TICKET_STATUS_LABELS is vocabulary.TICKET_STATUS_PHRASES
    assert common.DONE_STATUSES == vocabulary.DONE_STATUSES
    assert {key: info["label"] for key, info in applications.BUSINESS_TYPES.items()} == vocabulary.BUSINESS_TYPES
    assert all(feedback.TYPE_LABELS[kind] == vocabulary.TICKET_TYPES[kind] for kind in feedback.TYPE_LABELS)
    # The callback ticket is 回电 everywhere (never 回访, the satisfaction follow-up).
    assert vocabulary.TICKET_TYPES["callback"] == "回电"
    assert not re.search("回访", (ROOT / "actions" / "common.py").read_text(encoding="utf-8"))


def test_one_masking_rule_for_actions_and_gateway():
    from actions import applications, common
    from bot import masking

    assert common.mask_phone is masking.mask_phone and common.mask_name is masking.mask_name
    assert applications.mask_name is masking.mask_name
    defined = [path for path in (ROOT / "actions").glob("*.py")
               if re.search(r"^def mask_(phone|name)\b", path.read_text(encoding="utf-8"), re.M)]
    assert defined == []


def test_business_types_are_the_nlu_agreements():
    """The NLU's synonyms and the domain's buttons (read only: changing them means retraining)
    name the same business types, by the vocabulary's names."""
    from nlu_components.business_types import BUSINESS_TYPE_SYNONYMS

    assert set(BUSINESS_TYPE_SYNONYMS) == set(vocabulary.BUSINESS_TYPES)
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    buttons = domain["responses"]["utter_ask_business_type"][0]["buttons"]
    # (braces doubled in the domain: Rasa's response interpolation turns them into one)
    shown = {json.loads(b["payload"][b["payload"].index("{"):].replace("{{", "{").replace("}}", "}"))["business_type"]:
             b["title"] for b in buttons}
    assert shown == vocabulary.BUSINESS_TYPES


def test_sla_notices_and_report_name_types_from_the_vocabulary():
    from bot.sla import notify, report

    assert not hasattr(notify, "TYPE_NAMES") and not hasattr(report, "TYPE_NAMES")
    group = {"ticket_type": "callback", "area_type": "urban", "tickets": 1, "count": 1, "met_on_time": 1,
             "share_on_time": 1.0, "median_minutes": 5.0, "worst_minutes": 5.0, "overdue_open": 0}
    handoffs = {"count": 0, "accepted": 0, "median_minutes": None, "worst_minutes": None,
                "share_within_limit": None}
    table = report.format_table({"since": "a", "until": "b", "groups": [group], "totals": group,
                                 "handoffs": handoffs})
    assert vocabulary.TICKET_TYPES["callback"] in table and vocabulary.AREA_TYPES["urban"] in table
    assert report.AREA_NAMES == {**vocabulary.AREA_TYPES, None: "未知"}


def test_console_scripts_have_no_names_of_their_own():
    for name in ("console.js", "dashboard.js"):
        source = (STATIC / name).read_text(encoding="utf-8")
        assert 'getElementById("vocabulary")' in source, name
        for word in list(vocabulary.TICKET_TYPES.values()) + list(vocabulary.BUSINESS_TYPES.values()):
            assert f'"{word}"' not in source, (name, word)


@pytest.fixture
def app(demo_gateway_app, monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    add_staff(demo_gateway_app, "boss", "王主管", "supervisor")
    return demo_gateway_app


@pytest.mark.asyncio
async def test_console_serves_the_vocabulary_to_its_scripts(boss):
    served = await boss.get("/console/api/vocabulary")
    assert served.status == 200 and served.content_type == "application/json"
    assert await served.json() == vocabulary.as_json()
    for path in ("/console/queue", "/console/tickets", "/console/dashboard"):
        page = await boss.get(path)
        assert page.status == 200, path
        html = await page.text()
        block = re.search(r'<script type="application/json" id="vocabulary">(.*?)</script>', html, re.S)
        assert block, path
        assert json.loads(block.group(1)) == vocabulary.as_json()


@pytest.mark.asyncio
async def test_console_vocabulary_needs_a_login(aiohttp_client, app):
    client = await aiohttp_client(app)
    resp = await client.get("/console/api/vocabulary", allow_redirects=False)
    assert resp.status in (401, 303)
