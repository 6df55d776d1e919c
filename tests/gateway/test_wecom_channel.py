"""WeCom self-built application channel, end to end: a running gateway (in-process aiohttp
server on loopback), a fake Rasa and a fake WeCom API on loopback, and callbacks encrypted
by the test's own implementation of the published algorithm."""
from __future__ import annotations

import logging
import time

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Settings
from bot.store.models import Conversation, Message
from tests.support.platforms import (
    FakePlatformApi,
    FakeRasa,
    PlatformCrypto,
    encrypted_envelope,
    message_xml,
    new_aes_key,
    sha1_signature,
)
from bot.store import STORE

pytestmark = pytest.mark.asyncio

TOKEN = "wecom-callback-token"
CORP_ID = "ww0123456789abcdef"
AGENT_ID = "1000002"
SECRET = "wecom-app-secret"
USER_ID = "ZhangWei"


class WeComPlatform:
    def __init__(self, client, app, rasa: FakeRasa, api: FakePlatformApi, aes_key: str):
        self.client = client
        self.app = app
        self.rasa = rasa
        self.api = api
        self.crypto = PlatformCrypto(TOKEN, aes_key, CORP_ID)
        self._next_id = 1234567890123456

    def fields(self, msg_type: str, user: str = USER_ID, **extra) -> dict:
        fields = {"ToUserName": CORP_ID, "FromUserName": user, "CreateTime": int(time.time()),
                  "MsgType": msg_type}
        fields.update(extra)
        fields.setdefault("AgentID", int(AGENT_ID))
        return fields

    def text(self, content: str, msg_id: int | None = None) -> dict:
        if msg_id is None:
            self._next_id += 1
            msg_id = self._next_id
        return self.fields("text", Content=content, MsgId=msg_id)

    async def post(self, fields: dict, receiver_id: str | None = None,
                   query: dict | None = None) -> tuple[int, str, dict]:
        ciphertext = self.crypto.encrypt(message_xml(fields), receiver_id=receiver_id)
        signed = self.crypto.signed_query(ciphertext)
        signed.pop("signature")  # WeCom signs with msg_signature only
        if query is not None:
            signed = query
        body = encrypted_envelope(CORP_ID, ciphertext, AGENT_ID)
        resp = await self.client.post("/channels/wecom", params=signed, data=body.encode())
        return resp.status, await resp.text(), signed

    async def say(self, content: str, **kwargs) -> tuple[str | None, float]:
        started = time.monotonic()
        status, body, query = await self.post(self.text(content, **kwargs))
        elapsed = time.monotonic() - started
        assert status == 200, body
        if body == "":
            return None, elapsed
        reply = self.crypto.open_reply(body, query)  # checks signature and receiver id
        assert reply.findtext("ToUserName") == USER_ID
        assert reply.findtext("FromUserName") == CORP_ID
        assert reply.findtext("MsgType") == "text"
        return reply.findtext("Content"), elapsed

    def count(self, model, **where) -> int:
        with self.app[STORE].session() as session:
            query = select(func.count()).select_from(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return session.execute(query).scalar_one()


async def start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch, *,
                        passive_seconds="4", rasa: FakeRasa | None = None) -> WeComPlatform:
    rasa = rasa or FakeRasa()
    rasa_server = await aiohttp_server(rasa.app())
    api = FakePlatformApi(CORP_ID, SECRET)
    api_server = await aiohttp_server(api.app())
    aes_key = new_aes_key()
    for name, value in {"WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": aes_key, "WECOM_CORP_ID": CORP_ID,
                        "WECOM_AGENT_ID": AGENT_ID, "WECOM_SECRET": SECRET,
                        "WECOM_API_BASE": str(api_server.make_url("")),
                        "WECOM_PASSIVE_REPLY_SECONDS": passive_seconds}.items():
        monkeypatch.setenv(name, value)
    for name in ("WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_APPSECRET", "WECHAT_AES_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'gateway.db'}",
                        rasa_url=str(rasa_server.make_url("")).rstrip("/"), rasa_timeout=10.0)
    app = create_app(settings, start_background=False)
    client = await aiohttp_client(app)
    return WeComPlatform(client, app, rasa, api, aes_key)


@pytest_asyncio.fixture
async def wecom(aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    return await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch)


async def test_url_verification_decrypts_echostr(wecom):
    echostr = wecom.crypto.encrypt("5927782489442352469")
    query = wecom.crypto.signed_query(echostr)
    query.pop("signature")
    query["echostr"] = echostr
    resp = await wecom.client.get("/channels/wecom", params=query)
    assert resp.status == 200
    assert await resp.text() == "5927782489442352469"

    forged = dict(query, msg_signature=sha1_signature("guess", query["timestamp"], query["nonce"], echostr))
    resp = await wecom.client.get("/channels/wecom", params=forged)
    assert resp.status == 403
    assert "5927782489442352469" not in await resp.text()

    # Signed correctly but encrypted for another corp: the receiver id check refuses it.
    other = wecom.crypto.encrypt("5927782489442352469", receiver_id="ww_other_corp")
    query = wecom.crypto.signed_query(other)
    query["echostr"] = other
    resp = await wecom.client.get("/channels/wecom", params=query)
    assert resp.status == 403


