"""WeChat Official Account channel, end to end: a running gateway (in-process aiohttp server
on loopback), a fake Rasa and a fake platform API on loopback, and platform messages built
and encrypted by the test's own implementation of the published algorithm."""
from __future__ import annotations

import asyncio
import logging
import time
from xml.etree import ElementTree

import aiohttp
import pytest
import redis
import pytest_asyncio
from sqlalchemy import func, select

from bot.app import create_app
from bot.channels.common import NumberedOptions, RecentIds
from bot.config import Settings
from bot.store.models import Conversation, Handoff, Message
from tests.support.platforms import (
    FakePlatformApi,
    FakeRasa,
    PlatformCrypto,
    message_xml,
    new_aes_key,
    sha1_signature,
)
from bot.channels.wechat import WECHAT_CHANNEL
from bot.config import SETTINGS
from bot.conversations import HUB
from bot.handoff import HANDOFF_SERVICE
from bot.store import STORE

pytestmark = pytest.mark.asyncio

TOKEN = "wx-callback-token"
APPID = "wx1234567890abcdef"
SECRET = "wx-app-secret"
OPENID = "oUser_9f8e7d6c5b4a"
ACCOUNT = "gh_0123456789ab"


class WeChatPlatform:
    """Plays the WeChat server: builds, signs (and in safe mode encrypts) messages."""

    def __init__(self, client, app, rasa: FakeRasa, api: FakePlatformApi, aes_key: str):
        self.client = client
        self.app = app
        self.rasa = rasa
        self.api = api
        self.crypto = PlatformCrypto(TOKEN, aes_key or new_aes_key(), APPID)
        self.safe = bool(aes_key)
        self._next_id = 7000000000000000000

    def fields(self, msg_type: str, openid: str = OPENID, **extra) -> dict:
        fields = {"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": int(time.time()),
                  "MsgType": msg_type}
        fields.update(extra)
        return fields

    def text(self, content: str, msg_id: int | None = None, openid: str = OPENID) -> dict:
        if msg_id is None:
            self._next_id += 1
            msg_id = self._next_id
        return self.fields("text", openid, Content=content, MsgId=msg_id)

    async def post(self, fields: dict, query: dict | None = None) -> tuple[int, str, dict]:
        plain = message_xml(fields)
        if self.safe:
            ciphertext = self.crypto.encrypt(plain)
            signed = self.crypto.signed_query(ciphertext)
            signed.update(encrypt_type="aes", openid=fields["FromUserName"])
            # Compatible mode also carries the plaintext fields; safe mode only Encrypt.
            body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>"
        else:
            signed = self.crypto.signed_query()
            signed["openid"] = fields["FromUserName"]
            body = plain
        if query is not None:
            signed = query
        resp = await self.client.post("/channels/wechat", params=signed, data=body.encode())
        return resp.status, await resp.text(), signed

    def reply_message(self, body: str, query: dict) -> ElementTree.Element:
        """The passive reply as the platform reads it (decrypted and checked in safe mode)."""
        if self.safe:
            return self.crypto.open_reply(body, query)
        return ElementTree.fromstring(body)

    async def say(self, content: str, **kwargs) -> tuple[str | None, float]:
        """Sends a text; returns (the passive reply's Content or None, seconds taken)."""
        started = time.monotonic()
        status, body, query = await self.post(self.text(content, **kwargs))
        elapsed = time.monotonic() - started
        assert status == 200, body
        if body in ("", "success"):
            return None, elapsed
        reply = self.reply_message(body, query)
        assert reply.findtext("ToUserName") == OPENID
        assert reply.findtext("FromUserName") == ACCOUNT
        assert reply.findtext("MsgType") == "text"
        return reply.findtext("Content"), elapsed

    def count(self, model, **where) -> int:
        with self.app[STORE].session() as session:
            query = select(func.count()).select_from(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return session.execute(query).scalar_one()

    def conversation_state(self, conversation_id: str) -> str | None:
        with self.app[STORE].session() as session:
            conversation = session.get(Conversation, conversation_id)
            return conversation.state if conversation else None


async def start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch, *, aes_key="",
                        passive_seconds="4", rasa: FakeRasa | None = None) -> WeChatPlatform:
    rasa = rasa or FakeRasa()
    rasa_server = await aiohttp_server(rasa.app())
    api = FakePlatformApi(APPID, SECRET)
    api_server = await aiohttp_server(api.app())
    for name, value in {"WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_APPSECRET": SECRET,
                        "WECHAT_AES_KEY": aes_key, "WECHAT_API_BASE": str(api_server.make_url("")),
                        "WECHAT_PASSIVE_REPLY_SECONDS": passive_seconds,
                        "STAFF_HOURS": "00:00-24:00", "HANDOFF_ACCEPT_SECONDS": "600"}.items():
        monkeypatch.setenv(name, value)
    for name in ("WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'gateway.db'}",
                        rasa_url=str(rasa_server.make_url("")).rstrip("/"), rasa_timeout=10.0)
    app = create_app(settings, start_background=False)
    client = await aiohttp_client(app)
    return WeChatPlatform(client, app, rasa, api, aes_key)


