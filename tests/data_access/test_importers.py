"""Import files (SPEC §7.1): formats, headers, every error class, all-or-nothing, idempotence."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import pytest

from data_access.privacy import mask_account
from openpyxl import Workbook
from sqlalchemy import select, text, update

from data_access import importers, privacy
from data_access.importers import ImportRefused, ImportResult, RowError, import_file
from data_access.models import Region, School, Teacher, TeacherCount, Training, TrainingRecord
from data_access.regions import is_within, path_names

KEY = b"test-id-key"
NOW = datetime(2024, 3, 1, 9, 30)
LATER = datetime(2024, 3, 2, 10, 0)
ID_NUMBER = "350102199001010375"

TABLES = ("regions", "region_closure", "schools", "teachers", "trainings", "training_records",
          "teacher_counts")

SCHOOLS = [
    ["code", "name", "region_code", "kind", "urban_rural"],
    ["S1", "宁化一中", "350424", "", "乡村"],
    ["S2", "福州教研室", "350102", "教研机构", "城区"],
    ["SD", "撤并小学", "350424", "", ""],
]
TEACHERS = [
    ["account", "name", "school_code", "stage", "subject", "title", "id_type", "id_number",
     "cert_status", "applied_at"],
    ["13800000001", "张三", "S1", "小学", "语文", "一级教师", "居民身份证", ID_NUMBER, "",
     "2022.07.20 08:30"],
    ["13800000002", "李四", "S1", "初中", "数学", "", "", "", "未审核", "2022/7/2"],
    ["13800000003", "王五", "S2", "高中", "英语", "未定级", "", "", "已通过", ""],
]
TRAININGS = [
    ["code", "name", "start", "end", "hours_cap", "created_at"],
    ["T1", "2022年暑期教师研修", "2022-07-20 00:00", "2022.08.31 23:59", "50", "2022-07-01"],
    ["T2", "2023年寒假教师研修", "2023/1/10 0:00", "2023/2/28 23:59:59", "30.5", ""],
]
RECORDS = [
    ["training_code", "account", "hours", "study_seconds"],
    ["T1", "13800000001", "12.5", "3723"],
    ["T1", "13800000002", "50", "1:02:03"],
    ["T2", "13800000001", "0", "100:00:00"],
]
COUNTS = [
    ["region_code", "stage", "count"],
    ["350000", "", "445000"],
    ["350000", "小学", "180000"],
    ["350424", "", "3200"],
]


# --------------------------------------------------------------------------- helpers


def write_csv(path, rows, encoding="utf-8"):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path, rows):
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def run(engine, kind, tmp_path, rows, *, name=None, encoding="utf-8", now=NOW, **kw):
    path = write_csv(tmp_path / (name or f"{kind}.csv"), rows, encoding)
    return import_file(engine, kind, path, id_key=KEY, now=now, **kw)


def refused(engine, kind, tmp_path, rows, **kw) -> list[str]:
    with pytest.raises(ImportRefused) as exc:
        run(engine, kind, tmp_path, rows, **kw)
    return [str(e) for e in exc.value.errors]


def snapshot(engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            out[table] = sorted(tuple(repr(v) for v in r) for r in rows)
    return out


def result(kind, rows, inserted=0, updated=0, unchanged=0, dry_run=False):
    return ImportResult(kind, rows, inserted, updated, unchanged, dry_run)


@pytest.fixture(autouse=True)
def _copy_from_two_rows(monkeypatch):
    """On PostgreSQL every write of two rows or more goes through COPY (a production import
    switches at COPY_MIN_ROWS), so these tests check the COPY path and the row path both."""
    monkeypatch.setattr(importers, "COPY_MIN_ROWS", 2)


@pytest.fixture
def world(engine, tmp_path):
    """Schools (one soft-deleted), teachers and trainings; returns the engine."""
    run(engine, "schools", tmp_path, SCHOOLS)
    with engine.begin() as conn:
        conn.execute(update(School).where(School.code == "SD").values(deleted_at=NOW))
    run(engine, "teachers", tmp_path, TEACHERS)
    run(engine, "trainings", tmp_path, TRAININGS)
    return engine


def one(engine, stmt):
    with engine.connect() as conn:
        return conn.execute(stmt).one()


# --------------------------------------------------------------------------- each kind


def test_regions_import_orders_parents_defaults_kinds_and_rebuilds_closure(engine, tmp_path):
    rows = [
        ["code", "name", "parent_code", "kind"],
        ["PT2", "平潭二区", "PT1", ""],  # the parent comes later in the file
        ["PT1", "平潭综合实验区", "350000", "功能区"],
        ["MZ01", "湄洲岛", "350300", ""],
        ["350300", "莆田市（新）", "350000", ""],  # rename a catalogue region
        ["HK", "示范省", "", ""],  # a new top-level region
    ]
    assert run(engine, "regions", tmp_path, rows) == result("regions", 5, inserted=4, updated=1)
    with engine.connect() as conn:
        got = {r.code: r for r in conn.execute(select(Region).where(
            Region.code.in_(["PT1", "PT2", "MZ01", "350300", "HK"])))}
        assert path_names(conn, "PT2") == "福建省/平潭综合实验区/平潭二区"
        assert is_within(conn, "350000", "PT2") and is_within(conn, "350300", "MZ01")
    assert (got["PT1"].kind, got["PT2"].kind, got["MZ01"].kind) == ("zone", "zone", "county")
    assert (got["HK"].kind, got["HK"].level, got["HK"].parent_code) == ("province", 1, None)
    assert (got["PT1"].level, got["PT2"].level, got["MZ01"].level) == (2, 3, 3)
    assert {got[c].source for c in ("PT1", "PT2", "MZ01")} == {"import"}
    assert (got["350300"].name, got["350300"].kind, got["350300"].source) == (
        "莆田市（新）", "prefecture", "catalogue")

    before = snapshot(engine)
    assert run(engine, "regions", tmp_path, rows) == result("regions", 5, unchanged=5)
    assert snapshot(engine) == before

    moved = [["区域代码", "区域名称", "上级区域代码"], ["MZ01", "湄洲岛", "350000"]]
    assert run(engine, "regions", tmp_path, moved) == result("regions", 1, updated=1)
    with engine.connect() as conn:
        assert path_names(conn, "MZ01") == "福建省/湄洲岛"
        assert conn.scalar(select(Region.kind).where(Region.code == "MZ01")) == "county"


def test_schools_chinese_headers_in_any_order_gbk_and_defaults(engine, tmp_path):
    rows = [
        ["城乡类型", "学校标识码", "所在区域代码", "学校名称", "机构类型"],
        ["", "S1", "350424", "宁化一中", ""],
        ["城区", "S2", "350102", "福州教研室", "教研机构"],
    ]
    assert run(engine, "schools", tmp_path, rows, encoding="gbk") == result(
        "schools", 2, inserted=2)
    with engine.connect() as conn:
        got = conn.execute(select(School.code, School.name, School.region_code, School.kind,
                                  School.urban_rural, School.updated_at)
                           .order_by(School.code)).all()
    assert [tuple(r) for r in got] == [
        ("S1", "宁化一中", "350424", "学校", None, NOW),
        ("S2", "福州教研室", "350102", "教研机构", "城区", NOW),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "xlsx"])
def test_every_supported_encoding_and_format(engine, tmp_path, encoding):
    rows = [["学校标识码", "学校名称", "所在区域代码"], ["S1", "宁化县实验小学", "350424"]]
    if encoding == "xlsx":
        path = write_xlsx(tmp_path / "schools.xlsx", rows)
    else:
        path = write_csv(tmp_path / "schools.csv", rows, encoding)
    assert import_file(engine, "schools", path, id_key=KEY).inserted == 1
    assert one(engine, select(School.name)) == ("宁化县实验小学",)


def test_teachers_english_headers_bom_defaults_and_dates(engine, tmp_path):
    run(engine, "schools", tmp_path, SCHOOLS)
    assert run(engine, "teachers", tmp_path, TEACHERS, encoding="utf-8-sig") == result(
        "teachers", 3, inserted=3)
    with engine.connect() as conn:
        got = {r.account: r for r in conn.execute(select(Teacher))}
    a, b, c = got["13800000001"], got["13800000002"], got["13800000003"]
    assert (a.name, a.school_code, a.stage, a.subject, a.title, a.id_type) == (
        "张三", "S1", "小学", "语文", "一级教师", "居民身份证")
    assert a.cert_status == "已通过"  # default
    assert a.applied_at == datetime(2022, 7, 20, 8, 30)
    assert (b.cert_status, b.title, b.applied_at) == ("未审核", None, datetime(2022, 7, 2))
    assert (c.cert_status, c.applied_at, c.id_number_masked) == ("已通过", None, None)


def test_id_number_is_never_stored_in_clear(engine, tmp_path):
    run(engine, "schools", tmp_path, SCHOOLS)
    run(engine, "teachers", tmp_path, TEACHERS)
    a = one(engine, select(Teacher.id_number_masked, Teacher.id_number_hash)
            .where(Teacher.account == "13800000001"))
    assert a == ("35*****0375", privacy.id_number_hash(ID_NUMBER, KEY))
    with engine.connect() as conn:
        for row in conn.execute(text("SELECT * FROM teachers")):
            for value in row:
                assert ID_NUMBER not in str(value)
                assert ID_NUMBER[6:14] not in str(value)  # not even the birth date part


def test_trainings_accept_every_date_form(engine, tmp_path):
    assert run(engine, "trainings", tmp_path, TRAININGS) == result("trainings", 2, inserted=2)
    with engine.connect() as conn:
        got = {r.code: r for r in conn.execute(select(Training))}
    t1, t2 = got["T1"], got["T2"]
    assert (t1.start_at, t1.end_at, t1.hours_cap_tenths, t1.created_at) == (
        datetime(2022, 7, 20), datetime(2022, 8, 31, 23, 59), 500, datetime(2022, 7, 1))
    assert (t2.start_at, t2.end_at, t2.hours_cap_tenths, t2.created_at) == (
        datetime(2023, 1, 10), datetime(2023, 2, 28, 23, 59, 59), 305, NOW)
    # An update keeps the id and the stored created_at when the cell is empty.
    changed = [TRAININGS[0], TRAININGS[1],
               ["T2", "寒假研修（更名）", "2023/1/10 0:00", "2023/2/28 23:59:59", "30.5", ""]]
    assert run(engine, "trainings", tmp_path, changed, now=LATER) == result(
        "trainings", 2, updated=1, unchanged=1)
    t2b = one(engine, select(Training.id, Training.name, Training.created_at)
              .where(Training.code == "T2"))
    assert tuple(t2b) == (t2.id, "寒假研修（更名）", NOW)


def test_records_from_xlsx_with_numeric_cells_and_durations(world, tmp_path):
    rows = [
        ["培训编号", "账号", "获得学时", "实际学习时长"],
        ["T1", 13800000001, 12.5, 3723],
        ["T1", "13800000002", 50, "1:02:03"],
        ["T2", "13800000001", 0, "100:00:00"],
        ["T2", "13800000003", "30.5", "09:05:07"],
    ]
    path = write_xlsx(tmp_path / "records.xlsx", rows)
    assert import_file(world, "records", path, id_key=KEY) == result("records", 4, inserted=4)
    with world.connect() as conn:
        got = conn.execute(
            select(Training.code, Teacher.account, TrainingRecord.hours_tenths,
                   TrainingRecord.study_seconds)
            .join(Training, Training.id == TrainingRecord.training_id)
            .join(Teacher, Teacher.id == TrainingRecord.teacher_id)
            .order_by(Training.code, Teacher.account)
        ).all()
    assert [tuple(r) for r in got] == [
        ("T1", "13800000001", 125, 3723),
        ("T1", "13800000002", 500, 3723),
        ("T2", "13800000001", 0, 360000),
        ("T2", "13800000003", 305, 9 * 3600 + 5 * 60 + 7),
    ]


def test_teacher_counts_blank_stage_source_and_time(engine, tmp_path):
    assert run(engine, "teacher-counts", tmp_path, COUNTS, name="专任教师数2024.csv") == result(
        "teacher-counts", 3, inserted=3)
    with engine.connect() as conn:
        got = conn.execute(select(TeacherCount).order_by(TeacherCount.region_code,
                                                         TeacherCount.stage)).all()
    assert [(c.region_code, c.stage, c.count, c.source, c.updated_at) for c in got] == [
        ("350000", "", 445000, "专任教师数2024.csv", NOW),
        ("350000", "小学", 180000, "专任教师数2024.csv", NOW),
        ("350424", "", 3200, "专任教师数2024.csv", NOW),
    ]
    again = run(engine, "teacher-counts", tmp_path, COUNTS, name="专任教师数2024.csv", now=LATER)
    assert again == result("teacher-counts", 3, unchanged=3)
    changed = [COUNTS[0], ["350424", "", "3300"]]
    assert run(engine, "teacher-counts", tmp_path, changed, name="专任教师数2024.csv",
               now=LATER) == result("teacher-counts", 1, updated=1)
    row = one(engine, select(TeacherCount.count, TeacherCount.updated_at)
              .where(TeacherCount.region_code == "350424"))
    assert tuple(row) == (3300, LATER)


# --------------------------------------------------------------------------- errors


def test_region_errors_are_all_listed(engine, tmp_path):
    before = snapshot(engine)
    errors = refused(engine, "regions", tmp_path, [
        ["code", "name", "parent_code", "kind"],
        ["35-01", "甲", "350000", ""],
        ["Z1", "", "350000", ""],
        ["Z2", "乙", "NOPE", ""],
        ["Z3", "丙", "350000", "city"],
        ["Z4", "丁", "350000", ""],
        ["Z4", "丁二", "350000", ""],
        ["350000", "福建省", "350400", ""],
        ["Z5", "戊", "Z5", ""],
        ["A" * 21, "己", "350000", ""],
        ["350100", "福州市", "", ""],
    ])
    assert errors == [
        "row 2, column code: '35-01' must be 1-20 letters or digits",
        "row 3, column name: required value is missing",
        "row 4, column parent_code: unknown region code 'NOPE'",
        "row 5, column kind: 'city' is not allowed; expected one of: "
        "province, prefecture, county, zone",
        "row 7, column code: duplicate of row 6",
        "row 8, column parent_code: a region cannot become its own ancestor",
        "row 9, column parent_code: a region cannot become its own ancestor",
        f"row 10, column code: '{'A' * 21}' must be 1-20 letters or digits",
        "row 11, column parent_code: an existing region cannot become top-level",
    ]
    assert snapshot(engine) == before


def test_school_errors_are_all_listed(world, tmp_path):
    before = snapshot(world)
    errors = refused(world, "schools", tmp_path, [
        ["code", "name", "region_code", "kind", "urban_rural"],
        ["S9", "九中", "999999", "", ""],
        ["S10", "十中", "350424", "大学", "郊区"],
        ["S11", "", "350424", "", ""],
        ["S12", "十二中", "350424", "", ""],
        ["S12", "十二中", "350424", "", ""],
        ["SD", "撤并小学", "350424", "", ""],
        ["S13", "长" * 201, "", "", ""],
    ])
    assert errors == [
        "row 2, column region_code: unknown region code '999999'",
        "row 3, column kind: '大学' is not allowed; expected one of: 学校, 教研机构, 电教机构, "
        "进修机构, 其他",
        "row 3, column urban_rural: '郊区' is not allowed; expected one of: 城区, 镇区, 乡村",
        "row 4, column name: required value is missing",
        "row 6, column code: duplicate of row 5",
        "row 7, column code: school is deleted",
        "row 8, column name: longer than 200 characters",
        "row 8, column region_code: required value is missing",
    ]
    assert snapshot(world) == before


def test_teacher_errors_are_all_listed(world, tmp_path):
    before = snapshot(world)
    header = TEACHERS[0]
    errors = refused(world, "teachers", tmp_path, [
        header,
        ["1380000000", "甲", "S1", "小学", "语文", "", "", "", "", ""],
        ["1380000000a", "乙", "S1", "小学", "语文", "", "", "", "", ""],
        ["13800000011", "丙", "NOPE", "小学", "语文", "", "", "", "", ""],
        ["13800000012", "丁", "SD", "小学", "语文", "", "", "", "", ""],
        ["13800000013", "戊", "S1", "大学", "书法", "教授", "", "", "已拒绝", "2022-02-30"],
        ["13800000014", "", "S1", "", "", "", "", "", "", ""],
        ["13800000015", "己", "S1", "小学", "语文", "", "", "", "", "20220720"],
        ["13800000015", "己", "S1", "小学", "语文", "", "", "", "", ""],
    ])
    assert errors == [
        "row 2, column account: must be 11 digits",
        "row 3, column account: must be 11 digits",
        "row 4, column school_code: unknown school code 'NOPE'",
        "row 5, column school_code: school 'SD' is deleted",
        "row 6, column stage: '大学' is not allowed; expected one of: "
        "幼儿园, 小学, 初中, 高中, 中职, 特教, 通用学段",
        "row 6, column subject: '书法' is not allowed; expected one of: 学前教育, 语文, 数学, "
        "英语, 物理, 化学, 生物, 历史, 地理, 道德与法治, 思想政治, 科学, 信息技术, 音乐, 美术, "
        "体育与健康, 心理健康教育, 劳动教育, 综合实践活动, 特殊教育, 其他",
        "row 6, column title: '教授' is not allowed; expected one of: "
        "正高级教师, 高级教师, 一级教师, 二级教师, 三级教师, 未定级",
        "row 6, column cert_status: '已拒绝' is not allowed; expected one of: 已通过, 未审核, 未通过",
        "row 6, column applied_at: '2022-02-30' is not a valid date; "
        "expected e.g. 2022-07-20 or 2022-07-20 00:00",
        "row 7, column name: required value is missing",
        "row 7, column stage: required value is missing",
        "row 7, column subject: required value is missing",
        "row 8, column applied_at: '20220720' is not a valid date; "
        "expected e.g. 2022-07-20 or 2022-07-20 00:00",
        "row 9, column account: duplicate of row 8",
    ]
    assert snapshot(world) == before


def test_error_texts_never_echo_personal_data(world, tmp_path):
    errors = refused(world, "teachers", tmp_path, [
        TEACHERS[0],
        ["138000000999", "甲", "S1", "小学", "语文", "", "", "1" * 41, "", ""],
    ])
    assert errors == [
        "row 2, column account: must be 11 digits",
        "row 2, column id_number: longer than 40 characters",
    ]


def test_training_errors_are_all_listed(engine, tmp_path):
    before = snapshot(engine)
    errors = refused(engine, "trainings", tmp_path, [
        TRAININGS[0],
        ["X1", "零上限", "2022-07-20 00:00", "2022-08-31 23:59", "0", ""],
        ["X2", "负上限", "2022-07-20 00:00", "2022-08-31 23:59", "-1", ""],
        ["X3", "两位小数", "2022-07-20 00:00", "2022-08-31 23:59", "1.25", ""],
        ["X4", "倒序", "2022-08-31 23:59", "2022-07-20 00:00", "50", ""],
        ["X5", "无时间", "2022-07-20", "2022-13-01 00:00", "五十", "yesterday"],
        ["X6", "", "2022-07-20 00:00", "2022-08-31 23:59", "50", ""],
        ["X6", "重复", "2022-07-20 00:00", "2022-08-31 23:59", "50", ""],
    ])
    assert errors == [
        "row 2, column hours_cap: must be greater than 0",
        "row 3, column hours_cap: must not be negative",
        "row 4, column hours_cap: more than one decimal",
        "row 5, column end: must be after start",
        "row 6, column start: '2022-07-20' is not a valid date; expected e.g. 2022-07-20 00:00",
        "row 6, column end: '2022-13-01 00:00' is not a valid date; "
        "expected e.g. 2022-07-20 00:00",
        "row 6, column hours_cap: '五十' is not a number",
        "row 6, column created_at: 'yesterday' is not a valid date; "
        "expected e.g. 2022-07-20 or 2022-07-20 00:00",
        "row 7, column name: required value is missing",
        "row 8, column code: duplicate of row 7",
    ]
    assert snapshot(engine) == before


def test_training_cap_cannot_drop_below_recorded_hours(world, tmp_path):
    run(world, "records", tmp_path, RECORDS)
    before = snapshot(world)
    lowered = [TRAININGS[0], ["T1", "2022年暑期教师研修", "2022-07-20 00:00",
                              "2022.08.31 23:59", "40", "2022-07-01"]]
    assert refused(world, "trainings", tmp_path, lowered) == [
        "row 2, column hours_cap: lower than hours already recorded (50)"]
    assert snapshot(world) == before
    lowered[1][4] = "50"
    assert run(world, "trainings", tmp_path, lowered).unchanged == 1


def test_record_errors_are_all_listed(world, tmp_path):
    before = snapshot(world)
    errors = refused(world, "records", tmp_path, [
        RECORDS[0],
        ["T9", "13800000001", "1", "60"],
        ["T1", "13900000000", "1", "60"],
        ["T1", "138000000", "1", "60"],
        ["T1", "13800000001", "50.5", "60"],
        ["T1", "13800000002", "-1", "60"],
        ["T1", "13800000003", "1.25", "1:2:3"],
        ["T2", "13800000001", "abc", "-5"],
        ["T2", "13800000002", "", ""],
        ["T2", "13800000002", "1", "60"],
        ["T2", "13800000003", "30.6", "1:60:00"],
    ])
    assert errors == [
        "row 2, column training_code: unknown training code 'T9'",
        "row 3, column account: unknown teacher account",
        "row 4, column account: must be 11 digits",
        "row 5, column hours: exceeds the training's hours cap of 50",
        "row 6, column hours: must not be negative",
        "row 7, column hours: more than one decimal",
        "row 7, column study_seconds: '1:2:3' is not a duration; expected seconds or H:MM:SS",
        "row 8, column hours: 'abc' is not a number",
        "row 8, column study_seconds: '-5' is not a duration; expected seconds or H:MM:SS",
        "row 9, column hours: required value is missing",
        "row 9, column study_seconds: required value is missing",
        "row 10, column account: duplicate of row 9",
        "row 11, column hours: exceeds the training's hours cap of 30.5",
        "row 11, column study_seconds: '1:60:00' is not a duration; "
        "expected seconds or H:MM:SS",
    ]
    assert snapshot(world) == before


def test_teacher_count_errors_are_all_listed(engine, tmp_path):
    errors = refused(engine, "teacher-counts", tmp_path, [
        ["区域代码", "学段", "专任教师数"],
        ["999999", "", "10"],
        ["350000", "大学", "10"],
        ["350100", "", "-3"],
        ["350200", "", "1.5"],
        ["350300", "", ""],
        ["350400", "初中", "7"],
        ["350400", "初中", "8"],
    ])
    assert errors == [
        "row 2, column region_code: unknown region code '999999'",
        "row 3, column stage: '大学' is not allowed; expected one of: "
        "幼儿园, 小学, 初中, 高中, 中职, 特教, 通用学段",
        "row 4, column count: must not be negative",
        "row 5, column count: '1.5' is not a whole number",
        "row 6, column count: required value is missing",
        "row 8, column region_code: duplicate of row 7",
    ]


def test_three_bad_rows_give_three_errors_and_a_readable_message(world, tmp_path):
    rows = [RECORDS[0], RECORDS[1], ["T1", "13800000002", "60", "1"], RECORDS[3],
            ["T1", "13800000003", "1", "x"], ["T1", "1", "1", "1"]]
    with pytest.raises(ImportRefused) as exc:
        run(world, "records", tmp_path, rows)
    assert [(e.row, e.column) for e in exc.value.errors] == [
        (3, "hours"), (5, "study_seconds"), (6, "account")]
    assert str(exc.value).splitlines() == [
        "import refused, 3 error(s):",
        "row 3, column hours: exceeds the training's hours cap of 50",
        "row 5, column study_seconds: 'x' is not a duration; expected seconds or H:MM:SS",
        "row 6, column account: must be 11 digits",
        f"error report: {exc.value.report_path}",
    ]
    assert (exc.value.total, exc.value.unlisted) == (3, 0)
    assert str(RowError(4, "hours", "bad")) == "row 4, column hours: bad"


def test_header_problems_are_row_1_errors(engine, tmp_path):
    assert refused(engine, "schools", tmp_path, [
        ["学校标识码", "学校名称", "备注", "code"], ["S1", "一中", "x", "S1"],
    ]) == [
        "row 1, column 备注: unknown column",
        "row 1, column code: column appears more than once",
        "row 1, column region_code: required column is missing",
    ]
    # Template markers and surrounding spaces in header cells are fine, as are blank columns.
    rows = [[" 学校标识码* ", "学校名称*", "Region_Code", ""], ["  S1 ", " 一中 ", "350424", ""]]
    assert run(engine, "schools", tmp_path, rows).inserted == 1
    assert one(engine, select(School.code, School.name)) == ("S1", "一中")


def test_values_outside_named_columns_are_errors(engine, tmp_path):
    rows = [["code", "", "name", "region_code"], ["S1", "", "一中", "350424"],
            ["S2", "备注", "二中", "350424"], ["S3", "", "三中", "350424", "多余"]]
    assert refused(engine, "schools", tmp_path, rows) == [
        "row 3, column (file): value in a column without a header",
        "row 4, column (file): value in a column without a header",
    ]


def test_file_level_problems(engine, tmp_path):
    def errors_of(kind, path):
        with pytest.raises(ImportRefused) as exc:
            import_file(engine, kind, path, id_key=KEY)
        return [str(e) for e in exc.value.errors]

    ok = write_csv(tmp_path / "ok.csv", SCHOOLS)
    assert errors_of("pupils", ok) == [
        "row 1, column (file): unknown kind 'pupils'; expected one of: regions, schools, "
        "teachers, trainings, records, teacher-counts"]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert errors_of("schools", empty) == ["row 1, column (file): the file is empty"]
    gbk_declared_utf8 = tmp_path / "bom-then-gbk.csv"
    gbk_declared_utf8.write_bytes(b"\xef\xbb\xbf" + "学校标识码,学校名称\r\n".encode("gbk"))
    assert errors_of("schools", gbk_declared_utf8)[0].startswith(
        "row 1, column (file): cannot read the file: its encoding is not UTF-8, GBK or GB18030")
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert errors_of("schools", xls) == [
        "row 1, column (file): legacy .xls files are not supported; "
        "save the sheet as .xlsx or CSV"]
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    assert errors_of("schools", broken)[0].startswith(
        "row 1, column (file): cannot read the XLSX file")


def test_blank_rows_are_skipped_but_keep_row_numbers(engine, tmp_path):
    rows = [SCHOOLS[0], ["", "", "", "", ""], [], ["S1", "", "350424", "", ""]]
    assert refused(engine, "schools", tmp_path, rows) == [
        "row 4, column name: required value is missing"]
    xlsx = write_xlsx(tmp_path / "s.xlsx", [SCHOOLS[0], [None], [None], ["S1", None, "350424"]])
    with pytest.raises(ImportRefused) as exc:
        import_file(engine, "schools", xlsx, id_key=KEY)
    assert [str(e) for e in exc.value.errors] == ["row 4, column name: required value is missing"]


# --------------------------------------------------------------------------- all or nothing


def test_refused_file_leaves_everything_as_it_was_even_after_earlier_batches(
    world, tmp_path, monkeypatch
):
    run(world, "records", tmp_path, RECORDS)
    run(world, "teacher-counts", tmp_path, COUNTS)
    before = snapshot(world)
    # Tiny batches: the valid rows before the bad one are written, then rolled back.
    monkeypatch.setattr(importers, "BATCH_SIZE", 1)
    teachers = [
        TEACHERS[0],
        ["13800000001", "张三（改）", "S2", "高中", "物理", "", "", "", "", ""],
        ["13800000009", "新人", "S1", "小学", "语文", "", "", "", "", ""],
        ["13800000010", "坏人", "SD", "小学", "语文", "", "", "", "", ""],
    ]
    assert refused(world, "teachers", tmp_path, teachers) == [
        "row 4, column school_code: school 'SD' is deleted"]
    records = [RECORDS[0], ["T1", "13800000001", "1", "1"], ["T1", "13800000003", "2", "2"],
               ["T1", "13800000004", "3", "3"]]
    assert refused(world, "records", tmp_path, records) == [
        "row 4, column account: unknown teacher account"]
    regions = [["code", "name", "parent_code"], ["NEW1", "新区", "350000"],
               ["350100", "福州市（改）", "350000"], ["NEW2", "坏区", "NOPE"]]
    assert refused(world, "regions", tmp_path, regions) == [
        "row 4, column parent_code: unknown region code 'NOPE'"]
    counts = [COUNTS[0], ["350100", "", "9"], ["350000", "", "x"]]
    assert refused(world, "teacher-counts", tmp_path, counts) == [
        "row 3, column count: 'x' is not a whole number"]
    assert snapshot(world) == before


def test_many_batches_import_and_reimport(world, tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "BATCH_SIZE", 3)
    rows = [TEACHERS[0]] + [
        [f"1390000{i:04d}", f"教师{i}", "S1", "小学", "语文", "", "", f"35010219800101{i:04d}",
         "", ""]
        for i in range(10)
    ]
    assert run(world, "teachers", tmp_path, rows) == result("teachers", 10, inserted=10)
    rows[5][1] = "改名"
    assert run(world, "teachers", tmp_path, rows) == result("teachers", 10, updated=1,
                                                            unchanged=9)
    records = [RECORDS[0]] + [["T1", r[0], "1.5", "90"] for r in rows[1:]]
    assert run(world, "records", tmp_path, records) == result("records", 10, inserted=10)
    assert run(world, "records", tmp_path, records) == result("records", 10, unchanged=10)


def test_copy_and_row_writes_store_the_same_rows(engine, tmp_path, monkeypatch):
    """PostgreSQL's COPY path (inserts straight in, updates through a staging table) leaves
    exactly what row-by-row statements leave, defaults included."""
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    schools = [SCHOOLS[0]] + [[f"C{i:03d}", f"学校{i}", "350102", "", ""] for i in range(30)]
    teachers = [TEACHERS[0]] + [
        [f"1390000{i:04d}", f"教师{i}", f"C{i % 30:03d}", "小学", "语文", "", "",
         f"35010219800101{i:04d}", "", "2024-03-0%d 08:00" % (1 + i % 9)]
        for i in range(60)
    ]
    changed_schools = [SCHOOLS[0]] + [[c[0], c[1] + "（新）", *c[2:]] for c in schools[1:]]
    changed_teachers = [teachers[0]] + [[t[0], t[1] + "乙", *t[2:]] for t in teachers[1:]]

    def load(threshold):
        monkeypatch.setattr(importers, "COPY_MIN_ROWS", threshold)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM teachers"))
            conn.execute(text("DELETE FROM schools"))
        counts = [run(engine, "schools", tmp_path, schools),
                  run(engine, "teachers", tmp_path, teachers),
                  run(engine, "schools", tmp_path, changed_schools),
                  run(engine, "teachers", tmp_path, changed_teachers)]
        with engine.connect() as conn:
            stored = [conn.execute(text(
                "SELECT code, name, region_code, kind, urban_rural FROM schools ORDER BY code"
            )).all(), conn.execute(text(
                "SELECT account, name, school_code, stage, subject, id_number_masked, "
                "id_number_hash, cert_status, applied_at FROM teachers ORDER BY account"
            )).all()]
        return counts, stored

    by_copy, by_rows = load(1), load(10**9)
    assert by_copy == by_rows
    counts, (stored_schools, stored_teachers) = by_copy
    assert [c.inserted for c in counts] == [30, 60, 0, 0]
    assert [c.updated for c in counts] == [0, 0, 30, 60]
    assert stored_schools[0].name == "学校0（新）" and stored_schools[0].kind == "学校"
    assert stored_teachers[0].name == "教师0乙" and stored_teachers[0].cert_status == "已通过"


def test_a_write_that_fails_in_the_background_fails_the_import_and_keeps_nothing(
        world, tmp_path, monkeypatch):
    if world.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL writes in the background")
    monkeypatch.setattr(importers, "BATCH_SIZE", 3)
    calls = []

    def failing_copy(conn, table, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        real_copy(conn, table, rows)

    real_copy = importers.copy_insert
    monkeypatch.setattr(importers, "copy_insert", failing_copy)
    rows = [TEACHERS[0]] + [
        [f"1390000{i:04d}", f"教师{i}", "S1", "小学", "语文", "", "", "", "", ""]
        for i in range(10)
    ]
    before = snapshot(world)
    with pytest.raises(RuntimeError, match="the disk is full"):
        run(world, "teachers", tmp_path, rows)
    assert calls == [3, 3]  # the third batch waited for the second, and stopped there
    assert snapshot(world) == before


def test_an_interrupted_wait_for_the_background_write_keeps_waiting_before_a_rollback():
    """Ctrl-C while the main thread waits for a batch being written: the write still owns
    the connection, so it stays pending and the error path waits for it to end."""
    from concurrent.futures import Future

    importer = importers._Teachers(importers._Context(id_key=KEY, now=NOW, source="x",
                                                      write=True), report=None)
    pending = Future()
    pending.set_running_or_notify_cancel()
    importer.pending = pending
    calls = []

    def interrupted(timeout=None):
        calls.append("result")
        raise KeyboardInterrupt

    pending.result = interrupted
    with pytest.raises(KeyboardInterrupt):
        importer.settle_writes()
    assert importer.pending is pending  # not forgotten: the write is still running
    pending.set_result(None)
    importer.settle_writes(quiet=True)
    assert importer.pending is None and calls == ["result"]


# --------------------------------------------------------------------------- idempotence


def test_reimporting_every_kind_changes_nothing(engine, tmp_path):
    files = {
        "regions": [["code", "name", "parent_code"], ["PT1", "平潭综合实验区", "350000"]],
        "schools": SCHOOLS,
        "teachers": TEACHERS,
        "trainings": TRAININGS,
        "records": RECORDS,
        "teacher-counts": COUNTS,
    }
    for kind, rows in files.items():
        first = run(engine, kind, tmp_path, rows)
        assert first.inserted == first.rows == len(rows) - 1
    before = snapshot(engine)
    for kind, rows in files.items():
        assert run(engine, kind, tmp_path, rows, now=LATER) == result(
            kind, len(rows) - 1, unchanged=len(rows) - 1)
    assert snapshot(engine) == before


def test_changed_values_are_updated(world, tmp_path):
    run(world, "records", tmp_path, RECORDS)
    changed = [RECORDS[0], ["T1", "13800000001", "20", "4000"], RECORDS[2], RECORDS[3]]
    assert run(world, "records", tmp_path, changed) == result("records", 3, updated=1,
                                                              unchanged=2)
    row = one(world, select(TrainingRecord.hours_tenths, TrainingRecord.study_seconds)
              .join(Teacher, Teacher.id == TrainingRecord.teacher_id)
              .join(Training, Training.id == TrainingRecord.training_id)
              .where(Teacher.account == "13800000001", Training.code == "T1"))
    assert tuple(row) == (200, 4000)


def test_empty_optional_cells_keep_values_maintained_in_the_console(world, tmp_path):
    with world.begin() as conn:
        conn.execute(update(Teacher).where(Teacher.account == "13800000001")
                     .values(cert_status="未通过"))
        conn.execute(update(School).where(School.code == "S1").values(urban_rural="镇区"))
    before = snapshot(world)
    # The platform's files do not carry these columns (or leave them empty).
    teachers = [[c for c in TEACHERS[0] if c != "cert_status"]] + [
        [v for i, v in enumerate(r) if i != 8] for r in TEACHERS[1:]]
    assert run(world, "teachers", tmp_path, teachers) == result("teachers", 3, unchanged=3)
    schools = [r[:4] + [""] for r in SCHOOLS[:3]]
    assert run(world, "schools", tmp_path, schools) == result("schools", 2, unchanged=2)
    assert snapshot(world) == before
    # A new application (未审核) does replace the review decision.
    teachers = [TEACHERS[0], TEACHERS[1][:8] + ["未审核", TEACHERS[1][9]]]
    assert run(world, "teachers", tmp_path, teachers) == result("teachers", 1, updated=1)
    assert one(world, select(Teacher.cert_status, Teacher.id_number_masked)
               .where(Teacher.account == "13800000001")) == ("未审核", "35*****0375")


def test_dry_run_validates_and_counts_but_writes_nothing(world, tmp_path):
    before = snapshot(world)
    records = run(world, "records", tmp_path, RECORDS, dry_run=True)
    assert records == result("records", 3, inserted=3, dry_run=True)
    teachers = [TEACHERS[0], ["13800000001", "张三（改）"] + TEACHERS[1][2:],
                ["13800000099", "新人", "S1", "小学", "语文", "", "", "", "", ""]]
    assert run(world, "teachers", tmp_path, teachers, dry_run=True) == result(
        "teachers", 2, inserted=1, updated=1, dry_run=True)
    regions = [["code", "name", "parent_code"], ["PT1", "平潭综合实验区", "350000"]]
    assert run(world, "regions", tmp_path, regions, dry_run=True).inserted == 1
    assert snapshot(world) == before
    assert refused(world, "records", tmp_path, [RECORDS[0], ["T1", "13800000001", "99", "1"]],
                   dry_run=True) == ["row 2, column hours: exceeds the training's hours cap of 50"]


# --------------------------------------------------------------------------- encodings

SCHOOL_HEADER = ["code", "name", "region_code"]  # English keys: the same in every encoding
TAIWAN_SCHOOLS = ["臺北市立建國高級中學", "國立臺灣師範大學附屬高級中學", "新北市立板橋高級中學",
                  "高雄市立前鎮國民中學", "臺中市立臺中第一高級中等學校", "桃園市立武陵高級中等學校"]
JAPANESE_SCHOOLS = ["東京都立日比谷高等学校", "さいたま市立浦和中学校", "大阪府立北野高等学校",
                    "横浜市立港南中学校", "札幌市立北辰中学校"]
LATIN_SCHOOLS = ["Lycée Molière", "Académie Française", "Renée Søren"]
ZH_SCHOOLS = [["学校标识码", "学校名称", "所在区域代码"], ["S1", "宁化县实验小学", "350424"],
              ["S2", "福州第一中学", "350102"]]


def school_rows(names):
    return [SCHOOL_HEADER] + [[f"X{i}", name, "350424"] for i, name in enumerate(names)]


@pytest.mark.parametrize("encoding, rows", [
    ("big5", school_rows(TAIWAN_SCHOOLS)),
    ("big5", school_rows(TAIWAN_SCHOOLS[:2])),
    ("shift_jis", school_rows(JAPANESE_SCHOOLS)),
    ("shift_jis", school_rows(JAPANESE_SCHOOLS[:1])),
    ("latin-1", school_rows(LATIN_SCHOOLS)),
    ("utf-16", ZH_SCHOOLS),  # with BOM
    ("utf-16-le", ZH_SCHOOLS),
    ("utf-16-be", ZH_SCHOOLS),
    ("utf-16-le", school_rows(["Name"])),  # ASCII only: valid UTF-8 but for the NUL bytes
    ("utf-32", ZH_SCHOOLS),
], ids=["big5", "big5-two-rows", "shift-jis", "shift-jis-one-row", "latin-1", "utf-16-bom",
        "utf-16-le", "utf-16-be", "utf-16-ascii", "utf-32"])
def test_files_in_other_encodings_are_refused_with_a_way_to_fix_them(
    engine, tmp_path, encoding, rows
):
    before = snapshot(engine)
    errors = refused(engine, "schools", tmp_path, rows, encoding=encoding)
    assert len(errors) == 1 and errors[0].startswith("row 1, column (file): cannot read the file")
    for words in ("UTF-8 (with or without BOM), GBK and GB18030", '"CSV UTF-8"', "另存为"):
        assert words in errors[0]
    if encoding.startswith("utf-16") or encoding == "utf-32":
        assert "it is UTF-16 or UTF-32 text" in errors[0]
    assert snapshot(engine) == before


# Characters of GBK that GB2312 lacks, as found in given names.
GBK_ONLY = "堃喆昇镕"


def test_genuine_gbk_files_import_with_characters_outside_gb2312(engine, tmp_path):
    for ch in GBK_ONLY:
        with pytest.raises(UnicodeEncodeError):
            ch.encode("gb2312")
        ch.encode("gbk")
    run(engine, "schools", tmp_path, SCHOOLS)
    names = ["王堃", "李喆", "张昇", "朱镕基", "陈思", "林晓燕"]
    rows = [TEACHERS[0][:5]] + [[f"1390000{i:04d}", name, "S1", "小学", "语文"]
                                for i, name in enumerate(names)]
    for encoding in ("gbk", "gb18030"):
        assert run(engine, "teachers", tmp_path, rows, encoding=encoding).rows == len(names)
        with engine.connect() as conn:
            assert sorted(conn.scalars(select(Teacher.name))) == sorted(names)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
@pytest.mark.parametrize("kind, rows, column, stored", [
    # Only one or two cells are not ASCII, in files with English headers.
    ("teacher-counts", [["region_code", "stage", "count"], ["350000", "", "10"],
                        ["350424", "小学", "20"]], TeacherCount.stage, ["小学", ""]),
    ("schools", [SCHOOL_HEADER, ["S1", "堃园小学", "350424"]], School.name, ["堃园小学"]),
    ("schools", [SCHOOL_HEADER, ["S1", "Sunshine School", "350424"], ["S2", "镕昇小学", "350424"]],
     School.name, ["Sunshine School", "镕昇小学"]),
    ("regions", [["code", "name", "parent_code"], ["PT9", "语文", "350000"]], Region.name,
     ["语文"]),
], ids=["one-stage", "one-name", "rare-characters", "two-characters"])
def test_gbk_files_with_only_a_handful_of_chinese_cells_import(
    engine, tmp_path, encoding, kind, rows, column, stored
):
    assert run(engine, kind, tmp_path, rows, encoding=encoding).inserted == len(rows) - 1
    with engine.connect() as conn:
        got = conn.scalars(select(column)).all()
    assert all(value in got for value in stored)


def test_utf8_files_stay_utf8(engine, tmp_path):
    rows = [SCHOOL_HEADER, ["S1", "Café 小学", "350424"], ["S2", "Lycée", "350424"]]
    assert run(engine, "schools", tmp_path, rows).inserted == 2
    assert run(engine, "schools", tmp_path, rows[:1] + rows[2:], name="latin.csv").unchanged == 1
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(School.name))) == ["Café 小学", "Lycée"]


# --------------------------------------------------------------------------- control characters


def write_xlsx_raw(path, rows):
    """XLSX through xlsxwriter, which (like Excel) stores C0 controls as _xHHHH_ escapes and
    keeps TAB, LF, DEL and C1 controls as they are (openpyxl refuses to write them)."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    workbook.close()
    return path


