"""The application factory: one Flask server with the Dash pages mounted on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import dash
from flask import Flask, abort, current_app, g, jsonify, redirect, request
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix
from flask_login import current_user
from sqlalchemy import Engine

from data_access.db import make_engine
from data_access.wall_screen import ScreenCache
from layouts.ids import Activation, Stats

from . import auth, downloads, errors, kiosk, pages
from .input_guard import reject_hostile_input
from .access import current_scope
from .security import CSRF_COOKIE, content_security_policy, csrf_token, csrf_valid, no_store
from .settings import Settings
from .task_queue import BrokerQueue, LocalQueue, make_queue
from .static_files import (CHART_BUNDLES, FAVICON_PATH, SessionInterface, StaticFiles,
                           favicon_url, is_static_path, preload_header)

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
PUBLIC_PATHS = {"/login", "/register", "/favicon.ico", FAVICON_PATH}
# Pages a logged-in user without any binding may still open.
UNBOUND_PATHS = {"/bind", "/logout"}
PUBLIC_PREFIXES = ("/assets/",)
CHART_PAGE_PREFIX = "/training/"  # 统计详情, the page that draws a chart


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    static_files: StaticFiles
    dash_app: dash.Dash | None = None
    kiosk_app: dash.Dash | None = None  # the 大屏 under /screen/ (dashboard/kiosk.py)
    # The 大屏's data by (region, training, snapshot): every screen of a region polling this
    # worker shares one read per snapshot.
    screen_cache: ScreenCache = field(default_factory=ScreenCache)
    # Where background exports are handed over (dashboard/task_queue.py).
    job_queue: LocalQueue | BrokerQueue = field(default_factory=LocalQueue)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    server = Flask(__name__)
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="yanxiu_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        TESTING=settings.testing,
    )
    server.session_interface = SessionInterface()
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)
    state = AppState(settings, make_engine(settings.database_url), StaticFiles(ASSETS_DIR),
                     job_queue=make_queue(settings))
    server.extensions["yanxiu"] = state
    server.jinja_env.globals.update(asset_url=state.static_files.asset_url,
                                    favicon_url=favicon_url())

    auth.login_manager.init_app(server)
    server.register_blueprint(auth.bp)
    server.register_blueprint(downloads.bp)

    # Built first: the console is the app Dash's pages machinery refers to (the last one made).
    state.kiosk_app = kiosk.create_kiosk_app(server, ASSETS_DIR, INDEX_PAGE)
    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS_DIR),
        assets_ignore=rf"^{kiosk.ASSET_PREFIX.replace('.', '[.]')}",
        suppress_callback_exceptions=True,
        title="研修管理工作台",
        update_title=None,
        serve_locally=True,
        # The statistics and 激活进度 pages' routers decide from them whether the URL names a
        # new page (their layouts keep the page when it already shows that state).
        routing_callback_inputs={
            "page_state": dash.State(Stats.STATE, "data", allow_optional=True),
            "activation_state": dash.State(Activation.STATE, "data", allow_optional=True)},
    )
    app.config.include_pages_meta = False
    app.index_string = INDEX_PAGE
    _translate_loading_text(app)
    _translate_loading_text(state.kiosk_app)
    pages.register(app)
    state.dash_app = app

    # A forged pathname sent to the pages router is a bad request, not a server error.
    server.register_error_handler(
        dash.exceptions.UnsupportedRelativePath, lambda _e: (jsonify({"error": "bad path"}), 400))
    errors.register(server)
    # A package file Dash does not serve (a guessed or stale bundle URL) is missing, not a
    # server error.
    server.register_error_handler(
        dash.exceptions.DependencyException, lambda _e: ("文件不存在", 404))
    server.register_error_handler(OperationalError, _database_unavailable)
    server.before_request(reject_hostile_input)
    server.before_request(_require_login)
    server.after_request(_secure_headers)
    return server


# Dash's default page, in Chinese (the browser would otherwise offer to translate it).
INDEX_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


def _translate_loading_text(app: dash.Dash) -> None:
    """The text shown until the first screen has rendered."""
    interpolate = app.interpolate_index

    def interpolate_index(**kwargs):
        kwargs["app_entry"] = kwargs.get("app_entry", "").replace("Loading...", "正在加载…")
        return interpolate(**kwargs)

    app.interpolate_index = interpolate_index


def _database_unavailable(exc):
    """The database went away: a clear message instead of a stack trace. The engine's pool
    pre-ping reconnects by itself once the database is back."""
    current_app.logger.error("database unavailable: %s", exc.__class__.__name__)
    if request.path.startswith(("/_dash", "/export", "/screen/_dash")):
        return jsonify({"error": "数据库暂时无法连接，请稍后重试"}), 503
    # Rendered without Flask's context processors: flask-login's would query the database.
    page = current_app.jinja_env.get_template("unavailable.html").render(
        title="暂时无法访问", error=None, message=None, wide=False)
    return page, 503


def login_redirect(target: str):
    return redirect(f"/login?next={quote(target, safe='')}")


def _require_login():
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    if path == "/logout":
        return None
    if kiosk.is_kiosk_path(path):
        refused = kiosk.kiosk_access(path)
        if refused is not None:
            return refused
        if path == kiosk.UPDATE_PATH:
            kiosk_app = current_app.extensions["yanxiu"].kiosk_app
            if not _names_a_callback(kiosk_app):
                abort(400)
        return None
    if not current_user.is_authenticated:
        if path.startswith(("/_dash", "/export", "/_reload")):
            return jsonify({"error": "未登录或登录已过期"}), 401
        target = request.full_path if request.query_string else path
        return login_redirect(target)
    if path not in UNBOUND_PATHS and not path.startswith(("/_dash", "/export")) \
            and current_scope() is None:
        # Deny by default: a user with no binding sees only the binding page.
        return redirect("/bind")
    if request.method == "POST" and path.startswith("/_dash"):
        # Double-submit check: the Dash renderer echoes the _csrf_token cookie in a header.
        if not csrf_valid(request.headers.get("X-CSRFToken")):
            abort(403)
        if path == "/_dash-update-component" and not (
                _names_a_callback(current_app.extensions["yanxiu"].dash_app)
                and _router_inputs_are_paths()):
            abort(400)
    return None


def _names_a_callback(dash_app: dash.Dash) -> bool:
    """The body names a callback registered on `dash_app` and carries its inputs and states
    in the shape the Dash renderer sends: anything else would fail inside Dash's dispatcher
    (KeyError, TypeError) instead of being refused."""
    body = request.get_json(silent=True)
    output = body.get("output") if isinstance(body, dict) else None
    spec = dash_app.callback_map.get(output) if isinstance(output, str) else None
    # A browser-side callback has no server function to run.
    if spec is None or "callback" not in spec or not _outputs_match(output, body.get("outputs")):
        return False
    for part in ("inputs", "state"):
        given = body.get(part) or []
        if not isinstance(given, list) or len(given) != len(spec.get(part) or []):
            return False
        for item in given:
            # a pattern-matching (ALL) input arrives as a list of such dicts
            for one in (item if isinstance(item, list) else [item]):
                if not (isinstance(one, dict) and "id" in one
                        and isinstance(one.get("property"), str)):
                    return False
    changed = body.get("changedPropIds", [])
    return isinstance(changed, list) and all(isinstance(c, str) for c in changed)


def _outputs_match(output: str, outputs) -> bool:
    """`outputs` names exactly the outputs of the `output` string (one dict, or a list of
    them for a callback with several), as the renderer sends them. A pattern-matching output
    (`{"type": …, "index": ALL}`) arrives as the matched components' ids: their property is
    checked, their ids are the callback's own business."""
    names = output[2:-2].split("...") if output.startswith("..") else [output]
    given = outputs if output.startswith("..") else [outputs]
    if not isinstance(given, list) or len(given) != len(names):
        return False
    for name, item in zip(names, given):
        cid, _, prop = name.rpartition(".")
        # an allow_duplicate output's property carries its `@hash` (the renderer sends it)
        props = {prop, prop.split("@")[0]}
        if cid.startswith("{"):
            items = item if isinstance(item, list) else [item]
            if not all(isinstance(i, dict) and isinstance(i.get("id"), dict)
                       and i.get("property") in props for i in items):
                return False
        elif not (isinstance(item, dict) and item.get("id") == cid
                  and item.get("property") in props):
            return False
    return True


