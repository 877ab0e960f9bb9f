"""Browser tests: Playwright driving the system Chromium headless against a live server.

Any console error, Content-Security-Policy violation or failed request of the page fails the
test. Screenshots of each step go
to test-artifacts/screens/. Without Chromium the tests are skipped — except when
YANXIU_REQUIRE_BROWSER is set (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
# Every page records the violations of its Content-Security-Policy (the browser also logs
# most of them as console errors, but not all, e.g. those of report-only directives).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
  const text = `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ` +
               `${e.sourceFile || '?'}:${e.lineNumber} ${e.sample || ''}`;
  window.__cspViolations.push(text);
  console.error('CSP violation: ' + text);
});
"""


def _chromium() -> str | None:
    candidate = os.environ.get("YANXIU_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    return candidate if candidate and Path(candidate).exists() else None


@pytest.fixture(scope="session")
def chromium_path():
    path = _chromium()
    if path is None:
        if os.environ.get("YANXIU_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required (YANXIU_REQUIRE_BROWSER) but was not found")
        pytest.skip("Chromium is not installed")
    return path


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser_page(chromium_path, request):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                      accept_downloads=True)
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        page = context.new_page()
        # A test that opens an error page on purpose names its status and path first
        # (page.expect_error_page); every other 4xx/5xx answer fails the test, and so does
        # every console error but the browser's own line about that one answer.
        expected: list[tuple[int, str]] = []
        answered: list[int] = []
        # A test that takes the network away on purpose (page.tolerate_network_loss) expects
        # failed requests and the renderer's console lines about them until it gives it back.
        offline = [False]

        def on_console(m):
            if m.type != "error" or offline[0]:
                return
            if answered and m.text.startswith(f"Failed to load resource: the server responded "
                                              f"with a status of {answered[0]}"):
                answered.pop(0)
                return
            errors.append(f"console {m.type}: {m.text}")

        def on_response(r):
            if r.status < 400:
                return
            if (r.status, urlsplit(r.url).path) in expected:
                expected.remove((r.status, urlsplit(r.url).path))
                answered.append(r.status)
                return
            errors.append(f"HTTP {r.status}: {r.url}")

        def expect_error_page(status: int, path: str) -> None:
            expected.append((status, path))

        page.on("console", on_console)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        # Navigation (reload, Back, a download) aborts requests still in flight; that is not
        # a failure. Server errors are caught from the responses instead.
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} {r.failure}")
                if r.failure != "net::ERR_ABORTED" and not offline[0] else None)
        page.on("response", on_response)
        page.expect_error_page = expect_error_page  # type: ignore[attr-defined]

        def tolerate_network_loss(on: bool) -> None:
            offline[0] = on

        page.tolerate_network_loss = tolerate_network_loss  # type: ignore[attr-defined]
        page.screens = []  # type: ignore[attr-defined]

        def shot(name: str):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            path = ARTIFACTS / f"{request.node.name}-{len(page.screens) + 1:02d}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            page.screens.append(path)
            return path

        page.shot = shot  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()
    assert not errors, "browser reported errors:\n" + "\n".join(errors)

