"""Kinds of failure the blind batches ad/ae/af showed at first sight (dialogue side)."""
import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values, texts

# Demo customer 3201000004: 彭振华, 江东中路150号梅园新村21栋803室, urban.
ACCOUNT = "3201000004"
ACCOUNT_ADDRESS = "江苏省南京市建邺区江东中路150号梅园新村21栋803室"


@pytest.mark.asyncio
async def test_an_account_given_for_its_own_premises_answers_who_applies_and_where(actions_gateway):
    """af-application-001: "户号3201000004" at the name question of a charger application, then the
    phone; the name and the address were asked again and again and nothing was filed."""
    from actions.applications import REGISTERED, ValidateApplicationForm

    tracker = make_tracker("户号3201000004", intent="inform", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "ev_charger",
                                  "documents_shown_for": "ev_charger"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["applicant_name"] == REGISTERED and values["address"] == REGISTERED
    assert values["contact_phone"] == REGISTERED and values["account_no"] == ACCOUNT
    assert [m.get("response") for m in messages] == ["utter_account_registered_premises"]
    assert "江东中路" not in " ".join(texts(messages))  # nothing of the account shown before proof


@pytest.mark.asyncio
async def test_a_new_connection_still_asks_where_the_new_supply_goes(actions_gateway):
    from actions.applications import REGISTERED, ValidateApplicationForm

    tracker = make_tracker("户号3201000004", intent="inform", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "new_connection",
                                  "documents_shown_for": "new_connection"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("address") in (None, "") and values.get("applicant_name") != REGISTERED
    assert values["contact_phone"] == REGISTERED


@pytest.mark.asyncio
async def test_an_application_at_the_registered_premises_is_filed_with_its_address_and_area(actions_gateway):
    from actions import api_client
    from actions.applications import REGISTERED, ActionSubmitApplication

    slots = {"business_type": "ev_charger", "account_no": ACCOUNT, "applicant_name": REGISTERED,
             "address": REGISTERED, "contact_phone": REGISTERED, "requested_slot": None}
    events, messages = await run_action(ActionSubmitApplication(), make_tracker(slots=slots, sender_id="conv-premises"))
    ticket_no = slot_values(events)["last_ticket_no"]
    stored = await api_client.get_ticket(ticket_no)
    assert stored["details"]["address"] == ACCOUNT_ADDRESS and stored["area_type"] == "urban"
    assert stored["account_no"] == ACCOUNT and stored["business_type"] == "ev_charger"
    shown = next(t for t in texts(messages) if "登记的申请人" in t)
    assert "户号尾号0004的登记地址" in shown and "江东中路" not in shown


@pytest.mark.parametrize("text, business", [
    ("我在村里承包了八十亩地 要装抽水泵灌溉 想新拉一路电", "new_connection"),   # af-application-002
    ("工地要单独拉一路电 临时用几个月", "new_connection"),
    ("家里一开空调就跳闸", None),                                             # no business at all
])
def test_a_new_supply_line_asked_for_is_a_new_connection(text, business):
    from actions.applications import business_from_text

    assert business_from_text(text) == business


@pytest.mark.asyncio
async def test_a_phone_at_the_ticket_number_question_offers_the_lookup_by_account(actions_gateway):
    """ad-progress-002: "报修的时候留的电话是13951728806" at the ticket-number question opened a
    second repair ("好的，那先为您登记故障报修")."""
    from actions.progress import ValidateProgressForm

    tracker = make_tracker("报修的时候留的电话是13951728806", intent="inform", form="progress_form",
                           slots={"requested_slot": "ticket_no"})
    events, messages = await run_action(ValidateProgressForm(), tracker)
    values = slot_values(events)
    assert values.get("progress_by_account") is True and values["requested_slot"] == "account_no"
    assert [m.get("response") for m in messages] == ["utter_progress_by_account_not_phone"]
    assert not any(e.get("event") == "followup" and e.get("name") == "fault_form" for e in events)


def test_the_repair_told_of_is_no_new_repair_request():
    from actions.common import SEND_A_CREW

    assert not SEND_A_CREW.search("报修的时候留的电话是13951728806")
    assert not SEND_A_CREW.search("报修时留的是我儿子的号")
    assert SEND_A_CREW.search("你们再派人来看看") and SEND_A_CREW.search("我要报修")


@pytest.mark.parametrize("text, fragments", [
    ("我们这一层好几家都这样", False),   # ag-repair-002: appended to the address as its rest
    ("整栋楼都没电", False),
    ("7栋 三楼 301", True),
    ("是86号 6栋1102", True),
])
def test_how_far_a_fault_reaches_is_no_part_of_the_address(text, fragments):
    from actions.common import only_fragments

    assert only_fragments(text) is fragments


def test_what_the_house_is_like_is_no_part_of_the_address():
    from actions.common import only_fragments

    assert not only_fragments("自己家的屋顶 两层楼")   # ah-application-003: it cleared the address
    assert only_fragments("三楼 301")


@pytest.mark.asyncio
async def test_an_address_after_an_outage_answer_is_looked_at_for_outages_not_repaired(actions_gateway):
    """ag-outage-002: a planned-outage question answered "none; if you have no power, a repair?",
    then the exact address: a crew was sent."""
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": "想问下雄州南路这一片下周有没有计划停电"},
             {"event": "bot", "text": "暂未查到该地址附近有计划停电或故障停电。如果您家已经没电…",
              "data": {"buttons": [{"title": "我要报修", "payload": "/report_fault"}]}}]
    for said, entity in [("六合区龙池街道雄州南路162号", "address"), ("户号3201000035", "account_no")]:
        value = said.replace("户号", "")
        tracker = make_tracker(said, intent="inform", prior_events=prior, entities=[{"entity": entity, "value": value}])
        events, _ = await run_action(ActionAnswerBareDetail(), tracker)
        assert [e.get("name") for e in events if e.get("event") == "followup"] == ["outage_form"], said
    told = [{"event": "user", "text": "我家没电了 是不是停电了"}, *prior[1:]]
    tracker = make_tracker("六合区龙池街道雄州南路162号", intent="inform", prior_events=told,
                           entities=[{"entity": "address", "value": "六合区龙池街道雄州南路162号"}])
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["fault_form"]  # no power: the repair


@pytest.mark.asyncio
async def test_more_said_of_the_staff_just_praised_goes_onto_the_praise(actions_gateway):
    """ad-praise-001: "名字不晓得 就晓得一个姓周 还有一个蛮年轻的" right after the praise was filed
    opened a second praise."""
    import uuid

    from actions import api_client
    from actions.common import ANOTHER_MATTER
    from actions.feedback import ActionSubmitFeedback

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    earlier = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "praise", "summary": "表扬：冒雨抢修的两位师傅",
        "channel": "web", "conversation_id": conversation, "details": {"content": "冒雨抢修的两位师傅"}})
    content = "名字不晓得 就晓得一个姓周 还有一个蛮年轻的"
    tracker = make_tracker(content, intent="praise", sender_id=conversation,
                           prior_events=[{"event": "bot", "text": f"您的表扬已登记，编号：{earlier['ticket_no']}。"}],
                           slots={"feedback_type": "praise", "feedback_content": content, "contact_phone": "15996310087"})
    events, messages = await run_action(ActionSubmitFeedback(), tracker)
    assert slot_values(events).get("last_ticket_no") == earlier["ticket_no"]
    assert messages[0].get("response") == "utter_feedback_added_to_earlier"
    assert not ANOTHER_MATTER.search(content) and ANOTHER_MATTER.search("还有个事我要投诉")


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["就我家 隔壁有电的", "只有我们家没电 邻居都有电"])
async def test_how_far_the_fault_reaches_at_the_phone_question_is_noted_not_an_unknown_question(actions_gateway, text):
    """Tried as a user: "就我家 隔壁有电的" at the repair's phone question got "这个问题我这里答不上来"."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(text, intent="report_fault", form="fault_form",
                           slots={"requested_slot": "contact_phone", "address": "石塘村45号",
                                  "address_checked": "石塘村45号"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_story_noted"]
    assert slot_values(events).get("fault_description") == text

