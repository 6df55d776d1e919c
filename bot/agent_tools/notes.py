"""Staff-only entries of a conversation, and labels from the supervisors' list.

Private notes live in ``conversation_notes``, never in ``messages``: the hub delivers, syncs
(widget history) and hands to Rasa only messages, so a note cannot reach the customer on any
channel. The console shows notes, transfers and label changes inside the transcript, to staff.

Labels: supervisors keep the list (``labels``); staff put list labels on any conversation at
any time (stored by name in ``Conversation.tags``, as the close form and the review filter
already use them). Tags that are not on the list (free text of earlier versions) are kept.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Conversation, ConversationNote, Label
from bot.store.types import now_utc

MAX_NOTE = 2000
LABEL_RE = re.compile(r"^[^\s,，<>\"'&]{1,32}$")


class NoteError(ValueError):
    """A refused change; the message is shown to staff."""


def add_note(session: Session, conversation_id: str, author: str, text: str, *, kind: str = "note",
             data: dict | None = None) -> dict:
    text = (text or "").strip()
    if not text:
        raise NoteError("备注内容不能为空。")
    if len(text) > MAX_NOTE:
        raise NoteError(f"备注内容过长（最多 {MAX_NOTE} 字）。")
    if session.get(Conversation, conversation_id) is None:
        raise LookupError(conversation_id)
    note = ConversationNote(conversation_id=conversation_id, kind=kind, author=author, text=text,
                            data=data or {}, created_at=now_utc())
    session.add(note)
    session.flush()
    return note_json(note)


def note_json(n: ConversationNote) -> dict:
    return {"id": n.id, "kind": n.kind, "author": n.author, "text": n.text, "data": n.data or {},
            "created_at": n.created_at}


def notes_of(session: Session, conversation_id: str) -> list[dict]:
    return [note_json(n) for n in session.execute(
        select(ConversationNote).where(ConversationNote.conversation_id == conversation_id)
        .order_by(ConversationNote.id)).scalars()]


# ---------------------------------------------------------------- the label list

def label_list(session: Session, active_only: bool = False) -> list[dict]:
    query = select(Label).order_by(Label.name)
    if active_only:
        query = query.where(Label.active.is_(True))
    return [{"id": label.id, "name": label.name, "description": label.description or "", "active": label.active}
            for label in session.execute(query).scalars()]


def save_label(session: Session, name: str, description: str = "") -> dict:
    name = (name or "").strip()
    if not LABEL_RE.match(name):
        raise NoteError("标签名需为 1-32 个字符，不含空格、逗号和引号。")
    label = session.execute(select(Label).where(Label.name == name)).scalar_one_or_none()
    if label is None:
        label = Label(name=name, created_at=now_utc())
        session.add(label)
    label.description = (description or "").strip()[:255] or None
    label.active = True
    session.flush()
    return {"id": label.id, "name": label.name}


def set_label_active(session: Session, label_id: int, active: bool) -> bool:
    label = session.get(Label, label_id)
    if label is None:
        return False
    label.active = active
    return True


def allowed_labels(session: Session, chosen: list[str]) -> list[str]:
    """The chosen names that are active labels of the list, in the list's order."""
    names = [label["name"] for label in label_list(session, active_only=True)]
    wanted = set(chosen)
    return [n for n in names if n in wanted]


def set_conversation_labels(session: Session, conversation_id: str, chosen: list[str], author: str) -> dict | None:
    """Replaces the conversation's list labels by ``chosen`` (list labels only; other tags kept);
    records the change as a staff-only entry. None when nothing changed."""
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise LookupError(conversation_id)
    listed = {label["name"] for label in label_list(session)}
    chosen_ok = allowed_labels(session, chosen)
    current = list(conv.tags or [])
    # Inactive list labels already on the conversation stay unless unticked (they are shown ticked).
    keep_inactive = [t for t in current if t in listed and t in chosen and t not in chosen_ok]
    new = [t for t in current if t not in listed] + chosen_ok + keep_inactive
    new = list(dict.fromkeys(new))
    added = [t for t in new if t not in current]
    removed = [t for t in current if t not in new]
    if not added and not removed:
        return None
    conv.tags = new
    parts = []
    if added:
        parts.append("添加标签：" + "、".join(added))
    if removed:
        parts.append("移除标签：" + "、".join(removed))
    return add_note(session, conversation_id, author, "；".join(parts), kind="labels",
                    data={"added": added, "removed": removed})
