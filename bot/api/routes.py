"""Handlers of the REST API ``/api/v1``: thin, validating, store work in the store's threads."""
from __future__ import annotations

import logging
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import throttle
from bot.config import SETTINGS
from bot.sla import AREAS, SLA_RULES
from bot.store import STORE
from bot.throttle import Limit
from bot import tickets as ticket_service
from bot.events import EVENT_BUS, IdentityEvent
from bot.masking import mask_phone
from bot.api.errors import ApiError, not_found, validation_error
from bot.api.outages import area_district, covers, outage_json, relevant
from bot.api.validation import (
    ACCOUNT_NO,
    CHANNEL,
    CONVERSATION_ID,
    LAST4,
    MOBILE,
    PERIOD,
    PHONE,
    SLUG,
    json_dict,
    json_object,
    query_int,
    query_string,
    string,
)
from bot.store.models import (
    AREA_TYPES,
    CUSTOMER_TYPES,
    PRIORITIES,
    TICKET_TYPES,
    Bill,
    Conversation,
    Customer,
    Outage,
    SurveyAnswer,
    Ticket,
    TicketEvent,
)
from bot.store.types import SHANGHAI, iso_local, now_utc

routes = web.RouteTableDef()

# Who applies (an application's schedule in sla.yml): a customer type, or a high-voltage customer.
APPLICANT_TYPES = (*CUSTOMER_TYPES, "high_voltage")
SURVEY_RATINGS = ("satisfied", "neutral", "dissatisfied")
# Identity checks (户号 + last four digits of the phone; 10,000 guesses at most). Failures are
# counted per account AND conversation: a stranger's wrong guesses lock the stranger's
# conversation, not the customer's own. A higher cap per account, everywhere, stops guessing
# spread over many conversations (it can lock the customer out for an hour: the price of
# keeping 4 digits unguessable). Kept in the store or Redis (bot/throttle.py).
IDENTITY_PER_CONVERSATION = Limit("identity", 5, 15 * 60.0)
# A web guesser opening a new session for every few guesses is still one client (address).
IDENTITY_PER_CLIENT = Limit("identity-client", 10, 60 * 60.0)
IDENTITY_PER_ACCOUNT = Limit("identity-account", 20, 60 * 60.0)
# A registered mobile with name candidates (identity/verify-by-phone): a name is easier to guess
# than four digits, so the phone's own cap is low.
IDENTITY_BY_PHONE_PER_PHONE = Limit("identity-phone", 5, 60 * 60.0)
# Whether an account number exists is itself worth guessing for (and the chat tells it): the
# different account numbers one conversation, and one client (the widget's address; a WeChat
# user is their conversation), may look up. The same number again does not count again.
# Numbers: ACCOUNT_LOOKUPS_PER_CONVERSATION (5) and ACCOUNT_LOOKUPS_PER_CLIENT (20) in Settings.
LOOKUPS_PER_CONVERSATION = Limit("lookup-conversation", 5, 10 * 60.0)
LOOKUPS_PER_CLIENT = Limit("lookup-client", 20, 60 * 60.0)
CLIENT = re.compile(r"^[A-Za-z0-9:._-]{1,64}$")


def _json(data: Any, status: int = 200) -> web.Response:
    import json

    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _store(request: web.Request):
    return request.app[STORE]


def _rules(request: web.Request):
    rules = request.app.get(SLA_RULES)
    if rules is None:
        raise ApiError(503, "sla_unavailable", "the response-time rules are not loaded")
    return rules


def _account_no(value: str | None, field: str = "account_no") -> str:
    if not value or not ACCOUNT_NO.match(value):
        raise validation_error(field, "must be 10 digits")
    return value


# ---------------------------------------------------------------- customers and identity


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "account_no": customer.account_no,
        "name": customer.name,
        "phone_masked": mask_phone(customer.phone),
        "address": customer.address,
        "area_type": customer.area_type,
        "customer_type": customer.customer_type,
        # Prepaid accounts only (None for post-paid): shown to the customer after identity is proven.
        "balance": None if customer.balance is None else float(Decimal(str(customer.balance)).quantize(Decimal("0.01"))),
    }


