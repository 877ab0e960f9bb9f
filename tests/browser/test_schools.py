"""学校管理 in the browser, as a new user would try it (issue 9, Done when): a county admin
adds a school, corrects another and soft-deletes a third; a city admin moves a school
between two of its counties and is offered no county of another city. At 1280 px every
column is drawn without horizontal scrolling, and a name holding HTML shows as text.

With YANXIU_DOC_SCREENSHOTS=1 the 1280 px screenshots also replace docs/screenshots/
schools.png, schools-form.png, schools-delete.png and schools-move.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from data_access import accounts
from data_access.models import AuditLog, Binding, School
from tests.browser.test_admin_pages_layout import CHECK_GRID
from tests.helpers import PASSWORD, browser_login, build_dataset, make_admin

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
HTML_NAME = '<a href="https://evil.example/x">仙游县<b>钓鱼</b>小学</a>'
HEADERS = ["学校名称", "学校标识码", "所在区域", "机构类型", "城乡类型", "是否激活", "学校管理员",
           "联系电话", "操作"]


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    with engine.begin() as conn:
        conn.execute(insert(School), [
            {"code": f"35032200{i:02d}", "name": name, "region_code": "350322", "kind": kind,
             "urban_rural": urban}
            for i, (name, kind, urban) in enumerate([
                ("仙游县榜头镇中心小学", "学校", "乡村"), ("仙游县教师进修学校", "进修机构", "城区"),
                ("仙游县郊尾镇撤并教学点", "学校", "乡村"), (HTML_NAME, "学校", "镇区")])])
        uid = accounts.create_user(conn, "13912345678", "注册名", PASSWORD)
        accounts.grant(conn, uid, "school_admin", "S-XY-1", contact_name="郑晓峰",
                       contact_phone="13912345678")
    make_admin(engine, "region_training", "350322", "xianyou", "黄文斌")
    make_admin(engine, "region_training", "350300", "putian", "陈淑珍")
    return engine


def _doc(page, name: str):
    shot = page.shot(name)
    if os.environ.get("YANXIU_DOC_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / f"{name}.png")


def _settled(page):
    """The list and the region filter (whose choices arrive from the server) are drawn."""
    page.wait_for_selector("#schools-grid .ag-center-cols-container .ag-row")
    page.wait_for_selector("#schools-region .dash-dropdown-value-item")
    page.wait_for_function("() => document.querySelector('#schools-total')"
                           " && document.querySelector('#schools-total').innerText")
    page.wait_for_timeout(300)  # autoHeight rows settle after the first paint


def _open(page, live_server):
    page.goto(f"{live_server}/schools")
    _settled(page)


def _row(page, name: str):
    return page.locator("#schools-grid .ag-center-cols-container .ag-row").filter(
        has=page.get_by_text(name, exact=True))


def _names(page) -> list[str]:
    return page.eval_on_selector_all(
        "#schools-grid .ag-center-cols-container .ag-cell[col-id=name]",
        "els => els.map(e => e.innerText.trim())")


def _wait_name(page, name: str):
    page.wait_for_function(
        "n => Array.from(document.querySelectorAll("
        "'#schools-grid .ag-center-cols-container .ag-cell[col-id=name]'))"
        ".some(e => e.innerText.trim() === n)", arg=name)


def _choose(page, dropdown: str, search: str, option: str):
    page.click(dropdown)
    page.fill(".dash-dropdown-search", search)
    page.click(f".dash-dropdown-option >> text={option}")


def test_a_county_admin_adds_corrects_and_deletes_schools(world, live_server, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, live_server, "xianyou", PASSWORD)
    page.click(".leftmenu .menu-item:text-is('学校管理')")
    _settled(page)
    assert page.inner_text("#schools-region .dash-dropdown-value") == "仙游县"
    assert page.inner_text("#schools-total") == "共 6 条"
    problems = page.evaluate(CHECK_GRID, ["#schools-grid", HEADERS])
    assert not problems, problems
    # a county admin is offered no 调整隶属
    assert page.locator("#schools-grid button.row-action:text-is('调整隶属')").count() == 0
    # HTML in a name is text on screen, never markup
    assert HTML_NAME in _names(page)
    assert page.locator("#schools-grid a[href*='evil'], #schools-grid b").count() == 0
    _doc(page, "schools")

    # 新增: the required fields carry a red asterisk; problems show next to their field
    page.click("#schools-add")
    page.wait_for_selector("#schools-form .modal-body")
    marks = page.eval_on_selector_all("#schools-form .required-mark",
                                      "els => els.map(e => getComputedStyle(e).color)")
    assert len(marks) == 4 and set(marks) == {"rgb(220, 53, 69)"}
    page.fill("#schools-field-code", "S-XY-1")
    page.fill("#schools-field-phone", "请拨打总机")
    page.click("#schools-form-save")
    page.wait_for_selector("#schools-feedback-name:text-is('必填')")
    assert page.inner_text("#schools-feedback-code") == "该学校标识码已被使用"
    assert "不是有效的电话号码" in page.inner_text("#schools-feedback-phone")
    _doc(page, "schools-form")
    page.fill("#schools-field-code", "3503220099")
    page.fill("#schools-field-name", "仙游县第九中学")
    page.select_option("#schools-field-urban_rural", "乡村")
    page.fill("#schools-field-phone", "0594-8281234")
    page.click("#schools-form-save")
    page.wait_for_selector("#schools-message .alert-success")
    assert "已新增学校「仙游县第九中学」" in page.inner_text("#schools-message")
    page.wait_for_function("() => document.querySelector('#schools-total').innerText"
                           " === '共 7 条'")

    # 编辑: correct the name and 城乡类型 of another school
    _row(page, "仙游县榜头镇中心小学").locator("button.row-action:text-is('编辑')").click()
    page.wait_for_selector("#schools-form .modal-body")
    assert page.is_disabled("#schools-field-code")
    assert page.is_disabled("#schools-field-region_code")
    page.fill("#schools-field-name", "仙游县榜头镇第一中心小学")
    page.select_option("#schools-field-urban_rural", "镇区")
    page.click("#schools-form-save")
    page.wait_for_selector("#schools-message:has-text('已保存学校「仙游县榜头镇第一中心小学」的修改')")
    _wait_name(page, "仙游县榜头镇第一中心小学")

    # 删除: the confirmation says what follows; the school leaves the list at once
    _row(page, "仙游县郊尾镇撤并教学点").locator("button.row-action:text-is('删除')").click()
    page.wait_for_selector("#schools-delete .modal-body")
    text = page.inner_text("#schools-delete .modal-body")
    for words in ("立即从各列表中消失", "学校管理员绑定立即结束", "下次数据更新后", "历史数据予以保留"):
        assert words in text
    _doc(page, "schools-delete")
    page.click("#schools-delete-confirm")
    page.wait_for_selector("#schools-message:has-text('已删除学校「仙游县郊尾镇撤并教学点」')")
    page.wait_for_function("() => document.querySelector('#schools-total').innerText"
                           " === '共 6 条'")
    assert "仙游县郊尾镇撤并教学点" not in _names(page)

    # and a school with an admin: its binding ends
    _row(page, "仙游县第一中学").locator("button.row-action:text-is('删除')").click()
    page.wait_for_selector("#schools-delete .modal-body")
    page.click("#schools-delete-confirm")
    page.wait_for_selector("#schools-message:has-text('其学校管理员的绑定已结束')")
    with world.connect() as conn:
        stored = dict(conn.execute(select(School.code, School.name)
                                   .where(School.deleted_at.is_(None))).all())
        assert stored["3503220099"] == "仙游县第九中学"
        assert stored["3503220000"] == "仙游县榜头镇第一中心小学"
        assert "3503220002" not in stored and "S-XY-1" not in stored
        assert conn.scalar(select(Binding.removed_at).where(Binding.school_code == "S-XY-1"))
        actions = list(conn.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert [a for a in actions if a.startswith("school_")] == [
        "school_create", "school_update", "school_delete", "school_delete"]


def test_a_city_admin_moves_a_school_between_its_counties(world, live_server, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, live_server, "putian", PASSWORD)
    _open(page, live_server)
    problems = page.evaluate(CHECK_GRID, ["#schools-grid", HEADERS])
    assert not problems, problems
    # the region filter narrows the list to one county
    _choose(page, "#schools-region", "仙游", "莆田市/仙游县")
    page.wait_for_function("() => document.querySelector('#schools-total').innerText"
                           " === '共 6 条'")
    _row(page, "仙游县教师进修学校").locator("button.row-action:text-is('调整隶属')").click()
    page.wait_for_selector("#schools-move .modal-body")
    page.click("#schools-move-target")
    offered = page.eval_on_selector_all(".dash-dropdown-option",
                                        "els => els.map(e => e.innerText.trim())")
    assert "莆田市/荔城区" in offered and "莆田市/仙游县" not in offered
    assert not any("三明" in o or "宁化" in o or o == "莆田市" for o in offered), offered
    page.fill(".dash-dropdown-search", "宁化")
    assert page.eval_on_selector_all(".dash-dropdown-option",
                                     "els => els.map(e => e.innerText.trim())") == ["无匹配选项"]
    page.fill(".dash-dropdown-search", "荔城")
    page.click(".dash-dropdown-option >> text=莆田市/荔城区")
    _doc(page, "schools-move")
    page.click("#schools-move-confirm")
    page.wait_for_selector("#schools-message:has-text('已将学校「仙游县教师进修学校」调整到 莆田市/荔城区')")
    page.wait_for_function("() => document.querySelector('#schools-total').innerText"
                           " === '共 5 条'")
    with world.connect() as conn:
        assert conn.scalar(select(School.region_code)
                           .where(School.code == "3503220001")) == "350304"
