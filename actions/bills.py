"""Bills: identity check, the bill of the month asked, why it is high, arrears."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.responses import echoed
from actions.tariffs import time_of_use
from actions.common import (
    AMOUNT_DOUBTED,
    PREVIOUS_HOLDER,
    earlier_customer_texts,
    entity_values,
    DARK_NOW,
    REQUEST_SUBJECT_WORDS,
    slot_before_this_message,
    bot_texts_within,
    BaseFormValidation,
    IdentityValidation,
    NO_ACCOUNT_NO,
    add_to_just_filed,
    channel_of,
    finish_service,
    payment_not_shown_yet,
    format_date,
    format_time,
    identity_blocked_reply,
    identity_missing,
    latest_text,
    next_deadline,
    reset_form_slots,
    normalize_period,
    MONTHS_AGO,
    opening_text,
    period_label,
    request_key,
    second_request_events,
    scam_answer,
)
from actions.faults import fault_part, fault_with_bill_aside, is_reconnection
from actions.notices import usage_chart_reply, wants_usage_chart

# The bill's status, a word of the bill's line "· 状态：…" (utter_bill_details).
STATUS_TEXT = {"paid": "已缴清", "unpaid": "待缴费", "overdue": "已逾期，尚未缴费"}
TIER_NAMES = {1: "第一档", 2: "第二档", 3: "第三档"}


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _kwh(value: Any) -> str:
    number = _num(value)
    return f"{number:.0f}" if number == int(number) else f"{number:.1f}"


def _yuan(value: Any) -> str:
    return f"{_num(value):.2f}"


def tier_name(tier: Dict[str, Any]) -> str:
    return TIER_NAMES.get(int(tier.get("tier", 0)), f"第{tier.get('tier')}档")


def months_of(bills: List[Dict[str, Any]]) -> str:
    """"2026年9月、2026年10月": the months of the bills, oldest first."""
    return "、".join(period_label(b["period"]) for b in sorted(bills, key=lambda b: b["period"]))


# The optional lines of a bill and of its explanation are lists of any length (tiers, the
# peak/valley parts) and lines present or not: Rasa's templates have neither loops nor
# conditions, so these pieces are assembled here and handed to the response as one value.


def time_of_use_line(bill: Dict[str, Any]) -> str:
    """Peak and valley kWh with the prices they are billed at (tariffs.yml)."""
    tou = time_of_use()
    parts = []
    for key, name in (("peak", "峰段"), ("valley", "谷段")):
        kwh = _kwh(bill.get(f"{key}_kwh"))
        info = tou.get(key) or {}
        if info.get("price") is not None:
            parts.append(f"{name}（{info.get('hours')}）{kwh} 度 × {_num(info['price']):.4f} 元/度")
        else:
            parts.append(f"{name} {kwh} 度")
    return "· 峰谷分时：" + "；".join(parts)


def bill_details(bill: Dict[str, Any], account_no: str) -> Dict[str, str]:
    """The values of utter_bill_details."""
    lines = []
    tiers = bill.get("tiers") or []
    if bill.get("peak_kwh") is not None and bill.get("valley_kwh") is not None:
        lines.append(time_of_use_line(bill))
    surcharges = [t for t in tiers if t.get("surcharge")]
    prices = [t for t in tiers if not t.get("surcharge")]
    if prices:
        parts = [f"{tier_name(t)} {_kwh(t.get('kwh'))} 度 × {_num(t.get('price')):.4f} 元/度" for t in prices]
        lines.append("· 阶梯：" + "；".join(parts))
    if surcharges:
        # Time-of-use households pay the tier surcharge on top of the peak/valley price: the
        # rows are surcharges, never prices.
        extra = [t for t in surcharges if _num(t.get("kwh")) > 0 and _num(t.get("price")) > 0]
        if extra:
            parts = [f"{tier_name(t)} {_kwh(t.get('kwh'))} 度每度加价 {_num(t.get('price')):.2f} 元" for t in extra]
            lines.append("· 阶梯加价：" + "；".join(parts))
        else:
            lines.append("· 阶梯加价：用电量在第一档以内，没有加价")
    status = STATUS_TEXT.get(bill.get("status", ""), bill.get("status") or "")
    if bill.get("status") == "paid" and bill.get("paid_at"):
        status += f"（{format_date(bill['paid_at'])}缴费）"
    return {"month": period_label(bill["period"]), "tail": account_no[-4:], "kwh": _kwh(bill.get("kwh")),
            "usage_lines": "".join("\n" + line for line in lines), "amount": _yuan(bill.get("amount")),
            "due_date": format_date(bill.get("due_date")), "status": status}


# A follow-up on the bill just shown ("那我是不是还没交", "峰段谷段各用了多少") asks one thing of it:
# that thing is answered alone, never the whole bill again.
FOLLOW_UP_ASPECTS = (
    ("time_of_use", re.compile(r"峰|谷")),
    ("payment", re.compile(r"交了?没|交没交|缴了?没|缴没缴|[没未]交|[没未]缴|欠不欠|欠费|欠[了着]?多少|交清|缴清|结清|截止|最晚"
                           r"|[几哪].{0,2}[号天].{0,3}交|什么时候交|啥时候交|[要该得]交多少|交多少")),
    ("usage", re.compile(r"多少度|几度|用电量|用了?多少电|用多少电")),
)


# "余额还有多少" / "预存的钱还剩多少" / "还能用几天": the prepaid balance, not a month's bill.
BALANCE_WORDS = re.compile(r"余额|预存|预付费?|还剩多少钱|还剩多少|剩多少钱|还有多少钱|充的钱|充值的钱")
# At or below this a prepaid customer is told to top up (the first threshold of the low-balance notice).
LOW_BALANCE_YUAN = 30


def asks_for_balance(text: str) -> bool:
    return bool(BALANCE_WORDS.search(text or ""))


async def balance_reply(tracker: Tracker, account_no: str, asked: bool) -> Optional[Tuple[str, Dict[str, str]]]:
    """The prepaid balance of the account (always shown with a prepaid account's bill), or, when
    the customer asked for a balance and the account is post-paid, that there is none."""
    try:
        account = await api_client.get_account(account_no, conversation_id=tracker.sender_id)
    except api_client.ApiError:
        return None  # the bill itself has been answered; the balance is a side line
    balance = account.get("balance")
    if balance is None:
        return ("utter_bill_postpaid_no_balance", {}) if asked else None
    amount = _num(balance)
    if amount < 0:
        return "utter_bill_prepaid_balance_negative", {"owed": f"{-amount:.2f}"}
    if amount <= LOW_BALANCE_YUAN:
        return "utter_bill_prepaid_balance_low", {"balance": f"{amount:.2f}"}
    return "utter_bill_prepaid_balance", {"balance": f"{amount:.2f}"}


def follow_up_aspect(text: str) -> Optional[str]:
    return next((aspect for aspect, pattern in FOLLOW_UP_ASPECTS if pattern.search(text)), None)


def follow_up_reply(aspect: str, bill: Dict[str, Any], bills: List[Dict[str, Any]]
                    ) -> List[Tuple[str, Dict[str, str]]]:
    """The responses (with their values) that answer one aspect of a bill already shown."""
    month = period_label(bill["period"])
    if aspect == "time_of_use":
        if bill.get("peak_kwh") is None or bill.get("valley_kwh") is None:
            return [("utter_bill_follow_up_not_time_of_use", {"month": month, "kwh": _kwh(bill.get("kwh"))})]
        return [("utter_bill_follow_up_time_of_use", {
            "month": month, "kwh": _kwh(bill.get("kwh")),
            "parts": time_of_use_line(bill).removeprefix("· 峰谷分时：")})]
    if aspect == "usage":
        return [("utter_bill_follow_up_usage", {"month": month, "kwh": _kwh(bill.get("kwh")),
                                                "amount": _yuan(bill.get("amount"))})]
    replies: List[Tuple[str, Dict[str, str]]] = []
    if bill.get("status") == "paid":
        paid_on = f"（{format_date(bill['paid_at'])}缴费）" if bill.get("paid_at") else ""
        replies.append(("utter_bill_follow_up_paid", {"month": month, "amount": _yuan(bill.get("amount")),
                                                      "paid_on": paid_on}))
    elif bill.get("status") == "unpaid":
        replies.append(("utter_bill_follow_up_unpaid", {"month": month, "amount": _yuan(bill.get("amount")),
                                                        "due_date": format_date(bill.get("due_date"))}))
    others = arrears_reply(bills, shown_period=bill["period"])
    if others and others[0] != "utter_bill_pay_by_due_date":
        replies.append(others)
    return replies


def arrears_reply(bills: List[Dict[str, Any]],
                  shown_period: Optional[str] = None) -> Optional[Tuple[str, Dict[str, str]]]:
    """What is still to pay, worded against the bill just shown (its status is already there):
    the response and its values."""
    overdue = [b for b in bills if b.get("status") == "overdue"]
    if overdue:
        total = sum(_num(b.get("amount")) for b in overdue)
        return "utter_bill_overdue", {"count": str(len(overdue)), "months": months_of(overdue),
                                      "total": f"{total:.2f}"}
    unpaid = [b for b in bills if b.get("status") == "unpaid"]
    if not unpaid:
        return None
    others = [b for b in unpaid if b.get("period") != shown_period]
    if not others:
        return "utter_bill_pay_by_due_date", {}
    total = sum(_num(b.get("amount")) for b in others)
    also = len(others) < len(unpaid) or bool(shown_period)
    return ("utter_bill_also_unpaid" if also else "utter_bill_unpaid"), {"months": months_of(others),
                                                                         "total": f"{total:.2f}"}


def previous_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return f"{year:04d}-{month:02d}"


def reason_reply(bill: Dict[str, Any], previous: Optional[Dict[str, Any]]) -> Tuple[str, Dict[str, str]]:
    """Why the bill is what it is: the response (compared with the previous month's or not)
    and its values."""
    kwh, amount = _num(bill.get("kwh")), _num(bill.get("amount"))
    values = {"month": period_label(bill["period"]), "kwh": _kwh(kwh), "amount": f"{amount:.2f}"}
    if previous:
        response = "utter_bill_reason_compared"
        prev_kwh, prev_amount = _num(previous.get("kwh")), _num(previous.get("amount"))
        diff_kwh, diff_amount = kwh - prev_kwh, amount - prev_amount
        # The change's direction picks the words: a sign the template cannot choose.
        if prev_kwh > 0:
            trend = f"多用了 {_kwh(diff_kwh)} 度（{diff_kwh / prev_kwh:+.0%}）" if diff_kwh >= 0 \
                else f"少用了 {_kwh(-diff_kwh)} 度（{diff_kwh / prev_kwh:+.0%}）"
        else:
            trend = f"多用了 {_kwh(diff_kwh)} 度"
        money = f"电费多了 {diff_amount:.2f} 元" if diff_amount >= 0 else f"电费少了 {-diff_amount:.2f} 元"
        values.update(previous_month=period_label(previous["period"]), previous_kwh=_kwh(prev_kwh),
                      previous_amount=f"{prev_amount:.2f}", trend=trend, money_change=money)
    else:
        response = "utter_bill_reason_uncompared"
    lines = []
    tiers = sorted(bill.get("tiers") or [], key=lambda t: int(t.get("tier", 0)))
    upper = [t for t in tiers if int(t.get("tier", 0)) > 1 and _num(t.get("kwh")) > 0]
    if tiers and upper and any(t.get("surcharge") for t in tiers):
        parts = [f"{_kwh(t.get('kwh'))} 度进入{TIER_NAMES.get(int(t['tier']), '更高档')}，每度加价 "
                 f"{_num(t.get('price')):.2f} 元" for t in upper]
        lines.append("您执行峰谷分时电价，同时按阶梯加价：用得越多，超出部分每度加价越多。本月有" + "；".join(parts) + "。")
    elif tiers and upper:
        base_price = _num(tiers[0].get("price"))
        parts = [f"{_kwh(t.get('kwh'))} 度进入{TIER_NAMES.get(int(t['tier']), '更高档')}，"
                 f"按 {_num(t.get('price')):.4f} 元/度计费（比第一档每度贵 {_num(t.get('price')) - base_price:.2f} 元）"
                 for t in upper]
        lines.append("居民用电实行阶梯电价，用得越多，超出部分的单价越高。本月有" + "；".join(parts) + "。")
    elif tiers:
        lines.append("本月用电都在第一档以内，单价没有上浮，电费变化主要来自用电量。")
    if bill.get("peak_kwh") is not None and kwh > 0:
        share = _num(bill["peak_kwh"]) / kwh
        lines.append(f"峰段用电占 {share:.0%}。峰段电价较高，把洗衣、热水器、电动车充电等放到夜间谷段，能省一些电费。")
    if previous and kwh > _num(previous.get("kwh")):
        lines.append("天冷天热时空调、取暖器用得多，用电量通常会明显上升。如果您觉得读数有误，可以申请电表校验。")
    values["explanation"] = "".join("\n" + line for line in lines)
    return response, values


# "我不会用手机 电费到哪里交啊": where or how to pay, a question for everyone, no bill asked for.
ASKS_WHERE_TO_PAY = re.compile(r"(在|到|去|上)?(哪里|哪儿|哪块|哪边|哪个地方|啥地方|什么地方|哪)(能|可以)?(交|缴)|怎么(交|缴)|咋(交|缴)|如何(交|缴)|"
                               r"(银行|营业厅|支付宝|微信|邮局|超市)[^，,。]{0,4}(能|可以)(交|缴)|"
                               # "顺便问下能不能微信交"
                               r"(能不能|可不可以|可以|能)(用)?(微信|支付宝|手机|网上|银行卡)[^，,。？?]{0,3}(交|缴|付)|"
                               r"(交|缴)(电)?费[^，,。]{0,3}(在哪|去哪|哪里|怎么弄|咋弄)")
ASKS_OWN_BILL = re.compile(r"多少钱|欠多少|欠了多少|多少度|账单|交了没|交过|交没交|上个月|这个月|本月|几月|\d{10}")


# Words that name the bill itself (a bill query must say what it is about).
BILL_NAMED = re.compile(r"电费|账单|欠费|欠了?多少|交了?没|缴费|余额|用电量|用了多少|多少度|几度|多少钱|\d{10}|户号")
# What a bill query was opened for, kept whatever a later message is heard as.
KEPT_QUERIES = ("suspect_arrears", "reconnect")


def query_kept_for_the_form(tracker: Tracker) -> Optional[str]:
    """What the bill form was opened for when that is kept (KEPT_QUERIES): set by the action that
    opened it ("会不会是欠费停的" at a repair's phone question: the check for arrears), which the
    form's own mapping from the intent then overwrote in the same turn; else the slot as it was
    before the customer's latest message."""
    events = tracker.events
    opened = max((i for i, e in enumerate(events) if e.get("event") == "active_loop" and e.get("name") == "bill_form"),
                 default=None)
    if opened is not None:
        start = max((i for i, e in enumerate(events[:opened]) if e.get("event") == "user"), default=0)
        kept = [e.get("value") for e in events[start:opened]
                if e.get("event") == "slot" and e.get("name") == "bill_query" and e.get("value") in KEPT_QUERIES]
        if kept:
            return kept[-1]
    return slot_before_this_message(tracker, "bill_query")


# "原房东还欠点电费 这个要我出吗", "上家欠的电费谁交": who pays the previous holder's arrears.
PREVIOUS_HOLDERS_DEBT = re.compile(r"欠[^，,。？?]{0,6}(电费|钱|费)[^？?]{0,12}(要我|我来|让我|谁|要不要|我要)[^，,。]{0,3}(出|交|付|还|缴|承担|负责)|"
                                   r"欠[^，,。？?]{0,8}(电费|钱|费)[^，,。？?]{0,6}(怎么办|咋办|怎么弄|咋弄)")


class ValidateBillForm(BaseFormValidation, IdentityValidation, FormValidationAction):
    def name(self) -> Text:
        return "validate_bill_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        text = latest_text(tracker)
        scam = scam_answer(dispatcher, tracker)
        if scam is not None:
            return scam  # "【95598】您家电费已欠费三个月…请速加微信…缴费 这是你们发的？"
        if tracker.get_slot("requested_slot") is None and PREVIOUS_HOLDER.search(text) \
                and PREVIOUS_HOLDERS_DEBT.search(text):
            # "听说原房东还欠点电费 这个要我出吗" (a buyer's name transfer): whose debt it is, not
            # the seller's bills shown to the buyer.
            dispatcher.utter_message(response="utter_previous_holder_arrears")
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("bill_query", None),
                    FollowupAction("action_listen")]
        insisted = payment_not_shown_yet(dispatcher, tracker) if tracker.get_slot("requested_slot") is None else None
        if insisted is not None:
            # "交了六百 就一个钟头之前 在村口超市交的" (heard as a bill query) right after the bills
            # still showed the arrears: not the same bills again.
            return insisted
        if tracker.get_slot("requested_slot") is None and not BILL_NAMED.search(text):
            # "你们要查一查 别让老人上当" right after a tip-off was registered (查 heard as a bill
            # query): more of that story, kept on its ticket; no bill is looked up.
            added = await add_to_just_filed(dispatcher, tracker, request_unnamed=True)
            if added:
                return added
        kept = query_kept_for_the_form(tracker)
        if kept in KEPT_QUERIES and tracker.get_slot("bill_query") != kept:
            # "3201000018" heard as a bill query while the bills are checked for a power cut: the
            # slot's mapping from that intent would turn the check into a plain bill.
            tracker.slots["bill_query"] = kept
            events = await super().run(dispatcher, tracker, domain)
            return [SlotSet("bill_query", kept)] + [e for e in events if e.get("name") != "bill_query"]
        if tracker.get_slot("requested_slot") is None and not REQUEST_SUBJECT_WORDS["query_bill"].search(text) \
                and DARK_NOW.search(text) and slot_before_this_message(tracker, "bill_query") not in KEPT_QUERIES:
            # "同志啊 俺家电没得了 从早上到现在" (NLU heard a bill query): no word of a bill; power
            # is gone: a repair (the fault form checks for outages and arrears first).
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("fault_description", text[:500]),
                    FollowupAction("fault_form")]
        if tracker.get_slot("requested_slot") is None and fault_with_bill_aside(text) \
                and not tracker.get_slot("identity_verified"):
            # "家里突然没电了 顺便问下我这个月电费多少": the repair first (the crew is on its way
            # sooner), the bill after it (action_submit_fault serves the rest of the message).
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("fault_description", fault_part(text)[:500]),
                    FollowupAction("fault_form")]
        if tracker.get_slot("requested_slot") is None and not ASKS_OWN_BILL.search(text) \
                and not re.search(r"我家|我的|俺家|家里", text):
            from actions.faq import answer_topic, topic_by_words  # faq imports the forms' modules

            tariff = topic_by_words(text)
            if tariff in TARIFF_TOPICS and answer_topic(tariff, dispatcher, tracker, domain):
                # "峰谷电是怎么收费的 我想了解下" (NLU heard a bill query): how the tariff works is
                # no one's bill; answered without asking for a 户号.
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("faq_topic", tariff),
                        FollowupAction("action_listen")]
        if tracker.get_slot("requested_slot") is None and ASKS_WHERE_TO_PAY.search(text) \
                and not ASKS_OWN_BILL.search(text):
            from actions.faq import answer_topic  # faq imports the forms' modules

            if answer_topic("payment_channels", dispatcher, tracker, domain):
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("faq_topic", "payment_channels"),
                        FollowupAction("action_listen")]
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        return identity_missing(tracker)


