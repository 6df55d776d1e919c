"""Which senders a gateway or a cron run gets (bot.notices.senders.build), and that the WeChat
notices use the WeChat channel's own API client (one access token per app id)."""
from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.channels.wechat import WeChatApi, WeChatSettings
from bot.notices import senders
from bot.notices.engine import Target
from tests.support.platforms import FakePlatformApi
from bot.channels.wechat import WECHAT_CHANNEL
from bot.conversations import HUB

pytestmark = pytest.mark.asyncio
TARGET = Target(7, "planned_outage", "3201000037", "wechat", "openid-7", "wechat:openid-7",
                {"title": "停电通知", "text": "【停电通知】因10千伏线路检修，明天08:00至17:00计划停电。"})


async def test_the_gateways_wechat_channel_client_sends_the_template_messages():
    fake = FakePlatformApi("wx-app", "wx-secret")
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    api = WeChatApi(WeChatSettings(token="t", appid="wx-app", appsecret="wx-secret", aes_key="",
                                   api_base=str(server.make_url("")), passive_seconds=1))
    app = web.Application()

    class Channel:
        pass

    channel = Channel()
    channel.api = api  # type: ignore[attr-defined]
    app[WECHAT_CHANNEL], app[HUB] = channel, object()
    fields = '{"thing1": "title", "thing2": "text", "time3": "time"}'
    built = senders.build(app, environ={"WECHAT_TEMPLATE_NOTICE": "TPL-9", "WECHAT_TEMPLATE_FIELDS": fields})
    try:
        assert sorted(built.by_channel) == ["conversation", "web", "wechat"] and built.owned == []
        await built.by_channel["wechat"](TARGET)
        await built.by_channel["wechat"](TARGET)
        assert len(fake.token_requests) == 1  # the channel's cached token
        sent = fake.sent[0]
        assert sent["path"] == "/cgi-bin/message/template/send"
        data = sent["body"]["data"]
        assert sent["body"]["touser"] == "openid-7" and sent["body"]["template_id"] == "TPL-9"
        assert data["thing1"]["value"] == "停电通知" and len(data["thing2"]["value"]) == 20
        assert data["thing2"]["value"].endswith("…") and len(data["time3"]["value"]) == 16
    finally:
        await built.close()
        await api.close()
        await server.close()


def test_a_cron_run_builds_its_own_clients_from_the_environment_and_leaves_out_what_is_not_set():
    environ = {"WECHAT_TOKEN": "t", "WECHAT_APPID": "wx", "WECHAT_APPSECRET": "s", "WECHAT_TEMPLATE_NOTICE": "TPL",
               "TENCENTCLOUD_SECRET_ID": "id", "TENCENTCLOUD_SECRET_KEY": "key", "TENCENT_SMS_SDK_APP_ID": "1400",
               "TENCENT_SMS_SIGN_NAME": "供电服务", "TENCENT_SMS_TEMPLATE_ID": "1"}
    built = senders.build(hub=object(), environ=environ)
    # No "conversation" sender: a cron run has no channel to write into a ticket's conversation.
    assert sorted(built.by_channel) == ["sms", "web", "wechat"] and len(built.owned) == 2
    without = senders.build(environ={"WECHAT_TOKEN": "t", "WECHAT_APPID": "wx", "WECHAT_APPSECRET": "s"})
    assert without.by_channel == {}  # no template id: no WeChat notices (customer-service messages would not reach)
