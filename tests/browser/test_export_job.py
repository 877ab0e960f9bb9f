"""A teacher list above the inline limit becomes a background job: the page says so, the job
appears in 导出管理, and its file downloads there."""

import csv
import io

import pytest

from data_access.refresh import refresh
from tests.helpers import PASSWORD, browser_login, build_dataset, make_admin

pytestmark = pytest.mark.browser


def test_large_export_runs_as_a_job_and_downloads_from_the_export_list(
        app, live_server, browser_page, tmp_path, job_worker):
    engine = app.extensions["yanxiu"].engine
    settings = app.extensions["yanxiu"].settings
    settings.inline_export_limit = 5  # the 9 participants of the data set count as "large"
    build_dataset(engine)
    refresh(engine)
    account = make_admin(engine, "region_training", "350000", "job-admin")
    page = browser_page
    browser_login(page, live_server, account, PASSWORD)
    page.goto(f"{live_server}/training/T2022?view=teachers")
    page.wait_for_selector("#st-teacher-grid .ag-center-cols-container .ag-row")
    page.click("#st-export-job-csv")
    page.wait_for_selector("#st-export-message >> text=导出管理")
    assert "共 9 条记录" in page.inner_text("#st-export-message")
    page.shot("job-started")

    page.click(".leftmenu >> text=导出管理")
    page.wait_for_selector("#exports-grid .ag-center-cols-container .ag-row")
    # no worker runs yet: the job waits
    page.wait_for_function(
        "() => /排队中/.test(document.querySelector('#exports-grid').innerText)")
    page.shot("job-queued")
    job_worker.start()
    page.wait_for_function(
        "() => /已完成|失败/.test(document.querySelector('#exports-grid').innerText)",
        timeout=60_000)
    assert "已完成" in page.inner_text("#exports-grid"), page.inner_text("#exports-grid")
    page.wait_for_selector("#exports-grid .download-link")
    page.shot("export-list")
    with page.expect_download() as dl:
        page.click("#exports-grid .download-link")
    lines = list(csv.reader(io.StringIO(open(dl.value.path(), "rb").read().decode("utf-8-sig"))))
    assert len(lines) == 2 + 9 and lines[1][0] == "账号"
