"""Fast tests of the NLU side: numeral normaliser, gazetteer, entity merger, training data."""
from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest
import yaml

from nlu_components.business_types import BUSINESS_TYPE_SYNONYMS
from nlu_components.entity_merger import DEFAULT_PRIORITY, merge_entities
from nlu_components.numerals import normalise, normalise_text

ROOT = Path(__file__).resolve().parent.parent.parent
CORE_INTENTS = [
    "greet", "goodbye", "thank", "affirm", "deny", "inform", "query_bill", "report_fault",
    "query_outage", "apply_service", "query_progress", "complain", "tip_off", "suggest",
    "praise", "request_human", "chitchat", "out_of_scope", "ask_bill_reason", "rate_service",
    "cancel",
]


# --- numeral normaliser --------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        ("户号三二零一零零零零零一", "户号3201000001"),
        ("幺三八一二三四零零零一", "13812340001"),
        ("户号：３２０１０００００１", "户号：3201000001"),
        ("手机 138 1234 0001", "手机 13812340001"),
        ("320-100-0001", "3201000001"),
        ("三二零一 零零零 零零一", "3201000001"),
        ("32零1000001", "3201000001"),
        ("单号ＢＸ２０２６１１２６００１", "单号BX20261126001"),
        ("BX2026 1126 001", "BX20261126001"),
        ("二〇二六年九月的电费", "2026年9月的电费"),
        ("九月份电费", "9月份电费"),
        ("十一月", "11月"),
        ("二十六号停电", "26号停电"),
        ("一百二十度电", "120度电"),
        ("两百块", "200块"),
        ("中山路十八号三栋五零一", "中山路18号3栋501"),
        ("五零一室", "501室"),
        ("南京市江宁区秣陵街道天元中路一二三号", "南京市江宁区秣陵街道天元中路123号"),
        ("幸福里二号三栋", "幸福里2号3栋"),
        ("等了三十分钟", "等了30分钟"),
    ],
)
def test_numerals_are_rewritten(text, expected):
    assert normalise_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "查一下电费", "一般般", "一般", "三天没电了", "十分感谢", "等一下", "一二三",
        "七七八八", "三五天", "一会儿", "0.5283元", "2026-09", "2026年9月",
        "一个月停了五六次", "户号3201000001 手机13812340001", "第一档", "十几天",
        "2004 1304",  # a room and a phone's last four side by side: no number is 8 digits long
        "万一停电", "一一说明",
    ],
)
def test_ordinary_words_and_separate_numbers_stay(text):
    assert normalise_text(text) == text


@pytest.mark.parametrize("text", ["户号三二零一零零零零零一", "手机 138 1234 0001", "十一月的二十六号"])
def test_normalising_is_idempotent(text):
    once = normalise_text(text)
    assert normalise_text(once) == once


def test_offset_map_moves_offsets_after_shrinking_edits():
    text = "户号三二零一 零零零 零零一，地址中山路十八号"
    new, offsets = normalise(text)
    assert new == "户号3201000001，地址中山路18号"
    start = text.index("中山路")
    assert new[offsets(start):offsets(len(text))] == "中山路18号"
    assert new[offsets(2):offsets(text.index("，"))] == "3201000001"


def test_training_annotations_follow_the_rewritten_text():
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.normaliser import ORIGINAL_TEXT, normalise_message

    text = "户号三二零一 零零零 零零二，办充电桩"
    message = Message(data={
        "text": text,
        "entities": [
            {"entity": "account_no", "start": 2, "end": 14, "value": text[2:14]},
            {"entity": "business_type", "start": 16, "end": 19, "value": "ev_charger"},
        ],
    })
    normalise_message(message)
    assert message.get("text") == "户号3201000002，办充电桩"
    assert message.get(ORIGINAL_TEXT) == text
    account, business = message.get("entities")
    assert (account["start"], account["end"], account["value"]) == (2, 12, "3201000002")
    assert message.get("text")[business["start"]:business["end"]] == "充电桩"
    assert business["value"] == "ev_charger"  # synonym value is kept


# --- gazetteer -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gazetteer():
    from nlu_components.gazetteer import default_gazetteer

    return default_gazetteer()


def _found(gazetteer, text):
    return [(m.entity, m.value) for m in gazetteer.find(text)]


def test_place_names_come_from_cpca_data(gazetteer):
    from nlu_components.gazetteer import _place_names

    names = _place_names()
    assert len(names) > 3000
    assert {"江苏省", "江苏", "南京市", "南京", "玄武区", "吴中区"} <= names
    assert "市辖区" not in names


