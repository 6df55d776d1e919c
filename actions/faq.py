"""FAQ answers: the answer the ResponseSelector picked, a follow-up question answered in the
context of the previous one ("要钱吗" after the meter-testing answer), and never the same text
twice in a row. The texts are the responses ``utter_faq/<topic>`` (data/nlu/faq.yml) with
their variations and conditions (e.g. on ``customer_type``); this action only chooses."""
from __future__ import annotations

import random
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.applications import (
    FILED_APPLICATION,
    BUSINESS_TYPES,
    DOCUMENTS_QUESTION,
    applicant_kind,
    business_from_text,
    business_just_filed,
)
from actions.common import earlier_customer_texts, latest_text
from actions.faq_concepts import touches

# What a short follow-up asks about.
ASPECTS = (
    ("refund", re.compile(r"退|返还|拿回")),
    ("fee", re.compile(r"钱|收费|费用|免费|花费|贵|收不收|要不要钱")),
    ("duration", re.compile(r"多久|几天|多长时间|要等|多快|什么时候(能|可以)?(好|办完|到)")),
    ("documents", re.compile(r"材料|资料|证件|手续|带什么|带啥|准备什么|准备啥")),
    ("business", re.compile(r"商业|店|商铺|门面|公司|企业|工厂|厂里|做生意")),
    ("weekend", re.compile(r"周六|周日|周末|星期六|星期天|礼拜|节假日")),
)
# (topic answered last, aspect asked) -> the topic that answers the follow-up.
FOLLOW_UPS: Dict[str, Dict[str, str]] = {
    "meter_calibration": {"fee": "meter_test_fee", "refund": "meter_test_refund"},
    "meter_test_fee": {"refund": "meter_test_refund"},
    "meter_test_refund": {"fee": "meter_test_fee"},
    "docs_new_connection": {"fee": "fee_new_connection", "duration": "duration_new_connection",
                            "business": "docs_business"},
    "fee_new_connection": {"duration": "duration_new_connection", "documents": "docs_new_connection"},
    "duration_new_connection": {"fee": "fee_new_connection", "documents": "docs_new_connection"},
    "docs_meter_move": {"fee": "fee_meter_move", "duration": "duration_other_change"},
    "fee_meter_move": {"duration": "duration_other_change", "documents": "docs_meter_move"},
    "docs_name_transfer": {"duration": "duration_other_change"},
    "docs_account_closing": {"duration": "duration_other_change", "refund": "deposit"},
    "docs_capacity_change": {"duration": "duration_capacity_change", "business": "docs_business"},
    "duration_capacity_change": {"documents": "docs_capacity_change"},
    "docs_business": {"duration": "duration_capacity_change"},
    "docs_ev_charger": {"fee": "ev_charging_price", "duration": "duration_ev_charger"},
    "duration_ev_charger": {"fee": "fee_ev_charger", "documents": "docs_ev_charger"},
    "fee_ev_charger": {"duration": "duration_ev_charger", "documents": "docs_ev_charger"},
    "docs_pv_connection": {"fee": "fee_pv_connection", "duration": "duration_pv_connection"},
    "duration_pv_connection": {"fee": "fee_pv_connection", "documents": "docs_pv_connection"},
    "fee_pv_connection": {"duration": "duration_pv_connection", "documents": "docs_pv_connection"},
    "tiered_tariff": {"business": "price_commercial"},
    "peak_valley_prices": {"business": "price_commercial"},
    "peak_valley_hours": {"fee": "peak_valley_prices"},
    "price_commercial": {"business": "tariff_business_change"},
    "prepaid": {"refund": "refund_double_charge"},
    "business_hall": {"weekend": "business_hall_weekend"},
    "service_hours": {"weekend": "business_hall_weekend"},
    "pv_settlement": {"duration": "pv_payment_late"},
    "appliance_damage": {"duration": "appliance_damage"},
}
FOLLOW_UP_MAX_CHARS = 14
ASKS_WHEN_POWER_RETURNS = re.compile(r"(多久|多长时间|几天|什么时候|啥时候|多快|要不要).{0,6}(来电|恢复|复电|送电|通电|有电)|"
                                     # "欠费停电交完了还要等多久啊"
                                     r"(交完|交了|缴完|缴了|交上|补上).{0,8}(等多久|要多久|多久能?好|多长时间)|"
                                     r"(交完|交了|缴完|缴了|交上).{0,8}(来电|恢复|复电|有电)|"
                                     # "电费刚刚在手机上交了 怎么家里还是没电": paid, still dark.
                                     r"(?<![没未不忘])(交了|缴了|交完|缴完|交过|付了|充了|交掉|缴掉|交上|缴上|交好|缴好|补上|充上).{0,10}(怎么|咋|为啥|为什么)?(还是|还|仍然|依然)"
                                     r"(没电|不来电|没来电|没有电|黑的|黑着|没亮|不亮|不来|没来)")
