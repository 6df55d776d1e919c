"""Kinds of failure found chatting as a customer and by the sixth blind batch
(tests/conversations/dev/f_*.yml), each against the real gateway with the demo data."""
from __future__ import annotations

import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values, texts


async def ticket_in(conversation: str, kind: str, summary: str) -> dict:
    """A ticket of this kind opened in the conversation through the real gateway."""
    import uuid

    from actions import api_client

    return await api_client.create_ticket({"request_key": f"test:{uuid.uuid4().hex}", "type": kind,
                                           "summary": summary, "channel": "web", "conversation_id": conversation})


@pytest.mark.asyncio
@pytest.mark.parametrize("said, followup", [
    ("等哈 先不修了 是不是没交电费啊 户号3201000016", "bill_form"),
    ("算了不报修了 查下电费 户号3201000001", "bill_form"),
    ("不修了 中华路明天停不停电", "outage_form"),
])
async def test_a_stop_and_a_new_request_with_digits_ends_the_form_and_serves_the_request(
        actions_gateway, said, followup):
    """Found chatting: at a repair's address question "等哈 先不修了 是不是没交电费啊 户号三二零…"
    got "这个问题我这里答不上来…还需要您的地址": the 户号's digits kept the stop from being one."""
    from actions.common import ActionCancelForm
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(said, intent="query_bill", form="fault_form",
                           entities=[{"entity": "account_no", "value": "3201000016"}] if "32010" in said else [],
                           slots={"requested_slot": "address", "fault_description": "俺家的电又没了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_cancel_form"]
    assert "utter_question_unanswered_in_form" not in [m.get("response") for m in messages]
    cancel_events, _ = await run_action(ActionCancelForm(), make_tracker(said, intent="query_bill", form="fault_form",
                                                                           slots={"fault_description": "俺家的电又没了"}))
    assert [e.get("name") for e in cancel_events if e.get("event") == "followup"] == [followup]


@pytest.mark.asyncio
async def test_digits_with_a_stop_word_and_no_new_request_are_still_a_value(actions_gateway):
    """"不用了 就是中华路66号" keeps the address: only a stop followed by a request ends the form."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("算了 地址就写中华路66号2栋302", intent="inform", form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "家里没电"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert "action_cancel_form" not in [e.get("name") for e in events if e.get("event") == "followup"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, answered", [
    ("我想把电表挪到院子外头 要多少钱 多久能弄好", True),
    ("能不能快点 要多久能到", False),
])
async def test_how_long_about_another_business_inside_a_repair_is_a_question_on_it(actions_gateway, said, answered):
    """Found chatting: "我想把电表挪到院子外头 要多少钱 多久能弄好" inside a repair got the hurry
    reply ("要多久" is an urge there); it asks the meter move's fee and time. "要多久能到" still urges."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(said, intent="apply_service", form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "家里没电"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    responses = [m.get("response") for m in messages]
    assert ("utter_empathy_hurry" not in responses) is answered
    if answered:
        said_back = "".join(texts(messages))
        assert "移表" in said_back and "工作日" in said_back, said_back
        assert slot_values(events).get("address") is None


@pytest.mark.asyncio
async def test_a_house_number_corrected_at_the_phone_question_changes_the_address(actions_gateway):
    """f-mixed-03: "不对不对 打错了 是18号" right after "湖熟街道和平社区81号" got "没有识别到电话号码"
    and the crew was sent to 81号."""
    from actions.faults import ValidateFaultForm

    held = "湖熟街道和平社区81号"
    tracker = make_tracker("不对不对 打错了 是18号", intent="inform", form="fault_form",
                           slots={"requested_slot": "contact_phone", "address": held, "address_checked": held,
                                  "repair_area_type": "rural", "fault_description": "停电了 快来人"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["address"] == "湖熟街道和平社区18号"
    assert messages[0].get("response") == "utter_corrected"


@pytest.mark.asyncio
async def test_a_phone_after_an_anonymous_tip_off_and_the_survey_question_goes_onto_it(actions_gateway):
    """f-tip_off-01: filed anonymously, the satisfaction question asked, then "那就留个电话吧
    135… 别跟他们说是我讲的" was not understood twice (second-stage fallback), or heard as a
    goodbye: the ticket's contact either way."""
    import uuid

    from actions import api_client
    from actions.common import ActionWrapUp
    from actions.handoff import ActionDefaultFallback

    said = "那就留个电话吧 13584016237 别跟他们说是我讲的"
    for runner, intent in ((ActionDefaultFallback(), "nlu_fallback"), (ActionWrapUp(), "goodbye")):
        conversation = f"conv-{uuid.uuid4().hex[:8]}"
        ticket = await ticket_in(conversation, "tip_off", "举报：楼下有人偷电")
        prior = [{"event": "user", "text": "不想留名字 行不行"},
                 {"event": "bot", "text": f"您的举报已登记，编号：{ticket['ticket_no']}。"},
                 {"event": "bot", "text": "请问您对这次服务满意吗？"}]
        tracker = make_tracker(said, intent=intent, sender_id=conversation, prior_events=prior)
        _, messages = await run_action(runner, tracker)
        assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "13584016237"
        assert messages[0].get("response") in ("utter_ticket_phone_noted", "utter_ticket_phone_and_words_noted")


@pytest.mark.parametrize("content, form", [
    ("提个建议 你们计划停电能不能提前发个短信 每次都是看到门口贴的纸才知道", None),
    ("先表扬一下上回来修线路的师傅 很负责；另外我餐馆想再加两台空调 电不够用 要增容", "application_form"),
    ("抄表员态度太差；对了 后天我们村计划停电吗", "outage_form"),
    ("表扬横溪供电所的师傅；我家现在还是没电", "fault_form"),
])
def test_the_other_request_in_a_story_is_a_request_not_a_word(content, form):
    """f-suggestion-01: a suggestion about outage notices ("计划停电能不能提前发个短信") was followed
    by an outage query; f-mixed-05: "另外我餐馆想…要增容" said at the praise's phone question was
    never applied for."""
    from actions.feedback import other_request_in_story

    events = other_request_in_story(content, None, "19961283530")
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert followups == ([form] if form else [])
    if form == "application_form":
        assert slot_values(events)["business_type"] == "capacity_change"
        assert slot_values(events)["contact_phone"] == "19961283530"


@pytest.mark.asyncio
@pytest.mark.parametrize("opening, repaired", [
    ("我们这片怎么都停电了 是不是在检修啊 也没看到通知", True),
    ("听说过几天要停电了 是真的吗", False),
    ("查一下有没有停电计划", False),
])
async def test_power_out_now_with_no_known_outage_is_repaired_not_offered(actions_gateway, opening, repaired):
    """f-outage-05: "我们这片怎么都停电了 是不是在检修啊" then "玄武区中山路32号 附近几栋楼都黑了":
    no outage was known, the bot offered a repair button and asked the satisfaction question; the
    customer waited for power that nobody was sent to bring back."""
    from actions.faults import ActionQueryOutage

    prior = [{"event": "user", "text": opening}, {"event": "active_loop", "name": "outage_form"}]
    said = "玄武区中山路32号 附近几栋楼都黑了" if repaired else "玄武区中山路32号"
    tracker = make_tracker(said, intent="inform", slots={"address": "玄武区中山路32号"}, prior_events=prior)
    events, messages = await run_action(ActionQueryOutage(), tracker)
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert (followups == ["fault_form"]) is repaired
    assert ("utter_no_outage_repair" in [m.get("response") for m in messages]) is repaired
    if repaired:
        assert slot_values(events)["address"] == "玄武区中山路32号"


@pytest.mark.asyncio
async def test_a_bill_offer_made_for_a_bill_reason_question_answered_with_a_number_is_a_yes(actions_gateway):
    """f-bill-05, f-complaint-04: "您是想查询电费吗？" (offered for the model's ask_bill_reason)
    answered with the 户号 got the generic "收到户号…您是想查电费、报修…" choices."""
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": "昨天在微信上交的电费 今天app上还显示欠费 什么情况啊"},
             {"event": "bot", "text": "不好意思，我没太明白。您是想查询电费吗？",
              "data": {"buttons": [{"title": "是的", "payload": "/ask_bill_reason"},
                                   {"title": "不是", "payload": "/out_of_scope"}]}}]
    tracker = make_tracker("3201000016", intent="inform", prior_events=prior,
                           entities=[{"entity": "account_no", "value": "3201000016"}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["bill_form"] and not messages


@pytest.mark.asyncio
@pytest.mark.parametrize("said, verifies", [("手机号后四位1448", True), ("0945", True), ("尾号 1448", True),
                                            ("1448号", False)])
async def test_the_last_four_digits_after_a_bare_account_number_check_the_account(actions_gateway, said, verifies):
    """f-arrears_reconnect-03: "户号3201000020" (noted, with choices) then "手机号后四位1448" got the
    menu; the customer was proving who they are to hear about the account."""
    from actions.menu import ActionAnswerBareDetail

    tracker = make_tracker(said, intent="inform", slots={"account_no": "3201000020"})
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    followups = [e["name"] for e in events if e["event"] == "followup"]
    assert (followups == ["bill_form"]) is verifies
    if verifies:
        assert slot_values(events)["phone_last4"] == said[-4:]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, asked, business", [
    ("黄子豪 18061296637", None, "tariff_change"),
    ("我姓贾 贾文静 电话17351826604", "business_type", None),
])
async def test_a_name_among_other_details_is_the_applicant_at_any_question(actions_gateway, said, asked, business):
    """f-application-06: "黄子豪 18061296637" right after the tariff change was offered, and
    f-application-07: "我姓贾 贾文静 电话173…" at the business question: the phone was kept, the
    name lost and asked for again until the customer left."""
    from actions.applications import ValidateApplicationForm

    slots = {"requested_slot": asked}
    if business:
        slots["business_type"] = business
    tracker = make_tracker(said, intent="inform", form="application_form", slots=slots)
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    values = slot_values(events)
    assert values.get("applicant_name") == said.split()[0 if asked is None else 1]
    assert values.get("contact_phone") == said.split()[-1][-11:]


def test_the_meter_where_it_is_in_the_way_is_a_meter_move():
    """f-application-07: "家里装修 电表位置挡着柜子了 想移个地方 能办吗" asked which business."""
    from actions.applications import business_from_text

    assert business_from_text("家里装修 电表位置挡着柜子了 想移个地方 能办吗") == "meter_move"


@pytest.mark.asyncio
async def test_documents_answered_in_the_fallback_offer_the_application_and_a_name_and_phone_take_it(actions_gateway):
    """f-application-02: "家里新盖的房子要通电 要办啥手续" (not understood as a request) got the
    documents only; "我叫沈长林 手机号152…" next got the menu and no application was ever made."""
    from actions.handoff import ActionDefaultAskAffirmation
    from actions.menu import ActionAnswerBareDetail

    said = "家里新盖的房子要通电 要办啥手续"
    events, messages = await run_action(ActionDefaultAskAffirmation(), make_tracker(said, intent="nlu_fallback"))
    assert slot_values(events).get("offered_business") == "new_connection"
    assert "utter_offer_application" in [m.get("response") for m in messages]
    prior = [{"event": "user", "text": said}, {"event": "slot", "name": "offered_business", "value": "new_connection"}]
    tracker = make_tracker("我叫沈长林 手机号15261893370", intent="inform", prior_events=prior,
                           slots={"offered_business": "new_connection"},
                           entities=[{"entity": "phone", "value": "15261893370"}])
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["application_form"]
    assert slot_values(events)["business_type"] == "new_connection"


@pytest.mark.asyncio
async def test_the_fee_asked_with_the_business_named_is_answered(actions_gateway):
    """f-application-07: "移表收费吗 大概多少钱" at the business question listed the documents and
    asked the name; the fee asked was never answered."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("移表收费吗 大概多少钱", intent="apply_service", form="application_form",
                           slots={"requested_slot": "business_type"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["business_type"] == "meter_move"
    said_back = "".join(texts(messages))
    assert "勘察" in said_back and said_back.count("户主身份证") == 1, said_back


@pytest.mark.asyncio
async def test_people_at_the_door_who_say_they_are_from_the_utility_are_a_tip_off(actions_gateway):
    """f-tip_off-02: "刚才有两个人上门说是供电局的 要给我换电表 收两百块钱 是不是你们的人啊" got
    "答不上来" and then a 户号 question."""
    from actions.common import IMPERSONATION
    from actions.handoff import ActionDefaultAskAffirmation

    said = "刚才有两个人上门说是供电局的 要给我换电表 收两百块钱 是不是你们的人啊"
    assert IMPERSONATION.search(said) and IMPERSONATION.search("说是电力公司的 上门要收两百块检测费")
    # h-tip_off-02: the words between are longer.
    assert IMPERSONATION.search("刚才有两个人穿着蓝衣服 说是供电局的 上门说要换智能电表 收三百块")
    assert not IMPERSONATION.search("供电局的师傅说明天来换表") and not IMPERSONATION.search("说是供电局的通知 明天停电")
    events, _ = await run_action(ActionDefaultAskAffirmation(), make_tracker(said, intent="nlu_fallback"))
    assert slot_values(events).get("feedback_type") == "tip_off"
    assert [e["name"] for e in events if e["event"] == "followup"] == ["feedback_form"]


@pytest.mark.parametrize("said, form", [("停多长时间", "outage_form"), ("要停几个小时啊", "outage_form"),
                                        ("哪天停啊", "outage_form"), ("我要办个停电申请", "application_form")])
def test_how_long_or_which_day_power_is_off_names_the_outage_query(said, form):
    """f-outage-03: "停多长时间" right after the address of a village with a planned outage was
    offered the progress query."""
    from actions.menu import named_request

    assert named_request(said) == form


@pytest.mark.parametrize("said", ["那帮我报个修吧 电话18920521734", "给我报下修"])
def test_a_repair_asked_in_split_words_is_named(said):
    """outage-d03: "那帮我报个修吧 电话189…" was not understood twice."""
    from actions.menu import named_request

    assert named_request(said) == "fault_form"


def test_a_meter_in_the_way_of_a_shop_refit_is_a_meter_move():
    """application-d05: "店面要重新装修 电表位置碍事 能不能给挪一下" was filed as a new connection."""
    from actions.applications import business_from_text

    assert business_from_text("店面要重新装修 电表位置碍事 能不能给挪一下") == "meter_move"


@pytest.mark.asyncio
async def test_a_documents_question_after_a_business_offer_is_about_that_business(actions_gateway):
    """e-application-04: after the EV charger answer and offer, "车位是买的 有产权证 物业也同意了
    需要什么手续" got the documents of a shop's new connection and an offer of one."""
    from actions.handoff import ActionDefaultAskAffirmation

    said = "车位是买的 有产权证 物业也同意了 需要什么手续"
    prior = [{"event": "user", "text": "想在小区地下车库自己车位上装个充电桩"},
             {"event": "slot", "name": "faq_topic", "value": "ev_property_refuses"},
             {"event": "slot", "name": "offered_business", "value": "ev_charger"}]
    tracker = make_tracker(said, intent="nlu_fallback", prior_events=prior,
                           slots={"offered_business": "ev_charger", "faq_topic": "ev_property_refuses"})
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert slot_values(events).get("faq_topic") == "docs_ev_charger"
    assert "车位" in "".join(texts(messages))


@pytest.mark.asyncio
async def test_an_offer_made_by_the_fallback_stands_after_rasa_reverts_its_slots(actions_gateway):
    """f-application-02 (live): the offer came from the fallback's first stage, whose slots Rasa
    reverts when the next message is not a yes or no; "我叫沈长林 手机号152…" still applies."""
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": "家里新盖的房子要通电 要办啥手续"},
             {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交新装用电申请。",
              "data": {"buttons": [{"title": "在线申请新装用电",
                                    "payload": '/apply_service{"business_type":"new_connection"}'},
                                   {"title": "先不用", "payload": "/deny"}]}}]
    tracker = make_tracker("我叫沈长林 手机号15261893370", intent="inform", prior_events=prior,
                           entities=[{"entity": "phone", "value": "15261893370"}])
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["application_form"]
    assert slot_values(events)["business_type"] == "new_connection"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, handed_off", [("我已经让小孩离远点了", False), ("我要找人工", True),
                                              ("你们有没有人能接电话啊", True)])
