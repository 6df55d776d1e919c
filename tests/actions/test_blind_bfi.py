"""Kinds of failure found this stop: chatting through the widget in words not written for the
tests, and the blind batches bf (elderly customers and relatives), bg (small businesses), bh (young
renters, EV owners, app payments) and bi (households across the seasons) at first sight."""
import pytest

from tests.support.dialogue import make_tracker, repair_just_filed, run_action, slot_values, texts


def followups(events) -> list:
    return [e.get("name") for e in events if e.get("event") == "followup"]


@pytest.mark.asyncio
async def test_a_person_asked_for_while_stopping_a_repair_is_called(actions_gateway):
    """Tried in the widget: "算了 你帮我转个人工吧" at a repair's address question cancelled the repair
    and asked "还有其他可以帮您的吗？"; the person asked for never came."""
    from actions.common import ActionCancelForm

    tracker = make_tracker("算了 你帮我转个人工吧", intent="request_human", active_loop="fault_form",
                           slots={"requested_slot": "address", "fault_description": "小区门口路灯坏了"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert followups(events) == ["action_handoff"]
    assert [m.get("response") for m in messages] == ["utter_form_cancelled_then"]


@pytest.mark.parametrize("text, asks", [
    ("算了 你帮我转个人工吧", True), ("给我接个人工", True), ("转人工", True), ("找个人工客服", True),
    ("你们人工客服态度太差了", False), ("人工费要多少", False),
])
def test_the_words_of_asking_for_a_person(text, asks):
    from actions.common import ASKS_FOR_A_PERSON

    assert bool(ASKS_FOR_A_PERSON.search(text)) is asks, text


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["对了我们小区门口路灯坏了好几天了", "村口那个路灯晚上一直不亮"])
async def test_a_street_light_out_is_redirected_not_repaired(actions_gateway, text):
    """Tried in the widget: "对了我们小区门口路灯坏了好几天了" started a repair and asked for the
    address; street lights are the city's or the property's (12345, the property, the village)."""
    from actions.faults import ValidateFaultForm

    events, messages = await run_action(ValidateFaultForm(), make_tracker(text, intent="report_fault",
                                                                          form="fault_form"))
    assert followups(events) == ["action_listen"]
    assert "12345" in "".join(texts(messages))


@pytest.mark.asyncio
async def test_a_fallen_street_light_wire_is_still_a_danger_to_repair(actions_gateway):
    from actions.faults import ValidateFaultForm

    events, messages = await run_action(ValidateFaultForm(), make_tracker(
        "路灯杆上的电线掉下来了 还在冒火花", intent="report_fault", form="fault_form"))
    assert "12345" not in "".join(texts(messages))
    assert "action_listen" not in followups(events)


@pytest.mark.asyncio
async def test_an_urge_naming_the_emergency_number_after_a_repair_is_not_praise(actions_gateway):
    """bf-hazard-002: "好 我先打120 你们赶紧派人来把表箱弄好 别人再碰到怎么办" right after an urgent
    repair was filed (NLU: praise) was filed as a praise: "120" read as a number given."""
    from actions.feedback import ValidateFeedbackForm

    ticket, prior = await repair_just_filed("表箱带电 有人触电", "17743415821", "龙蟠中路141号翠竹园1栋",
                                            "我是他儿子 电话就打我爸的 17743415821", conversation_id="urge-120")
    tracker = make_tracker("好 我先打120 你们赶紧派人来把表箱弄好 别人再碰到怎么办", intent="praise",
                           form="feedback_form", prior_events=prior)
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert ticket["ticket_no"] in texts(messages)[0]
    assert followups(events) == ["action_listen"]
    assert "feedback_type" not in {e.get("name") for e in events if e.get("event") == "slot" and e.get("value")}


@pytest.mark.asyncio
async def test_done_after_a_planned_outage_answer_files_no_repair(actions_gateway):
    """bg-mixed-001: "那我自己借个发电机 好了 没事了" after the planned outage was answered (NLU: a
    fault) filed a repair at 大泉村 with the verified account."""
    from actions.faults import ValidateFaultForm

    slots = {"identity_verified": True, "verified_account_no": "3201000028", "account_no": "3201000028",
             "customer_address": "江苏省南京市六合区竹镇镇大泉村87号", "area_type": "remote"}
    events, _ = await run_action(ValidateFaultForm(), make_tracker(
        "那我自己借个发电机 好了 没事了", intent="report_fault", form="fault_form", slots=slots))
    assert followups(events) == ["action_wrap_up"]
    assert not any(e.get("event") == "slot" and e.get("name") == "address" and e.get("value") for e in events)


@pytest.mark.parametrize("text, done", [
    ("那我自己借个发电机 好了 没事了", True), ("好的 就这样吧", True), ("没别的事了 谢谢", False),
    ("家里没电了 没事了吗", False),
])
def test_the_words_of_nothing_more_needed(text, done):
    from actions.faults import NOTHING_MORE_NEEDED, tells_a_fault

    assert (bool(NOTHING_MORE_NEEDED.search(text)) and not tells_a_fault(text)) is done, text


@pytest.mark.asyncio
async def test_asking_whether_to_rope_off_the_road_after_a_hazard_repair_is_answered(actions_gateway):
    """bi-hazard-002: "要不要我先找人把路拦起来" right after a sagging-wire repair was filed was heard
    as a wish for a person: the desk was closed and a callback ticket opened."""
    from actions.handoff import ActionHandoff

    prior = [{"event": "user", "text": "我叫何明辉 电话13847325028"},
             {"event": "bot", "text": "已为您登记紧急故障报修，工单号：BX20261206014。"}]
    tracker = make_tracker("要不要我先找人把路拦起来", intent="request_human", prior_events=prior)
    events, messages = await run_action(ActionHandoff(), tracker)
    assert [m.get("response") for m in messages] == ["utter_keep_others_away_while_waiting"]
    assert events == [{"event": "slot", "timestamp": None, "name": "handoff_reason", "value": None}]


def test_asking_whether_to_fetch_people_names_nobody_to_talk_to():
    from actions.handoff import names_a_person

    assert not names_a_person("要不要我先找人把路拦起来")
    assert names_a_person("帮我找个人工")


@pytest.mark.parametrize("heard", ["锁金村", "锁金村那个路口 亮车坊洗车店门口"])
def test_the_road_before_a_village_part_of_an_address_is_kept(heard):
    """bg-hazard-001: "玄武区龙蟠路 锁金村那个路口 亮车坊洗车店门口" was stored without 玄武区龙蟠路."""
    from actions.faults import whole_address

    said = "玄武区龙蟠路 锁金村那个路口 亮车坊洗车店门口"
    assert whole_address(heard, said) == said


@pytest.mark.asyncio
async def test_a_payment_not_shown_gets_what_to_keep_not_a_reminder_to_pay(actions_gateway):
    """bh-bill-002: "无语 微信交的电费 钱扣了 网上国网上还显示欠费": the bill was shown with "请在截止日前
    缴纳" and the satisfaction question; the payment not credited was never spoken of."""
    from sqlalchemy import select

    from actions.bills import ActionQueryBill
    from bot.store.models import Bill, Customer
    from bot.store import STORE

    with actions_gateway.app[STORE].session() as session:
        row = session.execute(select(Customer).where(Customer.account_no == "3201000004")).scalar_one()
        newest = session.execute(select(Bill).where(Bill.account_no == "3201000004")
                                 .order_by(Bill.period.desc())).scalars().first()
        assert newest.status in ("unpaid", "overdue")  # the demo's state this case needs
    slots = {"account_no": "3201000004", "verified_account_no": "3201000004", "identity_verified": True,
             "customer_name": row.name, "customer_address": row.address, "area_type": row.area_type}
    tracker = make_tracker("无语 微信交的电费 钱扣了 网上国网上还显示欠费", intent="query_bill", slots=slots)
    events, messages = await run_action(ActionQueryBill(), tracker)
    responses = [m.get("response") for m in messages]
    assert responses[-1] == "utter_payment_not_shown_on_bill"
    assert "utter_bill_pay_by_due_date" not in responses and "utter_ask_rating" not in responses


@pytest.mark.asyncio
@pytest.mark.parametrize("text, intent", [("那要多久才能到账啊 不会给我停电吧", "query_bill"),
                                          ("就半小时前交的 181.07 一分不差 截图都有", "complain")])
async def test_a_follow_up_to_a_payment_not_shown_is_answered_not_filed(actions_gateway, text, intent):
    """bh-bill-002: the follow-ups got the same bill word for word, and a complaint was filed."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "无语 微信交的电费 钱扣了 网上国网上还显示欠费"},
             {"event": "bot", "text": "您说的这笔缴费，系统里暂时还没有显示。",
              "metadata": {"utter_action": "utter_payment_not_shown_on_bill"}}]
    tracker = make_tracker(text, intent=intent, form="feedback_form", prior_events=prior)
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_payment_delay_followup"]
    assert followups(events) == ["action_listen"]


def test_the_words_of_a_payment_not_shown():
    from actions.bills import PAID_NOT_SHOWN

    assert PAID_NOT_SHOWN.search("支付宝交了200 显示成功 网上国网里余额一点没变 钱去哪了")
    assert PAID_NOT_SHOWN.search("我刚交了200块钱电费 怎么还没到账")
    assert not PAID_NOT_SHOWN.search("电费交了两遍 能退吗")
    assert not PAID_NOT_SHOWN.search("怎么交电费")


@pytest.mark.asyncio
async def test_asking_to_do_it_at_the_name_question_is_no_name(actions_gateway):
    """bi-application-001: "那我想开通峰谷电 帮我办一下" at the name question stored "一下" as the
    applicant (办 read as a department, like 物业办)."""
    from actions.applications import ValidateApplicationForm

    slots = {"business_type": "tariff_change", "documents_shown_for": "tariff_change", "requested_slot": "applicant_name"}
    events, _ = await run_action(ValidateApplicationForm(), make_tracker(
        "那我想开通峰谷电 帮我办一下", intent="apply_service", form="application_form", slots=slots))
    assert not slot_values(events).get("applicant_name")


@pytest.mark.asyncio
async def test_an_account_at_the_phone_question_of_a_tariff_change_gives_its_premises(actions_gateway):
    """bi-application-001: "户号3201000007 宋思远" at the phone question: the registered phone was
    taken, then the address asked three times; the account's premises are where the tariff changes."""
    from actions.applications import ValidateApplicationForm

    slots = {"business_type": "tariff_change", "documents_shown_for": "tariff_change",
             "requested_slot": "contact_phone", "applicant_name": "宋思远"}
    events, _ = await run_action(ValidateApplicationForm(), make_tracker(
        "户号3201000007 宋思远", intent="inform", form="application_form", slots=slots))
    values = slot_values(events)
    assert values["address"] == "registered" and values["contact_phone"] == "registered"
    assert values["requested_slot"] is None


def test_a_building_site_without_a_number_is_an_address_and_a_business():
    """bg-application-002: "项目在江宁区秣陵街道将军大道边上 新开的一个厂房工地 大概要用200多kW" at the
    name question was "not a name" and lost; the site got a household's documents."""
    from actions.applications import CAPACITY_KVA, address_in_text

    said = "项目在江宁区秣陵街道将军大道边上 新开的一个厂房工地 大概要用200多kW 塔吊 搅拌机都得用"
    assert address_in_text(said) == "江宁区秣陵街道将军大道边上 新开的一个厂房工地"
    assert address_in_text("我想问下工地临时用电怎么申请") is None
    assert CAPACITY_KVA.findall(said) == ["200"]


@pytest.mark.asyncio
async def test_a_building_sites_temporary_power_gets_a_businesss_documents(actions_gateway):
    from actions.applications import applicant_kind

    tracker = make_tracker("咱们工地要整临时用电 咋申请啊", intent="apply_service")
    assert applicant_kind(tracker) == "business"


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["就是想表扬下 谢谢啦", "就想表扬一下 没别的"])
async def test_praise_said_again_at_the_phone_question_needs_no_phone(actions_gateway, said):
    """Left open at the stop before: "就是想表扬下 谢谢啦" to "需要留个联系电话以便回复您吗" asked for an
    11-digit number again; a praise needs no reply."""
    from actions.feedback import ValidateFeedbackForm

    slots = {"feedback_type": "praise", "feedback_content": "昨天来修电的师傅特别负责", "requested_slot": "contact_phone"}
    prior = [{"event": "bot", "text": "需要留个联系电话以便回复您吗？不需要请回复“不用”。"}]
    events, messages = await run_action(ValidateFeedbackForm(), make_tracker(
        said, intent="praise", form="feedback_form", slots=slots, prior_events=prior))
    assert slot_values(events)["contact_phone"] == "none"
    assert not texts(messages)


