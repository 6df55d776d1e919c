"""Kinds of failure the blind batches an (winter heating) and ao (WeChat traffic) showed at first sight."""
import pytest
from sqlalchemy import select

from tests.support.dialogue import make_tracker, praise_just_filed, run_action, slot_values, texts


def followups(events):
    return [e.get("name") for e in events if e.get("event") == "followup"]


def responses(messages):
    return [m.get("response") for m in messages]


NO_OUTAGE_ANSWER = [
    {"event": "action", "name": "action_query_outage"},
    {"event": "bot", "text": "暂未查到该地址附近有计划停电或故障停电。如果您家已经没电…",
     "data": {"buttons": [{"title": "我要报修", "payload": "/report_fault"}]}},
]


@pytest.mark.asyncio
async def test_an_address_after_a_bill_then_an_outage_answer_is_looked_at_for_outages(actions_gateway):
    """ao-mixed-001: "查下这个月电费 顺便问下我们小区明天停不停电", the identity answers, the bill,
    "none found" for the account's address; then the estate's address: a repair was started and
    "好的 谢谢啦" filed it."""
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": "帮我查下这个月电费多少 顺便问下我们小区明天停不停电 要给宝宝用温奶器"},
             {"event": "user", "text": "3201000006"}, {"event": "user", "text": "尾号3025"}, *NO_OUTAGE_ANSWER]
    tracker = make_tracker("雨花台区宁丹路122号翠竹园", intent="inform", prior_events=prior,
                           entities=[{"entity": "address", "value": "雨花台区宁丹路122号翠竹园"}])
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert followups(events) == ["outage_form"]

    # Power gone, told earlier: the address is for the repair offered.
    told = [{"event": "user", "text": "我家没电了 是不是停电了"}, *NO_OUTAGE_ANSWER]
    tracker = make_tracker("雨花台区宁丹路122号翠竹园", intent="inform", prior_events=told,
                           entities=[{"entity": "address", "value": "雨花台区宁丹路122号翠竹园"}])
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert followups(events) == ["fault_form"]


@pytest.mark.parametrize("text", ["好的 谢谢啦", "嗯嗯 收到", "ok 多谢", "好滴", "谢谢你们 辛苦了"])
def test_thanks_and_acknowledgements_are_no_description(text):
    from actions.common import non_value_kind

    tracker = make_tracker(text, intent="thank", form="fault_form", slots={"requested_slot": "fault_description"})
    assert non_value_kind(tracker, "fault_description") == "courtesy"
    assert non_value_kind(make_tracker(text, intent="thank", form="feedback_form",
                                       slots={"requested_slot": "feedback_content"}), "feedback_content") == "courtesy"


@pytest.mark.parametrize("text", ["好的 家里全黑了", "谢谢 就是空开推不上去", "好像是电表那里冒火花"])
def test_a_description_after_a_courtesy_word_is_the_description(text):
    from actions.common import non_value_kind

    tracker = make_tracker(text, intent="report_fault", form="fault_form", slots={"requested_slot": "fault_description"})
    assert non_value_kind(tracker, "fault_description") is None


