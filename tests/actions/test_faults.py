"""Fault and outage actions against a real gateway: hazards, known outages, repair tickets."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions import api_client
from actions.common import format_time
from actions.faults import (
    ActionQueryOutage,
    ActionSubmitFault,
    ValidateFaultForm,
    ValidateOutageForm,
    find_hazards,
    parse_area_answer,
)
from bot.store.models import Customer, Outage, Ticket
from tests.support.dialogue import make_tracker, run_action, slot_values, texts
from bot.store import STORE


def tickets(app) -> list[Ticket]:
    with app[STORE].session() as session:
        rows = session.execute(select(Ticket).order_by(Ticket.id)).scalars().all()
        for row in rows:
            _ = row.milestones  # load before the session closes
        return rows


def ticket_count(app) -> int:
    with app[STORE].session() as session:
        return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


async def covered_address(app) -> str:
    """An address inside a demo outage that the API reports (current or within 7 days)."""
    with app[STORE].session() as session:
        outages = session.execute(select(Outage)).scalars().all()
        candidates = [f"{o.area}{o.scope[0]}8号" for o in outages if o.scope]
    for address in candidates:
        if await api_client.find_outages(address=address):
            return address
    raise AssertionError("the demo data has no outage in the next 7 days")


def test_hazard_words_and_area_answers():
    assert find_hazards("楼下电线落地了，还在冒火花")
    assert find_hazards("插座漏电，手被电了一下")
    assert not find_hazards("家里停电了，邻居家有电")
    assert parse_area_answer("城区") == "urban"
    assert parse_area_answer("我们这是乡下") == "rural"
    assert parse_area_answer("山里头，挺偏的，偏远山区") == "remote"
    assert parse_area_answer('/inform{"repair_area_type": "remote"}') == "remote"
    assert parse_area_answer("不知道") is None


def arrival_minutes(ticket: Ticket) -> float:
    arrival = next(m for m in ticket.milestones if "到达" in m.name)
    return (arrival.due_at - ticket.created_at).total_seconds() / 60


async def report_at(address: str, slots=None, sender_id="conv-area"):
    """The address turn of a fault form; returns the slot values it set."""
    tracker = make_tracker(address, intent="inform", form="fault_form", candidates={"address": address},
                           slots={"requested_slot": "address", **(slots or {})}, sender_id=sender_id)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    return slot_values(events), messages


@pytest.mark.asyncio
@pytest.mark.parametrize("address, area_type, minutes", [
    ("溧水区晶桥镇枫香岭村25号", "remote", 120),    # the old guess: 村 -> rural, 90 minutes
    ("六合区竹镇镇大泉村113号", "remote", 120),
    ("江宁区湖熟街道和平社区81号", "rural", 90),    # the old guess: 社区 -> urban, 45 minutes
    ("江宁区秣陵街道将军大道177号", "urban", 45),
])
async def test_the_configured_places_decide_the_repair_deadline(actions_gateway, address, area_type, minutes):
    app = actions_gateway.app
    values, _ = await report_at(address)
    assert values["repair_area_type"] == area_type
    slots = {**values, "address": address, "fault_description": "家里没电了", "contact_phone": "13900004444"}
    await run_action(ActionSubmitFault(), make_tracker("13900004444", slots=slots, sender_id=f"conv-{address}"))
    stored = tickets(app)[-1]
    assert stored.area_type == area_type
    assert minutes - 5 <= arrival_minutes(stored) <= minutes + 5


@pytest.mark.asyncio
async def test_an_undecided_place_is_asked_and_the_answer_kept(actions_gateway):
    app = actions_gateway.app
    values, _ = await report_at("竹镇镇新庄村5号")
    assert values["repair_area_type"] is None
    assert values.get("requested_slot", "repair_area_type") == "repair_area_type"  # Rasa asks it
    slots = {**values, "address": "竹镇镇新庄村5号", "requested_slot": "repair_area_type"}
    tracker = make_tracker("偏远山区", intent="inform", form="fault_form", slots=slots)
    events, _ = await run_action(ValidateFaultForm(), tracker)
    answered = slot_values(events)
    assert answered["repair_area_type"] == "remote"
    slots = {**slots, **answered, "fault_description": "停电了", "contact_phone": "13900005555"}
    await run_action(ActionSubmitFault(), make_tracker("13900005555", slots=slots, sender_id="conv-asked"))
    stored = tickets(app)[-1]
    assert stored.area_type == "remote" and 115 <= arrival_minutes(stored) <= 125


@pytest.mark.asyncio
async def test_a_verified_account_decides_its_own_address(actions_gateway):
    app = actions_gateway.app
    with app[STORE].session() as session:
        remote = session.execute(select(Customer).where(Customer.area_type == "remote")).scalars().first()
    account = {"identity_verified": True, "account_no": remote.account_no, "area_type": "remote",
               "customer_address": remote.address}
    values, _ = await report_at(remote.address, slots=account)
    assert values["repair_area_type"] == "remote"
    # Elsewhere, the place decides (a relative's house in town), not the account.
    values, _ = await report_at("鼓楼区湖南路231号", slots=account)
    assert values["repair_area_type"] == "urban"


@pytest.mark.asyncio
async def test_hazard_gets_safety_advice_first_and_an_urgent_ticket(actions_gateway):
    app = actions_gateway.app
    opening = "楼下电线落地了，还在冒火花，好吓人"
    tracker = make_tracker(opening, intent="report_fault", form="fault_form", sender_id="conv-hazard")
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert messages[0].get("response") == "utter_safety_wire"  # before any question
    assert values["hazard"] is True
    assert values["fault_description"] == opening  # the report already says what happened
    assert values.get("requested_slot", "address") == "address"

    slots = {**values, "address": "南京市玄武区中山路18号3栋楼下", "contact_phone": "13900001111"}
    tracker = make_tracker("13900001111", intent="inform", slots=slots, sender_id="conv-hazard",
                           channel="wechat")
    events, messages = await run_action(ActionSubmitFault(), tracker)
    stored = tickets(app)[-1]
    assert stored.type == "repair" and stored.priority == "urgent"
    assert stored.conversation_id == "conv-hazard" and stored.channel == "wechat"
    assert stored.contact_phone == "13900001111"
    assert stored.details["hazard"] is True
    reply = texts(messages)[0]
    assert stored.ticket_no in reply and "紧急" in reply
    arrival = next(m for m in stored.milestones if "到达" in m.name)
    from bot.store.types import iso_local
    assert format_time(iso_local(arrival.due_at)) in reply
    assert slot_values(events)["last_ticket_no"] == stored.ticket_no
    # registered is not repaired: the satisfaction question waits for the end of the conversation
    assert "utter_ask_rating" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_rural_account_address_gets_the_rural_commitment(actions_gateway):
    app = actions_gateway.app
    with app[STORE].session() as session:
        rural = session.execute(select(Customer).where(Customer.area_type == "rural")).scalars().first()
    # The customer gives the account number instead of an address.
    tracker = make_tracker(rural.account_no, intent="inform", form="fault_form",
                           candidates={"address": rural.account_no}, slots={"requested_slot": "address"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["address"] == rural.address and values["address_from_account"] is True
    assert rural.address not in "".join(texts(messages))  # never read out to an unverified person
    slots = {**values, "fault_description": "家里没电了，邻居家有电", "contact_phone": "13900002222"}
    events, messages = await run_action(ActionSubmitFault(), make_tracker("13900002222", slots=slots))
    stored = tickets(app)[-1]
    assert values["repair_area_type"] == "rural"
    assert stored.account_no == rural.account_no and stored.area_type == "rural"
    assert stored.priority == "normal"
    arrival = next(m for m in stored.milestones if "到达" in m.name)
    minutes = (arrival.due_at - stored.created_at).total_seconds() / 60
    assert 85 <= minutes <= 95  # the rule for the countryside: 90 minutes


@pytest.mark.asyncio
async def test_an_account_said_with_a_name_at_the_address_question_gives_the_accounts_address(actions_gateway):
    app = actions_gateway.app
    with app[STORE].session() as session:
        customer = session.execute(select(Customer).where(Customer.area_type == "rural")).scalars().first()
    for said in (f"户号{customer.account_no} {customer.name}", f"南京某某电子有限公司 户号{customer.account_no}"):
        tracker = make_tracker(said, intent="inform", form="fault_form", candidates={"address": said},
                               slots={"requested_slot": "address"})
        values = slot_values((await run_action(ValidateFaultForm(), tracker))[0])
        assert values["address"] == customer.address and values["address_from_account"] is True


@pytest.mark.asyncio
async def test_a_repair_without_a_phone_is_called_back_on_the_registered_phone_of_the_account_said(actions_gateway):
    app = actions_gateway.app
    with app[STORE].session() as session:
        customer = session.execute(select(Customer)).scalars().first()
    base = {"requested_slot": "contact_phone", "address": "软件大道275号长江苑13栋2303",
            "fault_description": "家里没电了", "repair_area_type": "urban"}
    # The 户号 and a name where the phone was asked; later "对" once the 户号 is known.
    for said, slots in ((f"户号{customer.account_no} {customer.name}", {}),
                        ("对", {"account_no": customer.account_no}),
                        (f"{customer.name} 对的", {"account_no": customer.account_no})):
        tracker = make_tracker(said, intent="inform", form="fault_form", slots={**base, **slots})
        events, messages = await run_action(ValidateFaultForm(), tracker)
        values = slot_values(events)
        assert values["contact_phone"] == "registered" and values.get("account_no", customer.account_no) == \
            customer.account_no
        assert customer.phone not in "".join(texts(messages)) and "登记的手机号" in texts(messages)[0]
    # Without any 户号 a yes is no phone.
    events, _ = await run_action(ValidateFaultForm(), make_tracker("对", intent="affirm", form="fault_form",
                                                                    slots=base))
    assert slot_values(events).get("contact_phone") is None
    # The ticket: linked to the account, the gateway calls its registered phone.
    slots = {**base, "requested_slot": None, "contact_phone": "registered", "account_no": customer.account_no}
    await run_action(ActionSubmitFault(), make_tracker("对", slots=slots, sender_id="conv-registered-contact"))
    stored = tickets(app)[-1]
    assert stored.account_no == customer.account_no and stored.contact_phone == customer.phone


@pytest.mark.asyncio
async def test_no_power_now_where_only_a_later_outage_is_planned_goes_on_to_a_repair(actions_gateway):
    address = await covered_address(actions_gateway.app)  # its outages are days ahead
    for said in (f"{address}这边是不是在停电检修啊 我店里没电了", "明天才停？那今天咋也没电了 你们派人来看看吧"):
        events, messages = await run_action(ActionQueryOutage(), make_tracker(said, slots={"address": address}))
        assert "原因" in texts(messages)[0]
        assert messages[-1].get("response") == "utter_outage_not_now_repair"
        assert [e["name"] for e in events if e["event"] == "followup"] == ["fault_form"]
        assert slot_values(events)["address"] == address
    # A question about plans is answered, nothing more.
    events, messages = await run_action(ActionQueryOutage(), make_tracker("明天停不停电", slots={"address": address}))
    assert "fault_form" not in [e.get("name") for e in events if e["event"] == "followup"]


def outages_going_on_now(app) -> None:
    """The demo outages are planned for the coming days; this makes them go on now."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    with app[STORE].session() as session:
        for outage in session.execute(select(Outage)).scalars():
            outage.start_at, outage.end_at = now - timedelta(hours=1), now + timedelta(hours=3)