@pytest.mark.asyncio
async def test_who_and_where_told_at_a_praises_phone_question_go_on_the_praise(actions_gateway):
    """bd-praise-001: "张溪社区32号 任立新 师傅姓啥我没问 是谷里供电所的" at the praise's phone question
    (NLU: a progress query) paused the praise for a ticket-number question; nothing was filed."""
    from actions.feedback import ValidateFeedbackForm

    slots = {"feedback_type": "praise", "requested_slot": "contact_phone",
             "feedback_content": "前天半夜我鱼塘没电 报了修 一个多钟头师傅就到了 下着雨爬杆子修好的"}
    prior = [{"event": "bot", "text": "需要留个联系电话以便回复您吗？不需要请回复“不用”。"}]
    events, _ = await run_action(ValidateFeedbackForm(), make_tracker(
        "张溪社区32号 任立新 师傅姓啥我没问 是谷里供电所的", intent="query_progress", form="feedback_form",
        slots=slots, prior_events=prior))
    values = slot_values(events)
    assert "谷里供电所" in values["feedback_content"] and values["contact_phone"] == "none"


def test_a_generator_borrowed_for_an_outage_is_no_pv_business():
    """be-outage-001: "好吧 那我们去借个发电机 要是提前来电会通知吗" got an offer to apply for a PV grid
    connection (发电 read in 发电机)."""
    from actions.applications import business_from_text

    assert business_from_text("好吧 那我们去借个发电机 要是提前来电会通知吗") is None
    assert business_from_text("我家屋顶想装光伏发电") == "pv_connection"


