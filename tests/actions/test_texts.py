"""The custom actions' customer-facing text lives in domain.yml responses (issue 17): the actions
send ``dispatcher.utter_message(response="utter_…", **values)`` and Rasa renders it.

Static checks over the source of actions/ and domain.yml (no model, no server): every response an
action names exists, with every placeholder filled by the values the call passes or by a slot,
and no value passed for nothing; no action sends a text of its own again. The rendering itself
is checked at run time by every action test (``tests.support.dialogue.RenderingDispatcher`` fails
on a response missing from the domain or a placeholder left unfilled)."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest
from rasa.core.nlg.interpolator import interpolate_text

from tests.support.dialogue import DOMAIN

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "actions").glob("*.py"))
RESPONSES = DOMAIN["responses"]
SLOTS = set(DOMAIN["slots"])
CJK = re.compile(r"[\u4e00-\u9fff]")
# Names of that shape that are no response: the key of a bot event's metadata.
NOT_RESPONSES = {"utter_action"}
RESPONSE_NAME = re.compile(r"utter_[a-z0-9_]+(/[a-z0-9_]+)?")

# Calls that still send ``text=``, by module and function, each with the reason. Nothing else may.
TEXT_ALLOWED: Dict[Tuple[str, str], str] = {
    ("notices", "usage_chart_reply"): "the chart's summary is the gateway's text (POST /api/v1/notices/usage-chart), passed on",
    ("faq", "utter_variation"): "a variation of a domain.yml response (utter_faq/…), picked so as not to repeat one "
                                "already said (Rasa's pick is random)",
}


def placeholders(text: str) -> Set[str]:
    """The names Rasa fills in a response text (``{name}``; ``{{`` is a literal brace)."""
    names = set()
    for _literal, field, _spec, _conversion in string.Formatter().parse(text):
        if field and field.isidentifier():
            names.add(field)
    return names


def variations_placeholders(name: str) -> List[Set[str]]:
    found = []
    for variation in RESPONSES[name]:
        names = placeholders(variation.get("text") or "")
        for button in variation.get("buttons") or []:
            names |= placeholders(button.get("title") or "") | placeholders(button.get("payload") or "")
        found.append(names)
    return found


class Call:
    def __init__(self, module: str, function: str, node: ast.Call) -> None:
        self.module, self.function, self.node = module, function, node
        self.keywords = {k.arg: k.value for k in node.keywords if k.arg}
        self.spread = any(k.arg is None for k in node.keywords)  # **values

    def __repr__(self) -> str:
        return f"{self.module}:{self.node.lineno} ({self.function})"


def _functions(tree: ast.AST) -> Iterator[Tuple[str, ast.AST]]:
    stack: List[Tuple[str, ast.AST]] = [("<module>", tree)]
    while stack:
        name, node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                stack.append((child.name if not isinstance(child, ast.ClassDef) else name, child))
            else:
                stack.append((name, child))
        yield name, node


def utter_calls() -> List[Call]:
    calls = []
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function, node in _functions(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "utter_message":
                calls.append(Call(path.stem, function, node))
    return calls


def constant_names(node: Optional[ast.AST]) -> Set[str]:
    """The response names an expression can give (literals inside it)."""
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and RESPONSE_NAME.fullmatch(n.value)} if node is not None else set()


def fstring_names(node: ast.AST) -> Set[str]:
    """f"utter_thank_rating_{rating}": the responses of the domain it can name."""
    pattern = "".join(re.escape(part.value) if isinstance(part, ast.Constant) else "[a-z0-9_]+"
                      for part in node.values)  # type: ignore[attr-defined]
    return {name for name in RESPONSES if re.fullmatch(pattern, name)}


CALLS = utter_calls()


def test_the_actions_send_responses():
    responses = [c for c in CALLS if "response" in c.keywords]
    assert len(responses) >= 160, len(responses)  # the search above finds the calls


def test_every_response_an_action_names_is_in_the_domain():
    missing = []
    for path in MODULES:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts \
                    and RESPONSE_NAME.fullmatch(node.value) and node.value not in set(RESPONSES) | NOT_RESPONSES:
                missing.append(f"{path.stem}:{node.lineno} {node.value}")
    for call in CALLS:
        value = call.keywords.get("response")
        if isinstance(value, ast.JoinedStr) and not fstring_names(value):
            missing.append(repr(call))
    assert not missing, missing


def test_each_response_gets_the_values_its_placeholders_need():
    """A call ``utter_message(response="utter_x", a=…, b=…)`` fills every placeholder of every
    variation of utter_x (or a slot does), and passes no value the response does not use; the
    same for a reply returned as ``("utter_x", {"a": …})``."""
    problems = []

    def check(where: str, name: str, passed: Set[str]) -> None:
        if name not in RESPONSES:
            return  # reported by the test above
        variations = variations_placeholders(name)
        for wanted in variations:
            if wanted - passed - SLOTS:
                problems.append(f"{where} {name}: no value for {sorted(wanted - passed - SLOTS)}")
        unused = passed - set().union(*variations)
        if unused:
            problems.append(f"{where} {name}: passes {sorted(unused)} for nothing")

    checked = 0
    for call in CALLS:
        value = call.keywords.get("response")
        if isinstance(value, ast.Constant) and not call.spread:
            passed = set(call.keywords) - {"response", "buttons"}
            check(repr(call), value.value, passed)
            checked += 1
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[1], ast.Dict) \
                    and all(isinstance(k, ast.Constant) for k in node.elts[1].keys):
                for name in constant_names(node.elts[0]):
                    check(f"{path.stem}:{node.lineno}", name, {k.value for k in node.elts[1].keys})  # type: ignore
                    checked += 1
    assert checked >= 50, checked
    assert not problems, "\n".join(problems)


def test_no_action_sends_a_text_of_its_own():
    """Customer-facing words are domain.yml's: no ``text=`` (but the listed exceptions) and no
    Chinese literal handed to utter_message (as a text, a button or a value)."""
    offending = []
    for call in CALLS:
        if "text" in call.keywords and (call.module, call.function) not in TEXT_ALLOWED:
            offending.append(f"{call!r}: text=")
        for node in ast.walk(call.node):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CJK.search(node.value):
                offending.append(f"{call!r}: {node.value!r}")
    assert not offending, "\n".join(offending)
    used = {(c.module, c.function) for c in CALLS if "text" in c.keywords}
    assert set(TEXT_ALLOWED) <= used, sorted(set(TEXT_ALLOWED) - used)  # no stale exception


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_response_text_has_only_placeholders_rasa_fills(name):
    """A brace in a text is a placeholder (a doubled one is a literal): rendered with a value
    for each, nothing of a brace is left, and every value is in the text."""
    for variation in RESPONSES[name]:
        text = variation.get("text") or ""
        values = {field: f"<{field}>" for field in placeholders(text)}
        out = interpolate_text(text, values)
        assert "{" not in out.replace("{{", "") and "}" not in out.replace("}}", ""), (name, text)
        assert all(value in out for value in values.values()), (name, text)


@pytest.mark.parametrize("status, milestones", [
    ("closed", [{"name": "办结", "due_at": "2026-11-28T17:00:00+08:00", "met_at": None, "breached": False}]),
    ("accepted", [{"name": "到达现场", "due_at": "2026-11-28T17:00:00+08:00", "met_at": None, "breached": False}]),
    ("accepted", [{"name": "到达现场", "due_at": "2026-11-28T17:00:00+08:00", "met_at": None, "breached": True}]),
    ("accepted", [{"name": "到达现场", "due_at": "2026-11-28T17:00:00+08:00", "met_at": "2026-11-28T10:00:00+08:00",
                   "breached": False}]),
])
def test_a_ticket_in_the_list_reads_as_the_ticket_asked_alone(status, milestones):
    from actions.progress import ticket_progress, ticket_summary
    from tests.support.dialogue import rendered

    ticket = {"ticket_no": "BX20261126001", "type": "repair", "status": status, "milestones": milestones}
    response, values = ticket_progress(ticket)
    assert rendered(response, values) == ticket_summary(ticket)


@pytest.mark.parametrize("status, met", [("closed", None), ("accepted", "2026-11-28T10:00:00+08:00"),
                                         ("accepted", None), ("dispatched", None)])
def test_an_urge_hears_the_time_limits_as_the_duration_question_does(status, met):
    from actions.handoff import time_limits
    from tests.support.dialogue import rendered

    ticket = {"ticket_no": "BX20261126001", "type": "repair", "status": status,
              "milestones": [{"name": "到达现场", "due_at": "2026-11-28T17:00:00+08:00", "met_at": met}]}
    kind, values = time_limits(ticket)
    limits = rendered(f"utter_time_limits_{kind}", values)
    assert ("到达现场" in limits) == (kind == "open")
    assert rendered(f"utter_urged_repair_{kind}", values) == "理解您着急，工单已经派出。" + limits
    assert rendered(f"utter_urged_other_{kind}", values) == "理解您着急，我们会尽快处理。" + limits


def test_the_notice_buttons_are_the_kinds_a_customer_may_switch():
    from actions.notices import KIND_NAMES, SWITCHABLE, UNBIND_QUESTION, UNBIND_QUESTION_WORDS, button_payload
    from tests.support.dialogue import render

    for action in ("on", "off"):
        buttons = render({"response": f"utter_notices_ask_kind_{action}"}, {})["buttons"]
        assert buttons == [{"title": KIND_NAMES[k], "payload": button_payload(action, k)} for k in SWITCHABLE]
    for name in ("utter_notices_none_bound", "utter_notices_switch_not_bound"):
        assert render({"response": name}, {})["buttons"] == [{"title": "绑定户号", "payload": button_payload("bind")}]
    question = render({"response": UNBIND_QUESTION, "accounts": "尾号0001"}, {})
    assert question["text"].startswith(UNBIND_QUESTION_WORDS)
    assert question["buttons"][0]["payload"] == button_payload("unbind_confirmed")


def test_the_business_type_buttons_are_the_business_types():
    from actions.applications import BUSINESS_TYPES
    from tests.support.dialogue import render

    expected = [{"title": info["label"], "payload": f'/inform{{"business_type":"{key}"}}'}
                for key, info in BUSINESS_TYPES.items()]
    for name in ("utter_documents_ask_business_type", "utter_business_type_unknown", "utter_ask_business_type"):
        assert render({"response": name}, {})["buttons"] == expected, name


def test_no_value_takes_a_name_rasa_reads_as_part_of_the_message():
    """Rasa merges an action's keyword values into the bot message: these names would become
    an image, an attachment… of what the customer gets."""
    reserved = {"text", "image", "attachment", "custom", "elements", "quick_replies", "metadata", "template",
                "json_message", "buttons", "response", "recipient_id", "timestamp"}
    for call in CALLS:
        if "response" in call.keywords:
            assert not (set(call.keywords) - {"response", "buttons"}) & reserved, call


def test_a_customers_words_with_a_bracket_are_shown_not_the_template():
    """Rasa sends the bare template when a filled text holds "0[": the customer's words are
    passed through echoed() (the action tests render with Rasa's own code)."""
    from actions.responses import echoed
    from tests.support.dialogue import rendered

    said = "电表读数10[看不清]"
    with pytest.raises(AssertionError):  # unprotected: "{content}" would reach the customer
        rendered("utter_feedback_registered_as", {"content": said, "contact": "不留（匿名）"})
    text = rendered("utter_feedback_registered_as", {"content": echoed(said), "contact": "不留（匿名）"})
    assert "电表读数10［看不清]" in text and "{" not in text
    sources = {path.stem: path.read_text(encoding="utf-8") for path in MODULES}
    for module, value in (("menu", "address=echoed("), ("bills", "period_said=echoed("),
                          ("applications", "name_said=echoed("), ("feedback", "content=echoed("),
                          ("common", "value=echoed("), ("faults", "value=echoed(")):
        assert value in sources[module], module