@pytest_asyncio.fixture
async def plain(aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    return await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch)


@pytest_asyncio.fixture
async def safe(aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    return await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch, aes_key=new_aes_key())


def bill_buttons(body: dict) -> list:
    if body["message"] == "查电费":
        return [{"text": "请问您想查询哪个月的电费？",
                 "buttons": [{"title": "本月", "payload": "/inform{\"period\":\"本月\"}"},
                             {"title": "上个月", "payload": "/inform{\"period\":\"上个月\"}"}]}]
    return [{"text": f"收到：{body['message']}"}]


async def test_url_verification_echoes_only_with_a_valid_signature(plain):
    query = plain.crypto.signed_query()
    query["echostr"] = "8132465720493351234"
    resp = await plain.client.get("/channels/wechat", params=query)
    assert resp.status == 200
    assert await resp.text() == "8132465720493351234"

    forged = dict(query, signature=sha1_signature("not-the-token", query["timestamp"], query["nonce"]))
    resp = await plain.client.get("/channels/wechat", params=forged)
    assert resp.status == 403
    assert "8132465720493351234" not in await resp.text()
    resp = await plain.client.get("/channels/wechat", params={"echostr": "1"})
    assert resp.status == 403


async def test_plaintext_exchange_with_numbered_options(plain):
    plain.rasa.respond = bill_buttons
    content, _ = await plain.say("查电费")
    assert content.startswith("请问您想查询哪个月的电费？")
    assert "回复数字选择" in content and "1. 本月" in content and "2. 上个月" in content
    assert plain.rasa.received[-1]["sender"] == f"wechat:{OPENID}"
    assert plain.rasa.received[-1]["metadata"]["channel"] == "wechat"

    # "2" means the second button: Rasa gets its payload, not the digit.
    content, _ = await plain.say("2")
    assert plain.rasa.received[-1]["message"] == '/inform{"period":"上个月"}'
    # A digit with no options on offer is just text.
    await plain.say("2")
    assert plain.rasa.received[-1]["message"] == "2"

    conversation_id = f"wechat:{OPENID}"
    assert plain.count(Message, conversation_id=conversation_id, sender="customer") == 3
    assert plain.count(Message, conversation_id=conversation_id, sender="bot") == 3
    assert plain.count(Conversation, id=conversation_id, channel="wechat") == 1
    assert plain.api.sent == []  # everything went back in the passive replies


async def test_numbered_options_survive_a_restart_through_the_store(plain):
    plain.rasa.respond = bill_buttons
    await plain.say("查电费")
    plain.app[WECHAT_CHANNEL].options = NumberedOptions()  # as if another gateway got the answer
    await plain.say("1")
    assert plain.rasa.received[-1]["message"] == '/inform{"period":"本月"}'
    await plain.say("1")  # the options answered one message only
    assert plain.rasa.received[-1]["message"] == "1"


async def test_safe_mode_exchange_is_encrypted_both_ways(safe):
    content, _ = await safe.say("我家停电了")
    assert content == "收到：我家停电了"
    assert safe.rasa.received[-1]["sender"] == f"wechat:{OPENID}"
    assert safe.count(Message, conversation_id=f"wechat:{OPENID}", sender="customer") == 1


