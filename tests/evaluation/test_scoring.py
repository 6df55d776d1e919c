"""The conversation evaluation's verdicts (scripts/evaluate_conversations.py) on hand-made results."""
from __future__ import annotations

import pytest

from scripts.evaluate_conversations import (Conversation, Observed, half_figures, intent_figures, load_half,
                                            score, target_misses)


def conversation(expect: dict, category: str = "repair") -> Conversation:
    return Conversation(id=f"{category}-001", category=category, turns=["我家没电了", "石塘村45号"], expect=expect)


def repair(**fields) -> dict:
    ticket = {"ticket_no": "BX20261202001", "type": "repair", "priority": "normal", "area_type": "rural",
              "address": "江苏省南京市江宁区横溪街道石塘村45号", "account_no": None, "business_type": None,
              "contact_phone": "13905172316", "first_due_minutes": 90.0}
    ticket.update(fields)
    return ticket


def observed(tickets=(), replies=("好的，已为您登记报修。",), handoffs=(), errors=()) -> Observed:
    transcript = [("customer", "我家没电了")] + [("bot", text) for text in replies]
    return Observed(transcript=transcript, tickets=list(tickets), handoffs=list(handoffs), errors=list(errors))


EXPECT_REPAIR = {"tickets": [{"type": "repair", "area_type": "rural", "address_contains": "石塘村45号",
                              "first_due_minutes": 90, "contact_phone": "13905172316"}],
                 "handoff": False}


def test_every_expectation_met_is_completed():
    verdict = score(conversation(EXPECT_REPAIR), observed([repair()]))
    assert verdict.completed and not verdict.wrong_action, verdict.failures


def test_a_missing_ticket_fails_but_is_no_wrong_action():
    verdict = score(conversation(EXPECT_REPAIR), observed([]))
    assert not verdict.completed
    assert not verdict.wrong_action
    assert verdict.failures == ["missing ticket: repair"]


def test_an_extra_ticket_is_a_wrong_action():
    verdict = score(conversation(EXPECT_REPAIR), observed([repair(), repair(ticket_no="BX20261202002")]))
    assert not verdict.completed and verdict.wrong_action
    assert len(verdict.wrong) == 1 and "should not exist" in verdict.wrong[0]


def test_a_ticket_when_none_should_be_opened_is_a_wrong_action():
    verdict = score(conversation({"tickets": []}, "info"), observed([repair()]))
    assert not verdict.completed and verdict.wrong_action


def test_a_ticket_of_the_wrong_type_is_missing_and_extra():
    complaint = repair(type="complaint", ticket_no="TS20261202001")
    verdict = score(conversation(EXPECT_REPAIR), observed([complaint]))
    assert not verdict.completed and verdict.wrong_action
    assert "missing ticket: repair" in verdict.failures


def test_a_wrong_area_type_is_a_wrong_action():
    verdict = score(conversation(EXPECT_REPAIR), observed([repair(area_type="urban")]))
    assert not verdict.completed and verdict.wrong_action
    assert any("area_type urban, expected rural" in w for w in verdict.wrong)


def test_the_first_deadline_is_checked_within_five_minutes():
    assert score(conversation(EXPECT_REPAIR), observed([repair(first_due_minutes=93.0)])).completed
    verdict = score(conversation(EXPECT_REPAIR), observed([repair(first_due_minutes=45.0)]))
    assert not verdict.completed and verdict.wrong_action
    verdict = score(conversation(EXPECT_REPAIR), observed([repair(first_due_minutes=None)]))
    assert verdict.wrong_action


def test_the_address_must_contain_the_text_spaces_ignored():
    expect = {"tickets": [{"type": "repair", "address_contains": "石塘村 45号"}]}
    assert score(conversation(expect), observed([repair()])).completed
    verdict = score(conversation(expect), observed([repair(address="能不能快点 家里有老人")]))
    assert not verdict.completed and verdict.wrong_action


def test_unlisted_fields_are_not_checked():
    expect = {"tickets": [{"type": "repair"}]}
    assert score(conversation(expect), observed([repair(area_type="remote", priority="urgent")])).completed


def test_tickets_are_paired_to_make_the_most_fields_right():
    expect = {"tickets": [{"type": "repair", "address_contains": "中华路66号"},
                          {"type": "repair", "address_contains": "石塘村45号"}]}
    found = [repair(ticket_no="A"), repair(ticket_no="B", address="秦淮区中华路66号2栋302", area_type="urban")]
    assert score(conversation(expect, "mixed"), observed(found)).completed


