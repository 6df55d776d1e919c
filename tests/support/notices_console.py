"""Hand-made customers, bindings and deliveries for the notices console tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from bot.store.models import Customer, CustomerBinding, NoticeDelivery, NoticeSubscription

# account_no -> (name, phone, address)
CUSTOMERS = {
    "3201000101": ("张伟", "13812340101", "南京市玄武区中山路18号"),  # covered (street and district)
    "3201000102": ("李娜", "13812340102", "北京东路41号2单元"),  # covered (street, no district named)
    "3201000103": ("王芳", "13812340103", "南京市鼓楼区中山路200号"),  # the street, but another district
    "3201000104": ("刘洋", "13812340104", "南京市玄武区龙蟠路9号"),  # district, not the streets
    "3201000105": ("陈静", "13812340105", "南京市玄武区中山路7号"),  # covered, but unbound
    "3201000106": ("杨磊", "13812340106", "南京市玄武区中山路99号"),  # covered, opted out of adhoc
    "3201000107": ("赵敏", "13812340107", "南京市玄武区中山路3号"),  # covered, opted out of another kind only
    "3201000108": ("孙强", "13812340108", "南京市玄武区北京东路5号"),  # covered, SMS binding without consent
}


def add_customers(session) -> None:
    for account_no, (name, phone, address) in CUSTOMERS.items():
        session.add(Customer(account_no=account_no, name=name, phone=phone, address=address,
                             area_type="urban", customer_type="residential"))
    session.flush()


def bind(session, account_no: str, channel: str = "wechat", *, unbound: bool = False, sms_consent: bool = False,
         user: str | None = None) -> int:
    binding = CustomerBinding(account_no=account_no, channel=channel, channel_user=user or f"u-{account_no}-{channel}",
                              conversation_id=None, sms_consent=sms_consent,
                              unbound_at=datetime.now(timezone.utc) if unbound else None)
    session.add(binding)
    session.flush()
    return binding.id


def add_bindings(session) -> dict[str, Any]:
    """The bindings of CUSTOMERS; answers the ids of the bindings an area notice of 玄武区
    中山路/北京东路 must reach (``expected``) and all ids by name."""
    ids = {
        "zhang_wechat": bind(session, "3201000101", "wechat"),
        "zhang_web": bind(session, "3201000101", "web"),  # one account, two bindings: both get it
        "li_wecom": bind(session, "3201000102", "wecom"),
        "wang": bind(session, "3201000103", "wechat"),
        "liu": bind(session, "3201000104", "wechat"),
        "chen_unbound": bind(session, "3201000105", "wechat", unbound=True),
        "yang_opted_out": bind(session, "3201000106", "wechat"),
        "zhao": bind(session, "3201000107", "sms", sms_consent=True, user="13812340107"),
        "sun_no_consent": bind(session, "3201000108", "sms", sms_consent=False, user="13812340108"),
    }
    session.add(NoticeSubscription(binding_id=ids["yang_opted_out"], kind="adhoc", enabled=False))
    session.add(NoticeSubscription(binding_id=ids["zhao"], kind="planned_outage", enabled=False))
    session.flush()
    expected = {ids["zhang_wechat"], ids["zhang_web"], ids["li_wecom"], ids["zhao"]}
    return {"ids": ids, "expected": expected}


def delivery(session, binding_id: int, account_no: str, *, kind: str, channel: str, status: str,
             created_at: datetime, key: str, attempts: int = 0, last_error: str | None = None,
             next_attempt_at: datetime | None = None) -> None:
    session.add(NoticeDelivery(kind=kind, event_key=key, binding_id=binding_id, account_no=account_no,
                               channel=channel, urgent=False, payload={"text": "t"}, status=status,
                               attempts=attempts, last_error=last_error, next_attempt_at=next_attempt_at,
                               created_at=created_at))


def at(days_ago: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=days_ago)
