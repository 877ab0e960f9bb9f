"""Log in → training list → 统计详情 → drill down two levels → breadcrumb and Back → CSV."""

import csv
import io

import pytest

from data_access.refresh import refresh
from tests.browser.stats_page import (
    region_names,
    region_rows,
    wait_current_region,
    wait_region_names,
)
from tests.helpers import PASSWORD, build_dataset, make_admin

pytestmark = pytest.mark.browser


def test_login_drill_down_breadcrumb_back_and_download(app, live_server, browser_page):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    account = make_admin(engine, "region_training", "350000", "fj-admin")
    page = browser_page

    page.goto(f"{live_server}/")
    page.wait_for_selector("form.login-card")
    page.shot("login")
    page.fill("#account", account)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")

    page.wait_for_selector("#tl-grid .ag-row")
    assert "2022年“暑期教师研修”专题" in page.inner_text("#tl-grid")
    assert "已结束" in page.inner_text("#tl-grid")
    page.shot("training-list")
    page.click("#tl-grid .ag-row .link-cell")

    wait_current_region(page, "福建省")
    assert page.url.endswith("/training/T2022")
    names = region_names(page)
    assert names[:1] == ["福建省"] and "莆田市" in names and "直属学校" in names
    page.wait_for_selector("#st-chart .bars path, #st-chart .trace.bars")
    page.shot("province")

    page.click("#st-region-grid .ag-pinned-left-cols-container >> text=莆田市")
    wait_current_region(page, "莆田市")
    assert "region=350300" in page.url
    page.click("#st-region-grid .ag-pinned-left-cols-container >> text=仙游县")
    wait_current_region(page, "仙游县")
    wait_region_names(page, ["仙游县", "仙游县第一中学", "仙游县实验小学"])
    page.wait_for_function(
        "() => document.querySelector('#st-breadcrumb').innerText.replace(/\\n/g, '')"
        " === '福建省 / 莆田市 / 仙游县'")
    page.shot("county")

    page.click("#st-breadcrumb >> text=莆田市")
    wait_current_region(page, "莆田市")
    page.go_back()
    wait_current_region(page, "仙游县")
    page.reload()
    wait_region_names(page, ["仙游县", "仙游县第一中学", "仙游县实验小学"])

    screen = region_rows(page)
    with page.expect_download() as dl:
        page.click("#st-export")
    data = open(dl.value.path(), "rb").read().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(data)))
    assert lines[2:] == screen
