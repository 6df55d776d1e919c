"""Business types (业务办理) and the words customers use for them.

Keys are the canonical `business_type` values agreed in docs/ARCHITECTURE.md; the same
table feeds the gazetteer and the NLU synonyms (data/nlu/synonyms.yml).
"""
from typing import Dict, List

BUSINESS_TYPE_SYNONYMS: Dict[str, List[str]] = {
    "new_connection": [
        "新装", "报装", "新装用电", "新户报装", "用电报装", "装电表", "装个电表",
        "新装电表", "开户", "立户", "新开户", "通电申请",
        "低压新装", "高压新装", "新建房用电",
    ],
    "capacity_change": [
        "增容", "减容", "扩容", "加容量", "增加容量", "提容", "容量变更", "变更容量",
        "增加用电容量", "减少容量", "加大容量", "调容量",
    ],
    "name_transfer": [
        "过户", "更名", "户名变更", "变更户名", "改户名", "换户名", "改户主", "户主变更",
        "更改户名", "过户手续",
    ],
    "meter_move": [
        "移表", "迁表", "电表移位", "移电表", "挪电表", "挪表", "电表迁移", "迁移电表",
        "表计移位", "电表挪位置",
    ],
    "ev_charger": [
        "充电桩", "装充电桩", "充电桩报装", "私人充电桩", "家用充电桩", "电动汽车充电桩",
        "新能源车充电桩", "充电柱",
    ],
    "pv_connection": [
        "光伏并网", "光伏", "分布式光伏", "屋顶光伏", "光伏发电", "太阳能发电", "并网",
        "太阳能板并网", "光伏板", "家庭光伏",
    ],
    "tariff_change": [
        "峰谷电价", "分时电价", "开通峰谷", "峰谷分时", "改峰谷", "电价变更",
        "变更电价", "改电价", "电价类别变更", "居民峰谷",
    ],
    "account_closing": [
        "销户", "注销", "注销户号", "销户申请", "拆表", "撤表", "撤户", "不用电了要销户",
        "注销用电",
    ],
    "meter_check": [
        "电能表校验", "电表校验", "校验电表", "校验申请", "校验", "校表", "验表", "验电表",
        "检测电表", "电表检测", "测电表",
    ],
}


def synonym_to_key() -> Dict[str, str]:
    return {word: key for key, words in BUSINESS_TYPE_SYNONYMS.items() for word in words}
