"""Keeping the customer informed on their own channel as their ticket moves.

``notify_ticket_status(app, ticket_no, status)`` is called after a successful status
change (REST API, console). When the ticket came from a conversation it pushes a short
Chinese message there through the hub — accepted, crew dispatched, crew arrived, resolved —
with the next committed time, and after resolution a satisfaction follow-up (回访) with
three buttons whose payload the assistant understands (``/rate_service{"rating": ...}``);
the assistant's action stores the answer through ``POST /api/v1/surveys``.

Each (ticket, status) is announced once: the notice is claimed in the same transaction that
reads the ticket — a ticket event and a row of the notice engine's delivery log
(``notice_deliveries``, kind ``ticket_status``, event ``<ticket_no>:<status>``, no binding: the
recipient is the conversation the ticket came from, which need not be a bound channel; a
partial unique key makes it one row per ticket event and conversation even with several
gateways). The gateway that claimed it sends it at once (``engine.send_claimed``, holding the
row's lease); when the channel fails (a WeChat or WeCom API error leaves the message waiting in
the conversation), the row is ``failed`` and the engine's rounds retry it with back-off like any
notice, and the console's delivery figures and failures show it.
It is the notice kind ``ticket_status`` of the proactive notices: nothing is said while a
supervisor has that kind switched off; customers cannot opt out of it (a request of their
own), and it is not held by quiet hours (it answers what the customer asked for).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from bot import vocabulary
from bot.conversations import HUB
from bot.notices import engine as notice_engine
from bot.notices import settings as notice_settings
from bot.store import STORE
from bot.store.models import Conversation, NoticeDelivery, Ticket, TicketEvent
from bot.store.types import SHANGHAI, now_utc

log = logging.getLogger(__name__)

NOTIFIED_STATUSES = ("accepted", "dispatched", "arrived", "resolved")
# How each milestone reads as a promise to the customer ({when} is the deadline).
PROMISES = {
    "抢修人员到达现场": "抢修人员将在{when}前到达现场",
    "恢复送电": "预计{when}前恢复送电",
    "联系客户": "工作人员将在{when}前与您联系",
    "处理意见答复": "我们将在{when}前答复您处理意见",
    "答复客户": "我们将在{when}前给您答复",
    "勘察": "工作人员将在{when}前上门勘察",
    "供电方案答复": "供电方案将在{when}前答复您",
    "装表接电": "预计{when}前完成装表接电",
    "业务办结": "预计{when}前办结",
    "恢复供电": "将在{when}前为您恢复供电",
    "回电联系客户": "客服人员将在{when}前给您回电",
}
RATINGS = (("满意", "satisfied"), ("一般", "neutral"), ("不满意", "dissatisfied"))
SURVEY_TEXT = "为了把服务做得更好，想请您对本次服务做个评价："


KIND = "ticket_status"


@dataclass(frozen=True)
class Notice:
    conversation_id: str
    messages: list[dict]
    delivery_id: int | None = None  # the claim in the delivery log


def describe_time(due: datetime, now: datetime) -> str:
    """今天 15:30 / 明天 09:00 / 12月8日 17:30 (Asia/Shanghai)."""
    due_local, today = due.astimezone(SHANGHAI), now.astimezone(SHANGHAI).date()
    clock = due_local.strftime("%H:%M")
    if due_local.date() == today:
        return f"今天{clock}"
    if due_local.date() == today + timedelta(days=1):
        return f"明天{clock}"
    if due_local.year != today.year:
        return f"{due_local.year}年{due_local.month}月{due_local.day}日{clock}"
    return f"{due_local.month}月{due_local.day}日{clock}"


def _promise(ticket: Ticket, now: datetime, names: tuple[str, ...] | None = None) -> str:
    """The next open milestone (other than 受理) as a promise, or ''."""
    for milestone in sorted(ticket.milestones, key=lambda m: m.due_at):
        if milestone.met_at is not None or milestone.name == "受理":
            continue
        if names is not None and milestone.name not in names:
            continue
        template = PROMISES.get(milestone.name, "“" + milestone.name + "”将在{when}前完成")
        return template.format(when=describe_time(milestone.due_at, now)) + "。"
    return ""


def compose(ticket: Ticket, status: str, now: datetime) -> list[dict]:
    """The messages that tell the customer about ``status`` (empty: nothing to say)."""
    number = ticket.ticket_no
    kind = vocabulary.ticket_type_name(ticket.type, "服务")
    if status == "accepted":
        if ticket.type == "praise":
            return [{"text": f"感谢您的表扬（工单号 {number}），我们已转达给相关同事。"}]
        return [{"text": f"您的{kind}工单（{number}）已受理。{_promise(ticket, now)}".strip()}]
    if status == "dispatched":
        if ticket.type == "repair":
            text = f"抢修人员已出发，正赶往现场（工单号 {number}）。{_promise(ticket, now, ('抢修人员到达现场',))}"
        else:
            text = f"您的{kind}工单（{number}）已派发给工作人员处理。{_promise(ticket, now)}"
        return [{"text": text.strip()}]
    if status == "arrived":
        if ticket.type == "repair":
            text = f"抢修人员已到达现场，正在抢修（工单号 {number}）。{_promise(ticket, now, ('恢复送电',))}"
        else:
            text = f"工作人员已到达现场（工单号 {number}）。{_promise(ticket, now)}"
        return [{"text": text.strip()}]
    if status == "resolved":
        if ticket.type == "repair":
            text = f"您报修的故障已处理完毕，供电已恢复（工单号 {number}）。如仍有问题，请随时告诉我。"
        else:
            text = f"您的{kind}工单（{number}）已办结。如仍有问题，请随时告诉我。"
        return [{"text": text}, survey_message(number)]
    return []


def survey_message(ticket_no: str | None = None) -> dict:
    """The 回访 question with 满意/一般/不满意 buttons (``/rate_service{...}`` payloads)."""
    def payload(rating: str) -> str:
        entities = {"rating": rating, **({"ticket_no": ticket_no} if ticket_no else {})}
        return "/rate_service" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))

    return {"text": SURVEY_TEXT, "buttons": [{"title": title, "payload": payload(rating)}
                                            for title, rating in RATINGS]}


def claim_notice(session: Session, ticket_no: str, status: str, now: datetime) -> Notice | None:
    """Records that the customer is told about ``status`` and returns what to tell them.

    None when the ticket has no conversation, is not in ``status`` any more, there is
    nothing to say, or the notice was already claimed.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # Take SQLite's write lock before reading (a second gateway's claim waits here instead of
        # failing to upgrade its read to a write): the lock PostgreSQL's FOR UPDATE gives below.
        session.execute(text("UPDATE notice_deliveries SET status = status WHERE 1 = 0"))
    ticket = session.execute(
        select(Ticket).where(Ticket.ticket_no == ticket_no).with_for_update()
    ).scalar_one_or_none()
    if ticket is None or not ticket.conversation_id or ticket.status != status:
        return None
    if not notice_settings.kind_enabled(notice_settings.load(session), "ticket_status"):
        return None  # a supervisor switched 工单进度通知 off (console 主动通知)
    earlier = session.execute(
        select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id,
                                       TicketEvent.kind == "customer_notified")
    ).scalars()
    if any((data or {}).get("status") == status for data in earlier):
        return None
    ticket = session.execute(select(Ticket).where(Ticket.id == ticket.id)
                             .options(selectinload(Ticket.milestones))).scalar_one()
    messages = compose(ticket, status, now)
    if not messages:
        return None
    delivery_id = _claim_delivery(session, dialect, ticket, status, messages, now)
    if delivery_id is None:
        return None
    session.add(TicketEvent(ticket_id=ticket.id, at=now, actor="system", kind="customer_notified",
                            data={"status": status, "conversation_id": ticket.conversation_id,
                                  "survey": any("buttons" in m for m in messages)}))
    return Notice(ticket.conversation_id, messages, delivery_id)


