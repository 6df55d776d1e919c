"""``make bench`` (search part): the console search on a year of a city's data (PostgreSQL).

``python -m scripts.bench_search [--database-url URL] [--repeat 5] [--out docs]``

1. A throw-away PostgreSQL cluster (or ``--database-url``), migrated and filled by
   ``scripts.make_scale_data`` (1,000,000 messages, 100,000 conversations, 50,000 tickets)
   unless it already holds them;
2. builds the search index from nothing (``bot.agent_tools.search.catch_up`` in batches, the
   background indexer's work) and reports its time, rows and size;
3. times ``search()`` (index catch-up check included, as the page runs it) for word queries,
   a query answered by the per-character fallback, a 户号 and a ticket number: median and
   worst of ``--repeat`` runs after one warm-up;
4. writes its section (between the markers below) into ``docs/benchmarks.md`` and the raw
   figures into ``docs/benchmarks-search.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

from scripts.bench_sections import replace_marked

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
START = "<!-- search-bench:start -->"
END = "<!-- search-bench:end -->"
QUERIES = (("停电", "one word"), ("电费 怎么交", "two words"), ("抄表员态度", "unknown word: characters + 态度"),
           ("家里停电了", "sentence"), ("水表爆了", "no match: character fallback"), ("account", "户号"),
           ("ticket", "ticket number"))


def replace_section(path: Path, section: str) -> None:
    replace_marked(path, section, START, END)


def build_index(url: str) -> dict:
    from sqlalchemy import func, select, text

    from bot.agent_tools import search
    from bot.store import Store
    from bot.store.models import SearchTerm

    store = Store(url)
    try:
        t0 = time.perf_counter()
        batches = 0
        while True:
            with store.session() as session:
                search.catch_up(session, batch=20000)
                more = search.pending(session)
            batches += 1
            if not more:
                break
        seconds = time.perf_counter() - t0
        with store.session() as session:
            rows = session.execute(select(func.count()).select_from(SearchTerm)).scalar_one()
            session.execute(text("ANALYZE search_terms"))
            size = session.execute(text("SELECT pg_size_pretty(pg_total_relation_size('search_terms'))")).scalar_one()
        return {"seconds": round(seconds, 1), "batches": batches, "rows": rows, "size": size}
    finally:
        store.close()


def time_queries(url: str, repeat: int) -> list[dict]:
    import statistics

    from sqlalchemy import select

    from bot.agent_tools import search
    from bot.store import Store
    from bot.store.models import Ticket

    store = Store(url)
    out = []
    try:
        with store.session() as session:
            ticket_no = session.execute(select(Ticket.ticket_no).order_by(Ticket.id.desc()).limit(1)).scalar_one()
            account_no = session.execute(select(Ticket.account_no).where(Ticket.account_no.is_not(None))
                                         .order_by(Ticket.id.desc()).limit(1)).scalar_one()
        for query, what in QUERIES:
            q = {"ticket": ticket_no, "account": account_no}.get(query, query)

            def run():
                with store.session() as session:
                    return search.search(session, q)

            run()
            runs = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                result = run()
                runs.append(time.perf_counter() - t0)
            out.append({"query": q, "what": what, "terms": result["terms"],
                        "hits": {k: len(result[k]) for k in ("customers", "conversations", "messages", "tickets")},
                        "median_s": round(statistics.median(runs), 3), "worst_s": round(max(runs), 3)})
    finally:
        store.close()
    return out


def markdown(r: dict) -> str:
    idx = r["index"]
    lines = ["## Console search (issue 18)", "",
             f"Measured {r['machine']['date']} on {r['machine']['cpus']} cores (shared), PostgreSQL "
             f"{r['machine']['postgres']}, store of `scripts/make_scale_data.py` "
             f"({r['counts']['messages']:,} messages, {r['counts']['conversations']:,} conversations, "
             f"{r['counts']['tickets']:,} tickets); load average before {r['machine']['load_before']}.", "",
             f"Index built from nothing (`bot.agent_tools.search`, jieba search-mode terms and single characters "
             f"of customer and staff messages, ticket summaries, customers): **{idx['seconds']} s**, "
             f"{idx['rows']:,} rows, {idx['size']} with its indexes. New rows are indexed by the gateway's "
             "background task every 30 s and before each search.", "",
             "| query | kind | terms | hits (customers / conversations / messages / tickets) | median s | worst s |",
             "| --- | --- | --- | --- | --- | --- |"]
    for q in r["queries"]:
        h = q["hits"]
        lines.append(f"| {q['query']} | {q['what']} | {' '.join(q['terms']) or '—'} | "
                     f"{h['customers']} / {h['conversations']} / {h['messages']} / {h['tickets']} | "
                     f"{q['median_s']} | {q['worst_s']} |")
    lines += ["", "Results are limited to 50 of each kind, newest first (`search.LIMIT`)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(DOCS))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from scripts.bench_dashboard import postgres_version
    from scripts.make_scale_data import year_of_data

    with year_of_data(args.database_url, "searchbench") as (url, counts):
        load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print("building the search index ...", flush=True)
        index = build_index(url)
        print(index, flush=True)
        queries = time_queries(url, args.repeat)
        version, _settings = postgres_version(url)
        results = {"machine": {"date": datetime.now().date().isoformat(), "cpus": os.cpu_count(),
                               "python": platform.python_version(), "postgres": version,
                               "load_before": load_before}, "counts": counts, "index": index, "queries": queries}
        out = Path(args.out)
        (out / "benchmarks-search.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
        replace_section(out / "benchmarks.md", markdown(results))
        print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
