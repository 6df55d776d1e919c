"""Channel bindings and subscriptions (绑定户号, 我的订阅, 退订停电通知, 解绑户号).

A *person* is a channel identity: ``(channel, channel_user)`` — a WeChat OpenID, a WeCom
UserID, the web widget's conversation id, or a mobile number for SMS. A person may bind several
accounts and an account may be bound by several people; each pair is one active
:class:`~bot.store.models.CustomerBinding` (``unbound_at`` NULL). Binding again is a no-op
(the chat to write into is updated); unbinding keeps the row with ``unbound_at`` so the
delivery log still says who got what, and a later binding is a new row with default choices.

Subscriptions: a :class:`~bot.store.models.NoticeSubscription` row per binding and kind the
person changed; no row means the kind's default (every kind on,
``bot.vocabulary.NOTICE_KINDS_ON_BY_DEFAULT``). Kinds in ``NOTICE_KINDS_ALWAYS_ON`` (the status
of a request the customer made themselves) cannot be switched off.

Every change and every listing is written to the audit log (``bot.privacy.audit``) with the
actor ``customer`` and the conversation it was asked in: a binding decides who receives an
account's bills and outage notices, so who bound what, when, is personal-data access.

All functions are synchronous and take a SQLAlchemy ``Session`` (run them in
``Store.run``); they flush but never commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import vocabulary
from bot.privacy import audit
from bot.store.models import NOTICE_CHANNELS, Customer, CustomerBinding, NoticeSubscription
from bot.store.types import iso_local, now_utc

ACTOR = "customer"


class BindingError(ValueError):
    """A binding request the service refuses: ``status`` (HTTP), ``code``, ``message``, ``field``."""

    def __init__(self, status: int, code: str, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Person:
    """Who binds: a channel identity, and the chat it spoke in (for notices and the audit log)."""

    channel: str
    channel_user: str
    conversation_id: Optional[str] = None

    def __post_init__(self) -> None:
        if self.channel not in NOTICE_CHANNELS:
            raise BindingError(400, "validation_error", f"channel: must be one of {', '.join(NOTICE_CHANNELS)}",
                               "channel")
        if not self.channel_user or len(self.channel_user) > 128:
            raise BindingError(400, "validation_error", "channel_user: must be 1 to 128 characters",
                               "channel_user")


def person_of_conversation(conversation_id: str, channel: str) -> Person:
    """The person behind a gateway conversation: ``wechat:<OpenID>`` is the OpenID on WeChat,
    ``wecom:<UserID>`` the UserID on WeCom, and a web session is its own conversation id."""
    user = conversation_id
    prefix = f"{channel}:"
    if channel in ("wechat", "wecom") and conversation_id.startswith(prefix):
        user = conversation_id[len(prefix):]
    return Person(channel=channel, channel_user=user, conversation_id=conversation_id)


def _audit(session: Session, action: str, person: Person, account_no: str, detail: Dict[str, Any],
           at: datetime) -> None:
    audit.record(session, actor=ACTOR, actor_role=ACTOR, action=action, subject_kind="account",
                 subject_id=account_no, client=person.conversation_id,
                 detail={"channel": person.channel, **detail}, at=at)


def _active(session: Session, person: Person, account_no: Optional[str] = None) -> List[CustomerBinding]:
    query = select(CustomerBinding).where(CustomerBinding.channel == person.channel,
                                          CustomerBinding.channel_user == person.channel_user,
                                          CustomerBinding.unbound_at.is_(None))
    if account_no:
        query = query.where(CustomerBinding.account_no == account_no)
    return list(session.execute(query.order_by(CustomerBinding.id)).scalars())


def write_lock(session: Session) -> None:
    """On SQLite, takes the database's write lock now (a no-op write), before the transaction
    reads: a second writer then waits for this one instead of failing to upgrade a stale read.
    Call it first in the transaction (PostgreSQL: nothing; its unique index settles races)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(CustomerBinding).where(CustomerBinding.id == -1).values(unbound_at=None))


