"""Generates the demo dataset (demo/demo_data.json): accounts, 12 months of bills, outages.

Deterministic for a seed and a reference date. Bills follow the Jiangsu residential tariff:
- tiered (阶梯电价), annual tiers 0-2760 / 2761-4800 / >4800 kWh, prorated to the month as
  0-230 / 231-400 / >400 kWh, at 0.5283 / 0.5783 / 0.8283 yuan/kWh;
- households that opted for time-of-use (峰谷电价) pay peak (8:00-21:00) 0.5583 and valley
  (21:00-8:00) 0.3583 yuan/kWh, plus the tier surcharge 0 / 0.05 / 0.30 yuan/kWh on the
  kWh above 230 and 400 (recorded in ``tiers`` with ``"surcharge": true``);
- commercial and industrial accounts: flat demo prices (0.6418 and 0.6093 yuan/kWh).
Planned outages are placed in the days after the reference date; ``bot init-store
--demo-if-empty`` moves them (and the bill months) to the day of import, see
``bot.importer.shift_demo``.

Usage: python -m scripts.make_demo_data [--seed N] [--reference-date YYYY-MM-DD] [--out PATH]
"""
from __future__ import annotations

import argparse
import calendar
import json
import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = timezone(timedelta(hours=8))
DEFAULT_REFERENCE = date(2026, 11, 26)
DEFAULT_SEED = 20261126

TIER_LIMITS = (230, 400)  # monthly share of the annual 2760 / 4800 kWh
TIER_PRICES = (0.5283, 0.5783, 0.8283)
PEAK_PRICE, VALLEY_PRICE = 0.5583, 0.3583
TOU_SURCHARGES = (0.0, 0.05, 0.30)
FLAT_PRICES = {"commercial": 0.6418, "industrial": 0.6093}
# Monthly usage relative to the household's base: air conditioning in summer, heating in winter.
SEASON = {1: 1.35, 2: 1.2, 3: 0.9, 4: 0.8, 5: 0.85, 6: 1.1, 7: 1.6, 8: 1.7, 9: 1.15, 10: 0.85,
          11: 0.9, 12: 1.25}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
GIVEN = ["秀英", "桂英", "建华", "志强", "海燕", "文杰", "丽娟", "国平", "晓明", "春梅", "红霞", "俊杰", "玉兰",
         "宏伟", "雪梅", "子涵", "思远", "金凤", "永刚", "佳怡", "明辉", "晓燕", "德胜", "淑芬", "浩然", "雨欣",
         "立新", "美玲", "振华", "欣怡", "建军", "婷婷"]
MOBILE_PREFIXES = ["138", "139", "136", "137", "150", "151", "152", "158", "159", "187", "188", "133",
                   "153", "180", "189", "181", "177", "199"]
CITY = "江苏省南京市"
URBAN_STREETS = {
    "玄武区": ["中山路", "北京东路", "珠江路", "龙蟠路", "后宰门街"],
    "秦淮区": ["中华路", "太平南路", "长乐路", "龙蟠中路"],
    "鼓楼区": ["中山北路", "湖南路", "广州路", "马台街"],
    "建邺区": ["江东中路", "庐山路", "河西大街", "所街"],
    "栖霞区": ["仙林大道", "迈皋桥路", "文苑路"],
    "雨花台区": ["软件大道", "雨花南路", "宁丹路"],
}
COMPOUNDS = ["阳光花园", "翠竹园", "金陵小区", "锦绣苑", "龙江新城", "梅园新村", "长江苑", "紫金花园"]
RURAL_VILLAGES = [
    ("江宁区", "横溪街道", "石塘村"), ("江宁区", "谷里街道", "张溪社区"), ("溧水区", "白马镇", "石头寨村"),
    ("溧水区", "白马镇", "曹家桥村"), ("浦口区", "永宁街道", "青山村"), ("高淳区", "桠溪镇", "蓝溪村"),
    ("六合区", "马鞍街道", "大圣村"), ("江宁区", "湖熟街道", "和平社区"),
]
REMOTE_VILLAGES = [
    ("高淳区", "砖墙镇", "茅城村"), ("六合区", "竹镇镇", "大泉村"), ("溧水区", "晶桥镇", "枫香岭村"),
    ("六合区", "竹镇镇", "金磁村"),
]
SHOPS = [("鼓楼区", "湖南路", "号商铺"), ("秦淮区", "夫子庙贡院街", "号"), ("玄武区", "珠江路", "号电脑城"),
         ("建邺区", "江东中路", "号万达广场B座"), ("江宁区", "横溪街道横溪大街", "号")]
