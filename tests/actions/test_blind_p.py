"""Kinds of failure found trying the widget after the thirteenth blind batch, and by the batches
p, q and r (tests/conversations/dev/p_*.yml, q_*.yml, r_*.yml), against the real gateway with the
demo data."""
from __future__ import annotations

import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values


def responses(messages) -> list:
    return [m.get("response") for m in messages]


def test_an_estate_and_flat_after_a_pause_stay_in_the_address():
    """"鼓楼区湖南路二三一号 锦绣苑三栋四零二" was stored as 鼓楼区湖南路231号: the estate,
    building and flat after the space were lost (a crew cannot find the door)."""
    from actions.faults import whole_address

    assert whole_address("鼓楼区湖南路231号", "鼓楼区湖南路231号 锦绣苑3栋402") == "鼓楼区湖南路231号 锦绣苑3栋402"
    # a phone or a 户号 after the pause is no part of the address
    assert whole_address("鼓楼区湖南路231号", "鼓楼区湖南路231号，电话13851620518") == "鼓楼区湖南路231号"
    assert whole_address("湖南路231号", "湖南路231号 户号3201000001") == "湖南路231号"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, stored", [("哦不对 是四零一", "锦绣苑3栋401"), ("不对不对 是2303", "锦绣苑3栋2303")])
async def test_a_bare_room_number_corrected_at_the_phone_question_changes_the_address(actions_gateway, said, stored):
    """"哦不对 是四零一" at the phone question, right after "…锦绣苑三栋四零二", was read as a bad
    phone number ("没有识别到电话号码"); the ticket kept room 402."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker(said, intent="inform", form="fault_form",
                           slots={"requested_slot": "contact_phone", "address": "鼓楼区湖南路231号 锦绣苑3栋402",
                                  "address_checked": "鼓楼区湖南路231号 锦绣苑3栋402", "repair_area_type": "urban",
                                  "fault_description": "家里没电了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert (slot_values(events).get("address") or "").endswith(stored)
    assert "utter_corrected" in responses(messages)
    assert slot_values(events).get("contact_phone") is None


@pytest.mark.asyncio
async def test_a_bare_number_at_the_last_four_digits_question_is_no_address_correction(actions_gateway):
    """The same words where the last four digits are asked correct those, not the room."""
    from actions.common import correction_target

    tracker = make_tracker("不对 是0518", intent="inform",
                           slots={"requested_slot": "phone_last4", "address": "鼓楼区湖南路231号 锦绣苑3栋402"})
    assert correction_target(tracker) != "address"


def test_a_switch_that_keeps_tripping_is_no_anger():
    """"空开老是跳" got the angry customer's apology; a fault told plainly is no complaint about us."""
    from actions.common import is_angry

    assert not is_angry("空开老是跳 一开大功率就跳")
    assert not is_angry("漏保动不动就跳闸")
    assert is_angry("这个月老是停电 你们到底管不管")
    assert is_angry("动不动就停电")


