"""Every customer conversation, on every channel: store, route, deliver.

``ConversationHub`` (``app[HUB]``) stores each message once (a client's retry with the
same ``client_msg_id`` is stored once), routes a customer's message by the conversation's
state — ``bot``: to Rasa through the ``gateway`` input channel (``rasa_server.channel``, Rasa side);
``waiting``/``human``: to staff only — and delivers replies on the conversation's own
channel through a ``ChannelAdapter``. A reply that cannot be delivered now (the customer
is offline) stays pending (``delivered_at`` NULL) and is delivered, in order and once,
by ``deliver_pending`` when the customer comes back.

Two locks per conversation: one serialises customer messages (two quick messages are
answered in order), the other serialises deliveries (a reconnect and a new reply never
deliver the same message twice). Hand-offs change the state without either lock, so an
action that hands off during a Rasa call never deadlocks.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, AsyncIterator, Callable, Optional, Protocol

import aiohttp
import yaml
from aiohttp import web
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.config import ROOT, SETTINGS, Settings
from bot.events import EventBus, MessageEvent, StateEvent, bus_of
from bot.store import STORE, Store
from bot.store.models import CONVERSATION_STATES, MESSAGE_SENDERS, Conversation, Message
from bot.store.types import iso_local, now_utc
from bot.text_safety import clean_text

log = logging.getLogger(__name__)

APOLOGY_TEXT = ("抱歉，系统暂时繁忙，您的留言已记录。请稍后再发一次，或回复“转人工”由人工客服为您服务，"
                "也可拨打95598供电服务热线，我们24小时为您服务。")
# Rasa understood but a custom action failed (action server down, an error, too slow).
ACTION_FAILED_TEXT = ("抱歉，系统暂时无法为您办理，您的留言已记录。请稍后再试，或回复“转人工”由人工客服为您服务，"
                      "也可拨打95598供电服务热线，我们24小时为您服务。")
# Both apologies offer a person; the gateway hands off itself when the bot cannot.
HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
ASKS_FOR_PERSON = frozenset({"/request_human", "转人工", "人工", "人工客服", "转人工客服", "找人工", "人工服务"})
ACTION_FAILED_HEADER = "X-Rasa-Action-Failed"  # rasa_server.action_failures.FAILED_HEADER (Rasa side)
# Flow control (TurnGate): what a customer hears when a message is not sent to the bot.
RATE_LIMITED_TEXT = ("您发送消息的速度太快了，请稍等片刻再发。这条消息已记录，但智能客服暂未处理；"
                     "如有紧急情况，请拨打95598供电服务热线。")
QUEUE_FULL_TEXT = "您的消息较多，我正在逐条处理，请等我回复后再继续发送。这条消息已记录，但暂未处理，如仍需要请稍后重发。"
LEFT_TEXT = "您离开期间有{count}条消息未能处理，如仍需要帮助，请重新发送。"
PAYLOAD_KEYS = ("buttons", "quick_replies", "attachment", "custom")
MAX_TEXT_LENGTH = 2000


def _rasa_session_expiry(domain_file: Path = ROOT / "domain.yml") -> timedelta:
    """Rasa's ``session_expiration_time`` (minutes, domain.yml); Rasa's default 60 without it."""
    try:
        config = (yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}).get("session_config") or {}
        return timedelta(minutes=float(config.get("session_expiration_time", 60)))
    except (OSError, ValueError, TypeError, yaml.YAMLError):
        return timedelta(minutes=60)


# Rasa starts a new session, forgetting the verified identity (slots are not carried over),
# after this much silence. The conversation's verified account (set by
# POST /api/v1/identity/verify) is forgotten with it, so that whoever writes next in the same
# browser or chat is not taken for the earlier customer (console, callbacks).
IDENTITY_FORGET_AFTER = _rasa_session_expiry()

# The hot path (every customer turn) uses Core statements on these tables: the ORM's unit of
# work, identity map and object loading cost more gateway CPU than the SQL itself.
# Built once: constructing a statement costs more Python than compiling it (which is cached).
CONVERSATIONS = Conversation.__table__
MESSAGES = Message.__table__
_BY_CONVERSATION = CONVERSATIONS.c.id == bindparam("cid")
_CONVERSATION_FOR_MESSAGE = select(CONVERSATIONS.c.state, CONVERSATIONS.c.account_no,
                                   CONVERSATIONS.c.last_message_at).where(_BY_CONVERSATION)
_CONVERSATION_CHANNEL = select(CONVERSATIONS.c.channel).where(_BY_CONVERSATION)
_CONVERSATION_ROW = select(CONVERSATIONS).where(_BY_CONVERSATION)
_INSERT_CONVERSATION = insert(CONVERSATIONS)
_UPDATE_CONVERSATION = update(CONVERSATIONS).where(_BY_CONVERSATION)  # SET: the parameters' columns
_TOUCH_CONVERSATION = update(CONVERSATIONS).where(_BY_CONVERSATION).values(last_message_at=bindparam("now"))
_TOUCH_CONVERSATION_RETURNING_CHANNEL = _TOUCH_CONVERSATION.returning(CONVERSATIONS.c.channel)
_MESSAGE_BY_CLIENT_ID = select(MESSAGES).where(MESSAGES.c.conversation_id == bindparam("cid"),
                                               MESSAGES.c.client_msg_id == bindparam("client_id"))
_INSERT_MESSAGE = insert(MESSAGES)
_PENDING_MESSAGES = (select(MESSAGES)
                     .where(MESSAGES.c.conversation_id == bindparam("cid"), MESSAGES.c.delivered_at.is_(None),
                            MESSAGES.c.sender != "customer")
                     .order_by(MESSAGES.c.id))
_MARK_DELIVERED = (update(MESSAGES)
                   .where(MESSAGES.c.id.in_(bindparam("ids", expanding=True)), MESSAGES.c.delivered_at.is_(None))
                   .values(delivered_at=bindparam("now")))
_CLAIM_DELIVERY = (update(MESSAGES)
                   .where(MESSAGES.c.id == bindparam("mid"), MESSAGES.c.delivered_at.is_(None))
                   .values(delivered_at=bindparam("now")))
_ANSWER_AFTER = (select(MESSAGES.c.id)
                 .where(MESSAGES.c.conversation_id == bindparam("cid"), MESSAGES.c.id > bindparam("mid"),
                        MESSAGES.c.sender != "customer")
                 .limit(1))
_SET_INTENT = (update(MESSAGES).where(MESSAGES.c.id == bindparam("mid"))
               .values(intent=bindparam("new_intent"), confidence=bindparam("new_confidence")))


class ChannelAdapter(Protocol):
    name: str

    async def deliver(self, conversation_id: str, message: dict) -> bool:
        """Sends one message now; False leaves it pending for a later ``deliver_pending``."""


class ClaimingAdapter(ChannelAdapter, Protocol):
    """A channel whose customer may be connected to another gateway (the web widget): a message
    goes out from the gateway that holds the customer's socket, which first claims it in the
    store (``delivered_at`` set only if still NULL), so two gateways never both send it."""

    claims_delivery: bool

    def is_present(self, conversation_id: str) -> bool: ...


class Hub(Protocol):
    """What the hand-off service and the notifiers need of the hub (``ConversationHub``)."""

    bus: EventBus

    async def push(self, conversation_id: str, message: dict, sender: str = "bot",
                   agent: Optional[str] = None) -> dict: ...

    async def set_state(self, conversation_id: str, state: str, agent: Optional[str] = None) -> dict: ...


class RasaUnavailable(Exception):
    """Rasa did not answer in time or answered with an error."""


@dataclass
class CustomerMessageResult:
    message: dict  # the stored customer message (JSON form)
    duplicate: bool  # True: the same client_msg_id was stored before; nothing was routed
    state: str  # the conversation's state when the message was routed
    replies: list[dict] = field(default_factory=list)  # stored bot replies (JSON form)
    refused: Optional[str] = None  # not sent to the bot: "rate_limited" or "queue_full" (TurnGate)


def message_json(message: Any) -> dict:
    """A stored message (ORM object or Core row of ``messages``) as the console, history and
    events show it."""
    data: dict[str, Any] = {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender": message.sender,
        "agent": message.agent,
        "channel": message.channel,
        "text": message.text,
        "client_msg_id": message.client_msg_id,
        "intent": message.intent,
        "confidence": message.confidence,
        "created_at": iso_local(message.created_at),
        "delivered_at": iso_local(message.delivered_at),
    }
    for key in PAYLOAD_KEYS:
        if message.payload and message.payload.get(key):
            data[key] = message.payload[key]
    return data


def outgoing_message(data: dict) -> dict:
    """What a channel adapter receives: the content plus ``metadata`` (id, time, sender, agent)."""
    out: dict[str, Any] = {}
    if data.get("text"):
        out["text"] = data["text"]
    for key in PAYLOAD_KEYS:
        if data.get(key):
            out[key] = data[key]
    metadata: dict[str, Any] = {"message_id": data["id"], "sender": data["sender"], "created_at": data["created_at"]}
    if data.get("agent"):
        metadata["agent"] = data["agent"]
    out["metadata"] = metadata
    return out


def from_rasa(raw: dict) -> Optional[dict]:
    """Converts one message of Rasa's REST answer to the hub's message form."""
    if not isinstance(raw, dict):
        return None
    message: dict[str, Any] = {}
    if isinstance(raw.get("text"), str) and raw["text"].strip():
        message["text"] = raw["text"]
    for key in ("buttons", "quick_replies"):
        buttons = raw.get(key)
        if isinstance(buttons, list):
            cleaned = [
                {"title": str(b.get("title", "")), "payload": str(b.get("payload", b.get("title", "")))}
                for b in buttons
                if isinstance(b, dict) and b.get("title")
            ]
            if cleaned:
                message["buttons"] = cleaned
    if isinstance(raw.get("image"), str) and raw["image"]:
        message["attachment"] = {"type": "image", "payload": {"src": raw["image"]}}
    if isinstance(raw.get("attachment"), dict):
        message["attachment"] = raw["attachment"]
    if raw.get("custom") is not None:
        message["custom"] = raw["custom"]
    return message or None


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def users(self, key: str) -> int:
        """How many hold or wait for the key's lock."""
        return self._locks.get(key, (None, 0))[1]

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class TurnGate:
    """Admission of customer turns, per conversation and per gateway process: a token bucket
    (``rate_per_minute`` sustained, ``burst`` at once) and a bound on the turns waiting behind
    the one being answered (``queue``). Zero or less turns a limit off."""

    MAX_BUCKETS = 20_000  # conversations remembered; full buckets are forgotten first

    def __init__(self, rate_per_minute: float, burst: int, queue: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate_per_minute / 60.0
        self.burst = burst
        self.queue = queue
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # conversation -> (tokens, at)

    def admit(self, conversation_id: str, in_line: int) -> Optional[str]:
        """None (go ahead, one token taken) or why not: ``queue_full`` / ``rate_limited``.
        ``in_line``: turns of this conversation being answered or waiting now."""
        if self.queue > 0 and in_line > self.queue:
            return "queue_full"
        if self.rate <= 0 or self.burst <= 0:
            return None
        now = self.clock()
        tokens, at = self._buckets.get(conversation_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[conversation_id] = (tokens, now)
            return "rate_limited"
        self._buckets[conversation_id] = (tokens - 1.0, now)
        if len(self._buckets) > self.MAX_BUCKETS:
            self._forget_full(now)
        return None

    def _forget_full(self, now: float) -> None:
        full_after = self.burst / self.rate
        for key, (_, at) in list(self._buckets.items()):
            if now - at >= full_after:
                del self._buckets[key]
        while len(self._buckets) > self.MAX_BUCKETS:  # still too many: the oldest go
            del self._buckets[next(iter(self._buckets))]


class ConversationHub:
    def __init__(self, store: Store, settings: Settings, bus: Optional[EventBus] = None) -> None:
        self.store = store
        self.settings = settings
        self.bus = bus if bus is not None else EventBus()  # the app's (bot.events): where live events go
        self._channels: dict[str, ChannelAdapter] = {}
        self._processing = _KeyedLocks()
        self._delivering = _KeyedLocks()
        self._http: Optional[aiohttp.ClientSession] = None
        self.handoff: Any = None  # bot.handoff.HandoffService, set by its setup (hand-off without the bot)
        self.gate = TurnGate(getattr(settings, "chat_rate_per_minute", 30.0), getattr(settings, "chat_burst", 10),
                             getattr(settings, "chat_queue", 5))
        self._left_unanswered: dict[str, int] = {}  # conversation -> queued turns skipped (customer gone)

    # ---- wiring -------------------------------------------------------------------------
    def register_channel(self, adapter: ChannelAdapter) -> None:
        self._channels[adapter.name] = adapter

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ---- customer messages --------------------------------------------------------------
    async def handle_customer_message(
        self,
        channel: str,
        conversation_id: str,
        text: str,
        client_msg_id: Optional[str] = None,
        metadata: Optional[dict] = None,
        on_stored: Optional[Callable[[CustomerMessageResult], None]] = None,
    ) -> CustomerMessageResult:
        """Stores a customer's message once and routes it; ``on_stored`` runs right after storing."""
        # Text the store cannot keep (NUL, lone surrogates) is cleaned, not refused: the customer
        # still gets an answer (bot.text_safety).
        text = clean_text((text or "")[:MAX_TEXT_LENGTH])
        waiting_before = self._processing.users(conversation_id)
        refusal = self.gate.admit(conversation_id, waiting_before)
        if refusal is not None:
            return await self._refuse_turn(channel, conversation_id, text, client_msg_id, on_stored, refusal)
        async with self._processing.hold(conversation_id):
            stored, reopened = await self.store.run(
                self._store_customer_message, channel, conversation_id, text, client_msg_id
            )
            result = CustomerMessageResult(message=stored[0], duplicate=stored[1], state=stored[2])
            if on_stored is not None:
                on_stored(result)
            if result.duplicate:
                return result
            if reopened:
                await self.bus.publish(StateEvent(type="state", conversation_id=conversation_id, state="bot",
                                                  agent=None))
            await self.bus.publish(MessageEvent(type="message", conversation_id=conversation_id,
                                                message=result.message))
            if result.state != "bot":
                return result  # a person serves it: staff see it through the event, Rasa never does
            if waiting_before and not self._customer_present(channel, conversation_id):
                # Queued behind earlier turns and the customer has left: not run (the bot's work
                # would be for nobody); one note for all of them waits for their return. A turn
                # that queued behind nothing is run: a socket that drops right after sending (a
                # phone changing networks) must not lose the customer's request.
                await self._skip_turn(conversation_id)
                return result
            apology: Optional[str] = None
            try:
                raw_replies, intent, confidence, failed_actions = await self._ask_rasa(
                    channel, conversation_id, text, metadata)
            except RasaUnavailable as exc:
                log.warning("Rasa failed for %s: %s", conversation_id, exc)
                raw_replies, intent, confidence, apology = [], None, None, APOLOGY_TEXT
            else:
                if failed_actions:
                    log.warning("custom actions failed for %s: %s", conversation_id, failed_actions)
                    apology = ACTION_FAILED_TEXT
            replies = [reply for reply in map(from_rasa, raw_replies) if reply is not None]
            # The intent and the whole turn's replies in one transaction, then one delivery pass.
            if intent:
                result.message.update(intent=intent[:64], confidence=confidence)
            intent_update = (result.message["id"], intent, confidence) if intent else None
            if replies:
                result.replies.extend(await self._store_and_deliver_many(
                    conversation_id, replies, "bot", None, intent=intent_update))
                intent_update = None
            if apology is None and not replies \
                    and not await self.store.run(self._answered_since, conversation_id, result.message["id"]):
                # Rasa answered nothing and nobody else did (no hand-off notice, no staff): every
                # customer message gets an answer.
                log.warning("Rasa answered nothing to %s: apologising", conversation_id)
                apology = APOLOGY_TEXT
            if apology is not None and not await self._hand_off_without_bot(channel, conversation_id, text):
                result.replies.extend(await self._store_and_deliver_many(
                    conversation_id, [{"text": apology, "buttons": [HUMAN_BUTTON]}], "system", None,
                    intent=intent_update))
                intent_update = None
            if intent_update is not None:
                await self.store.run(self._set_intent, *intent_update)
            return result

    async def _refuse_turn(self, channel: str, conversation_id: str, text: str, client_msg_id: Optional[str],
                           on_stored: Optional[Callable[[CustomerMessageResult], None]],
                           refusal: str) -> CustomerMessageResult:
        """Over a limit: the message is stored (kept for staff and review) and answered politely
        at once, without waiting behind the conversation's turns and without Rasa."""
        stored, reopened = await self.store.run(
            self._store_customer_message, channel, conversation_id, text, client_msg_id)
        result = CustomerMessageResult(message=stored[0], duplicate=stored[1], state=stored[2])
        result.refused = refusal
        if on_stored is not None:
            on_stored(result)
        if result.duplicate:
            return result
        log.info("turn of %s not sent to the bot: %s", conversation_id, refusal)
        if reopened:
            await self.bus.publish(StateEvent(type="state", conversation_id=conversation_id, state="bot", agent=None))
        await self.bus.publish(MessageEvent(type="message", conversation_id=conversation_id, message=result.message))
        answer = RATE_LIMITED_TEXT if refusal == "rate_limited" else QUEUE_FULL_TEXT
        result.replies.extend(await self._store_and_deliver_many(conversation_id, [{"text": answer}], "system", None))
        return result

    def _customer_present(self, channel: str, conversation_id: str) -> bool:
        """False only when the channel knows the customer has gone (the widget's sockets closed)."""
        present = getattr(self._channels.get(channel), "is_present", None)
        return True if present is None else bool(present(conversation_id))

    async def _skip_turn(self, conversation_id: str) -> None:
        count = self._left_unanswered.get(conversation_id, 0) + 1
        if self._processing.users(conversation_id) > 1:
            self._left_unanswered[conversation_id] = count  # the last skipped turn writes the note
            return
        self._left_unanswered.pop(conversation_id, None)
        log.info("customer of %s left: %d queued turns not run", conversation_id, count)
        await self._store_and_deliver_many(conversation_id, [{"text": LEFT_TEXT.format(count=count)}], "system", None)

    async def _hand_off_without_bot(self, channel: str, conversation_id: str, text: str) -> bool:
        """The bot cannot act and the customer asks for a person: the gateway queues the hand-off
        itself (the hand-off service tells the customer). False when it cannot."""
        if self.handoff is None or text.strip().lower() not in ASKS_FOR_PERSON:
            return False
        try:
            await self.handoff.request(conversation_id, channel, "customer_request",
                                       summary="智能客服暂时无法处理，客户要求转人工")
        except Exception:
            log.exception("hand-off without the bot failed for %s", conversation_id)
            return False
        return True

    async def _ask_rasa(self, channel: str, conversation_id: str, text: str, metadata: Optional[dict]
                        ) -> tuple[list, Optional[str], Optional[float], Optional[str]]:
        """Rasa's replies, the understood intent and confidence, and the custom actions that failed."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        url = self.settings.rasa_url.rstrip("/") + "/webhooks/gateway/webhook"
        body = {"sender": conversation_id, "message": text,
                "metadata": {**(metadata or {}), "channel": channel}}
        try:
            async with self._http.post(url, json=body, headers={"Authorization": f"Bearer {self.settings.rasa_token}"},
                                       timeout=aiohttp.ClientTimeout(total=self.settings.rasa_timeout)) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"HTTP {resp.status}")
                answer = await resp.json(content_type=None)
                intent = resp.headers.get("X-Rasa-Intent")
                confidence_text = resp.headers.get("X-Rasa-Confidence")
                failed_actions = resp.headers.get(ACTION_FAILED_HEADER)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(repr(exc)) from exc
        if not isinstance(answer, list):
            raise RasaUnavailable("answer is not a list")
        try:
            confidence = float(confidence_text) if confidence_text else None
        except ValueError:
            confidence = None
        return answer, intent, confidence, failed_actions

    # ---- outgoing messages --------------------------------------------------------------
    async def push(self, conversation_id: str, message: dict, sender: str = "bot",
                   agent: Optional[str] = None) -> dict:
        """Stores and delivers a message (notification, staff reply) on the conversation's channel.

        Raises ``LookupError`` for an unknown conversation and ``ValueError`` for an empty message.
        """
        if sender not in MESSAGE_SENDERS or sender == "customer":
            raise ValueError(f"bad sender {sender!r}")
        content = {k: message[k] for k in ("text", *PAYLOAD_KEYS) if message.get(k)}
        if isinstance(content.get("text"), str):
            content["text"] = clean_text(content["text"])
            if not content["text"]:
                del content["text"]
        if not content:
            raise ValueError("empty message")
        return await self._store_and_deliver(conversation_id, content, sender, agent)

    async def _store_and_deliver(self, conversation_id: str, content: dict, sender: str,
                                 agent: Optional[str]) -> dict:
        return (await self._store_and_deliver_many(conversation_id, [content], sender, agent))[0]

    async def _store_and_deliver_many(self, conversation_id: str, contents: list[dict], sender: str,
                                      agent: Optional[str], intent: Optional[tuple] = None) -> list[dict]:
        async with self._delivering.hold(conversation_id):
            stored, channel, pending = await self.store.run(self._insert_messages, conversation_id, contents,
                                                            sender, agent, intent)
            delivered_ids = await self._flush(conversation_id, channel, pending)
        for data in stored:
            if data["id"] in delivered_ids:
                data["delivered_at"] = delivered_ids[data["id"]]
            await self.bus.publish(MessageEvent(type="message", conversation_id=conversation_id, message=data))
        return stored

    async def deliver_pending(self, conversation_id: str) -> int:
        """Delivers the conversation's pending messages in order (e.g. the customer reconnected)."""
        async with self._delivering.hold(conversation_id):
            channel, pending = await self.store.run(self._channel_and_pending, conversation_id)
            if channel is None:
                return 0
            return len(await self._flush(conversation_id, channel, pending))

    async def waiting(self, conversation_id: str) -> Optional[int]:
        """How many messages of the conversation are not delivered yet (None: unknown conversation)."""
        channel, pending = await self.store.run(self._channel_and_pending, conversation_id)
        return None if channel is None else len(pending)

    async def _flush(self, conversation_id: str, channel: str, pending: list[dict]) -> dict[int, str]:
        """Delivers pending messages oldest first, stopping at the first that cannot go now."""
        adapter = self._channels.get(channel)
        if adapter is None:
            return {}
        if getattr(adapter, "claims_delivery", False):
            return await self._flush_claimed(conversation_id, adapter, pending)
        delivered_ids: list[int] = []
        for data in pending:
            try:
                ok = await adapter.deliver(conversation_id, outgoing_message(data))
            except Exception:
                log.exception("channel %s failed to deliver message %s", channel, data["id"])
                ok = False
            if not ok:
                break
            delivered_ids.append(data["id"])
        if not delivered_ids:
            return {}
        # One transaction for the whole batch: a crash before it only means a re-delivery,
        # which clients drop by message id.
        delivered_at = await self.store.run(self._mark_delivered, delivered_ids)
        return {message_id: delivered_at for message_id in delivered_ids}

    async def _flush_claimed(self, conversation_id: str, adapter: Any, pending: list[dict]) -> dict[int, str]:
        """Delivers pending messages through a claiming adapter (``ClaimingAdapter``): only when
        the customer's socket is on this gateway, and only the messages this gateway claimed
        (another gateway may be delivering the same ones: each goes out once)."""
        if not pending or not adapter.is_present(conversation_id):
            return {}
        claimed, delivered_at = await self.store.run(self._claim_delivery, [d["id"] for d in pending])
        for data in pending:
            if data["id"] in claimed:
                try:
                    await adapter.deliver(conversation_id, outgoing_message(data))
                except Exception:  # claimed: the customer finds it in the history on reconnect
                    log.exception("channel %s failed to deliver message %s", adapter.name, data["id"])
        return {message_id: delivered_at for message_id in claimed}

    def _claim_delivery(self, message_ids: list[int]) -> tuple[set[int], str]:
        """Marks as delivered those of the messages nobody marked yet: the ones this process sends."""
        now = now_utc()
        claimed = set()
        with self.store.transaction() as conn:
            for message_id in message_ids:
                if conn.execute(_CLAIM_DELIVERY, {"mid": message_id, "now": now}).rowcount == 1:
                    claimed.add(message_id)
        return claimed, iso_local(now)

    # ---- state and queries --------------------------------------------------------------
    async def set_state(self, conversation_id: str, state: str, agent: Optional[str] = None) -> dict:
        if state not in CONVERSATION_STATES:
            raise ValueError(f"bad state {state!r}")
        info = await self.store.run(self._set_state, conversation_id, state, agent)
        await self.bus.publish(StateEvent(type="state", conversation_id=conversation_id, state=state, agent=agent))
        return info

    async def conversation(self, conversation_id: str) -> Optional[dict]:
        return await self.store.run(self._conversation_info, conversation_id)

    async def history(self, conversation_id: str, after_id: int = 0, limit: int = 200) -> list[dict]:
        """Stored messages of a conversation after ``after_id``, oldest first (at most ``limit``)."""
        return await self.store.run(self._history, conversation_id, after_id, limit)

    # ---- blocking store work (run through store.run) ------------------------------------
    def _store_customer_message(self, channel: str, conversation_id: str, text: str,
                                client_msg_id: Optional[str]) -> tuple[tuple[dict, bool, str], bool]:
        for attempt in (1, 2):
            try:
                with self.store.transaction() as conn:
                    return self._store_customer_message_in(conn, channel, conversation_id, text, client_msg_id)
            except IntegrityError:
                if attempt == 2:
                    raise  # a concurrent writer (another gateway) created it: the retry sees it
        raise AssertionError("unreachable")

    @staticmethod
    def _store_customer_message_in(conn, channel: str, conversation_id: str, text: str,
                                   client_msg_id: Optional[str]) -> tuple[tuple[dict, bool, str], bool]:
        now = now_utc()
        conversation = conn.execute(_CONVERSATION_FOR_MESSAGE, {"cid": conversation_id}).first()
        if conversation is None:
            conn.execute(_INSERT_CONVERSATION, dict(id=conversation_id, channel=channel, state="bot", tags=[],
                                                    reviewed=False, created_at=now, last_message_at=now))
            state, reopened = "bot", False
        else:
            if client_msg_id:
                existing = conn.execute(_MESSAGE_BY_CLIENT_ID,
                                        {"cid": conversation_id, "client_id": client_msg_id}).first()
                if existing is not None:
                    return (message_json(existing), True, conversation.state), False
            changes: dict[str, Any] = {"last_message_at": now}
            reopened = conversation.state == "closed"
            if reopened:  # writing again after the end starts a new bot-served exchange
                changes.update(state="bot", closed_at=None, assigned_agent=None)
            if conversation.account_no and conversation.last_message_at is not None \
                    and now - conversation.last_message_at > IDENTITY_FORGET_AFTER:
                changes["account_no"] = None
            conn.execute(_UPDATE_CONVERSATION, {"cid": conversation_id, **changes})
            state = "bot" if reopened else conversation.state
        values = dict(conversation_id=conversation_id, sender="customer", agent=None, channel=channel, text=text,
                      payload=None, client_msg_id=client_msg_id, intent=None, confidence=None, flagged=False,
                      created_at=now, delivered_at=now)
        message_id = conn.execute(_INSERT_MESSAGE, values).inserted_primary_key[0]
        return (_message_dict(message_id, values), False, state), reopened

    def _insert_messages(self, conversation_id: str, contents: list[dict], sender: str,
                         agent: Optional[str], intent: Optional[tuple] = None
                         ) -> tuple[list[dict], str, list[dict]]:
        """Stores outgoing messages in order (and, for a customer turn, the intent of the customer's
        message: ``(message_id, intent, confidence)``); returns them, the channel and every pending
        message (oldest first)."""
        with self.store.transaction() as conn:
            now = now_utc()
            key = {"cid": conversation_id, "now": now}
            if conn.dialect.full_returning:  # PostgreSQL: check, touch and read the channel at once
                channel = conn.execute(_TOUCH_CONVERSATION_RETURNING_CHANNEL, key).scalar()
            else:
                channel = conn.execute(_CONVERSATION_CHANNEL, key).scalar()
                if channel is not None:
                    conn.execute(_TOUCH_CONVERSATION, key)
            if channel is None:
                raise LookupError(f"unknown conversation {conversation_id}")
            if intent is not None:
                _set_intent_in(conn, *intent)
            stored = []
            for content in contents:  # one statement each: ids in insertion order
                values = dict(conversation_id=conversation_id, sender=sender, agent=agent, channel=channel,
                              text=content.get("text"),
                              payload={k: content[k] for k in PAYLOAD_KEYS if content.get(k)} or None,
                              client_msg_id=None, intent=None, confidence=None, flagged=False, created_at=now,
                              delivered_at=None)
                message_id = conn.execute(_INSERT_MESSAGE, values).inserted_primary_key[0]
                stored.append(_message_dict(message_id, values))
            return stored, channel, self._pending_in(conn, conversation_id)

    @staticmethod
    def _pending_in(conn, conversation_id: str) -> list[dict]:
        rows = conn.execute(_PENDING_MESSAGES, {"cid": conversation_id})
        return [message_json(row) for row in rows]

    def _mark_delivered(self, message_ids: list[int]) -> str:
        now = now_utc()
        with self.store.transaction() as conn:
            conn.execute(_MARK_DELIVERED, {"ids": list(message_ids), "now": now})
        return iso_local(now)

    def _answered_since(self, conversation_id: str, message_id: int) -> bool:
        """True when something other than the customer wrote after ``message_id`` (a hand-off
        notice, staff) or the conversation left the bot."""
        with self.store.transaction() as conn:
            if conn.execute(_ANSWER_AFTER, {"cid": conversation_id, "mid": message_id}).first() is not None:
                return True
            return conn.execute(_CONVERSATION_FOR_MESSAGE, {"cid": conversation_id}).first().state != "bot"

    def _set_intent(self, message_id: int, intent: str, confidence: Optional[float]) -> None:
        with self.store.transaction() as conn:
            _set_intent_in(conn, message_id, intent, confidence)

    def _set_state(self, conversation_id: str, state: str, agent: Optional[str]) -> dict:
        with self.store.session() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                raise LookupError(f"unknown conversation {conversation_id}")
            conversation.state = state
            if state == "human":
                conversation.assigned_agent = agent
            elif state == "bot":
                conversation.assigned_agent = None
            conversation.closed_at = now_utc() if state == "closed" else None
            return _conversation_json(conversation)

    def _channel_and_pending(self, conversation_id: str) -> tuple[Optional[str], list[dict]]:
        with self.store.transaction() as conn:
            channel = conn.execute(_CONVERSATION_CHANNEL, {"cid": conversation_id}).scalar()
            return channel, (self._pending_in(conn, conversation_id) if channel is not None else [])

    def _conversation_info(self, conversation_id: str) -> Optional[dict]:
        with self.store.transaction() as conn:
            row = conn.execute(_CONVERSATION_ROW, {"cid": conversation_id}).first()
            return _conversation_json(row) if row is not None else None

    def _history(self, conversation_id: str, after_id: int, limit: int) -> list[dict]:
        with self.store.session() as session:
            rows = session.execute(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after_id)
                .order_by(Message.id.desc())
                .limit(limit)
            ).scalars().all()
            return [message_json(m) for m in reversed(rows)]


def _set_intent_in(conn, message_id: int, intent: str, confidence: Optional[float]) -> None:
    conn.execute(_SET_INTENT, {"mid": message_id, "new_intent": intent[:64], "new_confidence": confidence})


def _message_dict(message_id: int, values: dict) -> dict:
    """``message_json`` of a message just inserted with these column values."""
    return message_json(SimpleNamespace(id=message_id, flag_intent=None, **values))


def _conversation_json(conversation: Any) -> dict:
    """A conversation (ORM object or Core row of ``conversations``) as the hub answers it."""
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "state": conversation.state,
        "assigned_agent": conversation.assigned_agent,
        "account_no": conversation.account_no,
        "created_at": iso_local(conversation.created_at),
        "last_message_at": iso_local(conversation.last_message_at),
    }


HUB = web.AppKey("hub", ConversationHub)  # the gateway's conversation hub on its app


def setup(app: web.Application) -> None:
    hub = ConversationHub(app[STORE], app[SETTINGS], bus_of(app))
    app[HUB] = hub

    async def close_hub(app: web.Application) -> None:
        await hub.close()

    app.on_cleanup.append(close_hub)  # type: ignore[arg-type]  # aiohttp 3.9's signal types predate aiosignal 1.4
