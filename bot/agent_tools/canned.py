"""Quick replies (快捷回复): kept by supervisors, found by agents typing "/" in the reply box.

A reply's body may hold variables, filled on the server when the reply is sent (single pass,
so a value is never read as a variable again; the text stays plain text, escaped wherever it
is shown — console templates and the widget render text, never HTML):

- ``{{姓名}}``: the verified customer's name (the customer reads their own name; agents see
  it masked in the preview and in the transcript), else 客户;
- ``{{手机}}``: the registered phone, always masked (138****0001);
- ``{{户号}}``: the account number; ``{{坐席}}``: the agent's display name.

The reply box keeps the variables as typed; the popup shows a preview with the values the
viewer may see (masked names for agents).
"""
from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.masking import mask_name, mask_phone
from bot.store.models import CannedReply, Conversation, Customer
from bot.store.types import now_utc

VARIABLES = ("姓名", "手机", "户号", "坐席")
_VARIABLE = re.compile(r"\{\{\s*(姓名|手机|户号|坐席)\s*\}\}")
SHORTCUT_RE = re.compile(r"^[0-9A-Za-z_\-\u4e00-\u9fff]{1,32}$")
MAX_BODY = 2000


class CannedError(ValueError):
    """A refused change; the message is shown to the supervisor."""


def replies(session: Session) -> list[dict]:
    return [{"id": c.id, "shortcut": c.shortcut, "title": c.title, "body": c.body,
             "updated_by": c.updated_by, "updated_at": c.updated_at}
            for c in session.execute(select(CannedReply).order_by(CannedReply.shortcut)).scalars()]


def save(session: Session, shortcut: str, title: str, body: str, *, actor: str, reply_id: int | None = None) -> dict:
    shortcut = (shortcut or "").strip().lstrip("/")
    title = (title or "").strip()
    body = (body or "").strip()
    if not SHORTCUT_RE.match(shortcut):
        raise CannedError("快捷指令需为 1-32 个汉字、字母、数字、下划线或连字符。")
    if not title or len(title) > 64:
        raise CannedError("标题需为 1-64 个字符。")
    if not body or len(body) > MAX_BODY:
        raise CannedError(f"回复内容需为 1-{MAX_BODY} 个字符。")
    unknown = {m.group(1) for m in re.finditer(r"\{\{\s*([^{}]*?)\s*\}\}", body)} - set(VARIABLES)
    if unknown:
        raise CannedError("不认识的变量：" + "、".join(sorted(unknown)) + "（可用：" + "、".join(VARIABLES) + "）")
    same = session.execute(select(CannedReply).where(CannedReply.shortcut == shortcut)).scalar_one_or_none()
    if reply_id is not None:
        reply = session.get(CannedReply, reply_id)
        if reply is None:
            raise LookupError(reply_id)
        if same is not None and same.id != reply.id:
            raise CannedError(f"快捷指令 /{shortcut} 已被使用。")
    else:
        reply = same or CannedReply()
        if same is None:
            session.add(reply)
    reply.shortcut, reply.title, reply.body = shortcut, title, body
    reply.updated_by, reply.updated_at = actor, now_utc()
    session.flush()
    return {"id": reply.id, "shortcut": reply.shortcut}


def remove(session: Session, reply_id: int) -> bool:
    return (session.execute(delete(CannedReply).where(CannedReply.id == reply_id)).rowcount or 0) == 1


def values_for(session: Session, conversation_id: str, agent_name: str, *, for_agent_view: bool) -> dict[str, str]:
    """The variables' values for a conversation; ``for_agent_view`` masks the name (preview)."""
    conv = session.get(Conversation, conversation_id)
    customer = None
    if conv is not None and conv.account_no:
        customer = session.execute(select(Customer).where(Customer.account_no == conv.account_no)).scalar_one_or_none()
    name = customer.name if customer else "客户"
    if customer and for_agent_view:
        name = mask_name(customer.name)
    return {"姓名": name, "手机": mask_phone(customer.phone) if customer else "",
            "户号": customer.account_no if customer else "", "坐席": agent_name}


def fill(text: str, values: dict[str, str]) -> str:
    """Replaces every variable in one pass (a value is never read as a variable)."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1), ""), text)


def for_conversation(session: Session, conversation_id: str, agent_name: str, *, for_agent_view: bool) -> list[dict]:
    """What the "/" popup lists: shortcut, title, the body with its variables, and a preview."""
    values = values_for(session, conversation_id, agent_name, for_agent_view=for_agent_view)
    return [{"shortcut": r["shortcut"], "title": r["title"], "body": r["body"], "preview": fill(r["body"], values)}
            for r in replies(session)]
