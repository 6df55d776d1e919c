"""The WeChat screenshot page (scripts/wechat_screenshots.py) shows what the fake received, escaped."""
from __future__ import annotations

import base64

from scripts.wechat_screenshots import Bubble, RecordingFake, page


def test_the_chat_page_escapes_texts_and_shows_templates_and_images():
    png = b"\x89PNG\r\n\x1a\nfake"
    html = page("t", [Bubble(1, "me", "text", text="<script>alert(1)</script>绑定户号"),
                      Bubble(2, "oa", "template", fields={"first": "停电通知", "keyword1": "明天<b>停电</b>",
                                                           "keyword2": "2026-12-02 22:49", "remark": "户号尾号0037"}),
                      Bubble(3, "oa", "image", png=png)], "赵", "22:50")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;绑定户号" in html
    assert "<b>停电</b>" not in html and "明天&lt;b&gt;停电&lt;/b&gt;" in html
    assert '<span class="k">通知内容</span>' in html and "户号尾号0037" in html
    assert base64.b64encode(png).decode() in html


def test_the_fake_sorts_out_each_users_messages():
    fake = RecordingFake()
    fake.media["M1"] = {"data": b"png"}
    fake.sent = [{"path": "/cgi-bin/message/custom/send", "body": {"touser": "a", "msgtype": "text", "text": {"content": "你好"}}},
                 {"path": "/cgi-bin/message/template/send", "body": {"touser": "b", "data": {"first": {"value": "通知"}}}},
                 {"path": "/cgi-bin/message/custom/send", "body": {"touser": "a", "msgtype": "image", "image": {"media_id": "M1"}}}]
    fake.arrived = [1.0, 2.0, 3.0]
    assert [(b.kind, b.text, b.png) for b in fake.bubbles("a")] == [("text", "你好", b""), ("image", "", b"png")]
    assert [b.fields for b in fake.bubbles("b")] == [{"first": "通知"}]
