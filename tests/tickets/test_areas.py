"""Area types of places (areas.yml): the mapping itself and the gateway using it for repairs."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.sla.areas import AreaMap, load_areas
from tests.support.gateway import auth_headers

ROOT = Path(__file__).resolve().parents[2]
AREAS = load_areas(ROOT / "areas.yml")


@pytest.mark.parametrize("address, expected", [
    # The demo data's places, with and without the city and district.
    ("江苏省南京市溧水区晶桥镇枫香岭村25号", "remote"),
    ("枫香岭村57号", "remote"),
    ("六合区竹镇镇大泉村113号", "remote"),
    ("江苏省南京市江宁区湖熟街道和平社区21号", "rural"),
    ("江宁湖熟和平社区81号", "rural"),
    ("江宁区谷里街道张溪社区103号", "rural"),
    ("浦口区永宁街道青山村8号", "rural"),
    ("溧水区白马镇曹家桥村93号", "rural"),
    ("江苏省南京市江宁区秣陵街道将军大道177号", "urban"),
    ("六合区龙池街道雄州南路162号", "rural"),
    # Nanjing's districts.
    ("鼓楼区湖南路42号", "urban"),
    ("玄武区中山路18号3栋501", "urban"),
    ("雨花台区软件大道275号", "urban"),
    ("栖霞区八卦洲街道某某村3号", "rural"),
    ("高淳区桠溪街道", "rural"),
])
def test_places_get_the_configured_area_type(address, expected):
    assert AREAS.classify(address).area_type == expected


@pytest.mark.parametrize("address", [
    "中山路18号",            # a street without a district: could be anywhere
    "竹镇镇新庄村5号",        # a mixed township: only its listed villages decide
    "江宁区某某小区5栋",      # a mixed district with no township named
    "苏州市姑苏区人民路1号",   # not our area
])
def test_undecided_places_answer_none_rather_than_a_guess(address):
    assert AREAS.classify(address).area_type is None


def test_words_like_village_or_community_do_not_decide():
    # The old guess made every 村 rural and every 社区 urban.
    assert AREAS.classify("鼓楼区和平社区5号").area_type == "urban"  # not 湖熟街道和平社区
    assert AREAS.classify("溧水区晶桥镇枫香岭村").area_type == "remote"
    assert AREAS.classify("张三村").area_type is None


def test_a_place_inherits_unless_it_says_otherwise_and_bad_types_are_refused():
    areas = AreaMap({"places": {"甲区": {"type": "rural", "places": {"乙镇": {"type": None, "places": {
        "丙村": "remote"}}, "丁街道": {}}}}})
    assert areas.classify("甲区丁街道").area_type == "rural"
    assert areas.classify("甲区乙镇戊村").area_type is None
    assert areas.classify("乙镇丙村").area_type == "remote"
    assert areas.classify("甲区").area_type == "rural"
    with pytest.raises(ValueError, match="area type"):
        AreaMap({"places": {"甲区": "suburb"}})



@pytest.mark.asyncio
async def test_the_api_classifies_an_address(demo_gateway_client):
    found = await demo_gateway_client.get("/api/v1/areas", params={"address": "溧水区晶桥镇枫香岭村25号"},
                                          headers=auth_headers())
    assert found.status == 200
    body = await found.json()
    assert body["area_type"] == "remote" and body["place"] == "溧水区晶桥镇枫香岭村"
    unknown = await demo_gateway_client.get("/api/v1/areas", params={"address": "中山路18号"},
                                            headers=auth_headers())
    assert (await unknown.json())["area_type"] is None


@pytest.mark.asyncio
async def test_a_repair_without_account_or_area_type_gets_the_place_s_deadline(demo_gateway_client):
    response = await demo_gateway_client.post("/api/v1/tickets", json={
        "type": "repair", "summary": "村里停电", "channel": "web", "request_key": "areas:1",
        "details": {"address": "六合区竹镇镇大泉村9号"}}, headers=auth_headers())
    assert response.status == 201
    ticket = await response.json()
    assert ticket["area_type"] == "remote"
