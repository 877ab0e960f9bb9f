"""激活进度: renders the view named by the URL, turns every control into a URL change, and
issues 学校管理员 codes from the 未激活学校 list.

Like 统计详情 (callbacks/training_stats.py), the page keeps STATE (what the URL names),
TABLE_STATE and LIST_STATE; `navigate` pushes the new URL and writes only the stores whose
part changed. Every callback authorizes the requested region against the session's scope.
"""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from data_access.metrics import MINUTE_TIME
from data_access import activation as act
from data_access import audit, codes
from data_access.download_tables import FORMATS, url_for
from data_access.privacy import mask_account
from data_access.regions import ancestors, school_name
from data_access.rules import administers, is_region_admin
from data_access.scope import SCHOOL_CODE_RE, ScopeDenied, authorize_region, valid_id
from data_access.vocab import ROLE_LABELS, ROLE_SCHOOL_ADMIN
from dashboard.access import read, require_scope, write
from dashboard.security import client_ip
from layouts import activation as view
from layouts import admin_pages as code_view
from layouts.ids import Activation as ids

from . import callback, clientside_callback, next_reload
from .admin_pages import issue_and_record

HIDDEN = {"display": "none"}
SHOWN: dict = {}
DENIED = "无权查看该区域的激活进度：只能查看本级及下级区域。"
SCHOOL_SCOPE = "激活进度仅对区域管理员开放。"
CODE_TIME = MINUTE_TIME


def _clean(raw) -> dict:
    state = view.clean_state(raw)
    if state is None:
        raise PreventUpdate
    return state


def _region(conn, scope, state):
    """The authorized region of the state, or None (the caller shows the error panel)."""
    if not is_region_admin(scope):
        return None
    try:
        return authorize_region(conn, scope, state["region"] or None)
    except ScopeDenied:
        return None


def _audit_denied(scope, state) -> None:
    with write() as conn:
        audit.record(conn, "denied", user_id=scope.user_id,
                     actor=mask_account(current_user.account), region_code=scope.region_code,
                     school_code=scope.school_code, ip=client_ip(), outcome="denied",
                     detail={"view": "activation", "region": state["region"][:40]})


def _breadcrumb(conn, scope, region, state):
    crumbs, inside = [], False
    for r in ancestors(conn, region.code):
        inside = inside or r.code == scope.region_code
        if inside:
            link = None if r.code == region.code else view.href(
                state, region=r.code, page=1, q="")
            crumbs.append((r.name, link))
    return view.breadcrumb(crumbs)


@callback(
    Output(ids.ERROR, "children"),
    Output(ids.BODY, "style"),
    Output(ids.BREADCRUMB, "children"),
    Output(ids.GRID, "rowData"),
    Output(ids.GRID, "pinnedTopRowData"),
    Output(ids.GRID, "dashGridOptions"),
    Output(ids.SCHOOL_GRID, "rowData"),
    Output(ids.SCHOOL_GRID, "dashGridOptions"),
    Output(ids.SCHOOL_BOX, "style"),
    Output(ids.NOTE, "style"),
    Output(ids.TABLE_TITLE, "children"),
    Output(ids.EXPORT_CSV, "href"),
    Output(ids.EXPORT_XLSX, "href"),
    Input(ids.TABLE_STATE, "data"),
    State(ids.STATE, "data"),
)
def render_table(raw_table, raw_state):
    """The activation table of the region: its own row pinned on top, then its 直属学校 and
    child regions — or, at a region without child regions, its schools."""
    table_state = view.table_part(_clean(raw_table))
    state = {**(view.clean_state(raw_state) or view.parse_state()), **table_state}
    scope = require_scope()
    with read() as conn:
        region = _region(conn, scope, state)
        if region is None:
            error = SCHOOL_SCOPE if not is_region_admin(scope) else DENIED
            denied = True
        else:
            denied = False
            table = act.activation_table(conn, region)
            crumbs = _breadcrumb(conn, scope, region, state)
    if denied:
        _audit_denied(scope, state)
        return (view.error_panel(error), HIDDEN, [], [], [], view.table_grid_options(0), [],
                view.table_grid_options(0), HIDDEN, HIDDEN, "", "", "")
    regions, schools = act.table_records(table)
    # The current region's row stays on top of every sort order; at a region without child
    # regions it is the table's only row (its schools have a table of their own).
    pinned, rows = ([], regions) if table.schools_as_rows else (regions[:1], regions[1:])
    args = {"region": region.code}
    title = (f"{region.name}各学校管理员开通情况" if table.schools_as_rows
             else f"{region.name}下级区域管理员开通情况")
    return (None, SHOWN, crumbs, rows, pinned, view.table_grid_options(len(rows)), schools,
            view.table_grid_options(len(schools)), SHOWN if table.schools_as_rows else HIDDEN,
            HIDDEN if table.schools_as_rows else SHOWN, title,
            url_for("activation", args, "csv"), url_for("activation", args, "xlsx"))