@pytest.mark.asyncio
async def test_an_application_made_last_month_and_not_heard_of_is_a_progress_question(actions_gateway):
    """bj-progress-001: "…上个月递了并网申请，到现在一直没有消息" (a village clerk asking for an old
    man) filed a second PV application."""
    from actions.applications import ValidateApplicationForm

    said = "你好，我是谷里街道张溪社区的文书，帮我们社区的任立新老人问一下，他家屋顶装了光伏，上个月递了并网申请，到现在一直没有消息。"
    events, _ = await run_action(ValidateApplicationForm(), make_tracker(
        said, intent="apply_service", form="application_form",
        entities=[{"entity": "business_type", "value": "pv_connection"}]))
    assert followups(events) == ["progress_form"]


@pytest.mark.asyncio
async def test_thanks_for_an_answer_is_no_praise_ticket(actions_gateway):
    """bj-bill-001: "明白了，天冷以后开了电暖器…谢谢您耐心解释。" after a tier answer filed a praise."""
    from actions.feedback import ValidateFeedbackForm

    events, _ = await run_action(ValidateFeedbackForm(), make_tracker(
        "明白了，天冷以后开了电暖器，用电多一些也在情理之中。谢谢您耐心解释。", intent="praise", form="feedback_form"))
    assert followups(events) == ["action_wrap_up"]
    events, _ = await run_action(ValidateFeedbackForm(), make_tracker(
        "谢谢你们昨天来修电的师傅 解释得很清楚", intent="praise", form="feedback_form"))
    assert "action_wrap_up" not in followups(events)


