"""Faults and outages: the address, known outages first, hazards at once, then a repair ticket."""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.responses import echoed
from actions.applications import REGISTERED, REGISTERED_WORDS, digits_to_ascii, looks_like_person, stated_account
from actions.common import (
    as_nlu_reads,
    FIXED_NOW,
    bot_responses_within, bot_texts_within, note_on_ticket, ticket_announced_last_turn,
    complaint_during_repair,
    account_numbers_in,
    CORRECTION_WORDS,
    FIELD_LABELS,
    ILLEGAL_USE,
    SEND_A_CREW,
    corrected_value,
    FAULT_STORY_WORDS,
    only_an_address,
    QUESTION_MARKS,
    DONE_STATUSES,
    BaseFormValidation,
    asker,
    channel_of,
    digits_only,
    entity_values,
    finish_service,
    find_mobile,
    format_time,
    free_text_answer,
    identity_blocked_reply,
    is_digression,
    latest_intent,
    latest_text,
    looks_like_address,
    mask_phone,
    now_shanghai,
    opening_text,
    previous_turn,
    recently_in,
    parse_iso,
    VILLAGE_LEVEL,
    add_to_just_filed,
    reassure_after_filing,
    request_key,
    second_request,
    second_request_events,
    reset_form_slots,
    spelled_house_numbers,
    stop_then_request,
    ASKS_TO_DO,
    resolve_inline_correction,
)

# Words that mean danger to life: safety advice at once, urgent priority.
HAZARD_WORDS = (
    "电线落地", "电线掉", "线掉地", "掉在地上", "落在地上", "断线", "线断了", "电线断",
    "冒烟", "冒白烟", "冒黑烟", "冒青烟", "着火", "起火", "失火", "火花", "打火", "冒火", "烧起来", "烧焦", "爆炸", "炸了",
    "触电", "被电", "电到人", "电击", "漏电", "带电", "电线杆倒", "电杆倒", "杆子倒",
    "电线杆歪", "电杆歪", "线杆歪", "杆子歪", "电线垂", "线垂", "垂下来", "耷拉", "碰到头", "变压器响",
) + ("救命", "电晕", "电倒", "电着了", "电到了", "触了电", "火灾")

# "楼下那个变压器嗡嗡响", "路边电线杆歪了": the utility's equipment out of doors, not the customer's home.
AWAY_FROM_HOME = re.compile(r"变压器|箱变|电线杆|电杆|线杆|高压线|配电房|大街上|村口|小区门口")

# "变压器嗡嗡响", "变压器声音很大": a transformer making noise.
NOISY_TRANSFORMER = re.compile(r"变压器.{0,8}(响|嗡|异响|声音|噪音|叫|冒油|漏油)")

# "配电箱整个泡水里了": electrical equipment under water.
FLOODED_EQUIPMENT = re.compile(r"(配电箱|配电房|电箱|电表箱|表箱|变压器|开关箱|配电柜|插座|电缆).{0,12}(泡水|泡在水|进水|被淹|淹了|水淹|淹没|浸水|泡着)|"
                               r"(泡水|进水|被淹|淹了|水淹|淹没|浸水).{0,8}(配电箱|配电房|电箱|电表箱|表箱|变压器|开关箱|配电柜)|"
                               # "电表箱里全是水 还滋滋响": water in it, or arcing sounds from it.
                               r"(配电箱|配电房|电箱|电表箱|表箱|开关箱|配电柜)里?.{0,4}(全是水|都是水|进了水|有水|积水|灌水)|"
                               r"(配电箱|电箱|电表箱|表箱|开关箱|配电柜|电线|插座|开关|电表).{0,8}(滋滋|嗞嗞|噼里啪啦|噼啪|啪啪)")

# "大树刮歪了 压在电线上": a tree on a live line can bring it down at any moment.
TREE_ON_LINE = re.compile(r"树.{0,10}(压|倒|靠|搭|挂|砸|碰|歪|刮|吹)(在|到)?.{0,4}(电线|线上|线路|高压线)|"
                          r"(电线|线路|高压线).{0,6}(被)?树(枝|杈)?.{0,4}(压|砸|挂|碰)|电线.{0,4}(压弯|压断)")

# Which danger a message names decides what the first line says to do now.
SHOCK_WORDS = re.compile(r"触电|被电|电到人|电到了|电着了|电击|电晕|(?<![停断来没有])电倒(?!是)|触了电|被电打")  # (停电倒是快: no one fell)
FIRE_WORDS = re.compile(r"着火|起火|失火|烧起来|火灾|冒烟|烧焦|爆炸|炸了|冒火(?![花星])")
# Sparks, arcing or leakage at a socket, switch, appliance or meter box in the home: cut the power
# at the main switch, hands off — not the fallen-wire text's "keep 8 m away".
SPARK_WORDS = re.compile(r"火花|打火|冒火|漏电|带电|(配电箱|电箱|电表箱|表箱|开关箱|配电柜|电线|插座|开关|电表).{0,8}(滋滋|嗞嗞|噼里啪啦|噼啪|啪啪)")
WATER_WORDS = re.compile(r"水|淹")
WIRE_DOWN_WORDS = re.compile(r"电线.{0,3}(掉|落|断|垂|耷拉)|(掉|落)(在)?地上|断线|线断|电线杆|电杆|杆子(倒|歪)")


# "师傅上门修要收钱吗", "修一下多少钱", "上门费怎么算": what a repair costs.
ASKS_REPAIR_FEE = re.compile(r"(修|上门|来人|师傅|抢修)[^，,。？?]{0,8}(收钱|收费|要钱|多少钱|花钱|给钱|免费|收不收)|上门费|维修费|抢修费")
# "烧坏了一台切割机", "冰箱坏了 能赔吗": damage done by the supply.
DAMAGED = re.compile(r"烧坏|烧了|坏了|损坏|赔")
# "燃气灶打不着火", "点不着火": no fire at all.
NO_IGNITION = re.compile(r"(打|点|烧)(不|没)着火?|着不了火|打不上火|点不上火")
# "万一着火全楼遭殃", "怕引起火灾", "迟早要出事": a danger feared, not one happening (a tip-off on
# illegal wiring says so); what is happening now ("插座冒火花 会不会着火") is still read.
# ("短路导致起火了" is a fire: causes are not fears.)
FEARED_DANGER = re.compile(r"(万一|要是|如果|假如|一旦|怕|害怕|担心|容易|可能会?|迟早|早晚|小心)"
                           r"[^，,。！!？?\s]{0,4}(着火|起火|失火|火灾|爆炸|触电|被电)|(着火|起火|火灾|触电)(的)?隐患")


def without_feared_dangers(text: str) -> str:
    return FEARED_DANGER.sub("", NO_IGNITION.sub("", text))


def safety_response(text: Optional[str]) -> Optional[str]:
    """The response whose first line says what to do now for the danger the text names."""
    text = without_feared_dangers(text or "")
    if SHOCK_WORDS.search(text):
        return "utter_safety_shock"
    if FLOODED_EQUIPMENT.search(text) and WATER_WORDS.search(text):
        return "utter_safety_flood"
    if WIRE_DOWN_WORDS.search(text) or TREE_ON_LINE.search(text):
        return "utter_safety_wire"  # sparks from a fallen wire or a tree on a line: keep away first
    if FIRE_WORDS.search(text):
        return "utter_safety_fire"
    if SPARK_WORDS.search(text) and not AWAY_FROM_HOME.search(text):
        return "utter_safety_sparks"
    if find_hazards(text):
        return "utter_safety_wire"
    return None


# "欠费停电，我刚交了钱，多久能来电": arrears paid, power not back — a reconnection, not a fault.
ARREARS_WORDS = re.compile(r"欠费|欠钱|欠了|交掉|缴掉|没交电费|没缴电费|忘了交|忘交|忘缴|交电费|缴电费|交费|缴费|交钱|交了钱|"
                           r"补交|补缴|充值|充了|充钱|续费|余额不足|没钱了|欠缴")
POWER_BACK_WORDS = re.compile(r"停电|停了电|断电|没电|来电|复电|送电|恢复供电|恢复用电|通电|拉闸|掐电|停了")


def is_reconnection(text: Optional[str]) -> bool:
    text = text or ""
    return bool(ARREARS_WORDS.search(text) and POWER_BACK_WORDS.search(text))
OPENING_STREET = re.compile(r"(?:我家在|我在|在)?([\u4e00-\u9fa5]{2,6}(?:路|街|大道|巷)(?:\d+号)?)(?![灯边口])")
# A street asked about anywhere in a question on outages: "说明天长乐路停电 几点到几点啊".
STREET_BEFORE_OUTAGE = re.compile(r"(路|大街|大道|街|巷)(?:那边|这边|附近|一带|那块|那里)?[^，,。？?\s]{0,6}停(电|不停)")
# Characters that end the words before a street's name ("明天|长乐路", "鼓楼区|湖南路").
BEFORE_A_STREET = set("天说问下的在是了个事边那这到和跟区县镇市里家们去\u3000 ，,。？?！!")


def street_before_outage_words(text: str) -> Optional[str]:
    """The street named right before the outage words of a question, if any: two characters
    before 路 (长乐路), three when the third is not a word's end (龙蟠中路)."""
    text = text or ""
    for match in STREET_BEFORE_OUTAGE.finditer(text):
        end = match.start(1)
        name = text[max(0, end - 2):end]
        if len(name) < 2 or not all("\u4e00" <= ch <= "\u9fa5" for ch in name) or set(name) & BEFORE_A_STREET:
            continue
        if end >= 3 and "\u4e00" <= text[end - 3] <= "\u9fa5" and text[end - 3] not in BEFORE_A_STREET:
            name = text[end - 3] + name
        street = name + match.group(1)
        if not NOT_STREETS.search(street):
            return street
    return None


NOT_STREETS = re.compile(r"马路|街上|大街上|这条|那条|路上|小路")


OUTAGE_KIND = {"planned": "计划停电", "unplanned": "故障停电"}


def find_hazards(text: Optional[str]) -> List[str]:
    text = without_feared_dangers(text or "")
    text = re.sub(r"([停断来没有])电倒", r"\1电 倒", text)  # "你们停电倒是快得很": nobody fell
    found = [word for word in HAZARD_WORDS if word in text]
    for pattern in (FLOODED_EQUIPMENT, NOISY_TRANSFORMER, TREE_ON_LINE):
        match = pattern.search(text)
        if match and match.group(0) not in found:
            found.append(match.group(0))
    return [] if found == ["救命"] else found  # "救命" alone is a way of speaking