def bind(session: Session, person: Person, account_no: str, *, now: Optional[datetime] = None) -> tuple:
    """Binds ``person`` to ``account_no``: ``(binding, created)``. Idempotent: an active
    binding of the same pair is returned (its chat updated to the person's latest).

    The store allows one active binding per pair (``uq_customer_bindings_active``): when another
    gateway binds the same pair at the same moment, this insert meets its row and the binding is
    theirs — ``(their binding, False)``, the customer hears it is bound already."""
    now = now or now_utc()
    write_lock(session)
    if session.execute(select(Customer.id).where(Customer.account_no == account_no)).first() is None:
        raise BindingError(404, "not_found", f"account {account_no} does not exist")
    existing = _active(session, person, account_no)
    if not existing:
        binding = CustomerBinding(account_no=account_no, channel=person.channel, channel_user=person.channel_user,
                                  conversation_id=person.conversation_id, sms_consent=person.channel == "sms",
                                  created_at=now)
        try:
            with session.begin_nested():
                session.add(binding)
        except IntegrityError:
            existing = _active(session, person, account_no)
            if not existing:
                raise
        else:
            _audit(session, "bind_notices", person, account_no, {"binding_id": binding.id}, now)
            return binding, True
    binding = existing[0]
    if person.conversation_id and binding.conversation_id != person.conversation_id:
        binding.conversation_id = person.conversation_id
    session.flush()
    return binding, False


def unbind(session: Session, person: Person, account_no: Optional[str] = None, *,
           now: Optional[datetime] = None) -> List[CustomerBinding]:
    """Ends the person's binding of ``account_no`` (every binding when None); the ended ones."""
    now = now or now_utc()
    ended = _active(session, person, account_no)
    for binding in ended:
        binding.unbound_at = now
        _audit(session, "unbind_notices", person, binding.account_no, {"binding_id": binding.id}, now)
    session.flush()
    return ended


def choices(session: Session, binding_ids: Iterable[int]) -> Dict[int, Dict[str, bool]]:
    """Each binding's switch of every kind (defaults filled in)."""
    ids = list(binding_ids)
    result = {i: {kind: kind in vocabulary.NOTICE_KINDS_ON_BY_DEFAULT for kind in vocabulary.NOTICE_KINDS}
              for i in ids}
    if not ids:
        return result
    rows = session.execute(select(NoticeSubscription).where(NoticeSubscription.binding_id.in_(ids))).scalars()
    for row in rows:
        if row.kind in vocabulary.NOTICE_KINDS and row.kind not in vocabulary.NOTICE_KINDS_ALWAYS_ON:
            result[row.binding_id][row.kind] = bool(row.enabled)
    return result


def wants(session: Session, binding_id: int, kind: str) -> bool:
    """Whether a binding receives a kind now (opt-out is honoured at once: read at send time)."""
    return choices(session, [binding_id])[binding_id].get(kind, False)


def binding_json(binding: CustomerBinding, switches: Dict[str, bool]) -> Dict[str, Any]:
    return {
        "id": binding.id,
        "account_no": binding.account_no,
        "channel": binding.channel,
        "conversation_id": binding.conversation_id,
        "created_at": iso_local(binding.created_at),
        "subscriptions": [
            {"kind": kind, "name": name, "enabled": switches.get(kind, False),
             "switchable": kind not in vocabulary.NOTICE_KINDS_ALWAYS_ON}
            for kind, name in vocabulary.NOTICE_KINDS.items()
        ],
    }


def list_bindings(session: Session, person: Person, *, audit_view: bool = True,
                  now: Optional[datetime] = None) -> List[Dict[str, Any]]:
    """The person's active bindings with their subscriptions (我的订阅)."""
    bindings = _active(session, person)
    switches = choices(session, [b.id for b in bindings])
    if audit_view:
        for binding in bindings:
            _audit(session, "view_notice_bindings", person, binding.account_no, {"binding_id": binding.id},
                   now or now_utc())
    return [binding_json(b, switches[b.id]) for b in bindings]