FACTORIES = [("江宁区", "秣陵街道将军大道", "号"), ("六合区", "龙池街道雄州南路", "号"),
             ("浦口区", "江浦街道浦口经济开发区新浦路", "号")]

# The three accounts the README offers for trying the assistant.
SHOWCASE = [
    {"account_no": "3201000001", "name": "张伟", "phone": "13851620518",
     "address": "江苏省南京市玄武区中山路18号3栋501", "area_type": "urban", "customer_type": "residential"},
    {"account_no": "3201000002", "name": "李秀英", "phone": "13905172316",
     "address": "江苏省南京市江宁区横溪街道石塘村45号", "area_type": "rural", "customer_type": "residential"},
    {"account_no": "3201000003", "name": "王建国", "phone": "18751963377",
     "address": "江苏省南京市秦淮区中华路66号2栋302", "area_type": "urban", "customer_type": "residential"},
]


def money(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def split_tiers(kwh: int) -> list[int]:
    first = min(kwh, TIER_LIMITS[0])
    second = min(max(kwh - TIER_LIMITS[0], 0), TIER_LIMITS[1] - TIER_LIMITS[0])
    third = max(kwh - TIER_LIMITS[1], 0)
    return [first, second, third]


def residential_bill(kwh: int, time_of_use: bool, rng: random.Random) -> dict:
    parts = split_tiers(kwh)
    if not time_of_use:
        tiers = [{"tier": i + 1, "kwh": float(k), "price": TIER_PRICES[i]} for i, k in enumerate(parts)
                 if k or i == 0]
        amount = sum(k * TIER_PRICES[i] for i, k in enumerate(parts))
        return {"amount": money(amount), "tiers": tiers}
    peak = round(kwh * rng.uniform(0.52, 0.68))
    valley = kwh - peak
    tiers = [{"tier": i + 1, "kwh": float(k), "price": TOU_SURCHARGES[i], "surcharge": True}
             for i, k in enumerate(parts) if k or i == 0]
    amount = peak * PEAK_PRICE + valley * VALLEY_PRICE + sum(k * TOU_SURCHARGES[i] for i, k in enumerate(parts))
    return {"amount": money(amount), "tiers": tiers, "peak_kwh": float(peak), "valley_kwh": float(valley)}


def months_before(reference: date, count: int) -> list[str]:
    """The ``count`` billing months before the reference month, oldest first."""
    periods = []
    year, month = reference.year, reference.month
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        periods.append(f"{year:04d}-{month:02d}")
    return periods[::-1]


def due_date(period: str) -> date:
    """Bills are issued early in the following month and due at its end."""
    year, month = int(period[:4]), int(period[5:])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return date(year, month, calendar.monthrange(year, month)[1])


def random_phone(rng: random.Random, used: set[str]) -> str:
    while True:
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if phone not in used:
            used.add(phone)
            return phone


def make_customers(rng: random.Random) -> list[dict]:
    # (area_type, customer_type, count) after the showcase accounts: 36 accounts in all.
    plan = [("urban", "residential", 13), ("rural", "residential", 8), ("remote", "residential", 4),
            ("urban", "commercial", 3), ("rural", "commercial", 2), ("urban", "industrial", 1),
            ("rural", "industrial", 2)]
    customers = [dict(c) for c in SHOWCASE]
    used_phones = {c["phone"] for c in customers}
    used_names = {c["name"] for c in customers}
    number = len(customers)
    for area_type, customer_type, count in plan:
        for _ in range(count):
            number += 1
            while True:
                name = rng.choice(SURNAMES) + rng.choice(GIVEN)
                if name not in used_names:
                    used_names.add(name)
                    break
            if customer_type == "residential" and area_type == "urban":
                district = rng.choice(sorted(URBAN_STREETS))
                street = rng.choice(URBAN_STREETS[district])
                address = (f"{CITY}{district}{street}{rng.randint(1, 399)}号{rng.choice(COMPOUNDS)}"
                           f"{rng.randint(1, 30)}栋{rng.randint(1, 30)}{rng.randint(1, 4):02d}室")
            elif customer_type == "residential":
                district, town, village = rng.choice(RURAL_VILLAGES if area_type == "rural" else REMOTE_VILLAGES)
                address = f"{CITY}{district}{town}{village}{rng.randint(1, 120)}号"
            elif customer_type == "commercial":
                district, street, suffix = rng.choice(SHOPS if area_type == "urban" else SHOPS[-1:])
                address = f"{CITY}{district}{street}{rng.randint(1, 300)}{suffix}"
                name = name[0] + "记" + rng.choice(["便利店", "餐馆", "超市", "五金店", "茶社"]) + "（" + name + "）"
            else:
                district, street, suffix = rng.choice(FACTORIES[:1] if area_type == "urban" else FACTORIES[1:])
                address = f"{CITY}{district}{street}{rng.randint(1, 200)}{suffix}"
                name = "南京" + rng.choice(["恒泰", "华宁", "金达", "苏源", "宁新"]) + \
                    rng.choice(["机械", "纺织", "包装", "电子"]) + "有限公司"
            customers.append({
                "account_no": f"32010000{number:02d}", "name": name[:64],
                "phone": random_phone(rng, used_phones), "address": address,
                "area_type": area_type, "customer_type": customer_type,
            })
    return customers


def make_bills(customers: list[dict], reference: date, rng: random.Random) -> list[dict]:
    periods = months_before(reference, 12)
    latest = periods[-1]
    # Two accounts have fallen behind: last-but-one bill overdue and the latest unpaid.
    behind = {c["account_no"] for c in rng.sample(
        [c for c in customers[3:] if c["customer_type"] == "residential"], 2)}
    bills = []
    for customer in customers:
        account = customer["account_no"]
        kind = customer["customer_type"]
        if kind == "residential":
            base = rng.uniform(110, 300)
            if account == "3201000001":
                base = 290.0  # a family flat whose latest bill reaches the second tier
            time_of_use = account != "3201000001" and rng.random() < 0.4
        else:
            base = rng.uniform(900, 5000) if kind == "commercial" else rng.uniform(25000, 110000)
            time_of_use = False
        for period in periods:
            month = int(period[5:])
            factor = SEASON[month] if kind == "residential" else (0.85 + 0.3 * (SEASON[month] - 0.8))
            kwh = max(20, round(base * factor * rng.uniform(0.88, 1.12)))
            if kind == "residential":
                bill = residential_bill(kwh, time_of_use, rng)
            else:
                bill = {"amount": money(kwh * FLAT_PRICES[kind])}
            due = due_date(period)
            if account in behind and period == periods[-2]:
                status = "overdue"
            elif period == latest and (account == "3201000001" or account in behind
                                       or (account not in ("3201000002", "3201000003") and rng.random() < 0.3)):
                status = "unpaid"
            else:
                status = "paid"
            record = {"account_no": account, "period": period, "kwh": float(kwh), "amount": bill["amount"],
                      "due_date": due.isoformat(), "status": status, "paid_at": None}
            if status == "paid":
                issued = due.replace(day=1)
                paid_day = issued + timedelta(days=rng.randint(2, min(24, (reference - issued).days - 1)))
                paid_time = time(rng.randint(8, 21), rng.randint(0, 59), rng.randint(0, 59))
                record["paid_at"] = datetime.combine(paid_day, paid_time, SHANGHAI).isoformat()
            for key in ("peak_kwh", "valley_kwh", "tiers"):
                if key in bill:
                    record[key] = bill[key]
            bills.append(record)
    return bills


# Two accounts for the proactive notices (issue 19), written by hand after the generated ones:
# bind them in the widget ("绑定户号") and the notice engine has something to say.
# 3201000037 lives on 长乐路, in the first planned outage's scope, and its newest bill falls due
# three days after the import (meta.due_in_days); 3201000038 is prepaid with 18.60 yuan left and
# used far more last month than its own usual (an abnormal-usage alert, a low-balance notice).
NOTICE_ACCOUNTS: list[dict[str, Any]] = [
    {"account_no": "3201000037", "name": "赵敏", "phone": "13770912468",
     "address": "江苏省南京市秦淮区长乐路88号5栋201", "area_type": "urban", "customer_type": "residential"},
    {"account_no": "3201000038", "name": "孙丽", "phone": "15951806627",
     "address": "江苏省南京市玄武区珠江路201号金陵小区3栋702室", "area_type": "urban",
     "customer_type": "residential", "balance": 18.6},
]


def notice_bills(reference: date) -> list[dict]:
    """Twelve months each, without randomness (the generated accounts' bills are left as they were)."""
    periods = months_before(reference, 12)
    bills = []
    for customer, base in zip(NOTICE_ACCOUNTS, (180.0, 150.0)):
        for period in periods:
            kwh = round(base * SEASON[int(period[5:])])
            if customer["account_no"] == "3201000038" and period == periods[-1]:
                kwh = round(kwh * 2.6)  # a heater left on, or a meter to test
            unpaid = period == periods[-1]
            bill = residential_bill(kwh, False, random.Random(0))
            due = due_date(period)
            record: dict = {"account_no": customer["account_no"], "period": period, "kwh": float(kwh),
                            "amount": bill["amount"], "due_date": due.isoformat(),
                            "status": "unpaid" if unpaid else "paid", "paid_at": None}
            if not unpaid:
                record["paid_at"] = datetime.combine(due.replace(day=10), time(19, 30), SHANGHAI).isoformat()
            record["tiers"] = bill["tiers"]
            bills.append(record)
    return bills


def make_outages(reference: date) -> list[dict]:
    def at(days: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(reference + timedelta(days=days), time(hour, minute), SHANGHAI)

    plans = [
        # Covers showcase account 3201000003 (秦淮区中华路).
        ("南京市秦淮区", ["中华路", "长乐路"], at(1, 8), at(1, 17), "10千伏线路检修"),
        ("南京市溧水区", ["石头寨村", "曹家桥村"], at(2, 7, 30), at(2, 15, 30), "配电变压器更换"),
        ("南京市鼓楼区", ["湖南路", "马台街"], at(3, 22), at(4, 6), "电缆迁改（夜间施工）"),
        ("南京市六合区", ["大泉村", "金磁村"], at(5, 8), at(5, 18), "线路升级改造"),
    ]
    outages = []
    for number, (area, scope, start, end, reason) in enumerate(plans, start=1):
        outages.append({"outage_no": f"TD{start:%Y%m%d}{number:04d}", "kind": "planned", "area": area,
                        "scope": scope, "start": start.isoformat(), "end": end.isoformat(), "reason": reason})
    return outages


def generate(seed: int = DEFAULT_SEED, reference: date = DEFAULT_REFERENCE) -> dict:
    rng = random.Random(seed)
    customers = make_customers(rng)
    bills = make_bills(customers, reference, rng)
    return {
        "meta": {"generator": "scripts/make_demo_data.py", "seed": seed,
                 "reference_date": reference.isoformat(),
                 "note": "init-store moves outages and bill months from reference_date to the import date",
                 "due_in_days": {"3201000037": 3}},
        "customers": customers + [dict(c) for c in NOTICE_ACCOUNTS],
        "bills": bills + notice_bills(reference),
        "outages": make_outages(reference),
    }


def dumps(data: dict) -> str:
    """One record per line: readable, and import errors point at the record's line."""
    parts = ['{\n  "meta": ' + json.dumps(data["meta"], ensure_ascii=False)]
    for section in ("customers", "bills", "outages"):
        records = ",\n    ".join(json.dumps(r, ensure_ascii=False) for r in data[section])
        parts.append(f'  "{section}": [\n    {records}\n  ]')
    return ",\n".join(parts) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reference-date", type=date.fromisoformat, default=DEFAULT_REFERENCE)
    parser.add_argument("--out", type=Path, default=ROOT / "demo" / "demo_data.json")
    args = parser.parse_args(argv)
    data = generate(args.seed, args.reference_date)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(data), encoding="utf-8")
    print(f"wrote {args.out}: {len(data['customers'])} accounts, {len(data['bills'])} bills, "
          f"{len(data['outages'])} outages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
