"""Complaints, tip-offs (may be anonymous), suggestions and praise: one form, four commitments."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.applications import (
    REGISTERED,
    account_contact,
    business_from_text,
    registered_allowed,
    stated_account,
)
from actions.responses import echoed
from actions.common import (
    as_nlu_reads,
    ASKS_FOR_A_PERSON,
    AMOUNT_DOUBTED,
    POINTS_BACK,
    complaint_with_story,
    LET_DOWN,
    asks_progress_of_earlier,
    wants_to_complain,
    ASIDE_INTENTS,
    ASKS_HOW_TO_PAY,
    QUESTION_MARKS,
    STOP_INTENTS,
    BaseFormValidation,
    KeepsIdentitySlots,
    find_mobile,
    is_angry,
    is_digression,
    channel_of,
    finish_service,
    format_time,
    free_text_answer,
    identity_blocked_reply,
    latest_intent,
    latest_text,
    mask_phone,
    next_deadline,
    bot_answered_last_turn,
    previous_turn,
    story_told_before,
    request_key,
    reset_form_slots,
    add_to_just_filed,
    entity_values,
    correct_just_filed_phone,
    reassure_after_filing,
    ANOTHER_MATTER,
    same_matter_filed,
    scam_answer,
    bot_texts_within,
)
from actions.faults import LOST_JUST_NOW, is_reconnection, parse_contact, tells_a_fault
from bot import vocabulary

INTENT_TO_TYPE = {"complain": "complaint", "tip_off": "tip_off", "suggest": "suggestion", "praise": "praise"}
TYPE_LABELS = {kind: vocabulary.TICKET_TYPES[kind] for kind in INTENT_TO_TYPE.values()}


def type_label(kind: str) -> str:
    """The kind's name in the responses (诉求, a request, for a kind of no name)."""
    return TYPE_LABELS.get(kind, "诉求")
NO_CONTACT = "none"
NO_CONTACT_WORDS = re.compile(r"匿名|不留|不用|不需要|不方便|不想留|算了吧|没有|无|不回复|别问|别联系|别打")
# "没了 谢谢", "就这些": the customer has said all there is, and gave no number.
DONE_WORDS = re.compile(r"^\s*(没了|没有了|就这些|就这么多|就这样|没别的|谢谢|多谢|好的?|嗯|行)[\s，,。!！谢]*$")
YES_WORDS = re.compile(r"^\s*(好|行|嗯|对|可以|是)")
# A yes before more words at the confirmation ("对 就投诉频繁停电", "是的，就是表扬那个师傅").
LEADING_YES = re.compile(r"^\s*(对的|对|是的|是|嗯嗯?|好的|好|没错|确认|可以)[，,。！!\s]+")
# Saying again which kind of request it is ("就投诉…", "我要举报的是…") adds nothing to the story.
RESTATED_KIND = re.compile(r"^(就是|就|我)?(要|想)?(投诉|举报|反映|表扬|建议|提建议|提意见)(一下)?(的是|的就是|是|就是)?")
# "这个", "这事": what is already being filed, nothing new.
ONLY_THIS = re.compile(r"^(这个|这事|这件事|这个事|这个问题|这)(儿|吧|啊|呢|的)?$")
MIN_NEW_DETAIL_CHARS = 4
# "就这样登记", "给我个说法", "赶紧处理一下": a go-ahead, no detail of the story.
GO_AHEAD_WORDS = re.compile(r"就这样|就这么|这样|帮我|给我|(登记|提交|确认|处理|办)(一下)?(吧|了)?|可以了|没问题|"
                            r"给?(我)?个说法|赶紧|尽快|快点|谢谢|行了|好了|希望你们|麻烦(你们)?")


def yes_restated(text: str) -> Optional[tuple]:
    """"对 就投诉频繁停电" → (the kind named or None, what follows it); None when the message
    neither starts with a yes nor restates the kind ("就投诉这个")."""
    lead = LEADING_YES.match(text)
    said = text[lead.end():] if lead else text
    restated = RESTATED_KIND.match(said)
    if not lead and not (restated and restated.group(3)):
        return None
    kind = KIND_OF_WORD.get(restated.group(3)) if restated and restated.group(3) else None
    rest = said[restated.end():].strip(" ，,。！!") if restated else said.strip(" ，,。！!")
    rest = GO_AHEAD_WORDS.sub("", rest).strip(" ，,。！!")  # "对 就这样登记": nothing new
    return kind, "" if ONLY_THIS.match(rest) else rest


KIND_OF_WORD = {"投诉": "complaint", "反映": "complaint", "举报": "tip_off", "表扬": "praise", "建议": "suggestion",
                "提建议": "suggestion", "提意见": "suggestion"}
TIP_OFF_WORDS = re.compile(r"举报|偷电|窃电")
ADDRESS_LIKE = re.compile(r"\d+\s*(号|栋|幢|室|楼)|[区县镇乡村路街道巷苑]\S*\d")
# A suggestion asking to be told of outages before they come: what the notices already do.
OUTAGE_NOTICE_WISH = re.compile(r"(停电|检修|断电|停送电)[^。！!？?]{0,15}(提前|前一天|前两天|前几天|短信|通知|提醒|告诉)|"
                                r"(提前|短信|通知|提醒)[^。！!？?]{0,10}(停电|检修|断电)")


async def notices_bound(tracker: Tracker) -> bool:
    """Whether this conversation already receives notices (then nothing is offered)."""
    try:
        return bool(await api_client.notice_bindings(tracker.sender_id))
    except api_client.ApiError:
        return True  # cannot tell: better no offer than a wrong one


# Each kind's commitment is in its utter_feedback_filed_<kind>; complaints and tip-offs name
# their first deadline (utter_feedback_filed_<kind>_due).
FILED_KINDS = ("complaint", "tip_off", "suggestion", "praise")
# Words that only announce the request ("我要投诉"): what is left after them is the content.
_ANNOUNCE = re.compile(r"^(你好|您好)?[，,\s]*(我)?(要|想)?(投诉|举报|反映|提(个|一?点)?(意见|建议)|表扬|建议)(一下)?[：:，,\s]*")