def _find_customer(session: Session, account_no: str) -> Customer | None:
    return session.execute(select(Customer).where(Customer.account_no == account_no)).scalar_one_or_none()


def _normalise_name(name: str) -> str:
    return "".join(name.split())


def _holder_names(name: str) -> set[str]:
    """The names a holder answers to: a shop's account "许记五金店（许红霞）" is the shop's and its
    keeper's (the whole name, the part before the brackets, the person inside them)."""
    whole = _normalise_name(name)
    parts = re.match(r"^(.+?)[（(](.+?)[）)]$", whole)
    return {whole, *(parts.groups() if parts else ())}


def _asker(fields: dict) -> tuple[str | None, str | None]:
    """The conversation and client a lookup is made for (both optional)."""
    conversation_id = string(fields, "conversation_id", max_len=128, pattern=CONVERSATION_ID,
                             hint="must be a conversation id (printable, no spaces)")
    client = string(fields, "client", max_len=64, pattern=CLIENT, hint="must be a client key")
    return conversation_id, client


async def _count_lookup(request: web.Request, account_no: str, conversation_id: str | None,
                        client: str | None) -> None:
    """429 ``rate_limited`` when the conversation or the client has looked up too many
    different account numbers lately (one it already asked about is always answered)."""
    limiter = throttle.of(request.app)
    settings = request.app[SETTINGS]
    per_conversation = Limit(LOOKUPS_PER_CONVERSATION.scope, settings.account_lookups_per_conversation,
                             LOOKUPS_PER_CONVERSATION.window)
    per_client = Limit(LOOKUPS_PER_CLIENT.scope, settings.account_lookups_per_client, LOOKUPS_PER_CLIENT.window)
    checks = [(limit, key) for limit, key in ((per_conversation, conversation_id), (per_client, client)) if key]
    for limit, key in checks:
        if await limiter.over(limit, key) and not await limiter.seen(limit, key, account_no):
            raise ApiError(429, "rate_limited",
                           f"too many different account numbers looked up; try again within {limit.minutes} minutes",
                           headers={"Retry-After": str(int(limit.window))})
    for limit, key in checks:
        await limiter.record(limit, key, account_no)


@routes.post("/api/v1/identity/verify")
async def verify_identity(request: web.Request) -> web.Response:
    body = await json_object(request)
    account_no = _account_no(string(body, "account_no", required=True, max_len=10))
    # The phone digits are required: a name is no secret (it is on the door and the bill), so
    # it may only be checked in addition.
    last4 = string(body, "phone_last4", required=True, max_len=4, pattern=LAST4, hint="must be 4 digits")
    name = string(body, "name", max_len=64)
    # Optional: the conversation (= Rasa sender id) the customer proved their identity in, and
    # the client behind it (the action server passes both on).
    conversation_id, client = _asker(body)
    limiter = throttle.of(request.app)
    checks = _identity_checks(account_no, IDENTITY_PER_ACCOUNT, conversation_id, client)
    if await throttle.any_over(limiter, checks):
        return _json({"verified": False, "reason": "locked"})
    await _count_lookup(request, account_no, conversation_id, client)
    customer = await _store(request).run(_read_customer, request.app[STORE], account_no)
    ok = customer is not None and customer.phone[-4:] == last4 and \
        (name is None or _normalise_name(customer.name) == _normalise_name(name))
    if not ok:
        for limit, key in checks:
            await limiter.record(limit, key)
        return _json({"verified": False, "reason": "not_found" if customer is None else "mismatch"})
    return await _verified(request, customer, conversation_id, checks, IDENTITY_PER_ACCOUNT)


def _identity_checks(secret_key: str, per_key: Limit, conversation_id: str | None,
                     client: str | None) -> list[tuple[Limit, str]]:
    """The failure counters of one identity check: the key guessed at (an account, a phone) in
    this conversation, everywhere (``per_key``), and from this client."""
    checks = [(IDENTITY_PER_CONVERSATION, f"{secret_key}|{conversation_id or '-'}"), (per_key, secret_key)]
    if client:
        checks.append((IDENTITY_PER_CLIENT, f"{secret_key}|{client}"))
    return checks


