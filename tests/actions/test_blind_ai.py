"""Kinds of failure the blind batches ai/aj/ak showed at first sight (dialogue side)."""
import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values, texts

# Demo customer 3201000012: 苏红霞, 迈皋桥路109号锦绣苑13栋1001室 (a landlady in ak-mixed-003).
VERIFIED = {"identity_verified": True, "account_no": "3201000012", "customer_name": "苏红霞",
            "customer_address": "江苏省南京市栖霞区迈皋桥路109号锦绣苑13栋1001室"}


def followups(events):
    return [e.get("name") for e in events if e.get("event") == "followup"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text, business", [
    ("那新租客住进来 电费户名能改成租客的名字吗", "name_transfer"),            # ak-mixed-003
    ("哦 那我们商铺用电有没有峰谷的 晚上用能不能便宜点", "tariff_change"),     # ai-bill-002
])
async def test_a_question_about_a_business_is_answered_and_offered_not_filed(actions_gateway, text, business):
    """A verified customer's question opened the application form, the account answered every
    question of it, and an application nobody asked for was filed at once."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker(text, intent="apply_service", form="application_form",
                           entities=[{"entity": "business_type", "value": business}],
                           candidates={"business_type": business}, slots=dict(VERIFIED))
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("offered_business") == business
    assert values.get("requested_slot") is None and values.get("business_type") is None
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert "utter_offer_application" in [m.get("response") for m in messages]


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["我想把户名改成租客的 帮我办一下", "能帮我把户名改成租客的吗"])
async def test_a_request_for_the_business_is_still_filed_at_once(actions_gateway, text):
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker(text, intent="apply_service", form="application_form",
                           entities=[{"entity": "business_type", "value": "name_transfer"}],
                           candidates={"business_type": "name_transfer"}, slots=dict(VERIFIED))
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert not values.get("offered_business")
    assert values.get("applicant_name") == "苏红霞" and "requested_slot" in values
    assert values["requested_slot"] is None  # all known: the form completes and files


@pytest.mark.asyncio
async def test_an_application_made_before_asked_about_is_a_progress_question(actions_gateway):
    """ak-progress-004: "我们上周五在营业厅办的过户 现在办好了吗" started a second name transfer
    (applicant "的过户")."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("你好 我们上周五在营业厅办的过户 现在办好了吗", intent="apply_service",
                           form="application_form", candidates={"business_type": "name_transfer"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert followups(events) == ["progress_form"]


@pytest.mark.parametrize("name", ["的过户", "确认", "是的"])
def test_words_of_the_conversation_are_not_an_applicant_name(name):
    from actions.applications import NOT_A_NAME

    assert NOT_A_NAME.search(name)


@pytest.mark.asyncio
async def test_no_second_offer_after_the_business_was_filed_under_its_longer_label(actions_gateway):
    """ak-application-003: filed as "增容/减容（非居民）", the offer "增容/减容" came again and a
    second application was filed with "确认" as the applicant."""
    from actions.faq import offer_application

    earlier = [{"event": "bot", "text": "您的增容/减容（非居民）申请已提交，工单号：YK20261205006。"}]
    tracker = make_tracker("增容要交押金吗 大概得花多少钱", intent="faq", prior_events=earlier)
    from tests.support.dialogue import RenderingDispatcher

    dispatcher = RenderingDispatcher(tracker)
    assert offer_application("fee_capacity_change", dispatcher, tracker) is None
    assert dispatcher.messages == []


@pytest.mark.asyncio
async def test_a_detail_put_right_during_a_tip_off_is_kept_not_a_cancel(actions_gateway):
    """ai-tip_off-001: "不是第三家 是第四家 门口停个三轮车的" at the anonymity question cancelled
    the tip-off ("已为您取消本次诉求登记")."""
    from actions.common import ActionCancelForm

    story = "有人偷电；尧新大道菜市场后面那排平房 第三家 从路灯杆上私拉了根线"
    tracker = make_tracker("不是第三家 是第四家 门口停个三轮车的", intent="deny", form="feedback_form",
                           slots={"feedback_type": "tip_off", "feedback_content": story,
                                  "requested_slot": "contact_phone"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    values = slot_values(events)
    assert values["feedback_content"].startswith(story) and "第四家" in values["feedback_content"]
    assert followups(events) == ["feedback_form"]
    assert [m.get("response") for m in messages] == ["utter_feedback_added"]


@pytest.mark.asyncio
async def test_a_plain_no_during_a_tip_off_still_cancels(actions_gateway):
    from actions.common import ActionCancelForm

    tracker = make_tracker("不用了 不举报了", intent="deny", form="feedback_form",
                           slots={"feedback_type": "tip_off", "feedback_content": "有人偷电",
                                  "requested_slot": "contact_phone"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert "feedback_content" not in slot_values(events) or slot_values(events)["feedback_content"] != "有人偷电；不用了 不举报了"
    assert any("取消" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_a_street_corrected_at_the_area_question_replaces_the_street(actions_gateway):
    """ai-hazard-001: a wire down on "龙蟠路", then "不对 是龙蟠中路 靠近大光路那个路口" at the area
    question: the crew was sent to 龙蟠路."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("不对 是龙蟠中路 靠近大光路那个路口", intent="inform", form="fault_form",
                           slots={"requested_slot": "repair_area_type", "address": "龙蟠路",
                                  "fault_description": "龙蟠路上有根电线掉地上了 还在冒火", "hazard": True})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["address"].startswith("龙蟠中路") and "大光路" in values["address"]
    assert values["requested_slot"] == "repair_area_type"


@pytest.mark.asyncio
async def test_a_complaint_with_an_account_and_another_phone_is_linked_to_the_account(actions_gateway):
    """aj-complaint-002: "户号3201000031 电话13761094036" at the phone question; the complaint was
    filed on the phone with no account."""
    from sqlalchemy import select

    from actions.feedback import ActionSubmitFeedback, ValidateFeedbackForm
    from bot.store import STORE
    from bot.store.models import Ticket

    tracker = make_tracker("户号3201000031 电话13761094036", intent="inform", form="feedback_form",
                           entities=[{"entity": "account_no", "value": "3201000031"}],
                           candidates={"account_no": "3201000031"},
                           slots={"feedback_type": "complaint", "requested_slot": "contact_phone",
                                  "feedback_content": "我要投诉你们的接线员 态度差得很"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    values = {**tracker.slots, **slot_values(events)}
    assert values["contact_phone"] == "13761094036"
    await run_action(ActionSubmitFeedback(), make_tracker("", slots={**values, "requested_slot": None},
                                                          sender_id="conv-complaint-account"))
    with actions_gateway.app[STORE].session() as session:
        stored = session.execute(select(Ticket).where(Ticket.conversation_id == "conv-complaint-account")).scalars().one()
    assert stored.account_no == "3201000031" and stored.contact_phone == "13761094036"


@pytest.mark.asyncio
async def test_an_anonymous_tip_off_is_never_linked_to_an_account(actions_gateway):
    from sqlalchemy import select

    from actions.feedback import NO_CONTACT, ActionSubmitFeedback
    from bot.store import STORE
    from bot.store.models import Ticket

    slots = {"feedback_type": "tip_off", "feedback_content": "有人从路灯杆上私拉电线", "contact_phone": NO_CONTACT,
             "account_no": "3201000031", "requested_slot": None}
    await run_action(ActionSubmitFeedback(), make_tracker("匿名", slots=slots, sender_id="conv-anonymous-tip"))
    with actions_gateway.app[STORE].session() as session:
        stored = session.execute(select(Ticket).where(Ticket.conversation_id == "conv-anonymous-tip")).scalars().one()
    assert stored.account_no is None


@pytest.mark.asyncio
async def test_a_demand_on_how_a_filed_complaint_is_handled_goes_onto_it(actions_gateway):
    """ak-complaint-001: "希望三天内给个明确答复 必须有人联系我" right after the complaint was filed
    opened a suggestion ticket of its own."""
    from sqlalchemy import func, select

    from actions.feedback import ActionSubmitFeedback
    from bot.store import STORE
    from bot.store.models import Ticket

    filed = {"feedback_type": "complaint", "feedback_content": "增容申请一个月没人来勘查 一天天拖着",
             "contact_phone": "18793805895", "requested_slot": None}
    events, messages = await run_action(ActionSubmitFeedback(), make_tracker(
        "18793805895", slots=filed, sender_id="conv-demand"))
    complaint = {"ticket_no": slot_values(events)["last_ticket_no"]}
    earlier = [{"event": "bot", "text": text} for text in texts(messages)]
    slots = {"feedback_type": "suggestion", "feedback_content": "希望三天内给个明确答复 必须有人联系我",
             "contact_phone": "18793805895", "requested_slot": None}
    events, messages = await run_action(ActionSubmitFeedback(), make_tracker(
        "希望三天内给个明确答复 必须有人联系我", slots=slots, sender_id="conv-demand", prior_events=earlier))
    with actions_gateway.app[STORE].session() as session:
        count = session.execute(select(func.count()).select_from(Ticket)
                                .where(Ticket.conversation_id == "conv-demand")).scalar()
    assert count == 1
    assert complaint["ticket_no"] in " ".join(texts(messages))


@pytest.mark.asyncio
async def test_when_the_work_is_done_right_after_the_progress_tells_every_step(actions_gateway):
    """ak-progress-001: "那大概还要几天能来装表" right after the charger application's progress was
    shown: the outage lookup ran and a second charger application was filed."""
    from actions.applications import ActionSubmitApplication, ValidateApplicationForm
    from actions.progress import ValidateProgressForm

    slots = {"business_type": "ev_charger", "applicant_name": "彭振华", "contact_phone": "13754778153",
             "address": "江苏省南京市建邺区江东中路150号梅园新村21栋803室", "requested_slot": None}
    events, _ = await run_action(ActionSubmitApplication(), make_tracker(slots=slots, sender_id="conv-when"))
    ticket_no = slot_values(events)["last_ticket_no"]
    shown = [{"event": "user", "text": "我上周申请的充电桩到哪一步了"},
             {"event": "bot", "text": f"您名下有 1 张正在办理的工单：\n\n工单 {ticket_no}（业务办理）",
              "metadata": {"utter_action": "utter_open_tickets"}}]
    for validation, intent in ((ValidateProgressForm(), "query_progress"), (ValidateApplicationForm(), "apply_service")):
        form = "progress_form" if intent == "query_progress" else "application_form"
        tracker = make_tracker("那大概还要几天能来装表", intent=intent, form=form, prior_events=shown,
                               slots={"identity_verified": True, "verified_account_no": "3201000004"})
        events, messages = await run_action(validation, tracker)
        assert [m.get("response") for m in messages] == ["utter_ticket_milestones"]
        assert ticket_no in messages[0]["text"] and "装表接电" in messages[0]["text"]
        assert followups(events) == ["action_listen"]


@pytest.mark.asyncio
async def test_a_when_question_with_no_progress_just_shown_is_not_answered_with_milestones(actions_gateway):
    from actions.progress import tell_when_after_progress
    from tests.support.dialogue import RenderingDispatcher

    tracker = make_tracker("那大概还要几天能来装表", intent="query_progress")
    dispatcher = RenderingDispatcher(tracker)
    assert await tell_when_after_progress(dispatcher, tracker) is False and dispatcher.messages == []


@pytest.mark.parametrize("text, angry", [
    ("我家灯一闪一闪的 咋回事啊", False),      # a question about the fault
    ("你们怎么回事啊 一个礼拜停三回", True),
    ("到底怎么回事 还修不修了", True),
])
def test_asking_what_is_going_on_is_not_anger_unless_it_is_at_us(text, angry):
    from actions.common import is_angry
    from nlu_components.normaliser import normalise

    assert is_angry(normalise(text)[0]) is angry


@pytest.mark.parametrize("text, address", [
    ("那行 先帮我登记申请 地址横溪大街45号", "横溪大街45号"),        # ak-application-003: stored whole
    ("好的 帮我报修 地址在中山路18号 3栋 502室", "中山路18号 3栋 502室"),
])
def test_what_follows_the_word_address_is_the_address(text, address):
    from actions.applications import address_in_text

    assert address_in_text(text) == address


@pytest.mark.asyncio
async def test_boiling_water_told_with_a_bill_question_is_no_fault(actions_gateway):
    """al-bill-001: "…这个月电费比平常多了一倍 家里就开个电视烧个水" (a son asking for his father's
    bill) went to a repair of the father's house: 烧 was read as something burnt."""
    from actions.bills import ValidateBillForm

    tracker = make_tracker("你好 我帮我爸查一下电费 他说这个月电费比平常多了一倍 家里就开个电视烧个水",
                           intent="query_bill", form="bill_form")
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert "fault_form" not in followups(events)

    tracker = make_tracker("查下电费 顺便说一下插座烧了", intent="query_bill", form="bill_form")
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert followups(events) == ["fault_form"]   # something burnt is still a fault


async def _open_callback(conversation_id):
    from actions import api_client

    return await api_client.create_ticket({"type": "callback", "summary": "回电：客户要求转人工，非服务时间",
                                           "channel": "web", "conversation_id": conversation_id,
                                           "request_key": f"callback:{conversation_id}"})


@pytest.mark.asyncio
async def test_no_more_person_wanted_inside_a_repair_withdraws_the_callback_and_goes_on(actions_gateway):
    """am-mixed-009: "算了 不转了 人工也是问这些 你直接派人来吧" after the closed desk opened a
    callback at the repair's phone question: the callback stayed, the repair was never filed."""
    from actions import api_client
    from actions.handoff import ActionHandoff

    callback = await _open_callback("conv-withdraw-repair")
    tracker = make_tracker("算了 不转了 人工也是问这些 你直接派人来吧", intent="request_human", form="fault_form",
                           sender_id="conv-withdraw-repair",
                           slots={"requested_slot": "contact_phone", "address": "玄武区珠江路130号金陵小区11栋2603室",
                                  "fault_description": "我家灯一直在闪"})
    events, messages = await run_action(ActionHandoff(), tracker)
    assert (await api_client.get_ticket(callback["ticket_no"]))["status"] == "cancelled"
    assert [m.get("response") for m in messages] == ["utter_ticket_withdrawn_then"]
    assert followups(events) == ["fault_form"] and slot_values(events)["requested_slot"] == "contact_phone"


@pytest.mark.asyncio
async def test_no_more_person_wanted_with_nothing_else_withdraws_and_asks_what_else(actions_gateway):
    from actions import api_client
    from actions.handoff import ActionHandoff

    callback = await _open_callback("conv-withdraw-plain")
    tracker = make_tracker("不用转人工了", intent="request_human", sender_id="conv-withdraw-plain")
    events, messages = await run_action(ActionHandoff(), tracker)
    assert (await api_client.get_ticket(callback["ticket_no"]))["status"] == "cancelled"
    assert [m.get("response") for m in messages] == ["utter_ticket_withdrawn"]
    assert callback["ticket_no"] in messages[0]["text"]


@pytest.mark.asyncio
async def test_an_outage_over_already_is_told_of_not_repaired(actions_gateway):
    """am-mixed-007: "…刚才是不是又停电了 停了半个钟头才来": a crew was sent to a tea house that
    had its power back."""
    from actions.faults import ActionQueryOutage

    tracker = make_tracker("你们江东中路万达B座这块刚才是不是又停电了 停了半个钟头才来", intent="query_outage",
                           slots={"address": "建邺区江东中路88号万达广场B座"})
    events, messages = await run_action(ActionQueryOutage(), tracker)
    assert "fault_form" not in followups(events)
    assert "utter_no_outage_repair" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_another_matter_of_another_kind_told_while_the_first_was_taken_is_its_own_ticket(actions_gateway):
    """am-mixed-005: a suggestion (the hall's evening hours), then at its phone question "对了还有个事
    …那个师傅人蛮好的…想表扬一下他": the praise was merged into the suggestion."""
    from sqlalchemy import select

    from actions.feedback import ActionSubmitFeedback
    from bot.store import STORE
    from bot.store.models import Ticket

    story = ("提个意见哈 你们营业厅能不能晚上开晚一点 我们开店的白天根本走不开；"
             "对了还有个事 上周来我店里换电表的那个师傅人蛮好的 想表扬一下他；他姓王 好像是鼓楼那边供电所的")
    slots = {"feedback_type": "suggestion", "feedback_content": story, "contact_phone": "13991823420",
             "requested_slot": None}
    _, messages = await run_action(ActionSubmitFeedback(), make_tracker("13991823420", slots=slots,
                                                                         sender_id="conv-two-kinds"))
    with actions_gateway.app[STORE].session() as session:
        tickets = session.execute(select(Ticket).where(Ticket.conversation_id == "conv-two-kinds")
                                  .order_by(Ticket.id)).scalars().all()
        kinds = [(t.type, t.details["content"]) for t in tickets]
    assert [k for k, _ in kinds] == ["suggestion", "praise"]
    assert "表扬" not in kinds[0][1] and "姓王" in kinds[1][1]
    assert sum(t.ticket_no in " ".join(texts(messages)) for t in tickets) == 2


def test_more_of_the_same_matter_stays_one_story():
    from actions.feedback import another_kind_in_story

    story = "我要投诉抄表员；他上周来骂人了；另外他还收了钱"
    assert another_kind_in_story(story, "complaint") == (story, None)


@pytest.mark.asyncio
async def test_more_about_the_fault_right_after_its_repair_was_filed_is_noted_on_it(actions_gateway):
    """al-repair-002: "是的 就是晚上七八点钟最厉害" right after a low-voltage repair was filed
    started a second repair form asking the address again."""
    from actions import api_client
    from actions.faults import ActionSubmitFault, ValidateFaultForm

    slots = {"address": "溧水晶桥镇枫香岭村25号", "fault_description": "晚上电压低 空调开不起来",
             "contact_phone": "19946417513", "repair_area_type": "remote"}
    _, filed = await run_action(ActionSubmitFault(), make_tracker("19946417513", slots=slots, sender_id="conv-detail"))
    ticket_no = next(t for t in texts(filed) if "工单号" in t).split("工单号：")[1][:13]
    earlier = [{"event": "user", "text": "19946417513"}] + [{"event": "bot", "text": t} for t in texts(filed)]
    tracker = make_tracker("是的 就是晚上七八点钟最厉害", intent="report_fault", form="fault_form",
                           prior_events=earlier, sender_id="conv-detail")
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_ticket_note_added"] and ticket_no in messages[0]["text"]
    assert followups(events) == ["action_listen"]
    ticket = await api_client.get_ticket(ticket_no)
    assert "七八点钟" in str(ticket)

    another = make_tracker("楼下邻居家也没电了", intent="report_fault", form="fault_form",
                           prior_events=earlier, sender_id="conv-detail")
    events, messages = await run_action(ValidateFaultForm(), another)
    assert "utter_ticket_note_added" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_a_flickering_light_after_an_offer_is_a_fault_not_the_offered_application(actions_gateway):
    """Found trying it as a user: the tariff change offered after a peak/valley answer, then
    "家里灯一闪一闪的 咋回事啊 中华路66号2栋302" opened that application, and the phone next filed it."""
    from actions.faults import ValidateFaultForm

    offer = [{"event": "bot", "text": "需要的话，我现在就可以帮您在线提交电价变更申请。"},
             {"event": "slot", "name": "offered_business", "value": "tariff_change"}]
    tracker = make_tracker("家里灯一闪一闪的 咋回事啊 中华路66号2栋302", intent="report_fault", form="fault_form",
                           prior_events=offer, slots={"offered_business": "tariff_change"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert "application_form" not in followups(events)
