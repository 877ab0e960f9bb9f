"""权限码管理, 管理员列表, 操作日志 and 导出管理 at 1280, 1366 and 1440 px: every header and cell
is fully visible without horizontal scrolling (撤销 included), and every text is Chinese.

With YANXIU_DOC_SCREENSHOTS=1 the 1280 px screenshots also replace docs/screenshots/
codes.png, admins.png, audit.png and exports.png.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from data_access import accounts, audit, codes
from data_access.export_jobs import create_job
from data_access.models import ExportJob, School, Training
from data_access.scope import scope_of
from tests.helpers import PASSWORD, build_dataset, make_admin

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LONG_SCHOOL = "莆田市北岸经济开发区忠门镇中心小学附属幼儿园"
WIDTHS = (1280, 1366, 1440)
PAGES = (
    # path, grid, headers (every column must be drawn), screenshot name
    ("/codes", "#codes-grid",
     ["权限码", "角色", "区域/学校", "生成时间", "有效期至", "状态", "使用人", "使用时间", "操作"],
     "codes"),
    ("/admins", "#admins-grid",
     ["姓名", "账号", "角色", "管理范围", "手机号", "单位/职务", "绑定时间", "操作"], "admins"),
    ("/audit", "#audit-grid", ["时间", "操作人", "操作", "范围", "结果", "详情"], "audit"),
    ("/exports", "#exports-grid",
     ["文件", "格式", "状态", "进度", "行数", "大小", "创建时间", "过期时间", "操作"], "exports"),
)
# Latin letters allowed on screen: file formats and size units (导出 CSV / 导出 Excel, as on
# 统计详情), a permission-code hint (`****-K7Q2`), a masked login (`pu***an`).
ALLOWED_LATIN = re.compile(
    r"\b(CSV|XLSX|Excel|KB|MB|GB|B)\b|\*{4}-[0-9A-Z]{4}|[\w.@-]*\*{3,}[\w.@-]*")

CHECK_GRID = """([grid, headers]) => {
  const root = document.querySelector(grid + ' .ag-root-wrapper');
  const box = root.getBoundingClientRect();
  const problems = [];
  const drawn = Array.from(root.querySelectorAll('.ag-header-cell-text'))
    .map(e => e.innerText.trim());
  for (const h of headers) if (!drawn.includes(h)) problems.push('column not drawn: ' + h);
  for (const el of root.querySelectorAll('.ag-header-cell, .ag-cell')) {
    const r = el.getBoundingClientRect();
    if (r.left < box.left - 1 || r.right > box.right + 1)
      problems.push('outside the grid: ' + el.innerText.trim() + ' ' + r.left + '-' + r.right);
  }
  for (const el of root.querySelectorAll('.ag-cell-value, .ag-header-cell-text')) {
    if (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight + 1)
      problems.push('cut off: ' + el.innerText.trim() + ' (' + el.scrollWidth + '>' +
                    el.clientWidth + ', ' + el.scrollHeight + '>' + el.clientHeight + ')');
  }
  const center = root.querySelector('.ag-center-cols-viewport');
  if (center && center.scrollWidth > center.clientWidth + 1)
    problems.push('horizontal scrolling: ' + center.scrollWidth + '>' + center.clientWidth);
  // any other text of the page cut off with an ellipsis (e.g. a dropdown's selected value)
  for (const el of document.querySelectorAll('.page *')) {
    if (root.contains(el) || !el.innerText || !el.innerText.trim()) continue;
    const style = getComputedStyle(el);
    if (style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth)
      problems.push('cut off: ' + el.innerText.trim() + ' (' + el.scrollWidth + '>' +
                    el.clientWidth + ')');
  }
  if (document.documentElement.scrollWidth > window.innerWidth)
    problems.push('page scrolls sideways: ' + document.documentElement.scrollWidth);
  return problems;
}"""


@pytest.fixture
def world(app, tmp_path):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    with engine.begin() as conn:
        conn.execute(insert(School).values(code="S-PT-LONG", name=LONG_SCHOOL,
                                           region_code="350304", kind="学校"))
        conn.execute(insert(School).values(code="S-PT-NEW", name=LONG_SCHOOL + "分园",
                                           region_code="350304", kind="学校"))
        uid = accounts.create_user(conn, "putian", "莆田市管理员", PASSWORD, "13900000009")
        bid = accounts.grant(conn, uid, "region_super", "350300", contact_name="林志强",
                             contact_phone="13900000001", org_title="莆田市教育局教师发展中心")
        scope = scope_of(conn, uid, bid)
        codes.issue(conn, scope, "region_training", "350300")
        codes.issue(conn, scope, "region_super", "350322")
        codes.issue(conn, scope, "school_admin", "S-PT-LONG")  # open: still to be chosen
        redeemed = codes.issue(conn, scope, "school_admin", "S-PT-NEW")
        principal = accounts.create_user(conn, "zhongmen", "注册名", PASSWORD)
        codes.redeem(conn, principal, redeemed.code, contact_name="陈晓燕",
                     contact_phone="13900000002", org_title="园长")
        audit.record(conn, "code_issue", user_id=uid, actor="pu***an", school_code="S-PT-NEW",
                     detail={"code_id": redeemed.id, "role": "school_admin"})
        audit.record(conn, "export", user_id=uid, actor="pu***an", school_code="S-PT-LONG",
                     detail={"table": "teachers", "training": "T2022", "format": "xlsx",
                             "stage": "幼儿园", "subject": "学前教育", "certified_only": True,
                             "rows": 148605, "school": "S-PT-LONG", "name": "陈**",
                             "job_id": 1})
        audit.record(conn, "denied", user_id=uid, actor="pu***an", region_code="350300",
                     outcome="denied",
                     detail={"view": "training", "training": "T2022", "region": "350400"})
        training = conn.execute(select(Training.name)).scalar_one()
        now = datetime.now()
        title = f"{training}-{LONG_SCHOOL}-按学员查看"
        done = create_job(conn, uid, bid, "teachers", "xlsx", {"total": 148605}, title,
                          now=now - timedelta(minutes=5))
        running = create_job(conn, uid, bid, "teachers", "csv", {"total": 148605}, title, now=now)
        conn.execute(update(ExportJob).where(ExportJob.id == done).values(
            status="done", progress=148605, rows=148605, size=23_456_789,
            file_path=f"export-{done}-x.xlsx", finished_at=now))
        conn.execute(update(ExportJob).where(ExportJob.id == running).values(
            status="running", progress=52000))
    with engine.begin() as conn:  # granted from the command line: no contact details
        ops = accounts.create_user(conn, "lichengqu", "荔城区管理员", PASSWORD, "13900000003")
        accounts.grant(conn, ops, "region_training", "350304")
    make_admin(engine, "region_training", "350000", "fj-viewer")  # not shown: outside 莆田
    return engine


def _visible_text_problems(page) -> list[str]:
    text = page.inner_text("body")
    latin = ALLOWED_LATIN.sub(" ", text)
    return sorted(set(re.findall(r"[A-Za-z]{2,}", latin)))


def test_admin_pages_fit_without_truncation_and_speak_chinese(app, live_server, browser_page,
                                                              world):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server}/login")
    page.fill("#account", "putian")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".leftmenu")
    failures = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for path, grid, headers, name in PAGES:
            page.goto(f"{live_server}{path}")
            page.wait_for_selector(f"{grid} .ag-center-cols-container .ag-row")
            page.wait_for_timeout(300)  # autoHeight rows settle after the first paint
            for problem in page.evaluate(CHECK_GRID, [grid, headers]):
                failures.append(f"{width}px {path}: {problem}")
            for word in _visible_text_problems(page):
                failures.append(f"{width}px {path}: English on screen: {word}")
            if width == WIDTHS[0]:
                shot = page.shot(name)
                if os.environ.get("YANXIU_DOC_SCREENSHOTS"):
                    shutil.copyfile(shot, DOCS / f"{name}.png")
    # the issuing form with the longest role and a long school chosen
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server}/codes")
    page.wait_for_selector("#codes-grid .ag-center-cols-container .ag-row")
    grid_text = page.inner_text("#codes-grid")
    assert LONG_SCHOOL in grid_text and "陈晓燕（zh***en）" in grid_text
    assert grid_text.count("撤销") >= 3
    page.goto(f"{live_server}/admins")
    page.wait_for_selector("#admins-grid .ag-center-cols-container .ag-row")
    assert "荔城区管理员" in page.inner_text("#admins-grid")
    assert "—（平台授权）" in page.inner_text("#admins-grid")
    page.goto(f"{live_server}/codes")
    page.wait_for_selector("#codes-grid .ag-center-cols-container .ag-row")
    page.click("#codes-role")
    page.click(".dash-dropdown-option >> text=学校管理员")
    page.click("#codes-target")
    page.fill(".dash-dropdown-search", "忠门")
    page.click(f".dash-dropdown-option >> text={LONG_SCHOOL}（S-PT-LONG）")
    page.wait_for_selector(f"#codes-target >> text={LONG_SCHOOL}（S-PT-LONG）")
    page.shot("codes-form")
    for problem in page.evaluate(CHECK_GRID, ["#codes-grid", PAGES[0][2]]):
        failures.append(f"1280px /codes, form filled: {problem}")
    assert not failures, "\n".join(failures)
