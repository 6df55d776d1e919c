"""Kinds of failure found by the dev half's transcripts and the tenth and eleventh blind batches
(tests/conversations/dev/j_*.yml, k_*.yml), each against the real gateway with the demo data."""
from __future__ import annotations

import pytest

from tests.support.dialogue import make_tracker, run_action, slot_values, texts


def followups(events) -> list:
    return [e.get("name") for e in events if e.get("event") == "followup"]


def responses(messages) -> list:
    return [m.get("response") for m in messages]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, followup", [
    ("算了 先不报修了 看看是不是欠费停的", "bill_form"),
    ("那还是不修了 中华路明天停不停电", "outage_form"),
])
async def test_a_stop_said_with_first_or_still_is_read_past_for_the_request_after_it(actions_gateway, said, followup):
    """"算了 先不报修了 看看是不是欠费停的" cancelled the repair, then said "这个问题我暂时回答
    不了": "先不报修了" was not read as part of the stop, so the bill check it asks for never came."""
    from actions.common import ActionCancelForm

    events, messages = await run_action(ActionCancelForm(), make_tracker(
        said, intent="query_bill", form="fault_form", slots={"fault_description": "家里没电了"}))
    assert followups(events) == [followup]
    assert "utter_cannot_answer" not in responses(messages)