async def test_safe_mode_refuses_ciphertext_for_another_appid(safe):
    fields = safe.text("冒充的消息")
    ciphertext = safe.crypto.encrypt(message_xml(fields), receiver_id="wx_someone_else")
    query = safe.crypto.signed_query(ciphertext)
    query["encrypt_type"] = "aes"
    body = f"<xml><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>"
    resp = await safe.client.post("/channels/wechat", params=query, data=body.encode())
    assert resp.status == 403
    assert safe.rasa.received == []
    assert safe.count(Message) == 0


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_forged_or_missing_signature_is_refused_and_nothing_stored(
        aiohttp_server, aiohttp_client, tmp_path, monkeypatch, mode):
    platform = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch,
                                   aes_key=new_aes_key() if mode == "safe" else "")
    timestamp, nonce = str(int(time.time())), "abc123"
    forged = {"timestamp": timestamp, "nonce": nonce,
              "signature": sha1_signature("guessed-token", timestamp, nonce)}
    for query in (forged, {}, {"timestamp": timestamp, "nonce": nonce}):
        status, _, _ = await platform.post(platform.text("转人工"), query=dict(query))
        assert status == 403
    if mode == "safe":
        # Right plain signature but a forged msg_signature over the ciphertext.
        ciphertext = platform.crypto.encrypt(message_xml(platform.text("转人工")))
        query = platform.crypto.signed_query(ciphertext)
        query.update(encrypt_type="aes", msg_signature="0" * 40)
        resp = await platform.client.post("/channels/wechat", params=query,
                                          data=f"<xml><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>".encode())
        assert resp.status == 403
    assert platform.rasa.received == []
    assert platform.count(Message) == 0
    assert platform.count(Conversation) == 0


async def test_a_retried_message_is_processed_once(plain):
    fields = plain.text("电费怎么这么贵", msg_id=6912345678901234567)
    first = await plain.post(fields)
    second = await plain.post(fields)
    assert first[0] == second[0] == 200
    assert len(plain.rasa.received) == 1
    assert second[1] in ("", "success")
    assert plain.count(Message, conversation_id=f"wechat:{OPENID}", sender="customer") == 1
    assert plain.count(Message, conversation_id=f"wechat:{OPENID}", sender="bot") == 1

    # Retries racing each other are still taken once.
    fields = plain.text("什么时候来电", msg_id=6912345678901234568)
    answers = await asyncio.gather(*(plain.post(fields) for _ in range(3)))
    assert [status for status, _, _ in answers] == [200, 200, 200]
    bodies = [body for _, body, _ in answers]
    assert bodies.count("success") == 2 and sum("收到：什么时候来电" in b for b in bodies) == 1
    assert len(plain.rasa.received) == 2
    assert plain.count(Message, conversation_id=f"wechat:{OPENID}", sender="customer") == 2

    # A retry reaching a gateway that never saw the first (restart, another gateway) is
    # caught by the store.
    plain.app[WECHAT_CHANNEL].recent = RecentIds()
    status, body, _ = await plain.post(fields)
    assert status == 200 and body == "success"
    assert len(plain.rasa.received) == 2
    assert plain.count(Message, conversation_id=f"wechat:{OPENID}", sender="customer") == 2


async def test_slow_bot_is_answered_through_the_customer_service_api(
        aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    platform = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch,
                                   passive_seconds="0.5", rasa=FakeRasa(delay=1.5))
    content, elapsed = await platform.say("帮我查一下上个月电费")
    assert content is None  # "success" at once: the platform will not retry
    assert elapsed < 1.4
    sent = await platform.api.wait_sent(1)
    assert sent[0]["path"] == "/cgi-bin/message/custom/send"
    assert sent[0]["body"] == {"touser": OPENID, "msgtype": "text",
                               "text": {"content": "收到：帮我查一下上个月电费"}}
    assert "收到".encode() in sent[0]["raw"]  # UTF-8 text, not \\u escapes

    await platform.say("再查一下本月的")
    sent = await platform.api.wait_sent(2)
    assert sent[1]["body"]["text"]["content"] == "收到：再查一下本月的"
    assert len(platform.api.token_requests) == 1  # fetched once, then cached
    assert platform.api.token_requests[0]["appid"] == APPID
    assert sent[0]["access_token"] == sent[1]["access_token"]
    # The replies are stored as delivered (the hub marks them right after the API call).
    for _ in range(50):
        with platform.app[STORE].session() as session:
            delivered = session.execute(select(Message.delivered_at).where(Message.sender == "bot")).scalars().all()
        if all(delivered):
            break
        await asyncio.sleep(0.05)
    assert len(delivered) == 2 and all(delivered)


