"""The utility's data: accounts, bills, outages, tickets, conversations, hand-offs, staff.

2.0-style declarative models (SQLAlchemy 1.4 with ``future=True`` sessions).
All times are aware datetimes stored as UTC (see ``UTCDateTime``).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

from bot import vocabulary
from bot.store.types import UTCDateTime, now_utc

# Typed Any: SQLAlchemy 1.4 ships no type information, and mypy takes a plain variable for no class.
Base: Any = declarative_base()

AREA_TYPES = tuple(vocabulary.AREA_TYPES)
CUSTOMER_TYPES = ("residential", "commercial", "industrial")
BILL_STATUSES = ("unpaid", "paid", "overdue")
OUTAGE_KINDS = ("planned", "unplanned")
TICKET_TYPES = tuple(vocabulary.TICKET_TYPES)  # the contract's ticket types, named in bot.vocabulary
PRIORITIES = ("normal", "high", "urgent")
# Conversation states: the bot serves it, it waits for a person, a person serves it, ended.
CONVERSATION_STATES = ("bot", "waiting", "human", "closed")
MESSAGE_SENDERS = ("customer", "bot", "staff", "system")
HANDOFF_STATUSES = ("waiting", "accepted", "returned", "closed", "missed")
STAFF_ROLES = ("agent", "supervisor")
AVAILABILITY = ("online", "busy", "away")
NOTE_KINDS = ("note", "transfer", "labels")
# Proactive notices (bot/notices): the kinds, where they go, and what became of each delivery.
NOTICE_KINDS = ("bill_issued", "due_reminder", "overdue", "low_balance", "planned_outage", "restoration",
                "abnormal_usage", "ticket_status", "adhoc")
NOTICE_CHANNELS = ("web", "wechat", "wecom", "sms")
# pending: to send (at next_attempt_at); sent; failed: a try failed, retried at next_attempt_at;
# dead: gave up after the last retry; skipped: not sent (opted out, unbound, over the daily cap).
DELIVERY_STATUSES = ("pending", "sent", "failed", "dead", "skipped")
# What the assistant asks for a rating (domain.yml utter_ask_rating, bot.sla.notify.SURVEY_TEXT).
SURVEY_QUESTIONS = ("请问您对这次服务满意吗？", "为了把服务做得更好，想请您对本次服务做个评价：")
SURVEY_WHERE = "sender = 'bot' AND text IN ({})".format(", ".join(f"'{q}'" for q in SURVEY_QUESTIONS))


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    account_no = Column(String(10), nullable=False, unique=True)
    name = Column(String(64), nullable=False)
    phone = Column(String(11), nullable=False)
    address = Column(String(255), nullable=False)
    area_type = Column(String(16), nullable=False)
    customer_type = Column(String(16), nullable=False)
    # Prepaid accounts only (预付费): the balance as last imported, in yuan; None for post-paid.
    balance = Column(Numeric(12, 2), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)

    bills = relationship("Bill", back_populates="customer", order_by="Bill.period")


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("account_no", "period", name="uq_bills_account_period"),)

    id = Column(Integer, primary_key=True)
    account_no = Column(String(10), ForeignKey("customers.account_no"), nullable=False, index=True)
    period = Column(String(7), nullable=False)  # YYYY-MM
    kwh = Column(Float, nullable=False)
    amount = Column(Numeric(12, 2), nullable=False)
    due_date = Column(Date, nullable=False)
    status = Column(String(16), nullable=False)
    paid_at = Column(UTCDateTime, nullable=True)
    peak_kwh = Column(Float, nullable=True)
    valley_kwh = Column(Float, nullable=True)
    # [{"tier": 1, "kwh": 240.0, "price": 0.5283}, ...]
    tiers = Column(JSON, nullable=True)

    customer = relationship("Customer", back_populates="bills")


class Outage(Base):
    __tablename__ = "outages"

    id = Column(Integer, primary_key=True)
    outage_no = Column(String(32), nullable=False, unique=True)
    kind = Column(String(16), nullable=False)
    area = Column(String(128), nullable=False)
    scope = Column(JSON, nullable=False)  # streets or villages covered
    start_at = Column(UTCDateTime, nullable=False)
    end_at = Column(UTCDateTime, nullable=False)
    reason = Column(String(255), nullable=False)


class TicketSequence(Base):
    """Per-prefix, per-day counter that makes short ticket numbers unique under concurrency."""

    __tablename__ = "ticket_sequences"

    prefix = Column(String(8), primary_key=True)
    day = Column(String(8), primary_key=True)  # YYYYMMDD, Asia/Shanghai
    last_value = Column(Integer, nullable=False, default=0)


class Ticket(Base):
    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True)
    ticket_no = Column(String(32), nullable=False, unique=True)
    type = Column(String(16), nullable=False, index=True)
    status = Column(String(16), nullable=False, index=True)
    priority = Column(String(8), nullable=False, default="normal")
    account_no = Column(String(10), nullable=True, index=True)
    conversation_id = Column(String(128), nullable=True, index=True)
    channel = Column(String(16), nullable=False, default="rest")
    summary = Column(Text, nullable=False)
    # Structured details: address, hazard, business_type, contact, documents...
    details = Column(JSON, nullable=False, default=dict)
    business_type = Column(String(32), nullable=True)
    area_type = Column(String(16), nullable=True)
    contact_name = Column(String(64), nullable=True)
    contact_phone = Column(String(20), nullable=True)
    # Client request key: a retried create returns the first ticket instead of a second one.
    request_key = Column(String(128), nullable=True, unique=True)
    satisfaction = Column(String(16), nullable=True)
    # Who works on it: a staff username or a field crew's name (抢修一班), set in the console.
    assignee = Column(String(64), nullable=True, index=True)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc, index=True)
    updated_at = Column(UTCDateTime, nullable=False, default=now_utc, onupdate=now_utc)
    closed_at = Column(UTCDateTime, nullable=True, index=True)

    events = relationship("TicketEvent", back_populates="ticket", order_by="TicketEvent.id",
                          cascade="all, delete-orphan")
    milestones = relationship("Milestone", back_populates="ticket", order_by="Milestone.due_at",
                              cascade="all, delete-orphan")


class TicketEvent(Base):
    """Every change of a ticket: who, when, what."""

    __tablename__ = "ticket_events"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=now_utc)
    actor = Column(String(64), nullable=False)  # "system", "bot", "customer", staff username
    kind = Column(String(32), nullable=False)  # created, status_changed, milestone_met, at_risk, breached, note...
    data = Column(JSON, nullable=False, default=dict)

    ticket = relationship("Ticket", back_populates="events")


class Milestone(Base):
    """One response-time rule applied to one ticket."""

    __tablename__ = "milestones"
    __table_args__ = (Index("ix_milestones_open_due", "met_at", "due_at"),)

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    name = Column(String(64), nullable=False)  # customer/staff facing, e.g. 抢修人员到达现场
    rule = Column(String(64), nullable=False)  # key in sla.yml, e.g. repair.arrival
    started_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    met_at = Column(UTCDateTime, nullable=True)
    breached = Column(Boolean, nullable=False, default=False)
    # Set once, by whichever watcher claims the transition first (UPDATE ... WHERE x IS NULL).
    at_risk_at = Column(UTCDateTime, nullable=True)
    breached_at = Column(UTCDateTime, nullable=True)

    ticket = relationship("Ticket", back_populates="milestones")


class Conversation(Base):
    __tablename__ = "conversations"

    id = Column(String(128), primary_key=True)  # the conversation id (= socket.io session id, wechat:<openid>)
    channel = Column(String(16), nullable=False)
    state = Column(String(16), nullable=False, default="bot")
    account_no = Column(String(10), nullable=True, index=True)
    assigned_agent = Column(String(64), nullable=True)
    tags = Column(JSON, nullable=False, default=list)
    note = Column(Text, nullable=True)
    satisfaction = Column(String(16), nullable=True)
    reviewed = Column(Boolean, nullable=False, default=False)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc, index=True)
    last_message_at = Column(UTCDateTime, nullable=False, default=now_utc)
    closed_at = Column(UTCDateTime, nullable=True)

    messages = relationship("Message", back_populates="conversation", order_by="Message.id")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_msg_id", name="uq_messages_client_id"),
        # The dashboard: a period's messages; whether a conversation was asked the survey
        # question (partial: the bot's survey questions only; migration 0006).
        Index("ix_messages_created_at", "created_at", "sender", "intent"),  # index-only scans
        Index("ix_messages_survey_question", "conversation_id",
              postgresql_where=text(SURVEY_WHERE), sqlite_where=text(SURVEY_WHERE)),
        # ... and an agent's first answer after accepting (staff messages only).
        Index("ix_messages_staff", "conversation_id", "created_at",
              postgresql_where=text("sender = 'staff'"), sqlite_where=text("sender = 'staff'")),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), ForeignKey("conversations.id"), nullable=False, index=True)
    sender = Column(String(16), nullable=False)  # customer | bot | staff | system
    agent = Column(String(64), nullable=True)  # staff display name for staff messages
    channel = Column(String(16), nullable=False)
    text = Column(Text, nullable=True)
    # buttons / quick_replies / attachment / custom, as sent to the customer
    payload = Column(JSON, nullable=True)
    # Id given by the client or platform (widget message id, WeChat MsgId): a retry is stored once.
    client_msg_id = Column(String(128), nullable=True)
    intent = Column(String(64), nullable=True)
    confidence = Column(Float, nullable=True)
    flagged = Column(Boolean, nullable=False, default=False)  # wrongly understood (review)
    flag_intent = Column(String(64), nullable=True)  # the intent staff say it should have been
    delivered_at = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)

    conversation = relationship("Conversation", back_populates="messages")


class Handoff(Base):
    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), ForeignKey("conversations.id"), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    reason = Column(String(32), nullable=False)  # customer_request | fallback | identity_failed | staff_takeover
    status = Column(String(16), nullable=False, default="waiting", index=True)
    summary = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc, index=True)
    accept_due_at = Column(UTCDateTime, nullable=True)
    accepted_at = Column(UTCDateTime, nullable=True)
    agent = Column(String(64), nullable=True)
    ended_at = Column(UTCDateTime, nullable=True)
    callback_ticket_no = Column(String(32), nullable=True)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(64), nullable=False)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False, default="agent")
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)
    # online / busy / away, chosen by the agent (log-in sets online, log-out away); the queue
    # offers hand-offs to agents who are online and were seen lately (bot.agent_tools.availability).
    availability = Column(String(8), nullable=False, default="away", server_default="away")
    last_seen_at = Column(UTCDateTime, nullable=True)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    token_hash = Column(String(64), primary_key=True)  # sha256 of the cookie value
    user_id = Column(Integer, ForeignKey("staff_users.id"), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)
    expires_at = Column(UTCDateTime, nullable=False)


class SurveyAnswer(Base):
    """Satisfaction answers (满意/一般/不满意), from the bot or a follow-up (回访)."""

    __tablename__ = "survey_answers"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=True, index=True)
    ticket_no = Column(String(32), nullable=True, index=True)
    rating = Column(String(16), nullable=False)  # satisfied | neutral | dissatisfied
    comment = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc, index=True)


class ChannelNonce(Base):
    """Nonces of messaging-platform callbacks seen in the last minutes (replay refusal).

    In the store, so every gateway sees the others' (bot/channels/replay.py); rows older than
    twice the timestamp window are deleted as new ones come.
    """

    __tablename__ = "channel_nonces"

    channel = Column(String(16), primary_key=True)
    nonce = Column(String(64), primary_key=True)
    # sha256 of the request's timestamp and body: the very same request again is the
    # platform's retry (left to the message-id dedupe), anything else with this nonce a replay.
    request_sha256 = Column(String(64), nullable=False)
    seen_at = Column(UTCDateTime, nullable=False, default=now_utc, index=True)
class AuditEntry(Base):
    """Who of the staff viewed, exported or deleted which customer's personal data (PIPL).

    Append-only: nothing in the console or the API changes or deletes a row; only the
    retention job removes entries older than their configured period.
    """

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=now_utc, index=True)
    actor = Column(String(64), nullable=False, index=True)  # staff username, "cli:<name>" or "system"
    actor_role = Column(String(16), nullable=False)  # agent | supervisor | cli | system
    action = Column(String(32), nullable=False, index=True)  # see bot.privacy.audit.ACTIONS
    subject_kind = Column(String(16), nullable=False)  # account | conversation | ticket | retention
    subject_id = Column(String(128), nullable=False, index=True)
    unmasked = Column(Boolean, nullable=False, default=False)  # full phone/ID numbers were shown
    client = Column(String(64), nullable=True)  # client address of the console request
    detail = Column(JSON, nullable=False, default=dict)


class RetentionRun(Base):
    """One run of the retention job; a scheduled run claims its day (one gateway runs it)."""

    __tablename__ = "retention_runs"
    __table_args__ = (UniqueConstraint("scheduled_day", name="uq_retention_runs_day"),)

    id = Column(Integer, primary_key=True)
    scheduled_day = Column(String(10), nullable=True)  # YYYY-MM-DD (Shanghai) for scheduled runs
    trigger = Column(String(16), nullable=False)  # schedule | cli | console
    actor = Column(String(64), nullable=False)
    started_at = Column(UTCDateTime, nullable=False, default=now_utc)
    finished_at = Column(UTCDateTime, nullable=True)
    counts = Column(JSON, nullable=False, default=dict)


class ThrottleHit(Base):
    """One event counted by a rate limit or lock-out (bot/throttle.py): a failed staff log-in per
    username and per client address, a failed identity check per account and conversation, an
    account number looked up by a conversation. In the store, so a restart forgets nothing and
    every gateway counts together; rows are deleted once older than their window."""

    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_scope_key_at", "scope", "key", "at"),)

    id = Column(Integer, primary_key=True)
    scope = Column(String(32), nullable=False)  # e.g. login-user, login-client, identity
    key = Column(String(160), nullable=False)  # username, client address, account|conversation
    member = Column(String(64), nullable=False)  # what is counted once (an event id, an account)
    at = Column(UTCDateTime, nullable=False, default=now_utc, index=True)


class CannedReply(Base):
    """A quick reply (快捷回复) kept by supervisors; agents insert it by typing "/" + shortcut."""

    __tablename__ = "canned_replies"

    id = Column(Integer, primary_key=True)
    shortcut = Column(String(32), nullable=False, unique=True)
    title = Column(String(64), nullable=False)
    body = Column(Text, nullable=False)  # may hold {{姓名}}, {{手机}}, {{户号}}, {{坐席}}
    updated_by = Column(String(64), nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=now_utc)


class Label(Base):
    """A conversation label from the list supervisors keep (conversations store names in ``tags``)."""

    __tablename__ = "labels"

    id = Column(Integer, primary_key=True)
    name = Column(String(32), nullable=False, unique=True)
    description = Column(String(255), nullable=True)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)


class ConversationNote(Base):
    """Staff-only entries of a conversation: private notes, transfers, label changes.

    Never a ``Message``: nothing here is delivered on any channel or handed to Rasa.
    """

    __tablename__ = "conversation_notes"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), ForeignKey("conversations.id"), nullable=False, index=True)
    kind = Column(String(16), nullable=False, default="note")  # note | transfer | labels
    author = Column(String(64), nullable=False)  # staff username
    text = Column(Text, nullable=False)
    data = Column(JSON, nullable=False, default=dict)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)


class SearchTerm(Base):
    """Inverted index of the console search: one row per (term, document); see ``bot.agent_tools.search``."""

    __tablename__ = "search_terms"
    __table_args__ = (Index("ix_search_terms_term_kind_ref", "term", "kind", "ref"),
                      Index("ix_search_terms_kind_ref", "kind", "ref"))

    id = Column(Integer, primary_key=True)
    term = Column(String(32), nullable=False)
    kind = Column(String(1), nullable=False)  # m message, t ticket, c customer
    ref = Column(Integer, nullable=False)  # messages.id / tickets.id / customers.id


class DashboardDay(Base):
    """A Shanghai day of the dashboard's per-day figures (bot/dashboard/daily.py, migration 0007).

    ``version`` is bumped by database triggers whenever a row changing a figure of this (past)
    day is written; the figures in ``dashboard_day_figures`` are those of ``aggregated_version``
    and are read only while it equals ``version``."""

    __tablename__ = "dashboard_days"

    day = Column(String(10), primary_key=True)  # YYYY-MM-DD, Asia/Shanghai
    version = Column(Integer, nullable=False, default=0, server_default="0")
    aggregated_version = Column(Integer, nullable=True)
    aggregated_at = Column(UTCDateTime, nullable=True)


class DashboardDayFigures(Base):
    """The mergeable figures of one day x channel x area (see bot.dashboard.daily)."""

    __tablename__ = "dashboard_day_figures"

    day = Column(String(10), primary_key=True)
    channel = Column(String(16), primary_key=True)  # "" when none is known (answers without one)
    area = Column(String(16), primary_key=True)  # urban | rural | remote | "" (no account)
    figures = Column(JSON, nullable=False)


class CustomerBinding(Base):
    """A channel identity bound to an account by a customer who proved who they are (绑定户号).

    Several people may bind one account and one person several accounts. ``channel_user`` is
    the platform's id of the person (WeChat OpenID, WeCom UserID, the web widget's conversation
    id, a mobile number for SMS); ``conversation_id`` is the chat a notice is written into.
    Unbinding keeps the row (``unbound_at``) so the delivery log still says who got what."""

    __tablename__ = "customer_bindings"
    __table_args__ = (Index("ix_customer_bindings_channel_user", "channel", "channel_user"),
                      # One active binding of a channel identity to an account (two gateways binding
                      # at once cannot make two): unbound rows are history and may repeat.
                      Index("uq_customer_bindings_active", "channel", "channel_user", "account_no", unique=True,
                            sqlite_where=text("unbound_at IS NULL"), postgresql_where=text("unbound_at IS NULL")))

    id = Column(Integer, primary_key=True)
    account_no = Column(String(10), ForeignKey("customers.account_no"), nullable=False, index=True)
    channel = Column(String(16), nullable=False)  # NOTICE_CHANNELS
    channel_user = Column(String(128), nullable=False)
    conversation_id = Column(String(128), nullable=True)
    sms_consent = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)
    unbound_at = Column(UTCDateTime, nullable=True)


class NoticeSubscription(Base):
    """A binding's choice for one notice kind (我的订阅 / 退订停电通知); no row: the kind's default."""

    __tablename__ = "notice_subscriptions"

    binding_id = Column(Integer, ForeignKey("customer_bindings.id"), primary_key=True)
    kind = Column(String(32), primary_key=True)  # NOTICE_KINDS
    enabled = Column(Boolean, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=now_utc)


class NoticeSetting(Base):
    """A supervisor's setting of the notice engine (a kind's switch, reminder days, thresholds,
    quiet hours, the daily cap); no row: the default in bot.notices."""

    __tablename__ = "notice_settings"

    key = Column(String(64), primary_key=True)
    value = Column(JSON, nullable=False)
    updated_by = Column(String(64), nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=now_utc)


class AdhocNotice(Base):
    """A notice a supervisor sent by hand to the customers of an area (e.g. an emergency outage)."""

    __tablename__ = "adhoc_notices"
    __table_args__ = (Index("ix_adhoc_notices_request_key", "request_key", unique=True),)

    id = Column(Integer, primary_key=True)
    area = Column(String(128), nullable=False)
    scope = Column(JSON, nullable=False)  # streets or villages, as an outage's scope
    text = Column(Text, nullable=False)
    urgent = Column(Boolean, nullable=False, default=False)
    sent_by = Column(String(64), nullable=False)  # staff username
    recipients = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)
    # The send form's one-time key (from its preview): a double submit finds the notice already sent.
    request_key = Column(String(64), nullable=True)


class NoticeDelivery(Base):
    """One notice of one event to one recipient: the row is the exactly-once claim (a unique
    key), the retry schedule and the delivery log in one.

    The recipient is a binding (``binding_id``), or, for a ticket's status, the conversation the
    ticket came from (``binding_id`` NULL, ``conversation_id`` set: that chat need not be a bound
    channel); each has its own unique key."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("kind", "event_key", "binding_id", name="uq_notice_deliveries_once"),
                      Index("uq_notice_deliveries_once_conversation", "kind", "event_key", "conversation_id",
                            unique=True, sqlite_where=text("binding_id IS NULL"),
                            postgresql_where=text("binding_id IS NULL")),
                      Index("ix_notice_deliveries_status_next", "status", "next_attempt_at"),
                      Index("ix_notice_deliveries_created_at", "created_at"))

    id = Column(Integer, primary_key=True)
    kind = Column(String(32), nullable=False)  # NOTICE_KINDS
    event_key = Column(String(128), nullable=False)  # e.g. "3201000001:2026-11:due-7", "TK…:accepted"
    binding_id = Column(Integer, ForeignKey("customer_bindings.id"), nullable=True, index=True)
    conversation_id = Column(String(128), nullable=True)  # the recipient when there is no binding
    account_no = Column(String(10), nullable=True, index=True)  # a ticket may have no account
    channel = Column(String(16), nullable=False)
    urgent = Column(Boolean, nullable=False, default=False)  # sent in quiet hours too
    payload = Column(JSON, nullable=False)  # {"text": ..., "buttons"?: [...], "attachment"?: {...}}
    status = Column(String(16), nullable=False, default="pending")  # DELIVERY_STATUSES
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=True)
    last_error = Column(Text, nullable=True)
    adhoc_id = Column(Integer, ForeignKey("adhoc_notices.id"), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=now_utc)
    sent_at = Column(UTCDateTime, nullable=True)
