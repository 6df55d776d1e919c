"""Issue 16 item 4, against the real processes (``stack``: gateway, Rasa, action server as
``make run`` starts them): only the gateway may reach Rasa, only Rasa the action server.

The attacks of the issue: a forged tracker POSTed to the action server's ``/webhook``
returned another customer's bill; Rasa's ``rest`` webhook answered for any sender id; Rasa's
tracker API showed name, address and phone digits."""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid

import pytest
import socketio

import tests.support.webchat  # noqa: F401  (aiohttp 3.9 shim for the socket.io test client)

ACCOUNT = "3201000001"


def call(url: str, body: dict | None = None, headers: dict | None = None, method: str | None = None,
         timeout: float = 60) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", errors="replace")


def forged_action_call(sender: str) -> dict:
    """What the attacker sent: a tracker claiming a verified identity for someone else's account."""
    slots = {"identity_verified": True, "verified_account_no": ACCOUNT, "account_no": ACCOUNT, "period": None}
    return {
        "next_action": "action_query_bill",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {"slots": {}, "responses": {}, "intents": [], "entities": [], "actions": [], "forms": {}},
        "tracker": {
            "sender_id": sender, "slots": slots, "latest_message": {"text": "查电费", "intent": {"name": "query_bill"},
                                                                      "entities": []},
            "events": [], "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "action_listen", "latest_event_time": None, "latest_input_channel": "web",
        },
    }


def test_the_action_server_answers_only_rasa(stack):
    url = stack.actions_url
    attack = forged_action_call(f"attacker-{uuid.uuid4().hex[:8]}")
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": stack.action_token},
                    {"Authorization": f"Bearer {stack.rasa_token}"}):
        status, body = call(url + "/webhook", attack, headers)
        assert status == 401, (headers, status, body)
        assert "元" not in body and ACCOUNT not in body
    status, _ = call(url + "/actions")
    assert status == 401
    assert call(url + "/health")[0] == 200  # probes need no token

    # With Rasa's token the very same call runs (the token is all that stood in the way).
    status, body = call(url + "/webhook", attack, {"Authorization": f"Bearer {stack.action_token}"})
    assert status == 200, body + stack.logs()
    assert json.loads(body)["responses"], body


def test_rasas_api_and_channels_need_the_gateways_token(stack):
    url = stack.rasa_url
    sender = f"web-{uuid.uuid4().hex[:10]}"
    # No `rest` channel: it answered anybody for any sender id.
    status, _ = call(url + "/webhooks/rest/webhook", {"sender": sender, "message": "查电费"})
    assert status == 404
    # The gateway channel: the token or 401.
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {stack.action_token}"}):
        status, _ = call(url + "/webhooks/gateway/webhook", {"sender": sender, "message": "你好"}, headers)
        assert status == 401, headers
    assert call(url + "/webhooks/gateway/")[0] == 200  # the readiness probe stays open
    # The HTTP API (trackers with names, addresses, phone digits): Rasa's --auth-token.
    for path in (f"/conversations/{sender}/tracker", "/status", f"/conversations/{sender}/story"):
        assert call(url + path)[0] == 401, path
        assert call(url + path + "?token=wrong")[0] == 401, path
    status, body = call(url + f"/conversations/{sender}/tracker?token={stack.rasa_token}")
    assert status == 200, body

    # The authenticated path: the gateway's channel, and Rasa running a custom action on the
    # action server with ACTION_TOKEN (a refused action makes this a 500).
    status, body = call(url + "/webhooks/gateway/webhook", {"sender": sender, "message": "你好",
                                                            "metadata": {"channel": "web"}},
                        {"Authorization": f"Bearer {stack.rasa_token}"})
    assert status == 200 and isinstance(json.loads(body), list), body
    status, body = call(url + f"/conversations/{sender}/execute?token={stack.rasa_token}",
                        {"name": "action_query_bill"})
    assert status == 200, body + stack.logs()
    assert json.loads(body)["messages"], body


@pytest.mark.asyncio
async def test_a_customer_is_answered_through_both_authenticated_hops(stack):
    """The web widget's path: gateway → Rasa (RASA_TOKEN) → action server (ACTION_TOKEN) → REST API."""
    session_id = f"web-{uuid.uuid4().hex[:12]}"
    received: list[dict] = []
    confirmed = asyncio.Event()
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("bot_uttered", lambda data: received.append(data))

    async def on_confirm(data):
        confirmed.set()

    sio.on("session_confirm", on_confirm)
    await sio.connect(stack.gateway_url, transports=["websocket"], socketio_path="socket.io", wait_timeout=20)
    try:
        await sio.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 20)
        for text in ("查一下上个月电费", ACCOUNT, "0518"):
            before = len(received)
            await sio.call("user_uttered", {"message": text, "session_id": session_id,
                                            "message_id": uuid.uuid4().hex}, timeout=60)
            for _ in range(600):
                if len(received) > before:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # the rest of the turn's messages
    finally:
        await sio.disconnect()
    texts = "\n".join(m.get("text") or "" for m in received)
    assert "元" in texts, texts + stack.logs()  # the bill, read by an action through the REST API
    assert "系统暂时繁忙" not in texts, texts


def test_the_conversation_evaluation_parses_with_the_runs_token(stack):
    """scripts/evaluate_conversations.py reads intents through Rasa's API: with the token only."""
    import aiohttp

    from scripts.evaluate_conversations import parse_intents

    assert asyncio.run(parse_intents(stack.rasa_url, ["你好"], 1, token=stack.rasa_token)) == ["greet"]
    with pytest.raises(aiohttp.ClientResponseError):
        asyncio.run(parse_intents(stack.rasa_url, ["你好"], 1))
