"""A year of a city's service data for the dashboard's benchmark (PostgreSQL, bulk COPY).

``python -m scripts.make_scale_data --database-url postgresql+psycopg2://... [--conversations 100000
--messages 1000000 --tickets 50000] [--seed 18]`` fills a migrated, empty store with:
customers (20 000 accounts: urban/rural/remote), conversations over the last 365 days (busier
on weekdays, at 9-11 and 19-21 h), their messages (customers' with intents, 7 % not understood,
the bot's answers and survey questions), hand-offs for about 15 % of them (waiting times,
12 agents, missed ones with callback tickets) with the agents' messages, tickets of every
type with their milestones (met on time, late, open, at risk), satisfaction answers
(about nine in ten satisfied) and complaint texts whose topics drift (抄表员态度 rises over
the last month). Deterministic for a seed. Not part of ``make test``; ``make bench`` runs it.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
CHANNELS = (("web", 55), ("wechat", 35), ("wecom", 10))
AREAS = (("urban", 60), ("rural", 30), ("remote", 10))
INTENTS = (("bill_query", 18), ("faq", 16), ("report_outage", 10), ("outage_query", 9), ("greet", 12),
           ("thanks", 8), ("goodbye", 5), ("provide_account", 6), ("apply_business", 4), ("complain", 3),
           ("human_handoff", 3), ("rate_service", 3))
FALLBACK_TEXTS = ("嗯嗯", "那个啥", "你说的不对", "我家那个表咋回事", "还是不行啊", "？？？", "asdfgh",
                  "我想问问那个事情", "电费咋回事嘛", "你们这个怎么搞的", "喂喂", "说人话", "不是这个")
CUSTOMER_TEXTS = {"bill_query": "查一下电费", "faq": "电费怎么交", "report_outage": "家里停电了",
                  "outage_query": "最近有停电计划吗", "greet": "你好", "thanks": "谢谢", "goodbye": "再见",
                  "provide_account": "户号3201000001", "apply_business": "我要办理新装",
                  "complain": "我要投诉", "human_handoff": "转人工", "rate_service": "满意"}
TICKET_TYPES = (("repair", 35), ("application", 20), ("complaint", 12), ("suggestion", 8), ("callback", 10),
                ("tip_off", 5), ("praise", 10))
TYPE_RULES = {  # rule, limit in hours (working days approximated as calendar days here)
    "repair": (("repair.arrival", 0.75), ("repair.restoration", 3.75)),
    "complaint": (("complaint.contact", 24), ("complaint.opinion", 7 * 24)),
    "suggestion": (("suggestion.reply", 7 * 24),), "tip_off": (("tip_off.reply", 7 * 24),),
    "callback": (("callback.call", 2),), "application": (("completion", 5 * 24),), "praise": (),
}
COMPLAINT_TOPICS = (("抄表员态度很差", 6), ("营业厅排队时间太长", 8), ("停电太频繁", 10), ("电费太贵", 8),
                    ("抢修人员迟迟不到", 7), ("电压不稳定，灯一直闪", 6), ("电表计量不准", 5), ("乱收费", 4),
                    ("客服电话打不通", 5), ("工作人员服务态度不好", 4))
SUGGESTION_TOPICS = ("建议增加充电桩", "建议延长营业厅营业时间", "希望停电提前通知", "建议微信缴费更方便")
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 6, 9, 12, 12, 10, 7, 8, 9, 9, 8, 8, 9, 11, 11, 8, 5, 2)
AGENTS = tuple(f"agent{i:02d}" for i in range(1, 13))


def weighted(rng: random.Random, pairs):
    items, weights = zip(*pairs)
    return rng.choices(items, weights=weights)[0]


class Copier:
    """Rows buffered as COPY text and sent in chunks."""

    def __init__(self, cursor, table: str, columns: tuple[str, ...], chunk: int = 50_000):
        self.cursor, self.table, self.columns, self.chunk = cursor, table, columns, chunk
        self.buffer = io.StringIO()
        self.pending = 0
        self.total = 0

    @staticmethod
    def _cell(value) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    def add(self, *values) -> None:
        self.buffer.write("\t".join(self._cell(v) for v in values) + "\n")
        self.pending += 1
        if self.pending >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        self.buffer.seek(0)
        self.cursor.copy_expert(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN", self.buffer)
        self.total += self.pending
        self.buffer = io.StringIO()
        self.pending = 0


def generate(database_url: str, *, conversations: int = 100_000, messages: int = 1_000_000,
             tickets: int = 50_000, customers: int = 20_000, seed: int = 18, now: datetime | None = None,
             say=print) -> dict[str, int]:
    import psycopg2

    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    start = now - timedelta(days=365)
    dsn = database_url.replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(dsn)
    conn.autocommit = False
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM conversations")
    if cur.fetchone()[0]:
        raise SystemExit("make_scale_data: the store is not empty")

    def moment() -> datetime:
        """A time in the last year: weekdays busier, peaks at 9-11 and 19-21 h (Shanghai)."""
        while True:
            day = start + timedelta(days=rng.randrange(365))
            local_weekday = (day + timedelta(hours=8)).weekday()
            if local_weekday < 5 or rng.random() < 0.7:
                break
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        local_midnight = (day + timedelta(hours=8)).replace(hour=0, minute=0, second=0) - timedelta(hours=8)
        at = local_midnight + timedelta(hours=hour, seconds=rng.randrange(3600))
        return min(at, now - timedelta(minutes=5))

    t0 = time.monotonic()
    accounts = [f"33{i:08d}" for i in range(1, customers + 1)]
    areas = {}
    out = Copier(cur, "customers", ("account_no", "name", "phone", "address", "area_type", "customer_type",
                                    "created_at"))
    for account_no in accounts:
        area = weighted(rng, AREAS)
        areas[account_no] = area
        out.add(account_no, "客户" + account_no[-4:], "139" + account_no[-8:], "测试市测试路" + account_no[-4:] + "号",
                area, rng.choice(("residential",) * 8 + ("commercial", "industrial")), start)
    out.flush()
    say(f"customers: {out.total}")

    # Conversations first (their times), then messages up to the budget.
    convs: list[tuple[str | None, str, datetime, str | None]] = []
    for i in range(conversations):
        at = moment()
        convs.append((f"scale-{i:06d}", weighted(rng, CHANNELS), at,
                      rng.choice(accounts) if rng.random() < 0.7 else None))
    convs.sort(key=lambda c: c[2])
    # Messages per conversation: about messages/conversations each (at least 2), summing exactly to the budget.
    counts = [messages // conversations] * conversations
    for i in range(messages - sum(counts)):
        counts[i % conversations] += 1
    for i in range(conversations):
        j = rng.randrange(conversations)
        delta = rng.randint(-6, 6)
        if counts[i] + delta >= 2 and counts[j] - delta >= 2:
            counts[i] += delta
            counts[j] -= delta
    handoff_rows = []
    conv_out = Copier(cur, "conversations", ("id", "channel", "state", "account_no", "assigned_agent", "tags",
                                             "satisfaction", "reviewed", "created_at", "last_message_at",
                                             "closed_at"))
    msg_out = Copier(cur, "messages", ("conversation_id", "sender", "agent", "channel", "text", "intent",
                                       "confidence", "flagged", "created_at"),
                     chunk=10 ** 9)  # sent after the conversations (foreign key)
    answer_out = Copier(cur, "survey_answers", ("conversation_id", "ticket_no", "rating", "comment", "created_at"))
    for (cid, channel, at, account), n in zip(convs, counts):
        handoff = rng.random() < 0.15
        asked = rng.random() < 0.4
        clock = at
        agent = rng.choice(AGENTS) if handoff else None
        handoff_at = accepted_at = None
        status = None
        rating = None
        for k in range(n):
            clock += timedelta(seconds=rng.randint(5, 90))
            if handoff and k == n // 2 and handoff_at is None:
                handoff_at = clock
                roll = rng.random()
                status = "missed" if roll < 0.10 else ("returned" if roll < 0.15 else "closed")
                if status != "missed":
                    accepted_at = handoff_at + timedelta(seconds=int(rng.lognormvariate(4.4, 0.8)))
                    clock = accepted_at
            if handoff and accepted_at is not None and k > n // 2 and k % 2 == 0:
                msg_out.add(cid, "staff", agent, channel, "您好，我来为您处理", None, None, False, clock)
            elif k % 2 == 0:
                if rng.random() < 0.07:
                    text, intent = rng.choice(FALLBACK_TEXTS), "nlu_fallback"
                else:
                    intent = weighted(rng, INTENTS)
                    text = CUSTOMER_TEXTS[intent]
                msg_out.add(cid, "customer", None, channel, text, intent, round(rng.uniform(0.3, 1.0), 3),
                            rng.random() < 0.005, clock)
            elif asked and k == n - 1:
                msg_out.add(cid, "bot", None, channel, "请问您对这次服务满意吗？", None, None, False, clock)
            else:
                msg_out.add(cid, "bot", None, channel, "好的，已为您查询。", None, None, False, clock)
        if asked and rng.random() < 0.6:
            rating = rng.choices(("satisfied", "neutral", "dissatisfied"), weights=(90, 6, 4))[0]
            answer_out.add(cid, None, rating, "等太久了" if rating == "dissatisfied" and rng.random() < 0.5 else None,
                           clock + timedelta(seconds=20))
        conv_out.add(cid, channel, "closed", account, agent if accepted_at else None, [], rating, False, at,
                     clock, clock + timedelta(minutes=5))
        if handoff_at is not None:
            handoff_rows.append((cid, channel, handoff_at, accepted_at, agent, status, clock))
    conv_out.flush()
    msg_out.flush()
    say(f"conversations: {conv_out.total}, messages: {msg_out.total} ({time.monotonic() - t0:.0f} s)")

    ticket_out = Copier(cur, "tickets", ("id", "ticket_no", "type", "status", "priority", "account_no",
                                         "conversation_id", "channel", "summary", "details", "area_type",
                                         "satisfaction", "created_at", "updated_at", "closed_at"))
    milestone_out = Copier(cur, "milestones", ("ticket_id", "name", "rule", "started_at", "due_at", "met_at",
                                               "breached", "at_risk_at", "breached_at"),
                           chunk=10 ** 9)  # sent after the tickets (foreign key)
    handoff_out = Copier(cur, "handoffs", ("conversation_id", "channel", "reason", "status", "created_at",
                                           "accept_due_at", "accepted_at", "agent", "ended_at",
                                           "callback_ticket_no"))
    ticket_id = 0
    recent = now - timedelta(days=30)

    def add_ticket(type_: str, at: datetime, channel: str, account: str | None, cid: str | None) -> str:
        nonlocal ticket_id
        ticket_id += 1
        number = f"SC{ticket_id:09d}"
        if type_ == "complaint":
            topics = list(COMPLAINT_TOPICS)
            if at >= recent:  # the meter readers' manners become the month's hot topic
                topics[0] = (topics[0][0], 30)
            summary = weighted(rng, topics)
        elif type_ == "suggestion":
            summary = rng.choice(SUGGESTION_TOPICS)
        else:
            summary = {"repair": "家里停电", "application": "新装申请", "callback": "客户请求回电",
                       "tip_off": "举报窃电", "praise": "表扬抢修人员"}[type_]
        age = (now - at).total_seconds() / 3600
        done = age > 24 * 10 or rng.random() < 0.5
        status = "closed" if done and rng.random() < 0.7 else ("resolved" if done else
                                                               rng.choice(("accepted", "dispatched", "in_progress")))
        if rng.random() < 0.02:
            status = "cancelled"
        closed_at = at + timedelta(hours=rng.uniform(1, 200)) if status in ("closed", "cancelled") else None
        if closed_at and closed_at > now:
            closed_at = now - timedelta(minutes=1)
        area = areas.get(account) if account else weighted(rng, AREAS)
        ticket_out.add(ticket_id, number, type_, status, "normal", account, cid, channel, summary, {}, area, None,
                       at, closed_at or at, closed_at)
        for rule, hours in (("first_response", 2),) + TYPE_RULES[type_]:
            due = at + timedelta(hours=hours)
            late = rng.random() < 0.08
            if status in ("closed", "resolved") or (rule == "first_response" and status != "cancelled"):
                met = due + timedelta(hours=hours * rng.uniform(0.05, 0.5)) if late else \
                    at + timedelta(hours=hours * rng.uniform(0.1, 0.95))
                met = min(met, now)
            else:
                met = None
            risk = at + timedelta(hours=hours * 0.8) if met is None and at + timedelta(hours=hours * 0.8) < now \
                else None
            breached = (met is not None and met > due) or (met is None and due < now)
            milestone_out.add(ticket_id, rule, rule, at, due, met, breached, risk, due if breached else None)
        return number

    for cid, channel, handoff_at, accepted_at, agent, status, ended in handoff_rows:
        callback = None
        if status == "missed":
            callback = add_ticket("callback", handoff_at + timedelta(minutes=3), channel, None, cid)
        handoff_out.add(cid, channel, rng.choice(("customer_request", "customer_request", "fallback")), status,
                        handoff_at, handoff_at + timedelta(minutes=3), accepted_at, agent if accepted_at else None,
                        ended, callback)
    handoff_out.flush()
    while ticket_id < tickets:
        cid, channel, at, account = rng.choice(convs) if rng.random() < 0.6 else (None, weighted(rng, CHANNELS),
                                                                                   moment(), rng.choice(accounts))
        number = add_ticket(weighted(rng, TICKET_TYPES), at + timedelta(minutes=2), channel, account, cid)
        if rng.random() < 0.2:
            rating = rng.choices(("satisfied", "neutral", "dissatisfied"), weights=(88, 7, 5))[0]
            answer_out.add(None, number, rating, None, min(at + timedelta(days=2), now))
    ticket_out.flush()
    milestone_out.flush()
    answer_out.flush()
    cur.execute("SELECT setval('tickets_id_seq', %s)", (ticket_id,))
    conn.commit()
    conn.autocommit = True
    cur.execute("VACUUM ANALYZE")  # statistics and the visibility map (index-only scans), as autovacuum would
    conn.close()
    totals = {"customers": len(accounts), "conversations": conv_out.total, "messages": msg_out.total,
              "handoffs": handoff_out.total, "tickets": ticket_out.total, "milestones": milestone_out.total,
              "survey_answers": answer_out.total}
    say(f"done in {time.monotonic() - t0:.0f} s: {totals}")
    return totals



@contextlib.contextmanager
def year_of_data(database_url: str, database_name: str):
    """The benchmarks' store: ``database_url`` or a throw-away PostgreSQL on loopback, migrated
    and filled with the year of data once; yields ``(url, row counts)`` and stops what it started."""
    from scripts.bench_dashboard import store_counts

    server = None
    url = database_url
    if not url:
        from bot.local_servers import PostgresServer

        server = PostgresServer().start()
        url = server.create_database(database_name)
    try:
        from bot.store import migrate

        migrate(url)
        counts = store_counts(url)
        if counts["messages"] == 0:
            print("generating the year of data (a few minutes) ...", flush=True)
            generate(url)
            counts = store_counts(url)
        yield url, counts
    finally:
        if server is not None:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a migrated, empty PostgreSQL store")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        print("make_scale_data: PostgreSQL only (bulk COPY)", file=sys.stderr)
        return 2
    from bot.store import migrate

    migrate(args.database_url)
    generate(args.database_url, conversations=args.conversations, messages=args.messages, tickets=args.tickets,
             seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
