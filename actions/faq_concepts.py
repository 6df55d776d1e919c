"""What each FAQ topic is about, in the words customers use for it.

The ResponseSelector ranks every topic for every message; on wording it has not seen it may put
first a topic that the message does not touch at all ("我刚在支付宝把欠的电费交了 咋还没来电呢"
got the peak/valley hours). An answer is given only on a topic whose concept words the message
contains: the selector's first such topic among its ranking. A concept is deliberately broad
(synonyms, dialect, common typos): it must hold for every way of asking the topic, and only
rule out answers about something else.
"""
from __future__ import annotations

import re
from typing import Dict, Pattern

_PAY = r"交|缴|付|充|支付|扣"
_FEE = r"钱|收费|费用|费|免费|贵|多少|要钱|花"
_DOCS = r"材料|资料|证件|手续|证明|带什么|带啥|带哪|准备|要什么|要啥|提供|需要什么|需要啥|证|东西"
_HOW_LONG = r"多久|多长|几天|多少天|工作日|时间|时限|要等|等多|什么时候|啥时候|几号|快|慢"

TOPIC_CONCEPTS: Dict[str, str] = {
    "payment_channels": rf"({_PAY})|哪交|哪里交|渠道|方式|营业厅|银行",
    "pay_by_app": r"网上国网|国网|app|APP|App|应用|软件|手机",
    "pay_by_wechat_alipay": r"微信|支付宝|wx|vx|VX|WX",
    "auto_debit": r"代扣|自动|代缴|银行卡|扣款|扣费|绑卡|签约",
    "tiered_tariff": r"阶梯|档|电价|一度|每度|单价|多少钱|价格|收费标准|怎么算|怎么收",
    "tier_year_cycle": r"阶梯|档|清零|重新算|重新计算|周期|年度|按年|按月",
    "peak_valley_hours": r"峰|谷|分时|时段|几点|晚上|夜里|夜间|白天|便宜|半夜",
    "peak_valley_prices": r"峰|谷|分时|价|多少钱|几毛|一度",
    "docs_new_connection": rf"{_DOCS}",
    "docs_name_transfer": rf"{_DOCS}|过户|更名|改名|户名",
    "docs_capacity_change": rf"{_DOCS}",
    "docs_ev_charger": rf"{_DOCS}|物业|同意",
    "docs_pv_connection": rf"{_DOCS}",
    "docs_meter_move": rf"{_DOCS}",
    "docs_account_closing": rf"{_DOCS}|结清",
    "reconnection": r"来电|复电|送电|恢复|有电|还没电|没电|通电|供电",
    "arrears_power_cut": r"欠费|欠|逾期|晚交|没交|未交|没缴|拖|停电|断电|拉闸|掐",
    "late_fee": r"违约金|滞纳金|罚|逾期|晚交|过期|超期|多收|利息",
    "safety_wire_down": r"电线|线|杆|掉|断|落|倒",
    "safety_electric_shock": r"触电|电到|电打|电击|被电|麻|电着",
    "safety_home": r"安全|注意|常识|小心|危险|防",
    "safety_storm": r"雷|雨|台风|水|淹|风|天气|暴",
    "energy_saving": r"省电|节约|节能|省钱|少交|少用|电费高|电费贵|窍门|妙招|办法",
    "trip_self_check": r"跳闸|跳|闸|空开|漏保|开关|合不上|推不上",
    "repair_fee": rf"{_FEE}|付钱|收钱",
    "e_invoice": r"发票|票据|收据|凭证|报销",
    "meter_calibration": r"电表|表|计量|校验|校表|检测|准|快|走字|飞",
    "meter_reading": r"抄表|抄|读数|示数|几号|哪天|什么时候",
    "service_hours": r"上班|下班|服务时间|工作时间|营业时间|办公时间|几点.{0,3}(有人|开|关)|什么时候有人|啥时候有人|有人|在线|"
                     r"24|二十四|晚上|半夜|夜里|夜间|周末|节假日|全天|随时",
    "hotline": r"电话|热线|号码|95598|打什么|打哪个|联系",
    "business_hall": r"营业厅|营业网点|网点|供电所|供电局|营业部|柜台|大厅|在哪|哪里|地址|位置|近|开门|几点",
    "no_property_certificate": r"房产证|产权|不动产|宅基地|自建|自己盖|没证|无证|土地证",
    "online_app": r"网上国网|国网|app|APP|App|应用|软件|下载|注册|登录|登陆|密码|实名",
    "bind_account": r"户号|绑定|绑|添加|关联|账号|编号",
    "change_phone": r"手机|电话|号码|号|预留|联系方式|短信",
    "prepaid": r"预存|预交|预付|多交|多存|存|充|余额|提前|先交",
    "prepaid_low_balance": r"余额|预付|预存|充值|充钱|充了|没钱|用完|不足|负的|剩多少",
    "ev_charging_price": r"充电|电价|价|多少钱|收费|一度|电费",
    "pv_settlement": r"光伏|上网|结算|发电|余电|收益|卖电|钱|怎么算",
    "price_commercial": r"商业|工商业|店|铺|门面|生意|饭店|餐馆|超市|做买卖|经营|公司|单位",
    "price_industrial": r"工业|工厂|厂|企业|公司|专变|基本电费|需量|容量|大工业",
    "tariff_business_change": r"商业|店|铺|门面|生意|饭馆|饭店|小卖部|超市|营业|经营|买卖|电价",
    "fee_new_connection": rf"{_FEE}",
    "fee_meter_move": rf"{_FEE}|谁出",
    "deposit": r"押金|保证金|定金|退",
    "subsidy": r"补贴|优惠|减免|免费|便宜|低保|五保|困难|照顾|政策|老人",
    "refund_double_charge": r"两次|两遍|重复|多交|多扣|多付|交多|扣多|交错|错交|退|返还|退款|多的|都交|交了一次",
    "appliance_damage": r"烧|坏|损|赔|索赔|理赔|责任|谁负责|电器|家电|电视|冰箱|空调",
    "meter_test_fee": rf"{_FEE}",
    "meter_test_refund": r"退|赔|多收|多交|返|补|怎么算|不准|超差|走快",
    "business_hall_weekend": r"周六|周日|周末|星期六|星期天|星期日|礼拜六|礼拜天|礼拜日|节假日|假期|放假|双休|休息日|过年|国庆|五一",
    "pv_payment_late": r"到账|没到|没收到|没打|拖欠|迟迟|还没|一直没|不到|没给|欠",
    "street_light": r"路灯|灯",
    "ownership_boundary": r"谁管|谁负责|归谁|你们管|管不管|管吗|负责|算谁|找谁|找你们|物业|楼道|户内|表后|表箱|屋里|家里|归不归|维护|供电局|供电公司|你们",
    "proxy_handling": r"替|代办|代替|代理|委托|帮我去|别人|家里人|家人|子女|儿子|女儿|孩子|租客|房客|老伴|本人|亲戚|朋友",
    "property_certificate": r"物业|证明|同意|盖章|不让|不给|业委会|居委会",
    "duration_new_connection": _HOW_LONG,
    "duration_other_change": _HOW_LONG,
    "duration_capacity_change": _HOW_LONG,
    "duration_pv_connection": _HOW_LONG,
    "duration_ev_charger": _HOW_LONG,
    "fee_pv_connection": rf"{_FEE}|电表",
    "fee_ev_charger": rf"{_FEE}|电表",
    "docs_business": rf"{_DOCS}|营业执照|执照",
    "repair_arrival_time": _HOW_LONG + r"|到达|到场|来人|几个小时|承诺",
    "outage_notice_advance": r"通知|告诉|提前|公告|短信|告知|提醒|知道",
}

CONCEPTS: Dict[str, Pattern[str]] = {topic: re.compile(words) for topic, words in TOPIC_CONCEPTS.items()}


def touches(topic: str, text: str) -> bool:
    """Whether ``text`` contains a concept word of ``topic`` (a topic without concepts always does)."""
    concept = CONCEPTS.get(topic)
    return concept is None or bool(concept.search(text or ""))
