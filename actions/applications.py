"""Applications (业务办理): business type, documents, applicant, ticket, steps."""
from __future__ import annotations

import itertools
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.responses import echoed
from actions.common import (
    STOP_WORDS,
    VILLAGE_LEVEL,
    opening_text,
    second_request,
    second_request_events,
    earlier_customer_texts,
    HOUSE_NUMBER,
    BaseFormValidation,
    KeepsIdentitySlots,
    asker,
    channel_of,
    digits_only,
    is_digression,
    mask_name,
    find_mobile,
    finish_service,
    free_text_answer,
    identity_blocked_reply,
    latest_intent,
    latest_text,
    looks_like_address,
    mask_phone,
    milestone_lines,
    only_an_address,
    request_key,
    reset_form_slots,
    bot_texts_within,
    resolve_inline_correction,
    same_place,
    slot_before_this_message,
    spelled_house_numbers,
    ticket_announced_within,
    withdraw_just_opened,
    PREVIOUS_HOLDER,
    NUMBERLESS_SITE,
)
from bot import vocabulary

# Canonical keys are the NLU agreement's; names from bot.vocabulary; documents and words customers use.
BUSINESS_TYPES: Dict[str, Dict[str, Any]] = {
    "new_connection": {
        "label": vocabulary.BUSINESS_TYPES["new_connection"],
        "documents": ["户主身份证", "房屋产权证明（房产证或购房合同）"],
        "words": ["新装", "装电表", "装个电表", "开户", "新户", "接电", "通电", "新房", "装电", "申请用电", "用电申请",
                  "拉电", "拉个电", "装个表", "新盖", "新的电表", "装新表", "三相电", "临时用电", "临时电", "工地用电"],
    },
    "capacity_change": {
        "label": vocabulary.BUSINESS_TYPES["capacity_change"],
        "documents": ["户主身份证", "房屋产权证明", "用电设备清单（增容的原因和新增设备）"],
        "words": ["增容", "减容", "扩容", "容量", "加大功率", "功率不够", "增到", "增加到"],
    },
    "name_transfer": {
        "label": vocabulary.BUSINESS_TYPES["name_transfer"],
        "documents": ["新户主身份证", "原户主身份证（或继承、法院文书）", "过户后的房屋产权证明（不动产权证书或购房合同）",
                      "结清原户电费"],
        "words": ["过户", "更名", "改名", "换户主", "户名", "新房主", "转给新", "户名转", "过到", "到他名下", "到她名下",
                  "到我名下", "到买家名下", "到新房东名下"],
    },
    "meter_move": {
        "label": vocabulary.BUSINESS_TYPES["meter_move"],
        "documents": ["户主身份证", "房屋产权证明", "新表位位置说明（可附照片）"],
        "words": ["移表", "迁表", "挪表", "电表移", "移动电表", "电表挪", "表挪", "挪电表", "挪个位置", "表的位置", "挪个地方", "往外移", "移个位置",
                  "电表位置", "移个地方", "换个位置", "挪到", "移到外", "移到院", "移到楼道"],
    },
    "ev_charger": {
        "label": vocabulary.BUSINESS_TYPES["ev_charger"],
        "documents": ["户主身份证", "车位产权或长期使用证明", "物业同意安装证明", "购车合同或行驶证"],
        "words": ["充电桩", "充电", "电动车", "新能源车", "电动汽车", "充点桩", "冲电桩", "充电装", "冲点桩"],
    },
    "pv_connection": {
        "label": vocabulary.BUSINESS_TYPES["pv_connection"],
        "documents": ["户主身份证", "房屋产权证明", "光伏组件和逆变器的型号参数", "屋顶安装方案或照片"],
        "words": ["光伏", "太阳能", "并网", "发电"],
    },
    "tariff_change": {
        "label": vocabulary.BUSINESS_TYPES["tariff_change"],
        "documents": ["户主身份证", "变更原因说明（如申请峰谷电价、合表用户电价）"],
        "words": ["电价变更", "峰谷", "改电价", "分时电价", "电价类型", "合表", "普通电价", "居民电价", "商业电价",
                  "阶梯电价", "改成普通", "改回普通", "改回居民", "改成居民", "改为居民", "改回商业", "改成商业",
                  "改为商业", "商业的改", "居民的改"],
    },
    "account_closing": {
        "label": vocabulary.BUSINESS_TYPES["account_closing"],
        "documents": ["户主身份证", "房屋产权证明", "结清全部电费"],
        "words": ["销户", "注销", "停止用电", "拆表", "不用电了", "销掉", "户销了", "把户销", "撤户"],
    },
    # 计量装置校验: a customer who doubts the meter asks for it to be tested (result within 5
    # working days; an over-limit error means a new meter and a refund of what was overcharged).
    "meter_check": {
        "label": vocabulary.BUSINESS_TYPES["meter_check"],
        "documents": ["户号（或户主身份证，上门校验时核对）"],
        "words": ["电能表校验", "电表校验", "校验电表", "校验申请", "校验", "校表", "验表", "验电表", "检测电表", "电表检测",
                  "测电表", "测一下电表", "测测电表", "电表测一下", "电表测测", "检测一下电表", "电表检测一下"],
    },
}
# Who applies decides the documents and the schedule (sla.yml): a household, a business on
# low voltage (shop, office), or a high-voltage customer (its own transformer: 专变, kVA).
BUSINESS_DOCUMENTS = [
    "营业执照（或事业单位法人证书、组织机构代码证）",
    "法定代表人身份证；由他人办理的，另附授权委托书和经办人身份证",
    "用电地址的产权证明或租赁合同",
    "用电设备清单（设备名称、台数、功率，增容写明新增设备）",
]
HIGH_VOLTAGE_DOCUMENTS = BUSINESS_DOCUMENTS + [
    "项目批复、核准或备案文件（政府投资或重点项目需要）",
    "增容的，提供原户号（供用电合同）；新装的，提供用电负荷和用电性质说明",
]
# Business types whose documents and schedule depend on who applies.
KIND_SENSITIVE = {"new_connection", "capacity_change"}
KIND_LABELS = {"business": "（非居民）", "high_voltage": "（高压）"}
HIGH_VOLTAGE_WORDS = re.compile(r"高压|专变|专用变压器|变压器|10\s*(?:千伏|kv)(?!安)|箱变|双电源", re.I)
CAPACITY_KVA = re.compile(r"(\d{2,5})\s*(?:多|来|左右)?\s*(?:个)?(?:千伏安|kva|KVA|kVA|千瓦|kw|KW|kW)")
BUSINESS_WORDS = re.compile(r"工厂|厂里|厂房|我们厂|车间|(?<!供电)(?<!电力)(?<!物业)(?<!电网)公司|企业|单位|店里|店铺|商铺|门面|门店|饭店|餐馆|超市|"
                            r"商户|商业|工业|经营|营业|办公楼|写字楼|个体|工地|施工|临时用电|临电|项目部|塔吊|搅拌")
# Above this capacity a customer is supplied at 10 kV (Jiangsu: low voltage up to 160 kW).
LOW_VOLTAGE_LIMIT_KVA = 160
# "拟将现有容量由400千伏安增至800千伏安", "从315增加到630千伏安": the present and the new capacity.
CAPACITY_CHANGE = re.compile(r"(\d{2,5})\s*(?:千伏安|kva|千瓦|kw)?\s*(?:增加|增容|扩容|加大|扩大|提高|提升|减少|降低|增|加|扩|升|改|减|降)"
                             r"(?:至|到|成|为)\s*(\d{2,5})\s*(千伏安|kva|千瓦|kw)", re.I)
CAPACITY_UNITS = {"kva": "千伏安", "kw": "千瓦"}


def capacity_said(tracker: Tracker) -> Optional[str]:
    """The capacity the customer named in the conversation, as staff read it ("400千伏安 → 800千伏安",
    "630千伏安"); None when no figure with its unit was given."""
    said = " ".join(str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"
                    and not str(e.get("text") or "").startswith("/"))
    change = CAPACITY_CHANGE.findall(said)
    if change:
        before, after, unit = change[-1]
        unit = CAPACITY_UNITS.get(unit.lower(), unit)
        return f"{before}{unit} → {after}{unit}"
    sizes = re.findall(r"(\d{2,5})\s*(千伏安|kva|千瓦|kw)", said, re.I)
    if not sizes:
        return None
    size, unit = sizes[-1]
    return size + CAPACITY_UNITS.get(unit.lower(), unit)