@pytest.mark.asyncio
async def test_thanks_at_the_description_question_files_nothing(actions_gateway):
    from actions.faults import ValidateFaultForm

    slots = {"requested_slot": "fault_description", "address": "雨花台区宁丹路122号翠竹园",
             "repair_area_type": "urban", "address_checked": "雨花台区宁丹路122号翠竹园", "identity_verified": True}
    tracker = make_tracker("好的 谢谢啦", intent="thank", form="fault_form", slots=slots)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert not values.get("fault_description")
    assert values.get("requested_slot") == "fault_description"
    assert any("故障情况" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_arrears_just_paid_and_nothing_owed_is_a_reconnection_not_a_repair(actions_gateway):
    """an-arrears_reconnect-002: "邻居说是欠费停的 我在外地刚给她交了三百块 多久能送电"; the account
    owed nothing any more (the payment had arrived), so the bot said the cut was no arrears and
    sent a crew."""
    from rasa_sdk.executor import CollectingDispatcher

    from actions.bills import ActionQueryBill
    from actions.faq import ActionAnswerFaq
    from actions.faults import arrears_check_first
    from bot.store import STORE
    from bot.store.models import Bill

    account_no = "3201000024"
    with actions_gateway.app[STORE].session() as session:
        statuses = session.execute(select(Bill.status).where(Bill.account_no == account_no)).scalars().all()
    assert statuses and not {"unpaid", "overdue"} & set(statuses), "the demo account owes nothing"
    verified = {"identity_verified": True, "account_no": account_no, "verified_account_no": account_no}

    async def checked(opening):
        """The arrears check started by the opening, what it leads to, then the bill action."""
        dispatcher = CollectingDispatcher()
        started = arrears_check_first(dispatcher, make_tracker(opening, intent="query_outage", slots=verified))
        if followups(started) == ["action_answer_faq"]:
            answered, faq_messages = await run_action(ActionAnswerFaq(), make_tracker(
                opening, intent="query_outage", slots=verified))
            started += answered
            dispatcher.messages.extend(faq_messages)
        slots = {**verified, **slot_values(started), "paused_form": "fault_form"}
        events, messages = await run_action(ActionQueryBill(), make_tracker(
            "尾号7728", intent="inform", slots=slots, prior_events=[{"event": "user", "text": opening}]))
        return responses(dispatcher.messages) + responses(messages), events

    said, events = await checked("我妈家没电了 邻居说是欠费停的 我在外地刚给她交了三百块 多久能送电")
    assert "fault_form" not in followups(events)
    assert "utter_reconnection_paid_wait" in said and "utter_no_arrears_repair" not in said
    assert "utter_arrears_check" not in said
    assert slot_values(events).get("paused_form", "kept") is None  # the repair paused for the check ends

    # Without a payment told, nothing owed means the cut is a fault: the repair goes on.
    said, events = await checked("我家没电了 邻居都有电 是不是欠费给我停了")
    assert followups(events) == ["fault_form"]
    assert "utter_no_arrears_repair" in said


VERIFIED_TEA_HOUSE = {"identity_verified": True, "account_no": "3201000031", "verified_account_no": "3201000031",
                      "customer_name": "苏秀英", "customer_address": "江苏省南京市建邺区江东中路88号万达广场B座",
                      "customer_type": "commercial"}


@pytest.mark.asyncio
async def test_a_remark_heard_as_an_application_is_offered_not_filed(actions_gateway):
    """an-bill-003: "那就是说暖风机白天开太多了呗" after a time-of-use bill, heard as an application,
    filed a tariff change for the verified tea house at once."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("那就是说暖风机白天开太多了呗", intent="apply_service", form="application_form",
                           slots={**VERIFIED_TEA_HOUSE, "business_type": "tariff_change"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("offered_business") == "tariff_change" and values.get("business_type") is None
    assert "utter_offer_application" in responses(messages)

    # Asked for in words, it is filed as before (every question answered by the account).
    tracker = make_tracker("那帮我改成峰谷电吧", intent="apply_service", form="application_form",
                           slots={**VERIFIED_TEA_HOUSE, "business_type": "tariff_change"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert not values.get("offered_business") and values.get("requested_slot", "asked") is None


@pytest.mark.asyncio
async def test_a_name_with_the_account_keeps_the_name_and_takes_the_premises(actions_gateway):
    """an-application-002: "户号3201000033 我叫叶俊杰" at the name question of a capacity increase:
    the address of the restaurant the account supplies was asked for again and again."""
    from actions.applications import REGISTERED, ValidateApplicationForm

    tracker = make_tracker("户号3201000033 我叫叶俊杰", intent="inform", form="application_form",
                           entities=[{"entity": "account_no", "value": "3201000033"}],
                           slots={"business_type": "capacity_change", "requested_slot": "applicant_name"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("applicant_name") == "叶俊杰"
    assert values.get("address") == REGISTERED and values.get("contact_phone") == REGISTERED
    assert values.get("account_no") == "3201000033"
    assert "utter_account_registered_premises" in responses(messages)


@pytest.mark.asyncio
async def test_an_urge_after_the_reconnection_promise_is_answered_not_filed(actions_gateway):
    """an-arrears_reconnect-002: "她一个人在家 晚上没电暖气冷得很 能不能快点" right after "paid: power
    returns within 24 hours" was heard as a suggestion and filed as one."""
    from actions.feedback import ValidateFeedbackForm

    promised = [{"event": "user", "text": "尾号7728"},
                {"event": "bot", "text": "核对过了，电费已缴清（最近一次缴费：2026年12月4日）。缴清后24小时内会恢复供电，多数电表会自动合闸复电。"}]
    tracker = make_tracker("她一个人在家 晚上没电暖气冷得很 能不能快点", intent="suggest", form="feedback_form",
                           candidates={"feedback_type": "suggestion"}, prior_events=promised)
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert responses(messages) == ["utter_urged_reconnection"]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert "95598" in texts(messages)[0]

    # A suggestion in so many words after the same answer is a suggestion.
    tracker = make_tracker("建议你们复电能快点 别让人等一天", intent="suggest", form="feedback_form",
                           candidates={"feedback_type": "suggestion"}, prior_events=promised)
    _, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert "utter_urged_reconnection" not in responses(messages)


@pytest.mark.parametrize("text, paid", [
    ("俺家电叫停了 说是欠费 钱都交到村里代收点了 咋还没电嘞", True),   # ap-arrears_reconnect-002
    ("欠费停电了 钱缴给收费员了 啥时候来电", True),
    ("欠费停电了 钱要交到哪里 多久能来电", False),                           # where to pay, not paid
    ("欠费停了 钱还没交到位 咋办", False),
])
def test_paid_somewhere_is_a_payment(text, paid):
    from actions.bills import wants_reconnection

    assert wants_reconnection(text) is paid


@pytest.mark.asyncio
async def test_the_staff_praised_described_right_after_is_noted_on_the_praise(actions_gateway):
    """ap-praise-001: "一个姓陈的师傅 还有一个年轻的不晓得叫啥" right after the praise was filed
    (heard as a complaint) was filed as a complaint: "还有" stood for another matter."""
    from actions import api_client
    from actions.common import add_to_just_filed

    conversation, ticket_no, filed = await praise_just_filed("雨夜抢修的两位师傅", "溧水区白马镇曹家桥村93号")
    from rasa_sdk.executor import CollectingDispatcher

    for text, noted in [("一个姓陈的师傅 还有一个年轻的不晓得叫啥", True), ("还有个事 我家电表走得特别快", False)]:
        tracker = make_tracker(text, intent="complain", sender_id=conversation, prior_events=filed)
        dispatcher = CollectingDispatcher()
        events = await add_to_just_filed(dispatcher, tracker)
        assert (events is not None) is noted, text
        if noted:
            assert [m.get("response") for m in dispatcher.messages] == ["utter_ticket_note_added"]
    ticket = await api_client.get_ticket(ticket_no)
    assert "姓陈的师傅" in str(ticket) and "电表走得特别快" not in str(ticket)


@pytest.mark.asyncio
async def test_the_customers_own_reason_for_the_usage_after_a_bill_sends_no_crew(actions_gateway):
    """ao-bill-003 (trying the final model on the dev batches): "ok 大概知道了 可能是空调开太猛了" right
    after the bill, heard as a fault, filed a repair at the tenant's address with no question asked."""
    from actions.faults import ValidateFaultForm

    shown = [{"event": "user", "text": "那这个月一共用了多少度 峰谷各多少"},
             {"event": "bot", "text": "2026年11月电费账单（户号尾号0038）：\n· 用电量：333 度"}]
    slots = {"identity_verified": True, "account_no": "3201000038", "verified_account_no": "3201000038",
             "customer_address": "江苏省南京市玄武区珠江路201号金陵小区3栋702室"}
    tracker = make_tracker("ok 大概知道了 可能是空调开太猛了", intent="report_fault", form="fault_form",
                           slots=slots, prior_events=shown)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert responses(messages) == ["utter_anything_else"]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)

    # A fault told after the bill is a fault: the form goes on.
    tracker = make_tracker("可能是空调开太猛了 现在一开就跳闸", intent="report_fault", form="fault_form",
                           slots=slots, prior_events=shown)
    _, messages = await run_action(ValidateFaultForm(), tracker)
    assert "utter_anything_else" not in responses(messages)
