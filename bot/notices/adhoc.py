"""Ad-hoc notices: a supervisor tells the customers of an area something now (an emergency outage).

- :func:`check_draft` turns the console form (area, streets/villages, text, urgent) into a
  :class:`Draft` or refuses with a message for staff (``AdhocError``);
- :func:`message_text` is the text every recipient reads (the preview shows exactly this);
- :func:`recipients` finds the bindings to send to, set-based: one query filters the candidates
  in SQL by the scope's street/village names (or the district for a whole-district notice),
  then ``bot.api.outages.covers`` (the outage notices' own rule) decides on each address.
  Recipients are bindings that are bound (not unbound), not opted out of ``adhoc``, and, for
  an SMS binding, that agreed to SMS;
- :func:`send` stores the ``AdhocNotice`` (who sent it; its ``text`` is the message as customers
  read it, so whatever later reads the notice sends the very text the preview showed) and one
  pending ``NoticeDelivery`` per recipient (kind ``adhoc``, event ``adhoc:<id>``, the payload as
  the engine's scans write it: title, text, ``expires_at`` a day later) for the notice engine to
  deliver. The form's one-time ``request_key`` is unique in the store: a double submit, also on
  another gateway, finds the notice already sent and sends nothing more.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, List, Sequence

from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import vocabulary
from bot.api.outages import KNOWN_DISTRICTS, area_district, covers, normalise
from bot.store.models import AdhocNotice, Customer, CustomerBinding, NoticeDelivery, NoticeSubscription
from bot.store.types import now_utc

KIND = "adhoc"
MAX_AREA = 128
MAX_TEXT = 300
MAX_SCOPE_ITEMS = 50
MAX_SCOPE_ITEM = 32
HOTLINE = "95598"
EXPIRES_AFTER = timedelta(hours=24)  # a delivery not made within a day is stale news: skipped
REQUEST_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_SCOPE_SPLIT = re.compile(r"[,，、;；\s]+")


class AdhocError(ValueError):
    """The form cannot be sent as it is (message for staff)."""


@dataclass(frozen=True)
class Draft:
    area: str
    scope: tuple[str, ...]
    text: str
    urgent: bool

    @property
    def scope_text(self) -> str:
        return "、".join(self.scope)


@dataclass
class Recipients:
    """Who a draft reaches: binding ids (with account and channel), counted for the preview."""

    bindings: List[tuple[int, str, str]] = field(default_factory=list)  # (binding_id, account_no, channel)
    per_channel: Dict[str, int] = field(default_factory=dict)
    per_scope: Dict[str, int] = field(default_factory=dict)  # accounts per street/village named
    candidates: int = 0  # rows the SQL filter let through (before ``covers``)

    @property
    def count(self) -> int:
        return len(self.bindings)

    @property
    def accounts(self) -> int:
        return len({account for _id, account, _channel in self.bindings})


def parse_scope(text: str) -> tuple[str, ...]:
    """Streets or villages separated by commas, 、 or spaces; duplicates dropped, order kept."""
    items: list[str] = []
    for part in _SCOPE_SPLIT.split(text or ""):
        part = normalise(part)
        if part and part not in items:
            items.append(part)
    return tuple(items)


def check_draft(area: str, scope: str, text: str, urgent: bool) -> Draft:
    area = normalise(area)
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()  # forms send CRLF
    items = parse_scope(scope)
    if not area:
        raise AdhocError("请填写区域，例如：南京市玄武区")
    if len(area) > MAX_AREA:
        raise AdhocError(f"区域最多 {MAX_AREA} 个字")
    if not text:
        raise AdhocError("请填写通知内容")
    if len(text) > MAX_TEXT:
        raise AdhocError(f"通知内容最多 {MAX_TEXT} 个字（现在 {len(text)} 个）")
    if len(items) > MAX_SCOPE_ITEMS:
        raise AdhocError(f"范围最多 {MAX_SCOPE_ITEMS} 个街道或村")
    if any(len(item) > MAX_SCOPE_ITEM for item in items):
        raise AdhocError(f"每个街道或村的名称最多 {MAX_SCOPE_ITEM} 个字，多个名称请用逗号或顿号分开")
    if not items and not _district(area):
        raise AdhocError("请填写范围（街道或村，用逗号或顿号分开）；不填范围时，区域须写明区县，通知将发给全区县")
    return Draft(area=area, scope=items, text=text, urgent=bool(urgent))


def _district(area: str) -> str | None:
    district = area_district(area)
    return district if district and (district in KNOWN_DISTRICTS or district.endswith(("区", "县"))) else None


def message_text(draft: Draft) -> str:
    """What every recipient reads, on every channel (stored as the notice's text)."""
    head = "【紧急通知】" if draft.urgent else "【供电服务通知】"
    place = draft.area + (f"（{draft.scope_text}）" if draft.scope else "全域")
    return f"{head}{draft.text}\n涉及范围：{place}\n如有疑问，请拨打 {HOTLINE} 供电服务热线。"


def recipients(session: Session, draft: Draft) -> Recipients:
    """The bindings the draft reaches: one query for the candidates, then ``covers`` per address."""
    opted_out = (select(NoticeSubscription.binding_id)
                 .where(NoticeSubscription.kind == KIND, NoticeSubscription.enabled.is_(False)))
    query = (select(CustomerBinding.id, CustomerBinding.account_no, CustomerBinding.channel, Customer.address)
             .join(Customer, Customer.account_no == CustomerBinding.account_no)
             .where(CustomerBinding.unbound_at.is_(None),
                    CustomerBinding.id.not_in(opted_out),
                    or_(CustomerBinding.channel != "sms", CustomerBinding.sms_consent.is_(True))))
    if draft.scope:
        query = query.where(or_(*(Customer.address.contains(item, autoescape=True) for item in draft.scope)))
    else:
        district = _district(draft.area)
        if district is None:
            return Recipients()
        query = query.where(Customer.address.contains(district, autoescape=True))
    found = Recipients()
    scope_accounts: dict[str, set[str]] = {item: set() for item in draft.scope}
    for binding_id, account_no, channel, address in session.execute(query.order_by(CustomerBinding.id)):
        found.candidates += 1
        if not covers(draft, address):  # type: ignore[arg-type]  # covers reads .area and .scope only
            continue
        found.bindings.append((binding_id, account_no, channel))
        flat = normalise(address)
        for item in draft.scope:
            if item in flat:
                scope_accounts[item].add(account_no)
    found.per_channel = dict(Counter(channel for _id, _account, channel in found.bindings))
    found.per_scope = {item: len(accounts) for item, accounts in scope_accounts.items()}
    return found


@dataclass(frozen=True)
class SendResult:
    notice_id: int
    recipients: int
    created: bool  # False: this form was sent before (double submit), nothing sent again


def find_sent(session: Session, request_key: str) -> SendResult | None:
    row = session.execute(select(AdhocNotice.id, AdhocNotice.recipients)
                          .where(AdhocNotice.request_key == request_key)).first()
    return SendResult(row.id, row.recipients, created=False) if row else None


def send(session: Session, draft: Draft, *, sent_by: str, request_key: str,
         now: datetime | None = None) -> SendResult:
    """Stores the notice and its pending deliveries (the caller's transaction commits); ``now``
    (default the clock) is the notice's time, its deliveries' first attempt and their expiry's start.

    Raises ``AdhocError`` when nobody would receive it, ``IntegrityError`` when another
    transaction stored the same ``request_key`` meanwhile (see :func:`send_once`)."""
    if not REQUEST_KEY.match(request_key or ""):
        raise AdhocError("表单已失效，请重新预览后再发送")
    already = find_sent(session, request_key)
    if already is not None:
        return already
    found = recipients(session, draft)
    if not found.count:
        raise AdhocError("没有符合条件的接收人（已绑定、未退订且地址在范围内），未发送")
    now = now or now_utc()
    text = message_text(draft)
    notice = AdhocNotice(area=draft.area, scope=list(draft.scope), text=text, urgent=draft.urgent,
                         sent_by=sent_by, recipients=found.count, created_at=now, request_key=request_key)
    session.add(notice)
    session.flush()  # the id; a concurrent twin fails here on the unique request key
    payload: dict[str, Any] = {"title": vocabulary.NOTICE_KINDS[KIND], "text": text,
                               "expires_at": (now + EXPIRES_AFTER).isoformat()}
    rows = [{"kind": KIND, "event_key": f"adhoc:{notice.id}", "binding_id": binding_id,
             "account_no": account_no, "channel": channel, "urgent": draft.urgent, "payload": payload,
             "status": "pending", "attempts": 0, "next_attempt_at": now, "adhoc_id": notice.id,
             "created_at": now} for binding_id, account_no, channel in found.bindings]
    for start in range(0, len(rows), 5000):
        session.execute(insert(NoticeDelivery), rows[start:start + 5000])
    return SendResult(notice.id, found.count, created=True)


def send_once(store: Any, draft: Draft, *, sent_by: str, request_key: str,
              after: Any = None, now: datetime | None = None) -> SendResult:
    """:func:`send` in its own transaction; the loser of a race on the same key gets the
    winner's notice. ``after(session, result)`` runs in the sending transaction (the audit)."""
    try:
        with store.session() as session:
            result = send(session, draft, sent_by=sent_by, request_key=request_key, now=now)
            if result.created and after is not None:
                after(session, result)
            return result
    except IntegrityError:
        with store.session() as session:
            existing = find_sent(session, request_key)
        if existing is None:
            raise
        return existing


def delivery_counts(session: Session, notice_ids: Sequence[int]) -> Dict[int, Dict[str, int]]:
    """Per ad-hoc notice: its deliveries by status (one query)."""
    counts: Dict[int, Dict[str, int]] = {nid: {} for nid in notice_ids}
    if not notice_ids:
        return counts
    query = (select(NoticeDelivery.adhoc_id, NoticeDelivery.status, func.count())
             .where(NoticeDelivery.adhoc_id.in_(list(notice_ids)))
             .group_by(NoticeDelivery.adhoc_id, NoticeDelivery.status))
    for notice_id, status, n in session.execute(query):
        counts[notice_id][status] = n
    return counts
