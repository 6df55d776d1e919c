"""The dashboard's figures against a hand-computed data set, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from bot.dashboard import queries
from bot.dashboard.queries import day_scope, percentile
from tests.support import dashboard as data
from tests.support.dashboard import EXPECTED, FIRST_DAY, LAST_DAY, NOW


@pytest.fixture(params=["rows", "stored days"])
def figures_for(request, backend_store):
    """The figures read from the rows alone, or from the per-day figures (bot.dashboard.daily)."""
    from bot.dashboard import daily

    with backend_store.session() as session:
        data.load(session)
    live = request.param == "rows"
    if not live:
        assert daily.refresh(backend_store) >= 14  # the two weeks of the data set, at least

    def compute(channel: str = "", area: str = "") -> dict:
        with backend_store.session() as session:
            return queries.compute(session, day_scope(FIRST_DAY, LAST_DAY, channel, area), now=NOW, live=live)

    return compute


def by(rows, key):
    return {row[key]: row for row in rows}


def test_every_figure_of_the_period(figures_for):
    f = figures_for()
    conv, bot, people = f["conversations"], f["containment"], f["handoffs"]
    # Volume.
    assert (conv["total"], conv["customer_messages"], conv["customers"]) == (
        EXPECTED["conversations"], EXPECTED["customer_messages"], EXPECTED["customers"])
    per_day = {d["day"]: (d["conversations"], d["messages"]) for d in conv["per_day"]}
    assert len(per_day) == 7
    assert per_day == {"2026-11-23": (2, 3), "2026-11-24": (1, 2), "2026-11-25": (1, 2), "2026-11-26": (1, 1),
                       "2026-11-27": (1, 1), "2026-11-28": (0, 0), "2026-11-29": (1, 1)}
    heat = conv["heatmap"]
    assert heat[0][9] == 3 and heat[1][20] == 2 and heat[2][14] == 2 and heat[3][10] == 1
    assert heat[4][11] == 1 and heat[6][23] == 1  # Sunday 23:30 Shanghai is 15:30 UTC: local hour
    assert sum(map(sum, heat)) == 10
    assert [(c["channel"], c["conversations"]) for c in conv["per_channel"]] == [("web", 5), ("wechat", 2)]
    # The bot.
    assert (bot["contained"], bot["rate"]) == (EXPECTED["contained"], EXPECTED["containment_rate"])
    assert (bot["fallback_messages"], bot["messages_with_intent"], bot["fallback_rate"]) == (3, 10, 0.3)
    assert [(m["text"], m["messages"]) for m in bot["misunderstood"]] == [("asdf乱码", 2), ("几点下班呀", 1)]
    assert [(i["intent"], i["messages"]) for i in bot["top_intents"]][:2] == [("nlu_fallback", 3), ("bill_query", 2)]
    # People.
    assert (people["total"], people["accepted"], people["missed"], people["callback_tickets"]) == (5, 4, 1, 1)
    assert (people["wait_p50_seconds"], people["wait_p90_seconds"]) == (EXPECTED["wait_p50"], EXPECTED["wait_p90"])
    agents = by(people["agents"], "agent")
    assert agents["li"]["conversations"] == 2 and agents["li"]["first_response_p50_seconds"] == 90.0
    assert agents["wang"]["conversations"] == 2 and agents["wang"]["first_response_p50_seconds"] == 60.0
    assert (agents["li"]["satisfaction_answers"], agents["li"]["satisfaction_share"]) == (2, 0.5)
    assert (agents["wang"]["satisfaction_answers"], agents["wang"]["satisfaction_share"]) == (1, 0.0)
    # Tickets.
    t = f["tickets"]
    assert (t["opened"], t["closed"]) == (EXPECTED["tickets_opened"], EXPECTED["tickets_closed"])
    assert {r["type"]: (r["opened"], r["closed"]) for r in t["by_type"]} == {
        "complaint": (3, 2), "suggestion": (1, 0), "repair": (1, 0), "callback": (1, 0)}
    assert {r["status"]: r["tickets"] for r in t["by_status"]} == {
        "closed": 1, "in_progress": 1, "accepted": 1, "dispatched": 1, "resolved": 1, "cancelled": 1}
    # Compliance: the 2-hour response and the 24-hour complaint contact first.
    sla = f["sla"]
    assert [r["rule"] for r in sla["rules"]][:2] == ["first_response", "complaint.contact"]
    rules = {r["rule"]: (r["met"], r["breached"], r["at_risk"], r["open"], r["share_on_time"]) for r in sla["rules"]}
    assert rules == {
        "first_response": (4, 1, 0, 0, 0.8),
        "complaint.contact": (2, 0, 0, 0, 1.0),
        "complaint.opinion": (1, 0, 0, 1, 1.0),
        "suggestion.reply": (0, 0, 1, 0, None),
        "repair.arrival": (0, 1, 0, 0, 0.0),
        "repair.restoration": (0, 1, 0, 0, 0.0),
        "callback.call": (1, 0, 0, 0, 1.0),
    }
    assert (sla["met"], sla["breached"], sla["at_risk"], sla["open"], sla["share_on_time"]) == (
        8, 3, 1, 1, EXPECTED["sla_share"])
    # Satisfaction.
    s = f["satisfaction"]
    assert (s["answers"], s["satisfied"], s["neutral"], s["dissatisfied"], s["share"], s["target"]) == (
        5, 3, 1, 1, EXPECTED["satisfaction_share"], 0.95)
    assert (s["surveyed"], s["responded"], s["response_rate"]) == (5, 4, EXPECTED["response_rate"])
    assert {r["channel"]: (r["answers"], r["share"]) for r in s["by_channel"]} == {"web": (4, 0.5), "wechat": (1, 1.0)}
    assert {r["type"]: (r["answers"], r["share"]) for r in s["by_type"]} == {
        "conversation": (4, 0.5), "complaint": (1, 1.0)}
    assert [(d["conversation_id"], d["comment"]) for d in s["dissatisfied_conversations"]] == [("c2", "等太久")]
    # Hot topics: 抄表员 and 态度 in three complaints (T1, T2, T6), once in the previous period (P2).
    topics = f["complaint_topics"]
    assert topics["texts"] == 4 and topics["previous_texts"] == 2
    words = {k["keyword"]: (k["count"], k["previous"], k["change"]) for k in topics["keywords"]}
    assert words["抄表员"] == (3, 1, 2) and words["态度"] == (3, 1, 2) and words["充电桩"] == (1, 0, 1)
    assert "电费" not in words  # only in the previous period
    assert [(p["topic"], p["count"], p["previous"]) for p in topics["pairs"]] == [("抄表员 · 态度", 3, 1)]
    assert [k["keyword"] for k in topics["keywords"]][:2] == ["态度", "抄表员"]
    # Trends against 16-22 November.
    tr = f["trends"]
    assert (tr["conversations"]["current"], tr["conversations"]["previous"], tr["conversations"]["change"]) == (7, 2, 5)
    assert tr["containment_rate"]["previous"] == 0.5 and tr["wait_p50_seconds"]["previous"] == 60.0
    assert (tr["tickets_opened"]["previous"], tr["tickets_closed"]["previous"]) == (2, 1)
    assert tr["satisfaction_share"]["previous"] is None and tr["satisfaction_share"]["change"] is None


def test_channel_and_area_filters(figures_for):
    wechat = figures_for(channel="wechat")
    assert wechat["conversations"]["total"] == 2  # c3, c4
    assert wechat["containment"]["fallback_messages"] == 3
    assert (wechat["handoffs"]["total"], wechat["handoffs"]["wait_p50_seconds"]) == (2, 600.0)
    assert wechat["tickets"]["opened"] == 2  # T2, T5
    assert (wechat["satisfaction"]["answers"], wechat["satisfaction"]["share"]) == (1, 1.0)
    rural = figures_for(area="rural")
    assert rural["conversations"]["total"] == 2  # c2, c6 (account B)
    assert rural["containment"]["contained"] == 1
    assert {r["type"] for r in rural["tickets"]["by_type"]} == {"complaint", "callback"}  # T2, T5
    assert rural["satisfaction"]["dissatisfied"] == 1 and rural["satisfaction"]["answers"] == 1
    assert rural["sla"]["rules"][0]["rule"] == "first_response" and rural["sla"]["rules"][0]["breached"] == 1


def test_percentile_interpolates_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile([40, 10, 30, 20], 0.9) == 37


def test_links_name_the_figure_behind_them(figures_for):
    f = figures_for()
    assert f["containment"]["contained_link"] == (
        "/console/review?from=2026-11-23&to=2026-11-29&started=1&handoff=no")
    first = f["sla"]["rules"][0]["links"]["breached"]
    assert first == "/console/tickets?status=all&from=2026-11-23&to=2026-11-29&rule=first_response&sla=breached"


def test_survey_questions_are_those_the_assistant_asks():
    """The response rate (and its partial index) knows the survey by the questions' text."""
    from pathlib import Path

    import yaml

    from bot.sla.notify import SURVEY_TEXT
    from bot.store.models import SURVEY_QUESTIONS

    domain = yaml.safe_load((Path(__file__).resolve().parent.parent.parent / "domain.yml").read_text(encoding="utf-8"))
    asked = [r["text"] for r in domain["responses"]["utter_ask_rating"]]
    assert set(asked) | {SURVEY_TEXT} == set(SURVEY_QUESTIONS)