@pytest.mark.asyncio
async def test_known_outage_is_told_and_no_ticket_is_made(actions_gateway):
    app = actions_gateway.app
    address = await covered_address(app)
    outages_going_on_now(app)  # only an outage going on now explains a house without power
    before = ticket_count(app)
    tracker = make_tracker(address, intent="inform", form="fault_form",
                           candidates={"address": address}, slots={"requested_slot": "address"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["outage_notice"]
    assert values["requested_slot"] is None  # the outage explains it: the form ends
    notice = texts(messages)[0]
    assert "原因" in notice and ("恢复供电" in notice or "至" in notice)

    events, messages = await run_action(ActionSubmitFault(), make_tracker(address, slots=values))
    assert ticket_count(app) == before
    assert "工单号" not in "".join(texts(messages))

    # Reporting again for the same address after the notice goes on to a repair ticket.
    slots = {"outage_shown_for": address, "requested_slot": "address"}
    tracker = make_tracker(address, intent="inform", form="fault_form", candidates={"address": address},
                           slots=slots)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert not slot_values(events).get("outage_notice")
    assert slot_values(events).get("requested_slot", "fault_description") == "fault_description"


@pytest.mark.asyncio
async def test_outage_query_lists_outages_or_offers_a_repair(actions_gateway):
    address = await covered_address(actions_gateway.app)
    events, messages = await run_action(ActionQueryOutage(), make_tracker("查停电", slots={"address": address}))
    assert "原因" in texts(messages)[0]
    assert slot_values(events)["outage_shown_for"] == address

    events, messages = await run_action(
        ActionQueryOutage(), make_tracker("查停电", slots={"address": "南京市鼓楼区不存在路1号"}))
    assert messages[0].get("response") == "utter_no_outage"


@pytest.mark.asyncio
async def test_no_outage_told_again_for_a_refined_address_is_not_the_same_text(actions_gateway):
    # "鼓楼区这边停电吗" → no outage; "具体是不存在路1号3栋" → checked again: said so, not word for word.
    earlier = [{"event": "user", "text": "不存在路那边停电吗"},
               {"event": "bot", "text": "暂未查到该地址附近有计划停电或故障停电。",
                "metadata": {"utter_action": "utter_no_outage"}}]
    events, messages = await run_action(
        ActionQueryOutage(), make_tracker("具体是不存在路1号3栋", intent="inform", prior_events=earlier,
                                          slots={"address": "南京市鼓楼区不存在路1号3栋"}))
    assert messages[0].get("response") == "utter_no_outage_again"
    assert messages[0]["text"] != earlier[1]["text"]
    assert any(button["payload"] == "/report_fault" for button in messages[0]["buttons"])


@pytest.mark.asyncio
async def test_short_address_is_asked_again(actions_gateway):
    tracker = make_tracker("家里", intent="inform", form="outage_form", candidates={"address": "家里"},
                           slots={"requested_slot": "address"})
    events, messages = await run_action(ValidateOutageForm(), tracker)
    assert slot_values(events)["address"] is None
    assert messages[0].get("response") == "utter_address_incomplete"  # the text is in domain.yml


@pytest.mark.asyncio
async def test_a_retried_submit_makes_one_ticket(actions_gateway):
    app = actions_gateway.app
    slots = {"address": "南京市玄武区中山路20号", "fault_description": "整栋楼都停电了",
             "contact_phone": "13900003333"}
    before = ticket_count(app)
    first = make_tracker("13900003333", slots=slots, sender_id="conv-retry", message_id="m-1")
    again = make_tracker("13900003333", slots=slots, sender_id="conv-retry", message_id="m-1")
    _, first_messages = await run_action(ActionSubmitFault(), first)
    _, again_messages = await run_action(ActionSubmitFault(), again)
    assert ticket_count(app) == before + 1
    assert texts(first_messages)[0] == texts(again_messages)[0]  # the same ticket number both times


@pytest.mark.asyncio
async def test_gateway_down_never_claims_a_ticket(dead_gateway):
    slots = {"address": "南京市玄武区中山路20号", "fault_description": "电表箱冒烟", "hazard": True,
             "contact_phone": "13900003333"}
    events, messages = await run_action(ActionSubmitFault(), make_tracker("13900003333", slots=slots))
    said = "".join(texts(messages))
    assert "工单号" not in said and "已为您登记" not in said
    assert "95598" in said
    assert slot_values(events)["handoff_reason"] == "api_failure"
    assert "last_ticket_no" not in slot_values(events)


def test_an_address_is_kept_whole():
    from actions.faults import whole_address
    said = "浦口区永宁街道青山村 就在村口小卖部旁边 青山村15号门口"
    assert whole_address("浦口区永宁街道青山村", said) == said
    assert whole_address("江宁区横溪街道石塘村", "江宁区横溪街道石塘村 村委会旁边 石塘村12号对面") \
        == "江宁区横溪街道石塘村 村委会旁边 石塘村12号对面"
    assert whole_address("南京市玄武区中山路18号", "地址是南京市玄武区中山路18号") == "南京市玄武区中山路18号"
    assert whole_address("鼓楼区", "鼓楼区那边停电了") == "鼓楼区"  # nothing more to keep


@pytest.mark.asyncio
async def test_the_area_question_takes_an_address_or_gives_way_after_one_ask(actions_gateway):
    slots = {"address": "户号3201000025 尾号7513", "requested_slot": "repair_area_type"}
    tracker = make_tracker("晶桥镇枫香岭村25号", intent="inform", form="fault_form", slots=slots)
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["repair_area_type"] == "remote"
    tracker = make_tracker("电话是13951682730", intent="inform", form="fault_form",
                           slots={"address": "白下路100号金色家园5栋702", "requested_slot": "repair_area_type"})
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["repair_area_type"] == "unknown"  # not asked again: the default applies
    app = actions_gateway.app
    slots = {"address": "白下路100号金色家园5栋702", "repair_area_type": "unknown",
             "fault_description": "跳闸推不上去", "contact_phone": "13951682730"}
    await run_action(ActionSubmitFault(), make_tracker("13951682730", slots=slots, sender_id="conv-unknown"))
    stored = tickets(app)[-1]
    assert stored.area_type == "urban" and 40 <= arrival_minutes(stored) <= 50


@pytest.mark.asyncio
async def test_a_district_named_in_an_earlier_message_decides(actions_gateway):
    earlier = [{"event": "user", "text": "秦淮区", "parse_data": {"intent": {"name": "inform"}}}]
    tracker = make_tracker("白下路100号金色家园5栋702", intent="inform", form="fault_form",
                           candidates={"address": "白下路100号金色家园5栋702"},
                           slots={"requested_slot": "address"}, prior_events=earlier)
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["repair_area_type"] == "urban"


@pytest.mark.asyncio
async def test_an_outage_planned_for_later_does_not_stop_the_repair_now(actions_gateway):
    app = actions_gateway.app
    address = await covered_address(app)  # planned in the coming days, not going on now
    tracker = make_tracker(address, intent="inform", form="fault_form",
                           candidates={"address": address}, slots={"requested_slot": "address"})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert not values.get("outage_notice")  # told, but the fault now is still reported
    assert "原因" in texts(messages)[0]


@pytest.mark.asyncio
async def test_a_hazard_is_not_told_about_an_outage_planned_for_later(actions_gateway):
    """A smoking meter box at an address with a planned outage in three days was told about that
    outage before the phone question; what matters to that customer is the crew coming now."""
    address = await covered_address(actions_gateway.app)  # planned in the coming days, not now
    tracker = make_tracker(address, intent="inform", form="fault_form", candidates={"address": address},
                           slots={"requested_slot": "address", "hazard": True})
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events)["address"] == address and not slot_values(events).get("outage_notice")
    assert not any("停电" in text for text in texts(messages))


def test_the_day_an_outage_question_asks_about():
    from datetime import date

    from actions.faults import asked_days

    wednesday = date(2026, 12, 2)
    assert asked_days("明天停不停电", wednesday)[:2] == (date(2026, 12, 3), date(2026, 12, 3))
    assert asked_days("那礼拜六有没有", wednesday)[:2] == (date(2026, 12, 5), date(2026, 12, 5))
    assert asked_days("周一呢", wednesday)[:2] == (date(2026, 12, 7), date(2026, 12, 7))  # the coming Monday
    assert asked_days("下周三停电吗", wednesday)[:2] == (date(2026, 12, 9), date(2026, 12, 9))
    assert asked_days("这周末会停电吗", wednesday)[:2] == (date(2026, 12, 5), date(2026, 12, 6))
    assert asked_days("12月8号停电吗", wednesday)[:2] == (date(2026, 12, 8), date(2026, 12, 8))
    assert asked_days("1号停不停", wednesday)[:2] == (date(2027, 1, 1), date(2027, 1, 1))
    assert asked_days("那8号呢", wednesday)[:2] == (date(2026, 12, 8), date(2026, 12, 8))
    assert asked_days("中山路18号停电了吗", wednesday) is None  # a house number is no day
    assert asked_days("5号楼停电了", wednesday) is None
    assert asked_days("这几天有没有停电计划", wednesday) is None


@pytest.mark.asyncio
async def test_an_outage_question_with_a_day_is_answered_for_that_day(actions_gateway):
    from datetime import timedelta

    from actions.common import now_shanghai, parse_iso

    address = await covered_address(actions_gateway.app)
    outage = (await api_client.find_outages(address=address))[0]
    day = max(parse_iso(outage["start"]).date(), now_shanghai().date())
    asked = f"{day.month}月{day.day}日停不停电"
    _, messages = await run_action(ActionQueryOutage(), make_tracker(asked, slots={"address": address}))
    assert "原因" in texts(messages)[0] and "没有安排停电" not in texts(messages)[0]

    listed = await api_client.find_outages(address=address)
    free = next(d for d in (now_shanghai().date() + timedelta(days=n) for n in range(1, 7))
                if not any(parse_iso(o["start"]).date() <= d <= parse_iso(o["end"]).date() for o in listed))
    _, messages = await run_action(ActionQueryOutage(),
                                   make_tracker(f"那{free.month}月{free.day}号呢 有没有", slots={"address": address}))
    told = texts(messages)
    assert told[0].startswith(f"{free.month}月{free.day}号（") and "没有安排停电" in told[0]
    assert any("原因" in t for t in told[1:])  # and what there is in the week


@pytest.mark.asyncio
async def test_a_question_about_times_after_an_outage_answer_gets_that_outages_times(actions_gateway):
    from actions.faq import ActionAnswerFaq

    address = await covered_address(actions_gateway.app)
    prior = [{"event": "user", "text": "中山路这几天停电吗"}, {"event": "action", "name": "action_query_outage"},
             {"event": "bot", "text": "您所在的区域有计划停电安排"}]
    tracker = make_tracker("那要是停的话几点到几点", intent="faq", slots={"outage_shown_for": address},
                           prior_events=prior)
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_query_outage"]
    assert slot_values(events)["address"] == address and not messages
    # Without an outage answer just before, the same words are a FAQ question as before.
    tracker = make_tracker("那要是停的话几点到几点", intent="faq", slots={"outage_shown_for": address})
    events, _ = await run_action(ActionAnswerFaq(), tracker)
    assert not [e for e in events if e.get("event") == "followup"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text, follows", [("那礼拜六呢", True), ("明天呢", True), ("后天停不停", True),
                                           ("那就好 谢谢", False),
                                           ("明天去营业厅办过户要带啥材料啊 身份证复印件行不行", False)])
