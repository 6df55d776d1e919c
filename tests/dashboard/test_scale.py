"""The scale generator and the benchmark's report section, on a small bounded run."""
from __future__ import annotations

from datetime import timedelta

from scripts.bench_dashboard import END, START, keep_section, markdown, replace_section


def test_generator_makes_the_asked_counts_and_the_dashboard_reads_them(postgres_url):
    from bot.dashboard import queries
    from bot.store import Store, migrate
    from bot.store.types import SHANGHAI, now_utc
    from scripts.make_scale_data import generate

    migrate(postgres_url)
    counts = generate(postgres_url, conversations=300, messages=3000, tickets=150, customers=100, say=lambda _: None)
    assert (counts["conversations"], counts["messages"], counts["tickets"]) == (300, 3000, 150)
    assert counts["milestones"] > counts["tickets"] and counts["handoffs"] > 0 and counts["survey_answers"] > 0
    store = Store(postgres_url)
    try:
        today = now_utc().astimezone(SHANGHAI).date()
        with store.session() as session:
            year = queries.compute(session, queries.day_scope(today - timedelta(days=366), today))
    finally:
        store.close()
    assert year["conversations"]["total"] == 300
    assert year["conversations"]["customer_messages"] == sum(sum(h) for h in year["conversations"]["heatmap"])
    assert year["tickets"]["opened"] == 150
    assert 0 < year["containment"]["rate"] < 1 and 0 < year["satisfaction"]["share"] <= 1


def test_bench_section_is_replaced_and_kept(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\n## 1. NLU\n", encoding="utf-8")
    replace_section(path, "## 3. dashboard\nold figures")
    replace_section(path, "## 3. dashboard\nnew figures")
    text = path.read_text(encoding="utf-8")
    assert text.count(START) == 1 and "new figures" in text and "old figures" not in text
    # scripts/bench.py rewrites the rest of the file and keeps the section.
    rewritten = keep_section(path, "# Benchmarks\n\n## 1. NLU (new run)\n")
    assert rewritten.startswith("# Benchmarks\n\n## 1. NLU (new run)") and "new figures" in rewritten
    assert rewritten.rstrip().endswith(END)


def test_markdown_marks_pages_over_the_target():
    results = {"machine": {"date": "2026-12-02", "cpus": 2, "load_before": "1.0", "load_after": "1.0",
                           "postgres": "15", "pg_settings": "x"}, "repeat": 3,
               "counts": {"messages": 1_000_000, "conversations": 100_000, "tickets": 50_000, "milestones": 1,
                          "handoffs": 1, "survey_answers": 1, "customers": 1},
               "compute": [{"case": "7 days", "conversations": 1, "customer_messages": 2, "tickets": 3,
                            "median_s": 0.5, "worst_s": 0.7},
                           {"case": "365 days", "conversations": 1, "customer_messages": 2, "tickets": 3,
                            "median_s": 4.0, "worst_s": 5.0}],
               "pages": [{"page": "dashboard", "median_s": 0.8, "worst_s": 0.9}]}
    text = markdown(results)
    assert "| 7 days | 1 | 2 | 3 | 0.500 | 0.700 | yes |" in text
    assert "| 365 days | 1 | 2 | 3 | 4.000 | 5.000 | no |" in text
    assert "1,000,000 messages" in text


def test_dashboard_indexes_migrate_both_ways(store_url):
    """Migration 0006 creates the indexes the models declare, and its downgrade removes them."""
    from alembic import command
    from sqlalchemy import inspect

    from bot.store.db import alembic_config, make_engine
    from bot.store.models import Base

    names = {"messages": {"ix_messages_created_at", "ix_messages_survey_question", "ix_messages_staff"},
             "tickets": {"ix_tickets_closed_at"}, "survey_answers": {"ix_survey_answers_created_at"}}
    declared = {t: {i.name for i in Base.metadata.tables[t].indexes} for t in names}
    assert all(names[t] <= declared[t] for t in names)

    def present() -> dict[str, set[str]]:
        engine = make_engine(store_url)
        try:
            found = {t: {i["name"] for i in inspect(engine).get_indexes(t)} for t in names}
        finally:
            engine.dispose()
        return {t: found[t] & names[t] for t in names}

    assert present() == names
    command.downgrade(alembic_config(store_url), "0005_agent_tools")
    assert present() == {t: set() for t in names}
    command.upgrade(alembic_config(store_url), "head")
    assert present() == names
