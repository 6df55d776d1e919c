"""Binding a channel identity to an account, subscriptions and unbinding (issue 19): the
service functions on SQLite and PostgreSQL, and the REST API with its identity check."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from bot.notices import bindings as service
from bot.store.db import Store, migrate
from bot.store.models import AuditEntry, Conversation, Customer, CustomerBinding, NoticeSubscription
from tests.support.gateway import auth_headers
from bot.store import STORE

ACCOUNT, LAST4 = "3201000001", "0518"  # demo customers (demo/demo_data.json)
OTHER, OTHER_LAST4 = "3201000002", "2316"
WECHAT_ID = "wechat:oQ9f_3kd8sLx0PqZ"
WEB_ID = "k3Vd9xQ2-web-session"


# ---------------------------------------------------------------- the service


@pytest.fixture
def store(store_url):
    migrate(store_url)
    store = Store(store_url)
    with store.session() as session:
        for no in ("3201000001", "3201000002"):
            session.add(Customer(account_no=no, name="测试", phone="13800000000", address="南京市玄武区中山路1号",
                                 area_type="urban", customer_type="residential"))
    yield store
    store.close()


def person(user="oQ9f_3kd8sLx0PqZ", channel="wechat", conversation_id=WECHAT_ID):
    return service.Person(channel=channel, channel_user=user, conversation_id=conversation_id)


def active_rows(store):
    with store.session() as session:
        return [(b.account_no, b.channel, b.channel_user) for b in session.execute(
            select(CustomerBinding).where(CustomerBinding.unbound_at.is_(None)).order_by(CustomerBinding.id)).scalars()]


def test_binding_is_idempotent_and_allows_many_to_many(store):
    me, spouse = person(), person("oSpouse000", conversation_id="wechat:oSpouse000")
    with store.session() as session:
        first, created = service.bind(session, me, ACCOUNT)
        assert created
        again, created_again = service.bind(session, me, ACCOUNT)
        assert not created_again and again.id == first.id
        assert service.bind(session, me, OTHER)[1]  # one person, two accounts
        assert service.bind(session, spouse, ACCOUNT)[1]  # two people, one account
    assert active_rows(store) == [(ACCOUNT, "wechat", "oQ9f_3kd8sLx0PqZ"), (OTHER, "wechat", "oQ9f_3kd8sLx0PqZ"),
                                  (ACCOUNT, "wechat", "oSpouse000")]
    with store.session() as session:
        listed = service.list_bindings(session, me)
        assert [b["account_no"] for b in listed] == [ACCOUNT, OTHER]
        # every kind on by default, the ticket status cannot be switched off
        subs = {s["kind"]: s for s in listed[0]["subscriptions"]}
        assert all(s["enabled"] for s in subs.values())
        assert subs["ticket_status"]["switchable"] is False and subs["planned_outage"]["name"] == "停电通知"


def test_unknown_account_is_not_bound(store):
    with store.session() as session, pytest.raises(service.BindingError) as refused:
        service.bind(session, person(), "3209999999")
    assert refused.value.status == 404


def test_subscriptions_switch_per_kind_and_opt_out_is_read_at_once(store):
    me = person()
    with store.session() as session:
        mine, _ = service.bind(session, me, ACCOUNT)
        service.bind(session, me, OTHER)
        service.set_subscription(session, me, ["planned_outage"], False)  # every account of mine
        service.set_subscription(session, me, ["overdue"], False, account_no=OTHER)
        mine_id = mine.id
    with store.session() as session:
        assert service.wants(session, mine_id, "planned_outage") is False
        assert service.wants(session, mine_id, "overdue") is True
        listed = {b["account_no"]: {s["kind"]: s["enabled"] for s in b["subscriptions"]}
                  for b in service.list_bindings(session, me)}
        assert listed[ACCOUNT]["planned_outage"] is False and listed[OTHER]["planned_outage"] is False
        assert listed[ACCOUNT]["overdue"] is True and listed[OTHER]["overdue"] is False
        service.set_subscription(session, me, ["planned_outage"], True, account_no=ACCOUNT)
    with store.session() as session:
        assert service.wants(session, mine_id, "planned_outage") is True
        rows = session.execute(select(NoticeSubscription).where(NoticeSubscription.binding_id == mine_id)).scalars()
        assert {r.kind: r.enabled for r in rows} == {"planned_outage": True}


def test_ticket_status_cannot_be_switched_off_and_unknown_kinds_are_refused(store):
    me = person()
    with store.session() as session:
        service.bind(session, me, ACCOUNT)
    for kinds, status, code in ((["ticket_status"], 409, "always_on"), (["weather"], 400, "validation_error"),
                                ([], 400, "validation_error")):
        with store.session() as session, pytest.raises(service.BindingError) as refused:
            service.set_subscription(session, me, kinds, False)
        assert (refused.value.status, refused.value.code) == (status, code)
    with store.session() as session:
        service.set_subscription(session, me, ["ticket_status"], True)  # on is fine (it is on anyway)
        with pytest.raises(service.BindingError) as refused:
            service.set_subscription(session, person("nobody"), ["overdue"], False)
        assert refused.value.code == "not_bound"


def test_unbinding_keeps_the_row_and_a_new_binding_starts_fresh(store):
    me = person()
    with store.session() as session:
        old, _ = service.bind(session, me, ACCOUNT)
        service.bind(session, me, OTHER)
        service.set_subscription(session, me, ["overdue"], False, account_no=ACCOUNT)
        old_id = old.id
        assert [b.account_no for b in service.unbind(session, me, ACCOUNT)] == [ACCOUNT]
        assert service.unbind(session, me, ACCOUNT) == []  # nothing left to end
    assert active_rows(store) == [(OTHER, "wechat", "oQ9f_3kd8sLx0PqZ")]
    with store.session() as session:
        assert session.get(CustomerBinding, old_id).unbound_at is not None  # the delivery log keeps its binding
        new, created = service.bind(session, me, ACCOUNT)
        assert created and new.id != old_id
        assert service.wants(session, new.id, "overdue") is True  # the old choice went with the old binding
        service.unbind(session, me)  # all of them
    assert active_rows(store) == []


def test_the_store_holds_one_active_binding_of_a_person_to_an_account(store):
    from sqlalchemy.exc import IntegrityError

    def row(**extra):
        return CustomerBinding(account_no=ACCOUNT, channel="wechat", channel_user="oDup", conversation_id="wechat:oDup",
                               **extra)

    with store.session() as session:
        session.add(row())
    with pytest.raises(IntegrityError):
        with store.session() as session:
            session.add(row())
    with store.session() as session:  # an ended binding is history: the same pair may be bound again
        session.execute(update(CustomerBinding).values(unbound_at=func.now()))
        session.add(row())
        session.flush()
        session.add(CustomerBinding(account_no=OTHER, channel="wechat", channel_user="oDup"))  # another account
        session.add(CustomerBinding(account_no=ACCOUNT, channel="wecom", channel_user="oDup"))  # another channel
    assert sorted(active_rows(store)) == [(ACCOUNT, "wechat", "oDup"), (ACCOUNT, "wecom", "oDup"),
                                          (OTHER, "wechat", "oDup")]


def test_two_gateways_binding_the_same_person_at_once_make_one_binding(store, store_url, monkeypatch):
    """Both requests read "not bound" before either inserts (on PostgreSQL; SQLite's write lock
    makes the second wait for the first): one row, the second request is told it is bound already."""
    import threading

    both_read = threading.Barrier(2)
    real_active = service._active

    def active_then_wait(session, person, account_no=None):
        found = real_active(session, person, account_no)
        if not found:
            try:
                both_read.wait(timeout=1.5)
            except threading.BrokenBarrierError:  # SQLite: the other request waits for our lock
                pass
        return found

    monkeypatch.setattr(service, "_active", active_then_wait)
    gateways = [Store(store_url), Store(store_url)]
    results: list = [None, None]

    def request(i: int) -> None:
        with gateways[i].session() as session:
            binding, created = service.bind(session, person(), ACCOUNT)
            results[i] = (binding.id, created)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    finally:
        for g in gateways:
            g.close()
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert active_rows(store) == [(ACCOUNT, "wechat", "oQ9f_3kd8sLx0PqZ")]
    with store.session() as session:
        actions = session.execute(select(AuditEntry.action)).scalars().all()
    assert actions == ["bind_notices"]


def test_every_change_is_audited_as_the_customer(store):
    me = person()
    with store.session() as session:
        service.bind(session, me, ACCOUNT)
        service.bind(session, me, ACCOUNT)  # no change, no entry
        service.set_subscription(session, me, ["overdue"], False)
        service.list_bindings(session, me)
        service.unbind(session, me)
    with store.session() as session:
        entries = list(session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
    assert [e.action for e in entries] == ["bind_notices", "change_notice_subscription", "view_notice_bindings",
                                           "unbind_notices"]
    assert {(e.actor, e.actor_role, e.subject_kind, e.subject_id, e.client) for e in entries} == \
        {("customer", "customer", "account", ACCOUNT, WECHAT_ID)}
    assert entries[1].detail["kinds"] == ["overdue"] and entries[1].detail["enabled"] is False


def test_the_person_of_a_conversation():
    assert service.person_of_conversation(WECHAT_ID, "wechat").channel_user == "oQ9f_3kd8sLx0PqZ"
    assert service.person_of_conversation("wecom:zhangsan", "wecom").channel_user == "zhangsan"
    assert service.person_of_conversation(WEB_ID, "web").channel_user == WEB_ID
    with pytest.raises(service.BindingError):
        service.Person(channel="fax", channel_user="x")


# ---------------------------------------------------------------- the API


def add_conversation(app, conversation_id, channel, account_no=None):
    with app[STORE].session() as session:
        session.add(Conversation(id=conversation_id, channel=channel, account_no=account_no))


async def verify(client, account_no, last4, conversation_id):
    response = await client.post("/api/v1/identity/verify", headers=auth_headers(),
                                 json={"account_no": account_no, "phone_last4": last4,
                                       "conversation_id": conversation_id})
    body = await response.json()
    assert body["verified"] is True, body
    return body


@pytest.mark.asyncio
async def test_api_binds_only_an_account_proven_in_the_conversation(demo_gateway_client):
    client, app = demo_gateway_client, demo_gateway_client.app
    add_conversation(app, WECHAT_ID, "wechat")
    url = "/api/v1/notices/bindings"
    # no identity proven in this conversation yet
    refused = await client.post(url, headers=auth_headers(), json={"account_no": ACCOUNT, "conversation_id": WECHAT_ID})
    assert refused.status == 403 and (await refused.json())["error"] == "identity_not_proven"
    # a conversation the gateway never saw cannot bind anything either
    refused = await client.post(url, headers=auth_headers(), json={"account_no": ACCOUNT, "conversation_id": "wechat:ghost"})
    assert refused.status == 403
    await verify(client, ACCOUNT, LAST4, WECHAT_ID)
    # proven A: B (someone else's account) is still refused
    refused = await client.post(url, headers=auth_headers(), json={"account_no": OTHER, "conversation_id": WECHAT_ID})
    assert refused.status == 403
    bound = await client.post(url, headers=auth_headers(), json={"account_no": ACCOUNT, "conversation_id": WECHAT_ID})
    assert bound.status == 201
    body = await bound.json()
    assert body["created"] is True and body["binding"]["channel"] == "wechat"
    again = await client.post(url, headers=auth_headers(), json={"account_no": ACCOUNT, "conversation_id": WECHAT_ID})
    assert again.status == 200 and (await again.json())["binding"]["id"] == body["binding"]["id"]
    # the channel user is the gateway's own: the OpenID of the conversation, whatever a caller says
    assert active_rows(app[STORE]) == [(ACCOUNT, "wechat", "oQ9f_3kd8sLx0PqZ")]
    # then proving the second account binds it too (one person, two accounts)
    await verify(client, OTHER, OTHER_LAST4, WECHAT_ID)
    assert (await client.post(url, headers=auth_headers(),
                              json={"account_no": OTHER, "conversation_id": WECHAT_ID})).status == 201
    listed = await (await client.get(url, headers=auth_headers(), params={"conversation_id": WECHAT_ID})).json()
    assert [b["account_no"] for b in listed["bindings"]] == [ACCOUNT, OTHER]


@pytest.mark.asyncio
async def test_api_subscriptions_and_unbinding(demo_gateway_client):
    client, app = demo_gateway_client, demo_gateway_client.app
    add_conversation(app, WEB_ID, "web")
    await verify(client, ACCOUNT, LAST4, WEB_ID)
    assert (await client.post("/api/v1/notices/bindings", headers=auth_headers(),
                              json={"account_no": ACCOUNT, "conversation_id": WEB_ID})).status == 201
    off = await client.post("/api/v1/notices/subscriptions", headers=auth_headers(),
                            json={"conversation_id": WEB_ID, "kinds": ["planned_outage"], "enabled": False})
    assert off.status == 200
    subs = {s["kind"]: s["enabled"] for s in (await off.json())["bindings"][0]["subscriptions"]}
    assert subs["planned_outage"] is False and subs["overdue"] is True
    always = await client.post("/api/v1/notices/subscriptions", headers=auth_headers(),
                               json={"conversation_id": WEB_ID, "kinds": ["ticket_status"], "enabled": False})
    assert always.status == 409 and (await always.json())["error"] == "always_on"
    for body, field in (({"conversation_id": WEB_ID, "kinds": ["overdue"], "enabled": "no"}, "enabled"),
                        ({"conversation_id": WEB_ID, "kinds": "nonsense", "enabled": True}, "kinds"),
                        ({"conversation_id": WEB_ID, "kinds": [], "enabled": True}, "kinds"),
                        ({"conversation_id": "has space", "kinds": ["overdue"], "enabled": True}, "conversation_id")):
        bad = await client.post("/api/v1/notices/subscriptions", headers=auth_headers(), json=body)
        assert bad.status == 400 and (await bad.json())["field"] == field, body
    bad_json = await client.post("/api/v1/notices/subscriptions", headers={**auth_headers(),
                                 "Content-Type": "application/json"}, data="{nope")
    assert bad_json.status == 400 and (await bad_json.json())["error"] == "invalid_json"
    unbound = await client.post("/api/v1/notices/bindings/unbind", headers=auth_headers(),
                                json={"conversation_id": WEB_ID, "account_no": ACCOUNT})
    assert unbound.status == 200
    assert await unbound.json() == {"unbound": [ACCOUNT], "bindings": []}
    nothing = await client.post("/api/v1/notices/subscriptions", headers=auth_headers(),
                                json={"conversation_id": WEB_ID, "kinds": ["overdue"], "enabled": False})
    assert nothing.status == 404 and (await nothing.json())["error"] == "not_bound"


@pytest.mark.asyncio
async def test_api_needs_the_service_token(demo_gateway_client):
    response = await demo_gateway_client.get("/api/v1/notices/bindings", params={"conversation_id": WEB_ID})
    assert response.status == 401


# ---------------------------------------------------------------- personal-data requests


def test_access_copy_and_erasure_cover_the_bindings(store):
    from bot.privacy import subject as subjects
    from bot.store.models import NoticeDelivery

    me = person()
    with store.session() as session:
        session.add(Conversation(id=WECHAT_ID, channel="wechat", account_no=ACCOUNT))
        binding, _ = service.bind(session, me, ACCOUNT)
        service.bind(session, person("oSpouse000", conversation_id="wechat:oSpouse000"), ACCOUNT)
        service.set_subscription(session, me, ["overdue"], False)
        session.add(NoticeDelivery(kind="due_reminder", event_key="k1", binding_id=binding.id, account_no=ACCOUNT,
                                   channel="wechat", payload={"text": "张伟您好，您的电费…"}))
    with store.session() as session:
        by_account = subjects.collect(session, subjects.Subject(account_no=ACCOUNT))["notice_bindings"]
        assert [b["channel"] for b in by_account] == ["wechat", "wechat"]
        # the account's own conversation shows its user; the spouse's binding is someone else's
        assert [b.get("channel_user") for b in by_account] == ["oQ9f_3kd8sLx0PqZ", None]
        own = subjects.collect(session, subjects.Subject(conversation_id=WECHAT_ID))
        assert [b["channel_user"] for b in own["notice_bindings"]] == ["oQ9f_3kd8sLx0PqZ"]
        assert own["notice_bindings"][0]["subscriptions"]["overdue"] is False
        assert "【通知绑定】" in subjects.readable(own) and "已退订：欠费提醒" in subjects.readable(own)
    with store.session() as session:
        counts = subjects.erase(session, subjects.Subject(account_no=ACCOUNT), include_account=True)
    assert counts["notice_bindings"] == 2
    assert active_rows(store) == []
    with store.session() as session:
        users = {b.channel_user for b in session.execute(select(CustomerBinding)).scalars()}
        assert not users & {"oQ9f_3kd8sLx0PqZ", "oSpouse000"}
        assert session.execute(select(NoticeDelivery)).scalar_one().payload == {"text": "（个人信息已删除）"}


@pytest.mark.asyncio
async def test_two_gateways_asked_to_bind_at_once_bind_once_and_say_so(store_url, aiohttp_client, monkeypatch):
    """The REST API of two gateways on one store: both requests pass the identity check and read
    "not bound" (PostgreSQL; SQLite's write lock makes the second wait); one binding, one 201 and
    one 200 with ``created`` False (the assistant then says it is bound already)."""
    import asyncio
    import threading

    from bot.app import create_app
    from bot.config import Settings
    from tests.support.gateway import SERVICE_TOKEN

    both_read = threading.Barrier(2)
    real_active = service._active

    def active_then_wait(session, person, account_no=None):
        found = real_active(session, person, account_no)
        if not found:
            try:
                both_read.wait(timeout=1.5)
            except threading.BrokenBarrierError:
                pass
        return found

    monkeypatch.setattr(service, "_active", active_then_wait)
    settings = Settings(database_url=store_url, service_token=SERVICE_TOKEN)
    clients = [await aiohttp_client(create_app(settings, start_background=False)) for _ in range(2)]
    with clients[0].app[STORE].session() as session:
        session.add(Customer(account_no=ACCOUNT, name="测试", phone="13800000518", address="南京市玄武区中山路1号",
                             area_type="urban", customer_type="residential"))
        session.flush()
        session.add(Conversation(id=WECHAT_ID, channel="wechat", account_no=ACCOUNT))  # identity proven here

    async def ask(client):
        response = await client.post("/api/v1/notices/bindings", headers=auth_headers(),
                                     json={"account_no": ACCOUNT, "conversation_id": WECHAT_ID})
        return response.status, await response.json()

    answers = await asyncio.gather(*(ask(c) for c in clients))
    assert sorted(status for status, _ in answers) == [200, 201], answers
    assert sorted(body["created"] for _, body in answers) == [False, True]
    assert answers[0][1]["binding"]["id"] == answers[1][1]["binding"]["id"]
    store = Store(store_url)
    try:
        assert active_rows(store) == [(ACCOUNT, "wechat", "oQ9f_3kd8sLx0PqZ")]
    finally:
        store.close()
