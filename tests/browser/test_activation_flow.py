"""激活进度 as a province admin uses it, in the browser at 1280 px: find the cities and
counties lagging in activation, drill down to one, download its 未激活学校 list, issue a
code for one of them. Reload and Back restore the view; nothing is cut off; Chinese only.

With YANXIU_DOC_SCREENSHOTS=1 the screenshots also replace docs/screenshots/activation*.png.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from data_access import activation
from data_access.demo import IMPORT_ORDER, generate, seed_admins
from data_access.importers import import_file
from data_access.models import PermissionCode
from data_access.refresh import refresh
from data_access.regions import get_region
from tests.helpers import PASSWORD, browser_login, make_admin

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CODE = re.compile(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){6}")
# Latin letters allowed on screen: 导出 CSV / Excel, masked phones, the code just issued.
ALLOWED_LATIN = re.compile(
    r"\b(CSV|Excel)\b|[\w.@-]*\*{3,}[\w.@-]*|[0-9A-Z]{4}(?:-[0-9A-Z]{4}){6}")

FITS = """(grid) => {
  const root = document.querySelector(grid + ' .ag-root-wrapper');
  const box = root.getBoundingClientRect();
  const problems = [];
  for (const el of root.querySelectorAll('.ag-header-cell, .ag-cell')) {
    const r = el.getBoundingClientRect();
    if (r.left < box.left - 1 || r.right > box.right + 1)
      problems.push('outside the grid: ' + el.innerText.trim());
  }
  for (const el of root.querySelectorAll('.ag-cell-value, .ag-header-cell-text')) {
    if (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight + 1)
      problems.push('cut off: ' + el.innerText.trim());
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
    make_admin(engine, "region_training", "350000", "fujian-admin", "林志强")
    with engine.begin() as conn:
        seed_admins(conn)
    return engine


def _fits(page, grid: str) -> bool:
    """Nothing cut off or outside the grid, once it has sized its columns (a busy machine
    may take a moment after the rows arrive)."""
    try:
        page.wait_for_function(f"() => ({FITS})({grid!r}).length === 0", timeout=5000)
    except Exception:
        raise AssertionError(page.evaluate(FITS, grid)) from None
    return True


def _doc(page, name: str) -> None:
    shot = page.shot(name)
    if os.environ.get("YANXIU_DOC_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / f"{name}.png")


def _latin(page) -> list[str]:
    text = ALLOWED_LATIN.sub(" ", page.inner_text(".content"))
    return sorted(set(re.findall(r"[A-Za-z]{2,}", text)))


def _column(page, grid: str, col: str) -> list[str]:
    return page.eval_on_selector_all(
        f"{grid} .ag-center-cols-container .ag-row [col-id='{col}']",
        "els => els.map(e => [Number(e.parentElement.getAttribute('row-index')), e.innerText])"
        ".sort((a, b) => a[0] - b[0]).map(x => x[1].trim())")


def _names(page, grid="#act-grid") -> list[str]:
    return page.eval_on_selector_all(
        f"{grid} .ag-pinned-left-cols-container .ag-row [col-id='name']",
        "els => els.map(e => [Number(e.parentElement.getAttribute('row-index')), e.innerText])"
        ".sort((a, b) => a[0] - b[0]).map(x => x[1].trim())")


def _wait_current(page, name: str) -> None:
    """Until the table's pinned first row is the region `name`."""
    page.wait_for_function(
        """n => { const c = document.querySelector("#act-grid .ag-floating-top [col-id='name']");
                  return c && c.innerText.trim() === n; }""", arg=name)


def _sort_ascending(page, grid: str, col: str) -> None:
    """Click the column's header until it sorts ascending (a sort stays on while drilling
    down: the grid is the same, only its rows change)."""
    header = f"{grid} .ag-header-cell[col-id='{col}']"
    for _ in range(3):
        if page.get_attribute(header, "aria-sort") == "ascending":
            return
        page.click(f"{header} .ag-header-cell-label")
        page.wait_for_timeout(200)
    raise AssertionError(f"{col} does not sort ascending")


def _rate(text: str) -> float:
    return float(text.rstrip("%")) if text != "--" else 1e9


def test_a_province_admin_chases_a_lagging_county(world, live_server, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, live_server, "fujian-admin", PASSWORD)
    page.click(".leftmenu .menu-item:text-is('激活进度')")
    page.wait_for_function("() => location.pathname === '/activation'")
    page.wait_for_selector("#act-grid .ag-pinned-left-cols-container .ag-row")
    assert page.inner_text(".crumbs") == "福建省"
    assert "注：点击具体区域名称，可查看下一级管理员开通情况" in page.inner_text(".content")
    with world.connect() as conn:
        table = activation.activation_table(conn, get_region(conn, "350000"))
    assert page.inner_text("#act-grid .ag-floating-top [col-id='name']") == "福建省"
    _fits(page, "#act-grid") and _latin(page) == []
    _doc(page, "activation")

    # the lagging city first: sort by 学校激活进度, lowest on top
    _sort_ascending(page, "#act-grid", "school_rate")
    rates = _column(page, "#act-grid", "school_rate")
    assert rates == sorted(rates, key=_rate)
    cities = {r.name: r for r in table.rows if r.kind == "region"}
    lagging_city = _names(page)[0]
    assert lagging_city in cities
    page.click(f"#act-grid .ag-pinned-left-cols-container .drill:text-is('{lagging_city}')")
    page.wait_for_function("c => location.search === '?region=' + c",
                           arg=cities[lagging_city].code)
    _wait_current(page, lagging_city)
    assert page.inner_text(".crumbs") == f"福建省 / {lagging_city}"

    # then its lagging county (the sort is still on)
    _sort_ascending(page, "#act-grid", "school_rate")
    rates = _column(page, "#act-grid", "school_rate")
    assert rates == sorted(rates, key=_rate)
    county = _names(page)[0]
    assert county != "直属学校"
    with world.connect() as conn:
        city_table = activation.activation_table(conn, get_region(conn, cities[lagging_city].code))
    county_row = next(r for r in city_table.rows if r.name == county)
    page.click(f"#act-grid .ag-pinned-left-cols-container .drill:text-is('{county}')")
    page.wait_for_selector("#act-school-grid .ag-center-cols-container .ag-row")
    assert page.inner_text(".crumbs") == f"福建省 / {lagging_city} / {county}"
    assert _names(page) == [county]  # its own row, then its schools below
    statuses = _column(page, "#act-school-grid", "status")
    assert len(statuses) == county_row.counts.schools
    assert statuses.count("已激活") == county_row.counts.activated
    _fits(page, "#act-school-grid") and _latin(page) == []
    _doc(page, "activation-county")

    # reload and Back restore the view
    page.reload()
    page.wait_for_selector("#act-school-grid .ag-center-cols-container .ag-row")
    assert page.inner_text(".crumbs") == f"福建省 / {lagging_city} / {county}"
    page.go_back()
    _wait_current(page, lagging_city)
    page.go_forward()
    page.wait_for_selector("#act-school-grid .ag-center-cols-container .ag-row")

    # its 未激活学校, downloaded
    page.click(".view-tabs .nav-link:text-is('未激活学校')")
    page.wait_for_function("() => location.search.includes('tab=unactivated')")
    page.wait_for_selector("#act-list-grid .ag-center-cols-container .ag-row")
    total = county_row.counts.schools - county_row.counts.activated
    assert page.inner_text("#act-summary").endswith(f"共有 {total} 条记录")
    with page.expect_download() as info:
        page.click("#act-list-export-csv")
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][0].startswith(f"未激活学校 · {county}")
    assert lines[1] == ["学校名称", "学校标识码", "所在区域", "机构类型"]
    assert len(lines) - 2 == total
    listed = _column(page, "#act-list-grid", "code")
    assert [row[1] for row in lines[2:2 + len(listed)]] == listed

    # a code for the first of them, shown once
    first = listed[0]
    page.click("#act-list-grid .ag-center-cols-container .ag-row[row-index='0'] "
               "[col-id='action']")
    page.wait_for_selector("#act-issued .issued-code")
    code = page.inner_text("#act-issued .issued-code")
    assert CODE.fullmatch(code)
    page.wait_for_function(
        """() => { const c = document.querySelector(
              "#act-list-grid .ag-center-cols-container .ag-row[row-index='0'] [col-id='action']");
            return c && c.innerText.trim() === '已生成待使用'; }""")
    _fits(page, "#act-list-grid") and _latin(page) == []
    _doc(page, "activation-unactivated")
    with world.connect() as conn:
        assert conn.execute(select(PermissionCode.school_code)).scalars().all() == [first]
    # the code is not shown again after a reload
    page.reload()
    page.wait_for_selector("#act-list-grid .ag-center-cols-container .ag-row")
    assert code not in page.content()