async def test_expired_token_is_refreshed_once_and_the_message_resent(plain):
    hub = plain.app[HUB]
    conversation_id = f"wechat:{OPENID}"
    # Through the hub directly, no platform request is open: the bot's reply is pushed too.
    await hub.handle_customer_message("wechat", conversation_id, "你好", client_msg_id="m1")
    await hub.push(conversation_id, {"text": "您的报修单已派工。"}, sender="system")
    assert [s["body"]["text"]["content"] for s in plain.api.sent] == ["收到：你好", "您的报修单已派工。"]
    assert len(plain.api.token_requests) == 1

    plain.api.reject_next_with = 42001  # "access_token expired"
    data = await hub.push(conversation_id, {"text": "抢修人员已到达现场。"}, sender="system")
    assert data["delivered_at"] is not None
    assert plain.api.sent[-1]["body"]["text"]["content"] == "抢修人员已到达现场。"
    assert len(plain.api.sent) == 3
    assert len(plain.api.token_requests) == 2


async def test_pushed_message_stays_pending_when_the_api_fails_and_goes_later(plain):
    await plain.say("你好")
    conversation_id = f"wechat:{OPENID}"
    plain.api.reject_next_with = 40001
    plain.api.secret = "rotated"  # and no new token can be had
    data = await plain.app[HUB].push(conversation_id, {"text": "明天8点至17点计划停电。"}, sender="system")
    assert data["delivered_at"] is None  # left pending, not lost
    assert plain.api.sent == []

    plain.api.secret = SECRET
    await plain.app[HUB].push(conversation_id, {"text": "停电已恢复。"}, sender="system")
    assert [s["body"]["text"]["content"] for s in plain.api.sent] == ["明天8点至17点计划停电。", "停电已恢复。"]


async def test_hand_off_over_wechat_reaches_the_console_and_staff_reply_is_delivered(
        aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    rasa = FakeRasa()
    platform = None

    async def respond(body):
        if body["message"] == "转人工":
            # What action_handoff does: ask the gateway's REST API for a person.
            settings = platform.app[SETTINGS]
            async with aiohttp.ClientSession() as session:
                async with session.post(
                        str(platform.client.make_url("/api/v1/handoffs")),
                        json={"conversation_id": body["sender"], "channel": body["metadata"]["channel"],
                              "reason": "customer_request", "summary": "客户要求人工"},
                        headers={"Authorization": f"Bearer {settings.service_token}"},
                        timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    assert resp.status == 201, await resp.text()
            return []
        return [{"text": f"收到：{body['message']}"}]

    rasa.respond = respond
    platform = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch, rasa=rasa)
    conversation_id = f"wechat:{OPENID}"

    content, _ = await platform.say("转人工")
    assert content and "人工" in content  # the queue notice, in the passive reply
    with platform.app[STORE].session() as session:
        handoff = session.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)).scalar_one()
        assert (handoff.status, handoff.channel, handoff.reason) == ("waiting", "wechat", "customer_request")
    assert platform.conversation_state(conversation_id) == "waiting"

    # While waiting, the customer's messages go to staff, not to the bot.
    asked = len(rasa.received)
    content, _ = await platform.say("我家整栋楼都停电了")
    assert content is None
    # A photo cannot be read by the bot, but the person who will serve can open it.
    status, body, _ = await platform.post(platform.fields("image", PicUrl="http://example.invalid/meter.jpg",
                                                          MediaId="m9", MsgId=555))
    assert status == 200 and body == "success"
    assert len(rasa.received) == asked
    with platform.app[STORE].session() as session:
        texts = session.execute(select(Message.text).where(Message.conversation_id == conversation_id,
                                                           Message.sender == "customer")).scalars().all()
    assert texts[-2:] == ["我家整栋楼都停电了", "[图片] http://example.invalid/meter.jpg"]

    service = platform.app[HANDOFF_SERVICE]
    await service.accept(conversation_id, "wangfang", "王芳")
    assert platform.conversation_state(conversation_id) == "human"
    await service.reply(conversation_id, "wangfang", "王芳", "您好，我是客服王芳，马上为您查询。")
    sent = await platform.api.wait_sent(2)
    texts = [s["body"]["text"]["content"] for s in sent]
    assert all(s["body"]["touser"] == OPENID for s in sent)
    assert any("您好，我是客服王芳，马上为您查询。" in t and "王芳" in t for t in texts)
    assert platform.count(Message, conversation_id=conversation_id, sender="staff") == 1