def _claim_delivery(session: Session, dialect: str, ticket: Ticket, status: str, messages: list[dict],
                    now: datetime) -> int | None:
    """Inserts the delivery-log row of the notice (``None``: another gateway has it). The row is
    leased to this process (``next_attempt_at`` a lease ahead): the rounds leave it alone unless
    this process dies before recording the outcome."""
    conversation_id = ticket.conversation_id
    channel = session.execute(select(Conversation.channel).where(Conversation.id == conversation_id)
                              ).scalar_one_or_none()
    row = {"kind": KIND, "event_key": f"{ticket.ticket_no}:{status}", "binding_id": None,
           "conversation_id": conversation_id, "account_no": ticket.account_no,
           "channel": channel or ticket.channel or "web", "urgent": True,
           "payload": {"text": messages[0].get("text") or "", "messages": messages, "ticket_no": ticket.ticket_no},
           "status": "pending", "attempts": 0, "next_attempt_at": now + notice_engine.LEASE, "last_error": None,
           "adhoc_id": None, "created_at": now, "sent_at": None}
    table = NoticeDelivery.__table__
    insert = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).on_conflict_do_nothing()
    if not max(session.execute(insert, row).rowcount or 0, 0):
        return None
    return session.execute(select(NoticeDelivery.id).where(
        NoticeDelivery.kind == KIND, NoticeDelivery.event_key == row["event_key"],
        NoticeDelivery.conversation_id == conversation_id, NoticeDelivery.binding_id.is_(None))).scalar_one()


async def notify_ticket_status(app, ticket_no: str, status: str, now: datetime | None = None) -> bool:
    """Tells the customer about a status change on their own channel. True if a notice was sent.

    Never raises for the customer's channel being unavailable: the hub keeps the message
    pending and the delivery is retried (and logged) by the notice engine.
    """
    if status not in NOTIFIED_STATUSES:
        return False
    hub = app.get(HUB)
    if hub is None:
        return False
    store = app[STORE]
    now = now or now_utc()

    def _claim() -> Notice | None:
        with store.session() as session:
            return claim_notice(session, ticket_no, status, now)

    notice = await store.run(_claim)
    if notice is None or notice.delivery_id is None:
        return False
    from bot.notices.senders import ConversationSender

    result = await notice_engine.send_claimed(store, [notice.delivery_id],
                                              {notice_engine.CONVERSATION: ConversationSender(hub)}, now)
    if not result.sent:
        log.warning("ticket %s: the %s notice to %s did not go through now (retried by the notice engine)",
                    ticket_no, status, notice.conversation_id)
    return bool(result.sent)


def pending_survey_ticket(session: Session, conversation_id: str) -> str | None:
    """The ticket whose 回访 the conversation's customer is answering: the latest one asked
    and not rated yet (lets a rating that arrives without a ticket number find its ticket)."""
    rows = session.execute(
        select(Ticket.ticket_no, Ticket.satisfaction, TicketEvent.data)
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(Ticket.conversation_id == conversation_id, TicketEvent.kind == "customer_notified")
        .order_by(TicketEvent.id.desc())
    ).all()
    for ticket_no, satisfaction, data in rows:
        if (data or {}).get("survey"):
            return ticket_no if satisfaction is None else None
    return None
