"""统计详情: renders the view named by the URL, and turns every control into a URL change.

The page keeps three stores: STATE (everything the URL names), REGION_STATE (the part the
cards, chart and region table depend on) and TEACHER_STATE (the part the teacher list
depends on). A control change (`navigate`) pushes the new URL and updates only the stores
whose part changed, so another page of the teacher list re-reads that page alone and a
drill-down never re-reads the teacher list. The URL stays the one truth: the page router
rebuilds the page whenever the URL names a state other than the one on screen (reload,
sharing, Back, a link).
"""

from __future__ import annotations

from dash import Input, Output, Patch, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from data_access import audit
from data_access import regions as region_tree
from data_access.download_tables import FORMATS, url_for
from data_access.privacy import mask_account
from data_access.refresh import current_snapshot
from data_access.scope import (
    NotFound,
    ScopeDenied,
    authorize_region,
    authorize_school,
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
    school_distribution,
    school_subject_series,
)
from data_access.participants import (
    PAGE_SIZES,
    TeacherFilters,
    TeacherScope,
    count_teachers,
    teacher_page,
)
from data_access.vocab import STAGES, SUBJECTS
from dashboard.access import read, require_scope, write
from dashboard.security import client_ip
from layouts import comparison_chart as chart
from layouts import training_stats as view
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


def _clean(raw) -> dict:
    """Re-parse a state sent back by the browser exactly like a URL."""
    state = view.clean_state(raw)
    if state is None:
        raise PreventUpdate
    return state


def _authorized(conn, scope, state):
    """(training, region, school code or None) — region None for a school scope — or an
    error text. Never trusts the codes in the state."""
    try:
        training = authorize_training(conn, scope, state["training"])
    except NotFound:
        return None, "培训不存在或已被删除。"
    if scope.is_school:
        if state["region"] or state.get("school") not in ("", None, scope.school_code):
            return None, "无权查看该区域的数据：学校管理员只能查看本校。"
        return (training, None, None), None
    try:
        region = authorize_region(conn, scope, state["region"])
    except ScopeDenied:
        return None, "无权查看该区域的数据：只能查看本级及下级区域。"
    school = state.get("school") or None
    if school is not None:
        try:
            school = authorize_school(conn, scope, school)
        except ScopeDenied:
            return None, "无权查看该学校的数据：只能查看本级及下级区域的学校。"
        if not region_tree.is_within(conn, region.code, region_tree.school_region(conn, school)):
            return None, "该学校不在当前区域内，请从区域的学校列表中选择。"
    return (training, region, school), None


def _audit_denied(scope, state) -> None:
    with write() as conn:
        audit.record(conn, "denied", user_id=scope.user_id,
                     actor=mask_account(current_user.account), region_code=scope.region_code,
                     school_code=scope.school_code, ip=client_ip(), outcome="denied",
                     detail={"view": "training", "training": state["training"][:40],
                             "region": state["region"][:40],
                             "school": (state.get("school") or "")[:40]})


def _download_args(training, region, school, state) -> dict[str, str]:
    """The request of the downloads of what the page shows (already authorized); the URL
    itself is built by `download_tables.url_for`, like every download URL."""
    return {"training_code": training.code,
            "region": region.code if region is not None and school is None else "",
            "school": school or "", "stage": state.get("stage") or "",
            "subject": state.get("subject") or "", "q": state.get("q") or "",
            "uncertified": state.get("uncertified") or "include"}


def _where(scope, region, school) -> TeacherScope:
    if scope.is_school:
        return TeacherScope(school_code=scope.school_code)
    if school is not None:
        return TeacherScope(school_code=school)
    return TeacherScope(region=region)


def _denied_view(error: str):
    return ([], view.error_panel(error), HIDDEN, [], [], [], view.region_grid_options(0), None,
            "", "")