async def _verified(request: web.Request, customer: Customer, conversation_id: str | None,
                    checks: list[tuple[Limit, str]], per_key: Limit) -> web.Response:
    """A passed check: the customer's own typos are forgotten (the key's cap is not), the account
    recorded on the conversation."""
    limiter = throttle.of(request.app)
    for limit, key in checks:
        if limit is not per_key:
            await limiter.reset(limit, key)
    answer: dict[str, Any] = {"verified": True, "customer": customer_json(customer)}
    if conversation_id:
        linked, changed = await _store(request).run(_link_conversation, _store(request), conversation_id,
                                                    customer.account_no)
        answer["conversation_linked"] = linked
        if changed:
            await _publish_identity(request, conversation_id, customer.account_no)
    return _json(answer)


# Customers who do not know their 户号 (an elderly customer, a tenant) are found the way 95598 finds
# them: the registered mobile number in full and the holder's name, both required. The name
# candidates are what the customer said ("我叫李秀英 住…" gives 李秀英); at most a few per check.
MAX_NAME_CANDIDATES = 8


def _read_customers_by_phone(store, phone: str) -> list[Customer]:
    with store.session() as session:
        return list(session.execute(select(Customer).where(Customer.phone == phone)
                                    .order_by(Customer.account_no)).scalars())


# "石塘村45号", "珠江路130号", "横溪大街216" (the 号 left out at the end): a place word and its
# number, how an address names the premises.
PREMISES = re.compile(r"([\u4e00-\u9fa5]{2})(\d+)(?:号|$)")


def same_premises(said: str, registered: str) -> bool:
    """Whether the address a customer said names the registered one: each "place + number" it
    holds is in the registered address (spaces ignored), and it holds one at least."""
    said, registered = re.sub(r"\s", "", said), re.sub(r"\s", "", registered)
    places = [match.group(1) + match.group(2) for match in PREMISES.finditer(said)]
    return bool(places) and all(re.search(re.escape(place) + "号", registered) for place in places)


def _account_at_address(store, phone: str, address: str) -> Customer | None:
    """The one account whose registered phone is ``phone`` and whose address ``address`` names."""
    matching = [c for c in _read_customers_by_phone(store, phone) if same_premises(address, c.address or "")]
    return matching[0] if len(matching) == 1 else None


@routes.post("/api/v1/identity/verify-by-phone")
async def verify_identity_by_phone(request: web.Request) -> web.Response:
    body = await json_object(request)
    phone = str(string(body, "phone", required=True, max_len=11, pattern=MOBILE,
                       hint="must be an 11-digit mobile number"))
    names = body.get("names")
    if not isinstance(names, list) or not names or len(names) > MAX_NAME_CANDIDATES \
            or not all(isinstance(n, str) and 0 < len(n.strip()) <= 16 for n in names):
        raise validation_error("names", f"must be a list of 1 to {MAX_NAME_CANDIDATES} names of at most 16 characters")
    conversation_id, client = _asker(body)
    limiter = throttle.of(request.app)
    checks = _identity_checks(phone, IDENTITY_BY_PHONE_PER_PHONE, conversation_id, client)
    if await throttle.any_over(limiter, checks):
        return _json({"verified": False, "reason": "locked"})
    wanted = {_normalise_name(n) for n in names}
    customers = await _store(request).run(_read_customers_by_phone, request.app[STORE], phone)
    matching = [c for c in customers if _holder_names(c.name) & wanted]
    if len(matching) != 1:
        # (Unknown phone or another name: one answer for both, so neither is learnt by guessing.)
        for limit, key in checks:
            await limiter.record(limit, key)
        return _json({"verified": False, "reason": "mismatch"})
    await _count_lookup(request, matching[0].account_no, conversation_id, client)
    return await _verified(request, matching[0], conversation_id, checks, IDENTITY_BY_PHONE_PER_PHONE)


