"""The 大屏's callbacks (SPEC §4.6), attached to the kiosk app under /screen/ only.

A kiosk has no login: what it may see is decided by its token, read from the page's path on
every poll and looked up in the database (a revoked or expired token shows the 失效 notice at
the next poll). The region and training always come from the token's row — or, on the
preview at /screen/, from the logged-in region admin's session — never from anything else
the request carries. A poll that finds the snapshot on display answers nothing at all, so
the screen never redraws without a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dash import ClientsideFunction, Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from data_access import display_tokens
from data_access.refresh import current_snapshot
from data_access.regions import get_region
from data_access.rules import is_region_admin
from data_access.scope import NotFound, authorize_training
from data_access.trainings import TrainingRow, current_training, training_by_id
from data_access.wall_screen import screen_data, snapshot_key
from dashboard.access import current_scope, engine, read
from dashboard.security import client_ip
from layouts import wall_screen as view
from layouts.ids import Wall as ids

from . import callback, clientside_callback

PREVIEW_PATHS = ("/screen", "/screen/")
# Keys of what is on display besides a snapshot: the notices.
INVALID, NO_DATA, DENIED = "invalid", "no-data", "denied"

@dataclass(frozen=True)
class Target:
    region_code: str
    training: TrainingRow


def _kiosk_target(conn, pathname: str, now: datetime) -> Target | str:
    grant = display_tokens.grant_of(conn, display_tokens.token_in_path(pathname), now)
    if grant is None:
        return INVALID
    ip = client_ip()
    if display_tokens.seen_is_due(grant, ip, now):
        display_tokens.mark_seen(engine(), grant.token_id, ip, now)
    training = (current_training(conn, now) if grant.training_id is None
                else training_by_id(conn, grant.training_id))
    return Target(grant.region_code, training) if training else NO_DATA


def _preview_target(conn, training_code, now: datetime) -> Target | str:
    scope = current_scope()
    if not is_region_admin(scope):
        return DENIED
    if training_code:
        try:
            training = authorize_training(conn, scope, training_code)
        except NotFound:
            raise PreventUpdate from None
    else:
        training = current_training(conn, now)
    return Target(scope.region_code, training) if training else NO_DATA


NOTICES = {INVALID: view.INVALID_TEXT, NO_DATA: view.NO_DATA_TEXT,
           DENIED: view.PREVIEW_DENIED_TEXT}
OUTPUTS = (
    Output(ids.SHOWN, "data"),
    Output(ids.DATA, "data"),
    Output(ids.TITLE, "children"),
    Output(ids.PERIOD, "children"),
    Output(ids.UPDATED, "children"),
    Output(ids.KPIS, "children"),
    Output(ids.RANKING_TITLE, "children"),
    Output(ids.RANKING, "figure"),
    Output(ids.TREND, "figure"),
    Output(ids.LAGGING_TITLE, "children"),
    Output(ids.LAGGING, "children"),
    Output(ids.NOTICE, "children"),
    Output(ids.NOTICE, "hidden"),
    Output(ids.PREVIEW_BAR, "hidden"),
)


@callback(*OUTPUTS, Input(ids.POLL, "n_intervals"), Input(ids.URL, "pathname"),
          Input(ids.TRAINING, "value"), State(ids.SHOWN, "data"))
def poll(_n, pathname, training_code, shown):
    if not isinstance(pathname, str):
        raise PreventUpdate
    now = datetime.now()
    with read() as conn:
        if pathname in PREVIEW_PATHS:
            target = _preview_target(conn, training_code, now)
        else:
            target = _kiosk_target(conn, pathname, now)
        if isinstance(target, str):
            return _notice(target, shown, pathname)
        snapshot = current_snapshot(conn)
        if snapshot is None:
            return _notice(NO_DATA, shown, pathname)
        key = snapshot_key(target.region_code, target.training.id, snapshot[0])
        if key == shown:
            raise PreventUpdate
        region = get_region(conn, target.region_code)
        if region is None:
            return _notice(NO_DATA, shown, pathname)
        cache = current_app.extensions["yanxiu"].screen_cache
        data = cache.get(key, lambda: screen_data(conn, snapshot[0], snapshot[1],
                                                  target.training, region))
    return _screen(data, pathname)


def _notice(which: str, shown, pathname: str):
    if which == shown:
        raise PreventUpdate
    # A notice covers the whole canvas; what is behind it stays as it was.
    return (which, *(no_update,) * (len(OUTPUTS) - 4), NOTICES[which], False,
            pathname not in PREVIEW_PATHS)


def _screen(data: dict, pathname: str):
    unit = data["unit_label"]
    return (
        data["key"],
        data,
        f"{data['region']} · {data['training']}",
        f"培训时间 {data['period']}",
        f"数据更新时间 {data['updated']}",
        view.kpi_cards(data["kpis"]),
        f"{unit}完成人数占比排名" + (f"（前 {len(data['ranking'])} 名，共 {data['units']} 个）"
                                     if data["units"] > len(data["ranking"]) else ""),
        view.ranking_figure(data["ranking"]),
        view.trend_figure(data["trend"]),
        "完成人数占比后五位",
        view.lagging_items(data["lagging"]),
        "",
        True,
        # the preview's chooser, shown to a logged-in region admin at /screen/ only
        pathname not in PREVIEW_PATHS,
    )


# The highlighted sub-region moves on in the browser: no request, no query.
clientside_callback(
    __name__,
    ClientsideFunction("wall", "rotate"),
    Output(ids.FOCUS_NAME, "children"),
    Output(ids.FOCUS_RANK, "children"),
    Output(ids.FOCUS_SHARE, "children"),
    Output(ids.FOCUS_PARTICIPANTS, "children"),
    Output(ids.FOCUS_COMPLETED, "children"),
    Output(ids.RANKING, "figure", allow_duplicate=True),
    Input(ids.ROTATE, "n_intervals"),
    Input(ids.DATA, "data"),
    State(ids.RANKING, "figure"),
    prevent_initial_call=True,
)
clientside_callback(
    __name__,
    ClientsideFunction("wall", "clock"),
    Output(ids.CLOCK, "children"),
    Input(ids.CLOCK_TICK, "n_intervals"),
)