async def test_a_hand_off_heard_in_a_form_in_words_that_ask_for_nobody_is_no_hand_off(actions_gateway, said, handed_off):
    """f-hazard-01: "我已经让小孩离远点了" at the hazard repair's phone question was heard as a
    wish for a person: the desk-closed callback instead of the urgent repair."""
    from actions.handoff import ActionHandoff

    tracker = make_tracker(said, intent="request_human", form="fault_form",
                           slots={"requested_slot": "contact_phone", "hazard": True, "address": "雨花台区软件大道"})
    events, _ = await run_action(ActionHandoff(), tracker)
    followups = [e["name"] for e in events if e["event"] == "followup"]
    assert (followups == ["fault_form"]) is not handed_off


@pytest.mark.asyncio
@pytest.mark.parametrize("content, filed", [("上门说是供电局的 要收两百块", False),
                                            ("上门说是供电局的 要收两百块；他们衣服上没有字", True)])
async def test_a_tip_off_told_on_twice_at_the_phone_question_is_registered(actions_gateway, content, filed):
    """f-tip_off-02: the reporter told more of the story four times at "需要留联系电话吗" and the
    tip-off was never registered."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("我没给钱 把门关上了", intent="inform", form="feedback_form",
                           slots={"requested_slot": "contact_phone", "feedback_type": "tip_off",
                                  "feedback_content": content})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    values = slot_values(events)
    assert "我没给钱" in values["feedback_content"]
    assert (values.get("contact_phone") == "none") is filed


@pytest.mark.asyncio
@pytest.mark.parametrize("said, shown, ends_with", [
    ("两千三百多？？这么多", "2026年11月电费账单（户号尾号0030）：\n· 电费金额：2382.36 元", "bill_form"),
    ("一整天啊 冰箱咋办 行吧知道了", "您所在的区域有计划停电安排：南京市秦淮区（中华路、长乐路）", "action_listen"),
    ("我要投诉 电费这么多肯定算错了", "2026年11月电费账单（户号尾号0030）：\n· 电费金额：2382.36 元", None),
])
async def test_a_remark_right_after_an_answer_is_no_complaint(actions_gateway, said, shown, ends_with):
    """f-bill-06: "两千三百多？？这么多" right after the shop's bill filed a complaint; h-mixed-01:
    "一整天啊 冰箱咋办 行吧知道了" after the outage times did too. A complaint named stays one."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "前一句"}, {"event": "bot", "text": shown}]
    tracker = make_tracker(said, intent="complain", form="feedback_form", prior_events=prior,
                           slots={"feedback_type": "complaint"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    followups = [e["name"] for e in events if e["event"] == "followup"]
    if ends_with:
        assert followups == [ends_with]
        assert slot_values(events)["feedback_type"] is None
    else:
        assert not followups and slot_values(events).get("feedback_content")


def test_not_really_a_complaint_just_an_opinion_switches_the_kind():
    """h-mixed-10: "算了 也谈不上投诉 就提个意见吧" cancelled the complaint instead of taking a suggestion."""
    from actions.feedback import switched_kind

    assert switched_kind("算了 也谈不上投诉 就提个意见吧", "complaint") == "suggestion"


@pytest.mark.asyncio
async def test_a_stop_that_switches_the_kind_of_feedback_keeps_it(actions_gateway):
    """h-mixed-10: "算了 也谈不上投诉 就提个意见吧" (NLU: a stop) cancelled the complaint."""
    from actions.common import ActionCancelForm

    tracker = make_tracker("算了 也谈不上投诉 就提个意见吧", intent="cancel", form="feedback_form",
                           slots={"feedback_type": "complaint", "requested_slot": "feedback_content"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert slot_values(events)["feedback_type"] == "suggestion"
    assert [e["name"] for e in events if e["event"] == "followup"] == ["feedback_form"]
    assert messages[0].get("response") == "utter_feedback_switched"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, complaint", [
    ("俺们曹家桥村这个电 一个月停了五六回了", True),
    ("我家这个月一半时间都回娘家了 根本没人用电 肯定是抄错了", True),
    ("又停电了 这个月第三回了 快派人来", False),
    ("家里没电了 灯都不亮", False),
])
async def test_a_grievance_about_outages_or_the_reading_is_a_complaint_not_a_repair(actions_gateway, said, complaint):
    """h-complaint-02: "一个月停了五六回了" opened a repair (a crew promised in 90 minutes to a
    village with power); h-complaint-04: "根本没人用电 肯定是抄错了" after the bill did too."""
    from actions.faults import ValidateFaultForm

    events, _ = await run_action(ValidateFaultForm(), make_tracker(said, intent="report_fault", form="fault_form"))
    followups = [e["name"] for e in events if e["event"] == "followup"]
    assert (followups == ["feedback_form"]) is complaint
    if complaint:
        assert slot_values(events)["feedback_type"] == "complaint"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, held, expected", [
    ("不对不对 打错了 是86号 6栋1102", "栖霞区文苑路88号", "栖霞区文苑路86号6栋1102"),
    ("7栋 是7栋 三楼 301", "玄武区珠江路那块 金陵小区", "玄武区珠江路那块 金陵小区7栋三楼301"),
])
async def test_parts_of_an_address_said_at_the_phone_question_complete_it(actions_gateway, said, held, expected):
    """h-mixed-03: "不对不对 打错了 是86号 6栋1102" left the ticket at "6栋1102"; h-repair-08:
    "7栋 是7栋 三楼 301" at the phone question got "没有识别到电话号码" and the crew went to "珠江路"."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(said, intent="inform", form="fault_form",
                           slots={"requested_slot": "contact_phone", "address": held, "address_checked": held,
                                  "repair_area_type": "urban", "fault_description": "家里没电"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["address"] == expected
    assert messages[0].get("response") == "utter_corrected"


@pytest.mark.asyncio
async def test_a_change_of_mind_about_the_business_at_the_name_question_switches_it(actions_gateway):
    """h-mixed-09: "我要把电表销掉" then, at the name question, "不是不是 不是不用电了 是家里翻修 电表挂在
    堂屋里碍事 想挪到院墙外头去": "答不上来", and an account closing was filed."""
    from actions.applications import ValidateApplicationForm

    said = "不是不是 不是不用电了 是家里翻修 电表挂在堂屋里碍事 想挪到院墙外头去"
    tracker = make_tracker(said, intent="inform", form="application_form",
                           slots={"requested_slot": "applicant_name", "business_type": "account_closing"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["business_type"] == "meter_move"
    assert messages[0].get("response") == "utter_application_switched"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, runner_name", [("没电", "fallback"), ("奇怪了 我们这栋楼二单元没电 一单元三单元都有电", "detail")])
async def test_a_fault_told_in_few_or_plain_words_is_repaired(actions_gateway, said, runner_name):
    """h-repair-08: "没电" got "没太理解"; h-repair-04: "我们这栋楼二单元没电…" (NLU: a detail) got
    the menu, and the address next was taken for a bill query."""
    from actions.handoff import ActionDefaultAskAffirmation
    from actions.menu import ActionAnswerBareDetail, named_request

    runner = ActionDefaultAskAffirmation() if runner_name == "fallback" else ActionAnswerBareDetail()
    events, _ = await run_action(runner, make_tracker(said, intent="nlu_fallback" if runner_name == "fallback" else "inform"))
    assert [e["name"] for e in events if e["event"] == "followup"] == ["fault_form"]
    assert named_request("我们楼现在灯一直一闪一闪的") == "fault_form"
    assert named_request("有没有电啊") is None and named_request("手机没电话费了") is None


def test_the_last_answer_is_seen_through_the_fallbacks_revert():
    """f-application-02 (live): after the fallback's answer and offer, the customer's next message
    is reverted and replayed by Rasa; the offer is still the bot's last answer."""
    from actions.common import previous_turn

    prior = [{"event": "user", "text": "家里新盖的房子要通电 要办啥手续"},
             {"event": "action", "name": "action_two_stage_fallback"},
             {"event": "bot", "text": "需要的话，我现在就可以帮您在线提交新装用电申请。"},
             {"event": "action", "name": "action_listen"},
             {"event": "user", "text": "我叫沈长林 手机号15261893370"},
             {"event": "action", "name": "action_two_stage_fallback"},
             {"event": "rewind"},
             {"event": "action", "name": "action_listen"}]
    tracker = make_tracker("我叫沈长林 手机号15261893370", intent="inform", prior_events=prior)
    assert [e.get("text") for e in previous_turn(tracker) if e.get("event") == "bot"] == \
        ["需要的话，我现在就可以帮您在线提交新装用电申请。"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, intent, business", [
    ("你好，我是南京苏源电子的电工，厂里要上新产线，专变需要从400kVA增到800kVA，怎么申请？", "tip_off", "capacity_change"),
    ("举报有人私自接电 装充电桩偷电", "tip_off", None),
])
async def test_an_application_heard_as_feedback_is_an_application(actions_gateway, said, intent, business):
    """h-application-03: a factory's capacity increase "怎么申请" was registered as a tip-off."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker(said, intent=intent, form="feedback_form", slots={"feedback_type": intent})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    followups = [e["name"] for e in events if e["event"] == "followup"]
    assert (followups == ["application_form"]) is bool(business)
    if business:
        assert slot_values(events)["business_type"] == business


@pytest.mark.asyncio
@pytest.mark.parametrize("said, applies", [
    ("你好 我家电表装在厨房里面 抄表的每次都要敲门 能不能移到外面楼道去", True),
    ("移表要多少钱", False),
])
async def test_a_business_asked_for_as_can_i_starts_it(actions_gateway, said, applies):
    """h-application-05: "…能不能移到外面楼道去" got the meter-reading answer; the application never started."""
    from actions.faq import DOING_IT, ActionAnswerFaq

    assert not DOING_IT.search("光伏发电能卖钱吗")  # a question about PV earnings asks for nothing to be done

    events, _ = await run_action(ActionAnswerFaq(), make_tracker(said, intent="faq"))
    assert ([e["name"] for e in events if e["event"] == "followup"] == ["application_form"]) is applies


@pytest.mark.asyncio
async def test_the_business_talked_about_before_is_the_one_applied_for(actions_gateway):
    """h-application-04: "请问电费户名怎么改成我们自己的" (answered), then the address: "请问您要办理
    哪项业务？", and "要带什么证件啊" there got "请先选一下"."""
    from actions.applications import ValidateApplicationForm

    prior = [{"event": "user", "text": "请问电费户名怎么改成我们自己的"},
             {"event": "bot", "text": "过户（更名）需要：新户主有效身份证件…"},
             {"event": "user", "text": "房子是刚买的二手房 在鼓楼区汉中门大街147号清凉山公寓3幢501"}]
    tracker = make_tracker("要带什么证件啊 房产证还没下来 只有网签合同行不行", intent="faq", form="application_form",
                           prior_events=prior, slots={"requested_slot": "business_type"})
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["business_type"] == "name_transfer"
    assert "utter_documents_ask_business_type" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_a_phone_left_after_filing_is_not_a_new_application(actions_gateway):
    """h-tip_off-01: "想了想还是留个电话吧 有需要可以问我 177… 别透露给他们" after the anonymous
    tip-off (NLU: apply_service) got "请问您要办理哪项业务？"."""
    import uuid

    from actions import api_client
    from actions.applications import ValidateApplicationForm

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    ticket = await ticket_in(conversation, "tip_off", "举报：麻将馆偷电")
    prior = [{"event": "user", "text": "晚上从外面墙上能看到一根线直接接到楼道的线上"},
             {"event": "bot", "text": f"您的举报已登记，编号：{ticket['ticket_no']}。"}]
    said = "想了想还是留个电话吧 有需要可以问我 17705186631 别透露给他们"
    tracker = make_tracker(said, intent="apply_service", form="application_form", prior_events=prior,
                           sender_id=conversation)
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_listen"]
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "17705186631"


# --- batch i -------------------------------------------------------------------------


def test_white_smoke_is_a_hazard():
    """i-hazard-03: "村口那个 一直嗡嗡响 现在冒白烟了" was repaired at normal priority."""
    from actions.faults import find_hazards

    assert find_hazards("就我们村口那个 一直嗡嗡响 现在冒白烟了")


@pytest.mark.parametrize("value, said, whole", [
    ("建邺区", "建邺区 奥体大街 新城香溢紫郡", "建邺区 奥体大街 新城香溢紫郡"),
    ("白马镇", "白马镇 曹家桥村", "白马镇 曹家桥村"),
    ("中山路18号", "中山路18号", "中山路18号"),
])
def test_an_address_typed_with_spaces_is_kept_whole(value, said, whole):
    """i-hazard-04: "建邺区 奥体大街 新城香溢紫郡" sent the crew to "建邺区"; i-outage-02: "白马镇
    曹家桥村" found no outage (one is planned there)."""
    from actions.faults import whole_address

    assert whole_address(value, said) == whole


@pytest.mark.asyncio
async def test_the_house_number_said_after_the_place_joins_it(actions_gateway):
    """i-application-01: "江宁横溪街道石塘村 新房子 门牌是石塘村118号" was filed at "…石塘村"."""
    from actions.applications import ValidateApplicationForm

    said = "江宁横溪街道石塘村 新房子 门牌是石塘村118号"
    tracker = make_tracker(said, intent="inform", form="application_form",
                           slots={"requested_slot": "address", "business_type": "new_connection"})
    result = await ValidateApplicationForm().validate_address("江宁横溪街道石塘村", None, tracker, {})
    assert result["address"] == "江宁横溪街道石塘村118号"


@pytest.mark.asyncio
async def test_a_request_heard_as_a_wish_for_a_person_is_served(actions_gateway):
    """i-application-05: "我儿子让我问 屋顶装那个太阳能板发电 要跟你们报个啥并网" (NLU: a person)
    got the desk-closed callback instead of the PV application."""
    from actions.handoff import ActionHandoff

    said = "我儿子让我问 屋顶装那个太阳能板发电 要跟你们报个啥并网"
    events, _ = await run_action(ActionHandoff(), make_tracker(said, intent="request_human"))
    assert [e["name"] for e in events if e["event"] == "followup"] == ["application_form"]
    assert slot_values(events)["business_type"] == "pv_connection"
    events, _ = await run_action(ActionHandoff(), make_tracker("这个说不清楚 能不能叫个人给我打电话",
                                                                intent="request_human"))
    assert "application_form" not in [e.get("name") for e in events if e["event"] == "followup"]


@pytest.mark.asyncio
async def test_a_bill_to_check_told_angrily_is_checked_not_filed(actions_gateway):
    """i-bill-02: "上个月我家电费怎么会这么高？？…你们是不是抄错了…给我查查" was filed as a complaint."""
    from actions.feedback import ValidateFeedbackForm

    said = ("我真的想问问你们，上个月我家电费怎么会这么高？？我们家就两个人，白天都上班不在家，"
            "以前一个月也就一百出头，你们是不是抄错了还是怎么回事，给我查查")
    tracker = make_tracker(said, intent="complain", form="feedback_form", slots={"feedback_type": "complaint"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["bill_form"]
    assert slot_values(events)["bill_query"] == "reason"


@pytest.mark.asyncio
async def test_power_cut_for_arrears_told_as_news_checks_the_bills(actions_gateway):
    """i-arrears_reconnect-01: "俺家叫停电了 短信讲是欠费" got "您是想提意见建议吗？"."""
    from actions.handoff import ActionDefaultAskAffirmation, ActionDefaultFallback

    events, _ = await run_action(ActionDefaultAskAffirmation(), make_tracker("俺家叫停电了 短信讲是欠费",
                                                                             intent="nlu_fallback"))
    assert slot_values(events)["bill_query"] == "suspect_arrears"
    events, _ = await run_action(ActionDefaultFallback(), make_tracker("俺马上去交 交了以后多长时间能来电",
                                                                       intent="nlu_fallback"))
    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_answer_faq"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, kind", [
    ("楼下群租房乱拉电线 楼道里电线跟蜘蛛网一样 还有人从公共照明接电给电动车充电", "tip_off"),
    ("给你们营业厅的小姑娘点个赞", "praise"),
])
async def test_feedback_told_without_its_name_is_taken_as_what_it_is(actions_gateway, said, kind):
    """i-tip_off-03: illegal wiring (no "举报") became a repair; i-praise-02: "点个赞" got
    "您是想表扬吗？" and was lost."""
    from actions.handoff import ActionDefaultAskAffirmation

    events, _ = await run_action(ActionDefaultAskAffirmation(), make_tracker(said, intent="nlu_fallback"))
    assert slot_values(events)["feedback_type"] == kind


@pytest.mark.asyncio
async def test_a_shopkeeper_asking_about_a_night_outage_is_answered_not_filed(actions_gateway):
    """i-outage-04: "湖南路那边要晚上停电施工？我开夜宵的 影响大不大" (NLU: a complaint) asked for a phone."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("湖南路那边要晚上停电施工？我开夜宵的 影响大不大", intent="complain", form="feedback_form",
                           slots={"feedback_type": "complaint"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["outage_form"]


# --- regressions seen in the whole dev half ---------------------------------------------


@pytest.mark.asyncio
async def test_no_second_application_from_the_business_named_before_a_filing(actions_gateway):
    """b-application-007: "好 帮我申请" right after the tariff change was filed filed it again."""
    from actions.applications import business_said_before

    prior = [{"event": "user", "text": "我们饭店晚上用电多 想把电价改成峰谷分时的 能办吗"},
             {"event": "bot", "text": "您的电价变更申请已提交，工单号：YK20261203006。"},
             {"event": "user", "text": "我是老板叶俊杰"}]
    assert business_said_before(make_tracker("好 帮我申请", intent="apply_service", prior_events=prior)) is None
    assert business_said_before(make_tracker("好 帮我申请", intent="apply_service", prior_events=prior[:1])) \
        == "tariff_change"


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["好 我让大家都别过去", "快点处理"])
async def test_words_after_a_filing_heard_as_a_wish_for_a_person_hand_nothing_off(actions_gateway, said):
    """hazard-d01, b-complaint-006: after the urgent repair (or the complaint) was registered, "好
    我让大家都别过去" / "快点处理" (NLU: a person) opened a desk-closed callback."""
    from actions.handoff import ActionHandoff

    prior = [{"event": "user", "text": "我电话13770561238"},
             {"event": "bot", "text": "已为您登记紧急故障报修，工单号：BX20261203035。"}]
    events, _ = await run_action(ActionHandoff(), make_tracker(said, intent="request_human", prior_events=prior))
    followups = [e.get("name") for e in events if e["event"] == "followup"]
    assert followups in (["action_default_ask_affirmation"], []) and "action_listen" not in followups


@pytest.mark.asyncio
async def test_paid_arrears_asked_as_an_outage_question_gets_the_reconnection_rule(actions_gateway):
    """arrears_reconnect-d04: "我刚才用微信把欠的电费交了 什么时候能来电啊" (NLU: an outage query)
    was asked for an address, never told 24 hours."""
    from actions.faults import ValidateOutageForm

    tracker = make_tracker("我刚才用微信把欠的电费交了 什么时候能来电啊", intent="query_outage", form="outage_form")
    events, _ = await run_action(ValidateOutageForm(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_answer_faq"]


@pytest.mark.asyncio
async def test_a_complaint_said_in_a_progress_question_is_taken(actions_gateway):
    """b-complaint-002: "昨天晚上报的修 等了三个钟头才来人 你们承诺的时间呢 我要投诉" (NLU: progress)
    was asked for a ticket number and then registered as a repair."""
    from actions.progress import ValidateProgressForm

    said = "昨天晚上报的修 等了三个钟头才来人 你们承诺的时间呢 我要投诉"
    events, _ = await run_action(ValidateProgressForm(), make_tracker(said, intent="query_progress", form="progress_form"))
    assert [e["name"] for e in events if e["event"] == "followup"] == ["feedback_form"]
    assert slot_values(events)["feedback_type"] == "complaint"


def test_the_valley_price_after_the_hours_is_a_follow_up():
    """cinfo-002: "谷时候一度多少钱" after the peak/valley hours got the tiered prices."""
    from actions.faq import follow_up_topic

    assert follow_up_topic("peak_valley_hours", "谷时候一度多少钱") == "peak_valley_prices"


@pytest.mark.asyncio
async def test_out_of_power_since_last_night_asked_as_a_question_is_repaired(actions_gateway):
    """e-repair-02: "我们大泉村这边从昨晚上就停电了 到现在还没来 是不是哪里线坏了" got "答不上来"."""
    from actions.handoff import ActionDefaultAskAffirmation

    said = "你好 我们大泉村这边从昨晚上就停电了 到现在还没来 是不是哪里线坏了"
    events, _ = await run_action(ActionDefaultAskAffirmation(), make_tracker(said, intent="nlu_fallback"))
    assert [e["name"] for e in events if e["event"] == "followup"] == ["fault_form"]


@pytest.mark.asyncio
async def test_a_phone_after_the_desk_closed_notice_goes_to_the_callback_in_any_words(actions_gateway):
    """e-handoff-05: "我们是南京宁新电子有限公司 户号3201000034 联系电话136… 工作日都可以打" right
    after the callback was opened started an application."""
    import uuid

    from actions import api_client
    from actions.applications import ValidateApplicationForm

    conversation = f"conv-{uuid.uuid4().hex[:8]}"
    ticket = await ticket_in(conversation, "callback", "回电：客户要求转人工，非服务时间")
    said = "我们是南京宁新电子有限公司 户号3201000034 联系电话13647202292 工作日都可以打"
    tracker = make_tracker(said, intent="apply_service", form="application_form", sender_id=conversation)
    await run_action(ValidateApplicationForm(), tracker)
    assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "13647202292"


def test_how_to_do_the_paperwork_of_a_named_business_is_its_documents():
    """e-application-08: "老家这个电表户想销掉 咋办手续" got the name transfer's documents."""
    from actions.faq import business_topic

    assert business_topic("我要搬去外地了 老家这个电表户想销掉 咋办手续") == "docs_account_closing"


@pytest.mark.asyncio
async def test_calling_people_away_from_a_hazard_is_no_wish_for_a_person(actions_gateway):
    """b-hazard-001: "好的 我去喊人不让靠近" after the urgent repair opened a desk-closed callback."""
    from actions.handoff import ActionHandoff

    prior = [{"event": "user", "text": "我电话13605187724"},
             {"event": "bot", "text": "已为您登记紧急故障报修，工单号：BX20261203001。"}]
    events, _ = await run_action(ActionHandoff(), make_tracker("好的 我去喊人不让靠近", intent="request_human",
                                                               prior_events=prior))
    assert "action_listen" not in [e.get("name") for e in events if e["event"] == "followup"]


@pytest.mark.asyncio
async def test_a_rambling_bill_question_with_the_account_number_is_served(actions_gateway):
    """a-bill-010: one long unpunctuated message with the 户号 and the last four digits got "没太理解"."""
    from actions.handoff import ActionDefaultAskAffirmation

    said = "你好我想问一下就是我们家上个月的电费是多少钱啊还有就是到底交了没有我自己也记不清了户号3201000016手机尾号0945"
    events, _ = await run_action(ActionDefaultAskAffirmation(), make_tracker(said, intent="nlu_fallback"))
    assert [e["name"] for e in events if e["event"] == "followup"] == ["bill_form"]


@pytest.mark.asyncio
async def test_a_reaction_to_the_bill_is_no_complaint(actions_gateway):
    """arrears_reconnect-d03: "好 我马上交 交了就不会停了吧" right after the bill was filed as a complaint."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "3201000030 尾号3420"},
             {"event": "bot", "text": "2026年11月电费账单（户号尾号0030）：\n· 电费金额：2382.36 元"}]
    tracker = make_tracker("好 我马上交 交了就不会停了吧", intent="complain", form="feedback_form",
                           prior_events=prior, slots={"feedback_type": "complaint"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_default_ask_affirmation"]


# --- found trying it as a customer at the end of the stop -------------------------------


def test_paid_and_the_house_still_dark_is_the_reconnection_question():
    """"刚在支付宝交了欠的电费 家里还是黑的" showed the unpaid bill with no word of reconnection."""
    from actions.faq import ASKS_WHEN_POWER_RETURNS

    assert ASKS_WHEN_POWER_RETURNS.search("刚在支付宝交了欠的电费 家里还是黑的")


@pytest.mark.asyncio
async def test_i_want_to_complain_after_the_story_keeps_the_story(actions_gateway):
    """"你们那个抄表的是不是瞎估的 这个月电费翻了一倍" then "我要投诉" at the 户号 question: the
    complaint was registered as "我要投诉" alone."""
    from actions.bills import ValidateBillForm

    prior = [{"event": "user", "text": "你们那个抄表的是不是瞎估的 这个月电费翻了一倍"},
             {"event": "bot", "text": "请告诉我您的10位户号（电费单或“网上国网”App里可以查到）。"}]
    tracker = make_tracker("我要投诉", intent="complain", form="bill_form", prior_events=prior,
                           slots={"requested_slot": "account_no"})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["feedback_form"]
    assert "瞎估" in slot_values(events)["feedback_content"]
