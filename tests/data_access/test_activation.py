"""激活进度 queries (SPEC §2, §4.3) against an independent computation of every cell."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert, update

from data_access import activation as act
from data_access.models import Binding, School, User
from data_access.regions import get_region
from tests import activation_fixture as fx


@pytest.fixture
def tree(engine):
    fx.build(engine)
    return engine


@pytest.fixture
def oracle(tree):
    return fx.Oracle(fx.parents_of(tree))


@pytest.fixture
def names(tree):
    return fx.names_of(tree)


def _table(engine, code):
    with engine.connect() as conn:
        return act.activation_table(conn, get_region(conn, code))


def _cells(table) -> tuple[list[list[str]], list[list[str]]]:
    regions, schools = act.table_records(table)
    region_cells = [[r["name"]] + [r[f] for _, f in act.TABLE_COLUMNS] for r in regions]
    school_cells = [[r[f] for _, f in act.SCHOOL_COLUMNS] for r in schools]
    return region_cells, school_cells


EVERY_REGION = [code for code, *_ in fx.REGIONS]


@pytest.mark.parametrize("code", EVERY_REGION)
def test_every_cell_matches_the_independent_computation(tree, oracle, names, code):
    assert _cells(_table(tree, code)) == oracle.table(code, names)


def test_the_root_table_in_detail(tree, oracle, names):
    regions, schools = _cells(_table(tree, "T0"))
    assert schools == []
    assert [r[0] for r in regions] == ["测试省", "直属学校", "甲市", "乙市", "丙区"]
    # 测试省: 35 live schools (the deleted one left out), 12 activated; 10 regions below,
    # 4 with a current region admin (T1, T11, T12Z, T13; T3's was removed, T11 counts once),
    # 7 holding an activated school (not T13, T1Z, nor T22 whose only school is deleted)
    assert regions[0] == ["测试省", "34.3%", "35", "12", "40.0%", "10", "4", "7"]
    # 直属学校 of the province: school columns only
    assert regions[1] == ["直属学校", "33.3%", "3", "1", "--", "--", "--", "--"]
    # 乙市: no region admin at all; T22 holds only a deleted school (not covered)
    assert regions[3] == ["乙市", "18.8%", "16", "3", "0.0%", "2", "0", "1"]
    # 丙区 is a county under the province: no regions below it
    assert regions[4] == ["丙区", "50.0%", "2", "1", "--", "0", "0", "0"]


def test_city_level_direct_schools_and_a_zone_under_a_county(tree, oracle, names):
    regions, _ = _cells(_table(tree, "T1"))
    assert [r[0] for r in regions] == ["甲市", "直属学校", "甲一县", "甲二县", "甲三县", "甲市高新区"]
    assert regions[1] == ["直属学校", "50.0%", "2", "1", "--", "--", "--", "--"]
    # 甲二县 has its zone below it: one region, activated and covered
    assert regions[3] == ["甲二县", "42.9%", "7", "3", "100.0%", "1", "1", "1"]
    # a region without schools: `--` for the school ratio, zero counts
    assert regions[4] == ["甲三县", "--", "0", "0", "--", "0", "0", "0"]


def test_a_region_without_child_regions_lists_its_schools(tree, oracle, names):
    table = _table(tree, "T11")
    assert table.schools_as_rows
    regions, schools = _cells(table)
    assert regions == [["甲一县", "100.0%", "3", "3", "--", "0", "0", "0"]]
    assert schools == [
        ["甲一县第一中学", "T11-1", "已激活", "孙三", "138****0003"],
        ["甲一县城关小学", "T11-2", "已激活", "李四", "138****0004"],
        ["甲一县教师进修学校", "T11-3", "已激活", "周五", ""],
    ]
    # a removed binding does not count
    _, schools = _cells(_table(tree, "T3"))
    assert schools == [["丙区第一中学", "T3-1", "已激活", "沈十四", "138****0014"],
                       ["丙区中心小学", "T3-2", "未激活", "", ""]]


def test_a_region_whose_only_school_is_deleted(tree):
    table = _table(tree, "T22")
    assert table.schools_as_rows
    regions, schools = _cells(table)
    assert regions == [["乙二县", "--", "0", "0", "--", "0", "0", "0"]]
    assert schools == []


def test_the_contact_given_at_binding_else_the_registered_name(tree):
    with tree.begin() as conn:
        conn.execute(update(Binding).where(Binding.school_code == "T3-1")
                     .values(contact_name=None, contact_phone=None))
        conn.execute(update(User).where(User.id == Binding.user_id,
                                        Binding.school_code == "T3-1")
                     .values(name="沈注册", phone="13912345678"))
    _, schools = _cells(_table(tree, "T3"))
    assert schools[0] == ["丙区第一中学", "T3-1", "已激活", "沈注册", "139****5678"]


def test_the_table_is_live(tree, names):
    """A binding made or removed a moment ago counts at once (no snapshot involved)."""
    before = _cells(_table(tree, "T1Z"))[0][0]
    assert before[1:4] == ["0.0%", "2", "0"]
    with tree.begin() as conn:
        uid = conn.execute(insert(User).values(
            account="fresh", password_hash="x", name="新管理员", created_at=datetime.now(),
            is_active=True).returning(User.id)).scalar_one()
        conn.execute(insert(Binding).values(user_id=uid, role="school_admin",
                                            school_code="T1Z-2", created_at=datetime.now()))
    assert _cells(_table(tree, "T1Z"))[0][0][1:4] == ["50.0%", "2", "1"]
    assert _cells(_table(tree, "T1"))[0][0][7] == "4"  # T1Z now covered too (3 before)
    with tree.begin() as conn:
        conn.execute(update(School).where(School.code == "T1Z-2")
                     .values(deleted_at=datetime.now()))
    assert _cells(_table(tree, "T1Z"))[0][0][1:4] == ["0.0%", "1", "0"]


def test_ratios_round_half_up_on_one_decimal():
    assert act.ratio(3, 16) == "18.8%"  # 18.75
    assert act.ratio(1, 16) == "6.3%"  # 6.25 (banker's rounding would give 6.2)
    assert act.ratio(67, 80) == "83.8%"  # 83.75
    assert act.ratio(5, 6) == "83.3%"
    assert act.ratio(0, 7) == "0.0%"
    assert act.ratio(7, 7) == "100.0%"
    assert act.ratio(0, 0) == "--"


def test_only_child_regions_are_links(tree):
    regions, _ = act.table_records(_table(tree, "T0"))
    assert [(r["kind"], r["code"]) for r in regions] == [
        ("current", ""), ("direct", ""), ("region", "T1"), ("region", "T2"), ("region", "T3")]
    assert len({r["row_id"] for r in regions}) == len(regions)


def test_other_provinces_never_count(tree):
    with tree.connect() as conn:
        fujian = act.activation_table(conn, get_region(conn, "350000"))
    current = fujian.rows[0].counts
    assert (current.schools, current.activated) == (1, 1)  # the one school placed there
    assert current.regions_activated == 0  # its admin sits on 福建省 itself, not below it
    assert current.covered == 2  # 莆田市 and 仙游县


# --------------------------------------------------------------------------- 未激活学校


def _page(engine, code, query="", page=1, size=10):
    with engine.connect() as conn:
        return act.unactivated_page(conn, get_region(conn, code), query, page, size)


def _all(engine, code, query="", batch=2000):
    with engine.connect() as conn:
        return list(act.iter_unactivated(conn, get_region(conn, code), query, batch))


@pytest.mark.parametrize("code", EVERY_REGION)
def test_unactivated_schools_of_every_subtree(tree, oracle, names, code):
    expected = oracle.unactivated(code)
    rows = _all(tree, code)
    assert [(s.code, s.name, s.region_path, s.kind) for s in rows] == [
        (s.code, s.name, oracle.path(s.region, names), s.kind) for s in expected]
    with tree.connect() as conn:
        assert act.count_unactivated(conn, get_region(conn, code)) == len(expected)


def test_the_root_list_in_detail(tree):
    rows = _all(tree, "T0")
    assert len(rows) == 23
    assert rows[0].code == "T0-D2" and rows[0].region_path == "测试省"
    assert rows[0].kind == "教研机构"
    zone = [r for r in rows if r.region_code == "T12Z"]
    assert [r.code for r in zone] == ["T12Z-2"]
    assert zone[0].region_path == "测试省/甲市/甲二县/甲二开发区"
    codes = {r.code for r in rows}
    assert "T22-1" not in codes  # deleted
    assert "T12-1" not in codes  # re-issued binding: activated
    assert "T3-2" in codes  # its admin was removed


@pytest.mark.parametrize("query, expected", [
    ("小学", None),
    ("  中心小学  ", None),  # surrounding spaces are ignored
    ("t21-0", None),  # the start of a 学校标识码, letters in any case
    ("T21-1", None),
    ("21-0", []),  # a code matches from its start only
    ("100%", ["T12Z-2"]),  # LIKE wildcards are literal
    ("%", ["T12Z-2"]),
    ("_", ["T12Z-2"]),
    ("<b>石壁", ["T12-4"]),  # HTML in a name is plain text
    ("不存在的学校", []),
])
def test_search_by_name_fragment_or_code_start(tree, oracle, query, expected):
    got = [s.code for s in _all(tree, "T0", query)]
    want = [s.code for s in oracle.unactivated("T0", query)]
    assert got == want
    if expected is None:
        assert got
    else:
        assert got == expected


def test_search_edge_cases(tree, oracle):
    everything = [s.code for s in _all(tree, "T0")]
    assert [s.code for s in _all(tree, "T0", "\x00小学")] == everything  # control chars
    assert act.clean_query(None) == "" and act.clean_query(42) == ""
    assert act.clean_query("x" * 500) == "x" * act.QUERY_MAX
    assert [s.code for s in _all(tree, "T0", "   ")] == everything


def test_paging_counts_and_clamps(tree, oracle):
    expected = [s.code for s in oracle.unactivated("T0")]
    assert len(expected) == 23
    seen = []
    for n in (1, 2, 3):
        page = _page(tree, "T0", page=n, size=10)
        assert (page.total, page.pages, page.page, page.size) == (23, 3, n, 10)
        seen += [r.code for r in page.rows]
    assert seen == expected
    last = _page(tree, "T0", page=99, size=10)
    assert last.page == 3 and [r.code for r in last.rows] == expected[20:]
    assert [r.code for r in _page(tree, "T0", page=2, size=20).rows] == expected[20:]
    odd = _page(tree, "T0", page="2", size=13)  # anything odd: page 1 of 10
    assert (odd.page, odd.size) == (1, 10)
    assert _page(tree, "T0", page=True).page == 1
    searched = _page(tree, "T0", "小学", page=1, size=50)
    assert searched.total == len(oracle.unactivated("T0", "小学")) == len(searched.rows)
    empty = _page(tree, "T13")
    assert (empty.total, empty.pages, empty.page, empty.rows) == (0, 1, 1, [])


def test_batched_reading_sees_every_row_once(tree, oracle):
    expected = [s.code for s in oracle.unactivated("T0")]
    for batch in (1, 2, 5, 23, 24):
        assert [s.code for s in _all(tree, "T0", batch=batch)] == expected
    assert [s.code for s in _all(tree, "T0", "小学", batch=3)] == [
        s.code for s in oracle.unactivated("T0", "小学")]


def test_schools_with_an_open_code(tree):
    from datetime import timedelta

    from data_access.models import PermissionCode

    now = datetime(2026, 3, 1, 12, 0)
    rows = [("T12-2", None, None, now + timedelta(days=3)),  # open
            ("T12-5", now, None, now + timedelta(days=3)),  # redeemed
            ("T1Z-1", None, now, now + timedelta(days=3)),  # revoked
            ("T1Z-2", None, None, now - timedelta(days=1))]  # expired
    with tree.begin() as conn:
        for i, (school, redeemed, revoked, expires) in enumerate(rows):
            conn.execute(insert(PermissionCode).values(
                code_hash=f"h{i}", hint="ABCD", role="school_admin", school_code=school,
                issued_at=now, expires_at=expires, redeemed_at=redeemed, revoked_at=revoked))
    with tree.connect() as conn:
        found = act.schools_with_open_code(conn, ["T12-2", "T12-5", "T1Z-1", "T1Z-2", "T3-2"],
                                           now=now)
        assert found == {"T12-2"}
        assert act.schools_with_open_code(conn, [], now=now) == set()