# How a tariff works: the same for everyone, no account needed.
TARIFF_TOPICS = {"tiered_tariff", "peak_valley_prices", "peak_valley_hours", "late_fee"}


# Personal words of a payment already made ("我刚交了", "已经缴了"): the customer waits for power.
PAID_WORDS = re.compile(r"(刚|已经|已|都|才|昨天|今天|上午|下午|早上|晚上|刚刚)?(交|缴|充|付|补交|补缴)(了|完|过|上|掉|好了)"
                        r"|交完|缴完|缴清|交清|付了|充值了|支付宝|微信|网上国网"
                        # "钱都交到村里代收点了", "缴给收费员了": paid somewhere, done.
                        r"|(?<![忘没未不])(交|缴)(到|给|在)[^，,。？?\s]{1,8}了")
# "超过24小时", "一天了", "两天了": longer than the reconnection promise.
OVERDUE_WAIT = re.compile(r"(超过|过了|已经|都)\s*(24|二十四)\s*(个)?小时|[一两三四五六七八九十1-9]\s*天了|好几天|隔天|第二天还")


# "微信交的电费 钱扣了 网上国网上还显示欠费", "交了200 余额一点没变": a payment made, not shown
# on the account (nlu_components/declared.py hears it as a bill query).
PAID_NOT_SHOWN = re.compile(r"(交|缴|付|充)(了|的|过|完|好)?[^，,。？?]{0,14}(还|却|咋|怎么|为啥|为什么)?[^，,。？?]{0,3}"
                            r"((还是?)?显示(我)?(还)?(欠|没交|未缴|未交|待缴)|没(有)?到账|不到账|没显示|"
                            r"余额[^，,。？?]{0,4}(没变|没动|没涨|不变|没加))|"
                            r"钱(扣了|扣掉了|都扣了|已经扣了)[^。？?]{0,16}(显示|欠费|没到账|余额)")