@pytest.mark.parametrize(
    "text, expected",
    [
        ("南京市玄武区中山路18号3栋501停电了", [("address", "南京市玄武区中山路18号3栋501")]),
        ("俺家在南京江宁区东山街道竹山路68号，一直没电",
         [("address", "南京江宁区东山街道竹山路68号")]),
        ("江苏省苏州市吴中区木渎镇金山路1号", [("address", "江苏省苏州市吴中区木渎镇金山路1号")]),
        ("我家在徐州市铜山区柳新镇柳新村三组停电了", [("address", "徐州市铜山区柳新镇柳新村三组")]),
        ("玄武区这边停电了", [("address", "玄武区")]),
        ("中山路18号没电了咋整", [("address", "中山路18号")]),
        ("南京市上海路5号", [("address", "南京市上海路5号")]),
        ("帮我查下电费", []),
        ("中山路那边停电了", [("address", "中山路")]),  # 中山 is a city name
        ("小区那边停电了", []),
        ("俺家在东风村三组，停电了", [("address", "东风村三组")]),
        ("地址是幸福小区5栋2单元", [("address", "幸福小区5栋2单元")]),
        ("村里停电了", []),
        # Addresses kept whole: the utility's own places (areas.yml) and villages with a number.
        ("江宁区湖熟街道和平社区21号停电了", [("address", "江宁区湖熟街道和平社区21号")]),
        ("不对不对，地址说错了，是和平社区81号", [("address", "和平社区81号")]),
        ("我家在溧水晶桥枫香岭村25号，没电了", [("address", "溧水晶桥枫香岭村25号")]),
        ("六合竹镇大泉村113号停电", [("address", "六合竹镇大泉村113号")]),
        ("石塘村45号", [("address", "石塘村45号")]),
        ("谷里街道张溪社区103号", [("address", "谷里街道张溪社区103号")]),
    ],
)
def test_gazetteer_finds_addresses(gazetteer, text, expected):
    assert [f for f in _found(gazetteer, text) if f[0] == "address"] == expected


@pytest.mark.parametrize(
    "text, key",
    [
        ("我想办个充电桩", "ev_charger"),
        ("申请光伏并网需要啥材料", "pv_connection"),
        ("想把户名过户给我儿子", "name_transfer"),
        ("厂里要扩容", "capacity_change"),
        ("装修要挪电表", "meter_move"),
        ("新房子要报装", "new_connection"),
        ("开通峰谷电价", "tariff_change"),
        ("房子卖了要销户", "account_closing"),
    ],
)
def test_gazetteer_maps_business_words_to_keys(gazetteer, text, key):
    assert ("business_type", key) in _found(gazetteer, text)


def test_gazetteer_finds_both_in_one_message(gazetteer):
    found = _found(gazetteer, "我在南京市鼓楼区湖南路12号，想装充电桩")
    assert found == [("address", "南京市鼓楼区湖南路12号"), ("business_type", "ev_charger")]


def test_gazetteer_extractor_adds_entities_to_messages(gazetteer):
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.gazetteer_extractor import GazetteerEntityExtractor

    extractor = GazetteerEntityExtractor(GazetteerEntityExtractor.get_default_config(), gazetteer)
    message = Message(data={"text": "南京市玄武区中山路18号想装充电桩"})
    extractor.process([message])
    entities = message.get("entities")
    assert [(e["entity"], e["value"], e["extractor"]) for e in entities] == [
        ("address", "南京市玄武区中山路18号", "GazetteerEntityExtractor"),
        ("business_type", "ev_charger", "GazetteerEntityExtractor"),
    ]
    assert (entities[0]["start"], entities[0]["end"]) == (0, 12)


# --- entity merger ---------------------------------------------------------------------

def _entity(name, value, start, end, extractor, confidence=0.99):
    return {"entity": name, "value": value, "start": start, "end": end,
            "extractor": extractor, "confidence_entity": confidence}


def test_merger_keeps_one_entity_per_span_by_priority():
    entities = [
        _entity("address", "中山路18号3栋", 0, 8, "DIETClassifier"),
        _entity("address", "中山路18号3栋501", 0, 11, "GazetteerEntityExtractor"),
        _entity("account_no", "3201000001", 14, 24, "DIETClassifier"),
        _entity("account_no", "3201000001", 14, 24, "RegexEntityExtractor"),
        _entity("period", "上个月", 30, 33, "RegexEntityExtractor"),
        _entity("address", "东风村三组", 40, 45, "DIETClassifier"),
    ]
    merged = merge_entities(entities, DEFAULT_PRIORITY, intent="report_fault")
    assert [(e["entity"], e["value"], e["extractor"]) for e in merged] == [
        ("address", "中山路18号3栋501", "GazetteerEntityExtractor"),
        ("account_no", "3201000001", "RegexEntityExtractor"),
        ("period", "上个月", "RegexEntityExtractor"),
        ("address", "东风村三组", "DIETClassifier"),
    ]


def test_merger_distrusts_diet_outside_its_types_and_below_confidence():
    entities = [
        _entity("account_no", "10月", 0, 3, "DIETClassifier"),     # numbers: regex only
        _entity("period", "月", 5, 6, "DIETClassifier"),          # months: regex only
        _entity("address", "号", 8, 9, "DIETClassifier"),         # too short to be an address
        _entity("address", "湖南路", 10, 13, "DIETClassifier", confidence=0.4),
    ]
    assert merge_entities(entities, DEFAULT_PRIORITY, intent="query_bill") == []