# Said by a customer whose power was cut for arrears, or who just paid.
PAID_OR_IN_ARREARS = re.compile(r"欠|交了|缴了|交完|缴完|补交|补缴|充了|交上|交清|缴清|交过|付了|付完|交掉|缴掉|交好了|缴好了")


# "那需要我报修吗 还是等着就行", "那还要等多久啊 冰箱里东西要坏了": whether to report it, or how
# long to wait, asked right after the arrears answer (which said power returns 24 h after paying).
ASKS_WHETHER_TO_REPORT = re.compile(r"(要|需要|用|得)(我)?(再)?报修(吗|么|嘛|不)|还是(就)?等着?|用不用报修|要不要报修|等着就行|"
                                    r"(不用|要不要|用不用|需不需要)派人|就是等着|就等着|"
                                    r"(还|还要|还得|要|得)等(多久|多长时间|几个小时|几天|到什么时候|到啥时候)|"
                                    r"(多久|什么时候|啥时候|几点)(才)?(能|会)?(来电|有电|恢复|送电|复电)")
ARREARS_ANSWERED = re.compile(r"欠费.{0,40}24\s*小时|24\s*小时.{0,20}(恢复|来电|复电)")


def asks_whether_to_report_after_arrears(tracker: Tracker) -> bool:
    from actions.common import previous_turn

    said_last = " ".join(str(e.get("text") or "") for e in previous_turn(tracker) if e.get("event") == "bot")
    return bool(ASKS_WHETHER_TO_REPORT.search(latest_text(tracker)) and ARREARS_ANSWERED.search(said_last))


# Questions whose words leave no doubt about the topic, for when the answer selector is unsure
# ("阶梯电价到底怎么算的你给我讲清楚" came out as nlu_fallback): the first that matches.
TOPIC_BY_WORDS = [
    (re.compile(r"阶梯.{0,8}(怎么|咋|如何|怎样)(算|收|计算|计费)|阶梯电价(是|标准|多少)|第[一二三]档.{0,6}(多少|怎么)"), "tiered_tariff"),
    (re.compile(r"(峰谷|峰电|谷电|分时|峰段|谷段).{0,10}(几点|时段|什么时候|啥时候|哪个时间)"), "peak_valley_hours"),
    (re.compile(r"(峰谷|峰电|谷电|分时|峰段|谷段).{0,10}(价|多少钱|贵|便宜|几毛)|(白天|晚上|夜里).{0,6}(更贵|贵|便宜|划算)|"
                r"(峰谷|峰电|谷电|分时)[^，,。？?]{0,6}(怎么|咋|如何)(收费|收钱|收|算|计费)"),
     "peak_valley_prices"),
    (re.compile(r"违约金|滞纳金"), "late_fee"),
    (re.compile(r"(楼道|楼梯|走廊|单元|声控)灯.{0,16}(谁|归|物业|你们|供电|坏|不亮|灭|黑)|(你们|供电公司?|供电局).{0,4}修还是物业|物业修还是"),
     "ownership_boundary"),
    (re.compile(r"(归|是)?你们(来)?修还是.{0,4}(找|请)电工|找电工还是.{0,2}(找)?你们|(插座|开关|线路|电线).{0,16}(归|是)(你们|谁)(管|修)"),
     "ownership_boundary"),
    (re.compile(r"(手机号|号码|电话|手机).{0,14}(不用了|停了|换了|停机|注销|丢了).{0,14}(怎么|咋|如何|要)?(改|换|变更)"),
     "change_phone"),
    (re.compile(r"路灯.{0,12}(谁|归|物业|你们|供电|找哪|打什么)"), "street_light"),
    (re.compile(r"(开|要|打|拿|出|报销).{0,4}发票|发票.{0,6}(怎么|哪|能|可以)"), "e_invoice"),
    (re.compile(r"营业厅.{0,12}(周六|周日|周末|礼拜|星期|节假日|假期)"), "business_hall_weekend"),
    (re.compile(r"(光伏|发电|卖电|上网电).{0,24}(钱|电费|收益|款).{0,24}(没到|没收到|没打|不到|没给|还没|一直没|一分没|没见)"),
     "pv_payment_late"),
]