# A question about planned outages ("听说这几天要停电", "明天停不停电")...
ASKS_ABOUT_OUTAGES = re.compile(r"(听说|是不是|会不会|要不要|有没有)[^，,。]{0,8}(要)?停电|停不停电|停电(吗|计划|安排)|"
                                r"(明天|后天|这几天|这周|下周|过几天)[^，,。]{0,6}停电|"
                                # "湖南路那边要晚上停电施工？我开夜宵的 影响大不大"
                                r"要[^，,。]{0,4}停电[^，,。]{0,4}[？?吗]|停电[^，,。]{0,6}影响(大不大|大吗|不影响)|"
                                # "物业群里说湖南路要搞电缆迁改 我家受不受影响": works announced, asked about.
                                r"(迁改|施工|检修|改造|停电)[^。？?]{0,12}(受不受|影不影响|有没有影响|会不会影响|影响到)")
# ...and the words of feedback, which keep it feedback ("这个月停了三回了 我要投诉").
FEEDBACK_WORDS = re.compile(r"投诉|举报|建议|表扬|意见|态度|不满|差劲|太差|破|管不管|说法|赔|又停|老停|总停|三天两头|第[二三四五]次|几回|"
                            r"点(个)?赞|赞一个|好评|感谢|谢谢.{0,6}师傅|锦旗")


BILL_WORDS = re.compile(r"电费|账单|用电量|度数")
# "我之前投诉的事怎么没人理我": a request made before, and no news of it.
WANTS_TO_COMPLAIN_AGAIN = re.compile(r"(再|还要|要|想)(投诉|举报)")
# "…你们是不是抄错表了！": whether the bill is wrong, asked (said for sure, it is a complaint).
ASKS_IF_MISREAD = re.compile(r"是不是[^，,。！!]{0,4}(抄错|算错|估的|估抄|多算|多收|搞错)")
CHECK_IT = re.compile(r"(给我|帮我|帮忙)?查(查|一查|一下|下)|(给我|帮我)看看|核(对|实)一下")
# "怎么申请", "要办", "想装": someone applying for a business.
APPLIES = re.compile(r"申请|办理|要办|想办|怎么办|咋办|报装|想装|要装")
# Feedback named in so many words: never read as a remark.
NAMES_FEEDBACK = re.compile(r"投诉|举报|建议|表扬|意见|差评|说法|赔")
# What the bot said when it showed a bill.
BILL_SHOWN = re.compile(r"电费账单|电费金额|电费 [\d.]+ 元")
# "两千三百多？？这么多", "咋这么贵": surprise at an amount.
AMOUNT_SURPRISE = re.compile(r"这么多|这么贵|那么多|那么贵|咋这么|怎么这么|太贵|贵了这么|多了这么|翻了")
# "晓得了 回头交 还有个事 …": something more follows the acknowledgement.
MORE_TO_SAY = re.compile(r"还有|另外|对了|顺便|再问|还想")
# "行吧知道了", "好吧 那我准备一下": the answer taken in.
TAKEN_IN = re.compile(r"(行吧|好吧|那行|那好吧?|算了吧?)[，,\s]*(知道了|晓得了|明白了|我知道了)?|知道了|晓得了|明白了")


# A short remark that names no grievance is no complaint, praise or tip-off by itself.
SHORT_REMARK_CHARS = 14
GRIEVANCE_WORDS = re.compile(r"反映|错|不对|问题|乱|烂|坑|垃圾|气死|什么玩意|离谱|过分|不像话|乱收|多收|黑心|骗|偷电|窃电|好人|谢谢你们|辛苦|负责|"
                             r"希望|能不能|应该|最好|没人|不来|不管|慢|差|凶|骂|推诿|敷衍|不理")
# "能不能不留名字", "会不会告诉他是我举报的", "怕他找我麻烦": worried about being known.
ASKS_ABOUT_ANONYMITY = re.compile(r"(能不能|可不可以|可以|能|会不会|会)[^，,。]{0,4}(不留名|匿名|不留名字|不说名字|保密|告诉他|知道是我)"
                                  r"[^，,。]{0,4}(吗|么|啊|呀|呢|？|\?|\s|$)|"
                                  r"(不留名|匿名|不留名字|不留电话|不说名字)[^，,。]{0,3}(可以|行|能)[^，,。]{0,2}(吗|么|不|嘛|？|\?)")


# "其实也不算投诉 就提个意见吧", "对 就登记成建议": the customer changes what is being filed.
KIND_SWITCH = re.compile(r"(其实)?(也)?(?:不算|谈不上|说不上|称不上)(是)?(投诉|举报|建议|表扬)[了吧啊]?|(就是?|还是|改成|登记成|算|当成?|就当)"
                         r"(?:要|想)?(提)?(个|一个|成)?(投诉|举报|建议|表扬|意见)(吧|了)?")


# Praise in the customer's words ("你们那个小伙子蛮好的 服务态度没得话说"), and a grievance.
PRAISE_WORDS = re.compile(r"表扬|点赞|点个赞|好评|蛮好|挺好的|很好|真好|没话说|没得话说|没的说|给力|辛苦了|感谢|谢谢你们|"
                          r"负责任|热心|耐心|态度好|态度很好|修得又快|来得(真|很|挺)?快")
# Faults before this one, or a repair asked for before: a grievance, not only a fault told.
EARLIER_FAULTS = re.compile(r"第[二三四五六七八九十2-9几]\s*(次|回)|又|老是|总是|天天|经常|隔三差五|三天两头|动不动|"
                            r"好几(次|回)|几回|报(了|过)?修|打了.{0,4}(电话|次)")
# "再没消息我就真要投诉了", "要是明天还不来 我就投诉": a complaint kept for later.
COMPLAINT_LATER = re.compile(r"(再|要是|如果|还|到时候?)[^，,。！!]{0,10}(就|我就|那就|那我就)(真|真的)?(要|得|去|会)?(投诉|举报)")
# "这个月停了四五回了", "一礼拜断了三次电": outages counted over a time, a grievance about how often.
COUNTED_OUTAGES = re.compile(r"(停|断)(电)?了?(好)?[二两三四五六七八九十几2-9][一二两三四五六七八九十\d]*(回|次|趟)|第[二三四五六七八九十\d几]+(回|次)(停|断)")
GRIEVANCE_SAID = re.compile(LET_DOWN.pattern + r"|不像话|太慢|乱收|多收|不合理|离谱|翻倍|不通知|不打招呼|连个招呼|"
                            r"骗|凶|骂|差劲|垃圾|气死")


