"""统计详情: renders the view named by the URL, and turns clicks into URL changes."""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from data_access import regions as region_tree
from data_access.refresh import current_snapshot
from data_access.scope import NotFound, ScopeDenied, authorize_region, authorize_training
from data_access.stats import StatsFilters, region_table, region_table_records
from data_access.vocab import STAGES, SUBJECTS
from dashboard.access import read, require_scope
from layouts import training_stats as view
from layouts.ids import Shell
from layouts.ids import Stats as ids

from . import callback

HIDDEN = {"display": "none"}
SHOWN = {}


def filters_of(state: dict) -> StatsFilters:
    stage = state.get("stage")
    subject = state.get("subject")
    return StatsFilters(
        stage=stage if stage in STAGES else "",
        subject=subject if subject in SUBJECTS else "",
        certified_only=state.get("uncertified") == "exclude",
    )


def _denied(text: str):
    return ([], view.error_panel(text), HIDDEN, [], [], "")


@callback(
    Output(ids.HEADER, "children"),
    Output(ids.ERROR, "children"),
    Output(ids.BODY, "style"),
    Output(ids.BREADCRUMB, "children"),
    Output(ids.GRID, "rowData"),
    Output(ids.EXPORT, "href"),
    Input(ids.STATE, "data"),
)
def render_region_view(state):
    if not isinstance(state, dict):
        raise PreventUpdate
    scope = require_scope()
    if scope.is_school:
        return _denied("学校管理员请在【培训统计】中查看本校数据。")
    with read() as conn:
        try:
            training = authorize_training(conn, scope, state.get("training"))
        except NotFound:
            return _denied("培训不存在或已被删除。")
        try:
            region = authorize_region(conn, scope, state.get("region"))
        except ScopeDenied:
            return _denied("无权查看该区域的数据：只能查看本级及下级区域。")
        snap = current_snapshot(conn)
        path = region_tree.ancestors(conn, region.code)
        if snap is None:
            rows = []
            updated = "尚未生成"
        else:
            rows = region_table_records(
                region_table(conn, snap[0], training, region, filters_of(state)))
            updated = f"{snap[1]:%Y-%m-%d %H:%M:%S}"
    clean = {**state, "training": training.code, "region": region.code}
    # The breadcrumb is rooted at the user's own scope and never goes above it.
    crumbs, inside = [], False
    for r in path:
        inside = inside or r.code == scope.region_code
        if inside:
            crumbs.append((r.name, None if r.code == region.code
                           else view.stats_href(clean, region=r.code)))
    header = view.header(training.name, training.status(), training.period, updated)
    return header, None, SHOWN, view.breadcrumb(crumbs), rows, view.export_href(clean)


@callback(
    Output(Shell.NAV, "href", allow_duplicate=True),
    Input(ids.GRID, "cellClicked"),
    Input(ids.UNCERTIFIED, "value"),
    Input(ids.FILTER, "n_clicks"),
    State(ids.STAGE, "value"),
    State(ids.SUBJECT, "value"),
    State(ids.STATE, "data"),
    prevent_initial_call=True,
)
def navigate(cell, uncertified, _clicks, stage, subject, state):
    """Every control change becomes a URL change; the page then re-renders from the URL, so
    reload, sharing and Back all restore the same view."""
    if not isinstance(state, dict) or not isinstance(state.get("training"), str):
        raise PreventUpdate
    trigger = ctx.triggered_id
    if trigger == ids.GRID:
        if not isinstance(cell, dict) or cell.get("colId") != "name":
            raise PreventUpdate
        row_id = cell.get("rowId")
        if not isinstance(row_id, str) or ":" in row_id or row_id == state.get("region"):
            raise PreventUpdate
        return view.stats_href(state, region=row_id)
    if trigger == ids.UNCERTIFIED:
        value = "exclude" if uncertified == "exclude" else "include"
        if value == state.get("uncertified", "include"):
            raise PreventUpdate
        return view.stats_href(state, uncertified=value)
    if trigger == ids.FILTER:
        return view.stats_href(
            state,
            stage=stage if stage in STAGES else "",
            subject=subject if subject in SUBJECTS else "",
        )
    return no_update
