"""The OpenAPI 3 description of the REST API, served at ``GET /api/openapi.json``."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.store.models import AREA_TYPES, CUSTOMER_TYPES, HANDOFF_STATUSES, PRIORITIES, TICKET_TYPES
from bot.tickets import TICKET_STATUSES
from bot.vocabulary import NOTICE_KINDS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(schema: dict, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _answer(description: str, schema: dict | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
}
NULLABLE_STRING = {"type": "string", "nullable": True}
ISO_TIME = {"type": "string", "format": "date-time", "description": "ISO-8601, Asia/Shanghai (+08:00)"}


def _path_param(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


# Who a lookup by account number is for: counted, a conversation or client asking about too
# many different account numbers gets 429 rate_limited.
ASKER_PARAMS = [
    _query("conversation_id", {"type": "string", "maxLength": 128},
           "the conversation (Rasa sender id) asking; at most 5 different account numbers in 10 minutes"),
    _query("client", {"type": "string", "pattern": r"^[A-Za-z0-9:._-]{1,64}$"},
           "the client behind it (the web channel's client key); at most 20 different account numbers an hour"),
]
RATE_LIMITED = {"429": {"description": "rate_limited: too many different account numbers looked up "
                                       "(Retry-After gives the seconds)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}

NOTICE_KIND_ENUM = {"type": "string", "enum": list(NOTICE_KINDS)}
BINDINGS_ANSWER = {"type": "object", "properties": {"bindings": {"type": "array", "items": _ref("NoticeBinding")}}}
CONVERSATION = {"type": "string", "maxLength": 128, "pattern": r"^[^\s\x00-\x1f\x7f]{1,128}$",
                "description": "the conversation (Rasa sender id); the gateway takes the channel and the "
                               "channel user from its own record of it"}
NOT_PROVEN = {"403": {"description": "identity_not_proven: the customer has not proved this account in this "
                                     "conversation (identity/verify with its conversation_id)",
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}


def notice_paths() -> dict[str, Any]:
    """The customer side of notices (bot/api/notices.py)."""
    return {
        "/api/v1/notices/bindings": {
            "post": {
                "summary": "Bind the conversation's channel identity to an account (绑定户号); idempotent",
                "requestBody": _json_body({"type": "object", "required": ["account_no", "conversation_id"],
                                           "properties": {"account_no": {"type": "string", "pattern": r"^\d{10}$"},
                                                          "conversation_id": CONVERSATION}}),
                "responses": {"201": _answer("bound", {"type": "object", "properties": {
                    "binding": _ref("NoticeBinding"), "created": {"type": "boolean"}}}),
                    "200": _answer("already bound (the same binding)"), **ERRORS, **NOT_PROVEN,
                    "404": {"$ref": "#/components/responses/NotFound"}}},
            "get": {
                "summary": "The bindings and subscriptions of the conversation's person (我的订阅)",
                "parameters": [_query("conversation_id", CONVERSATION)],
                "responses": {"200": _answer("bindings", BINDINGS_ANSWER), **ERRORS,
                              "404": {"$ref": "#/components/responses/NotFound"}}}},
        "/api/v1/notices/bindings/unbind": {"post": {
            "summary": "End the person's binding of an account (all of them without account_no)",
            "requestBody": _json_body({"type": "object", "required": ["conversation_id"], "properties": {
                "conversation_id": CONVERSATION, "account_no": {"type": "string", "pattern": r"^\d{10}$"}}}),
            "responses": {"200": _answer("the accounts unbound and the bindings left", {"type": "object", "properties": {
                "unbound": {"type": "array", "items": {"type": "string"}},
                "bindings": {"type": "array", "items": _ref("NoticeBinding")}}}), **ERRORS,
                "404": {"$ref": "#/components/responses/NotFound"}}}},
        "/api/v1/notices/subscriptions": {"post": {
            "summary": "Switch notice kinds on or off for the person's bindings (of account_no, or all)",
            "requestBody": _json_body({"type": "object", "required": ["conversation_id", "kinds", "enabled"],
                                       "properties": {"conversation_id": CONVERSATION,
                                                      "account_no": {"type": "string", "pattern": r"^\d{10}$"},
                                                      "kinds": {"type": "array", "items": NOTICE_KIND_ENUM},
                                                      "enabled": {"type": "boolean"}}}),
            "responses": {"200": _answer("the bindings after the change", BINDINGS_ANSWER), **ERRORS,
                          "404": _answer("not_bound: no active binding", _ref("Error")),
                          "409": _answer("always_on: this kind cannot be switched off", _ref("Error"))}}},
        "/api/v1/notices/usage-chart": {"post": {
            "summary": "A link to the account's 12-month usage chart (一图看懂) and its summary in words",
            "requestBody": _json_body({"type": "object", "required": ["account_no", "conversation_id"],
                                       "properties": {"account_no": {"type": "string", "pattern": r"^\d{10}$"},
                                                      "conversation_id": CONVERSATION}}),
            "responses": {"201": _answer("the link (absent when the account has no bill)", {
                "type": "object", "properties": {
                    "url": {"type": "string", "description": "GET it without a token: the PNG; unguessable, bound "
                                                             "to the account, expires (403 altered, 410 expired)"},
                    "path": {"type": "string"}, "expires_at": {"type": "integer", "description": "Unix time"},
                    "expires_in": {"type": "integer"}, "title": {"type": "string"},
                    "text": {"type": "string", "description": "two lines in Chinese"},
                    "summary": {"type": "object"}}}), **ERRORS, **NOT_PROVEN}}},
    }



SCHEMAS: dict[str, Any] = {
    "NoticeBinding": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "account_no": {"type": "string"},
            "channel": {"type": "string", "enum": ["web", "wechat", "wecom", "sms"]},
            "conversation_id": NULLABLE_STRING, "created_at": ISO_TIME,
            "subscriptions": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string"}, "name": {"type": "string"}, "enabled": {"type": "boolean"},
                "switchable": {"type": "boolean"}}}},
        },
    },
    "Error": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string", "example": "validation_error"},
                       "message": {"type": "string"},
                       "field": {"type": "string", "description": "the offending field (validation errors)"}},
    },
    "Customer": {
        "type": "object",
        "properties": {
            "account_no": {"type": "string", "pattern": r"^\d{10}$"},
            "name": {"type": "string"},
            "phone_masked": {"type": "string", "example": "138****0518"},
            "address": {"type": "string"},
            "area_type": {"type": "string", "enum": list(AREA_TYPES)},
            "customer_type": {"type": "string", "enum": list(CUSTOMER_TYPES)},
            "balance": {"type": "number", "nullable": True,
                        "description": "prepaid balance in yuan (negative: in arrears); null for post-paid accounts"},
        },
    },
    "Bill": {
        "type": "object",
        "properties": {
            "period": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
            "kwh": {"type": "number"}, "amount": {"type": "number", "description": "yuan"},
            "due_date": {"type": "string", "format": "date"},
            "status": {"type": "string", "enum": ["unpaid", "paid", "overdue"],
                       "description": "unpaid past its due date is reported as overdue"},
            "paid_at": {**ISO_TIME, "nullable": True},
            "peak_kwh": {"type": "number", "nullable": True},
            "valley_kwh": {"type": "number", "nullable": True},
            "tiers": {"type": "array", "nullable": True, "items": {
                "type": "object", "properties": {
                    "tier": {"type": "integer"}, "kwh": {"type": "number"}, "price": {"type": "number"},
                    "surcharge": {"type": "boolean",
                                  "description": "true: price is the tier's surcharge on top of peak/valley prices"}}}},
        },
    },
    "Outage": {
        "type": "object",
        "properties": {
            "outage_no": {"type": "string"}, "kind": {"type": "string", "enum": ["planned", "unplanned"]},
            "area": {"type": "string"}, "scope": {"type": "array", "items": {"type": "string"}},
            "start": ISO_TIME, "end": ISO_TIME, "reason": {"type": "string"},
            "active": {"type": "boolean", "description": "under way now"},
        },
    },
    "Milestone": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "rule": {"type": "string"}, "due_at": ISO_TIME,
                       "met_at": {**ISO_TIME, "nullable": True}, "breached": {"type": "boolean"}},
    },
    "Ticket": {
        "type": "object",
        "required": ["ticket_no", "type", "status", "priority", "account_no", "conversation_id",
                     "channel", "summary", "created_at", "milestones"],
        "properties": {
            "ticket_no": {"type": "string", "example": "BX20261126001"},
            "type": {"type": "string", "enum": list(TICKET_TYPES)},
            "status": {"type": "string", "enum": list(TICKET_STATUSES)},
            "priority": {"type": "string", "enum": list(PRIORITIES)},
            "account_no": NULLABLE_STRING, "conversation_id": NULLABLE_STRING,
            "channel": {"type": "string"}, "summary": {"type": "string"},
            "created_at": ISO_TIME, "updated_at": ISO_TIME,
            "business_type": NULLABLE_STRING, "area_type": NULLABLE_STRING,
            "details": {"type": "object"},
            "milestones": {"type": "array", "items": _ref("Milestone"),
                           "description": "every response-time rule that applies, first due first"},
            "events": {"type": "array", "description": "only on GET /api/v1/tickets/{ticket_no}",
                       "items": {"type": "object", "properties": {
                           "at": ISO_TIME, "actor": {"type": "string"}, "kind": {"type": "string"},
                           "data": {"type": "object"}}}},
        },
    },
    "TicketCreate": {
        "type": "object", "required": ["type", "summary", "channel", "request_key"],
        "properties": {
            "type": {"type": "string", "enum": list(TICKET_TYPES)},
            "summary": {"type": "string", "maxLength": 2000},
            "channel": {"type": "string", "example": "web"},
            "priority": {"type": "string", "enum": list(PRIORITIES), "default": "normal"},
            "account_no": {"type": "string", "pattern": r"^\d{10}$"},
            "conversation_id": {"type": "string"},
            "business_type": {"type": "string", "example": "new_connection"},
            "area_type": {"type": "string", "enum": list(AREA_TYPES),
                          "description": "default: the account's, else the address's in areas.yml, else urban"},
            "applicant_type": {"type": "string",
                               "enum": ["residential", "commercial", "industrial", "high_voltage"],
                               "description": "applications: who applies; picks the schedule "
                                              "(default: the account's customer type)"},
            "contact_name": {"type": "string"}, "contact_phone": {"type": "string"},
            "details": {"type": "object"},
            "request_key": {"type": "string", "maxLength": 128,
                            "description": "client key: a retry with the same key returns the first ticket (200)"},
            "actor": {"type": "string", "default": "bot"},
        },
    },
    "Handoff": {
        "type": "object",
        "properties": {
            "conversation_id": {"type": "string"}, "channel": {"type": "string"},
            "reason": {"type": "string"}, "status": {"type": "string", "enum": list(HANDOFF_STATUSES)},
            "created_at": ISO_TIME, "accepted_at": {**ISO_TIME, "nullable": True},
            "agent": NULLABLE_STRING, "callback_ticket_no": NULLABLE_STRING,
        },
    },
}


# The gateway's OpenAPI description (``spec()``) on its app, served at /api/openapi.json.
OPENAPI_SPEC: web.AppKey[dict[str, Any]] = web.AppKey("api_openapi")


def spec() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/v1/identity/verify": {"post": {
            "summary": "Check a customer's identity: account number plus last four phone digits (and name, if given)",
            "requestBody": _json_body({"type": "object", "required": ["account_no", "phone_last4"], "properties": {
                "account_no": {"type": "string", "pattern": r"^\d{10}$"},
                "phone_last4": {"type": "string", "pattern": r"^\d{4}$"},
                "name": {"type": "string", "description": "optional, checked in addition to the digits, never instead"},
                "client": {"type": "string", "pattern": r"^[A-Za-z0-9:._-]{1,64}$",
                           "description": "optional: the client behind the conversation (lookup rate limit)"},
                "conversation_id": {
                    "type": "string", "maxLength": 128, "pattern": r"^[^\s\x00-\x1f\x7f]{1,128}$",
                    "description": "optional: the conversation (Rasa sender id) the customer is verified in; "
                                   "on success the account is recorded on that existing conversation "
                                   "(a later successful check for another account replaces it; a failed "
                                   "check changes nothing; no conversation is created)"}}}),
            "responses": {"200": _answer("the outcome", {"type": "object", "properties": {
                "verified": {"type": "boolean"},
                "conversation_linked": {
                    "type": "boolean",
                    "description": "present when verified with a conversation_id: whether that conversation "
                                   "exists and now carries the account"},
                "reason": {"type": "string", "enum": ["not_found", "mismatch", "locked"],
                           "description": "locked: too many failed checks for this account from this "
                                          "conversation (5 in 15 min), this client (10 in an hour) "
                                          "or from anywhere (20 in an hour)"},
                "customer": _ref("Customer")}}), **ERRORS, **RATE_LIMITED}}},
        "/api/v1/identity/verify-by-phone": {"post": {
            "summary": "Find and verify a customer who does not know the account number: the registered "
                       "mobile number in full plus the holder's name (one of the candidates said)",
            "requestBody": _json_body({"type": "object", "required": ["phone", "names"], "properties": {
                "phone": {"type": "string", "pattern": r"^1[3-9][0-9]{9}$"},
                "names": {"type": "array", "minItems": 1, "maxItems": 8,
                          "items": {"type": "string", "minLength": 1, "maxLength": 16},
                          "description": "name candidates from what the customer said; exactly one account "
                                         "with this phone must carry one of them"},
                "client": {"type": "string", "pattern": r"^[A-Za-z0-9:._-]{1,64}$"},
                "conversation_id": {"type": "string", "maxLength": 128, "pattern": r"^[^\s\x00-\x1f\x7f]{1,128}$",
                                    "description": "as for /api/v1/identity/verify"}}}),
            "responses": {"200": _answer("the outcome", {"type": "object", "properties": {
                "verified": {"type": "boolean"},
                "conversation_linked": {"type": "boolean"},
                "reason": {"type": "string", "enum": ["mismatch", "locked"],
                           "description": "mismatch: no single account with this phone and one of these names "
                                          "(an unknown phone answers the same); locked: too many failed checks "
                                          "for this phone (5 in an hour), conversation or client"},
                "customer": _ref("Customer")}}), **ERRORS, **RATE_LIMITED}}},
        "/api/v1/accounts/{account_no}": {"get": {
            "summary": "A customer account",
            "parameters": [_path_param("account_no", r"^\d{10}$"), *ASKER_PARAMS],
            "responses": {"200": _answer("the account", _ref("Customer")),
                          "404": {"$ref": "#/components/responses/NotFound"}, **ERRORS, **RATE_LIMITED}}},
        "/api/v1/accounts/{account_no}/bills": {"get": {
            "summary": "Bills of an account, newest first",
            "parameters": [_path_param("account_no", r"^\d{10}$"),
                           _query("period", {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "one billing month"),
                           _query("limit", {"type": "integer", "minimum": 1, "maximum": 120, "default": 12})],
            "responses": {"200": _answer("bills", {"type": "object", "properties": {
                "bills": {"type": "array", "items": _ref("Bill")}}}),
                "404": {"$ref": "#/components/responses/NotFound"}, **ERRORS}}},
        "/api/v1/outages": {"get": {
            "summary": "Current or upcoming (next 7 days) outages covering an address",
            "parameters": [_query("address", {"type": "string"}, "free-text address"),
                           _query("account_no", {"type": "string"}, "also use this account's registered address"),
                           *ASKER_PARAMS],
            "responses": {"200": _answer("outages", {"type": "object", "properties": {
                "outages": {"type": "array", "items": _ref("Outage")}}}),
                "404": {"$ref": "#/components/responses/NotFound"}, **ERRORS, **RATE_LIMITED}}},
        "/api/v1/areas": {"get": {
            "summary": "The area type (urban/rural/remote) that areas.yml gives an address, null if it does not decide",
            "parameters": [_query("address", {"type": "string"}, "free-text address")],
            "responses": {"200": _answer("the area type", {"type": "object", "properties": {
                "address": {"type": "string"},
                "area_type": {"type": "string", "enum": list(AREA_TYPES), "nullable": True},
                "place": {"type": "string", "nullable": True}}}), **ERRORS}}},
        "/api/v1/tickets": {
            "post": {
                "summary": "Create a ticket (idempotent on request_key)",
                "requestBody": _json_body(_ref("TicketCreate")),
                "responses": {"201": _answer("created", _ref("Ticket")),
                              "200": _answer("the ticket created earlier with this request_key", _ref("Ticket")),
                              "409": {"$ref": "#/components/responses/Conflict"}, **ERRORS}},
            "get": {
                "summary": "Tickets, newest first",
                "parameters": [_query("account_no", {"type": "string"}),
                               _query("status", {"type": "string", "enum": ["open", "closed", "all",
                                                                            *TICKET_STATUSES]}),
                               _query("type", {"type": "string", "enum": list(TICKET_TYPES)}),
                               _query("conversation_id", {"type": "string"}),
                               _query("contact", {"type": "string", "enum": ["missing"]},
                                      "missing: only tickets with no contact phone"),
                               _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})],
                "responses": {"200": _answer("tickets", {"type": "object", "properties": {
                    "tickets": {"type": "array", "items": _ref("Ticket")}}}), **ERRORS}}},
        "/api/v1/tickets/{ticket_no}": {"get": {
            "summary": "A ticket with its milestones and events",
            "parameters": [_path_param("ticket_no")],
            "responses": {"200": _answer("the ticket", _ref("Ticket")),
                          "404": {"$ref": "#/components/responses/NotFound"}, **ERRORS}}},
        "/api/v1/tickets/{ticket_no}/status": {"post": {
            "summary": "Change a ticket's status; meets the milestones whose rule lists this status",
            "parameters": [_path_param("ticket_no")],
            "requestBody": _json_body({"type": "object", "required": ["status", "actor"], "properties": {
                "status": {"type": "string", "enum": list(TICKET_STATUSES)},
                "actor": {"type": "string"}, "note": {"type": "string"}}}),
            "responses": {"200": _answer("the ticket", _ref("Ticket")),
                          "404": {"$ref": "#/components/responses/NotFound"},
                          "409": {"$ref": "#/components/responses/Conflict"}, **ERRORS}}},
        "/api/v1/tickets/{ticket_no}/notes": {"post": {
            "summary": "Keep more of what the customer said (or a staff remark) on the ticket",
            "parameters": [_path_param("ticket_no")],
            "requestBody": _json_body({"type": "object", "required": ["note", "actor"], "properties": {
                "note": {"type": "string", "maxLength": 2000}, "actor": {"type": "string"}}}),
            "responses": {"200": _answer("the ticket", _ref("Ticket")),
                          "404": {"$ref": "#/components/responses/NotFound"},
                          "400": {"$ref": "#/components/responses/BadRequest"}}}},
        "/api/v1/tickets/{ticket_no}/address": {"post": {
            "summary": "Record the address the customer corrected after the ticket was opened (the old one stays in its record)",
            "parameters": [_path_param("ticket_no")],
            "requestBody": _json_body({"type": "object", "required": ["address", "actor"], "properties": {
                "address": {"type": "string", "maxLength": 255, "example": "南京市玄武区和平社区81号"},
                "actor": {"type": "string"}}}),
            "responses": {"200": _answer("the ticket", _ref("Ticket")),
                          "404": {"$ref": "#/components/responses/NotFound"},
                          "409": {"$ref": "#/components/responses/Conflict"}, **ERRORS}}},
        "/api/v1/tickets/{ticket_no}/contact": {"post": {
            "summary": "Record the phone (and name) to reach the customer on, given after the ticket was opened",
            "parameters": [_path_param("ticket_no")],
            "requestBody": _json_body({"type": "object", "required": ["contact_phone", "actor"], "properties": {
                "contact_phone": {"type": "string", "example": "13812340001"},
                "contact_name": {"type": "string"}, "actor": {"type": "string"}}}),
            "responses": {"200": _answer("the ticket", _ref("Ticket")),
                          "404": {"$ref": "#/components/responses/NotFound"},
                          "409": {"$ref": "#/components/responses/Conflict"}, **ERRORS}}},
        "/api/v1/handoffs": {"post": {
            "summary": "Hand a conversation over to staff",
            "requestBody": _json_body({"type": "object", "required": ["conversation_id", "channel", "reason"],
                                       "properties": {
                                           "conversation_id": {"type": "string"}, "channel": {"type": "string"},
                                           "reason": {"type": "string", "example": "customer_request"},
                                           "summary": {"type": "string"}}}),
            "responses": {"201": _answer("the hand-off", _ref("Handoff")), **ERRORS}}},
        "/api/v1/surveys": {"post": {
            "summary": "Record a satisfaction answer",
            "requestBody": _json_body({"type": "object", "required": ["rating"], "properties": {
                "conversation_id": {"type": "string"}, "ticket_no": {"type": "string"},
                "rating": {"type": "string", "enum": ["satisfied", "neutral", "dissatisfied"]},
                "comment": {"type": "string"}}}),
            "responses": {"201": _answer("recorded"), **ERRORS}}},
    }
    paths.update(notice_paths())
    for methods in paths.values():
        for operation in methods.values():
            operation.setdefault("security", [{"serviceToken": []}])
    return {
        "openapi": "3.0.3",
        "info": {"title": "Power utility customer service gateway API", "version": "1.0.0",
                 "description": "Used by the Rasa action server and the staff console. "
                                "Every /api/v1 path needs `Authorization: Bearer <SERVICE_TOKEN>`."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"serviceToken": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
            "responses": {
                "BadRequest": _answer("invalid input (the message names the field)", _ref("Error")),
                "Unauthorized": _answer("missing or wrong service token", _ref("Error")),
                "NotFound": _answer("no such record", _ref("Error")),
                "Conflict": _answer("the request conflicts with the record's state", _ref("Error")),
            },
        },
    }