async def test_another_day_asked_right_after_an_outage_answer_is_asked_of_that_address(actions_gateway, text,
                                                                                        follows):
    from actions.handoff import ActionDefaultAskAffirmation

    address = await covered_address(actions_gateway.app)
    prior = [{"event": "user", "text": "中山路这几天停电吗"}, {"event": "action", "name": "action_query_outage"},
             {"event": "bot", "text": "您所在的区域有计划停电安排"}]
    tracker = make_tracker(text, intent="nlu_fallback", slots={"outage_shown_for": address}, prior_events=prior)
    events, _ = await run_action(ActionDefaultAskAffirmation(), tracker)
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert (followups == ["action_query_outage"]) is follows
    if follows:
        assert slot_values(events)["address"] == address
    # Not right after an outage answer: the day alone is no follow-up.
    events, _ = await run_action(ActionDefaultAskAffirmation(),
                                 make_tracker(text, intent="nlu_fallback", slots={"outage_shown_for": address}))
    assert "action_query_outage" not in [e.get("name") for e in events if e.get("event") == "followup"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text, to_notices", [("停电通知不要再发了", True), ("重新订阅停电通知", True),
                                              ("明天停电吗 停电前能通知一下吗", False), ("中华路明天停不停电", False)])
async def test_words_about_ones_notices_at_the_outage_question_go_to_the_notices(actions_gateway, text, to_notices):
    tracker = make_tracker(text, intent="query_outage", form="outage_form", slots={"requested_slot": None})
    events, _ = await run_action(ValidateOutageForm(), tracker)
    followups = [e.get("name") for e in events if e.get("event") == "followup"]
    assert (followups == ["action_manage_notices"]) is to_notices