async def test_encrypted_exchange_with_numbered_options(wecom):
    def respond(body):
        if body["message"] == "我要办业务":
            return [{"text": "请选择要办理的业务：",
                     "buttons": [{"title": "新装", "payload": "/apply_service{\"business_type\":\"new_connection\"}"},
                                 {"title": "增容", "payload": "/apply_service{\"business_type\":\"capacity_change\"}"}]}]
        return [{"text": f"收到：{body['message']}"}]

    wecom.rasa.respond = respond
    content, elapsed = await wecom.say("我要办业务")
    assert content.startswith("请选择要办理的业务：")
    assert "1. 新装" in content and "2. 增容" in content
    assert elapsed < 4
    assert wecom.rasa.received[-1]["sender"] == f"wecom:{USER_ID}"
    assert wecom.rasa.received[-1]["metadata"]["channel"] == "wecom"
    content, _ = await wecom.say("1")
    assert wecom.rasa.received[-1]["message"] == '/apply_service{"business_type":"new_connection"}'
    assert wecom.count(Message, conversation_id=f"wecom:{USER_ID}", sender="customer") == 2
    assert wecom.count(Conversation, id=f"wecom:{USER_ID}", channel="wecom") == 1


async def test_forged_signature_or_foreign_corp_is_refused_and_nothing_stored(wecom):
    fields = wecom.text("我要投诉")
    timestamp, nonce = str(int(time.time())), "n0nce"
    for query in ({"timestamp": timestamp, "nonce": nonce, "msg_signature": "f" * 40},
                  {"timestamp": timestamp, "nonce": nonce}, {}):
        status, _, _ = await wecom.post(fields, query=query)
        assert status == 403
    status, _, _ = await wecom.post(wecom.text("我要投诉"), receiver_id="ww_other_corp")
    assert status == 403
    assert wecom.rasa.received == []
    assert wecom.count(Message) == 0
    assert wecom.count(Conversation) == 0


async def test_a_retried_callback_is_processed_once(wecom):
    fields = wecom.text("查一下停电", msg_id=4455667788)
    first = await wecom.post(fields)
    second = await wecom.post(fields)
    assert first[0] == second[0] == 200
    assert first[1] != "" and second[1] == ""
    assert len(wecom.rasa.received) == 1
    assert wecom.count(Message, conversation_id=f"wecom:{USER_ID}", sender="customer") == 1


async def test_slow_bot_is_answered_through_message_send(aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    platform = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch,
                                   passive_seconds="0.5", rasa=FakeRasa(delay=1.5))
    content, elapsed = await platform.say("我要报修")
    assert content is None and elapsed < 1.4
    await platform.say("地址是中山路18号")
    sent = await platform.api.wait_sent(2)
    assert [s["path"] for s in sent] == ["/cgi-bin/message/send"] * 2
    assert sent[0]["body"] == {"touser": USER_ID, "msgtype": "text", "agentid": int(AGENT_ID),
                               "text": {"content": "收到：我要报修"}}
    assert sent[1]["body"]["text"]["content"] == "收到：地址是中山路18号"
    assert len(platform.api.token_requests) == 1
    assert platform.api.token_requests[0] == {"corpid": CORP_ID, "corpsecret": SECRET}


async def test_message_for_another_agent_is_ignored(wecom):
    status, body, _ = await wecom.post(wecom.fields("text", Content="你好", MsgId=99, AgentID=1000099))
    assert status == 200 and body == ""
    assert wecom.rasa.received == []


async def test_subscribe_greets_and_voice_and_image(wecom):
    status, body, query = await wecom.post(wecom.fields("event", Event="subscribe"))
    assert status == 200
    assert "欢迎" in wecom.crypto.open_reply(body, query).findtext("Content")
    status, body, query = await wecom.post(wecom.fields("voice", MediaId="m", Format="amr",
                                                        Recognition="什么时候来电", MsgId=77))
    assert wecom.rasa.received[-1]["message"] == "什么时候来电"
    status, body, query = await wecom.post(wecom.fields("image", PicUrl="http://example.invalid/x.jpg",
                                                        MediaId="m2", MsgId=78))
    assert "文字" in wecom.crypto.open_reply(body, query).findtext("Content")
    assert len(wecom.rasa.received) == 1