# The customer's own words for the area types, when asked (city, countryside, remote hills).
AREA_ANSWERS = (
    ("remote", re.compile(r"偏远|山区|山里|山上|山沟|深山|海岛|林场")),
    ("rural", re.compile(r"乡村|农村|乡下|村里|村子|镇上|乡镇|郊区|城郊|城乡")),
    ("urban", re.compile(r"城区|城里|市区|城市|市里|县城|主城|市中心")),
)


# The customer did not say (asked once): the gateway then applies sla.yml's default_area_type.
UNKNOWN_AREA = "unknown"


def parse_area_answer(text: Optional[str]) -> Optional[str]:
    """urban/rural/remote from an answer such as "乡下" or "我们这是山区"; None if it names none."""
    text = re.sub(r"\s+", "", str(text or ""))
    if text.startswith("/"):
        match = re.search(r'"repair_area_type"\s*:\s*"(urban|rural|remote)"', text)
        return match.group(1) if match else None
    for area_type, words in AREA_ANSWERS:
        if words.search(text):
            return area_type
    return None


def place_may_be_told(tracker: Tracker) -> bool:
    """An outage found through an account number names its district and streets only to the
    verified holder: to anybody else they would tell where the account's holder lives."""
    account_no = tracker.get_slot("account_no")
    if not (tracker.get_slot("address_from_account") and account_no):
        return True  # the customer's own words: telling them back reveals nothing
    return bool(tracker.get_slot("identity_verified")) and tracker.get_slot("verified_account_no") == account_no


def outage_reply(outage: Dict[str, Any], tell_place: bool = True) -> Tuple[str, Dict[str, str]]:
    """One outage: the response (going on or planned; the place named, or the account's own
    area unnamed) and its values."""
    scope = "、".join(outage.get("scope") or [])
    values = {"outage_kind": OUTAGE_KIND.get(outage.get("kind", ""), "停电"), "reason": str(outage.get("reason")),
              "end": format_time(outage.get("end"))}
    if tell_place:
        values["place"] = f"{outage.get('area') or ''}{('（' + scope + '）') if scope else ''}"
    unnamed = "" if tell_place else "_unnamed"
    if outage.get("active"):
        return f"utter_outage_now{unnamed}", values
    values["start"], values["end"] = said_span(outage)
    return f"utter_outage_planned{unnamed}", values


def said_span(outage: Dict[str, Any]) -> Tuple[str, str]:
    """Start and end of an outage as the answers say them (same day: "明天 08:00" 至 "17:00")."""
    start, end = format_time(outage.get("start")), format_time(outage.get("end"))
    if start.split(" ")[0] == end.split(" ")[0] and " " in end:
        end = end.split(" ", 1)[1]
    return start, end


def utter_outage(dispatcher: CollectingDispatcher, outage: Dict[str, Any], tell_place: bool) -> None:
    response, values = outage_reply(outage, tell_place)
    dispatcher.utter_message(response=response, **values)


_WEEKDAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_NAMED_DAY = re.compile(r"(今天|今儿|明天|明儿|后天)")
_WEEKDAY = re.compile(r"(下|这|本)?(?:个)?(周|礼拜|星期)([一二三四五六日天])")
_WEEKEND = re.compile(r"(下|这|本)?(?:个)?(周末|礼拜天和礼拜六)")
_MONTH_DAY = re.compile(r"(\d{1,2})月(\d{1,2})(日|号)?")
# "5号停不停", "那8号呢"; never a house number ("中山路18号"): only at the start or after a small word.
_DAY_OF_MONTH = re.compile(r"(?:^|(?<=[那是在到和或，,\s]))(\d{1,2})(号|日)(?![楼栋幢院室门])")


def asked_days(text: str, today: date) -> Optional[tuple]:
    """The day(s) an outage question asks about ("明天", "礼拜六", "下周三", "周末", "12月5号"):
    (first, last, words as said), or None when it names no day."""
    named = _NAMED_DAY.search(text)
    if named:
        offset = {"今天": 0, "今儿": 0, "明天": 1, "明儿": 1, "后天": 2}[named.group(1)]
        day = today + timedelta(days=offset)
        return day, day, named.group(1)
    weekend = _WEEKEND.search(text)
    match = weekend or _WEEKDAY.search(text)
    if match is not None:
        next_week = match.group(1) == "下"
        target = 5 if weekend else _WEEKDAY_INDEX[match.group(3)]
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7 if next_week else 0)
        first = monday + timedelta(days=target)
        if first < today and not next_week:
            first += timedelta(days=7)  # "礼拜一" asked on a Wednesday: the coming one
        last = first + timedelta(days=1) if weekend else first
        return first, last, match.group(0)
    month_day = _MONTH_DAY.search(text)
    if month_day:
        try:
            day = date(today.year, int(month_day.group(1)), int(month_day.group(2)))
        except ValueError:
            return None
        if day < today - timedelta(days=1):
            day = day.replace(year=today.year + 1)
        return day, day, month_day.group(0)
    day_of_month = _DAY_OF_MONTH.search(text)
    if day_of_month:
        number = int(day_of_month.group(1))
        try:
            day = today.replace(day=number)
        except ValueError:
            return None
        if day < today:  # "5号" asked on the 20th: next month's
            year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
            try:
                day = date(year, month, number)
            except ValueError:
                return None
        return day, day, day_of_month.group(0)
    return None


def on_days(outage: Dict[str, Any], first: date, last: date) -> bool:
    """Whether the outage overlaps the days first..last (Asia/Shanghai)."""
    start, end = parse_iso(outage.get("start")), parse_iso(outage.get("end"))
    if start is None or end is None:
        return True
    return start.date() <= last and end.date() >= first

def _place_key(address: Optional[str]) -> str:
    text = re.sub(r"\s|[，,。]", "", str(address or ""))
    text = re.sub(r"^(江苏省?)?(南京市?)?([\u4e00-\u9fa5]{1,4}?区)?([\u4e00-\u9fa5]{2,4}?街道)?", "", text)
    return re.sub(r"室$", "", text)


def same_building(first: Optional[str], second: Optional[str]) -> bool:
    """"…锦绣苑3栋402" and "…锦绣苑3栋401": one building, only the flat differs."""
    a, b = (re.sub(r"\d+$", "", _place_key(x)) for x in (first, second))
    return bool(first and second) and len(a) >= 6 and a == b


def same_place_as(first: Optional[str], second: Optional[str]) -> bool:
    """"江苏省南京市鼓楼区马台街60号紫金花园22栋1403室" and "马台街60号紫金花园22栋1403" are one place."""
    a, b = _place_key(first), _place_key(second)
    return bool(a and b) and (a == b or (len(min(a, b, key=len)) >= 6 and (a in b or b in a)))


# "户号3201000034" said with other words: the rest is read for an address of its own.
ACCOUNT_SAID = re.compile(r"(户号|户头|账号)?[是:：\s]*(?<!\d)\d{10}(?!\d)")
# "对", "是的 你们赶紧派人": a yes (to "打登记的电话?" as the customer understood the question).
YES_ONLY = re.compile(r"^\s*(对|是|是的|对的|嗯|嗯嗯|好|好的|行|可以|没错|对对)([的啊呀吧哈\s，,。!！]|$)")


def looks_like_a_name(text: str) -> bool:
    """"何明辉 对的", "冯秀英 好的我不碰": a person's name among the words."""
    return any(looks_like_person(token) for token in re.split(r"[\s，,。；;、]+", text) if token)


def whole_answer_address(value: Any, tracker: Tracker) -> Any:
    """"谷里街道张溪社区103号" extracted as "103号": a number without a place is no address;
    the customer's whole answer to the address question is kept instead."""
    text = latest_text(tracker).strip()
    if tracker.get_slot("requested_slot") != "address" or not isinstance(value, str) or not value \
            or value not in text or not HOUSE_NUMBER.search(text) or len(text) > 60 or find_mobile(text):
        return value
    if HOUSE_NUMBER.search(value) and looks_like_address(value, need_number=True) \
            and (COMPOUND_NAME.search(value) or ADMIN_AREA.search(value)):
        return value  # a whole address already ("103号" alone is not, nor "13栋" after "…路109号锦绣苑")
    return re.sub(r"^(我家|我们家|俺家|地址|住在|在|是)+[是在：:，, ]*", "", text)


# What the bot says when it asks for the address again (or first).
ASKED_ADDRESS = re.compile(r"详细地址|具体地址|地址好像不太完整|要查询的地址|用电地址")


def address_said_in_parts(value: Any, tracker: Tracker, turns: int = 3) -> Any:
    """"7栋 是7栋 三楼 301" after "玄武区" and "珠江路那块 金陵小区" were each too little: the
    place said in the earlier answers to the address question comes first."""
    text = str(value or "").strip()
    if not text or ADMIN_AREA.search(text) or COMPOUND_NAME.search(text) or not re.search(r"\d", text):
        return value
    parts: List[str] = []
    seen = 0
    asked_after = False
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            asked_after = asked_after or bool(ASKED_ADDRESS.search(str(event.get("text") or "")))
            continue
        if event.get("event") != "user":
            continue
        seen += 1
        if seen == 1:
            asked_after = False
            continue  # the answer being read now
        if seen > turns + 1 or not asked_after:
            break
        said = str(event.get("text") or "").strip()
        if (ADMIN_AREA.search(said) or COMPOUND_NAME.search(said)) and not find_mobile(said) and len(said) <= 30:
            parts.insert(0, ADDRESS_LEAD.sub("", said).strip(" ，,。"))
        asked_after = False
    return " ".join(parts + [text]) if parts else value


