"""统计详情: renders the view named by the URL, and turns every control into a URL change."""

from __future__ import annotations

from dash import Input, Output, Patch, State, ctx, no_update
from dash.exceptions import PreventUpdate

from flask_login import current_user

from data_access import audit
from data_access import regions as region_tree
from data_access.privacy import mask_account
from data_access.refresh import current_snapshot
from data_access.scope import (
    NotFound,
    ScopeDenied,
    authorize_region,
    authorize_training,
    valid_id,
)
from data_access.stats import (
    INDICATORS,
    StatsFilters,
    comparison_series,
    overview_cards,
    previous_day_counts,
    region_overview,
    region_table,
    region_table_records,
    school_overview,
    school_subject_series,
)
from data_access.teachers import (
    PAGE_SIZES,
    TeacherFilters,
    TeacherScope,
    count_teachers,
    teacher_page,
)
from data_access.vocab import STAGES, SUBJECTS
from dashboard.access import read, require_scope, write
from dashboard.security import client_ip
from layouts import training_stats as view
from layouts.ids import Shell
from layouts.ids import Stats as ids

from . import callback

HIDDEN = {"display": "none"}
SHOWN = {}


def filters_of(state: dict) -> StatsFilters:
    return StatsFilters(
        stage=state.get("stage") if state.get("stage") in STAGES else "",
        subject=state.get("subject") if state.get("subject") in SUBJECTS else "",
        certified_only=state.get("uncertified") == "exclude",
    )


def _clean(state) -> dict:
    """Re-parse a state sent back by the browser exactly like a URL."""
    if not isinstance(state, dict):
        raise PreventUpdate
    return view.parse_state(state.get("training"), state.get("region"), state.get("view"),
                            state.get("stage"), state.get("subject"), state.get("uncertified"),
                            state.get("page"), state.get("size"), state.get("q"))


def _authorized(conn, scope, state):
    """(training, region) — region None for a school scope — or an error text. Never trusts
    the codes in the state."""
    try:
        training = authorize_training(conn, scope, state["training"])
    except NotFound:
        return None, "培训不存在或已被删除。"
    if scope.is_school:
        if state["region"]:
            return None, "无权查看该区域的数据：学校管理员只能查看本校。"
        return (training, None), None
    try:
        region = authorize_region(conn, scope, state["region"])
    except ScopeDenied:
        return None, "无权查看该区域的数据：只能查看本级及下级区域。"
    return (training, region), None


def _audit_denied(scope, state) -> None:
    with write() as conn:
        audit.record(conn, "denied", user_id=scope.user_id,
                     actor=mask_account(current_user.account), region_code=scope.region_code,
                     school_code=scope.school_code, ip=client_ip(), outcome="denied",
                     detail={"view": "training", "training": state["training"][:40],
                             "region": state["region"][:40]})


def _where(scope, region) -> TeacherScope:
    return TeacherScope(school_code=scope.school_code) if scope.is_school else TeacherScope(
        region=region)


RENDER_OUTPUTS = [
    Output(ids.HEADER, "children"),
    Output(ids.ERROR, "children"),
    Output(ids.BODY, "style"),
    Output(ids.CARDS, "children"),
    Output(ids.GRID, "rowData"),
    Output(ids.CHART_DATA, "data"),
    Output(ids.EXPORT, "href"),
    Output(ids.EXPORT_XLSX, "href"),
]


@callback(*RENDER_OUTPUTS, Input(ids.STATE, "data"))
def render_region_view(raw_state):
    state = _clean(raw_state)
    scope = require_scope()
    with read() as conn:
        authorized, error = _authorized(conn, scope, state)
    if error:
        _audit_denied(scope, state)
        return [], view.error_panel(error), HIDDEN, [], [], None, "", ""
    with read() as conn:
        training, region = authorized
        f = filters_of(state)
        snap = current_snapshot(conn)
        table, points, cards, updated = [], [], [], "尚未生成"
        if snap is not None and scope.is_school:
            counts = school_overview(conn, snap[0], training, scope.school_code, f)
            cards = overview_cards(counts, None)
            points = school_subject_series(conn, snap[0], training, scope.school_code, f)
        elif snap is not None:
            table = region_table(conn, snap[0], training, region, f)
            previous = None
            if not f.stage and not f.subject:
                previous = previous_day_counts(conn, training, region.code, snap[1].date(),
                                               f.certified_only)
            cards = overview_cards(table[0].counts, previous)
            points = comparison_series(table)
        if snap is not None:
            updated = f"{snap[1]:%Y-%m-%d %H:%M:%S}"
    clean = {**state, "training": training.code, "region": region.code if region else ""}
    table_name = "teachers" if state["view"] == "teachers" or scope.is_school else "regions"
    return (view.header(training.name, training.status(), training.period, updated), None,
            SHOWN, view.cards(cards), region_table_records(table), points,
            view.export_href(clean, table_name, "csv"),
            view.export_href(clean, table_name, "xlsx"))


