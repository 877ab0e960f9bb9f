"""The 大屏 (SPEC §4.6) as a Dash app of its own under /screen/, on the console's server.

Its own app, so that a kiosk reaches exactly one callback endpoint (/screen/_dash-update-
component) that knows only the wall screen's callbacks, and none of the console's pages,
callbacks or downloads: those keep requiring a login. What a kiosk request may reach here is
decided in `kiosk_access` (called by the console's login check).
"""

from __future__ import annotations

from pathlib import Path

import dash
from flask import current_app, redirect, request
from flask_login import current_user

from callbacks import register_kiosk_callbacks
from data_access.rules import is_region_admin
from data_access.display_tokens import CURRENT_TRAINING_LABEL, training_choices
from layouts import wall_screen

from .access import current_scope, read

PREFIX = "/screen/"
PREVIEW_PATHS = ("/screen", PREFIX)
UPDATE_PATH = PREFIX + "_dash-update-component"
ASSET_PREFIX = "wall_screen."  # the kiosk loads these assets only; the console never


def create_kiosk_app(server, assets_dir: Path, index_page: str) -> dash.Dash:
    app = dash.Dash(
        "yanxiu_screen",
        server=server,
        routes_pathname_prefix=PREFIX,
        requests_pathname_prefix=PREFIX,
        assets_folder=str(assets_dir),
        assets_ignore=rf"^(?!{ASSET_PREFIX.replace('.', '[.]')})",
        suppress_callback_exceptions=True,
        title="研修大屏",
        update_title=None,
        serve_locally=True,
    )
    app.config.include_pages_meta = False
    app.index_string = index_page
    app.layout = _layout
    register_kiosk_callbacks(app)
    server.add_url_rule("/screen", "screen_preview", lambda: redirect(PREFIX))
    return app


def _layout():
    settings = current_app.extensions["yanxiu"].settings
    return wall_screen.page(poll_seconds=settings.screen_poll_seconds,
                            rotate_seconds=settings.screen_rotate_seconds,
                            reload_hours=settings.screen_reload_hours,
                            training_options=_preview_trainings())


def _preview_trainings() -> list[dict] | None:
    """The preview's training chooser, for a logged-in region admin only (a kiosk has no
    session: None)."""
    if not current_user.is_authenticated or not is_region_admin(current_scope()):
        return None
    with read() as conn:
        trainings = training_choices(conn)
    return [{"label": CURRENT_TRAINING_LABEL, "value": ""}] + [
        {"label": f"{t.name}（{t.status()}）", "value": t.code} for t in trainings]


def is_kiosk_path(path: str) -> bool:
    return path == "/screen" or path.startswith(PREFIX)


def kiosk_access(path: str):
    """None to let a request under /screen/ through, else the answer to it.

    The preview needs a login; a kiosk's page, the app's layout (no data in it), its
    dependencies and static files, and its callback endpoint are open: the callbacks decide
    from the token what to answer. A logged-in browser's callback requests carry the session,
    so they need the CSRF header like the console's."""
    from .app import login_redirect  # noqa: PLC0415 (the console's login check imports us)
    from .security import csrf_valid

    if path in PREVIEW_PATHS and not current_user.is_authenticated:
        return login_redirect(PREFIX)
    if path == UPDATE_PATH:
        if request.method != "POST":
            return ("", 405)
        if current_user.is_authenticated and not csrf_valid(request.headers.get("X-CSRFToken")):
            return ("", 403)
    return None