def test_a_forbidden_reply_is_a_wrong_action():
    expect = {**EXPECT_REPAIR, "replies_not_contain": ["45分钟"]}
    verdict = score(conversation(expect), observed([repair()], replies=["抢修人员将在 45 分钟内到达。"]))
    assert not verdict.completed and verdict.wrong_action
    assert verdict.wrong == ["replies say '45分钟', which must not be said"]


def test_a_required_fact_needs_any_one_alternative():
    expect = {"replies_contain": [["24小时", "二十四小时"]], "tickets": []}
    assert score(conversation(expect, "arrears_reconnect"), observed(replies=["缴费后 24 小时内恢复供电。"])).completed
    verdict = score(conversation(expect, "arrears_reconnect"), observed(replies=["请到营业厅办理。"]))
    assert not verdict.completed and not verdict.wrong_action


def test_hand_off_expected_or_not():
    wanted = conversation({"handoff": True}, "handoff")
    assert not score(wanted, observed()).completed
    assert score(wanted, observed(handoffs=[{"reason": "customer_request", "status": "waiting"}])).completed
    unwanted = conversation({"handoff": False}, "info")
    verdict = score(unwanted, observed(handoffs=[{"reason": "fallback", "status": "waiting"}]))
    assert not verdict.completed and not verdict.wrong_action


def test_no_tickets_key_means_tickets_are_not_checked_but_runner_errors_fail():
    assert score(conversation({}, "info"), observed([repair()])).completed
    verdict = score(conversation({}, "info"), observed(errors=["no reply to turn 1 within 60 s"]))
    assert not verdict.completed and not verdict.wrong_action


def test_figures_per_half_and_category_and_targets():
    results = [(conversation({}, "repair"), score(conversation({}), observed())),
               (conversation({"tickets": []}, "info"), score(conversation({"tickets": []}), observed([repair()]))),
               (conversation({"handoff": True}, "info"), score(conversation({"handoff": True}), observed()))]
    figures = half_figures(results)
    assert (figures["n"], figures["completed"], figures["wrong_action"]) == (3, 1, 1)
    assert figures["completed_pct"] == 33.3
    assert figures["per_category"]["info"] == {"n": 2, "completed": 0, "wrong_action": 1,
                                               "completed_pct": 0.0, "wrong_action_pct": 50.0}
    figures["intent"] = {"accuracy": 0.96}
    assert len(target_misses(figures)) == 2
    assert target_misses({"completed_pct": 95.0, "wrong_action_pct": 2.0, "intent": {"accuracy": 0.95}}) == []


def test_intent_accuracy_maps_retrieval_intents_and_counts_confusions():
    figures = intent_figures([("电价多少", "faq", "faq/electricity_price"), ("电费咋这么多", "query_bill", "ask_bill_reason"),
                              ("没电了", "report_fault", "query_outage"), ("停电吗", "query_outage", "query_outage")])
    assert (figures["n"], figures["correct"], figures["accuracy"]) == (4, 3, 0.75)
    assert figures["confusion"] == [{"expected": "report_fault", "predicted": "query_outage", "count": 1}]


def test_our_refinements_of_contract_intents_count_as_them():
    figures = intent_figures([("算了 不需要", "deny", "cancel"), ("不是", "deny", "deny"),
                              ("不办了", "apply_service", "cancel")])
    assert (figures["n"], figures["correct"]) == (3, 2)
    assert figures["confusion"] == [{"expected": "apply_service", "predicted": "deny", "count": 1}]