def _link_conversation(store, conversation_id: str, account_no: str) -> tuple[bool, bool]:
    """Records the verified account on an existing conversation: (linked, changed).

    Conversations are created only by the hub when a customer writes, never here."""
    with store.session() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return False, False
        if conversation.account_no == account_no:
            return True, False
        # The latest successful check wins: a customer who manages several accounts (a landlord,
        # a family member) is now talking about this one, and hand-off callbacks and the console
        # should follow it. Tickets opened earlier keep their own account and conversation links.
        conversation.account_no = account_no
        return True, True


async def _publish_identity(request: web.Request, conversation_id: str, account_no: str) -> None:
    """Lets open consoles re-fetch the conversation (its customer card and tickets)."""
    bus = request.config_dict[EVENT_BUS]
    try:
        await bus.publish(IdentityEvent(type="identity", conversation_id=conversation_id, account_no=account_no))
    except Exception:  # the account is stored; a console notice must not undo the answer
        logging.getLogger(__name__).exception("conversation %s: identity notice failed", conversation_id)


def _read_customer(store, account_no: str) -> Customer | None:
    with store.session() as session:
        return _find_customer(session, account_no)


@routes.get("/api/v1/accounts/{account_no}")
async def get_account(request: web.Request) -> web.Response:
    account_no = _account_no(request.match_info["account_no"])
    await _count_lookup(request, account_no, *_asker(dict(request.query)))
    customer = await _store(request).run(_read_customer, _store(request), account_no)
    if customer is None:
        raise not_found(f"account {account_no} does not exist")
    return _json(customer_json(customer))


# ---------------------------------------------------------------- bills


def bill_json(bill: Bill, today: date) -> dict[str, Any]:
    status = bill.status
    if status == "unpaid" and bill.due_date < today:
        status = "overdue"  # past its due date: say so even if the import still says unpaid
    amount = bill.amount if isinstance(bill.amount, Decimal) else Decimal(str(bill.amount))
    return {
        "period": bill.period,
        "kwh": bill.kwh,
        "amount": float(amount.quantize(Decimal("0.01"))),
        "due_date": bill.due_date.isoformat(),
        "status": status,
        "paid_at": iso_local(bill.paid_at),
        "peak_kwh": bill.peak_kwh,
        "valley_kwh": bill.valley_kwh,
        "tiers": bill.tiers,
    }


def _read_bills(store, account_no: str, period: str | None, limit: int):
    with store.session() as session:
        if _find_customer(session, account_no) is None:
            return None
        query = select(Bill).where(Bill.account_no == account_no)
        if period:
            query = query.where(Bill.period == period)
        query = query.order_by(Bill.period.desc()).limit(limit)
        return list(session.execute(query).scalars())


@routes.get("/api/v1/accounts/{account_no}/bills")
async def get_bills(request: web.Request) -> web.Response:
    account_no = _account_no(request.match_info["account_no"])
    period = query_string(request, "period", max_len=7, pattern=PERIOD, hint="must be YYYY-MM")
    limit = query_int(request, "limit", 12, 1, 120)
    bills = await _store(request).run(_read_bills, _store(request), account_no, period, limit)
    if bills is None:
        raise not_found(f"account {account_no} does not exist")
    today = datetime.now(SHANGHAI).date()
    return _json({"bills": [bill_json(b, today) for b in bills]})


# ---------------------------------------------------------------- outages


def _read_outages(store, address: str | None, account_no: str | None):
    now = now_utc()
    with store.session() as session:
        addresses = [address] if address else []
        if account_no:
            customer = _find_customer(session, account_no)
            if customer is None:
                return None
            addresses.append(customer.address)
        outages = [o for o in session.execute(
            select(Outage).where(Outage.end_at > now).order_by(Outage.start_at)).scalars()
            if relevant(o, now)]
        districts = {area_district(area) for area in session.execute(select(Outage.area)).scalars()}
        found = [o for o in outages if any(covers(o, a, districts) for a in addresses)]
        return [outage_json(o, now) for o in found]