def applicant_kind(tracker: Tracker) -> str:
    """residential, business (low voltage) or high_voltage, from the verified account and
    what the customer wrote in this conversation."""
    texts = " ".join(str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"
                     and not str(e.get("text") or "").startswith("/"))
    texts = texts or latest_text(tracker)
    sizes = [int(n) for n in CAPACITY_KVA.findall(texts)]
    if HIGH_VOLTAGE_WORDS.search(texts) or any(size > LOW_VOLTAGE_LIMIT_KVA for size in sizes):
        return "high_voltage"
    if tracker.get_slot("customer_type") in ("commercial", "industrial") or BUSINESS_WORDS.search(texts):
        return "business"
    return "residential"


def business_profile(key: Optional[str], kind: str, customer_type: Optional[str] = None) -> Dict[str, Any]:
    """Label, documents and the ticket's applicant type (its sla.yml schedule) for this business
    and applicant."""
    info = BUSINESS_TYPES.get(key or "", {"label": "业务办理", "documents": []})
    if key not in KIND_SENSITIVE:
        return {"label": info["label"], "documents": info["documents"], "applicant_type": None}
    if kind == "residential":
        return {"label": info["label"], "documents": info["documents"], "applicant_type": "residential"}
    applicant = "high_voltage" if kind == "high_voltage" else (
        customer_type if customer_type in ("commercial", "industrial") else "commercial")
    return {"label": info["label"] + KIND_LABELS[kind],
            "documents": HIGH_VOLTAGE_DOCUMENTS if kind == "high_voltage" else BUSINESS_DOCUMENTS,
            "applicant_type": applicant}


def business_from_text(text: Optional[str]) -> Optional[str]:
    """The business named; of several, the last one ("不是过户 是想把电表移到外头" is a meter move)."""
    text = str(text or "")
    if text in BUSINESS_TYPES:
        return text
    # "我先充个充电宝", "手机充电": charging a phone is no charger to install, a generator no PV
    # (same length kept).
    text = NOT_A_CHARGER.sub(lambda found: " " * len(found.group(0)), text)
    spans = []
    for key, info in BUSINESS_TYPES.items():
        if text == info["label"]:
            return key
        spans += [(match.start(), match.end(), key) for word in info["words"]
                  for match in re.finditer(re.escape(word), text)]
    # A word inside another business's longer word is not said: "普通电价" holds "通电".
    said = [(start, key) for start, end, key in spans
            if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)]
    asked_for = [(start, key) for start, key in said if ASKED_FOR_BEFORE.search(text[max(0, start - 4):start])]
    if asked_for and len({key for _, key in said}) > 1:
        # "我想办峰谷电 晚上充电瓶车划算": the business asked for, not the reason given after it.
        return max(asked_for)[1]
    if not said and ACCOUNT_NAME_CHANGE.search(text):
        return "name_transfer"  # "电费户头还是原来房东的名字 要改成我的"
    if not said and METER_MOVED.search(text):
        return "meter_move"  # "电表在墙当中碍事 能不能往外挪一挪"
    if not said and NEW_LINE.search(text):
        return "new_connection"  # "承包了八十亩地 要装抽水泵 想新拉一路电"
    return max(said)[1] if said else None


# "借个发电机" is a generator for an outage, no PV to connect.
NOT_A_CHARGER = re.compile(r"充电(宝|器|线|头)|手机(没电|充电|充个电)|给手机充|发电机|发电车")
# "我想办…", "申请…", "开通…": the words right before the business the customer asks for.
ASKED_FOR_BEFORE = re.compile(r"(想|要|申请|办理?|开通|改成|改为|装)(个|一个|一下|理)?$")


# A new supply line asked for (a pump in a field, a site, a farm): a new connection.
NEW_LINE = re.compile(r"(新|单独|另外)?拉(一|1)?(路|条|根)(电|线)|新拉(一|1)?(路|条)|接(一|1)路电|拉电过去|把电拉过去")


# Premises that have no supply yet: a new factory, a house just built, no 户号 yet.
NEW_PREMISES = re.compile(r"(新建|新盖|新造|刚建|刚盖|新起)(了|好)?[^，,。]{0,8}(厂|厂房|房子|店|门面|楼|车间|仓库)|新厂|"
                          r"新房子?[^，,。]{0,4}(通电|用电|接电|装电表)|(还)?没(有)?(开)?户号|没开过户")


def new_premises_said(tracker: Tracker) -> bool:
    """Premises with no supply yet named in the latest or the three messages before, and no
    change of an existing capacity asked for now ("容量大概630千伏安" is the new supply's size)."""
    text = latest_text(tracker)
    if text.startswith("/") or re.search(r"增容|减容|扩容|(加|增加|提高)容量|增到|增加到|加大功率", text):
        return False
    return any(NEW_PREMISES.search(said) for said in [text, *earlier_customer_texts(tracker, 3)])


# Words of any connection ("帮我报装"), which business_from_text reads as a new connection.
GENERIC_CONNECTION_WORD = re.compile(r"报装|办理|申请")


# The meter to be moved, in plain words rather than 移表.
METER_MOVED = re.compile(r"电表[^。？?]{0,16}(挪|移|搬|迁)(到|去|走|出|一挪|一下|位置|个位置|开)|(挪|移|搬|迁)[^。？?，,]{0,4}电表")
# The account's name to be changed, said in plain words rather than 过户/更名.
ACCOUNT_NAME_CHANGE = re.compile(r"(户头|户名|名字|名下)[^。？?]{0,14}(改|换|过|转)(成|到|为)?[^，,。]{0,3}(我|自己|儿子|女儿|新房主)|"
                                 r"(改|换|过|转)(成|到|为|给)[^，,。]{0,3}(我|自己|儿子|女儿|新房主|老伴)[^，,。]{0,3}(的名字|名字|名下)")
# "不销了", "先不办了", "销户不办了": the application just filed is not wanted any more.
WITHDRAWS_APPLICATION = re.compile(r"不(销|办|装|移|挪|过户|增容|减容|申请|弄)了|(销户|过户|增容|减容|移表|申请)(不办|不要|不弄|算了|取消|撤)|"
                                   r"(撤销|撤回|取消)(刚才|这个|那个)?的?(申请|销户|过户)")


# --- several answers in one message: "我叫孙福根 电话131…", "户号3201000014 尾号9073" ---
NAME_IN_TEXT = re.compile(r"(?:我叫|俺叫|名字叫|名字是|姓名[是:：]?|申请人[是叫:：]?|户主[是叫]|买家叫|买方叫|联系人写我|联系人是|联系人[:：]?|"
                          r"(?:经办人|负责人|对接人)[是叫:：]?|"
                          r"我是老板|我是户主)\s*([\u4e00-\u9fa5·]{2,4}?)(?=$|[\s，,。.、；;]|电话|手机|号码|住|家住|地址|身份证)")
# A business applies in its own name: "单位是南京华宁纺织有限公司", "我们公司叫…电子厂".
COMPANY_IN_TEXT = re.compile(r"(?:(?:单位|公司|企业)(?:名称|名字)?(?:是|叫|[:：])|^(?:单位|公司|企业)(?:名称|名字)?)\s*"
                             r"([\u4e00-\u9fa5（）()]{2,24}?(?:有限责任公司|股份有限公司|有限公司|公司|集团|厂|商行|商店|超市|饭店|酒店|餐馆))")
# "我是苏源电子的电工", "我是华宁纺织的": someone speaking for the firm they work for.
SPEAKS_FOR_A_FIRM = re.compile(r"我是([\u4e00-\u9fa5]{2,14}?(?:有限公司|公司|电子|科技|纺织|集团|工厂|厂|商行|酒店|饭店|超市))的"
                               r"(?:电工|员工|老板|经理|负责人|管理员|会计|行政|师傅|主任)?")
# "南京华宁纺织有限公司 六合龙池街道雄州南路177号" at the applicant's question: the company.
COMPANY_AT_START = re.compile(r"^\s*([\u4e00-\u9fa5（）()]{2,24}?(?:有限责任公司|股份有限公司|有限公司|集团))")
# "联系人后勤处吴老师", "工程部汪涛 177…": a contact named with the department.
DEPARTMENT_CONTACT = re.compile(r"[\u4e00-\u9fa5]{1,4}(?:处|科|部|办|组)([\u4e00-\u9fa5]{1,2}(?:老师|经理|主任|工|总|师傅)|"
                                r"[\u4e00-\u9fa5]{2,3}(?=$|[\s，,。、]|电话|手机|\d))")
