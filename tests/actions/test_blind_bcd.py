"""Kinds of failure the blind batches bc (a December cold wave: heaters tripping, snow on lines,
migrant workers home for the New Year, moving house) and bd (villages, farms, shops, prepaid
meters, rooftop PV) showed at first sight."""
import uuid

import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values, texts


@pytest.mark.asyncio
async def test_digits_corrected_in_the_same_message_are_the_ones_checked(actions_gateway):
    """bd-bill-002: "手机尾号7502 哎不对 是5028" checked 7502 and counted a failed attempt."""
    from actions.bills import ValidateBillForm

    slots = {"account_no": "3201000017", "requested_slot": "phone_last4", "identity_attempts": 0.0}
    tracker = make_tracker("手机尾号7502 哎不对 是5028", intent="inform", form="bill_form", slots=slots,
                           candidates={"phone_last4": "7502"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert values.get("identity_verified") is True
    assert values["phone_last4"] == "5028"
    assert not any("不一致" in text for text in texts(messages))


URGED_AFTER_PAYING = [
    {"event": "user", "text": "18738585147"},
    {"event": "bot", "text": "系统里还显示2026年11月的电费共 115.17 元未结清（刚缴的费用到账可能有几分钟延迟）。",
     "metadata": {"utter_action": "utter_reconnection_still_owing"}},
    {"event": "user", "text": "要等一天啊 晚上黑灯瞎火的 能不能快点"},
    {"event": "bot", "text": "非常理解您的着急，没电的每一分钟都难熬。缴费一到账，智能电表一般会自动合闸，最晚24小时内恢复供电。",
     "metadata": {"utter_action": "utter_urged_reconnection_unconfirmed"}},
]


@pytest.mark.asyncio
@pytest.mark.parametrize("form, intent", [("outage_form", "query_outage"), ("fault_form", "report_fault")])
async def test_what_if_power_is_not_back_after_paying_is_answered_not_filed(actions_gateway, form, intent):
    """bd-arrears_reconnect-001: "那好吧 要是明天还不来电咋办" after the 24 hours after paying (and an
    urge) were answered was heard as an outage question and a repair was filed."""
    from actions.faults import ValidateFaultForm, ValidateOutageForm

    action = ValidateOutageForm() if form == "outage_form" else ValidateFaultForm()
    tracker = make_tracker("那好吧 要是明天还不来电咋办", intent=intent, form=form, prior_events=URGED_AFTER_PAYING,
                           slots={"identity_verified": True, "verified_account_no": "3201000026",
                                  "account_no": "3201000026"})
    events, messages = await run_action(action, tracker)
    assert [m.get("response") for m in messages] == ["utter_reconnection_if_not_back"]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)


@pytest.mark.parametrize("text, asks", [
    ("那好吧 要是明天还不来电咋办", True), ("万一过了24小时还没电怎么办", True), ("如果还不来电找谁", True),
    ("明天还停不停电", False), ("要是不交电费会怎么样", False),
])
def test_the_words_of_what_if_power_is_not_back(text, asks):
    from actions.common import IF_NOT_BACK

    assert bool(IF_NOT_BACK.search(text)) is asks, text


@pytest.mark.asyncio
async def test_an_application_given_up_for_another_right_after_filing_is_withdrawn_and_the_other_made(actions_gateway):
    """bc-mixed-002: "等一下 跟家里商量了 不销了 … 改成我儿子的名字吧" right after the closing was
    filed got "already filed"; the closing stayed and no name transfer was made."""
    from actions import api_client
    from actions.applications import ValidateApplicationForm

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    closing = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "application", "business_type": "account_closing",
        "summary": "销户申请", "channel": "web", "conversation_id": conversation, "account_no": "3201000023",
        "contact_phone": "18124769695", "details": {"address": "江苏省南京市江宁区谷里街道张溪社区32号"}})
    filed = [{"event": "user", "text": "户号3201000023 任立新 手机18124769695"},
             {"event": "bot", "text": f"您的销户申请已提交，工单号：{closing['ticket_no']}。"},
             {"event": "bot", "text": "请问您对这次服务满意吗？"}]
    said = "等一下 跟家里商量了 不销了 我儿子过完年回来要住 改成我儿子的名字吧"
    tracker = make_tracker(said, intent="apply_service", form="application_form", prior_events=filed,
                           sender_id=conversation, slots={"account_no": "3201000023"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert (await api_client.get_ticket(closing["ticket_no"]))["status"] == "cancelled"
    replies = "".join(texts(messages))
    assert f"{closing['ticket_no']} 已为您撤销" in replies and "改为办理过户" in replies
    assert slot_values(events)["business_type"] == "name_transfer"
    assert "刚才已经提交" not in replies


@pytest.mark.parametrize("text, business", [
    ("改成我儿子的名字吧", "name_transfer"), ("户名改成我儿子的", "name_transfer"), ("过给我女儿名下", "name_transfer"),
    ("改成峰谷电", "tariff_change"),
])
def test_the_words_of_a_name_put_on_another_person(text, business):
    from actions.applications import business_from_text

    assert business_from_text(text) == business


@pytest.mark.asyncio
async def test_a_buyers_name_transfer_keeps_the_account_but_not_the_sellers_name_or_phone(actions_gateway):
    """bc-application-001: "户号是3201000016 原房东叫吴思远" at the phone question of a buyer's name
    transfer filed it with the seller as the applicant and the seller's registered phone."""
    from actions.applications import ValidateApplicationForm

    slots = {"business_type": "name_transfer", "applicant_name": None, "address": "栖霞区文苑路326号锦绣苑17栋601室",
             "requested_slot": "contact_phone"}
    tracker = make_tracker("户号是3201000016 原房东叫吴思远", intent="inform", form="application_form", slots=slots)
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("account_no") == "3201000016"
    assert values.get("contact_phone") is None and values.get("applicant_name") != "吴思远"
    assert values.get("requested_slot") in ("contact_phone", "applicant_name")
    assert any("原户主的电话" in text for text in texts(messages))


@pytest.mark.parametrize("text, name", [
    ("户号是3201000016 原房东叫吴思远", None), ("3201000016 房东吴思远 我叫孙浩", "孙浩"),
    ("户号3201000023 任立新 手机18124769695", "任立新"),
])
def test_the_previous_holder_named_is_not_the_applicant(text, name):
    from actions.applications import name_beside_details

    assert name_beside_details(text) == name


async def repair_just_filed(conversation: str) -> tuple:
    """A factory's repair filed a moment ago on the account's registered phone."""
    from actions import api_client

    repair = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "repair", "summary": "江宁秣陵将军大道177号：全厂没电",
        "channel": "web", "conversation_id": conversation, "account_no": "3201000034",
        "details": {"address": "江宁秣陵将军大道177号", "description": "我们厂夜班正在生产 突然一下全厂没电了"}})
    events = [{"event": "user", "text": "户号3201000034"},
              {"event": "bot", "text": f"已为您登记故障报修，工单号：{repair['ticket_no']}。"}]
    return repair["ticket_no"], events


