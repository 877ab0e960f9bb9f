"""教师管理 as a school admin uses it, in the browser at 1280 px: read-only while 城乡类型 is
empty, then — once it is filled in — three teachers approved, one rejected with a reason,
twenty approved at once, the roster downloaded; re-importing the original teachers file keeps
every decision.

With YANXIU_DOC_SCREENSHOTS=1 the screenshots also replace docs/screenshots/certification*.png.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from data_access import accounts
from data_access.importers import import_file
from data_access.models import School, Teacher
from tests.helpers import PASSWORD, browser_login, build_dataset

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCHOOL = "S-CERT-1"
FITS = """() => {
  const problems = [];
  for (const el of document.querySelectorAll('#ct-grid .ag-cell-value, #ct-grid .ag-header-cell-text')) {
    if (el.scrollWidth > el.clientWidth + 1) problems.push('cut off: ' + el.innerText.trim());
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('page scrolls');
  const viewport = document.querySelector('#ct-grid .ag-center-cols-viewport');
  if (viewport.scrollWidth > viewport.clientWidth + 1) problems.push('grid scrolls sideways');
  return problems;
}"""


@pytest.fixture
def world(app, tmp_path):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    header = ["account", "name", "school_code", "stage", "subject", "title", "id_type",
              "id_number", "cert_status", "applied_at"]
    rows = [[f"1390000{i:04d}", f"申请教师{i:02d}", SCHOOL, "小学" if i % 3 else "初中",
             "语文" if i % 2 else "数学", "二级教师" if i % 4 else "", "居民身份证",
             f"35010219900101{i:04d}", "未审核", f"2024-03-{1 + i % 20:02d} 09:00"]
            for i in range(30)]
    rows += [[f"1380000{i:04d}", f"在职教师{i:02d}", SCHOOL, "小学", "英语", "一级教师", "", "",
              "已通过", "2023-09-01 08:00"] for i in range(5)]
    with engine.begin() as conn:
        conn.execute(insert(School).values(code=SCHOOL, name="仙游县榜头镇中心小学",
                                           region_code="350322", kind="学校", urban_rural=None))
        uid = accounts.create_user(conn, "13912345678", "郑晓峰", PASSWORD)
        accounts.grant(conn, uid, "school_admin", SCHOOL, contact_name="郑晓峰",
                       contact_phone="13912345678")
    path = tmp_path / "teachers.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    import_file(engine, "teachers", path, id_key=b"k")
    engine.teachers_file = path
    return engine


def _doc(page, name: str) -> None:
    shot = page.shot(name)
    if os.environ.get("YANXIU_DOC_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / f"{name}.png")


def _facet(page, facet_id: str) -> dict[str, str]:
    return dict(page.eval_on_selector_all(
        f"#{facet_id} label", "els => els.map(e => [e.innerText.replace(/ \\(\\d+\\)$/, ''),"
        " e.innerText])"))


def _statuses(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Teacher.cert_status, func.count())
                                 .where(Teacher.school_code == SCHOOL)
                                 .group_by(Teacher.cert_status)).all())


def _latin(page) -> list[str]:
    text = re.sub(r"\b(CSV|Excel)\b|[\w.@-]*\*{3,}[\w.@-]*", " ", page.inner_text(".content"))
    return sorted(set(re.findall(r"[A-Za-z]{2,}", text)))


def test_a_school_admin_reviews_the_applications(world, live_server, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_login(page, live_server, "13912345678", PASSWORD)
    page.click(".leftmenu .menu-item:text-is('教师管理')")
    page.wait_for_function("() => location.pathname === '/teachers'")
    page.wait_for_selector("#ct-grid .ag-center-cols-container .ag-row")
    # read-only until 城乡类型 is filled in: the banner, the note, no decision buttons
    assert page.is_visible(".urban-rural-banner") and page.is_visible("#ct-locked")
    assert page.is_disabled("#ct-batch-pass")
    assert page.locator("#ct-grid .row-action").count() == 0
    assert _facet(page, "ct-status")["未审核"] == "未审核 (30)"

    # 城乡类型 filled in through 学校（机构）信息
    page.click(".urban-rural-banner a:text-is('前往填写')")
    page.wait_for_selector("#si-edit")
    page.click("#si-edit")
    page.select_option("#si-field-urban_rural", "乡村")
    page.fill("#si-field-address", "仙游县榜头镇南溪村 12 号")
    page.fill("#si-field-phone", "0594-8888123")
    page.click("#si-save")
    page.wait_for_selector("#si-banner", state="hidden")
    page.click(".leftmenu .menu-item:text-is('教师管理')")
    page.wait_for_selector("#ct-grid .row-action")
    assert page.is_hidden("#ct-locked") and page.is_enabled("#ct-batch-pass")

    # 未审核 only; three approved one by one
    page.click("#ct-status label:text-matches('^未审核')")
    page.wait_for_function("() => document.querySelector('#ct-total').innerText === '共 30 条'")
    for n in range(3):
        page.click("#ct-grid .ag-center-cols-container .ag-row[row-index='0'] "
                   ".row-action:text-is('通过')")
        page.wait_for_function(
            "n => document.querySelector('#ct-total').innerText === `共 ${n} 条`", arg=29 - n)
    assert _statuses(world) == {"已通过": 8, "未审核": 27}

    # one rejected with a reason
    page.click("#ct-grid .ag-center-cols-container .ag-row[row-index='0'] "
               ".row-action:text-is('不通过')")
    page.wait_for_selector("#ct-reject-reason", state="visible")
    page.fill("#ct-reject-reason", "证件照片不清晰，请重新上传")
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(400)  # the dialog's fade-in, for the screenshot
    _doc(page, "certification-reject")
    page.click("#ct-reject-confirm")
    page.wait_for_function("() => document.querySelector('#ct-total').innerText === '共 26 条'")
    assert _facet(page, "ct-status")["未通过"] == "未通过 (1)"

    # twenty at once: the header checkbox selects the page
    page.click("#ct-grid .ag-header-select-all")
    page.click("#ct-batch-pass")
    page.wait_for_function("() => document.querySelector('#ct-total').innerText === '共 6 条'")
    assert "已将 20 名教师设为「已通过」" in page.inner_text("#ct-message")
    assert _statuses(world) == {"已通过": 28, "未通过": 1, "未审核": 6}
    assert page.evaluate(FITS) == [] and _latin(page) == []
    # the selection checkboxes speak Chinese to screen readers too
    spoken = page.eval_on_selector_all(
        "#ct-grid input[type=checkbox]", "els => els.map(e => e.getAttribute('aria-label') || '')")
    assert spoken and not any(re.search(r"[A-Za-z]{2,}", t) for t in spoken), spoken
    _doc(page, "certification")

    # the roster, as on screen
    page.click("#ct-status label:text-matches('^全部')")
    page.wait_for_function("() => document.querySelector('#ct-total').innerText === '共 35 条'")
    with page.expect_download() as info:
        page.click("#ct-export-csv")
    lines = list(csv.reader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8-sig"))))
    assert lines[1][0] == "账号" and len(lines) - 2 == 35
    assert "证件照片不清晰，请重新上传" in [cell for line in lines for cell in line]
    assert not any(re.fullmatch(r"1[39]\d{9}", cell) for line in lines for cell in line)

    # the original teachers file again: every decision stands
    result = import_file(world, "teachers", world.teachers_file, id_key=b"k")
    assert result.kept_decisions == 24
    assert _statuses(world) == {"已通过": 28, "未通过": 1, "未审核": 6}