COMPANY_NAME = re.compile(r"[\u4e00-\u9fa5（）()]{2,24}(?:有限责任公司|股份有限公司|有限公司|公司|集团|厂|商行|商店|超市|饭店|酒店|餐馆)")
ADDRESS_IN_TEXT = re.compile(r"\d+\s*(号|栋|幢|室|楼|单元)|[区县镇乡村路街巷苑园]\S*\d")
FILLER = re.compile(r"^\s*((哦|噢|喔|呃|额)\s*)?(那就办吧|就办吧|办吧|那就|好的?|嗯|行|对|是|地址是?|住在?|家住|在)?[\s，,：:]*(地址是?)?[\s，,：:]*")
REGISTERED = "registered"
# Asked for the name, the customer gave the address or the phone instead, or would rather not say:
# the application is filed all the same (the name is on the ID card checked with the documents),
# never held back by a question the customer walked past.
NAME_LATER = "name_later"
# "我就提个意见 不用回电话" inside an application: what the customer meant was a suggestion.
JUST_A_SUGGESTION = re.compile(r"(就|只是|只|随便)(是)?(提|说)(个|一个|一下|点)?(意见|建议)|就是(个|一个)?(意见|建议)|不是(要)?(办|申请)[^，,。]{0,4}(是|就)?.{0,3}(意见|建议)")
NO_PROPERTY_PAPERS = re.compile(r"(没有?|无|还没|没办|没拿到|没下来).{0,6}(房产证|产权证|不动产|产权证明)|(房产证|产权证|不动产证).{0,4}(没有|没办|没下来|还没)")
NAME_WITHHELD = re.compile(r"不想(说|留|告诉)|不方便(说|留|讲)|名字.{0,4}(不用|不留|不说|算了|就不|以后)|不留名|保密|匿名")


# "石塘村118号", "和平社区56号": a place and its house number, said after the place alone.
NUMBERED_PLACE = re.compile(r"([\u4e00-\u9fa5]{1,6}?(?:村|社区|路|街|巷|组|大街|大道))(\d+号[\d栋幢室楼单元]*)")


NOT_AN_ADDRESS_WORD = re.compile(r"要|多久|怎么|什么|啥|[吗呢吧]|能不能|可以|帮|请|麻烦|谢|材料|资料|多少|办|申请|登记|电话|手机")
ADDRESS_MARKED = re.compile(r"(?:用电地址|地址|住址)(?:是|在|为)?[:：\s]*([^，,。；;]+)")


def address_in_text(text: str) -> Optional[str]:
    """An address in a message that may also hold a name or a phone number."""
    text = re.sub(r"(?<!\d)1[3-9]\d{9}(?!\d)|(?<!\d)\d{10}(?!\d)", " ", text)
    text = NAME_IN_TEXT.sub(" ", text)
    text = re.sub(r"(电话|手机|户号|尾号)[是:：]?", " ", text)
    marked = ADDRESS_MARKED.search(text)
    if marked:
        # "那行 先帮我登记申请 地址横溪大街45号": what follows 地址, up to words that are no part
        # of an address ("… 16栋702 要带什么材料").
        words = marked.group(1).split()
        kept = words[:1] + list(itertools.takewhile(lambda word: not NOT_AN_ADDRESS_WORD.search(word), words[1:]))
        said = " ".join(kept)
        # (A village's field or yard named as the address may have no number: "砖墙镇花联村 村东头那片地".)
        # ("湖熟街道和平社区东边那片大棚": a site found by what stands there.)
        if (ADDRESS_IN_TEXT.search(said) or VILLAGE_LEVEL.search(said)
                or (NUMBERLESS_SITE.search(said) and looks_like_address(said))) and len(said) >= 5:
            return said
    parts = [FILLER.sub("", part).strip() for part in re.split(r"[，,。；;]", text)]
    numbered = [part for part in parts if ADDRESS_IN_TEXT.search(part) and len(part) >= 5]
    if numbered:
        return numbered[0]
    for part in parts:
        # "项目在江宁区秣陵街道将军大道边上 新开的一个厂房工地 大概要用200多kW": a site with no
        # number, found by its road and what stands there; the words after it are not the address.
        words = re.sub(r"^(项目|工地|厂子|厂|店|场子|地方|位置)?(就)?在", "", part).split()
        if not words or not SITE_AREA.search(words[0]) or NOT_AN_ADDRESS_WORD.search(words[0]):
            continue
        kept = words[:1] + list(itertools.takewhile(
            lambda word: SITE_WORDS.search(word) and not NOT_AN_ADDRESS_WORD.search(word) and not re.search(r"\d", word),
            words[1:]))
        said = " ".join(kept)
        if NUMBERLESS_SITE.search(said) and len(said) >= 5:
            return said
    return None


# Where a numberless site lies, and what finds it there.
SITE_AREA = re.compile(r"[区县]|街道|镇|乡|村|大道|路|街")
SITE_WORDS = re.compile(NUMBERLESS_SITE.pattern + r"|边上|旁边|对面|路口|门口|东边|西边|南边|北边|后面|前面|附近")


def business_said_before(tracker: Tracker, turns: int = 3) -> Optional[str]:
    """The business the customer named in one of their last few messages before this one (none
    once an application was filed since: "好 帮我申请" after it is no second one)."""
    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "bot" and "申请已提交" in str(event.get("text") or ""):
            return None
        if event.get("event") != "user":
            continue
        seen += 1
        if seen == 1:
            continue  # the latest message is read by the caller
        if seen > turns + 1:
            break
        found = business_from_text(str(event.get("text") or ""))
        if found:
            return found
    return None


FILED_APPLICATION = re.compile(r"您的(\S{2,12}?)申请已提交")


def only_asked_about(text: str) -> bool:
    """A question about a business that does not ask for it to be made now."""
    # A 户号, phone or number given with it ("充电桩怎么申请 户号3201000004") means it is wanted.
    return not text.startswith("/") and bool(QUESTION_WORDS.search(text)) and not ASKS_TO_APPLY.search(text) \
        and not INTENDS_NEW.search(text) and not re.search(r"\d{10,11}", text)


# Any word of applying or changing something ("办", "装", "改成…", "开通").
APPLYING_WORDS = re.compile(r"办|申请|装|开通|改成|改为|换成|换个|换一个|挪|移|加大|增加|报装|登记|弄一个|搞一个")


def names_no_application(text: str) -> bool:
    """Heard as an application, yet the words name no business and ask for nothing to be done:
    "那就是说暖风机白天开太多了呗" after a time-of-use bill is a remark, not a tariff change."""
    return not text.startswith("/") and not business_from_text(text) and not APPLYING_WORDS.search(text) \
        and not re.search(r"\d{4}", text)


def business_just_filed(tracker: Tracker, turns: int = 3) -> Optional[str]:
    """The business of the application filed within the customer's last few messages ("需要死亡
    证明吗" right after a name transfer was filed is about the name transfer)."""
    return next((business_from_text(filed.group(1)) for text in bot_texts_within(tracker, turns)
                 for filed in [FILED_APPLICATION.search(text)] if filed), None)


# "充电桩以后再说", "先不办": a business put off for later.
PUT_OFF = re.compile(r"以后再(说|办|弄|装)|再说吧?|先不(办|弄|装|申请)|下次再|不急|缓一缓|等等再说")


def businesses_named(text: str) -> List[str]:
    """Every business the words name, in order (a word inside another's longer word left out)."""
    named: List[str] = []
    for clause in re.split(r"[，,。；;！!？?\s]|另外|还有|顺便", text or ""):
        key = business_from_text(clause)
        if key and key not in named:
            named.append(key)
    return named


def business_meant_now(text: str) -> Optional[str]:
    """Of several businesses named, the one applied for now: not one put off ("充电桩以后再说"),
    not one only asked about ("另外问下峰谷电价…")."""
    from actions.faq import intended_business  # faq imports this module

    clauses = [c for c in re.split(r"[，,。；;！!？?\s]|另外|还有|顺便", text or "") if c]
    kept = " ".join(c for c in clauses if not PUT_OFF.search(c))
    if kept != " ".join(clauses):
        named = businesses_named(kept)
        if named:
            return named[-1]
    return intended_business(text)


def changed_business(text: str) -> Optional[str]:
    """The business a change of mind names ("不是过户 是移表"), None without a change of mind."""
    if not re.search(r"不对|不是|搞错|说错|改成|换成|改办|改为", text or ""):
        return None
    return business_from_text(re.sub(r"不是[^，,。！!\s]{0,8}", "", text))


# Words of a request or a question, never of a person's name ("居民生活用电", "要什么材料吗").
NOT_A_NAME = re.compile(r"用电|电费|电价|停电|供电|电表|报修|申请|业务|居民|生活|怎么|什么|多少|[吗呢吧啊嗯？?]|"
                        r"就这|这么|那就|好的|可以|身份证|材料|资料|电话|手机|地址|户号|尾号|"
                        r"^[的了地得]|过户|更名|增容|减容|销户|确认|提交|登记|没错|对的|是的|谢谢|多谢|感谢|"
                        r"^一下|^一个|^下吧")  # "帮我办一下": 办 is no department there


