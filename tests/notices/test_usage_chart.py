"""一图看懂 (issue 19): the figures and words against hand-made bills, the PNG, and the link —
unguessable, bound to the account, expiring, refused for another customer."""
from __future__ import annotations

import struct
import time

import pytest

from bot.api import notices as api
from bot.notices import chart
from bot.store.models import Conversation
from tests.support.gateway import auth_headers
from bot.store import STORE

ACCOUNT, LAST4 = "3201000001", "0518"
OTHER, OTHER_LAST4 = "3201000002", "2316"


def bill(period, kwh, amount, peak=None, valley=None):
    return {"period": period, "kwh": kwh, "amount": amount, "peak_kwh": peak, "valley_kwh": valley}


def hand_made_bills():
    """Two years: 2024-12 … 2025-11 at 100 kWh/50 yuan, 2025-12 … 2026-11 at 200 kWh/100 yuan,
    except 2026-11 with 330 kWh/180 yuan (peak 100, valley 150)."""
    bills = []
    for index in range(24):
        year, month = divmod(2024 * 12 + 11 + index, 12)
        period = f"{year}-{month + 1:02d}"
        bills.append(bill(period, 100.0, 50.0) if index < 12 else bill(period, 200.0, 100.0))
    bills[-1] = bill("2026-11", 330.0, 180.0, peak=100.0, valley=150.0)
    return bills


def test_twelve_months_with_last_year_beside_each():
    months = chart.usage_months(hand_made_bills())
    assert [m.period for m in months] == ["2025-12"] + [f"2026-{m:02d}" for m in range(1, 12)]
    assert months[-1].kwh == 330.0 and months[-1].last_year_kwh == 100.0
    assert months[-1].change_vs_last_year == pytest.approx(2.3)
    assert months[0].label == "12月" and months[-1].label == "11月"


def test_summary_numbers_and_words_match_the_bills():
    figures = chart.summary(chart.usage_months(hand_made_bills()))
    assert figures["months"] == 12
    assert figures["total_kwh"] == 11 * 200 + 330
    assert figures["total_amount"] == 11 * 100 + 180
    assert figures["average_kwh"] == pytest.approx((11 * 200 + 330) / 12, abs=0.05)
    assert figures["latest_change_vs_last_year"] == pytest.approx(2.3)
    assert figures["peak_share"] == pytest.approx(100 / 330, abs=1e-4)
    text = chart.summary_text(figures)
    lines = text.split("\n")
    assert len(lines) == 2
    assert lines[0].startswith("近12个月（2025年12月至2026年11月）共用电2530度，电费1280.00元，月均约211度")
    assert "用电最多的是11月（330度）" in lines[0]
    assert lines[1] == "11月用电330度，比去年同月多230%（去年11月100度）；峰段用电约占30%。"


def test_words_without_last_year_compare_with_the_month_before():
    bills = [bill("2026-10", 200.0, 100.0), bill("2026-11", 150.0, 75.0)]
    months = chart.usage_months(bills)
    assert len(months) == 12 and months[0].kwh is None  # months without a bill are gaps
    text = chart.summary_text(chart.summary(months))
    assert text.startswith("近2个月（2026年10月至2026年11月）共用电350度，电费175.00元")
    assert text.endswith("11月用电150度，比上月少25%（没有去年同月的账单可比）。")
    assert chart.summary_text(chart.summary(chart.usage_months([]))) == "这个户号下暂时没有账单记录，还画不出用电图。"


def png_size(data: bytes) -> tuple:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_chart_is_a_png_drawn_with_a_cjk_font():
    assert chart.cjk_font() is not None, "fonts-noto-cjk must be installed (scripts/install_system_deps.sh)"
    data = chart.render_png(chart.usage_months(hand_made_bills()), "近12个月用电情况（户号尾号0001）")
    assert png_size(data) == (800, 640)
    assert 10_000 < len(data) < 500_000


