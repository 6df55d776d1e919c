"""The audit log of staff access to customers' personal data.

Recorded: a conversation or ticket page (or its JSON) opened, a customer's data exported or
deleted, the retention job; also a supervisor's change of the notice settings and an ad-hoc
notice sent to the customers of an area (bot/notices/console.py). ``unmasked`` says whether
full phone numbers were shown (the supervisor role sees them). The console only reads this
log; nothing edits it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import AuditEntry
from bot.store.types import now_utc

ACTIONS = {
    "view_conversation": "查看会话",
    "view_ticket": "查看工单",
    "view_customer": "查看客户档案",
    "export_subject": "导出个人信息",
    "erase_subject": "删除个人信息",
    "retention_run": "到期清理",
    # The dashboard's CSV/Excel report quotes customers' words (misunderstood messages, comments).
    "export_report": "导出服务报表",
    # Customers' own acts on their account (actor "customer", client = the conversation id).
    "bind_notices": "绑定通知渠道",
    "unbind_notices": "解绑通知渠道",
    "change_notice_subscription": "变更通知订阅",
    "view_notice_bindings": "查看通知订阅",
    "view_usage_chart": "查看用电图",
    # Notices (issue 19): a supervisor changed the engine's settings or wrote to customers of an area.
    "change_notice_settings": "修改通知设置",
    "send_adhoc_notice": "发送紧急通知",
}


def record(session: Session, *, actor: str, actor_role: str, action: str, subject_kind: str,
           subject_id: str, unmasked: bool = False, client: str | None = None,
           detail: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEntry:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = AuditEntry(at=at or now_utc(), actor=actor[:64], actor_role=actor_role[:16], action=action,
                       subject_kind=subject_kind[:16], subject_id=str(subject_id)[:128], unmasked=unmasked,
                       client=(client or None) and client[:64], detail=detail or {})
    session.add(entry)
    session.flush()
    return entry


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    from bot.store.types import iso_local

    return {"id": entry.id, "at": iso_local(entry.at), "actor": entry.actor, "actor_role": entry.actor_role,
            "action": entry.action, "subject_kind": entry.subject_kind, "subject_id": entry.subject_id,
            "unmasked": entry.unmasked, "client": entry.client, "detail": entry.detail or {}}


def search(session: Session, *, actor: str = "", subject: str = "", action: str = "",
           limit: int = 200, offset: int = 0) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if subject:
        query = query.where(AuditEntry.subject_id == subject)
    if action:
        query = query.where(AuditEntry.action == action)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(session.execute(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).scalars())
    return rows, total
