"""Rasa component: a request the customer names outright is that request.

Blind customers often say what they want in so many words and then tell the story around it:
"举报你们一个抄表员 收人家好处给人少抄度数" (DIET: complain), "这个礼拜第三次停电了…我要投诉！"
(report_fault), "感谢上次帮我妈修电的张师傅" (query_progress), "报修一个多小时了 师傅到哪了"
(report_fault), "…你这个系统根本不行…直接帮我转接人工吧" (complain). The story's words (停电, 修,
电费) outweigh the one word that names the request, and a 95598 agent would go by that word. Each
declaration below is such wording; a message that has it, while DIET heard one of the intents the
declaration may override, gets the declared intent (confidence 1.0, the rest of the ranking stays).
Intents a declaration does not list are kept ("我要投诉 顺便转人工" stays what DIET heard among
complain and request_human). Placed after the FAQ guard and the proposal rule, before the bare-value
rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional, Pattern, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.rule_component import RuleComponent, decide_intent


@dataclass(frozen=True)
class Declaration:
    intent: Text
    says: Pattern[str]                   # the wording that names the request
    overrides: FrozenSet[Text]           # what DIET may have heard instead
    unless: Optional[Pattern[str]] = None  # wording that makes it something else


UNSURE = frozenset({"nlu_fallback", "chitchat", "out_of_scope"})

# A request made earlier, asked about now: the progress of a ticket.
EARLIER_REQUEST = (r"(?:(?:上次|之前|前几天|上回|那次|上礼拜|上周|前天|昨天)(?:我)?(?:报的|举报|投诉|反映|申请)|"
                   r"报(?:了|过)?(?:个)?修|报的修|报修(?:了|过)?|申请(?:了|过|的)?|报装|"
                   r"(?:材料|资料)(?:都|已经|上礼拜|上周|昨天)?(?:就)?(?:交|递|提交)|提交(?:了|的)|办的|登记(?:了|的)|"
                   r"反映(?:了|的|过)|投诉(?:了|的|过)|举报(?:了|的|过))")
STATUS_ASKED = (r"(?:到哪(?:了|儿|里|一步|个阶段)?|进度|办(?:好|完|下来)(?:了)?(?:没|吗|了没)|好了没|"
                r"怎么样了|咋样了|怎么还没|咋还没|还没(?:来|到|人|好|办|动静|消息)|没(?:见|看到)(?:个)?(?:人|影)|"
                r"(?:啥|什么)时候(?:能)?(?:来|到|好|办好|办完|批)|几点(?:能)?(?:来|到)|有(?:没有)?(?:结果|回音|消息)|"
                r"处理(?:得)?(?:怎么样|咋样|到哪)|弄到哪|搞到哪|有人(?:去)?(?:查|管|处理|看|来)(?:过|了)?(?:吗|没|没有|了没))")

# The leaders should hear of it: "让你们领导知道", "转告领导", "反映给领导".
LEADERS_TOLD = r"(?:让|叫|给|告诉|转告|反映给|报给)(?:给)?(?:你们|您们)?(?:的)?(?:领导|上级|上面)(?:知道|晓得|看看|听听)?"

# "过户办好了没", "峰谷电改好了没 从哪个月开始算": whether a business is done yet.
BUSINESS_DONE_ASKED = (r"(?:过户|更名|增容|减容|峰谷电?|充电桩|新装|装表|销户|移表|光伏|并网|电价)[^，,。？?]{0,6}"
                       r"(?:办|改|弄|装|批|接|换)(?:好|完|下来)了?(?:没|吗|么|没有)")
# Anger at outages that keep coming ("这个夏天第几回了", "又停电 又停电"): a grievance.
OUTAGES_AGAIN = (r"第(?:[二三四五六七八九十几]|\d+)(?:回|次)了|又停电.{0,6}又停|又(?:停|断)(?:电)?了?.{0,12}(?:还让不让人|到底|咋回事|怎么回事)|"
                 r"还让不让人(?:活|过)")

DECLARATIONS = (
    # 举报: theft, illegal wiring, staff taking bribes. Not the hotline's number, not a past one's progress.
    Declaration("tip_off", re.compile(r"举报"),
                frozenset({"complain", "report_fault", "query_bill", "ask_bill_reason", "faq"}) | UNSURE,
                re.compile(r"举报(?:电话|热线|方式|渠道|邮箱|地址)|" + EARLIER_REQUEST + r".{0,12}" + STATUS_ASKED)),
    # 投诉: said as what the customer wants now ("我要投诉", "投诉你们…"), not asked about.
    Declaration("complain",
                re.compile(r"(?:我|俺|咱|我们)?(?:要|想|必须|一定要|非要|坚决)投诉|我投诉|投诉(?:你们|他|她|这个|那个|一下)"),
                # (tip_off: "…把我家菜地踩得一塌糊涂 我要投诉他们" says 投诉, not 举报, which the rule above takes)
                frozenset({"report_fault", "query_outage", "query_bill", "ask_bill_reason", "faq", "tip_off"}) | UNSURE,
                re.compile(r"举报|投诉(?:电话|热线|方式|渠道)|(?:修完|修好|弄完|之后|回头|然后)(?:了)?(?:我)?(?:还|再)?要投诉|" + EARLIER_REQUEST + r".{0,12}" + STATUS_ASKED)),
    # Outages that keep coming, with anger (DIET gave up: the fallback). Only over "unsure": a
    # repeated outage asked about or reported stays that.
    Declaration("complain", re.compile(OUTAGES_AGAIN), UNSURE),
    # 表扬: praise, a banner, thanks to a named kind of staff.
    Declaration("praise",
                re.compile(r"表扬|锦旗|点(?:个)?赞|(?:感谢|谢谢)(?:一下)?.{0,12}(?:师傅|工作人员|小姑娘|姑娘|小伙子|同志|电工|班长)"),
                frozenset({"apply_service", "query_progress", "faq", "report_fault"}) | UNSURE,
                # ("好的 谢谢 师傅大概几点到" right after a repair: when the crew comes, no praise.)
                re.compile(r"表扬(?:的)?.{0,8}(?:进度|怎么样了|有(?:没有)?(?:结果|回音))|"
                           r"(?:几点|多久|什么时候|啥时候|多会儿|多长时间)(?:能|可以|会)?(?:到|来|过来)|到哪(?:了|儿)?")),
    # Progress: an earlier request and a question about where it stands.
    # (Impatience is still a progress question: "报修的师傅啥时候到啊 都等半小时了"; a complaint says so.)
    # "那大概还要几天能来装表": how long the work under way still takes (not how long it usually takes).
    Declaration("query_progress", re.compile(r"(?:还要|还得|还有)(?:个)?(?:几天|多久|多长时间|几个工作日).{0,6}"
                                             r"(?:来装|装表|装好|接电|通电|办好|办完|批下来|来修|修好|来人|到)"),
                frozenset({"query_outage", "apply_service", "faq"}) | UNSURE,
                re.compile(r"一般|通常|正常|平时|来电|恢复供电")),
    Declaration("query_progress", re.compile(EARLIER_REQUEST + r".{0,16}" + STATUS_ASKED + "|" + BUSINESS_DONE_ASKED +
                                             r"|师傅.{0,6}(?:到哪|还要多久|还有多久|多久(?:能)?到|什么时候到|啥时候到)"),
                frozenset({"report_fault", "query_outage", "apply_service", "faq", "complain", "query_bill", "tip_off"}) | UNSURE,
                re.compile(r"(?<!上次)(?<!之前)(?<!上回)(?<!那次)投诉(?!的)|(?:什么|啥)(?:破|烂)?(?:服务|效率)|破服务|太差|不像话|态度|没人管|没人解决|多少次|交代|说法|"
                           r"离谱|效率(?:太|真|也太)?(?:差|低)|不负责")),
    # Changing the mobile number on file is a question for the FAQ (no business of the application
    # form, which took "登记的手机号换了 怎么改成新号码" as an application).
    Declaration("faq",
                re.compile(r"(?:手机号|手机号码|电话号码|号码|预留(?:的)?(?:手机|电话)|联系电话|登记(?:的)?(?:手机|电话)).{0,10}"
                           r"(?:换了|换成|改成|改一下|怎么改|变更|停用|不用了|注销了)"),
                frozenset({"apply_service", "query_bill", "ask_bill_reason"}) | UNSURE),
    # "余额还有多少 会不会马上就停电": the balance left is the customer's own (DIET heard the general
    # question of when a low balance cuts the power).
    Declaration("query_bill", re.compile(r"余额(?:还)?(?:有|剩|剩下)(?:多少|几个钱|几块)"), frozenset({"faq"}) | UNSURE,
                re.compile(r"(?:怎么|咋|如何|在哪|哪里|哪儿)(?:能)?查")),
    # "微信交的电费 钱扣了 网上国网上还显示欠费", "支付宝交了200 余额一点没变": the customer's own
    # payment not showing on the account (blind writers called it a bill query 47 times in 55;
    # DIET heard a complaint, the reconnection rule or nothing).
    Declaration("query_bill",
                re.compile(r"(?:交|缴|付|充)(?:了|的|过|完|好)?[^，,。？?]{0,14}(?:还|却|咋|怎么|为啥|为什么)?[^，,。？?]{0,3}"
                           r"(?:(?:还是?)?显示(?:我)?(?:还)?(?:欠|没交|未缴|未交|待缴)|没(?:有)?到账|不到账|没显示|余额[^，,。？?]{0,4}(?:没变|没动|没涨|不变|没加))|"
                           r"钱(?:扣了|扣掉了|都扣了|已经扣了)[^。？?]{0,16}(?:显示|欠费|没到账|余额)"),
                frozenset({"faq", "complain", "query_outage", "report_fault", "suggest"}) | UNSURE,
                re.compile(r"投诉|举报|人工|停电了|没电|来电|(?:两|2)(?:次|遍)|重复|多扣|退")),
    # "yes", "没毛病", "妥了": a yes in chat words (DIET: nothing sure, or a no for 没).
    Declaration("affirm", re.compile(r"^\s*(?:yes|yep|ok|okay|没毛病|没问题|妥了?|妥妥的?|可以的|行的|中|得嘞|好嘞)\s*[~～!！。.]*\s*$",
                                     re.IGNORECASE),
                frozenset({"deny", "inform", "thank"}) | UNSURE),
    # "嗨 (｡･ω･｡)ﾉ", "hello~": a greeting with nothing but signs after it.
    Declaration("greet", re.compile(r"^\s*(?:嗨|hi|hello|哈喽|hello呀|你好|您好|在吗|在不在)[^\u4e00-\u9fffA-Za-z0-9]*$",
                                    re.IGNORECASE),
                frozenset({"chitchat", "inform"}) | UNSURE),
    # "不需要 我自己去营业厅": a no, and what the customer will do instead.
    Declaration("deny", re.compile(r"^\s*(?:不用|不需要|不要|不必)(?:了)?[，,\s]+我(?:自己|去|再|到时候|回头)"),
                frozenset({"faq", "apply_service"}) | UNSURE, re.compile(r"[吗么？?]")),
    # "88", "886": goodbye in chat shorthand (DIET sees a number and says inform).
    Declaration("goodbye", re.compile(r"^\s*(?:88|886|8888|拜拜|bye|byebye)\s*[~～!！。.]*\s*$", re.IGNORECASE),
                frozenset({"inform"}) | UNSURE),
    # "不要转人工", "不用找客服了": a no to the person offered.
    Declaration("deny", re.compile(r"^\s*(?:不要|不用|不需要|别)(?:给我)?(?:转|找|接)(?:人工|客服|真人)"),
                frozenset({"request_human"}) | UNSURE),
    # "不用不用 就是想让领导知道": a no, with a wish that asks for nobody (DIET heard "领导" as a
    # wish for a person). Asking for a person in so many words stays that.
    Declaration("deny", re.compile(r"^\s*(?:不用|不需要|不要|不必|没事)"), frozenset({"request_human"}),
                re.compile(r"人工|真人|客服|转接|活人|找人")),
    # "就是想让领导知道 他们辛苦了": what the feedback is for (the leaders should hear of it), no
    # wish to talk to a person; praise when the words are good ones, else a grievance.
    Declaration("praise", re.compile(LEADERS_TOLD + r".{0,12}(?:辛苦|感谢|谢谢|不容易|负责|好样|表扬|尽心|热心)|"
                                     r"(?:辛苦|感谢|谢谢|不容易|负责|好样|表扬|尽心|热心).{0,12}" + LEADERS_TOLD),
                frozenset({"request_human", "complain"}) | UNSURE, re.compile(r"人工|真人|转接")),
    Declaration("complain", re.compile(LEADERS_TOLD), frozenset({"request_human"}) | UNSURE,
                re.compile(r"人工|真人|转接|客服")),
    # "哦那是空调开得多 还有个事 我们后厨的灯一直闪…": after "还有个事" comes the new request; a
    # fault told there is a fault report, whatever the words before it were about (DIET: the bill).
    Declaration("report_fault",
                re.compile(r"(?:还有个事|还有件事|还有一件事|还有一个事|另外还有|另外|还有个问题|还有一个问题)"
                           r"[^。！!]{0,30}?(?:没电|停电了|跳闸|灯.{0,4}闪|闪烁|电压.{0,4}(?:低|高|不稳|有问题)|冒烟|冒火|"
                           r"打火|漏电|时好时坏|烧了|不亮了)"),
                frozenset({"query_bill", "ask_bill_reason", "faq", "thank", "affirm", "inform"}) | UNSURE),
    # Whether a business is needed at all ("开了个小卖部，是不是要改成商业电价", "房子卖了 户头要不要销掉"):
    # a question the FAQ answers (and then offers the application), not the application itself.
    Declaration("faq",
                re.compile(r"是不是(?:要|得|必须|需要)|要不要|需不需要|用不用|必须(?:要)?[^，,。]{0,8}吗|"
                           # "办峰谷电划不划算": whether it pays, a question before any application
                           r"划不划算|划算吗|划得来吗|合不合算|合算吗|值不值|省不省钱|能省钱吗|能省多少"),
                frozenset({"apply_service"}),
                re.compile(r"帮我|给我办|替我|我要(?:办|申请|报装|改)|我想(?:办|申请)|申请一下|办一下|怎么(?:办理|申请|办|弄|搞)|"
                           r"咋(?:办|弄|搞|申请)|如何(?:办理|申请)|找谁|在哪")),
    # A person, asked for in so many words.
    Declaration("request_human",
                re.compile(r"转(?:接)?(?:到|个|一下|给我)?人工|人工(?:客服|服务|坐席)|\brgkf\b|人工kf|(?:找|要|换)(?:个|一个)?(?:真人|人工|活人)|"
                           r"跟(?:真人|人工|活人)(?:说|讲|聊)"),
                frozenset({"complain", "faq", "query_bill", "ask_bill_reason", "affirm", "inform"}) | UNSURE,
                re.compile(r"人工(?:客服|服务)?(?:的)?(?:态度|电话是|几点|时间)|投诉")),
    # "家里没电了 你们这机器人问来问去的 赶紧给我转个人工": the fault told, and a person demanded
    # instead of the questions (the person gets the story with the hand-off).
    Declaration("request_human",
                re.compile(r"(?:赶紧|直接|马上|快|快点)(?:给我|帮我)?转(?:接)?(?:到|个|一下)?人工|"
                           r"(?:机器人|问来问去|说不清|听不懂).{0,16}转(?:接)?(?:到|个|一下)?人工"),
                frozenset({"report_fault", "query_outage"}),
                re.compile(r"(?:不要|不用|不需要|别)(?:给我)?转")),
    # A grievance in so many words: "必须给我个交代", "什么破服务" (DIET: the story's request).
    Declaration("complain",
                re.compile(r"给(?:我|我们)?(?:个|一个)(?:交代|说法)|讨(?:个)?说法|(?:什么|啥)(?:破|烂)服务|破服务|服务太差"),
                frozenset({"request_human", "query_progress"}) | UNSURE),
    # What the utility does not supply: broadband, Wi-Fi, district heating, gas, water ("家里wifi
    #连不上了 帮我报个修", "小区暖气什么时候通啊"), with no word of electricity.
    Declaration("out_of_scope",
                re.compile(r"宽带|wifi|无线网|网速|网络信号|(?<!电)暖气|燃气|煤气|天然气|自来水|水管|水费|话费|有线电视|电视信号|"
                           r"物业费|学费|社保|医保|公积金|驾照|违章|工商年报|执照年报",
                           re.IGNORECASE),
                frozenset({"report_fault", "query_outage", "query_bill", "apply_service", "faq", "query_progress"}),
                re.compile(r"电(?!视|话|信|梯|脑)|跳闸|空开|插座|灯")),
)


# A change of mind after the request was named: "我想投诉 算了 还是先帮我查一下这个月电费吧".
MIND_CHANGED = re.compile(r"算了|还是(?:先|帮|给|查|问|办)|先不(?:投诉|举报|办|修|查)|不(?:投诉|举报)了")


def declared_intent(text: str, heard: Optional[Text]) -> Optional[Text]:
    """The request ``text`` names outright, when ``heard`` (DIET's intent) may be overridden by it,
    unless the customer changed their mind after naming it (then the classifiers decide)."""
    for declaration in DECLARATIONS:
        named = declaration.says.search(text) if heard in declaration.overrides else None
        if named and not (declaration.unless and declaration.unless.search(text)) \
                and not MIND_CHANGED.search(text, named.end()):
            return declaration.intent
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class DeclaredRequestIntent(RuleComponent):
    """Sets the intent of a message that names its request outright to that request."""

    DEFAULTS: Dict[Text, Any] = {}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            declared = declared_intent(message.get(TEXT) or "", (message.get(INTENT) or {}).get("name"))
            if declared:
                decide_intent(message, declared)
                key = (((message.get("response_selector") or {}).get(declared) or {}).get("response") or {}) \
                    .get("intent_response_key")
                if key:
                    # A FAQ question decided here keeps the topic the answer selector found (as
                    # Rasa's own selector marks it: the full retrieval intent name).
                    message.get(INTENT)["full_retrieval_intent_name"] = key
        return messages
