"""Take the documentation screenshots from a running demo server (`bash scripts/demo`).

    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8050 --out docs/screenshots
    .venv/bin/python scripts/screenshots.py --url … --out /tmp/shots --width 1440 --only county

Every shot logs in as a demo account and opens one screen the way a user would. Uses the
system Chromium (/usr/bin/chromium) through Playwright. 权限码管理, 管理员列表, 操作日志 and
导出管理 need codes, admins and jobs the demo does not have: their screenshots come from
`YANXIU_DOC_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser/test_admin_pages_layout.py`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "Demo@2026"
TRAINING = "2022SUMMER"
CITY = "350300"  # 莆田市
COUNTY = "350322"  # 仙游县: about 80 schools


def login(page, url: str, account: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#account", account)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#tl-grid .ag-row")


def statistics(page, url: str, query: str = "", grid: str = "#st-region-grid") -> None:
    page.goto(f"{url}/training/{TRAINING}{query}")
    page.wait_for_selector(f"{grid} .ag-row")
    if grid == "#st-region-grid":
        page.wait_for_selector("#st-chart .trace.bars")
    page.wait_for_timeout(1200)


def shot_login(page, url):
    page.goto(f"{url}/login")


def shot_training_list(page, url):
    login(page, url, "fujian")


def shot_date_picker(page, url):
    login(page, url, "fujian")
    page.click("#tl-date-range")
    page.wait_for_timeout(800)


def shot_province(page, url):
    login(page, url, "fujian")
    statistics(page, url)


def shot_city(page, url):
    login(page, url, "fujian")
    statistics(page, url, f"?region={CITY}#ind=participants,completed_rate,hours_average")


def shot_county(page, url):
    login(page, url, "fujian")
    statistics(page, url, f"?region={COUNTY}")


def shot_school_teachers(page, url):
    """A click on a school of the county's table."""
    login(page, url, "fujian")
    statistics(page, url, f"?region={COUNTY}")
    names = page.eval_on_selector_all(
        "#st-region-grid .ag-pinned-left-cols-container .ag-row",
        "rows => rows.map(r => r.innerText.trim())")
    school = next(n for n in names if n and n != "仙游县")
    page.click(f"#st-region-grid .ag-pinned-left-cols-container >> text={school}")
    page.wait_for_timeout(2500)


def shot_school_bar(page, url):
    """A click on a school's bar in the county's chart (plotly takes clicks on its drag
    layer and finds the bar under the pointer)."""
    login(page, url, "fujian")
    statistics(page, url, f"?region={COUNTY}")
    box = page.locator("#st-chart .trace.bars .point path").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 5)
    page.wait_for_timeout(2500)


def shot_teachers(page, url):
    login(page, url, "fujian")
    statistics(page, url, "?view=teachers", grid="#st-teacher-grid")


def shot_bind(page, url):
    login(page, url, "putian")
    page.click(".leftmenu >> text=权限绑定")
    page.wait_for_timeout(1500)


def shot_error_page(page, url):
    login(page, url, "putian")
    page.goto(f"{url}/export/training/{TRAINING}/regions.pdf")


def shot_school_admin(page, url):
    login(page, url, "xianyou-school")
    statistics(page, url, "", grid="#st-teacher-grid")
    page.wait_for_selector("#st-chart .trace.bars")
    page.wait_for_timeout(800)


def shot_audit_log(page, url):
    """操作日志 as the demo leaves it (logins); tests/browser/test_admin_pages_layout.py takes
    the richer audit.png."""
    login(page, url, "putian")
    page.goto(f"{url}/audit")
    page.wait_for_selector("#audit-grid .ag-row")
    page.wait_for_timeout(800)


def shot_wall_admin(page, url):
    """大屏管理 with a link just issued for 莆田市 (the link is shown once)."""
    login(page, url, "putian")
    page.goto(f"{url}/wall-screens")
    page.wait_for_selector("#wa-region .dash-dropdown-value-item")
    page.fill("#wa-label", "莆田市教育局三楼会议室")
    page.click("#wa-issue")
    page.wait_for_selector("#wa-issued-value")
    page.wait_for_timeout(800)


# The 大屏 at the sizes of SPEC §4.6, each in a browser without cookies.
WALL_SIZES = {"wall-screen": (1920, 1080), "wall-screen-4k": (3840, 2160),
              "wall-screen-1366": (1366, 768)}


def wall_screens(browser, url: str, out: Path) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    login(page, url, "fujian")
    page.goto(f"{url}/wall-screens")
    page.wait_for_selector("#wa-region .dash-dropdown-value-item")
    links = {}
    for region, label in (("福建省", "省教育厅一楼大厅"), ("福建省/莆田市/仙游县", "仙游县教育局会议室")):
        if region != "福建省":
            page.click("#wa-region")
            page.fill(".dash-dropdown-search", "仙游")
            page.click(f".dash-dropdown-option >> text={region}")
        page.fill("#wa-label", label)
        page.click("#wa-issue")
        page.wait_for_function(f"() => document.querySelector('#wa-issued-value') && "
                               f"document.body.textContent.indexOf({label!r}) >= 0")
        links[region] = page.inner_text("#wa-issued-value").strip()
    context.close()
    for name, (width, height) in WALL_SIZES.items():
        for region, link in links.items():
            kiosk = browser.new_context(viewport={"width": width, "height": height},
                                        locale="zh-CN")
            screen = kiosk.new_page()
            screen.goto(link)
            screen.wait_for_selector("#wall-ranking .trace.bars")
            screen.wait_for_timeout(1500)
            suffix = "" if region == "福建省" else "-county"
            screen.screenshot(path=str(out / f"{name}{suffix}.png"))
            print(f"{name}{suffix}.png")
            kiosk.close()


SHOTS = {name.removeprefix("shot_").replace("_", "-"): fn
         for name, fn in dict(globals()).items() if name.startswith("shot_")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8050")
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--only", default="", help="comma-separated shot names")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in a.only.split(",") if n] or [*SHOTS, "wall-screen"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=a.chromium, headless=True, args=ARGS)
        if "wall-screen" in names:
            wall_screens(browser, a.url.rstrip("/"), out)
        for name in (n for n in names if n in SHOTS):
            context = browser.new_context(viewport={"width": a.width, "height": 900},
                                          locale="zh-CN")
            page = context.new_page()
            try:
                SHOTS[name](page, a.url.rstrip("/"))
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                print(f"{name}.png")
            except Exception as exc:  # noqa: BLE001 - one broken screen must not stop the rest
                print(f"{name}: not taken ({type(exc).__name__}: {str(exc)[:120]})")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
