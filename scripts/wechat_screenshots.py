"""Screenshots of the notices on WeChat, against a loopback fake of the WeChat API.

What it does, with nothing staged by hand:

1. starts a loopback fake of the WeChat API (``tests.support.platforms.FakePlatformApi``: access
   token, customer-service messages, template messages, media upload) and the product's stack
   (gateway, Rasa with the trained model in ``models/``, action server; a fresh SQLite store with
   the demo data) on ``--port``, ``--port``+1, +2, the WeChat channel pointed at the fake
   (``WECHAT_API_BASE``; plaintext mode; ``WECHAT_TEMPLATE_NOTICE`` set);
2. plays two WeChat users: signed XML text messages to the gateway's ``/channels/wechat`` as the
   WeChat server sends them. 赵敏 binds demo account 3201000037 (户号 and the last four phone
   digits), lists her subscriptions, switches one kind off and on again and asks about her usage;
   孙丽 binds 3201000038;
3. runs the notice engine once (``python -m bot notices run-once``, the command a cron job runs):
   it sends the template messages through the fake. The demo's quiet hours (21:00-08:00) are
   cleared first, as the README says for a demo in the evening, so the notices go out now;
4. renders, for each user, what reached their phone — the passive replies of the webhook and
   every message the fake API received for them (text, template messages, the chart as an image
   message with the uploaded PNG) — as a phone-sized chat page, and screenshots it with Chromium:
   ``docs/screenshots/wechat-bind.png``, ``wechat-subscriptions.png``, ``wechat-chart.png``,
   ``wechat-notices.png``, ``wechat-notices-abnormal.png``.

Usage: ``.venv/bin/python -m scripts.wechat_screenshots [--port 18130] [--out docs/screenshots]``
(needs a trained model in ``models/`` and ``/usr/bin/chromium``; the transcript is printed too).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import html
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from xml.etree import ElementTree

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.platforms import FakePlatformApi, message_xml  # noqa: E402

TOKEN, APPID, SECRET = "viewer-callback-token", "wx0123456789viewer", "viewer-app-secret"
OFFICIAL_ACCOUNT = "gh_viewer000001"
TEMPLATE_ID = "TPL-NOTICE-VIEWER"
CHROMIUM = "/usr/bin/chromium"
QUIET_SECONDS = 3.0  # a reply is complete when the fake has received nothing for this long
USERS = {
    "zhao": {"openid": "oZhaoMin_viewer_0037", "name": "赵敏"},
    "sun": {"openid": "oSunLi_viewer_0038", "name": "孙丽"},
}


# ---------------------------------------------------------------- what reached each phone

@dataclass
class Bubble:
    at: float
    side: str  # "me" (the customer) or "oa" (the official account)
    kind: str  # text | image | template
    text: str = ""
    png: bytes = b""
    fields: dict = field(default_factory=dict)


class RecordingFake(FakePlatformApi):
    """The WeChat API fake, noting when each message arrived."""

    def __init__(self) -> None:
        super().__init__(APPID, SECRET)
        self.arrived: list[float] = []

    async def _send(self, request: web.Request) -> web.Response:
        before = len(self.sent)
        response = await super()._send(request)
        if len(self.sent) > before:
            self.arrived.append(time.monotonic())
        return response

    def bubbles(self, openid: str) -> list[Bubble]:
        out = []
        for at, sent in zip(self.arrived, self.sent):
            body = sent["body"]
            if body.get("touser") != openid:
                continue
            if sent["path"].endswith("/template/send"):
                out.append(Bubble(at, "oa", "template", fields={k: v.get("value", "") for k, v in body["data"].items()}))
            elif body.get("msgtype") == "image":
                out.append(Bubble(at, "oa", "image", png=self.media[body["image"]["media_id"]]["data"]))
            elif body.get("msgtype") == "text":
                out.append(Bubble(at, "oa", "text", text=body["text"]["content"]))
        return out


class WeChatUser:
    """Plays the WeChat server for one user: signed plaintext-mode messages to the webhook."""

    def __init__(self, http: aiohttp.ClientSession, gateway: str, openid: str, fake: RecordingFake):
        self.http, self.gateway, self.openid, self.fake = http, gateway, openid, fake
        self.timeline: list[Bubble] = []
        self._msg_id = int(time.time()) * 1000

    async def say(self, text: str) -> None:
        self._msg_id += 1
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        signature = hashlib.sha1("".join(sorted((TOKEN, timestamp, nonce))).encode()).hexdigest()
        body = message_xml({"ToUserName": OFFICIAL_ACCOUNT, "FromUserName": self.openid,
                            "CreateTime": int(time.time()), "MsgType": "text", "Content": text,
                            "MsgId": self._msg_id})
        self.timeline.append(Bubble(time.monotonic(), "me", "text", text=text))
        before = len(self.fake.sent)
        async with self.http.post(f"{self.gateway}/channels/wechat", data=body.encode("utf-8"),
                                  params={"timestamp": timestamp, "nonce": nonce, "signature": signature,
                                          "openid": self.openid}) as resp:
            answer = await resp.text()
            if resp.status != 200:
                raise RuntimeError(f"webhook answered {resp.status}: {answer[:200]}")
        if answer not in ("", "success"):  # a passive reply: shown as a message of the account
            content = ElementTree.fromstring(answer).findtext("Content") or ""
            self.timeline.append(Bubble(time.monotonic(), "oa", "text", text=content))
            before = -1  # answered already
        await wait_quiet(self.fake, after=before)

    def chat(self, since: float = 0.0, until: float = float("inf")) -> list[Bubble]:
        everything = self.timeline + self.fake.bubbles(self.openid)
        return sorted((b for b in everything if since <= b.at < until), key=lambda b: b.at)


async def wait_quiet(fake: RecordingFake, after: int = -1, longest: float = 120.0) -> None:
    """Until the fake has more than ``after`` messages and then nothing new for QUIET_SECONDS
    (the bot's answers are all out)."""
    deadline = time.monotonic() + longest
    count, last_change = len(fake.sent), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if len(fake.sent) != count:
            count, last_change = len(fake.sent), time.monotonic()
        elif count > after and time.monotonic() - last_change >= QUIET_SECONDS:
            return
    print(f"warning: no answer within {longest:.0f} s (the fake has {len(fake.sent)} messages)")


# ---------------------------------------------------------------- the chat page

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title><style>
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: #ededed; font: 16px/1.5 "Noto Sans CJK SC", "Noto Sans SC", sans-serif; color: #191919; }}
.bar {{ position: sticky; top: 0; background: #ededed; border-bottom: 1px solid #d6d6d6; height: 48px;
        display: flex; align-items: center; justify-content: center; font-weight: 600; font-size: 17px; }}
.bar .back {{ position: absolute; left: 14px; font-size: 22px; font-weight: 400; }}
.chat {{ padding: 10px 12px 18px; }}
.row {{ display: flex; align-items: flex-start; margin: 12px 0; gap: 8px; }}
.row.me {{ flex-direction: row-reverse; }}
.avatar {{ width: 40px; height: 40px; border-radius: 5px; flex: none; display: flex; align-items: center;
           justify-content: center; color: #fff; font-size: 15px; font-weight: 600; }}
.oa .avatar {{ background: #1b7f5a; }}
.me .avatar {{ background: #6b8cc7; }}
.bubble {{ max-width: 72%; padding: 9px 12px; border-radius: 5px; white-space: pre-wrap; word-break: break-word; }}
.oa .bubble {{ background: #fff; }}
.me .bubble {{ background: #95ec69; }}
.image img {{ display: block; max-width: 250px; border-radius: 5px; border: 1px solid #ddd; background: #fff; }}
.card {{ width: 82%; background: #fff; border-radius: 6px; padding: 14px 16px 10px; }}
.card .name {{ font-size: 17px; font-weight: 600; margin-bottom: 4px; }}
.card .first {{ color: #191919; margin: 6px 0 10px; font-weight: 600; }}
.card .kv {{ display: flex; gap: 10px; margin: 4px 0; font-size: 15px; }}
.card .kv .k {{ color: #888; flex: none; width: 4.5em; }}
.card .remark {{ color: #555; font-size: 14px; margin-top: 8px; }}
.card .more {{ border-top: 1px solid #eee; margin-top: 10px; padding-top: 8px; color: #576b95; font-size: 14px; }}
.time {{ text-align: center; color: #999; font-size: 12px; margin: 14px 0 4px; }}
.note {{ margin: 6px 12px 14px; color: #999; font-size: 11px; text-align: center; }}
</style></head><body>
<div class="bar"><span class="back">‹</span>{account}</div>
<div class="chat">{rows}</div>
<div class="note">{note}</div>
</body></html>"""
TEMPLATE_LABELS = {"keyword1": "通知内容", "keyword2": "通知时间"}


def bubble_html(bubble: Bubble, initials: str) -> str:
    avatar = f'<div class="avatar">{html.escape(initials if bubble.side == "me" else "电")}</div>'
    if bubble.kind == "image":
        data = base64.b64encode(bubble.png).decode("ascii")
        inner = f'<div class="image"><img alt="用电图" src="data:image/png;base64,{data}"></div>'
    elif bubble.kind == "template":
        f = dict(bubble.fields)
        first = f.pop("first", "")
        remark = f.pop("remark", "")
        lines = "".join(f'<div class="kv"><span class="k">{html.escape(TEMPLATE_LABELS.get(k) or str(k))}</span>'
                        f'<span>{html.escape(v)}</span></div>' for k, v in f.items())
        inner = (f'<div class="card"><div class="name">供电服务通知</div><div class="first">{html.escape(first)}</div>'
                 f'{lines}<div class="remark">{html.escape(remark)}</div><div class="more">详情</div></div>')
        return f'<div class="row oa">{avatar}{inner}</div>'
    else:
        inner = f'<div class="bubble">{html.escape(bubble.text)}</div>'
    return f'<div class="row {bubble.side}">{avatar}{inner}</div>'


def page(title: str, bubbles: list[Bubble], initials: str, clock: str) -> str:
    rows = f'<div class="time">{html.escape(clock)}</div>' + "".join(bubble_html(b, initials) for b in bubbles)
    note = ("截图由 scripts/wechat_screenshots.py 生成：网关对本机模拟的微信接口（FakePlatformApi）"
            "实际发出的消息与被动回复，按到达顺序排列；模板消息的字段名为默认的 first/keyword1/keyword2/remark。")
    return PAGE.format(title=html.escape(title), account="XX供电公司", rows=rows, note=html.escape(note))


def screenshot(pages: dict[str, str], out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    work = out / ".wechat-pages"
    work.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            tab = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            for name, text in pages.items():
                path = work / f"{name}.html"
                path.write_text(text, encoding="utf-8")
                tab.goto(path.as_uri())
                tab.wait_for_load_state("load")
                tab.screenshot(path=str(out / f"{name}.png"), full_page=True)
                print(f"saved {out / (name + '.png')}")
        finally:
            browser.close()
    for leftover in work.iterdir():
        leftover.unlink()
    work.rmdir()


# ---------------------------------------------------------------- the run

def transcript(name: str, bubbles: list[Bubble]) -> None:
    print(f"\n===== {name}")
    for b in bubbles:
        who = "客户" if b.side == "me" else "公众号"
        what = b.text if b.kind == "text" else (f"[图片 {len(b.png)} 字节]" if b.kind == "image"
                                                else "[模板消息] " + json.dumps(b.fields, ensure_ascii=False))
        print(f"{who}: {what}")


def clear_quiet_hours(database_url: str) -> None:
    from bot.notices import settings as notice_settings
    from bot.store import Store

    store = Store(database_url)
    try:
        with store.session() as session:
            notice_settings.change(session, "quiet_hours", "", by="screenshots")
    finally:
        store.close()


async def run(port: int, out: Path) -> None:
    from bot.store.types import SHANGHAI, now_utc
    from scripts.run_all import Ports, latest_model
    from tests.support.stack import running_stack

    model = latest_model(ROOT / "models")
    if model is None:
        raise SystemExit("no trained model in models/")
    fake = RecordingFake()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    env = {"WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_APPSECRET": SECRET, "WECHAT_API_BASE": fake_url,
           "WECHAT_AES_KEY": "", "WECHAT_TEMPLATE_NOTICE": TEMPLATE_ID,
           # Every answer through the customer-service API (in order, all at the fake).
           "WECHAT_PASSIVE_REPLY_SECONDS": "0.1"}
    loop = asyncio.get_running_loop()
    stack = running_stack(model, extra_env=env, ports=Ports(gateway=port, rasa=port + 1, actions=port + 2))
    info = await loop.run_in_executor(None, stack.__enter__)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            zhao = WeChatUser(http, info.gateway_url, USERS["zhao"]["openid"], fake)
            sun = WeChatUser(http, info.gateway_url, USERS["sun"]["openid"], fake)
            marks = {"start": time.monotonic()}
            for text in ("绑定户号", "3201000037", "2468"):
                await zhao.say(text)
            marks["subscriptions"] = time.monotonic()
            for text in ("我的订阅", "退订停电通知", "重新订阅停电通知"):
                await zhao.say(text)
            marks["chart"] = time.monotonic()
            await zhao.say("最近用电情况怎么样")
            for text in ("绑定户号", "3201000038", "6627"):
                await sun.say(text)
            marks["notices"] = time.monotonic()
            await loop.run_in_executor(None, clear_quiet_hours, info.database_url)
            notices = await loop.run_in_executor(None, lambda: subprocess.run(
                [sys.executable, "-m", "bot", "notices", "run-once"], cwd=ROOT, capture_output=True, text=True,
                env={**os.environ, "DATABASE_URL": info.database_url, "PYTHONPATH": str(ROOT), **env}, timeout=300))
            print("notice engine, one round:", notices.stdout.strip() or notices.stderr[-2000:])
            await wait_quiet(fake)
    finally:
        await loop.run_in_executor(None, stack.__exit__, None, None, None)
        await runner.cleanup()

    clock = now_utc().astimezone(SHANGHAI).strftime("%H:%M")
    scenes = {
        "wechat-bind": (zhao, marks["start"], marks["subscriptions"], "赵"),
        "wechat-subscriptions": (zhao, marks["subscriptions"], marks["chart"], "赵"),
        "wechat-chart": (zhao, marks["chart"], marks["notices"], "赵"),
        "wechat-notices": (zhao, marks["notices"], float("inf"), "赵"),
        "wechat-notices-abnormal": (sun, marks["notices"], float("inf"), "孙"),
    }
    pages = {}
    for name, (user, since, until, initials) in scenes.items():
        bubbles = user.chat(since, until)
        transcript(name, bubbles)
        if not bubbles:
            raise SystemExit(f"{name}: nothing reached the phone")
        pages[name] = page(name, bubbles, initials, clock)
    await loop.run_in_executor(None, screenshot, pages, out)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT") or 18130),
                        help="the gateway's port; Rasa and the actions take the next two")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    asyncio.run(run(args.port, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