CONTROL_CASES = {
    "regions": ([["code", "name", "parent_code", "kind"],
                 ["PT1", "平潭\x00综合实验区", "350000", ""],
                 ["PT2", "新区", "350000", "zone\x7f"]],
                ["row 2, column name: contains a control character (U+0000)",
                 "row 3, column kind: contains a control character (U+007F)"]),
    "schools": ([SCHOOLS[0],
                 ["S7", "宁化\x1b[31m二中", "350424", "", "乡村"],
                 ["S8\x85", "三中", "350424", "", ""],
                 ["S9", "四中\r\n（分校）", "350424", "", ""]],
                ["row 2, column name: contains a control character (U+001B)",
                 "row 3, column code: contains a control character (U+0085)",
                 "row 4, column name: contains control characters (U+000D, U+000A)"]),
    "teachers": ([TEACHERS[0],
                  ["13800000007", "张\x00三", "S1", "幼儿", "语文", "", "", "", "", ""],
                  ["13800000008", "李四", "S1", "小学", "语文", "", "", "35010219\x9b900101", "",
                   ""],
                  ["1380000\x0009", "王五", "S1", "小学", "数\t学", "", "", "", "", ""]],
                 ["row 2, column name: contains a control character (U+0000)",
                  "row 2, column stage: '幼儿' is not allowed; expected one of: 幼儿园, 小学, "
                  "初中, 高中, 中职, 特教, 通用学段",
                  "row 3, column id_number: contains a control character (U+009B)",
                  "row 4, column account: contains a control character (U+0000)",
                  "row 4, column subject: contains a control character (U+0009)"]),
    "trainings": ([TRAININGS[0],
                   ["T9", "暑期\n研修", "2022-07-20 00:00", "2022-08-31 23:59", "50", ""],
                   ["T8", "寒假研修", "2022-07-20 00:00", "2022-08-31 23:59", "5\x000", ""]],
                  ["row 2, column name: contains a control character (U+000A)",
                   "row 3, column hours_cap: contains a control character (U+0000)"]),
    "records": ([RECORDS[0],
                 ["T1", "1380000000\x001", "1", "1"],
                 ["T1\x1f", "13800000002", "1", "1"],
                 ["T2", "13800000003", "1", "3\x0c600"]],
                ["row 2, column account: contains a control character (U+0000)",
                 "row 3, column training_code: contains a control character (U+001F)",
                 "row 4, column study_seconds: contains a control character (U+000C)"]),
    "teacher-counts": ([COUNTS[0], ["350000", "小学", "1\x0000"], ["\x00", "", "5"]],
                       ["row 2, column count: contains a control character (U+0000)",
                        "row 3, column region_code: contains a control character (U+0000)"]),
}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", list(CONTROL_CASES))
def test_control_characters_are_row_errors_in_every_kind(world, tmp_path, kind, fmt):
    rows, expected = CONTROL_CASES[kind]
    before = snapshot(world)
    if fmt == "csv":
        path = write_csv(tmp_path / f"{kind}.csv", rows)
    else:
        path = write_xlsx_raw(tmp_path / f"{kind}.xlsx", rows)
    with pytest.raises(ImportRefused) as exc:
        import_file(world, kind, path, id_key=KEY)
    assert [str(e) for e in exc.value.errors] == expected
    assert snapshot(world) == before