@callback(
    Output(ids.HEADER, "children"),
    Output(ids.ERROR, "children"),
    Output(ids.BODY, "style"),
    Output(ids.CARDS, "children"),
    Output(ids.GRID, "rowData"),
    Output(ids.GRID, "pinnedTopRowData"),
    Output(ids.GRID, "dashGridOptions"),
    Output(ids.CHART_DATA, "data"),
    Output(ids.EXPORT, "href"),
    Output(ids.EXPORT_XLSX, "href"),
    Input(ids.REGION_STATE, "data"),
)
def render_region_view(raw_state):
    """Header, cards, the chart's points and the 按区域查看 table — one snapshot."""
    state = _clean(raw_state)
    scope = require_scope()
    with read() as conn:
        authorized, error = _authorized(conn, scope, state)
    if error:
        _audit_denied(scope, state)
        return _denied_view(error)
    training, region, _school = authorized
    with read() as conn:
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
    records = region_table_records(table)
    # The current region's row stays on top of every page and every sort order.
    pinned, rows = records[:1], records[1:]
    hrefs = ("", "")  # a school has no region table (its teacher list has its own buttons)
    if region is not None:
        clean = {**state, "training": training.code, "region": region.code}
        args = _download_args(training, region, None, clean)
        hrefs = (url_for("regions", args, "csv"), url_for("regions", args, "xlsx"))
    return (view.header(training.name, training.status(), training.period, updated), None,
            SHOWN, view.cards(cards), rows, pinned, view.region_grid_options(len(rows)),
            points, *hrefs)


@callback(Output(ids.DISTRIBUTION, "figure"), Input(ids.REGION_STATE, "data"))
def render_distribution(raw_state):
    """各学段/学科参训人数分布 of the school admin's own school (hidden for region admins)."""
    state = _clean(raw_state)
    scope = require_scope()
    if not scope.is_school:
        raise PreventUpdate
    with read() as conn:
        authorized, error = _authorized(conn, scope, state)
        snap = current_snapshot(conn)
        if error or snap is None:
            return chart.distribution_figure([], [])
        training, _region, _school = authorized
        shares = school_distribution(conn, snap[0], training, scope.school_code,
                                     filters_of(state))
    return chart.distribution_figure(shares.stages, shares.subjects)


@callback(Output(ids.BREADCRUMB, "children"), Input(ids.REGION_STATE, "data"),
          Input(ids.HASH, "hash"), State(ids.STATE, "data"))
def render_breadcrumb(raw_state, url_hash, raw_full):
    """Rooted at the user's own scope and never above it; the links keep the chart's
    indicators (the URL hash), so going up does not lose them."""
    state = _clean(raw_state)
    full = view.clean_state(raw_full) or {**view.parse_state(), **state}
    scope = require_scope()
    with read() as conn:
        authorized, error = _authorized(conn, scope, state)
        if error:
            return []
        _training, region, _school = authorized
        if scope.is_school:
            return view.breadcrumb([(scope.name, None)])
        path = region_tree.ancestors(conn, region.code)
    keep_hash = url_hash if isinstance(url_hash, str) and url_hash.startswith("#ind=") else ""
    crumbs, inside = [], False
    for r in path:
        inside = inside or r.code == scope.region_code
        if inside:
            target = None if r.code == region.code else view.stats_href(
                {**full, **state}, region=r.code, school="", page=1) + keep_hash
            crumbs.append((r.name, target))
    return view.breadcrumb(crumbs)