def test_merger_keeps_ratings_only_as_survey_answers_and_drops_repeats():
    rating = _entity("rating", "dissatisfied", 6, 8, "RegexEntityExtractor")
    assert merge_entities([rating], DEFAULT_PRIORITY, intent="complain") == []
    assert merge_entities([rating], DEFAULT_PRIORITY, intent="rate_service") == [rating]
    twice = [
        _entity("business_type", "pv_connection", 3, 7, "GazetteerEntityExtractor"),
        _entity("business_type", "pv_connection", 7, 9, "GazetteerEntityExtractor"),
    ]
    assert merge_entities(twice, DEFAULT_PRIORITY) == twice[:1]


# --- training data ---------------------------------------------------------------------

def _nlu_items(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", [])


def _examples(block: str):
    return [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]


def _strip_annotations(example: str) -> str:
    return re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", example)


def _intent_examples(paths):
    found = collections.defaultdict(list)
    for path in paths:
        for item in _nlu_items(path):
            if "intent" in item:
                found[item["intent"]] += _examples(item["examples"])
    return found


def test_every_core_intent_has_forty_distinct_examples():
    examples = _intent_examples(sorted((ROOT / "data" / "nlu").glob("*.yml")))
    for intent in CORE_INTENTS:
        distinct = {_strip_annotations(e) for e in examples[intent]}
        assert len(distinct) >= 40, (intent, len(distinct))


def test_faq_has_thirty_topics_with_examples_and_answers():
    faq = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))
    topics = {i["intent"]: _examples(i["examples"]) for i in faq["nlu"]}
    assert len(topics) >= 30
    assert all(name.startswith("faq/") and len(ex) >= 6 for name, ex in topics.items())
    answers = faq["responses"]
    for name in topics:
        key = "utter_" + name
        assert key in answers and answers[key][0]["text"].strip(), key
    tariff = answers["utter_faq/tiered_tariff"][0]["text"]
    assert all(figure in tariff for figure in ("2760", "4800", "0.5283", "0.5783", "0.8283"))
    peak = answers["utter_faq/peak_valley_prices"][0]["text"]
    assert "0.5583" in peak and "0.3583" in peak
    assert "24小时" in answers["utter_faq/reconnection"][0]["text"]


def test_held_out_split_is_disjoint_from_training_data():
    train = {
        _strip_annotations(e)
        for exs in _intent_examples(sorted((ROOT / "data" / "nlu").glob("*.yml"))).values()
        for e in exs
    }
    test = _intent_examples(sorted((ROOT / "tests" / "nlu_test").glob("*.yml")))
    test_sentences = [_strip_annotations(e) for exs in test.values() for e in exs]
    assert len(test_sentences) >= 200
    assert not set(test_sentences) & train
    assert not [i for i in CORE_INTENTS if len(test[i]) < 8]


def test_business_type_synonyms_match_the_gazetteer_table():
    synonyms = {
        item["synonym"]: set(_examples(item["examples"]))
        for item in _nlu_items(ROOT / "data" / "nlu" / "synonyms.yml")
        if "synonym" in item
    }
    for key, words in BUSINESS_TYPE_SYNONYMS.items():
        assert synonyms[key] == set(words), key
    assert {"satisfied", "neutral", "dissatisfied"} <= set(synonyms)


def _regex(name: str) -> re.Pattern:
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in _nlu_items(path):
            if item.get("regex") == name:
                return re.compile(_examples(item["examples"])[0])
    raise AssertionError(name)


def test_rating_regex_prefers_the_longest_word():
    rating = _regex("rating")
    assert rating.findall("很不满意，太慢了") == ["很不满意"]
    assert rating.findall("我觉得不满意") == ["不满意"]
    assert rating.findall("非常满意，谢谢") == ["非常满意"]
    assert rating.findall("一般般吧") == ["一般般"]


def test_number_regexes_do_not_match_inside_each_other():
    account, phone, ticket = _regex("account_no"), _regex("phone"), _regex("ticket_no")
    text = "户号3201000001，手机13812340001，单号BX20261126001"
    assert account.findall(text) == ["3201000001"]
    assert phone.findall(text) == ["13812340001"]
    assert ticket.findall(text) == ["BX20261126001"]
    assert not account.findall("电话13812340001") and not phone.findall("户号3201000001")


@pytest.mark.parametrize("folder", ["data/nlu", "tests/nlu_test"])
def test_annotations_agree_with_the_gazetteer(gazetteer, folder):
    """Addresses and business words are annotated wherever the gazetteer finds them, with the
    same span and canonical value, so DIET learns from consistent labels and the held-out
    scores measure what the pipeline really returns."""
    from rasa.shared.nlu.training_data.loading import load_data

    from nlu_components.normaliser import normalise_message

    disagreements = []
    for message in load_data(str(ROOT / folder)).training_examples:
        if not message.get("text"):
            continue
        normalise_message(message)
        annotated = {
            (e["entity"], e["value"]) for e in message.get("entities") or []
            if e["entity"] in ("address", "business_type")
        }
        found = set(_found(gazetteer, message.get("text")))
        if annotated != found:
            disagreements.append((message.get("text"), sorted(annotated), sorted(found)))
    assert disagreements == []


