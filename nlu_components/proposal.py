"""Rasa component: a message worded as a proposal ("建议你们…", "希望App能增加…功能") is ``suggest``.

A suggestion about the app or the bill names the same things as the questions about them
("网上国网", "电费"), and DIET reads "希望网上国网能增加电费分析功能" as the FAQ on paying in the app
in one training and as a suggestion in the next (same data, same seed: the clean-clone CI model and
the local one disagreed at confidence 1.0 each way). Inside the feedback form the customer was then
answered about paying instead of having the suggestion taken. The wording decides here: a message
that opens as a proposal ("建议", "我建议", "提个建议/意见", "有个建议") or wishes for something
to be added or improved ("希望…增加/加个/改进…") and asks nothing ("怎么", "吗", "？"… for a
wish: the question words the actions use), while DIET heard a question, a bill query or nothing, becomes ``suggest`` (confidence 1.0,
the rest of the ranking stays). A complaint, praise or request that opens with "希望" keeps DIET's
intent: only the intents in ``overridable`` are changed. Placed last, with ``BareValueIntent``.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.rule_component import RuleComponent, decide_intent
from nlu_components.wording import QUESTION_MARKS

DEFAULT_CONFIG: Dict[Text, Any] = {
    "intent": "suggest",
    "overridable": ["faq", "query_bill", "ask_bill_reason", "query_progress", "chitchat",
                    "out_of_scope", "nlu_fallback", "query_outage", "request_human", "manage_notices"],
}

# The customer says outright that this is a proposal.
PROPOSAL_OPENING = re.compile(r"^\s*(?:我|我们)?(?:想)?(?:给|跟|向|对)?(?:你们)?(?:提(?:个|一个|点|条)?(?:小)?(?:建议|意见)|"
                              r"有(?:个|一个|条)(?:小)?建议|建议(?:你们|一下|下)?|意见建议|(?:意见|建议)\s*[:：，,])")
# A proposal after the story that led to it: "…找半天 建议首页直接显示".
PROPOSAL_LATER = re.compile(r"[\s，,。！!]\s*(?:我|所以)?建议(?:你们)?(?:把|在|将|首页|增加|加|做|搞|多|能|可以|以后|最好|直接|改)")
# Asking for a feature: "app能不能做个交费提醒功能", "客服能不能加个南京话识别".
FEATURE_ASKED = re.compile(r"(?:能不能|可不可以|能否|可以)(?:给|帮)?(?:我们)?(?:加|增加|做|搞|出|开发|弄|添|添加|开通|上)(?:个|一个|上)?"
                           r".{0,14}(?:功能|识别|提醒|按钮|入口|选项|模式|版本)|"
                           # what the app or a hall could do better: "小程序能不能支持一个号绑好几户",
                           # "营业厅晚上能不能开晚点"
                           r"(?:app|App|APP|小程序|网上国网|公众号|系统|页面|营业厅|窗口)[^，,。？?]{0,6}(?:能不能|可不可以|能否|最好|应该)"
                           r"(?:支持|多开|开晚|晚点|早点|延长|增加|加个|多加|别|不要)")
# A wish for something to be added or improved in a service, an app or a bill.
WISH = re.compile(r"^\s*(?:我|我们)?(?:真心|衷心|很)?希望")
IMPROVEMENT = re.compile(r"增加|增设|加个|加一个|加上|添加|新增|开通|推出|上线|改进|改善|优化|改一改|改改|简化|"
                         r"功能|提醒|大字|语音")


def is_proposal(text: str) -> bool:
    """Whether ``text`` is worded as a proposal: an explicit one, or a wish for an improvement
    that asks nothing."""
    if PROPOSAL_OPENING.match(text) or PROPOSAL_LATER.search(text) or FEATURE_ASKED.search(text):
        return True
    return bool(WISH.match(text) and IMPROVEMENT.search(text) and not QUESTION_MARKS.search(text))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ProposalIntent(RuleComponent):
    """Sets the intent of a message worded as a proposal to ``suggest``."""

    DEFAULTS = DEFAULT_CONFIG

    def process(self, messages: List[Message]) -> List[Message]:
        name, overridable = self.config["intent"], set(self.config["overridable"])
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get("name") not in overridable or not is_proposal(message.get(TEXT) or ""):
                continue
            decide_intent(message, name)
        return messages
