"""Issue 16 item 9: personal data by other doors.

- ``identity/verify`` with a name alone no longer verifies (the phone digits are required);
- whether an account number exists is told to one conversation, and one client, for a few
  different numbers only (polite Chinese answer after that);
- an outage found through an account number does not name the holder's district and streets
  unless the holder is verified;
- switching to another account after verifying asks for that account's digits instead of
  checking the old ones against it (which counted a failure the customer never made).
"""
from __future__ import annotations

import pytest

from actions.bills import ValidateBillForm
from actions.faults import ActionQueryOutage, ValidateFaultForm, ValidateOutageForm
from bot import throttle
from bot.api.routes import IDENTITY_PER_ACCOUNT, LOOKUPS_PER_CLIENT, LOOKUPS_PER_CONVERSATION
from bot.store.models import Customer
from tests.support.dialogue import make_tracker, response_text, run_action, slot_values, texts
from tests.support.gateway import auth_headers
from bot.store import STORE

pytestmark = pytest.mark.asyncio
RATE_LIMITED_TEXT = response_text("utter_rate_limited")  # what the actions say past the lookup limits

OUTAGE_ACCOUNT = "3201000003"  # 王建国, 南京市秦淮区中华路: a planned outage in the demo data


def customer(app, account_no: str) -> Customer:
    from sqlalchemy import select

    with app[STORE].session() as session:
        return session.execute(select(Customer).where(Customer.account_no == account_no)).scalar_one()


def with_client(tracker, client: str):
    tracker.latest_message["metadata"]["client"] = client
    return tracker


# ---------------------------------------------------------------- identity/verify needs the digits

async def test_a_name_alone_verifies_nobody(demo_gateway_client):
    client = demo_gateway_client
    by_name = await client.post("/api/v1/identity/verify", headers=auth_headers(),
                                json={"account_no": "3201000002", "name": "李秀英"})
    body = await by_name.json()
    assert by_name.status == 400 and body["field"] == "phone_last4"
    assert "李秀英" not in await by_name.text() and "石塘村" not in await by_name.text()
    both = await client.post("/api/v1/identity/verify", headers=auth_headers(),
                             json={"account_no": "3201000002", "name": "李 秀英", "phone_last4": "2316"})
    assert (await both.json())["verified"] is True
    wrong_name = await client.post("/api/v1/identity/verify", headers=auth_headers(),
                                   json={"account_no": "3201000002", "name": "张三", "phone_last4": "2316"})
    assert (await wrong_name.json())["reason"] == "mismatch"


# ---------------------------------------------------------------- account-number enumeration

