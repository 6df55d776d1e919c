"""Running custom actions the way the Rasa server does, against a real in-process gateway.

- ``make_tracker(...)``: a ``rasa_sdk.Tracker`` from plain values, shaped like the one Rasa
  sends (the latest user message, then the form's slot candidates at the end);
- ``run_action(action, tracker)``: runs it with a ``RenderingDispatcher``; returns
  ``(events, messages)``; a message sent as ``response="utter_…"`` keeps its ``response`` and
  gets the ``text`` and ``buttons`` Rasa would send, rendered from domain.yml (``render``);
- ``response_text(name)``: the text of a response of domain.yml (its first variation);
  ``rendered(name, values)``: the text Rasa sends for it with these values;
- fixture ``actions_gateway``: the demo gateway (``demo_gateway_client``) with the action
  API client pointed at it; yields the aiohttp test client (``client.app`` is the gateway app);
- fixture ``dead_gateway``: the API client pointed at a loopback port where nothing listens.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import pytest_asyncio
import yaml
from rasa_sdk import Tracker
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
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


# The output channel Rasa renders for (rasa_server.channel.GatewayInput.name()).
OUTPUT_CHANNEL = "gateway"
_NLG = TemplatedNaturalLanguageGenerator(DOMAIN["responses"])
# A placeholder Rasa could not fill stays in the text as it is ("{total}"): never in a test.
_UNFILLED = re.compile(r"{[A-Za-z_][A-Za-z0-9_]*}")


def response_text(name: str) -> str:
    return DOMAIN["responses"][name][0]["text"]


def render(message: Dict[str, Any], slots: Dict[str, Any]) -> Dict[str, Any]:
    """The message Rasa makes of an action's ``response=`` message (``RemoteAction._utter_responses``):
    the response's variation for the channel and slots, its placeholders filled from the slots and
    the message's keyword arguments, the action's own buttons added after the response's."""
    name = message["response"]
    kwargs = {k: v for k, v in message.items() if k != "response"}
    # Rasa's tracker holds every slot of the domain (so there is always something to fill in,
    # and a doubled brace is always made single).
    draft = _NLG.generate_from_slots(name, {**_initial_slots(), **slots}, OUTPUT_CHANNEL, **kwargs)
    assert draft is not None, f"the actions use {name}, domain.yml has no such response"
    rendered = dict(message)
    rendered["text"] = draft.get("text")
    rendered["buttons"] = list(draft.get("buttons") or []) + list(message.get("buttons") or [])
    for key in ("image", "attachment", "custom"):
        if draft.get(key) and not message.get(key):
            rendered[key] = draft[key]
    assert not _UNFILLED.search(rendered["text"] or ""), f"{name}: unfilled placeholder in {rendered['text']!r}"
    return rendered


def rendered(name: str, values: Optional[Dict[str, Any]] = None, slots: Optional[Dict[str, Any]] = None) -> str:
    """The text Rasa sends for ``utter_message(response=name, **values)``."""
    return render({"response": name, **(values or {})}, slots or {})["text"]


class RenderingDispatcher(CollectingDispatcher):
    """The actions' dispatcher, with ``response=`` messages rendered as the Rasa server does."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self._slots = dict(tracker.slots)

    def utter_message(self, *args: Any, **kwargs: Any) -> None:
        super().utter_message(*args, **kwargs)
        if self.messages[-1].get("response"):
            self.messages[-1] = render(self.messages[-1], self._slots)


async def run_action(action, tracker: Tracker) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = RenderingDispatcher(tracker)
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


async def praise_just_filed(content: str, last_said: str) -> Tuple[str, str, List[Dict[str, Any]]]:
    """A praise ticket filed in a new conversation: (conversation id, ticket number, the events up to
    the satisfaction question that follows it, ``last_said`` being the customer's last message)."""
    import uuid

    from actions import api_client

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    praise = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "praise", "summary": f"表扬：{content}",
        "channel": "web", "conversation_id": conversation, "details": {"content": content}})
    events = [{"event": "user", "text": last_said},
              {"event": "bot", "text": f"您的表扬已登记，编号：{praise['ticket_no']}。"},
              {"event": "bot", "text": "请问您对这次服务满意吗？"}]
    return conversation, praise["ticket_no"], events


async def repair_just_filed(summary: str, phone: str, address: str, said_before: str,
                            conversation_id: str = "test-conversation") -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """A repair ticket in the store and the events of the turn that announced it: the customer's
    last words, then the bot's "已为您登记紧急故障报修，工单号：…"."""
    import uuid

    from actions import api_client

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "repair", "summary": summary, "channel": "web",
        "conversation_id": conversation_id, "contact_phone": phone, "area_type": "urban",
        "details": {"address": address}})
    return ticket, [{"event": "user", "text": said_before},
                    {"event": "bot", "text": f"已为您登记紧急故障报修，工单号：{ticket['ticket_no']}。"}]