def set_subscription(session: Session, person: Person, kinds: Sequence[str], enabled: bool, *,
                     account_no: Optional[str] = None, now: Optional[datetime] = None) -> List[CustomerBinding]:
    """Switches ``kinds`` on or off for the person's bindings (of ``account_no``, or all of
    them); the bindings changed. Refuses unknown kinds and switching off an always-on kind."""
    now = now or now_utc()
    if not kinds:
        raise BindingError(400, "validation_error", "kinds: give at least one notice kind", "kinds")
    unknown = [k for k in kinds if k not in vocabulary.NOTICE_KINDS]
    if unknown:
        raise BindingError(400, "validation_error",
                           f"kinds: unknown notice kind {unknown[0]!r}; one of {', '.join(vocabulary.NOTICE_KINDS)}",
                           "kinds")
    fixed = [k for k in kinds if k in vocabulary.NOTICE_KINDS_ALWAYS_ON]
    if fixed and not enabled:
        raise BindingError(409, "always_on", f"{fixed[0]} notices cannot be switched off", "kinds")
    bindings = _active(session, person, account_no)
    if not bindings:
        raise BindingError(404, "not_bound", "this person has no active binding"
                           + (f" of account {account_no}" if account_no else ""))
    for binding in bindings:
        for kind in dict.fromkeys(kinds):
            if kind in vocabulary.NOTICE_KINDS_ALWAYS_ON:
                continue
            row = session.get(NoticeSubscription, (binding.id, kind))
            if row is None:
                session.add(NoticeSubscription(binding_id=binding.id, kind=kind, enabled=enabled, updated_at=now))
            elif row.enabled != enabled:
                row.enabled = enabled
                row.updated_at = now
        _audit(session, "change_notice_subscription", person, binding.account_no,
               {"binding_id": binding.id, "kinds": list(kinds), "enabled": enabled}, now)
    session.flush()
    return bindings


# ---------------------------------------------------------------- personal-data requests (bot.privacy.subject)


def _subject_bindings(session: Session, account_no: Optional[str], conversation_ids: Sequence[str]) -> List[CustomerBinding]:
    conditions = []
    if account_no:
        conditions.append(CustomerBinding.account_no == account_no)
    if conversation_ids:
        conditions.append(CustomerBinding.conversation_id.in_(list(conversation_ids)))
    if not conditions:
        return []
    from sqlalchemy import or_

    return list(session.execute(select(CustomerBinding).where(or_(*conditions))
                                .order_by(CustomerBinding.id)).scalars())


def export(session: Session, account_no: Optional[str], conversation_ids: Sequence[str]) -> List[Dict[str, Any]]:
    """The bindings of an account or of the subject's conversations, for the access copy. The
    channel user is given only for the subject's own conversations (an account's other bindings
    may be other people)."""
    rows = _subject_bindings(session, account_no, conversation_ids)
    switches = choices(session, [b.id for b in rows])
    own = set(conversation_ids)
    return [{"account_no": b.account_no, "channel": b.channel,
             **({"channel_user": b.channel_user} if b.conversation_id in own else {}),
             "created_at": iso_local(b.created_at), "unbound_at": iso_local(b.unbound_at),
             "subscriptions": switches[b.id]} for b in rows]


def erase(session: Session, account_no: Optional[str], conversation_ids: Sequence[str], *,
          now: Optional[datetime] = None) -> int:
    """Ends the bindings of the subject's conversations (and of the account, when it is erased
    too), replaces the channel identity by a placeholder and blanks what the notices said (the
    delivery log keeps its counts). The number of bindings changed."""
    from sqlalchemy import update

    from bot.store.models import NoticeDelivery

    now = now or now_utc()
    rows = _subject_bindings(session, account_no, conversation_ids)
    for binding in rows:
        binding.unbound_at = binding.unbound_at or now
        binding.channel_user = f"erased-{binding.id}"
        binding.conversation_id = None
        binding.sms_consent = False
    if rows:
        session.execute(update(NoticeDelivery).where(NoticeDelivery.binding_id.in_([b.id for b in rows]))
                        .values(payload={"text": "（个人信息已删除）"}).execution_options(synchronize_session=False))
    session.flush()
    return len(rows)