async def test_the_gateway_limits_different_numbers_per_conversation_and_client(demo_gateway_client):
    client = demo_gateway_client

    async def lookup(account_no: str, **asker) -> int:
        response = await client.get(f"/api/v1/accounts/{account_no}", params=asker, headers=auth_headers())
        return response.status

    numbers = [f"32010000{i:02d}" for i in range(1, 40)]
    for number in numbers[:LOOKUPS_PER_CONVERSATION.limit]:
        assert await lookup(number, conversation_id="web-enum") in (200, 404)
    refused = await client.get(f"/api/v1/accounts/{numbers[10]}", params={"conversation_id": "web-enum"},
                               headers=auth_headers())
    assert refused.status == 429 and (await refused.json())["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert await lookup(numbers[0], conversation_id="web-enum") == 200  # one it asked about: still answered
    assert await lookup(numbers[10], conversation_id="web-other") == 200  # other conversations are free

    # One client opening a new conversation for every few numbers meets the per-client cap.
    asked = 0
    for index, number in enumerate(numbers[12:12 + LOOKUPS_PER_CLIENT.limit]):
        assert await lookup(number, conversation_id=f"web-hop-{index}", client="web:abc") in (200, 404)
        asked += 1
    assert asked == LOOKUPS_PER_CLIENT.limit
    assert await lookup(numbers[-1], conversation_id="web-hop-new", client="web:abc") == 429
    # The outage query and the identity check by account number count the same way.
    outages = await client.get("/api/v1/outages", params={"account_no": numbers[-1], "conversation_id": "web-enum"},
                               headers=auth_headers())
    assert outages.status == 429
    verify = await client.post("/api/v1/identity/verify", headers=auth_headers(), json={
        "account_no": numbers[-2], "phone_last4": "0000", "conversation_id": "web-enum"})
    assert verify.status == 429


async def test_the_chat_answers_politely_after_a_few_different_numbers(actions_gateway):
    said = []
    for index in range(LOOKUPS_PER_CONVERSATION.limit + 1):
        number = f"32019{index:05d}"
        tracker = with_client(make_tracker(number, intent="inform", form="bill_form", sender_id="web-enum-chat",
                                           candidates={"account_no": number},
                                           slots={"requested_slot": "account_no"}), "web:chat-client")
        events, messages = await run_action(ValidateBillForm(), tracker)
        assert slot_values(events)["account_no"] is None
        said.append(texts(messages)[0])
    assert all("没有查到户号" in text for text in said[:-1])
    assert said[-1] == RATE_LIMITED_TEXT and "没有查到" not in said[-1]

    # The same client in fresh conversations: the per-client cap (the widget's address).
    replies = []
    for index in range(LOOKUPS_PER_CLIENT.limit + 1):
        number = f"32018{index:05d}"
        tracker = with_client(make_tracker(number, intent="inform", form="bill_form", sender_id=f"web-new-{index}",
                                           candidates={"account_no": number},
                                           slots={"requested_slot": "account_no"}), "web:hopper")
        _, messages = await run_action(ValidateBillForm(), tracker)
        replies.append(texts(messages)[0])
    assert replies[-1] == RATE_LIMITED_TEXT and all("没有查到户号" in r for r in replies[:-1])


# ---------------------------------------------------------------- outages by account number

async def test_an_outage_by_account_number_does_not_tell_where_the_holder_lives(actions_gateway):
    app = actions_gateway.app
    holder = customer(app, OUTAGE_ACCOUNT)
    slots = {"address": holder.address, "address_from_account": True, "account_no": OUTAGE_ACCOUNT}
    _, messages = await run_action(ActionQueryOutage(), make_tracker("查停电", slots=slots))
    reply = " ".join(texts(messages))
    assert "停电安排" in reply and "原因" in reply  # the answer itself is given
    for place in ("秦淮区", "中华路", "长乐路", holder.address):
        assert place not in reply, place

    verified = {**slots, "identity_verified": True, "verified_account_no": OUTAGE_ACCOUNT}
    _, messages = await run_action(ActionQueryOutage(), make_tracker("查停电", slots=verified))
    assert "中华路" in " ".join(texts(messages))  # the verified holder hears where


async def test_a_repair_report_by_account_number_does_not_tell_the_place_either(actions_gateway):
    tracker = make_tracker(OUTAGE_ACCOUNT, intent="inform", form="fault_form",
                           candidates={"address": OUTAGE_ACCOUNT}, slots={"requested_slot": "address"})
    _, messages = await run_action(ValidateFaultForm(), tracker)
    reply = " ".join(texts(messages))
    assert "停电" in reply
    assert "秦淮区" not in reply and "中华路" not in reply


# ---------------------------------------------------------------- switching accounts

async def test_switching_account_asks_for_the_new_accounts_digits(actions_gateway):
    app = actions_gateway.app
    first = customer(app, "3201000001")
    verified = {"account_no": "3201000001", "verified_account_no": "3201000001", "identity_verified": True,
                "phone_last4": first.phone[-4:], "customer_name": first.name, "identity_attempts": 0.0}
    # "查一下3201000002的电费": the form re-validates its pre-filled slots, the old digits among them.
    tracker = make_tracker("查一下3201000002的电费", intent="query_bill", form="bill_form", slots=verified,
                           sender_id="web-landlord",
                           candidates={"account_no": "3201000002", "phone_last4": first.phone[-4:]})
    events, messages = await run_action(ValidateBillForm(), tracker)
    values = slot_values(events)
    assert values["account_no"] == "3201000002"
    assert values["phone_last4"] is None and not values.get("identity_verified")
    assert not values.get("identity_attempts")  # no failure counted in the conversation...
    assert not any("不一致" in t for t in texts(messages))
    limiter = throttle.of(app)
    assert await limiter.count(IDENTITY_PER_ACCOUNT, "3201000002") == 0  # ...nor at the gateway
    assert values.get("requested_slot", "phone_last4") == "phone_last4"

    # The new account's digits, typed next, verify it.
    second = customer(app, "3201000002")
    tracker = make_tracker(second.phone[-4:], intent="inform", form="bill_form", sender_id="web-landlord",
                           slots={**verified, **values, "requested_slot": "phone_last4"},
                           candidates={"phone_last4": second.phone[-4:]})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events)["identity_verified"] is True
    assert slot_values(events)["verified_account_no"] == "3201000002"


