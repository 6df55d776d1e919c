"""Helpers for the notice engine's tests: accounts, bills, bindings, a recording sender, and
loopback fakes of the WeChat template-message API and of Tencent Cloud SMS ``SendSms``."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.store import Store
from bot.store.models import Bill, Customer, CustomerBinding, NoticeSubscription

SH = ZoneInfo("Asia/Shanghai")
_accounts = itertools.count(1)


def add_customer(store: Store, *, address: str = "南京市玄武区中山路18号", customer_type: str = "residential",
                 balance: Any = None, account_no: str | None = None) -> str:
    account_no = account_no or f"32{next(_accounts):08d}"
    with store.session() as session:
        session.add(Customer(account_no=account_no, name="测试用户", phone="13800000000", address=address,
                             area_type="urban", customer_type=customer_type,
                             balance=Decimal(str(balance)) if balance is not None else None))
    return account_no


def add_bill(store: Store, account_no: str, period: str, kwh: float, *, amount: float = 100.0,
             due: date | None = None, status: str = "paid") -> None:
    year, month = int(period[:4]), int(period[5:7])
    due = due or date(year + month // 12, month % 12 + 1, 15)
    with store.session() as session:
        session.add(Bill(account_no=account_no, period=period, kwh=kwh, amount=Decimal(str(amount)),
                         due_date=due, status=status))


def bind(store: Store, account_no: str, channel: str = "web", user: str | None = None, *,
         sms_consent: bool = False, conversation_id: str | None = None) -> int:
    user = user or f"{channel}-user-{secrets.token_hex(4)}"
    with store.session() as session:
        binding = CustomerBinding(account_no=account_no, channel=channel, channel_user=user,
                                  conversation_id=conversation_id or (user if channel == "web" else None),
                                  sms_consent=sms_consent)
        session.add(binding)
        session.flush()
        return binding.id


def opt_out(store: Store, binding_id: int, kind: str) -> None:
    with store.session() as session:
        session.merge(NoticeSubscription(binding_id=binding_id, kind=kind, enabled=False,
                                         updated_at=datetime.now(timezone.utc)))


class Recorder:
    """A sender that records what it is given (and can be told to fail)."""

    def __init__(self, fail: int = 0):
        self.sent: list[Any] = []
        self.fail = fail

    async def __call__(self, target) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("channel down")
        self.sent.append(target)


class FakeWeChatTemplates:
    """``/cgi-bin/token`` and ``/cgi-bin/message/template/send``; the first ``failures`` sends
    answer HTTP 502, then an errcode, then the sends succeed."""

    def __init__(self, appid: str, secret: str, failures: int = 0):
        self.appid, self.secret, self.failures = appid, secret, failures
        self.tokens: set[str] = set()
        self.sent: list[dict] = []
        self.refused = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/template/send", self._send)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        if request.query.get("appid") != self.appid or request.query.get("secret") != self.secret:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        token = "T-" + secrets.token_hex(6)
        self.tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 7200})

    async def _send(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") not in self.tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        body = json.loads(await request.read())
        if self.failures:
            self.failures -= 1
            self.refused += 1
            if self.refused == 1:
                return web.Response(status=502, text="bad gateway")
            return web.json_response({"errcode": 45009, "errmsg": "reach max api daily quota limit"})
        self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": len(self.sent)})


class FakeTencentSms:
    """Tencent Cloud API 3.0 ``SendSms``: checks the TC3-HMAC-SHA256 signature as the
    documentation describes it (canonical request, string to sign, derived key); the first
    ``failures`` requests get an error answer."""

    def __init__(self, secret_id: str, secret_key: str, failures: int = 0):
        self.secret_id, self.secret_key, self.failures = secret_id, secret_key, failures
        self.sent: list[dict] = []
        self.bad_signatures = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self._send)
        return app

    def _expected(self, request: web.Request, body: bytes) -> str:
        timestamp = request.headers["X-TC-Timestamp"]
        day = datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d")
        canonical_headers = f"content-type:{request.headers['Content-Type']}\nhost:{request.headers['Host']}\n"
        canonical = f"POST\n/\n\n{canonical_headers}\ncontent-type;host\n{hashlib.sha256(body).hexdigest()}"
        string_to_sign = (f"TC3-HMAC-SHA256\n{timestamp}\n{day}/sms/tc3_request\n"
                          f"{hashlib.sha256(canonical.encode()).hexdigest()}")
        key = hmac.new(f"TC3{self.secret_key}".encode(), day.encode(), hashlib.sha256).digest()
        key = hmac.new(key, b"sms", hashlib.sha256).digest()
        key = hmac.new(key, b"tc3_request", hashlib.sha256).digest()
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        return (f"TC3-HMAC-SHA256 Credential={self.secret_id}/{day}/sms/tc3_request, "
                f"SignedHeaders=content-type;host, Signature={signature}")

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("X-TC-Action") != "SendSms" or request.headers.get("X-TC-Version") != "2021-01-11":
            return web.json_response({"Response": {"Error": {"Code": "InvalidAction", "Message": "?"}}})
        if request.headers.get("Authorization") != self._expected(request, body):
            self.bad_signatures += 1
            return web.json_response({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure",
                                                             "Message": "signature mismatch"}}})
        data = json.loads(body)
        if self.failures:
            self.failures -= 1
            return web.json_response({"Response": {"SendStatusSet": [
                {"PhoneNumber": data["PhoneNumberSet"][0], "Code": "LimitExceeded.PhoneNumberDailyLimit",
                 "Message": "daily limit"}], "RequestId": "r1"}})
        self.sent.append(data)
        return web.json_response({"Response": {"SendStatusSet": [
            {"SerialNo": "2019:1", "PhoneNumber": data["PhoneNumberSet"][0], "Fee": 1, "Code": "Ok",
             "Message": "send success"}], "RequestId": "r2"}})