def topic_by_words(text: str) -> Optional[str]:
    return next((topic for words, topic in TOPIC_BY_WORDS if words.search(text or "")), None)


# "我家停电了 女儿说是欠了电费 她刚才手机上帮我交了": cut for arrears and paid, told as news.
# ("…是不是欠费被停了啊 上个月好像忘交了" is no payment: 忘交, 没交, 未交.)
CUT_AND_PAID = re.compile(r"(欠费|欠了电费|欠电费|欠钱|没交电费|没缴电费|欠的电费|欠的钱|欠下的电费).{0,16}(?<![忘没未不])(交了|交上了|缴了|付了|交掉|充了|补交|补缴|交清|缴清|交过|缴过|交好|缴好|(?:交|缴)(?:到|给|在)[^，,。？?\s]{1,8}了)|"
                          r"(?<![忘没未不])(交了|缴了|交掉了|交清了|缴清了).{0,10}欠(费|的电费)")


def asks_power_back_after_paying(text: str) -> bool:
    """"欠费停电了 交完钱多久能来电", "交了电费 家里还是黑的": when power returns after paying."""
    return bool(ASKS_WHEN_POWER_RETURNS.search(text or "") and PAID_OR_IN_ARREARS.search(text or "")
                or CUT_AND_PAID.search(text or ""))
# Topics about one business: after the answer, the application itself is offered.
TOPIC_BUSINESS = {
    "docs_new_connection": "new_connection", "fee_new_connection": "new_connection",
    "duration_new_connection": "new_connection", "docs_business": "new_connection",
    "docs_meter_move": "meter_move", "fee_meter_move": "meter_move",
    "docs_name_transfer": "name_transfer", "docs_account_closing": "account_closing",
    "docs_capacity_change": "capacity_change", "duration_capacity_change": "capacity_change",
    "docs_ev_charger": "ev_charger", "docs_pv_connection": "pv_connection",
    "duration_ev_charger": "ev_charger", "fee_ev_charger": "ev_charger",
    "duration_pv_connection": "pv_connection", "fee_pv_connection": "pv_connection",
    "tariff_business_change": "tariff_change",
    "meter_calibration": "meter_check", "meter_test_fee": "meter_check",
}
# "能不能移到外面楼道去", "可以改成峰谷电吗": asking to have a business done.
CAN_I_HAVE_IT = re.compile(r"能不能|能否|可不可以|可以.{0,12}[吗么嘛]|能.{0,12}[吗么嘛]|行不行")
DOING_IT = re.compile(r"移|挪|装|改|换|办|销|增|减|接电|通电|申请|开通|校验|校|验|测|检测")
# Words of someone who means to do it ("想装光伏 要去哪里申请", "要把电销户"), not just asking how it works.
INTENDS = re.compile(r"想|要|打算|准备|申请|办理?|能不能|可以|怎么弄|咋弄|去哪")
# A how-long question that names its business is a general question, else about the request.
BUSINESS_NAMED = re.compile(r"新装|装表|装电表|报装|过户|更名|移表|挪表|销户|增容|扩容|减容|充电桩|光伏|电价|开户|接电")
# Answers for households that have a business counterpart: a shop, office or factory (the
# verified account's customer type, or its own words: 厂里, 店, 千伏安…) gets that one.
FOR_BUSINESS = {
    "docs_new_connection": "docs_business",
    "docs_capacity_change": "docs_business",
    "tiered_tariff": "price_commercial",  # a known account's type: the answer's own condition
}


