"""Take the documentation screenshots from a running server (e.g. `bash scripts/demo`).

    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8050 --out docs/screenshots

Uses the system Chromium (/usr/bin/chromium) through Playwright.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8050")
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--account", default="fujian")
    ap.add_argument("--password", default="Demo@2026")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=a.chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        page.goto(f"{a.url}/login")
        page.screenshot(path=str(out / "login.png"))
        page.fill("#account", a.account)
        page.fill("#password", a.password)
        page.click("button[type=submit]")
        page.wait_for_selector("#tl-grid .ag-row")
        page.screenshot(path=str(out / "training-list.png"), full_page=True)
        page.goto(f"{a.url}/training/2022SUMMER")
        page.wait_for_selector("#st-region-grid .ag-center-cols-container .ag-row")
        page.wait_for_selector("#st-chart .trace.bars")
        page.screenshot(path=str(out / "province.png"), full_page=True)
        page.goto(f"{a.url}/training/2022SUMMER?region=350300#ind=completed,completed_rate")
        page.wait_for_selector("#st-region-grid .ag-center-cols-container .ag-row")
        page.wait_for_selector("#st-chart .trace.bars")
        page.screenshot(path=str(out / "city.png"), full_page=True)
        page.goto(f"{a.url}/training/2022SUMMER?region=350300&view=teachers")
        page.wait_for_selector("#st-teacher-grid .ag-center-cols-container .ag-row")
        page.wait_for_selector("#st-chart .trace.bars")
        page.screenshot(path=str(out / "teachers.png"), full_page=True)
        for path, name in (("/codes", "codes"), ("/admins", "admins"), ("/audit", "audit"),
                           ("/exports", "exports")):
            page.goto(f"{a.url}{path}")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
