"""Console search over conversations, messages, customers and tickets.

Chinese is written without spaces, so neither a word index nor ``LIKE '%停电%'`` helps: a
leading-wildcard LIKE/ILIKE reads every row (fine for a few thousand messages, seconds on a
year's million). PostgreSQL's ``pg_trgm`` (Debian ships it with the server, postgresql-contrib)
would index ``ILIKE`` with GIN, but it only makes trigrams of characters the database's
locale calls alphanumeric -- with a C/POSIX ``LC_CTYPE`` CJK characters are dropped -- and
SQLite (the default store) has nothing like it. So the search keeps its own inverted index,
the same on both stores:

- ``search_terms(term, kind, ref)``: one row per distinct term of a document, with a B-tree
  index on ``(term, kind, ref)``; documents are customer and staff messages (bot answers are
  templates and would only bloat it), ticket summaries, customers' names and addresses;
- terms: jieba in search mode (``cut_for_search``: the words and their shorter dictionary
  words, 欠费停电 -> 欠费, 停电, 欠费停电) plus every single Chinese character and letter of the
  text, lower-cased (NFKC), particles (了, 吗, 的...) dropped; the project's power-utility
  dictionary is loaded; digit runs of 7 or more (phone, ID numbers) are not indexed;
- a query is cut in precise mode (``cut``) and a document matches when it has *every* query
  word (the longest word's postings walked newest first, the others checked by index look-ups,
  see ``_matching``), so 电表 坏了 finds 我家电表坏了;
  when no document has every word (jieba cut the document's text differently, 电表又坏了 ->
  电表 + 又坏了), the query is run again on its single characters, all required;
- 户号 (10 digits), ticket numbers and phone numbers are looked up directly by their columns;
- the index catches up incrementally (rows with ids above the last indexed id, ``BATCH`` per
  kind): a background task of the gateway every 30 s (``run_indexer``), and each search first
  indexes the last few rows (``SEARCH_BATCH``; skipped while another indexer holds the lock)
  -- no trigger and no work on the hot path of storing a message; the
  retention job and the erasure of a customer delete the terms of what they delete;
- results are bounded (``LIMIT`` per kind, newest first) and shown masked for agents.

Single characters have long posting lists (the character fallback reads more index entries);
both stages read the index only, never the messages.
"""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from bot.store.models import Conversation, Customer, Message, SearchTerm, Ticket

