"""The pieces the messaging channels share: text splitting, numbered options, token cache,
settings validation."""
from __future__ import annotations

import asyncio

import pytest

from bot.channels.common import AccessToken, NumberedOptions, split_text
from bot.channels.wechat import WeChatSettings
from bot.channels.wecom import WeComSettings


def test_split_text_respects_the_byte_limit_and_keeps_every_character():
    text = "第一行\n" + "停电" * 700 + "\n最后一行"
    pieces = split_text(text, limit=2000)
    assert len(pieces) > 1
    assert all(len(p.encode("utf-8")) <= 2000 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert split_text("短消息") == ["短消息"]


def test_numbered_options_accept_full_width_digits_and_only_in_range():
    options = NumberedOptions()
    rendered = options.render("c", {"text": "请选择", "buttons": [
        {"title": "满意", "payload": "/rate_service{\"rating\":\"satisfied\"}"},
        {"title": "不满意", "payload": "/rate_service{\"rating\":\"dissatisfied\"}"}]})
    assert rendered == "请选择\n\n回复数字选择：\n1. 满意\n2. 不满意"
    assert options.resolve("c", "３。") == "３。"  # out of range: the text itself, unchanged
    options.offer("c", [{"title": "满意", "payload": "/a"}, {"title": "不满意", "payload": "/b"}])
    assert options.resolve("c", "２") == "/b"
    assert options.resolve("c", "2") == "2"  # used up


def test_staff_messages_name_the_agent():
    assert NumberedOptions().render("c", {"text": "您好", "metadata": {"agent": "王芳"}}) == "【人工客服 王芳】您好"


@pytest.mark.asyncio
async def test_access_token_is_cached_and_refreshed_once_for_concurrent_callers():
    fetched = []

    async def fetch():
        fetched.append(1)
        await asyncio.sleep(0.01)
        return f"T{len(fetched)}", 7200

    token = AccessToken(fetch)
    assert await asyncio.gather(*(token.get() for _ in range(5))) == ["T1"] * 5
    # Three senders see T1 refused at once: one fetch, all get T2.
    assert await asyncio.gather(*(token.get(refresh=True, stale="T1") for _ in range(3))) == ["T2"] * 3
    assert len(fetched) == 2


def test_settings_are_off_with_a_reason_when_incomplete_or_malformed():
    assert WeChatSettings.from_env({}) == (None, "WECHAT_TOKEN, WECHAT_APPID, WECHAT_APPSECRET not set")
    base = {"WECHAT_TOKEN": "t", "WECHAT_APPID": "wx1", "WECHAT_APPSECRET": "s"}
    assert WeChatSettings.from_env({**base, "WECHAT_AES_KEY": "short"})[0] is None
    settings, _ = WeChatSettings.from_env(base)
    assert settings.api_base == "https://api.weixin.qq.com" and settings.aes_key == ""
    wecom = {"WECOM_TOKEN": "t", "WECOM_AES_KEY": "a" * 43, "WECOM_CORP_ID": "ww1",
             "WECOM_AGENT_ID": "x", "WECOM_SECRET": "s"}
    assert WeComSettings.from_env(wecom) == (None, "WECOM_AGENT_ID must be a number")
    settings, _ = WeComSettings.from_env({**wecom, "WECOM_AGENT_ID": "1000002"})
    assert settings.agent_id == 1000002 and settings.api_base == "https://qyapi.weixin.qq.com"