# The topic of a question about one business, by what it asks: documents, how long, the fee.
BUSINESS_TOPICS = {
    "documents": {"new_connection": "docs_new_connection", "name_transfer": "docs_name_transfer",
                  "capacity_change": "docs_capacity_change", "ev_charger": "docs_ev_charger",
                  "pv_connection": "docs_pv_connection", "meter_move": "docs_meter_move",
                  "account_closing": "docs_account_closing"},
    "duration": {"new_connection": "duration_new_connection", "capacity_change": "duration_capacity_change",
                 "name_transfer": "duration_other_change", "meter_move": "duration_other_change",
                 "account_closing": "duration_other_change", "tariff_change": "duration_other_change",
                 "pv_connection": "duration_pv_connection", "ev_charger": "duration_ev_charger"},
    "fee": {"new_connection": "fee_new_connection", "meter_move": "fee_meter_move", "meter_check": "meter_test_fee",
            "pv_connection": "fee_pv_connection", "ev_charger": "fee_ev_charger"},
}
ASKS_HOW_LONG = re.compile(r"多久|几天|多少天|多长时间|几个工作日|要等多|啥时候能办好|什么时候能办好")
ASKS_THE_FEE = re.compile(r"收费|要钱|多少钱|费用|免费|贵不贵|花多少|收不收钱|要不要钱|交多少钱|要不要交钱|交不交钱|要交钱")


def business_topic(text: str) -> Optional[str]:
    """"过户要带啥材料啊" -> docs_name_transfer: a question about a named business is answered on
    that business's topic whatever the selector ranked first."""
    business = business_from_text(text)
    if not business:
        return None
    for aspect, asks in (("documents", DOCUMENTS_QUESTION), ("duration", ASKS_HOW_LONG), ("fee", ASKS_THE_FEE)):
        if asks.search(text):
            return BUSINESS_TOPICS[aspect].get(business)
    return None


def topic_of_business_in_talk(tracker: Tracker, text: str) -> Optional[str]:
    """"车位是买的 有产权证 物业也同意了 需要什么手续" right after the EV charger was answered or
    offered: the documents (fee, time) of that business, not of whatever the selector ranked."""
    from actions.menu import offered_business  # menu imports the forms' modules

    if business_from_text(text):
        return None
    business = offered_business(tracker) or TOPIC_BUSINESS.get(last_faq_topic(tracker, within_turns=2) or "") \
        or business_just_filed(tracker)
    topics = business_topics(text, business) if business else []
    return topics[0] if topics else None


def business_topics(text: str, business: Optional[str]) -> List[str]:
    """Every topic of ``business`` the text asks about ("要多久能批下来 并网要钱吗": how long and the
    fee), the business named in the text first."""
    business = business_from_text(text) or business
    if not business:
        return []
    asked = sorted((found.start(), aspect) for aspect, asks in (("documents", DOCUMENTS_QUESTION),
                                                                ("duration", ASKS_HOW_LONG), ("fee", ASKS_THE_FEE))
                   for found in [asks.search(text)] if found)
    # In the order asked: "要不要交钱啊 大概多久能通上电" is the fee, then the time.
    return [topic for _, aspect in asked for topic in [BUSINESS_TOPICS[aspect].get(business)] if topic]