def _faq_message(selector_confidence, intent="faq"):
    from rasa.shared.nlu.training_data.message import Message

    message = Message(data={"text": "要几天能办好", "intent": {"name": intent, "confidence": 0.99},
                            "intent_ranking": [{"name": intent, "confidence": 0.99},
                                               {"name": "query_outage", "confidence": 0.01}]})
    if selector_confidence is not None:
        message.set("response_selector", {"faq": {"response": {"confidence": selector_confidence,
                                                               "intent_response_key": "faq/safety_storm"}}})
    return message


def test_faq_guard_turns_an_unsure_faq_answer_into_nlu_fallback():
    from nlu_components.faq_guard import FaqAnswerGuard

    guard = FaqAnswerGuard({"threshold": 0.25})
    unsure, sure, no_answer, other = (_faq_message(0.11), _faq_message(0.62), _faq_message(None),
                                      _faq_message(0.05, intent="query_bill"))
    guard.process([unsure, sure, no_answer, other])
    assert unsure.get("intent") == {"name": "nlu_fallback", "confidence": 0.25}
    assert [r["name"] for r in unsure.get("intent_ranking")] == ["nlu_fallback", "faq", "query_outage"]
    for kept, name in ((sure, "faq"), (no_answer, "faq"), (other, "query_bill")):
        assert kept.get("intent")["name"] == name and kept.get("intent_ranking")[0]["name"] == name
    # As Rasa undoes FallbackClassifier's mark (e.g. `rasa test`), the original prediction is back.
    from rasa.nlu.classifiers.fallback_classifier import undo_fallback_prediction

    assert undo_fallback_prediction(unsure.as_dict())["intent"]["name"] == "faq"


def test_faq_guard_keeps_a_question_the_selector_has_no_sure_answer_for():
    """A question DIET is sure is a FAQ question stays one (the actions answer it by its words or
    say honestly that they cannot); only a statement read as a FAQ becomes nlu_fallback."""
    from nlu_components.faq_guard import FaqAnswerGuard

    asked = _faq_message(0.14)
    asked.set("text", "电表想从屋里挪到门外头 可以不 要花多少钱")
    told = _faq_message(0.14)
    told.set("text", "居民生活用电")
    FaqAnswerGuard(FaqAnswerGuard.get_default_config()).process([asked, told])
    assert asked.get("intent")["name"] == "faq" and told.get("intent")["name"] == "nlu_fallback"


def test_faq_guard_runs_after_the_selector_and_the_fallback():
    config = yaml.safe_load((Path(__file__).resolve().parent.parent.parent / "config.yml").read_text(encoding="utf-8"))
    names = [step["name"] for step in config["pipeline"]]
    guard = names.index("nlu_components.faq_guard.FaqAnswerGuard")
    # Only the wording rules come after it (a proposal or a message of values only is never a FAQ question).
    assert names[guard + 1:] == ["nlu_components.proposal.ProposalIntent",
                                 "nlu_components.declared.DeclaredRequestIntent",
                                 "nlu_components.bare_value.BareValueIntent"]
    assert names.index("nlu_components.faq_gate.FaqGatedResponseSelector") < guard
    assert names.index("nlu_components.family_fallback.FamilyFallbackClassifier") < guard


# --- a message made only of values is inform --------------------------------------------------

def _bare(text, intent, *entities):
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.bare_value import BareValueIntent

    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.85},
                            "intent_ranking": [{"name": intent, "confidence": 0.85},
                                               {"name": "inform", "confidence": 0.1}],
                            "entities": [{"entity": kind, "value": text[s:e], "start": s, "end": e}
                                         for kind, s, e in entities]})
    BareValueIntent(BareValueIntent.get_default_config()).process([message])
    return message


@pytest.mark.parametrize("text, entities", [
    ("南京市鼓楼区中央路", [("address", 0, 9)]),
    ("地址是中华路66号2栋302", [("address", 3, 15)]),
    ("我家在青山村8号，电话13847325028", [("address", 3, 8), ("phone", 11, 22)]),
    ("户号：3201000017", [("account_no", 3, 13)]),
])
def test_a_message_of_values_only_is_inform(text, entities):
    message = _bare(text, "report_fault", *entities)
    assert message.get("intent") == {"name": "inform", "confidence": 1.0}
    assert [e["name"] for e in message.get("intent_ranking")] == ["inform", "report_fault"]


@pytest.mark.parametrize("text, entities", [
    ("中央路停电了", [("address", 0, 3)]),                 # a report with its place
    ("不是中华路66号", [("address", 2, 8)]),               # a denial
    ("中华路66号明天停不停电", [("address", 0, 6)]),       # a question
    ("3377", []),                                           # no value found
])
def test_a_message_with_more_than_values_keeps_its_intent(text, entities):
    message = _bare(text, "report_fault", *entities)
    assert message.get("intent")["name"] == "report_fault"


@pytest.mark.parametrize("text, informs", [
    ("户主叫李秀英", True),        # aa: read as nlu_fallback
    ("我叫王建国", True),
    ("名字是张伟。", True),
    ("我叫你快点", False),         # no name: a hurry
    ("我叫人来修", False),
    ("户主叫李秀英 家里没电了", False),
    ("户名是南京华宁纺织有限公司", True),   # ar: a business's name, read as nlu_fallback
    ("南京驰电新能源有限公司", True),
    ("我要投诉供电公司", False),
    ("这个公司", False),
])
def test_a_name_and_nothing_else_is_inform(text, informs):
    message = _bare(text, "nlu_fallback")
    assert (message.get("intent")["name"] == "inform") is informs