async def account_contact(dispatcher: CollectingDispatcher, tracker: Tracker, text: str,
                          holder_and_premises: bool = False) -> Dict[Text, Any]:
    """"户号3201000024 尾号7728" (or "打我登记的号" once verified): the account is checked and its
    registered phone becomes the contact (the gateway fills it in); slots for the form to keep."""
    compact = re.sub(r"\s", "", digits_to_ascii(text))
    typed_account = re.search(r"(?<!\d)(\d{10})(?!\d)", compact)
    last4 = re.search(r"(?:尾号|后四位|后4位|末四位)\D{0,3}(\d{4})(?!\d)", compact) or \
        re.fullmatch(r"\D{0,6}(\d{4})\D{0,4}", compact)
    account_no = typed_account.group(1) if typed_account else tracker.get_slot("account_no")
    verified = tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no")
    if verified and (REGISTERED_WORDS.search(text) or (typed_account and account_no == verified)):
        return {"contact_phone": REGISTERED}
    if not account_no or not (typed_account or last4):
        return {}
    if not last4:
        # "户号3201000023 任立新": the account's registered phone is called (the gateway fills it
        # in; nothing of it is shown); a number typed later replaces it.
        if not await account_exists(account_no, tracker):
            dispatcher.utter_message(response="utter_account_not_found_phone", account_no=account_no)
            return {"contact_phone": None}
        if holder_and_premises:
            # An application for premises the account already supplies: its holder applies there.
            dispatcher.utter_message(response="utter_account_registered_premises", tail=account_no[-4:])
            found = {"account_no": account_no, "contact_phone": REGISTERED, "address": REGISTERED}
            return found if tracker.get_slot("applicant_name") else {**found, "applicant_name": REGISTERED}
        dispatcher.utter_message(response="utter_account_registered_phone", tail=account_no[-4:])
        return {"account_no": account_no, "contact_phone": REGISTERED}
    try:
        result = await api_client.verify_identity(account_no, last4.group(1), **asker(tracker))
    except api_client.ApiError:
        return {"account_no": account_no}
    if not result.get("verified"):
        dispatcher.utter_message(response="utter_contact_account_mismatch")
        return {"account_no": account_no}
    customer = result.get("customer") or {}
    dispatcher.utter_message(response="utter_contact_account_verified", holder=mask_name(customer.get("name")))
    return {"account_no": account_no, "phone_last4": last4.group(1), "identity_verified": True,
            "verified_account_no": account_no, "customer_name": customer.get("name"),
            "customer_address": customer.get("address"), "area_type": customer.get("area_type"),
            "customer_type": customer.get("customer_type"), "contact_phone": REGISTERED}


def premises_unknown(tracker: Tracker) -> bool:
    """A business on existing premises (not a new connection) whose address is not held yet: an
    account said in the form answers it. (An address too vague to be one, "南京" out of a company's
    name, is none.)"""
    held = tracker.get_slot("address")
    return tracker.get_slot("business_type") not in (None, "new_connection") \
        and not (held and (held == REGISTERED or looks_like_address(held, tracker, need_number=True)))


async def account_exists(account_no: str, tracker: Tracker) -> bool:
    try:
        await api_client.get_account(account_no, **asker(tracker))
    except api_client.ApiError:
        return False
    return True


async def holder_name(tracker: Tracker) -> Optional[str]:
    """The registered holder's name of the account said (for the ticket, not for the customer)."""
    account_no = await stated_account(tracker)
    if not account_no:
        return None
    try:
        return (await api_client.get_account(account_no, **asker(tracker))).get("name")
    except api_client.ApiError:
        return None


async def registered_premises(tracker: Tracker) -> Dict[Text, Any]:
    """The registered address and area type of the account said (for the ticket only)."""
    account_no = await stated_account(tracker)
    if not account_no:
        return {}
    try:
        account = await api_client.get_account(account_no, **asker(tracker))
    except api_client.ApiError:
        return {}
    return {"address": account.get("address"), "area_type": account.get("area_type")}


async def stated_account(tracker: Tracker) -> Optional[str]:
    """The account a ticket is filed for: the verified one, else the 户号 the customer said
    (an existing one only), so that staff see whose request it is."""
    if tracker.get_slot("identity_verified") and tracker.get_slot("verified_account_no"):
        return tracker.get_slot("verified_account_no")
    said = digits_only(tracker.get_slot("account_no"))
    return said if len(said) == 10 and await account_exists(said, tracker) else None


def registered_allowed(tracker: Tracker) -> bool:
    """Whether "call the registered phone" can be used: a 户号 is known (verified or said)."""
    return bool(tracker.get_slot("identity_verified")) or len(digits_only(tracker.get_slot("account_no"))) == 10


# At the name question, with a 户号 given: the account holder applies.
HOLDER_APPLIES = re.compile(r"^(嗯|好|对|行|可以|是)?的?[，,\s]*(就)?(提交|申请吧|办吧|就这样|户主|本人|我自己|就是我|用户号|"
                            r"登记的(名字|户主)|户号上的|按户号)")

REGISTERED_WORDS = re.compile(r"登记的|预留的|留的那个|这个号|这个手机|这个电话|本机|原来的号")


def digits_to_ascii(text: str) -> str:
    return text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))


# "要带些什么东西", "要准备啥材料", "需要哪些手续": the documents of the business asked about.
DOCUMENTS_QUESTION = re.compile(r"(带|准备|要|需要|提供|交)[^，,。]{0,4}(什么|啥|哪些|些)[^，,。]{0,3}(材料|资料|东西|证件|手续|文件)|"
                                r"(材料|资料|证件|手续)[^，,。]{0,4}(有哪些|是什么|要啥|要什么|呢|吗|？|\?)|"
                                r"(要|需要)(啥|什么|哪些)(材料|资料|手续|证件)|办[^，,。]{0,6}(要|需要)?(啥|什么)手续|"
                                r"(咋|怎么|如何)办(理)?手续|手续(咋|怎么)(办|弄)|(要|得|需要)带(啥|什么|哪些)|"
                                # "需要死亡证明吗", "复印件要盖公章吗": one document asked about.
                                r"(要|需要|得|用)[^，,。]{0,6}(证明|证书|公章|盖章|复印件|原件|身份证)(吗|么|嘛|不|？|\?)")


def documents_values(key: Optional[str], kind: str) -> Dict[str, str]:
    """The values of utter_application_documents: the business and its numbered documents (a
    list of any length, numbered here)."""
    info = business_profile(key, kind)
    docs = "\n".join(f"{i}. {doc}" for i, doc in enumerate(info["documents"], start=1))
    return {"business": info["label"], "documents": docs}


def account_defaults(slots: Dict[Text, Any]) -> Dict[Text, Any]:
    """What a verified account answers by itself: the holder applies, and for a business on an
    existing connection (everything but a new connection) the supply address is the account's."""
    if not slots.get("identity_verified"):
        return {}
    found: Dict[Text, Any] = {}
    if not slots.get("applicant_name") and slots.get("customer_name"):
        found["applicant_name"] = slots["customer_name"]
    if not slots.get("address") and slots.get("customer_address") and slots.get("business_type") \
            and slots.get("business_type") != "new_connection":
        found["address"] = slots["customer_address"]
    return found


# Common surnames: a name typed beside other details ("石塘村45号 李秀英 户号3201000002") is found
# by its surname, as a person would.
SURNAMES = set("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
               "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
               "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒"
               "阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司"
               "卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁"
               "沙荣巫寇桑郎甄丛仲虞敖巩明佘池乐匡钮")
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙", "夏侯", "公孙")
WRITTEN_NAME = re.compile(r"(?:写|填|是|叫|就写)(?:我妈|我爸|我爱人|我老婆|我老公|我儿子|我女儿|我媳妇|我家老人)?"
                          r"([\u4e00-\u9fa5]{2,4}?)(?=$|[\s，,。.、；;]|电话|手机)")
NOT_IN_A_NAME = re.compile(r"[村区路街号镇县市苑园栋楼室乡巷弄厂店司局部站]|师傅$")


def looks_like_person(token: str) -> bool:
    if not re.fullmatch(r"[\u4e00-\u9fa5]{2,4}", token) or NOT_A_NAME.search(token) or NOT_IN_A_NAME.search(token):
        return False
    if business_from_text(token):
        return False
    return token[:2] in COMPOUND_SURNAMES or token[0] in SURNAMES and len(token) <= 3


