"""专任教师数 (SPEC §4.5): the figures table, the regions shown as `—` with their reason, and
the console upload — preview and commit — through the importer's rules."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import insert, select

from data_access import accounts
from data_access import teacher_counts as tc
from data_access.download_tables import TeacherCountTable, TeacherCountTemplate
from data_access.export_writer import write_xlsx
from data_access.importers import ImportRefused
from data_access.models import Binding, TeacherCount
from data_access.regions import get_region
from data_access.scope import ScopeDenied, scope_of
from tests.helpers import make_admin

KEY = b"test-id-key"
PUTIAN, XIANYOU, LICHENG, XIUYU = "350300", "350322", "350304", "350305"
CHENGXIANG, HANJIANG = "350302", "350303"
HEADER = ["区域代码", "区域名称", "学段", "专任教师数"]


def _admin(engine, region, account):
    """(user id, scope) of a new region admin of ``region``."""
    make_admin(engine, "region_training", region, account, name="许文华")
    with engine.connect() as conn:
        uid = accounts.user_by_account(conn, account).id
        binding = conn.scalar(select(Binding.id).where(Binding.user_id == uid))
        return uid, scope_of(conn, uid, binding)


def _table(engine, table, scope, region=""):
    with engine.connect() as conn:
        t = table.authorize(conn, scope, {"region": region})
        return t, t.count(conn), list(t.rows(conn))


def _region(engine, code):
    with engine.connect() as conn:
        return get_region(conn, code)


def _counts(engine):
    with engine.connect() as conn:
        return {(r.region_code, r.stage or ""): (r.count, r.source, r.updated_by)
                for r in conn.execute(select(TeacherCount))}


def _put(engine, *rows):
    with engine.begin() as conn:
        conn.execute(insert(TeacherCount), [
            {"region_code": r, "stage": s, "count": n, "source": "基线.csv",
             "updated_at": datetime(2024, 1, 1, 8, 0)} for r, s, n in rows])


def _csv(tmp_path, rows, name="upload.csv", encoding="utf-8-sig"):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp_path / name
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _xlsx(tmp_path, rows, name="upload.xlsx"):
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    path = tmp_path / name
    wb.save(path)
    return path


def _preview(engine, region, path):
    return tc.preview_upload(engine, _region(engine, region), path, path.name, KEY)


def _commit(engine, region, path, user_id):
    return tc.commit_upload(engine, _region(engine, region), path, path.name, KEY, user_id)


# --------------------------------------------------------------------------- figures


def test_figures_follow_the_refresh_rule_on_a_ragged_tree(engine):
    # 莆田市 has no figure of its own; 仙游县 by 学段 only; 城厢区 and 涵江区 complete;
    # 荔城区 given; 秀屿区 missing — so 莆田市 cannot be summed.
    _put(engine, (CHENGXIANG, "", 900), (HANJIANG, "", 1100), (LICHENG, "", 800),
         (XIANYOU, "小学", 300), (XIANYOU, "初中", 200))
    with engine.connect() as conn:
        rows = tc.figures_table(conn, get_region(conn, PUTIAN))
    by = {(r.region_code, r.stage): r for r in rows}
    # every region of the subtree has an all-stages row, parents first, in code order
    assert [r.region_code for r in rows if r.stage == ""] == [
        PUTIAN, CHENGXIANG, HANJIANG, LICHENG, XIUYU, XIANYOU]
    assert [(r.region_code, r.stage) for r in rows if r.region_code == XIANYOU] == [
        (XIANYOU, ""), (XIANYOU, "小学"), (XIANYOU, "初中")]
    assert by[(LICHENG, "")].own == by[(LICHENG, "")].effective == 800
    assert by[(LICHENG, "")].status == tc.STATUS_OWN
    assert by[(LICHENG, "")].source == "导入：基线.csv"
    assert by[(LICHENG, "")].updater == tc.CLI_UPDATER
    assert by[(XIUYU, "")].effective is None
    assert by[(XIUYU, "")].reason == "本级未填报专任教师数，且没有下级区域"
    # the all-stages figure of 仙游县 is not the sum of its 学段 figures (§1.5)
    assert by[(XIANYOU, "")].effective is None
    assert by[(XIANYOU, "小学")].effective == 300
    assert by[(PUTIAN, "")].effective is None
    assert by[(PUTIAN, "")].reason == "本级未填报专任教师数，下级区域秀屿区、仙游县缺少专任教师数"
    assert [r.region_code for r in tc.missing_regions(rows)] == [PUTIAN, XIUYU, XIANYOU]

    _put(engine, (XIUYU, "", 700), (XIANYOU, "", 600))
    with engine.connect() as conn:
        rows = tc.figures_table(conn, get_region(conn, PUTIAN))
    top = rows[0]
    assert (top.region_code, top.effective, top.status) == (PUTIAN, 900 + 1100 + 800 + 700 + 600,
                                                           tc.STATUS_SUM)
    assert top.reason == "由 5 个下级区域合计"
    assert tc.missing_regions(rows) == []


def test_a_county_sees_only_its_own_subtree(engine):
    _put(engine, (LICHENG, "", 800), (XIANYOU, "", 600))
    with engine.connect() as conn:
        rows = tc.figures_table(conn, get_region(conn, XIANYOU))
    assert {r.region_code for r in rows} == {XIANYOU}
    assert rows[0].effective == 600


# --------------------------------------------------------------------------- upload


def test_preview_writes_nothing_and_commit_records_the_uploader(engine, tmp_path):
    _put(engine, (LICHENG, "", 800), (XIANYOU, "", 600))
    uid, _ = _admin(engine, PUTIAN, "putian-counts")
    path = _csv(tmp_path, [HEADER, [LICHENG, "荔城区", "", "800"],   # unchanged
                           [XIANYOU, "仙游县", "", "650"],               # changed
                           [XIUYU, "秀屿区", "", "700"],                 # new
                           [CHENGXIANG, "城厢区", "", ""],                # blank: skipped
                           [XIANYOU, "仙游县", "小学", "300"]])         # new
    before = _counts(engine)
    preview = _preview(engine, PUTIAN, path)
    assert preview.ok and preview.errors == [] and preview.changes == 3
    assert [r.outcome for r in preview.rows] == [
        tc.OUTCOME_SAME, tc.OUTCOME_CHANGED, tc.OUTCOME_NEW, tc.OUTCOME_BLANK, tc.OUTCOME_NEW]
    assert preview.rows[1].current == "600"
    assert _counts(engine) == before

    result = _commit(engine, PUTIAN, path, uid)
    assert (result.rows, result.inserted, result.updated, result.unchanged, result.skipped) == (
        5, 2, 1, 1, 1)
    after = _counts(engine)
    assert after[(LICHENG, "")] == (800, "基线.csv", None)  # unchanged keeps its history
    assert after[(XIANYOU, "")] == (650, "upload.csv", uid)
    assert after[(XIUYU, "")] == (700, "upload.csv", uid)
    assert (CHENGXIANG, "") not in after
    with engine.connect() as conn:
        rows = {(r.region_code, r.stage): r
                for r in tc.figures_table(conn, get_region(conn, PUTIAN))}
    assert rows[(XIANYOU, "")].source == "上传：upload.csv"
    assert rows[(XIANYOU, "")].updater == "许文华（put***nts）"
    assert rows[(LICHENG, "")].updater == tc.CLI_UPDATER


def test_three_bad_rows_are_all_reported_in_chinese_and_nothing_is_written(engine, tmp_path):
    _put(engine, (LICHENG, "", 800))
    uid, _ = _admin(engine, XIANYOU, "xianyou-counts")
    path = _csv(tmp_path, [HEADER, [XIANYOU, "仙游县", "", "12a0"],        # not a number
                           [LICHENG, "荔城区", "", "800"],                  # outside 仙游县
                           [XIANYOU, "仙游县", "小学", "300"],
                           [XIANYOU, "莆田县", "初中", "200"],              # name mismatch
                           ["350399", "", "", "5"]])                        # unknown code
    preview = _preview(engine, XIANYOU, path)
    assert not preview.ok and preview.error_total == 4
    assert preview.errors == [
        "第 2 行，列「专任教师数」：「12a0」不是整数",
        "第 3 行，列「区域代码」：区域代码「350304」不在您的管理范围内",
        "第 5 行，列「区域名称」：与区域代码「350322」不符（该代码是「仙游县」）",
        "第 6 行，列「区域代码」：区域代码「350399」不存在",
    ]
    assert [r.outcome for r in preview.rows] == [
        tc.OUTCOME_ERROR, tc.OUTCOME_ERROR, tc.OUTCOME_NEW, tc.OUTCOME_ERROR, tc.OUTCOME_ERROR]
    # nothing stored about another region shows in the preview
    assert (preview.rows[1].region_name, preview.rows[1].current) == ("荔城区", "—")
    with pytest.raises(ImportRefused):
        _commit(engine, XIANYOU, path, uid)
    assert set(_counts(engine)) == {(LICHENG, "")}  # the good row 4 was not written either

    fixed = _csv(tmp_path, [HEADER, [XIANYOU, "仙游县", "", "1200"],
                            [XIANYOU, "仙游县", "小学", "300"],
                            [XIANYOU, "仙游县", "初中", "200"]], name="fixed.csv")
    assert _commit(engine, XIANYOU, fixed, uid).inserted == 3
    assert _counts(engine)[(XIANYOU, "")] == (1200, "fixed.csv", uid)


def test_the_template_comes_back_unchanged(engine, tmp_path):
    _put(engine, (LICHENG, "", 800), (XIANYOU, "小学", 300))
    uid, scope = _admin(engine, PUTIAN, "putian-template")
    table, _, rows = _table(engine, TeacherCountTemplate, scope)
    header = [c.label for c in table.columns]
    assert header == ["区域代码*", "区域名称", "学段", "专任教师数*"]
    assert table.title() is None
    path = tmp_path / "模板.xlsx"
    write_xlsx(path, table.title(), table.columns, rows)
    sheet = load_workbook(path).active
    assert [c.value for c in sheet[1]] == header
    assert [c.value for c in sheet[2]][:2] == [PUTIAN, "莆田市"]
    preview = _preview(engine, PUTIAN, path)
    assert preview.ok and preview.changes == 0
    outcomes = [r.outcome for r in preview.rows]
    assert outcomes.count(tc.OUTCOME_SAME) == 2
    assert outcomes.count(tc.OUTCOME_BLANK) == 5  # the all-stages rows without a figure
    result = _commit(engine, PUTIAN, path, uid)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 2)
    assert _counts(engine)[(LICHENG, "")] == (800, "基线.csv", None)


BAD_FILES = {
    "empty.csv": b"",
    "utf16.csv": "区域代码,专任教师数\n350322,5\n".encode("utf-16"),
    "latin.csv": b"\xff\xfe\x00\xc3(\x80\x81",
    "quotes.csv": '区域代码,专任教师数\n"350322,5\n'.encode(),
    "wrong-header.csv": "地区,人数\n350322,5\n".encode(),
    "no-count.csv": "区域代码,学段\n350322,小学\n".encode(),
    "twice.csv": "区域代码,区域代码,专任教师数\n350322,350322,5\n".encode(),
    "control.csv": "区域代码,学段,专任教师数\n350322,小\x07学,5\n".encode(),
    "values.csv": ("区域代码,学段,专任教师数\n350322,大学,5\n350322,,-3\n350322,初中,"
                   "99999999999999999999\n350322,小学,5\n350322,小学,6\n,,7\n").encode(),
    "not-excel.xlsx": b"PK\x03\x04 this is not a workbook",
    "random.xlsx": bytes(range(256)) * 8,
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_are_explained_in_chinese_without_english(engine, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    preview = _preview(engine, XIANYOU, path) if name != "empty.csv" else None
    if preview is None:  # the console refuses an empty file before the import
        with pytest.raises(tc.UploadRefused, match="文件为空"):
            tc.check_size(0)
        return
    assert not preview.ok and preview.errors
    if name.endswith(".xlsx"):
        assert preview.errors == ["文件：无法读取 XLSX 文件：文件已损坏或不是 Excel 工作簿"]
    for message in preview.errors:
        assert not re.search(r"[A-Za-z]{3,}", re.sub(r"CSV|XLSX|UTF-\d+|GBK|GB18030|Excel"
                                                     r"|\.xlsx|\.xls", "", message)), message
        assert tc.UNKNOWN_REASON not in message, message
    assert _counts(engine) == {}


def test_a_zip_bomb_is_refused_before_it_is_unpacked(engine, tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (300 * 2**20))
    assert path.stat().st_size < tc.UPLOAD_MAX_BYTES
    preview = _preview(engine, XIANYOU, path)
    assert not preview.ok
    assert any("XLSX 文件" in m for m in preview.errors), preview.errors


def test_upload_names_and_sizes(engine):
    assert tc.clean_filename("C:\\Users\\张\\专任教师数.XLSX") == "专任教师数.XLSX"
    assert tc.clean_filename("../../etc/专任\x00教师数.csv") == "专任教师数.csv"
    long = tc.clean_filename("很" * 300 + ".xlsx")
    assert len(long) == 100 and long.endswith(".xlsx")
    for bad in (None, 5, ["a.csv"], "a.xls", "a.csv.exe", "", "<script>.html"):
        with pytest.raises(tc.UploadRefused, match="只能上传 CSV 或 XLSX"):
            tc.clean_filename(bad)
    tc.check_size(tc.UPLOAD_MAX_BYTES)
    with pytest.raises(tc.UploadRefused, match="文件过大"):
        tc.check_size(tc.UPLOAD_MAX_BYTES + 1)


def test_the_export_table_matches_the_screen_and_keeps_to_the_scope(engine):
    _put(engine, (LICHENG, "", 800))
    _, scope = _admin(engine, PUTIAN, "putian-export")
    table, count, exported = _table(engine, TeacherCountTable, scope, XIANYOU)
    with engine.connect() as conn:
        shown = [tc.figure_values(r) for r in tc.figures_table(conn, get_region(conn, XIANYOU))]
    assert count == len(exported) == len(shown) == 1
    assert exported == shown
    assert [c.label for c in table.columns] == [label for label, _ in tc.COLUMNS]
    assert "专任教师数 · 仙游县" in table.title()
    _, scope = _admin(engine, XIANYOU, "xianyou-export")
    for outside in (PUTIAN, LICHENG, "350000", "x"):
        with pytest.raises(ScopeDenied):
            _table(engine, TeacherCountTable, scope, outside)


def test_errors_beyond_the_listed_ones_never_pass_as_good_rows(engine, tmp_path):
    from data_access.importers import SHOWN_ERRORS
    rows = [HEADER] + [["999999", "", "", "1"]] * (SHOWN_ERRORS + 1) + [
        [XIANYOU, "", "", "abc"], ["350000", "", "", "5"], [XIANYOU, "", "小学", "3"]]
    preview = _preview(engine, PUTIAN, _csv(tmp_path, rows))
    assert not preview.ok and preview.error_total == SHOWN_ERRORS + 3
    assert len(preview.errors) == SHOWN_ERRORS
    assert preview.rows[SHOWN_ERRORS - 1].outcome == tc.OUTCOME_ERROR  # the last listed
    assert [r.outcome for r in preview.rows[SHOWN_ERRORS:]] == [tc.OUTCOME_UNLISTED] * 4


def test_an_upload_has_a_row_limit(engine, tmp_path):
    uid, _ = _admin(engine, XIANYOU, "xianyou-rows")
    rows = [HEADER] + [[XIANYOU, "", "", "1"]] * (tc.UPLOAD_MAX_ROWS + 1)
    path = _csv(tmp_path, rows)
    for attempt in (lambda: _preview(engine, XIANYOU, path),
                    lambda: _commit(engine, XIANYOU, path, uid)):
        with pytest.raises(tc.UploadRefused, match=f"文件超过 {tc.UPLOAD_MAX_ROWS} 行"):
            attempt()
    # the importer keeps the same limit when it is asked to
    from data_access.importers import import_file
    with pytest.raises(ImportRefused) as refused:
        import_file(engine, tc.KIND, path, id_key=KEY, max_rows=10, dry_run=True,
                    errors_file=tmp_path / "e.csv")
    assert tc.chinese_message(refused.value.errors[-1]) == "第 12 行：文件超过 10 行，请分成几个文件上传"


def test_a_figure_written_meanwhile_by_another_admin_is_a_clear_refusal(engine, tmp_path,
                                                                        monkeypatch):
    from data_access import importers
    uid, _ = _admin(engine, PUTIAN, "putian-race")
    load = importers._TeacherCounts.load

    def load_then_race(self, conn):
        load(self, conn)
        _put(engine, (CHENGXIANG, "", 7))  # committed by someone else after our read

    monkeypatch.setattr(importers._TeacherCounts, "load", load_then_race)
    path = _csv(tmp_path, [HEADER, [CHENGXIANG, "城厢区", "", "5"]])
    with pytest.raises(tc.ConcurrentChange, match="其他管理员刚刚修改了"):
        _commit(engine, PUTIAN, path, uid)
    assert _counts(engine)[(CHENGXIANG, "")] == (7, "基线.csv", None)


def test_a_hook_failure_before_commit_writes_nothing(engine, tmp_path):
    uid, _ = _admin(engine, PUTIAN, "putian-hook")

    def fail(conn, result):
        assert result.inserted == 1
        raise RuntimeError("no audit")

    with pytest.raises(RuntimeError):
        tc.commit_upload(engine, _region(engine, PUTIAN),
                         _csv(tmp_path, [HEADER, [XIUYU, "秀屿区", "", "5"]]), "a.csv", KEY,
                         uid, before_commit=fail)
    assert _counts(engine) == {}


def test_names_the_formula_guard_wrote_and_the_shown_stage_come_back(engine, tmp_path):
    from sqlalchemy import update as sql_update
    from data_access.models import Region
    uid, scope = _admin(engine, PUTIAN, "putian-guard")
    with engine.begin() as conn:
        conn.execute(sql_update(Region).where(Region.code == XIUYU).values(name="=1+2"))
    _put(engine, (XIUYU, "", 9))
    table, _, rows = _table(engine, TeacherCountTemplate, scope)
    path = tmp_path / "guarded.xlsx"
    write_xlsx(path, table.title(), table.columns, rows)
    assert "'=1+2" in [c.value for row in load_workbook(path).active.iter_rows() for c in row]
    preview = _preview(engine, PUTIAN, path)
    assert preview.ok and preview.changes == 0, preview.errors
    stage_shown = _csv(tmp_path, [HEADER, [XIUYU, "'=1+2", tc.ALL_STAGES, "9"],
                                  [XIUYU, "", "大学", "9"]], name="stage.csv")
    preview = _preview(engine, PUTIAN, stage_shown)
    assert preview.errors == ["第 3 行，列「学段」：「大学」不是有效的值，应为：幼儿园、小学、初中、高中、"
                              "中职、特教、通用学段（留空或填「全部学段」表示全部学段）"]
    assert preview.rows[0].outcome == tc.OUTCOME_SAME


def test_a_zero_figure_is_listed_as_missing(engine):
    _put(engine, (XIUYU, "", 0))
    with engine.connect() as conn:
        rows = tc.figures_table(conn, get_region(conn, PUTIAN))
    xiuyu = next(r for r in tc.missing_regions(rows) if r.region_code == XIUYU)
    assert xiuyu.reason == "专任教师数为 0，参训率和学习进度无法计算"


def test_an_xlsx_sheet_is_never_parsed_whole_to_find_its_size(engine, tmp_path, monkeypatch):
    # A sheet without <dimension> would be parsed to its end before its first row.
    from openpyxl.worksheet._reader import WorkSheetParser

    def whole_sheet(self):
        raise AssertionError("the sheet was parsed to find its size")

    monkeypatch.setattr(WorkSheetParser, "parse_dimensions", whole_sheet)
    path = _xlsx(tmp_path, [HEADER, [XIANYOU, "仙游县", "", "12"]])
    preview = _preview(engine, XIANYOU, path)
    assert preview.ok and [r.outcome for r in preview.rows] == [tc.OUTCOME_NEW]
