"""学校管理 (SPEC §4.4): the list, 新增/编辑 with the importer's rules, soft delete and 调整隶属
— and every way a request could reach a school or a region outside its scope."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, insert, select, update

from data_access import accounts, audit, codes, schools
from data_access.importers import ImportRefused, import_file
from data_access.models import (
    AuditLog,
    Binding,
    PermissionCode,
    School,
    Teacher,
    TrainingRecord,
)
from data_access.regions import upsert_region
from data_access.scope import ScopeDenied, authorize_school, scope_of
from tests.helpers import build_dataset

NOW = datetime(2026, 3, 5, 14, 2, 11)
F = schools.SchoolFilters()
HTML_NAME = '<img src=x onerror="alert(1)">实验<b>小学</b>'


def _scope(conn, account, role, target, name=None, phone=None):
    uid = accounts.create_user(conn, account, name or account, "Passw0rd!x", phone=phone)
    bid = accounts.grant(conn, uid, role, target)
    return scope_of(conn, uid, bid)


@pytest.fixture
def world(engine):
    """build_dataset's five schools, three more, a zone under 莆田市, admins at every level
    and a 学校管理员 for S-XY-1 (bound by code, with contact details)."""
    build_dataset(engine)
    with engine.begin() as conn:
        upsert_region(conn, "Z3503001", "北岸经济开发区", "350300", kind="zone")
        conn.execute(insert(School), [
            {"code": "S-XY-3", "name": "仙游县郊尾镇中心幼儿园", "region_code": "350322",
             "kind": "学校", "urban_rural": None},
            {"code": "S-HJ-1", "name": "涵江区教师进修学校", "region_code": "350303",
             "kind": "进修机构", "urban_rural": "城区"},
            {"code": "S-PT-1", "name": "莆田市直属中学", "region_code": "350300", "kind": "学校",
             "urban_rural": "城区"},
        ])
        conn.execute(insert(School).values(
            code="S-GONE", name="仙游县撤并小学", region_code="350322", kind="学校",
            urban_rural="乡村", deleted_at=datetime(2025, 1, 1)))
        s = {
            "fujian": _scope(conn, "fujian", "region_super", "350000"),
            "putian": _scope(conn, "putian", "region_training", "350300"),
            "sanming": _scope(conn, "sanming", "region_super", "350400"),
            "xianyou": _scope(conn, "xianyou", "region_training", "350322"),
            "licheng": _scope(conn, "licheng", "region_training", "350304"),
            "zone": _scope(conn, "zone", "region_training", "Z3503001"),
            "beijing": _scope(conn, "beijing", "region_super", "110000"),
        }
        issued = codes.issue(conn, s["xianyou"], "school_admin", "S-XY-1")
        uid = accounts.create_user(conn, "13912345678", "注册名", "Passw0rd!x")
        redeemed = codes.redeem(conn, uid, issued.code, contact_name="郑晓峰",
                                contact_phone="13912345678", org_title="校长")
        s["school"] = scope_of(conn, uid, redeemed.binding_id)
    return s


def _codes(rows):
    return [r.code for r in rows]


# --------------------------------------------------------------------------- the list


def test_list_is_the_scope_subtree_without_deleted_schools(engine, world):
    with engine.connect() as conn:
        assert _codes(schools.list_schools(conn, "350322", F)) == ["S-XY-1", "S-XY-2", "S-XY-3"]
        putian = _codes(schools.list_schools(conn, "350300", F, size=100))
        assert putian == ["S-PT-1", "S-HJ-1", "S-LC-1", "S-XY-1", "S-XY-2", "S-XY-3"]
        fujian = _codes(schools.list_schools(conn, "350000", F, size=100))
        assert set(fujian) == {"S-FJ-1", "S-PT-1", "S-HJ-1", "S-LC-1", "S-XY-1", "S-XY-2",
                               "S-XY-3", "S-SM-1"}
        assert schools.count_schools(conn, "350000", F) == 8
        assert schools.count_schools(conn, "110000", F) == 0


def test_rows_carry_path_activation_admin_name_and_masked_phone(engine, world):
    with engine.connect() as conn:
        rows = {r.code: r for r in schools.list_schools(conn, "350322", F)}
        rooted = schools.list_schools(conn, "350322", F, path_root="350300")
        assert {r.region_path for r in rooted} == {"莆田市/仙游县"}
    first = rows["S-XY-1"]
    assert first.values() == ["仙游县第一中学", "S-XY-1", "福建省/莆田市/仙游县", "学校", "城区",
                              "已激活", "郑晓峰", "139****5678"]
    assert rows["S-XY-3"].values() == ["仙游县郊尾镇中心幼儿园", "S-XY-3", "福建省/莆田市/仙游县",
                                       "学校", "", "未激活", "", ""]
    assert "13912345678" not in json.dumps([r.values() for r in rows.values()])


def test_filters_and_search_match_an_independent_computation(engine, world):
    with engine.begin() as conn:
        conn.execute(update(School).where(School.code == "S-LC-1")
                     .values(name="荔城区100%_实验学校"))
        every = schools.list_schools(conn, "350000", F, size=100)

    def expected(kind=None, urban=None, activated=None, q=""):
        out = []
        for r in every:
            if kind and r.kind != kind:
                continue
            if urban == schools.UNFILLED and r.urban_rural:
                continue
            if urban not in (None, schools.UNFILLED) and r.urban_rural != urban:
                continue
            if activated is not None and r.activated != activated:
                continue
            if q and q not in r.name and not r.code.startswith(q):
                continue
            out.append(r.code)
        return out

    cases = [dict(kind="进修机构"), dict(urban="乡村"), dict(urban=schools.UNFILLED),
             dict(urban="城区"), dict(activated=True), dict(activated=False), dict(q="仙游"),
             dict(q="S-XY"), dict(q="XY"), dict(q="100%"), dict(q="%"), dict(q="_"),
             dict(q="0%_"), dict(kind="学校", urban="城区", activated=False, q="中学")]
    with engine.connect() as conn:
        for case in cases:
            filters = schools.filters_from(case.get("q"), case.get("kind"), case.get("urban"),
                                           {True: "1", False: "0"}.get(case.get("activated")))
            got = _codes(schools.list_schools(conn, "350000", filters, size=100))
            assert got == expected(**case), case
            assert schools.count_schools(conn, "350000", filters) == len(got)
    assert expected(q="%") == expected(q="_") == ["S-LC-1"]  # wildcards are literal


def test_paging_and_keyset_iteration_agree(engine, world):
    with engine.begin() as conn:
        conn.execute(insert(School), [
            {"code": f"S-NH-{i:03d}", "name": f"宁化县第{i}小学", "region_code": "350424",
             "kind": "学校"} for i in range(130)])
        pages = [_codes(schools.list_schools(conn, "350400", F, page=p, size=50))
                 for p in (1, 2, 3, 4)]
        assert [len(p) for p in pages] == [50, 50, 31, 0]
        streamed = _codes(schools.iter_schools(conn, "350400", F, batch=7))
        assert streamed == pages[0] + pages[1] + pages[2]
        assert len(set(streamed)) == 131 == schools.count_schools(conn, "350400", F)
        # an unknown page size falls back to the default, a page below 1 to the first
        assert len(schools.list_schools(conn, "350400", F, page=-3, size=7)) == 20


@pytest.mark.parametrize("args", [
    dict(q="x" * 41), dict(q="仙\x00游"), dict(q=["仙游"]), dict(kind="大学"),
    dict(kind="学校' OR 1=1"), dict(urban_rural="郊区"), dict(activated="yes"),
    dict(activated=2), dict(urban_rural={"a": 1}),
])
def test_malformed_filters_are_refused(args):
    with pytest.raises(ScopeDenied):
        schools.filters_from(**args)


def test_filters_accept_what_the_screen_sends():
    assert schools.filters_from("  仙游 ", "学校", "未填写", "0") == schools.SchoolFilters(
        "仙游", "学校", "未填写", False)
    assert schools.filters_from(None, "", "", "") == F
    assert schools.filters_from(activated=True).activated is True


def test_a_school_outside_the_scope_cannot_be_read(engine, world):
    with engine.connect() as conn:
        assert schools.get_school(conn, world["xianyou"], "S-XY-2").name == "仙游县实验小学"
        for who, code in (("xianyou", "S-LC-1"), ("xianyou", "S-PT-1"), ("putian", "S-SM-1"),
                          ("putian", "S-FJ-1"), ("beijing", "S-XY-1"), ("xianyou", "S-GONE"),
                          ("xianyou", "NOPE"), ("xianyou", "S XY"), ("xianyou", None),
                          ("xianyou", ["S-XY-1"]), ("school", "S-XY-2")):
            with pytest.raises(ScopeDenied):
                schools.get_school(conn, world[who], code)


def test_regions_in_scope_are_where_a_school_may_be_added(engine, world):
    with engine.connect() as conn:
        assert schools.regions_in_scope(conn, world["xianyou"]) == [("350322", "仙游县")]
        putian = schools.regions_in_scope(conn, world["putian"])
        assert putian[:3] == [("350300", "莆田市"), ("350302", "莆田市/城厢区"),
                              ("350303", "莆田市/涵江区")]
        assert putian[-1] == ("Z3503001", "莆田市/北岸经济开发区")
        assert {c for c, _ in putian} == {"350300", "350302", "350303", "350304", "350305",
                                          "350322", "Z3503001"}
        with pytest.raises(ScopeDenied):
            schools.regions_in_scope(conn, world["school"])


# --------------------------------------------------------------------------- 新增


GOOD = {"code": "S-XY-9", "name": "仙游县第九中学", "region_code": "350322", "kind": "学校",
        "urban_rural": "乡村", "address": "仙游县鲤城街道 1 号", "phone": "0594-8281234",
        "principal": "王小明"}


def _audit(engine):
    with engine.connect() as conn:
        return [(r.action, r.scope_region, r.scope_school, json.loads(r.detail or "{}"))
                for r in conn.execute(select(AuditLog).order_by(AuditLog.id))]


def test_create_stores_the_school_and_logs_every_value(engine, world):
    with engine.begin() as conn:
        change = schools.create_school(conn, world["xianyou"], dict(GOOD), actor="xi***ou",
                                       ip="10.0.0.1", now=NOW)
    assert change.code == "S-XY-9"
    with engine.connect() as conn:
        row = schools.get_school(conn, world["xianyou"], "S-XY-9")
        assert (row.name, row.region_code, row.kind, row.urban_rural, row.address, row.phone,
                row.principal, row.activated) == (
            "仙游县第九中学", "350322", "学校", "乡村", "仙游县鲤城街道 1 号", "0594-8281234",
            "王小明", False)
        assert conn.scalar(select(School.updated_at).where(School.code == "S-XY-9")) == NOW
    action, region, school, detail = _audit(engine)[-1]
    assert (action, region, school) == ("school_create", "350322", "S-XY-9")
    assert detail["new"] == {"name": "仙游县第九中学", "region_code": "350322", "kind": "学校",
                             "urban_rural": "乡村", "address": "仙游县鲤城街道 1 号",
                             "phone": "059***234", "principal": "王**"}
    with engine.connect() as conn:
        entry = audit.entries_in_scope(conn, "350322")[0]
    assert (entry.action, entry.scope_name) == ("新增学校", "仙游县第九中学")
    assert entry.detail == ("新增学校「仙游县第九中学」（学校标识码：S-XY-9），所在区域：仙游县，"
                            "机构类型：学校，城乡类型：乡村，学校地址：仙游县鲤城街道 1 号，"
                            "联系电话：059***234，校长姓名：王**")


def test_create_defaults_and_trims_like_the_importer(engine, world):
    with engine.begin() as conn:
        schools.create_school(conn, world["putian"], {
            "code": " S-ZONE-1 ", "name": " 北岸实验小学\n", "region_code": "Z3503001"})
        stored = conn.execute(select(School.code, School.name, School.kind, School.urban_rural,
                                     School.address)
                              .where(School.code == "S-ZONE-1")).one()
    assert tuple(stored) == ("S-ZONE-1", "北岸实验小学", "学校", None, None)


BAD_FIELDS = [
    ("code", "", "必填"),
    ("code", "S XY 9", "不能包含空格"),
    ("code", "S" * 41, "不能超过 40 个字符"),
    ("code", "S-XY-1", "该学校标识码已被使用"),
    ("code", "S-GONE", "该学校标识码属于一所已删除的学校，不能再次使用"),
    ("code", "S\x00X", "不能包含控制字符（U+0000）"),
    ("name", "", "必填"),
    ("name", "   ", "必填"),
    ("name", "长" * 201, "不能超过 200 个字符"),
    ("name", "一中\x1b[31m", "不能包含控制字符（U+001B）"),
    ("name", "一\t中", "不能包含控制字符（U+0009）"),
    ("name", "一\u0085中", "不能包含控制字符（U+0085）"),
    ("name", "四中\x85", "不能包含控制字符（U+0085）"),  # str.strip() would drop these
    ("name", "\x1c三中", "不能包含控制字符（U+001C）"),
    ("address", "城东路\x0b", "不能包含控制字符（U+000B）"),
    ("name", "一\x00\x07中", "不能包含控制字符（U+0000、U+0007）"),
    ("region_code", "", "必填"),
    ("region_code", "999999", "所在区域不存在"),
    ("region_code", "350304", "所在区域不存在"),  # a county of the same city, not the scope's
    ("region_code", "350300", "所在区域不存在"),  # the scope's parent
    ("region_code", "35' OR '1'='1", "所在区域不存在"),
    ("region_code", "3" * 21, "不能超过 20 个字符"),
    ("kind", "大学", "「大学」不是有效的机构类型，应为：学校、教研机构、电教机构、进修机构、其他"),
    ("urban_rural", "郊区", "「郊区」不是有效的城乡类型，应为：城区、镇区、乡村"),
    ("address", "路" * 301, "不能超过 300 个字符"),
    ("phone", "请拨打总机", "不是有效的电话号码（如 0594-1234567 或 13800000000）"),
    ("phone", "1" * 41, "不能超过 40 个字符"),
    ("principal", "王" * 61, "不能超过 60 个字符"),
    ("principal", 12, "格式不正确"),
    ("name", {"$ne": ""}, "格式不正确"),

]


def test_create_refuses_each_bad_field_with_a_message_next_to_it(engine, world):
    for field, value, message in BAD_FIELDS:
        with engine.begin() as conn:
            with pytest.raises(schools.SchoolFormError) as exc:
                schools.create_school(conn, world["xianyou"], {**GOOD, field: value})
        assert exc.value.errors == {field: message}, (field, value)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(School)
                           .where(School.code == "S-XY-9")) == 0
    assert [a for a, *_ in _audit(engine) if a.startswith("school_")] == []


def test_create_reports_every_bad_field_at_once(engine, world):
    with engine.begin() as conn:
        with pytest.raises(schools.SchoolFormError) as exc:
            schools.create_school(conn, world["xianyou"], {"kind": "大学", "urban_rural": "郊区"})
    assert set(exc.value.errors) == {"code", "name", "region_code", "kind", "urban_rural"}


def test_html_in_a_name_is_stored_and_returned_as_plain_text(engine, world):
    with engine.begin() as conn:
        schools.create_school(conn, world["xianyou"], {**GOOD, "name": HTML_NAME})
    with engine.connect() as conn:
        assert conn.scalar(select(School.name).where(School.code == "S-XY-9")) == HTML_NAME
        row = [r for r in schools.list_schools(conn, "350322", F) if r.code == "S-XY-9"][0]
        assert row.values()[0] == HTML_NAME
        assert HTML_NAME in audit.entries_in_scope(conn, "350322")[0].detail


def test_a_school_scope_cannot_manage_schools(engine, world):
    with engine.begin() as conn:
        for call in (lambda: schools.create_school(conn, world["school"], dict(GOOD)),
                     lambda: schools.update_school(conn, world["school"], "S-XY-1", {"name": "x"}),
                     lambda: schools.delete_school(conn, world["school"], "S-XY-1"),
                     lambda: schools.move_school(conn, world["school"], "S-XY-1", "350304")):
            with pytest.raises(ScopeDenied):
                call()


def test_form_and_importer_apply_the_same_rules(engine, world, tmp_path):
    """Each value the form refuses, the importer refuses in the same field, and the reverse:
    one set of field checks (data_access.school_fields)."""
    cases = [("code", "S 9"), ("code", "S" * 41), ("name", "长" * 201), ("region_code", "999999"),
             ("kind", "大学"), ("urban_rural", "郊区"), ("kind", "进修机构"), ("urban_rural", "镇区"),
             ("name", "正常的名字"), ("code", "S-OK-1")]
    header = ["code", "name", "region_code", "kind", "urban_rural"]
    for n, (field, value) in enumerate(cases):
        row = {"code": f"S-CASE-{n}", "name": "学校", "region_code": "350322", "kind": "",
               "urban_rural": "", field: value}
        path = tmp_path / f"case{n}.csv"
        path.write_text("\n".join(",".join(r) for r in (header, [row[k] for k in header])),
                        encoding="utf-8")
        try:
            import_file(engine, "schools", path, id_key=b"k", dry_run=True,
                        errors_file=tmp_path / f"e{n}.csv")
            imported = None
        except ImportRefused as exc:
            imported = {e.column for e in exc.errors}
        with engine.begin() as conn:
            try:
                schools.create_school(conn, world["xianyou"], row)
                conn.rollback()
                formed = None
            except schools.SchoolFormError as exc:
                formed = set(exc.errors)
        assert imported == formed, (field, value)


# --------------------------------------------------------------------------- 编辑


def test_update_changes_the_fields_and_logs_old_and_new_values(engine, world):
    with engine.begin() as conn:
        change = schools.update_school(conn, world["xianyou"], "S-XY-3", {
            "code": "S-XY-3", "region_code": "350322", "name": "仙游县郊尾镇中心幼儿园（分园）",
            "kind": "学校", "urban_rural": "镇区", "address": "郊尾镇", "phone": "13800001111",
            "principal": "李华"}, actor="xi***ou", now=NOW)
    assert change.new == {"name": "仙游县郊尾镇中心幼儿园（分园）", "urban_rural": "镇区",
                          "address": "郊尾镇", "phone": "13800001111", "principal": "李华"}
    action, region, school, detail = _audit(engine)[-1]
    assert (action, region, school) == ("school_update", "350322", "S-XY-3")
    assert detail["old"] == {"name": "仙游县郊尾镇中心幼儿园", "urban_rural": None,
                             "address": None, "phone": None, "principal": None}
    assert detail["new"]["phone"] == "138****1111" and detail["new"]["principal"] == "李*"
    with engine.connect() as conn:
        sentence = audit.entries_in_scope(conn, "350322")[0].detail
    assert sentence == (
        "编辑学校「仙游县郊尾镇中心幼儿园（分园）」（学校标识码：S-XY-3）：学校名称由「仙游县郊尾镇中心幼儿园」"
        "改为「仙游县郊尾镇中心幼儿园（分园）」；城乡类型由「—」改为「镇区」；学校地址由「—」改为「郊尾镇」；"
        "联系电话由「—」改为「138****1111」；校长姓名由「—」改为「李*」")


def test_update_keeps_kind_and_urban_rural_when_empty_and_clears_the_others(engine, world):
    with engine.begin() as conn:
        schools.update_school(conn, world["xianyou"], "S-XY-2",
                              {"kind": "教研机构", "address": "城东路", "principal": "王五",
                               "phone": "0594-1"})
        schools.update_school(conn, world["xianyou"], "S-XY-2",
                              {"kind": "", "urban_rural": "", "address": "", "principal": None})
        row = conn.execute(select(School.kind, School.urban_rural, School.address,
                                  School.principal, School.phone)
                           .where(School.code == "S-XY-2")).one()
    # a field left out of the request is not touched; an empty one clears it
    assert tuple(row) == ("教研机构", "城区", None, None, "0594-1")


def test_an_update_that_changes_nothing_writes_nothing(engine, world):
    with engine.begin() as conn:
        change = schools.update_school(conn, world["xianyou"], "S-XY-2",
                                       {"name": "仙游县实验小学", "urban_rural": "城区"})
    assert not change.changed
    assert [a for a, *_ in _audit(engine) if a == "school_update"] == []


def test_update_refuses_bad_values_code_and_region_changes(engine, world):
    with engine.begin() as conn:
        with pytest.raises(schools.SchoolFormError) as exc:
            schools.update_school(conn, world["xianyou"], "S-XY-2", {
                "code": "S-XY-22", "region_code": "350304", "name": "", "kind": "大学",
                "phone": "电话"})
    assert exc.value.errors == {
        "code": "学校标识码不能修改", "region_code": "所在区域请通过「调整隶属」修改", "name": "必填",
        "kind": "「大学」不是有效的机构类型，应为：学校、教研机构、电教机构、进修机构、其他",
        "phone": "不是有效的电话号码（如 0594-1234567 或 13800000000）"}
    with engine.connect() as conn:
        assert conn.scalar(select(School.region_code).where(School.code == "S-XY-2")) == "350322"


def test_a_school_outside_the_scope_or_deleted_cannot_be_edited(engine, world):
    attempts = [("xianyou", "S-LC-1"), ("xianyou", "S-PT-1"), ("licheng", "S-XY-1"),
                ("putian", "S-SM-1"), ("sanming", "S-XY-1"), ("beijing", "S-FJ-1"),
                ("xianyou", "S-GONE"), ("fujian", "S-GONE"), ("xianyou", "S-XY-%"),
                ("xianyou", 5), ("xianyou", "")]
    with engine.begin() as conn:
        for who, code in attempts:
            with pytest.raises(ScopeDenied):
                schools.update_school(conn, world[who], code, {"name": "被篡改"})
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(School)
                           .where(School.name == "被篡改")) == 0


# --------------------------------------------------------------------------- 删除


def test_delete_is_soft_ends_the_admin_binding_and_keeps_history(engine, world):
    with engine.begin() as conn:
        teachers_before = conn.scalar(select(func.count()).select_from(Teacher))
        records_before = conn.scalar(select(func.count()).select_from(TrainingRecord))
        school_uid = world["school"].user_id
        assert scope_of(conn, school_uid, world["school"].binding_id) is not None
        change = schools.delete_school(conn, world["xianyou"], "S-XY-1", actor="xi***ou",
                                       now=NOW)
    assert change.binding_id == world["school"].binding_id
    with engine.connect() as conn:
        assert conn.scalar(select(School.deleted_at).where(School.code == "S-XY-1")) == NOW
        assert "S-XY-1" not in _codes(schools.list_schools(conn, "350000", F, size=100))
        # the binding has ended: the admin's very next request has no scope
        binding = conn.execute(select(Binding.removed_at, Binding.removed_by)
                               .where(Binding.id == change.binding_id)).one()
        assert tuple(binding) == (NOW, world["xianyou"].user_id)
        assert scope_of(conn, school_uid, world["school"].binding_id) is None
        assert accounts.active_bindings(conn, school_uid) == []
        # history kept
        assert conn.scalar(select(func.count()).select_from(Teacher)) == teachers_before
        assert conn.scalar(select(func.count()).select_from(TrainingRecord)) == records_before
    action, region, school, detail = _audit(engine)[-1]
    assert (action, region, school) == ("school_delete", "350322", "S-XY-1")
    assert detail["binding_id"] == change.binding_id
    assert detail["old"]["name"] == "仙游县第一中学"
    with engine.connect() as conn:
        entry = audit.entries_in_scope(conn, "350322")[0]
    assert entry.action == "删除学校"
    assert entry.detail.startswith("删除学校「仙游县第一中学」（学校标识码：S-XY-1）（软删除，历史数据保留），"
                                   "所在区域：仙游县，机构类型：学校，城乡类型：城区")
    assert entry.detail.endswith("其学校管理员 郑晓峰（139****5678） 的绑定同时结束")


def test_delete_revokes_the_open_code_of_the_school(engine, world):
    with engine.begin() as conn:
        issued = codes.issue(conn, world["xianyou"], "school_admin", "S-XY-2")
        schools.delete_school(conn, world["xianyou"], "S-XY-2", now=NOW)
        assert conn.scalar(select(PermissionCode.revoked_at)
                           .where(PermissionCode.id == issued.id)) == NOW
        uid = accounts.create_user(conn, "late", "late", "Passw0rd!x")
        with pytest.raises(codes.CodeError):
            codes.redeem(conn, uid, issued.code, contact_name="x", contact_phone="1",
                         org_title="x")
    assert _audit(engine)[-1][3]["codes_revoked"] == 1


def test_a_school_outside_the_scope_or_deleted_cannot_be_deleted(engine, world):
    with engine.begin() as conn:
        for who, code in (("xianyou", "S-LC-1"), ("licheng", "S-XY-1"), ("putian", "S-FJ-1"),
                          ("beijing", "S-XY-2"), ("fujian", "S-GONE"), ("xianyou", {"x": 1})):
            with pytest.raises(ScopeDenied):
                schools.delete_school(conn, world[who], code)
        schools.delete_school(conn, world["xianyou"], "S-XY-2")
        with pytest.raises(ScopeDenied):
            schools.delete_school(conn, world["xianyou"], "S-XY-2")
        with pytest.raises(ScopeDenied):  # a deleted school cannot be edited either
            schools.update_school(conn, world["xianyou"], "S-XY-2", {"name": "复活"})
    with engine.connect() as conn:
        live = conn.scalar(select(func.count()).select_from(School)
                           .where(School.deleted_at.is_(None)))
    assert live == 7


# --------------------------------------------------------------------------- 调整隶属


def test_a_city_admin_moves_a_school_between_its_counties(engine, world):
    with engine.begin() as conn:
        targets = schools.transfer_targets(conn, world["putian"], "S-XY-1")
        assert [c for c, _ in targets] == ["350302", "350303", "350304", "350305", "Z3503001"]
        assert dict(targets)["350304"] == "莆田市/荔城区"
        change = schools.move_school(conn, world["putian"], "S-XY-1", "350304", actor="pu***an",
                                     now=NOW)
    assert change.binding_id == world["school"].binding_id
    with engine.connect() as conn:
        assert conn.scalar(select(School.region_code).where(School.code == "S-XY-1")) == "350304"
        # the school admin keeps the binding; their scope follows the school
        assert scope_of(conn, world["school"].user_id, world["school"].binding_id) is not None
        assert authorize_school(conn, world["licheng"], "S-XY-1") == "S-XY-1"
        with pytest.raises(ScopeDenied):
            authorize_school(conn, world["xianyou"], "S-XY-1")
        # both counties' logs show the move
        for region in ("350322", "350304"):
            entry = audit.entries_in_scope(conn, region)[0]
            assert entry.action == "调整隶属"
            assert entry.detail == ("调整学校「仙游县第一中学」（学校标识码：S-XY-1）的隶属：由「仙游县」"
                                    "调整到「荔城区」，其学校管理员 郑晓峰（139****5678） 的管理范围随之调整")
    action, region, school, detail = _audit(engine)[-1]
    assert (action, region, school) == ("school_move", "350322", "S-XY-1")
    assert (detail["old"], detail["new"]) == ({"region_code": "350322"}, {"region_code": "350304"})


def test_a_city_admin_cannot_move_into_another_city_or_up_to_itself(engine, world):
    with engine.begin() as conn:
        for target in ("350424", "350400", "350000", "110101", "350300", "350322", "NOPE",
                       "35' OR 1=1", None, 350304, ["350304"]):
            with pytest.raises(schools.SchoolError):
                schools.move_school(conn, world["putian"], "S-XY-1", target)
        with pytest.raises(schools.SchoolError, match="本级直属学校"):
            schools.move_school(conn, world["putian"], "S-PT-1", "350304")
        assert schools.transfer_targets(conn, world["putian"], "S-PT-1") == []
        # schools of another city cannot be moved, in or out
        for code in ("S-SM-1", "S-FJ-1", "S-GONE"):
            with pytest.raises(ScopeDenied):
                schools.move_school(conn, world["putian"], code, "350304")
            with pytest.raises(ScopeDenied):
                schools.transfer_targets(conn, world["putian"], code)
    with engine.connect() as conn:
        moved = dict(conn.execute(select(School.code, School.region_code)).all())
    assert (moved["S-XY-1"], moved["S-SM-1"], moved["S-PT-1"]) == ("350322", "350424", "350300")
    assert [a for a, *_ in _audit(engine) if a == "school_move"] == []


def test_county_and_zone_admins_cannot_transfer(engine, world):
    with engine.begin() as conn:
        conn.execute(insert(School).values(code="S-ZN-1", name="北岸小学",
                                           region_code="Z3503001", kind="学校"))
        for who, code, target in (("xianyou", "S-XY-1", "350322"),
                                  ("xianyou", "S-XY-1", "350304"),
                                  ("zone", "S-ZN-1", "350322")):
            assert not schools.may_transfer(conn, world[who])
            assert schools.transfer_targets(conn, world[who], code) == []
            with pytest.raises(schools.SchoolError, match="区县级管理员不能调整学校隶属"):
                schools.move_school(conn, world[who], code, target)
        assert schools.may_transfer(conn, world["putian"])
        assert schools.may_transfer(conn, world["fujian"])


def test_a_province_admin_moves_schools_between_cities(engine, world):
    with engine.begin() as conn:
        targets = dict(schools.transfer_targets(conn, world["fujian"], "S-XY-2"))
        assert "350000" not in targets and "350322" not in targets
        assert {"350100", "350300", "350400", "350424", "350304", "Z3503001"} <= set(targets)
        assert not any(c.startswith("11") for c in targets)
        # into a county of another city, and to a city as its 直属学校
        schools.move_school(conn, world["fujian"], "S-XY-2", "350424")
        schools.move_school(conn, world["fujian"], "S-HJ-1", "350400")
        # the province's own 直属学校 stays, nothing leaves the province
        with pytest.raises(schools.SchoolError, match="本级直属学校"):
            schools.move_school(conn, world["fujian"], "S-FJ-1", "350424")
        for target in ("110101", "350000", "440000"):
            with pytest.raises(schools.SchoolError):
                schools.move_school(conn, world["fujian"], "S-XY-3", target)
        # a moved school now belongs to the other city's admins
        assert authorize_school(conn, world["sanming"], "S-XY-2") == "S-XY-2"
        with pytest.raises(ScopeDenied):
            schools.get_school(conn, world["putian"], "S-XY-2")
        rows = dict(conn.execute(select(School.code, School.region_code)).all())
    assert (rows["S-XY-2"], rows["S-HJ-1"], rows["S-XY-3"]) == ("350424", "350400", "350322")


def test_another_province_admin_cannot_touch_or_receive_a_school(engine, world):
    with engine.begin() as conn:
        with pytest.raises(ScopeDenied):
            schools.move_school(conn, world["beijing"], "S-XY-1", "110101")
        with pytest.raises(schools.SchoolError):
            schools.move_school(conn, world["sanming"], "S-SM-1", "350322")  # into 莆田市
        with pytest.raises(schools.SchoolError):
            schools.move_school(conn, world["sanming"], "S-SM-1", "350300")
    with engine.connect() as conn:
        assert conn.scalar(select(School.region_code).where(School.code == "S-SM-1")) == "350424"


def test_moving_into_the_same_region_is_refused(engine, world):
    with engine.begin() as conn:
        with pytest.raises(schools.SchoolError, match="无需调整"):
            schools.move_school(conn, world["putian"], "S-LC-1", "350304")


# --------------------------------------------------------------------------- audit


def test_the_audit_log_keeps_no_raw_personal_data_of_a_school(engine, world):
    with engine.begin() as conn:
        schools.create_school(conn, world["xianyou"], {**GOOD, "phone": "13512345678",
                                                        "principal": "欧阳明月"})
        schools.update_school(conn, world["xianyou"], "S-XY-9", {"phone": "13587654321",
                                                                 "principal": "司马光"})
        schools.delete_school(conn, world["xianyou"], "S-XY-9")
    with engine.connect() as conn:
        stored = " ".join(conn.scalars(select(AuditLog.detail)))
    for raw in ("13512345678", "13587654321", "欧阳明月", "司马光"):
        assert raw not in stored
    assert "135****5678" in stored and "欧***" in stored and "司**" in stored


def test_school_sentences_survive_odd_stored_values(engine, world):
    with engine.begin() as conn:
        for action in ("school_create", "school_update", "school_delete", "school_move"):
            for detail in ({}, {"school": ["x"], "old": "x", "new": 5, "binding_id": "y"},
                           {"school": "S-XY-1", "old": {"region_code": {"a": 1}},
                            "new": {"bogus": "\x00"}, "codes_revoked": True}):
                audit.record(conn, action, region_code="350322", detail=detail, now=NOW)
    with engine.connect() as conn:
        rows = audit.entries_in_scope(conn, "350322")
    assert len(rows) == 12
    assert all(r.detail and "{" not in r.detail and "\x00" not in r.detail for r in rows)