# "原房东叫吴思远", "卖家是王某": the person the account or the house is taken over from, not the
# applicant (a buyer applying for the name transfer).
PREVIOUS_HOLDER_NAMED = re.compile(f"({PREVIOUS_HOLDER.pattern})"
                                   r"[\s，,]*(叫|是|姓|名字是|名叫|为)?\s*[\u4e00-\u9fa5]{2,4}")


def name_beside_details(text: str) -> Optional[str]:
    """The applicant's name in a message that also holds other details, if one is clear."""
    text = PREVIOUS_HOLDER_NAMED.sub(" ", text)
    named = NAME_IN_TEXT.search(text)
    if named and not NOT_A_NAME.search(named.group(1)):
        return named.group(1)
    for match in WRITTEN_NAME.finditer(text):
        if looks_like_person(match.group(1)):
            return match.group(1)
    tokens = [t for t in re.split(r"[\s，,。；;、]+", text) if t]
    if len(tokens) >= 2:  # a name alone among an address, a number…
        people = [t for t in tokens if looks_like_person(t)]
        if len(people) == 1:
            return people[0]
    return None


# "那就改成办过户吧", "还是办增容吧", "换成申请充电桩": another business for this application.
SWITCH_WORDS = re.compile(r"改成|改为|换成|改办|改申请|还是办|还是申请|那就办|那办|不办\S{0,4}了?[，,\s]*(办|申请)")


# "上个月怎么还要五十多", "电费咋这么高": a question about a bill's amount.
BILL_AMOUNT_QUESTION = re.compile(r"(上个?月|这个?月|本月|电费)[^，,。]{0,8}(怎么|咋|为啥|为什么|凭什么)[^，,。]{0,6}"
                                  r"(还要|要|这么|那么|又|还)[^，,。]{0,6}(多|贵|高|块|元)")
# A question rather than a request: "…麻烦吗", "要多久", "怎么办".
QUESTION_WORDS = re.compile(r"[吗呢嘛么？?][。！!～~\s]*$|怎么|咋|如何|多少|多久|几天|什么|啥|能不能|可不可以|是不是|要不要|麻烦")
# How far an earlier application has got ("申请到哪了", "过户办好了没", "批下来没有").
ASKS_HOW_FAR = re.compile(r"到哪(了|一步|儿了)|进度|办好了?[没吗么]|办完了?[没吗么]|好了没|怎么样了|批(下来|了)?没|有结果了?吗|还没(办|装|批|弄)好|"
                          r"(审核|审批|审)(过|完|好|通过|下来)了?(没|吗|么)|(审核|审批)了?没|(通过|批准|受理)了(没|吗|么)|"
                          r"有(消息|动静|回音|回复)了?(吗|没)|(咋|怎么)还没(消息|动静|人联系)|"
                          # "上个月递了并网申请，到现在一直没有消息": waiting for word of it
                          r"(一直|还|到现在|至今|都)没(有)?(消息|动静|回音|回复|人联系|下文)")
# "我们上周五在营业厅办的过户 现在…", "上个月就申请了增容": an application made before, asked about.
APPLIED_BEFORE = re.compile(r"(上周|上礼拜|上星期|上个?月|前几天|前两天|前天|昨天|之前|早就|已经)[^，,。？?]{0,12}"
                            r"(办|申请|交|提交|报|递)(的|了|过)")
# What asks for an application to be made now ("帮我办", "我想申请", "登记一下"), as opposed to a
# question about a business ("户名能改成租客的吗", "商铺有没有峰谷的").
ASKS_TO_APPLY = re.compile(r"帮我|给我(办|申请|弄|装|改|开)|我(要|想)(办|申请|装|开通|过户|改|换|移|增容|减容|销户|报装)|"
                           r"想(办|申请)|(申请|办|登记)一下|(要|想)(办理|申请)|麻烦(你|您)?(帮|给)|"
                           r"(办|申请|登记|提交)吧|(可以|能)(帮|给)我")
# "再办一个", "另外一个", "第二个": one more of the same business, not the one just filed.
ANOTHER_ONE = re.compile(r"再(申请|办|装|来|弄|报)|另(外)?(一|个|再)|还要(一|再)|又(要|想)|第二|两个|多(办|装)")
# ... but never when the same message asks for a new one ("想再申请一个").
INTENDS_NEW = re.compile(r"我(想|要)(申请|办|装)|帮我(申请|办)|再(申请|办|装)")


