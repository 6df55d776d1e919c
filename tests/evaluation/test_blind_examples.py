"""data/nlu/blind_customers.yml as scripts/annotate_blind_utterances.py writes it."""
from __future__ import annotations

from pathlib import Path

from scripts.annotate_blind_utterances import PAID_AND_WAITING, demo_names, training_intent, vary_demo_names

BLIND = Path(__file__).resolve().parents[2] / "data" / "nlu" / "blind_customers.yml"


def test_demo_customers_names_are_replaced_by_stand_ins():
    assert "李秀英" in demo_names() and "王建国" in demo_names()
    varied = vary_demo_names("我是石塘村的李秀英 电话13905172316")
    assert "李秀英" not in varied and varied.startswith("我是石塘村的") and varied.endswith(" 电话13905172316")
    assert vary_demo_names("我是石塘村的李秀英 电话13905172316") == varied  # the same text, the same stand-in


def test_no_demo_customers_name_is_in_the_blind_examples():
    text = BLIND.read_text(encoding="utf-8")
    assert [name for name in demo_names() if name in text] == []


def test_paid_and_waiting_for_power_is_an_outage_question_whatever_the_writer_called_it():
    """Writers split it (bill, fault, outage); one label keeps the model from learning the split."""
    parsed = {"intent": {"name": "query_bill"}}
    assert PAID_AND_WAITING.search("我电费刚刚在手机上交了 怎么家里还是没电")
    for meant in ("query_bill", "query_outage", "report_fault"):
        assert training_intent(meant, "我电费刚刚在手机上交了 怎么家里还是没电", parsed) == "query_outage"
    # A crew asked for stays a repair; what is unrelated keeps the writer's label.
    assert training_intent("report_fault", "停电了 我们家交了电费还是没电 快派人来修", parsed) == "report_fault"
    assert training_intent("report_fault", "我家不是欠费 钱都交了的 就是突然没电了", parsed) == "report_fault"
    assert training_intent("query_bill", "我家电费交了没", parsed) == "query_bill"
    selected = {"intent": {"name": "faq"}, "response_selector": {"faq": {"response": {
        "intent_response_key": "faq/duration_other_change"}}}}
    assert training_intent("faq", "交完电费多久恢复供电", selected) == "faq/reconnection"