def wants_reconnection(text: Optional[str]) -> bool:
    """Arrears paid, power not back: the customer's own case, not the general rule."""
    from actions.faq import asks_power_back_after_paying  # faq imports this module

    # ("电费我早上交过了咋还没来电": paid and still dark, though no word of arrears.)
    return (is_reconnection(text) or asks_power_back_after_paying(text or "")) and bool(PAID_WORDS.search(text or ""))


class ActionCheckReconnection(Action):
    """After a FAQ answer: "欠费停电，我刚交了钱，多久能来电" is the customer's own case — the
    account's bills are checked (identity as for a bill) and a reconnection request opened."""

    def name(self) -> Text:
        return "action_check_reconnection"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if not wants_reconnection(latest_text(tracker)):
            return []
        dispatcher.utter_message(response="utter_reconnection_check")
        if tracker.get_slot("identity_verified"):
            return [SlotSet("bill_query", "reconnect"), FollowupAction("action_query_bill")]
        return [SlotSet("bill_query", "reconnect"), FollowupAction("bill_form")]


async def reconnection_reply(dispatcher: CollectingDispatcher, tracker: Tracker, account_no: str,
                             bills: List[Dict[str, Any]]) -> List[EventType]:
    """Paid up: power returns within 24 h; still off after 24 h (the customer says so), a
    reconnection request is opened (an application of business type `reconnection`, never a
    repair); still owing: what is owed and that power returns 24 h after paying."""
    owing = [b for b in bills if b.get("status") in ("unpaid", "overdue")]
    if owing:
        total = sum(_num(b.get("amount")) for b in owing)
        dispatcher.utter_message(response="utter_reconnection_still_owing", months=months_of(owing),
                                 total=f"{total:.2f}")
        return []
    paid = next((b for b in bills if b.get("paid_at")), None)
    paid_on = f"（最近一次缴费：{format_date(paid['paid_at'])}）" if paid else ""
    said = " ".join(e.get("text") or "" for e in tracker.events if e.get("event") == "user")
    if not OVERDUE_WAIT.search(said):
        # Within the 24 hours nothing is to be opened: power comes back by itself.
        dispatcher.utter_message(response="utter_reconnection_paid_wait", paid_on=paid_on)
        return []
    payload = {
        "type": "application",
        "business_type": "reconnection",
        "summary": f"欠费复电：户号尾号{account_no[-4:]}已结清电费，申请恢复供电",
        "channel": channel_of(tracker),
        "account_no": account_no,
        "conversation_id": tracker.sender_id,
        "details": {"reason": "arrears_paid", "customer_said": latest_text(tracker)[:200]},
        "request_key": request_key(tracker, "reconnection"),
    }
    try:
        ticket = await api_client.create_ticket(payload)
    except api_client.ApiError:
        dispatcher.utter_message(response="utter_reconnection_paid_no_ticket", paid_on=paid_on)
        return [SlotSet("handoff_reason", "api_failure")]
    deadline = next_deadline(ticket)
    due = format_time(deadline.get("due_at")) if deadline else "24小时内"
    dispatcher.utter_message(response="utter_reconnection_paid", paid_on=paid_on,
                             ticket_no=ticket["ticket_no"], due=due)
    return [SlotSet("last_ticket_no", ticket["ticket_no"])]