@pytest.mark.asyncio
@pytest.mark.parametrize("said, shown", [
    ("等等，先问下你们这个电费能用微信交吗", "微信"),
    ("欠多少钱 咋交 我不会弄那个app", "营业厅"),
])
async def test_how_to_pay_asked_at_the_identity_question_is_answered(actions_gateway, said, shown):
    """a-bill-012, carrears-002: how to pay, asked while the bill form waits for the last four
    digits (NLU hears a bill query, the selector is unsure), got "这个问题我这里答不上来"."""
    from actions.bills import ValidateBillForm

    tracker = make_tracker(said, intent="query_bill", form="bill_form",
                           slots={"requested_slot": "phone_last4", "account_no": "3201000009"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert "utter_question_unanswered_in_form" not in responses(messages)
    assert shown in "".join(texts(messages))
    assert slot_values(events).get("phone_last4") is None


@pytest.mark.asyncio
@pytest.mark.parametrize("said", ["用了多少度啊", "那我欠了多少钱啊"])
async def test_a_bill_figure_asked_before_the_identity_is_proved_is_promised_after_it(actions_gateway, said):
    """cbill-004: "用了多少度啊" at the identity question got "这个问题我这里答不上来"; it is what
    the bill shows once the customer is proved."""
    from actions.bills import ValidateBillForm

    tracker = make_tracker(said, intent="query_bill", form="bill_form",
                           slots={"requested_slot": "phone_last4", "account_no": "3201000033"})
    events, messages = await run_action(ValidateBillForm(), tracker)
    assert "utter_bill_after_identity" in responses(messages)
    assert "utter_question_unanswered_in_form" not in responses(messages)
    assert slot_values(events).get("requested_slot") == "phone_last4"


@pytest.mark.asyncio
async def test_asking_to_apply_again_at_a_progress_query_starts_the_application_talked_about(actions_gateway):
    """cprogress-002: "查不到？…那你重新帮我申请一个吧" at the progress query's identity question
    got "这个问题我这里答不上来"; the charger application asked about is applied for again."""
    from actions.progress import ValidateProgressForm

    prior = [{"event": "user", "text": "上礼拜申请的充电桩 到现在没人联系我 进度咋样了",
              "parse_data": {"intent": {"name": "query_progress"}}}]
    tracker = make_tracker("查不到？可能是我老婆用她手机弄的 那你重新帮我申请一个吧", intent="apply_service",
                           form="progress_form", prior_events=prior,
                           slots={"requested_slot": "phone_last4", "account_no": "3201000016"})
    events, messages = await run_action(ValidateProgressForm(), tracker)
    assert followups(events) == ["application_form"]
    assert slot_values(events).get("business_type") == "ev_charger"
    assert "utter_switch_to_application" in responses(messages)


@pytest.mark.asyncio
async def test_asking_to_report_again_at_a_progress_query_starts_a_repair(actions_gateway):
    """cprogress-001: "那你再给我报一遍 湖熟街道和平社区81号 家里还是没电" at the progress query
    kept asking for the last four digits; the repair is reported again."""
    from actions.progress import ValidateProgressForm

    tracker = make_tracker("那你再给我报一遍 湖熟街道和平社区81号 家里还是没电", intent="report_fault",
                           form="progress_form", slots={"requested_slot": "phone_last4", "account_no": "3201000022"})
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert followups(events) == ["fault_form"]


@pytest.mark.asyncio
@pytest.mark.parametrize("said, errand", [
    ("好的 我去喊人不让靠近", True),
    ("好 我让女儿带我去", True),
    ("我要找人工", False),
])
async def test_the_customers_own_errand_after_a_filing_is_no_hand_off(actions_gateway, said, errand):
    """b-hazard-001, cinfo-004: "好的 我去喊人不让靠近" right after the urgent repair was
    registered, heard as a wish for a person, opened a callback ticket."""
    from actions.handoff import ActionHandoff

    prior = [{"event": "user", "text": "我电话13605187724", "parse_data": {"intent": {"name": "inform"}}},
             {"event": "bot", "text": "已为您登记紧急故障报修，工单号：BX20261203001。"}]
    events, messages = await run_action(ActionHandoff(), make_tracker(said, intent="request_human", confidence=0.76,
                                                                      prior_events=prior))
    assert ("utter_own_errand_ok" in responses(messages)) is errand
    if errand:
        assert events == []


@pytest.mark.asyncio
@pytest.mark.parametrize("said, business", [
    ("新能源车到了 想在小区地下车库自己车位上装个充电桩 物业说要先找供电公司报装", "ev_charger"),
    ("店面要重新装修 电表位置碍事 能不能给挪一下", "meter_move"),
    ("新房子要报装用电", "new_connection"),
])
async def test_the_business_the_words_name_wins_over_a_generic_new_connection(actions_gateway, said, business):
    """e-application-04, application-d05: NLU's generic "报装" entity (a new connection) filed
    a charger and a meter move as new connections."""
    from actions.applications import ValidateApplicationForm

    tracker = make_tracker(said, intent="apply_service", form="application_form",
                           entities=[{"entity": "business_type", "value": "new_connection"}],
                           candidates={"business_type": "new_connection"})
    from tests.support.dialogue import DOMAIN, RenderingDispatcher

    result = await ValidateApplicationForm().validate_business_type("new_connection", RenderingDispatcher(tracker),
                                                                    tracker, DOMAIN)
    assert result["business_type"] == business


@pytest.mark.asyncio
async def test_can_i_pay_for_someone_heard_as_a_suggestion_is_answered_not_filed(actions_gateway):
    """f-bill-04: "能不能我在网上替她交 她不会用手机" after the mother's bill was filed as a
    suggestion; it asks how to pay for her."""
    from actions.feedback import ValidateFeedbackForm

    prior = [{"event": "user", "text": "手机号后四位6985", "parse_data": {"intent": {"name": "inform"}}},
             {"event": "bot", "text": "2026年11月电费账单（户号尾号0018）：\n· 电费金额：106.65 元"}]
    tracker = make_tracker("能不能我在网上替她交 她不会用手机", intent="suggest", form="feedback_form",
                           prior_events=prior, candidates={"feedback_type": "suggestion"})
    events, messages = await run_action(ValidateFeedbackForm(), tracker)
    assert "网上国网" in "".join(texts(messages))
    assert slot_values(events).get("feedback_type") is None
    assert followups(events) == ["action_listen"]


@pytest.mark.asyncio
async def test_a_tip_off_told_with_a_fault_is_kept_for_after_the_repair(actions_gateway):
    """e-mixed-13: "我要举报 …工地私自从我们楼的电箱里接线 现在我们这栋楼都没电了 两个事一起说"
    got the repair only; the tip-off was lost. It is taken after the repair, in these words."""
    from actions.faults import ValidateFaultForm

    said = "我要举报 我们小区旁边那个工地私自从我们楼的电箱里接线 现在我们这栋楼都没电了 两个事一起说"
    events, _ = await run_action(ValidateFaultForm(), make_tracker(said, intent="report_fault", form="fault_form"))
    slots = slot_values(events)
    assert slots.get("feedback_type") == "tip_off"
    assert slots.get("feedback_content") == said
    assert slots.get("fault_description") == said  # the repair goes on


@pytest.mark.asyncio
async def test_a_fault_alone_carries_no_tip_off(actions_gateway):
    from actions.faults import ValidateFaultForm

    events, _ = await run_action(ValidateFaultForm(), make_tracker("我们这栋楼都没电了 快派人来", intent="report_fault",
                                                                   form="fault_form"))
    assert slot_values(events).get("feedback_type") is None
