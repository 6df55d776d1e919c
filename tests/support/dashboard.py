"""A known data set for the dashboard, with its hand-computed figures (tests/dashboard/).

Period: Monday 23 to Sunday 29 November 2026 (Asia/Shanghai); the previous period is 16-22
November; "now" is Monday 30 November 12:00. Every figure the tests check is worked out by
hand in the comments below. Deadlines still running are in 2099, so the figures are the
same whatever the real time of a test run (the page and the reports use the real clock).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.store.models import Conversation, Customer, Handoff, Message, Milestone, SurveyAnswer, Ticket
from bot.store.types import SHANGHAI as SH

FIRST_DAY = date(2026, 11, 23)
LAST_DAY = date(2026, 11, 29)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=SH)


def t(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SH)


def load(session) -> None:
    for account, area in (("3209000001", "urban"), ("3209000002", "rural"), ("3209000003", "remote")):
        session.add(Customer(account_no=account, name="测试" + account[-1], phone="1380000000" + account[-1],
                             address="测试路" + account[-1] + "号", area_type=area, customer_type="residential"))
    A, B, C = "3209000001", "3209000002", "3209000003"

    def conv(cid, channel, at, account=None, state="closed"):
        session.add(Conversation(id=cid, channel=channel, state=state, account_no=account, created_at=at,
                                 last_message_at=at + timedelta(minutes=10)))

    def msg(cid, sender, at, text, intent=None, flagged=False, channel="web"):
        session.add(Message(conversation_id=cid, sender=sender, channel=channel, text=text, intent=intent,
                            confidence=0.9 if intent else None, flagged=flagged, created_at=at,
                            agent="坐席" if sender == "staff" else None))

    def handoff(cid, channel, reason, status, at, accepted=None, agent=None, callback=None):
        session.add(Handoff(conversation_id=cid, channel=channel, reason=reason, status=status, created_at=at,
                            accept_due_at=at + timedelta(minutes=3), accepted_at=accepted, agent=agent,
                            callback_ticket_no=callback))

    def answer(rating, at, cid=None, ticket_no=None, comment=None):
        session.add(SurveyAnswer(conversation_id=cid, ticket_no=ticket_no, rating=rating, created_at=at,
                                 comment=comment))

    ask = "请问您对这次服务满意吗？"
    # c1 web A, Mon 23 09:10, the bot alone; asked and satisfied.
    conv("c1", "web", t(23, 9, 10), A)
    msg("c1", "customer", t(23, 9, 10), "查电费", "bill_query")
    msg("c1", "bot", t(23, 9, 10, 5), "您的电费是……")
    msg("c1", "customer", t(23, 9, 11), "谢谢", "thanks")
    msg("c1", "bot", t(23, 9, 12), ask)
    # c2 web B, Mon 23 09:30: hand-off requested 09:31, li accepts 09:33 (wait 120 s), first reply 09:34 (60 s).
    conv("c2", "web", t(23, 9, 30), B)
    msg("c2", "customer", t(23, 9, 30), "我要转人工", "human_handoff")
    handoff("c2", "web", "customer_request", "closed", t(23, 9, 31), t(23, 9, 33), "li")
    msg("c2", "staff", t(23, 9, 34), "您好，我是客服")
    # c3 wechat A, Tue 24 20:05: two fallbacks, hand-off 20:06, li accepts 20:16 (600 s), reply 20:18 (120 s).
    conv("c3", "wechat", t(24, 20, 5), A)
    msg("c3", "customer", t(24, 20, 5), "asdf乱码", "nlu_fallback", channel="wechat")
    msg("c3", "customer", t(24, 20, 6), "asdf乱码", "nlu_fallback", channel="wechat")
    handoff("c3", "wechat", "fallback", "closed", t(24, 20, 6), t(24, 20, 16), "li")
    msg("c3", "staff", t(24, 20, 18), "您好", channel="wechat")
    # c4 wechat without account, Wed 25 14:00: missed hand-off, callback ticket; asked, no answer.
    conv("c4", "wechat", t(25, 14, 0))
    msg("c4", "customer", t(25, 14, 0), "你们几点下班", "faq", channel="wechat")
    msg("c4", "customer", t(25, 14, 1), "几点下班呀", "nlu_fallback", channel="wechat")
    handoff("c4", "wechat", "customer_request", "missed", t(25, 14, 1), callback="CB-T5")
    msg("c4", "bot", t(25, 14, 9), ask, channel="wechat")
    # c5 web C, Thu 26 10:00: hand-off, wang accepts 10:05 (300 s), reply 10:06 (60 s).
    conv("c5", "web", t(26, 10, 0), C)
    msg("c5", "customer", t(26, 10, 0), "停电了", "report_outage")
    handoff("c5", "web", "customer_request", "closed", t(26, 10, 0), t(26, 10, 5), "wang")
    msg("c5", "staff", t(26, 10, 6), "正在查询")
    # c6 web B, Sun 29 23:30: the bot alone; the greeting was flagged by staff (not a fallback: not listed).
    conv("c6", "web", t(29, 23, 30), B, state="bot")
    msg("c6", "customer", t(29, 23, 30), "你好", "greet", flagged=True)
    # c7 web A, Fri 27 11:00: wang takes over (no waiting counted), reply 11:01:30 (60 s after 11:00:30).
    conv("c7", "web", t(27, 11, 0), A)
    msg("c7", "customer", t(27, 11, 0), "电费怎么这么高", "bill_query")
    handoff("c7", "web", "staff_takeover", "closed", t(27, 11, 0), t(27, 11, 0, 30), "wang")
    msg("c7", "staff", t(27, 11, 1, 30), "我来看看")
    # Previous period: p1 bot alone, p2 hand-off accepted after 60 s.
    conv("p1", "web", t(20, 10, 0), A)
    msg("p1", "customer", t(20, 10, 0), "查电费", "bill_query")
    conv("p2", "web", t(21, 10, 0), B)
    msg("p2", "customer", t(21, 10, 0), "人工", "human_handoff")
    handoff("p2", "web", "customer_request", "closed", t(21, 10, 0), t(21, 10, 1), "li")
    # After the period: not counted.
    conv("n1", "web", t(30, 8, 0), A)
    msg("n1", "customer", t(30, 8, 0), "查电费", "bill_query")
    session.flush()

    # Answers in the period: c1 satisfied, c2 dissatisfied, c3 satisfied, c5 neutral, T1 follow-up satisfied.
    answer("satisfied", t(23, 9, 13), "c1")
    answer("dissatisfied", t(23, 9, 40), "c2", comment="等太久")
    answer("satisfied", t(24, 20, 30), "c3")
    answer("neutral", t(26, 10, 20), "c5")
    answer("satisfied", t(28, 10, 0), ticket_no="T1")

    def ticket(no, type_, channel, area, status, at, summary, closed=None, milestones=()):
        tk = Ticket(ticket_no=no, type=type_, status=status, channel=channel, area_type=area, summary=summary,
                    details={}, created_at=at, updated_at=at, closed_at=closed)
        session.add(tk)
        session.flush()
        for rule, due, met, risk in milestones:
            session.add(Milestone(ticket_id=tk.id, name=rule, rule=rule, started_at=at, due_at=due, met_at=met,
                                  breached=False, at_risk_at=risk))

    # T1 complaint: every milestone met on time.
    ticket("T1", "complaint", "web", "urban", "closed", t(23, 10), "抄表员态度很差，还乱收费", closed=t(24, 10),
           milestones=[("first_response", t(23, 12), t(23, 10, 30), None),
                       ("complaint.contact", t(24, 10), t(23, 20), None),
                       ("complaint.opinion", datetime(2099, 12, 2, 17, 30, tzinfo=SH), t(24, 10), None)])
    # T2 complaint: 受理 late (breached), contact on time, opinion still running (open).
    ticket("T2", "complaint", "wechat", "rural", "in_progress", t(25, 9), "抄表员上门态度恶劣",
           milestones=[("first_response", t(25, 11), t(25, 11, 30), None),
                       ("complaint.contact", t(26, 9), t(26, 8), None),
                       ("complaint.opinion", datetime(2099, 12, 4, 17, 30, tzinfo=SH), None, None)])
    # T3 suggestion: 受理 on time, the reply at risk.
    ticket("T3", "suggestion", "web", "urban", "accepted", t(26, 10), "建议营业厅增加充电桩",
           milestones=[("first_response", t(26, 12), t(26, 10, 10), None),
                       ("suggestion.reply", datetime(2099, 12, 5, 17, 30, tzinfo=SH), None, t(30, 9))])
    # T4 repair: 受理 on time; arrival and restoration past due at NOW (breached).
    ticket("T4", "repair", "web", "urban", "dispatched", t(27, 8), "家里停电",
           milestones=[("first_response", t(27, 10), t(27, 8, 20), None),
                       ("repair.arrival", t(27, 8, 45), None, None),
                       ("repair.restoration", t(27, 11, 45), None, None)])
    # T5 callback (the missed hand-off of c4): both milestones met.
    ticket("T5", "callback", "wechat", "rural", "resolved", t(25, 14, 2), "客户请求回电",
           milestones=[("first_response", t(25, 16, 2), t(25, 14, 30), None),
                       ("callback.call", t(25, 16, 2), t(25, 14, 30), None)])
    # T6 complaint, cancelled (left out of the compliance figures, still opened and closed).
    ticket("T6", "complaint", "web", "urban", "cancelled", t(28, 9), "抄表员态度不好", closed=t(28, 12),
           milestones=[("first_response", t(28, 11), None, None)])
    # Previous period.
    ticket("P1", "complaint", "web", "urban", "closed", t(20, 9), "电费太贵", closed=t(21, 9))
    ticket("P2", "complaint", "web", "urban", "accepted", t(18, 9), "抄表员态度差")


# The figures of the whole period without filters, worked out by hand.
EXPECTED = {
    "conversations": 7,            # c1..c7
    "customer_messages": 10,       # 2+1+2+2+1+1+1
    "customers": 3,                # A, B, C (c4 has no account)
    "contained": 2,                # c1, c6 have no hand-off
    "containment_rate": 0.2857,    # 2/7
    "fallback_rate": 0.3,          # 3 nlu_fallback of 10 messages with an intent
    "handoffs": 5,                 # c2, c3, c4, c5, c7
    "wait_p50": 300.0,             # waits 120, 300, 600 (the take-over left out)
    "wait_p90": 540.0,             # 300 + 0.8 * (600 - 300)
    "satisfaction_share": 0.6,     # 3 satisfied of 5 answers
    "response_rate": 0.8,          # asked or answered: c1 c2 c3 c4 c5; answered: c1 c2 c3 c5
    "tickets_opened": 6,
    "tickets_closed": 2,           # T1, T6
    "sla_share": 0.7273,           # 8 met, 3 breached
}