async def test_new_account_and_its_digits_in_one_message_verify_at_once(actions_gateway):
    app = actions_gateway.app
    first, second = customer(app, "3201000001"), customer(app, "3201000002")
    verified = {"account_no": "3201000001", "verified_account_no": "3201000001", "identity_verified": True,
                "phone_last4": first.phone[-4:]}
    tracker = make_tracker(f"换个户号3201000002，尾号{second.phone[-4:]}", intent="inform", form="bill_form",
                           slots=verified, candidates={"account_no": "3201000002", "phone_last4": second.phone[-4:]})
    events, _ = await run_action(ValidateBillForm(), tracker)
    assert slot_values(events)["identity_verified"] is True
    assert slot_values(events)["verified_account_no"] == "3201000002"


async def test_an_account_number_typed_into_the_outage_form_is_answered_without_the_place(actions_gateway):
    """The way Rasa runs it: the form's validation action, then the query with the slots it set."""
    tracker = make_tracker(OUTAGE_ACCOUNT, intent="inform", form="outage_form",
                           entities=[{"entity": "account_no", "value": OUTAGE_ACCOUNT}],
                           candidates={"account_no": OUTAGE_ACCOUNT}, slots={"requested_slot": "address"})
    events, _ = await run_action(ValidateOutageForm(), tracker)
    values = slot_values(events)
    assert values["address_from_account"] is True
    _, messages = await run_action(ActionQueryOutage(), make_tracker(OUTAGE_ACCOUNT, slots=values))
    reply = " ".join(texts(messages))
    assert "停电安排" in reply and "秦淮区" not in reply and "中华路" not in reply

    # A place typed afterwards is the customer's own words again: told back as usual.
    tracker = make_tracker("中华路", intent="inform", form="outage_form", slots={**values, "requested_slot": "address"})
    events, _ = await run_action(ValidateOutageForm(), tracker)
    assert slot_values(events)["address_from_account"] is False


async def test_the_caps_are_settings(aiohttp_client, gateway_settings, monkeypatch):
    from bot.app import create_app
    from bot.config import Settings

    monkeypatch.setenv("ACCOUNT_LOOKUPS_PER_CLIENT", "2")
    settings = Settings(database_url=gateway_settings.database_url, service_token=gateway_settings.service_token)
    assert settings.account_lookups_per_client == 2
    client = await aiohttp_client(create_app(settings, start_background=False))
    statuses = []
    for index in range(3):
        response = await client.get(f"/api/v1/accounts/320100009{index}", headers=auth_headers(),
                                    params={"conversation_id": f"web-c{index}", "client": "web:few"})
        statuses.append(response.status)
    assert statuses == [404, 404, 429]