def answer_business_topics(text: str, business: Optional[str], dispatcher: CollectingDispatcher,
                           tracker: Tracker, domain: DomainDict) -> bool:
    """Answers every topic of the business the text asks about; True when one was answered."""
    answered = [topic for topic in business_topics(text, business) if answer_topic(topic, dispatcher, tracker, domain)]
    return bool(answered)


def aspect_of(text: str) -> Optional[str]:
    for aspect, words in ASPECTS:
        if words.search(text):
            return aspect
    return None


def follow_up_topic(previous: Optional[str], text: str) -> Optional[str]:
    """The topic a short follow-up ("那要钱吗") asks about after the answer on ``previous``."""
    text = re.sub(r"\s+", "", text or "")
    if not previous or not text or len(text) > FOLLOW_UP_MAX_CHARS or text.startswith("/"):
        return None
    aspect = aspect_of(text)
    return FOLLOW_UPS.get(previous, {}).get(aspect) if aspect else None


# A topic further down the selector's ranking is taken only with at least this confidence.
MIN_RERANKED_CONFIDENCE = 0.02


def _topic_of(entry: Dict[str, Any]) -> Optional[str]:
    key = entry.get("intent_response_key") or ""
    if not key:
        key = (entry.get("utter_action") or "").replace("utter_", "", 1)
    return key.split("/", 1)[1] if "/" in key else None


def selected_topic(tracker: Tracker) -> Optional[str]:
    """The topic to answer (``faq/meter_calibration`` -> meter_calibration): the selector's first
    topic that the message is about at all (``actions.faq_concepts``), None when none is."""
    return selected_topic_and_confidence(tracker)[0]


def selected_topic_and_confidence(tracker: Tracker) -> tuple:
    """``selected_topic`` with the selector's confidence in it."""
    selector = ((tracker.latest_message or {}).get("response_selector") or {}).get("faq") or {}
    response = selector.get("response") or {}
    chosen = _topic_of(response)
    text = latest_text(tracker)
    if chosen is None or text.startswith("/") or touches(chosen, text):
        return chosen, float(response.get("confidence") or 0.0)
    for entry in selector.get("ranking") or []:
        topic = _topic_of(entry)
        confidence = float(entry.get("confidence") or 0.0)
        if topic and topic != chosen and confidence >= MIN_RERANKED_CONFIDENCE and touches(topic, text):
            return topic, confidence
    return None, 0.0


def last_faq_topic(tracker: Tracker, within_turns: int = 3) -> Optional[str]:
    """The topic answered in one of the last few turns (the slot is set by this action)."""
    topic = tracker.get_slot("faq_topic")
    if not topic:
        return None
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users += 1
        if event.get("event") == "slot" and event.get("name") == "faq_topic":
            return topic if users <= within_turns else None
    return topic


def bot_texts(tracker: Tracker) -> List[str]:
    return [e.get("text") or "" for e in tracker.events if e.get("event") == "bot"]


def _matches(variation: Dict[str, Any], tracker: Tracker) -> bool:
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and tracker.get_slot(condition.get("name")) != condition.get("value"):
            return False
    return True


def choose_variation(name: str, tracker: Tracker, domain: DomainDict) -> Optional[Dict[str, Any]]:
    """A variation of response ``name`` whose conditions hold (conditional ones first, as Rasa
    does), never one the bot already said in this conversation while another is left."""
    variations = (domain.get("responses") or {}).get(name) or []
    fitting = [v for v in variations if v.get("condition") and _matches(v, tracker)]
    fitting = fitting or [v for v in variations if not v.get("condition")]
    if not fitting:
        return None
    said = set(bot_texts(tracker))
    fresh = [v for v in fitting if v.get("text") not in said]
    return random.choice(fresh) if fresh else None


def utter_variation(dispatcher: CollectingDispatcher, variation: Dict[str, Any]) -> None:
    """A variation of a response of the domain, chosen by choose_variation (Rasa's own choice
    would be random, and could repeat what was said): sent as its text and buttons."""
    dispatcher.utter_message(text=variation.get("text"), buttons=variation.get("buttons") or [])


