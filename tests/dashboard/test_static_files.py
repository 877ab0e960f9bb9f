"""Page weight (issue 8, item 13): every static file a page loads is compressed and cached by
the browser; every authenticated answer is neither stored nor compressed."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from dashboard.static_files import CHART_BUNDLES, MIN_COMPRESSED_BYTES, SUITES_PREFIX
from data_access.refresh import refresh
from tests.helpers import build_dataset, fire

GZIP = {"Accept-Encoding": "gzip, deflate, br"}
# Issue 8: the first load of 统计详情 costs at most 3 MB over the wire.
FIRST_LOAD_BUDGET_BYTES = 3_000_000
# Dash loads these only once the page is drawn, under URLs without a version.
LAZY_BUNDLES = (*CHART_BUNDLES, "dash/dcc/async-dropdown.js")


def referenced(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/[^"]+)"', html)


def test_static_files_are_compressed_and_cached_for_a_year(client, login_as):
    login_as("region_training", "350000")
    page = client.get("/training/T2022", headers=GZIP)
    urls = referenced(page.get_data(as_text=True))
    assert any(u.startswith("/assets/") for u in urls) and any("/_favicon.ico" in u for u in urls)
    assert sum(u.startswith(SUITES_PREFIX) for u in urls) >= 10

    wire = 0
    for url in urls:
        plain = client.get(url)
        packed = client.get(url, headers=GZIP)
        assert packed.status_code == 200, url
        assert packed.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        assert "no-store" not in packed.headers.get("Cache-Control", "")
        assert "Set-Cookie" not in packed.headers, url
        vary = packed.headers.get("Vary", "")
        assert "Cookie" not in vary, (url, vary)
        assert "Content-Encoding" not in plain.headers
        wire += len(packed.data)
        if len(plain.data) < MIN_COMPRESSED_BYTES:  # not worth a gzip header
            assert packed.data == plain.data, url
            continue
        assert "Accept-Encoding" in vary, (url, vary)
        assert packed.headers["Content-Encoding"] == "gzip", url
        assert gzip.decompress(packed.data) == plain.data, url
        assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)

    for path in LAZY_BUNDLES:
        url = SUITES_PREFIX + path
        packed = client.get(url, headers=GZIP)
        assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip", url
        # No version in the URL: the browser asks again on every page load …
        assert packed.headers["Cache-Control"] == "no-cache", url
        etag = packed.headers["ETag"]
        # … and gets a 304 without a body while the file is unchanged.
        again = client.get(url, headers={**GZIP, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["Cache-Control"] == "no-cache"
        if path in CHART_BUNDLES:
            wire += len(packed.data)
    assert wire <= FIRST_LOAD_BUDGET_BYTES, wire


def test_the_statistics_page_preloads_its_chart_bundles(client, login_as):
    login_as("region_training", "350000")
    link = client.get("/training/T2022").headers["Link"]
    for path in CHART_BUNDLES:
        assert f"<{SUITES_PREFIX}{path}>; rel=preload; as=script" in link
        assert client.get(SUITES_PREFIX + path).status_code == 200


def test_form_pages_share_the_versioned_asset_urls(client, login_as):
    page = client.get("/login").get_data(as_text=True)
    urls = referenced(page)
    assert [u.split("?")[0] for u in urls] == [
        "/_favicon.ico", "/assets/00-bootstrap.min.css", "/assets/yanxiu.css"]
    for url in urls:
        answer = client.get(url, headers=GZIP)  # public: the login page needs them
        assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
    login_as("region_training", "350000")
    dash_urls = referenced(client.get("/").get_data(as_text=True))
    assert set(urls) <= set(dash_urls)  # one cached copy for the whole console


@pytest.mark.parametrize("url", [
    "/assets/yanxiu.css",  # no version
    "/assets/yanxiu.css?m=1",  # not the file's version
    "/_favicon.ico?v=0.0.1",
    SUITES_PREFIX + "dash/dcc/async-graph.js",
])
def test_a_url_without_the_current_version_is_revalidated(client, login_as, url):
    login_as("region_training", "350000")
    answer = client.get(url, headers=GZIP)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-cache" and answer.headers.get("ETag")


def test_a_missing_static_file_is_a_404_that_is_not_cached(client, login_as):
    login_as("region_training", "350000")
    for url in ("/assets/no-such-file.css?m=1", SUITES_PREFIX + "dash/no-such.v1m1.js",
                SUITES_PREFIX + "no_such_package/x.js", SUITES_PREFIX + "dash/../dash.py"):
        answer = client.get(url, headers=GZIP)
        assert answer.status_code == 404 and answer.headers["Cache-Control"] == "no-store", url


def test_authenticated_answers_are_not_stored_and_not_compressed(app, client, login_as):
    """BREACH: pages, callbacks and downloads carry tokens and personal data next to text a
    visitor chooses (a name search, a URL); none of them is ever compressed."""
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    anonymous = [client.get("/login?next=/training/T2022%3Fq%3D%E5%BC%A0", headers=GZIP),
                 client.get("/register", headers=GZIP)]
    login_as("region_training", "350000")
    answers = anonymous + [
        client.get("/training/T2022?view=teachers&q=%E5%BC%A0", headers=GZIP),
        client.get("/_dash-layout", headers=GZIP),
        client.get("/_dash-dependencies", headers=GZIP),
        client.get("/export/training/T2022/regions.csv?region=350000", headers=GZIP),
        client.get("/export/training/T2022/teachers.xlsx?region=350000&q=%E5%BC%A0",
                   headers=GZIP),
        client.get("/bind", headers=GZIP),
    ]
    route = fire(client, "_pages_content.children", {
        "_pages_location.pathname": "/training/T2022", "_pages_location.search": "?q=张"})
    answers.append(route)
    for answer in answers:
        assert answer.status_code == 200, (answer.request.path, answer.status_code)
        assert answer.headers["Cache-Control"] == "no-store", answer.request.path
        assert "Content-Encoding" not in answer.headers, answer.request.path
        assert "Cookie" in answer.headers.get("Vary", "")
    assert json.loads(route.data)["response"]
