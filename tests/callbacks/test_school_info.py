"""学校（机构）信息 through the Flask test client (SPEC §5.1): the school admin's own school,
the required fields refused next to the field, the read-only fields, the audit entry with old
and new values, and the 城乡类型 banner on every school page until it is filled in."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from data_access import accounts, schools
from data_access.models import AuditLog, Binding, School
from data_access.scope import ScopeDenied, scope_of
from tests.dashboard.test_screens import render, text
from tests.helpers import build_dataset, fire, login, make_admin

FIELDS = schools.INFO_EDITABLE
SHOW = "si-banner.style"
BANNER = "请前往【基本管理-学校（机构）信息】完善"  # JSON escapes the quotes after it


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    with engine.begin() as conn:
        conn.execute(update(School).where(School.code == "S-XY-2").values(urban_rural=None))
        uid = accounts.create_user(conn, "13912345678", "注册名", "Passw0rd!x")
        accounts.grant(conn, uid, "school_admin", "S-XY-2", contact_name="郑晓峰",
                       contact_phone="13912345678")
    make_admin(engine, "region_training", "350322", "xianyou")
    return engine


def shown(client) -> dict:
    resp = fire(client, SHOW, {"si-reload.data": 0})
    assert resp.status_code == 200
    return resp.get_json()["response"]


def save(client, **values):
    payload = {"si-save.n_clicks": 1, "si-reload.data": 0}
    payload.update({f"si-field-{k}.value": v for k, v in values.items()})
    resp = fire(client, "si-feedback-phone.children", payload)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()["response"]


def stored(engine, code="S-XY-2"):
    with engine.connect() as conn:
        return conn.execute(select(School).where(School.code == code)).one()


def entries(engine):
    with engine.connect() as conn:
        return conn.execute(select(AuditLog.action, AuditLog.scope_school, AuditLog.detail)
                            .where(AuditLog.action == "school_update")
                            .order_by(AuditLog.id)).all()


def test_the_school_admin_sees_their_school_with_the_banner(client, world):
    login(client, "13912345678")
    out = shown(client)
    assert out["si-banner"]["style"] == {}
    assert out["si-value-name"]["children"] == "仙游县实验小学"
    assert out["si-value-code"]["children"] == "S-XY-2"
    assert out["si-value-region_path"]["children"] == "福建省/莆田市/仙游县"
    assert out["si-value-urban_rural"]["children"] == "—"
    assert out["si-field-kind"]["value"] == "学校"
    # every other school page carries the banner too
    assert BANNER in text(render(client, "/"))
    assert "前往填写" in text(render(client, "/training/T2022"))


def test_required_fields_are_refused_next_to_the_field(client, world):
    login(client, "13912345678")
    out = save(client, kind="学校", urban_rural="乡村", address="", phone="", principal="")
    assert out["si-field-address"]["invalid"] is True
    assert out["si-feedback-address"]["children"] == "必填"
    assert out["si-field-phone"]["invalid"] is True
    assert out["si-field-urban_rural"]["invalid"] is False
    out = save(client, kind="学校", urban_rural="郊区", address="东大路 1 号", phone="abc",
               principal="")
    assert out["si-feedback-urban_rural"]["children"]
    assert out["si-feedback-phone"]["children"]
    assert stored(world).urban_rural is None and entries(world) == []


def test_a_save_is_audited_with_old_and_new_values_and_lifts_the_banner(client, world):
    login(client, "13912345678")
    out = save(client, kind="学校", urban_rural="乡村", address="仙游县鲤城街道 8 号",
               phone="0594-8261234", principal="王建华")
    assert "已保存学校（机构）信息" in json.dumps(out["si-message"], ensure_ascii=False)
    row = stored(world)
    assert (row.urban_rural, row.address, row.phone, row.principal) == (
        "乡村", "仙游县鲤城街道 8 号", "0594-8261234", "王建华")
    [(action, school, detail)] = entries(world)
    assert (action, school) == ("school_update", "S-XY-2")
    detail = json.loads(detail)
    assert detail["old"]["urban_rural"] is None and detail["new"]["urban_rural"] == "乡村"
    assert detail["new"]["phone"] == "059***234" and detail["new"]["principal"] != "王建华"
    assert shown(client)["si-banner"]["style"] == {"display": "none"}
    assert BANNER not in text(render(client, "/"))
    # saving the same values again changes and logs nothing
    save(client, kind="学校", urban_rural="乡村", address="仙游县鲤城街道 8 号",
         phone="0594-8261234", principal="王建华")
    assert len(entries(world)) == 1


def test_name_code_and_region_stay_with_the_county_admin(world):
    with world.connect() as conn:
        uid = accounts.user_by_account(conn, "13912345678").id
        binding = conn.scalar(select(Binding.id).where(Binding.user_id == uid))
        scope = scope_of(conn, uid, binding)
    base = {"kind": "学校", "urban_rural": "镇区", "address": "a", "phone": "0594-1"}
    for key, value in (("name", "改名小学"), ("code", "S-XY-9"), ("region_code", "350304")):
        with world.begin() as conn, pytest.raises(schools.SchoolFormError) as refused:
            schools.update_school_info(conn, scope, {**base, key: value})
        assert key in refused.value.errors
    assert stored(world).name == "仙游县实验小学"
    # a region admin's scope has no own school
    with world.connect() as conn:
        xy = accounts.user_by_account(conn, "xianyou").id
        region_scope = scope_of(conn, xy, conn.scalar(
            select(Binding.id).where(Binding.user_id == xy)))
    with world.begin() as conn, pytest.raises(ScopeDenied):
        schools.update_school_info(conn, region_scope, base)


def test_a_region_admin_gets_nothing_from_these_callbacks(client, world):
    login(client, "xianyou")
    assert fire(client, SHOW, {"si-reload.data": 0}).status_code == 204
    resp = fire(client, "si-feedback-phone.children",
                {"si-save.n_clicks": 1, "si-field-urban_rural.value": "乡村"})
    assert resp.status_code == 204
    assert stored(world).urban_rural is None


def test_invisible_and_unstorable_characters_are_refused_next_to_the_field(client, world):
    login(client, "13912345678")
    for bad in ("东大路\udc001号", "东大路\u202e1号", "东大路\u20281号"):
        resp = fire(client, "si-feedback-phone.children",
                    {"si-save.n_clicks": 1, "si-reload.data": 0, "si-field-kind.value": "学校",
                     "si-field-urban_rural.value": "乡村", "si-field-address.value": bad,
                     "si-field-phone.value": "0594-1234567"})
        assert resp.status_code in (200, 400), resp.status_code
        if resp.status_code == 200:
            out = resp.get_json()["response"]
            assert out["si-field-address"]["invalid"] is True
    assert stored(world).urban_rural is None