ROOT = Path(__file__).resolve().parents[2]
POWER_TERMS = ROOT / "nlu_components" / "jieba_dict" / "power_terms.txt"
LIMIT = 50
BATCH = 5000
SEARCH_BATCH = 500
MAX_QUERY = 64
WATERMARK_TERM = "\x01"  # one row per kind holds the last indexed id (kind upper-cased)
STOP = set("的了吗呢啊呀吧哦嗯么是在和就也都我你他她它这那个有请问一下")
INDEXED_SENDERS = ("customer", "staff")
ACCOUNT_RE = re.compile(r"^\d{10}$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
TICKET_RE = re.compile(r"^[A-Za-z]{2}\d{6,14}$")

_lock = threading.Lock()
_tokenizer = None


def _jieba():
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            if POWER_TERMS.exists():
                tokenizer.load_userdict(str(POWER_TERMS))
            _tokenizer = tokenizer
        return _tokenizer


def _keep(term: str) -> bool:
    if not term or len(term) > 32 or term in STOP:
        return False
    if term.isdigit() and len(term) >= 7:  # phone and ID numbers stay out of the index
        return False
    return any(unicodedata.category(ch)[0] in "LN" for ch in term)


def _chars(text: str) -> set[str]:
    return {ch for ch in text if unicodedata.category(ch)[0] == "L" and ch not in STOP}


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def document_terms(text: str) -> set[str]:
    """The terms a document is indexed under (jieba search mode, and its single characters)."""
    text = normalise(text)
    return {t.strip() for t in _jieba().cut_for_search(text, HMM=False) if _keep(t.strip())} | _chars(text)


def query_terms(text: str) -> list[str]:
    """The terms a query must all match (jieba precise mode)."""
    terms = []
    for t in _jieba().cut(normalise(text)[:MAX_QUERY], HMM=False):
        t = t.strip()
        if _keep(t) and t not in terms:
            terms.append(t)
    return terms[:12]


def query_chars(text: str) -> list[str]:
    """The fallback terms: the query's single characters."""
    return sorted(_chars(normalise(text)[:MAX_QUERY]))[:24]


# ---------------------------------------------------------------- indexing

def _watermark(session: Session, kind: str) -> int:
    return session.execute(select(SearchTerm.ref).where(SearchTerm.kind == kind.upper(),
                                                        SearchTerm.term == WATERMARK_TERM)).scalar() or 0


def _set_watermark(session: Session, kind: str, ref: int) -> None:
    done = session.execute(update(SearchTerm).where(SearchTerm.kind == kind.upper(), SearchTerm.term == WATERMARK_TERM)
                           .values(ref=ref).execution_options(synchronize_session=False)).rowcount
    if not done:
        session.execute(insert(SearchTerm).values(term=WATERMARK_TERM, kind=kind.upper(), ref=ref))


def _index_rows(session: Session, kind: str, rows) -> int:
    last = None
    values: list = []
    for ref, text in rows:
        last = ref
        values.extend({"term": term, "kind": kind, "ref": ref} for term in document_terms(text))
    if values:
        session.execute(insert(SearchTerm), values)
    if last is not None:
        _set_watermark(session, kind, last)
    return last or 0


def catch_up(session: Session, batch: int = BATCH, *, skip_if_busy: bool = False) -> None:
    """Indexes the rows added since the last call (at most ``batch`` per kind).

    ``skip_if_busy``: when another transaction is indexing (PostgreSQL), do nothing instead of
    waiting for it (a search then runs on the index as it is)."""
    if not _lock_watermarks(session, skip_locked=skip_if_busy):
        return
    after = _watermark(session, "m")
    _index_rows(session, "m", session.execute(
        select(Message.id, Message.text).where(Message.id > after, Message.sender.in_(INDEXED_SENDERS),
                                               Message.text.is_not(None))
        .order_by(Message.id).limit(batch)).all())
    after = _watermark(session, "t")
    _index_rows(session, "t", session.execute(
        select(Ticket.id, Ticket.summary).where(Ticket.id > after).order_by(Ticket.id).limit(batch)).all())
    after = _watermark(session, "c")
    _index_rows(session, "c", [(r.id, f"{r.name} {r.address}") for r in session.execute(
        select(Customer.id, Customer.name, Customer.address).where(Customer.id > after)
        .order_by(Customer.id).limit(batch)).all()])


def forget(session: Session, kind: str, refs) -> None:
    session.execute(delete(SearchTerm).where(SearchTerm.kind == kind, SearchTerm.ref.in_(refs))
                    .execution_options(synchronize_session=False))


def _matching(session: Session, kind: str, terms: list[str], limit: int) -> list[int]:
    """Newest documents having every term: walks the postings of the (likely) rarest term --
    the longest; single characters are the commonest -- newest first through the
    ``(term, kind, ref)`` index and checks the others with index look-ups, so it stops after
    ``limit`` matches instead of aggregating every posting of every term."""
    if not terms:
        return []
    driver = max(terms, key=len)
    t0 = SearchTerm.__table__.alias("t0")
    query = select(t0.c.ref).where(t0.c.term == driver, t0.c.kind == kind)
    for i, term in enumerate(t for t in terms if t != driver):
        other = SearchTerm.__table__.alias(f"t{i + 1}")
        query = query.where(select(other.c.id).where(other.c.term == term, other.c.kind == kind,
                                                     other.c.ref == t0.c.ref).exists())
    return list(session.execute(query.distinct().order_by(t0.c.ref.desc()).limit(limit)).scalars())


# ---------------------------------------------------------------- searching

def search(session: Session, text: str, limit: int = LIMIT) -> dict:
    """Customers, tickets, messages (with their conversations) matching ``text``; newest first."""
    text = (text or "").strip()[:MAX_QUERY]
    result: dict[str, Any] = {"q": text, "terms": [], "customers": [], "tickets": [], "messages": [],
                              "conversations": []}
    if not text:
        return result
    catch_up(session, batch=SEARCH_BATCH, skip_if_busy=True)  # the last few rows; the background task does the rest
    compact = re.sub(r"[\s-]", "", text)
    customers: list[Customer] = []
    tickets: list[Ticket] = []
    messages: list[Message] = []
    conv_ids: list[str] = []
    if ACCOUNT_RE.match(compact) or PHONE_RE.match(compact):
        column = Customer.account_no if ACCOUNT_RE.match(compact) else Customer.phone
        customers = list(session.execute(select(Customer).where(column == compact)).scalars())
        accounts = [c.account_no for c in customers] or ([compact] if ACCOUNT_RE.match(compact) else [])
        if accounts:
            tickets = list(session.execute(select(Ticket).where(Ticket.account_no.in_(accounts))
                                           .order_by(Ticket.id.desc()).limit(limit)).scalars())
            conv_ids = list(session.execute(select(Conversation.id).where(Conversation.account_no.in_(accounts))
                                            .order_by(Conversation.last_message_at.desc()).limit(limit)).scalars())
    elif TICKET_RE.match(compact):
        tickets = list(session.execute(select(Ticket).where(Ticket.ticket_no == compact.upper())).scalars())
    else:
        terms = query_terms(text)
        if terms and not any(_matching(session, kind, terms, 1) for kind in ("m", "t", "c")):
            terms = query_chars(text) or terms
        result["terms"] = terms
        if terms:
            ids = _matching(session, "c", terms, limit)
            customers = list(session.execute(select(Customer).where(Customer.id.in_(ids))
                                             .order_by(Customer.id.desc())).scalars()) if ids else []
            ids = _matching(session, "t", terms, limit)
            tickets = list(session.execute(select(Ticket).where(Ticket.id.in_(ids))
                                           .order_by(Ticket.id.desc())).scalars()) if ids else []
            ids = _matching(session, "m", terms, limit)
            messages = list(session.execute(select(Message).where(Message.id.in_(ids))
                                            .order_by(Message.id.desc())).scalars()) if ids else []
    for m in messages:
        if m.conversation_id not in conv_ids:
            conv_ids.append(m.conversation_id)
    conversations = {c.id: c for c in session.execute(select(Conversation).where(Conversation.id.in_(conv_ids)))
                     .scalars()} if conv_ids else {}
    known = {c.account_no for c in conversations.values() if c.account_no}
    names = dict(session.execute(select(Customer.account_no, Customer.name)
                                 .where(Customer.account_no.in_(known))).all()) if known else {}
    result["customers"] = [{"account_no": c.account_no, "customer_name": c.name, "phone": c.phone,
                            "address": c.address} for c in customers]
    result["tickets"] = [{"ticket_no": t.ticket_no, "type": t.type, "status": t.status, "summary": t.summary,
                          "account_no": t.account_no, "created_at": t.created_at} for t in tickets]
    result["messages"] = [{"id": m.id, "conversation_id": m.conversation_id, "sender": m.sender, "text": m.text,
                           "created_at": m.created_at} for m in messages]
    result["conversations"] = [{"id": c.id, "channel": c.channel, "state": c.state, "account_no": c.account_no,
                                "customer_name": names.get(c.account_no, ""), "tags": c.tags or [],
                                "last_message_at": c.last_message_at}
                               for cid in conv_ids if (c := conversations.get(cid)) is not None]
    return result


def pending(session: Session) -> bool:
    """Rows not indexed yet (any kind)."""
    checks = ((Message.id, "m", Message.sender.in_(INDEXED_SENDERS)), (Ticket.id, "t", None), (Customer.id, "c", None))
    for column, kind, extra in checks:
        query = select(column).where(column > _watermark(session, kind)).limit(1)
        if extra is not None:
            query = query.where(extra)
        if session.execute(query).first() is not None:
            return True
    return False


async def run_indexer(store, stop, interval: float = 30.0) -> None:
    """Keeps the index caught up in the background (searches then index only the last rows).

    Several gateways may run it: an index batch and its watermark move in one transaction,
    claimed with the watermark rows locked on PostgreSQL (``FOR UPDATE``)."""
    import asyncio

    def _step() -> bool:
        with store.session() as session:
            catch_up(session)
            return pending(session)

    while not stop.is_set():
        try:
            more = await store.run(_step)
        except Exception:
            logging.getLogger(__name__).exception("search index catch-up failed")
            more = False
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5 if more else interval)
        except asyncio.TimeoutError:
            pass


def _lock_watermarks(session: Session, skip_locked: bool = False) -> bool:
    """Locks the watermark rows on PostgreSQL (one indexer at a time); False when another holds them."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return True
    query = select(SearchTerm.id).where(SearchTerm.term == WATERMARK_TERM)
    locked = session.execute(query.with_for_update(skip_locked=skip_locked)).all()
    if not skip_locked:
        return True
    return len(locked) == session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
