"""Static files — Dash's package bundles, `/assets/` and the favicon: compressed once per
worker, cached by the browser for as long as their URL stays the same.

A URL that carries the file's version changes whenever the file does, so the browser may keep
the file a year without asking again: Dash's fingerprinted bundles (`…/dash_renderer.v4_4_1m
<mtime>.min.js`), `/assets/<file>?m=<mtime of the file now>` and `/_favicon.ico?v=<Dash
version>`. Dash also loads files under fixed URLs (plotly.min.js, the async chunks of dcc and
dash-ag-grid); those are revalidated with their ETag on every page load (a 304 of a few hundred
bytes), so an upgrade of a package is picked up at once.

Only these files are ever compressed: they hold no secret and nothing a visitor can influence,
so their compressed size tells an observer nothing (BREACH, see docs/security.md).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import dash
from dash.fingerprint import check_fingerprint
from flask import Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import safe_join

from .security import no_store

SUITES_PREFIX = "/_dash-component-suites/"
ASSETS_PREFIX = "/assets/"
FAVICON_PATH = "/_favicon.ico"
# The 大屏's own Dash app (dashboard/kiosk.py) serves the same kinds of files under this prefix.
KIOSK_PREFIX = "/screen"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE_TYPES = frozenset({
    "application/javascript", "text/javascript", "text/css", "application/json",
    "image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon",
})
# Below this size the gzip header and the extra work are not worth it.
MIN_COMPRESSED_BYTES = 1024
# The static files of the app are a few dozen; the bound only guards the worker's memory.
MAX_CACHED_FILES = 256
CACHEABLE_STATUSES = (200, 206, 304)


# Files Dash's renderer asks for only once it has drawn the page's layout: plotly.js (1.5 MB
# compressed, the largest file by far) and the async chunks of dcc.Graph and of the grid.
# Named in a preload header of a page with a chart, they download alongside the page's own
# bundles instead of after them.
CHART_BUNDLES = (
    "plotly/package_data/plotly.min.js",
    "dash/dcc/async-graph.js",
    "dash_ag_grid/async-community.js",
)


def preload_header(bundles: tuple[str, ...]) -> str:
    return ", ".join(f"<{SUITES_PREFIX}{path}>; rel=preload; as=script" for path in bundles)


def _app_path(path: str) -> str:
    """The path as the console's app would name the same file."""
    return path[len(KIOSK_PREFIX):] if path.startswith(KIOSK_PREFIX + "/") else path


def is_static_path(path: str) -> bool:
    path = _app_path(path)
    return path.startswith((SUITES_PREFIX, ASSETS_PREFIX)) or path == FAVICON_PATH


def favicon_url() -> str:
    """The URL Dash's own pages use for its favicon, so every page shares one cached copy."""
    return f"{FAVICON_PATH}?v={dash.__version__}"


class StaticFiles:
    def __init__(self, assets_dir: Path):
        self.assets_dir = assets_dir
        # sha-256 of the file as served → its gzip -9 form.
        self._gzipped: dict[bytes, bytes] = {}

    def asset_version(self, name: str) -> str | None:
        """What Dash puts in `?m=` for an asset: the file's modification time now."""
        path = safe_join(str(self.assets_dir), name)
        if path is None:
            return None
        try:
            return str(os.stat(path).st_mtime)
        except OSError:
            return None

    def asset_url(self, name: str) -> str:
        """The URL Dash's own pages use for an asset (the login and binding pages share the
        cached copy with the console)."""
        version = self.asset_version(name)
        return f"{ASSETS_PREFIX}{name}" + (f"?m={version}" if version else "")

    def finish(self, response: Response) -> Response:
        """Cache headers and compression of a response to a static URL."""
        if response.status_code not in CACHEABLE_STATUSES:
            return no_store(response)  # a missing file or a refused request is not cached
        response.headers["Cache-Control"] = IMMUTABLE if self._versioned() else REVALIDATE
        response.headers.pop("Expires", None)
        if response.mimetype not in COMPRESSIBLE_TYPES:
            return response
        response.vary.add("Accept-Encoding")
        if response.status_code == 200 and "Content-Encoding" not in response.headers \
                and request.accept_encodings["gzip"] > 0:
            self._compress(response)
        return response

    def _versioned(self) -> bool:
        path = _app_path(request.path)
        if path.startswith(SUITES_PREFIX):
            return check_fingerprint(path)[1]
        if path.startswith(ASSETS_PREFIX):
            version = request.args.get("m")
            return version is not None and version == self.asset_version(
                path[len(ASSETS_PREFIX):])
        return request.args.get("v") == dash.__version__

    def _compress(self, response: Response) -> None:
        response.direct_passthrough = False  # a file sent by Flask is read here, once
        body = response.get_data()
        if len(body) < MIN_COMPRESSED_BYTES:
            return
        digest = hashlib.sha256(body).digest()
        packed = self._gzipped.get(digest)
        if packed is None:
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            if len(self._gzipped) >= MAX_CACHED_FILES:
                self._gzipped.clear()
            self._gzipped[digest] = packed
        if len(packed) >= len(body):
            return
        response.set_data(packed)
        response.headers["Content-Encoding"] = "gzip"
        # Byte ranges would refer to the uncompressed file.
        response.headers.pop("Accept-Ranges", None)
        # Its own validator: the compressed bytes are another representation (RFC 9110
        # §8.8.3), and the browser revalidates with this one.
        response.set_etag(f"{digest.hex()[:32]}-gzip")
        response.make_conditional(request)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except that a static file that left the session as it
    was does not get `Vary: Cookie` (flask-login looks at the session on every request): the
    file is the same for everyone, and with that header the browser would download every
    bundle again after each login."""

    def save_session(self, app, session, response) -> None:
        if is_static_path(request.path) and not session.modified:
            return
        super().save_session(app, session, response)