async def test_channel_is_off_without_its_settings(tmp_path, monkeypatch, caplog):
    for name in ("WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WECOM_TOKEN", "t")
    with caplog.at_level(logging.INFO, logger="bot.channels.wecom"):
        create_app(Settings(database_url=f"sqlite:///{tmp_path / 'off.db'}"), start_background=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.channels.wecom"]
    assert lines == ["WeCom channel is off: WECOM_AES_KEY, WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_SECRET not set"]


# --- issue 16 item 3: stale and replayed callbacks refused

async def test_stale_or_replayed_callbacks_are_refused(wecom):
    fields = wecom.text("我家停电了")
    ciphertext = wecom.crypto.encrypt(message_xml(fields))
    stale = wecom.crypto.signed_query(ciphertext, timestamp=str(int(time.time()) - 600))
    stale.pop("signature")
    resp = await wecom.client.post("/channels/wecom", params=stale,
                                   data=encrypted_envelope(CORP_ID, ciphertext, AGENT_ID).encode())
    assert resp.status == 403
    echo = wecom.crypto.encrypt("8132465720493351234")
    query = wecom.crypto.signed_query(echo, timestamp=str(int(time.time()) - 600))
    resp = await wecom.client.get("/channels/wecom", params=dict(query, echostr=echo))
    assert resp.status == 403
    assert wecom.rasa.received == []

    status, _, query = await wecom.post(wecom.text("你好"))
    assert status == 200
    # A new (validly signed) ciphertext under the used timestamp and nonce: a replay.
    other = wecom.fields("text", user="LiSi", Content="转人工", MsgId=99)
    ciphertext = wecom.crypto.encrypt(message_xml(other))
    replay = dict(query, msg_signature=sha1_signature(TOKEN, query["timestamp"], query["nonce"], ciphertext))
    resp = await wecom.client.post("/channels/wecom", params=replay,
                                   data=encrypted_envelope(CORP_ID, ciphertext, AGENT_ID).encode())
    assert resp.status == 403
    assert [m["sender"] for m in wecom.rasa.received] == [f"wecom:{USER_ID}"]
    assert wecom.count(Conversation, id="wecom:LiSi") == 0


def _chart_link(platform: WeComPlatform) -> str:
    """A usage-chart link of this gateway for a customer with a year of bills (as the assistant makes it
    once the customer of this conversation has proved who they are)."""
    from bot.api.notices import CHART_PATH, tokens
    from tests.support.notices import add_bill, add_customer

    store = platform.app[STORE]
    account = add_customer(store)
    for month in range(1, 13):
        add_bill(store, account, f"2025-{month:02d}", 200 + 10 * month, amount=100 + month)
    return CHART_PATH.format(token=tokens(platform.app).issue(account))


async def test_the_usage_chart_goes_as_an_image_message_and_as_a_link_when_that_fails(
        aiohttp_server, aiohttp_client, tmp_path, monkeypatch):
    answers: dict[str, list[dict]] = {}
    rasa = FakeRasa(lambda body: answers.get(body["message"], [{"text": "好的"}]))
    # A long passive window: drawing the chart on a busy machine must not push the texts to the API.
    wecom = await start_gateway(aiohttp_server, aiohttp_client, tmp_path, monkeypatch, passive_seconds="30",
                                rasa=rasa)
    src = _chart_link(wecom)
    title = "近12个月用电情况（户号尾号0001）"
    answers["最近用电情况怎么样"] = [
        {"text": "为您画好了户号尾号0001近12个月的用电情况："},
        {"attachment": {"type": "image", "payload": {"src": src, "title": title}}},
        {"text": "近12个月共用电3180度。"},
    ]
    link = f"{title}，点击查看：{src}"

    reply, _ = await wecom.say("最近用电情况怎么样")
    assert reply == "为您画好了户号尾号0001近12个月的用电情况：\n\n近12个月共用电3180度。"  # no link
    assert len(wecom.api.sent) == 1
    image = wecom.api.sent[0]
    assert image["path"] == "/cgi-bin/message/send"
    media_id = image["body"]["image"]["media_id"]
    assert image["body"] == {"touser": USER_ID, "msgtype": "image", "agentid": int(AGENT_ID),
                             "image": {"media_id": media_id}}
    media = wecom.api.media[media_id]
    assert media["type"] == "image" and media["content_type"] == "image/png"
    assert media["data"][:8] == b"\x89PNG\r\n\x1a\n"

    # WeCom will not take the picture: the link message instead, in the same reply.
    wecom.api.refuse_uploads = True
    reply, _ = await wecom.say("最近用电情况怎么样")
    assert reply is not None and link in reply
    assert len(wecom.api.sent) == 1 and len(wecom.api.media) == 1

    # Uploaded but the image message refused (say, the media expired): the link as well.
    wecom.api.refuse_uploads = False
    wecom.api.refuse_images = True
    reply, _ = await wecom.say("最近用电情况怎么样")
    assert reply is not None and link in reply
    assert len(wecom.api.sent) == 1 and len(wecom.api.media) == 2

    # A picture that is not this gateway's chart is never uploaded: its link.
    wecom.api.refuse_images = False
    answers["别的图"] = [{"attachment": {"type": "image", "payload": {"src": "https://example.com/x.png",
                                                                     "title": "图"}}}]
    reply, _ = await wecom.say("别的图")
    assert reply == "图，点击查看：https://example.com/x.png"
    assert len(wecom.api.sent) == 1 and len(wecom.api.media) == 2