@pytest.mark.asyncio
async def test_a_number_corrected_in_the_same_message_is_the_address(actions_gateway):
    from actions.common import resolve_inline_correction

    assert resolve_inline_correction("江宁区湖熟街道和平社区60号 哦不对 是62号 60号是隔壁") == "江宁区湖熟街道和平社区62号"
    assert resolve_inline_correction("石塘村45号，不对不对，47号") == "石塘村47号"
    assert resolve_inline_correction("中山路18号3栋501") == "中山路18号3栋501"
    said = "家里没电了 软件大道275号长江苑13栋1303 哦不对 是2303 我打错了"
    tracker = make_tracker(said, intent="report_fault", form="fault_form",
                           candidates={"address": "软件大道275号长江苑13栋1303"}, slots={"requested_slot": "address"})
    values = slot_values((await run_action(ValidateFaultForm(), tracker))[0])
    assert values["address"].endswith("软件大道275号长江苑13栋2303")


@pytest.mark.asyncio
async def test_a_phone_corrected_right_after_the_repair_was_registered_goes_onto_that_ticket(actions_gateway):
    import uuid

    from actions import api_client
    from actions.handoff import ActionDefaultAskAffirmation
    from actions.menu import ActionAnswerBareDetail

    for action in (ActionAnswerBareDetail(), ActionDefaultAskAffirmation()):
        ticket = await api_client.create_ticket({
            "request_key": f"test:{uuid.uuid4().hex}", "type": "repair", "summary": "迈皋桥路109号：家里停电",
            "channel": "web", "contact_phone": "18920521743", "details": {"address": "迈皋桥路109号"}})
        prior = [{"event": "user", "text": "电话18920521743"},
                 {"event": "bot", "text": f"已为您登记故障报修，工单号：{ticket['ticket_no']}。"}]
        tracker = make_tracker("哎不对 手机号打错了 是18920521734", intent="inform", prior_events=prior,
                               entities=[{"entity": "phone", "value": "18920521734"}])
        _, messages = await run_action(action, tracker)
        assert messages[0].get("response") == "utter_ticket_phone_corrected"
        assert (await api_client.get_ticket(ticket["ticket_no"]))["contact_phone"] == "18920521734"


