"""Chinese labels and display helpers of the console."""
from __future__ import annotations

from datetime import datetime

from bot import vocabulary
from bot.store.types import SHANGHAI

CHANNELS = {"web": "网页", "wechat": "微信公众号", "wecom": "企业微信", "rest": "接口"}
CONVERSATION_STATES = {"bot": "机器人服务中", "waiting": "排队中", "human": "人工服务中", "closed": "已结束"}
HANDOFF_REASONS = {"customer_request": "客户要求转人工", "fallback": "机器人未能理解",
                   "identity_failed": "身份核验失败", "staff_takeover": "坐席主动接管"}
HANDOFF_STATUSES = {"waiting": "排队中", "accepted": "已接入", "returned": "已转回机器人",
                    "closed": "已结束", "missed": "未接通（已转回电）"}
SENDERS = {"customer": "客户", "bot": "机器人", "staff": "客服", "system": "系统"}
# The product's words (bot.vocabulary), as the templates read them (L.TICKET_TYPES...).
TICKET_TYPES = vocabulary.TICKET_TYPES
TICKET_STATUSES = vocabulary.TICKET_STATUSES
BUSINESS_TYPES = vocabulary.BUSINESS_TYPES
PRIORITIES = {"normal": "普通", "high": "紧急", "urgent": "特急"}
SATISFACTION = {"satisfied": "满意", "neutral": "一般", "dissatisfied": "不满意"}
ROLES = {"agent": "坐席", "supervisor": "班长"}
AREAS = vocabulary.AREA_TYPES
SLA_STATES = {"met": "按时达成", "breached": "超时", "at_risk": "临近超时", "open": "进行中"}
INTENTS = {
    "greet": "问候", "goodbye": "再见", "thank": "感谢", "affirm": "肯定", "deny": "否定", "inform": "提供信息",
    "query_bill": "电费查询", "ask_bill_reason": "电费异常原因", "report_fault": "故障报修",
    "query_outage": "停电查询", "apply_service": "业务办理", "query_progress": "进度查询", "complain": "投诉",
    "tip_off": "举报", "suggest": "意见建议", "praise": "表扬", "request_human": "转人工", "faq": "常见问题",
    "chitchat": "闲聊", "out_of_scope": "超出范围", "rate_service": "满意度评价", "cancel": "取消",
    "nlu_fallback": "未能理解",
}

def intent_label(intent: str | None) -> str:
    if not intent:
        return ""
    base = intent.split("/", 1)[0]
    label = INTENTS.get(base, intent)
    return f"{label}（{intent}）" if label != intent else intent


# What the bot and the gateway put in a ticket's ``details``, as staff read it.
DETAIL_LABELS = {"address": "地址", "description": "故障描述", "hazard": "安全隐患", "hazard_words": "隐患描述",
                 "documents": "所需材料", "content": "内容", "anonymous": "匿名", "reason": "转人工原因",
                 "desk_closed": "非服务时间", "business_type": "业务类型",
                 "nobody_online": "无坐席在线", "capacity": "用电容量（客户所述）"}
ACTORS = {"bot": "机器人", "system": "系统", "customer": "客户", "sla-watcher": "时限监控"}


def detail_label(key: str) -> str:
    return DETAIL_LABELS.get(key, key)


def detail_value(key: str, value) -> str:
    """A details value in words: yes/no, lists joined, hand-off reasons named."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    if key == "reason":
        return HANDOFF_REASONS.get(str(value), str(value))
    if key == "business_type":
        return BUSINESS_TYPES.get(str(value), str(value))
    return str(value)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


def duration(seconds: float) -> str:
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    if minutes:
        return f"{minutes}分{secs:02d}秒"
    return f"{secs}秒"