def test_duplicate_ids_are_refused(tmp_path):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "a.yml").write_text(
        "conversations:\n  - {id: x-001, category: info, turns: [你好], expect: {}}\n"
        "  - {id: x-001, category: info, turns: [在吗], expect: {}}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="x-001"):
        load_half("dev", tmp_path)


def test_an_unexpected_callback_ticket_fails_but_is_no_wrong_action():
    callback = repair(type="callback", ticket_no="HD20261202001", address=None)
    verdict = score(conversation({"tickets": []}, "info"), observed([callback]))
    assert not verdict.completed and not verdict.wrong_action


def test_the_desk_is_closed_during_a_run_at_any_hour():
    import datetime as dt

    from bot.handoff import StaffHours
    from scripts.evaluate_conversations import closed_desk_hours

    for hour in range(24):
        now = dt.datetime(2026, 12, 2, hour, 59, tzinfo=dt.timezone.utc)
        hours = StaffHours.parse(closed_desk_hours(now))
        assert not hours.is_open(now) and not hours.is_open(now + dt.timedelta(hours=3))


def test_dev_verdicts_that_changed_since_the_previous_run():
    from scripts.evaluate_conversations import dev_changes

    previous = {"date": "2026-12-02 04:31 UTC", "model": {"file": "model-a.tar.gz"}, "commit": "43ba4fa",
                "halves": {"dev": {"conversations": [{"id": "a-bill-001", "completed": True},
                                                     {"id": "b-repair-001", "completed": False}]}}}
    changes = dev_changes(previous, [{"id": "a-bill-001", "completed": False}, {"id": "b-repair-001", "completed": True},
                                     {"id": "new-001", "completed": True}])
    assert changes["now_failing"] == ["a-bill-001"] and changes["now_completed"] == ["b-repair-001"]
    assert "43ba4fa" in changes["since"]


def test_a_run_document_keeps_the_baseline_carries_halves_over_and_keeps_test_texts_apart(tmp_path):
    from scripts.evaluate_conversations import (JSON_NAME, REPORT_NAME, TEST_TRANSCRIPTS_NAME, assemble,
                                                write_reports)

    ok, bad = conversation({"tickets": []}, "bill"), conversation(EXPECT_REPAIR)
    dev = [(ok, observed(), score(ok, observed())), (bad, observed(), score(bad, observed()))]
    pairs = [("电费多少", "query_bill", "query_bill"), ("没电了", "report_fault", "nlu_fallback")]
    previous = {"date": "earlier", "model": {"file": "old.tar.gz"}, "commit": "abc",
                "baseline": {"note": "before fixes", "halves": {"dev": {"n": 2, "completed_pct": 0.0}}},
                "halves": {"dev": {"conversations": [{"id": "bill-001", "completed": False},
                                                     {"id": "repair-001", "completed": True}]},
                           "test": {"n": 2, "completed": 1, "completed_pct": 50.0, "wrong_action_pct": 0.0,
                                    "intent": {"accuracy": 0.9, "n": 10, "correct": 9}}}}
    document, blocks = assemble({"dev": (dev, pairs)}, previous, {"file": "new.tar.gz", "fingerprint": "f"}, 12.0, False)
    assert document["baseline"] == previous["baseline"]
    assert document["halves"]["test"]["carried_over"].startswith("earlier")
    assert document["halves"]["dev"]["changes"]["now_failing"] == ["repair-001"]
    assert document["halves"]["dev"]["changes"]["now_completed"] == ["bill-001"]
    assert document["halves"]["dev"]["intent"]["accuracy"] == 0.5
    write_reports(tmp_path, document, blocks["dev"], None)
    report = (tmp_path / REPORT_NAME).read_text(encoding="utf-8")
    assert "repair-001" in report and "missing ticket: repair" in report and "没电了" in report
    assert (tmp_path / JSON_NAME).exists() and not (tmp_path / TEST_TRANSCRIPTS_NAME).exists()

    secret = Conversation(id="t-001", category="info", turns=["不该被读到的话"], expect={"tickets": []}, half="test")
    test = [(secret, observed([repair()]), score(secret, observed([repair()])))]
    document, blocks = assemble({"test": (test, [("保密的句子", "faq", "complain")])}, {}, {"file": "m", "fingerprint": "f"},
                                1.0, True)
    assert document["baseline"]["halves"]["test"]["wrong_action_pct"] == 100.0
    write_reports(tmp_path, document, blocks.get("dev", []), blocks["test"])
    report = (tmp_path / REPORT_NAME).read_text(encoding="utf-8") + (tmp_path / JSON_NAME).read_text(encoding="utf-8")
    assert "保密的句子" not in report and "t-001" not in report and "MISSED TARGET" in report
    assert "保密的句子" in (tmp_path / TEST_TRANSCRIPTS_NAME).read_text(encoding="utf-8")


def test_a_ticket_withdrawn_at_once_neither_serves_nor_wrongs():
    no_ticket = {"tickets": []}
    verdict = score(conversation(no_ticket), observed([repair(status="cancelled")]))
    assert verdict.completed and not verdict.wrong_action
    verdict = score(conversation(no_ticket), observed([repair(status="new")]))
    assert not verdict.completed and verdict.wrong_action
    verdict = score(conversation(EXPECT_REPAIR), observed([repair(status="cancelled")]))
    assert not verdict.completed and "missing ticket: repair" in verdict.failures