def test_tokens_name_the_account_expire_and_resist_tampering():
    tokens = chart.ChartTokens("a-test-secret-of-some-length", ttl=3600)
    issued_at = 1_800_000_000
    token = tokens.issue(ACCOUNT, now=issued_at)
    assert ACCOUNT not in token  # the link does not show the account number
    assert tokens.account(token, now=issued_at + 3599) == ACCOUNT
    assert tokens.expires_at(token) == issued_at + 3600
    with pytest.raises(chart.ChartTokenError) as expired:
        tokens.account(token, now=issued_at + 3601)
    assert expired.value.kind == "expired"
    flipped = token[:30] + ("A" if token[30] != "A" else "B") + token[31:]
    with pytest.raises(chart.ChartTokenError) as forged:
        tokens.account(flipped, now=issued_at)
    assert forged.value.kind == "invalid"
    other_key = chart.ChartTokens("another-secret-entirely-xx", ttl=3600)
    with pytest.raises(chart.ChartTokenError) as foreign:
        other_key.account(token, now=issued_at)
    assert foreign.value.kind == "invalid"
    assert tokens.issue(ACCOUNT, now=issued_at) != token  # random: two links never look alike


# ---------------------------------------------------------------- through the gateway


async def proven(client, conversation_id, account_no, last4):
    with client.app[STORE].session() as session:
        if session.get(Conversation, conversation_id) is None:
            session.add(Conversation(id=conversation_id, channel="web"))
    response = await client.post("/api/v1/identity/verify", headers=auth_headers(),
                                 json={"account_no": account_no, "phone_last4": last4,
                                       "conversation_id": conversation_id})
    assert (await response.json())["verified"] is True


@pytest.mark.asyncio
async def test_a_verified_customer_gets_a_working_link_and_words(demo_gateway_client):
    client = demo_gateway_client
    await proven(client, "web-session-chart-1", ACCOUNT, LAST4)
    response = await client.post("/api/v1/notices/usage-chart", headers=auth_headers(),
                                 json={"account_no": ACCOUNT, "conversation_id": "web-session-chart-1"})
    assert response.status == 201
    body = await response.json()
    assert body["url"].startswith("/charts/usage/") and body["url"].endswith(".png")
    assert ACCOUNT not in body["url"]
    assert body["expires_in"] == 3600 and body["expires_at"] > time.time() + 3500
    assert body["title"] == "近12个月用电情况（户号尾号0001）"
    assert body["text"].count("\n") == 1 and "共用电" in body["text"]
    image = await client.get(body["url"])  # no token: the customer's browser fetches it
    assert image.status == 200 and image.content_type == "image/png"
    assert "no-store" in image.headers["Cache-Control"]
    png_size(await image.read())


@pytest.mark.asyncio
async def test_another_customers_chart_is_refused(demo_gateway_client):
    client = demo_gateway_client
    await proven(client, "web-session-chart-2", ACCOUNT, LAST4)
    # proven 0001 in this conversation: 0002's chart is not given
    refused = await client.post("/api/v1/notices/usage-chart", headers=auth_headers(),
                                json={"account_no": OTHER, "conversation_id": "web-session-chart-2"})
    assert refused.status == 403 and (await refused.json())["error"] == "identity_not_proven"
    # nor may a link be altered to show another account's chart
    body = await (await client.post("/api/v1/notices/usage-chart", headers=auth_headers(),
                                    json={"account_no": ACCOUNT, "conversation_id": "web-session-chart-2"})).json()
    token = body["url"][len("/charts/usage/"):-len(".png")]
    forged = chart.ChartTokens("guessed-secret-of-the-gateway").issue(OTHER)
    for bad in (forged, token[:-6] + "AAAAAA", "x" * 60, "short"):
        page = await client.get(f"/charts/usage/{bad}.png")
        assert page.status == 403, bad
        assert page.content_type == "text/html"
        assert "无法查看" in await page.text()


@pytest.mark.asyncio
async def test_an_expired_link_is_gone(demo_gateway_client):
    client = demo_gateway_client
    signer = api.tokens(client.app)
    token = signer.issue(ACCOUNT, now=time.time() - signer.ttl - 5)
    page = await client.get(f"/charts/usage/{token}.png")
    assert page.status == 410
    assert "已过期" in await page.text()
    assert page.headers["Cache-Control"] == "no-store"


def test_on_wechat_the_chart_is_a_link_with_its_title():
    from bot.channels.common import NumberedOptions

    message = {"attachment": {"type": "image", "payload": {"src": "https://gw.example/charts/usage/abc.png",
                                                            "title": "近12个月用电情况（户号尾号0001）"}}}
    assert NumberedOptions().render("wechat:o1", message) == \
        "近12个月用电情况（户号尾号0001），点击查看：https://gw.example/charts/usage/abc.png"
    untitled = {"attachment": {"type": "image", "payload": {"src": "https://gw.example/x.png"}}}
    assert NumberedOptions().render("wechat:o1", untitled) == "请查看：https://gw.example/x.png"
