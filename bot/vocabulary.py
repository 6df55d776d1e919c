"""The product's words, defined once: ticket types, ticket statuses and business types, with
their Chinese names.

The keys are the contract's (``type`` of a ticket: docs/ARCHITECTURE.md and CONTRACT.md) and
the NLU agreement's (``business_type``); the Chinese names are what staff and customers read.
Like ``bot.masking`` this module imports nothing (no Rasa, no aiohttp, no store), so every
process of the one image uses it:

- the gateway: the store's and the API's allowed values (``bot.store.models``, ``bot.tickets``),
  the console's labels (``bot.console.labels``) and pages, the SLA notices and report
  (``bot.sla.notify``, ``bot.sla.report``), the dashboard;
- the console's scripts: every console page carries :func:`as_json` in
  ``<script type="application/json" id="vocabulary">`` (a data block, not run, so the console's
  CSP ``script-src 'self'`` allows it), also served at ``/console/api/vocabulary``;
- the action server (``actions/``), which runs from the same repository and image.

Area types (``area_type``) are named here as well.

What the bot tells a customer about a status is a sentence rather than a name
(``TICKET_STATUS_PHRASES``); it lives here too so that a status has its words in one place.
"""
from __future__ import annotations

from typing import Any, Dict

# Ticket types (CONTRACT.md: repair|complaint|tip_off|suggestion|praise|application|callback).
TICKET_TYPES: Dict[str, str] = {
    "repair": "故障报修",
    "complaint": "投诉",
    "tip_off": "举报",
    "suggestion": "意见建议",
    "praise": "表扬",
    "application": "业务办理",
    "callback": "回电",  # the hand-off's callback ticket (HD…): staff call the customer back
}

# Ticket statuses (docs/ARCHITECTURE.md), in their order, with the name staff read.
TICKET_STATUSES: Dict[str, str] = {
    "new": "新建",
    "accepted": "已受理",
    "dispatched": "已派工",
    "arrived": "已到达现场",
    "in_progress": "处理中",
    "resolved": "已解决",
    "closed": "已关闭",
    "cancelled": "已取消",
}
# What the bot tells a customer a ticket's status is (progress questions, hand-off context).
TICKET_STATUS_PHRASES: Dict[str, str] = {
    "new": "已登记，待受理",
    "accepted": "已受理",
    "dispatched": "已派工，抢修人员正在赶往现场",
    "arrived": "抢修人员已到达现场",
    "in_progress": "正在处理",
    "resolved": "已处理完成",
    "closed": "已办结",
    "cancelled": "已撤销",
}
# Nothing more can happen to a ticket in these statuses (the API answers 409 ticket_final).
FINAL_STATUSES = ("closed", "cancelled")
# A ticket in these statuses needs nothing more from anyone.
DONE_STATUSES = ("resolved", "closed", "cancelled")

# Business types (业务办理): the canonical ``business_type`` values of the NLU agreement.
BUSINESS_TYPES: Dict[str, str] = {
    "new_connection": "新装用电",
    "capacity_change": "增容/减容",
    "name_transfer": "过户",
    "meter_move": "移表",
    "ev_charger": "充电桩报装",
    "pv_connection": "光伏并网",
    "tariff_change": "电价变更",
    "account_closing": "销户",
    "meter_check": "电能表校验",
}


# Proactive notices (bot/notices): each kind with the name a customer and staff read (我的订阅,
# the console), whether a newly bound customer gets it until they say otherwise, and whether it
# is urgent (sent in quiet hours too and outside the daily cap).
NOTICE_KINDS: Dict[str, str] = {
    "bill_issued": "电费账单通知",
    "due_reminder": "缴费到期提醒",
    "overdue": "欠费提醒",
    "low_balance": "余额不足提醒",
    "planned_outage": "停电通知",
    "restoration": "恢复供电通知",
    "abnormal_usage": "用电异常提醒",
    "ticket_status": "工单进度通知",
    "adhoc": "紧急通知",
}
NOTICE_KINDS_ON_BY_DEFAULT = tuple(NOTICE_KINDS)  # every kind, until the customer unsubscribes
NOTICE_KINDS_URGENT = ("restoration", "adhoc")  # an emergency notice is sent at any hour
# Kinds a customer may not switch off (they concern a request the customer made themselves).
NOTICE_KINDS_ALWAYS_ON = ("ticket_status",)

# Area types (CONTRACT.md import format: urban|rural|remote): which repair deadline a place gets.
AREA_TYPES: Dict[str, str] = {
    "urban": "城区",
    "rural": "乡村",
    "remote": "偏远山区",
}


def ticket_type_name(key: Any, default: str = "工单") -> str:
    return TICKET_TYPES.get(key, default) if isinstance(key, str) else default


def business_type_name(key: Any, default: str = "业务办理") -> str:
    return BUSINESS_TYPES.get(key, default) if isinstance(key, str) else default


def as_json() -> Dict[str, Dict[str, str]]:
    """The vocabulary as the console's scripts read it (``JSON.parse``)."""
    return {
        "ticket_types": dict(TICKET_TYPES),
        "ticket_statuses": dict(TICKET_STATUSES),
        "ticket_status_phrases": dict(TICKET_STATUS_PHRASES),
        "business_types": dict(BUSINESS_TYPES),
        "area_types": dict(AREA_TYPES),
        "notice_kinds": dict(NOTICE_KINDS),
    }
