"""What a new user sees, in the browser: every menu entry opens its screen and is
highlighted, every text is Chinese (date picker included), error pages sit inside the frame
with a way back, a county with 85 schools stays readable at 1280–1440 px, a school opens its
teachers, names are text and never markup, school admins get indicators with values."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, select, update

from data_access.demo import IMPORT_ORDER, generate
from data_access.importers import import_file
from data_access.models import School, Teacher, Training, TrainingRecord
from data_access.refresh import refresh
from tests.browser.stats_page import (
    region_names,
    summary,
    teacher_rows,
    wait_current_region,
    wait_summary,
)
from tests.helpers import PASSWORD, browser_login, make_admin

pytestmark = pytest.mark.browser

# Latin words allowed on screen: file formats, encodings and sizes as Chinese software names
# them (CSV（UTF-8 或 GBK）, 2 MB, 访问IP), and the platform's own 跳至 __ 页 GO.
ALLOWED_WORDS = {"CSV", "Excel", "XLSX", "UTF", "GBK", "MB", "GO", "IP"}
HTML_NAME = '<a href="https://evil.example/phish">点我</a>'
MANY = 85


def english_words(page) -> set[str]:
    """Latin words on screen, but for masked logins (`me***in`) and file names
    (`teacher-counts.csv`): data, not words."""
    text = re.sub(r"\w*\*{3,}\w*|[\w.-]+\.(?:csv|xlsx)\b", "",
                  page.evaluate("() => document.body.innerText"))
    return set(re.findall(r"[A-Za-z]{2,}", text)) - ALLOWED_WORDS


@pytest.fixture
def world(app, tmp_path):
    """The small demo, plus 宁化县 with 85 more schools of long names (one named with HTML),
    each with a participant."""
    engine = app.extensions["yanxiu"].engine
    files = generate("small", tmp_path / "demo")
    for kind in IMPORT_ORDER:
        import_file(engine, kind, files[kind], id_key=b"k")
    with engine.begin() as conn:
        tid = conn.scalar(select(Training.id).where(Training.code == "2022SUMMER"))
        conn.execute(insert(School), [
            {"code": f"NH{i:03d}", "region_code": "350424", "kind": "学校",
             "name": HTML_NAME if i == 0 else f"宁化县第{i}中心小学附属实验幼儿园分园"}
            for i in range(MANY)])
        conn.execute(insert(Teacher), [
            {"account": f"1391111{i:04d}", "name": f"测试教师{i}", "school_code": f"NH{i:03d}",
             "stage": "小学", "subject": "语文", "cert_status": "已通过"} for i in range(MANY)])
        ids = conn.execute(select(Teacher.id).where(Teacher.account.like("1391111%"))).scalars()
        conn.execute(insert(TrainingRecord), [
            {"training_id": tid, "teacher_id": t, "hours_tenths": 10 * (t % 11),
             "study_seconds": 600} for t in ids])
    refresh(engine)
    return engine


def test_every_menu_entry_opens_its_screen_highlighted_and_in_chinese(world, live_server,
                                                                      browser_page):
    make_admin(world, "region_super", "350000", "menu-admin", "林志强")
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, live_server, "menu-admin", PASSWORD)
    entries = page.eval_on_selector_all(".leftmenu .menu-item",
                                        "els => els.map(e => [e.innerText.trim(), e.getAttribute('href')])")
    assert ("权限绑定", "/bind") in [tuple(e) for e in entries]
    for label, href in entries:
        page.click(f".leftmenu .menu-item:text-is('{label}')")
        page.wait_for_function("h => location.pathname === h", arg=href)
        page.wait_for_selector(f".leftmenu .menu-item.active:text-is('{label}')")
        page.wait_for_timeout(600)
        body = page.inner_text(".content")
        assert "页面不存在" not in body, label
        assert page.eval_on_selector_all(".leftmenu .menu-item.active", "els => els.length") == 1
        assert not english_words(page), (label, english_words(page))
        page.shot(f"menu-{href.strip('/') or 'home'}")
    # from the binding page (a form outside Dash) back into the console
    page.click(".leftmenu .menu-item:text-is('教师研修')")
    page.wait_for_selector("#tl-grid .ag-row")
    assert page.inner_text(".leftmenu .menu-item.active") == "教师研修"

    # the date picker speaks Chinese: weekday and month names, Monday first
    page.click("#tl-date-range")
    page.wait_for_selector(".dash-datepicker-calendar th")
    heads = page.eval_on_selector_all(".dash-datepicker-calendar thead th span",
                                      "els => els.map(e => e.innerText.trim())")
    assert heads[:7] == ["一", "二", "三", "四", "五", "六", "日"]
    assert not english_words(page)
    page.shot("date-picker")


def test_error_pages_are_chinese_inside_the_frame_with_a_way_back(world, live_server,
                                                                  browser_page):
    make_admin(world, "region_training", "350000", "error-admin", "陈淑珍")
    page = browser_page
    browser_login(page, live_server, "error-admin", PASSWORD)
    page.goto(f"{live_server}/no/such/screen")
    page.wait_for_selector(".notice")
    assert "页面不存在" in page.inner_text(".notice") and not english_words(page)
    page.click(".notice >> text=返回首页")
    page.wait_for_selector("#tl-grid .ag-row")
    page.goto(f"{live_server}/training/NOPE")
    page.wait_for_selector(".error-panel")
    assert "培训不存在" in page.inner_text(".error-panel")
    # a download link that no longer exists: the server's own error page, in the frame
    page.expect_error_page(404, "/export/training/2022SUMMER/regions.pdf")
    page.goto(f"{live_server}/export/training/2022SUMMER/regions.pdf")
    assert page.inner_text(".page-title") == "页面不存在"
    assert page.is_visible(".leftmenu") and not english_words(page)
    page.shot("error-404")
    page.click("text=返回工作台")
    page.wait_for_selector("#tl-grid .ag-row")


@pytest.mark.parametrize("width", [1280, 1366, 1440])
def test_a_county_with_many_schools_stays_readable(world, live_server, browser_page, width):
    make_admin(world, "region_training", "350400", f"city-admin-{width}")
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    browser_login(page, live_server, f"city-admin-{width}", PASSWORD)
    page.goto(f"{live_server}/training/2022SUMMER?region=350424")
    wait_current_region(page, "宁化县")
    page.wait_for_selector("#st-chart .trace.bars")
    page.wait_for_timeout(800)
    # paged: the current region pinned above 20 rows, the page of a readable height
    assert len(region_names(page)) == 21 and region_names(page)[0] == "宁化县"
    assert page.is_visible("#st-region-grid .ag-paging-panel")
    assert page.evaluate("document.body.scrollHeight") < 2600
    # nothing cut off, no column out of sight
    clipped = page.evaluate("""() => Array.from(document.querySelectorAll(
        '#st-region-grid .ag-cell-value, #st-region-grid .ag-header-cell-text, .ag-cell .drill'))
        .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""")
    assert clipped == [], clipped
    assert page.evaluate("""() => { const v = document.querySelector(
        '#st-region-grid .ag-center-cols-viewport'); return v.scrollWidth <= v.clientWidth + 1; }""")
    # the chart keeps a readable width per school and scrolls; each bar names its school
    assert page.evaluate("""() => { const s = document.querySelector('.chart-scroll');
        return s.scrollWidth > s.clientWidth + 100; }""")
    with world.connect() as conn:
        schools = len(conn.execute(select(School.code).where(
            School.region_code == "350424")).all())
    assert page.inner_text("#st-chart-hint") == f"共 {schools} 所学校，左右滚动查看全部"
    labels = page.eval_on_selector_all("#st-chart .xtick text", "els => els.map(e => e.textContent)")
    assert len(labels) == schools and all(len(t) <= 8 for t in labels)
    # a name with markup is text: no link in the chart, the characters shown as typed
    assert page.eval_on_selector_all("#st-chart a", "els => els.length") == 0
    assert any(t.startswith("<a href") for t in labels)
    page.shot(f"county-{width}")
    # sorting covers every school, the county stays on top
    page.click("#st-region-grid .ag-header-cell[col-id='participants']")
    page.wait_for_timeout(300)
    assert region_names(page)[0] == "宁化县"

    # a school opens its teachers, in the same URL state
    name = region_names(page)[3]
    page.click(f"#st-region-grid .ag-pinned-left-cols-container .drill:text-is('{name}')")
    school_total = int(wait_summary(page, r"共有 (\d+) 条记录").group(1))
    assert "view=teachers" in page.url and "school=" in page.url and "region=350424" in page.url
    assert page.inner_text("#st-school-filter") == f"学校：{name}"
    assert {row[2] for row in teacher_rows(page)} == {name}
    assert "无权查看" not in page.inner_text(".content")
    page.shot(f"school-teachers-{width}")
    page.click("#st-clear-school")
    page.wait_for_function("() => !location.search.includes('school=')")
    page.wait_for_selector("#st-school-filter-box", state="hidden")
    page.wait_for_function(
        "n => { const m = document.querySelector('#st-summary').innerText.match(/共有 (\\d+) 条/);"
        " return m && Number(m[1]) > n; }", arg=school_total)
    assert summary(page)


def test_a_school_bar_opens_the_schools_teachers(world, live_server, browser_page):
    make_admin(world, "region_training", "350400", "bar-admin")
    page = browser_page
    browser_login(page, live_server, "bar-admin", PASSWORD)
    page.goto(f"{live_server}/training/2022SUMMER?region=350424")
    page.wait_for_selector("#st-chart .trace.bars .point path")
    # plotly takes clicks on its drag layer and finds the bar under the pointer
    box = page.locator("#st-chart .trace.bars .point path").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 5)
    page.wait_for_selector("#st-chart .hoverlayer .legend")  # the unified hover box
    hover = page.text_content("#st-chart .hoverlayer .legend")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 5)
    wait_summary(page, r"共有 \d+ 条记录")
    assert "view=teachers" in page.url and "school=" in page.url
    school = page.inner_text("#st-school-filter").removeprefix("学校：")
    # the hover named the school whole, whatever the axis label shows
    assert school in hover and "参训人数" in hover
    assert "无权查看" not in page.inner_text(".content")


def test_school_admins_see_indicators_with_values(world, live_server, browser_page):
    with world.begin() as conn:
        school = conn.scalar(select(Teacher.school_code).join(
            TrainingRecord, TrainingRecord.teacher_id == Teacher.id).limit(1))
        empty = conn.scalar(select(School.code).where(School.region_code == "350424",
                                                      School.code.like("NH%")).limit(1))
        conn.execute(update(School).where(School.code == empty).values(name="宁化县空白学校"))
        conn.execute(TrainingRecord.__table__.delete().where(TrainingRecord.teacher_id.in_(
            select(Teacher.id).where(Teacher.school_code == empty))))
    refresh(world)
    make_admin(world, "school_admin", school, "school-admin")
    make_admin(world, "school_admin", empty, "empty-school-admin")
    page = browser_page
    browser_login(page, live_server, "school-admin", PASSWORD)
    page.goto(f"{live_server}/training/2022SUMMER")
    page.wait_for_selector("#st-chart .legendtext")
    legend = page.eval_on_selector_all("#st-chart .legendtext", "els => els.map(e => e.textContent)")
    assert legend == ["参训人数", "完成人数占比"]
    assert "各学科参训情况对比" in page.inner_text(".content")
    # 各学段/学科参训人数分布: two bar charts, each bar labelled with its number
    page.wait_for_selector("#st-distribution .bars path")
    assert "各学段/学科参训人数分布" in page.inner_text(".content")
    titles = page.eval_on_selector_all("#st-distribution .annotation-text",
                                       "els => els.map(e => e.textContent)")
    assert titles == ["按学段", "按学科领域"]
    labels = page.eval_on_selector_all("#st-distribution .bartext",
                                       "els => els.map(e => e.textContent)")
    assert labels and all(t.isdigit() for t in labels)
    page.shot("school-admin")
    page.click("text=退出")
    browser_login(page, live_server, "empty-school-admin", PASSWORD)
    page.goto(f"{live_server}/training/2022SUMMER")
    page.wait_for_selector("#st-chart .annotation-text")
    assert page.text_content("#st-chart .annotation-text") == "暂无学科数据"
    page.wait_for_selector("#st-distribution .annotation-text")
    assert page.text_content("#st-distribution .annotation-text") == "暂无参训人员"


def test_the_training_list_and_the_chart_axes_at_1280(world, live_server, browser_page):
    make_admin(world, "region_training", "350000", "axes-admin", "黄文斌")
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, live_server, "axes-admin", PASSWORD)
    # 培训周期 and every other cell of the training list whole at 1280 px
    clipped = page.evaluate("""() => Array.from(document.querySelectorAll(
        '#tl-grid .ag-cell-value, #tl-grid .ag-header-cell-text'))
        .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""")
    assert clipped == [], clipped
    # ratios on a % axis, 人均学时 on an axis of its own
    page.goto(f"{live_server}/training/2022SUMMER?region=350300"
              "#ind=participants,completed_rate,hours_average")
    page.wait_for_selector("#st-chart .g-y3title text")
    assert page.text_content("#st-chart .g-ytitle text") == "人数"
    assert page.text_content("#st-chart .g-y2title text") == "%"
    assert page.text_content("#st-chart .g-y3title text") == "学时"
    percent = page.eval_on_selector_all("#st-chart .y2tick text", "els => els.map(e => e.textContent)")
    hours = page.eval_on_selector_all("#st-chart .y3tick text", "els => els.map(e => e.textContent)")
    assert percent and all(t.endswith("%") for t in percent)
    assert hours and not any(t.endswith("%") for t in hours)
    page.shot("axes")