@pytest.mark.asyncio
async def test_others_dark_too_right_after_a_repair_is_noted_on_it_not_a_new_repair(actions_gateway):
    """bc-repair-004: "厂里自己总开关没跳 对面那个厂也黑了" right after the repair was filed started the
    repair form again (the address taken from the account, the phone asked)."""
    from actions import api_client
    from actions.faults import ValidateFaultForm

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    ticket_no, filed = await repair_just_filed(conversation)
    tracker = make_tracker("厂里自己总开关没跳 对面那个厂也黑了", intent="report_fault", form="fault_form",
                           prior_events=filed, sender_id=conversation)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ticket_note_added"]
    ticket = await api_client.get_ticket(ticket_no)
    assert any("对面那个厂也黑了" in str((e.get("data") or {}).get("note")) for e in ticket["events"])


@pytest.mark.asyncio
async def test_a_phone_given_with_an_urge_right_after_a_repair_is_its_contact(actions_gateway):
    """bc-repair-004: "值班电话13647202292 抓紧派人 一停线上的货全报废" right after the repair was
    filed was taken for the same repair reported again; the number never reached the ticket."""
    from actions import api_client
    from actions.common import correct_just_filed_phone

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    ticket_no, filed = await repair_just_filed(conversation)
    tracker = make_tracker("值班电话13647202292 抓紧派人 一停线上的货全报废", intent="report_fault",
                           prior_events=filed, sender_id=conversation)
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = await correct_just_filed_phone(dispatcher, tracker)
    assert events is not None
    assert (await api_client.get_ticket(ticket_no))["contact_phone"] == "13647202292"
    # A phone with another place's repair stays that request's.
    tracker = make_tracker("电话13647202292 和平社区81号也没电了 快派人来修", intent="report_fault",
                           prior_events=filed, sender_id=conversation)
    assert await correct_just_filed_phone(CollectingDispatcher(), tracker) is None


