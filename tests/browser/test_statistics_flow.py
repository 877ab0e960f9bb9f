"""The whole 统计详情 flow in a browser, on the small demo data set:
log in → open a training → change indicators → toggle uncertified → drill down two levels →
breadcrumb back → filter → teacher tab → jump to a page → search a name → download CSV and
XLSX and check their contents against the screen."""

from __future__ import annotations

import csv
import io
import re

import pytest

from data_access.demo import IMPORT_ORDER, generate
from data_access.importers import import_file
from data_access.refresh import refresh
from tests.browser.stats_page import (
    region_rows,
    summary,
    teacher_rows,
    wait_current_region,
    wait_rows_changed,
    wait_summary,
)
from tests.helpers import PASSWORD, browser_login, make_admin

pytestmark = pytest.mark.browser


def test_statistics_flow(app, live_server, browser_page, tmp_path):
    engine = app.extensions["yanxiu"].engine
    files = generate("small", tmp_path / "demo")
    for kind in IMPORT_ORDER:
        import_file(engine, kind, files[kind], id_key=b"k")
    refresh(engine)
    account = make_admin(engine, "region_training", "350000", "province-admin")
    page = browser_page

    browser_login(page, live_server, account, PASSWORD)
    page.click("#tl-grid .ag-row[row-id='2022SUMMER'] .link-cell")
    wait_current_region(page, "福建省")
    page.wait_for_selector("#st-chart .trace.bars")
    page.shot("training")

    # 指标选择: add 学习率 → a line on the right axis, the URL hash remembers it
    page.click("#st-indicators")
    page.get_by_role("option", name="学习率").click()
    page.keyboard.press("Escape")
    page.wait_for_function("() => location.hash.includes('learning_rate')")
    page.wait_for_selector("#st-chart .legendtext >> text=学习率")
    # both axes are titled and the % axis has round ticks of its own (not the bar axis's grid)
    page.wait_for_selector("#st-chart .g-y2title text")
    assert page.text_content("#st-chart .g-ytitle text") == "人数"
    assert page.text_content("#st-chart .g-y2title text") == "%"
    right_ticks = page.eval_on_selector_all("#st-chart .y2tick text",
                                            "els => els.map(e => e.textContent)")
    assert right_ticks and all(re.fullmatch(r"\d+%", t) for t in right_ticks), right_ticks
    page.shot("indicators")

    # 未通过认证教师: 不包含 → every number follows
    before = page.inner_text("#st-cards")
    page.click("label:has-text('不包含')")
    page.wait_for_function("() => location.search.includes('uncertified=exclude')")
    page.wait_for_function("b => document.querySelector('#st-cards').innerText !== b", arg=before)
    assert "learning_rate" in page.evaluate("location.hash")

    # drill down two levels, then back up with the breadcrumb
    page.click("#st-region-grid .ag-pinned-left-cols-container >> text=莆田市")
    wait_current_region(page, "莆田市")
    page.click("#st-region-grid .ag-pinned-left-cols-container >> text=仙游县")
    wait_current_region(page, "仙游县")
    page.wait_for_function(
        "() => document.querySelector('#st-breadcrumb').innerText.replace(/\\n/g, '')"
        " === '福建省 / 莆田市 / 仙游县'")
    page.shot("county")
    page.click("#st-breadcrumb >> text=莆田市")
    wait_current_region(page, "莆田市")
    assert "learning_rate" in page.evaluate("location.hash")  # indicators survive navigation

    # filter 学段 = 小学
    before = region_rows(page)
    page.click("#st-stage")
    page.get_by_role("option", name="小学").click()
    page.click("#st-filter")
    page.wait_for_function("() => decodeURIComponent(location.search).includes('stage=小学')")
    wait_rows_changed(page, "#st-region-grid", before)
    wait_current_region(page, "莆田市")
    participants = region_rows(page)[0][2]
    page.shot("filtered")

    # 按学员查看: the count equals the table's 参训人数 under the same filters
    page.click("text=按学员查看")
    m = wait_summary(page, r"当前第 1 页/共 (\d+) 页, 共有 (\d+) 条记录")
    pages, total = int(m.group(1)), int(m.group(2))
    assert total == int(participants) and pages == -(-total // 10)
    assert page.is_hidden("#st-region-panel") and page.is_visible("#st-teacher-panel")
    page.shot("teachers")

    # 跳至 the last page
    first_rows = teacher_rows(page)
    page.fill("#st-jump", str(pages))
    page.click("#st-go")
    wait_summary(page, rf"当前第 {pages} 页/共 {pages} 页")
    assert f"page={pages}" in page.url
    last_rows = teacher_rows(page)
    assert 1 <= len(last_rows) <= 10 and last_rows != first_rows
    page.go_back()
    wait_summary(page, r"当前第 1 页/")
    wait_rows_changed(page, "#st-teacher-grid", last_rows)

    # search a name (prefix) found on the first page
    name = teacher_rows(page)[0][1]
    page.fill("#st-name", name[:2])
    page.click("#st-filter")
    page.wait_for_function("() => decodeURIComponent(location.search).includes('q=')")
    page.wait_for_function(
        "n => { const cells = Array.from(document.querySelectorAll("
        "'#st-teacher-grid .ag-center-cols-container .ag-row [col-id=\"name\"]'));"
        " return cells.length > 0 && cells.every(c => c.innerText.trim().startsWith(n)); }",
        arg=name[:2])
    wait_summary(page, r"共有 \d+ 条记录")
    shown = teacher_rows(page)
    assert shown and all(row[1].startswith(name[:2]) for row in shown)
    page.shot("search")

    # downloads hold exactly the rows on screen (the search result fits on one page here)
    matches = int(re.search(r"共有 (\d+) 条记录", summary(page)).group(1))
    with page.expect_download() as dl:
        page.click("#st-export-job-csv")
    lines = list(csv.reader(io.StringIO(open(dl.value.path(), "rb").read().decode("utf-8-sig"))))
    assert lines[1] == ["账号", "姓名", "所在学校", "所在区域", "学段", "学科领域", "获得学时", "实际学习时长"]
    assert len(lines) - 2 == matches
    if matches <= 10:
        assert lines[2:] == shown
    with page.expect_download() as dl:
        page.click("#st-export-job-xlsx")
    from openpyxl import load_workbook

    xlsx = tmp_path / "teachers.xlsx"
    dl.value.save_as(xlsx)
    sheet = load_workbook(xlsx, read_only=True).worksheets[0]
    values = [[("" if c is None else str(c)) for c in row] for row in sheet.iter_rows(values_only=True)]
    body = [row for row in values if any(row)][2:]
    assert [row[:8] for row in body] == lines[2:]