def test_a_bare_value_the_fallback_found_ambiguous_is_inform_and_the_decision_comes_last():
    message = _bare("南京市鼓楼区中央路", "nlu_fallback", ("address", 0, 9))
    assert message.get("intent")["name"] == "inform"
    pipeline = yaml.safe_load((Path(__file__).resolve().parent.parent.parent / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    names = [step["name"] for step in pipeline]
    # After the FallbackClassifier (its ambiguity rule turned such messages into nlu_fallback).
    assert names[-1] == "nlu_components.bare_value.BareValueIntent"
    assert names.index("nlu_components.family_fallback.FamilyFallbackClassifier") < names.index("nlu_components.bare_value.BareValueIntent")


# --- a message worded as a proposal is suggest -------------------------------------------------

def _proposal(text, intent):
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.proposal import ProposalIntent

    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.99},
                            "intent_ranking": [{"name": intent, "confidence": 0.99},
                                               {"name": "suggest", "confidence": 0.01}]})
    ProposalIntent(ProposalIntent.get_default_config()).process([message])
    return message


@pytest.mark.parametrize("text, heard", [
    ("希望网上国网能增加电费分析功能", "faq"),            # the clean-clone CI model heard faq/pay_by_app
    ("建议你们app加个大字模式", "faq"),
    ("提个建议 电费单能不能写清楚每一档用了多少", "query_bill"),
    ("我有个建议 营业厅周末能不能多开几个窗口", "nlu_fallback"),
    ("提个小意见，缴费页面太慢了", "chitchat"),
])
def test_a_proposal_heard_as_a_question_is_suggest(text, heard):
    message = _proposal(text, heard)
    assert message.get("intent") == {"name": "suggest", "confidence": 1.0}
    assert [e["name"] for e in message.get("intent_ranking")] == ["suggest", heard]


@pytest.mark.parametrize("text, heard", [
    ("希望能告诉我怎么在网上国网交电费", "faq"),          # a wish that asks: a question
    ("希望网上国网能增加电费分析功能吗", "faq"),
    ("希望你们快点来修 家里有老人", "report_fault"),      # not an overridable intent
    ("希望你们给个说法", "complain"),
    ("希望尽快来电", "query_progress"),                    # a wish, but for no improvement
    ("网上国网怎么交电费", "faq"),
])
def test_a_question_or_another_request_keeps_its_intent(text, heard):
    assert _proposal(text, heard).get("intent")["name"] == heard


# --- a request named outright is that request ---------------------------------------------------

def _declared(text, heard):
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.declared import DeclaredRequestIntent

    message = Message(data={"text": text, "intent": {"name": heard, "confidence": 0.9},
                            "intent_ranking": [{"name": heard, "confidence": 0.9},
                                               {"name": "greet", "confidence": 0.1}]})
    DeclaredRequestIntent(DeclaredRequestIntent.get_default_config()).process([message])
    return message


@pytest.mark.parametrize("text, heard, declared", [
    # blind batch ad/ae/af, first sight: DIET heard the story, the customer named the request
    ("举报一个装表的 收了人家的钱才给装", "complain", "tip_off"),
    ("线路老是出问题 这礼拜停了三回了 我要投诉", "report_fault", "complain"),
    ("要表扬一下昨晚来抢修的两位师傅", "apply_service", "praise"),
    ("感谢前天来我家换表的李师傅 人特别好", "query_progress", "praise"),
    ("早上报的修 都中午了师傅到哪了", "report_fault", "query_progress"),
    ("增容申请交了半个月 办好没有", "faq", "query_progress"),
    ("说了半天都不对 直接给我转人工", "complain", "request_human"),
    ("手机号换了 登记的那个怎么改成新的", "apply_service", "faq"),
    ("88", "inform", "goodbye"),
])
def test_a_request_named_outright_is_that_request(text, heard, declared):
    message = _declared(text, heard)
    assert message.get("intent") == {"name": declared, "confidence": 1.0}
    assert [e["name"] for e in message.get("intent_ranking")][:2] == [declared, heard]


@pytest.mark.parametrize("text, heard", [
    ("举报电话是多少", "faq"),                                   # the hotline, not a tip-off
    ("我上周举报的偷电 处理得怎么样了", "query_progress"),      # a past one's progress
    ("又停电了 赶紧来修 修完我还要投诉", "report_fault"),       # the complaint comes later
    ("我要投诉 你们修电的太慢了", "request_human"),             # not an intent complain may override
    ("谢谢师傅", "thank"),                                       # thanks, not praise
    ("家里没电了 快来修", "report_fault"),                       # nothing declared
    ("我要投诉 顺便问下转人工怎么转", "complain"),
    # as-complaint: a grievance in so many words is no progress question, whatever it asks.
    ("报修到现在三个小时了还没人来 什么效率 太离谱了", "complain"),
    # Tried as a customer: when the crew comes, asked with thanks right after a repair, is no praise.
    ("好的 谢谢 师傅大概几点到", "query_progress"),
])
def test_without_a_declaration_it_may_override_the_intent_stays(text, heard):
    assert _declared(text, heard).get("intent")["name"] == heard