class ValidateApplicationForm(KeepsIdentitySlots, BaseFormValidation, FormValidationAction):
    def name(self) -> Text:
        return "validate_application_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        asked = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        from actions.menu import offered_business  # menu imports this module

        offered = offered_business(tracker) if asked is None and not text.startswith("/") else None
        if offered and offered != tracker.get_slot("business_type") and GENERIC_CONNECTION_WORD.search(text) \
                and business_from_text(GENERIC_CONNECTION_WORD.sub("", text)) is None:
            # "物业同意书拿到了 那直接帮我报装吧" right after the charger application was offered:
            # 报装 is any connection's word; the business is the one offered.
            tracker.slots["business_type"] = offered
            for event in reversed(tracker.events):  # the value NLU extracted this turn, to be validated
                if event.get("event") == "user":
                    break
                if event.get("event") == "slot" and event.get("name") == "business_type":
                    event["value"] = offered
            events = await self.run(dispatcher, tracker, domain)
            return [SlotSet("business_type", offered), SlotSet("offered_business", None)] + \
                [e for e in events if e.get("name") != "business_type"]
        if asked is None and not text.startswith("/") and not tracker.get_slot("business_type") \
                and not business_from_text(text):
            from actions.faq import answer_topic, topic_by_words  # faq imports this module

            worded = topic_by_words(text)
            if worded and answer_topic(worded, dispatcher, tracker, domain):
                # "户号登记的是老头子的手机号 他那个号码不用了 怎么改成我的号啊" (NLU heard an
                # application; no business named): the question its words name is answered.
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("faq_topic", worded),
                        FollowupAction("action_listen")]
        filed = business_just_filed(tracker) if asked is None and not text.startswith("/") else None
        if filed and QUESTION_WORDS.search(text) and not INTENDS_NEW.search(text) \
                and business_from_text(text) in (None, filed):
            # "减容以后要恢复麻烦吗" right after the capacity change was filed: a question on it,
            # not a second application.
            from actions.common import answer_inline
            from actions.faq import answer_business_topics  # faq imports this module

            if not (answer_business_topics(text, filed, dispatcher, tracker, domain)
                    or answer_inline(dispatcher, tracker, domain)):
                dispatcher.utter_message(response="utter_cannot_answer")
            return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_listen")]
        instead = business_from_text(text) if filed else None
        if filed and instead not in (None, filed) and WITHDRAWS_APPLICATION.search(text):
            # "等一下 跟家里商量了 不销了 … 改成我儿子的名字吧" right after the closing was filed:
            # that application is withdrawn (nobody has taken it up yet) and the other one made.
            withdrawn = await withdraw_just_opened(dispatcher, tracker)
            if withdrawn:
                dispatcher.utter_message(response="utter_ticket_withdrawn_then", ticket_no=withdrawn[0],
                                         type_label=withdrawn[1])
                dispatcher.utter_message(response="utter_application_switched",
                                         business=BUSINESS_TYPES[str(instead)]["label"])
                tracker.slots["business_type"] = instead
                events = await self.run(dispatcher, tracker, domain)
                return [SlotSet("business_type", instead)] + [e for e in events if e.get("name") != "business_type"]
        if filed and business_from_text(text) in (None, filed) and not ANOTHER_ONE.search(text):
            already = await self.already_filed(dispatcher, tracker, filed, text)
            if already:
                return already
        if asked in (None, "business_type") and not tracker.get_slot("business_type") and not text.startswith("/") \
                and business_from_text(text) is None:
            rerouted = self.another_request(tracker, text)
            if rerouted:
                return rerouted
            if asked is None and only_an_address(text, tracker):
                # "南京市鼓楼区中央路100号" alone (heard as an application): a detail given, its
                # usual requests offered; no business is asked for.
                return [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction("action_answer_bare_detail")]
        if asked is None and BILL_AMOUNT_QUESTION.search(text) and not INTENDS_NEW.search(text) \
                and not SWITCH_WORDS.search(text):
            # "我家是峰谷电 上个月怎么还要五十多" (峰谷 named a tariff change): why the bill is
            # what it is, not an application.
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("business_type", None),
                    SlotSet("bill_query", "reason"), FollowupAction("bill_form")]
        if asked is None:
            from actions.progress import tell_when_after_progress  # progress imports the forms' helpers

            if await tell_when_after_progress(dispatcher, tracker):
                # "那大概还要几天能来装表" right after the progress was shown (heard as an application).
                return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("business_type", None),
                        FollowupAction("action_listen")]
        if asked is None and (ASKS_HOW_FAR.search(text) or (APPLIED_BEFORE.search(text) and QUESTION_WORDS.search(text))) \
                and not INTENDS_NEW.search(text):
            # "我的充电桩申请到哪了 户号3201000008": a question about an application made before
            # (filed at once now, one heard as a new application would be a second ticket).
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("business_type", None),
                    FollowupAction("progress_form")]
        if asked is not None and JUST_A_SUGGESTION.search(text) and not text.startswith("/"):
            # "电费短信能不能把峰谷电价分开写" heard as a tariff change, then "我就提个意见": a
            # suggestion in the customer's first words, not an application.
            from actions.common import opening_text
            from actions.feedback import TYPE_LABELS  # feedback imports this module

            story = "；".join(dict.fromkeys(filter(None, [opening_text(tracker, "application_form"), text])))
            dispatcher.utter_message(response="utter_feedback_switched", kind=TYPE_LABELS["suggestion"])
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("business_type", None),
                    SlotSet("applicant_name", None), SlotSet("feedback_type", "suggestion"),
                    SlotSet("feedback_content", story[:1000]), FollowupAction("feedback_form")]
        # "改成办过户吧", "不是不是 不是不用电了 是…电表…想挪到院墙外头去": another business.
        switched = (business_from_text(text) if SWITCH_WORDS.search(text) else changed_business(text)) \
            if asked not in (None, "business_type") else None
        held = slot_before_this_message(tracker, "business_type") or tracker.get_slot("business_type")
        if switched and switched != held:
            # "中介说不用销户 直接过户就行 那就改成办过户吧": the same application, another business.
            dispatcher.utter_message(response="utter_application_switched", business=BUSINESS_TYPES[switched]["label"])
            dispatcher.utter_message(response="utter_application_documents",
                                     **documents_values(switched, applicant_kind(tracker)))
            return [SlotSet("business_type", switched), SlotSet(asked, None), SlotSet("requested_slot", asked)]
        if asked and asked != "business_type" and not text.startswith("/") \
                and (DOCUMENTS_QUESTION.search(text) or NO_PROPERTY_PAPERS.search(text)) \
                and not find_mobile(text) and not address_in_text(text) and not STOP_WORDS.search(text):
            # ("算了 先不办了 我想先问问过户要带啥": the stop first; the cancel answers the question.)
            # A question about the documents is answered, and the same question asked again;
            # "没有房产证咋办" is what to bring instead, not the list once more.
            from actions.faq import answer_topic  # faq imports this module

            if not (NO_PROPERTY_PAPERS.search(text)
                    and answer_topic("no_property_certificate", dispatcher, tracker, domain)):
                key = tracker.get_slot("business_type")
                dispatcher.utter_message(response="utter_application_documents",
                                         **documents_values(key, applicant_kind(tracker)))
                from actions.faq import business_topics  # faq imports this module

                for topic in business_topics(text, key):
                    if not topic.startswith("docs_"):
                        # "要带什么材料 多久能通电": how long (or the fee) asked with the documents.
                        answer_topic(topic, dispatcher, tracker, domain)
            return [SlotSet(asked, None), SlotSet("requested_slot", asked)]
        if asked == "business_type" and DOCUMENTS_QUESTION.search(text) and not business_from_text(text) \
                and not business_said_before(tracker):
            dispatcher.utter_message(response="utter_documents_ask_business_type")
            return [SlotSet("business_type", None), SlotSet("requested_slot", "business_type")]
        # A name among other details is the applicant's at any question: "黄子豪 18061296637" right
        # after an offer, "我姓贾 贾文静 电话173…" at the business question.
        typed = name_beside_details(text) if not text.startswith("/") \
            and tracker.get_slot("applicant_name") in (None, NAME_LATER) \
            and (asked not in (None, "business_type") or find_mobile(text) or address_in_text(text)) else None
        known = {**account_defaults(tracker.slots), **({"applicant_name": typed} if typed else {})}
        if known:
            # Known before this message: the message is not read as the answer to a question
            # the account already answered ("现在是4千瓦的 想加到8千瓦" is not a name).
            tracker.slots.update(known)
            if tracker.slots.get("requested_slot") in known:
                tracker.slots["requested_slot"] = None
        events = await super().run(dispatcher, tracker, domain)
        if asked in (None, "business_type") and business_from_text(text) \
                and not any(e.get("event") == "followup" for e in events):
            # "移表收费吗 大概多少钱" naming the business asked for: the documents come with the
            # form, the fee and the time asked are answered too.
            from actions.faq import answer_topic, business_topics  # faq imports this module

            for topic in business_topics(text, None):
                if not topic.startswith("docs_"):
                    answer_topic(topic, dispatcher, tracker, domain)
        said = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
        slots = {**tracker.slots, **said}
        if asked == "applicant_name" and not slots.get("applicant_name") and not text.startswith("/") \
                and (find_mobile(text) or address_in_text(text)):
            # The address or the phone given where the name was asked: the name waits for the
            # documents, the application goes on.
            known = {**known, "applicant_name": NAME_LATER}
        defaults = {name: value for name, value in {**known, **account_defaults(slots)}.items()
                    if said.get(name) is None}
        if not (defaults or known) or any(e.get("event") == "followup" for e in events):
            return events
        events = [e for e in events if not (e.get("event") == "slot" and e.get("name") == "requested_slot")]
        events += [SlotSet(name, value) for name, value in defaults.items()]
        tracker.add_slots([SlotSet(k, v) for k, v in slots.items() if tracker.slots.get(k) != v])
        tracker.add_slots([SlotSet(name, value) for name, value in defaults.items()])
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        next_slot = next((name for name in required if tracker.slots.get(name) is None), None)
        if next_slot is None and asked is None and (only_asked_about(text) or (
                latest_intent(tracker)[0] == "apply_service" and names_no_application(text))):
            # "那新租客住进来 户名能改成租客的吗" from a verified customer: the account answers every
            # question the form has, but the customer only asked. The answer and an offer, not a
            # ticket nobody asked for (a yes to the offer files it).
            business = str(slots.get("business_type"))  # filled: no slot is left to ask
            dispatcher.utter_message(response="utter_offer_application", business=BUSINESS_TYPES[business]["label"],
                                     business_key=business)
            return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("business_type", None),
                    SlotSet("applicant_name", None), SlotSet("address", None), SlotSet("offered_business", business),
                    FollowupAction("action_listen")]
        events.append(SlotSet("requested_slot", next_slot))
        return events

    @staticmethod
    async def already_filed(dispatcher: CollectingDispatcher, tracker: Tracker, business: str,
                            text: str) -> Optional[List[EventType]]:
        """"那就办吧 太平南路305号…" right after the meter move was filed: it is filed already (no
        second ticket); an address that is another place corrects the filed one."""
        ticket_no = ticket_announced_within(tracker, 3)
        if not ticket_no:
            return None
        dispatcher.utter_message(response="utter_application_already_filed", ticket_no=ticket_no,
                                 business=BUSINESS_TYPES[business]["label"])
        address = address_in_text(text)
        if address:
            try:
                ticket = await api_client.get_ticket(ticket_no)
                held = str((ticket.get("details") or {}).get("address") or "")
                if not same_place(held, address):
                    await api_client.set_ticket_address(ticket_no, address)
                    dispatcher.utter_message(response="utter_ticket_address_corrected", ticket_no=ticket_no,
                                             address=echoed(address))
            except api_client.ApiError:
                pass  # the ticket stands as filed; staff confirm the address when they call
        return [SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("business_type", None),
                FollowupAction("action_listen")]

    @staticmethod
    def another_request(tracker: Tracker, text: str) -> Optional[List[EventType]]:
        """No business named, and the words tell another request: "儿子用支付宝帮我把电费交掉了
        电还是不来" (power back after paying), "早上一开机器就全停了 现在整个车间没电" (a fault).
        Served as what they are, not asked again and again which business it is."""
        from actions.faq import asks_power_back_after_paying  # faq imports this module
        from actions.menu import named_request  # menu imports the forms' helpers

        leave: List[EventType] = [SlotSet("requested_slot", None), ActiveLoop(None)]
        if asks_power_back_after_paying(text):
            return leave + [FollowupAction("action_answer_faq")]
        request = named_request(text)
        if request == "fault_form":
            return leave + [SlotSet("fault_description", text[:500]), FollowupAction("fault_form")]
        if request and request != "application_form":
            return leave + [FollowupAction(request)]
        return None

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("api_failed"):
            return []
        if tracker.get_slot("identity_verified") and not tracker.get_slot("contact_phone") \
                and not find_mobile(latest_text(tracker)):
            # A verified customer is reached on the account's registered phone (unless another is typed).
            return ["business_type", "applicant_name", "address"]
        # Filed once these are known, with no confirmation round: blind customers who had given
        # everything left at "确认提交吗？" and lost the application. What was registered is shown
        # with it; a correction or a "不办了" right after goes onto the ticket (actions/common.py).
        return ["business_type", "applicant_name", "contact_phone", "address"]

    async def extract_business_type(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        if "business_type" in tracker.slots_to_validate():
            return {}
        text = latest_text(tracker)
        if tracker.get_slot("requested_slot") == "business_type" or tracker.get_slot("business_type") is None:
            found = business_from_text(text)
            if found in (None, "capacity_change") and new_premises_said(tracker):
                # "我们新建了个小厂房…要上高压 怎么申请", "还没有户号 新厂" (then "容量大概630千伏安"):
                # power for premises that have none yet is a new connection, of that capacity.
                return {"business_type": "new_connection"}
            if found:
                return {"business_type": found}
            if tracker.get_slot("offered_business") and tracker.get_slot("requested_slot") is None:
                # "行 帮我登记一下" right after an answer that offered this application.
                from actions.menu import offered_business

                if offered_business(tracker):
                    return {"business_type": offered_business(tracker)}
            earlier = business_said_before(tracker)
            if earlier and not text.startswith("/"):
                # "请问电费户名怎么改成我们自己的", answered, then the address: the name transfer
                # talked about, not "请问您要办理哪项业务？".
                return {"business_type": earlier}
        elif re.search(r"不对|不是|说错|改成|其实是|换成", text) and not text.startswith("/"):
            # "哦不对 不是过户 我是想把电表移到院子外头去": the business named last.
            found = business_from_text(text)
            if found and found != tracker.get_slot("business_type"):
                return {"business_type": found}
        return {}

    async def extract_applicant_name(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> Dict[Text, Any]:
        if "applicant_name" in tracker.slots_to_validate():
            return {}
        text = latest_text(tracker).strip()
        if not text or text.startswith("/"):
            return {}
        named = NAME_IN_TEXT.search(text)
        if named and not NOT_A_NAME.search(named.group(1)):
            return {"applicant_name": named.group(1)}
        company = COMPANY_IN_TEXT.search(text) or (
            COMPANY_AT_START.match(text) if tracker.get_slot("requested_slot") in (None, "applicant_name") else None)
        if company and not tracker.get_slot("applicant_name"):
            return {"applicant_name": company.group(1)}
        contact = DEPARTMENT_CONTACT.search(text)
        if contact and not NOT_A_NAME.search(contact.group(1)) and not tracker.get_slot("applicant_name"):
            return {"applicant_name": contact.group(1)}
        if tracker.get_slot("requested_slot") is None and not tracker.get_slot("applicant_name"):
            # "我是苏源电子的电工 厂里一条进线没电了", then "增容也一起帮我登记一下": the firm the
            # customer spoke for earlier in the conversation applies.
            employer = next((found.group(1) for said in earlier_customer_texts(tracker, 8)
                             for found in [SPEAKS_FOR_A_FIRM.search(said)] if found), None)
            if employer:
                return {"applicant_name": employer}
        if tracker.get_slot("requested_slot") == "applicant_name" and HOLDER_APPLIES.search(text) \
                and await stated_account(tracker):
            # "嗯 提交吧" / "就户主本人" after the 户号 was given: the account holder applies (the
            # name is the account's, never shown to a customer who has not proved who they are).
            return {"applicant_name": REGISTERED}
        if tracker.get_slot("requested_slot") == "applicant_name" and NAME_WITHHELD.search(text):
            return {"applicant_name": NAME_LATER}  # "名字就不留了"
        answer = free_text_answer(tracker, "applicant_name")
        if not answer or business_from_text(answer):
            return {}  # "不对，我要办增容" changes the business, it is not a name
        if find_mobile(answer) or re.search(r"\d{4}", answer) or address_in_text(answer):
            return {}  # a phone, an account or an address: taken by their own slots
        name = re.sub(r"^(我(的名字)?(叫|是)|姓名(是|：|:)?|名字(是|：|:)?|申请人(是|：|:)?|叫)", "", answer).strip(" ，,。.")
        return {"applicant_name": name}

    async def extract_contact_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        if "contact_phone" in tracker.slots_to_validate():
            return {}
        text = latest_text(tracker).strip()
        if not text or text.startswith("/"):
            return {}
        mobile = find_mobile(text)
        if mobile:
            return {"contact_phone": mobile}
        # "户号3201000033" given in an application for the account's own premises (增容, 过户, 充电桩…)
        # answers who applies and where as well as the phone: a customer of an existing account is
        # not asked for a name and an address the account has (blind customers gave only the 户号).
        # ("户号3201000033 我叫叶俊杰": the name said with it stays the applicant's.)
        # (An address too vague to be one, "南京" out of "南京华宁纺织有限公司", is none.)
        account = await account_contact(dispatcher, tracker, text, holder_and_premises=premises_unknown(tracker))
        if account.get("contact_phone") == REGISTERED:
            # The verified account also answers who applies and where, unless said already.
            if not tracker.get_slot("applicant_name") and account.get("customer_name"):
                account["applicant_name"] = account["customer_name"]
            if not tracker.get_slot("address") and account.get("customer_address"):
                account["address"] = account["customer_address"]
        if account:
            return account
        answer = free_text_answer(tracker, "contact_phone")
        return {"contact_phone": answer} if answer else {}

    @staticmethod
    async def _premises_beside_phone(dispatcher: CollectingDispatcher, tracker: Tracker, text: str,
                                     mobile: str) -> Dict[Text, Any]:
        """"我司户号为3201000034，户名…，联系电话13647202292" at the phone question of a business on
        existing premises: the account's holder and address, the phone as typed; {} otherwise."""
        if not premises_unknown(tracker):
            return {}
        typed = re.search(r"(?<!\d)(\d{10})(?!\d)", re.sub(r"\s", "", digits_to_ascii(text)).replace(mobile, " "))
        if not typed or not await account_exists(typed.group(1), tracker):
            return {}
        dispatcher.utter_message(response="utter_account_registered_premises_phone_given", tail=typed.group(1)[-4:])
        found: Dict[Text, Any] = {"account_no": typed.group(1), "address": REGISTERED}
        return found if tracker.get_slot("applicant_name") else {**found, "applicant_name": REGISTERED}

    async def extract_address(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        if "address" in tracker.slots_to_validate():
            return {}
        text = resolve_inline_correction(latest_text(tracker).strip())
        if text and not text.startswith("/") and not is_digression(tracker, "address"):
            found = address_in_text(text)
            current = tracker.get_slot("address") or ""
            if found and re.sub(r"\s", "", found) in re.sub(r"\s", "", current):
                return {}  # "青山村8号" repeats the part of the full address already held
            if found:
                return {"address": found}
        answer = free_text_answer(tracker, "address")
        if answer and (find_mobile(answer) or re.fullmatch(r"\D*\d{4,10}\D*", answer)):
            return {}
        return {"address": answer} if answer else {}

    async def validate_business_type(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        key = business_from_text(value)
        text = latest_text(tracker)
        if re.search(r"不对|不是|说错|改成|其实是|换成", text) and not text.startswith("/"):
            # "不对 不是过户 我是想把电表移到外头": the entity is the business denied, the last one named counts.
            key = business_from_text(text) or key
        elif not text.startswith("/") and len(businesses_named(text)) > 1:
            # "想在小区车位装个充电桩，另外问下峰谷电价几点开始" (the tariff only asked about),
            # "那我先办增容吧 充电桩以后再说" (the charger put off): the one meant now.
            key = business_meant_now(text) or key
        elif key == "new_connection" and not text.startswith("/") and business_from_text(text) not in (None, key) \
                and not (business_from_text(text) == "capacity_change" and new_premises_said(tracker)):
            # "车位上装个充电桩 物业说要先找供电公司报装": NLU hears the generic "报装" as a new
            # connection; the business the words name is the one applied for.
            key = business_from_text(text)
        if key is None:
            dispatcher.utter_message(response="utter_business_type_unknown")
            return {"business_type": None}
        from actions.faq import BUSINESS_TOPICS, last_faq_topic  # faq imports this module

        # The list is told once: not again when an answer just gave this business's documents.
        # (A business with no documents topic, 电价变更 or 电能表校验, has always its list told.)
        documents_topic = BUSINESS_TOPICS["documents"].get(key)
        told = documents_topic is not None and last_faq_topic(tracker, within_turns=2) == documents_topic \
            or any(f"办理{BUSINESS_TYPES[key]['label']}需要准备以下资料" in said for said in bot_texts_within(tracker, 1))
        # ("我能不能改成峰谷电" answered with the tariff change's list, then "好 那就帮我办一下".)
        if key != tracker.get_slot("documents_shown_for") and not told:
            dispatcher.utter_message(response="utter_application_documents",
                                     **documents_values(key, applicant_kind(tracker)))
        return {"business_type": key, "documents_shown_for": key}

    async def validate_applicant_name(self, value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        name = str(value or "").strip()
        if name in (REGISTERED, NAME_LATER):
            return {"applicant_name": name}  # the account holder / given with the documents
        chinese = re.fullmatch(r"[\u4e00-\u9fa5·]{2,6}", name) or COMPANY_NAME.fullmatch(name)
        latin = re.fullmatch(r"[A-Za-z][A-Za-z .'-]{1,39}", name)
        if not (chinese or latin) or NOT_A_NAME.search(name):
            # The form asks for the name again right after this: say only what was wrong.
            dispatcher.utter_message(response="utter_applicant_name_invalid", name_said=echoed(name[:20]))
            return {"applicant_name": None}
        return {"applicant_name": name}

    async def validate_contact_phone(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if value == REGISTERED and registered_allowed(tracker):
            return {"contact_phone": REGISTERED}
        mobile = find_mobile(value)
        if not mobile:
            dispatcher.utter_message(response="utter_phone_not_found")
            return {"contact_phone": None}
        # (Here, not in the extraction: the phone entity fills the slot before any extraction of ours.)
        return {"contact_phone": mobile,
                **await self._premises_beside_phone(dispatcher, tracker, latest_text(tracker), mobile)}

    async def validate_address(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        from actions.faults import joined_address  # faults imports this module

        if value == REGISTERED:
            return {"address": REGISTERED}  # the account's registered address, resolved when filed
        said = spelled_house_numbers(latest_text(tracker))
        text = joined_address(str(value or "").strip(), said)
        whole = address_in_text(said) if not said.startswith("/") else None
        if whole and text and len(whole) > len(text) and re.sub(r"\s", "", text) in re.sub(r"\s", "", whole) and (
                whole.startswith(text) and not whole[len(text)].isspace()
                or not looks_like_address(text, tracker, need_number=True)
                or not whole.startswith(text) and len(re.sub(r"\s", "", text)) * 2 <= len(re.sub(r"\s", "", whole))
                and len(whole) <= 40 and looks_like_address(whole, need_number=True)):
            # "地址秦淮区龙蟠中路141号翠竹园1栋1301室" with only "…141号" heard, "…B区112车位"
            # with only "区112": all of it.
            text = whole
        numbered = NUMBERED_PLACE.findall(latest_text(tracker)) if not HOUSE_NUMBER.search(text) else []
        for place, number in numbered:
            if place[-3:] and text.endswith(place[-3:]):
                # "江宁横溪街道石塘村 新房子 门牌是石塘村118号": the house number said after it.
                text = text + number
                break
        # An address names a place and a number (a village may go without one).
        if len(text) < 4 or not looks_like_address(text, tracker, need_number=True):
            if tracker.get_slot("requested_slot") != "address":
                # "在雨花台区开了个饭馆": a district in the opening words, not an answer yet;
                # "公司叫南京驰电新能源 …" after "雨花台区软件大道188号": a city inside a company's
                # name is no new address. What was held stays; the address is asked in its turn.
                return {"address": slot_before_this_message(tracker, "address")}
            dispatcher.utter_message(response="utter_address_incomplete")
            return {"address": None}
        return {"address": text}


# The values shown in utter_application_registered_as, each marked when it is the account's own.
def applicant_label(tracker: Tracker) -> str:
    name = tracker.get_slot("applicant_name")
    if name == NAME_LATER:
        return "未留姓名（工作人员核验资料时按身份证确认）"
    if name == REGISTERED:
        return f"户号尾号{digits_only(tracker.get_slot('account_no'))[-4:]}登记的户主"
    if tracker.get_slot("identity_verified") and name and name == tracker.get_slot("customer_name"):
        return f"{mask_name(name)}（户主）"
    return str(name)


def address_label(tracker: Tracker) -> str:
    address = tracker.get_slot("address")
    if address == REGISTERED:
        return f"户号尾号{digits_only(tracker.get_slot('account_no'))[-4:]}的登记地址"
    if tracker.get_slot("identity_verified") and address and address == tracker.get_slot("customer_address"):
        return f"{address}（账户登记地址）"
    return str(address)


def contact_label(contact: Optional[str]) -> str:
    return "账户登记的手机" if contact in (REGISTERED, None) else mask_phone(contact)


APPLICATION_RESET = reset_form_slots("application_form") + [SlotSet("api_failed", False)]


class ActionSubmitApplication(Action):
    def name(self) -> Text:
        return "action_submit_application"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("api_failed"):
            return identity_blocked_reply(dispatcher, tracker) + APPLICATION_RESET
        key = tracker.get_slot("business_type")
        kind = applicant_kind(tracker)
        info = business_profile(key, kind, tracker.get_slot("customer_type"))
        applicant = tracker.get_slot("applicant_name")
        if applicant == REGISTERED:
            applicant = await holder_name(tracker)
        elif applicant == NAME_LATER:
            applicant = None
        address, area_type = tracker.get_slot("address"), (
            tracker.get_slot("area_type") if tracker.get_slot("identity_verified") else None)
        if address == REGISTERED:
            # The account's premises: its registered address and area (staff see them, the
            # customer, who has not proved who they are, is not shown them).
            premises = await registered_premises(tracker)
            address = premises.get("address") or address_label(tracker)
            area_type = area_type or premises.get("area_type")
        capacity = capacity_said(tracker) if key in KIND_SENSITIVE else None
        payload = {
            "type": "application",
            "summary": f"{info['label']}申请：{applicant or '申请人待核验资料时确认'}，{address}",
            "channel": channel_of(tracker),
            "business_type": key,
            "applicant_type": info["applicant_type"],
            "account_no": await stated_account(tracker),
            "area_type": area_type,
            "conversation_id": tracker.sender_id,
            "contact_name": applicant,
            "contact_phone": None if tracker.get_slot("contact_phone") == REGISTERED else tracker.get_slot("contact_phone"),
            "details": {"address": address, "documents": info["documents"],
                        "business": key, "applicant_kind": kind,
                        **({"capacity": capacity} if capacity else {}),
                        # a verified customer who gave no other number is called on the registered one
                        "use_registered_phone": tracker.get_slot("contact_phone") == REGISTERED or (
                            tracker.get_slot("contact_phone") is None and bool(tracker.get_slot("identity_verified"))),
                        "account_verified": bool(tracker.get_slot("identity_verified"))},
            "request_key": request_key(tracker, "application"),
        }
        try:
            ticket = await api_client.create_ticket({k: v for k, v in payload.items() if v is not None})
        except api_client.ApiError:
            dispatcher.utter_message(response="utter_api_failure")
            dispatcher.utter_message(response="utter_offer_human")
            return APPLICATION_RESET + [SlotSet("handoff_reason", "api_failure")]
        ticket_no = ticket["ticket_no"]
        steps = milestone_lines(ticket)
        response = "utter_application_submitted" + ("_high_voltage" if kind == "high_voltage" else "") + \
            ("" if steps else "_unscheduled")
        dispatcher.utter_message(response=response, business=info["label"], ticket_no=ticket_no,
                                 steps="\n".join(steps))
        # No confirmation round before it (required_slots): what was registered is shown now.
        dispatcher.utter_message(response="utter_application_registered_as",
                                 applicant=echoed(applicant_label(tracker)),
                                 contact=contact_label(tracker.get_slot("contact_phone")),
                                 supply_address=echoed(address_label(tracker)))
        events = APPLICATION_RESET + [SlotSet("last_ticket_no", ticket_no), SlotSet("documents_shown_for", None)]
        following = bill_or_outage_asked_too(opening_text(tracker, "application_form"))
        if following:
            # "上个月电费多少 还有我想在车库装个充电桩": the other question of the same message next.
            return events + finish_service(dispatcher, tracker, served=True, ticket_no=ticket_no,
                                           more_to_come=True) + following
        return events + finish_service(dispatcher, tracker, served=True, ticket_no=ticket_no)


def bill_or_outage_asked_too(opening: str) -> List[EventType]:
    """The follow-up for a bill or outage question asked in the message that opened the
    application (a bill only when asked about, not "电费怎么算" said of the business)."""
    from actions.faults import BILL_ASKED  # faults imports this module

    following = second_request(opening, "application_form")
    if following == "outage_form" or (following == "bill_form" and BILL_ASKED.search(opening)):
        return second_request_events(opening, "application_form")
    return []