@callback(
    Output(ids.CHART, "figure"),
    Output(ids.INDICATORS, "value"),
    Output(ids.HASH, "hash"),
    Output(ids.CHART_HINT, "children"),
    Input(ids.CHART_DATA, "data"),
    Input(ids.INDICATORS, "value"),
    Input(ids.HASH, "hash"),
)
def render_chart(raw_points, chosen, url_hash):
    """The chart follows the indicators in the URL hash. When only the indicators change, the
    figure is patched (traces and axes), not rebuilt, and nothing is re-queried."""
    school = require_scope().is_school
    empty = chart.EMPTY_SUBJECTS if school else chart.EMPTY_REGIONS
    if not isinstance(raw_points, list):
        return chart.empty_figure(), no_update, no_update, ""
    points = chart.clean_points(raw_points)
    if ctx.triggered_id == ids.INDICATORS:
        keys = [k for k in (chosen if isinstance(chosen, list) else [])
                if isinstance(k, str) and k in INDICATORS][:6]
        if not keys:
            raise PreventUpdate
        new_hash = view.indicators_hash(keys)
    else:
        # Schools have no 专任教师数 (SPEC §5.3): a chart of schools or of a school's subjects
        # starts with indicators that have values there.
        of_schools = school or (bool(points) and all(p["kind"] == "school" for p in points))
        keys = view.indicators_from_hash(url_hash, of_schools)
        new_hash = no_update
    user_changed_indicators = ctx.triggered_id == ids.INDICATORS and len(ctx.triggered) == 1
    if user_changed_indicators and points:
        traces, layout = chart.indicator_patch(points, keys)
        figure = Patch()
        figure["data"] = traces
        figure["layout"] = layout
    else:
        figure = chart.comparison_figure(points, keys, empty=empty)
    return (figure, keys if ctx.triggered_id != ids.INDICATORS else no_update, new_hash,
            chart.scroll_hint(points))