def test_control_characters_in_the_header_are_refused(engine, tmp_path):
    rows = [["学校标识码", "学校\x00名称", "所在区域代码"], ["S1", "一中", "350424"]]
    assert refused(engine, "schools", tmp_path, rows) == [
        "row 1, column 学校[U+0000]名称: contains a control character (U+0000)"]
    xlsx = write_xlsx_raw(tmp_path / "schools.xlsx", [["code", "name\x07", "region_code"]])
    with pytest.raises(ImportRefused) as exc:
        import_file(engine, "schools", xlsx, id_key=KEY)
    assert [str(e) for e in exc.value.errors] == [
        "row 1, column name[U+0007]: contains a control character (U+0007)"]


def test_line_breaks_around_a_value_are_trimmed_but_other_controls_are_not(engine, tmp_path):
    rows = [SCHOOLS[0][:3], ["S1", "一中\r\n", "350424"], ["S2", "\t二中 ", "350424"]]
    assert run(engine, "schools", tmp_path, rows).inserted == 2
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(School.name))) == ["一中", "二中"]
    # Python's str.strip() would silently drop these: they are reported instead.
    rows = [SCHOOLS[0][:3], ["S3", "\x1c三中", "350424"], ["S4", "四中\x85", "350424"],
            ["S5", "五中\x0b", "350424"]]
    assert refused(engine, "schools", tmp_path, rows) == [
        "row 2, column name: contains a control character (U+001C)",
        "row 3, column name: contains a control character (U+0085)",
        "row 4, column name: contains a control character (U+000B)",
    ]