@pytest.mark.asyncio
async def test_the_registered_phone_typed_after_the_account_proves_it_for_the_bill(actions_gateway):
    """bc-application-003: "户号3201000026 蒋红霞", then "手机18738585147" (the closing's contact), then
    "还欠费啊？欠多少 我先交了": the customer was asked for the last four digits of that very number."""
    from actions.bills import ValidateBillForm

    earlier = [{"event": "user", "text": "户号3201000026 蒋红霞"},
               {"event": "bot", "text": "收到户号尾号0026，就按该户登记的户主、用电地址和手机号为您办理。"},
               {"event": "user", "text": "手机18738585147"},
               {"event": "bot", "text": "好的，工单 YK20261206002 的联系电话记为 187****5147。"}]
    tracker = make_tracker("还欠费啊？欠多少 我先交了", intent="query_bill", form="bill_form", prior_events=earlier,
                           slots={"account_no": "3201000026"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events).get("identity_verified") is True
    assert not any("后四位" in text for text in texts(messages))
    # Another person's number (a son's, given as a contact) proves nothing: the question follows.
    earlier[2]["text"] = "手机18205182369"
    tracker = make_tracker("还欠费啊？欠多少 我先交了", intent="query_bill", form="bill_form", prior_events=earlier,
                           slots={"account_no": "3201000026"})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert not slot_values(events).get("identity_verified")


@pytest.mark.asyncio
async def test_a_wish_for_the_crew_to_call_first_is_no_suggestion(actions_gateway):
    """bc-progress-002: "好的 师傅来之前能不能先打个电话 我白天上班" after the progress answer was
    registered as a suggestion."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("好的 师傅来之前能不能先打个电话 我白天上班", intent="suggest", form="feedback_form",
                           candidates={"feedback_type": "suggestion"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_crew_calls_before_coming"]
    assert slot_values(events).get("feedback_type") is None


@pytest.mark.asyncio
async def test_a_greenhouse_site_without_a_number_is_an_address_for_a_new_connection(actions_gateway):
    """bc-application-002: "我叫朱长林 电话13584012276 地址就是湖熟街道和平社区东边那片大棚" took the
    name and asked for the address again: a site with no number, found by what stands there."""
    from actions.applications import ValidateApplicationForm

    slots = {"business_type": "new_connection", "requested_slot": "applicant_name"}
    tracker = make_tracker("我叫朱长林 电话13584012276 地址就是湖熟街道和平社区东边那片大棚", intent="inform",
                           form="application_form", slots=slots)
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("applicant_name") == "朱长林" and values.get("contact_phone") == "13584012276"
    assert "和平社区东边那片大棚" in str(values.get("address"))
    assert values.get("requested_slot") is None


@pytest.mark.parametrize("text, place", [
    ("湖熟街道和平社区东边那片大棚", True), ("雄州南路那边的工地", True), ("和平社区", False), ("大棚", False),
])
def test_a_site_found_by_what_stands_there(text, place):
    from actions.common import looks_like_address

    assert looks_like_address(text) is place


@pytest.mark.asyncio
async def test_how_long_asked_with_the_documents_inside_the_form_is_answered_too(actions_gateway):
    """bc-application-002: "要带什么材料 多久能通电 菜等不起" at the name question got the documents
    again and nothing about how long."""
    from actions.applications import ValidateApplicationForm

    slots = {"business_type": "new_connection", "requested_slot": "applicant_name"}
    tracker = make_tracker("要带什么材料 多久能通电 菜等不起", intent="faq", form="application_form", slots=slots)
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    responses = [m.get("response") for m in messages]
    assert "utter_application_documents" in responses
    assert any("工作日" in text for text in texts(messages)), texts(messages)  # the documents say no time
    assert slot_values(events).get("requested_slot") == "applicant_name"


@pytest.mark.asyncio
async def test_why_the_pv_money_has_not_come_is_answered_not_filed_as_a_complaint(actions_gateway):
    """bd-mixed-001: "我家屋顶光伏并网一年多了 发电的钱前几个月都按时打到卡上 这三个月一分没到 咋回事"
    was registered as a complaint."""
    from actions.feedback import ValidateFeedbackForm

    said = "我家屋顶光伏并网一年多了 发电的钱前几个月都按时打到卡上 这三个月一分没到 咋回事"
    tracker = make_tracker(said, intent="complain", form="feedback_form")
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events).get("faq_topic") == "pv_payment_late"
    assert any("银行卡" in text for text in texts(messages))
    # Said as a complaint, it is one.
    tracker = make_tracker("光伏的钱三个月没到 咋回事 我要投诉", intent="complain", form="feedback_form")
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events).get("faq_topic") is None


@pytest.mark.asyncio
async def test_the_previous_holders_arrears_are_explained_not_looked_up(actions_gateway):
    """bc-application-001: "听说原房东还欠点电费 这个要我出吗" asked the buyer to prove the seller's
    account (the last four digits of the seller's phone)."""
    from actions.bills import ValidateBillForm

    tracker = make_tracker("听说原房东还欠点电费 这个要我出吗", intent="query_bill", form="bill_form",
                           slots={"account_no": "3201000016"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_previous_holder_arrears"]
    assert not slot_values(events).get("identity_verified")


@pytest.mark.parametrize("text, asks", [
    ("听说原房东还欠点电费 这个要我出吗", True), ("上家欠的电费谁交", True), ("原户主欠费怎么办", True),
    ("我家欠多少电费", False), ("房东说这个月电费要交560", False),
])
def test_the_words_of_whose_debt_it_is(text, asks):
    from actions.bills import PREVIOUS_HOLDERS_DEBT
    from actions.common import PREVIOUS_HOLDER

    assert bool(PREVIOUS_HOLDER.search(text) and PREVIOUS_HOLDERS_DEBT.search(text)) is asks, text


SCAM_SMS = ("收到这个 是真的吗 【国家电网】尊敬的用户您好，您的电费账户因系统升级多扣费用126.50元，请于今日内点击 "
            "http://95598-tuifei.cn 填写银行卡信息办理退费，逾期作废。【95598】")


@pytest.mark.asyncio
@pytest.mark.parametrize("intent, form", [("query_bill", "bill_form"), ("complain", "feedback_form"),
                                          ("faq", None), ("nlu_fallback", None)])
async def test_a_message_in_our_name_asked_about_is_answered_as_a_likely_fraud(actions_gateway, intent, form):
    """be-info-001: a pasted refund SMS with a link ("是真的吗") got the 户号 question, then "这个问题我
    这里答不上来" three times while the customer said she had opened the link."""
    from actions.bills import ValidateBillForm
    from actions.faq import ActionAnswerFaq
    from actions.feedback import ValidateFeedbackForm
    from actions.handoff import ActionDefaultAskAffirmation

    action = {"bill_form": ValidateBillForm, "feedback_form": ValidateFeedbackForm}.get(form) \
        or (ActionAnswerFaq if intent == "faq" else ActionDefaultAskAffirmation)
    _, messages = await run_action(action(), make_tracker(SCAM_SMS, intent=intent, form=form))
    assert [m.get("response") for m in messages] == ["utter_scam_warning"]
    warned = [{"event": "user", "text": SCAM_SMS},
              {"event": "bot", "text": "这很可能是诈骗…", "metadata": {"utter_action": "utter_scam_warning"}}]
    _, messages = await run_action(ValidateBillForm(), make_tracker(
        "我已经点进去了 还没填卡号 要紧吗", intent="query_bill", form="bill_form", prior_events=warned))
    assert [m.get("response") for m in messages] == ["utter_scam_acted_on"]


@pytest.mark.parametrize("text, asks", [
    (SCAM_SMS, True), ("【95598】您家电费已欠费三个月，将于今晚24点停电，请速加微信sgcc2024缴费。这是你们发的？", True),
    ("有人打电话说是95598的 要上门换表 这号码是不是你们的", True),
    ("95598晚上也有人接吗", False), ("我要投诉95598的客服态度差", False), ("电费扣了两次 钱能退吗", False),
])
def test_the_words_of_a_message_in_our_name_asked_about(text, asks):
    from actions.common import asks_if_genuine

    assert asks_if_genuine(text) is asks, text


@pytest.mark.asyncio
async def test_a_praise_said_again_after_it_was_registered_is_no_second_praise(actions_gateway):
    """be-praise-001: "就想表扬一下 没别的事 谢谢你们" a little after the praise was registered
    registered a second praise."""
    from actions.feedback import ValidateFeedbackForm

    registered = [{"event": "user", "text": "一直修到一点多 还帮我奶奶把冰箱插头查了一遍"},
                  {"event": "bot", "text": "您的表扬已登记，编号：BY20261206001。\n感谢您的认可！"},
                  {"event": "user", "text": "户号3201000010 马台街紫金花园22栋"},
                  {"event": "bot", "text": "收到，地址是“马台街紫金花园22栋”。"}]
    tracker = make_tracker("就想表扬一下 没别的事 谢谢你们", intent="praise", form="feedback_form",
                           prior_events=registered)
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert any(e.get("event") == "followup" and e.get("name") == "action_wrap_up" for e in events)
    assert messages == []
    # More said about it is no restatement.
    tracker = make_tracker("还想表扬一下那天的客服小姑娘 态度特别好", intent="praise", form="feedback_form",
                           prior_events=registered)
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert not any(e.get("event") == "followup" and e.get("name") == "action_wrap_up" for e in events)


def test_a_scam_sms_asked_about_as_fraud_is_warned_of_and_impostors_at_the_door_are_a_tip_off():
    from actions.common import asks_if_genuine

    assert asks_if_genuine("【国网】您有电费退款待领取 点击 www.sgcc-tk.com 这是不是诈骗")
    assert not asks_if_genuine("刚才有两个人上门说是供电局的 要给我换电表 收两百块钱 是不是你们的人啊")


@pytest.mark.asyncio
async def test_a_tariff_question_heard_as_a_suggestion_is_answered(actions_gateway):
    """bc-info-001: "开澡堂子的 … 商业电有没有峰谷 夜里烧水能不能便宜点" (heard as a suggestion) asked
    for a phone, took the next two questions as more of a suggestion and registered it."""
    from actions.feedback import ValidateFeedbackForm

    said = "开澡堂子的 冬天锅炉全靠电 一个月电费好几万 商业电有没有峰谷 夜里烧水能不能便宜点"
    events, messages = await run_action(ValidateFeedbackForm(), make_tracker(said, intent="suggest", form="feedback_form"))
    assert slot_values(events).get("faq_topic") == "peak_valley_prices"
    # A suggestion in so many words stays one.
    said = "建议你们商业电也搞个峰谷 夜里烧水能不能便宜点"
    events, _ = await run_action(ValidateFeedbackForm(), make_tracker(said, intent="suggest", form="feedback_form"))
    assert slot_values(events).get("faq_topic") is None


@pytest.mark.parametrize("text, angry", [
    ("必须表扬一下你们的师傅！！前天晚上十一点多我奶奶家没电 师傅半小时就到了", False),
    ("你们什么破服务！！这个月第三次停电了", True), ("谢谢你们！！不过这是第三次停电了 你们到底管不管", True),
])
def test_exclamation_marks_in_a_praise_are_delight_not_anger(text, angry):
    """be-praise-001: "必须表扬一下你们的师傅！！…" got "非常抱歉给您带来这么多麻烦"."""
    from actions.common import is_angry

    assert is_angry(text) is angry


@pytest.mark.asyncio
async def test_the_last_four_digits_said_as_the_phone_ends_with_them_are_checked(actions_gateway):
    """be-bill-001: "不对不对 手机最后是6627 我打反了" after a mistyped number got "没太理解"."""
    from actions.bills import ValidateBillForm

    slots = {"account_no": "3201000038", "requested_slot": "phone_last4", "identity_attempts": 1.0}
    tracker = make_tracker("不对不对 手机最后是6627 我打反了", intent="inform", form="bill_form", slots=slots)
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events).get("identity_verified") is True


@pytest.mark.asyncio
async def test_a_danger_told_after_stopping_a_bill_query_is_served(actions_gateway):
    """Tried in words not written for the tests: "等下 先不查了 我家厨房插座冒火花了" at the bill's
    identity question cancelled the query and dropped the sparking socket."""
    from actions.common import ActionCancelForm

    tracker = make_tracker("等下 先不查了 我家厨房插座冒火花了", intent="cancel", active_loop="bill_form",
                           slots={"requested_slot": "phone_last4", "account_no": "3201000004"})
    events, _ = await run_action(ActionCancelForm(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["fault_form"]
    assert "冒火花" in str(slot_values(events).get("fault_description"))
