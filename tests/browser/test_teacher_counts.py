"""专任教师数 as a city admin uses it, in the browser: the regions whose 参训率 shows `—` are
listed with the reason; a file with three bad rows shows all three errors in Chinese and
cannot be committed; the corrected file is previewed and committed; after the next refresh
the 统计详情 row of 秀屿区 shows a rate instead of `—`.

With YANXIU_DOC_SCREENSHOTS=1 the screenshots also replace docs/screenshots/teacher-counts*.png.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from data_access.demo import IMPORT_ORDER, generate
from data_access.importers import import_file
from data_access.models import TeacherCount, Training
from data_access.refresh import refresh
from tests.browser.stats_page import region_rows, wait_current_region
from tests.helpers import PASSWORD, browser_login, make_admin

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ALLOWED_LATIN = re.compile(r"\b(CSV|XLSX|Excel|UTF-8|GBK|MB)\b|[\w\-]+\.(csv|xlsx)")
MISSING = ["350305", "350398", "350399"]  # 秀屿区 and the zones 北岸经济开发区, 湄洲岛

FITS = """() => {
  const problems = [];
  for (const el of document.querySelectorAll('.ag-header-cell-text, .ag-cell-value')) {
    if (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight + 1)
      problems.push('cut off: ' + el.innerText.trim());
  }
  for (const el of document.querySelectorAll('.ag-center-cols-viewport')) {
    if (el.scrollWidth > el.clientWidth + 1) problems.push('grid scrolls sideways');
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('page scrolls');
  return problems;
}"""


@pytest.fixture
def world(app, tmp_path):
    engine = app.extensions["yanxiu"].engine
    files = generate("small", tmp_path / "demo")
    for kind in IMPORT_ORDER:
        import_file(engine, kind, files[kind], id_key=b"k")
    refresh(engine)
    make_admin(engine, "region_training", "350300", "putian-admin", "陈淑珍")
    return engine


def _doc(page, name: str) -> None:
    shot = page.shot(name)
    if os.environ.get("YANXIU_DOC_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / f"{name}.png")


def _latin(page) -> list[str]:
    text = ALLOWED_LATIN.sub(" ", page.inner_text(".content"))
    return sorted(set(re.findall(r"[A-Za-z]{2,}", text)))


def _write(path: Path, rows) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _upload(page, path: Path) -> None:
    page.set_input_files("#tc-upload input[type=file]", str(path))
    page.wait_for_function(
        "n => { const s = document.querySelector('#tc-preview-summary');"
        " return s && s.innerText.includes(n); }", arg=path.name)


def _rate_of(page, name: str) -> str:
    rows = {row[0]: row for row in region_rows(page)}
    headers = page.eval_on_selector_all(
        "#st-region-grid .ag-header-row-column .ag-header-cell",
        "els => els.map(e => e.innerText.trim())")
    return rows[name][headers.index("参训率")]


def test_a_city_admin_fixes_a_missing_figure(world, live_server, browser_page, tmp_path):
    page = browser_page
    with world.connect() as conn:
        training = conn.scalar(select(Training.code).order_by(Training.end_at))
    browser_login(page, live_server, "putian-admin", PASSWORD)

    # the statistics show `—` for 秀屿区 before anything is entered
    page.goto(f"{live_server}/training/{training}?region=350300")
    wait_current_region(page, "莆田市")
    assert _rate_of(page, "秀屿区") == "—"

    page.click(".leftmenu .menu-item:text-is('专任教师数')")
    page.wait_for_function("() => location.pathname === '/teacher-counts'")
    page.wait_for_selector("#tc-missing-grid .ag-center-cols-container .ag-row")
    missing = page.eval_on_selector_all(
        "#tc-missing-grid .ag-center-cols-container [col-id='path']",
        "els => els.map(e => e.innerText.trim())")
    assert "秀屿区" in missing and "湄洲岛" in missing
    assert "本级未填报专任教师数，且没有下级区域" in page.inner_text("#tc-missing-grid")
    assert page.evaluate(FITS) == [] and _latin(page) == []
    _doc(page, "teacher-counts")

    # 下载模板: the scope's regions with their current figures, ready to fill in
    with page.expect_download() as info:
        page.click("a:text-is('下载模板')")
    with open(info.value.path(), "rb") as fh:
        sheet = load_workbook(fh).active
    assert info.value.suggested_filename.endswith(".xlsx")
    template = [[c.value or "" for c in row] for row in sheet.iter_rows()]
    assert template[0] == ["区域代码*", "区域名称", "学段", "专任教师数*"]
    codes = [row[0] for row in template[1:]]
    assert codes[0] == "350300" and set(MISSING) <= set(codes)
    assert all(code.startswith("3503") for code in codes)

    # three bad rows: a figure that is not a number, a region of another city, a wrong name
    bad = _write(tmp_path / "莆田专任教师数.csv", [
        ["区域代码", "区域名称", "学段", "专任教师数"],
        ["350305", "秀屿区", "", "3千"],
        ["350102", "鼓楼区", "", "5000"],
        ["350399", "湄州岛", "", "260"],
        ["350398", "北岸经济开发区", "", "410"],
    ])
    _upload(page, bad)
    page.wait_for_selector("#tc-preview-errors li")
    errors = page.eval_on_selector_all("#tc-preview-errors li",
                                       "els => els.map(e => e.innerText.trim())")
    assert errors == [
        "第 2 行，列「专任教师数」：「3千」不是整数",
        "第 3 行，列「区域代码」：区域代码「350102」不在您的管理范围内",
        "第 4 行，列「区域名称」：与区域代码「350399」不符（该代码是「湄洲岛」）",
    ]
    assert page.is_disabled("#tc-confirm")
    for width in (1280, 1920, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)  # the grids size their columns to the new width
        assert page.evaluate(FITS) == [], width
    assert _latin(page) == []
    _doc(page, "teacher-counts-errors")

    # corrected: previewed row by row, then committed
    good = _write(tmp_path / "莆田专任教师数-改.csv", [
        ["区域代码", "区域名称", "学段", "专任教师数"],
        ["350305", "秀屿区", "", "3000"],
        ["350399", "湄洲岛", "", "260"],
        ["350398", "北岸经济开发区", "", "410"],
    ])
    _upload(page, good)
    page.wait_for_function("() => !document.querySelector('#tc-confirm').disabled")
    assert page.locator("#tc-preview-errors li").count() == 0
    outcomes = page.eval_on_selector_all(
        "#tc-preview-grid .ag-center-cols-container [col-id='outcome']",
        "els => els.map(e => e.innerText.trim())")
    assert outcomes == ["新增", "新增", "新增"]
    _doc(page, "teacher-counts-preview")
    page.click("#tc-confirm")
    page.wait_for_function(
        "() => document.querySelector('#tc-result').innerText.includes('已导入')")
    assert "新增 3 个" in page.inner_text("#tc-result")
    assert not page.is_visible("#tc-preview-panel")
    page.wait_for_function(
        "() => !Array.from(document.querySelectorAll("
        "'#tc-missing-grid .ag-center-cols-container [col-id=\"path\"]'))"
        ".some(e => e.innerText.trim() === '秀屿区')")
    with world.connect() as conn:
        stored = dict(conn.execute(select(TeacherCount.region_code, TeacherCount.count)
                                   .where(TeacherCount.region_code.in_(MISSING))).all())
    assert stored == {"350305": 3000, "350399": 260, "350398": 410}

    # the statistics use the new figure from the next refresh on
    page.goto(f"{live_server}/training/{training}?region=350300")
    wait_current_region(page, "莆田市")
    assert _rate_of(page, "秀屿区") == "—"
    refresh(world)
    page.reload()
    wait_current_region(page, "莆田市")
    rate = _rate_of(page, "秀屿区")
    assert re.fullmatch(r"\d+\.\d{2}%", rate), rate