# --------------------------------------------------------------------------- error report


def read_report(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 only with a BOM
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["行号", "列", "值", "原因"]
    return rows[1:]


def reported(exc) -> list[str]:
    return [f"row {r[0]}, column {r[1]}: {r[3]}" for r in read_report(exc.report_path)]


def test_every_error_goes_to_the_report_and_the_first_thousand_are_kept(engine, tmp_path):
    # 3 errors in each of 20,001 rows: more than the 50,000 that used to be listed.
    rows = [COUNTS[0]] + [["999999", "大学", f"x{i}"] for i in range(20_001)]
    with pytest.raises(ImportRefused) as exc:
        run(engine, "teacher-counts", tmp_path, rows)
    refusal = exc.value
    assert (refusal.total, len(refusal.errors), refusal.unlisted) == (60_003, 1000, 59_003)
    assert [str(e) for e in refusal.errors[:3]] == [
        "row 2, column region_code: unknown region code '999999'",
        "row 2, column stage: '大学' is not allowed; expected one of: 幼儿园, 小学, 初中, 高中, "
        "中职, 特教, 通用学段",
        "row 2, column count: 'x0' is not a whole number",
    ]
    assert str(refusal.errors[-1]) == "row 335, column region_code: unknown region code '999999'"
    assert refusal.report_path == tmp_path / "teacher-counts-errors-20240301-093000.csv"
    assert reported(refusal)[:1000] == [str(e) for e in refusal.errors]
    report = read_report(refusal.report_path)
    assert len(report) == 60_003
    assert [int(r[0]) for r in report] == sorted(int(r[0]) for r in report)
    assert report[-1] == ["20002", "count", "x20000", "'x20000' is not a whole number"]
    assert str(refusal).splitlines()[-2:] == [
        "… and 59003 more error(s)", f"error report: {refusal.report_path}"]


def test_the_report_masks_personal_data_and_defuses_formulas(world, tmp_path):
    long_id = "350102199001010375" + "1" * 23
    rows = [TEACHERS[0],
            ["1380000000", "甲", "S1", "小学", "语文", "", "", long_id, "", ""],
            ["13800000005", "=HYPERLINK(\"http://evil.example\")\x00", "S1", "小学", "语文", "",
             "", "", "", ""]]
    with pytest.raises(ImportRefused) as exc:
        run(world, "teachers", tmp_path, rows)
    report = read_report(exc.value.report_path)
    assert report == [
        ["2", "account", mask_account("1380000000"), "must be 11 digits"],
        ["2", "id_number", "35*****1111", "longer than 40 characters"],
        ["3", "name", "'=HYPERLINK(\"http://evil.example\")[U+0000]",
         "contains a control character (U+0000)"],
    ]
    raw = exc.value.report_path.read_text(encoding="utf-8-sig")
    assert "1380000000" not in raw and long_id not in raw and "\x00" not in raw
    with pytest.raises(ImportRefused) as exc:
        run(world, "records", tmp_path, [RECORDS[0], ["T1", "13899990000", "1", "1"]])
    assert read_report(exc.value.report_path) == [
        ["2", "account", "138****0000", "unknown teacher account"]]


def test_the_report_is_in_row_order_when_errors_are_found_late(world, tmp_path, monkeypatch):
    # Tiny batches and report steps: errors found against stored rows (unknown accounts) and
    # by whole-file checks (a region's parent) come after those of later rows.
    monkeypatch.setattr(importers, "BATCH_SIZE", 2)
    monkeypatch.setattr(importers, "REPORT_EVERY", 2)
    records = [RECORDS[0]] + [["T1", f"1389999{i:04d}", "1", "1" if i % 2 else "x"]
                              for i in range(9)]
    with pytest.raises(ImportRefused) as exc:
        run(world, "records", tmp_path, records)
    expected = []
    for i in range(9):
        expected.append(f"row {i + 2}, column account: unknown teacher account")
        if i % 2 == 0:
            expected.append(f"row {i + 2}, column study_seconds: 'x' is not a duration; "
                            "expected seconds or H:MM:SS")
    assert reported(exc.value) == expected
    regions = [["code", "name", "parent_code"]] + [
        [f"N{i}", f"新区{i}", "NOPE"] if i % 3 == 0 else [f"N{i}", "", "350000"]
        for i in range(9)
    ]
    with pytest.raises(ImportRefused) as exc:
        run(world, "regions", tmp_path, regions)
    expected = [
        f"row {i + 2}, column parent_code: unknown region code 'NOPE'" if i % 3 == 0
        else f"row {i + 2}, column name: required value is missing"
        for i in range(9)
    ]
    assert reported(exc.value) == expected
    assert [str(e) for e in exc.value.errors] == expected


def test_reports_are_written_for_refused_and_dry_runs_only(world, tmp_path):
    def reports():
        return sorted(p.name for p in tmp_path.glob("*-errors-*.csv"))

    run(world, "records", tmp_path, RECORDS)
    run(world, "records", tmp_path, RECORDS, dry_run=True)
    assert reports() == []
    bad = [RECORDS[0], ["T1", "13800000001", "99", "1"]]
    for dry_run in (True, False):
        with pytest.raises(ImportRefused):
            run(world, "records", tmp_path, bad, dry_run=dry_run)
    # The same second: the second report gets its own name, nothing is overwritten.
    assert reports() == ["records-errors-20240301-093000-2.csv",
                         "records-errors-20240301-093000.csv"]
    with pytest.raises(ImportRefused) as exc:
        run(world, "records", tmp_path, [["培训编号"]])  # a header problem is in a report too
    assert reported(exc.value) == ["row 1, column account: required column is missing",
                                   "row 1, column hours: required column is missing",
                                   "row 1, column study_seconds: required column is missing"]


def test_report_location_explicit_default_and_fallback(engine, tmp_path, monkeypatch):
    bad = [SCHOOLS[0], ["S1", "一中", "999999", "", ""]]
    chosen = tmp_path / "out" / "my-errors.csv"
    chosen.parent.mkdir()
    chosen.write_text("old content")
    with pytest.raises(ImportRefused) as exc:
        run(engine, "schools", tmp_path, bad, errors_file=chosen)
    assert exc.value.report_path == chosen
    assert reported(exc.value) == ["row 2, column region_code: unknown region code '999999'"]
    source = write_csv(tmp_path / "schools.csv", bad)
    with pytest.raises(ImportRefused) as exc:  # never over the file being imported
        import_file(engine, "schools", source, id_key=KEY, errors_file=source)
    assert exc.value.report_path is None and "it is the file being imported" in (
        exc.value.report_problem)
    assert source.read_text(encoding="utf-8").startswith("code,name,region_code,kind")

    # The input's folder cannot be written: the report goes to the temporary folder.
    source_dir = tmp_path / "readonly"
    source_dir.mkdir()
    fallback = tmp_path / "tmp"
    fallback.mkdir()
    real_open = os.open

    def refusing_open(path, flags, mode=0o777):
        if Path(path).parent == source_dir:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(importers.os, "open", refusing_open)
    monkeypatch.setattr(importers.tempfile, "gettempdir", lambda: str(fallback))
    path = write_csv(source_dir / "schools.csv", bad)
    with pytest.raises(ImportRefused) as exc:
        import_file(engine, "schools", path, id_key=KEY, now=NOW)
    assert exc.value.report_path == fallback / "schools-errors-20240301-093000.csv"
    assert exc.value.report_path.stat().st_mode & 0o777 == 0o600

    # Nowhere to write: the refusal still lists the errors and says why there is no report.
    monkeypatch.setattr(importers.tempfile, "gettempdir", lambda: str(source_dir))
    with pytest.raises(ImportRefused) as exc:
        import_file(engine, "schools", path, id_key=KEY, now=NOW)
    assert exc.value.report_path is None and exc.value.total == 1
    assert exc.value.report_problem.startswith("the error report could not be written")
    assert str(exc.value).splitlines()[-1] == exc.value.report_problem


def test_memory_stays_bounded_on_a_file_full_of_errors(engine, tmp_path):
    import tracemalloc

    # 60,000 errors: the importer used to keep 50,000 of them (27 MiB); now 1,000 (2 MiB).
    # Every even row is blank, as in double-spaced exports: they must not hold the report up.
    rows = [COUNTS[0]] + [[], ["999999", "大学", "x"]] * 20_000
    path = write_csv(tmp_path / "counts.csv", rows)
    tracemalloc.start()
    try:
        with pytest.raises(ImportRefused) as exc:
            import_file(engine, "teacher-counts", path, id_key=KEY, now=NOW)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MiB"
    assert exc.value.total == 60_000


# --------------------------------------------------------------------------- XLSX archives


def write_zip(path, parts):
    """A zip written by hand from (name, deflated bytes, CRC-32, size): what any zip tool
    writes, for parts too big to compress in a test."""
    with open(path, "wb") as fh:
        central = []
        for name, data, crc, size in parts:
            offset, raw = fh.tell(), name.encode()
            fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 33, crc, len(data),
                                 size, len(raw), 0) + raw + data)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 33,
                                       crc, len(data), size, len(raw), 0, 0, 0, 0, 0, offset)
                           + raw)
        start, directory = fh.tell(), b"".join(central)
        fh.write(directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts),
                                         len(directory), start, 0))
    return path


