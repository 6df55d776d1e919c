"""Ad-hoc notices (issue 19): who receives one, what they read, sent exactly once."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from bot.notices import adhoc
from bot.store import Store, migrate
from bot.store.models import AdhocNotice, NoticeDelivery
from tests.support import notices_console as data

XUANWU = dict(area="南京市玄武区", scope="中山路、北京东路", text="因线路紧急抢修，今天 14:00-18:00 停电。", urgent=True)


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    st = Store(url)
    yield st
    st.close()


@pytest.fixture
def made(store):
    with store.session() as session:
        data.add_customers(session)
        return data.add_bindings(session)


def draft(**changes) -> adhoc.Draft:
    values = {**XUANWU, **changes}
    return adhoc.check_draft(values["area"], values["scope"], values["text"], values["urgent"])


def test_scope_is_split_on_commas_and_enumeration_marks():
    assert adhoc.parse_scope("中山路、北京东路，龙蟠路, 中山路 太平北路") == ("中山路", "北京东路", "龙蟠路", "太平北路")
    assert adhoc.parse_scope("  ") == ()


@pytest.mark.parametrize("changes, message", [
    ({"text": "  "}, "请填写通知内容"),
    ({"area": ""}, "请填写区域"),
    ({"text": "停" * 301}, "最多 300 个字"),
    ({"scope": "", "area": "南京市"}, "区域须写明区县"),
    ({"scope": "很长" * 20}, "每个街道或村的名称最多"),
])
def test_a_draft_that_cannot_be_sent_is_refused_in_chinese(changes, message):
    with pytest.raises(adhoc.AdhocError, match=message):
        draft(**changes)


def test_line_breaks_of_the_form_are_kept_as_plain_newlines():
    assert draft(text="今天停电。\r\n明天恢复。\r").text == "今天停电。\n明天恢复。"


def test_the_message_is_what_the_customer_reads():
    text = adhoc.message_text(draft())
    assert text.startswith("【紧急通知】因线路紧急抢修，今天 14:00-18:00 停电。")
    assert "涉及范围：南京市玄武区（中山路、北京东路）" in text and "95598" in text
    assert adhoc.message_text(draft(urgent=False)).startswith("【供电服务通知】")
    assert "南京市玄武区全域" in adhoc.message_text(draft(scope=""))


def test_recipients_are_bound_covered_and_not_opted_out(store, made):
    with store.session() as session:
        found = adhoc.recipients(session, draft())
    ids = made["ids"]
    assert {b for b, _a, _c in found.bindings} == made["expected"]
    # not: another district's 中山路, a street outside the scope, unbound, opted out of adhoc, SMS without consent
    for excluded in ("wang", "liu", "chen_unbound", "yang_opted_out", "sun_no_consent"):
        assert ids[excluded] not in {b for b, _a, _c in found.bindings}, excluded
    assert found.count == 4 and found.accounts == 3
    assert found.per_channel == {"wechat": 1, "web": 1, "wecom": 1, "sms": 1}
    assert found.per_scope == {"中山路": 2, "北京东路": 1}


def test_a_whole_district_notice_needs_the_district_in_the_address(store, made):
    with store.session() as session:
        found = adhoc.recipients(session, draft(scope=""))
    ids = made["ids"]
    assert {b for b, _a, _c in found.bindings} == {ids["zhang_wechat"], ids["zhang_web"], ids["liu"], ids["zhao"]}


def test_a_street_nobody_lives_in_counts_zero(store, made):
    with store.session() as session:
        found = adhoc.recipients(session, draft(scope="中山路、不存在路"))
    assert found.per_scope["不存在路"] == 0 and found.per_scope["中山路"] == 2


def test_recipients_are_found_in_one_query(store, made):
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", listener)
    try:
        with store.session() as session:
            adhoc.recipients(session, draft())
    finally:
        event.remove(store.engine, "before_cursor_execute", listener)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_send_creates_one_pending_delivery_per_recipient_and_a_double_submit_nothing_more(store, made):
    key = "k" * 32
    with store.session() as session:
        first = adhoc.send(session, draft(), sent_by="boss", request_key=key)
    assert first.created and first.recipients == 4
    with store.session() as session:
        again = adhoc.send(session, draft(), sent_by="boss", request_key=key)
    assert not again.created and again.notice_id == first.notice_id
    with store.session() as session:
        notices = list(session.execute(select(AdhocNotice)).scalars())
        rows = list(session.execute(select(NoticeDelivery)).scalars())
    assert len(notices) == 1
    notice = notices[0]
    assert (notice.sent_by, notice.recipients, notice.area, notice.scope, notice.urgent) == (
        "boss", 4, "南京市玄武区", ["中山路", "北京东路"], True)
    assert notice.text == adhoc.message_text(draft())  # what anything reading the notice sends
    assert sorted(r.binding_id for r in rows) == sorted(made["expected"])
    for row in rows:
        assert (row.kind, row.event_key, row.status, row.urgent, row.adhoc_id, row.attempts) == (
            "adhoc", f"adhoc:{notice.id}", "pending", True, notice.id, 0)
        assert row.payload["text"] == adhoc.message_text(draft()) and row.payload["title"] == "紧急通知"
        expires = datetime.fromisoformat(row.payload["expires_at"])
        assert expires - notice.created_at == timedelta(hours=24)
        assert row.next_attempt_at is not None
    # A new preview (a new key) of the same text is a new notice: the supervisor meant it.
    with store.session() as session:
        other = adhoc.send(session, draft(), sent_by="boss", request_key="m" * 32)
    assert other.created and other.notice_id != first.notice_id


def test_nobody_to_send_to_and_a_bad_key_are_refused(store, made):
    with store.session() as session:
        with pytest.raises(adhoc.AdhocError, match="没有符合条件的接收人"):
            adhoc.send(session, draft(scope="不存在路"), sent_by="boss", request_key="k" * 32)
        with pytest.raises(adhoc.AdhocError, match="表单已失效"):
            adhoc.send(session, draft(), sent_by="boss", request_key="short")
    with store.session() as session:
        assert session.execute(select(func.count()).select_from(AdhocNotice)).scalar_one() == 0


def _race(st: Store) -> list[adhoc.SendResult]:
    barrier = threading.Barrier(2)
    results: list[adhoc.SendResult] = []
    errors: list[BaseException] = []

    def one():
        try:
            barrier.wait()
            results.append(adhoc.send_once(st, draft(), sent_by="boss", request_key="r" * 32))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_submits_at_the_same_time_send_once(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'race.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    migrate(url)
    st = Store(url)
    try:
        with st.session() as session:
            data.add_customers(session)
            made = data.add_bindings(session)
        for _ in range(3):  # a few rounds: each with a fresh key
            results = _race(st)
            assert sorted(r.created for r in results) == [False, True]
            assert results[0].notice_id == results[1].notice_id
            with st.session() as session:
                session.execute(AdhocNotice.__table__.update().values(request_key=None))
        with st.session() as session:
            notices = session.execute(select(func.count()).select_from(AdhocNotice)).scalar_one()
            per_binding = session.execute(select(NoticeDelivery.binding_id, func.count())
                                          .group_by(NoticeDelivery.binding_id)).all()
        assert notices == 3
        assert {b: n for b, n in per_binding} == {b: 3 for b in made["expected"]}
    finally:
        st.close()


def test_the_loser_of_a_race_gets_the_winners_notice(store, made, monkeypatch):
    """The other transaction stored the key after this one looked: the unique key refuses the
    second notice (IntegrityError), and send_once answers the first one."""
    key = "w" * 32
    winner = adhoc.send_once(store, draft(), sent_by="boss", request_key=key)
    real = adhoc.find_sent
    calls: list[str] = []

    def blind_once(session, request_key):
        calls.append(request_key)
        return None if len(calls) == 1 else real(session, request_key)

    monkeypatch.setattr(adhoc, "find_sent", blind_once)
    loser = adhoc.send_once(store, draft(), sent_by="boss2", request_key=key)
    assert len(calls) == 2  # looked, collided, looked again
    assert (loser.created, loser.notice_id) == (False, winner.notice_id)
    with store.session() as session:
        assert session.execute(select(func.count()).select_from(AdhocNotice)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(NoticeDelivery)).scalar_one() == 4


def test_a_notice_sent_at_a_given_time_expires_a_day_later(store, made):
    from bot.store.types import SHANGHAI

    at = datetime(2026, 12, 3, 22, 55, tzinfo=SHANGHAI)
    with store.session() as session:
        sent = adhoc.send(session, draft(), sent_by="boss", request_key="t" * 32, now=at)
    with store.session() as session:
        notice = session.get(AdhocNotice, sent.notice_id)
        rows = list(session.execute(select(NoticeDelivery)).scalars())
    assert notice.created_at == at
    assert {(r.next_attempt_at, r.payload["expires_at"]) for r in rows} == {(at, (at + timedelta(hours=24)).isoformat())}