@callback(Output(ids.BREADCRUMB, "children"), Input(ids.STATE, "data"), Input(ids.HASH, "hash"))
def render_breadcrumb(raw_state, url_hash):
    """Rooted at the user's own scope and never above it; the links keep the chart's
    indicators (the URL hash), so going up does not lose them."""
    state = _clean(raw_state)
    scope = require_scope()
    with read() as conn:
        authorized, error = _authorized(conn, scope, state)
        if error:
            return []
        _training, region = authorized
        if scope.is_school:
            return view.breadcrumb([(scope.name, None)])
        path = region_tree.ancestors(conn, region.code)
    keep_hash = url_hash if isinstance(url_hash, str) and url_hash.startswith("#ind=") else ""
    crumbs, inside = [], False
    for r in path:
        inside = inside or r.code == scope.region_code
        if inside:
            crumbs.append((r.name, None if r.code == region.code
                           else view.stats_href(state, region=r.code, page=1) + keep_hash))
    return view.breadcrumb(crumbs)


@callback(
    Output(ids.CHART, "figure"),
    Output(ids.INDICATORS, "value"),
    Output(ids.HASH, "hash"),
    Input(ids.CHART_DATA, "data"),
    Input(ids.INDICATORS, "value"),
    Input(ids.HASH, "hash"),
)
def render_chart(points, chosen, url_hash):
    """The chart follows the indicators in the URL hash. When only the indicators change, the
    figure is patched (traces and axis order), not rebuilt, and nothing is re-queried."""
    require_scope()
    if not isinstance(points, list):
        return view.empty_figure(), no_update, no_update
    points = [p for p in points if isinstance(p, dict) and isinstance(p.get("name"), str)]
    if ctx.triggered_id == ids.INDICATORS:
        keys = [k for k in (chosen or []) if isinstance(k, str) and k in INDICATORS][:6]
        if not keys:
            raise PreventUpdate
        new_hash = view.indicators_hash(keys)
    else:
        keys = view.indicators_from_hash(url_hash)
        new_hash = no_update
    user_changed_indicators = ctx.triggered_id == ids.INDICATORS and len(ctx.triggered) == 1
    if user_changed_indicators and points:
        traces, names = view.comparison_traces(points, keys)
        patch = Patch()
        patch["data"] = traces
        patch["layout"]["xaxis"]["categoryarray"] = names
        layout = view.comparison_layout(names, keys, traces)
        patch["layout"]["yaxis"] = layout["yaxis"]
        patch["layout"]["yaxis2"] = layout["yaxis2"]
        figure = patch
    else:
        figure = view.comparison_figure(points, keys)
    return figure, keys if ctx.triggered_id != ids.INDICATORS else no_update, new_hash