@pytest.mark.asyncio
async def test_an_application_said_with_the_outage_question_comes_next(actions_gateway):
    address = await covered_address(actions_gateway.app)
    prior = [{"event": "user", "text": "我想装个充电桩 哎对了 后天我们村是不是停电啊"},
             {"event": "active_loop", "name": "outage_form"}, {"event": "bot", "text": "请告诉我要查询的地址"}]
    tracker = make_tracker(address, intent="inform", slots={"address": address}, prior_events=prior)
    events, messages = await run_action(ActionQueryOutage(), tracker)
    assert any("原因" in t for t in texts(messages))
    assert slot_values(events)["business_type"] == "ev_charger"
    assert [e["name"] for e in events if e["event"] == "followup"] == ["application_form"]
    assert not any("满意" in t for t in texts(messages))  # more is to come: no survey yet


@pytest.mark.asyncio
async def test_what_to_do_now_asked_during_a_hazard_report_is_answered_and_the_question_stands(actions_gateway):
    slots = {"hazard": True, "requested_slot": "address", "fault_description": "电表箱冒火星子"}
    tracker = make_tracker("我要不要去把总闸拉下来啊 我一个老太婆不敢弄", intent="inform", form="fault_form", slots=slots)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    assert [m.get("response") for m in messages] == ["utter_hazard_what_to_do_now"]
    assert slot_values(events)["requested_slot"] == "address" and slot_values(events)["address"] is None
    # Not a hazard: the same words are no safety question (e.g. a tripped switch at home).
    tracker = make_tracker("我要不要去把总闸拉下来啊", intent="inform", form="fault_form",
                           slots={**slots, "hazard": False})
    _, messages = await run_action(ValidateFaultForm(), tracker)
    assert "utter_hazard_what_to_do_now" not in [m.get("response") for m in messages]


