"""Import files (SPEC §7.1): formats, headers, every error class, all-or-nothing, idempotence."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
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
    ]
    assert str(RowError(4, "hours", "bad")) == "row 4, column hours: bad"


def test_error_list_is_capped_with_a_count_of_the_rest(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "MAX_ERRORS", 2)
    rows = [COUNTS[0]] + [["999999", "", str(i)] for i in range(5)]
    assert refused(engine, "teacher-counts", tmp_path, rows) == [
        "row 2, column region_code: unknown region code '999999'",
        "row 3, column region_code: unknown region code '999999'",
        "row 4, column (file): 3 more error(s) not listed",
    ]


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
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("学校标识码,学校名称,所在区域代码\r\nS1,一中,350424\r\n".encode("utf-16"))
    assert errors_of("schools", utf16) == [
        "row 1, column (file): cannot decode the file: it is neither UTF-8 nor GBK/GB18030 text"]
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