async def test_subscribe_greets_and_numbers_pick_the_menu(plain):
    status, body, _ = await plain.post(plain.fields("event", Event="subscribe", EventKey=""))
    assert status == 200
    greeting = ElementTree.fromstring(body).findtext("Content")
    assert "欢迎" in greeting and "1. 查电费" in greeting and "2. 故障报修" in greeting
    assert plain.rasa.received == []
    await plain.say("２")  # a full-width digit
    assert plain.rasa.received[-1]["message"] == "/report_fault"


async def test_voice_uses_recognition_and_images_get_a_polite_answer(plain):
    voice = plain.fields("voice", MediaId="media1", Format="amr", Recognition="我要交电费", MsgId=123456)
    status, body, _ = await plain.post(voice)
    assert status == 200
    assert plain.rasa.received[-1]["message"] == "我要交电费"
    assert ElementTree.fromstring(body).findtext("Content") == "收到：我要交电费"

    image = plain.fields("image", PicUrl="http://example.invalid/a.jpg", MediaId="m2", MsgId=123457)
    status, body, _ = await plain.post(image)
    assert status == 200
    answer = ElementTree.fromstring(body).findtext("Content")
    assert "文字" in answer and "转人工" in answer
    assert len(plain.rasa.received) == 1


async def test_channel_is_off_without_its_settings(tmp_path, monkeypatch, caplog, aiohttp_client):
    for name in ("WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_APPSECRET", "WECHAT_AES_KEY"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.INFO, logger="bot.channels.wechat"):
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'off.db'}"), start_background=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.channels.wechat"]
    assert lines == ["WeChat Official Account channel is off: WECHAT_TOKEN, WECHAT_APPID, WECHAT_APPSECRET not set"]
    client = await aiohttp_client(app)
    resp = await client.post("/channels/wechat", data=b"<xml/>")
    assert resp.status in (404, 405)


async def test_gateways_share_one_access_token_through_redis(
        redis_server, aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    rasa_server = await aiohttp_server(FakeRasa().app())
    api = FakePlatformApi(APPID, SECRET)
    api_server = await aiohttp_server(api.app())
    for name, value in {"WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_APPSECRET": SECRET,
                        "WECHAT_AES_KEY": "", "WECHAT_API_BASE": str(api_server.make_url(""))}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'gateway.db'}", redis_url=redis_server.url,
                        rasa_url=str(rasa_server.make_url("")).rstrip("/"))
    gateways = [create_app(settings, start_background=False) for _ in range(2)]
    for app in gateways:
        await aiohttp_client(app)  # starts it (and stops it at the end)
    # Other tests may share this Redis server: start without a token.
    redis.Redis.from_url(redis_server.url).delete(f"channels:access_token:wechat:{APPID}")

    first, second = gateways
    conversation_id = f"wechat:{OPENID}"
    await first[HUB].handle_customer_message("wechat", conversation_id, "你好", client_msg_id="a1")
    await second[HUB].push(conversation_id, {"text": "通知一"}, sender="system")
    assert len(api.sent) == 2 and len(api.token_requests) == 1
    assert api.sent[0]["access_token"] == api.sent[1]["access_token"]

    # The platform retires the token: the first gateway fetches a new one, the second
    # adopts it from Redis instead of fetching again.
    api.reject_next_with = 40001
    await first[HUB].push(conversation_id, {"text": "通知二"}, sender="system")
    await second[HUB].push(conversation_id, {"text": "通知三"}, sender="system")
    assert [s["body"]["text"]["content"] for s in api.sent][-2:] == ["通知二", "通知三"]
    assert len(api.token_requests) == 2
    assert api.sent[-1]["access_token"] == api.sent[-2]["access_token"] != api.sent[0]["access_token"]


# --- issue 16 item 3: safe mode takes only encrypted bodies; stale and replayed requests refused

def _body_of(platform: WeChatPlatform, fields: dict, ciphertext: str | None = None) -> bytes:
    if ciphertext is None:
        return message_xml(fields).encode()
    return f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>".encode()