@routes.get("/api/v1/outages")
async def get_outages(request: web.Request) -> web.Response:
    address = query_string(request, "address", max_len=255)
    account_no = request.query.get("account_no") or None
    if account_no is not None:
        _account_no(account_no)
    if not address and not account_no:
        raise validation_error("address", "give address or account_no")
    if account_no:
        await _count_lookup(request, account_no, *_asker(dict(request.query)))
    found = await _store(request).run(_read_outages, _store(request), address, account_no)
    if found is None:
        raise not_found(f"account {account_no} does not exist")
    return _json({"outages": found})


# ---------------------------------------------------------------- area types


@routes.get("/api/v1/areas")
async def classify_area(request: web.Request) -> web.Response:
    """The area type (urban/rural/remote) areas.yml gives an address; null when it does not decide."""
    address = query_string(request, "address", max_len=255)
    if not address:
        raise validation_error("address", "give an address")
    areas = request.app.get(AREAS)
    found = areas.classify(address) if areas is not None else None
    return _json({"address": address, "area_type": found.area_type if found else None,
                  "place": found.place if found else None})


# ---------------------------------------------------------------- tickets


def _ticket_error(exc: ticket_service.TicketError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, field=exc.field)


def _create_ticket(store, rules, fields: dict[str, Any]):
    with store.session() as session:
        result = ticket_service.create_ticket(session, rules, **fields)
        return ticket_service.ticket_json(result.ticket), result.created


@routes.post("/api/v1/tickets")
async def create_ticket(request: web.Request) -> web.Response:
    body = await json_object(request)
    fields: dict[str, Any] = {
        "type": string(body, "type", required=True, max_len=16, choices=TICKET_TYPES),
        "summary": string(body, "summary", required=True, max_len=2000),
        "channel": string(body, "channel", required=True, max_len=16, pattern=CHANNEL,
                          hint="must be a lower-case channel name such as web, wechat, wecom, rest"),
        "priority": string(body, "priority", max_len=8, choices=PRIORITIES) or "normal",
        "account_no": string(body, "account_no", max_len=10, pattern=ACCOUNT_NO, hint="must be 10 digits"),
        "conversation_id": string(body, "conversation_id", max_len=128),
        "business_type": string(body, "business_type", max_len=32, pattern=SLUG,
                                hint="must be a lower-case key such as new_connection"),
        "area_type": string(body, "area_type", max_len=16, choices=AREA_TYPES),
        "applicant_type": string(body, "applicant_type", max_len=16, choices=APPLICANT_TYPES),
        "contact_name": string(body, "contact_name", max_len=64),
        "contact_phone": string(body, "contact_phone", max_len=20, pattern=PHONE,
                                hint="must be a phone number"),
        "details": json_dict(body, "details"),
        "request_key": string(body, "request_key", required=True, max_len=128),
        "actor": string(body, "actor", max_len=64) or "bot",
    }
    rules = _rules(request)
    address = (fields["details"] or {}).get("address")
    on_existing_premises = fields["type"] in ("repair", "complaint") or (
        fields["type"] == "application" and fields.get("business_type") not in (None, "new_connection"))
    if on_existing_premises and fields["account_no"] is None and fields["contact_phone"] \
            and isinstance(address, str):
        # A repair or a complaint (or an application for premises already supplied: PV, a charger,
        # more capacity) told with an address and a phone that are one account's registered ones (the customer
        # gave no 户号): the ticket is that account's, and its area type is the one registered (not
        # one guessed from the address). Nothing of the account is shown to anyone.
        account = await _store(request).run(_account_at_address, request.app[STORE],
                                            fields["contact_phone"], address)
        if account is not None:
            fields["account_no"], fields["area_type"] = account.account_no, account.area_type
    if fields["area_type"] is None and fields["account_no"] is None and isinstance(address, str):
        # No account to say it: the configured places decide when they can (else the default).
        areas = request.app.get(AREAS)
        fields["area_type"] = areas.classify(address).area_type if areas is not None else None
    try:
        data, created = await _store(request).run(_create_ticket, _store(request), rules, fields)
    except ticket_service.TicketError as exc:
        raise _ticket_error(exc) from None
    return _json(data, status=201 if created else 200)


