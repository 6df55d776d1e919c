"""Running custom actions the way the Rasa server does, against a real in-process gateway.

- ``make_tracker(...)``: a ``rasa_sdk.Tracker`` from plain values, shaped like the one Rasa
  sends (the latest user message, then the form's slot candidates at the end);
- ``run_action(action, tracker)``: runs it with a ``CollectingDispatcher``; returns
  ``(events, messages)``;
- fixture ``actions_gateway``: the demo gateway (``demo_gateway_client``) with the action
  API client pointed at it; yields the aiohttp test client (``client.app`` is the gateway app);
- fixture ``dead_gateway``: the API client pointed at a loopback port where nothing listens.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import pytest_asyncio
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.support.gateway import SERVICE_TOKEN
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: Dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
# Rasa merges the responses kept with the NLU data (the FAQ answers) into the model's domain.
for _path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
    DOMAIN["responses"].update(yaml.safe_load(_path.read_text(encoding="utf-8")).get("responses") or {})

_counter = 0


def _initial_slots() -> Dict[str, Any]:
    return {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}


def make_tracker(text: str = "", intent: Optional[str] = None, confidence: float = 0.99,
                 entities: Iterable[Dict[str, Any]] = (), slots: Optional[Dict[str, Any]] = None,
                 candidates: Optional[Dict[str, Any]] = None, active_loop: Optional[str] = None,
                 form: Optional[str] = None, sender_id: str = "test-conversation",
                 message_id: Optional[str] = None, channel: Optional[str] = "web",
                 prior_events: Iterable[Dict[str, Any]] = ()) -> Tracker:
    """``candidates`` are the slot values Rasa extracted this turn (trailing slot events);
    ``form`` adds the form's ActionExecuted before them, as Rasa's temporary tracker does."""
    global _counter
    _counter += 1
    all_slots = _initial_slots()
    all_slots.update(slots or {})
    all_slots.update(candidates or {})
    metadata = {"channel": channel} if channel else {}
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence},
              "intent_ranking": [{"name": intent, "confidence": confidence}] if intent else [],
              "entities": list(entities), "message_id": message_id or f"msg-{_counter}",
              "metadata": metadata}
    events: List[Dict[str, Any]] = list(prior_events)
    events.append({"event": "user", "text": text, "parse_data": latest, "timestamp": 1_700_000_000 + _counter,
                   "message_id": latest["message_id"], "metadata": metadata})
    if form:
        events.append({"event": "action", "name": form})
    events += [{"event": "slot", "name": k, "value": v} for k, v in (candidates or {}).items()]
    loop = active_loop or form
    return Tracker(sender_id, all_slots, latest, events, False, None,
                   {"name": loop} if loop else {}, "action_listen")


async def run_action(action, tracker: Tracker) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return events, dispatcher.messages


def slot_values(events: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """The last value each SlotSet event gives."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(messages: Iterable[Dict[str, Any]]) -> List[str]:
    return [m.get("text") or m.get("response") or "" for m in messages]


@pytest_asyncio.fixture
async def actions_gateway(demo_gateway_client):
    from actions import api_client

    api_client.configure(base_url=str(demo_gateway_client.make_url("")).rstrip("/"), token=SERVICE_TOKEN,
                         timeout=5)
    yield demo_gateway_client
    await api_client.close()  # the client's pooled session belongs to this test's event loop
    api_client.configure()


@pytest_asyncio.fixture
async def dead_gateway():
    from actions import api_client

    api_client.configure(base_url=f"http://127.0.0.1:{free_port()}", token=SERVICE_TOKEN, timeout=2)
    yield
    await api_client.close()
    api_client.configure()