@pytest.mark.parametrize("text, is_one", [
    ("网上国网里明细藏得太深 找了半天 建议首页直接显示", True),     # a proposal after its story
    ("app能不能做个欠费提醒功能啊", True),                          # a feature asked for
    ("给你们提个意见 检修别安排在农忙的时候", True),
    ("能不能帮我开通停电短信提醒", False),                          # a notice subscription
])
def test_a_proposal_later_in_the_message_or_a_feature_asked_for_is_a_proposal(text, is_one):
    from nlu_components.proposal import is_proposal

    assert is_proposal(text) is is_one


def test_the_faq_guard_keeps_questions_asked_without_question_words():
    from nlu_components.faq_guard import FaqAnswerGuard

    kept = [_faq_message(0.14), _faq_message(0.14), _faq_message(0.14)]
    for message, text in zip(kept, ["我就问问你们秦淮区营业厅在哪 周六开门不",
                                    "租客欠的电费算房东的还是算租客的",
                                    "营业厅周末开门不"]):
        message.set("text", text)
    told = _faq_message(0.14)
    told.set("text", "你好 我是物业公司的")
    FaqAnswerGuard(FaqAnswerGuard.get_default_config()).process(kept + [told])
    assert [m.get("intent")["name"] for m in kept] == ["faq"] * 3
    assert told.get("intent")["name"] == "nlu_fallback"


@pytest.mark.parametrize("text, heard, declared", [
    ("好的明白了 还有个事 楼道的灯一直闪 是不是电压有问题", "query_bill", "report_fault"),   # ag-mixed-001
    ("知道了 另外我家厨房插座冒烟了", "thank", "report_fault"),
    ("还有个事 电费能开发票吗", "faq", None),          # no fault after the marker: DIET's intent
])
def test_a_fault_told_after_another_matter_is_a_fault_report(text, heard, declared):
    assert _declared(text, heard).get("intent")["name"] == (declared or heard)


def test_whether_a_business_is_needed_is_a_faq_question_with_the_selectors_topic():
    """e2e story "a shop owner asks about the business tariff": DIET heard the application."""
    message = _declared("我在家里开了个小卖部，是不是要改成商业电价", "apply_service")
    assert message.get("intent")["name"] == "faq"
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.declared import DeclaredRequestIntent

    selected = Message(data={"text": "房子卖了 电费户头要不要销掉", "intent": {"name": "apply_service", "confidence": 1.0},
                             "intent_ranking": [{"name": "apply_service", "confidence": 1.0}],
                             "response_selector": {"faq": {"response": {
                                 "intent_response_key": "faq/docs_account_closing", "confidence": 0.8}}}})
    DeclaredRequestIntent(DeclaredRequestIntent.get_default_config()).process([selected])
    assert selected.get("intent")["full_retrieval_intent_name"] == "faq/docs_account_closing"
    assert _declared("帮我办一下销户 要不要带身份证", "apply_service").get("intent")["name"] == "apply_service"


@pytest.mark.parametrize("text, heard, declared", [
    ("就是想让领导知道 他们辛苦了", "request_human", "praise"),      # aj-praise-001: a callback was opened
    ("转告你们领导 那几个师傅真不容易", "chitchat", "praise"),
    ("我就是要让你们领导知道这事", "request_human", "complain"),
    ("不用不用 就是想让领导知道", "request_human", "deny"),           # a no first stays a no
    ("帮我转人工 我要让领导知道", "request_human", "request_human"),  # a person asked for in so many words
])
def test_the_leaders_to_hear_of_it_is_the_feedback_not_a_hand_off(text, heard, declared):
    assert _declared(text, heard).get("intent")["name"] == declared


@pytest.mark.parametrize("text, heard, declared", [
    # blind batches ai/aj/ak, first sight
    ("过户办好了没 想确认下是不是已经改成我的名字了", "apply_service", "query_progress"),
    ("峰谷电改好了没 从哪个月开始算", "faq", "query_progress"),
    ("抢修师傅大概还有多久到 我在门口等着", "nlu_fallback", "query_progress"),
    ("又停电 又停电 这个夏天第几回了 还让不让人活了", "nlu_fallback", "complain"),
    ("不要转人工", "request_human", "deny"),
    ("过户怎么办", "apply_service", "apply_service"),        # how, not whether it is done
    ("又停电了 几点能来", "query_outage", "query_outage"),    # a repeated outage asked about stays that
    ("这个月第三次停电了 快来修", "report_fault", "report_fault"),
])
def test_done_yet_a_crew_on_its_way_anger_at_outages_and_no_person(text, heard, declared):
    assert _declared(text, heard).get("intent")["name"] == declared