def answer_topic(topic: str, dispatcher: CollectingDispatcher, tracker: Tracker,
                 domain: DomainDict) -> bool:
    """Says the answer on ``topic``; a topic answered already gets the 'anything unclear?' reply."""
    name = f"utter_faq/{topic}"
    if name not in (domain.get("responses") or {}):
        return False
    variation = choose_variation(name, tracker, domain)
    if variation is None:
        repeat = choose_variation("utter_faq_repeat", tracker, domain)
        if repeat is None:
            dispatcher.utter_message(response="utter_faq_repeat")
        else:
            utter_variation(dispatcher, repeat)
        return True
    utter_variation(dispatcher, variation)
    return True


# "我岁数大了 你说简单点", "没听懂": the answer just given, asked for again in plainer words.
ASKS_AGAIN = re.compile(r"说?简单(一)?点|简单(点|些)说|说得?简单|说慢点|没听懂|听不懂|没看懂|看不懂|再说一(遍|次)|"
                        r"啥意思|什么意思|说清楚点|说明白点|直接说")


def answer_again_plainly(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> bool:
    """The topic answered last, said again in its other words (its other variation), when the
    customer asks for it plainer right after it."""
    topic = last_faq_topic(tracker, within_turns=2)
    if not topic or not ASKS_AGAIN.search(latest_text(tracker)):
        return False
    return answer_topic(str(topic), dispatcher, tracker, domain)


OUTAGE_TIME_QUESTION = re.compile(r"几点到几点|几点开始|几点(来电|恢复|结束|停)|停多久|停到几点|什么时候(来电|恢复|停|结束)|"
                                  r"要停多长|多长时间")


# "那礼拜六呢", "明天呢": a day alone, asked of the outages just listed (a longer message is a
# question of its own, e.g. "明天去营业厅办过户要带啥").
OUTAGE_DAY_FOLLOW_UP_MAX_CHARS = 12


def asks_about_shown_outages(tracker: Tracker) -> bool:
    """A question about times or another day right after the bot listed outages for an address."""
    from actions.common import now_shanghai
    from actions.faults import asked_days

    if not outage_just_shown(tracker):
        return False
    text = latest_text(tracker)
    return bool(OUTAGE_TIME_QUESTION.search(text)) or (
        len(text) <= OUTAGE_DAY_FOLLOW_UP_MAX_CHARS and asked_days(text, now_shanghai().date()) is not None)


def outage_just_shown(tracker: Tracker) -> bool:
    """The bot listed outages for an address in answer to the customer's previous message."""
    from actions.common import previous_turn

    return bool(tracker.get_slot("outage_shown_for")) and any(
        e.get("event") == "action" and e.get("name") == "action_query_outage" for e in previous_turn(tracker))


def follow_the_shown_outages(tracker: Tracker) -> List[EventType]:
    """The outage query again for the address just answered; it reads the day from the message."""
    return [SlotSet("address", tracker.get_slot("outage_shown_for")), FollowupAction("action_query_outage")]


# An outage asked about on a day ("过几天村里是不是要停电", "礼拜六停不停电"), not how notices work.
OUTAGE_ON_A_DAY = re.compile(r"(明天|后天|今天|今晚|这几天|这两天|这周|下周|过几天|过两天|周[一二三四五六日末]|礼拜.|星期.)"
                             r"[^，,。？?]{0,8}(停电|停不停|断电)")
NOTICE_WORDS = re.compile(r"通知|短信|提醒|订阅|提前几天")


# "那直接帮我报装吧", "那就办吧", "帮我申请一下": the customer wants it done now.
DO_IT_NOW = re.compile(r"(帮我|给我|直接|那就|就给我|马上|现在就?)[^，,。？?]{0,4}(办|报|申请|登记|弄|装)|"
                       r"(报装|申请|办理?|登记)(吧|一下吧|了吧)")


class ActionAnswerFaq(Action):
    def name(self) -> Text:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        from actions.common import scam_answer, withdraw_callback_on_stop

        scam = scam_answer(dispatcher, tracker)
        if scam is not None:
            return scam  # "这个是你们发的吗 要不要点": a message in our name, asked about
        await withdraw_callback_on_stop(dispatcher, tracker)  # "哎算了 不用了 就问个简单的 …"
        from actions.faults import find_hazards  # faults imports this module's helpers lazily
        from actions.handoff import is_question

        if not tracker.active_loop and find_hazards(latest_text(tracker)) and not is_question(latest_text(tracker)):
            # "地下配电房进水了 水已经没过电缆沟" (read as the storm safety answer): a hazard
            # reported, an urgent repair.
            return [FollowupAction("fault_form")]
        if not tracker.active_loop and OUTAGE_ON_A_DAY.search(latest_text(tracker)) \
                and not NOTICE_WORDS.search(latest_text(tracker)):
            # "过几天村里是不是要停电改造线路" (read as the repair times): the outages planned there.
            return [FollowupAction("outage_form")]
        from actions.handoff import feedback_named  # handoff imports this module's helpers

        if not tracker.active_loop and feedback_named(latest_text(tracker)) == "praise" \
                and not is_question(latest_text(tracker)):
            # "给你们新街口营业厅的小姑娘点个赞 教我弄了半天手机交电费": praise, not how to pay.
            return [SlotSet("feedback_type", "praise"), FollowupAction("feedback_form")]
        from actions.menu import offered_business  # menu imports this module

        offered = None if tracker.active_loop else offered_business(tracker)
        if offered and DO_IT_NOW.search(latest_text(tracker)) and not is_question(latest_text(tracker)):
            # "物业同意书我已经拿到了 车位也是买的 那直接帮我报装吧" right after the charger
            # application was offered: the offer taken, whatever the words resemble (报装 is any
            # connection's word).
            return [SlotSet("offered_business", None), SlotSet("business_type", offered),
                    FollowupAction("application_form")]
        if asks_about_shown_outages(tracker):
            # "那要是停的话几点到几点" right after an outage answer: that outage's times, not the
            # peak/valley hours the words resemble.
            return follow_the_shown_outages(tracker)
        said = latest_text(tracker)
        wanted = business_from_text(said)
        if wanted and not tracker.active_loop and CAN_I_HAVE_IT.search(said) and DOING_IT.search(said) \
                and not business_topics(said, wanted):
            # "我家电表装在厨房里面…能不能移到外面楼道去": a business asked for as a can-I
            # question, not how it works: the application starts with what it needs.
            return [SlotSet("business_type", wanted), FollowupAction("application_form")]
        topic = follow_up_topic(last_faq_topic(tracker), latest_text(tracker)) or business_topic(latest_text(tracker)) \
            or topic_of_business_in_talk(tracker, latest_text(tracker)) or selected_topic(tracker) \
            or whose_it_is_of_what_was_told(tracker)
        if topic in FOR_BUSINESS and applicant_kind(tracker) != "residential" and not (
                topic == "tiered_tariff" and tracker.get_slot("customer_type")):
            topic = FOR_BUSINESS[topic]
        text = latest_text(tracker)
        if asks_power_back_after_paying(text) or asks_whether_to_report_after_arrears(tracker):
            # "欠费停电了 交完钱多久能来电", "我刚在支付宝把欠的电费交了 咋还没来电呢": when power
            # comes back after paying, not the arrears policy or how to pay. ("那需要我报修吗
            # 还是等着就行" after the arrears answer: no repair, the same rule.)
            topic = "reconnection"
        if topic and (topic.startswith("duration_") or topic == "repair_arrival_time") \
                and tracker.get_slot("last_ticket_no") and not BUSINESS_NAMED.search(latest_text(tracker)):
            # "要几天能办好" right after a request: that request's own deadlines; "山里路不好走 师傅
            # 大概多长时间能到" after a repair was filed: that crew's committed time, not the table.
            from actions import api_client
            from actions.handoff import time_limits

            try:
                ticket = await api_client.get_ticket(tracker.get_slot("last_ticket_no"))
            except api_client.ApiError:
                ticket = None
            if ticket and (topic != "repair_arrival_time" or ticket.get("type") == "repair"):
                kind, values = time_limits(ticket)
                dispatcher.utter_message(response=f"utter_time_limits_{kind}", **values)
                return [SlotSet("faq_topic", None)]
        if topic and answer_topic(topic, dispatcher, tracker, domain):
            # "我刚交了钱，多久能来电": after the rule, the customer's own bills are checked.
            from actions.bills import ActionCheckReconnection

            followed = [] if tracker.active_loop else await ActionCheckReconnection().run(dispatcher, tracker, domain)
            offered = None if tracker.active_loop or followed else offer_application(topic, dispatcher, tracker)
            return [SlotSet("faq_topic", topic), SlotSet("offered_business", offered)] + followed
        from actions.menu import named_request, other_utility_response  # menu imports the forms' helpers

        request = None if tracker.active_loop else named_request(text)
        if request:
            # "大泉村113号 听说过几天要停电 停多长时间": no answer is about it, the words ask a
            # request the bot serves.
            return [SlotSet("faq_topic", None), FollowupAction(request)]
        other = other_utility_response(text)
        dispatcher.utter_message(response=other or "utter_cannot_answer")
        return [SlotSet("faq_topic", None)]


# "不归你们管？那我找谁", "那归谁管": who looks after the thing just told of.
ASKS_WHOSE = re.compile(r"找谁|归谁|谁管|谁负责|谁来修|谁修|找哪|哪个部门")


def whose_it_is_of_what_was_told(tracker: Tracker) -> Optional[str]:
    """The topic of whose equipment it is, for "那我找谁" about what the customer told just before
    ("小区门口路灯坏了一个礼拜了"); None otherwise."""
    if not ASKS_WHOSE.search(latest_text(tracker)):
        return None
    for text in earlier_customer_texts(tracker, 2):
        topic = topic_by_words(f"{text} 归谁管")
        if topic in ("street_light", "ownership_boundary"):
            return topic
    return None


def intended_business(text: str) -> Optional[str]:
    """The business the customer means to do: of the part that says so ("想在小区车位装个充电桩，
    另外问下峰谷电价几点开始" is a charger, the tariff is only asked about)."""
    for clause in re.split(r"[，,。；;！!？?]|另外|还有|顺便", text):
        if INTENDS.search(clause) and business_from_text(clause):
            return business_from_text(clause)
    return business_from_text(text) if INTENDS.search(text) else None


# "我家已经开了峰谷电 想问下谷电几点开始": on time-of-use already, nothing to apply for.
ALREADY_ON_TIME_OF_USE = re.compile(r"(已经|早就|早)[^，,。？?]{0,3}(开|开通|办|申请|改|用|是)(了|过|的)?[^，,。？?]{0,4}峰谷|"
                                    r"(我家|俺家|家里|我们)[^，,。？?]{0,2}(是|用的是|就是|用的)峰谷|(开|开通|办)(了|过)峰谷")


def offer_application(topic: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[str]:
    """After an answer about a business the customer means to do, the application is offered
    (a yes or "帮我登记一下" then starts it); the business offered, or None."""
    key = intended_business(latest_text(tracker)) or TOPIC_BUSINESS.get(topic)
    if not key or key == "tariff_change" and ALREADY_ON_TIME_OF_USE.search(latest_text(tracker)):
        return None
    from actions.common import session_events  # common imports the forms

    if any(e.get("event") == "bot" and business_from_text(filed.group(1)) == key
           for e in session_events(tracker) for filed in [FILED_APPLICATION.search(e.get("text") or "")] if filed):
        return None  # "移表要收费不" right after the meter move was filed: no second offer
    dispatcher.utter_message(response="utter_offer_application", business=BUSINESS_TYPES[key]["label"],
                             business_key=key)
    return key