@callback(
    Output(ids.TEACHER_GRID, "rowData"),
    Output(ids.SUMMARY, "children"),
    Output(ids.PAGER, "max_value"),
    Output(ids.SCHOOL_FILTER, "children"),
    Output(ids.SCHOOL_FILTER_BOX, "style"),
    Output(ids.TEACHER_EXPORT_URLS, "data"),
    Input(ids.TEACHER_STATE, "data"),
)
def render_teacher_view(raw_state):
    if raw_state is None:
        raise PreventUpdate
    state = _clean(raw_state)
    scope = require_scope()
    with read() as conn:
        authorized, error = _authorized(conn, scope, state)
        if error:
            return [], "", 1, *view.school_filter(None), None
        training, region, school = authorized
        args = _download_args(training, region, school, state)
        urls = {fmt: url_for("teachers", args, fmt) for fmt in FORMATS}
        school_label = region_tree.school_name(conn, school) if school else None
        snap = current_snapshot(conn)
        if snap is None:
            return [], "暂无数据", 1, *view.school_filter(school_label), urls
        where = _where(scope, region, school)
        f = TeacherFilters(filters_of(state), state["q"])
        if f.name:
            total = count_teachers(conn, snap[0], training, where, f)
        elif where.school_code is not None:
            total = school_overview(conn, snap[0], training, where.school_code,
                                    f.stats).participants
        else:
            # Without a name, the count is 参训人数 of the same snapshot and filters.
            total = region_overview(conn, snap[0], training, region, f.stats).participants
        pages = max(1, -(-total // state["size"]))
        page = min(state["page"], pages)
        rows = teacher_page(conn, snap[0], training, where, f, page, state["size"], total)
    records = [{"row_id": str(r.teacher_id), "account": r.account, "name": r.name,
                "school": r.school, "region_path": r.region_path, "stage": r.stage,
                "subject": r.subject, "hours": r.hours, "duration": r.duration} for r in rows]
    return (records, f"当前第 {page} 页/共 {pages} 页, 共有 {total} 条记录", pages,
            *view.school_filter(school_label), urls)


def _jump_target(jump) -> int | None:
    """The page typed into 跳至 __ 页: digits only (a text box sends text)."""
    if isinstance(jump, str) and jump.strip().isascii() and jump.strip().isdigit():
        return valid_id(int(jump.strip()[:9]))
    if isinstance(jump, int):
        return valid_id(jump)
    return None


def _clicked_point(click) -> tuple[str, str] | None:
    """(kind, key) of the bar or marker clicked in the comparison chart."""
    try:
        data = click["points"][0]["customdata"]
    except (TypeError, KeyError, IndexError):
        return None
    if isinstance(data, list) and len(data) == 2 and all(isinstance(v, str) for v in data):
        return data[0], data[1]
    return None


@callback(
    Output(ids.NAV, "href"),
    Output(ids.STATE, "data"),
    Output(ids.REGION_STATE, "data"),
    Output(ids.TEACHER_STATE, "data"),
    Output(ids.TABS, "active_tab"),
    Output(ids.PAGER, "active_page"),
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
    Input(ids.CLEAR_SCHOOL, "n_clicks"),
    State(ids.STAGE, "value"),
    State(ids.SUBJECT, "value"),
    State(ids.NAME, "value"),
    State(ids.JUMP, "value"),
    State(ids.STATE, "data"),
    State(ids.HASH, "hash"),
    prevent_initial_call=True,
)
def navigate(cell, click, uncertified, _filter, _submit, tab, page, size, _go, _jump_submit,
             _clear_school, stage, subject, name, jump, raw_state, url_hash):
    """Every control change becomes a URL change (reload, sharing and Back restore the same
    view) and updates only the stores whose part of the state changed."""
    state = _clean(raw_state)
    school_scope = require_scope().is_school
    keep_hash = url_hash if isinstance(url_hash, str) and url_hash.startswith("#ind=") else ""
    trigger = ctx.triggered_id
    if trigger == ids.GRID:
        if not isinstance(cell, dict) or cell.get("colId") != "name":
            raise PreventUpdate
        target = cell.get("rowId")
        if not isinstance(target, str) or not target or target == state["region"]:
            raise PreventUpdate
        kind, _, code = target.partition(":") if ":" in target else ("region", "", target)
        if kind == "school" and code and not school_scope:
            changes = {"view": "teachers", "school": code, "page": 1}
        elif kind == "region":
            changes = {"region": code, "school": "", "page": 1}
        else:
            raise PreventUpdate
    elif trigger == ids.CHART:
        point = _clicked_point(click)
        if point is None or school_scope:  # a school's chart is per subject: nothing to open
            raise PreventUpdate
        kind, code = point
        if kind == "region" and code != state["region"]:
            changes = {"region": code, "school": "", "page": 1}
        elif kind == "school":
            changes = {"view": "teachers", "school": code, "page": 1}
        else:
            raise PreventUpdate
    elif trigger == ids.UNCERTIFIED:
        value = "exclude" if uncertified == "exclude" else "include"
        if value == state["uncertified"]:
            raise PreventUpdate
        changes = {"uncertified": value, "page": 1}
    elif trigger in (ids.FILTER, ids.NAME):
        changes = {"stage": stage if stage in STAGES else "",
                   "subject": subject if subject in SUBJECTS else "",
                   "q": name if isinstance(name, str) else "", "page": 1}
    elif trigger == ids.TABS:
        if tab not in view.VIEWS or tab == state["view"] or school_scope:
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
        target = _jump_target(jump)
        if target is None or target == state["page"]:
            raise PreventUpdate
        changes = {"page": min(target, view.MAX_PAGE)}
    elif trigger == ids.CLEAR_SCHOOL:
        if not state["school"]:
            raise PreventUpdate
        changes = {"school": "", "page": 1}
    else:
        raise PreventUpdate
    href = view.stats_href(state, **changes)
    new = view.state_of_href(href)
    if school_scope:
        new = view.school_view_state(new)
    new_region = view.region_part(new)
    new_teacher = view.teacher_part(new, school_scope)
    # The pager shows the new page when something else than the pager chose it (GO, a new
    # filter starting again at page 1). Only this callback writes the pager's page: the
    # teacher list writing it too would close a loop through `navigate`.
    return (href + keep_hash, new,
            new_region if new_region != view.region_part(state) else no_update,
            new_teacher if new_teacher != view.teacher_part(state, school_scope)
            else no_update,
            new["view"] if trigger != ids.TABS and new["view"] != state["view"] else no_update,
            new["page"] if trigger != ids.PAGER and new["page"] != state["page"] else no_update)