async def test_safe_mode_refuses_a_plaintext_body_under_a_valid_signature(safe):
    # The attack: a callback URL's timestamp/nonce/signature (they do not cover the body) with
    # a new plaintext body as another OpenID asking for a person.
    query = safe.crypto.signed_query()
    query["openid"] = "oVictim_1234"
    body = _body_of(safe, safe.text("转人工", openid="oVictim_1234"))
    resp = await safe.client.post("/channels/wechat", params=query, data=body)
    assert resp.status == 403
    # Compatible mode's envelope (plaintext fields beside Encrypt) without encrypt_type: refused too.
    fields = safe.text("转人工", openid="oVictim_1234")
    ciphertext = safe.crypto.encrypt(message_xml(fields))
    both = message_xml(fields).replace("</xml>", f"<Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>")
    resp = await safe.client.post("/channels/wechat", params=safe.crypto.signed_query(ciphertext), data=both.encode())
    assert resp.status == 403
    assert safe.rasa.received == []
    assert safe.count(Message) == 0 and safe.count(Conversation) == 0 and safe.count(Handoff) == 0
    # The same message properly encrypted goes through.
    content, _ = await safe.say("你好")
    assert content == "收到：你好"


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_stale_timestamps_are_refused(aiohttp_server, aiohttp_client, tmp_path, monkeypatch, mode):
    platform = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch,
                                   aes_key=new_aes_key() if mode == "safe" else "")
    for age in (6 * 60, -6 * 60, 86400):  # older than 5 minutes, from the future, a day old
        fields = platform.text("我家停电了")
        ciphertext = platform.crypto.encrypt(message_xml(fields)) if platform.safe else None
        query = platform.crypto.signed_query(ciphertext, timestamp=str(int(time.time()) - age))
        if platform.safe:
            query["encrypt_type"] = "aes"
        resp = await platform.client.post("/channels/wechat", params=query,
                                          data=_body_of(platform, fields, ciphertext))
        assert resp.status == 403, age
    # URL verification too.
    query = platform.crypto.signed_query(timestamp=str(int(time.time()) - 3600))
    resp = await platform.client.get("/channels/wechat", params=dict(query, echostr="42"))
    assert resp.status == 403
    assert platform.rasa.received == [] and platform.count(Message) == 0
    # Within the window (a little clock skew) it is taken.
    fields = platform.text("我家停电了")
    ciphertext = platform.crypto.encrypt(message_xml(fields)) if platform.safe else None
    query = platform.crypto.signed_query(ciphertext, timestamp=str(int(time.time()) - 200))
    if platform.safe:
        query["encrypt_type"] = "aes"
    resp = await platform.client.post("/channels/wechat", params=query, data=_body_of(platform, fields, ciphertext))
    assert resp.status == 200
    assert len(platform.rasa.received) == 1


async def test_the_timestamp_window_is_configurable(aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    monkeypatch.setenv("CHANNEL_TIMESTAMP_WINDOW_SECONDS", "60")
    platform = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch)
    fields = platform.text("查电费")
    query = platform.crypto.signed_query(timestamp=str(int(time.time()) - 120))
    resp = await platform.client.post("/channels/wechat", params=query, data=_body_of(platform, fields))
    assert resp.status == 403


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_a_replayed_nonce_with_another_body_is_refused(aiohttp_server, aiohttp_client, tmp_path,
                                                            monkeypatch, mode):
    platform = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch,
                                   aes_key=new_aes_key() if mode == "safe" else "")
    status, _, query = await platform.post(platform.text("你好"))
    assert status == 200
    # Another customer's message under the captured query (same timestamp, nonce, signature).
    fields = platform.text("转人工", openid="oVictim_1234")
    if platform.safe:
        # Without the token the attacker cannot sign a new ciphertext; even a valid one
        # (an insider's) under the used nonce is refused.
        ciphertext = platform.crypto.encrypt(message_xml(fields))
        query = dict(query, msg_signature=sha1_signature(TOKEN, query["timestamp"], query["nonce"], ciphertext))
        body = _body_of(platform, fields, ciphertext)
    else:
        body = _body_of(platform, fields)
    resp = await platform.client.post("/channels/wechat", params=query, data=body)
    assert resp.status == 403
    assert [m["sender"] for m in platform.rasa.received] == [f"wechat:{OPENID}"]
    assert platform.count(Conversation, id="wechat:oVictim_1234") == 0
    assert platform.count(Handoff) == 0


