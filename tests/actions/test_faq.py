"""FAQ answers: the question asked, follow-ups in context, no text twice, honest "I don't know"."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from actions.faq import ActionAnswerFaq, follow_up_topic
from actions.handoff import ActionDefaultAskAffirmation
from actions.tariffs import tariffs
from tests.support.dialogue import DOMAIN, make_tracker, run_action, slot_values, texts

ROOT = Path(__file__).resolve().parents[2]


def faq_tracker(text: str, topic: str, slots=None, prior_events=(), confidence=0.9):
    tracker = make_tracker(text, intent="faq", slots=slots, prior_events=prior_events)
    tracker.latest_message["response_selector"] = {"faq": {"response": {
        "intent_response_key": f"faq/{topic}", "utter_action": f"utter_faq/{topic}", "confidence": confidence}}}
    return tracker


def variations(name: str) -> list[str]:
    return [v["text"] for v in DOMAIN["responses"][name]]


def answered(topic: str, text: str) -> list:
    """Events of an earlier turn in which the bot answered ``topic`` with ``text``."""
    return [{"event": "user", "text": "前面的问题", "parse_data": {"intent": {"name": "faq"}}},
            {"event": "action", "name": "action_answer_faq"},
            {"event": "bot", "text": text},
            {"event": "slot", "name": "faq_topic", "value": topic}]


@pytest.mark.asyncio
async def test_the_selected_answer_is_given_and_its_topic_kept():
    events, messages = await run_action(ActionAnswerFaq(), faq_tracker("电费多扣了怎么退", "refund_double_charge"))
    assert texts(messages)[0] in variations("utter_faq/refund_double_charge")
    assert slot_values(events)["faq_topic"] == "refund_double_charge"


@pytest.mark.asyncio
@pytest.mark.parametrize("previous, follow_up, topic", [
    ("meter_calibration", "那要钱吗", "meter_test_fee"),
    ("meter_calibration", "不准的话能退钱吗", "meter_test_refund"),
    ("docs_meter_move", "收费不", "fee_meter_move"),
    ("docs_new_connection", "要多久", "duration_new_connection"),
    ("business_hall", "周六开门吗", "business_hall_weekend"),
    ("tiered_tariff", "那商业的呢", "price_commercial"),
])
async def test_a_follow_up_is_answered_in_the_context_of_the_previous_answer(previous, follow_up, topic):
    first = variations(f"utter_faq/{previous}")[0]
    slots = {"faq_topic": previous}
    # Whatever the selector makes of the short follow-up on its own (here: repair fees).
    tracker = faq_tracker(follow_up, "repair_fee", slots=slots, prior_events=answered(previous, first))
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert texts(messages)[0] in variations(f"utter_faq/{topic}")
    assert slot_values(events)["faq_topic"] == topic
    # The same follow-up that NLU could not place at all (two-stage fallback) too.
    tracker = make_tracker(follow_up, intent="nlu_fallback", slots=slots, prior_events=answered(previous, first))
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert texts(messages)[0] in variations(f"utter_faq/{topic}")


def test_a_long_message_or_a_stale_topic_is_no_follow_up():
    assert follow_up_topic("meter_calibration", "那要钱吗") == "meter_test_fee"
    assert follow_up_topic("meter_calibration", "我想问问新装电表的时候那个费用要多少钱啊") is None
    assert follow_up_topic(None, "要钱吗") is None
    assert follow_up_topic("hotline", "要钱吗") is None


@pytest.mark.asyncio
async def test_nothing_is_repeated_word_for_word():
    seen: list = []
    prior: list = []
    for _ in range(3):
        tracker = faq_tracker("谷电几点开始", "peak_valley_hours", prior_events=prior)
        _, messages = await run_action(ActionAnswerFaq(), tracker)
        text = texts(messages)[0]
        assert text not in seen
        seen.append(text)
        prior += answered("peak_valley_hours", text)
    assert seen[-1] in variations("utter_faq_repeat")  # the third time: what is unclear? a person?
    assert "转人工" in seen[-1]


@pytest.mark.asyncio
async def test_answers_depend_on_the_known_customer_type():
    shop = faq_tracker("要改成商业电价吗", "tariff_business_change", slots={"customer_type": "commercial"})
    _, messages = await run_action(ActionAnswerFaq(), shop)
    assert "已经是商业用电" in texts(messages)[0]
    home = faq_tracker("要改成商业电价吗", "tariff_business_change", slots={"customer_type": "residential"})
    _, messages = await run_action(ActionAnswerFaq(), home)
    assert "现在执行居民电价" in texts(messages)[0]
    unknown = faq_tracker("要改成商业电价吗", "tariff_business_change")
    _, messages = await run_action(ActionAnswerFaq(), unknown)
    assert "已经是商业用电" not in texts(messages)[0] and "工商业电价" in texts(messages)[0]
    tiers = faq_tracker("电价多少钱一度", "tiered_tariff", slots={"customer_type": "commercial"})
    _, messages = await run_action(ActionAnswerFaq(), tiers)
    assert "不执行居民阶梯电价" in texts(messages)[0]


@pytest.mark.asyncio
@pytest.mark.parametrize("text, guess", [
    ("你们供电公司今年还招人吗", "query_progress"),  # ("谷电是几点到几点啊" is answered now: its words name it)
    ("你们公司的老总叫什么名字", "query_progress"),
    ("鼓楼区那个新开的商场用的是哪家的电啊", "report_fault"),
])
async def test_an_unknown_question_gets_an_honest_answer_not_a_guessed_flow(text, guess):
    tracker = make_tracker(text, intent="nlu_fallback", confidence=0.5)
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                {"name": guess, "confidence": 0.35}]
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert [m.get("response") for m in messages] == ["utter_cannot_answer"]
    assert slot_values(events)["handoff_reason"] == "fallback"  # "转人工" next: the reason is known
    for variation in DOMAIN["responses"]["utter_cannot_answer"]:
        assert "95598" in variation["text"] and "您是想" not in variation["text"]
        assert variation["buttons"][0]["payload"] == "/request_human"


@pytest.mark.asyncio
async def test_a_statement_the_model_leans_on_is_still_offered_as_that_request():
    tracker = make_tracker("电表那边有点问题", intent="nlu_fallback", confidence=0.5)
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.5},
                                                {"name": "report_fault", "confidence": 0.45}]
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert "故障报修" in texts(messages)[0]


def test_quoted_prices_and_time_limits_are_the_configured_ones():
    faq = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))["responses"]
    data = tariffs()
    configured = {f"{t['price']:.4f}" for t in data["residential"]["tiers"]}
    configured |= {f"{data['residential']['time_of_use'][k]['price']:.4f}" for k in ("peak", "valley")}
    configured |= {f"{data[k]['price']:.4f}" for k in ("commercial", "industrial")}
    for name, items in faq.items():
        for item in items:
            for price in re.findall(r"0\.\d{4}", item["text"]):
                assert price in configured, (name, price)
    sla = yaml.safe_load((ROOT / "sla.yml").read_text(encoding="utf-8"))
    profiles = sla["ticket_types"]["application"]["business_types"]
    last = {name: int(p["milestones"][-1]["limit"].split()[0]) for name, p in profiles.items() if isinstance(p, dict)}
    new_connection = " ".join(i["text"] for i in faq["utter_faq/duration_new_connection"])
    assert f"{last['residential_new_connection']}个工作日" in new_connection
    assert f"{last['high_voltage_single']}个工作日" in new_connection
    arrival = sla["ticket_types"]["repair"]["milestones"][0]["limit"]
    for item in faq["utter_faq/repair_arrival_time"]:
        for area in ("urban", "rural", "remote"):
            assert arrival[area].split()[0] + "分钟" in item["text"]
    other = faq["utter_faq/duration_other_change"][0]["text"]
    assert f"{last['other_change']}个工作日" in other


@pytest.mark.asyncio
async def test_a_business_asking_for_documents_gets_the_business_documents():
    factory = faq_tracker("厂里变压器要从315扩到630千伏安，办增容要啥手续", "docs_capacity_change")
    events, messages = await run_action(ActionAnswerFaq(), factory)
    assert texts(messages)[0] in variations("utter_faq/docs_business")
    assert "营业执照" in texts(messages)[0] and "户主身份证" not in texts(messages)[0]
    home = faq_tracker("家里增容要啥手续", "docs_capacity_change")
    _, messages = await run_action(ActionAnswerFaq(), home)
    assert texts(messages)[0] in variations("utter_faq/docs_capacity_change")


@pytest.mark.asyncio
async def test_how_long_right_after_a_request_is_about_that_request(actions_gateway):
    from tests.support.gateway import auth_headers
    created = await actions_gateway.post("/api/v1/tickets", json={
        "type": "application", "summary": "移表申请", "channel": "web", "business_type": "meter_move",
        "request_key": "faq:duration"}, headers=auth_headers())
    ticket = await created.json()
    tracker = faq_tracker("要几天能办好", "duration_other_change", slots={"last_ticket_no": ticket["ticket_no"]})
    _, messages = await run_action(ActionAnswerFaq(), tracker)
    assert ticket["ticket_no"] in texts(messages)[0] or "业务办结" in texts(messages)[0]
    general = faq_tracker("过户要几天", "duration_other_change", slots={"last_ticket_no": ticket["ticket_no"]})
    _, messages = await run_action(ActionAnswerFaq(), general)
    assert texts(messages)[0] in variations("utter_faq/duration_other_change")


@pytest.mark.asyncio
async def test_when_the_crew_comes_right_after_a_repair_is_that_crews_committed_time(actions_gateway):
    """al-repair-002: "山里路不好走 师傅大概多长时间能到" right after a remote repair was filed got
    the table of 45/90/120 minutes instead of the 120 minutes promised."""
    from tests.support.gateway import auth_headers
    created = await actions_gateway.post("/api/v1/tickets", json={
        "type": "repair", "summary": "电压低", "channel": "web", "area_type": "remote",
        "details": {"address": "溧水晶桥镇枫香岭村25号"}, "request_key": "faq:arrival"}, headers=auth_headers())
    ticket = await created.json()
    tracker = faq_tracker("山里路不好走 师傅大概多长时间能到", "repair_arrival_time",
                          slots={"last_ticket_no": ticket["ticket_no"]})
    _, messages = await run_action(ActionAnswerFaq(), tracker)
    assert ticket["ticket_no"] in texts(messages)[0] and "45分钟" not in texts(messages)[0]
    general = faq_tracker("师傅一般多久能到", "repair_arrival_time")
    _, messages = await run_action(ActionAnswerFaq(), general)
    assert texts(messages)[0] in variations("utter_faq/repair_arrival_time")


# --- an answer about a business the customer means to do offers the application ----------

@pytest.mark.asyncio
@pytest.mark.parametrize("text, topic, business", [
    ("我家屋顶想装光伏 自发自用余电上网 要去哪里申请", "pv_settlement", "pv_connection"),
    ("茶社不开了 要把电销户 押金能退吧", "deposit", "account_closing"),
    ("过户要带什么材料", "docs_name_transfer", "name_transfer"),
])
async def test_an_answer_about_a_business_offers_to_apply(text, topic, business):
    events, messages = await run_action(ActionAnswerFaq(), faq_tracker(text, topic))
    assert slot_values(events)["offered_business"] == business
    offer = messages[-1]
    assert "在线提交" in offer["text"] and business in offer["buttons"][0]["payload"]


@pytest.mark.asyncio
async def test_a_question_about_no_business_offers_nothing():
    events, messages = await run_action(ActionAnswerFaq(), faq_tracker("峰谷电是几点到几点", "peak_valley_hours"))
    assert slot_values(events)["offered_business"] is None
    assert not any("在线提交" in t for t in texts(messages))


def offered(business: str, turns_ago: int) -> list:
    events = [{"event": "user", "text": "想装光伏 去哪申请", "parse_data": {"intent": {"name": "faq"}}},
              {"event": "slot", "name": "offered_business", "value": business}]
    for turn in range(turns_ago - 1):
        events.append({"event": "user", "text": f"别的话{turn}", "parse_data": {"intent": {"name": "inform"}}})
    return events


@pytest.mark.asyncio
async def test_a_yes_right_after_the_offer_starts_that_application():
    from actions.menu import ActionAffirmOutsideForm

    tracker = make_tracker("嗯 办吧", intent="affirm", slots={"offered_business": "pv_connection"},
                           prior_events=offered("pv_connection", 1))
    events, messages = await run_action(ActionAffirmOutsideForm(), tracker)
    assert slot_values(events)["business_type"] == "pv_connection"
    assert {"event": "followup", "name": "application_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    assert messages == []


@pytest.mark.asyncio
async def test_a_yes_long_after_the_offer_is_only_a_yes():
    from actions.menu import ActionAffirmOutsideForm

    tracker = make_tracker("好的", intent="affirm", slots={"offered_business": "pv_connection"},
                           prior_events=offered("pv_connection", 4))
    events, messages = await run_action(ActionAffirmOutsideForm(), tracker)
    assert not any(e.get("event") == "followup" for e in events)
    assert messages[0].get("response") == "utter_anything_else"


@pytest.mark.asyncio
async def test_register_me_after_the_offer_names_the_business(actions_gateway):
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker("行 帮我登记一下", intent="apply_service", form="application_form",
                           slots={"offered_business": "pv_connection"}, prior_events=offered("pv_connection", 1))
    events, messages = await run_action(ValidateApplicationForm(), tracker)
    assert slot_values(events)["business_type"] == "pv_connection"
    assert "光伏并网" in texts(messages)[0]


def ranked_tracker(text: str, ranking: list, intent: str = "faq"):
    """A message whose selector ranked ``ranking`` [(topic, confidence)...], first one chosen."""
    tracker = make_tracker(text, intent=intent)
    entries = [{"intent_response_key": f"faq/{topic}", "utter_action": f"utter_faq/{topic}", "confidence": confidence}
               for topic, confidence in ranking]
    tracker.latest_message["response_selector"] = {"faq": {"response": dict(entries[0]), "ranking": entries}}
    return tracker


@pytest.mark.asyncio
async def test_an_answer_about_something_the_message_never_mentions_gives_way_to_one_it_does():
    text = "房子是二手的 电费户名还是原来房东的 我想改成我自己的名字 要带啥材料啊"
    tracker = ranked_tracker(text, [("peak_valley_hours", 0.82), ("docs_name_transfer", 0.09), ("late_fee", 0.05)])
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert texts(messages)[0] in variations("utter_faq/docs_name_transfer")
    assert slot_values(events)["faq_topic"] == "docs_name_transfer"


@pytest.mark.asyncio
async def test_a_request_no_answer_is_about_goes_to_its_form():
    text = "六合竹镇大泉村113号 听说过几天要停电 停多长时间 我家有冷柜"
    tracker = ranked_tracker(text, [("pv_settlement", 0.7), ("e_invoice", 0.2), ("meter_reading", 0.1)])
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert not messages
    assert [e["name"] for e in events if e["event"] == "followup"] == ["outage_form"]


@pytest.mark.asyncio
async def test_nothing_about_it_and_no_request_is_an_honest_i_dont_know():
    tracker = ranked_tracker("你们领导叫什么名字", [("peak_valley_hours", 0.6), ("tiered_tariff", 0.3)])
    _, messages = await run_action(ActionAnswerFaq(), tracker)
    assert [m.get("response") for m in messages] == ["utter_cannot_answer"]


@pytest.mark.asyncio
async def test_power_not_back_after_paying_arrears_gets_the_reconnection_answer_whatever_was_selected():
    tracker = ranked_tracker("我刚在支付宝把欠的电费交了 咋还没来电呢", [("pay_by_wechat_alipay", 0.8),
                                                                    ("reconnection", 0.1)])
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert texts(messages)[0] in variations("utter_faq/reconnection")
    # A new connection's "多久能通电" is no reconnection.
    tracker = ranked_tracker("新房申请用电多久能通电", [("duration_new_connection", 0.9)])
    _, messages = await run_action(ActionAnswerFaq(), tracker)
    assert texts(messages)[0] in variations("utter_faq/duration_new_connection")


def faq_examples(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in data.get("nlu") or []:
        if str(item.get("intent", "")).startswith("faq/"):
            for line in item["examples"].strip().splitlines():
                text = re.sub(r"\[([^\]]*)\]\{[^}]*\}|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or m.group(2),
                              line.strip()[2:])
                yield item["intent"][4:], text


@pytest.mark.parametrize("path", [ROOT / "data" / "nlu" / "faq.yml", ROOT / "tests" / "nlu_test" / "test_data.yml"])
def test_every_example_of_a_topic_touches_that_topics_concept(path):
    from actions.faq_concepts import TOPIC_CONCEPTS, touches

    examples = list(faq_examples(path))
    assert examples and all(topic in TOPIC_CONCEPTS for topic, _ in examples)
    missed = [(topic, text) for topic, text in examples if not touches(topic, text)]
    assert not missed


@pytest.mark.asyncio
async def test_a_question_the_intent_was_unsure_of_is_answered_when_the_selector_is_sure():
    tracker = ranked_tracker("过户要带啥材料啊", [("docs_name_transfer", 0.8), ("docs_meter_move", 0.1)],
                             intent="nlu_fallback")
    events, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert texts(messages)[0] in variations("utter_faq/docs_name_transfer")
    assert slot_values(events)["faq_topic"] == "docs_name_transfer"
    # Unsure selector, no business named: no answer guessed.
    tracker = ranked_tracker("那个要带啥东西啊", [("docs_name_transfer", 0.3), ("docs_meter_move", 0.2)],
                             intent="nlu_fallback")
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert not any(t in variations("utter_faq/docs_name_transfer") for t in texts(messages))


@pytest.mark.asyncio
async def test_an_answer_taken_in_gets_a_short_reply_not_a_rephrase_request():
    prior = [{"event": "user", "text": "我不会用手机 电费到哪里交啊"}, {"event": "action", "name": "action_answer_faq"},
             {"event": "bot", "text": "可以到供电营业厅或银行代收网点交。"}]
    for said in ("好 我让女儿带我去", "哦晚上啊 那还好 谢谢", "晓得了"):
        tracker = make_tracker(said, intent="nlu_fallback", prior_events=prior)
        _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
        assert [m.get("response") for m in messages] == ["utter_ok_no_problem"]
    # Out of the blue, "好" answers nothing: asked to say more.
    _, messages = await run_action(ActionDefaultAskAffirmation(), make_tracker("好 我让女儿带我去", intent="nlu_fallback"))
    assert [m.get("response") for m in messages] != ["utter_ok_no_problem"]


@pytest.mark.asyncio
@pytest.mark.parametrize("text, topic", [("过户要带啥材料啊", "docs_name_transfer"), ("新装要多久", "duration_new_connection"),
                                         ("移表收费不", "fee_meter_move")])
async def test_a_question_about_a_named_business_gets_that_businesss_answer(text, topic):
    tracker = ranked_tracker(text, [("peak_valley_hours", 0.5), ("late_fee", 0.3)], intent="faq")
    events, messages = await run_action(ActionAnswerFaq(), tracker)
    assert texts(messages)[0] in variations(f"utter_faq/{topic}")
    tracker = ranked_tracker(text, [("peak_valley_hours", 0.2), ("late_fee", 0.1)], intent="nlu_fallback")
    _, messages = await run_action(ActionDefaultAskAffirmation(), tracker)
    assert texts(messages)[0] in variations(f"utter_faq/{topic}")