@pytest.mark.parametrize("text, heard, declared", [
    ("那大概还要几天能来装表", "query_outage", "query_progress"),     # ak-progress-001
    ("过户还要几天能办好", "apply_service", "query_progress"),
    ("还有个事 上回来修的那两个人 把我家菜地踩得一塌糊涂 我要投诉他们", "tip_off", "complain"),   # ai-mixed-001
    ("我要举报 有人偷电 我要投诉他", "tip_off", "tip_off"),
    ("新装一般还要几天能装好", "faq", "faq"),                         # how long it usually takes
    ("停电还要多久来电", "query_outage", "query_outage"),
])
def test_how_long_the_work_under_way_still_takes_is_progress(text, heard, declared):
    assert _declared(text, heard).get("intent")["name"] == declared


# --- the linear model's vote on the intent ---------------------------------------------

def test_blend_averages_the_two_rankings_with_the_weight():
    from nlu_components.linear_vote import blend

    diet = [{"name": "query_outage", "confidence": 0.9}, {"name": "query_bill", "confidence": 0.1}]
    linear = {"query_bill": 0.8, "query_outage": 0.15, "faq": 0.05}
    ranked = blend(diet, linear, 0.7)
    assert [entry["name"] for entry in ranked] == ["query_bill", "query_outage", "faq"]
    assert ranked[0]["confidence"] == pytest.approx(0.7 * 0.8 + 0.3 * 0.1)
    assert blend(diet, linear, 0.3)[0]["name"] == "query_outage"  # DIET's share decides then
    # An intent DIET did not rank counts as 0 there.
    assert blend(diet, linear, 0.5)[-1] == {"name": "faq", "confidence": pytest.approx(0.025)}


def test_linear_vote_blends_with_the_ranking_before_it_and_leaves_training_labels():
    import numpy as np
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from scipy.sparse import csr_matrix

    from nlu_components.linear_vote import LinearIntentVote

    vote = LinearIntentVote({"weight": 0.7}, "vote", None, None)
    features = csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float))
    vote.clf.fit(features, ["query_bill", "query_bill", "query_outage", "query_outage"])
    vote._create_X = lambda messages: csr_matrix(np.array([[1, 0]] * len(messages), dtype=float))
    heard = Message(data={"text": "查一下我家电费有没有欠钱", "intent": {"name": "query_outage", "confidence": 0.6},
                          "intent_ranking": [{"name": "query_outage", "confidence": 0.6},
                                             {"name": "query_bill", "confidence": 0.4}]})
    alone = Message(data={"text": "电费"})
    vote.process([heard, alone])
    assert heard.get("intent")["name"] == "query_bill"
    assert [e["name"] for e in heard.get("intent_ranking")] == ["query_bill", "query_outage"]
    assert sum(e["confidence"] for e in heard.get("intent_ranking")) == pytest.approx(1.0)
    assert alone.get("intent")["name"] == "query_bill"  # nothing before it: the linear model alone
    labelled = Message(data={"text": "停电了吗", "intent": "query_outage"})
    vote.process_training_data(TrainingData([labelled]))
    assert labelled.get("intent") == "query_outage"


def test_the_pipeline_averages_diet_with_the_linear_vote():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [step["name"] for step in config["pipeline"]]
    vote = names.index("nlu_components.linear_vote.LinearIntentVote")
    assert names[vote - 1] == "DIETClassifier" and names.index("nlu_components.family_fallback.FamilyFallbackClassifier") > vote
    assert 0 < config["pipeline"][vote]["weight"] < 1


@pytest.mark.parametrize("text, heard, declared", [
    # blind batches an/ao, first sight
    ("家里没电了 你们这机器人问来问去的 赶紧给我转个人工", "report_fault", "request_human"),
    ("家里没电了 不要转人工 直接派人来", "report_fault", "report_fault"),
    ("报修三个小时了还没人来 什么破服务😡", "query_progress", "complain"),
    ("报修三个小时了还没人来 什么破服务😡", "complain", "complain"),     # the progress rule gives way
    ("等到半夜一点才来 还说是我家线的问题 这事你们必须给我个交代", "request_human", "complain"),
    ("家里wifi连不上了 帮我报个修", "report_fault", "out_of_scope"),
    ("小区暖气什么时候通啊", "query_outage", "out_of_scope"),
    ("这个月话费怎么这么多", "query_bill", "out_of_scope"),
    ("停电了 wifi也断了 啥时候来电", "query_outage", "query_outage"),   # electricity named: stays
    ("电暖气一开就跳闸", "report_fault", "report_fault"),
    ("水电费一起交的 电费怎么算", "query_bill", "query_bill"),
])
def test_a_person_demanded_a_grievance_and_services_the_utility_does_not_supply(text, heard, declared):
    assert _declared(text, heard).get("intent")["name"] == declared


def _ranked_message(*ranking):
    from rasa.shared.nlu.training_data.message import Message

    message = Message(data={"text": "电费咋又扣了两百 怎么回事"})
    message.set("intent", {"name": ranking[0][0], "confidence": ranking[0][1]})
    message.set("intent_ranking", [{"name": name, "confidence": confidence} for name, confidence in ranking])
    return message


