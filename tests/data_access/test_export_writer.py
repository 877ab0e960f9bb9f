"""The export writers: CSV file = csv_chunks bytes; XLSX read back shows the rows, with
SPEC §6's cell types; the formula guard; sheet rollover."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from data_access import export_writer as exports
from data_access.export_writer import (
    AVERAGE,
    COUNT,
    HOURS,
    PERCENT,
    TEXT,
    Column,
    csv_chunks,
    guard_cell,
    write_csv,
    write_xlsx,
)
from data_access.metrics import duration, hours
from tests.helpers import xlsx_shown

TITLE = "2022年“暑期教师研修”专题 · 福建省 · 学段：全部 · 数据更新时间：2022-07-05 19:01:00"
HEADER = ["账号", "姓名", "所在学校", "所在区域", "学段", "学科领域", "获得学时", "实际学习时长"]
COLUMNS = [Column(label, HOURS if label == "获得学时" else TEXT) for label in HEADER]


def text_columns(n: int) -> list[Column]:
    return [Column(f"c{i}") for i in range(n)]


def sample_rows(n: int) -> list[list[str]]:
    return [[f"138****{i:04d}", f"教师{i}", "仙游县第一中学", "福建省/莆田市/仙游县", "初中", "语文",
             hours(i * 5 % 121), duration(i * 997)] for i in range(n)]


DANGEROUS = [["=1+1", "+86 123", "-3", "@SUM(A1)", "\tx", "\ry", "a=b", "007", "10.0", ""]]


def sheet_values(ws) -> list[list[str]]:
    """Every cell as the spreadsheet shows it."""
    return [[xlsx_shown(c) for c in row] for row in ws.iter_rows()]


def test_csv_file_has_exactly_the_bytes_of_csv_chunks(tmp_path):
    rows = sample_rows(4321) + DANGEROUS
    path = tmp_path / "out.csv"
    seen = []
    n = write_csv(path, TITLE, COLUMNS, iter(rows), progress=seen.append)
    assert n == len(rows)
    assert path.read_bytes() == b"".join(csv_chunks(TITLE, COLUMNS, rows))
    assert seen == []  # fewer rows than the default step
    seen.clear()
    write_csv(path, TITLE, COLUMNS, iter(rows), progress=seen.append, progress_every=1000)
    assert seen == [1000, 2000, 3000, 4000]


def test_csv_file_with_no_rows_has_title_and_header(tmp_path):
    path = tmp_path / "empty.csv"
    assert write_csv(path, TITLE, COLUMNS, []) == 0
    lines = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert lines == [[TITLE], HEADER]
    assert path.read_bytes().startswith("\ufeff".encode())


def test_xlsx_read_back_equals_title_header_and_rows(tmp_path):
    rows = sample_rows(250)
    path = tmp_path / "out.xlsx"
    seen = []
    assert write_xlsx(path, TITLE, COLUMNS, iter(rows), progress=seen.append,
                      progress_every=100) == 250
    assert seen == [100, 200]
    wb = load_workbook(path, read_only=True)
    assert len(wb.worksheets) == 1
    values = sheet_values(wb.worksheets[0])
    assert values[0][0] == TITLE and all(v == "" for v in values[0][1:])
    assert values[1] == HEADER
    assert values[2:] == rows
    wb.close()
    # the title row is merged over the columns
    full = load_workbook(path)
    assert [str(r) for r in full.worksheets[0].merged_cells.ranges] == ["A1:H1"]


def test_xlsx_text_cells_are_text_exactly_as_on_screen(tmp_path):
    path = tmp_path / "text.xlsx"
    write_xlsx(path, TITLE, text_columns(10), DANGEROUS)
    ws = load_workbook(path).worksheets[0]
    cells = [c.value for c in ws[3]]
    # numbers stay the strings shown on screen (no 7 for "007", no 10 for "10.0")
    assert cells[7] == "007" and cells[8] == "10.0"
    assert all(c is None or isinstance(c, str) for c in cells)
    assert all(c.data_type != "f" for c in ws[3])
    # a CR is stored as the OOXML escape _x000D_ (Excel shows a CR; openpyxl keeps the escape)
    cells = [c.replace("_x000D_", "\r") if isinstance(c, str) else c for c in cells]
    assert cells[:7] == ["'=1+1", "'+86 123", "'-3", "'@SUM(A1)", "'\tx", "'\ry", "a=b"]
    assert cells[9] in (None, "")


def test_guard_applies_to_title_and_header_too(tmp_path):
    path = tmp_path / "guard.xlsx"
    write_xlsx(path, "=HYPERLINK(\"http://x\")", [Column("@h"), Column("ok", COUNT)],
               [["1", "2"]])
    values = sheet_values(load_workbook(path, read_only=True).worksheets[0])
    assert values[0][0] == guard_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert values[1] == ["'@h", "ok"]
    assert values[2] == ["1", "2"]


def test_xlsx_continues_on_a_new_sheet_beyond_the_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_SHEET_DATA_ROWS", 3)
    rows = sample_rows(7)
    path = tmp_path / "roll.xlsx"
    assert write_xlsx(path, TITLE, COLUMNS, iter(rows)) == 7
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == ["数据1", "数据2", "数据3"]
    bodies = []
    for ws in wb.worksheets:
        values = sheet_values(ws)
        assert values[0][0] == TITLE and values[1] == HEADER
        bodies.append(values[2:])
    assert [len(b) for b in bodies] == [3, 3, 1]
    assert [r for b in bodies for r in b] == rows


def test_xlsx_exact_multiple_of_the_limit_makes_no_empty_sheet(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_SHEET_DATA_ROWS", 2)
    path = tmp_path / "exact.xlsx"
    write_xlsx(path, TITLE, COLUMNS, sample_rows(4))
    assert load_workbook(path, read_only=True).sheetnames == ["数据1", "数据2"]


def test_default_sheet_limit_fills_an_excel_sheet():
    # title + header + data rows = the 1,048,576 rows of an Excel sheet
    assert exports.XLSX_SHEET_DATA_ROWS + 2 == 1_048_576


def test_xlsx_with_no_rows(tmp_path):
    path = tmp_path / "empty.xlsx"
    assert write_xlsx(path, TITLE, COLUMNS, []) == 0
    values = sheet_values(load_workbook(path, read_only=True).worksheets[0])
    assert values[0][0] == TITLE and values[1] == HEADER and len(values) == 2


@pytest.mark.parametrize("writer", [write_csv, write_xlsx])
def test_writers_accept_a_generator_once(tmp_path, writer):
    consumed = []

    def gen():
        for r in sample_rows(5):
            consumed.append(r)
            yield r

    assert writer(tmp_path / "g.out", TITLE, COLUMNS, gen()) == 5
    assert len(consumed) == 5


def test_guard_row_equals_guard_cell_on_every_cell():
    from data_access.export_writer import guard_row

    values = ["=1", "+", "-", "@", "\t", "\r", "", None, 7, 1.5, "a", " =x", "'=y", "中文", "\n",
              "--", "---", "--1", "-- ", "-+"]
    assert guard_row(values) == [guard_cell(v) for v in values]


def test_the_two_dash_placeholder_is_written_as_it_is(tmp_path):
    """`--` (激活进度's zero-denominator ratio) cannot be a formula; anything longer that
    starts with a minus sign still gets the guard."""
    assert guard_cell("--") == "--"
    for risky in ("-", "---", "--1", "--2+3", "-- ", "-+1", "-=1"):
        assert guard_cell(risky) == "'" + risky
    rows = [["--", "--"], ["--1", "-"]]
    cols = [Column("文字"), Column("比例", PERCENT)]
    csv_text = b"".join(csv_chunks(TITLE, cols, rows)).decode("utf-8-sig")
    assert csv_text.splitlines()[2:] == ["--,--", "'--1,'-"]
    write_xlsx(tmp_path / "d.xlsx", TITLE, cols, rows)
    ws = load_workbook(tmp_path / "d.xlsx").worksheets[0]
    assert [[c.value for c in r] for r in ws.iter_rows(min_row=3)] == [["--", "--"], ["'--1", "'-"]]


# --------------------------------------------------------------------------- cell types

TYPED = [Column("区域名称"), Column("参训人数", COUNT), Column("参训率", PERCENT),
         Column("人均学时", AVERAGE), Column("获得学时", HOURS), Column("实际学习时长")]
TYPED_ROWS = [
    ["福建省", "146999", "33.03%", "7.5", "8", "07:52:00"],
    ["三明市", "0", "—", "—", "7.5", "123:04:05"],
    ["-1", "-3", "100.00%", "10.0", "0", "=1+1"],
    ["直属学校", "nan", "0.07%", "0.1", "inf", ""],
]


def test_xlsx_number_columns_hold_the_numbers_the_screen_shows(tmp_path):
    path = tmp_path / "typed.xlsx"
    write_xlsx(path, TITLE, TYPED, TYPED_ROWS)
    ws = load_workbook(path).worksheets[0]
    cells = [list(r) for r in ws.iter_rows(min_row=3)]
    # Excel shows exactly the screen's text (text cells behind the formula guard)
    assert [[xlsx_shown(c) for c in r] for r in cells] == [
        ["福建省", "146999", "33.03%", "7.5", "8", "07:52:00"],
        ["三明市", "0", "—", "—", "7.5", "123:04:05"],
        ["'-1", "-3", "100.00%", "10.0", "0", "'=1+1"],
        ["直属学校", "nan", "0.07%", "0.1", "inf", ""],
    ]
    first = cells[0]
    assert [c.data_type for c in first] == ["s", "n", "n", "n", "n", "s"]
    assert [c.number_format for c in first[1:5]] == ["0", "0.00%", "0.0", "General"]
    assert first[1].value == 146999
    # the ratio is stored rounded as shown: 33.03% is 0.3303, not 146999 / 445057
    assert first[2].value == float(Decimal("33.03") / 100) == 0.3303
    assert first[3].value == 7.5 and first[4].value == 8
    assert cells[1][4].value == 7.5 and cells[3][2].value == 0.0007
    # `—` (no denominator) stays the text `—`
    assert cells[1][2].value == "—" and cells[1][2].data_type == "s"
    assert cells[1][3].value == "—" and cells[1][3].data_type == "s"
    # a number is never guarded; text that is not a number stays text
    assert cells[2][1].value == -3 and cells[2][1].data_type == "n"
    assert [c.data_type for c in cells[3][1:5]] == ["s", "n", "n", "s"]
    assert all(c.data_type != "f" for r in cells for c in r)
    # counts add up: SUM works on them
    assert sum(r[1].value for r in cells[:3]) == 146996


def test_csv_of_typed_columns_is_the_screen_text(tmp_path):
    """The CSV keeps exactly the bytes it had before cells were typed."""
    expected = ("\ufeff" + TITLE + "\r\n区域名称,参训人数,参训率,人均学时,获得学时,实际学习时长\r\n"
                "福建省,146999,33.03%,7.5,8,07:52:00\r\n三明市,0,—,—,7.5,123:04:05\r\n"
                "'-1,'-3,100.00%,10.0,0,'=1+1\r\n直属学校,nan,0.07%,0.1,inf,\r\n").encode()
    assert b"".join(csv_chunks(TITLE, TYPED, TYPED_ROWS)) == expected
    path = tmp_path / "typed.csv"
    assert write_csv(path, TITLE, TYPED, iter(TYPED_ROWS)) == 4
    assert path.read_bytes() == expected


def test_typed_xlsx_has_no_number_stored_as_text_override(tmp_path):
    import zipfile

    path = tmp_path / "typed.xlsx"
    write_xlsx(path, TITLE, TYPED, TYPED_ROWS)
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "ignoredErrors" not in sheet
