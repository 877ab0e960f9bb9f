"""学校（机构）信息 as a school admin uses it, in the browser at 1280 px: the 城乡类型 banner on
every school page, the way to the form, a missing 联系电话 refused next to the field, the
save, and the banner gone everywhere.

With YANXIU_DOC_SCREENSHOTS=1 the screenshots also replace docs/screenshots/school-info*.png.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from data_access import accounts
from data_access.models import School
from data_access.refresh import refresh
from tests.helpers import PASSWORD, browser_login, build_dataset

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BANNER = '请前往【基本管理-学校（机构）信息】完善"学校所在地城乡类型"的选项'


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    with engine.begin() as conn:
        conn.execute(update(School).where(School.code == "S-XY-2").values(
            urban_rural=None, name="仙游县城东镇中心小学（原仙游县实验小学第二校区）"))
        uid = accounts.create_user(conn, "13912345678", "刘建国", PASSWORD)
        accounts.grant(conn, uid, "school_admin", "S-XY-2", contact_name="刘建国",
                       contact_phone="13912345678")
    refresh(engine)
    return engine


def _doc(page, name: str) -> None:
    shot = page.shot(name)
    if os.environ.get("YANXIU_DOC_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / f"{name}.png")


def _latin(page) -> list[str]:
    text = re.sub(r"S-XY-2|\d{4}-\d+", " ", page.inner_text(".content"))
    return sorted(set(re.findall(r"[A-Za-z]{2,}", text)))


def test_a_school_admin_completes_the_school_information(world, live_server, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, live_server, "13912345678", PASSWORD)
    page.wait_for_selector(".urban-rural-banner")
    assert BANNER in page.inner_text(".urban-rural-banner")

    page.click(".urban-rural-banner a:text-is('前往填写')")
    page.wait_for_function("() => location.pathname === '/school-info'")
    page.wait_for_function(  # the page may still be on its way when the path changes
        "() => { const e = document.querySelector('#si-value-code');"
        " return e !== null && e.innerText === 'S-XY-2'; }")
    assert page.is_visible("#si-banner")
    assert page.inner_text("#si-value-region_path") == "福建省/莆田市/仙游县"
    assert page.inner_text("#si-value-urban_rural") == "—"
    assert "学校（机构）信息" in page.inner_text(".leftmenu .active")
    assert _latin(page) == []
    _doc(page, "school-info")

    page.click("#si-edit")
    page.wait_for_selector("#si-form", state="visible")
    # the red asterisks: exactly the four required fields
    marked = page.eval_on_selector_all(
        "#si-form label:has(.required-mark)", "els => els.map(e => e.innerText.replace('*', '').trim())")
    assert marked == ["机构类型", "城乡类型", "学校地址", "联系电话"]
    page.select_option("#si-field-urban_rural", "镇区")
    page.fill("#si-field-address", "莆田市仙游县城东镇东大路 18 号")
    page.fill("#si-field-phone", "")
    page.click("#si-save")
    page.wait_for_selector("#si-field-phone.is-invalid")
    assert page.inner_text("#si-feedback-phone") == "必填"
    assert page.is_visible("#si-banner")
    assert _latin(page) == []
    _doc(page, "school-info-error")

    page.fill("#si-field-phone", "0594-8261234")
    page.fill("#si-field-principal", "陈志明")
    page.click("#si-save")
    page.wait_for_selector("#si-view", state="visible")
    page.wait_for_function(
        "() => document.querySelector('#si-value-urban_rural').innerText === '镇区'")
    assert page.is_hidden("#si-banner")
    assert "已保存学校（机构）信息" in page.inner_text("#si-message")
    with world.connect() as conn:
        row = conn.execute(select(School.urban_rural, School.phone)
                           .where(School.code == "S-XY-2")).one()
    assert tuple(row) == ("镇区", "0594-8261234")
    _doc(page, "school-info-saved")

    page.click(".leftmenu .menu-item:text-is('培训统计')")
    page.wait_for_selector("#tl-grid .ag-row")
    assert page.locator(".urban-rural-banner").count() == 0
