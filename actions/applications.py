"""Applications (业务办理): business type, documents, applicant, confirmation, ticket, steps."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import api_client
from actions.common import (
    API_FAILURE_TEXT,
    BaseFormValidation,
    channel_of,
    find_mobile,
    finish_service,
    free_text_answer,
    identity_blocked_reply,
    latest_intent,
    latest_text,
    mask_phone,
    milestone_lines,
    request_key,
    reset_form_slots,
)

# Canonical keys are the NLU agreement's; labels, documents and words customers use.
BUSINESS_TYPES: Dict[str, Dict[str, Any]] = {
    "new_connection": {
        "label": "新装用电",
        "documents": ["户主身份证", "房屋产权证明（房产证或购房合同）"],
        "words": ["新装", "装电表", "开户", "新户", "接电", "通电", "新房"],
    },
    "capacity_change": {
        "label": "增容/减容",
        "documents": ["户主身份证", "房屋产权证明", "用电设备清单（增容的原因和新增设备）"],
        "words": ["增容", "减容", "扩容", "容量", "加大功率", "功率不够"],
    },
    "name_transfer": {
        "label": "过户",
        "documents": ["新户主身份证", "原户主身份证（或继承、法院文书）", "房屋产权过户证明", "结清原户电费"],
        "words": ["过户", "更名", "改名", "换户主", "户名"],
    },
    "meter_move": {
        "label": "移表",
        "documents": ["户主身份证", "房屋产权证明", "新表位位置说明（可附照片）"],
        "words": ["移表", "迁表", "挪表", "电表移", "移动电表"],
    },
    "ev_charger": {
        "label": "充电桩报装",
        "documents": ["户主身份证", "车位产权或长期使用证明", "物业同意安装证明", "购车合同或行驶证"],
        "words": ["充电桩", "充电", "电动车", "新能源车", "电动汽车"],
    },
    "pv_connection": {
        "label": "光伏并网",
        "documents": ["户主身份证", "房屋产权证明", "光伏组件和逆变器的型号参数", "屋顶安装方案或照片"],
        "words": ["光伏", "太阳能", "并网", "发电"],
    },
    "tariff_change": {
        "label": "电价变更",
        "documents": ["户主身份证", "变更原因说明（如申请峰谷电价、合表用户电价）"],
        "words": ["电价变更", "峰谷", "改电价", "分时电价", "电价类型", "合表"],
    },
    "account_closing": {
        "label": "销户",
        "documents": ["户主身份证", "房屋产权证明", "结清全部电费"],
        "words": ["销户", "注销", "停止用电", "拆表", "不用电了"],
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
CAPACITY_KVA = re.compile(r"(\d{2,5})\s*(?:千伏安|kva|KVA|kVA|千瓦|kw|KW|kW)")
BUSINESS_WORDS = re.compile(r"工厂|厂里|厂房|我们厂|车间|公司|企业|单位|店里|店铺|商铺|门面|门店|饭店|餐馆|超市|"
                            r"商户|商业|工业|经营|营业|办公楼|写字楼|个体")
# Above this capacity a customer is supplied at 10 kV (Jiangsu: low voltage up to 160 kW).
LOW_VOLTAGE_LIMIT_KVA = 160


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


BUSINESS_BUTTONS = [{"title": info["label"], "payload": f'/inform{{"business_type":"{key}"}}'}
                    for key, info in BUSINESS_TYPES.items()]


def business_from_text(text: Optional[str]) -> Optional[str]:
    text = str(text or "")
    if text in BUSINESS_TYPES:
        return text
    for key, info in BUSINESS_TYPES.items():
        if text == info["label"] or any(word in text for word in info["words"]):
            return key
    return None


# "好 就这么办", "对 就这个事", "没了 谢谢", "快点处理": a yes to "确认提交吗？" in customers' words.
LENIENT_YES = re.compile(r"^\s*(确认|确定|提交|对|是|没错|没问题|好|行|嗯|可以|就这|就是这|没了|没有了|没别的|"
                         r"谢谢|多谢|快点|赶紧|尽快|那就|办吧|帮我办|申请吧|提交吧)")
# ... but never when the same words correct or stop something ("对，但电话错了", "好像不对").
NOT_A_YES = re.compile(r"不对|不是|错|改|重新|重填|等等|等一下|取消|算了|不要|别|不用|不办|\d")


def yes_no(tracker: Tracker) -> Optional[bool]:
    """affirm/deny (buttons or words) as the answer to a confirmation question."""
    intent, _ = latest_intent(tracker)
    text = latest_text(tracker)
    if intent == "affirm" and not NOT_A_YES.search(text):
        return True
    if intent == "deny":
        return False
    if re.fullmatch(r"\s*(确认|确定|提交|对|是|是的|没错|没问题|好|好的|可以|行)[。！!.\s]*", text):
        return True
    if re.fullmatch(r"\s*(不对|不是|错了|有误|修改|重填|重新填写?)[。！!.\s]*", text):
        return False
    if not text.startswith("/") and LENIENT_YES.search(text) and not NOT_A_YES.search(text):
        return True
    return None


# Words of a request or a question, never of a person's name ("居民生活用电", "要什么材料吗").
NOT_A_NAME = re.compile(r"用电|电费|电价|停电|供电|电表|报修|申请|业务|居民|生活|怎么|什么|多少|[吗呢？?]")


class ValidateApplicationForm(BaseFormValidation, FormValidationAction):
    def name(self) -> Text:
        return "validate_application_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if tracker.get_slot("api_failed"):
            return []
        return ["business_type", "applicant_name", "contact_phone", "address", "confirm"]

    async def extract_business_type(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        if "business_type" in tracker.slots_to_validate():
            return {}
        if tracker.get_slot("requested_slot") == "business_type" or tracker.get_slot("business_type") is None:
            found = business_from_text(latest_text(tracker))
            if found:
                return {"business_type": found}
        return {}

    async def extract_applicant_name(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> Dict[Text, Any]:
        text = free_text_answer(tracker, "applicant_name")
        if not text or business_from_text(text):
            return {}  # "不对，我要办增容" changes the business, it is not a name
        name = re.sub(r"^(我(的名字)?(叫|是)|姓名(是|：|:)?|名字(是|：|:)?|申请人(是|：|:)?|叫)", "", text).strip(" ，,。.")
        return {"applicant_name": name}

    async def extract_contact_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        if "contact_phone" in tracker.slots_to_validate():
            return {}
        text = free_text_answer(tracker, "contact_phone")
        return {"contact_phone": text} if text else {}

    async def extract_address(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        if "address" in tracker.slots_to_validate():
            return {}
        text = free_text_answer(tracker, "address")
        return {"address": text} if text else {}

    async def extract_confirm(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "confirm":
            return {}
        answer = yes_no(tracker)
        return {} if answer is None else {"confirm": answer}

    async def validate_business_type(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        key = business_from_text(value)
        if key is None:
            dispatcher.utter_message(text="暂时没有识别出您要办理的业务，请从下面选择：", buttons=BUSINESS_BUTTONS)
            return {"business_type": None}
        if key != tracker.get_slot("documents_shown_for"):
            info = business_profile(key, applicant_kind(tracker))
            docs = "\n".join(f"{i}. {doc}" for i, doc in enumerate(info["documents"], start=1))
            dispatcher.utter_message(
                text=f"办理{info['label']}需要准备以下资料：\n{docs}\n"
                     f"线上提交申请后，工作人员会联系您核验资料。")
        return {"business_type": key, "documents_shown_for": key}

    async def validate_applicant_name(self, value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        name = str(value or "").strip()
        if not re.fullmatch(r"[\u4e00-\u9fa5·A-Za-z ]{2,20}", name) or NOT_A_NAME.search(name):
            # The form asks for the name again right after this: say only what was wrong.
            dispatcher.utter_message(text=f"“{name[:20]}”好像不是姓名，请用身份证上的姓名，比如“张伟”。")
            return {"applicant_name": None}
        return {"applicant_name": name}

    async def validate_contact_phone(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        mobile = find_mobile(value)
        if not mobile:
            dispatcher.utter_message(text="没有识别到手机号，手机号是11位数字。")
            return {"contact_phone": None}
        return {"contact_phone": mobile}

    async def validate_address(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if len(str(value or "").strip()) < 5:
            dispatcher.utter_message(text="地址好像不太完整，请说到小区（村）、楼栋和门牌号。")
            return {"address": None}
        return {"address": str(value).strip()}

    async def validate_confirm(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if value is True:
            return {"confirm": True}
        dispatcher.utter_message(text="好的，我们重新填写一下申请人信息。")
        return {"confirm": None, "applicant_name": None, "contact_phone": None, "address": None}


class ActionAskApplicationConfirm(Action):
    def name(self) -> Text:
        return "action_ask_application_form_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        info = business_profile(tracker.get_slot("business_type"), applicant_kind(tracker))
        dispatcher.utter_message(
            text=(f"请核对申请信息：\n业务：{info['label']}\n申请人：{tracker.get_slot('applicant_name')}\n"
                  f"联系电话：{mask_phone(tracker.get_slot('contact_phone'))}\n"
                  f"用电地址：{tracker.get_slot('address')}\n确认提交吗？"),
            buttons=[{"title": "确认提交", "payload": "/affirm"}, {"title": "重新填写", "payload": "/deny"}])
        return []


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
        payload = {
            "type": "application",
            "summary": f"{info['label']}申请：{tracker.get_slot('applicant_name')}，{tracker.get_slot('address')}",
            "channel": channel_of(tracker),
            "business_type": key,
            "applicant_type": info["applicant_type"],
            "account_no": tracker.get_slot("verified_account_no") if tracker.get_slot("identity_verified") else None,
            "area_type": tracker.get_slot("area_type") if tracker.get_slot("identity_verified") else None,
            "conversation_id": tracker.sender_id,
            "contact_name": tracker.get_slot("applicant_name"),
            "contact_phone": tracker.get_slot("contact_phone"),
            "details": {"address": tracker.get_slot("address"), "documents": info["documents"],
                        "business": key, "applicant_kind": kind},
            "request_key": request_key(tracker, "application"),
        }
        try:
            ticket = await api_client.create_ticket({k: v for k, v in payload.items() if v is not None})
        except api_client.ApiError:
            dispatcher.utter_message(text=API_FAILURE_TEXT)
            dispatcher.utter_message(response="utter_offer_human")
            return APPLICATION_RESET + [SlotSet("handoff_reason", "api_failure")]
        ticket_no = ticket["ticket_no"]
        lines = [f"您的{info['label']}申请已提交，工单号：{ticket_no}。"]
        steps = milestone_lines(ticket)
        if steps:
            lines.append("接下来的办理环节和时限：")
            lines += steps
        if kind == "high_voltage":
            lines.append("高压办电中，设计文件审核、中间检查和竣工检验在您提交设计、完成受电工程后进行，"
                         "客户经理会一对一跟进。")
        lines.append("工作人员会按时限与您联系，办理进度也可以随时发工单号问我。")
        dispatcher.utter_message(text="\n".join(lines))
        return APPLICATION_RESET + [SlotSet("last_ticket_no", ticket_no), SlotSet("documents_shown_for", None)] + \
            finish_service(dispatcher, tracker, served=True, ticket_no=ticket_no)