def deflated(data: bytes):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(), zlib.crc32(data), len(data)


def write_xlsx_bomb(path, mib=1024):
    """A genuine workbook whose sheet is one cell of ``mib`` MiB of "A": about 1 MB on disk.
    After a full flush deflate forgets its history, so each MiB compresses to the same bytes
    and is compressed once."""
    genuine = write_xlsx(path.with_name("genuine.xlsx"), [SCHOOL_HEADER])
    with zipfile.ZipFile(genuine) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    prefix = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
              b'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
              b'<c r="A1" t="inlineStr"><is><t>')
    suffix = b"</t></is></c></row></sheetData></worksheet>"
    chunk = b"A" * 2**20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush()
    crc = zlib.crc32(prefix)
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    sheet = ("xl/worksheets/sheet1.xml", head + block * mib + tail, crc,
             len(prefix) + mib * len(chunk) + len(suffix))
    write_zip(path, [sheet if name == sheet[0] else (name, *deflated(data))
                     for name, data in parts.items()])
    return path


BOMB_CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # the old importer needed 2.2 GB
from data_access.db import make_engine
from data_access.importers import ImportRefused, import_file
started = time.perf_counter()
try:
    import_file(make_engine(sys.argv[1]), "schools", sys.argv[2], id_key=b"k")
    outcome = "imported"