@callback(
    Output(ids.LIST_GRID, "rowData"),
    Output(ids.SUMMARY, "children"),
    Output(ids.PAGER, "max_value"),
    Output(ids.LIST_EXPORT_URLS, "data"),
    Input(ids.LIST_STATE, "data"),
    Input(ids.RELOAD, "data"),
)
def render_list(raw_list, _reload):
    """One page of the 未激活学校 of the region's subtree, with 生成权限码 where the user may
    issue a code (SPEC §3) and no unused one is waiting."""
    if not isinstance(raw_list, dict):  # None while the tab is not shown
        raise PreventUpdate
    state = _clean({**raw_list, "tab": "unactivated"})
    scope = require_scope()
    with read() as conn:
        region = _region(conn, scope, state)
        if region is None:
            return [], "", 1, None
        page = act.unactivated_page(conn, region, state["q"], state["page"], state["size"])
        may_issue = administers(conn, scope, ROLE_SCHOOL_ADMIN, region.code)
        waiting = act.schools_with_open_code(conn, [s.code for s in page.rows]) \
            if may_issue else set()
    records = []
    for s in page.rows:
        record = act.unactivated_record(s)
        record["action"] = (view.PENDING if s.code in waiting else view.ISSUE) if may_issue else ""
        records.append(record)
    args = {"region": region.code, "q": state["q"]}
    return (records, f"当前第 {page.page} 页/共 {page.pages} 页, 共有 {page.total} 条记录",
            page.pages, {fmt: url_for("unactivated", args, fmt) for fmt in FORMATS})


# The list's 导出 buttons run in the browser: they send the stable URL above to
# POST /export/jobs, which checks the scope and answers with the download (up to 20,000 rows)
# or queues a background job (assets/export_jobs.js).
clientside_callback(
    __name__,
    ClientsideFunction("yanxiu", "requestExport"),
    Output(ids.LIST_EXPORT_MESSAGE, "children"),
    Input(ids.LIST_EXPORT_CSV, "n_clicks"),
    Input(ids.LIST_EXPORT_XLSX, "n_clicks"),
    State(ids.LIST_EXPORT_URLS, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(ids.NAV, "href"),
    Output(ids.STATE, "data"),
    Output(ids.TABLE_STATE, "data"),
    Output(ids.LIST_STATE, "data"),
    Output(ids.TABLE_PANEL, "style"),
    Output(ids.LIST_PANEL, "style"),
    Output(ids.PAGER, "active_page"),
    Input(ids.GRID, "cellClicked"),
    Input(ids.TABS, "active_tab"),
    Input(ids.SEARCH_GO, "n_clicks"),
    Input(ids.SEARCH, "n_submit"),
    Input(ids.PAGER, "active_page"),
    Input(ids.PAGE_SIZE, "value"),
    State(ids.SEARCH, "value"),
    State(ids.STATE, "data"),
    prevent_initial_call=True,
)
def navigate(cell, tab, _search, _submit, page, size, query, raw_state):
    """Every control change becomes a URL change (reload and Back restore the view)."""
    state = _clean(raw_state)
    require_scope()
    trigger = ctx.triggered_id
    if trigger == ids.GRID:
        if not isinstance(cell, dict) or cell.get("colId") != "name":
            raise PreventUpdate
        target = cell.get("rowId")
        if not isinstance(target, str) or not target.startswith("region:"):
            raise PreventUpdate
        code = target.removeprefix("region:")
        if not code or code == state["region"]:
            raise PreventUpdate
        changes = {"region": code, "page": 1, "q": ""}
    elif trigger == ids.TABS:
        if tab not in view.TABS or tab == state["tab"]:
            raise PreventUpdate
        changes = {"tab": tab, "page": 1}
    elif trigger in (ids.SEARCH_GO, ids.SEARCH):
        changes = {"q": query if isinstance(query, str) else "", "page": 1}
    elif trigger == ids.PAGER:
        page = valid_id(page)
        if page is None or page == state["page"]:
            raise PreventUpdate
        changes = {"page": page}
    elif trigger == ids.PAGE_SIZE:
        if size not in act.PAGE_SIZES or size == state["size"]:
            raise PreventUpdate
        changes = {"size": size, "page": 1}
    else:
        raise PreventUpdate
    url = view.href(state, **changes)
    new = view.state_of_href(url)
    new_table, new_list = view.table_part(new), view.list_part(new)
    table_style, list_style = view.panel_styles(new["tab"])
    return (url, new,
            new_table if new_table != view.table_part(state) else no_update,
            new_list if new_list != view.list_part(state) else no_update,
            table_style, list_style,
            new["page"] if trigger != ids.PAGER and new["page"] != state["page"] else no_update)



def _school_code(cell) -> str | None:
    raw = cell.get("rowId") if isinstance(cell, dict) else None
    return raw if isinstance(raw, str) and SCHOOL_CODE_RE.match(raw) else None


@callback(
    Output(ids.ISSUED, "children"),
    Output(ids.MESSAGE, "children"),
    Output(ids.RELOAD, "data"),
    Input(ids.LIST_GRID, "cellClicked"),
    State(ids.LIST_STATE, "data"),
    State(ids.RELOAD, "data"),
    prevent_initial_call=True,
)
def issue_code(cell, raw_list, reload):
    """生成权限码 for a school of the list: the code-issuing flow of 权限码管理 (the §3 rule,
    one 学校管理员 per school, audit-logged), the code shown once."""
    scope = require_scope()
    if not isinstance(cell, dict) or cell.get("colId") != "action" or \
            cell.get("value") != view.ISSUE:
        raise PreventUpdate
    school = _school_code(cell)
    if school is None or not isinstance(raw_list, dict):
        raise PreventUpdate
    state = _clean({**raw_list, "tab": "unactivated"})
    with read() as conn:
        region = _region(conn, scope, state)
    if region is None:
        return None, view.message(DENIED, ok=False), no_update
    try:
        with write() as conn:
            issued = issue_and_record(conn, scope, ROLE_SCHOOL_ADMIN, school)
            target_name = school_name(conn, school) or school
    except codes.CodeError as exc:
        return None, view.message(str(exc), ok=False), next_reload(reload)
    issued_view = code_view.issued_code(issued.code, ROLE_LABELS[ROLE_SCHOOL_ADMIN], target_name,
                                        issued.expires_at.strftime(CODE_TIME))
    return issued_view, None, next_reload(reload)