@callback(
    Output(ids.TEACHER_GRID, "rowData"),
    Output(ids.SUMMARY, "children"),
    Output(ids.PAGER, "max_value"),
    Input(ids.STATE, "data"),
)
def render_teacher_view(raw_state):
    state = _clean(raw_state)
    scope = require_scope()
    if state["view"] != "teachers" and not scope.is_school:
        raise PreventUpdate
    with read() as conn:
        authorized, error = _authorized(conn, scope, state)
        if error:
            return [], "", 1
        training, region = authorized
        snap = current_snapshot(conn)
        if snap is None:
            return [], "暂无数据", 1
        where = _where(scope, region)
        f = TeacherFilters(filters_of(state), state["q"])
        if f.name:
            total = count_teachers(conn, snap[0], training, where, f)
        elif scope.is_school:
            total = school_overview(conn, snap[0], training, scope.school_code, f.stats).participants
        else:
            # Without a name, the count is 参训人数 of the same snapshot and filters.
            total = region_overview(conn, snap[0], training, region, f.stats).participants
        pages = max(1, -(-total // state["size"]))
        page = min(state["page"], pages)
        rows = teacher_page(conn, snap[0], training, where, f, page, state["size"], total)
    records = [{"row_id": str(r.teacher_id), "account": r.account, "name": r.name,
                "school": r.school, "region_path": r.region_path, "stage": r.stage,
                "subject": r.subject, "hours": r.hours, "duration": r.duration} for r in rows]
    return records, f"当前第 {page} 页/共 {pages} 页, 共有 {total} 条记录", pages


@callback(
    Output(Shell.NAV, "href", allow_duplicate=True),
    Input(ids.GRID, "cellClicked"),
    Input(ids.CHART, "clickData"),
    Input(ids.UNCERTIFIED, "value"),
    Input(ids.FILTER, "n_clicks"),
    Input(ids.NAME, "n_submit"),
    Input(ids.TABS, "active_tab"),
    Input(ids.PAGER, "active_page"),
    Input(ids.PAGE_SIZE, "value"),
    Input(ids.GO, "n_clicks"),
    Input(ids.JUMP, "n_submit"),
    State(ids.STAGE, "value"),
    State(ids.SUBJECT, "value"),
    State(ids.NAME, "value"),
    State(ids.JUMP, "value"),
    State(ids.STATE, "data"),
    State(ids.HASH, "hash"),
    prevent_initial_call=True,
)
def navigate(cell, click, uncertified, _filter, _submit, tab, page, size, _go, _jump_submit,
             stage, subject, name, jump, raw_state, url_hash):
    """Every control change becomes a URL change; the page then re-renders from the URL, so
    reload, sharing and Back all restore the same view."""
    state = _clean(raw_state)
    keep_hash = url_hash if isinstance(url_hash, str) and url_hash.startswith("#ind=") else ""
    trigger = ctx.triggered_id
    changes: dict = {}
    if trigger == ids.GRID:
        if not isinstance(cell, dict) or cell.get("colId") != "name":
            raise PreventUpdate
        target = cell.get("rowId")
        if not isinstance(target, str) or ":" in target or target == state["region"]:
            raise PreventUpdate
        changes = {"region": target, "page": 1}
    elif trigger == ids.CHART:
        if require_scope().is_school:  # a school's chart is per subject: nothing to drill into
            raise PreventUpdate
        try:
            target = click["points"][0]["customdata"]
        except (TypeError, KeyError, IndexError):
            raise PreventUpdate
        if not isinstance(target, str) or target == state["region"]:
            raise PreventUpdate
        changes = {"region": target, "page": 1}
    elif trigger == ids.UNCERTIFIED:
        value = "exclude" if uncertified == "exclude" else "include"
        if value == state["uncertified"]:
            raise PreventUpdate
        changes = {"uncertified": value, "page": 1}
    elif trigger in (ids.FILTER, ids.NAME):
        changes = {"stage": stage if stage in STAGES else "",
                   "subject": subject if subject in SUBJECTS else "",
                   "q": name.strip()[:30] if isinstance(name, str) else "", "page": 1}
    elif trigger == ids.TABS:
        if tab not in view.VIEWS or tab == state["view"]:
            raise PreventUpdate
        changes = {"view": tab, "page": 1}
    elif trigger == ids.PAGER:
        page = valid_id(page)
        if page is None or page == state["page"]:
            raise PreventUpdate
        changes = {"page": page}
    elif trigger == ids.PAGE_SIZE:
        if size not in PAGE_SIZES or size == state["size"]:
            raise PreventUpdate
        changes = {"size": size, "page": 1}
    elif trigger in (ids.GO, ids.JUMP):
        target = valid_id(jump if not isinstance(jump, float) else int(jump))
        if target is None:
            raise PreventUpdate
        changes = {"page": min(target, view.MAX_PAGE)}
    else:
        return no_update
    return view.stats_href(state, **changes) + keep_hash