def test_a_notice_in_a_suggestion_is_no_fault_now():
    """bj-suggestion-001: "现在电费通知、停电通知都发在微信和短信上…" in a suggestion started a repair
    after it was filed (and the phone left for the suggestion filed one)."""
    from actions.feedback import other_request_in_story

    story = "现在电费通知、停电通知都发在微信和短信上，我们小区很多七八十岁的老人不会看手机；另外，营业厅能否设一个老年人专用窗口"
    assert other_request_in_story(story, None, None) == []
    assert other_request_in_story("投诉抄表员；现在又没电了 赶紧派人来修", None, None)[-1]["name"] == "fault_form"


@pytest.mark.parametrize("text, scam", [
    ("收到个短信说我家电表要换新的 让我点链接预约 这是不是骗子啊", True),
    ("收到短信说明天停电 是真的吗", False),
    ("电费短信里有个链接 能不能点", True),
    ("电费怎么在网上国网上交", False),
])
def test_a_meter_or_bill_message_with_a_link_doubted_is_a_scam_check(text, scam):
    """bk-mixed-001: an SMS about a meter replacement with a link, "这是不是骗子啊", was filed as a
    tip-off (no name of the utility in it), and the fraud warning never came."""
    from actions.common import asks_if_genuine

    assert asks_if_genuine(text) is scam, text


