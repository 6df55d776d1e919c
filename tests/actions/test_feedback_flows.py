"""Complaints, tip-offs, suggestions and praise as customers actually give them (issue 15):
the account's registered phone, more of the story while a phone is asked, filed without a confirmation round."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.feedback import ActionSubmitFeedback, ValidateFeedbackForm
from bot.store.models import Ticket
from tests.support.dialogue import make_tracker, run_action, slot_values, texts
from bot.store import STORE


def last_ticket(app) -> Ticket:
    with app[STORE].session() as session:
        return session.execute(select(Ticket).order_by(Ticket.id.desc())).scalars().first()


def at_contact(text, intent="inform", **slots):
    base = {"feedback_type": "complaint", "feedback_content": "这个月停了四五回了 冰箱里东西都臭了",
            "requested_slot": "contact_phone"}
    return make_tracker(text, intent=intent, form="feedback_form", slots={**base, **slots})


@pytest.mark.asyncio
async def test_complaint_contact_is_the_verified_accounts_registered_phone(actions_gateway):
    # The 户号 alone: the complaint desk calls the account's registered phone (never shown).
    events, messages = await run_action(ValidateFeedbackForm(), at_contact("户号3201000024"))
    values = slot_values(events)
    assert values["account_no"] == "3201000024" and values.get("contact_phone") == "registered"
    assert "15040267728" not in "".join(texts(messages)) and "登记的手机号" in texts(messages)[0]
    slots = {"feedback_type": "complaint", "feedback_content": "这个月停了四五回了", "contact_phone": "registered",
             "confirm": True, "account_no": "3201000024"}
    await run_action(ActionSubmitFeedback(), make_tracker("好", slots=slots, sender_id="unverified-registered"))
    stored = last_ticket(actions_gateway.app)
    assert stored.account_no == "3201000024" and stored.contact_phone == "15040267728"
    # A 户号 that does not exist is no contact.
    events, _ = await run_action(ValidateFeedbackForm(), at_contact("户号3209999999"))
    assert slot_values(events).get("contact_phone") is None

    events, messages = await run_action(ValidateFeedbackForm(), at_contact("尾号7728", account_no="3201000024"))
    values = slot_values(events)
    assert values["identity_verified"] is True and values.get("contact_phone") in ("registered", None)
    assert "验证通过" in texts(messages)[0]

    slots = {"feedback_type": "complaint", "feedback_content": "这个月停了四五回了", "contact_phone": None,
             "confirm": True, "identity_verified": True, "verified_account_no": "3201000024",
             "account_no": "3201000024"}
    await run_action(ActionSubmitFeedback(), make_tracker("好", slots=slots))
    stored = last_ticket(actions_gateway.app)
    assert stored.type == "complaint" and stored.account_no == "3201000024"
    assert stored.contact_phone == "15040267728"


@pytest.mark.asyncio
async def test_complaint_without_a_phone_is_still_recorded(actions_gateway):
    events, messages = await run_action(ValidateFeedbackForm(), at_contact("电话就不留了 你们记下来就行"))
    assert slot_values(events)["contact_phone"] == "none"


@pytest.mark.asyncio
async def test_a_place_given_while_the_phone_is_asked_joins_the_story(actions_gateway):
    tracker = at_contact("栖霞区迈皋桥街道万寿村13号", feedback_type="tip_off",
                         feedback_content="我要举报 隔壁作坊偷电")
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    values = slot_values(events)
    assert values["feedback_content"].endswith("万寿村13号") and "contact_phone" not in values

    slots = {"feedback_type": "tip_off", "feedback_content": values["feedback_content"],
             "contact_phone": "none", "confirm": True}
    await run_action(ActionSubmitFeedback(), make_tracker("对 就这么多", slots=slots))
    stored = last_ticket(actions_gateway.app)
    assert stored.type == "tip_off" and "万寿村13号" in stored.details["address"]


@pytest.mark.asyncio
async def test_praise_takes_more_words_and_asks_nothing_more(actions_gateway):
    tracker = at_contact("玄武区珠江路那个营业厅 昨天下午", feedback_type="praise",
                         feedback_content="营业厅的小李办事真快")
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    values = slot_values(events)
    assert "珠江路" in values["feedback_content"] and values["contact_phone"] == "none"
    required = await ValidateFeedbackForm().required_slots([], None, make_tracker(
        "", slots={"feedback_type": "praise"}), {})
    assert "confirm" not in required


@pytest.mark.asyncio
async def test_done_words_while_the_phone_is_asked_mean_no_phone(actions_gateway):
    events, _ = await run_action(ValidateFeedbackForm(), at_contact("没了 谢谢", intent="thank",
                                                                     feedback_type="praise"))
    assert slot_values(events)["contact_phone"] == "none"


@pytest.mark.asyncio
async def test_a_tip_off_the_model_took_for_a_complaint_stays_a_tip_off(actions_gateway):
    tracker = make_tracker("举报你们一个装表的师傅 说不给他两百块就拖着不给装", intent="complain",
                           form="feedback_form")
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events)["feedback_type"] == "tip_off"


# ------------------------------------------------------------------ applications

from actions.applications import ValidateApplicationForm, ActionSubmitApplication  # noqa: E402


def at_application(text, intent="inform", **slots):
    base = {"business_type": "new_connection", "requested_slot": "applicant_name"}
    return make_tracker(text, intent=intent, form="application_form", slots={**base, **slots})


@pytest.mark.asyncio
async def test_name_and_phone_in_one_message_fill_both(actions_gateway):
    events, messages = await run_action(ValidateApplicationForm(), at_application("我叫孙福根 电话13182765530"))
    values = slot_values(events)
    assert values["applicant_name"] == "孙福根" and values["contact_phone"] == "13182765530"


@pytest.mark.asyncio
async def test_an_address_where_the_name_is_asked_is_the_address(actions_gateway):
    events, messages = await run_action(ValidateApplicationForm(), at_application("江宁区谷里街道张溪社区56号"))
    values = slot_values(events)
    # the name waits for the documents; the application is not held back by it
    assert values["address"] == "江宁区谷里街道张溪社区56号" and values.get("applicant_name") == "name_later"
    assert not any("不是姓名" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_account_and_last_four_in_an_application_fill_applicant_and_registered_phone(actions_gateway):
    tracker = at_application("户号3201000014 尾号9073", business_type="name_transfer")
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["identity_verified"] is True and values.get("contact_phone") in ("registered", None)

    # The buyer named afterwards is the applicant.
    events, _ = await run_action(ValidateApplicationForm(), at_application(
        "买家叫刘强 电话13770528816", business_type="name_transfer", requested_slot="applicant_name",
        **{k: v for k, v in values.items() if k not in ("requested_slot", "business_type")}))
    later = slot_values(events)
    assert later["applicant_name"] == "刘强" and later["contact_phone"] == "13770528816"

    slots = {**values, "business_type": "meter_move", "confirm": True}
    _, messages = await run_action(ActionSubmitApplication(), make_tracker("好的 提交吧", slots=slots))
    stored = last_ticket(actions_gateway.app)
    assert stored.type == "application" and stored.account_no == "3201000014"
    assert stored.contact_phone == "15978329073"
    assert "工作日" in texts(messages)[0]


@pytest.mark.asyncio
async def test_a_change_of_business_named_in_a_correction(actions_gateway):
    tracker = at_application("哦不对 不是过户 我是想把电表移到院子外头去 房子要翻修", business_type="name_transfer")
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["business_type"] == "meter_move"


@pytest.mark.parametrize("text", ["好 就这么办", "行", "那就办吧"])
@pytest.mark.asyncio
async def test_a_yes_is_no_name(actions_gateway, text):
    events, _ = await run_action(ValidateApplicationForm(), at_application(text))
    assert slot_values(events).get("applicant_name") is None


@pytest.mark.asyncio
async def test_a_correction_beats_the_business_entity_it_denies(actions_gateway):
    tracker = at_application("哦不对 不是过户 我是想把电表移到院子外头去", business_type="name_transfer",
                             candidates={"business_type": "name_transfer"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["business_type"] == "meter_move"


@pytest.mark.asyncio
async def test_part_of_the_held_address_keeps_the_whole_address(actions_gateway):
    tracker = at_application("青山村8号", requested_slot="contact_phone", address="江苏省南京市浦口区永宁街道青山村8号",
                             applicant_name="何明辉", contact_phone="13900001111")
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events).get("address") in (None, "江苏省南京市浦口区永宁街道青山村8号")


@pytest.mark.asyncio
async def test_a_detail_right_after_the_application_was_filed_goes_onto_it(actions_gateway):
    """No confirmation round: "车位是我自己买的 物业也同意了" right after the application was
    registered is kept on that ticket for the staff who check the documents."""
    import uuid

    from actions import api_client
    from actions.handoff import ActionDefaultAskAffirmation

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "application", "summary": "充电桩报装申请：张伟",
        "channel": "web", "business_type": "ev_charger", "contact_phone": "13900001111",
        "details": {"address": "玄武区中山路18号3栋501"}})
    prior = [{"event": "user", "text": "玄武区中山路18号3栋501"},
             {"event": "bot", "text": f"您的充电桩报装申请已提交，工单号：{ticket['ticket_no']}。"}]
    tracker = make_tracker("车位是我自己买的 物业也同意了", intent="inform", prior_events=prior)
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    stored = await api_client.get_ticket(ticket["ticket_no"])
    assert "客户补充：车位是我自己买的 物业也同意了" in [e["data"].get("note") for e in stored["events"]]
    assert messages[0].get("response") == "utter_ticket_note_added"


@pytest.mark.asyncio
async def test_a_bare_yes_to_the_complaint_phone_question_is_no_refusal(actions_gateway):
    events, messages = await run_action(ValidateFeedbackForm(), at_contact("好", intent="affirm"))
    assert slot_values(events).get("contact_phone", "absent") is None
    assert "联系电话" in texts(messages)[0]
    events, _ = await run_action(ValidateFeedbackForm(), at_contact("好的", intent="affirm", feedback_type="praise"))
    assert slot_values(events)["contact_phone"] == "none"


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["对 就投诉这个", "就投诉这个事", "是的，就是投诉"])
async def test_a_yes_restating_the_complaint_at_the_phone_question_asks_the_phone_again(actions_gateway, said):
    tracker = at_contact(said, intent="complain")
    content = tracker.get_slot("feedback_content")
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    values = slot_values(events)
    assert values.get("contact_phone", "absent") is None
    assert values.get("feedback_content", content) == content  # nothing added to the story
    assert "联系电话" in texts(messages)[0]


async def _praise_just_filed(app, conversation_id="more-story"):
    import uuid

    from actions import api_client

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "praise", "summary": "表扬抢修师傅", "channel": "web",
        "conversation_id": conversation_id})
    prior = [{"event": "user", "text": "我要表扬昨天来修电的师傅"},
             {"event": "bot", "text": f"感谢您的表扬，已记录，编号：{ticket['ticket_no']}。"}]
    return ticket["ticket_no"], prior


@pytest.mark.asyncio
@pytest.mark.parametrize("intent, form", [("praise", "feedback_form"), ("nlu_fallback", None)])
async def test_more_of_the_story_after_submission_is_kept_on_that_ticket(actions_gateway, intent, form):
    from actions import api_client
    from actions.handoff import ActionDefaultAskAffirmation

    ticket_no, prior = await _praise_just_filed(actions_gateway.app)
    said = "就是那个姓王的师傅 人特别好 冒着雨修了两个小时"
    tracker = make_tracker(said, intent=intent, form=form, prior_events=prior,
                           slots={"feedback_type": "praise"} if form else {})
    action = ValidateFeedbackForm() if form else ActionDefaultAskAffirmation()
    events, messages = await run_action(action, tracker)
    assert ticket_no in texts(messages)[0] and "补充" in texts(messages)[0]
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_listen"]
    stored = await api_client.get_ticket(ticket_no)
    notes = [e for e in stored.get("events") or [] if e.get("kind") == "note"]
    assert notes and said in str(notes[-1])


@pytest.mark.asyncio
@pytest.mark.parametrize("said, intent", [("谢谢你们", "thank"), ("那个师傅叫什么名字来着？", "nlu_fallback"),
                                          ("另外我还要投诉一下抄表员", "complain")])
async def test_thanks_questions_and_new_matters_after_submission_are_not_added(actions_gateway, said, intent):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.common import add_to_just_filed

    ticket_no, prior = await _praise_just_filed(actions_gateway.app, "more-story-2")
    tracker = make_tracker(said, intent=intent, prior_events=prior)
    dispatcher = CollectingDispatcher()
    assert await add_to_just_filed(dispatcher, tracker) is None and not dispatcher.messages


@pytest.mark.asyncio
async def test_a_note_for_a_ticket_that_does_not_exist_is_refused(actions_gateway):
    from actions import api_client

    with pytest.raises(api_client.ApiError):
        await api_client.add_ticket_note("BX19990101999", "客户补充：测试")


@pytest.mark.asyncio
async def test_an_urge_after_a_complaint_promises_handling_not_a_crew(actions_gateway):
    import uuid

    from actions import api_client

    ticket = await api_client.create_ticket({
        "request_key": f"test:{uuid.uuid4().hex}", "type": "complaint", "summary": "频繁停电", "channel": "web",
        "conversation_id": "urge-complaint", "contact_phone": "13913520518"})
    prior = [{"event": "user", "text": "这个月停了五次了"},
             {"event": "bot", "text": f"您的投诉已登记，编号：{ticket['ticket_no']}。"}]
    tracker = make_tracker("你们赶紧处理啊 家里有老人", intent="complain", form="feedback_form", prior_events=prior)
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert texts(messages)[0].startswith("理解您着急，我们会尽快处理") and "派出" not in texts(messages)[0]


@pytest.mark.asyncio
@pytest.mark.parametrize("text, to_outages", [("我在鼓楼湖南路开店的 听说这几天要停电 影响不影响白天做生意", True),
                                              ("明天停不停电啊", True),
                                              ("这个月停了三回了 明天还要停电 我要投诉", False),
                                              ("抄表员态度太差了", False)])
async def test_a_question_about_planned_outages_opening_a_complaint_is_answered_instead(actions_gateway, text,
                                                                                        to_outages):
    tracker = make_tracker(text, intent="complain", form="feedback_form",
                           slots={"feedback_type": "complaint", "requested_slot": None})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    followups = [e["name"] for e in events if e["event"] == "followup"]
    assert (followups == ["outage_form"]) is to_outages


@pytest.mark.asyncio
async def test_an_application_address_corrected_in_the_same_message_is_kept_as_meant(actions_gateway):
    slots = {"business_type": "new_connection", "applicant_name": "钱国平", "contact_phone": "13770558812"}
    tracker = at_application("江宁区湖熟街道和平社区60号 哦不对 是62号 60号是隔壁", requested_slot="address", **slots)
    values = slot_values((await run_action(ValidateApplicationForm(), tracker))[0])
    assert values["address"] == "江宁区湖熟街道和平社区62号"


@pytest.mark.asyncio
async def test_another_business_named_with_a_change_mid_application_switches_it(actions_gateway):
    said = "等下 中介刚跟我讲不用销户 直接过户给买家就行 那就改成办过户吧"
    tracker = at_application(said, business_type="account_closing", requested_slot="applicant_name")
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values["business_type"] == "name_transfer" and values["requested_slot"] == "applicant_name"
    assert [m.get("response") for m in messages][:2] == ["utter_application_switched", "utter_application_documents"]
    # Naming the same business, or another without a change, switches nothing.
    tracker = at_application("过户要带啥材料", business_type="name_transfer", requested_slot="applicant_name")
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events).get("business_type", "name_transfer") == "name_transfer"


@pytest.mark.asyncio
async def test_a_complaint_the_customer_turns_into_a_suggestion_is_filed_as_one(actions_gateway):
    said = "哎 其实也不算投诉 就提个意见吧 以后抄完表能不能发个短信告诉一声几度"
    events, messages = await run_action(ValidateFeedbackForm(), at_contact(said, intent="suggest"))
    values = slot_values(events)
    assert values["feedback_type"] == "suggestion"
    assert values["feedback_content"].endswith("以后抄完表能不能发个短信告诉一声几度")
    assert messages[0].get("response") == "utter_feedback_switched"
    events, _ = await run_action(ValidateFeedbackForm(), at_contact("对 就投诉这个", intent="complain"))
    assert "feedback_type" not in slot_values(events)


@pytest.mark.asyncio
async def test_a_reporter_afraid_of_being_known_is_told_it_stays_secret(actions_gateway):
    # A tip-off is then taken anonymously (blind customers who asked this left before giving a
    # phone, and the tip-off was lost); a phone sent after the filing still goes onto it.
    events, messages = await run_action(ValidateFeedbackForm(), at_contact("我能不能不留名字 怕他找我麻烦",
                                                                           feedback_type="tip_off"))
    assert [m.get("response") for m in messages] == ["utter_tip_off_taken_anonymously"]
    assert "保密" in texts(messages)[0] and "电话" in texts(messages)[0]
    assert slot_values(events)["contact_phone"] == "none"
    # A complaint needs a phone for its 24-hour callback: told it stays secret, asked again.
    events, messages = await run_action(ValidateFeedbackForm(), at_contact("我能不能不留名字 怕他找我麻烦",
                                                                           feedback_type="complaint"))
    assert [m.get("response") for m in messages] == ["utter_reporter_kept_secret"]
    assert slot_values(events)["requested_slot"] == "contact_phone"
    events, _ = await run_action(ValidateFeedbackForm(), at_contact("那行 电话留个13705181122 别告诉他是我讲的",
                                                                    feedback_type="complaint"))
    assert slot_values(events)["contact_phone"] == "13705181122"


@pytest.mark.asyncio
async def test_a_reporter_refusing_a_phone_out_of_fear_is_anonymous(actions_gateway):
    events, messages = await run_action(ValidateFeedbackForm(), at_contact("我不想留名字 也不留电话 怕他报复",
                                                                           feedback_type="tip_off"))
    assert slot_values(events)["contact_phone"] == "none"
    assert "utter_reporter_kept_secret" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_a_business_switch_is_seen_when_nlu_already_filled_the_new_business(actions_gateway):
    said = "等下 中介刚跟我讲不用销户 直接过户给买家就行 那就改成办过户吧"
    prior = [{"event": "slot", "name": "business_type", "value": "account_closing"},
             {"event": "bot", "text": "请问申请人的姓名是？"}]
    tracker = make_tracker(said, intent="apply_service", form="application_form", prior_events=prior,
                           slots={"business_type": "name_transfer", "requested_slot": "applicant_name"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert messages[0].get("response") == "utter_application_switched"
    assert slot_values(events)["business_type"] == "name_transfer"


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["complaint", "tip_off", "suggestion", "praise"])
async def test_every_kind_is_filed_once_its_story_and_contact_are_known(actions_gateway, kind):
    # No confirmation round: a customer who gave both and left must not lose the request.
    events, _ = await run_action(ValidateFeedbackForm(), at_contact("13900001111", feedback_type=kind,
                                                                    candidates={"contact_phone": "13900001111"}))
    values = slot_values(events)
    assert values.get("contact_phone", "13900001111") == "13900001111"
    assert values.get("requested_slot") is None  # Rasa finds nothing left to ask
    tracker = at_contact("13900001111", feedback_type=kind, contact_phone="13900001111")
    required = await ValidateFeedbackForm().required_slots(
        ["feedback_type", "feedback_content", "contact_phone"], CollectingDispatcher(), tracker, {})
    assert "confirm" not in required and all(tracker.get_slot(name) for name in required)


@pytest.mark.asyncio
async def test_a_filed_complaint_shows_what_was_registered_and_how_to_add_to_it(actions_gateway):
    from actions.feedback import ActionSubmitFeedback

    slots = {"feedback_type": "complaint", "feedback_content": "营业厅窗口的工作人员爱答不理 让我白跑一趟",
             "contact_phone": "15850673412"}
    _, messages = await run_action(ActionSubmitFeedback(), make_tracker("15850673412", slots=slots,
                                                                        sender_id="filed-complaint-shown"))
    said = "\n".join(texts(messages))
    assert "TS" in said and "24小时" in said
    assert "营业厅窗口的工作人员爱答不理" in said and "158****3412" in said and "15850673412" not in said
    assert "补充或更正" in said



# --- a suggestion to be told of outages in advance: filed, and the existing notices offered -------

@pytest.mark.asyncio
@pytest.mark.parametrize("content, offered", [
    ("计划停电能不能提前一两天发个短信 每次都是停了才知道", True),
    ("停电通知能不能提前发短信 我们老年人不会看那个app", True),
    ("网上国网app太难用了 交个电费要点好几层", False),
])
async def test_a_suggestion_for_outage_notices_is_filed_and_the_notices_offered(actions_gateway, content, offered):
    import uuid

    slots = {"feedback_type": "suggestion", "feedback_content": content, "contact_phone": "13057736291",
             "confirm": True}
    _, messages = await run_action(ActionSubmitFeedback(), make_tracker("好", slots=slots,
                                                                        sender_id=f"notice-wish-{uuid.uuid4().hex}"))
    assert last_ticket(actions_gateway.app).type == "suggestion"
    responses = [m.get("response") for m in messages]
    assert ("utter_suggestion_notices_exist" in responses) is offered


@pytest.mark.asyncio
async def test_no_notices_offered_to_a_conversation_already_receiving_them(actions_gateway, monkeypatch):
    from actions import api_client

    async def bound(conversation_id):  # the gateway's binding flow has its own tests (tests/notices)
        return [{"account_no": "3201000011", "channel": "web", "subscriptions": []}] \
            if conversation_id == "notice-wish-bound" else []

    monkeypatch.setattr(api_client, "notice_bindings", bound)
    slots = {"feedback_type": "suggestion", "feedback_content": "计划停电能不能提前一个礼拜发短信通知",
             "contact_phone": "13057736291", "confirm": True}
    _, messages = await run_action(ActionSubmitFeedback(), make_tracker("好", slots=slots, sender_id="notice-wish-bound"))
    assert last_ticket(actions_gateway.app).type == "suggestion"
    assert "utter_suggestion_notices_exist" not in [m.get("response") for m in messages]
