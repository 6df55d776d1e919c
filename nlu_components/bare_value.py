"""Rasa component: a message that is nothing but values (an address, a 户号, a phone, a name) is ``inform``.

Every bare value in the training data is labelled ``inform``, yet DIET reads a bare street such as
"南京市鼓楼区中央路" as a fault report or an application now and then (the street names also occur in
those intents' examples, and which one wins changes from training to training). When the entities
cover the whole message but for labels and filler ("地址是…", "我家在…", "户号："), the customer
gave information and asked for nothing, so the intent is decided here, not by DIET's guess: it
becomes ``inform`` (confidence 1.0, a rule's certainty; the rest of the ranking stays).
Placed last: after the FallbackClassifier, whose ambiguity rule (the top two within 0.1) turned such a
message into ``nlu_fallback`` when DIET was nearly as sure of its guess, and after the FAQ guard.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.rule_component import RuleComponent, decide_intent

DEFAULT_CONFIG: Dict[Text, Any] = {"intent": "inform", "entities": ["address", "account_no", "phone"]}

# What may stand around the values: labels, "是/在", particles and punctuation; nothing that asks
# or reports ("停电", "不是", "对" are not filler: they change what the message means).
FILLER = re.compile(r"[\s，,。.！!：:、;；~～]|地址|住址|用电地址|户号|用户号|电话|手机号?|号码|联系方式|"
                    r"我家|我们家|家|住在|住|在|是|就|嗯|哦|噢|啊|呀|吧|的|哈")


def only_values(text: str, entities: List[Dict[str, Any]], types: List[Text]) -> bool:
    """Whether ``entities`` of ``types`` cover ``text`` but for filler (and there is one at least)."""
    spans = sorted((e["start"], e["end"]) for e in entities
                   if e.get("entity") in types and e.get("start") is not None and e.get("end") is not None)
    if not spans or not text:
        return False
    rest, last = [], 0
    for start, end in spans:
        rest.append(text[last:start])
        last = max(last, end)
    rest.append(text[last:])
    return not FILLER.sub("", "".join(rest))


# "户主叫李秀英", "我叫王建国", "名字是张伟": a name and nothing else (no name entity is trained).
# ("户主是我老公 王建国": the holder's relation to the customer, then the name.)
NAME_ONLY = re.compile(r"\s*(?:(?:户主|户名|名字|姓名|申请人|联系人|老板)(?:是|叫|[:：])?"
                       r"(?:我|俺)?(?:老公|老婆|爱人|爸爸|爸|妈妈|妈|父亲|母亲|儿子|女儿|老伴)?[，,\s]*|(?:我|俺)(?:叫|姓))\s*"
                       r"([\u4e00-\u9fa5]{2,4})\s*[。.！!]?\s*")
# Words no name is made of: "我叫你快点", "我叫人来修".
NOT_IN_A_NAME = re.compile(r"[你我他她它们快点来去人工客服帮给把要的了吗呢啊修电]")


RELATIVES = re.compile(r"(?:老公|老婆|爱人|爸爸|爸|妈妈|妈|父亲|母亲|儿子|女儿|老伴)")


# "户名是南京华宁纺织有限公司": a business's name and nothing else.
COMPANY_ONLY = re.compile(r"\s*(?:(?:户名|户主|名字|名称|单位|申请人|公司名?)(?:是|叫|[:：])?\s*)?"
                          r"([\u4e00-\u9fa5（）()]{2,24}?(?:有限责任公司|股份有限公司|有限公司|公司|集团|厂))\s*[。.！!]?\s*")
# Words no business's name is made of: "我要投诉供电公司", "你们电力公司".
NOT_IN_A_COMPANY = re.compile(r"[我你吗呢啊吧]|这个|那个|哪个|什么|投诉|举报|表扬|查|问|怎么|多少|停电|没电|报修|申请|办|供电公司|电力公司")


def only_a_name(text: str) -> bool:
    match = NAME_ONLY.fullmatch(text or "")
    if match is not None and not NOT_IN_A_NAME.search(match.group(1)) and not RELATIVES.fullmatch(match.group(1)):
        return True
    company = COMPANY_ONLY.fullmatch(text or "")
    return company is not None and not NOT_IN_A_COMPANY.search(company.group(1))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class BareValueIntent(RuleComponent):
    """Sets the intent of a message made only of values to ``inform``."""

    DEFAULTS = DEFAULT_CONFIG

    def process(self, messages: List[Message]) -> List[Message]:
        name = self.config["intent"]
        for message in messages:
            intent = message.get(INTENT) or {}
            text = message.get(TEXT) or ""
            if intent.get("name") == name or not (
                    only_values(text, message.get(ENTITIES) or [], self.config["entities"]) or only_a_name(text)):
                continue
            decide_intent(message, name)
        return messages