@pytest.mark.asyncio
async def test_a_yes_with_a_plea_at_the_phone_question_uses_the_registered_phone_of_the_account_known(actions_gateway):
    slots = {"requested_slot": "contact_phone", "address": "中华路66号2栋302", "fault_description": "家里没电了",
             "repair_area_type": "urban", "account_no": "3201000003"}
    tracker = make_tracker("对 就这个地址 赶紧来人", intent="affirm", form="fault_form", slots=slots)
    events, messages = await run_action(ValidateFaultForm(), tracker)
    values = slot_values(events)
    assert values["contact_phone"] == "registered" and values["requested_slot"] is None
    assert "登记的手机号" in texts(messages)[0]


@pytest.mark.asyncio
async def test_a_room_number_corrected_in_the_next_message_corrects_the_address(actions_gateway):
    from actions.common import corrected_value

    slots = {"address": "软件大道275号长江苑13栋1303", "requested_slot": "repair_area_type"}
    tracker = make_tracker("哦不对 是2303 我打错了", intent="inform", form="fault_form", slots=slots)
    assert corrected_value(tracker, "address") == "软件大道275号长江苑13栋2303"
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("address") == "软件大道275号长江苑13栋2303"


@pytest.mark.asyncio
async def test_the_rest_of_an_address_said_in_one_breath_is_kept(actions_gateway):
    said = "家里没电了 宁丹路122号翠竹园12栋2004"
    tracker = make_tracker(said, intent="report_fault", form="fault_form", candidates={"address": "宁丹路122号"},
                           slots={"requested_slot": None})
    values = slot_values((await run_action(ValidateFaultForm(), tracker))[0])
    assert values["address"] == "宁丹路122号翠竹园12栋2004"


