"""Notices in the chat (issue 19): 绑定户号, 我的订阅, 退订/重新订阅, 解绑户号, and the 一图看懂 usage
chart of the bill flow — the actions run against the demo gateway, as Rasa runs them."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.bills import ActionQueryBill
from actions.menu import ActionAffirmOutsideForm
from actions.notices import ActionManageNotices, kinds_named, wanted, wants_usage_chart
from bot.store.models import Conversation, CustomerBinding
from tests.support.dialogue import make_tracker, run_action, slot_values, texts
from tests.support.gateway import auth_headers
from bot.store import STORE

ACCOUNT, LAST4 = "3201000001", "0518"  # demo customer
WECHAT = "wechat:oNotice_test_user"
VERIFIED = {"account_no": ACCOUNT, "verified_account_no": ACCOUNT, "identity_verified": True, "phone_last4": LAST4}


@pytest.mark.parametrize("said, action, kinds", [
    ("绑定户号", "bind", []),
    ("以后停电通知发给我", "on", ["planned_outage"]),  # bound already: switched on; else bound
    ("绑定户号，停电了通知我", "bind", ["planned_outage"]),
    ("能不能在电费快用完或者快到期的时候发个提醒", "on", ["due_reminder", "low_balance"]),
    ("停电短信不要了", "off", ["planned_outage"]),
    ("停电通知给我开一下", "on", ["planned_outage"]),
    ("我的订阅", "list", []),
    ("我订阅的通知有哪些", "list", []),
    ("退订停电通知", "off", ["planned_outage"]),
    ("不要再给我发欠费提醒了", "off", ["overdue"]),
    ("退订恢复供电通知", "off", ["restoration"]),
    ("重新订阅停电通知", "on", ["planned_outage"]),
    ("解绑户号", "unbind", []),
    ("帮我取消户号绑定", "unbind", []),
    ("我搬家了不要再绑这个户号了", "unbind", []),
])
def test_what_the_customer_wants_is_read_from_the_words(said, action, kinds):
    assert wanted(make_tracker(said, intent="manage_notices")) == (action, kinds)


def test_all_kinds_means_every_kind_that_can_be_switched_off():
    assert "ticket_status" not in kinds_named("退订所有通知")
    assert "planned_outage" in kinds_named("什么通知都不要发了")


@pytest.mark.parametrize("said, chart", [
    ("最近用电情况怎么样", True), ("帮我看看用电趋势", True), ("看看近一年的用电量变化", True),
    ("每个月用了多少电给我看看", True), ("上个月用了多少电", False), ("查电费", False), ("我欠费了吗", False),
])
def test_usage_questions_are_told_from_bill_questions(said, chart):
    assert wants_usage_chart(said) is chart


def open_conversation(app, conversation_id=WECHAT, channel="wechat"):
    with app[STORE].session() as session:
        if session.get(Conversation, conversation_id) is None:
            session.add(Conversation(id=conversation_id, channel=channel))


async def prove(client, conversation_id=WECHAT, channel="wechat"):
    """The customer passed the identity check in this conversation (what the form's validation does)."""
    open_conversation(client.app, conversation_id, channel)
    response = await client.post("/api/v1/identity/verify", headers=auth_headers(),
                                 json={"account_no": ACCOUNT, "phone_last4": LAST4, "conversation_id": conversation_id})
    assert (await response.json())["verified"] is True


def bindings_in_store(app):
    with app[STORE].session() as session:
        return [(b.account_no, b.channel, b.channel_user, b.unbound_at is None)
                for b in session.execute(select(CustomerBinding).order_by(CustomerBinding.id)).scalars()]


async def say(text, slots=None, sender_id=WECHAT, channel="wechat", **kwargs):
    tracker = make_tracker(text, intent="manage_notices", slots=slots, sender_id=sender_id, channel=channel, **kwargs)
    return await run_action(ActionManageNotices(), tracker)


@pytest.mark.asyncio
async def test_an_unverified_customer_is_checked_first_then_bound(actions_gateway):
    events, messages = await say("以后停电通知发给我")
    assert slot_values(events)["notice_action"] == "bind"
    assert slot_values(events)["notice_kind"] == "planned_outage"
    assert events[-1] == {"event": "followup", "name": "notice_form", "timestamp": None}
    assert "核实" in texts(messages)[0]
    assert bindings_in_store(actions_gateway.app) == []

    await prove(actions_gateway)
    # back from notice_form: the kept slots say what to do
    events, messages = await say("0518", slots={**VERIFIED, "notice_action": "bind", "notice_kind": "planned_outage"},
                                 form="notice_form")
    reply = texts(messages)[0]
    assert "已将户号尾号0001绑定到当前微信" in reply and "停电通知" in reply
    assert "本公众号直接推送给您" in reply and "下次打开" not in reply
    assert slot_values(events)["notice_action"] is None
    assert bindings_in_store(actions_gateway.app) == [(ACCOUNT, "wechat", "oNotice_test_user", True)]

    events, messages = await say("绑定户号", slots=VERIFIED)
    assert "已经绑定" in texts(messages)[0]
    assert len(bindings_in_store(actions_gateway.app)) == 1


@pytest.mark.asyncio
async def test_a_web_customer_hears_notices_show_at_once_while_the_window_is_open(actions_gateway):
    await prove(actions_gateway, "web-bind-session-01", "web")
    _, messages = await say("绑定户号", slots=VERIFIED, sender_id="web-bind-session-01", channel="web")
    reply = texts(messages)[0]
    assert "已将户号尾号0001绑定到当前网页客服" in reply
    assert "客服窗口开着时，通知会立即显示在这里；窗口关着时，会在您下次打开客服窗口时显示。" in reply
    assert "推送" not in reply


@pytest.mark.asyncio
async def test_the_gateway_is_not_taken_in_by_slots_alone(actions_gateway):
    # The slots claim a verified account, but the conversation never proved it to the gateway.
    open_conversation(actions_gateway.app)
    events, messages = await say("绑定户号", slots=VERIFIED)
    values = slot_values(events)
    assert values["identity_verified"] is False and values["notice_action"] == "bind"
    assert events[-1]["name"] == "notice_form"
    assert "重新核实" in texts(messages)[0]
    assert bindings_in_store(actions_gateway.app) == []


@pytest.mark.asyncio
async def test_a_failed_check_does_not_loop_back_into_the_form(actions_gateway):
    events, messages = await say("0000", slots={"identity_locked": True, "notice_action": "bind"}, form="notice_form")
    assert slot_values(events)["handoff_reason"] == "identity_failed"
    assert [m.get("response") for m in messages] == ["utter_identity_locked"]
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["action_listen"]


@pytest.mark.asyncio
async def test_subscriptions_listed_switched_off_and_on(actions_gateway):
    events, messages = await say("我的订阅")
    assert "还没有在这里绑定户号" in texts(messages)[0]
    await prove(actions_gateway)
    await say("绑定户号", slots=VERIFIED)

    _, messages = await say("我的订阅")
    listing = texts(messages)[0]
    assert "户号尾号0001（微信）" in listing and "· 停电通知：已开启" in listing
    assert "· 工单进度通知：已开启（与您的报修、申请有关，不能关闭）" in listing

    events, messages = await say("退订停电通知")
    assert events[-1] == {"event": "followup", "name": "action_listen", "timestamp": None}  # reached any way: listen
    assert texts(messages) == ["好的，已为您退订停电通知（户号尾号0001），以后不会再发这类通知。需要时说“重新订阅停电通知”就能恢复。"]
    _, messages = await say("不要再给我发欠费提醒了")
    assert "已为您退订欠费提醒" in texts(messages)[0]
    _, messages = await say("我的订阅")
    listing = texts(messages)[0]
    assert "· 停电通知：已关闭" in listing and "· 欠费提醒：已关闭" in listing and "· 缴费到期提醒：已开启" in listing

    _, messages = await say("工单进度通知也退订了吧", slots={"notice_action": "off", "notice_kind": "ticket_status"})
    assert "不能退订" in texts(messages)[0]

    _, messages = await say("别发了")  # which kind? asked with buttons
    assert texts(messages) == ["请问您想退订哪一类通知？"]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert '/manage_notices{"notice_action":"off","notice_kind":"planned_outage"}' in payloads
    assert not any("ticket_status" in p for p in payloads)

    _, messages = await say("重新订阅停电通知")
    assert texts(messages) == ["好的，停电通知已为您开启（户号尾号0001），有消息会发到这里。"]
    _, messages = await say("我的订阅")
    assert "· 停电通知：已开启" in texts(messages)[0] and "· 欠费提醒：已关闭" in texts(messages)[0]


@pytest.mark.asyncio
async def test_unbinding_asks_first(actions_gateway):
    await prove(actions_gateway)
    await say("绑定户号", slots=VERIFIED)
    events, messages = await say("解绑户号")
    question = texts(messages)[0]
    assert question.startswith("确定要解除户号尾号0001的绑定吗")
    assert [b["title"] for b in messages[0]["buttons"]] == ["确认解绑", "先不解绑"]
    assert slot_values(events)["notice_unbind_account"] == ACCOUNT
    assert bindings_in_store(actions_gateway.app)[0][3] is True  # nothing changed yet

    asked = [{"event": "user", "text": "解绑户号"}, {"event": "bot", "text": question}]
    # a typed yes: the yes-outside-a-form action unbinds (its rule then listens)
    tracker = make_tracker("是的", intent="affirm", sender_id=WECHAT, prior_events=asked,
                           slots={"notice_unbind_account": ACCOUNT})
    events, messages = await run_action(ActionAffirmOutsideForm(), tracker)
    assert texts(messages)[0].startswith("已为您解除户号尾号0001的绑定")
    assert not any(e.get("event") == "followup" for e in events)  # its own rule listens next
    assert slot_values(events)["notice_unbind_account"] is None
    assert bindings_in_store(actions_gateway.app) == [(ACCOUNT, "wechat", "oNotice_test_user", False)]
    _, messages = await say("解绑户号")
    assert texts(messages) == ["您在这里没有绑定户号，不用解绑。"]


@pytest.mark.asyncio
async def test_the_button_text_confirms_when_the_question_was_asked(actions_gateway):
    await prove(actions_gateway)
    await say("绑定户号", slots=VERIFIED)
    asked = [{"event": "user", "text": "解绑"}, {"event": "bot", "text": "确定要解除户号尾号0001的绑定吗？"}]
    assert wanted(make_tracker("确认解绑", intent="manage_notices", prior_events=asked))[0] == "unbind_confirmed"
    assert wanted(make_tracker("确认解绑", intent="manage_notices"))[0] == "unbind"  # not asked: ask first


# ---------------------------------------------------------------- 一图看懂 in the bill flow


def bill_tracker(text, sender_id):
    return make_tracker(text, intent="query_bill", slots={**VERIFIED, "bill_query": "details"}, sender_id=sender_id,
                        channel="web")


@pytest.mark.asyncio
async def test_a_usage_question_gets_the_chart_and_two_lines(actions_gateway):
    await prove(actions_gateway, "web-chart-session-01", "web")
    events, messages = await run_action(ActionQueryBill(), bill_tracker("最近用电情况怎么样", "web-chart-session-01"))
    images = [m["attachment"] for m in messages if m.get("attachment")]
    assert len(images) == 1 and images[0]["type"] == "image"
    src = images[0]["payload"]["src"]
    assert src.startswith("/charts/usage/") and images[0]["payload"]["title"] == "近12个月用电情况（户号尾号0001）"
    words = [t for t in texts(messages) if "共用电" in t]
    assert len(words) == 1 and words[0].count("\n") == 1
    assert not any("电费账单（户号尾号" in t for t in texts(messages))  # not one month's bill
    image = await actions_gateway.get(src)
    assert image.status == 200 and (await image.read())[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.asyncio
@pytest.mark.parametrize("channel, conversation_id", [("wechat", WECHAT), ("wecom", "wecom:ZhangWei")])
async def test_on_wechat_and_wecom_the_chart_is_not_announced_as_an_expiring_link(actions_gateway, channel,
                                                                                  conversation_id):
    await prove(actions_gateway, conversation_id, channel)
    tracker = make_tracker("最近用电情况怎么样", intent="query_bill", slots={**VERIFIED, "bill_query": "details"},
                           sender_id=conversation_id, channel=channel)
    _, messages = await run_action(ActionQueryBill(), tracker)
    assert [m["attachment"]["type"] for m in messages if m.get("attachment")] == ["image"]
    assert "为您画好了户号尾号0001近12个月的用电情况：" in texts(messages)
    assert not any("1小时" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_a_month_question_still_gets_the_bill(actions_gateway):
    await prove(actions_gateway, "web-chart-session-02", "web")
    _, messages = await run_action(ActionQueryBill(), bill_tracker("查下电费", "web-chart-session-02"))
    assert not any(m.get("attachment") for m in messages)
    assert any("电费账单（户号尾号0001）" in t for t in texts(messages))


@pytest.mark.asyncio
async def test_without_proof_at_the_gateway_no_chart_is_made(actions_gateway):
    open_conversation(actions_gateway.app, "web-chart-session-03", "web")
    _, messages = await run_action(ActionQueryBill(), bill_tracker("帮我看看用电趋势", "web-chart-session-03"))
    assert not any(m.get("attachment") for m in messages)
    assert any("电费账单（户号尾号0001）" in t for t in texts(messages))  # the bill answers instead


@pytest.mark.asyncio
async def test_a_message_about_something_else_is_not_taken_for_notices(dead_gateway):
    # NLU's guess (订 as in 订阅): nothing about notices is said, so nothing is listed or changed.
    events, messages = await say("帮我订个酒店")
    assert messages == [] and events[-1] == {"event": "followup", "name": "action_out_of_scope", "timestamp": None}


@pytest.mark.asyncio
async def test_the_confirmation_button_unbinds(actions_gateway):
    await prove(actions_gateway)
    await say("绑定户号", slots=VERIFIED)
    events, messages = await say("/manage_notices", slots={"notice_action": "unbind_confirmed"})
    assert texts(messages)[0].startswith("已为您解除户号尾号0001的绑定")
    assert bindings_in_store(actions_gateway.app)[0][3] is False


@pytest.mark.parametrize("said", ["退订工单进度通知", "工单进度通知不要发了"])
@pytest.mark.asyncio
async def test_unsubscribing_from_ticket_status_heard_as_a_progress_query_goes_to_notices(dead_gateway, said):
    from actions.progress import ValidateProgressForm

    tracker = make_tracker(said, intent="query_progress", form="progress_form", slots=VERIFIED, sender_id=WECHAT)
    events, messages = await run_action(ValidateProgressForm(), tracker)
    assert messages == []  # nothing asked, no progress looked up (the gateway is down: no call made)
    assert events[-1] == {"event": "followup", "name": "action_manage_notices", "timestamp": None}


@pytest.mark.asyncio
async def test_a_progress_query_stays_one(dead_gateway):
    from actions.progress import ValidateProgressForm

    tracker = make_tracker("我的工单进度怎么样了", intent="query_progress", form="progress_form", slots=VERIFIED)
    events, _ = await run_action(ValidateProgressForm(), tracker)
    assert not any(e.get("name") == "action_manage_notices" for e in events)


@pytest.mark.asyncio
async def test_a_message_with_nothing_about_notices_is_not_a_notice_request(actions_gateway):
    from actions.notices import ValidateNoticeForm

    said = "我店里说是欠费被停电了 我现在就交 交完还要不要再打电话给你们 多久能恢复"
    tracker = make_tracker(said, intent="manage_notices", form="notice_form", slots={"requested_slot": None})
    events, messages = await run_action(ValidateNoticeForm(), tracker)
    assert not messages  # no identity asked for notices nobody asked about
    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_answer_faq"]
    tracker = make_tracker("停电通知不要再发了", intent="manage_notices", form="notice_form",
                           slots={"requested_slot": None})
    events, _ = await run_action(ValidateNoticeForm(), tracker)
    assert "action_answer_faq" not in [e.get("name") for e in events if e["event"] == "followup"]
