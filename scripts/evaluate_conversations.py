"""Conversation-level evaluation: customer conversations played through the real stack.

`make eval` runs it after the NLU evaluation:
    .venv/bin/python -m scripts.evaluate_conversations [--half dev|test|all] [--only ID...]
        [--concurrency N] [--enforce] [--set-baseline]

1. Starts the gateway, the Rasa server (the trained model in models/) and the action server on
   loopback with a fresh temp SQLite store holding the demo data (tests/support/stack.py's
   ``running_stack``, the supervisor of ``make run``); stops them by process group at the end.
2. Plays every conversation of tests/conversations/<half>/*.yml (format: tests/conversations/
   README.md) on its own conversation id over the web channel (socket.io, as the widget does):
   a turn is sent when the bot's reply burst to the previous one has ended (nothing new for
   QUIET_SECONDS; at most TURN_TIMEOUT seconds for the first reply).
3. Scores each conversation from the store (the tickets and hand-offs of its conversation id)
   and the bot's replies: *completed* when every expectation holds, *wrong action* when a
   ticket should not exist, a listed stored field is wrong or a forbidden text was said.
4. Intent accuracy of single utterances (utterances*.yml and each conversation's first turn
   with its ``first_intent``) through the Rasa server's /model/parse.
5. Writes docs/conversation_evaluation.md and .json (the dev half's failed transcripts inline;
   the test half's in docs/conversation_evaluation_test_transcripts.md, not to be read while
   fixing). The ``baseline`` figures in the JSON are kept by later runs (``--set-baseline``
   replaces them). A half not run keeps its previous figures, marked with their date.

Targets (on the test half): >= 90 % completed, <= 2 % wrong actions, intent accuracy >= 0.95.
A miss is printed as MISSED TARGET; the exit code is 1 for it only with --enforce.
With --only the documents are not written: verdicts (and, for dev conversations, failed
transcripts) are printed.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import hashlib
import json
import os
import re
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = ROOT / "tests" / "conversations"
HALVES = ("dev", "test")
DOCS = ROOT / "docs"
REPORT_NAME = "conversation_evaluation.md"
JSON_NAME = "conversation_evaluation.json"
TEST_TRANSCRIPTS_NAME = "conversation_evaluation_test_transcripts.md"

TARGET_COMPLETED = 90.0  # % of the test half's conversations
TARGET_WRONG = 2.0  # % at most
TARGET_INTENT = 0.95

QUIET_SECONDS = 1.5  # a reply burst has ended when nothing came for this long
TURN_TIMEOUT = 60.0  # at most this long for the first reply to a turn
HANDED_OVER_WAIT = 2.0  # a turn while a person (not the bot) has the conversation
DUE_TOLERANCE_MINUTES = 5

TICKET_FIELDS = ("priority", "area_type", "address_contains", "account_no", "business_type",
                 "contact_phone", "first_due_minutes")
# Intents of the model that refine a contract intent count as it.
# Intents of ours that refine a contract intent count as it: the reason for a bill is a bill
# query, stopping what is under way ("算了 不需要", "不办了") is the contract's deny.
INTENT_ALIASES = {"ask_bill_reason": "query_bill", "cancel": "deny"}


# ---- the set ---------------------------------------------------------------------------------
@dataclass
class Conversation:
    id: str
    category: str
    turns: List[str]
    expect: Dict[str, Any]
    goal: str = ""
    persona: str = ""
    customer: Optional[str] = None
    channel: str = "web"
    first_intent: Optional[str] = None
    half: str = "dev"
    source: str = ""


@dataclass
class Utterance:
    text: str
    intent: str
    source: str = ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def load_half(half: str, root: Path = CONVERSATIONS) -> Tuple[List[Conversation], List[Utterance]]:
    """Every conversation and single utterance of one half (files sorted by name)."""
    conversations: List[Conversation] = []
    utterances: List[Utterance] = []
    folder = root / half
    for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("utterances") or []:
            utterances.append(Utterance(text=_text(item["text"]), intent=_text(item["intent"]), source=path.name))
        for item in data.get("conversations") or []:
            conversations.append(Conversation(
                id=_text(item["id"]), category=_text(item.get("category") or "uncategorised"),
                turns=[_text(t) for t in item.get("turns") or []], expect=item.get("expect") or {},
                goal=_text(item.get("goal")), persona=_text(item.get("persona")),
                customer=_text(item["customer"]) if item.get("customer") else None,
                channel=_text(item.get("channel") or "web"),
                first_intent=_text(item["first_intent"]) if item.get("first_intent") else None,
                half=half, source=path.name))
    seen = collections.Counter(c.id for c in conversations)
    duplicates = [cid for cid, n in seen.items() if n > 1]
    if duplicates:
        raise ValueError(f"{half}: conversation ids used more than once: {', '.join(sorted(duplicates))}")
    return conversations, utterances


# ---- scoring (pure: tested by tests/evaluation/test_scoring.py) ------------------------------
@dataclass
class Observed:
    """What one played conversation left: the bot's replies, the store's records, runner errors."""

    transcript: List[Tuple[str, str]] = field(default_factory=list)  # ("customer"|"bot"|"runner", text)
    tickets: List[Dict[str, Any]] = field(default_factory=list)
    handoffs: List[Dict[str, Any]] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    @property
    def replies(self) -> List[str]:
        return [text for who, text in self.transcript if who == "bot"]


@dataclass
class Verdict:
    completed: bool
    wrong_action: bool
    failures: List[str]  # every expectation that does not hold (wrong actions among them)
    wrong: List[str]  # the wrong actions alone


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def _said(replies: Sequence[str], alternatives: Any) -> Optional[str]:
    """The first alternative found in the replies (spaces ignored), or None."""
    options = alternatives if isinstance(alternatives, (list, tuple)) else [alternatives]
    joined = "\n".join(replies)
    squashed = _squash(joined)
    for option in options:
        option = _text(option)
        if option and (option in joined or _squash(option) in squashed):
            return option
    return None


def field_problem(name: str, wanted: Any, ticket: Dict[str, Any]) -> Optional[str]:
    """Why the stored ticket does not meet one expected field, or None."""
    if name == "address_contains":
        stored = ticket.get("address") or ""
        if _squash(_text(wanted)) in _squash(stored):
            return None
        return f"address {stored!r} does not contain {_text(wanted)!r}"
    if name == "first_due_minutes":
        got = ticket.get("first_due_minutes")
        if got is not None and abs(float(got) - float(wanted)) <= DUE_TOLERANCE_MINUTES:
            return None
        shown = "none" if got is None else f"{got:.0f}"
        return f"first deadline {shown} min after creation, expected {wanted} min"
    stored = ticket.get(name)
    if _text(stored) == _text(wanted):
        return None
    return f"{name} {_text(stored) or 'empty'!s}, expected {_text(wanted)}"


def _match_tickets(expected: List[Dict[str, Any]], actual: List[Dict[str, Any]]
                   ) -> List[Tuple[int, int]]:
    """Pairs (expected index, actual index) of the same type, most pairs first, then fewest
    wrong fields (exhaustive: a conversation opens a handful of tickets)."""
    best: Tuple[int, int, List[Tuple[int, int]]] = (0, 0, [])

    def cost(i: int, j: int) -> int:
        return sum(1 for name in TICKET_FIELDS if name in expected[i] and field_problem(name, expected[i][name], actual[j]))

    def search(i: int, used: frozenset, pairs: List[Tuple[int, int]], wrong: int) -> None:
        nonlocal best
        if i == len(expected):
            if (len(pairs), -wrong) > (best[0], -best[1]):
                best = (len(pairs), wrong, list(pairs))
            return
        for j, ticket in enumerate(actual):
            if j not in used and ticket.get("type") == _text(expected[i].get("type")):
                search(i + 1, used | {j}, pairs + [(i, j)], wrong + cost(i, j))
        search(i + 1, used, pairs, wrong)

    search(0, frozenset(), [], 0)
    return best[2]


def _describe(ticket: Dict[str, Any]) -> str:
    parts = [ticket.get("type") or "?"]
    for name in ("ticket_no", "priority", "area_type", "business_type"):
        if ticket.get(name):
            parts.append(f"{name}={ticket[name]}")
    if ticket.get("address"):
        parts.append(f"address={ticket['address']}")
    return " ".join(parts)


def score(conversation: Conversation, observed: Observed) -> Verdict:
    """Completed: every expectation holds. Wrong action: an extra or wrong-type ticket, a wrong
    listed field of a ticket, or a reply that says what must never be said."""
    expect = conversation.expect or {}
    failures: List[str] = []
    wrong: List[str] = []
    for error in observed.errors:
        failures.append(f"runner: {error}")

    if "tickets" in expect:
        wanted = list(expect.get("tickets") or [])
        # A ticket the customer withdrew at once (cancelled) neither serves nor wrongs them.
        actual = [t for t in observed.tickets if t.get("status") != "cancelled"]
        pairs = _match_tickets(wanted, actual)
        matched_expected = {i for i, _ in pairs}
        matched_actual = {j for _, j in pairs}
        for i, j in pairs:
            for name in TICKET_FIELDS:
                if name in wanted[i]:
                    problem = field_problem(name, wanted[i][name], actual[j])
                    if problem:
                        text = f"{wanted[i]['type']} ticket {actual[j].get('ticket_no', '')}: {problem}"
                        failures.append(text)
                        wrong.append(text)
        for i, ticket in enumerate(wanted):
            if i not in matched_expected:
                failures.append(f"missing ticket: {ticket.get('type')}")
        for j, ticket in enumerate(actual):
            if j not in matched_actual:
                text = f"ticket that should not exist: {_describe(ticket)}"
                failures.append(text)
                if ticket.get("type") != "callback":  # a call back asked for harms nobody
                    wrong.append(text)

    handoff = expect.get("handoff")
    if handoff is True and not observed.handoffs:
        failures.append("no hand-off to a person, one was expected")
    elif handoff is False and observed.handoffs:
        reasons = ", ".join(sorted({_text(h.get("reason")) for h in observed.handoffs}))
        failures.append(f"hand-off to a person ({reasons}), none was expected")

    replies = observed.replies
    for item in expect.get("replies_contain") or []:
        if _said(replies, item) is None:
            options = item if isinstance(item, (list, tuple)) else [item]
            failures.append("replies never say " + " / ".join(repr(_text(o)) for o in options))
    for item in expect.get("replies_not_contain") or []:
        hit = _said(replies, item)
        if hit is not None:
            text = f"replies say {hit!r}, which must not be said"
            failures.append(text)
            wrong.append(text)
    return Verdict(completed=not failures, wrong_action=bool(wrong), failures=failures, wrong=wrong)


def normalise_intent(name: Optional[str]) -> str:
    name = name or "None"
    name = name.split("/", 1)[0]  # retrieval intents: faq/fees -> faq
    return INTENT_ALIASES.get(name, name)


def intent_figures(pairs: Sequence[Tuple[str, str, str]]) -> Dict[str, Any]:
    """pairs: (text, expected, predicted). Accuracy and the confusion of the errors."""
    errors = [(t, e, p) for t, e, p in pairs if normalise_intent(p) != normalise_intent(e)]
    confusion = collections.Counter((normalise_intent(e), normalise_intent(p)) for _, e, p in errors)
    return {
        "n": len(pairs),
        "correct": len(pairs) - len(errors),
        "accuracy": round((len(pairs) - len(errors)) / len(pairs), 4) if pairs else None,
        "confusion": [{"expected": e, "predicted": p, "count": n} for (e, p), n in confusion.most_common()],
        "errors": [{"text": t, "expected": normalise_intent(e), "predicted": normalise_intent(p)} for t, e, p in errors],
    }


def half_figures(results: Sequence[Tuple[Conversation, Verdict]]) -> Dict[str, Any]:
    def figures(items) -> Dict[str, Any]:
        n = len(items)
        completed = sum(1 for _, v in items if v.completed)
        wrong = sum(1 for _, v in items if v.wrong_action)
        return {"n": n, "completed": completed, "wrong_action": wrong,
                "completed_pct": round(100 * completed / n, 1) if n else None,
                "wrong_action_pct": round(100 * wrong / n, 1) if n else None}

    by_category: Dict[str, list] = collections.defaultdict(list)
    for conversation, verdict in results:
        by_category[conversation.category].append((conversation, verdict))
    out = figures(list(results))
    out["per_category"] = {name: figures(items) for name, items in sorted(by_category.items())}
    return out


def target_misses(figures: Dict[str, Any]) -> List[str]:
    misses = []
    if figures.get("completed_pct") is not None and figures["completed_pct"] < TARGET_COMPLETED:
        misses.append(f"completed {figures['completed_pct']} % < {TARGET_COMPLETED:.0f} %")
    if figures.get("wrong_action_pct") is not None and figures["wrong_action_pct"] > TARGET_WRONG:
        misses.append(f"wrong actions {figures['wrong_action_pct']} % > {TARGET_WRONG:.0f} %")
    accuracy = (figures.get("intent") or {}).get("accuracy")
    if accuracy is not None and accuracy < TARGET_INTENT:
        misses.append(f"intent accuracy {accuracy:.3f} < {TARGET_INTENT}")
    return misses


# ---- playing through the stack ---------------------------------------------------------------
def closed_desk_hours(now: Optional[dt.datetime] = None) -> str:
    """STAFF_HOURS for a staff desk that is closed for the next hours (Asia/Shanghai)."""
    from bot.store.types import SHANGHAI

    local = (now or dt.datetime.now(dt.timezone.utc)).astimezone(SHANGHAI)
    start = (local.hour + 6) % 24
    return f"{start:02d}:00-{(start + 12) % 24:02d}:00"


def run_env() -> Dict[str, str]:
    """Nobody staffs the desk during a run: a hand-off is answered at once, the same way every
    time, with a callback ticket (the set assumes no agent is online), never after a timer."""
    return {"STAFF_HOURS": closed_desk_hours(), "HANDOFF_ACCEPT_SECONDS": "86400"}


def conversation_id(conversation: Conversation) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]", "-", conversation.id)[:40]
    return f"ev-{slug}-{uuid.uuid4().hex[:10]}"


def _reply_text(data: Dict[str, Any]) -> str:
    parts = [data.get("text") or ""]
    buttons = [b.get("title", "") for b in data.get("quick_replies") or data.get("buttons") or []]
    if buttons:
        parts.append(" ".join(f"[{b}]" for b in buttons))
    if data.get("attachment") and not parts[0]:
        parts.append("(attachment)")
    return "\n".join(p for p in parts if p)


async def play(gateway_url: str, conversation: Conversation, session_id: str,
               quiet: float = QUIET_SECONDS, turn_timeout: float = TURN_TIMEOUT) -> Observed:
    """Sends the customer's turns over socket.io as the widget does, each after the bot's reply
    burst to the previous one; returns the transcript (store records are read afterwards)."""
    import socketio

    from tests.support import webchat  # noqa: F401  (aiohttp 3.9 shim for the engineio client)

    observed = Observed()
    received: List[Tuple[float, Dict[str, Any]]] = []
    arrived = asyncio.Event()
    confirmed = asyncio.Event()
    sio = socketio.AsyncClient(reconnection=False)

    @sio.on("bot_uttered")
    async def on_bot(data):
        received.append((time.monotonic(), data if isinstance(data, dict) else {"text": str(data)}))
        arrived.set()

    @sio.on("session_confirm")
    async def on_confirm(data):
        confirmed.set()

    async def burst(before: int, first_timeout: float) -> None:
        deadline = time.monotonic() + first_timeout
        while True:
            now = time.monotonic()
            if len(received) > before:
                if now - received[-1][0] >= quiet:
                    return
                wait = quiet - (now - received[-1][0])
            else:
                if now >= deadline:
                    return
                wait = deadline - now
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), max(0.02, wait))
            except asyncio.TimeoutError:
                pass

    try:
        await sio.connect(gateway_url, transports=["websocket"], socketio_path="socket.io", wait_timeout=20)
        await sio.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 20)
        for number, text in enumerate(conversation.turns, 1):
            before = len(received)
            observed.transcript.append(("customer", text))
            ack = await sio.call("user_uttered", {"message": text, "session_id": session_id,
                                                  "message_id": f"{session_id}-{number}",
                                                  "customData": {"language": "zh-CN"}}, timeout=30)
            if not isinstance(ack, dict) or not ack.get("ok"):
                observed.errors.append(f"turn {number} was not accepted: {ack}")
                await burst(before, HANDED_OVER_WAIT)
            elif ack.get("state") != "bot":
                await burst(before, HANDED_OVER_WAIT)  # a person has it: the bot stays silent
            else:
                await burst(before, turn_timeout)
                if len(received) == before:
                    observed.errors.append(f"no reply to turn {number} within {turn_timeout:.0f} s")
            for _, data in received[before:]:
                observed.transcript.append(("bot", _reply_text(data)))
    except Exception as exc:  # connection refused, timeouts: this conversation fails, the run goes on
        observed.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        try:
            await sio.disconnect()
        except Exception:
            pass
    return observed


def read_store(database_url: str, session_id: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """The tickets (with their stored address and first deadline) and hand-offs of a conversation."""
    from sqlalchemy import create_engine, select

    from bot.store.models import Handoff, Milestone, Ticket

    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            tickets = conn.execute(select(Ticket).where(Ticket.conversation_id == session_id)
                                   .order_by(Ticket.id)).mappings().all()
            out = []
            for ticket in tickets:
                first = conn.execute(select(Milestone.due_at).where(Milestone.ticket_id == ticket["id"])
                                     .order_by(Milestone.id).limit(1)).scalar()
                details = ticket["details"] or {}
                # Repairs and applications keep the address in details; other tickets in their text.
                address = details.get("address") if isinstance(details, dict) else None
                if not address:
                    address = " ".join(filter(None, [ticket["summary"], _text(details.get("content"))
                                                     if isinstance(details, dict) else ""]))
                out.append({
                    "ticket_no": ticket["ticket_no"], "type": ticket["type"], "priority": ticket["priority"],
                    "area_type": ticket["area_type"], "address": address, "account_no": ticket["account_no"],
                    "business_type": ticket["business_type"], "contact_phone": ticket["contact_phone"],
                    "summary": ticket["summary"], "status": ticket["status"],
                    "first_due_minutes": (first - ticket["created_at"]).total_seconds() / 60 if first else None,
                })
            handoffs = [dict(reason=h.reason, status=h.status) for h in conn.execute(
                select(Handoff.reason, Handoff.status).where(Handoff.conversation_id == session_id)).all()]
    finally:
        engine.dispose()
    return out, handoffs


async def run_conversations(info, conversations: Sequence[Conversation], concurrency: int,
                            progress=None, turn_timeout: float = TURN_TIMEOUT
                            ) -> List[Tuple[Conversation, Observed, Verdict]]:
    """Plays the conversations on ``info``'s stack (gateway_url, database_url), ``concurrency``
    at a time; returns (conversation, what was observed, verdict) in the given order."""
    semaphore = asyncio.Semaphore(max(1, concurrency))
    results: List[Optional[Tuple[Conversation, Observed, Verdict]]] = [None] * len(conversations)

    async def one(index: int, conversation: Conversation) -> None:
        async with semaphore:
            session_id = conversation_id(conversation)
            observed = await play(info.gateway_url, conversation, session_id, turn_timeout=turn_timeout)
            try:
                observed.tickets, observed.handoffs = await asyncio.to_thread(
                    read_store, info.database_url, session_id)
            except Exception as exc:
                observed.errors.append(f"reading the store: {exc}")
            verdict = score(conversation, observed)
            results[index] = (conversation, observed, verdict)
            if progress:
                progress(conversation, verdict)

    await asyncio.gather(*(one(i, c) for i, c in enumerate(conversations)))
    return [r for r in results if r is not None]


async def parse_intents(rasa_url: str, texts: Sequence[str], concurrency: int, token: str = "") -> List[str]:
    """Each text's intent by Rasa's /model/parse (its API wants the run's RASA_TOKEN as ?token=)."""
    import aiohttp

    semaphore = asyncio.Semaphore(max(1, concurrency))
    out: List[str] = [""] * len(texts)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        async def one(index: int, text: str) -> None:
            async with semaphore:
                async with session.post(f"{rasa_url}/model/parse", params={"token": token},
                                        json={"text": text}) as resp:
                    resp.raise_for_status()  # a refused call must not read as intent "None"
                    body = await resp.json()
                out[index] = ((body or {}).get("intent") or {}).get("name") or "None"

        await asyncio.gather(*(one(i, t) for i, t in enumerate(texts)))
    return out


# ---- the reports -----------------------------------------------------------------------------
def model_fingerprint(model: Path) -> str:
    stamp = model.parent / (model.name.replace(".tar.gz", "") + ".fingerprint")
    if stamp.exists():
        return stamp.read_text(encoding="utf-8").strip()[:16]
    digest = hashlib.sha256()
    with open(model, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def git_commit() -> str:
    import subprocess

    if os.environ.get("EVAL_COMMIT"):  # a run from an exported tree (git archive) names its commit
        return os.environ["EVAL_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def model_matches_data(model: Path) -> bool:
    try:
        from scripts.train_if_needed import matching_model

        found = matching_model(model.parent)
        return found is not None and found.resolve() == model.resolve()
    except Exception:
        return False


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _acc(intent: Optional[Dict[str, Any]]) -> str:
    if not intent or intent.get("accuracy") is None:
        return "–"
    return f"{intent['accuracy']:.3f} ({intent['correct']}/{intent['n']})"


def _md(text: str) -> str:
    return (text or "").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _category_table(figures: Dict[str, Any]) -> List[str]:
    lines = ["| category | conversations | completed | completed % | wrong actions | wrong % |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, item in figures.get("per_category", {}).items():
        lines.append(f"| {name} | {item['n']} | {item['completed']} | {_pct(item['completed_pct'])} "
                     f"| {item['wrong_action']} | {_pct(item['wrong_action_pct'])} |")
    return lines


def _confusion(intent: Dict[str, Any]) -> List[str]:
    if not intent or not intent.get("confusion"):
        return ["No intent errors."] if intent and intent.get("n") else []
    lines = ["| expected | predicted | count |", "|---|---|---:|"]
    lines += [f"| {c['expected']} | {c['predicted']} | {c['count']} |" for c in intent["confusion"]]
    return lines


def transcript_block(conversation: Conversation, observed: Observed, verdict: Verdict) -> List[str]:
    lines = [f"### {conversation.id} ({conversation.category}{', wrong action' if verdict.wrong_action else ''})",
             "", f"Goal: {_md(conversation.goal)}" + (f" · persona: {_md(conversation.persona)}" if conversation.persona else "")
             + f" · file: `{conversation.source}`", "", "What failed:", ""]
    lines += [f"- {_md(f)}" for f in verdict.failures]
    lines += ["", "```text"]
    for who, text in observed.transcript:
        label = {"customer": "顾客", "bot": "客服"}.get(who, who)
        for i, line in enumerate((text or "").splitlines() or [""]):
            lines.append(f"{label}: {line}" if i == 0 else f"      {line}")
    lines.append("```")
    stored = [_describe(t) + (f" first_due={t['first_due_minutes']:.0f}min" if t.get("first_due_minutes") is not None else "")
              for t in observed.tickets]
    lines += ["", "Stored tickets: " + (_md("; ".join(stored)) if stored else "none")
              + (" · hand-offs: " + ", ".join(h["reason"] for h in observed.handoffs) if observed.handoffs else ""), ""]
    return lines


def _summary_row(name: str, figures: Dict[str, Any], note: str = "") -> str:
    misses = target_misses(figures) if name == "test" else []
    status = "MISSED TARGET" if misses else ("targets met" if name == "test" else "")
    return (f"| {name}{note} | {figures.get('n', 0)} | {_pct(figures.get('completed_pct'))} "
            f"| {_pct(figures.get('wrong_action_pct'))} | {_acc(figures.get('intent'))} | {status} |")


def write_reports(out: Path, document: Dict[str, Any], dev_failed: List[str], test_failed: Optional[List[str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    halves = document["halves"]
    lines = ["# Conversation evaluation", "",
             "Written by `scripts/evaluate_conversations.py` (part of `make eval`); how it works: "
             "[tests/conversations/README.md](../tests/conversations/README.md).", "",
             f"- Date: {document['date']}",
             f"- Model: `{document['model']['file']}` (fingerprint `{document['model']['fingerprint']}`"
             + ("" if document["model"].get("matches_data", True) else ", NOT trained on the current data") + ")",
             f"- Code: commit `{document.get('commit') or '?'}`",
             f"- Run time: {document['run_seconds']:.0f} s",
             f"- Targets on the test half: ≥ {TARGET_COMPLETED:.0f} % completed, ≤ {TARGET_WRONG:.0f} % wrong actions, "
             f"intent accuracy ≥ {TARGET_INTENT}.", ""]
    baseline = document.get("baseline")
    if baseline and baseline.get("halves"):
        lines += ["## Baseline (before fixes)", "",
                  "Kept by every run (`--set-baseline` replaces it)."
                  + (f" {baseline['note']}" if baseline.get("note") else ""), "",
                  "| half | conversations | completed | wrong actions | intent accuracy | |",
                  "|---|---:|---:|---:|---:|---|"]
        for name in HALVES:
            if name in baseline["halves"]:
                item = baseline["halves"][name]
                lines.append(_summary_row(name, item, f" ({item.get('date', '?')}, `{item.get('model', '?')}`, "
                                                      f"commit {item.get('commit') or '?'})"))
        lines.append("")
    lines += ["## Summary", "", "| half | conversations | completed | wrong actions | intent accuracy | |",
              "|---|---:|---:|---:|---:|---|"]
    for name in HALVES:
        if name in halves:
            item = halves[name]
            note = f" (previous run, {item['carried_over']})" if item.get("carried_over") else ""
            lines.append(_summary_row(name, item, note))
    lines.append("")
    lines += ["Completed: every expectation of the conversation holds. Wrong action: a ticket that should "
              "not exist, a wrong stored field among those listed, or something said that must not be. "
              "Intent accuracy: utterances*.yml plus each conversation's first turn, by /model/parse "
              "(faq/… counts as faq).", ""]
    for name in HALVES:
        if name not in halves:
            continue
        item = halves[name]
        lines += [f"## {name.capitalize()} half", ""]
        if item.get("carried_over"):
            lines += [f"Not run this time: the figures above are from {item['carried_over']}.", ""]
            continue
        lines += ["### Per category", ""] + _category_table(item) + [""]
        intent = item.get("intent") or {}
        lines += [f"### Intent accuracy: {_acc(intent)}", ""] + _confusion(intent) + [""]
        if name == "dev":
            if intent.get("errors"):
                lines += ["Misunderstood utterances:", ""]
                lines += [f"- {_md(e['text'])}: {e['expected']} → {e['predicted']}" for e in intent["errors"]]
                lines.append("")
            changes = item.get("changes") or {}
            if changes.get("since"):
                lines += [f"### Changes since the previous run ({changes['since']})", "",
                          "- Now failing: " + (", ".join(changes["now_failing"]) or "none"),
                          "- Now completed: " + (", ".join(changes["now_completed"]) or "none"), ""]
            lines += ["### Failed conversations", ""]
            lines += dev_failed or ["None."]
            lines.append("")
        else:
            lines += ["### Failed conversations", "",
                      f"In [{TEST_TRANSCRIPTS_NAME}]({TEST_TRANSCRIPTS_NAME}) — **not to be read while fixing** "
                      "(the test half stays unseen).", ""]
    (out / REPORT_NAME).write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    (out / JSON_NAME).write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if test_failed is not None:
        test_lines = ["# Conversation evaluation: failed conversations of the TEST half", "",
                      "**Not to be read while fixing the bot**: the test half measures how the bot serves "
                      "conversations nobody fixed it for. Read it only to judge the evaluation itself.", "",
                      f"Date: {document['date']}, model `{document['model']['file']}`.", ""]
        test_lines += test_failed or ["None."]
        (out / TEST_TRANSCRIPTS_NAME).write_text("\n".join(test_lines).rstrip() + "\n", encoding="utf-8")


# ---- main ------------------------------------------------------------------------------------
def dev_changes(previous: Dict[str, Any], current: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Dev conversations whose verdict changed since the previous run's JSON."""
    before = {c["id"]: c["completed"] for c in previous["halves"]["dev"]["conversations"]}
    return {"since": f"{previous.get('date')}, model {previous.get('model', {}).get('file')}, "
                     f"commit {previous.get('commit') or '?'}",
            "now_failing": [c["id"] for c in current if before.get(c["id"]) is True and not c["completed"]],
            "now_completed": [c["id"] for c in current if before.get(c["id"]) is False and c["completed"]]}


def _previous(out: Path) -> Dict[str, Any]:
    try:
        return json.loads((out / JSON_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def assemble(outcome: Dict[str, Tuple[list, list]], previous: Dict[str, Any], model_info: Dict[str, Any],
             seconds: float, set_baseline: bool) -> Tuple[Dict[str, Any], Dict[str, List[str]]]:
    """The JSON document of a run (halves not run carried over from ``previous``, its baseline
    kept unless ``set_baseline``) and the failed-transcript blocks of each half played."""
    document: Dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "model": model_info,
        "commit": git_commit(),
        "run_seconds": round(seconds, 1),
        "targets": {"completed_pct": TARGET_COMPLETED, "wrong_action_pct": TARGET_WRONG, "intent_accuracy": TARGET_INTENT},
        "halves": {},
    }
    failed_blocks: Dict[str, List[str]] = {}
    for half, (played, pairs) in outcome.items():
        figures = half_figures([(c, v) for c, _, v in played])
        figures["intent"] = intent_figures(pairs)
        if half == "test":  # figures only: the test half's texts stay out of the main documents
            figures["intent"] = {k: v for k, v in figures["intent"].items() if k != "errors"}
        else:
            figures["conversations"] = [{"id": c.id, "category": c.category, "completed": v.completed,
                                         "wrong_action": v.wrong_action, "failures": v.failures}
                                        for c, _, v in played]
        document["halves"][half] = figures
        blocks: List[str] = []
        for conversation, observed, verdict in played:
            if not verdict.completed:
                blocks += transcript_block(conversation, observed, verdict)
        if half == "test":
            intent = intent_figures(pairs)
            if intent["errors"]:
                blocks += ["## Misunderstood single utterances", ""]
                blocks += [f"- {_md(e['text'])}: {e['expected']} → {e['predicted']}" for e in intent["errors"]]
        failed_blocks[half] = blocks
    if "dev" in outcome and previous.get("halves", {}).get("dev", {}).get("conversations"):
        document["halves"]["dev"]["changes"] = dev_changes(previous, document["halves"]["dev"]["conversations"])
    for half in HALVES:
        if half not in document["halves"] and half in previous.get("halves", {}):
            carried = dict(previous["halves"][half])
            carried["carried_over"] = carried.get("carried_over") or f"{previous.get('date')}, model {previous.get('model', {}).get('file')}"
            document["halves"][half] = carried
    baseline = dict(previous.get("baseline") or {})
    baseline["halves"] = dict(baseline.get("halves") or {})
    if set_baseline:
        for half in outcome:
            keep = {k: v for k, v in document["halves"][half].items() if k != "conversations"}
            keep["intent"] = {k: v for k, v in keep["intent"].items() if k not in ("errors", "confusion")}
            keep.update(date=document["date"], model=document["model"]["file"], commit=document["commit"])
            baseline["halves"][half] = keep
    if baseline["halves"]:
        document["baseline"] = baseline
    return document, failed_blocks


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--only", nargs="+", metavar="ID", help="play these conversations only; no documents written")
    parser.add_argument("--concurrency", type=int, default=4, help="conversations played at once (default 4)")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when the test half misses a target")
    parser.add_argument("--set-baseline", action="store_true", help="store this run's figures as the baseline")
    parser.add_argument("--dir", type=Path, default=CONVERSATIONS, help="the set (default tests/conversations)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where the documents go (default docs/)")
    parser.add_argument("--model", type=Path, help="this model instead of the one for the current data")
    args = parser.parse_args(list(argv) if argv is not None else None)

    from scripts.run_all import latest_model
    from tests.support.stack import StackStartError, running_stack

    halves = list(HALVES) if args.half == "all" else [args.half]
    loaded: Dict[str, Tuple[List[Conversation], List[Utterance]]] = {}
    for half in halves:
        if not (args.dir / half).is_dir():
            print(f"[conv] no {args.dir / half}/: skipped")
            continue
        conversations, utterances = load_half(half, args.dir)
        if args.only:
            conversations = [c for c in conversations if c.id in set(args.only)]
            utterances = []
        if conversations or utterances:
            loaded[half] = (conversations, utterances)
    if args.only:
        unknown = set(args.only) - {c.id for conversations, _ in loaded.values() for c in conversations}
        if unknown:
            print(f"[conv] no such conversation: {', '.join(sorted(unknown))}")
    if not loaded:
        print("[conv] nothing to evaluate")
        return 1 if args.only else 0
    model = args.model or latest_model(ROOT / "models")
    if model is None:
        print("[conv] no model in models/: run `.venv/bin/python -m scripts.train_if_needed`")
        return 1
    matches = model_matches_data(model)
    if not matches:
        print(f"[conv] WARNING: {model.name} was not trained on the current config/domain/data "
              "(run `.venv/bin/python -m scripts.train_if_needed`); the figures may not be the bot's")

    def on_signal(signum, _frame) -> None:  # SIGTERM as Ctrl-C: the stack's process groups get stopped
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    print(f"[conv] starting the stack with {model.name}", flush=True)
    outcome: Dict[str, Tuple[list, list]] = {}
    try:
        with running_stack(model, extra_env=run_env()) as info:
            print(f"[conv] stack ready in {time.monotonic() - started:.0f} s", flush=True)
            for half, (conversations, utterances) in loaded.items():
                done: collections.Counter[str] = collections.Counter()

                def progress(conversation: Conversation, verdict: Verdict, half=half, total=len(conversations),
                             done=done) -> None:
                    done["n"] += 1
                    done["ok"] += verdict.completed
                    if half == "dev" or args.only and half != "test":
                        mark = "ok  " if verdict.completed else ("WRONG" if verdict.wrong_action else "fail")
                        print(f"[conv] {half} {done['n']:>3}/{total} {mark} {conversation.id}", flush=True)
                    elif done["n"] % 10 == 0 or done["n"] == total:  # the test half: counts only
                        print(f"[conv] {half} {done['n']}/{total} played, {done['ok']} completed", flush=True)

                t0 = time.monotonic()
                played = asyncio.run(run_conversations(info, conversations, args.concurrency, progress))
                print(f"[conv] {half}: {len(played)} conversations in {time.monotonic() - t0:.0f} s", flush=True)
                pairs: List[Tuple[str, str, str]] = []
                if not args.only:
                    items = [(u.text, u.intent) for u in utterances]
                    items += [(c.turns[0], c.first_intent) for c in conversations if c.first_intent and c.turns]
                    predicted = asyncio.run(parse_intents(info.rasa_url, [t for t, _ in items], args.concurrency,
                                                           token=info.rasa_token))
                    pairs = [(t, e, p) for (t, e), p in zip(items, predicted)]
                outcome[half] = (played, pairs)
    except StackStartError as exc:
        print(f"[conv] {exc}")
        return 1
    seconds = time.monotonic() - started

    if args.only:
        for half, (played, _) in outcome.items():
            for conversation, observed, verdict in played:
                print(f"{conversation.id}: {'completed' if verdict.completed else 'FAILED'}"
                      f"{' (wrong action)' if verdict.wrong_action else ''}")
                if half == "dev" and not verdict.completed:
                    print("\n".join(transcript_block(conversation, observed, verdict)))
        return 0 if all(v.completed for played, _ in outcome.values() for _, _, v in played) else 1

    previous = _previous(args.out)
    model_info = {"file": model.name, "fingerprint": model_fingerprint(model), "matches_data": matches}
    document, failed_blocks = assemble(outcome, previous, model_info, seconds, args.set_baseline)
    write_reports(args.out, document, failed_blocks.get("dev", []), failed_blocks.get("test") if "test" in outcome else None)

    print(f"[conv] wrote {args.out / REPORT_NAME} and {args.out / JSON_NAME} ({seconds:.0f} s)")
    missed = False
    for half in HALVES:
        item = document["halves"].get(half)
        if not item or item.get("carried_over"):
            continue
        line = (f"[conv] {half}: {item['n']} conversations, completed {_pct(item['completed_pct'])}, "
                f"wrong actions {_pct(item['wrong_action_pct'])}, intent accuracy {_acc(item['intent'])}")
        print(line)
        changes = item.get("changes") or {}
        if changes.get("now_failing"):
            print(f"[conv] {half}: now failing (completed in the previous run): {', '.join(changes['now_failing'])}")
        if half == "test":
            misses = target_misses(item)
            if misses:
                missed = True
                print("[conv] MISSED TARGET on the test half: " + "; ".join(misses))
            else:
                print("[conv] test half: every target met")
    return 1 if (missed and args.enforce) else 0


if __name__ == "__main__":
    sys.exit(main())