def kind_by_words(text: str, heard: Optional[str]) -> Optional[str]:
    """Praise heard as a complaint, or a complaint heard as praise, by the customer's words."""
    praised, aggrieved = bool(PRAISE_WORDS.search(text)), bool(GRIEVANCE_SAID.search(text)) or wants_to_complain(text)
    if heard == "complaint" and praised and not aggrieved and "投诉" not in text:
        return "praise"
    if heard == "praise" and aggrieved and not praised:
        return "complaint"
    return None


def switched_kind(text: str, current: Optional[str]) -> Optional[str]:
    """The kind the customer now wants, when a switch is said and it differs from ``current``."""
    found = [m for m in KIND_SWITCH.finditer(text or "") if m.group(8)]
    if not found:
        return None
    kind = KIND_OF_WORD.get(found[-1].group(8)) or ("suggestion" if found[-1].group(8) == "意见" else None)
    return kind if kind and kind != current else None


# "能不能晚点停", "推迟几天": a planned outage asked to be moved.
POSTPONE_ASKED = re.compile(r"晚点停|晚些停|晚几天|推迟|延后|改期|改个时间|换个时间|改天(再)?停|别停|不停行不行|能不能不停|缓几天")
# Thanks for what the assistant just explained ("谢谢您耐心解释", "解释得很清楚").
THANKS_FOR_THE_ANSWER = re.compile(r"(谢谢|感谢|多谢)(您|你)?(的)?(这么)?(耐心)?(的)?(解释|解答|讲解|回答|说明|告诉我|答复)|"
                                   r"(解释|讲|说)得(很|挺|真|非常|蛮)?(清楚|明白|详细)")
# Someone or some service of the utility's named as the one praised.
PRAISED_SOMEONE = re.compile(r"表扬|师傅|工作人员|小伙|姑娘|同志|营业员|营业厅|抄表|电工|班长|供电所|抢修|客服人员|人工客服|锦旗|点赞")


def thanks_for_the_answer(text: str) -> bool:
    """Thanks for what the assistant explained, with nobody of the utility's praised: no praise ticket."""
    return bool(THANKS_FOR_THE_ANSWER.search(text)) and not PRAISED_SOMEONE.search(text)


# Asking where a request stands: "进度", "到哪了", "处理了没", a question mark.
STATUS_ASKED_WORDS = re.compile(r"[吗么嘛？?]|进度|到哪|怎么样了|咋样了|处理(了|没|好)|好了没|办(好|完)|查(一下|下|查)|单号|工单")


# What the bot says when praise or a suggestion is filed with no phone to reply to.
FILED_WITHOUT_REPLY = re.compile(r"您的(表扬|意见建议)已登记")


def no_contact_left_before(tracker: Tracker) -> bool:
    """Praise or a suggestion was filed earlier in this session without a phone to reply to."""
    from actions.common import session_events

    asked, filed_without = False, False
    for event in session_events(tracker):
        if event.get("event") == "bot":
            text = str(event.get("text") or "")
            asked = asked or "需要留个联系电话以便回复您吗" in text
            if asked and FILED_WITHOUT_REPLY.search(text) and "联系电话：" not in text:
                filed_without = True
        elif event.get("event") == "slot" and event.get("name") == "contact_phone" \
                and event.get("value") not in (None, NO_CONTACT):
            asked = False  # a phone was left then: not declined
    return filed_without


# "就想表扬一下 没别的事 谢谢你们": what was registered, said again, and nothing more.
RESTATED_ONLY = re.compile(r"(就是|就|只是|只|我)?(想|是)?(表扬|感谢|夸|建议|投诉|反映)(一下|下)?(你们|师傅)?(的)?|没(有)?(别的|其他|其它)(事|的)?(了)?|"
                           r"(谢谢|感谢|多谢)(你们|您)?(了|啊|哈|啦)?|就这样(吧|了)?|好的|行|嗯|哈|啊|吧|了|啦|呀|哦|嘛|\s")
# "…咋回事", "为什么还没…": asking why, which a complaint need not be.
ASKS_WHY = re.compile(r"咋回事|怎么回事|为什么|为啥|咋还没|怎么还没|什么原因|啥原因")
# A question of fact, which a suggestion's "能不能…" is not: "商业电有没有峰谷", "一度多少钱".
ASKS_A_FACT = re.compile(r"有没有|是不是|多少|几点|哪里|怎么(收|算|办)|[吗么][？?]?\s*$")
SUGGESTION_SAID = re.compile(r"建议|意见|提个|希望你们|应该")
# Words of a complaint meant as one: "我要投诉", "给个说法", "什么破服务".
COMPLAINT_SAID = re.compile(r"投诉|举报|说法|赔|态度|太差|真差|破|不满|气死|曝光|12398|市长|热线|媒体|领导")
# "师傅来之前能不能先打个电话", "上门前先联系我一下": the customer's wish for a visit.
CALL_BEFORE_COMING = re.compile(r"(来之前|上门前|上门之前|过来之前|来的时候|出发前)[^，,。]{0,8}(打个?电话|打给我|联系|说一声|通知)")