def _read_ticket(store, ticket_no: str):
    with store.session() as session:
        ticket = ticket_service.get_ticket(session, ticket_no)
        return ticket_service.ticket_json(ticket, with_events=True) if ticket else None


@routes.get("/api/v1/tickets/{ticket_no}")
async def get_ticket(request: web.Request) -> web.Response:
    ticket_no = request.match_info["ticket_no"].strip().upper()
    data = await _store(request).run(_read_ticket, _store(request), ticket_no)
    if data is None:
        raise not_found(f"ticket {ticket_no} does not exist")
    return _json(data)


def _list_tickets(store, **filters):
    with store.session() as session:
        return [ticket_service.ticket_json(t) for t in ticket_service.list_tickets(session, **filters)]


@routes.get("/api/v1/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    account_no = query_string(request, "account_no", max_len=10, pattern=ACCOUNT_NO, hint="must be 10 digits")
    status = query_string(request, "status", max_len=16,
                          choices=("open", "closed", "all", *ticket_service.TICKET_STATUSES)) or "all"
    ticket_type = query_string(request, "type", max_len=16, choices=TICKET_TYPES)
    conversation_id = query_string(request, "conversation_id", max_len=128)
    contact = query_string(request, "contact", max_len=8, choices=("missing",))
    limit = query_int(request, "limit", 100, 1, 1000)
    data = await _store(request).run(_list_tickets, _store(request), account_no=account_no, status=status,
                                     ticket_type=ticket_type, conversation_id=conversation_id,
                                     missing_contact=contact == "missing", limit=limit)
    return _json({"tickets": data})


def _change_ticket(store, change, *args, **kwargs) -> dict:
    """``change(session, *args, **kwargs)`` in one transaction; the changed ticket, whole."""
    with store.session() as session:
        ticket = change(session, *args, **kwargs)
        session.flush()
        ticket = ticket_service.get_ticket(session, ticket.ticket_no)
        assert ticket is not None  # just changed in this session
        return ticket_service.ticket_json(ticket, with_events=True)


@routes.post("/api/v1/tickets/{ticket_no}/status")
async def change_ticket_status(request: web.Request) -> web.Response:
    ticket_no = request.match_info["ticket_no"].strip().upper()
    body = await json_object(request)
    status = string(body, "status", required=True, max_len=16, choices=ticket_service.TICKET_STATUSES)
    actor = string(body, "actor", required=True, max_len=64)
    note = string(body, "note", max_len=2000)
    rules = _rules(request)
    try:
        data = await _store(request).run(_change_ticket, _store(request), ticket_service.change_status, rules,
                                         ticket_no, status, actor=actor, note=note)
    except ticket_service.TicketError as exc:
        raise _ticket_error(exc) from None
    await _notify_customer(request, data)
    return _json(data)


@routes.post("/api/v1/tickets/{ticket_no}/contact")
async def change_ticket_contact(request: web.Request) -> web.Response:
    """The phone (and name) to reach the customer on, given after the ticket was opened."""
    ticket_no = request.match_info["ticket_no"].strip().upper()
    body = await json_object(request)
    contact_phone = string(body, "contact_phone", required=True, max_len=20, pattern=PHONE,
                           hint="must be a phone number")
    contact_name = string(body, "contact_name", max_len=64)
    actor = string(body, "actor", required=True, max_len=64)
    try:
        data = await _store(request).run(_change_ticket, _store(request), ticket_service.set_contact, ticket_no,
                                         contact_phone=contact_phone, contact_name=contact_name, actor=actor)
    except ticket_service.TicketError as exc:
        raise _ticket_error(exc) from None
    return _json(data)



@routes.post("/api/v1/tickets/{ticket_no}/address")
async def change_ticket_address(request: web.Request) -> web.Response:
    """The address the customer corrected after the ticket was opened (the old one is kept in
    the ticket's record)."""
    ticket_no = request.match_info["ticket_no"].strip().upper()
    body = await json_object(request)
    address = string(body, "address", required=True, max_len=255)
    actor = string(body, "actor", required=True, max_len=64)
    try:
        data = await _store(request).run(_change_ticket, _store(request), ticket_service.set_address, ticket_no,
                                         address=address, actor=actor)
    except ticket_service.TicketError as exc:
        raise _ticket_error(exc) from None
    return _json(data)


@routes.post("/api/v1/tickets/{ticket_no}/notes")
async def add_ticket_note(request: web.Request) -> web.Response:
    """More the customer said after the ticket was opened (or a remark of staff), kept on the ticket."""
    ticket_no = request.match_info["ticket_no"].strip().upper()
    body = await json_object(request)
    note = string(body, "note", required=True, max_len=2000)
    actor = string(body, "actor", required=True, max_len=64)
    try:
        data = await _store(request).run(_change_ticket, _store(request), ticket_service.add_note, ticket_no,
                                         actor=actor, note=note)
    except ticket_service.TicketError as exc:
        raise _ticket_error(exc) from None
    return _json(data)

async def _notify_customer(request: web.Request, ticket: dict) -> None:
    """Tells the customer on their own channel (bot.sla.notify); best effort, once per status."""
    from bot.sla.notify import notify_ticket_status

    try:
        await notify_ticket_status(request.config_dict, ticket["ticket_no"], ticket["status"])
    except Exception:  # the status change itself is stored; a failed notice must not undo the answer
        logging.getLogger(__name__).exception("ticket %s: customer notification failed", ticket["ticket_no"])


# ---------------------------------------------------------------- satisfaction surveys


def _save_survey(store, conversation_id: str | None, ticket_no: str | None, rating: str,
                 comment: str | None) -> dict[str, Any]:
    with store.session() as session:
        ticket = None
        if not ticket_no and conversation_id:
            # A 回访 answer without a number belongs to the ticket the follow-up asked about.
            from bot.sla.notify import pending_survey_ticket

            ticket_no = pending_survey_ticket(session, conversation_id)
        if ticket_no:
            ticket = session.execute(select(Ticket).where(Ticket.ticket_no == ticket_no)).scalar_one_or_none()
            if ticket is None:
                raise ticket_service.TicketError("validation_error", f"ticket {ticket_no} does not exist",
                                                 "ticket_no")
        answer = SurveyAnswer(conversation_id=conversation_id, ticket_no=ticket_no, rating=rating,
                              comment=comment)
        session.add(answer)
        if ticket is not None:
            ticket.satisfaction = rating
            session.add(TicketEvent(ticket_id=ticket.id, actor="customer", kind="survey",
                                    data={"rating": rating, **({"comment": comment} if comment else {})}))
        if conversation_id:
            conversation = session.get(Conversation, conversation_id)
            if conversation is not None:
                conversation.satisfaction = rating
        session.flush()
        return {"id": answer.id, "conversation_id": conversation_id, "ticket_no": ticket_no,
                "rating": rating, "comment": comment, "created_at": iso_local(answer.created_at)}


@routes.post("/api/v1/surveys")
async def create_survey(request: web.Request) -> web.Response:
    body = await json_object(request)
    conversation_id = string(body, "conversation_id", max_len=128)
    ticket_no = string(body, "ticket_no", max_len=32)
    rating = string(body, "rating", required=True, max_len=16, choices=SURVEY_RATINGS)
    comment = string(body, "comment", max_len=2000)
    if not conversation_id and not ticket_no:
        raise validation_error("conversation_id", "give conversation_id or ticket_no")
    try:
        data = await _store(request).run(_save_survey, _store(request), conversation_id,
                                         ticket_no.upper() if ticket_no else None, rating, comment)
    except ticket_service.TicketError as exc:
        raise _ticket_error(exc) from None
    return _json(data, status=201)