@pytest.mark.asyncio
async def test_the_account_a_reporter_named_is_on_the_repair_ticket_even_at_another_address(actions_gateway):
    app = actions_gateway.app
    with app[STORE].session() as session:
        customer = session.execute(select(Customer)).scalars().first()
    slots = {"address": "秣陵街道将军大道177号", "fault_description": "全厂停电", "contact_phone": "13647202292",
             "repair_area_type": "urban", "account_no": customer.account_no, "address_from_account": False}
    await run_action(ActionSubmitFault(), make_tracker("对", slots=slots, sender_id="conv-stated-account"))
    assert tickets(app)[-1].account_no == customer.account_no


@pytest.mark.asyncio
async def test_a_repair_called_back_on_the_registered_phone_shows_no_empty_phone_line(actions_gateway):
    app = actions_gateway.app
    with app[STORE].session() as session:
        customer = session.execute(select(Customer)).scalars().first()
    slots = {"address": "长乐路88号5栋201", "fault_description": "家里没电了", "contact_phone": "registered",
             "repair_area_type": "urban", "account_no": customer.account_no}
    _, messages = await run_action(ActionSubmitFault(), make_tracker("对", slots=slots, sender_id="conv-no-empty-phone"))
    filed = messages[0]
    assert not filed["response"].endswith("_contact") and "联系电话" not in texts(messages)[0]