async def test_the_platforms_own_retry_of_the_same_request_is_answered_once(plain):
    fields = plain.text("电费怎么这么贵")
    query = plain.crypto.signed_query()
    body = _body_of(plain, fields)
    first = await plain.client.post("/channels/wechat", params=query, data=body)
    again = await plain.client.post("/channels/wechat", params=query, data=body)
    assert first.status == again.status == 200
    assert await again.text() == "success"
    assert len(plain.rasa.received) == 1


async def test_gateways_sharing_a_store_share_the_nonces(aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    first = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch)
    # A second gateway on the same store (as behind the load balancer).
    second_app = create_app(first.app[SETTINGS], start_background=False)
    second = await aiohttp_client(second_app)
    status, _, query = await first.post(first.text("你好"))
    assert status == 200
    resp = await second.post("/channels/wechat", params=query,
                             data=_body_of(first, first.text("转人工", openid="oVictim_1234")))
    assert resp.status == 403
    assert len(first.rasa.received) == 1


# --- issue 16 item 10: long messages are refused with an answer, the welcome asks once

async def test_a_message_over_the_limit_is_refused_with_an_answer_not_cut(plain):
    from bot.web_channel import MAX_MESSAGE_CHARS, TOO_LONG_TEXT

    content, _ = await plain.say("电" * (MAX_MESSAGE_CHARS + 1))
    assert content == TOO_LONG_TEXT and "2000" in content
    assert plain.rasa.received == []
    assert plain.count(Message) == 0
    content, _ = await plain.say("电" * MAX_MESSAGE_CHARS)  # at the limit: taken whole
    assert len(plain.rasa.received[-1]["message"]) == MAX_MESSAGE_CHARS
    with plain.app[STORE].session() as session:
        assert len(session.execute(select(Message.text).where(Message.sender == "customer")).scalar_one()) == 2000


async def test_the_welcome_asks_for_a_number_once(plain):
    status, body, _ = await plain.post(plain.fields("event", Event="subscribe", EventKey=""))
    greeting = ElementTree.fromstring(body).findtext("Content")
    assert greeting.count("回复数字选择") == 1
    assert greeting.index("回复数字选择") < greeting.index("1. 查电费")


async def _chart_link(platform) -> str:
    """A usage-chart link of this gateway for a customer with a year of bills (as the assistant makes it)."""
    from bot.api.notices import CHART_PATH, tokens
    from tests.support.notices import add_bill, add_customer

    store = platform.app[STORE]
    account = add_customer(store)
    for month in range(1, 13):
        add_bill(store, account, f"2025-{month:02d}", 200 + 10 * month, amount=100 + month)
    return CHART_PATH.format(token=tokens(platform.app).issue(account))


async def test_the_usage_chart_goes_as_an_image_message_and_as_a_link_when_that_fails(plain):
    hub = plain.app[HUB]
    conversation_id = f"wechat:{OPENID}"
    await hub.handle_customer_message("wechat", conversation_id, "你好", client_msg_id="m1")
    src = await _chart_link(plain)
    chart = {"attachment": {"type": "image", "payload": {"src": src, "title": "近12个月用电情况（户号尾号0001）"}}}
    data = await hub.push(conversation_id, chart, sender="bot")
    assert data["delivered_at"] is not None
    image = plain.api.sent[-1]
    assert image["path"] == "/cgi-bin/message/custom/send" and image["body"]["msgtype"] == "image"
    media = plain.api.media[image["body"]["image"]["media_id"]]
    assert media["data"][:8] == b"\x89PNG\r\n\x1a\n" and media["content_type"] == "image/png"
    assert image["body"]["touser"] == OPENID

    plain.api.refuse_uploads = True  # the platform will not take the picture: its link instead
    await hub.push(conversation_id, chart, sender="bot")
    link = plain.api.sent[-1]["body"]
    assert link["msgtype"] == "text" and link["text"]["content"] == f"近12个月用电情况（户号尾号0001），点击查看：{src}"

    # A link that is not this gateway's chart (or whose token is forged) is never drawn: a link.
    plain.api.refuse_uploads = False
    forged = src[:-10] + ("A" if src[-10] != "A" else "B") + src[-9:]
    for other in ("https://example.com/x.png", forged):
        await hub.push(conversation_id, {"attachment": {"type": "image", "payload": {"src": other, "title": "图"}}},
                       sender="bot")
        assert plain.api.sent[-1]["body"]["msgtype"] == "text"
    assert len(plain.api.media) == 1