NO_POWER = re.compile(r"没电|停电|断电|不来电|没有电|黑了|掐了")


def cut_off_by_arrears(tracker: Tracker, bills: List[Dict[str, Any]]) -> bool:
    """A repair of a house without power was paused for this bill query, and a bill is overdue."""
    if tracker.get_slot("paused_form") != "fault_form" or not any(b.get("status") == "overdue" for b in bills):
        return False
    said = " ".join(str(e.get("text") or "") for e in tracker.events if e.get("event") == "user")
    return bool(NO_POWER.search(said)) and not tracker.get_slot("hazard")


# "那上个月跟这个月各用了多少度啊", "这两个月分别多少钱", "跟上个月比一比": two months side by side.
TWO_MONTHS_ASKED = re.compile(r"各(用|是|花|交|多少)|分别|这两个月|两个月(各|分别|都)|对比|比一比|比较一下|"
                              r"(跟|和|与)(上|这|前)个?月(比|相比|对比|差)")


class ActionQueryBill(Action):
    def name(self) -> Text:
        return "action_query_bill"

    @staticmethod
    def _two_months(dispatcher: CollectingDispatcher, tracker: Tracker,
                    bills: List[Dict[str, Any]]) -> Optional[List[EventType]]:
        """Two months asked for at once: the later one (or the latest bill, when the later one is
        not billed yet) against the month before it. None when one month or none is asked."""
        text = latest_text(tracker)
        asked = {period for period in map(normalize_period, entity_values(tracker, "period")) if period}
        if tracker.get_slot("bill_query") not in (None, "details", "reason") \
                or not (len(asked) >= 2 or TWO_MONTHS_ASKED.search(text) and "月" in text and len(asked) <= 1):
            # ("峰段谷段各用了多少" asks for the parts of one month: the bill's follow-up.)
            return None
        billed = {b.get("period"): b for b in bills}
        missing = sorted(p for p in asked if p not in billed)
        found = sorted(p for p in asked if p in billed)
        if missing and (not found or missing[-1] > found[-1]):
            dispatcher.utter_message(response="utter_bill_period_missing", month=period_label(missing[-1]),
                                     latest_month=period_label(bills[0]["period"]))
        bill = billed[found[-1]] if found and not (missing and missing[-1] > found[-1]) else bills[0]
        response, values = reason_reply(bill, billed.get(previous_period(bill["period"])))
        dispatcher.utter_message(response=response, **values)
        return [SlotSet("bill_shown_period", bill["period"])]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        reset = [SlotSet("period", None), SlotSet("bill_query", None)]
        if not tracker.get_slot("identity_verified"):
            return identity_blocked_reply(dispatcher, tracker) + reset + \
                finish_service(dispatcher, tracker, served=False)
        account_no = tracker.get_slot("verified_account_no") or tracker.get_slot("account_no")
        raw_period = tracker.get_slot("period")
        if not raw_period:
            # "三个月前那个电费" (no period entity for a month counted back): the month meant.
            ago = next(filter(None, (MONTHS_AGO.search(text) for text in [
                latest_text(tracker), opening_text(tracker, "bill_form") or "", *earlier_customer_texts(tracker, 3)])), None)
            raw_period = ago.group(0) if ago else None
        period = normalize_period(raw_period)
        if tracker.get_slot("bill_query") in (None, "details") and not raw_period \
                and wants_usage_chart(opening_text(tracker, "bill_form") or latest_text(tracker)):
            # "最近用电情况怎么样" / "帮我看看用电趋势": 一图看懂 rather than one month's bill.
            try:
                shown = await usage_chart_reply(dispatcher, tracker, account_no)
            except api_client.ApiError:
                shown = None  # the bill below still answers the question
            if shown is not None:
                return reset + shown + finish_service(dispatcher, tracker, served=True)
        try:
            bills = await api_client.get_bills(account_no, limit=13)
            if period and not any(b.get("period") == period for b in bills):
                bills += await api_client.get_bills(account_no, period=period)
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            return reset + [SlotSet("handoff_reason", "api_failure")] + \
                finish_service(dispatcher, tracker, served=False)
        bills.sort(key=lambda b: b.get("period") or "", reverse=True)
        if not bills:
            dispatcher.utter_message(response="utter_bill_none")
            return reset + finish_service(dispatcher, tracker, served=True)
        if raw_period and not period:
            dispatcher.utter_message(response="utter_bill_period_unclear", period_said=echoed(raw_period))
        shown_period = tracker.get_slot("bill_shown_period")
        # (The question may have opened the form, before the identity questions.)
        asked_balance = tracker.get_slot("bill_query") in (None, "details") and (
            asks_for_balance(latest_text(tracker)) or asks_for_balance(opening_text(tracker, "bill_form") or ""))
        if asked_balance and shown_period and not raw_period and asks_for_balance(latest_text(tracker)):
            # "那余额还有多少" after the bill: the balance alone, not the bill again.
            balance = await balance_reply(tracker, account_no, asked=True)
            if balance is not None:
                dispatcher.utter_message(response=balance[0], **balance[1])
                return reset + finish_service(dispatcher, tracker, served=True)
        compared = self._two_months(dispatcher, tracker, bills)
        if compared is not None:
            return reset + compared + finish_service(dispatcher, tracker, served=True)
        aspect = follow_up_aspect(latest_text(tracker)) if tracker.get_slot("bill_query") in (None, "details") \
            and period in (None, shown_period) else None
        shown = next((b for b in bills if b.get("period") == shown_period), None) if shown_period else None
        if shown is not None and aspect is not None:
            for response, values in follow_up_reply(aspect, shown, bills):
                dispatcher.utter_message(response=response, **values)
            return reset + finish_service(dispatcher, tracker, served=True)
        bill = next((b for b in bills if b.get("period") == period), None) if period else bills[0]
        if bill is None:
            dispatcher.utter_message(response="utter_bill_period_missing", month=period_label(period or ""),
                                     latest_month=period_label(bills[0]["period"]))
            bill = bills[0]
        if tracker.get_slot("bill_query") == "suspect_arrears":
            owing = [b for b in bills if b.get("status") in ("unpaid", "overdue")]
            if not owing:
                # Nothing owed: the power cut is a fault, and the repair report goes on.
                dispatcher.utter_message(response="utter_no_arrears_repair")
                return reset + [FollowupAction("fault_form")]
            total = sum(_num(b.get("amount")) for b in owing)
            dispatcher.utter_message(response="utter_arrears_cut", months=months_of(owing), total=f"{total:.2f}")
            return reset + [SlotSet("fault_description", None)] + finish_service(dispatcher, tracker, served=True)
        from actions.faq import asks_power_back_after_paying  # faq imports this module

        if tracker.get_slot("bill_query") == "reconnect" or (
                PAID_WORDS.search(latest_text(tracker))
                and any("停电是欠费造成的" in said for said in bot_texts_within(tracker, 3))) or (
                tracker.get_slot("bill_query") in (None, "details") and not raw_period
                and asks_power_back_after_paying(opening_text(tracker, "bill_form"))):
            # ("昨天夜里刚把欠的电费交掉 到现在还没电" heard as a bill query: the same check.)
            # ("交好了 那还要派人来修吗" right after the cut was found to be the arrears: when power
            # returns, never the same bill again.)
            events = await reconnection_reply(dispatcher, tracker, account_no, bills)
            owing = [b for b in bills if b.get("status") in ("unpaid", "overdue")]
            if tracker.get_slot("paused_form") == "fault_form" and not tracker.get_slot("hazard") and (
                    not owing or any(b.get("status") == "overdue" for b in owing)):
                # The power cut is the arrears (paid: it comes back by itself, or the reconnection
                # request was opened; still overdue: paying brings it back): the repair that was
                # paused for this check is not resumed, no crew is sent for it.
                tracker.slots["paused_form"] = None
                events += [SlotSet("paused_form", None)] + reset_form_slots("fault_form")
            # Still owing: nothing is settled yet, so no satisfaction question.
            return reset + events + finish_service(dispatcher, tracker, served=True, business_done=not owing)
        reset.append(SlotSet("bill_shown_period", bill["period"]))
        if tracker.get_slot("bill_query") == "reason" or (
                tracker.get_slot("bill_query") in (None, "details") and not raw_period
                and AMOUNT_DOUBTED.search(opening_text(tracker, "bill_form") or latest_text(tracker))):
            # ("我家电费这两个月咋涨了这么多" heard as a bill query: why, against the month before.)
            previous = next((b for b in bills if b.get("period") == previous_period(bill["period"])), None)
            response, values = reason_reply(bill, previous)
            dispatcher.utter_message(response=response, **values)
            arrears = None  # the customer asked why, not how to pay; the bill already said it
        else:
            dispatcher.utter_message(response="utter_bill_details", **bill_details(bill, account_no))
            balance = await balance_reply(tracker, account_no, asked=asked_balance)
            if balance is not None:
                dispatcher.utter_message(response=balance[0], **balance[1])
            arrears = arrears_reply(bills, shown_period=bill.get("period"))
            if bill.get("status") in ("unpaid", "overdue") and PAID_NOT_SHOWN.search(
                    opening_text(tracker, "bill_form") or latest_text(tracker)):
                # "微信交的电费 钱扣了 网上国网上还显示欠费": the payment is not credited yet; what
                # to keep and when to ask again, not a reminder to pay what was just paid.
                dispatcher.utter_message(response="utter_payment_not_shown_on_bill")
                return reset + finish_service(dispatcher, tracker, served=True, business_done=False)
        if arrears:
            dispatcher.utter_message(response=arrears[0], **arrears[1])
        if arrears and cut_off_by_arrears(tracker, bills):
            # "家里没电了 报修" … "先帮我查查是不是没交电费": it is the arrears; no repair is filed.
            dispatcher.utter_message(response="utter_power_cut_is_arrears")
            tracker.slots["paused_form"] = None  # the repair is not resumed
            return reset + [SlotSet("paused_form", None)] + reset_form_slots("fault_form") + \
                finish_service(dispatcher, tracker, served=True) + [FollowupAction("action_listen")]
        opening = opening_text(tracker, "bill_form") or ""
        if ASKS_WHERE_TO_PAY.search(opening) and not arrears:
            # "上个月电费多少钱？顺便问下能不能微信交": the bill, then how it can be paid.
            from actions.faq import answer_topic  # faq imports this module

            answer_topic("payment_channels", dispatcher, tracker, domain)
        # "查电费，顺便问问明天停不停电": the outage question of the same message comes next.
        following = second_request_events(opening, "bill_form")
        if following:
            return reset + finish_service(dispatcher, tracker, served=True, more_to_come=True) + following
        return reset + finish_service(dispatcher, tracker, served=True)


# What the bill form's validation says instead of asking for the 户号 again: each ends with
# what to give ("告诉我户主姓名和登记的手机号"), so a second question would only repeat it.
ACCOUNT_GUIDANCE = ("utter_account_no_help", "utter_account_by_phone_ask_name")


class ActionAskBillFormAccountNo(Action):
    """The bill form's 户号 question. A customer who opened with "户号我不记得了" is told where
    to find it and the other way to be found (name and registered mobile), not asked for it."""

    def name(self) -> Text:
        return "action_ask_bill_form_account_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        this_turn = []
        for event in reversed(tracker.events):
            if event.get("event") == "user":
                break
            if event.get("event") == "bot":
                this_turn.append((event.get("metadata") or {}).get("utter_action"))
        if any(said in ACCOUNT_GUIDANCE for said in this_turn):
            return []
        text = latest_text(tracker)
        asked = "utter_account_no_help" if NO_ACCOUNT_NO.search(text) and not re.search(r"\d{10}", text) \
            else "utter_ask_account_no"
        dispatcher.utter_message(response=asked)
        return []

