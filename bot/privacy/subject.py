"""A customer's personal data: find it, export it, delete or anonymise it (PIPL arts. 45, 47).

A *subject* is an account (户号) or a channel identity (a conversation id such as
``wechat:<OpenID>`` or a web session id). For an account it covers the conversations linked
to the account and those its tickets were opened in.

Deletion keeps what the utility must keep: tickets stay (service records, response-time
statistics) with their personal fields removed; bills and the supply account itself are the
marketing system's contract records (re-imported from it) and are anonymised only when asked
(``include_account``). Rasa's copy of the conversations (its tracker store's ``events``
table, ``TRACKER_DATABASE_URL``) is deleted with them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import or_, select, update, delete
from sqlalchemy.orm import Session

from bot.store.models import (
    ConversationNote,
    SearchTerm,
    Bill, Conversation, Customer, Handoff, Message, SurveyAnswer, Ticket,
)
from bot import vocabulary
from bot.store.types import iso_local, now_utc

ERASED = "（个人信息已删除）"
# Ticket details that describe the request, not the person: kept on deletion.
NON_PERSONAL_DETAILS = ("hazard", "fault_kind", "business_type", "source", "rating", "category")


@dataclass(frozen=True)
class Subject:
    account_no: str | None = None
    conversation_id: str | None = None

    def __post_init__(self) -> None:
        if bool(self.account_no) == bool(self.conversation_id):
            raise ValueError("name exactly one of account_no and conversation_id")

    @property
    def kind(self) -> str:
        return "account" if self.account_no else "conversation"

    @property
    def id(self) -> str:
        return self.account_no or self.conversation_id or ""


def conversation_ids(session: Session, subject: Subject) -> list[str]:
    if subject.conversation_id:
        found = session.get(Conversation, subject.conversation_id)
        return [found.id] if found is not None else []
    linked = set(session.execute(select(Conversation.id).where(
        Conversation.account_no == subject.account_no)).scalars())
    linked |= {cid for cid in session.execute(select(Ticket.conversation_id).where(
        Ticket.account_no == subject.account_no, Ticket.conversation_id.is_not(None))).scalars()}
    existing = set(session.execute(select(Conversation.id).where(Conversation.id.in_(linked))).scalars()) if linked else set()
    return sorted(existing)


def _tickets(session: Session, subject: Subject, cids: list[str]) -> list[Ticket]:
    conds = []
    if subject.account_no:
        conds.append(Ticket.account_no == subject.account_no)
    if cids:
        conds.append(Ticket.conversation_id.in_(cids))
    if not conds:
        return []
    return list(session.execute(select(Ticket).where(or_(*conds)).order_by(Ticket.id)).scalars())


def collect(session: Session, subject: Subject) -> dict[str, Any]:
    """Everything held about the subject, as JSON-ready data (the export)."""
    cids = conversation_ids(session, subject)
    customer = None
    bills: list[dict] = []
    if subject.account_no:
        c = session.execute(select(Customer).where(Customer.account_no == subject.account_no)).scalar_one_or_none()
        if c is not None:
            customer = {"account_no": c.account_no, "name": c.name, "phone": c.phone, "address": c.address,
                        "area_type": c.area_type, "customer_type": c.customer_type}
            bills = [{"period": b.period, "kwh": b.kwh, "amount": str(b.amount), "due_date": b.due_date.isoformat(),
                      "status": b.status, "paid_at": iso_local(b.paid_at)}
                     for b in session.execute(select(Bill).where(Bill.account_no == subject.account_no)
                                              .order_by(Bill.period)).scalars()]
    conversations = []
    for cid in cids:
        conv = session.get(Conversation, cid)
        messages = [{"at": iso_local(m.created_at), "sender": m.sender, "agent": m.agent, "text": m.text}
                    for m in session.execute(select(Message).where(Message.conversation_id == cid)
                                             .order_by(Message.id)).scalars()]
        handoffs = [{"created_at": iso_local(h.created_at), "reason": h.reason, "status": h.status,
                     "agent": h.agent, "summary": h.summary}
                    for h in session.execute(select(Handoff).where(Handoff.conversation_id == cid)
                                             .order_by(Handoff.id)).scalars()]
        surveys = [{"at": iso_local(s.created_at), "rating": s.rating, "comment": s.comment, "ticket_no": s.ticket_no}
                   for s in session.execute(select(SurveyAnswer).where(SurveyAnswer.conversation_id == cid)
                                            .order_by(SurveyAnswer.id)).scalars()]
        # Staff notes about the conversation are personal data too (PIPL access right).
        staff_notes = [{"at": iso_local(n.created_at), "kind": n.kind, "author": n.author, "text": n.text}
                       for n in session.execute(select(ConversationNote).where(ConversationNote.conversation_id == cid)
                                                .order_by(ConversationNote.id)).scalars()]
        conversations.append({"id": conv.id, "channel": conv.channel, "account_no": conv.account_no,
                              "created_at": iso_local(conv.created_at),
                              "last_message_at": iso_local(conv.last_message_at), "note": conv.note,
                              "tags": conv.tags or [], "satisfaction": conv.satisfaction,
                              "messages": messages, "handoffs": handoffs, "surveys": surveys,
                              "staff_notes": staff_notes})
    tickets = [{"ticket_no": t.ticket_no, "type": t.type, "status": t.status, "account_no": t.account_no,
                "conversation_id": t.conversation_id, "summary": t.summary, "details": t.details or {},
                "contact_name": t.contact_name, "contact_phone": t.contact_phone,
                "created_at": iso_local(t.created_at), "closed_at": iso_local(t.closed_at)}
               for t in _tickets(session, subject, cids)]
    from bot.notices import bindings as notice_bindings

    return {"subject": {"kind": subject.kind, "id": subject.id}, "exported_at": iso_local(now_utc()),
            "customer": customer, "bills": bills, "conversations": conversations, "tickets": tickets,
            "notice_bindings": notice_bindings.export(session, subject.account_no, cids)}


def readable(data: dict[str, Any]) -> str:
    """The export as plain Chinese text, for the customer to read."""
    kind = {"account": "户号", "conversation": "会话（渠道身份）"}[data["subject"]["kind"]]
    lines = [f"个人信息查阅副本 — {kind} {data['subject']['id']}", f"导出时间：{data['exported_at']}", ""]
    c = data.get("customer")
    if c:
        lines += ["【用电户信息】", f"户号：{c['account_no']}", f"户名：{c['name']}", f"联系电话：{c['phone']}",
                  f"用电地址：{c['address']}", ""]
    if data.get("bills"):
        lines.append(f"【电费账单】共 {len(data['bills'])} 期")
        lines += [f"{b['period']}：{b['kwh']} 度，{b['amount']} 元，{b['status']}" for b in data["bills"]]
        lines.append("")
    for conv in data.get("conversations", []):
        lines.append(f"【会话 {conv['id']}】渠道 {conv['channel']}，开始于 {conv['created_at']}")
        names = {"customer": "您", "bot": "智能客服", "staff": "人工客服", "system": "系统"}
        lines += [f"{m['at']} {names.get(m['sender'], m['sender'])}：{m['text'] or ''}" for m in conv["messages"]]
        lines.append("")
    if data.get("notice_bindings"):
        lines.append("【通知绑定】")
        for b in data["notice_bindings"]:
            state = f"已于 {b['unbound_at']} 解绑" if b.get("unbound_at") else "绑定中"
            off = [vocabulary.NOTICE_KINDS.get(k, k) for k, on in (b.get("subscriptions") or {}).items() if not on]
            lines.append(f"户号 {b['account_no']}，渠道 {b['channel']}，{b['created_at']} 绑定，{state}"
                         + (f"，已退订：{'、'.join(off)}" if off else ""))
        lines.append("")
    if data.get("tickets"):
        lines.append("【工单】")
        lines += [f"{t['ticket_no']}（{t['type']}，{t['status']}）{t['created_at']}：{t['summary']}" for t in data["tickets"]]
    return "\n".join(lines).rstrip() + "\n"


def _tracker_engine() -> sa.engine.Engine | None:
    url = os.environ.get("TRACKER_DATABASE_URL", "").strip()
    return sa.create_engine(url, future=True) if url else None


def delete_tracker_events(sender_ids: list[str] | None = None, before_timestamp: float | None = None,
                          count_only: bool = False) -> int:
    """Deletes (or counts) Rasa's stored events (its SQL tracker store's ``events`` table)."""
    engine = _tracker_engine()
    if engine is None:
        return 0
    try:
        if not sa.inspect(engine).has_table("events"):
            return 0
        events = sa.Table("events", sa.MetaData(), autoload_with=engine)
        conditions = []
        if sender_ids is not None:
            if not sender_ids:
                return 0
            conditions.append(events.c.sender_id.in_(sender_ids))
        if before_timestamp is not None:
            conditions.append(events.c.timestamp < before_timestamp)
        with engine.begin() as connection:
            if count_only:
                return connection.execute(sa.select(sa.func.count()).select_from(events)
                                          .where(*conditions)).scalar_one()
            return connection.execute(events.delete().where(*conditions)).rowcount or 0
    finally:
        engine.dispose()


def anonymise_ticket(ticket: Ticket, now) -> None:
    details = ticket.details or {}
    kept = {k: v for k, v in details.items() if k in NON_PERSONAL_DETAILS}
    kept["erased_at"] = iso_local(now)
    ticket.details = kept
    ticket.summary = ERASED
    ticket.contact_name = None
    ticket.contact_phone = None
    ticket.account_no = None
    ticket.conversation_id = None
    for event in ticket.events:
        data = event.data or {}
        if data:
            event.data = {k: v for k, v in data.items() if k in ("status", "from", "to", "priority", "channel", "milestone", "rule", "name")}


def erase(session: Session, subject: Subject, *, include_account: bool = False) -> dict[str, int]:
    """Deletes the subject's conversations' contents and anonymises what must be kept."""
    now = now_utc()
    cids = conversation_ids(session, subject)
    counts = {"messages": 0, "conversations": len(cids), "handoffs": 0, "surveys": 0, "tickets": 0,
              "customer": 0, "tracker_events": 0}
    tickets = _tickets(session, subject, cids)
    for ticket in tickets:
        anonymise_ticket(ticket, now)
    counts["tickets"] = len(tickets)
    if tickets:  # the search index must not keep the words of an erased summary
        session.execute(delete(SearchTerm).where(SearchTerm.kind == "t",
                                                 SearchTerm.ref.in_([t.id for t in tickets]))
                        .execution_options(synchronize_session=False))
    if cids:
        message_ids = select(Message.id).where(Message.conversation_id.in_(cids))
        session.execute(delete(SearchTerm).where(SearchTerm.kind == "m", SearchTerm.ref.in_(message_ids))
                        .execution_options(synchronize_session=False))
        counts["messages"] = session.execute(delete(Message).where(Message.conversation_id.in_(cids))).rowcount or 0
        # Staff notes about the customer go with the conversation's contents.
        counts["notes"] = session.execute(delete(ConversationNote).where(
            ConversationNote.conversation_id.in_(cids))).rowcount or 0
        counts["handoffs"] = session.execute(update(Handoff).where(Handoff.conversation_id.in_(cids))
                                             .values(summary=None)).rowcount or 0
        counts["surveys"] = session.execute(update(SurveyAnswer).where(SurveyAnswer.conversation_id.in_(cids))
                                            .values(comment=None)).rowcount or 0
        session.execute(update(Conversation).where(Conversation.id.in_(cids))
                        .values(account_no=None, note=None, tags=[]))
    if subject.account_no and include_account:
        session.execute(delete(SearchTerm).where(SearchTerm.kind == "c", SearchTerm.ref.in_(
            select(Customer.id).where(Customer.account_no == subject.account_no)))
            .execution_options(synchronize_session=False))
        counts["customer"] = session.execute(update(Customer).where(Customer.account_no == subject.account_no)
                                             .values(name="（已删除）", phone="00000000000",
                                                     address="（已删除）")).rowcount or 0
    from bot.notices import bindings as notice_bindings

    # A channel identity bound for notices is personal data too: the bindings of the erased
    # conversations end (and every binding of an erased account).
    counts["notice_bindings"] = notice_bindings.erase(
        session, subject.account_no if include_account else None, cids, now=now)
    session.flush()
    counts["tracker_events"] = delete_tracker_events(sender_ids=cids)
    return counts


def summary(data: dict[str, Any]) -> dict[str, int]:
    return {"conversations": len(data["conversations"]),
            "messages": sum(len(c["messages"]) for c in data["conversations"]),
            "tickets": len(data["tickets"]), "bills": len(data["bills"]),
            "customer": 1 if data["customer"] else 0}
