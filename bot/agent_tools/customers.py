"""The customer page (客户档案) by 户号: the account and every conversation and ticket of it.

A conversation belongs to the account when it was verified for it (``Conversation.account_no``)
or when one of the account's tickets was opened in it (the account may have been replaced by a
later check in the same conversation). Newest first, bounded (``LIMIT`` of each).
"""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.console.queries import _customer, milestone_rows
from bot.store.models import Conversation, Message, Ticket

LIMIT = 200


def customer_history(session: Session, account_no: str) -> dict | None:
    customer = _customer(session, account_no)
    tickets = list(session.execute(select(Ticket).where(Ticket.account_no == account_no)
                                   .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(LIMIT)).scalars())
    if customer is None and not tickets:
        known = session.execute(select(Conversation.id).where(Conversation.account_no == account_no).limit(1)).first()
        if known is None:
            return None
    ticket_cids = {t.conversation_id for t in tickets if t.conversation_id}
    conds = [Conversation.account_no == account_no]
    if ticket_cids:
        conds.append(Conversation.id.in_(ticket_cids))
    conversations = list(session.execute(select(Conversation).where(or_(*conds))
                                         .order_by(Conversation.created_at.desc()).limit(LIMIT)).scalars())
    counts = {}
    firsts = {}
    if conversations:
        ids = [c.id for c in conversations]
        counts = dict(session.execute(select(Message.conversation_id, func.count())
                                      .where(Message.conversation_id.in_(ids))
                                      .group_by(Message.conversation_id)).all())
        first_ids = select(func.min(Message.id)).where(Message.conversation_id.in_(ids),
                                                       Message.sender == "customer") \
            .group_by(Message.conversation_id)
        firsts = dict(session.execute(select(Message.conversation_id, Message.text)
                                      .where(Message.id.in_(first_ids))).all())
    return {
        "account_no": account_no,
        "customer": customer,
        "conversations": [{"id": c.id, "channel": c.channel, "state": c.state, "created_at": c.created_at,
                           "last_message_at": c.last_message_at, "tags": c.tags or [],
                           "assigned_agent": c.assigned_agent, "messages": counts.get(c.id, 0),
                           "first_text": firsts.get(c.id) or "", "satisfaction": c.satisfaction}
                          for c in conversations],
        "tickets": [{"ticket_no": t.ticket_no, "type": t.type, "status": t.status, "priority": t.priority,
                     "summary": t.summary, "created_at": t.created_at, "assignee": t.assignee,
                     "conversation_id": t.conversation_id, "milestones": milestone_rows(t.milestones)}
                    for t in tickets],
    }