@pytest.mark.asyncio
async def test_asking_for_a_crew_inside_the_repair_is_no_digression(actions_gateway):
    slots = {"address": "长乐路88号5栋201", "requested_slot": "repair_area_type"}
    tracker = make_tracker("明天才检修？那今天咋没电的 派人来看看", intent="query_outage", form="fault_form", slots=slots)
    events, _ = await run_action(ValidateFaultForm(), tracker)
    assert slot_values(events).get("requested_slot") == "repair_area_type"


# --- a dark home of a verified account with overdue bills: the arrears are said after the filing --

def _dark_home_report(account_no: str, description: str, verified: bool = True, hazard: bool = False):
    slots = {"address": "江宁区横溪街道石塘村70号", "fault_description": description, "contact_phone": "13900006666",
             "account_no": account_no, "identity_verified": verified,
             "verified_account_no": account_no if verified else None, "hazard": hazard}
    return make_tracker("13900006666", slots=slots, sender_id=f"conv-dark-{account_no}-{verified}-{hazard}")


@pytest.mark.asyncio
async def test_a_dark_home_with_overdue_bills_is_told_of_them_after_the_filing(actions_gateway):
    _, messages = await run_action(ActionSubmitFault(), _dark_home_report("3201000018", "家里没电了 邻居家有电"))
    assert messages[0]["response"].startswith("utter_fault_filed")
    note = messages[1]
    assert note["response"] == "utter_fault_filed_overdue_note"
    assert note["total"] == "162.91" and "月" in note["months"]
    assert tickets(actions_gateway.app)[-1].type == "repair"  # the ticket stands


@pytest.mark.asyncio
@pytest.mark.parametrize("account_no, description, verified, hazard", [
    ("3201000018", "家里没电了", False, False),           # identity not proved: no bills shown
    ("3201000017", "家里没电了", True, False),            # unpaid but not past due: no cut
    ("3201000018", "整栋楼都没电了", True, False),         # others dark too: a line, not arrears
    ("3201000018", "电线掉地上冒火花", True, True),        # a hazard is only the hazard
])
async def test_no_arrears_note_where_it_cannot_be_the_cause(actions_gateway, account_no, description, verified, hazard):
    _, messages = await run_action(ActionSubmitFault(), _dark_home_report(account_no, description, verified, hazard))
    assert messages[0]["response"].startswith("utter_fault_filed")
    assert "utter_fault_filed_overdue_note" not in [m.get("response") for m in messages]
