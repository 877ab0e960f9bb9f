"""Session cookie, CSRF tokens, safe redirects and response headers."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Response, request, session

CSRF_COOKIE = "_csrf_token"  # read by the Dash renderer and sent back as X-CSRFToken


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_valid(candidate: str | None) -> bool:
    token = session.get("csrf")
    return bool(token and candidate and hmac.compare_digest(token, candidate))


def safe_next(target: str | None) -> str:
    """Only same-site absolute paths: `/training/x?region=1` yes; `//evil`, `/\\evil`,
    `https://evil`, `javascript:` no."""
    if not target or not isinstance(target, str) or len(target) > 2000:
        return "/"
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    if any(ord(c) < 32 for c in target):
        return "/"
    return target


def client_ip() -> str:
    return request.remote_addr or ""


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    vary = response.headers.get("Vary")
    response.headers["Vary"] = "Cookie" if not vary else (
        vary if "Cookie" in vary else f"{vary}, Cookie")
    return response


def content_security_policy(script_hashes: list[str] | tuple[str, ...]) -> str:
    """What the console's pages load, and nothing else (each directive is explained in
    docs/security.md). Scripts: files of this server plus Dash's inline scripts by hash —
    no inline script of anyone else, no eval. Styles may be inline: Dash, dcc, dash-ag-grid
    and plotly insert <style> elements at run time."""
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())