@pytest.mark.asyncio
async def test_a_humming_transformer_outside_is_urgent_and_its_place_is_asked(actions_gateway):
    """"楼下那个变压器嗡嗡响" after a bill query was filed at once, not urgent, at the verified
    customer's flat: a transformer is the utility's equipment out of doors, and noise is a hazard."""
    from actions.faults import ValidateFaultForm, find_hazards

    assert find_hazards("楼下那个变压器嗡嗡响")
    tracker = make_tracker("楼下那个变压器嗡嗡响 声音很大", intent="report_fault", form="fault_form",
                           slots={"identity_verified": True, "account_no": "3201000001",
                                  "verified_account_no": "3201000001",
                                  "customer_address": "江苏省南京市玄武区中山路18号3栋501"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("address") is None
    assert "utter_using_registered_address" not in responses(messages)


@pytest.mark.asyncio
async def test_no_power_at_home_for_a_verified_customer_still_uses_the_registered_address(actions_gateway):
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("家里突然没电了 对面楼都有电", intent="report_fault", form="fault_form",
                           slots={"identity_verified": True, "account_no": "3201000001",
                                  "verified_account_no": "3201000001",
                                  "customer_address": "江苏省南京市玄武区中山路18号3栋501"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("address") == "江苏省南京市玄武区中山路18号3栋501"
    assert "utter_using_registered_address" in responses(messages)


@pytest.mark.asyncio
async def test_a_whole_address_typed_at_the_phone_question_replaces_the_account_address(actions_gateway):
    """r-repair-007: "地址江宁区横溪街道横溪大街216号" typed at the phone question, after the
    account's address was taken, was read as a bad phone number; the ticket went to the account's."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("地址江宁区横溪街道横溪大街216号", intent="inform", form="fault_form",
                           slots={"requested_slot": "contact_phone", "account_no": "3201000032",
                                  "address": "江苏省南京市玄武区中山路18号3栋501", "address_from_account": True,
                                  "address_checked": "江苏省南京市玄武区中山路18号3栋501", "repair_area_type": "urban",
                                  "fault_description": "横溪大街这边整条街都没电了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert "横溪大街216号" in (slot_values(events).get("address") or "")
    assert "utter_corrected" in responses(messages)


@pytest.mark.asyncio
async def test_a_complaint_only_threatened_is_not_filed(actions_gateway):
    """p-mixed-008: "这回再这么慢我就要投诉了" at a repair's phone question filed a complaint."""
    from actions.common import wants_to_complain
    from actions.faults import ValidateFaultForm

    assert not wants_to_complain("上回等了三个钟头 这回快点啊 这回再这么慢我就要投诉了")
    assert not wants_to_complain("今天不给修好我就投诉")
    assert wants_to_complain("我要投诉 你们太慢了")
    assert wants_to_complain("我还要再投诉一次")
    tracker = make_tracker("上回等了三个钟头 这回快点啊 这回再这么慢我就要投诉了", intent="complain", form="fault_form",
                           slots={"requested_slot": "contact_phone", "address": "溧水区晶桥镇枫香岭村25号",
                                  "address_checked": "溧水区晶桥镇枫香岭村25号", "repair_area_type": "remote",
                                  "fault_description": "又没电了"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("feedback_type") is None


@pytest.mark.asyncio
@pytest.mark.parametrize("said, intent, kind", [
    ("你们那个小伙子蛮好的 服务态度没得话说", "complain", "praise"),
    ("你们这个新换的智能表是不是走得特别快 换了以后电费快翻倍了 换表之前连个招呼都不打", "praise", "complaint"),
    ("抢修的师傅态度太差了", "complain", "complaint"),
    ("表扬一下昨天来修电的王师傅", "praise", "praise"),
])
async def test_praise_and_complaint_are_told_apart_by_the_words(actions_gateway, said, intent, kind):
    """p-praise-003, p-complaint-016: praise heard as a complaint was filed as one (with an
    apology), and a complaint heard as praise as praise."""
    from actions.feedback import ValidateFeedbackForm

    events, messages = await run_action(ValidateFeedbackForm(), make_tracker(said, intent=intent, form="feedback_form"))
    assert slot_values(events).get("feedback_type") == kind
    apologised = {"utter_apology_complaint", "utter_apology_angry"} & set(responses(messages))
    assert bool(apologised) == (kind == "complaint")


@pytest.mark.asyncio
async def test_i_just_want_to_complain_switches_praise_to_a_complaint(actions_gateway):
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("我不是要查电费 我就是要投诉 换表之前连个招呼都不打", intent="complain", form="feedback_form",
                           slots={"requested_slot": "contact_phone", "feedback_type": "praise",
                                  "feedback_content": "你们这个新换的智能表是不是走得特别快"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events).get("feedback_type") == "complaint"


def followups(events) -> list:
    return [e.get("name") for e in events if e.get("event") == "followup"]


@pytest.mark.asyncio
@pytest.mark.parametrize("before, reply", [
    ("我们这栋楼十楼以上全部没电 电梯也停了 楼道灯也不亮",
     "维护范围按产权分界：……如果是电表以前的线路或整栋楼都没电，告诉我地址，我马上为您报修。"),
    ("同志啊 俺家没得电了 从早上到现在", "不好意思，我没太明白。您是想查询办理进度吗？"),
])
async def test_an_address_after_a_fault_told_opens_the_repair(actions_gateway, before, reply):
    """r-repair-010, r-repair-012: a fault told (answered with who maintains what, or not
    understood), then the address: the bot offered a menu, then an outage check, never the repair."""
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": before}, {"event": "bot", "text": reply}]
    tracker = make_tracker("栖霞区迈皋桥路109号锦绣苑13栋", intent="inform", prior_events=prior,
                           entities=[{"entity": "address", "value": "栖霞区迈皋桥路109号锦绣苑13栋"}])
    events, _ = await run_action(ActionAnswerBareDetail(), tracker)
    assert followups(events) == ["fault_form"]


@pytest.mark.asyncio
async def test_an_address_after_an_outage_question_gets_the_choices(actions_gateway):
    from actions.menu import ActionAnswerBareDetail

    prior = [{"event": "user", "text": "你好"}, {"event": "bot", "text": "您好，请问有什么可以帮您？"}]
    tracker = make_tracker("栖霞区迈皋桥路109号锦绣苑13栋", intent="inform", prior_events=prior,
                           entities=[{"entity": "address", "value": "栖霞区迈皋桥路109号锦绣苑13栋"}])
    events, messages = await run_action(ActionAnswerBareDetail(), tracker)
    assert followups(events) == []
    assert responses(messages) == ["utter_address_noted_choices"]


@pytest.mark.asyncio
async def test_a_corrected_account_number_at_the_address_question_gives_its_address(actions_gateway):
    """r-mixed-028: "搞错了 是3201000008 多打了个8" (the 户号 typed with an extra digit before)
    was read as an incomplete address; the account's registered address is meant."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("搞错了 是3201000008 多打了个8", intent="inform", form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "家里插座全没电 灯也不亮"},
                           candidates={"address": "搞错了 是3201000008 多打了个8"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert "雨花南路238号" in (slot_values(events).get("address") or "")


@pytest.mark.asyncio
async def test_a_fault_with_a_bill_question_by_the_way_is_repaired_first(actions_gateway):
    """r-mixed-001 (and n-mixed-002): "家里突然没电了 顺便问下我这个月电费多少" went to the bill's
    identity questions; the repair was never filed."""
    from actions.bills import ValidateBillForm
    from actions.faults import fault_with_bill_aside

    events, _ = await run_action(ValidateBillForm(), make_tracker("家里突然没电了 顺便问下我这个月电费多少",
                                                                  intent="query_bill", form="bill_form"))
    assert followups(events) == ["fault_form"]
    assert not fault_with_bill_aside("家里没电了 是不是欠费了 帮我查下电费")
    assert not fault_with_bill_aside("查一下电费")


@pytest.mark.asyncio
async def test_asked_to_say_it_plainer_the_last_answer_comes_again_in_other_words(actions_gateway):
    """q-info-002: "我岁数大了 你说简单点 就说几点到几点便宜" right after the peak/valley hours
    (NLU heard a suggestion) filed a suggestion ticket."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "峰谷电 夜里几点开始便宜啊"},
             {"event": "slot", "name": "faq_topic", "value": "peak_valley_hours"},
             {"event": "bot", "text": "居民峰谷分时：峰时段8:00～21:00，谷时段21:00～次日8:00。"}]
    tracker = make_tracker("我岁数大了 你说简单点 就说几点到几点便宜", intent="suggest", form="feedback_form",
                           prior_events=prior, slots={"faq_topic": "peak_valley_hours"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert followups(events) == ["action_listen"]
    assert slot_values(events).get("feedback_type") is None
    assert any("21" in (m.get("text") or "") or "晚上9点" in (m.get("text") or "") for m in messages)


@pytest.mark.parametrize("said", ["我不会弄手机 电费到哪块交", "银行能交吗", "电费在什么地方交"])
def test_where_to_pay_in_other_words_is_how_to_pay(said):
    """q-info-019: "我不会弄手机 电费到哪块交" got the 户号 question of a bill query."""
    from actions.bills import ASKS_OWN_BILL, ASKS_WHERE_TO_PAY

    assert ASKS_WHERE_TO_PAY.search(said) and not ASKS_OWN_BILL.search(said)


def test_asking_whether_to_call_someone_is_no_wish_for_a_person():
    """q-info-022: "要不要再打电话叫人过来合闸" at the reconnection's 户号 question handed the
    customer to a (closed) desk and opened a callback."""
    from actions.handoff import names_a_person

    assert not names_a_person("要不要再打电话叫人过来合闸")
    assert names_a_person("要不要转人工啊 我说不清楚") and names_a_person("叫个人给我打电话")


@pytest.mark.asyncio
async def test_a_complaint_and_a_phone_said_at_the_area_question_are_kept(actions_gateway):
    """p-mixed-004: "赶紧派人来 另外我要投诉 … 电话18920521734" at the area question was taken as
    a plea; the complaint and the phone were lost and the area asked again, twice."""
    from actions.faults import ValidateFaultForm

    said = "赶紧派人来 另外我要投诉 前两天打电话的时候说马上来 结果到现在也没来 电话18920521734"
    tracker = make_tracker(said, intent="report_fault", form="fault_form",
                           slots={"requested_slot": "repair_area_type", "address": "迈皋桥路109号锦绣苑13栋楼下",
                                  "address_checked": "迈皋桥路109号锦绣苑13栋楼下", "hazard": True,
                                  "fault_description": "电线耷拉下来快挨到地了"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values.get("feedback_type") == "complaint" and values.get("contact_phone") == "18920521734"


@pytest.mark.asyncio
async def test_power_lost_while_a_complaint_is_taken_is_repaired_first(actions_gateway):
    """p-mixed-002: "哎 你看 说着说着又没电了 整个家里都黑了" inside a complaint was added to it;
    the repair never came."""
    from actions.feedback import ValidateFeedbackForm

    tracker = make_tracker("哎 你看 说着说着又没电了 整个家里都黑了", intent="report_fault", form="feedback_form",
                           slots={"requested_slot": "contact_phone", "feedback_type": "complaint",
                                  "feedback_content": "我要投诉 这个月第三次停电了 你们线路到底行不行"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert followups(events) == ["fault_form"]
    assert "第三次停电" in (slot_values(events).get("feedback_content") or "")


@pytest.mark.asyncio
@pytest.mark.parametrize("said, repaired", [("店里总闸老是跳 一上午跳了五六次 生意都没法做", True),
                                            ("我家停电了两天都没人来修", False)])
async def test_a_fault_heard_as_a_complaint_is_repaired(actions_gateway, said, repaired):
    """r-repair-005: a shop's main switch tripping again and again (NLU: a complaint) was filed as a
    complaint; a grievance with it stays one."""
    from actions.feedback import ValidateFeedbackForm

    events, _ = await run_action(ValidateFeedbackForm(), make_tracker(said, intent="complain", form="feedback_form"))
    assert (followups(events) == ["fault_form"]) == repaired


@pytest.mark.asyncio
async def test_an_outage_asked_on_a_day_goes_to_the_outage_lookup(actions_gateway):
    """r-outage-006: "过几天村里是不是要停电改造线路" got the repair times (FAQ)."""
    from actions.faq import ActionAnswerFaq

    events, _ = await run_action(ActionAnswerFaq(), make_tracker("过几天村里是不是要停电改造线路", intent="faq"))
    assert followups(events) == ["outage_form"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["你们说好昨天下午来换电表的 我在家等了一下午 人影子都没见到",
                                  "你们95598的接线员把我电话挂了 态度太差"])
async def test_a_broken_promise_told_without_the_word_complaint_is_a_complaint(actions_gateway, said):
    """p-complaint-002, p-complaint-005: a story of a crew that never came (NLU: nothing) got "没太理解",
    then the hand-off; the complaint was never taken."""
    from actions.handoff import ActionDefaultAskAffirmation

    events, messages = await run_action(ActionDefaultAskAffirmation(), make_tracker(said, intent="nlu_fallback"))
    assert followups(events) == ["feedback_form"]
    assert slot_values(events).get("feedback_type") == "complaint"
    assert "utter_apology_complaint" in responses(messages) or "utter_apology_angry" in responses(messages)


def test_a_village_before_the_way_from_its_committee_stays_in_the_address():
    """r-hazard-007: "浦口区永宁街道青山村 村委会往东200米" was stored as 村委会往东200 (the
    village's committee read as a village of its own)."""
    from actions.faults import whole_address

    assert whole_address("村委会往东200", "浦口区永宁街道青山村 村委会往东200米").startswith("浦口区永宁街道青山村")


def test_the_business_meant_is_the_one_the_customer_wants_not_the_one_asked_about():
    """r-mixed-004: "想在小区车位装个充电桩，另外问下峰谷电价谷时段几点开始算" was offered a
    tariff change application; the customer wanted a charger."""
    from actions.faq import intended_business

    assert intended_business("想在小区车位装个充电桩，另外问下峰谷电价谷时段几点开始算") == "ev_charger"
    assert intended_business("我想改成峰谷电价") == "tariff_change"


@pytest.mark.asyncio
async def test_a_suggestion_after_praise_filed_without_a_phone_asks_no_phone_again(actions_gateway):
    """r-mixed-016: praise filed with no reply phone, then "另外提个建议 …": the reply phone was
    asked again and the suggestion never filed."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "想表扬一下昨天来我们村修线的两个师傅"},
             {"event": "bot", "text": "需要留个联系电话以便回复您吗？不需要请回复“不用”。"},
             {"event": "user", "text": "溧水区晶桥镇枫香岭村 师傅一个姓周"},
             {"event": "bot", "text": "您的表扬已登记，编号：BY20261203008。\n感谢您的认可！"}]
    tracker = make_tracker("另外提个建议 停电前能不能提前发个短信 村里老人不看微信群的", intent="suggest",
                           form="feedback_form", prior_events=prior)
    form = ValidateFeedbackForm()
    events, _ = await run_action(form, tracker)
    tracker.slots.update(slot_values(events))
    assert await form.required_slots([], None, tracker, {}) == ["feedback_type", "feedback_content"]


@pytest.mark.parametrize("said", ["这次我不报修了 直接投诉 要个正式的解决方案", "投诉他 我手机13770912468"])
def test_a_complaint_in_few_words_is_named(said):
    """p-complaint-015, p-complaint-005: "直接投诉", "投诉他 我手机…" after the closed desk's callback
    was not understood, or its phone went to the callback and no complaint was taken."""
    from actions.common import wants_to_complain
    from actions.handoff import feedback_named

    assert wants_to_complain(said) and feedback_named(said) == "complaint"


@pytest.mark.asyncio
async def test_works_announced_and_asked_about_are_an_outage_question(actions_gateway):
    """r-outage-008: "物业群里说湖南路要搞电缆迁改 我家受不受影响" (NLU: a complaint) was taken as
    a complaint; the planned outage on 湖南路 was never told."""
    from actions.feedback import ValidateFeedbackForm

    events, _ = await run_action(ValidateFeedbackForm(), make_tracker("物业群里说湖南路要搞电缆迁改 我家受不受影响",
                                                                      intent="complain", form="feedback_form"))
    assert followups(events) == ["outage_form"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, follows", [("好 那我现在就登记一下过户", ["application_form"]), ("好的 谢谢 再见", [])])
async def test_a_request_heard_as_goodbye_is_served(actions_gateway, said, follows):
    """q-mixed-008: "好 那我现在就登记一下过户" (NLU: goodbye) got "祝您生活愉快，再见！"."""
    from actions.common import ActionWrapUp

    events, messages = await run_action(ActionWrapUp(), make_tracker(said, intent="goodbye"))
    assert followups(events) == follows
    if follows:
        assert slot_values(events).get("business_type") == "name_transfer" and not messages


@pytest.mark.asyncio
async def test_thanks_that_mention_a_bill_start_nothing(actions_gateway):
    from actions.common import ActionWrapUp

    events, _ = await run_action(ActionWrapUp(), make_tracker("谢谢 电费我明天去交", intent="thank"))
    assert followups(events) == []


@pytest.mark.asyncio
async def test_more_of_the_story_at_the_address_question_is_kept(actions_gateway):
    """r-repair-013: "楼上楼下也是这样 好像整栋楼都缺了一相电" at the address question was
    rejected as an incomplete address (twice the address question)."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("楼上楼下也是这样 好像整栋楼都缺了一相电", intent="report_fault", form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "家里一半的插座有电一半没电"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert "缺了一相电" in (slot_values(events).get("fault_description") or "")
    assert "utter_address_incomplete" not in responses(messages)


@pytest.mark.asyncio
async def test_one_phone_serves_the_callback_and_the_tip_off_it_interrupted(actions_gateway):
    """r-mixed-012: a person asked for in the middle of a tip-off while the desk was closed: the
    phone given next went to the callback only; the tip-off was never filed."""
    import uuid

    from actions import api_client
    from actions.feedback import ValidateFeedbackForm

    conversation = f"test-{uuid.uuid4().hex[:8]}"
    callback = await api_client.create_ticket({"request_key": f"test:{conversation}", "type": "callback",
                                               "summary": "回电：客户要求转人工", "channel": "web",
                                               "conversation_id": conversation})
    prior = [{"event": "user", "text": "这事我想跟你们人工说 能转人工吗"},
             {"event": "bot", "text": f"人工客服现在暂时无法接入。已为您登记回电工单 {callback['ticket_no']}，"
                                      "为便于回电，请直接回复您的手机号。"}]
    tracker = make_tracker("我电话13851907732 不要透露我的名字", intent="inform", form="feedback_form",
                           sender_id=conversation, prior_events=prior,
                           slots={"requested_slot": "contact_phone", "feedback_type": "tip_off",
                                  "feedback_content": "楼下那个棋牌室偷电 电线直接从电线杆上搭下来的"})
    events, _ = await run_action(ValidateFeedbackForm(), tracker)
    assert slot_values(events).get("contact_phone") == "13851907732"
    assert (await api_client.get_ticket(callback["ticket_no"]))["contact_phone"] == "13851907732"


@pytest.mark.asyncio
async def test_a_request_at_its_phone_question_goes_on_after_the_closed_desks_callback(actions_gateway, monkeypatch):
    """r-mixed-012: at the tip-off's phone question, the callback's notice asked for the phone and
    the tip-off was dropped; now it goes on, and the customer is told one number serves both."""
    from actions import api_client
    from actions.handoff import ActionHandoff

    async def handed(payload):
        return {"customer_notified": True, "status": "missed"}

    monkeypatch.setattr(api_client, "create_handoff", handed)
    tracker = make_tracker("这事我想跟你们人工说 能转人工吗", intent="request_human", form="feedback_form",
                           slots={"requested_slot": "contact_phone", "feedback_type": "tip_off",
                                  "feedback_content": "楼下那个棋牌室偷电"})
    events, messages = await run_action(ActionHandoff(), tracker)
    assert not any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    assert "utter_request_goes_on_same_phone" in responses(messages)
    assert slot_values(events).get("requested_slot") == "contact_phone"


@pytest.mark.asyncio
async def test_the_firm_spoken_for_earlier_is_the_applicant(actions_gateway):
    """r-mixed-027: a factory's electrician ("我是苏源电子的电工…") reported a fault, then asked for
    a capacity increase: the applicant's name was asked as if nobody had said who applies."""
    from actions.applications import ValidateApplicationForm

    prior = [{"event": "user", "text": "我是苏源电子的电工 厂里一条进线没电了 另外两条正常"},
             {"event": "bot", "text": "已为您登记故障报修，工单号：BX20261203012。"}]
    tracker = make_tracker("还有 厂里明年要加设备 增容也一起帮我登记一下 从630加到1000千伏安", intent="apply_service",
                           form="application_form", prior_events=prior,
                           slots={"business_type": "capacity_change"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events).get("applicant_name") == "苏源电子"


@pytest.mark.asyncio
@pytest.mark.parametrize("said, intent, form, validator", [
    ("我上个月报的充电桩 批下来了没有", "apply_service", "application_form", "ValidateApplicationForm"),
    ("我上礼拜举报过隔壁偷电 你们处理了没有啊", "tip_off", "feedback_form", "ValidateFeedbackForm"),
])
async def test_where_an_earlier_request_stands_is_a_progress_question(actions_gateway, said, intent, form, validator):
    """t-progress-003, t-progress-004: the progress of an earlier charger application, or tip-off,
    filed a new application (on the account, with a 4-step schedule) or a new tip-off."""
    import actions.applications
    import actions.feedback

    runner = getattr(actions.applications, validator, None) or getattr(actions.feedback, validator)
    events, _ = await run_action(runner(), make_tracker(said, intent=intent, form=form))
    assert followups(events) == ["progress_form"]


@pytest.mark.asyncio
async def test_paid_arrears_told_inside_a_repair_end_it_for_the_reconnection(actions_gateway):
    """t-arrears_reconnect-001: a cold night's cut, then "我欠费了？", then "刚才用微信交掉了 到底多久
    能来电" at the address question: the repair went on and a crew was promised (90 minutes)."""
    from actions.faults import ValidateFaultForm

    tracker = make_tracker("刚才用微信交掉了 到底多久能来电 今晚能不能来", intent="query_outage", form="fault_form",
                           slots={"requested_slot": "address", "fault_description": "大冷天晚上把我家电停了"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert followups(events) == ["action_answer_faq"]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)


@pytest.mark.asyncio
async def test_the_arrears_check_for_a_power_cut_survives_a_bill_query_heard_on_the_way(actions_gateway):
    """t-arrears_reconnect-002: "可能是欠费吧 我好像两个月没交了" inside a repair started the arrears
    check; the 户号 heard as a bill query reset it, the plain bill was shown, and the repair was
    filed next although a bill was overdue."""
    from actions.bills import ActionQueryBill, ValidateBillForm

    prior = [{"event": "slot", "name": "bill_query", "value": "suspect_arrears"},
             {"event": "user", "text": "可能是欠费吧 我好像两个月没交了"},
             {"event": "bot", "text": "我先帮您查一下是不是欠费停电，需要先核对一下身份。"}]
    tracker = make_tracker("3201000018", intent="query_bill", form="bill_form", prior_events=prior,
                           slots={"requested_slot": "account_no", "fault_description": "家里突然没电了"},
                           candidates={"bill_query": "details"})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events).get("bill_query") == "suspect_arrears"
    tracker = make_tracker("6985", intent="inform", prior_events=prior,
                           slots={"identity_verified": True, "verified_account_no": "3201000018",
                                  "account_no": "3201000018", "bill_query": slot_values(events)["bill_query"],
                                  "fault_description": "家里突然没电了"})
    events, messages = await run_action(ActionQueryBill(), tracker)
    assert "utter_arrears_cut" in responses(messages)
    assert "fault_form" not in followups(events)


def test_the_accounts_name_changed_in_plain_words_is_a_name_transfer():
    """t-application-002: "电费户头还是原来房东的名字 要改成我的" got the list of businesses, four times."""
    from actions.applications import business_from_text

    assert business_from_text("我买的二手房 电费户头还是原来房东的名字 要改成我的") == "name_transfer"
    assert business_from_text("我的名字怎么写") is None


@pytest.mark.asyncio
async def test_praise_heard_as_a_question_on_paying_is_praise(actions_gateway):
    """s-praise-002: "给你们新街口营业厅的小姑娘点个赞 教我弄了半天手机交电费" got how to pay in the app."""
    from actions.faq import ActionAnswerFaq

    events, _ = await run_action(ActionAnswerFaq(), make_tracker(
        "给你们新街口营业厅的小姑娘点个赞 教我弄了半天手机交电费 一点都不嫌烦", intent="faq"))
    assert followups(events) == ["feedback_form"] and slot_values(events).get("feedback_type") == "praise"


def test_a_bill_asked_first_and_a_fault_by_the_way_both_get_served():
    """s-mixed-001: "查下电费 顺便家里卫生间那一路没电了": the repair was filed, the bill never shown."""
    from actions.faults import fault_with_bill_aside

    assert fault_with_bill_aside("查下电费 顺便家里卫生间那一路没电了")


@pytest.mark.asyncio
@pytest.mark.parametrize("said, intent, form, validator", [
    ("我觉得你们应该在老小区多装点公共充电桩啊 我们这种老小区没固定车位 希望你们考虑一下", "apply_service",
     "application_form", "ValidateApplicationForm"),
    ("我是曹家桥村的 村里老人都不看手机app 停电通知能不能提前几天发短信或者在村里广播", "query_outage",
     "outage_form", "ValidateOutageForm"),
])
async def test_a_suggestion_to_the_utility_is_a_suggestion(actions_gateway, said, intent, form, validator):
    """t-suggestion-004, t-suggestion-002: a suggestion to build more public chargers started a
    charger application; one on outage notices got the village's planned outage and nothing filed."""
    import actions.applications
    import actions.faults

    runner = getattr(actions.applications, validator, None) or getattr(actions.faults, validator)
    events, _ = await run_action(runner(), make_tracker(said, intent=intent, form=form))
    assert followups(events) == ["feedback_form"] and slot_values(events).get("feedback_type") == "suggestion"


def test_a_question_on_ones_own_outage_or_application_is_no_suggestion():
    from actions.common import makes_a_suggestion

    assert not makes_a_suggestion("能不能提前告诉我明天几点停电")
    assert not makes_a_suggestion("我想申请充电桩 希望你们快点")


@pytest.mark.asyncio
async def test_a_tip_off_about_a_barbecue_shop_is_no_fault(actions_gateway):
    """t-tip_off-001: "楼下那个烧烤店好像绕过电表直接拉线用电" (烧 read as burning) went from the
    tip-off to a repair and back until Rasa's circuit breaker stopped the bot ("系统暂时繁忙")."""
    from actions.feedback import ValidateFeedbackForm
    from actions.faults import tells_a_fault

    assert not tells_a_fault("我想反映个事 我们楼下那个烧烤店好像绕过电表直接拉线用电")
    assert tells_a_fault("插座烧了 还冒烟")
    events, _ = await run_action(ValidateFeedbackForm(), make_tracker(
        "我想反映个事 我们楼下那个烧烤店好像绕过电表直接拉线用电", intent="complain", form="feedback_form"))
    assert "fault_form" not in followups(events)


def test_changing_ones_mind_about_a_tariff_change_stops_it():
    """t-mixed-004: "哎等下 算了算了 我老公说不划算 不改了" at the name question was read as a name."""
    from actions.common import STOP_WORDS

    assert STOP_WORDS.search("哎等下 算了算了 我老公说不划算 不改了")


@pytest.mark.asyncio
async def test_paid_right_after_the_cut_was_found_to_be_arrears_gets_the_reconnection(actions_gateway):
    from actions.bills import ActionQueryBill

    prior = [{"event": "user", "text": "6985"},
             {"event": "bot", "text": "查到了：2026年10月、2026年11月的电费共 269.56 元还没有交，停电是欠费造成的，不是线路故障。"}]
    tracker = make_tracker("交好了 那还要派人来修吗？哦不用是吧 那我就等着", intent="query_bill", prior_events=prior,
                           slots={"identity_verified": True, "verified_account_no": "3201000018",
                                  "account_no": "3201000018"})
    events, messages = await run_action(ActionQueryBill(), tracker)
    assert "utter_arrears_cut" not in responses(messages) and "utter_bill_details" not in responses(messages)


@pytest.mark.asyncio
async def test_a_corrected_flat_does_not_tell_the_planned_outage_again(actions_gateway):
    """Tried in the widget: "哦不对 是四零一" after "…锦绣苑三栋四零二" repeated the planned
    outage notice of 湖南路 word for word before taking the correction."""
    from actions.faults import ValidateFaultForm, same_building

    assert same_building("鼓楼区湖南路231号 锦绣苑3栋402", "鼓楼区湖南路231号 锦绣苑3栋401")
    assert not same_building("湖南路231号", "湖南路232号")
    tracker = make_tracker("哦不对 是四零一", intent="inform", form="fault_form",
                           slots={"requested_slot": "contact_phone", "address": "鼓楼区湖南路231号 锦绣苑3栋402",
                                  "address_checked": "鼓楼区湖南路231号 锦绣苑3栋402", "repair_area_type": "urban",
                                  "fault_description": "家里没电了"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert (slot_values(events).get("address") or "").endswith("401")
    assert not any("计划停电" in (m.get("text") or "") for m in messages)


@pytest.mark.asyncio
async def test_a_phone_given_with_call_me_at_the_phone_question_is_the_answer(actions_gateway):
    """b-suggestion-001 (the CI subset, with the last model): "要回复的话打我电话130…" at the
    suggestion's phone question was heard as a wish for a person and handed off."""
    from actions.feedback import ValidateFeedbackForm
    from actions.handoff import ActionHandoff

    said = "要回复的话打我电话13057736291"
    slots = {"requested_slot": "contact_phone", "feedback_type": "suggestion",
             "feedback_content": "停电通知能不能提前发短信 我们老年人不会看那个app"}
    events, _ = await run_action(ActionHandoff(), make_tracker(said, intent="request_human", form="feedback_form",
                                                               slots=slots))
    assert followups(events) == ["feedback_form"]
    events, _ = await run_action(ValidateFeedbackForm(), make_tracker(
        said, intent="request_human", form="feedback_form", slots=slots,
        entities=[{"entity": "phone", "value": "13057736291"}], candidates={"contact_phone": "13057736291"}))
    assert "action_handoff" not in followups(events)
    assert slot_values(events).get("contact_phone") == "13057736291"


@pytest.mark.asyncio
async def test_stopping_an_application_to_ask_about_it_answers_and_does_not_restart_it(actions_gateway):
    """Tried in the widget (make run): "算了 先不办了 我想先问问过户要带啥" inside a name transfer
    got "已为您取消…现在为您办理过户", "答不上来" and the name question of a new application."""
    from actions.common import ActionCancelForm

    tracker = make_tracker("算了 先不办了 我想先问问过户要带啥", intent="cancel", active_loop="application_form",
                           entities=[{"entity": "business_type", "value": "name_transfer"}],
                           slots={"requested_slot": "contact_phone", "business_type": "name_transfer"})
    events, messages = await run_action(ActionCancelForm(), tracker)
    assert "application_form" not in followups(events)
    assert "utter_form_cancelled_then" in responses(messages)
    assert "utter_cannot_answer" not in responses(messages)
    assert any("身份证" in (m.get("text") or "") for m in messages)


@pytest.mark.asyncio
async def test_a_question_on_the_business_applied_for_is_answered_once(actions_gateway):
    """Found with make run: "那要多久能办好" inside a name transfer got the same answer twice."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("那要多久能办好", intent="faq", form="application_form",
                           slots={"requested_slot": "contact_phone", "business_type": "name_transfer"})
    _, messages = await run_action(ValidateApplicationForm(), tracker)
    texts = [m.get("text") for m in messages if m.get("text") and "工作日" in m.get("text")]
    assert len(texts) == 1


@pytest.mark.asyncio
async def test_a_stop_with_a_question_inside_an_application_stops_it(actions_gateway):
    """Found with make run: "算了 先不办了 我想先问问过户要带啥" at the applicant's phone question
    got the documents and the phone question again; the stop was not heard."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("算了 先不办了 我想先问问过户要带啥", intent="cancel", form="application_form",
                           slots={"requested_slot": "contact_phone", "business_type": "name_transfer"})
    events, _ = await run_action(ValidateApplicationForm(), tracker)
    assert followups(events) == ["action_cancel_form"]


def test_coming_back_when_the_papers_are_ready_is_a_stop():
    """Found with make run: "行 那我准备好了再来" at the phone question got "没有识别到手机号"."""
    from actions.common import STOP_WORDS

    assert STOP_WORDS.search("行 那我准备好了再来") and STOP_WORDS.search("材料带齐了再办")
    assert not STOP_WORDS.search("资料都准备好了 我叫张伟")


@pytest.mark.asyncio
async def test_going_to_look_first_is_no_bill_query(actions_gateway):
    """Found with make run: "哦等等 我先看看是不是我家空开的问题" (NLU: a bill query, sure) got the
    户号 question."""
    from actions.bills import ValidateBillForm

    events, messages = await run_action(ValidateBillForm(), make_tracker("哦等等 我先看看是不是我家空开的问题",
                                                                        intent="query_bill", form="bill_form"))
    assert responses(messages) == ["utter_wait_ok"]
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