def arrival_milestone(ticket: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    milestones = ticket.get("milestones") or []
    for milestone in milestones:
        if re.search(r"到达|到场|现场|arriv", str(milestone.get("name")), re.I):
            return milestone
    return milestones[0] if milestones else None


def parse_contact(value: Any) -> Optional[str]:
    """A mobile number, or a landline with area code; None if neither is there."""
    mobile = find_mobile(value)
    if mobile:
        return mobile
    match = re.search(r"(?<!\d)(0\d{2,3})-?(\d{7,8})(?!\d)", str(value or "").replace(" ", ""))
    return f"{match.group(1)}-{match.group(2)}" if match else None


def recent_user_texts(tracker: Tracker, turns: int = 4) -> List[str]:
    texts = [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"]
    return [t for t in texts[-turns:] if t and not t.startswith("/")]


# A house number, building or room: what makes an address one a crew can find.
HOUSE_NUMBER = re.compile(r"\d+\s*(?:号|栋|幢|单元|室|组)")
ADDRESS_LEAD = re.compile(r"^(?:地址(?:是|在)?[:：]?|我家(?:在|住)?|我(?:住)?在|就在|在)")


# What may follow a road and number in one breath: an estate, building, unit, room ("翠竹园12栋2004").
ADDRESS_CONTINUES = re.compile(r"(?:[\u4e00-\u9fa5]{0,6}?\d+\s*(?:号楼|栋|幢|单元|楼|层|室|号)?)+(?<=\d|[号楼栋幢元层室])")


# A building, unit, floor or room: what makes a chunk after a pause part of the address.
BUILDING_PART = re.compile(r"栋|幢|单元|室|号楼|层")


# A place word that needs the name before it: "社区58号" is the end of "张溪社区58号".
BARE_PLACE_WORD = re.compile(r"^(社区|小区|新村|花园|村|路|街|大道|苑|园|镇|乡|区)")


def joined_address(value: str, text: str) -> str:
    """The extracted address with the part of the same breath before it ("雨花台区宁丹路122号翠"
    + "竹园12栋"; "新房在张溪" + "社区58号" -> "张溪社区58号")."""
    if not value or value not in text:
        return value
    before = re.search(r"[^\s，,。；;：:]*$", text[:text.index(value)])
    chunk = before.group(0) if before else ""
    if chunk and re.search(r"[区县镇乡村路街道巷号]", chunk):
        return ADDRESS_LEAD.sub("", chunk + value)
    name = re.search(r"([\u4e00-\u9fa5]{1,4})$", re.split(r"在|是|住", chunk)[-1]) if BARE_PLACE_WORD.match(value) else None
    return name.group(1) + value if name else value


# "金陵小区", "紫金花园": an estate's name after the road.
COMPOUND_NAME = re.compile(r"小区|花园|公寓|新村|家园|大厦|广场|[苑园郡府城湾]|大街|大道|[路街巷]")


# Administrative places: a district, county, town, street office, village or community.
ADMIN_AREA = re.compile(r"(?<!小)区|[县镇乡]|街道|社区|村(?![口头里边外委])")


# An estate named right after the street number, with the gate meant: "翠竹园北门".
ESTATE_AFTER = re.compile(r"[\u4e00-\u9fa5]{1,6}?(?:小区|花园|新村|家园|公寓|大厦|广场|苑|园)(?:[东南西北]?(?:大门|门口|门)|[东南西北]区)?")


def whole_address(value: Any, text: str) -> Any:
    """The customer's whole message when the extracted address is only its first part
    ("浦口区永宁街道青山村 就在村口小卖部旁边 青山村15号门口" -> not just 浦口区永宁街道青山村)."""
    value_text, text = str(value or "").strip(), (text or "").strip()
    if not value_text or value_text not in text or text == value_text or len(text) > 60:
        return value
    value_text = joined_address(value_text, text)
    value = value_text
    before = ADDRESS_LEAD.sub("", text[:text.index(value_text)].strip())
    if before and not (ADMIN_AREA.search(before) and not ADMIN_AREA.search(value_text)) \
            and re.search(r"(区|县|路|街|大道|巷)$", before.strip()) and len(before) <= 20 \
            and not re.search(r"[，,。？?！!]", before):
        # "玄武区龙蟠路 锁金村那个路口 亮车坊洗车店门口" with only the village part heard: the road
        # comes first, and what follows the village as it would without it.
        return f"{before.strip()} {whole_address(value_text, text[text.index(value_text):])}"
    if before and ADMIN_AREA.search(before) and not ADMIN_AREA.search(value_text) \
            and not re.search(r"[，,。？?！!]", before):
        # "六合区竹镇镇金磁村 村口桥边上" with only "村口桥边" heard: the village comes first.
        return f"{before.strip()} {value_text}"
    after = text[text.index(value_text) + len(value_text):]
    following = ADDRESS_CONTINUES.match(after)
    if HOUSE_NUMBER.search(value_text) and following:
        return value_text + following.group(0)  # "宁丹路122号" + "翠竹园12栋2004": the whole of it
    estate = ESTATE_AFTER.match(after)
    if HOUSE_NUMBER.search(value_text) and estate:
        return value_text + estate.group(0)  # "宁丹路122号" + "翠竹园北门": the estate and its gate
    gap = re.match(r"[\s，,]+", after)
    apart = ADDRESS_CONTINUES.match(after[gap.end():]) if gap else None
    if HOUSE_NUMBER.search(value_text) and apart and BUILDING_PART.search(apart.group(0)) \
            and not re.search(r"\d{10,}", apart.group(0)):
        return f"{value_text} {apart.group(0)}"  # "湖南路231号 锦绣苑3栋402": the estate after a pause
    rest = text[text.index(value_text) + len(value_text):]
    # "江宁区禄口街道 溧塘村 村委会往东第三家": a village and how to find the house, no number.
    if HOUSE_NUMBER.search(value_text) or not (HOUSE_NUMBER.search(rest) or VILLAGE_LEVEL.search(rest)
                                               or COMPOUND_NAME.search(rest)):
        return value  # ("珠江路那块 金陵小区": the estate is part of it)
    return ADDRESS_LEAD.sub("", text[text.index(value_text):]).strip(" ，,。") or value


def place_asked_about_earlier(tracker: Tracker, turns: int = 4) -> Optional[str]:
    """The place named in a recent message that asked about outages (a second request of that
    message, served after the first one), from the NLU's address entities of that message."""
    from actions.common import SECOND_REQUEST_WORDS

    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        seen += 1
        if seen > turns:
            return None
        if SECOND_REQUEST_WORDS["outage_form"].search(event.get("text") or ""):
            entities = ((event.get("parse_data") or {}).get("entities")) or []
            places = [str(e.get("value")) for e in entities if e.get("entity") == "address" and e.get("value")]
            return places[0] if places else street_before_outage_words(event.get("text") or "")
    return None


class AddressValidation:
    """Address from the text, the account number, or the verified account's registered address."""

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> List[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)  # type: ignore[misc]
        # rasa_sdk leaves slots the form does not require out of its answer, also
        # address_from_account, which extract/validate_address set with the address (whenever it
        # was extracted this turn). Without it the outage query took a holder's registered address
        # for the customer's own words (and named its streets): put the flag back.
        names = {event.get("name") for event in events}
        if "address" in names and "address_from_account" not in names:
            events.append(SlotSet("address_from_account", bool(tracker.get_slot("address_from_account"))))
        return events

    async def extract_address(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        # The opening of this form (requested_slot may still name another form's question when
        # this one was started from inside it, "那能不能派人来看看表" at a complaint's confirmation).
        if tracker.get_slot("address") is None and "address" not in tracker.slots_to_validate() \
                and tracker.get_slot("requested_slot") != "address" and not self._names_a_place(tracker):
            earlier = place_asked_about_earlier(tracker) if self.form_name() == "outage_form" else None  # type: ignore[attr-defined]
            if earlier:
                # "查下上个月电费 另外听说马台街要停电": the place of the outage question, not the account's.
                return {"address": earlier, "address_from_account": False}
            away = self.form_name() == "fault_form" and AWAY_FROM_HOME.search(  # type: ignore[attr-defined]
                f"{latest_text(tracker)} {tracker.get_slot('fault_description') or ''}")
            if tracker.get_slot("identity_verified") and tracker.get_slot("customer_address") and not away:
                # ("楼下那个变压器嗡嗡响": the crew needs that place, asked, not the account's flat.)
                dispatcher.utter_message(response="utter_using_registered_address")
                return {"address": tracker.get_slot("customer_address"), "address_from_account": True}
            account_no = tracker.get_slot("account_no")
            if account_no and len(digits_only(account_no)) == 10 and not away:
                # A 户号 said earlier (or in this very message) is used, not asked again.
                return await self._address_from_account(digits_only(account_no), dispatcher, tracker)
        if "address" in tracker.slots_to_validate():
            return {}
        text = free_text_answer(tracker, "address")
        if not text and tracker.get_slot("requested_slot") is None and tracker.get_slot("address") is None:
            # "中华路明天停电吗": a bare street at the start of the request is the address.
            match = OPENING_STREET.match(latest_text(tracker).strip())
            text = match.group(1) if match else None
            if not text and self.form_name() == "outage_form":  # type: ignore[attr-defined]
                text = street_before_outage_words(latest_text(tracker))  # "…说明天长乐路停电 几点到几点"
        return {"address": text, "address_from_account": False} if text else {}

    @staticmethod
    def _account_slots(tracker: Tracker) -> Dict[Text, Any]:
        """Slots an address taken from an account brings along: only the form's own slots are
        kept from the extraction, so the validation returns these again."""
        if not tracker.get_slot("address_from_account"):
            return {}
        return {"address_from_account": True, "account_no": tracker.get_slot("account_no"),
                "area_type": tracker.get_slot("area_type")}

    @staticmethod
    def _names_a_place(tracker: Tracker) -> bool:
        """The opening message names a place of its own ("鼓楼区湖南路…"): that place is asked about."""
        text = latest_text(tracker)
        return bool(entity_values(tracker, "address") or OPENING_STREET.search(text)
                    or looks_like_address(text, tracker, need_number=True) and not QUESTION_MARKS.search(text))

    async def _address_from_account(self, account_no: str, dispatcher: CollectingDispatcher,
                                    tracker: Tracker) -> Dict[Text, Any]:
        try:
            customer = await api_client.get_account(account_no, **asker(tracker))
        except api_client.RateLimited:
            dispatcher.utter_message(response="utter_rate_limited")
            return {"address": None}
        except api_client.NotFound:
            dispatcher.utter_message(response="utter_account_not_found_ask_address", account_no=account_no)
            return {"address": None}
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return {"address": None, "api_failed": True}
        dispatcher.utter_message(response="utter_using_account_address", tail=account_no[-4:])
        return {"address": customer.get("address"), "address_from_account": True,
                "account_no": account_no, "area_type": customer.get("area_type")}

    async def _check_address(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker) -> Optional[Dict[Text, Any]]:
        """The common part: returns slot values when the value is not a usable address."""
        digits = digits_only(value)
        accounts = account_numbers_in(str(value or ""))
        if len(digits) != 10 and len(accounts) == 1:
            digits = accounts[0]  # "搞错了 是3201000008 多打了个8": the 户号, whatever else has digits
        if len(digits) == 10 and (len(str(value).strip()) <= 14 or not looks_like_address(
                ACCOUNT_SAID.sub(" ", str(value)), tracker, need_number=True)):
            # "户号3201000003 王建国", "南京宁新电子有限公司 户号3201000034": the account's address.
            return await self._address_from_account(digits, dispatcher, tracker)
        text = str(value or "").strip()
        if tracker.get_slot("address_from_account") and text == tracker.get_slot("address"):
            return None
        # A village, town or estate name alone ("石塘村") is a usable place for a repair crew.
        place_alone = re.fullmatch(r"[\u4e00-\u9fa5]{2,}(村|镇|乡|屯|寨|组|社区|小区|花园|新村|苑|庄|路|街|大道|巷)", text)
        # A fallen wire or a burning pole is on a road, not at a door number: a place a crew can
        # find ("栖霞区龙潭街道 龙潭菜市场门口那条路上") is enough for a hazard.
        need_number = self.form_name() != "outage_form" and not tracker.get_slot("hazard")  # type: ignore[attr-defined]
        if not (place_alone or looks_like_address(text, tracker, need_number=need_number)):
            if len(digits_only(text)) >= 3 and not re.search(r"[\u4e00-\u9fa5]", text):
                dispatcher.utter_message(response="utter_address_not_digits")
            else:
                dispatcher.utter_message(response="utter_address_incomplete")
            return {"address": None}
        return None


# Asking about planned outages ("这几天有没有停电计划", "明天停不停电") is no fault report, unless
# something is wrong now ("没电了", "跳闸").
OUTAGE_PLAN_QUESTION = re.compile(r"停电计划|计划停电|停电安排|停电通知|有没有停电|有停电吗|停不停电|会不会停电|要不要停电|"
                                  r"(明天|后天|这几天|这周|下周|过几天|周[一二三四五六日末])[^，,。]{0,6}(停电|停不停)")
FAULT_NOW = re.compile(r"没电了|(没电|停电|断电)(已经|都|快)?[一两三四五六七八九十半好几\d][^，,。？?]{0,5}(小时|钟头|分钟|天)多?了|没有电了|不来电|跳闸|冒烟|火花|一闪一闪|忽明忽暗|(灯|灯泡|灯管|电视)[^，,。]{0,4}闪|烧(?!个?(水|饭|菜|开水|点))|断电了|停电了|黑了|灯(又|还|也|都)?不亮|漏电|坏了")


# "店里总闸老是跳 一上午跳了五六次": a switch that keeps tripping, told as the fault it is.
TRIPPING = re.compile(r"(闸|空开|漏保|开关)[^，,。]{0,4}(老是|总是|老|总|一直|又|经常)?跳")
# "说着说着又没电了", "现在又停了": power lost right now, while talking of something else.
LOST_JUST_NOW = re.compile(r"(又|现在|刚刚|刚才|这会儿?|说着说着)[^，,。]{0,4}(没电|停电|断电|黑了|跳闸|停了)")


# "烧烤店", "发烧": 烧 that burns nothing of ours.
NOT_BURNING = re.compile(r"烧烤|发烧|烧饭|烧水|烧菜|烧香|红烧|烧饼|烧鸡|烧麦|烧卖")


def tells_a_fault(text: Optional[str]) -> bool:
    """Words that report a fault now ("没电了", "总闸老是跳"), whatever else they say; not the
    theft of power a tip-off tells ("烧烤店好像绕过电表直接拉线用电")."""
    from actions.common import ILLEGAL_USE, IMPERSONATION  # common imports this module lazily

    text = NOT_BURNING.sub("", text or "")
    if ILLEGAL_USE.search(text) or IMPERSONATION.search(text):
        return False
    return bool(FAULT_NOW.search(text) or TRIPPING.search(text))


# Where one request of a message ends and the next begins.
CLAUSE_BREAK = re.compile(r"[，,。；;！!？?\n]+|\s+|(?=顺便|另外|还有|对了|再问)")


def fault_part(text: str) -> str:
    """The clauses of a two-request message that tell the fault ("家里突然没电了 顺便问下我这个月电费
    多少" -> "家里突然没电了"): a repair's description without the other request; the whole text
    when no clause alone tells it."""
    clauses = [clause for clause in CLAUSE_BREAK.split(text or "") if clause and clause.strip()]
    telling = [clause for clause in clauses if (tells_a_fault(clause) or find_hazards(clause))
               and not BILL_ASIDE.search(clause)]
    if not telling or len(telling) == len(clauses):
        return text or ""
    return "，".join(re.sub(r"^(顺便|另外|还有|对了)", "", clause) for clause in telling)


# "顺便问下我这个月电费多少": a bill question asked by the way, beside something else.
BILL_ASIDE = re.compile(r"(顺便|另外|还有|再|也)[^，,。]{0,6}(问|查|看)[^，,。]{0,10}(电费|账单|欠费|用了多少)")


# "查下电费", "电费多少", "欠了多少": the bill asked for.
BILL_ASKED = re.compile(r"(查|问|看)[^，,。]{0,4}(电费|账单)|电费[^，,。]{0,4}(多少|几多)|欠(了)?多少|"
                        # "上个月的交了没": whether a month's bill is paid
                        r"(上上个?月|上个?月|这个?月|本月)的?(电费)?[^，,。？?]{0,3}(交了没|交没交|交了吗|缴了没|缴了吗|交过没)")


# Beside a fault told, a bill asked for a few more words after 查 ("查下店里这个月电费 二是总闸老跳").
BILL_ASKED_BESIDE = re.compile(r"(查|问|看)[^，,。？?]{0,8}(电费|账单)")


def fault_with_bill_aside(text: Optional[str]) -> bool:
    """A fault now with a bill question in the same message ("家里突然没电了 顺便问下电费多少",
    "查下电费 顺便家里卫生间那一路没电了", "一是帮我查下这个月电费多少 二是店里总闸老跳"), not
    "没电了 是不是欠费了"."""
    text = as_nlu_reads(text)  # "点费" is the 电费
    return (tells_a_fault(text) and bool(BILL_ASIDE.search(text) or BILL_ASKED.search(text)
                                         or BILL_ASKED_BESIDE.search(text))) \
        and not SUSPECTED_ARREARS.search(text) and not is_reconnection(text)


SUSPECTED_ARREARS = re.compile(r"(是不是|是否|会不会|难道|怕是|可能|估计|以为)[^，,。？?]{0,8}(欠费|欠了?电费|欠着电费|欠钱|没交电费|没缴电费|没交钱|"
                               r"电费没交|没缴费)|"
                               r"欠费(停|断|拉闸)|(没交|没缴)(电费)?(被|给)?(停|断)|"
                               # "是不是你们把我电掐了": cut off on purpose, which is for arrears.
                               r"(把|给)(我|我家|我们|俺)?(家)?(的)?电(给)?掐(了|掉)|掐(了)?(我|我家|俺家)(的)?电|"
                               # "隔壁都有电 是不是把我停了": cut off on purpose, too.
                               r"(是不是|是否|难道|怕是)[^，,。？?]{0,4}(把|给)(我|我家|我们|俺|俺家)(家)?(的电)?(给)?(停|断|拉闸|拉)(了|掉)")


def arrears_check_first(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """The bills are checked before anything else; a repair follows only when nothing is owed.
    Arrears told as paid with power asked back ("邻居说是欠费停的 我在外地刚给她交了三百块 多久能送电")
    go the way the repair form sends them: the reconnection answer and check (nothing owed then
    means the payment arrived, not a fault for a crew)."""
    from actions.faq import asks_power_back_after_paying  # faq imports this module

    leave: List[EventType] = [SlotSet("requested_slot", None), ActiveLoop(None)]
    if asks_power_back_after_paying(latest_text(tracker)):
        return leave + [FollowupAction("action_answer_faq")]
    dispatcher.utter_message(response="utter_arrears_check")
    events = leave + [SlotSet("bill_query", "suspect_arrears"),
                      # kept for the repair that follows when nothing is owed
                      SlotSet("fault_description", latest_text(tracker)[:500])]
    return events + [FollowupAction("action_query_bill" if tracker.get_slot("identity_verified") else "bill_form")]


def suspects_arrears(tracker: Tracker) -> bool:
    """The opening message of a report asks whether unpaid bills cut the power."""
    if tracker.get_slot("requested_slot") is not None or tracker.get_slot("fault_description") \
            or tracker.get_slot("hazard"):
        return False
    text = latest_text(tracker)
    return bool(SUSPECTED_ARREARS.search(text)) and not safety_response(text)


def other_utility(tracker: Tracker) -> Optional[str]:
    """The out-of-scope response for a gas/water/telecom matter opened as a repair (no 电 in it)."""
    from actions.menu import other_utility_response  # menu imports the forms' helpers

    if tracker.get_slot("requested_slot") is not None or tracker.get_slot("fault_description"):
        return None
    return other_utility_response(latest_text(tracker))


def is_outage_plan_question(tracker: Tracker) -> bool:
    if tracker.get_slot("requested_slot") is not None or tracker.get_slot("fault_description"):
        return False  # only the message that opened the report
    text = latest_text(tracker)
    return bool(OUTAGE_PLAN_QUESTION.search(text)) and not FAULT_NOW.search(text)


# A question, during a hazard report, about what to do now ("要不要去拉闸", "能碰吗", "要不要打119").
# Words that answer the area question ("城区", "村里", "山里").
AREA_WORDS = re.compile(r"城|市区|乡|村|镇|山|偏远|郊")
SHOULD_I = re.compile(r"要不要|用不用|该不该|行不行|可以吗|需不需要")
ASKS_WHAT_TO_DO_NOW = re.compile(r"拉闸|总闸|关闸|电闸|空开|碰|摸|断电|关电|灭火|浇水|119|120|报警|跑|出去|躲|怎么办|咋办|咋整")


# Words of another fault or another place than the repair just filed.
ANOTHER_FAULT = re.compile(r"又|也|还有|另外|别的|隔壁|楼下|楼上|对面|另一|再报|再修|邻居")
# "厂里自己总开关没跳", "我家空开是好的": the customer's own side checked.
OWN_SIDE_CHECKED = re.compile(r"(自己|我们|我家|家里|厂里|店里)[^，,。]{0,6}(总开关|总闸|空开|开关|闸|漏保)[^，,。]{0,3}(没跳|没有跳|好的|正常|合着|没问题)")


async def add_detail_to_just_filed_repair(dispatcher: CollectingDispatcher,
                                          tracker: Tracker) -> Optional[List[EventType]]:
    """"是的 就是晚上七八点钟最厉害" right after a repair was filed (NLU heard a fault): more about
    that fault, noted on its ticket for the crew, not a second repair form asking the address again.
    None when the message tells another fault or place, a danger, a question or a number."""
    from actions.menu import named_request  # menu imports this module

    ticket_no = ticket_announced_last_turn(tracker)
    text = latest_text(tracker).strip()
    # ("厂里自己总开关没跳 对面那个厂也黑了": the customer's own side checked and others dark too tell
    # more of this fault; "楼下邻居家也没电了" alone is the neighbour's.)
    told = OTHERS_DARK_TOO.sub("", text) if OWN_SIDE_CHECKED.search(text) else text
    if not ticket_no or tracker.get_slot("requested_slot") is not None or len(text) < 6 or text.startswith("/") \
            or QUESTION_MARKS.search(text) or ANOTHER_FAULT.search(told) \
            or entity_values(tracker, "address") \
            or find_hazards(text) or re.search(r"\d{4,}", text) or named_request(text) not in (None, "fault_form"):
        return None
    return await note_on_ticket(dispatcher, ticket_no, text, ("repair",))


# "没看到明火 就是冒烟 要不要打119啊", "总闸要不要拉": what to do until the crew comes.
SAFETY_QUESTION = re.compile(r"119|120|报警|灭火|总闸|拉闸|断电|明火|火苗|(要不要|能不能|可不可以)(跑|走|下楼|出去|离开|碰|靠近|浇水|用水)|怎么办")
ASKED = re.compile(r"吗|要不要|能不能|可不可以|怎么办|[?？]")


async def safety_asked_after_urgent_repair(dispatcher: CollectingDispatcher,
                                           tracker: Tracker) -> Optional[List[EventType]]:
    """"没看到明火 就是冒烟 要不要打119啊" right after an urgent repair was registered (NLU heard a
    fault): what to do until the crew comes, not a second repair form asking the address again."""
    ticket_no = ticket_announced_last_turn(tracker)
    text = latest_text(tracker)
    if not ticket_no or tracker.get_slot("requested_slot") is not None or not SAFETY_QUESTION.search(text) \
            or not ASKED.search(text) or entity_values(tracker, "address"):
        return None
    try:
        ticket = await api_client.get_ticket(ticket_no)
    except api_client.ApiError:
        return None
    if ticket.get("type") != "repair" or ticket.get("priority") != "urgent":
        return None
    dispatcher.utter_message(response="utter_safety_while_waiting", ticket_no=ticket_no)
    return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]


# The customer's own reason for high usage: "可能是空调开太猛了", "原来是暖风机用得多".
# "那应该是天热空调一直开着 行吧 知道了": an appliance left running, taken in.
USAGE_EXPLAINED = re.compile(r"(?:可能|估计|应该|大概|肯定|原来|怪不得|难怪|就是说)[^，,。？?]{0,10}"
                             r"(?:(?:开|用|烧|耗)(?:得|的|太|了)?(?:太)?(?:猛|多|久|厉害|狠|勤)|"
                             r"(?:一直|天天|整天|成天|老是|经常|一天到晚|24小时)(?:都)?(?:开|用|烧|插)着?)")


# "行 我先自己关了总闸看看表还转不转 谢谢": the customer will look for themselves.
CHECKS_IT_THEMSELVES = re.compile(r"(我|俺)(先|自己|先自己|自己先)(去)?[^，,。？?]{0,8}(看看|试试|查查|检查|瞧瞧|观察)")


def checks_it_themselves(text: str) -> bool:
    """The customer will look for themselves and tells no fault now (总闸 named as what they will
    switch off is no fault)."""
    return bool(CHECKS_IT_THEMSELVES.search(text)) and not (
        tells_a_fault(text) or FAULT_NOW.search(text) or find_hazards(text) or SEND_A_CREW.search(text))


def usage_explained_after_bill(tracker: Tracker, text: str) -> bool:
    """Right after a bill was shown, the message explains the usage and tells no fault."""
    bill_shown = any(event.get("event") == "bot" and re.search(r"电费账单|用电量|用电 \d+ 度", event.get("text") or "")
                     for event in previous_turn(tracker))
    return bill_shown and bool(USAGE_EXPLAINED.search(text)) and not (
        tells_a_fault(text) or FAULT_STORY_WORDS.search(text) or find_hazards(text) or SEND_A_CREW.search(text))


def repair_cancelled_since_asked(tracker: Tracker) -> bool:
    """The customer cancelled the repair ("等下 先不报修了 我想先查下这个月电费") and has not asked
    for one since: the form starting again now (the policies predicting it after the bill that
    followed) was not asked for."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            text = str(event.get("text") or "")
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent == "report_fault" or tells_a_fault(text) or find_hazards(text) or SEND_A_CREW.search(text):
                return False
        elif event.get("event") == "bot" and "已为您取消本次故障报修" in str(event.get("text") or ""):
            return True
    return False


class ValidateFaultForm(BaseFormValidation, AddressValidation, FormValidationAction):
    def name(self) -> Text:
        return "validate_fault_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if repair_cancelled_since_asked(tracker):
            # Found trying it in the widget: a repair cancelled for a bill question was filed after
            # the bill, on the account's address, without a word from the customer.
            return [ActiveLoop(None), SlotSet("requested_slot", None)] + FAULT_RESET + [FollowupAction("action_listen")]
        reassured = await reassure_after_filing(dispatcher, tracker) or await add_to_just_filed(dispatcher, tracker) \
            or await safety_asked_after_urgent_repair(dispatcher, tracker) \
            or await add_detail_to_just_filed_repair(dispatcher, tracker)
        if reassured:
            # an urge, "昨天下午停的 一点招呼都没打" more of a complaint just filed, or "就是晚上七八点钟
            # 最厉害" more of the repair just filed
            return reassured
        asked = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        if asked is None and not tracker.get_slot("fault_description") and usage_explained_after_bill(tracker, text):
            # "ok 大概知道了 可能是空调开太猛了" right after the bill (NLU: a fault): the customer's own
            # reason for the usage; no fault is told, no crew is sent.
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
        if asked is None and not tracker.get_slot("fault_description") and checks_it_themselves(text):
            # "行 我先自己关了总闸看看表还转不转 谢谢" after the meter-test answer (NLU: a fault): the
            # customer will look first; no crew is sent to the account's address.
            dispatcher.utter_message(response="utter_ok_no_problem")
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
        if asked is None and not tracker.get_slot("fault_description"):
            from actions.menu import fault_told_just_before, offered_business  # menu imports the forms' helpers

            offered = offered_business(tracker)
            if offered and not (FAULT_STORY_WORDS.search(text) or find_hazards(text) or SEND_A_CREW.search(text)
                                or FAULT_NOW.search(text)):
                # "户号… 谢子涵 133… 软件大道275号长江苑" right after a charger application was
                # offered: the details are for that application, nothing in them is a fault.
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("offered_business", None),
                        SlotSet("business_type", offered), FollowupAction("application_form")]
            if BILL_NOT_FAULT.search(text) and not (FAULT_STORY_WORDS.search(text) or FAULT_NOW.search(text)
                                                    or POWER_BACK_WORDS.search(text) or find_hazards(text)
                                                    or SEND_A_CREW.search(text)):
                # "我家好像有个月忘交了 户号3201000018" (NLU heard a fault): unpaid bills and no
                # word of a fault or of power: the bill, not a crew.
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("bill_query", None),
                        FollowupAction("bill_form")]
            if only_an_address(text, tracker) and not (FAULT_STORY_WORDS.search(text) or find_hazards(text)
                                                       or SEND_A_CREW.search(text) or FAULT_NOW.search(text)) \
                    and not fault_told_just_before(tracker):
                # (the fault told in the message before: the address is for it; action_answer_bare_detail
                # would send it straight back here)
                # "迈皋桥路109号锦绣苑13栋1001" (heard as a fault, e.g. right after an application
                # showed its address): nothing in it says a fault; no crew is sent for an address.
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_answer_bare_detail")]
        if asked == "repair_area_type" and CORRECTION_WORDS.search(text) and tracker.get_slot("address"):
            # "哦不对 是2303 我打错了" at the area question: the address just given is corrected.
            corrected = corrected_value(tracker, "address")
            if corrected and corrected != tracker.get_slot("address"):
                dispatcher.utter_message(response="utter_corrected", field=FIELD_LABELS["address"],
                                         value=echoed(corrected))
                return [SlotSet("address", corrected), SlotSet("address_checked", corrected),
                        SlotSet("repair_area_type", None), SlotSet("requested_slot", "repair_area_type")]
        complaint = complaint_during_repair(dispatcher, tracker, asked, text) if asked else None
        if complaint is not None:
            return complaint  # "赶紧派人来 另外我要投诉… 电话189…": after the repair, on that phone
        if asked and ASKS_REPAIR_FEE.search(text) and not tracker.get_slot("hazard"):
            from actions.faq import answer_topic  # faq imports this module

            if answer_topic("repair_fee", dispatcher, tracker, domain):
                # "师傅上门修要收钱吗？租客那边要问我的" at any question of the repair: the fee rule
                # (not "we will hurry"); the question asked stands.
                return [SlotSet(asked, None), SlotSet("requested_slot", asked)]
        if asked == "repair_area_type" and SEND_A_CREW.search(text) and not AREA_WORDS.search(text):
            # "明天才检修？那今天咋没电的 派人来看看": the same repair, urged; the question stands
            # (an empty answer would let Rasa take it for another request).
            dispatcher.utter_message(response="utter_empathy_hurry")
            return [SlotSet(asked, None), SlotSet("requested_slot", asked)]
        if asked == "contact_phone" and not parse_contact(text) and not text.startswith("/"):
            # "对 就这个地址 赶紧来人" once the 户号 is known: read before it is taken for a plea.
            account = await self._registered_contact(text, dispatcher, tracker)
            if account:
                contact: List[EventType] = [SlotSet(name, value) for name, value in account.items()]
                tracker.add_slots(contact)
                missing = next((name for name in await self.form_slots(dispatcher, tracker, domain)
                                if tracker.slots.get(name) is None), None)
                return contact + [SlotSet("requested_slot", missing)]
        if asked and WHY_OUT_TODAY.search(text) and any(
                "另一个时间的停电安排" in str(e.get("text") or "") for e in tracker.events[-12:] if e.get("event") == "bot"):
            # "不是说过几天才停么 咋今天就么得了" after the planned outage of another day was
            # shown: why a crew is coming; the question asked stands.
            dispatcher.utter_message(response="utter_not_the_planned_outage")
            return [SlotSet(asked, None), SlotSet("requested_slot", asked)]
        if asked and tracker.get_slot("hazard") and ASKS_WHAT_TO_DO_NOW.search(text) \
                and (QUESTION_MARKS.search(text) or SHOULD_I.search(text)):
            # "我要不要去把总闸拉下来啊 我一个老太婆不敢弄": what to do (and not) until the crew
            # comes; the question asked stands.
            dispatcher.utter_message(response="utter_hazard_what_to_do_now")
            return [SlotSet(asked, None), SlotSet("requested_slot", asked)]
        other = other_utility(tracker)
        if other:
            # "燃气灶打不着火了 你们能派个人来看看吗": another utility's matter; say who can help.
            dispatcher.utter_message(response=other)
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
        from actions.faq import asks_power_back_after_paying, asks_whether_to_report_after_arrears  # faq imports this module

        opening = asked is None and not tracker.get_slot("fault_description")
        from actions.bills import wants_reconnection  # bills imports this module

        if (opening or asked in ("address", "contact_phone", "repair_area_type")) and not find_hazards(text) \
                and not tracker.get_slot("hazard") \
                and (asks_power_back_after_paying(text) or asks_whether_to_report_after_arrears(tracker)
                     # "哦 想起来了 前两个月电费没交 收到过短信说要停电 昨天去信用社交掉了" at the
                     # phone question: the arrears were paid; a reconnection, not a repair.
                     or asked in ("address", "contact_phone", "repair_area_type", "fault_description")
                     and wants_reconnection(text)) \
                or asked is None and not tracker.get_slot("hazard") and asks_whether_to_report_after_arrears(tracker):
            # ("那还要等多久啊 冰箱里东西要坏了" right after the arrears answer, sent here by the
            # complaint form with its words as the fault: the same rule, no crew.)
            # ("刚才用微信交掉了 到底多久能来电" at the address question, after "我欠费了？": the same.)
            # "欠费给停了，我刚刚在微信上都交掉了，什么时候能来电啊" (NLU heard a fault): power
            # comes back within 24 hours of paying; the account's bills are checked, no crew.
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_answer_faq")]
        from actions.faq import answer_topic, topic_by_words
        from actions.handoff import LIGHTS_NOT_OURS

        if opening and FIXED_NOW.search(text) and DAMAGED.search(text) and not find_hazards(text) \
                and answer_topic("appliance_damage", dispatcher, tracker, domain):
            # "前两天电压老是不稳…现在是好了 但是我店里烧坏了一台切割机 这个你们管不管": the fault is
            # over, the damage is the question: how a claim goes, no crew.
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("faq_topic", "appliance_damage"),
                    SlotSet("fault_description", None), FollowupAction("action_listen")]
        if asked is None and NOTHING_MORE_NEEDED.search(text) and not (tells_a_fault(text) or find_hazards(text)):
            # "那我自己借个发电机 好了 没事了" after a planned outage was answered (NLU: a fault):
            # the customer is done; nothing is filed.
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("fault_description", None),
                    FollowupAction("action_wrap_up")]
        lights = (topic_by_words(text) or ("street_light" if STREET_LIGHT_OUT.search(text) else None)) \
            if asked is None and not find_hazards(text) else None
        if lights in LIGHTS_NOT_OURS and not NO_POWER_NOW.search(text) and answer_topic(lights, dispatcher, tracker, domain):
            # "楼道灯坏了 这个是你们供电公司修还是物业修啊": whose it is; no crew for it.
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
        if suspects_arrears(tracker):
            # "家里没电了 邻居家都有电 是不是欠费给我停了": the bills are checked first.
            return arrears_check_first(dispatcher, tracker)
        if asked in ("address", "contact_phone", "repair_area_type") and not tracker.get_slot("hazard") \
                and SUSPECTED_ARREARS.search(text) and not safety_response(text) and not stop_then_request(text) \
                and not ASKS_TO_DO.search(text):  # ("先帮我查查": the repair pauses for the bill query)
            # "哦对了 是不是因为电费没交啊 好像两个月都没交" at the phone question: the bills are
            # checked now; the repair (its address kept) follows only when nothing is owed.
            held = tracker.get_slot("fault_description")
            return [e for e in arrears_check_first(dispatcher, tracker)
                    if not (held and e.get("name") == "fault_description")]
        if is_outage_plan_question(tracker):
            # "软件大道275号这几天有没有停电计划": a question about planned outages, not a fault.
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("outage_form")]
        if asked is None and not tracker.get_slot("fault_description") and not find_hazards(text) \
                and (READING_DISPUTE.search(text) or OUTAGES_TOO_OFTEN.search(text)) \
                and not (FAULT_NOW.search(text) or SEND_A_CREW.search(text)):
            # "一个月停了五六回了", "根本没人用电 肯定是抄错了": a grievance about how often the power
            # goes, or about the reading, with no power out now: a complaint, not a crew.
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_type", "complaint"),
                    SlotSet("feedback_content", text[:1000]), FollowupAction("feedback_form")]
        hazard_events: List[EventType] = []
        if asked is None and not tracker.get_slot("fault_description") and not tracker.get_slot("feedback_content") \
                and ALSO_REPORTS.search(text) and (FAULT_NOW.search(text) or NO_POWER_NOW.search(text)):
            # "我要举报 工地私自从我们楼的电箱里接线 现在我们这栋楼都没电了": the repair first, then
            # the tip-off (or complaint) in these words (action_submit_fault).
            kind = "complaint" if re.search(r"投诉", text) and not re.search(r"举报", text) else "tip_off"
            hazard_events = [SlotSet("feedback_type", kind), SlotSet("feedback_content", text[:1000])]
            tracker.add_slots(hazard_events)
        safety = safety_response(latest_text(tracker))
        if not tracker.get_slot("hazard") and safety:
            # Safety first, before any question: its first line says what to do now.
            dispatcher.utter_message(response=safety)
            hazard_events += [SlotSet("hazard", True)]
            tracker.add_slots(hazard_events)
        return hazard_events + await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("api_failed"):
            return []
        if tracker.get_slot("outage_notice") and not tracker.get_slot("hazard"):
            return ["address"]  # a known outage explains it: no ticket needed
        # repair_area_type is decided with the address (account, areas.yml); asked only when
        # neither decides.
        slots = ["address", "repair_area_type", "fault_description"]
        if not tracker.get_slot("identity_verified"):
            slots.append("contact_phone")
        return slots

    async def extract_fault_description(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("fault_description"):
            return {}
        text = free_text_answer(tracker, "fault_description")
        if text:
            return {"fault_description": text}
        intent, _ = latest_intent(tracker)
        opening = latest_text(tracker).strip()
        # The report itself often says what happened ("楼道里电线冒烟了"): no need to ask again.
        # Also when NLU read the opening as a bare detail ("…11栋2603 家里没电了 帮我报修").
        if tracker.get_slot("requested_slot") is None and not FAULT_STORY_WORDS.search(opening) \
                and not find_hazards(opening):
            # "我们小区现在停电了 是计划停电吗" asked first, no outage known, then "那帮我报个修吧":
            # the situation was told with the outage question.
            earlier = opening_text(tracker, "outage_form")
            if earlier and NO_POWER_NOW.search(earlier) and recently_in(tracker, "outage_form"):
                return {"fault_description": earlier[:500]}
        if tracker.get_slot("requested_slot") is None and not opening.startswith("/") and (
                intent == "report_fault" and (find_hazards(opening) or len(opening) >= 10)
                or FAULT_STORY_WORDS.search(opening)):
            # "家里突然没电了 顺便问下我这个月电费多少": the fault, not the bill question served after it.
            return {"fault_description": fault_part(opening) if BILL_ASIDE.search(opening) or second_request(
                opening, "fault_form") else opening}
        return {}

    async def extract_repair_area_type(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "repair_area_type":
            return {}
        text = latest_text(tracker).strip()
        area_type = parse_area_answer(text)
        if area_type:
            return {"repair_area_type": area_type}
        if not text or text.startswith("/") or is_digression(tracker, "repair_area_type"):
            return {}
        # An address in reply ("晶桥镇枫香岭村25号") may be one the configured places know.
        try:
            mapped = await api_client.classify_area(text)
        except api_client.ApiError:
            mapped = None
        if mapped:
            return {"repair_area_type": mapped}
        # Asked once: whatever else the answer was, the report goes on with the strictest
        # (city) deadline the gateway uses when no area type is given.
        return {"repair_area_type": UNKNOWN_AREA}

    async def _area_type_for(self, address: str, tracker: Tracker, from_account: Optional[Dict[Text, Any]]
                             ) -> Optional[str]:
        """The repair's area type: the account's when the address is the account's, else the
        configured places (areas.yml, asked of the gateway), else a verified account's; None: ask."""
        if from_account and from_account.get("address_from_account"):
            return from_account.get("area_type")
        if tracker.get_slot("address_from_account") and address == tracker.get_slot("address") \
                and tracker.get_slot("area_type"):
            return tracker.get_slot("area_type")
        registered = tracker.get_slot("customer_address") or ""
        verified_area = tracker.get_slot("area_type") if tracker.get_slot("identity_verified") else None
        if verified_area and registered and (address in registered or registered in address):
            return verified_area
        try:
            mapped = await api_client.classify_area(address)
            if not mapped:
                # "秦淮区" in one message, "白下路100号" in the next: the place named together.
                mapped = await api_client.classify_area(" ".join(recent_user_texts(tracker)))
        except api_client.ApiError:
            mapped = None
        return mapped or verified_area

    async def extract_contact_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        if "contact_phone" in tracker.slots_to_validate():
            return {}
        text = latest_text(tracker).strip()
        if tracker.get_slot("requested_slot") == "contact_phone" and not parse_contact(text) \
                and not text.startswith("/"):
            account = await self._registered_contact(text, dispatcher, tracker)
            if account:
                return account
        answer = free_text_answer(tracker, "contact_phone")
        return {"contact_phone": answer} if answer else {}

    async def _registered_contact(self, text: str, dispatcher: CollectingDispatcher,
                                  tracker: Tracker) -> Optional[Dict[Text, Any]]:
        """"户号3201000006 曾海燕", or "对"/"就打登记的" once a 户号 was given: the crew calls the
        account's registered phone (the gateway fills it in; the customer is not shown it)."""
        typed = re.search(r"(?<!\d)(\d{10})(?!\d)", re.sub(r"\s", "", digits_to_ascii(text)))
        account_no = typed.group(1) if typed else digits_only(tracker.get_slot("account_no"))
        if len(account_no) != 10:
            return None
        if not typed and not (REGISTERED_WORDS.search(text) or YES_ONLY.match(text)
                              or looks_like_a_name(text)):
            return None
        try:
            await api_client.get_account(account_no, **asker(tracker))
        except api_client.ApiError:
            return None  # no such account (or no answer): the phone is asked as usual
        dispatcher.utter_message(response="utter_crew_calls_registered_phone", tail=account_no[-4:])
        return {"contact_phone": REGISTERED, "account_no": account_no}

    async def validate_address(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        said = spelled_house_numbers(latest_text(tracker))
        meant = resolve_inline_correction(said)
        if meant != said and isinstance(value, str) and value in said and looks_like_address(meant, tracker):
            value = ADDRESS_LEAD.sub("", meant).strip(" ，,。")  # "…1303 哦不对 是2303": as meant
        value = whole_address(value, said)
        value = whole_answer_address(value, tracker)
        value = address_said_in_parts(value, tracker)
        problem = await self._check_address(value, dispatcher, tracker)
        if problem is not None:
            if problem.get("address"):
                value = problem["address"]
                tracker.slots.update(problem)
            else:
                return problem
        result: Dict[Text, Any] = {**self._account_slots(tracker), **(problem or {})}
        result["address"] = value
        if tracker.get_slot("address_checked") != value or not tracker.get_slot("repair_area_type"):
            result["repair_area_type"] = await self._area_type_for(value, tracker, problem)
            tracker.slots["repair_area_type"] = result["repair_area_type"]
        if tracker.get_slot("address_checked") == value or tracker.get_slot("outage_shown_for") == value:
            return result  # already checked (a resumed form) or already told: go on to the report
        result["address_checked"] = value
        if same_building(tracker.get_slot("address_checked"), value):
            return result  # "哦不对 是四零一": the flat corrected; the outages there were just told
        try:
            from_account = tracker.get_slot("address_from_account") and tracker.get_slot("account_no")
            outages = await api_client.find_outages(
                address=None if from_account else value,
                account_no=tracker.get_slot("account_no") if from_account else None, **asker(tracker))
        except api_client.ApiError:
            return result  # the outage check is a courtesy: the repair report goes on without it
        covering = [o for o in outages if o.get("active")]
        if covering:
            # Only an outage going on now explains a house without power: no repair needed.
            utter_outage(dispatcher, covering[0], place_may_be_told(tracker))
            result["outage_notice"] = covering[0].get("outage_no") or "outage"
            result["outage_shown_for"] = value
        elif outages and not tracker.get_slot("hazard"):
            # A planned one later (tomorrow) is worth knowing, but the fault now is reported; with a
            # danger to people (a smoking meter box) it would only stand between them and the crew.
            utter_outage(dispatcher, outages[0], place_may_be_told(tracker))
        return result

    async def validate_fault_description(self, value: Any, dispatcher: CollectingDispatcher,
                                         tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if len(text) < 2:
            dispatcher.utter_message(response="utter_fault_description_too_short")
            return {"fault_description": None}
        return {"fault_description": text[:500]}

    async def validate_contact_phone(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if value == REGISTERED and len(digits_only(tracker.get_slot("account_no"))) == 10:
            return {"contact_phone": REGISTERED}
        contact = parse_contact(value)
        if not contact:
            dispatcher.utter_message(response="utter_contact_phone_not_found")
            return {"contact_phone": None}
        return {"contact_phone": contact}


FAULT_RESET = reset_form_slots("fault_form") + [SlotSet("address_checked", None), SlotSet("api_failed", False)]


class ActionSubmitFault(Action):
    def name(self) -> Text:
        return "action_submit_fault"

    @staticmethod
    async def _open_report_for(ticket_no: Optional[str], address: str) -> Optional[str]:
        """The repair ticket this conversation already opened for the same address, if still open."""
        if not ticket_no or not str(ticket_no).upper().startswith("BX") or not address:
            return None
        try:
            ticket = await api_client.get_ticket(ticket_no)
        except api_client.ApiError:
            return None  # cannot tell: a second report is better than none
        same_place = same_place_as((ticket.get("details") or {}).get("address"), address)
        still_open = ticket.get("status") not in DONE_STATUSES
        return ticket.get("ticket_no") if same_place and still_open else None

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("api_failed"):
            events = identity_blocked_reply(dispatcher, tracker)
            return events + FAULT_RESET + finish_service(dispatcher, tracker, served=False)
        hazard = bool(tracker.get_slot("hazard"))
        if tracker.get_slot("outage_notice") and not hazard:
            dispatcher.utter_message(response="utter_outage_explains_no_power")
            return FAULT_RESET + finish_service(dispatcher, tracker, served=True)

        address = tracker.get_slot("address") or ""
        description = tracker.get_slot("fault_description") or ""
        earlier = None if hazard else await self._open_report_for(tracker.get_slot("last_ticket_no"), address)
        if earlier:
            # A second report for the same address minutes later would send a second crew.
            dispatcher.utter_message(response="utter_fault_already_reported", ticket_no=earlier)
            return FAULT_RESET + finish_service(dispatcher, tracker, served=True, ticket_no=earlier,
                                                business_done=False)
        registered_contact = tracker.get_slot("contact_phone") == REGISTERED
        # The account the customer named (an existing one), so staff see whose report it is.
        account_no = await stated_account(tracker)
        # Decided with the address (account, areas.yml or the customer's answer); without it
        # the gateway looks the address up in areas.yml itself.
        area_type = (tracker.get_slot("repair_area_type") if tracker.get_slot("repair_area_type") != UNKNOWN_AREA
                     else None) or (
            tracker.get_slot("area_type") if tracker.get_slot("address_from_account") else None)
        hazards = find_hazards(description) if hazard else []
        payload = {
            "type": "repair",
            "summary": f"{'【紧急】' if hazard else ''}{address}：{description}"[:500],
            "channel": channel_of(tracker),
            "priority": "urgent" if hazard else "normal",
            "account_no": account_no,
            "conversation_id": tracker.sender_id,
            "area_type": area_type,
            "contact_phone": None if registered_contact else tracker.get_slot("contact_phone"),
            "details": {"address": address, "description": description,
                        "hazard": hazard, "hazard_words": hazards},
            "request_key": request_key(tracker, "repair"),
        }
        try:
            ticket = await api_client.create_ticket({k: v for k, v in payload.items() if v is not None})
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            if hazard:
                dispatcher.utter_message(response="utter_fault_urgent_call_hotline")
            dispatcher.utter_message(response="utter_offer_human")
            return FAULT_RESET + [SlotSet("handoff_reason", "api_failure")]

        ticket_no = ticket["ticket_no"]
        # utter_fault_filed[_urgent]_{in_minutes,by,soon}[_contact]: urgent or not, the arrival
        # committed in minutes, by a time or not known, the contact phone said back or none.
        values = {"ticket_no": ticket_no}
        arrival = arrival_milestone(ticket)
        if arrival and arrival.get("due_at"):
            minutes = minutes_between(ticket.get("created_at"), arrival["due_at"])
            values["due"] = format_time(arrival["due_at"])
            when = "in_minutes" if minutes else "by"
            if minutes:
                values["minutes"] = str(minutes)
        else:
            when = "soon"
        # The registered phone was announced when it was chosen; it is never shown.
        contact = None if tracker.get_slot("contact_phone") == REGISTERED else tracker.get_slot("contact_phone")
        if contact:
            values["masked_phone"] = mask_phone(contact)
        response = f"utter_fault_filed{'_urgent' if hazard else ''}_{when}{'_contact' if contact else ''}"
        dispatcher.utter_message(response=response, **values)
        overdue = None if hazard else await overdue_behind_a_dark_home(tracker, account_no, description)
        if overdue:
            # A 95598 agent says it: the crew may find the meter cut for arrears, paying brings it back.
            dispatcher.utter_message(response="utter_fault_filed_overdue_note", months=overdue[0], total=overdue[1])
        # Registered is not repaired: the satisfaction question waits for the end of the conversation.
        events = FAULT_RESET + [SlotSet("last_ticket_no", ticket_no)] + \
            finish_service(dispatcher, tracker, served=True, ticket_no=ticket_no, business_done=False)
        if tracker.get_slot("feedback_type") and tracker.get_slot("feedback_content"):
            # "修完了我还要投诉 老这么停谁受得了" said during the report: the complaint next, on
            # the phone the crew calls.
            events += [SlotSet("contact_phone", tracker.get_slot("contact_phone")), FollowupAction("feedback_form")]
        elif fault_with_bill_aside(opening_text(tracker, "fault_form")):
            events += [FollowupAction("bill_form")]  # "…没电了 顺便问下电费多少": the bill next
        return events


# Words of the customer's bills ("有个月忘交了", "违约金"): a bill matter when nothing tells of a fault.
BILL_NOT_FAULT = re.compile(r"电费|欠费|忘交|忘缴|没交|没缴|交费|缴费|账单|违约金|滞纳金|扣费|扣款")


# Others without power too: a line or an area, not one account cut for arrears.
OTHERS_DARK_TOO = re.compile(r"整栋|整幢|整个(小区|村|楼)|一片|全村|整条|(邻居|隔壁|对面|楼上|楼下|周围|附近)[^，,。有]{0,4}(也|都)(没|停|断|黑)")
HOME_DARK = re.compile(r"没电|停电|断电|不来电|么得电|没得电|黑了|没有电")


async def overdue_behind_a_dark_home(tracker: Tracker, account_no: Optional[str],
                                     description: str) -> Optional[Tuple[str, str]]:
    """(months, total) of the overdue bills of the verified account whose home is dark, None
    otherwise: identity first, then only a whole home without power can be a cut for arrears."""
    if not account_no or not (tracker.get_slot("identity_verified")
                              and tracker.get_slot("verified_account_no") == account_no):
        return None
    if not HOME_DARK.search(description or "") or OTHERS_DARK_TOO.search(description or ""):
        return None
    from actions.bills import months_of  # bills imports this module

    try:
        bills = await api_client.get_bills(account_no)
    except api_client.ApiError:
        return None  # the ticket stands; the crew checks the meter anyway
    overdue = [b for b in bills if b.get("status") == "overdue"]
    if not overdue:
        return None
    return months_of(overdue), f"{sum(float(b.get('amount') or 0) for b in overdue):.2f}"


def minutes_between(start: Optional[str], end: Optional[str]) -> Optional[int]:
    """Whole minutes of a committed time ("45分钟内"), None when not known or over a day."""
    begun, due = parse_iso(start), parse_iso(end)
    if not begun or not due or due <= begun:
        return None
    minutes = round((due - begun).total_seconds() / 60)
    return minutes if minutes <= 24 * 60 else None


def about_notice_subscriptions(text: str) -> bool:
    """"停电通知不要再发了", "重新订阅停电通知", "我的订阅": the customer's own notices."""
    from actions.notices import LIST_WORDS, OFF_WORDS

    return bool(re.search(r"通知|提醒|订阅", text)) and bool(OFF_WORDS.search(text) or LIST_WORDS.search(text)
                                                           or re.search(r"重新订阅|订阅.{0,4}(通知|提醒)", text))

# Words of an outage question; without any, the outage form was opened for something else.
OUTAGE_SUBJECT = re.compile(r"停电|停不停|断电|来电|没电|有电|检修|停了|停多久|停到|计划|通知|恢复|复电|送电|供电|抢修|故障|黑")


class ValidateOutageForm(BaseFormValidation, AddressValidation, FormValidationAction):
    def name(self) -> Text:
        return "validate_outage_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        reassured = await reassure_after_filing(dispatcher, tracker)  # "好 我在家等着" after a repair
        if reassured:
            return reassured
        if tracker.get_slot("requested_slot") is None and about_notice_subscriptions(latest_text(tracker)):
            # "停电通知不要再发了": the customer's notices, not an outage question.
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_manage_notices")]
        if suspects_arrears(tracker):
            # "我茶社今天被停电了 是不是欠费了 要怎么才能来电": the bills first, not the outage plans.
            return arrears_check_first(dispatcher, tracker)
        from actions.faq import asks_power_back_after_paying, asks_whether_to_report_after_arrears  # faq imports this module

        said = latest_text(tracker)
        if tracker.get_slot("requested_slot") is None and (is_reconnection(said) or asks_power_back_after_paying(said)
                                                            or asks_whether_to_report_after_arrears(tracker)):
            # "我刚才用微信把欠的电费交了 什么时候能来电啊": when power returns after paying (the
            # rule, then the account's bills), not the outage plans of an address.
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_answer_faq")]
        if tracker.get_slot("requested_slot") is None and not OUTAGE_SUBJECT.search(said):
            from actions.faq import answer_topic, topic_by_words

            worded = topic_by_words(said)
            if worded and answer_topic(worded, dispatcher, tracker, domain):
                # "峰谷电到底几点算谷电 开这个划得来伐" (NLU heard an outage question): no word of
                # an outage; the question its words name is answered, no address is asked.
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("faq_topic", worded),
                        FollowupAction("action_listen")]
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        return [] if tracker.get_slot("api_failed") else ["address"]

    async def validate_address(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") == "address" and isinstance(value, str):
            value = whole_address(value, latest_text(tracker))  # "白马镇 曹家桥村": not just 白马镇
        problem = await self._check_address(value, dispatcher, tracker)
        if problem is not None:
            return problem
        return {**self._account_slots(tracker), "address": value}


# "我店里没电了", "今天咋也没电了 你们派人来看看吧": power is out now (not a question about plans).
# "好了 没事了", "就这样吧": nothing more is needed.
NOTHING_MORE_NEEDED = re.compile(r"(没事了|没啥事了|没什么事了|没别的事了?|就这样吧?)[啊吧哈呀。.!！~～]*\s*$")
# "小区门口路灯坏了好几天了": a street light out is the city's or the property's, not a repair of ours.
STREET_LIGHT_OUT = re.compile(r"路灯[^，,。？?]{0,8}(坏|不亮|灭|黑|闪|没亮|没开)")
NO_POWER_NOW = re.compile(r"(店里|家里|我家|屋里|厂里|我们这|这边)?[^，,。？?]{0,4}(没电了|没有电了|么得电|没得电|不来电|断电了|停电了)|"
                          r"(今天|现在|这会儿)[^，,。]{0,4}(也|还)?没电|派人来|来人看|过来看看|来看看|来修")


# "不是说过几天才停么 咋今天就么得了": why the power is out today when the plan is for later.
WHY_OUT_TODAY = re.compile(r"(咋|怎么|为啥|为什么|凭啥)(今天|现在|这会儿)(就)?(停|没电|么得|断)|不是说.{0,8}(才停|停电|检修)")
# A tip-off (or complaint) said in the same breath as a fault: "我要举报…现在我们这栋楼都没电了".
ALSO_REPORTS = re.compile(r"(我|我们)?(要|想)(举报|投诉)|举报(一下|个)|" + ILLEGAL_USE.pattern)
# "根本没人用电 肯定是抄错了", "读数不对": the meter reading disputed.
READING_DISPUTE = re.compile(r"抄错|估抄|瞎估|乱估|估的|读数(不对|错)|没人抄|没来抄|抄表的?(根本)?没来|算错了?|多算|多收")
# "一个月停了五六回了", "三天两头停电": outages too often, told as a grievance.
OUTAGES_TOO_OFTEN = re.compile(r"(停|断)了?[一二两三四五六七八九十\d]+(回|次|趟)|三天两头|隔三差五|老是?停电?|总是?停电|经常停|动不动就停|"
                               r"第[二三四五六七八九十\d]+(回|次)(停|断)")


# "附近几栋楼都黑了": the lights are out around the customer now.
# "刚才是不是又停电了 停了半个钟头才来", "现在已经来电了": the power is back; an outage told of, no
# fault to repair now.
POWER_BACK_NOW = re.compile(r"才来(电)?|(已经|现在|又|总算|终于)(来电|有电|恢复)了?|来电了|电来了|恢复(供电|用电)?了")
DARK_AROUND = re.compile(r"(都|也|全|全部|一片)黑了?|黑灯瞎火|一片漆黑")
# "听说明天要停电了", "通知上说…": talk of a planned outage, not of the power out now.
PLANS_TALK = re.compile(r"要停电|会停电|听说|计划|通知(上|里)?说|安排|过几天|明天|后天")


# "冰柜里的东西要不要拿出来": food in a fridge through the outage.
FRIDGE_WORDS = re.compile(r"冰箱|冰柜|冷柜|冷库|冻品|冻的|海鲜|鱼缸|氧气泵")


def outage_told_lately(tracker: Tracker, outage: Dict[str, Any]) -> bool:
    """Whether this outage's times were told in the last two answers."""
    start, end = said_span(outage)
    return any(start in text and end in text for text in bot_texts_within(tracker, 2))


NO_OUTAGE_ANSWERS = ("utter_no_outage", "utter_no_outage_registered", "utter_no_outage_again")


def no_outage_told_lately(tracker: Tracker) -> bool:
    """Whether "no outage known" was the answer to one of the customer's last three messages."""
    return any(action in NO_OUTAGE_ANSWERS for action in bot_responses_within(tracker, 3))


def utter_outage_followup(dispatcher: CollectingDispatcher, outage: Dict[str, Any], text: str) -> None:
    """"哪一天 停多久", "晚上停啊 那冰柜里的东西要不要拿出来 停到早上几点" right after the outage was
    told: the span asked about, said plainly, and the fridge advice asked for — not the same
    notice again."""
    start, end = parse_iso(outage.get("start")), parse_iso(outage.get("end"))
    if not (start and end):
        utter_outage(dispatcher, outage, tell_place=False)
        return
    said_start, said_end = said_span(outage)
    dispatcher.utter_message(response="utter_outage_span", start=said_start, end=said_end,
                             hours="%g" % round((end - start).total_seconds() / 3600, 1))
    if FRIDGE_WORDS.search(text):
        dispatcher.utter_message(response="utter_outage_fridge_tip")


def going_on(outage: Dict[str, Any]) -> bool:
    start, end = parse_iso(outage.get("start")), parse_iso(outage.get("end"))
    now = now_shanghai()
    return bool(start and end and start <= now < end)


class ActionQueryOutage(Action):
    def name(self) -> Text:
        return "action_query_outage"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("api_failed"):
            return identity_blocked_reply(dispatcher, tracker) + [SlotSet("address", None)] + \
                finish_service(dispatcher, tracker, served=False)
        address = tracker.get_slot("address")
        from_account = tracker.get_slot("address_from_account") and tracker.get_slot("account_no")
        try:
            outages = await api_client.find_outages(
                address=None if from_account else address,
                account_no=tracker.get_slot("account_no") if from_account else None, **asker(tracker))
        except api_client.RateLimited:
            dispatcher.utter_message(response="utter_rate_limited")
            return [SlotSet("address", None)] + finish_service(dispatcher, tracker, served=False)
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return [SlotSet("handoff_reason", "api_failure")] + finish_service(dispatcher, tracker, served=False)
        # "查电费，顺便问问明天停不停电": the other request of the opening message comes next.
        nxt = second_request_events(opening_text(tracker, "outage_form") or "", "outage_form",
                                    paused=bool(tracker.get_slot("paused_form")))
        today = now_shanghai().date()
        # The day may have been said with the question, before the address was asked.
        days = asked_days(latest_text(tracker), today) or asked_days(opening_text(tracker, "outage_form") or "", today)
        if outages and days is not None:
            # "礼拜六有没有", "明天停不停电": the day asked is answered first.
            first, last, said = days
            that_day = [o for o in outages if on_days(o, first, last)]
            if not that_day:
                days_said = f"{first.month}月{first.day}日" + (f"至{last.month}月{last.day}日" if last != first else "")
                dispatcher.utter_message(response="utter_outage_none_that_day", day_said=said, days=days_said)
            outages = that_day or outages
        out_now = any(NO_POWER_NOW.search(said) and not POWER_BACK_NOW.search(said) for said in
                      (latest_text(tracker), opening_text(tracker, "outage_form") or ""))
        if outages and all(outage_told_lately(tracker, outage) for outage in outages[:3]) and not out_now:
            for outage in outages[:3]:
                utter_outage_followup(dispatcher, outage, latest_text(tracker))
            return [SlotSet("outage_shown_for", address), SlotSet("address_checked", address)] + \
                finish_service(dispatcher, tracker, served=True, more_to_come=bool(nxt)) + nxt
        if outages:
            for outage in outages[:3]:
                utter_outage(dispatcher, outage, place_may_be_told(tracker))
            if out_now and not any(going_on(outage) for outage in outages):
                # "中华路是不是在检修啊 我店里没电了": the outage listed is another day's; the
                # power is out now, so it is a fault to repair, at this address.
                dispatcher.utter_message(response="utter_outage_not_now_repair")
                return [SlotSet("outage_shown_for", address), SlotSet("address_checked", None),
                        SlotSet("address", address), FollowupAction("fault_form")]
            # Keeps the address: a fault report right after need not ask it again.
            return [SlotSet("outage_shown_for", address), SlotSet("address_checked", address)] + \
                finish_service(dispatcher, tracker, served=True, more_to_come=bool(nxt)) + nxt
        said_now = latest_text(tracker) + " " + (opening_text(tracker, "outage_form") or "")
        if (out_now or DARK_AROUND.search(said_now)) and days is None and not PLANS_TALK.search(said_now) \
                and not POWER_BACK_NOW.search(said_now):
            # "我们这片怎么都停电了 是不是在检修啊": no outage is known, so the power out now is a
            # fault: repaired at this address, not offered.
            dispatcher.utter_message(response="utter_no_outage_repair")
            return [SlotSet("address_checked", None), SlotSet("address", address),
                    SlotSet("fault_description", (opening_text(tracker, "outage_form") or latest_text(tracker))[:500]),
                    FollowupAction("fault_form")]
        if no_outage_told_lately(tracker):
            # The address or 户号 made more precise after "no outage": not the same text again.
            dispatcher.utter_message(response="utter_no_outage_again")
        elif from_account and not place_may_be_told(tracker):
            dispatcher.utter_message(response="utter_no_outage_registered")
        else:
            dispatcher.utter_message(response="utter_no_outage")
        return [SlotSet("address_checked", None)] + \
            finish_service(dispatcher, tracker, served=True, more_to_come=bool(nxt)) + nxt