class ValidateFeedbackForm(KeepsIdentitySlots, BaseFormValidation, FormValidationAction):
    def name(self) -> Text:
        return "validate_feedback_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        reassured = scam_answer(dispatcher, tracker) or await reassure_after_filing(dispatcher, tracker) \
            or await add_to_just_filed(dispatcher, tracker)
        if reassured:
            return reassured
        if tracker.get_slot("requested_slot") is None and await correct_just_filed_phone(dispatcher, tracker):
            # "电话18124769695 希望给个说法" right after a complaint was filed: the number for
            # that complaint (NLU heard a new one); nothing new is filed.
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
        text = latest_text(tracker)
        # (On the form's first turn the type is not set yet: extract_feedback_type sets it from the intent.)
        kind = tracker.get_slot("feedback_type") or INTENT_TO_TYPE.get(str(latest_intent(tracker)[0]))
        if tracker.get_slot("requested_slot") is None and kind in TYPE_LABELS \
                and any(f"您的{TYPE_LABELS[kind]}已登记" in said for said in bot_texts_within(tracker, 3)) \
                and not RESTATED_ONLY.sub("", text).strip(" ，,。！!~～"):
            # "就想表扬一下 没别的事 谢谢你们" a little after the praise was registered: said again,
            # not a second praise; thanked, and the conversation closes as thanks do.
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_type", None),
                    FollowupAction("action_wrap_up")]
        if tracker.get_slot("requested_slot") is None and kind in ("suggestion", "complaint") \
                and POSTPONE_ASKED.search(text) and not re.search(r"建议|投诉|意见", text):
            from actions.faq import follow_the_shown_outages, outage_just_shown  # faq imports this module

            if outage_just_shown(tracker):
                # "停一整天冷库扛不住 能不能晚点停" right after the planned outage was told (NLU: a
                # suggestion): the outage again, with what to do about it; nothing filed.
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_type", None),
                        SlotSet("feedback_content", None)] + follow_the_shown_outages(tracker)
        if tracker.get_slot("requested_slot") is None and kind == "praise" and thanks_for_the_answer(text):
            # "明白了…谢谢您耐心解释。" after a bill and a tier answer (NLU: praise): thanks for the
            # answer; the conversation closes as thanks do, no praise ticket for the bot.
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_type", None),
                    SlotSet("feedback_content", None), FollowupAction("action_wrap_up")]
        if tracker.get_slot("requested_slot") is None and (
                (kind == "complaint" and ASKS_WHY.search(text) and not COMPLAINT_SAID.search(text))
                or (kind == "suggestion" and ASKS_A_FACT.search(text) and not SUGGESTION_SAID.search(text))):
            from actions.faq import answer_topic, topic_by_words  # faq imports the forms' modules

            worded = topic_by_words(text)
            if worded and answer_topic(worded, dispatcher, tracker, domain):
                # "光伏发电的钱…这三个月一分没到 咋回事" (NLU heard a complaint), "商业电有没有峰谷 夜里
                # 烧水能不能便宜点" (a suggestion): a question its words name, answered; a complaint
                # or a suggestion is filed when the customer says so.
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_type", None),
                        SlotSet("faq_topic", worded), FollowupAction("action_listen")]
        if tracker.get_slot("requested_slot") is None and CALL_BEFORE_COMING.search(text) \
                and not re.search(r"建议|意见|投诉|表扬", text):
            # "好的 师傅来之前能不能先打个电话 我白天上班" (after a progress answer; NLU heard a
            # suggestion): a wish for the crew's visit, not a suggestion to the company.
            dispatcher.utter_message(response="utter_crew_calls_before_coming")
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_type", None),
                    FollowupAction("action_listen")]
        if tracker.get_slot("requested_slot") == "contact_phone" and ASKS_ABOUT_ANONYMITY.search(text) \
                and not find_mobile(text):
            # "我能不能不留名字 怕他找我麻烦": yes, and what is kept secret. A tip-off is then taken
            # anonymously (asking again for the phone the customer fears to give loses it).
            if tracker.get_slot("feedback_type") == "tip_off":
                dispatcher.utter_message(response="utter_tip_off_taken_anonymously")
                return [SlotSet("contact_phone", NO_CONTACT), SlotSet("requested_slot", None)]
            dispatcher.utter_message(response="utter_reporter_kept_secret")
            return [SlotSet("contact_phone", None), SlotSet("requested_slot", "contact_phone")]
        if tracker.get_slot("requested_slot") and tracker.get_slot("feedback_type") == "complaint" \
                and LOST_JUST_NOW.search(text) and not QUESTION_MARKS.search(text):
            # "哎 你看 说着说着又没电了 整个家里都黑了" while a complaint is taken: the repair
            # first; the complaint is filed right after it (action_submit_fault), on that phone.
            content = tracker.get_slot("feedback_content") or ""
            dispatcher.utter_message(response="utter_complaint_after_repair")
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("feedback_content", content or text),
                    SlotSet("fault_description", text[:500]), FollowupAction("fault_form")]
        switched = switched_kind(text, tracker.get_slot("feedback_type"))
        if switched and tracker.get_slot("requested_slot") is not None:
            # "其实也不算投诉 就提个意见吧": the same story, filed as what the customer now says.
            label = TYPE_LABELS.get(switched, "意见")
            dispatcher.utter_message(response="utter_feedback_switched", kind=label)
            events: List[EventType] = [SlotSet("feedback_type", switched)]
            content = tracker.get_slot("feedback_content") or ""
            rest = KIND_SWITCH.sub("", text).strip(" ，,。！!吧")
            if len(rest) >= MIN_NEW_DETAIL_CHARS and rest not in content:
                events.append(SlotSet("feedback_content", f"{content}；{rest}"[:1000] if content else rest))
            return events + [SlotSet("requested_slot", None)]
        if tracker.get_slot("requested_slot") is None and not tracker.get_slot("feedback_content") \
                and not text.startswith("/"):
            served = self._served_otherwise(dispatcher, tracker, text, domain)
            if served is not None:
                # Nothing is filed: the form closes and what the words ask for follows.
                return [SlotSet("feedback_type", None), SlotSet("requested_slot", None), ActiveLoop(None)] + served
        return await super().run(dispatcher, tracker, domain)

    @staticmethod
    def _served_otherwise(dispatcher: CollectingDispatcher, tracker: Tracker, text: str,
                          domain: DomainDict) -> Optional[List[EventType]]:
        """At the opening, words NLU heard as feedback that ask for something else: the events
        that serve it, or None when it is feedback after all."""
        later = COMPLAINT_LATER.search(text)
        if later and not NAMES_FEEDBACK.search(text.replace(later.group(0), "")):
            # "行 我再等两天 再没消息我就真要投诉了": a complaint kept for later, not made now.
            dispatcher.utter_message(response="utter_ok_no_problem")
            return [FollowupAction("action_listen")]
        if ASKS_ABOUT_OUTAGES.search(text) and not FEEDBACK_WORDS.search(text):
            # "我在湖南路开店的 听说这几天要停电 影响不影响白天做生意": a question about planned
            # outages; it is answered.
            return [FollowupAction("outage_form")]
        named = NAMES_FEEDBACK.search(as_nlu_reads(text))  # ("俺要头诉": read with the NLU's spelling fixes)
        from actions.faq import answer_again_plainly, asks_power_back_after_paying  # faq imports this module

        if not named and tells_a_fault(text) and not GRIEVANCE_SAID.search(text) and not is_reconnection(text) \
                and not (is_angry(text) and EARLIER_FAULTS.search(text)) and not COUNTED_OUTAGES.search(text) \
                and not ASKS_FOR_A_PERSON.search(text):
            # "店里总闸老是跳 一上午跳了五六次 生意都没法做" (NLU heard a complaint): a fault told,
            # with nothing held against us; "家里没电一个多小时了 娃热得一直哭 你们到底管不管啊": angry
            # at this fault only, not at earlier ones or visits. The repair (any apology has been said).
            return [SlotSet("fault_description", text[:500]), FollowupAction("fault_form")]

        if not named and answer_again_plainly(dispatcher, tracker, domain):
            # "我岁数大了 你说简单点 就说几点到几点便宜" (NLU heard a suggestion): said again, plainer.
            return [FollowupAction("action_listen")]

        if asks_power_back_after_paying(text) and not named:
            # "欠费？？就欠了两个月就给我停了？行 我现在交 交完马上来电吗": angry, but the question
            # is when power returns after paying (the rule, then the account's bills).
            return [FollowupAction("action_answer_faq")]
        if asks_progress_of_earlier(text) and not WANTS_TO_COMPLAIN_AGAIN.search(text):
            # "我之前投诉的事怎么没人理我": where that complaint stands, first (a new complaint
            # about it is one question away).
            return [FollowupAction("progress_form")]
        if ASKS_HOW_TO_PAY.search(text) and not named and not is_angry(text):
            # "能不能我在网上替她交 她不会用手机" (NLU heard a suggestion): how to pay, answered.
            from actions.faq import answer_topic  # faq imports this module

            if answer_topic("pay_by_app" if re.search(r"网上|手机|app|App|APP", text) else "payment_channels",
                            dispatcher, tracker, domain):
                return [FollowupAction("action_listen")]
        if BILL_WORDS.search(text) and not named and (CHECK_IT.search(text) or ASKS_IF_MISREAD.search(text)):
            # "…上个月我家电费怎么会这么高？？…是不是抄错了…给我查查": the bill checked and explained.
            return [SlotSet("bill_query", "reason"), FollowupAction("bill_form")]
        business = business_from_text(text)
        if business and APPLIES.search(text) and not named and not TIP_OFF_WORDS.search(text):
            # "专变需要从400kVA增到800kVA，怎么申请？" (NLU heard a tip-off): an application.
            return [SlotSet("business_type", business), FollowupAction("application_form")]
        if not named:
            said_last = " ".join(str(e.get("text") or "") for e in previous_turn(tracker) if e.get("event") == "bot")
            if BILL_SHOWN.search(said_last) and AMOUNT_SURPRISE.search(text):
                # "两千三百多？？这么多" right after the bill: why it is so high.
                return [SlotSet("bill_query", "reason"), FollowupAction("bill_form")]
            if said_last and TAKEN_IN.search(text) and len(text) <= 16 and not MORE_TO_SAY.search(text):
                # "一整天啊 冰箱咋办 行吧知道了" right after the outage times: taken in with a sigh.
                dispatcher.utter_message(response="utter_ok_no_problem")
                return [FollowupAction("action_listen")]
        if len(text.strip()) <= SHORT_REMARK_CHARS + (6 if bot_answered_last_turn(tracker) else 0) \
                and not (FEEDBACK_WORDS.search(text) or GRIEVANCE_WORDS.search(text) or is_angry(text)):
            # "还没交是吧 这两天去交" right after a bill: a short remark with nothing to complain of
            # is no complaint; the fallback answers it as what it is.
            return [FollowupAction("action_default_ask_affirmation")]
        return None

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("api_failed"):
            return []
        # Every kind is registered once its content and contact are known, with no confirmation
        # round: a customer who gave both and left thought it was done (blind conversations lost
        # complaints and tip-offs there). What is said after it is added to the ticket, a wrong
        # phone corrected, a "算了" withdraws it (actions/common.py: add_to_just_filed...).
        if tracker.get_slot("identity_verified") and not tracker.get_slot("contact_phone"):
            return ["feedback_type", "feedback_content"]  # the registered phone is called
        if tracker.get_slot("feedback_type") in ("praise", "suggestion") and not tracker.get_slot("contact_phone") \
                and no_contact_left_before(tracker):
            # Praise, then "另外提个建议…": the reply phone was declined (or passed over) for the
            # first one a moment ago; asking again for the second would only annoy.
            return ["feedback_type", "feedback_content"]
        return ["feedback_type", "feedback_content", "contact_phone"]

    async def extract_feedback_type(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("feedback_type"):
            return {}  # the type is set by the request that opened the form, not by its content
        intent, _ = latest_intent(tracker)
        heard = INTENT_TO_TYPE.get(str(intent))
        # "服务态度没得话说" heard as a complaint is praise; "换了表电费翻倍了" heard as praise a complaint.
        by_words = kind_by_words(latest_text(tracker), heard)
        if by_words:
            intent, heard = next(name for name, kind in INTENT_TO_TYPE.items() if kind == by_words), by_words
        if intent == "complain" and not any(
                (e.get("metadata") or {}).get("utter_action") == "utter_apology_angry"
                for e in tracker.events if e.get("event") == "bot") \
                and not any(m.get("response") == "utter_apology_angry" for m in dispatcher.messages):
            dispatcher.utter_message(response="utter_apology_complaint")  # an apology before any question
        if intent == "complain" and TIP_OFF_WORDS.search(latest_text(tracker)):
            # "举报你们一个装表的师傅…": the customer calls it a tip-off (confidential, may be anonymous).
            return {"feedback_type": "tip_off"}
        return {"feedback_type": heard} if heard else {}

    async def extract_feedback_content(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("feedback_content"):
            return {}
        text = free_text_answer(tracker, "feedback_content")
        if text:
            return {"feedback_content": text}
        intent, _ = latest_intent(tracker)
        opening = latest_text(tracker).strip()
        rest = _ANNOUNCE.sub("", opening)
        # "我要投诉，抄表员上门态度很差": the opening already says what happened.
        if tracker.get_slot("requested_slot") is None and intent in INTENT_TO_TYPE and \
                not opening.startswith("/") and len(rest) >= 8:
            # ("我要投诉他 这种人怎么当的工作人员": who "he" is was told in the message before.)
            return {"feedback_content": complaint_with_story(tracker, opening) if POINTS_BACK.search(opening) else opening}
        told = story_told_before(tracker)
        if tracker.get_slot("requested_slot") is None and told and not opening.startswith("/") and len(rest) < 8:
            # "你们那个抄表的是不是瞎估的…" then "我要投诉": the story just told is the content.
            return {"feedback_content": f"{told}；{opening}"[:1000]}
        return {}

    async def extract_contact_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        if "contact_phone" in tracker.slots_to_validate() or tracker.get_slot("requested_slot") != "contact_phone":
            return {}
        intent, confidence = latest_intent(tracker)
        text = latest_text(tracker).strip()
        if intent == "deny" or text == "/deny":
            return {"contact_phone": NO_CONTACT}
        if not text or text.startswith("/") or intent in STOP_INTENTS:
            return {}
        if parse_contact(text):
            return {"contact_phone": text}
        # "户号3201000024 尾号7728", "电话就打我登记的这个号": the account's registered phone.
        account = await account_contact(dispatcher, tracker, text)
        if account:
            return account
        if NO_CONTACT_WORDS.search(text) or (DONE_WORDS.search(text) and (
                tracker.get_slot("feedback_type") != "complaint" or not YES_WORDS.search(text))):
            # A bare "好" to "请留一个联系电话" is no refusal for a complaint: the phone is asked again.
            return {"contact_phone": NO_CONTACT}
        if YES_WORDS.search(text) and len(text) <= 3:
            return {"contact_phone": None}  # "好": the number is asked for again, saying why
        if tracker.get_slot("feedback_type") in ("praise", "suggestion") \
                and not RESTATED_ONLY.sub("", text).strip(" ，,。！!~～"):
            # "就是想表扬下 谢谢啦" to "需要留个联系电话以便回复您吗": nothing to reply to, no phone.
            return {"contact_phone": NO_CONTACT}
        restated = yes_restated(text)
        if restated is not None and len(restated[1]) < MIN_NEW_DETAIL_CHARS:
            # "对 就投诉这个": a yes to what is being filed, nothing new for the story.
            return {"contact_phone": None}
        content = tracker.get_slot("feedback_content")
        told_not_asked = tracker.get_slot("feedback_type") == "praise" and intent == "query_progress" \
            and not STATUS_ASKED_WORDS.search(text)
        if is_digression(tracker, "contact_phone") and not (intent in ASIDE_INTENTS and len(text) >= 8) \
                and not told_not_asked:
            # ("张溪社区32号 任立新 师傅姓啥我没问 是谷里供电所的" at a praise's phone question, heard
            # as a progress query: who and where, told for the praise; nothing asked about.)
            return {}
        if content and text not in content and len(text) >= 4:
            # More of the story ("上周来抄表的时候骂人", where it happened) while a phone was
            # asked: keep it; praise, suggestions and tip-offs are not held up for a phone.
            events: Dict[Text, Any] = {"feedback_content": f"{content}；{text}"[:1000]}
            dispatcher.utter_message(response="utter_feedback_added")
            if tracker.get_slot("feedback_type") == "praise" or (
                    tracker.get_slot("feedback_type") in ("suggestion", "tip_off") and "；" in content):
                # Praise is not held up for a phone; a suggestion or a tip-off whose teller went on
                # telling twice instead of leaving one is registered without it either (a phone
                # said later goes on it). Once, the question is asked again: "能不能在村里设个代收点"
                # after "需要留个联系电话吗" adds to the suggestion, the number may come next.
                events["contact_phone"] = NO_CONTACT
            return events
        if tracker.get_slot("feedback_type") in ("praise", "suggestion") and YES_WORDS.search(text):
            return {"contact_phone": NO_CONTACT}
        return {}

    async def validate_feedback_content(self, value: Any, dispatcher: CollectingDispatcher,
                                        tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if len(text) < 4:
            dispatcher.utter_message(response="utter_feedback_content_too_short")
            return {"feedback_content": None}
        return {"feedback_content": text[:1000]}

    async def validate_contact_phone(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        kind = tracker.get_slot("feedback_type")
        if value == REGISTERED and registered_allowed(tracker):
            return {"contact_phone": REGISTERED}
        contact = parse_contact(value)
        if contact:
            return {"contact_phone": contact}
        if value == NO_CONTACT or NO_CONTACT_WORDS.search(str(value or "")):
            if kind == "complaint":
                dispatcher.utter_message(response="utter_complaint_no_contact_ok")
            return {"contact_phone": NO_CONTACT}
        said = f"{value or ''} {latest_text(tracker)}"
        if kind == "complaint" and re.search(r"不留|不想留|不用留|不方便留|不给|就不留|记下来就行|不需要回", said):
            # Asked once already and refused: the complaint is still taken, without a callback.
            dispatcher.utter_message(response="utter_complaint_without_contact")
            return {"contact_phone": NO_CONTACT}
        if kind == "complaint":
            dispatcher.utter_message(response="utter_complaint_ask_contact_again")
        else:
            dispatcher.utter_message(response="utter_feedback_phone_invalid")
        return {"contact_phone": None}


class ActionAskFeedbackContent(Action):
    def name(self) -> Text:
        return "action_ask_feedback_content"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        # One variation per feedback_type (response conditions on the slot); a complaint's
        # apology came first.
        dispatcher.utter_message(response="utter_ask_feedback_content")
        return []


def _said_sorry(tracker: Tracker) -> bool:
    return any(e.get("event") == "bot" and re.search(r"抱歉|对不起", str(e.get("text") or ""))
               for e in tracker.events)


class ActionAskContactPhone(Action):
    def name(self) -> Text:
        return "action_ask_contact_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        form = (tracker.active_loop or {}).get("name")
        kind = tracker.get_slot("feedback_type")
        if form == "feedback_form" and kind == "complaint":
            dispatcher.utter_message(response="utter_ask_contact_phone_complaint" if _said_sorry(tracker)
                                     else "utter_ask_contact_phone_complaint_sorry")
        elif form == "feedback_form" and kind == "tip_off":
            dispatcher.utter_message(response="utter_ask_contact_phone_tip_off")
        elif form == "feedback_form":
            dispatcher.utter_message(response="utter_ask_contact_phone_feedback")
        elif form == "application_form":
            dispatcher.utter_message(response="utter_ask_contact_phone_applicant")
        else:
            dispatcher.utter_message(response="utter_ask_contact_phone_repair")
        return []


FEEDBACK_RESET = reset_form_slots("feedback_form") + [SlotSet("api_failed", False)]

# Said while a complaint, tip-off or praise was being taken: another request to serve after it.
# A fault now ("现在又没电了 赶紧派人来修"), not one the story is about ("报了修没人来").
# ("现在电费通知、停电通知都发在微信上" in a suggestion is no fault: a notice, not the power.)
FAULT_NOW_WORDS = re.compile(r"(现在|还是|这会儿|到现在)[^，,。；、]{0,8}(没电|停电(了|啦)|不来电|断电(了|啦)?(?!通知))|"
                             r"(赶紧|快|马上|快点)(派人|来人|来修|过来修)|派人来修|来修一下|帮我报修")
AN_OUTAGE_QUESTION = re.compile(r"停不停电|停电吗|有没有停电|哪天停|几号停|什么时候停|"
                                r"(要停电|会停电|停电计划|计划停电|停电安排)[^，,。；]{0,6}([吗嘛么？?]|是不是|是真的)")
# "另外我餐馆想再加两台空调 电不够用 要增容": a business the customer wants done.
WANTS_IT_DONE = re.compile(r"想|要|打算|准备|申请|办")
# "上礼拜去建邺的营业厅办增容 她给我讲了好久" in a praise: what was done then, no new request.
TOLD_AS_PAST = re.compile(r"(上礼拜|上周|上个月|上回|上次|之前|以前|前几天|那天|昨天|前天|去年)[^，,。；]{0,12}(办|申请|装)")


def other_request_in_story(content: str, place: Optional[str], contact: Optional[str]) -> List[EventType]:
    """The request the customer added while the feedback was taken ("两个事一起说"): its form
    follows the filing, with the place and phone already given (the form checks them)."""
    parts = [part for part in re.split(r"；", content) if part]
    for part in parts:
        if FAULT_NOW_WORDS.search(part):
            form, events = "fault_form", [SlotSet("fault_description", part[:500])]
        elif AN_OUTAGE_QUESTION.search(part):
            form, events = "outage_form", []
        elif business_from_text(part) and WANTS_IT_DONE.search(part) and part is not parts[0] \
                and not TOLD_AS_PAST.search(part):
            form, events = "application_form", [SlotSet("business_type", business_from_text(part))]
        else:
            continue
        if place:
            events.append(SlotSet("address", place))
        if contact and form in ("fault_form", "application_form") and contact not in (NO_CONTACT, REGISTERED):
            events.append(SlotSet("contact_phone", contact))
        return events + [FollowupAction(form)]
    return []


# How a grievance is to be handled: an answer, a call, a person responsible, amends.
HANDLING_DEMANDED = re.compile(r"答复|回复我|联系我|给(我)?(个)?(说法|交代|解释)|处理结果|谁负责|有人负责|负责任|赔偿?|解决|追责")


# A kind of feedback named in so many words.
KIND_NAMED = (("tip_off", re.compile(r"举报")), ("complaint", re.compile(r"投诉")),
              ("praise", re.compile(r"表扬|点(个)?赞|锦旗|(感谢|谢谢).{0,12}(师傅|工作人员|同志)")),
              ("suggestion", re.compile(r"建议|提(个|一个|点)?意见")))
# "对了还有个事", "另外": what follows is another matter.
ANOTHER_MATTER_MARK = re.compile(r"^(对了|哦对了|还有个事|还有一件事|还有件事|另外|还有)")


def another_kind_in_story(content: str, kind: str) -> Tuple[str, Optional[Tuple[str, str]]]:
    """The story split where another matter of another kind begins ("…；对了还有个事 …想表扬一下他"):
    (the first matter's words, (the other kind, its words)); (content, None) when there is none."""
    parts = content.split("；")
    for index in range(1, len(parts)):
        part = parts[index].strip()
        if not (ANOTHER_MATTER_MARK.search(part) or ANOTHER_MATTER.search(part)):
            continue
        other = next((named for named, words in KIND_NAMED if words.search(part)), None)
        if other and other != kind:
            return "；".join(parts[:index]), (other, "；".join(parts[index:])[:1000])
    return content, None


def announce_filed(dispatcher: CollectingDispatcher, kind: str, ticket: Dict[str, Any]) -> None:
    """The filed message of a feedback ticket: its number, and for complaints and tip-offs the
    first deadline."""
    ticket_no, deadline, label = ticket["ticket_no"], next_deadline(ticket), type_label(kind)
    if kind not in FILED_KINDS:
        dispatcher.utter_message(response="utter_feedback_filed", kind_label=label, ticket_no=ticket_no)
    elif deadline and kind in ("complaint", "tip_off"):
        dispatcher.utter_message(response=f"utter_feedback_filed_{kind}_due", kind_label=label, ticket_no=ticket_no,
                                 milestone=str(deadline.get("name")), due=format_time(deadline.get("due_at")))
    else:
        dispatcher.utter_message(response=f"utter_feedback_filed_{kind}", kind_label=label, ticket_no=ticket_no)


class ActionSubmitFeedback(Action):
    def name(self) -> Text:
        return "action_submit_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("api_failed"):
            return identity_blocked_reply(dispatcher, tracker) + FEEDBACK_RESET
        kind = tracker.get_slot("feedback_type") or "complaint"
        content = tracker.get_slot("feedback_content") or ""
        if kind == "praise" and thanks_for_the_answer(content):
            # "明白了…谢谢您耐心解释。" after an answer, the form filled from that one message (its
            # validation never ran): thanks for the answer, no praise ticket for the bot.
            return FEEDBACK_RESET + [FollowupAction("action_wrap_up")]
        # "提个意见…；对了还有个事 上周来换电表的师傅人蛮好的 想表扬一下他": two matters of two
        # kinds, told one after the other while the first was taken: one ticket each.
        content, second = another_kind_in_story(content, kind)
        contact = tracker.get_slot("contact_phone")
        anonymous = contact == NO_CONTACT or (contact is None and not tracker.get_slot("identity_verified"))
        # A verified customer who gave no other number is called on the registered phone.
        registered = contact == REGISTERED or (contact is None and bool(tracker.get_slot("identity_verified")))
        place = next((part for part in content.split("；")[1:] if ADDRESS_LIKE.search(part)), None)
        payload = {
            "type": kind,
            "summary": f"{type_label(kind)}：{content}"[:500],
            "channel": channel_of(tracker),
            "conversation_id": tracker.sender_id,
            # The 户号 said with a number of one's own ("户号3201000031 电话137…") is linked too;
            # an anonymous report is never linked to an account.
            "account_no": None if anonymous and not registered else await stated_account(tracker),
            "contact_phone": None if anonymous or contact == REGISTERED else contact,
            "details": {"content": content, "anonymous": anonymous and not registered,
                        "use_registered_phone": registered, "address": place},
            "request_key": request_key(tracker, kind),
        }
        # (praise too: "名字不晓得 就晓得一个姓周" right after a praise was filed is more of it)
        earlier = await same_matter_filed(tracker, kind, content) if kind in ("complaint", "tip_off", "praise") else None
        if earlier is None and kind == "suggestion" and HANDLING_DEMANDED.search(content):
            # "希望三天内给个明确答复 必须有人联系我" right after a complaint was filed: how the
            # complaint is to be handled, not a suggestion of its own.
            earlier = await same_matter_filed(tracker, "complaint", content)
        if earlier:
            return await self._add_to_earlier(earlier, content, contact, anonymous or registered, dispatcher)
        try:
            ticket = await api_client.create_ticket({k: v for k, v in payload.items() if v is not None})
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            dispatcher.utter_message(response="utter_offer_human")
            return FEEDBACK_RESET + [SlotSet("handoff_reason", "api_failure")]
        ticket_no = ticket["ticket_no"]
        announce_filed(dispatcher, kind, ticket)
        if second:
            other_kind, other_content = second
            try:
                other = await api_client.create_ticket({k: v for k, v in {
                    **payload, "type": other_kind, "summary": f"{type_label(other_kind)}：{other_content}"[:500],
                    "details": {**payload["details"], "content": other_content},
                    "request_key": request_key(tracker, other_kind) + ":second"}.items() if v is not None})
                announce_filed(dispatcher, other_kind, other)
            except api_client.ApiError:
                dispatcher.utter_message(response="utter_api_failure")
        if kind == "suggestion" and OUTAGE_NOTICE_WISH.search(content) and not await notices_bound(tracker):
            # "计划停电能不能提前发短信": the notices exist already; a 95598 agent offers them.
            dispatcher.utter_message(response="utter_suggestion_notices_exist")
        if kind in ("complaint", "tip_off"):
            # No confirmation round before it (required_slots): what was registered is shown now.
            contact_text = "不留（匿名）" if anonymous and not registered else \
                "账户登记的手机号" if registered else mask_phone(contact)
            dispatcher.utter_message(response="utter_feedback_registered_as", content=echoed(content),
                                     contact=contact_text)
        # The place of the other request: in the story, or said with the phone ("…张溪社区32号 任立新 181…").
        said_place = next(iter(entity_values(tracker, "address")), None)
        following = other_request_in_story(content, place or said_place, contact)
        if not following and kind == "complaint" and tracker.get_slot("identity_verified") \
                and AMOUNT_DOUBTED.search(content):
            # "我一个人住一个月两百多度 电表是不是会自己发电": the proved customer doubts the bill;
            # a 95598 agent reads the figures out with the complaint registered.
            following = [SlotSet("bill_query", "details"), FollowupAction("action_query_bill")]
        return FEEDBACK_RESET + [SlotSet("last_ticket_no", ticket_no)] + \
            finish_service(dispatcher, tracker, served=True, ticket_no=ticket_no, more_to_come=bool(following)) + \
            following

    @staticmethod
    async def _add_to_earlier(ticket: Dict[str, Any], content: str, contact: Optional[str], no_new_phone: bool,
                              dispatcher: CollectingDispatcher) -> List[EventType]:
        """More of a matter filed earlier in this conversation goes onto that ticket (one matter,
        one ticket: the staff who call back see the whole story)."""
        ticket_no = ticket["ticket_no"]
        try:
            await api_client.add_ticket_note(ticket_no, f"客户补充：{content}"[:1000])
            if contact and not no_new_phone and contact != ticket.get("contact_phone"):
                await api_client.set_ticket_contact(ticket_no, contact)
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            dispatcher.utter_message(response="utter_offer_human")
            return FEEDBACK_RESET + [SlotSet("handoff_reason", "api_failure")]
        dispatcher.utter_message(response="utter_feedback_added_to_earlier",
                                 kind_label=type_label(str(ticket.get("type"))), ticket_no=ticket_no)
        return FEEDBACK_RESET + [SlotSet("last_ticket_no", ticket_no)]