def _router_inputs_are_paths() -> bool:
    """Dash's own page router assumes its pathname/search inputs are strings; a forged
    request with anything else is refused here instead of failing inside Dash."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return False
    if "_pages_content" not in str(body.get("output", "")):
        return True
    for item in body.get("inputs") or []:
        if not isinstance(item, dict):
            return False
        value = item.get("value")
        if item.get("property") == "pathname" and not (
                isinstance(value, str) and value.startswith("/")):
            return False
        if item.get("property") == "search" and not (value is None or isinstance(value, str)):
            return False
    return True


def _secure_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    state = current_app.extensions["yanxiu"]
    response.headers["Content-Security-Policy"] = content_security_policy(
        list(dict.fromkeys([*state.dash_app.csp_hashes(), *state.kiosk_app.csp_hashes()])))
    if is_static_path(request.path):
        return state.static_files.finish(response)
    if request.path.startswith(CHART_PAGE_PREFIX) and response.status_code == 200 \
            and response.mimetype == "text/html":
        response.headers["Link"] = preload_header(CHART_BUNDLES)
    # Everything else is an authenticated answer: never stored, never compressed.
    no_store(response)
    # Only a user already loaded for this request (never a new database read here: this also
    # runs for the error page shown when the database is down).
    user = g.get("_login_user")
    if user is not None and user.is_authenticated:
        response.set_cookie(CSRF_COOKIE, csrf_token(), samesite="Lax", httponly=False,
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
