"""Helpers every flow shares: time and periods, request keys, free-text answers, labels,
the identity check, and the actions that stop or pause a form."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Text, Tuple
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.responses import echoed
from bot import vocabulary
from bot.masking import mask_name, mask_phone  # noqa: F401  (the one masking rule; flows import it from here)
from nlu_components import colloquial
from nlu_components.wording import QUESTION_MARKS  # noqa: F401  (shared with the NLU rules; flows import it from here)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOTLINE = "95598"

# Intents that, asked inside a form, are a new request rather than an answer.
DIGRESSION_INTENTS = {"query_bill", "ask_bill_reason", "query_outage", "query_progress"}
STOP_INTENTS = {"cancel", "request_human"}

FORM_LABELS = {
    "bill_form": "电费查询",
    "fault_form": "故障报修",
    "outage_form": "停电查询",
    "application_form": "业务办理",
    "feedback_form": "诉求登记",
    "progress_form": "进度查询",
    "notice_form": "通知绑定",
}
# The product's words, defined once in bot.vocabulary (the gateway and the console use the same).
TICKET_TYPE_LABELS = vocabulary.TICKET_TYPES
# A ticket in these statuses needs nothing more from anyone.
DONE_STATUSES = vocabulary.DONE_STATUSES
# What a customer is told a ticket's status is.
TICKET_STATUS_LABELS = vocabulary.TICKET_STATUS_PHRASES


# --- time ---------------------------------------------------------------------------

def now_shanghai() -> datetime:
    return datetime.now(SHANGHAI)


_CN_MONTHS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
              "十": 10, "十一": 11, "十二": 12, "正": 1, "腊": 12, "冬": 11}
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def _shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


# "三个月前", "两个月以前", "3个月前": a month counted back from this one.
MONTHS_AGO = re.compile(r"(\d{1,2}|[一二两三四五六七八九十]|十[一二])个多?月(以)?前")
_CN_COUNTS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
              "十一": 11, "十二": 12}


def normalize_period(text: Optional[str], now: Optional[datetime] = None) -> Optional[str]:
    """Turns what a customer says about a month into YYYY-MM (Asia/Shanghai), or None.

    上个月, 上上个月, 本月, 9月, 九月份, 去年12月, 2026年9月, 2026-09, 2026.9 ...
    A bare month later than the current one means last year's: bills are never in the future.
    """
    if not text:
        return None
    now = (now or now_shanghai()).astimezone(SHANGHAI)
    value = str(text).translate(_FULLWIDTH).replace(" ", "")
    ago = MONTHS_AGO.search(value)
    if ago:
        # "三个月前那个电费": the bill three months back (上个月 is one month back).
        count = int(ago.group(1)) if ago.group(1).isdigit() else _CN_COUNTS.get(ago.group(1))
        if count and 1 <= count <= 24:
            y, m = _shift_month(now.year, now.month, -count)
            return f"{y:04d}-{m:02d}"
    if re.search(r"上上个?月", value):
        y, m = _shift_month(now.year, now.month, -2)
        return f"{y:04d}-{m:02d}"
    if re.search(r"上个?月|上月份", value):
        y, m = _shift_month(now.year, now.month, -1)
        return f"{y:04d}-{m:02d}"
    if re.search(r"(本|这个?|当)月", value):
        return f"{now.year:04d}-{now.month:02d}"
    match = re.search(r"(\d{4})\s*[-/.年]\s*(\d{1,2})", value)
    if match:
        y, m = int(match.group(1)), int(match.group(2))
        return f"{y:04d}-{m:02d}" if 1 <= m <= 12 else None
    year: Optional[int] = None
    if "前年" in value:
        year = now.year - 2
    elif "去年" in value:
        year = now.year - 1
    elif "今年" in value:
        year = now.year
    match = re.search(r"(\d{1,2})\s*月", value) or re.fullmatch(r"(\d{1,2})", value)
    month: Optional[int] = int(match.group(1)) if match else None
    if month is None:
        match = re.search(r"(十[一二]|[一二三四五六七八九十正腊冬])月", value)
        month = _CN_MONTHS.get(match.group(1)) if match else None
    if month is None or not 1 <= month <= 12:
        return None
    if year is None:
        year = now.year if month <= now.month else now.year - 1
    return f"{year:04d}-{month:02d}"


def period_label(period: str) -> str:
    year, month = period.split("-")
    return f"{int(year)}年{int(month)}月"


def parse_iso(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    return parsed.astimezone(SHANGHAI)


def format_time(value: Optional[str], now: Optional[datetime] = None) -> str:
    """'今天 15:30', '明天 09:00' or '11月28日 17:00' in Shanghai time."""
    moment = parse_iso(value)
    if moment is None:
        return str(value or "")
    today = (now or now_shanghai()).astimezone(SHANGHAI).date()
    delta = (moment.date() - today).days
    prefix = {0: "今天", 1: "明天", 2: "后天", -1: "昨天"}.get(delta)
    if prefix is None:
        prefix = f"{moment.month}月{moment.day}日" if moment.year == today.year else \
            f"{moment.year}年{moment.month}月{moment.day}日"
        if delta == 3:
            prefix = f"大后天（{prefix}）"
        elif 3 < delta <= 7:
            # Within the week ahead the weekday is what a customer plans by.
            prefix += f"（{WEEKDAYS[moment.weekday()]}）"
    return f"{prefix} {moment:%H:%M}"


WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def format_date(value: Optional[str]) -> str:
    if not value:
        return ""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", str(value))
    if not match:
        return str(value)
    return f"{int(match.group(1))}年{int(match.group(2))}月{int(match.group(3))}日"


# --- the conversation ---------------------------------------------------------------

def latest_user_event(tracker: Tracker) -> Dict[str, Any]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return {}


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_intent(tracker: Tracker) -> tuple[Optional[str], float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def channel_of(tracker: Tracker) -> str:
    metadata = (tracker.latest_message or {}).get("metadata") or latest_user_event(tracker).get("metadata") or {}
    channel = metadata.get("channel") if isinstance(metadata, dict) else None
    return str(channel) if channel else "web"


def asker(tracker: Tracker) -> Dict[str, Optional[str]]:
    """Who asks, for the gateway's limit on account-number lookups: the conversation and the
    client behind it (the web channel's ``client`` metadata, set by the gateway)."""
    metadata = (tracker.latest_message or {}).get("metadata") or latest_user_event(tracker).get("metadata") or {}
    client = metadata.get("client") if isinstance(metadata, dict) else None
    return {"conversation_id": tracker.sender_id, "client": str(client) if client else None}


def request_key(tracker: Tracker, purpose: str) -> str:
    """Same conversation + same user message + same purpose = same key, so a retried action
    (Rasa retries, a double click) finds the first ticket instead of creating a second."""
    event = latest_user_event(tracker)
    message_id = (tracker.latest_message or {}).get("message_id") or event.get("message_id") \
        or event.get("timestamp") or ""
    raw = f"{tracker.sender_id}|{message_id}|{purpose}"
    return f"rasa:{purpose}:{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:40]}"


def opening_text(tracker: Tracker, form: str) -> str:
    """The customer's message that started `form` most recently ("" when unknown)."""
    started = False
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == form:
            started = True
        elif started and event.get("event") == "user":
            return event.get("text") or ""
    return ""


# Power gone, in any words: "俺家电没得了", "家里没电了", "屋里黑了".
DARK_NOW = re.compile(r"电没(得|有)?了|没得电|么得电|没电了|没有电了|停电了|断电了|不来电|黑了|跳闸")


# "欠费要停电了 能不能宽限几天": more time asked to pay the customer's own arrears.
ARREARS_GRACE = re.compile(r"(欠费|欠了|没交电费|电费没交|催费|催缴|要停电|停我电)[^。！!]{0,20}(宽限|缓几天|缓一缓|缓缓|晚几天|迟几天|延期|推迟|通融|先别停|别停|不要停|等几天|过几天再)")


# A second request in the same message ("查电费，顺便问问明天停不停电"), by its words.
SECOND_REQUEST_WORDS = {
    "bill_form": re.compile(r"电费|账单|欠费|交了多少|用了多少度"),
    "outage_form": re.compile(r"停不停电|停电吗|要停电|会停电|停电计划|计划停电|有没有停电|停电安排|啥时候停电|什么时候停电|"
                              # "明天长乐路停电是真的吗 顺便帮我查下电费"
                              r"(今天|今晚|明天|明儿|后天|这周|下周|过几天)[^，,。？?]{0,8}停电[^，,。]{0,4}(真的|是不是|吗|没|不)"),
}


# "我想装个充电桩 哎对了 后天停不停电": an application in the same message as another request.
SECOND_REQUEST_WORDS["application_form"] = re.compile(
    r"(想|要|申请|办|报)[^，,。？?]{0,8}(充电桩|光伏|过户|销户|增容|新装|装个?电表|装表|移表)")


# "查下电费还欠多少 还有我家电压不稳 灯老是一暗一亮的 你们来看下": a crew asked for as well.
SECOND_REQUEST_WORDS["fault_form"] = re.compile(r"派(个)?人|来人|来修|上门(看|修)|过来看|来看看|来看下|来看一下|报修|帮我修|抢修")


def recently_in(tracker: Tracker, form: str, within_turns: int = 3) -> bool:
    """Whether ``form`` was active within the last few customer turns."""
    turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            turns += 1
            if turns > within_turns:
                return False
        elif event.get("event") == "active_loop" and event.get("name") == form:
            return True
    return False


def as_nlu_reads(text: Optional[str]) -> str:
    """The text with the NLU's spelling fixes and dialect words ("查下店里这个月点费" asks for the 电费);
    the actions otherwise see what the customer typed."""
    return colloquial.normalise(text or "")[0]


def second_request(text: str, current: str) -> Optional[str]:
    text = as_nlu_reads(text)
    for form, words in SECOND_REQUEST_WORDS.items():
        if form != current and words.search(text):
            return form
    return None


def second_request_events(text: str, current: str, paused: bool = False) -> List[EventType]:
    """The follow-up that serves the other request of the opening message (an application
    starts with the business named there)."""
    following = second_request(text, current)
    if not following or paused:
        return []
    events: List[EventType] = []
    if following == "fault_form":
        from actions.faults import fault_part, is_reconnection  # faults imports this module

        if is_reconnection(text):
            return []  # "欠费停电了 交了钱你们派人来送电": the reconnection rule, not a repair
        events.append(SlotSet("fault_description", fault_part(text)[:500]))
    if following == "application_form":
        from actions.applications import business_from_text  # applications imports this module

        business = business_from_text(text)
        if business:
            events.append(SlotSet("business_type", business))
    return events + [FollowupAction(following)]


def entity_values(tracker: Tracker, entity: str) -> List[str]:
    return [str(e.get("value")) for e in (tracker.latest_message or {}).get("entities") or []
            if e.get("entity") == entity and e.get("value") is not None]


# Slots whose answer is a story in the customer's words: a question there may be the story.
NARRATIVE_SLOTS = {"fault_description", "feedback_content"}
ASIDE_INTENTS = {"faq", "chitchat", "out_of_scope", "greet", "thank"}


# A new request inside a form names its subject: NLU is often sure of short statements that
# have nothing to do with it ("身份证我有的" read as a progress query, "等哈 我先看看是不是跳闸了"
# as a bill query), and those must not pause the form.
REQUEST_SUBJECT_WORDS = {
    "query_bill": re.compile(r"电费|账单|费用|欠费|缴费|交费|交钱|多少钱|扣费|扣款|余额|电量|几度|度数|多少度|用了多少"),
    "ask_bill_reason": re.compile(r"电费|费|贵|高|涨|钱|度"),
    "query_outage": re.compile(r"停电|来电|有电|没电|断电|停了|恢复|通电"),
    "query_progress": re.compile(r"进度|工单|单号|单子|到哪|怎么样了|处理|派|师傅|多久|还没|结果|受理|查一下|查查|查下"),
}


def names_its_subject(tracker: Tracker, intent: Optional[str]) -> bool:
    words = REQUEST_SUBJECT_WORDS.get(intent or "")
    text = latest_text(tracker)
    return words is None or text.startswith("/") or bool(words.search(text))


def is_digression(tracker: Tracker, slot: Optional[str] = None) -> bool:
    """A message that is not an answer: a command, a short new request NLU is sure of
    ("先帮我查下电费"), or, for short-answer slots, a question or small talk."""
    intent, confidence = latest_intent(tracker)
    if intent in STOP_INTENTS:
        return True
    if intent in DIGRESSION_INTENTS and not names_its_subject(tracker, intent):
        return False
    if intent in DIGRESSION_INTENTS and confidence >= 0.8 and len(latest_text(tracker)) <= 14:
        return True
    # "等等，我先查个电费看看是不是欠费停的": a longer new request is no value either.
    if intent in DIGRESSION_INTENTS and confidence >= 0.6 and slot is not None and slot not in NARRATIVE_SLOTS \
            and (not looks_like_value(tracker, slot) or WAIT_PREFIX.match(latest_text(tracker).strip())):
        return True
    return slot not in NARRATIVE_SLOTS and intent in ASIDE_INTENTS and confidence >= 0.8


def free_text_answer(tracker: Tracker, slot: str) -> Optional[str]:
    """The latest message as the answer to `slot`, if the form asked for it and the message
    is not a command, a new request, a plea, a stop or a correction of another field;
    buttons (`/intent{...}`) are never free text."""
    if tracker.get_slot("requested_slot") != slot:
        return None
    text = latest_text(tracker).strip()
    if not text or text.startswith("/") or is_digression(tracker, slot):
        return None
    if non_value_kind(tracker, slot) is not None:
        return None
    return text


# --- what a message inside a form is, when it is not the value asked for ------------

# "不用了", "不用修了", "算了不报了", "不查了": the customer stops the request.
STOP_WORDS = re.compile(
    r"^(哦|噢|那|那就|嗯|好吧|行吧|唉)?[，, ]*(算了|不用了?|不要了?|不需要了?|不必了?|没事了?|不弄了|不搞了|取消)"
    r"(吧|啊|呀)?[，,。!！ ]*$"
    r"|(不用|不要|不需要|不必|别)(再)?(帮我)?(修|报修|报|查|办|弄|搞|登记|申请|处理|投诉|派人)了"
    r"|^(算了|算啦)"
    r"|(不修|不报|不报修|不查|不办|不投诉|不申请|不改|不换|不装|不挪|不移|不过户|不销户|不开)了"
    r"|算了算了"
    # "不要登记不要登记 我就是说说 没得事了": a grumble, not a request to file.
    r"|(不要|不用|别|不)(给我)?登记|(就是|只是|随便)(说说|发发牢骚|吐槽)|说说而已"
    # "好 我先跟领导汇报一下 定下来再来申请", "回头再办": not now.
    r"|(定下来|商量好|考虑好|想好|回头|改天|下次|以后|过几天)(了)?再(来)?(办|申请|弄|登记|说|联系)"
    r"|再来(办|申请)|先不(办|申请|弄|登记)了?"
    # "行 那我准备好了再来": the papers first, the application another time.
    r"|(准备好|弄好|带齐|备齐)(了)?(材料|资料|东西)?再(来|说|办)")
# "等等", "等一下", "稍等": hold on, nothing to store.
WAIT_PREFIX = re.compile(r"(等等|等一下|等下|等会儿?|稍等|先等等|慢着|我先(去)?看看|我去看看|我先去)")
WAIT_WORDS = re.compile(r"^(等等|等一下|等一等|等会儿?|稍等(一下)?|你等下|先等等)[，,。!！ ]*$")
# "好 我在家等着", "那我等你们来": the customer will wait for the crew.
# "好的 我们已经下楼了" after an urgent repair: out of the building, waiting for the crew.
WAITING_WORDS = re.compile(r"在家等|我等着|那我等|我们等着|等你们(来|过来)|等(师傅|人)(来|过来)|(好|行|嗯|好的)[，,\s]*(那)?(我|我们)?等(着|你们)|"
                           r"(已经|都|先)(下楼|出来|撤出来|跑出来|跑出楼|到外面|到楼下|在楼下|在外面)")
# "能不能快点 家里有老人": a plea for speed or a reason to hurry, not an answer.
URGE_WORDS = re.compile(r"快点|快一点|尽快|赶紧|赶快|抓紧|着急|急死|等不了|要多久|多久能|老人|小孩|孩子|婴儿|病人|孕妇|冰箱里")
# "推上去又跳", "一开空调就跳闸": what happened, not where.
FAULT_STORY_WORDS = re.compile(
    r"跳闸|跳了|又跳|推上去|推不上|合不上|拉闸|空开|总闸|漏保|没电|停电|断电|不来电|黑了|灯不亮|灯闪|"
    r"电压低|电压不稳|冒烟|火花|烧了|短路|坏了|响|一半有电|时有时无|缺相|一相|楼上楼下|整栋楼|邻居家|隔壁(家)?也|"
    # "就我家 隔壁有电的": how far it reaches, the answer to the bot's own question about it
    r"就我家|只有我家|就我们家|只有我们家|(隔壁|邻居|别人家|对门)[^，,。]{0,4}有电")
# "不对，是…", "地址说错了", "电话写错了": a correction, of the field it names.
CORRECTION_WORDS = re.compile(r"不对|说错|错了|写错|打错|输错|搞错|弄错|更正|改一下|改成|改为|换成|应该是|重新说|纠正")
FIELD_WORDS = [
    ("address", re.compile(r"地址|住址|门牌|位置|地点|在哪")),
    ("account_no", re.compile(r"户号|用户号|用户编号")),
    ("phone_last4", re.compile(r"后四位|尾号")),
    ("contact_phone", re.compile(r"电话|手机|号码|联系方式")),
    ("applicant_name", re.compile(r"名字|姓名|申请人|我叫")),
]
# A place a crew or an outage notice can name, and a house number.
PLACE_WORDS = re.compile(
    r"省|市|区|县|旗|镇|乡|街道|村|组|社区|小区|花园|家园|新村|公寓|大厦|广场|苑|园|城|湾|里|坊|院|"
    r"路|街|道|巷|弄|胡同|屯|寨|庄|楼|栋|幢|单元")
HOUSE_NUMBER = re.compile(r"(\d+|[一二三四五六七八九十百零两]+)\s*(号|栋|幢|座|单元|室|楼|层|组|排|户|弄|-\d)")
# Words with a place ending that name no place ("家里", "楼道里", "小区里").
# ("我们已经下楼了", "跑出楼了": people moving, no place named.)
NOT_PLACES = re.compile(r"[家这那哪屋楼院村城镇区]里|楼道|小区里|我们(那|这)(边|儿|里)?|附近|周边|全村|整个|楼上|楼下|"
                        r"[下上出进回](了)?楼|(跑|走|撤|逃)(出|到)?[^，,。]{0,2}楼")
VILLAGE_LEVEL = re.compile(r"村|组|屯|寨|庄|镇|乡")
# "和平社区东边那片大棚", "龙池街道雄州南路那边的工地": a site with no number, found by what stands there.
NUMBERLESS_SITE = re.compile(r"大棚|鱼塘|养殖场|猪场|鸡场|牛场|工地|厂房|仓库|果园|茶园|菜地|农场|苗圃")


TAIL_MARK = re.compile(r"(?:尾号|后四位|后4位|手机后|后几位|尾数|手机最后(?:四位|4位)?)[是为：:\s]*(\d{4})(?!\d)")


def earlier_customer_texts(tracker: Tracker, turns: Optional[int] = None) -> Iterator[str]:
    """The customer's messages before the latest one, newest first (at most ``turns``; never
    before the session's start)."""
    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return
        if event.get("event") != "user":
            continue
        seen += 1
        if seen == 1:
            continue  # the message being read now
        if turns is not None and seen > turns + 1:
            return
        yield str(event.get("text") or "")


def bot_events_within(tracker: Tracker, turns: int) -> Iterator[Dict[str, Any]]:
    """The bot's messages since the customer's ``turns``-th latest message, newest first."""
    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen += 1
            if seen > turns:
                return
        elif event.get("event") == "bot":
            yield event


def bot_texts_within(tracker: Tracker, turns: int) -> Iterator[str]:
    """What the bot said since the customer's ``turns``-th latest message, newest first."""
    return (str(event.get("text") or "") for event in bot_events_within(tracker, turns))


def bot_responses_within(tracker: Tracker, turns: int) -> Iterator[str]:
    """The domain responses (utter_…) the bot sent since the customer's ``turns``-th latest
    message, newest first."""
    return (action for event in bot_events_within(tracker, turns)
            for action in [(event.get("metadata") or {}).get("utter_action")] if action)


def last4_said_before(tracker: Tracker, turns: int = 2) -> Optional[str]:
    """The last four digits the customer said (尾号…) in one of their few messages before this one."""
    return next((found.group(1) for text in earlier_customer_texts(tracker, turns)
                 for found in [TAIL_MARK.search(text.translate(_FULLWIDTH))] if found), None)


def account_numbers_in(text: str) -> List[str]:
    """The 10-digit 户号 in a message, in order ("3201 000 021" spaced out counts as one)."""
    # Only short groups are parts of one number: "3201000013 5821" is a 户号 and four digits.
    joined = re.sub(r"(?<!\d)\d{1,6}(?:\s\d{1,6})+(?!\d)", lambda m: m.group(0).replace(" ", ""), text)
    return re.findall(r"(?<!\d)(\d{10})(?!\d)", joined)


ACCOUNT_AND_FOUR = re.compile(r"(?:户号)?[是:：]?\s*(\d{10})\s*[\s,，、。]\s*(?:手机|电话)?(?:后四位|尾号)?[是:：]?\s*(\d{4})[。.]?")


def identity_offered(tracker: Tracker) -> Optional[tuple]:
    """(户号, last four) when the latest message offers the identity check on its own ("户号…
    尾号0330") and it is not done yet for that account."""
    text = resolve_inline_correction(latest_text(tracker)).translate(_FULLWIDTH)  # "尾号7502 哎不对 是5028"
    tail = TAIL_MARK.search(text)
    if not tail and tracker.get_slot("requested_slot") == "contact_phone":
        # "户号3201000013 5821" where the phone was asked "or the 户号 and the registered phone's
        # last four digits": the two numbers the question offered.
        pair = ACCOUNT_AND_FOUR.fullmatch(text.strip())
        if pair:
            text, tail = f"户号{pair.group(1)}", re.match(r"(\d{4})", pair.group(2))
            # (typed apart from the 户号: typed_digits would not see them)
            tracker.offered_last4 = pair.group(2)  # type: ignore[attr-defined]
    if not tail:
        return None
    accounts = account_numbers_in(text)
    account_no = accounts[-1] if accounts else digits_only(tracker.get_slot("account_no"))
    if len(account_no or "") != 10:
        return None
    if tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no") == account_no:
        return None
    if tracker.get_slot("identity_locked"):
        return None
    return account_no, tail.group(1)


def last4_at_phone_question(tracker: Tracker, slot: Optional[str]) -> Optional[tuple]:
    """"5041" at the phone question after a 户号 was given: the registered phone's last four
    digits, offered for the identity check (a verified customer is called on that phone)."""
    if slot != "contact_phone" or tracker.get_slot("identity_verified") or tracker.get_slot("identity_locked"):
        return None
    account_no = digits_only(tracker.get_slot("account_no"))
    text = latest_text(tracker).translate(_FULLWIDTH).strip()
    if len(account_no) != 10 or not re.fullmatch(r"[^\d]{0,8}\d{4}[^\d]{0,4}", text):
        return None
    return account_no, digits_only(text)


# "原房东叫吴思远", "卖家是王某": whoever the account or the house is taken over from.
PREVIOUS_HOLDER = re.compile(r"(原|前|之前的?|以前的?|原来的?|老)(房东|户主|房主|业主|屋主|主人)|房东|卖家|上家|卖房的")


# "和平社区60号 哦不对 是62号 60号是隔壁": a number corrected in the same message.
_INLINE_CORRECTION = re.compile(r"[，,。\s]*(哦|噢|啊|呃|哎|唉|诶)?[，,\s]*(不对不对|不对|说错了|打错了|写错了|错了)[，,。\s]*(应该)?(是)?\s*")
_NUMBER_UNIT = re.compile(r"(\d+)\s*(号楼|号|栋|幢|单元|室|楼|组)?")


# "我叫宋思远", "户主是张伟", "张伟": a name said where the phone's last four digits were asked.
NAME_ONLY = re.compile(r"(?:我叫|我是|我姓|户主是|户主叫|名字是|户名是|叫)?\s*([\u4e00-\u9fa5]{2,4})\s*(?:啊|呀|呢)?[。！!]?")


def resolve_inline_correction(text: str) -> str:
    """The message as meant: "和平社区60号 哦不对 是62号 60号是隔壁" -> "和平社区62号"; the number
    after the correction replaces the last number before it (of the same unit when one is said)."""
    found = _INLINE_CORRECTION.search(text or "")
    if not found or not found.start():
        return text
    before, after = text[:found.start()], text[found.end():]
    new = _NUMBER_UNIT.match(after)
    if not new:
        return text
    olds = list(_NUMBER_UNIT.finditer(before))
    same_unit = [m for m in olds if new.group(2) and m.group(2) == new.group(2)] or olds
    if not same_unit:
        return text
    old = same_unit[-1]
    unit = new.group(2) or old.group(2) or ""
    return before[:old.start()] + new.group(1) + unit + before[old.end():]


def field_named(text: str) -> Optional[str]:
    for slot, words in FIELD_WORDS:
        if words.search(text):
            return slot
    return None


def correction_target(tracker: Tracker) -> Optional[str]:
    """The field a correction ("地址说错了，是和平社区81号") names, by word or by the kind of
    value it carries; None when the message is not a correction."""
    text = latest_text(tracker)
    if tracker.get_slot("address") and tracker.get_slot("requested_slot") not in (None, "address") \
            and only_fragments(text) and len(text) <= 20:
        return "address"  # "7栋 是7栋 三楼 301" at the phone question: the rest of the address
    held = str(tracker.get_slot("address") or "")
    if held and tracker.get_slot("requested_slot") == "contact_phone" and not find_mobile(text) \
            and not CORRECTION_WORDS.search(text) and looks_like_address(text, tracker, need_number=True) \
            and not only_fragments(text) and re.sub(r"^地址(是|在)?[:：]?", "", text.strip()) not in held:
        return "address"  # "地址江宁区横溪街道横溪大街216号" at the phone question: this place, not the one held
    if not CORRECTION_WORDS.search(text):
        return None
    named = field_named(text)
    if named:
        return named
    digits = digits_only(text)
    if find_mobile(text):
        return "contact_phone"
    if len(digits) == 10:
        return "account_no"
    if entity_values(tracker, "address") or (PLACE_WORDS.search(text) and HOUSE_NUMBER.search(text)):
        return "address"
    if tracker.get_slot("address") and _FRAGMENT.search(text):
        return "address"  # "不对不对 打错了 是18号" after "和平社区81号": a part of the address given
    if tracker.get_slot("address") and _BARE_CORRECTED_NUMBER.search(text) \
            and tracker.get_slot("requested_slot") not in ("phone_last4", "account_no", "ticket_no"):
        return "address"  # "哦不对 是四零一" at the phone question: the room of the address just given
    return None


# "哦不对 是2303", "不对 是四零一": a number alone after the correction, in digits or spelled.
_SPELLED = "零〇一二三四五六七八九幺"
_BARE_CORRECTED_NUMBER = re.compile(
    rf"(?:不对|错了|说错|打错|写错)[^\d{_SPELLED}]{{0,6}}(?<![\d{_SPELLED}])(\d{{2,5}}|[{_SPELLED}]{{2,5}})(?![\d{_SPELLED}])")


# A place by name (a district, road, village, estate), not only "楼上楼下".
NAMED_PLACE = re.compile(r"[区县镇乡村路街巷]|小区|花园|新村|社区|大道|[苑园]")


# "13栋", "2004室": a part of an address, never a whole one.
_FRAGMENT = re.compile(r"(\d+)\s*(号楼|号|栋|幢|单元|室|楼|层|组)")


# "我们这一层好几家都这样", "整栋楼都没电": how far the fault reaches; "自己家的屋顶 两层楼": what
# the house is like. Neither is a part of the address.
SCOPE_OF_FAULT = re.compile(r"[这那每整]一?(?:层|栋|幢|单元|排)|好几家|几家|都这样|都没电|都停|都黑|邻居|隔壁|"
                            r"[\d一二两三四五六七八九十]层(?:楼|的|高|小楼)|屋顶")


def only_fragments(text: str) -> bool:
    """"86号 6栋1102", "7栋 三楼 301": parts of an address, naming no place."""
    rest = HOUSE_NUMBER.sub("", CORRECTION_WORDS.sub("", text or ""))
    return bool(HOUSE_NUMBER.search(text or "")) and not PLACE_WORDS.search(rest) and not find_mobile(text or "") \
        and not SCOPE_OF_FAULT.search(text or "")


def _amend_with_fragments(text: str, current: str) -> Optional[str]:
    """The address given before, its house number replaced and the rest added: "是86号 6栋1102"
    after "栖霞区文苑路88号" is "栖霞区文苑路86号6栋1102"; "7栋 三楼 301" after "珠江路金陵小区"
    adds the building and the room."""
    if not current or not only_fragments(text):
        return None
    parts = [part for part in re.split(r"应该是|而是|是|改成|改为", CORRECTION_WORDS.sub(" ", text))
             if HOUSE_NUMBER.search(part)]
    said = re.sub(r"[\s，,。！!]", "", parts[-1]) if parts else ""
    if not HOUSE_NUMBER.search(re.sub(r"\d+号(?!楼)", "", said)):
        return None  # only a house number: the rules after this know which one is meant
    number = re.search(r"\d+号(?!楼)", said)
    amended = current
    if number and HOUSE_NUMBER.search(current):
        spans = [m for m in re.finditer(r"\d+号(?!楼)", current)]
        if spans:
            amended = current[:spans[-1].start()] + number.group(0) + current[spans[-1].end():]
            said = said[number.end():]
    if said and said not in amended:
        amended = amended.rstrip() + said
    return amended if amended != current else None


def _swap_fragment(text: str, current: str) -> Optional[str]:
    """The address given before with one part changed: "是13栋 不是31栋", "不是31栋 是13栋",
    "栋号错了 是13栋" (the number of that unit in the address)."""
    if not current:
        return None
    new = re.search(r"(?<!不)(?:应该是|而是|是|改成|改为)\s*(\d+\s*(?:号楼|号|栋|幢|单元|室|楼|层|组))(\d{3,4}(?!\d))?", text)
    if not new:
        return None
    new_part = re.sub(r"\s", "", new.group(1))
    room = new.group(2)
    if room and new_part[-1] in "栋幢":
        # "是6栋501": the building and the room of "…9号6栋401".
        swapped = _swap_fragment(text.replace(new.group(0), new.group(0)[:-len(room)]), current)
        if swapped:
            ends_in_room = re.search(r"(\d{3,4})(室)?$", swapped)
            return (swapped[:ends_in_room.start(1)] + room + (ends_in_room.group(2) or "")) if ends_in_room \
                else swapped + room
    old = re.search(r"不是\s*(\d+\s*(?:号楼|号|栋|幢|单元|室|楼|层|组))", text)
    if old:
        old_part = re.sub(r"\s", "", old.group(1))
        if old_part in current:
            return current.replace(old_part, new_part, 1)
    unit = _FRAGMENT.fullmatch(new_part).group(2)  # type: ignore[union-attr]
    if unit == "号":
        return None  # the house number: the rules below know which number is meant
    same_unit = [m for m in re.finditer(rf"(\d+){unit}", current)]
    if len(same_unit) == 1:
        found = same_unit[0]
        return current[:found.start()] + new_part + current[found.end():]
    return None


def corrected_value(tracker: Tracker, slot: str) -> Optional[str]:
    """The new value in a correction: the entity NLU found, else what follows 是/为/成/：."""
    text = latest_text(tracker).strip()
    if slot == "address":
        resolved = resolve_inline_correction(text)
        if resolved != text and looks_like_address(resolved, need_number=True):
            return resolved  # "和平社区60号 哦不对 是62号": the address as meant
        current = tracker.get_slot("address") or ""
        found = [value for value in entity_values(tracker, "address")
                 if looks_like_address(value, need_number=True) and not only_fragments(value)
                 and not (current and HOUSE_NUMBER.sub("", value).strip() in current)]  # "社区81号": a number
        if found:
            return found[-1]
        swapped = _swap_fragment(text, current) or _amend_with_fragments(text, current)
        if swapped:
            return swapped  # "是13栋 不是31栋", "是86号 6栋1102": parts of the address given before
        parts = [re.sub(r"^.*?(应该是|改成|改为|换成|我家是|我家在|是|在)", "", part)
                 for part in re.split(r"[，,。！!；;\s]+", text) if part and not re.match(r"不是|并不是", part)]
        parts = [part for part in parts if part and not CORRECTION_WORDS.search(part)]
        whole = next((part for part in parts if looks_like_address(part, need_number=True)
                      and not _FRAGMENT.fullmatch(part)), None)
        if whole:
            return whole
        if current and not HOUSE_NUMBER.search(current):
            # A place taken without a number (a wire down in the street, "龙蟠路"): "不对 是龙蟠中路
            # 靠近大光路那个路口" is the place as meant, with its landmark.
            start = next((index for index, part in enumerate(parts)
                          if looks_like_address(part, need_number=False) and not _FRAGMENT.fullmatch(part)), None)
            if start is not None:
                return " ".join(parts[start:])[:200]
        # "门牌说错了 我家是81号": the house number of the address given before changes.
        number = next((m.group(0) for part in parts for m in [HOUSE_NUMBER.search(part)] if m), None)
        bare = _BARE_CORRECTED_NUMBER.search(text)
        if not number and bare and current:
            # "哦不对 是2303 我打错了", "不对 是四零一": the last number of the address given before (the room).
            spans = list(re.finditer(r"\d+", current))
            if spans:
                last = spans[-1]
                return current[:last.start()] + bare.group(1).translate(_SPELLED_DIGITS) + current[last.end():]
        if number and HOUSE_NUMBER.search(current):
            spans = list(HOUSE_NUMBER.finditer(current))
            last = spans[-1]
            return current[:last.start()] + number + current[last.end():]
        return None
    if slot == "contact_phone":
        return find_mobile(text) or None
    if slot == "account_no":
        digits = digits_only(text)
        return digits if len(digits) == 10 else None
    if slot == "phone_last4":
        match = re.search(r"(?<!\d)(\d{4})(?!\d)", text.translate(_FULLWIDTH))
        return match.group(1) if match else None
    match = re.search(r"(?:应该是|改成|改为|换成|是|为|叫|：|:)\s*([^，,。！!]+?)[。！!]*$", text)
    return match.group(1).strip() if match else None


_SPELLED_DIGITS = str.maketrans("零〇一二三四五六七八九幺两", "0012345678912")
# "张溪社区一零三号": a house number spelled digit by digit (NLU rewrites only runs of four or more).
SPELLED_HOUSE_NUMBER = re.compile(r"[零〇一二三四五六七八九幺]{2,3}(?=号|栋|幢|室|单元|楼|组)")


def spelled_house_numbers(text: str) -> str:
    """The text with house numbers spelled digit by digit written in digits."""
    return SPELLED_HOUSE_NUMBER.sub(lambda m: m.group(0).translate(_SPELLED_DIGITS), text or "")


def looks_like_address(text: str, tracker: Optional[Tracker] = None, need_number: bool = True) -> bool:
    """An address names a place and (for a crew or an application) a number: a village or
    a group may go without one. A question, a plea or bare digits are not addresses."""
    text = str(text or "").strip()
    if not text or len(text) > 80:
        return False
    from_nlu = tracker is not None and any(v in text or text in v for v in entity_values(tracker, "address"))
    if QUESTION_MARKS.search(text) and not from_nlu:
        return False
    if not re.search(r"[\u4e00-\u9fa5]", text):
        return False  # "3377": digits name no place
    named = NOT_PLACES.sub("", text)
    if not (from_nlu or re.search(rf"[\u4e00-\u9fa5A-Za-z0-9]({PLACE_WORDS.pattern})", named)):
        return False
    if not need_number:
        return True
    return bool(HOUSE_NUMBER.search(text) or re.search(r"\d", text) or VILLAGE_LEVEL.search(text)
                or NUMBERLESS_SITE.search(named))


def asks_about_a_business(text: str) -> bool:
    """Whether the text asks the fee, time or documents of a business it names."""
    from actions.faq import business_topics  # faq imports the forms' modules

    return bool(business_topics(text, None))


def looks_like_value(tracker: Tracker, slot: str) -> bool:
    """Whether the latest message could hold a value of the kind `slot` takes."""
    text = latest_text(tracker)
    if slot == "address":
        return looks_like_address(text, tracker, need_number=False) or \
            (len(digits_only(text)) == 10 and len(text.strip()) <= 14)
    if slot in ("contact_phone", "phone_last4", "account_no"):
        return len(digits_only(text)) >= 4
    if slot == "ticket_no":
        return bool(re.search(r"[A-Za-z]{2}\s*\d{6,}", text))
    return False


def non_value_kind(tracker: Tracker, slot: str) -> Optional[str]:
    """What the latest message is when it is clearly not a value for `slot`:
    'stop', 'wait', 'correction' (of another field), 'account' (a 户号 typed at a phone
    question), 'plea', 'story' (what happened, at an address question), 'question';
    None when it may be the value."""
    text = latest_text(tracker).strip()
    if not text or text.startswith("/"):
        return None
    if slot == "contact_phone" and tracker.get_slot("feedback_type") and \
            re.fullmatch(r"(电话)?(就)?(不用|不需要|不留|匿名|不方便|算了吧?)(留)?(了|吧|啊)?[。！!，, ]*", text):
        return None  # no contact for a tip-off or suggestion: that is the answer
    if STOP_WORDS.search(text) and (not re.search(r"\d", text) or stop_then_request(text)):
        return "stop"  # ("算了 地址就写中华路66号" is the address; "不修了 查电费 户号32…" a stop)
    if WAIT_WORDS.search(text) or (WAIT_PREFIX.match(text) and not re.search(r"\d", text)
                                   and not QUESTION_MARKS.search(text.replace("是不是", ""))
                                   and not looks_like_address(text, tracker)):
        return "wait"
    target = correction_target(tracker)
    if target and target != slot:
        return "correction"
    if slot in ("fault_description", "feedback_content") and COURTESY_ONLY.fullmatch(text):
        return "courtesy"  # "好的 谢谢啦" at "请简单说一下情况": nothing was described
    digits = digits_only(text)
    if slot in ("contact_phone", "phone_last4") and len(digits) == 10 and not find_mobile(text):
        return "account"
    if slot in ("contact_phone", "phone_last4", "account_no", "ticket_no") and re.search(r"\d{4}", text):
        return None
    if slot == "address":
        if FAULT_STORY_WORDS.search(text) and not re.search(r"\d", text) and not NAMED_PLACE.search(text):
            return "story"  # "楼上楼下也是这样 好像整栋楼都缺了一相电": more of what happened, no place
        if looks_like_address(text, tracker, need_number=False):
            return None
        if FAULT_STORY_WORDS.search(text):
            return "story"
    active = (tracker.active_loop or {}).get("name")
    if slot == "contact_phone" and active == "feedback_form" and len(text) >= 12 and not re.search(r"\d{3}", text) \
            and not QUESTION_MARKS.search(re.sub(r"咋|怎么|什么|啥", "", text)):
        return None  # "我就问他表数咋跟上回对不上 他就很不耐烦": more of the complaint; the form joins it
    if slot == "contact_phone" and active == "fault_form" and not re.search(r"\d{3}", text) \
            and FAULT_STORY_WORDS.search(text) and not URGE_WORDS.search(text):
        return "story"  # "空开我看了没跳 楼上楼下好像也没电": more of what happened
    asks = QUESTION_MARKS.search(text)
    if URGE_WORDS.search(text) and asks_about_a_business(text):
        return "question"  # "我想把电表挪到院子外头 要多少钱 多久能弄好" inside a repair: not a hurry
    if URGE_WORDS.search(text) and not re.search(r"\d{3}", text) and not (asks and active == "application_form"):
        return "plea"  # (in an application "要多久能批下来" asks how long: answered below)
    if slot in ("address", "contact_phone", "account_no", "phone_last4") and asks:
        return "question"
    if slot == "applicant_name" and asks:
        return "question"
    intent, confidence = latest_intent(tracker)
    if slot == "contact_phone" and active == "fault_form" and intent == "report_fault" and len(text) >= 10 \
            and not re.search(r"\d{3}|报修|修一下|派人|来人", text):
        return "story"  # "电还有 就是怕树倒下来把线砸断": more of what is wrong, not a new request
    if slot in ("address", "contact_phone", "account_no", "phone_last4") and confidence >= 0.6 and \
            intent in REQUEST_INTENTS and not looks_like_value(tracker, slot) and \
            (tracker.active_loop or {}).get("name") != "feedback_form":  # there it is more of the story
        return "question"  # "那还是报修吧" at the address question: the request goes on, the value is asked
    return None


# Only acknowledgement and thanks: "好的 谢谢啦", "嗯嗯 收到", "ok 多谢", "麻烦您了".
COURTESY_ONLY = re.compile(
    r"(?:(?:好的?|好滴|好嘞|好吧|嗯+|哦+|噢+|行|可以|收到|知道了|明白了?|ok|OK|okay|谢谢(?:啦|了|你|您|你们)?|蟹蟹|"
    r"多谢|感谢|辛苦了?|麻烦(?:你|您|你们)?了?)[啦了呀啊哈吧的~～]*[\s，,。.！!~～]*)+")

REQUEST_INTENTS = {"report_fault", "apply_service", "complain", "tip_off", "suggest", "praise", "query_outage"}


def digits_only(text: Optional[str]) -> str:
    return re.sub(r"\D", "", str(text or "").translate(_FULLWIDTH))


def find_mobile(text: Optional[str]) -> Optional[str]:
    """An 11-digit mobile; the last one named wins ("不对 最后两位是62 13805174462")."""
    raw = str(text or "").translate(_FULLWIDTH)
    found = re.findall(r"(?<!\d)(1[3-9]\d{9})(?!\d)", raw)
    if found:
        return found[-1]
    grouped = re.sub(r"(?<=\d)[\s-](?=\d)", "", raw)  # "138 1234 0001", "150-1234-5678"
    found = re.findall(r"(?<!\d)(1[3-9]\d{9})(?!\d)", grouped)
    if not found and _SPOKEN_DIGITS.search(raw):
        # "电话一三九九一八二三四二零": read as NLU reads it (earlier messages are kept as typed).
        from nlu_components.numerals import normalise_text

        return find_mobile(normalise_text(raw)) if normalise_text(raw) != raw else None
    return found[-1] if found else None


_SPOKEN_DIGITS = re.compile(r"[零〇一二两三四五六七八九幺]{4,}")


def next_deadline(ticket: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for milestone in ticket.get("milestones") or []:
        if not milestone.get("met_at"):
            return milestone
    return None


def milestone_lines(ticket: Dict[str, Any]) -> List[str]:
    lines = []
    for index, milestone in enumerate(ticket.get("milestones") or [], start=1):
        lines.append(f"{index}. {milestone.get('name')}：{format_time(milestone.get('due_at'))} 前")
    return lines


def finish_service(dispatcher: CollectingDispatcher, tracker: Tracker, served: bool,
                   ticket_no: Optional[str] = None, more_to_come: bool = False,
                   business_done: bool = True) -> List[EventType]:
    """After a request: back to a paused form if there is one (a rule resumes it); else, when
    something was served and the customer's business is done, the one satisfaction question
    of the conversation. A repair merely registered is not done (the crew is still to come):
    the question then waits for the customer's thanks or goodbye (`action_wrap_up`)."""
    paused = tracker.get_slot("paused_form")
    if paused:
        label = FORM_LABELS.get(paused, "业务")
        dispatcher.utter_message(response="utter_resume_paused_form", form_label=label)
        return []
    if more_to_come:
        return []  # the other request of the same message follows at once
    if served:
        if business_done and not rating_asked(tracker):
            dispatcher.utter_message(response="utter_ask_rating")
        return [SlotSet("survey_ticket_no", ticket_no)]
    return []


RATING_QUESTION = "请问您对这次服务满意吗？"
SERVING_ACTIONS = {"action_query_bill", "action_submit_fault", "action_query_outage", "action_submit_application",
                   "action_submit_feedback", "action_query_progress"}


def session_events(tracker: Tracker) -> List[Dict[str, Any]]:
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index + 1:]
    return events


def rating_asked(tracker: Tracker) -> bool:
    """True once the satisfaction question was asked in this conversation (session): it is
    asked once, not after every request."""
    for event in session_events(tracker):
        if event.get("event") == "bot" and (
                event.get("text") == RATING_QUESTION
                or (event.get("metadata") or {}).get("utter_action") == "utter_ask_rating"):
            return True
    return False


def rating_question_pending(tracker: Tracker) -> bool:
    """True when the satisfaction question was asked and not answered yet."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and \
                (event.get("parse_data") or {}).get("intent", {}).get("name") == "rate_service":
            return False
        if event.get("event") == "bot" and (
                event.get("text") == RATING_QUESTION
                or (event.get("metadata") or {}).get("utter_action") == "utter_ask_rating"):
            return True
    return False


def something_served(tracker: Tracker) -> bool:
    return any(event.get("event") == "action" and event.get("name") in SERVING_ACTIONS
               for event in session_events(tracker))


class ActionWrapUp(Action):
    """Thanks or goodbye: the answer, and the satisfaction question if the conversation served
    something and has not asked it yet (e.g. after a repair was registered)."""

    def name(self) -> Text:
        return "action_wrap_up"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if find_mobile(latest_text(tracker)):
            corrected = await correct_just_filed_phone(dispatcher, tracker)
            if corrected is not None:
                return corrected  # "那就留个电话吧 135… 别跟他们说是我讲的" (heard as a goodbye)
        text = latest_text(tracker)
        if ticket_announced_last_turn(tracker) and WAITING_WORDS.search(text):
            # "好的 我们已经下楼了" right after an urgent repair (heard as a goodbye): the crew is still
            # to come, so no goodbye and no satisfaction question yet.
            waiting = await reassure_after_filing(dispatcher, tracker)
            if waiting is not None:
                return waiting
        from actions.applications import business_from_text  # applications imports this module
        from actions.menu import named_request, offered_business

        request = named_request(text)
        business = business_from_text(text) if request == "application_form" else None
        if not request and offered_business(tracker) and re.search(r"登记|申请|办(一下|了|吧)|提交", text):
            request, business = "application_form", offered_business(tracker)
        if request and not STOP_WORDS.search(text) and re.search(r"帮我|给我|我要|我想|现在就|登记|申请|报修|办一下", text):
            # "好 那我现在就登记一下过户" (heard as a goodbye): the request it names.
            return ([SlotSet("business_type", business)] if business else []) + [FollowupAction(request)]
        intent, _ = latest_intent(tracker)
        ask = something_served(tracker) and not rating_asked(tracker)
        if intent == "goodbye":
            if ask:
                dispatcher.utter_message(response="utter_ask_rating")
            dispatcher.utter_message(response="utter_goodbye")
            return []
        dispatcher.utter_message(response="utter_thank")
        if ask:
            dispatcher.utter_message(response="utter_ask_rating")
        return []


# --- identity -----------------------------------------------------------------------

IDENTITY_SLOTS = ["account_no", "phone_last4"]


def identity_missing(tracker: Tracker) -> List[str]:
    """The identity slots of a form; [] once the check is locked or the API failed.

    Filled slots stay in the list (the SDK validates only slots in it); once verified both
    are filled and the form asks nothing."""
    if tracker.get_slot("identity_locked") or tracker.get_slot("api_failed"):
        return []
    return list(IDENTITY_SLOTS)


def slot_before_this_message(tracker: Tracker, name: str) -> Optional[Any]:
    """What the slot held before the customer's latest message (NLU may have refilled it since)."""
    seen_latest_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_latest_user = True
        elif seen_latest_user and event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return None


def account_no_before_this_message(tracker: Tracker) -> Optional[str]:
    """The account number the conversation held before the customer's latest message."""
    return slot_before_this_message(tracker, "account_no")


def typed_digits(tracker: Tracker, digits: str) -> bool:
    """Whether the customer's latest message holds these four digits on their own."""
    text = latest_text(tracker).translate(_FULLWIDTH).replace(" ", "")
    mobile = find_mobile(text)  # the whole registered number typed: its last four count
    return digits in re.findall(r"(?<!\d)\d{4}(?!\d)", text) or bool(mobile and mobile.endswith(digits))


# "我叫李秀英 住横溪石塘村45号", "我是石塘村的李秀英": the holder's name, said anywhere in the
# conversation by a customer who does not know the 户号.
NAME_SAID = re.compile(r"(?:我叫|俺叫|我是|俺是|名字[是叫]?|户主[是叫]?|户名[是叫]?|姓名[是:：]?)\s*"
                       r"(?:[\u4e00-\u9fa5\d]{1,10}?的)?([\u4e00-\u9fa5]{2,4})")
# "户号是什么东西啊 我不晓得", "不记得户号了": help to find it, and the other way to be found.
NO_ACCOUNT_NO = re.compile(
    r"(不知道|不晓得|不记得|记不得|忘了|忘记|记不清|没有|找不到|不清楚|是什么|是啥|啥是|什么是|哪里看|在哪|哪看).{0,6}户号"
    r"|户号.{0,8}(不知道|不晓得|不记得|记不得|忘了|忘记|记不清|没有|找不到|不清楚|是什么|是啥|什么东西|啥东西|啥玩意|在哪|哪里|哪看)")


def names_said(tracker: Tracker) -> List[str]:
    """Name candidates from the customer's messages, newest first ("李秀英住" gives 李秀英住,
    李秀英, 李秀: the server keeps the one the account carries)."""
    asked = any((e.get("metadata") or {}).get("utter_action") in ("utter_account_by_phone_ask_name",
                                                                   "utter_account_no_help")
                for e in previous_turn(tracker) if e.get("event") == "bot")
    out: List[str] = []
    for number, text in enumerate([latest_text(tracker), *earlier_customer_texts(tracker, 8)]):
        found = [m.group(1) for m in NAME_SAID.finditer(text)]
        bare = re.sub(r"[\s，,。.！!]", "", re.sub(r"^(户主|户名|名字|姓名)?(是|叫)?", "", text.strip()))
        if number == 0 and asked and re.fullmatch(r"[\u4e00-\u9fa5]{2,4}", bare):
            found.append(bare)  # the name alone, asked for just now
        elif number == 0 and asked:
            # "许红霞 湖南路42号商铺": the name first, then more (the address, the phone).
            first = re.split(r"[\s，,。、]+", text.strip())[0]
            if re.fullmatch(r"[\u4e00-\u9fa5]{2,4}", first):
                found.append(first)
        for name in found:
            for size in (len(name), 3, 2):
                if size <= len(name) and name[:size] not in out:
                    out.append(name[:size])
    return out[:8]


def mobile_said_lately(tracker: Tracker) -> Optional[str]:
    return find_mobile(latest_text(tracker)) or next(
        (m for text in earlier_customer_texts(tracker, 3) for m in [find_mobile(text)] if m), None)


class IdentityValidation:
    """validate_account_no / validate_phone_last4 for any form that needs a verified account.

    Three wrong phone numbers lock the check for the conversation; the submit action then
    offers a person (hand-off reason ``identity_failed``)."""

    async def extract_account_no(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[Text, Any]:
        # Backs up the NLU entity when the customer answers the question with bare digits.
        if tracker.get_slot("requested_slot") != "account_no" or "account_no" in tracker.slots_to_validate():
            return {}
        text = latest_text(tracker)
        digits = digits_only(text)
        if len(digits) == 10:
            return {"account_no": digits}
        if text.startswith("/"):
            return {}
        mobile = mobile_said_lately(tracker)
        names = names_said(tracker) if mobile else []
        if mobile and names and (find_mobile(text) or any(n in text for n in names)):
            # No 户号, but the registered mobile in full and the holder's name: found as 95598 would.
            return await self.account_by_phone(mobile, names, dispatcher, tracker)
        if NO_ACCOUNT_NO.search(text) or NAME_SAID.search(text) and not re.search(r"\d{4}", text):
            # (a name alone, "我叫孙丽": the mobile is what finds the account with it)
            dispatcher.utter_message(response="utter_account_no_help")
            return {"account_no": None}
        if is_digression(tracker, "account_no"):
            return {}
        if find_mobile(text):
            # A phone where the 户号 was asked: it finds the account with the holder's name.
            dispatcher.utter_message(response="utter_account_by_phone_ask_name")
            return {"account_no": None}
        if looks_like_address(text, tracker, need_number=True):
            dispatcher.utter_message(response="utter_account_not_address")
            return {"account_no": None}
        return {}

    async def account_by_phone(self, mobile: str, names: List[str], dispatcher: CollectingDispatcher,
                               tracker: Tracker) -> Dict[Text, Any]:
        try:
            result = await api_client.verify_identity_by_phone(mobile, names, **asker(tracker))
        except api_client.RateLimited:
            dispatcher.utter_message(response="utter_rate_limited")
            return {"account_no": None}
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return {"account_no": None, "api_failed": True}
        customer = result.get("customer") or {}
        if not result.get("verified") or not customer.get("account_no"):
            dispatcher.utter_message(response="utter_account_by_phone_mismatch")
            return {"account_no": None}
        dispatcher.utter_message(response="utter_identity_verified_by_phone", holder=mask_name(customer.get("name")),
                                 tail=str(customer["account_no"])[-4:])
        # The form keeps only its own slots from an extraction: the rest is set by validate_account_no.
        tracker.found_by_phone = {  # type: ignore[attr-defined]
            "account_no": customer["account_no"], "phone_last4": mobile[-4:], "identity_verified": True,
            "verified_account_no": customer["account_no"], "identity_attempts": 0.0,
            "customer_name": customer.get("name"), "customer_address": customer.get("address"),
            "area_type": customer.get("area_type"), "customer_type": customer.get("customer_type")}
        return {"account_no": customer["account_no"], "phone_last4": mobile[-4:]}

    async def extract_phone_last4(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[Text, Any]:
        if "account_no" in tracker.slots_to_validate():
            return {}  # "不对，户号是…": a correction, not an answer
        text = free_text_answer(tracker, "phone_last4")
        return {"phone_last4": text} if text else {}

    async def validate_account_no(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if value is None:
            return {"account_no": None}  # not an answer; what was needed has been said
        account_no = digits_only(value)
        found = getattr(tracker, "found_by_phone", None)
        if found and found["account_no"] == account_no:
            return dict(found)  # verified by the registered mobile and the name (extract_account_no)
        if len(account_no) != 10:
            dispatcher.utter_message(response="utter_account_no_invalid")
            return {"account_no": None}
        if tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no") == account_no:
            return {"account_no": account_no}
        try:
            await api_client.get_account(account_no, **asker(tracker))
        except api_client.RateLimited:
            dispatcher.utter_message(response="utter_rate_limited")
            return {"account_no": None}
        except api_client.NotFound:
            dispatcher.utter_message(response="utter_account_not_found", account_no=account_no)
            return {"account_no": None}
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return {"account_no": None, "api_failed": True}
        # A new account number (a correction) restarts the check for that account.
        if account_no_before_this_message(tracker) not in (None, account_no):
            dispatcher.utter_message(response="utter_account_changed", tail=account_no[-4:])
        result: Dict[Text, Any] = {"account_no": account_no, "phone_last4": None, "identity_verified": False,
                                   "verified_account_no": None, "identity_attempts": 0.0}
        earlier = last4_said_before(tracker)
        if earlier and not TAIL_MARK.search(latest_text(tracker)) and hasattr(self, "validate_phone_last4"):
            # "户号3201000073 手机后四位2468" (not found), then "哦不好意思 户号是3201000037 我刚才73
            #打反了": the last four digits already said are for this account.
            # (phone_last4 held: these digits were typed for this check, a message ago)
            tracker.slots.update(account_no=account_no, identity_attempts=0.0, phone_last4=earlier,
                                 identity_verified=False)
            checked = await self.validate_phone_last4(earlier, dispatcher, tracker, domain)
            if checked.get("identity_verified"):
                result.update(checked, phone_last4=checked.get("phone_last4") or earlier)
        return result

    async def validate_phone_last4(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        raw = str(value or "").translate(_FULLWIDTH).replace(" ", "")
        said = latest_text(tracker)
        if raw and raw in said.translate(_FULLWIDTH).replace(" ", "") and resolve_inline_correction(said) != said:
            # "手机尾号7502 哎不对 是5028": the digits after the correction are the answer.
            raw = resolve_inline_correction(said).translate(_FULLWIDTH).replace(" ", "")
        mobile = find_mobile(raw)  # the whole registered number: its last four are the answer
        match = re.search(r"(?<!\d)(\d{4})(?!\d)", mobile[-4:] if mobile else raw)
        if not match:
            dispatcher.utter_message(response="utter_phone_last4_invalid")
            return {"phone_last4": None}
        account_no = tracker.get_slot("account_no")
        if not account_no:
            return {"phone_last4": None}
        if tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no") == account_no:
            return {"phone_last4": match.group(1)}  # re-validated on a form's activation: already done
        if tracker.get_slot("phone_last4") is None and not typed_digits(tracker, match.group(1)) \
                and getattr(tracker, "offered_last4", None) != match.group(1):
            # The account changed in this very validation (validate_account_no cleared the digits):
            # these are the digits of the account verified before. Checking them against the new
            # account would count a failure the customer never made; ask for the new account's.
            return {"phone_last4": None}
        try:
            result = await api_client.verify_identity(account_no, match.group(1), **asker(tracker))
        except api_client.RateLimited:
            dispatcher.utter_message(response="utter_rate_limited")
            return {"phone_last4": None}
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return {"phone_last4": None, "api_failed": True}
        if result.get("verified"):
            customer = result.get("customer") or {}
            dispatcher.utter_message(response="utter_identity_verified", holder=mask_name(customer.get("name")))
            return {
                "phone_last4": match.group(1),
                "identity_verified": True,
                "verified_account_no": account_no,
                "customer_name": customer.get("name"),
                "customer_address": customer.get("address"),
                "area_type": customer.get("area_type"),
                "customer_type": customer.get("customer_type"),
            }
        if result.get("reason") == "not_found":
            dispatcher.utter_message(response="utter_account_not_found_retype", account_no=account_no)
            return {"phone_last4": None, "account_no": None}
        attempts = int(tracker.get_slot("identity_attempts") or 0) + 1
        if result.get("reason") == "locked" or attempts >= 3:
            dispatcher.utter_message(response="utter_identity_mismatch_locked")
            return {"phone_last4": None, "identity_attempts": float(attempts), "identity_locked": True}
        dispatcher.utter_message(response="utter_identity_mismatch", tries_left=str(3 - attempts))
        return {"phone_last4": None, "identity_attempts": float(attempts)}


def identity_blocked_reply(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """What a flow says when it cannot go on without a verified identity."""
    if tracker.get_slot("identity_locked"):
        dispatcher.utter_message(response="utter_identity_locked")
        return [SlotSet("handoff_reason", "identity_failed")]
    dispatcher.utter_message(response="utter_offer_human")
    return [SlotSet("api_failed", False), SlotSet("handoff_reason", "api_failure")]


# --- form control -------------------------------------------------------------------

FORM_SLOTS = {
    "bill_form": ["period", "bill_query"],
    "fault_form": ["address", "fault_description", "contact_phone", "hazard", "outage_notice",
                   "address_from_account", "repair_area_type"],
    "outage_form": ["address", "address_from_account"],
    "application_form": ["business_type", "applicant_name", "contact_phone", "address"],
    "feedback_form": ["feedback_type", "feedback_content", "contact_phone"],
    "progress_form": ["ticket_no"],
    "notice_form": ["notice_action", "notice_kind"],
}


def reset_form_slots(form: Optional[str]) -> List[EventType]:
    names = FORM_SLOTS.get(form or "", [])
    return [SlotSet(name, None) for name in names]


# "不是第三家 是第四家", "不对 应该是东边那栋": a detail put right, not a no to the request.
CORRECTED_DETAIL = re.compile(r"(不是|不对|说错了?)[^，,。；;]{0,12}?[，,\s]*(应该|其实)?是[^，,。；;\s]{2,}")


class ActionCancelForm(Action):
    """"算了" / "不办了": stop the form, keep nothing half-done, say so."""

    def name(self) -> Text:
        return "action_cancel_form"

    @staticmethod
    def _stopping_a_form(tracker: Tracker) -> bool:
        """A form is active, or its own validation just ended it for a stop ("不用修了")."""
        if tracker.active_loop and tracker.active_loop.get("name"):
            return True
        for event in reversed(tracker.events):
            if event.get("event") == "user":
                return False
            if event.get("event") == "followup" and event.get("name") == "action_cancel_form":
                return True
        return False

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        from actions.applications import BUSINESS_TYPES  # applications imports this module

        form = last_form(tracker) if self._stopping_a_form(tracker) else None
        text = latest_text(tracker)
        content = tracker.get_slot("feedback_content")
        if form == "feedback_form" and content and CORRECTED_DETAIL.search(text) and text not in content:
            # "不是第三家 是第四家 门口停个三轮车的" while a tip-off is being taken: a detail of the
            # story put right (heard as a no), kept with the story; the form goes on.
            dispatcher.utter_message(response="utter_feedback_added")
            return [SlotSet("feedback_content", f"{content}；{text}"[:1000]), FollowupAction("feedback_form")]
        if form == "feedback_form":
            from actions.feedback import TYPE_LABELS, switched_kind  # feedback imports this module

            switched = switched_kind(latest_text(tracker), tracker.get_slot("feedback_type"))
            if switched:
                # "算了 也谈不上投诉 就提个意见吧": not a stop, the same matter as another kind.
                dispatcher.utter_message(response="utter_feedback_switched", kind=TYPE_LABELS[switched])
                return [SlotSet("feedback_type", switched), SlotSet("requested_slot", None),
                        FollowupAction("feedback_form")]
        paused = tracker.get_slot("paused_form")
        # "算了不报修了，我想申请充电桩": the same message names what to do instead.
        instead = next((value for value in tracker.get_latest_entity_values("business_type")
                        if value in BUSINESS_TYPES), None)
        if instead and form == "application_form" and instead == tracker.get_slot("business_type"):
            instead = None  # "算了 先不办了 我想先问问过户要带啥": the same business, asked about
        # "算了不查了 我家楼道灯不亮了 是你们管吗": what follows the stop is a request or question.
        rest = said_after_stop(latest_text(tracker))
        from actions.menu import named_request  # menu imports this module

        rest_request = named_request(rest) if rest else None
        if rest_request == form:
            rest_request = None  # "算了不报修了" names the request it stops
        from actions.faults import find_hazards, tells_a_fault  # faults imports this module

        fault_told = bool(rest) and not rest_request and form != "fault_form" \
            and bool(find_hazards(rest) or (tells_a_fault(rest) and not (QUESTION_MARKS.search(rest)
                                                                       or ASKS_YES_NO.search(rest))))
        if fault_told:
            # "等下 先不查了 我家厨房插座冒火花了": the fault (a danger) told after the stop is served.
            rest_request = "fault_form"
        if not rest_request and (ASKS_FOR_A_PERSON.search(text) or HUMAN_WORDS.search(text)
                                 and (tracker.latest_message.get("intent") or {}).get("name") == "request_human"):
            # "算了 你帮我转个人工吧" inside a form: the form is stopped and a person asked for.
            rest_request = "action_handoff"
        rest_complaint = None
        if rest and not rest_request and form != "feedback_form" and wants_to_complain(rest):
            from actions.handoff import feedback_named  # handoff imports this module

            rest_complaint, rest_request = feedback_named(rest) or "complaint", "feedback_form"
        from actions.faq import business_topic, business_topics  # faq imports the forms' modules

        topics_asked = business_topics(rest, None) if rest else []
        asks_about_business = bool(topics_asked) and not DOES_THE_BUSINESS.search(rest)
        if asks_about_business:
            # "算了 先不投诉了 我想问下光伏并网要多久": a question on a business, not the business.
            instead, rest_request = None, None if rest_request == "application_form" else rest_request
        rest_question = bool(rest) and not rest_request and bool(
            QUESTION_MARKS.search(rest) or ASKS_YES_NO.search(rest) or topics_asked)
        # What the reply ends with: the business done instead (_instead), nothing as the request or
        # question said after the stop comes next (_then), or the question whether anything else is
        # needed.
        ending = "_instead" if instead else "_then" if rest_request or rest_question else ""
        business = {"business": BUSINESS_TYPES[instead]["label"]} if instead else {}
        withdrawn = None if form or paused else await withdraw_just_opened(dispatcher, tracker)
        topic_answered = None
        if form or paused:
            label = FORM_LABELS.get(form or paused, "办理")
            dispatcher.utter_message(response=f"utter_form_cancelled{ending}", form_label=label, **business)
            if rest_question and not answer_asked_after_stop(rest, dispatcher, tracker, domain):
                dispatcher.utter_message(response="utter_cannot_answer")
            topic_answered = business_topic(rest) if rest_question else None
        elif withdrawn:
            dispatcher.utter_message(response="utter_ticket_withdrawn" + ("_then" if ending else ""),
                                     ticket_no=withdrawn[0], type_label=withdrawn[1])
        else:
            dispatcher.utter_message(response=f"utter_cancelled{ending}", **business)
            if asks_about_business and not rest_request and answer_asked_after_stop(rest, dispatcher, tracker, domain):
                topic_answered = business_topic(rest)
        events: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None),
                                   SlotSet("paused_form", None), SlotSet("api_failed", False)]
        for name in {form, paused} - {None}:
            events += reset_form_slots(name)
        if topic_answered:
            # the business asked about stays the topic: "那要钱吗" next is that business's fee
            events.append(SlotSet("faq_topic", topic_answered))
        if instead:
            events += [SlotSet("business_type", instead), FollowupAction("application_form")]
        elif form or paused:
            if rest_request:
                events.append(FollowupAction(rest_request))
        else:
            # "算了不用了 我就问问中华路明天停不停电": what to do instead is served at once.
            request = None if asks_about_business else named_request(latest_text(tracker))
            if request or rest_request:
                events.append(FollowupAction(request or rest_request))
        if fault_told and events[-1].get("name") == "fault_form":
            events[-1:-1] = [SlotSet("fault_description", rest[:500])]
        if rest_complaint and events[-1].get("name") == "feedback_form":
            # "算了不查了 我就是觉得表有问题 直接给我登记投诉吧": the complaint, with its words.
            events[-1:-1] = [SlotSet("feedback_type", rest_complaint), SlotSet("feedback_content", rest[:1000])]
        return events


def answer_asked_after_stop(rest: str, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> bool:
    """The question said after a stop ("…我想先问问过户要带啥"): the business topic it names, else
    what the FAQ selector makes of the message."""
    from actions.faq import answer_topic, business_topic  # faq imports the forms' modules

    topic = business_topic(rest)
    if topic and answer_topic(topic, dispatcher, tracker, domain):
        return True
    return answer_inline(dispatcher, tracker, domain)


# "帮我申请…", "现在就办": the business itself asked for, whatever is asked about it too.
DOES_THE_BUSINESS = re.compile(r"帮我|给我|我要(办|申请|装|报装)|申请一下|办一下|现在就|直接(办|申请|报装)")
# "归你们管不", "收费不", "谁负责": a question without a question mark.
ASKS_YES_NO = re.compile(r"(管|行|要|能|会|收|是|修|算)不[？?。!！~\s]*$|谁(管|负责|修)|归谁|找谁")

# What a stop message says after the stop: "算了不查了，" + "我家楼道灯不亮了 是你们管吗".
MIN_REST_CHARS = 4
LEADING_STOP = re.compile(
    r"^[\s，,。.!！、~～]*(哦|噢|那|那就|嗯|好吧|行吧|唉|哎|哎呀|诶|额|呃)?[，, ]*(先|暂时|暂且|还是)?"
    r"(算了|算啦|不用了?|不要了?|不需要了?|不必了?|没事了?|取消|不弄了|不搞了|不(修|报修|报|查|办|投诉|申请)了|"
    r"(不用|不要|不需要|不必|别)(再)?(帮我)?(修|报修|报|查|办|弄|搞|登记|申请|处理|投诉|派人)了)"
    r"(吧|啊|呀|哈)*")


def stop_then_request(text: str) -> bool:
    """Whether a stop is followed by a request the bot serves ("先不修了 是不是没交电费啊 户号…")."""
    from actions.menu import named_request  # menu imports this module

    return bool(named_request(said_after_stop(text)))


def said_after_stop(text: str) -> str:
    found = STOP_WORDS.search(text or "")
    if not found:
        return ""
    rest = text[found.start():]
    while True:
        leading = LEADING_STOP.match(rest)
        if not leading or not leading.group(0):
            break
        rest = rest[leading.end():]
    rest = rest.strip(" \t，,。.!！、~～")
    return rest if len(rest) >= MIN_REST_CHARS else ""


# Ticket numbers the bot announced ("已为您登记回电工单 HD20261202004", "工单号：BX…").
# "工单号：GZ…" (repairs, applications), "编号：TS…" (complaints, praise, suggestions, tip-offs).
ANNOUNCED_TICKET = re.compile(r"(?:工单|工单号|编号)[：:\s]*([A-Z]{2}\d{11})")


def story_told_before(tracker: Tracker) -> str:
    """The customer's message before the latest one, when it tells something ("你们那个抄表的是
    不是瞎估的 这个月电费翻了一倍" before "我要投诉"); "" for a detail or a button."""
    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        seen += 1
        if seen == 2:
            text = str(event.get("text") or "").strip()
            told = re.sub(r"[\d\s，,。.!！?？-]", "", text)
            return text if len(told) >= 8 and not text.startswith("/") else ""
    return ""


def bot_answered_last_turn(tracker: Tracker) -> bool:
    return any(e.get("event") == "bot" for e in previous_turn(tracker))


def complaint_with_story(tracker: Tracker, text: str) -> str:
    """What a complaint said in so many words is about: "我要投诉" alone takes the story told just
    before it."""
    told = story_told_before(tracker) if len(text) < 10 or POINTS_BACK.search(text) else ""
    return (f"{told}；{text}" if told else text)[:1000]


# "我要投诉他 这种人怎么当的工作人员": the person complained of was described in the message before.
POINTS_BACK = re.compile(r"投诉(他|她|他们|这个人|那个人|这人|那人)|这种人|这样的人|刚才说的|上面说的")


def previous_turn(tracker: Tracker) -> List[Dict[str, Any]]:
    """What happened between the customer's previous message and the latest one (the bot's
    answer to the previous message: its actions and texts)."""
    turn: List[Dict[str, Any]] = []
    users = 0
    reverted = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "rewind":
            # Rasa's two-stage fallback, once the customer says something clear, reverts that
            # message and replays it: what the bot said before it is still the last answer.
            reverted += 1
            continue
        if reverted:
            reverted -= kind == "user"
            continue
        if kind == "user":
            users += 1
            if users > 1:
                break
        elif users == 1:
            turn.append(event)
    return turn


def ticket_announced_last_turn(tracker: Tracker) -> Optional[str]:
    """The ticket the bot opened in answer to the customer's previous message, if any."""
    for event in previous_turn(tracker):
        found = ANNOUNCED_TICKET.findall(event.get("text") or "") if event.get("event") == "bot" else []
        if found:
            return found[-1]
    return None


def handed_off_last_turn(tracker: Tracker) -> bool:
    return any(e.get("event") == "action" and e.get("name") == "action_handoff" for e in previous_turn(tracker))


async def reassure_after_filing(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """"没人碰 我让小孩都走远了 你们快点来啊" right after a ticket was registered, opening a form
    (NLU read a complaint or a new repair): an urge; the customer hears the committed times again
    and the form is not started. "好 我在家等着": told to keep the phone at hand. None when the
    message is something else."""
    just_filed = ticket_announced_last_turn(tracker)
    text = latest_text(tracker)
    # "好 我先打120 你们赶紧派人来": an emergency number is not a phone, 户号 or house number given.
    numbers_given = re.search(r"\d{3}", EMERGENCY_NUMBERS.sub("", text))
    if IF_NOT_BACK.search(text) and not just_filed and tracker.get_slot("requested_slot") is None \
            and reconnection_promised(tracker) and not re.search(r"投诉|举报|人工", text) and not numbers_given:
        # "那好吧 要是明天还不来电咋办" right after the 24 hours after paying were said (NLU heard
        # an outage question; a repair was filed): what to do then, nothing filed now.
        dispatcher.utter_message(response="utter_reconnection_if_not_back")
        return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
    urged = bool(URGE_WORDS.search(text))
    promised = reconnection_promised(tracker) if not just_filed and urged else None
    if promised and tracker.get_slot("requested_slot") is None and not re.search(r"投诉|举报|建议|表扬|人工", text) \
            and not numbers_given:
        # "她一个人在家 晚上没电暖气冷得很 能不能快点" right after "paid: power is back within 24
        # hours" (NLU: a suggestion): an urge; what speeds it up, not a ticket. While the payment
        # does not show yet, what speeds it up is a person checking the receipt.
        dispatcher.utter_message(response="utter_urged_reconnection" + ("" if promised == "paid" else "_unconfirmed"))
        return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
    if not just_filed or tracker.get_slot("requested_slot") is not None \
            or not (urged or (WAITING_WORDS.search(text) and not re.search(r"[吗?？]|停不停|什么时候", text))) \
            or re.search(r"投诉|举报|建议|表扬", text) or numbers_given:
        return None
    if not urged:
        # "好 我在家等着": the customer will wait (NLU heard an outage question).
        dispatcher.utter_message(response="utter_wait_for_crew")
        return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
    from actions.handoff import time_limits  # handoff imports this module

    try:
        ticket = await api_client.get_ticket(just_filed)
    except api_client.ApiError:
        return None
    kind, values = time_limits(ticket)
    # utter_urged_{repair,other}_{done,met,open}: a repair's crew is on its way, anything else is handled
    # soon; then the ticket's time limits as utter_time_limits_* say them.
    sent = "repair" if ticket.get("type") == "repair" else "other"
    dispatcher.utter_message(response=f"utter_urged_{sent}_{kind}", **values)
    return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]


EMERGENCY_NUMBERS = re.compile(r"(?<!\d)(110|119|120|122)(?!\d)")
# Said while the bills still show the arrears the customer says are paid (or to an urge meanwhile).
PAYMENT_NOT_SHOWN = ("utter_reconnection_still_owing", "utter_payment_not_credited_yet",
                     "utter_urged_reconnection_unconfirmed")
# "要是明天还不来电咋办", "万一过了24小时还没电怎么办": what if power is not back, asked ahead.
IF_NOT_BACK = re.compile(r"(要是|如果|万一|假如|若是|到时候?|过了?[^，,。]{0,6})[^，,。？?]{0,8}(还|仍|依然|再)?(不|没)(来电|有电|通电|恢复|复电|来|电)"
                         r"[^，,。]{0,6}(咋办|怎么办|咋弄|怎么弄|找谁|咋整|怎么搞|么办)")


def reconnection_promised(tracker: Tracker) -> Optional[str]:
    """What the bot's last answer said of power coming back after the arrears: "paid" (they are
    paid: within 24 hours), "unconfirmed" (the bills still show them, or the payment is not
    credited yet; the customer's message in between not understood); None when neither."""
    if any(event.get("event") == "bot" and "缴清后24小时内" in (event.get("text") or "")
           for event in previous_turn(tracker)) or "utter_urged_reconnection" in bot_responses_within(tracker, 2):
        return "paid"
    recent = [said for said in bot_responses_within(tracker, 3)
              # ("交了六百 就一个钟头之前…" not understood in between)
              if said not in ("utter_ask_rephrase", "utter_default", "utter_ask_rating")]
    return "unconfirmed" if recent and recent[0] in PAYMENT_NOT_SHOWN else None


def payment_not_shown_yet(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """"交了六百 就一个钟头之前 在村口超市交的" right after the bills were found still owing: the
    customer insists it is paid. Payments at shops and village agents take a while to be
    credited; what to keep, when to ask again, who checks it. None when the message is not that."""
    from actions.bills import PAID_WORDS  # bills imports this module

    text = latest_text(tracker)
    if "utter_reconnection_still_owing" not in bot_responses_within(tracker, 2) or not PAID_WORDS.search(text) \
            or re.search(r"[吗?？]|投诉|人工", text):
        return None
    dispatcher.utter_message(response="utter_payment_not_credited_yet")
    return [ActiveLoop(None), SlotSet("requested_slot", None), FollowupAction("action_listen")]


# Tickets that take more of the customer's words right after they were registered (a repair
# takes an urge instead: reassure_after_filing).
NOTED_TICKET_TYPES = ("complaint", "praise", "suggestion", "tip_off", "application")
NOT_MORE_OF_THE_STORY = {"thank", "goodbye", "greet", "affirm", "deny", "request_human", "cancel", "query_progress",
                         "query_bill", "query_outage", "apply_service", "report_fault", "rate_service"}


# "昨天下午停的 一点招呼都没打" right after a complaint about it: when it happened, not a fault now.
PAST_ONLY = re.compile(r"昨[天晚儿]|前[天晚]|上[午周礼个]|那[天次回会]|当时|之前|前几天")
STILL_NOW = re.compile(r"现在|今天|此刻|还是|还没|一直|到现在|又|正在|快来|派人|来修|报修|修一下")


# "不晓得叫啥", "不知道是什么名字": not knowing, told; no question asked.
NOT_KNOWN_WHAT = re.compile(r"不(?:知道|晓得|清楚|记得)[^，,。？?]{0,4}(?:叫|是)?(?:啥|什么)(?:名字)?")


# The staff member a praise or complaint is about: a surname, a look, a badge number.
STAFF_DESCRIBED = re.compile(r"姓[\u4e00-\u9fff]|师傅|小伙|小姑娘|戴(着)?眼镜|工号|工牌|名字|个子|胖胖|瘦瘦|年纪|岁数|穿(着)?")


async def add_to_just_filed(dispatcher: CollectingDispatcher, tracker: Tracker,
                            request_unnamed: bool = False) -> Optional[List[EventType]]:
    """"就是那个姓王的师傅 人特别好" right after a complaint, praise, suggestion or tip-off was
    registered: more of the same story (NLU heard a new one, or nothing it knew), kept on that
    ticket instead of a second ticket or a "没能理解". None when the message is something else."""
    ticket_no = ticket_announced_last_turn(tracker)
    text = latest_text(tracker).strip()
    intent, _ = latest_intent(tracker)
    past_outage_only = intent in ("report_fault", "query_outage") and bool(PAST_ONLY.search(text)) \
        and not STILL_NOW.search(text)
    from actions.faults import find_hazards, tells_a_fault  # faults imports this module
    from actions.menu import named_request  # menu imports this module

    # "雨花台区雨花南路238号梅园新村 那一片好几家都去了" after a tip-off on fake staff: where it
    # happened (NLU heard a fault in the address), not a fault told.
    place_only = bool(entity_values(tracker, "address")) and not tells_a_fault(text) and not find_hazards(text) \
        and named_request(text) is None and only_an_address(text, tracker) is None  # (alone: confirms or corrects)
    # "名字不知道 其中一个戴眼镜的 好像姓陈" after a praise (NLU heard a fault): who was meant.
    staff_described = bool(STAFF_DESCRIBED.search(text)) and not tells_a_fault(text) and not find_hazards(text)
    if ticket_no and WITHDRAWS_FEEDBACK.search(text) and tracker.get_slot("requested_slot") is None:
        # "哦 用了一千多度啊 那可能是空调开得太狠了 算了 不投诉了": taken back, not more of it.
        withdrawn = await withdraw_just_opened(dispatcher, tracker)
        if withdrawn:
            dispatcher.utter_message(response="utter_ticket_withdrawn", ticket_no=withdrawn[0], type_label=withdrawn[1])
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
    if not ticket_no or tracker.get_slot("requested_slot") is not None or len(text) < 4 \
            or text.startswith("/") or (intent in NOT_MORE_OF_THE_STORY and not past_outage_only and not place_only
                                         and not staff_described and not request_unnamed) \
            or QUESTION_MARKS.search(NOT_KNOWN_WHAT.sub("", text)) \
            or re.search(r"吗|呢|多久|怎么|几天|还有(?:个|一个|件|一件)?(?:事|问题)|还有(?:就是|我想|我要)|另外|"
                         r"再(投诉|反映|举报)|\d{7,}", text):
        # ("…还有个事", "另外…": another matter; "一个姓陈的师傅 还有一个年轻的" is more of the same.)
        return None
    return await note_on_ticket(dispatcher, ticket_no, text, NOTED_TICKET_TYPES)


async def note_on_ticket(dispatcher: CollectingDispatcher, ticket_no: str, text: str,
                         types: Tuple[str, ...]) -> Optional[List[EventType]]:
    """The customer's words noted on an open ticket of one of ``types``, said so, the form left;
    None when the ticket is of another type, done, or the store cannot be reached."""
    try:
        ticket = await api_client.get_ticket(ticket_no)
        if ticket.get("type") not in types or ticket.get("status") in DONE_STATUSES:
            return None
        await api_client.add_ticket_note(ticket_no, f"客户补充：{text[:1000]}")
    except api_client.ApiError:
        return None
    dispatcher.utter_message(response="utter_ticket_note_added", ticket_no=ticket_no)
    return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]


def tickets_announced_this_session(tracker: Tracker) -> List[str]:
    """The ticket numbers the bot announced in this conversation (session), newest first."""
    found: List[str] = []
    for event in reversed(session_events(tracker)):
        if event.get("event") == "bot":
            found.extend(reversed(ANNOUNCED_TICKET.findall(event.get("text") or "")))
    return list(dict.fromkeys(found))


# A second, different matter: "另外还有个事要投诉", "再投诉一个".
# ("还有一个蛮年轻的" of the staff praised is one more person of the same matter.)
ANOTHER_MATTER = re.compile(r"另外|另一|别的|还有(一)?(个|件)(事|问题|情况|投诉|举报|意见|建议|表扬)|还有(一)?件|"
                            r"再(投诉|举报|反映|提|表扬)(一)?个|第二(个|件)|两件事|顺便")


async def same_matter_filed(tracker: Tracker, kind: str, text: str) -> Optional[Dict[str, Any]]:
    """The open ticket of this kind registered earlier in this conversation, when the new one
    is more of the same ("修完了我还要投诉 老这么停谁受得了" after "这个月第三回了 你们到底管不管"
    was filed as a complaint): a service desk adds it to that ticket instead of opening a second.
    None when none is, or the customer says it is another matter."""
    if ANOTHER_MATTER.search(text or ""):
        return None
    for ticket_no in tickets_announced_this_session(tracker)[:4]:
        try:
            ticket = await api_client.get_ticket(ticket_no)
        except api_client.ApiError:
            continue
        if ticket.get("type") == kind and ticket.get("status") not in DONE_STATUSES:
            return ticket
    return None


# "我上个月报的充电桩", "上礼拜举报过隔壁偷电", "之前投诉的事": a request made before.
EARLIER_REQUEST = re.compile(r"(之前|上次|上回|前几天|前些天|前阵子|前天|昨天|上周|上礼拜|上星期|上个月|早上|上午|"
                             # "三个礼拜前申请的增容", "半个月前报的"
                             r"[一二两三四五六七八九十几半\d]+个?(天|周|礼拜|星期|月)(以)?前|上上(周|礼拜|个月))"
                             r"[^，,。]{0,6}(投诉|报修|申请|反映|举报|报|办)(过|了)?的?(事|那个|单子|问题)?")
# "批下来了没有", "你们处理了没有", "怎么样了": where it stands.
NO_NEWS = re.compile(r"(动静|消息|回音|音信|下文)(都|也)?没(有)?|没人理|没人管|没消息|没动静|没回音|没人联系|没人回|怎么样了|到哪了|进度|处理了没|处理没|有没有处理|"
                     r"有结果|有没有结果|批下来|批了没|批没批|通过了没|办好了没|办下来|审核过了没|审核通过了没|审核了没|审批了没")


def asks_progress_of_earlier(text: Optional[str]) -> bool:
    """Where a request made before stands ("我上个月报的充电桩 批下来了没有"), not a new one."""
    return bool(EARLIER_REQUEST.search(text or "") and NO_NEWS.search(text or ""))


# "希望你们考虑一下", "你们应该多装点", "停电通知能不能提前几天发短信": what the utility should do.
SUGGESTION_SAID = re.compile(r"建议你们|希望你们|你们应该|你们最好|应该多|多装点|多建|能不能(提前|多|每次|以后)|"
                             r"可不可以(提前|多|以后)|以后能不能|考虑一下")
# The customer's own business: "我想…", "帮我…", "申请"; a question on their own outage.
OWN_REQUEST = re.compile(r"我(想|要)|帮我|给我|申请|办理|几点|什么时候|啥时候|停不停|多久|哪天")


def makes_a_suggestion(text: Optional[str]) -> bool:
    return bool(SUGGESTION_SAID.search(text or "")) and not OWN_REQUEST.search(text or "")


# What the closed desk says when it registers a callback (the gateway's notice).
CALLBACK_OPENED = "已为您登记回电工单"


async def complete_callback(dispatcher: CollectingDispatcher, tracker: Tracker, phone: str) -> bool:
    """A callback ticket of this conversation without a phone (the desk was closed or busy and
    the customer had not given one) gets this number; True when one did. "有人吗 打电话给我
    139…", "我现在的电话是138… 让人打过来": whatever NLU made of the words around it."""
    try:
        waiting = await api_client.tickets_without_contact(tracker.sender_id, "callback")
        if not waiting:
            return False
        ticket_no = waiting[0]["ticket_no"]  # newest first
        await api_client.set_ticket_contact(ticket_no, phone)
    except api_client.ApiError:
        dispatcher.utter_message(response="utter_api_failure")
        return True
    dispatcher.utter_message(response="utter_callback_phone_noted", ticket_no=ticket_no,
                             masked_phone=mask_phone(phone))
    return True


# What may stand beside a phone number given for the ticket just registered.
_PHONE_LABEL = re.compile(r"(我的|联系)?(手机号码?|电话号码?|手机|电话|号码|联系方式)[是为：:]?|打这个(号码?|电话)?|[\d\s\-－，,。！!、：:]")
_NEW_REQUEST_WORDS = re.compile(r"投诉|举报|建议|表扬|报修|申请|查|还有|另外|再|也")


NEW_NUMBER = re.compile(r"新号|老号|换号|换了号|号码换了|换手机号")


def ticket_in_talk(tracker: Tracker, corrected: bool) -> Optional[str]:
    """The ticket a phone or an address said now belongs to: the one announced last turn, or one
    announced a little earlier when the customer corrects it ("哎呀电话说错了 … 新号是198…") or
    the last turn added more to it ("我是和平社区81号的 叫高桂英" noted on a praise, then "电话151…
    一定要帮我转达啊")."""
    still_on_it = corrected or "utter_ticket_note_added" in bot_responses_within(tracker, 2)
    return ticket_announced_last_turn(tracker) or (ticket_announced_within(tracker, 3) if still_on_it else None)


def ticket_announced_within(tracker: Tracker, turns: int) -> Optional[str]:
    """The last ticket the bot announced within the customer's last few messages."""
    return next((found[-1] for text in bot_texts_within(tracker, turns)
                 for found in [ANNOUNCED_TICKET.findall(text)] if found), None)


PHONE_TALK = re.compile(r"留个?电话|留个?号码?|电话(给你|留)|打我|找我|联系我|问我")


async def urges_its_repair(ticket_no: str, rest: str) -> bool:
    """"值班电话136… 抓紧派人" right after a repair was filed: the crew urged for that repair (no
    place of another fault named), so the number is that repair's contact."""
    if HOUSE_NUMBER.search(rest) or re.search(r"村|社区|小区|[路街巷道]", rest) or not URGE_WORDS.search(rest):
        return False
    try:
        return (await api_client.get_ticket(ticket_no)).get("type") == "repair"
    except api_client.ApiError:
        return False


async def correct_just_filed_phone(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """"哎不对 手机号打错了 是18920521734" right after a ticket was registered: that ticket's
    contact phone is changed (the crew or the desk calls the right number). "电话18124769695
    希望给个说法" right after a complaint filed on the registered phone: the number the customer
    wants to be called on, and the words are kept on the ticket. None otherwise (a phone said
    with a new request belongs to that request)."""
    text = latest_text(tracker)
    corrected = bool(CORRECTION_WORDS.search(text) or NEW_NUMBER.search(text))
    ticket_no = ticket_in_talk(tracker, corrected)
    phone = find_mobile(text)
    if not ticket_no or not phone or tracker.get_slot("requested_slot") is not None:
        return None
    rest = _PHONE_LABEL.sub("", text.translate(_FULLWIDTH))
    if not corrected:
        from actions.menu import named_request  # menu imports this module

        # "想了想还是留个电话吧 有需要可以问我 … 别透露给他们": longer words about the phone itself.
        if len(rest) > (40 if PHONE_TALK.search(rest) else 20) or _NEW_REQUEST_WORDS.search(rest) \
                or ((named_request(rest) or SEND_A_CREW.search(rest)) and not await urges_its_repair(ticket_no, rest)):
            return None
    noted = "" if corrected or not rest or COURTESY_ONLY.fullmatch(rest) or len(rest) < 4 else rest
    try:
        await api_client.set_ticket_contact(ticket_no, phone)
        if noted:
            await api_client.add_ticket_note(ticket_no, f"客户补充：{noted}")
    except api_client.ApiError:
        return None
    response = "utter_ticket_phone_corrected" if corrected else (
        "utter_ticket_phone_and_words_noted" if noted else "utter_ticket_phone_noted")
    dispatcher.utter_message(response=response, ticket_no=ticket_no, masked_phone=mask_phone(phone))
    return [SlotSet("contact_phone", None)]


# What may stand around an address given alone: "不对 地址是…", "就是…", "我家在…".
_AROUND_AN_ADDRESS = re.compile(r"[\s，,。.！!、]|地址|是|在|住|我家|我们家|家|就|对|哦|噢|嗯|啊|呀|吧|的|了")


def only_an_address(text: str, tracker: Optional[Tracker] = None) -> Optional[str]:
    """The address of a message that says nothing else ("迈皋桥路109号锦绣苑13栋1001",
    "不对 地址是和平社区81号"), or None."""
    text = str(text or "").strip()
    found = next((v for v in (entity_values(tracker, "address") if tracker is not None else [])
                  if v in text and not re.search(r"不是|^[了的是]", v)), None)
    if found is None:
        rest = CORRECTION_WORDS.sub("", text)
        rest = re.sub(r"^(地址|我家|我们家|家)?(是|在|住在?)?", "", rest.strip(" ，,。.：:"))
        rest = rest.strip(" ，,。.！!")
        # (without the NLU's entity, the whole rest must end as an address does)
        found = rest if looks_like_address(rest) and re.search(r"(号|室|栋|幢|楼|村|组|单元|层|座|小区|苑|园|\d)$", rest) else None
    if not found:
        return None
    room = re.match(re.escape(found) + r"\s*(?:他家|她家|他们家|那户|那家|家)?(?:是|在)?\s*(\d{2,5}(?:室|号)?)(?!\d)", text)
    said = found
    if room and not re.search(r"\d$", found):
        # "…锦绣苑13栋 他家是901" (the place of a tip-off): the room too.
        said, found = room.group(0), found + room.group(1)
    rest = _AROUND_AN_ADDRESS.sub("", CORRECTION_WORDS.sub("", text.replace(said, "")))
    return found if len(rest) <= 2 else None


def same_place(one: str, other: str) -> bool:
    one, other = (re.sub(r"[\s，,。]|江苏省|南京市|室$", "", v) for v in (one, other))
    return bool(one and other) and (one in other or other in one)


async def correct_just_filed_address(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """An address alone right after a ticket was registered (its address shown to be checked),
    or "不对 地址是…" / "写错了 是6栋1503室 不是16栋" within a few messages of it: the same place
    is confirmed, another one (or the filed one with the part corrected) replaces the ticket's
    address; the old one stays in its record. None otherwise."""
    text = latest_text(tracker)
    corrected = bool(CORRECTION_WORDS.search(text) or re.search(r"不是", text))
    ticket_no = ticket_in_talk(tracker, corrected)
    if not ticket_no or tracker.get_slot("requested_slot") is not None:
        return None
    address = only_an_address(text, tracker)
    if not address and corrected:
        # "哎呀地址打错了 是221号 不是211 中央路221号4栋1单元601": the whole address said again.
        address = next((v for v in entity_values(tracker, "address")
                        if looks_like_address(v, need_number=True) and not only_fragments(v)
                        and not re.search(r"不是|^[了的是]", v)), None)
    if not address and not (corrected and only_fragments(text)):
        return None
    try:
        ticket = await api_client.get_ticket(ticket_no)
        held = str((ticket.get("details") or {}).get("address") or "")
        if corrected and held:
            # Parts of the filed address ("是13栋 不是31栋", "门牌是86号"): that address, amended.
            address = _swap_fragment(text, held) or _amend_with_fragments(text, held) or address
        if not address or only_fragments(address):
            return None
        if held and same_place(held, address):
            dispatcher.utter_message(response="utter_ticket_address_same", ticket_no=ticket_no)
            return [SlotSet("address", None)]
        await api_client.set_ticket_address(ticket_no, address)
    except api_client.ApiError:
        return None
    # A tip-off or complaint filed with no place: the place told after it is added, not corrected.
    response = "utter_ticket_address_corrected" if held else "utter_ticket_address_added"
    dispatcher.utter_message(response=response, ticket_no=ticket_no, address=echoed(address))
    return [SlotSet("address", None)]


# "算了 不投诉了", "那这个投诉撤了吧", "举报先不举了": a complaint or tip-off taken back in words
# (not "算了 投诉也没用", which is resignation: the complaint stands).
WITHDRAWS_FEEDBACK = re.compile(r"(不|别)(投诉|举报|举)了|(投诉|举报)(就|先)?(撤|取消|不要|不用|算了)(了|吧|掉)?(?!没用)|"
                                r"(撤销|撤回|撤掉|取消)(一下)?(这个|那个|刚才的|我的)?(投诉|举报)")


async def withdraw_just_opened(dispatcher: CollectingDispatcher,
                               tracker: Tracker) -> Optional[tuple]:
    """"算了算了不修了" right after a ticket was opened: that ticket is cancelled while nobody has
    taken it up yet (status 'new'); (ticket_no, type label) when it was."""
    ticket_no = ticket_announced_last_turn(tracker)
    if tracker.get_slot("hazard"):
        return None  # a hazard is looked at even when the customer no longer asks
    if re.search(r"电话|号码|手机|联系方式|留", latest_text(tracker)):
        return None  # "电话不用留了": no phone wanted, the request stands
    try:
        if not ticket_no and handed_off_last_turn(tracker):
            # The desk was closed: the gateway opened a callback and said so itself.
            waiting = await api_client.tickets_without_contact(tracker.sender_id, "callback")
            ticket_no = waiting[0]["ticket_no"] if waiting else None  # newest first
        if not ticket_no:
            return None
        ticket = await api_client.get_ticket(ticket_no)
        if ticket.get("status") != "new" or (ticket.get("type") in ("complaint", "tip_off")
                                             and not WITHDRAWS_FEEDBACK.search(latest_text(tracker))):
            return None  # "算了" after a complaint is more often resignation than a withdrawal
        await api_client.change_ticket_status(ticket_no, "cancelled", note=f"客户随即撤回：{latest_text(tracker)[:200]}")
    except api_client.ApiError:
        return None
    return ticket_no, TICKET_TYPE_LABELS.get(ticket.get("type", ""), "")


async def withdraw_callback_on_stop(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """"算了算了不用了 我就问问中华路明天停不停电" right after the desk-closed callback was
    opened: the callback is withdrawn (said so), and the question is served by the caller."""
    leading = LEADING_STOP.match(latest_text(tracker))
    if not (leading and leading.group(0).strip()) or not handed_off_last_turn(tracker):
        return False
    withdrawn = await withdraw_just_opened(dispatcher, tracker)
    if not withdrawn:
        return False
    dispatcher.utter_message(response="utter_ticket_withdrawn_then", ticket_no=withdrawn[0], type_label=withdrawn[1])
    return True


# "还有…最好发个短信", "另外希望…": one more suggestion, not a request of the customer's own.
MORE_SUGGESTED = re.compile(r"最好|希望|建议|应该|能不能|可不可以|要是能")


def more_of_the_suggestion(tracker: Tracker) -> Optional[str]:
    """The suggestion's words with the latest message added, when it is one more suggestion
    said at the suggestion's phone question; None otherwise."""
    text = latest_text(tracker).strip()
    if tracker.get_slot("feedback_type") != "suggestion" or tracker.get_slot("requested_slot") != "contact_phone" \
            or not MORE_SUGGESTED.search(text) or text.startswith("/") \
            or re.search(r"帮我|给我查|我家|我的|户号|\d{4}|转人工", text):
        return None
    held = str(tracker.get_slot("feedback_content") or "")
    return (f"{held}；{text}" if held else text)[:1000]


class ActionPauseForm(Action):
    """A new request inside a form ("先帮我查下电费"): remember the form, leave it, and let
    the rule start the other flow; a rule brings the customer back afterwards."""

    def name(self) -> Text:
        return "action_pause_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        form = tracker.active_loop.get("name") if tracker.active_loop else None
        more = more_of_the_suggestion(tracker) if form == "feedback_form" else None
        if more:
            # "还有缴费成功以后最好发个短信…" at the suggestion's phone question (NLU heard a bill
            # query): the same customer's next suggestion, kept with the first; the question stands.
            # The form runs next and asks its question again (the words are in its story now, so it
            # does not read them a second time); listening here instead left the form interrupted,
            # and the phone typed next was not understood.
            dispatcher.utter_message(response="utter_suggestion_also_noted")
            return [SlotSet("feedback_content", more), FollowupAction("feedback_form")]
        if form:
            label = FORM_LABELS.get(form, "刚才的业务")
            dispatcher.utter_message(response="utter_form_paused", form_label=label)
        return [SlotSet("paused_form", form), ActiveLoop(None), SlotSet("requested_slot", None)]


def join_lines(lines: Iterable[str]) -> str:
    return "\n".join(line for line in lines if line)


# An angry customer ("你们什么破服务！！这个月第三次停电了"): an apology and empathy come first.
# ("空开老是跳" describes the fault: a switch that trips is no anger at us.)
ANGER_WORDS = re.compile(
    r"破服务|什么破|垃圾|什么玩意|搞什么|搞啥|气死|烦死|受够|太差|差劲|太烂|无语|坑人|骗人|忽悠|不负责|没人管|"
    r"第[二三四五六七八九十2-9几]次|第[二三四五几]回|又停电|又停了|又断电|(老是|总是|天天|经常|隔三差五)(晚上)?(停|断)|"
    r"三天两头|动不动就(停|断)|有人管|管不管|打了(好)?几次|好几次了|说好.{0,8}结果|"
    r"[!！]{2,}|[?？]{2,}|还让不让人|有没有人管|你们到底|到底(还)?(管不管|行不行|能不能|要等|还要|什么时候|啥时候)|"
    r"怎么搞的|(你们|到底|这都)(这是)?怎么回事|怎么回事啊?[!！?？]|能不能靠谱")
# ("到底交了没有" alone is doubt, not anger; "灯一闪一闪的 咋回事啊" is a question, not anger.)


def is_angry(text: Optional[str]) -> bool:
    """Anger in the words; "紧急！！电线断了" is alarm, not anger."""
    from actions.faults import find_hazards  # faults imports this module

    if (find_hazards(text) or GLAD_WORDS.search(text or "")) \
            and not ANGER_WORDS.search(re.sub(r"[!！?？]{2,}", "", text or "")):
        return False  # ("必须表扬一下你们的师傅！！": delight, not anger)
    return _angry_words(text)


# Praise and thanks, which exclamation marks make warmer, not angry.
GLAD_WORDS = re.compile(r"表扬|感谢|谢谢|多谢|点赞|点个赞|给力|辛苦了|太好了|真好|好样的|感动")


def _angry_words(text: Optional[str]) -> bool:
    return bool(ANGER_WORDS.search(text or ""))


def apologise_if_angry(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Utters the apology (once per conversation) when the latest message is angry."""
    if not is_angry(latest_text(tracker)):
        return False
    for event in session_events(tracker):
        if event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") == "utter_apology_angry":
            return False
    dispatcher.utter_message(response="utter_apology_angry")
    return True


COMPANION_SLOTS = ("address_from_account", "account_no", "area_type", "fault_description")

FIELD_LABELS = {"address": "地址", "contact_phone": "联系电话", "account_no": "户号",
                "phone_last4": "手机号后四位", "applicant_name": "申请人姓名",
                "fault_description": "故障情况", "feedback_content": "具体情况"}


def field_label(slot: Optional[str]) -> str:
    """The slot's name in utter_still_need, utter_corrected…: 信息 for one without a name."""
    return FIELD_LABELS.get(slot or "", "信息")


def last_form(tracker: Tracker) -> Optional[str]:
    """The form active now, or the one that was active last (a form stopped by its own
    validation is already inactive when the cancel action runs)."""
    if tracker.active_loop and tracker.active_loop.get("name"):
        return tracker.active_loop.get("name")
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") in FORM_LABELS:
            return event.get("name")
    return None


FORM_OF_INTENT = {"query_bill": "bill_form", "ask_bill_reason": "bill_form", "query_outage": "outage_form",
                  "query_progress": "progress_form"}
# A question that asks for something to be done ("先帮我查查"), not only to be told.
ASKS_TO_DO = re.compile(r"帮我|给我|查一下|查查|查下|先查|看一下|看看")
# "…这算啥 转人工": the customer names a person; whatever NLU made of the rest.
# "叫个人回个电话给我" in the message that opens a form: a person asked for, by phone (inside a
# form "让工作人员打电话给我" is how the contact question is answered, so only at the opening).
# A complaint or tip-off said in so many words ("那我要投诉你们", "我要举报").
WANTS_TO_COMPLAIN = re.compile(r"(我|那我|我就)?(要|想|得)(正式|实名|再|还是|还要|必须)?(投诉|举报)|投诉你们|举报你们|"
                               r"(直接|那我|那就|我就)(投诉|举报)|投诉(他|她|这个人|那个人)|"
                               # "直接给我登记投诉吧", "帮我登个投诉"
                               r"(给我|帮我)[^，,。]{0,3}(登记|登|记|报|提|办)(个|一个|一下)?(投诉|举报)")
# "这回再这么慢我就要投诉了", "不然我就投诉": a complaint threatened if it happens again, not made now.
THREATENED_COMPLAINT = re.compile(r"(再|要是|如果|万一|还是|还)[^，,。]{0,12}(就|的话)[^，,。]{0,4}(投诉|举报)|"
                                  r"(不然|否则)[^，,。]{0,6}(投诉|举报)|不[^，,。]{1,8}(我)?就(要)?(投诉|举报)")


def wants_to_complain(text: Optional[str]) -> bool:
    """The customer complains now ("我要投诉", "投诉你们"), not only threatens to."""
    return bool(WANTS_TO_COMPLAIN.search(text or "")) and not THREATENED_COMPLAINT.search(text or "")


# "不是报修 现在有电", "不用来修了 我就是要投诉": the power is on, no crew is wanted.
NOT_A_REPAIR = re.compile(r"不是(要)?报修|不(是|用|要|需要)(来|派人)?(修|报修)|不报修|(现在|已经|早就|早)(有电|来电)|有电了|来电了|电来了")


# The amount or the meter doubted: "电费怎么二百多块", "这月电费咋翻了一倍", "一个月两百多度",
# "电表走得快" (a bill looked up with its reason; a complaint followed by the figures).
AMOUNT_DOUBTED = re.compile(r"(电费|用电|度数|用电量|[0-9一二两三四五六七八九十百多]+度).{0,12}(多(?!少)|高|贵|翻|涨|不对|离谱|算错|不准|厉害|吓人)|"
                            r"电表.{0,8}(快|不准|有问题|自己|乱跳|跳得)|多收|乱收|估(的|着)抄|瞎估")


# "现在是好了", "已经恢复了": the fault told is over; what is left is not a crew's job.
FIXED_NOW = re.compile(r"现在(是|都|已经)?(好了|正常了|恢复了|没事了|有电了)|已经(好了|恢复了|正常了|来电了)")


def complaint_during_repair(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str,
                            text: str) -> Optional[List[EventType]]:
    """"修完了我还要投诉 老这么停谁受得了" at a repair's question: the repair is finished first,
    then the complaint in these words (action_submit_fault). A phone in the same words ("赶紧派人来
    另外我要投诉… 电话189…") is the repair's too. None when the words make no complaint."""
    intent, _ = latest_intent(tracker)
    if not (intent in ("complain", "tip_off") or re.search(r"我[^，,。]{0,3}投诉", text)) \
            or not wants_to_complain(text) or tracker.get_slot("feedback_content"):
        return None
    if NOT_A_REPAIR.search(text) or FIXED_NOW.search(str(tracker.get_slot("fault_description") or "")):
        # "我要投诉 不是报修 现在有电": no crew is sent; the complaint is the story told, with its place.
        # (So too when the fault told was over already: "…电压老是不稳 现在是好了 但是我店里烧坏了…".)
        story = "；".join(filter(None, [tracker.get_slot("fault_description"), text]))
        if tracker.get_slot("address"):
            story += f"（地址：{tracker.get_slot('address')}）"
        dispatcher.utter_message(response="utter_complaint_instead_of_repair")
        return [SlotSet(slot, None), SlotSet("requested_slot", None), ActiveLoop(None)] + \
            [e for e in reset_form_slots("fault_form") if e["name"] != "contact_phone"] + \
            [SlotSet("feedback_type", "complaint"), SlotSet("feedback_content", story[:1000]),
             FollowupAction("feedback_form")]
    dispatcher.utter_message(response="utter_complaint_after_repair")
    mobile = find_mobile(text)
    complaint = [SlotSet("feedback_type", "tip_off" if intent == "tip_off" else "complaint"),
                 SlotSet("feedback_content", text[:1000])]
    if mobile and not tracker.get_slot("contact_phone"):
        complaint.append(SlotSet("contact_phone", mobile))
        if slot == "contact_phone":
            return complaint  # the question is answered; the form goes on
    return complaint + [SlotSet(slot, None), SlotSet("requested_slot", slot)]
# A story of being let down by us: a promise not kept, nobody coming, calls hung up, rudeness.
LET_DOWN = re.compile(r"说好[^，,。]{0,14}(结果|没|不|也)|人影(子)?都没|没人来|没来人|不来人|没人管|没人理|没人打|"
                      r"电话都没|挂(了)?我(的)?电话|态度(太|很|真|特别)?(差|恶劣|不好)|爱理不理|推来推去|推诿|"
                      r"踢皮球|敷衍|说话不算数?|不算数|白等")
# Someone posing as the utility's staff ("冒充供电所的人上门收费", "我觉得是骗子"): a tip-off.
# "楼下群租房乱拉电线…从公共照明接电给电动车充电": using electricity illegally.
ILLEGAL_USE = re.compile(r"乱拉电线|私拉乱接|私拉电线|乱接电线|私接电线|私拉|私接|偷拉|偷接|偷电|窃电|绕表|绕过电表|没走表|不走表的线|"
                         # "电线直接接在表前面 根本不走电表": wired before the meter.
                         r"不走电表|不走表|没走电表|不经过电表|(绕|跳)过了?(电)?表|接在(电)?表前|(电)?表前(面|头)?(私自)?接|私自接(电|线)|"
                         r"(从|在)[^，,。]{0,8}(路灯|公共照明|电线杆|楼道|公共)[^，,。]{0,6}(接|拉|偷)(电|线|了)")
def _hazard_named(text: str) -> bool:
    from actions.faults import find_hazards  # faults imports this module

    return bool(find_hazards(text))


IMPERSONATION = re.compile(r"冒充|假冒|骗子|诈骗|骗钱|是骗人的|假的(工作人员|电工|师傅)|"
                           # "两个人上门说是供电局的 要给我换电表 收两百块钱 是不是你们的人啊"
                           r"是不是你们(的人|派的|派来的|单位的)|(自称|说是|说他们是|说自己是)[^，,。]{0,3}(供电|电力|电网)[^，,。]{0,16}(收|要|交)[^，,。]{0,8}(钱|费|块)")
# "让人直接打电话给她" (a grandson typing for his grandmother), "有人吗 打电话给我".
CALL_ME_BACK = (r"(让|叫|找|安排)(个|一个)?(真人|人|工作人员|客服)(直接)?(给(我|她|他|老人))?(打|回)(个|一个)?电话"
                r"|(回|打)(个|一个)?电话给我|给我(回|打)(个|一个)?电话")
HUMAN_WORDS = re.compile(r"转人工|人工客服|找人工|要人工|接人工|真人|人工服务|找个人工|^人工[。！!]?$|"
                         r"(给我|帮我)(找|叫|喊)个(活)?人|(?<![我去])(找|叫|喊)个(活)?人(来)?(跟我)(说|聊|讲|问)")
# A person asked for in so many words: "人工客服" alone may be what a complaint is about.
ASKS_FOR_A_PERSON = re.compile(r"转人工|找人工|要人工|接人工|(要|找|转|接|叫)(个|一个)?(真人|人工客服|人工服务)|"
                               r"(转|接|找)(个|一个)人工|" + CALL_ME_BACK)
# The FAQ selector's answer is given inside a form when it is this sure, whatever the intent
# ("等等，先问下你们这个电费能用微信交吗" is read as a bill query, its answer is still the FAQ's).
INLINE_ANSWER_CONFIDENCE = 0.6


# "让人打过来", "打这个号", "回电话给我": the number given is the one to call back on.
CALL_ME_ON_IT = re.compile(r"打过来|打给我|打这个|打我(电话|手机)|回(个)?电话|联系我|回电|让人打|叫人打")


async def answered_on_the_business_just_answered(dispatcher: CollectingDispatcher, tracker: Tracker,
                                                 domain: DomainDict) -> bool:
    """A short fee or how-long question right after an answer about a business: that business's
    answers (every aspect asked). False when the message is anything else."""
    from actions.faq import (  # faq imports the forms' modules
        ASKS_HOW_LONG, ASKS_THE_FEE, TOPIC_BUSINESS, answer_business_topics, last_faq_topic)

    text = latest_text(tracker)
    business = TOPIC_BUSINESS.get(last_faq_topic(tracker, within_turns=1) or "")
    if not business or len(re.sub(r"\s", "", text)) > 20 or not (ASKS_HOW_LONG.search(text) or ASKS_THE_FEE.search(text)) \
            or find_mobile(text) or re.search(r"\d{4}", text) or re.search(r"帮我办|办吧|申请吧|登记吧|提交", text):
        return False
    return answer_business_topics(text, business, dispatcher, tracker, domain)


# Forms whose contact phone is the one the customer already left in this conversation.
PHONE_REUSING_FORMS = ("feedback_form", "fault_form", "application_form")


def phone_given_earlier(tracker: Tracker) -> Optional[str]:
    """The mobile number the customer last typed in this conversation before this message."""
    return next((phone for text in earlier_customer_texts(tracker) for phone in [find_mobile(text)] if phone), None)


def phone_answers_the_question(tracker: Tracker, text: str) -> bool:
    """"要回复的话打我电话130…" at a phone question, "我的电话180… 你们先联系我" at another question
    of a form that still needs one: the number to call, not a wish for a person."""
    asked = tracker.get_slot("requested_slot")
    return bool(asked) and (asked == "contact_phone" or not tracker.get_slot("contact_phone")) \
        and bool(find_mobile(text)) and not (HUMAN_WORDS.search(text) or ASKS_FOR_A_PERSON.search(text))


def answer_inline(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> bool:
    """Answers a question asked inside a form with the FAQ answer the selector is sure of."""
    from actions.faq import answer_business_topics, answer_topic, selected_topic_and_confidence  # faq imports the forms' modules

    text = latest_text(tracker)
    # "要多久能批下来 并网要钱吗" while a PV connection is applied for: that business's answers.
    if answer_business_topics(text, tracker.get_slot("business_type"), dispatcher, tracker, domain):
        return True
    topic, confidence = selected_topic_and_confidence(tracker)
    if topic and confidence >= INLINE_ANSWER_CONFIDENCE:
        return answer_topic(topic, dispatcher, tracker, domain)
    if ASKS_HOW_TO_PAY.search(text):
        # "先问下你们这个电费能用微信交吗" (NLU heard a bill query, the selector was unsure): how to pay.
        return answer_topic("pay_by_wechat_alipay" if PAY_APPS.search(text) else "payment_channels",
                            dispatcher, tracker, domain)
    from actions.faq import topic_by_words

    worded = topic_by_words(text)
    # "改了以后白天是不是更贵" while a tariff change is applied for: the words name the topic.
    return answer_topic(worded, dispatcher, tracker, domain) if worded else False


# How to pay, asked in any words: "咋交", "去哪里交", "能用微信交吗", "支付宝能缴不".
ASKS_HOW_TO_PAY = re.compile(r"(怎么|咋|怎样|如何|去哪|到哪|哪里|哪儿|在哪)(儿|里)?(去)?(交|缴|付|充)|"
                             r"(用|在|拿)?(微信|支付宝|银行卡|现金|手机).{0,4}(交|缴|付|充)|"
                             r"(微信|支付宝).{0,4}(能|可以|行)|"
                             r"(能不能|可不可以|能否|可以).{0,8}(替|帮|给)[^，,。]{0,6}(交|缴)")
PAY_APPS = re.compile(r"微信|支付宝")
# What a bill shows, asked before the identity is proved: "欠多少", "用了多少度", "交了没有".
ASKS_BILL_FIGURES = re.compile(r"多少|几度|几块|交(了|过)(没|吗|么)|交没交|欠(了)?(多少|几)|账单|电费")


# A message in the utility's name (a pasted SMS, a call, a visitor) asked about: "收到这个 是真的吗
# 【国家电网】…点击 http://95598-tuifei.cn 填写银行卡信息办理退费", "有人打电话说是95598的 要上门换表
# 这号码是不是你们的".
CLAIMS_UTILITY = re.compile(r"95598|国家电网|国网|供电公司|供电局|电力公司|电网")
SCAM_BAIT = re.compile(r"https?://|www\.|\.cn\b|\.com\b|点击|链接|网址|加个?微信|微信号|QQ|银行卡|卡号|验证码|转账|汇款|"
                       r"退费|退款|多扣|补贴|扫码", re.I)
ASKS_IF_GENUINE = re.compile(r"是真的吗|是不是真的|真的假的|是(不是)?你们(发|打|的)|你们发的|是不是骗|骗子|诈骗|骗人|靠谱吗|可信吗|"
                             r"官方的?吗|能信吗|要不要点|能不能点|能点吗")
MESSAGE_OR_VISIT = re.compile(r"短信|信息|电话|号码|链接|自称|冒充|上门|来人|【")
# People at the door in the utility's name asking for money: a tip-off (IMPERSONATION's part of it).
DOOR_IMPOSTOR = re.compile(r"是不是你们(的人|派的|派来的|单位的)|(自称|说是|说他们是|说自己是)[^，,。]{0,3}(供电|电力|电网)"
                           r"[^，,。]{0,16}(收|要|交)[^，,。]{0,8}(钱|费|块)")
# After the warning: "我已经点进去了 还没填卡号 要紧吗", "填了卡号怎么办".
ACTED_ON_IT = re.compile(r"点(进去|开|了)|打开了|填了|输了|输入了|卡号|验证码|转了|付了|扫了|被骗|上当")


def asks_if_genuine(text: str) -> bool:
    """Whether the customer asks if a message, call or visit in the utility's name is real (people at
    the door asking for money are a tip-off: DOOR_IMPOSTOR)."""
    if DOOR_IMPOSTOR.search(text):
        return False
    if METER_OR_BILL.search(text) and SCAM_BAIT.search(text) and ASKS_IF_GENUINE.search(text):
        # "收到个短信说我家电表要换新的 让我点链接预约 这是不是骗子啊": the utility's business, a
        # link, and the doubt, though no name of ours is said.
        return True
    return bool(CLAIMS_UTILITY.search(text) and (
        (SCAM_BAIT.search(text) and (ASKS_IF_GENUINE.search(text) or "【" in text))
        or (ASKS_IF_GENUINE.search(text) and MESSAGE_OR_VISIT.search(text))))


METER_OR_BILL = re.compile(r"电表|换表|电费|电能表")


def scam_answer(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """A message or call in the utility's name asked about, whatever NLU made of it (a bill, a
    complaint, nothing): how to tell it is a fraud and what to do, before any form goes on. What the
    customer did with it, right after that answer, gets what to do now. (Likewise a follow-up to
    "your payment is not credited yet", which NLU hears as anything.)"""
    text = latest_text(tracker)
    if text.startswith("/"):
        return None
    if asks_if_genuine(text):
        response = "utter_scam_warning"
    elif "utter_scam_warning" in bot_responses_within(tracker, 2) and ACTED_ON_IT.search(text):
        response = "utter_scam_acted_on"
    elif "utter_payment_not_shown_on_bill" in bot_responses_within(tracker, 1) \
            and PAYMENT_FOLLOW_UP.search(text) and not re.search(r"投诉|举报|人工|转接|真人", text):
        # "那要多久才能到账啊 不会给我停电吧", "就半小时前交的 181.07 截图都有" right after the
        # payment was found not credited yet (NLU: the bill again, a complaint): how long, what
        # then; not the same bill word for word, not a complaint filed.
        response = "utter_payment_delay_followup"
    else:
        return None
    dispatcher.utter_message(response=response)
    return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]


# After "not credited yet": how long, whether the power or a late fee follows, the proof of payment.
PAYMENT_FOLLOW_UP = re.compile(r"多久|多长时间|几天|什么时候|啥时候|到账|停电|停我|断电|违约金|滞纳金|截图|凭证|单号|一分不差|"
                               r"(刚|已经|都|明明)[^，,。？?]{0,6}(交|缴|付)")


class BaseFormValidation:
    """Mixed into every FormValidationAction.

    It listens before it stores: a message that is not a value for the slot asked for
    ("不用修了", "等等", "能不能快点", "推上去又跳", "不对，地址是…", a 户号 at the phone
    question) is handled as what it is, and a resumed form clears `paused_form`."""

    if TYPE_CHECKING:  # FormValidationAction's, which every user of the mixin is
        def form_name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        proved: List[EventType] = []
        scam = scam_answer(dispatcher, tracker)
        if scam is not None:
            return scam
        if tracker.get_slot("requested_slot") == "contact_phone" and find_mobile(latest_text(tracker)) \
                and any(CALLBACK_OPENED in text for text in bot_texts_within(tracker, 2)):
            # "我电话138… 不要透露我的名字" right after the closed desk opened a callback in the
            # middle of a tip-off: the one number serves the callback and the tip-off.
            await complete_callback(dispatcher, tracker, find_mobile(latest_text(tracker)) or "")
        if tracker.get_slot("requested_slot") is None and not self._resumed(tracker):
            from actions.menu import other_utility_response  # menu imports this module

            await withdraw_callback_on_stop(dispatcher, tracker)

            other = other_utility_response(latest_text(tracker))
            if other:
                # "燃气灶打不着火了 你们能派个人来看看吗", whatever form NLU opened: who can help.
                dispatcher.utter_message(response=other)
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
            text = latest_text(tracker)
            if self.form_name() in ("application_form", "fault_form") \
                    and asks_progress_of_earlier(text):  # type: ignore[attr-defined]
                # "我上个月报的充电桩 批下来了没有": where that one stands, not a new application.
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("progress_form")]
            if self.form_name() in ("application_form", "outage_form") \
                    and makes_a_suggestion(text):  # type: ignore[attr-defined]
                # "你们应该在老小区多装点公共充电桩…希望你们考虑一下", "停电通知能不能提前几天发短信":
                # a suggestion to the utility, not an application or an outage question.
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_type", "suggestion"),
                        SlotSet("feedback_content", text[:1000]), FollowupAction("feedback_form")]
            phone = find_mobile(text)
            from actions.applications import business_from_text  # applications imports this module
            from actions.menu import named_request
            if self.form_name() in ("bill_form", "outage_form") and WAIT_PREFIX.search(text) \
                    and not named_request(text) and not re.search(r"\d{4}", text):  # type: ignore[attr-defined]
                # "哦等等 我先看看是不是我家空开的问题" (heard as a bill query): the customer goes to
                # look; nothing is asked of them meanwhile.
                dispatcher.utter_message(response="utter_wait_ok")
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]

            if phone and (CALL_ME_ON_IT.search(text) or not (named_request(text) or business_from_text(text)
                                                           or wants_to_complain(text))) \
                    and await complete_callback(dispatcher, tracker, phone):
                # "我现在的电话是138… 让人打过来" after the desk-closed notice, whatever form NLU
                # opened: the number for the callback already opened.
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
            if phone and ticket_announced_last_turn(tracker):
                corrected = await correct_just_filed_phone(dispatcher, tracker)
                if corrected is not None:
                    # "想了想还是留个电话吧 … 177…" right after a filing (NLU heard a new request):
                    # the number for the ticket just registered; no form starts.
                    return corrected + [SlotSet("requested_slot", None), ActiveLoop(None),
                                        FollowupAction("action_listen")]
            if await answered_on_the_business_just_answered(dispatcher, tracker, domain):
                # "要不要交钱啊 大概多久能通上电" right after the new connection's documents (NLU
                # heard an outage question): that business's fee and time.
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
        if tracker.get_slot("requested_slot") is None:
            apologise_if_angry(dispatcher, tracker)
            offered = identity_offered(tracker) or await self.mobile_given_with_account(dispatcher, tracker, domain)
            if offered:
                # "…上个月的电费…户号3201000016手机尾号0945": the identity in the opening message
                # is checked at once; the rest of the message is read as usual.
                proved = [e for e in await self.verify_offered(offered, dispatcher, tracker, domain)
                          if e.get("name") != "requested_slot"]
            reused = phone_given_earlier(tracker)
            if reused and self.form_name() in PHONE_REUSING_FORMS and not tracker.get_slot("contact_phone") \
                    and not tracker.get_slot("identity_verified") and not find_mobile(latest_text(tracker)):  # type: ignore[attr-defined]
                # "另外再表扬一下…" after a tip-off with the phone left: the same customer, the
                # same number; not asked again (a new one typed later replaces it).
                dispatcher.utter_message(response="utter_phone_reused", masked_phone=mask_phone(reused))
                tracker.slots["contact_phone"] = reused
                proved.append(SlotSet("contact_phone", reused))
        events = await self.listen(dispatcher, tracker, domain)
        if events is not None:
            events = proved + events
        if events is None:
            before = {name: tracker.slots.get(name) for name in COMPANION_SLOTS}
            events = await super().run(dispatcher, tracker, domain)  # type: ignore[misc]
            # The SDK returns only the form's own slots; an address taken from an account
            # brings the account along (the validation of another slot may have dropped it).
            named = {e.get("name") for e in events if e.get("event") == "slot"}
            events += [SlotSet(name, tracker.slots.get(name)) for name in COMPANION_SLOTS
                       if name not in named and tracker.slots.get(name) != before[name]]
            events = [e for e in proved if e.get("name") not in named] + events
        if tracker.get_slot("paused_form") == self.form_name():  # type: ignore[attr-defined]
            events.append(SlotSet("paused_form", None))
        return events

    def _resumed(self, tracker: Tracker) -> bool:
        return tracker.get_slot("paused_form") == self.form_name()

    async def form_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: DomainDict) -> List[Text]:
        return await self.required_slots(  # type: ignore[attr-defined]
            self.domain_slots(domain), dispatcher, tracker, domain)  # type: ignore[attr-defined]

    async def listen(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: DomainDict) -> Optional[List[EventType]]:
        """Events for a message that is not the value asked for; None to go on as usual."""
        slot = tracker.get_slot("requested_slot")
        if (tracker.active_loop or {}).get("name") != self.form_name():  # type: ignore[attr-defined]
            return None
        text = latest_text(tracker)
        offered = identity_offered(tracker) or last4_at_phone_question(tracker, slot) \
            or await self.mobile_with_account(slot, dispatcher, tracker, domain)
        if offered and slot:
            return await self.verify_offered(offered, dispatcher, tracker, domain)
        if not slot and self.form_name() != "fault_form" and not tracker.get_slot("hazard"):  # type: ignore[attr-defined]
            from actions.faults import find_hazards, safety_response  # faults imports this module

            safety = safety_response(text)
            if safety in ("utter_safety_shock", "utter_safety_fire") and find_hazards(text):
                # "救命 有人被电到了 工地上有人碰到电线倒在地上了" read as a tip-off: a life in
                # danger comes first, whatever form NLU opened: what to do now, then an urgent repair.
                dispatcher.utter_message(response=safety)
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("hazard", True),
                        SlotSet("fault_description", text[:500])] + reset_form_slots(self.form_name()) + [  # type: ignore[attr-defined]
                    FollowupAction("fault_form")]
        if not slot and self.form_name() == "feedback_form" \
                and tracker.get_slot("feedback_type") == "suggestion":  # type: ignore[attr-defined]
            from actions.faq import last_faq_topic
            from actions.handoff import is_question  # handoff imports this module

            if is_question(text) and last_faq_topic(tracker, within_turns=1):
                # "老号已经停了 收不到验证码 还能在app上改吗" right after the answer on changing
                # the phone: a question on that answer, no suggestion to file.
                return [SlotSet("requested_slot", None), ActiveLoop(None)] + reset_form_slots("feedback_form") + [
                    FollowupAction("action_answer_faq")]
        if not slot and self.form_name() == "feedback_form" and ARREARS_GRACE.search(text):  # type: ignore[attr-defined]
            # "收到短信说我们茶社欠费要停电 能不能宽限几天" read as a suggestion: the customer's
            # own arrears; the rule is said and the bills shown (after the identity check).
            dispatcher.utter_message(response="utter_arrears_grace")
            verified = bool(tracker.get_slot("identity_verified"))
            return [SlotSet("requested_slot", None), ActiveLoop(None)] + reset_form_slots("feedback_form") + [
                SlotSet("bill_query", None), FollowupAction("action_query_bill" if verified else "bill_form")]
        from actions.faq import answer_topic, asks_power_back_after_paying  # faq imports the forms

        if not slot and self.form_name() != "feedback_form" and (  # type: ignore[attr-defined]
                IMPERSONATION.search(text) or (ILLEGAL_USE.search(text) and not _hazard_named(text))):
            # "说是供电所的 要收什么电表改造费三百块 我觉得是骗子": a tip-off, whatever form the
            # words about fees opened.
            return [SlotSet("requested_slot", None), ActiveLoop(None)] + reset_form_slots(self.form_name()) + [  # type: ignore[attr-defined]
                SlotSet("feedback_type", "tip_off"), FollowupAction("feedback_form")]
        # "我刚才用微信把欠的电费交了 什么时候能来电啊": the rule (24 hours after payment) is no
        # personal data, so it is said at once, whatever the form is asking.
        asks_for_reconnection = asks_power_back_after_paying(text)
        if not slot:
            if asks_for_reconnection and self.form_name() == "bill_form" \
                    and tracker.get_slot("bill_query") != "reconnect":  # type: ignore[attr-defined]
                # (bill_query "reconnect": the FAQ answer just said the rule, then opened this form)
                # At the bill query's opening the bill is checked after the identity (the rest
                # of the message, a 户号 say, is read as usual).
                answer_topic("reconnection", dispatcher, tracker, domain)
            if ASKS_FOR_A_PERSON.search(text):
                # "停电两天了 95598也打不通 我要转人工": the message that opened the form asks for a
                # person (NLU heard the complaint); the hand-off ends the form and tells staff why.
                return [SlotSet("requested_slot", None), FollowupAction("action_handoff")]
            return None
        heard_request_human = ((tracker.latest_message or {}).get("intent") or {}).get("name") == "request_human"
        from actions.handoff import names_a_person  # handoff imports this module

        if heard_request_human and not STOP_WORDS.search(text) and names_a_person(text) \
                and not phone_answers_the_question(tracker, text) or HUMAN_WORDS.search(text):
            # ("我让小孩都别过去了" heard as a wish for a person asks for nobody: read on as what it is;
            # sending it to the hand-off would send it straight back here.)
            # "算了 我要转人工": the customer wants a person, not just out of the form; the
            # hand-off action ends the form itself. ("好 我先跟领导汇报一下 定下来再来申请", heard
            # as a wish for a person, only stops the form.)
            return [SlotSet(slot, None), SlotSet("requested_slot", None), FollowupAction("action_handoff")]
        both = await self.address_and_phone_corrected(slot, text, dispatcher, tracker, domain)
        if both:
            return both
        intent, _ = latest_intent(tracker)
        if self.form_name() == "fault_form":  # type: ignore[attr-defined]
            complaint = complaint_during_repair(dispatcher, tracker, slot, text)
            if complaint is not None:
                return complaint
        if self.form_name() not in ("feedback_form", "fault_form") and intent in ("complain", "tip_off") \
                and wants_to_complain(text):  # type: ignore[attr-defined]
            # "查不到？那我要投诉你们 报了修没人管" at a progress query's identity question: the
            # customer now complains; this query ends, the complaint is taken in these words.
            return [SlotSet(slot, None), SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("paused_form", None)] \
                + reset_form_slots(self.form_name()) + [  # type: ignore[attr-defined]
                    SlotSet("feedback_type", "tip_off" if intent == "tip_off" else "complaint"),
                    # "我要投诉" right after the story: the story is what is complained of.
                    SlotSet("feedback_content", complaint_with_story(tracker, text)),
                    FollowupAction("feedback_form")]
        if asks_for_reconnection and answer_topic("reconnection", dispatcher, tracker, domain):
            # "欠多少 我现在就交 交完多久能来电": the question asked stands.
            return [SlotSet(slot, None), SlotSet("requested_slot", slot)]
        named = NAME_ONLY.fullmatch(text.strip()) if slot == "phone_last4" and not re.search(r"\d", text) else None
        if named:
            # "我叫宋思远": a name is on every bill and door, so it proves nothing.
            from actions.applications import looks_like_person  # applications imports this module

            if any(looks_like_person(token) for token in named.groups() if token):
                dispatcher.utter_message(response="utter_name_is_no_proof")
                return [SlotSet(slot, None), SlotSet("requested_slot", slot)]
        if self.form_name() in INFORMATION_FORMS and SEND_A_CREW.search(text) or (  # type: ignore[attr-defined]
                self.form_name() == "feedback_form" and SEND_A_CREW.search(text)  # type: ignore[attr-defined]
                and GIVES_UP_THE_COMPLAINT.search(text)):
            # "算了算了 投诉也没用 你们先派人来修吧" in a complaint: the same switch.
            # "我马上交 但是整栋楼都黑了 肯定不是欠费的事 你们派人来看看" at the identity question:
            # the customer now wants a repair; this query ends, nothing of it is kept.
            dispatcher.utter_message(response="utter_switch_to_repair")
            return [SlotSet(slot, None), SlotSet("requested_slot", None), ActiveLoop(None),
                    SlotSet("paused_form", None)] + reset_form_slots(self.form_name()) + [  # type: ignore[attr-defined]
                FollowupAction("fault_form")]
        if self.form_name() == "progress_form" and APPLY_AGAIN.search(text):  # type: ignore[attr-defined]
            from actions.applications import business_from_text, business_said_before  # applications imports this module

            business = business_from_text(text) or business_said_before(tracker, turns=4)
            dispatcher.utter_message(response="utter_switch_to_application")
            return [SlotSet(slot, None), SlotSet("requested_slot", None), ActiveLoop(None),
                    SlotSet("paused_form", None)] + reset_form_slots("progress_form") + (
                [SlotSet("business_type", business)] if business else []) + [FollowupAction("application_form")]
        kind = non_value_kind(tracker, slot)
        if kind is None:
            other = await self.value_for_another_slot(slot, dispatcher, tracker, domain)
            if other is not None:
                return other
        if kind is None:
            return None
        if kind in ("wait", "question", "plea") and intent in DIGRESSION_INTENTS \
                and not (self.form_name() == "fault_form" and SEND_A_CREW.search(text)) \
                and FORM_OF_INTENT.get(intent) != self.form_name() \
                and (kind != "question" or ASKS_TO_DO.search(text)) \
                and is_digression(tracker, slot):  # type: ignore[attr-defined]
            # "等下 是不是我没交电费啊 先帮我查查": a new request; the form pauses for it (its rule).
            return None
        text = text.strip()
        if kind == "stop" and self.form_name() == "feedback_form" \
                and wants_to_complain(said_after_stop(text) or text):  # type: ignore[attr-defined]
            # "电刚才自己来了 不用修了 但这事我要投诉 不是催": the repair is no longer needed, the
            # complaint is what is being made; kept with these words, the question stands.
            held = str(tracker.get_slot("feedback_content") or "")
            dispatcher.utter_message(response="utter_story_noted")
            return [SlotSet("feedback_content", (f"{held}；{text}" if held else text)[:1000]),
                    SlotSet(slot, None), SlotSet("requested_slot", slot)]
        if kind == "stop":
            # The loop ends here (no question is asked again); the cancel action says so.
            return [SlotSet(slot, None), SlotSet("requested_slot", None), FollowupAction("action_cancel_form")]
        slots = await self.form_slots(dispatcher, tracker, domain)
        result: Dict[Text, Any] = {}
        if kind == "correction":
            target = correction_target(tracker)
            if target == "phone_last4" and "phone_last4" not in slots and "contact_phone" in slots:
                target = "contact_phone"
            value = corrected_value(tracker, target) if target else None
            if target not in slots:
                return None
            if value is None:
                dispatcher.utter_message(response="utter_ask_corrected", field=field_label(target))
                result = {target: None, "requested_slot": target}
            else:
                validate = getattr(self, f"validate_{target}", None)
                checked = await validate(value, dispatcher, tracker, domain) if validate else {target: value}
                result = dict(checked)
                if result.get(target):
                    shown = result[target]
                    if target in ("contact_phone",):
                        shown = mask_phone(shown)
                    elif target in ("account_no",):
                        shown = f"尾号{str(shown)[-4:]}"
                    elif target == "address" and result.get("address_from_account"):
                        shown = "登记地址"
                    dispatcher.utter_message(response="utter_corrected", field=field_label(target),
                                             value=echoed(shown))
        elif kind == "account":
            digits = digits_only(text)
            if "account_no" in slots:
                validate = getattr(self, "validate_account_no")
                result = dict(await validate(digits, dispatcher, tracker, domain))
            else:
                result = await self.account_at_phone_question(digits, dispatcher, tracker)
        elif kind == "wait":
            dispatcher.utter_message(response="utter_wait_ok")
            result = {slot: None}
        elif kind == "courtesy":
            dispatcher.utter_message(response="utter_still_need", field=field_label(slot))
            result = {slot: None}
        elif kind == "plea":
            dispatcher.utter_message(response="utter_empathy_hurry")
            result = {slot: None}
        elif kind == "story":
            narrative = next((name for name in ("fault_description", "feedback_content") if name in slots), None)
            held = str(tracker.get_slot(narrative) or "") if narrative else ""
            if narrative and text not in held:
                # "空开我看了没跳 楼上楼下好像也没电": more of the story, kept with it; the question stands.
                dispatcher.utter_message(response="utter_story_noted")
                limit = 500 if narrative == "fault_description" else 1000
                result = {narrative: (f"{held}；{text}" if held else text)[:limit], slot: None}
            else:
                dispatcher.utter_message(response="utter_still_need", field=field_label(slot))
                result = {slot: None}
        elif kind == "question":
            intent, confidence = latest_intent(tracker)
            from actions.faq import answer_business_topics  # faq imports the forms' modules

            on_the_business = intent == "faq" and bool(tracker.get_slot("business_type")) and answer_business_topics(
                text, tracker.get_slot("business_type"), dispatcher, tracker, domain)
            if intent in ASIDE_INTENTS and confidence >= 0.5 and not on_the_business:
                # The question is answered by its rule, then the form goes on. (A question on the
                # business being applied for is answered here: "挪表要钱吗 大概几天" names the
                # business again, Rasa fills that slot from it and the form would not give way.)
                return None
            if slot == "account_no" and NO_ACCOUNT_NO.search(text):
                # "户号是什么东西啊 我不晓得": where to find it, and the way without it.
                dispatcher.utter_message(response="utter_account_no_help")
                answered = True
            else:
                answered = on_the_business or answer_inline(dispatcher, tracker, domain)  # (said once)
            if self.form_name() == "bill_form" and slot in ("account_no", "phone_last4") \
                    and ASKS_BILL_FIGURES.search(text):  # type: ignore[attr-defined]
                # "欠多少 咋交" / "用了多少度啊" before the identity is proved: it is what the form
                # is about to show, once proved.
                dispatcher.utter_message(response="utter_bill_after_identity")
                answered = True
            if not answered:
                dispatcher.utter_message(response="utter_question_unanswered_in_form", field=field_label(slot))
            result = {slot: None}
        events: List[EventType] = [SlotSet(k, v) for k, v in result.items()]
        if not any(e["name"] != "requested_slot" for e in events):
            events.append(SlotSet(slot, None))  # something was understood: the form asks again
        tracker.add_slots(events)
        if not any(e["name"] == "requested_slot" for e in events):
            missing = next((name for name in await self.form_slots(dispatcher, tracker, domain)
                            if tracker.slots.get(name) is None), None)
            events.append(SlotSet("requested_slot", missing))
        return events

    async def value_for_another_slot(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> Optional[List[EventType]]:
        """"电话15192823606" at another question: the phone is kept and the question asked again."""
        text = latest_text(tracker).strip()
        if slot in ("contact_phone", "phone_last4", "account_no", "feedback_content", "fault_description",
                    "repair_area_type"):  # the area question gives way by itself (actions/faults.py)
            return None
        slots = await self.form_slots(dispatcher, tracker, domain)
        mobile = find_mobile(text)
        rest = re.sub(r"[\d\s\-，,。:：]|电话|手机|号码|联系|我的|是|就|打", "", text)
        if mobile and "contact_phone" in slots and not tracker.get_slot("contact_phone") \
                and len(digits_only(text)) == 11 and len(rest) <= 2:
            validate = getattr(self, "validate_contact_phone", None)
            result = dict(await validate(mobile, dispatcher, tracker, domain)) if validate else {"contact_phone": mobile}
            if result.get("contact_phone"):
                events: List[EventType] = [SlotSet(k, v) for k, v in result.items()]
                return events + [SlotSet("requested_slot", slot)]
        return None

    async def address_and_phone_corrected(self, slot: str, text: str, dispatcher: CollectingDispatcher,
                                          tracker: Tracker, domain: DomainDict) -> Optional[List[EventType]]:
        """"不对不对打错了 是27栋2401室 不是21栋 电话199…" at the phone question: the address just
        given is corrected and the phone taken, both from the one message."""
        mobile = find_mobile(text)
        held = tracker.get_slot("address")
        if slot != "contact_phone" or not mobile or not held or not CORRECTION_WORDS.search(text) \
                or not _FRAGMENT.search(text.replace(mobile, " ")):
            return None
        fixed = corrected_value(tracker, "address")
        validate = getattr(self, "validate_contact_phone", None)
        if not fixed or fixed == held or validate is None:
            return None
        dispatcher.utter_message(response="utter_corrected", field=field_label("address"), value=echoed(fixed))
        result = {"address": fixed, **dict(await validate(mobile, dispatcher, tracker, domain))}
        if self.form_name() == "fault_form":  # type: ignore[attr-defined]
            result["address_checked"] = fixed  # the same place: no second outage lookup
        events: List[EventType] = [SlotSet(k, v) for k, v in result.items()]
        tracker.add_slots(events)
        missing = next((name for name in await self.form_slots(dispatcher, tracker, domain)
                        if tracker.slots.get(name) is None), None)
        return events + [SlotSet("requested_slot", missing)]

    async def mobile_with_account(self, slot: Optional[str], dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Optional[tuple]:
        """"户号3201000021，电话13800000330" in a form that checks identity: the whole registered
        number is offered as the check (its last four digits). Only where the identity is asked
        for: in a repair the same words give a contact phone, not a check that could fail."""
        if slot not in IDENTITY_SLOTS or tracker.get_slot("identity_locked"):
            return None
        text = latest_text(tracker).translate(_FULLWIDTH)
        mobile = find_mobile(text)
        accounts = account_numbers_in(text.replace(mobile or "", " "))
        if not mobile or not accounts:
            return None
        if "phone_last4" not in await self.form_slots(dispatcher, tracker, domain):
            return None
        account_no = accounts[-1]
        if tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no") == account_no:
            return None
        return account_no, mobile[-4:]

    async def mobile_given_with_account(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> Optional[tuple]:
        """"上个月电费多少 户号3201000017 手机138…", or "户号3201000019 手机159…" given for a
        repair and then the bill asked for: the whole number typed with that 户号 is the check,
        not asked again (a number that is not the registered one is not one of the customer's
        three tries; the gateway's throttle counts it as any check)."""
        if tracker.get_slot("identity_locked") or tracker.get_slot("phone_last4"):
            return None
        slot_account = digits_only(tracker.get_slot("account_no"))
        mobile, account_no = "", ""
        for text in [latest_text(tracker), *earlier_customer_texts(tracker, 6)]:
            text = text.translate(_FULLWIDTH)
            mobile = find_mobile(text) or ""
            accounts = account_numbers_in(text.replace(mobile, " ")) if mobile else []
            if accounts and (len(slot_account) != 10 or slot_account in accounts):
                account_no = slot_account if slot_account in accounts else accounts[-1]
                break
        if not account_no and len(slot_account) == 10:
            # "户号3201000026 蒋红霞", then "手机18738585147" for the closing's contact, then "还欠费啊？
            # 欠多少": the whole number typed a message after the 户号 is the check too.
            mobile = next((found for text in [latest_text(tracker), *earlier_customer_texts(tracker, 6)]
                           for found in [find_mobile(text.translate(_FULLWIDTH))] if found), "")
            account_no = slot_account if mobile else ""
        if not account_no:
            return None
        if tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no") == account_no:
            return None
        if "phone_last4" not in await self.form_slots(dispatcher, tracker, domain):
            return None
        try:
            # Given as a contact number it need not be the registered one: when it does not prove
            # the account, the usual question follows.
            result = await api_client.verify_identity(account_no, mobile[-4:], **asker(tracker))
        except api_client.ApiError:
            return None
        if not result.get("verified"):
            return None
        tracker.offered_last4 = mobile[-4:]  # type: ignore[attr-defined]
        return account_no, mobile[-4:]

    async def verify_offered(self, offered: tuple, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> List[EventType]:
        """"户号3201000021 尾号0330" said in any form: the identity check is done at once, and the
        form goes on with what it still needs (a verified customer leaves no phone number)."""
        account_no, last4 = offered
        tracker.slots["account_no"] = account_no
        events: Dict[Text, Any] = {"account_no": account_no}
        # The forms that offer an identity are IdentityValidation forms too (a mixin's call).
        events.update(await IdentityValidation.validate_phone_last4(
            self, last4, dispatcher, tracker, domain))  # type: ignore[arg-type]
        if events.get("identity_verified"):
            events["phone_last4"] = last4
            if tracker.get_slot("requested_slot") == "contact_phone":
                events["contact_phone"] = None
            registered = events.get("customer_address") or tracker.slots.get("customer_address")
            if tracker.get_slot("requested_slot") == "address" and self.form_name() == "outage_form" \
                    and registered:  # type: ignore[attr-defined]
                # "户号3201000030 电话尾号3420" at the outage question's address: the account's place.
                dispatcher.utter_message(response="utter_using_registered_address")
                events.update(address=registered, address_from_account=True)
        result = [SlotSet(k, v) for k, v in events.items()]
        tracker.add_slots(result)
        missing = next((name for name in await self.form_slots(dispatcher, tracker, domain)
                        if tracker.slots.get(name) is None), None)
        return result + [SlotSet("requested_slot", missing)]

    async def account_at_phone_question(self, account_no: str, dispatcher: CollectingDispatcher,
                                        tracker: Tracker) -> Dict[Text, Any]:
        """A 户号 typed where a phone number was asked: kept as the 户号, the phone asked again."""
        try:
            customer = await api_client.get_account(account_no)
        except api_client.NotFound:
            dispatcher.utter_message(response="utter_account_not_found_phone", account_no=account_no)
            return {"contact_phone": None}
        except api_client.ApiError:
            customer = {}
        from actions.applications import premises_unknown  # applications imports this module

        result: Dict[Text, Any] = {"contact_phone": None, "account_no": account_no}
        if customer and PREVIOUS_HOLDER.search(latest_text(tracker)):
            # "户号是3201000016 原房东叫吴思远" (a buyer's name transfer, a tenant): the registered
            # phone is the previous holder's; the account is kept and the customer's own phone asked.
            dispatcher.utter_message(response="utter_account_previous_holder_phone", tail=account_no[-4:])
        elif customer and self.form_name() == "application_form" \
                and premises_unknown(tracker):  # type: ignore[attr-defined]
            # "户号3201000007 宋思远" at the phone question of a tariff change: the account answers
            # where as well as whom to call (its holder, its registered address and phone).
            dispatcher.utter_message(response="utter_account_registered_premises", tail=account_no[-4:])
            result.update(contact_phone="registered", address="registered")
            if not tracker.get_slot("applicant_name"):
                result["applicant_name"] = "registered"
        elif customer and self.form_name() in CALLS_REGISTERED_PHONE:  # type: ignore[attr-defined]
            # The request is followed up on the account's registered phone (the gateway fills it
            # in; nothing of it is shown); a number typed later replaces it.
            dispatcher.utter_message(response="utter_account_registered_phone", tail=account_no[-4:])
            result["contact_phone"] = "registered"
        else:
            dispatcher.utter_message(response="utter_account_noted_phone", tail=account_no[-4:])
        if customer.get("area_type") and not tracker.get_slot("identity_verified"):
            result["area_type"] = customer.get("area_type")
        return result

# Forms that only tell (a bill, an outage, a progress); a repair asked for inside one ends it.
INFORMATION_FORMS = ("bill_form", "outage_form", "progress_form")
# "你们派人来看看", "赶紧来修", "帮我报修": a crew asked for.
# ("报修的时候留的电话…": the repair told of is the earlier one, not a new request.)
SEND_A_CREW = re.compile(r"派(个)?人|来人|来修|上门(看|修)|过来看看|来看看|报修(?!的时候|时|那会|那天|留的|的那|单)|帮我修|抢修|(再|重新)(给我|帮我)?报(一遍|一次|一下|个修|修)")
# "查不到？那你重新帮我申请一个吧" at a progress query: the request is made again.
APPLY_AGAIN = re.compile(r"(重新|再)(给我|帮我|替我)?(申请|提交|办|报装)(一个|一下|一次|一遍)?")

# "算了 投诉也没用", "不投诉了", "先": a complaint given up for what the customer needs now.
GIVES_UP_THE_COMPLAINT = re.compile(r"算了|投诉也没用|投诉有什么用|不投诉了|先不投诉|投诉的事(以后|回头|再说)|先派|先来|你们先")

# Forms whose tickets can be followed up on the registered phone of the account said.
CALLS_REGISTERED_PHONE = ("fault_form", "feedback_form", "application_form")

# What a form may learn about the customer's identity while asking something else (户号 and the
# phone's last four digits given for a contact); rasa_sdk keeps only required slots.
IDENTITY_RESULT_SLOTS = ("account_no", "phone_last4", "identity_verified", "verified_account_no",
                         "customer_name", "customer_address", "area_type", "customer_type")


class KeepsIdentitySlots:
    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> List[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)  # type: ignore[misc]
        names = {event.get("name") for event in events}
        for name, value in tracker.slots_to_validate().items():
            if name in IDENTITY_RESULT_SLOTS and name not in names:
                events.append(SlotSet(name, value))
        return events