def test_family_fallback_counts_a_finer_intent_with_the_request_it_refines():
    """A bill question split between ask_bill_reason and query_bill is a bill question, not an ambiguity;
    a split between two different requests still falls back, as Rasa's FallbackClassifier does."""
    from nlu_components.family_fallback import FamilyFallbackClassifier
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

    config = {"threshold": 0.4, "ambiguity_threshold": 0.05}
    def split_bill():
        return _ranked_message(("ask_bill_reason", 0.498), ("query_bill", 0.454), ("faq", 0.03))
    def split_requests():
        return _ranked_message(("faq", 0.456), ("query_bill", 0.442), ("ask_bill_reason", 0.05))
    def thin_family():
        return _ranked_message(("query_bill", 0.3), ("ask_bill_reason", 0.25), ("faq", 0.2))

    plain = FallbackClassifier(config).process([split_bill(), thin_family()])
    assert [m.get("intent")["name"] for m in plain] == ["nlu_fallback", "nlu_fallback"]

    family = FamilyFallbackClassifier({**FamilyFallbackClassifier.get_default_config(), **config})
    bill, requests, thin = family.process([split_bill(), split_requests(), thin_family()])
    assert bill.get("intent") == {"name": "ask_bill_reason", "confidence": 0.498}
    assert requests.get("intent")["name"] == "nlu_fallback"
    # 0.3 + 0.25 = 0.55 for bills against 0.2: above the threshold and far from the next request.
    assert thin.get("intent")["name"] == "query_bill"
    lonely = family.process([_ranked_message(("faq", 0.35), ("query_bill", 0.1))])[0]
    assert lonely.get("intent")["name"] == "nlu_fallback"  # below the threshold on its own


def test_thanks_and_goodbye_are_one_closing_for_the_fallback():
    """"行 先这样吧 谢谢" split between thank and goodbye (both wrap the conversation up) fell back."""
    from nlu_components.family_fallback import FamilyFallbackClassifier

    family = FamilyFallbackClassifier({**FamilyFallbackClassifier.get_default_config(),
                                       "threshold": 0.4, "ambiguity_threshold": 0.05})
    closing, apart = family.process([_ranked_message(("goodbye", 0.33), ("thank", 0.31), ("affirm", 0.2)),
                                     _ranked_message(("thank", 0.33), ("affirm", 0.31), ("goodbye", 0.02))])
    assert closing.get("intent") == {"name": "goodbye", "confidence": 0.33}
    assert apart.get("intent")["name"] == "nlu_fallback"  # thanks or a yes: different answers


@pytest.mark.parametrize("text, heard, declared", [
    # bb: the complaint named, then given up for the bill: the classifiers' bill question stands.
    ("我想投诉 算了 还是先帮我查一下这个月电费吧", "query_bill", "query_bill"),
    ("我要投诉 先不投诉了 我家没电了", "report_fault", "report_fault"),
    ("我要投诉你们 修了三次还是没电", "report_fault", "complain"),   # "还是没电" is no change of mind
    ("举报 算了 还是先问问电价", "faq", "faq"),
])
def test_a_request_named_and_then_given_up_is_not_declared(text, heard, declared):
    assert _declared(text, heard).get("intent")["name"] == declared


@pytest.mark.parametrize("text, heard, declared", [
    ("余额还有多少 会不会马上就停电", "faq", "query_bill"),      # bb: one's own balance
    ("电费余额还剩多少啊", "faq", "query_bill"),
    ("余额还有多少在哪里查", "faq", "faq"),                     # how to look it up: a general question
    ("余额不足会停电吗", "faq", "faq"),
])
def test_the_balance_left_is_the_customers_own(text, heard, declared):
    assert _declared(text, heard).get("intent")["name"] == declared


@pytest.mark.parametrize("text, heard, declared", [
    # a payment made and not shown on the account is the customer's bill (bh-bill-002, be, bi)
    ("无语 微信交的电费 钱扣了 网上国网上还显示欠费", "nlu_fallback", "query_bill"),
    ("支付宝交了200 显示成功 网上国网里余额一点没变 钱去哪了", "faq", "query_bill"),
    ("电费交了两遍 能退吗", "faq", None),                       # a refund: the FAQ's
    ("上次举报偷电那个 有人去查了吗", "tip_off", "query_progress"),
    ("yes", "nlu_fallback", "affirm"), ("没毛病", "deny", "affirm"),
    ("嗨 (｡･ω･｡)ﾉ", "nlu_fallback", "greet"), ("在吗 我家没电了", "report_fault", None),
    ("rgkf rgkf", "affirm", "request_human"),
    ("不需要 我自己去营业厅", "nlu_fallback", "deny"), ("不用 我自己去交吗", "faq", None),
    ("孩子开学的学费在哪交", "faq", "out_of_scope"), ("办新装要营业执照吗", "faq", None),
    ("你好，我家白天没人 晚上开空调洗衣服都在晚上 办峰谷电划不划算", "apply_service", "faq"),
])
def test_chat_words_and_own_payments_found_at_first_sight(text, heard, declared):
    """Kinds the blind batches bf–bi showed at first sight."""
    assert _declared(text, heard).get("intent")["name"] == (declared or heard)