except ImportRefused as exc:
    outcome = [str(e) for e in exc.errors]
except MemoryError:
    outcome = "MemoryError"
# VmHWM: the peak resident size of this program (ru_maxrss would include the parent's,
# which Linux carries over a fork and exec).
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - started,
                  "peak_mib": int(status["VmHWM"].split()[0]) / 1024}))
"""


def test_an_xlsx_decompression_bomb_is_refused_at_once_with_little_memory(
    database_url, tmp_path
):
    bomb = write_xlsx_bomb(tmp_path / "schools.xlsx")
    assert bomb.stat().st_size < 1_200_000
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > 2**30
    proc = subprocess.run([sys.executable, "-c", BOMB_CHILD, database_url, str(bomb)],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    measured = json.loads(proc.stdout.splitlines()[-1])
    assert len(measured["outcome"]) == 1 and re.fullmatch(
        r"row 1, column \(file\): the XLSX file is refused as a possible decompression bomb: "
        r"xl/worksheets/sheet1\.xml is compressed 1,0\d\d to 1 \(at most 100 to 1 is "
        r"accepted\)", measured["outcome"][0]), measured
    assert measured["seconds"] < 5, measured
    assert measured["peak_mib"] < 150, measured


def test_xlsx_archive_limits(tmp_path, monkeypatch):
    from data_access.importers import ArchiveRefused, check_xlsx_archive

    rows = [TEACHERS[0]] + [[f"1390000{i:04d}", f"教师{i}", "S1", "小学", "语文", "", "",
                             "", "", ""] for i in range(5000)]
    genuine = write_xlsx(tmp_path / "teachers.xlsx", rows)
    check_xlsx_archive(genuine)  # passes, path or open file
    with genuine.open("rb") as fh:
        check_xlsx_archive(fh)

    def refusal(file) -> str:
        with pytest.raises(ArchiveRefused) as exc:
            check_xlsx_archive(file)
        return exc.value.reason

    zeros = write_zip(tmp_path / "zeros.xlsx", [("xl/worksheets/sheet1.xml",
                                                 *deflated(b"\0" * 2**21))])
    assert refusal(zeros).startswith(
        "the XLSX file is refused as a possible decompression bomb: xl/worksheets/sheet1.xml "
        "is compressed 1,0")
    # Below 1 MiB a part may compress as well as it likes.
    write_zip(tmp_path / "small.xlsx", [("xl/styles.xml", *deflated(b"\0" * 2**19))])
    check_xlsx_archive(tmp_path / "small.xlsx")

    monkeypatch.setattr(importers, "XLSX_MAX_UNPACKED", 2**20)
    assert refusal(genuine).startswith("the XLSX file unpacks to ")
    assert refusal(genuine).endswith("MiB, more than the 1 MiB accepted; save it as CSV UTF-8 "
                                     "instead")
    monkeypatch.setattr(importers, "XLSX_MAX_PARTS", 5)
    with zipfile.ZipFile(genuine) as archive:
        parts = len(archive.infolist())
    assert refusal(genuine) == f"the XLSX file holds {parts} parts; at most 5 are accepted"

    bz = tmp_path / "bzip2.xlsx"
    with zipfile.ZipFile(bz, "w", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert refusal(bz) == ("the XLSX file uses an unsupported compression method in "
                           "xl/workbook.xml; save it again from the spreadsheet program")
    with pytest.raises(ImportRefused) as exc:
        import_file(None, "schools", bz, id_key=KEY)
    assert [e.column for e in exc.value.errors] == ["(file)"]
    assert refusal(write_csv(tmp_path / "x.csv", SCHOOLS)) == (
        "cannot read the XLSX file (BadZipFile)")


def test_a_tiny_file_with_nul_cells_gets_row_errors_not_the_utf16_message(engine, tmp_path):
    rows = [["code", "name", "region_code"], ["S1", "\x00", "\x00"], ["\x00", "二中", "350424"]]
    assert refused(engine, "schools", tmp_path, rows) == [
        "row 2, column name: contains a control character (U+0000)",
        "row 2, column region_code: contains a control character (U+0000)",
        "row 3, column code: contains a control character (U+0000)",
    ]


def test_school_codes_with_spaces_are_refused(engine, tmp_path):
    """A 学校标识码 names the school in URLs and scope checks, which take no spaces: the
    importer refuses one with the rule the 学校管理 form applies (data_access.school_fields)."""
    rows = [SCHOOL_HEADER, ["S 1", "一中", "350424"], ["S\u30002", "二中", "350424"],
            ["S-3", "三中", "350424"]]
    assert refused(engine, "schools", tmp_path, rows) == [
        "row 2, column code: must not contain spaces",
        "row 3, column code: must not contain spaces",
    ]


def test_a_reimport_keeps_certification_decisions_unless_the_application_is_newer(
        world, tmp_path):
    # 13800000002 (未审核 in the file) was approved and 13800000003 (已通过) rejected in
    # 教师管理, both after their applications.
    decided = datetime(2024, 3, 5, 10, 0)
    with world.begin() as conn:
        for account, status in (("13800000002", "已通过"), ("13800000003", "未通过")):
            conn.execute(update(Teacher).where(Teacher.account == account).values(
                cert_status=status, decided_at=decided, decided_by=7,
                decision_reason="证件照片不清晰" if status == "未通过" else None))
    again = run(world, "teachers", tmp_path, TEACHERS, now=LATER)
    assert again.kept_decisions == 2
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    with world.connect() as conn:
        status = dict(conn.execute(select(Teacher.account, Teacher.cert_status)).all())
    assert status["13800000002"] == "已通过" and status["13800000003"] == "未通过"

    # a later 申请时间: 王五 applied again after the rejection, so it is 未审核 once more
    reapplied = [row[:] for row in TEACHERS]
    reapplied[3][9] = "2024-03-06 08:00"
    after = run(world, "teachers", tmp_path, reapplied, now=LATER)
    assert (after.updated, after.kept_decisions) == (1, 1)
    with world.connect() as conn:
        row = conn.execute(select(Teacher.cert_status, Teacher.decided_at,
                                  Teacher.decision_reason)
                           .where(Teacher.account == "13800000003")).one()
        kept = conn.scalar(select(Teacher.cert_status).where(Teacher.account == "13800000002"))
    assert tuple(row) == ("未审核", None, None)
    assert kept == "已通过"


def test_the_cli_says_how_many_decisions_it_kept(world, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dashboard.cli import main

    with world.begin() as conn:
        conn.execute(update(Teacher).where(Teacher.account == "13800000002").values(
            cert_status="已通过", decided_at=datetime(2024, 3, 5), decided_by=7))
    path = write_csv(tmp_path / "teachers.csv", TEACHERS)
    monkeypatch.setenv("YANXIU_DATABASE_URL", str(world.url.render_as_string(hide_password=False)))
    out = CliRunner().invoke(main, ["import", "teachers", str(path)])
    assert out.exit_code == 0, out.output
    assert "kept 1 certification decision(s)" in out.output


def test_the_same_file_keeps_a_decision_made_before_its_stored_application_time(world, tmp_path):
    # The decision's clock (UTC) reads earlier than the platform's 申请时间 (Beijing time).
    with world.begin() as conn:
        conn.execute(update(Teacher).where(Teacher.account == "13800000002").values(
            cert_status="未通过", decided_at=datetime(2022, 7, 1, 23, 30), decided_by=7,
            decision_reason="不清晰"))  # the file's 申请时间 is 2022/7/2, status 未审核
    again = run(world, "teachers", tmp_path, TEACHERS, now=LATER)
    assert again.kept_decisions == 1 and again.updated == 0
    with world.connect() as conn:
        row = conn.execute(select(Teacher.cert_status, Teacher.decision_reason)
                           .where(Teacher.account == "13800000002")).one()
    assert tuple(row) == ("未通过", "不清晰")


def test_an_import_on_postgresql_leaves_the_planner_statistics_of_what_it_wrote(
        world, tmp_path):
    """A table filled since its last ANALYZE looks empty to PostgreSQL's planner, which then
    answers a province's 激活进度 by nested loops in seconds: each import renews the
    statistics of its tables in its own transaction (a refused or dry run renews nothing)."""
    if world.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")

    def estimate_and_count(table):
        with world.connect() as conn:
            return (conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = "
                                      "to_regclass(:t)"), {"t": table}).scalar(),
                    conn.execute(text(f"SELECT count(*) FROM {table}")).scalar())

    for table in ("schools", "teachers", "trainings"):
        estimate, count = estimate_and_count(table)
        assert count > 0 and estimate == count, table
    bad = RECORDS + [["T1", "13800000009", "1", "1"]]  # an unknown teacher
    refused(world, "records", tmp_path, bad)
    run(world, "records", tmp_path, RECORDS, dry_run=True)
    estimate, count = estimate_and_count("training_records")
    assert count == 0 and estimate <= 0
    run(world, "records", tmp_path, RECORDS)
    assert estimate_and_count("training_records") == (3, 3)
