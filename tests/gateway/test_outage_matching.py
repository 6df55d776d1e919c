"""Which outages cover an address: scope streets/villages, and the district when it is named."""
from datetime import datetime, timedelta, timezone

from bot.api.outages import area_district, covers, relevant
from bot.store.models import Outage

NOW = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)


def outage(area: str, scope: list[str], starts_in_hours: float = 2, hours: float = 8) -> Outage:
    start = NOW + timedelta(hours=starts_in_hours)
    return Outage(outage_no="T1", kind="planned", area=area, scope=scope, start_at=start,
                  end_at=start + timedelta(hours=hours), reason="检修")


def test_district_of_an_area():
    assert area_district("南京市江宁区") == "江宁区"
    assert area_district("江苏省南京市雨花台区") == "雨花台区"
    assert area_district("江苏省苏州市吴江区") == "吴江区"


def test_village_in_scope_covers_a_rural_address():
    works = outage("南京市溧水区", ["石头寨村", "曹家桥村"])
    assert covers(works, "江苏省南京市溧水区白马镇石头寨村3号")
    assert covers(works, "白马镇曹家桥村 12 号")  # spaces and no district
    assert not covers(works, "江苏省南京市溧水区白马镇朱家边村3号")


def test_a_named_other_district_is_not_covered():
    works = outage("南京市秦淮区", ["中华路"])
    assert covers(works, "秦淮区中华路66号")
    assert not covers(works, "鼓楼区中华路66号")
    # Districts known only from other outages' areas count as well.
    assert not covers(works, "吴江区中华路66号", known_districts=["吴江区"])


def test_empty_scope_covers_the_whole_district_only_when_named():
    works = outage("南京市玄武区", [])
    assert covers(works, "江苏省南京市玄武区中山路18号")
    assert not covers(works, "中山路18号")
    assert not covers(works, "")


def test_only_current_or_next_7_days():
    # Planned outages are announced 7 days ahead: "这周停不停电" finds one five days out.
    assert relevant(outage("南京市玄武区", [], starts_in_hours=-1), NOW)
    assert relevant(outage("南京市玄武区", [], starts_in_hours=5 * 24), NOW)
    assert relevant(outage("南京市玄武区", [], starts_in_hours=7 * 24 - 1), NOW)
    assert not relevant(outage("南京市玄武区", [], starts_in_hours=7 * 24 + 1), NOW)
    assert not relevant(outage("南京市玄武区", [], starts_in_hours=-10, hours=8), NOW)


def test_a_village_named_without_its_suffix_is_covered():
    works = outage("南京市溧水区", ["曹家桥村", "张溪社区"])
    assert covers(works, "溧水白马曹家桥")           # 村 left out, as customers do
    assert covers(works, "谷里张溪103号")            # 社区 left out
    assert not covers(works, "曹家桥路5号")          # a street of that name is another place
    assert not covers(works, "白马镇朱家边村3号")