@pytest.mark.asyncio
async def test_asking_to_move_a_planned_outage_just_told_files_no_suggestion(actions_gateway):
    """bg-mixed-001 (with the new model): "停一整天冷库扛不住 能不能晚点停" right after the planned
    outage was told (NLU: a suggestion) filed a suggestion."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "两个事 一个是听说大泉村要停电 哪天 几点到几点 二是查下我上个月电费"},
             {"event": "action", "name": "action_query_outage"},
             {"event": "bot", "text": "停电时间是12月11日（周五） 08:00至18:00，大约10小时。"}]
    tracker = make_tracker("停一整天冷库扛不住 能不能晚点停", intent="suggest", form="feedback_form",
                           prior_events=prior, slots={"outage_shown_for": "江苏省南京市六合区竹镇镇大泉村87号"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert followups(events) == ["action_query_outage"]
    assert slot_values(events)["feedback_type"] is None


@pytest.mark.asyncio
async def test_thanks_for_an_answer_in_a_form_filled_at_once_files_nothing(actions_gateway):
    """bj-bill-001 through the stack: the feedback form was filled from the one message (no
    validation turn) and filed the thanks as a praise."""
    from actions.feedback import ActionSubmitFeedback

    said = "明白了，天冷以后开了电暖器，用电多一些也在情理之中。谢谢您耐心解释。"
    tracker = make_tracker(said, intent="praise", slots={"feedback_type": "praise", "feedback_content": said,
                                                         "identity_verified": True, "account_no": "3201000003"})
    events, messages = await run_action(ActionSubmitFeedback(), tracker)
    assert followups(events) == ["action_wrap_up"]
    assert not any("已登记" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_the_arrears_check_opened_from_a_repair_survives_the_bill_forms_mapping(actions_gateway):
    """Tried in the widget: "哦对了 我上个月电费好像也没交 会不会是欠费停的" at a repair's phone question
    opened the arrears check, but the bill form's mapping (query_bill -> details) overwrote it in
    the same turn: the plain bill was shown, the satisfaction question asked and the repair dropped."""
    from actions.bills import ValidateBillForm

    prior = [
        {"event": "user", "text": "哦对了 我上个月电费好像也没交 会不会是欠费停的",
         "parse_data": {"intent": {"name": "query_bill", "confidence": 0.9}, "entities": []}},
        {"event": "slot", "name": "bill_query", "value": "details"},
        {"event": "action", "name": "fault_form"},
        {"event": "slot", "name": "bill_query", "value": "suspect_arrears"},
        {"event": "action", "name": "bill_form"},
        {"event": "active_loop", "name": "bill_form"},
        {"event": "slot", "name": "bill_query", "value": "details"},
        {"event": "slot", "name": "requested_slot", "value": "account_no"},
        {"event": "action", "name": "action_listen"},
    ]
    tracker = make_tracker("户号3201000022", intent="query_bill", form="bill_form", prior_events=prior,
                           slots={"bill_query": "details", "requested_slot": "account_no"},
                           candidates={"account_no": "3201000022"})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events)["bill_query"] == "suspect_arrears"
