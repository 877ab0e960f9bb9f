"""Every page of the console works under its Content-Security-Policy: login, register, bind,
the training list, 统计详情 (chart, both grids), 权限码管理, 管理员列表, 操作日志, 导出管理 and
the error pages — no violation, no console error (the fixture fails on either)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from data_access import accounts
from data_access.refresh import refresh
from tests.helpers import PASSWORD, browser_login, build_dataset, make_admin

pytestmark = pytest.mark.browser


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || null")


def visit(page, url: str, ready: str):
    response = page.goto(url)
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "default-src 'none'" in policy, (url, policy)
    assert violations(page) == [], (url, violations(page))


def test_every_page_runs_under_the_policy(app, live_server, browser_page, monkeypatch):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    admin = make_admin(engine, "region_super", "350000", "csp-admin")
    with engine.begin() as conn:
        accounts.create_user(conn, "csp-unbound", "未绑定用户", PASSWORD)
    page = browser_page
    base = live_server

    visit(page, f"{base}/login", "#account")
    visit(page, f"{base}/register", "form[action='/register']")

    # A user without a binding lands on /bind; its 退出登录 works without inline script.
    page.goto(f"{base}/login")
    page.fill("#account", "csp-unbound")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/bind")
    assert violations(page) == []
    page.click("text=退出登录")
    page.wait_for_url(f"{base}/login")

    browser_login(page, base, admin, PASSWORD)
    assert violations(page) == []
    visit(page, f"{base}/training/T2022", "#st-chart .trace.bars")
    bar = page.locator("#st-chart .trace.bars path").first.bounding_box()
    page.mouse.move(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2, steps=5)
    page.wait_for_function("document.querySelector('#st-chart .hoverlayer').childElementCount > 0")
    page.click("#st-region-grid .ag-header-cell-text >> nth=1")  # tooltips, header events
    visit(page, f"{base}/training/T2022?view=teachers",
          "#st-teacher-grid .ag-center-cols-container .ag-row")
    page.shot("teachers")
    visit(page, f"{base}/codes", "#codes-grid")
    visit(page, f"{base}/admins", "#admins-grid .ag-row")
    visit(page, f"{base}/audit", "#audit-grid .ag-row")
    visit(page, f"{base}/exports", "#exports-grid")
    visit(page, f"{base}/bind", "form[action='/bind']")
    visit(page, f"{base}/no-such-page", ".content h3")
    visit(page, f"{base}/training/NO-SUCH-TRAINING", "#st-error *")

    # The database-outage page answers 503, which the fixture's page would report as an
    # error: it is opened in a page of its own.
    def down(*_a, **_k):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(accounts, "load_session", down)
    outage = page.context.new_page()
    response = outage.goto(f"{base}/")
    assert response.status == 503 and "数据库暂时无法连接" in outage.inner_text("body")
    assert "default-src 'none'" in response.headers.get("content-security-policy", "")
    assert violations(outage) == []

    # The policy is really enforced: an inline script injected into a page is refused.
    outage.evaluate("""() => { const s = document.createElement('script');
                               s.textContent = 'window.__injected = 1';
                               document.head.appendChild(s); }""")
    outage.wait_for_function("window.__cspViolations.length > 0")
    assert outage.evaluate("window.__injected") is None
    assert "script-src-elem" in violations(outage)[0]
    outage.close()
