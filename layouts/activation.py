"""激活进度 (SPEC §4.3): the activation table of a region and its 未激活学校.

The page is built from the URL only (no database access); the rows are filled in by
callbacks that check the scope (callbacks/activation.py).

URL: `/activation?region=<code>&tab=unactivated&q=&page=&size=`. The page holds three
stores: STATE (everything the URL names), TABLE_STATE (the part the table depends on: the
region) and LIST_STATE (the part the 未激活学校 list depends on; None while its tab is not
shown), so a new page of the list never re-reads the table and the other way round.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.activation import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    QUERY_MAX,
    SCHOOL_COLUMNS,
    TABLE_COLUMNS,
    UNACTIVATED_COLUMNS,
    clean_query,
)
from data_access.text import PASTED_WHITESPACE, has_control_characters

from .columns import WRAPPED_STYLE, column
from .format import data_grid, dropdown, grid_options
from .ids import Activation as ids

PATH = "/activation"
TABS = ("table", "unactivated")
MAX_PAGE = 10_000_000
TABLE_PAGE_SIZE = 20  # the grid's own paging, beyond this many rows (a county's schools)
NOTE = "注：点击具体区域名称，可查看下一级管理员开通情况。"
ISSUE = "生成权限码"
PENDING = "已生成待使用"

STATE_KEYS = ("region", "tab", "q", "page", "size")
TABLE_KEYS = ("region",)
LIST_KEYS = ("region", "q", "page", "size")


# --------------------------------------------------------------------------- state


def _int(value, default: int, low: int, high: int) -> int:
    if isinstance(value, bool):
        return default
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return n if low <= n <= high else default


def _code(value) -> str:
    """A region code requested by the URL (authorized later by the callbacks)."""
    if not isinstance(value, str) or has_control_characters(value, allow=PASTED_WHITESPACE):
        return ""
    return value.strip()[:40]


def parse_state(region="", tab="table", q="", page="1", size="10") -> dict:
    """The view state named by the URL, with everything malformed replaced by defaults."""
    size_n = _int(size, DEFAULT_PAGE_SIZE, 1, 1000)
    return {
        "region": _code(region),
        "tab": tab if tab in TABS else "table",
        "q": clean_query(q),
        "page": _int(page, 1, 1, MAX_PAGE),
        "size": size_n if size_n in PAGE_SIZES else DEFAULT_PAGE_SIZE,
    }


def clean_state(raw) -> dict | None:
    """A state sent back by the browser, re-parsed exactly like a URL; None if malformed."""
    if not isinstance(raw, dict):
        return None
    return parse_state(*(raw.get(k) for k in STATE_KEYS))


def page_state(params: dict) -> dict:
    return parse_state(**{k: v for k, v in params.items() if k in STATE_KEYS})


def table_part(state: dict) -> dict:
    return {k: state[k] for k in TABLE_KEYS}


def list_part(state: dict) -> dict | None:
    """None while the 未激活学校 tab is not shown: the list is read only when it is."""
    if state["tab"] != "unactivated":
        return None
    return {k: state[k] for k in LIST_KEYS}


def query_of(state: dict) -> str:
    params = {}
    if state.get("region"):
        params["region"] = state["region"]
    if state.get("tab") == "unactivated":
        params["tab"] = "unactivated"
        if state.get("q"):
            params["q"] = state["q"]
        if state.get("page", 1) != 1:
            params["page"] = state["page"]
        if state.get("size", DEFAULT_PAGE_SIZE) != DEFAULT_PAGE_SIZE:
            params["size"] = state["size"]
    return ("?" + urlencode(params)) if params else ""


def href(state: dict, **changes) -> str:
    """The URL of a state, every part cleaned as if it came from a URL."""
    return PATH + query_of(clean_state({**state, **changes}))


def state_of_href(url: str) -> dict:
    query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items() if k in STATE_KEYS}
    return parse_state(**query)


# --------------------------------------------------------------------------- grids


def table_columns() -> list[dict]:
    """区域 and the seven columns of §4.3; every column sorts over all rows (the current
    region stays pinned on top), numbers by value with `--` last."""
    cols = [{
        "field": "name", "headerName": "区域", "pinned": "left", "width": 170, "minWidth": 150,
        "cellRenderer": "RegionName", "sortable": True, "wrapText": True, "autoHeight": True,
        "cellStyle": WRAPPED_STYLE, "comparator": {"function": "compareChineseText"},
    }]
    for label, field in TABLE_COLUMNS:
        cols.append({"field": field, "headerName": label, "minWidth": 88, "flex": 1,
                     "type": "rightAligned", "sortable": True, "wrapHeaderText": True,
                     "comparator": {"function": "compareDisplayedNumbers"}})
    return cols


_SCHOOL_SIZES = {"name": (200, 2.4), "code": (120, 1.1), "status": (80, 0),
                 "admin_name": (100, 1), "admin_phone": (120, 0)}


def school_columns() -> list[dict]:
    """At a region without child regions: its schools (学校名称 … 联系电话), sortable."""
    cols = []
    for label, field in SCHOOL_COLUMNS:
        col = column(field, label, *_SCHOOL_SIZES[field], sortable=True)
        if field == "name":
            col["comparator"] = {"function": "compareChineseText"}
        cols.append(col)
    return cols


_LIST_SIZES = {"name": (200, 2.2), "code": (120, 1), "region_path": (180, 2), "kind": (90, 0)}


def list_columns() -> list[dict]:
    cols = [column(field, label, *_LIST_SIZES[field]) for label, field in UNACTIVATED_COLUMNS]
    cols.append(column("action", "操作", 104, cellClass="link-cell"))
    return cols


def table_grid_options(rows: int) -> dict:
    options = grid_options("暂无数据")
    if rows > TABLE_PAGE_SIZE:
        options.update(pagination=True, paginationPageSize=TABLE_PAGE_SIZE,
                       paginationPageSizeSelector=False)
    return options


def _shown(visible: bool) -> dict:
    return {} if visible else {"display": "none"}


# --------------------------------------------------------------------------- the page


def _table_panel(state: dict):
    return html.Div(
        id=ids.TABLE_PANEL,
        style=_shown(state["tab"] == "table"),
        children=[
            html.Div([
                html.Span("下级区域管理员开通情况", id=ids.TABLE_TITLE, className="panel-title"),
                html.Span(className="spacer"),
                html.Span([
                    html.A("导出 CSV", id=ids.EXPORT_CSV, href="",
                           className="btn btn-outline-primary btn-sm"),
                    html.A("导出 Excel", id=ids.EXPORT_XLSX, href="",
                           className="btn btn-outline-primary btn-sm"),
                ], className="export-links"),
            ], className="filter-bar"),
            html.Div(data_grid(ids.GRID, table_columns(), "params.data.row_id",
                               getRowStyle={"styleConditions": [
                                   {"condition": "params.data.kind === 'current'",
                                    "style": {"fontWeight": "600",
                                              "backgroundColor": "#f3f7ff"}}]}),
                     className="fit-rows"),
            html.Div(id=ids.SCHOOL_BOX, style=_shown(False), className="school-rows",
                     children=[data_grid(ids.SCHOOL_GRID, school_columns(), "params.data.row_id",
                                         empty="该区域暂无学校")]),
            html.P(NOTE, id=ids.NOTE, className="text-muted small table-note"),
        ],
    )


def _list_panel(state: dict):
    return html.Div(
        id=ids.LIST_PANEL,
        style=_shown(state["tab"] == "unactivated"),
        children=[
            html.Div([
                dcc.Input(id=ids.SEARCH, type="text", value=state["q"], maxLength=QUERY_MAX,
                          placeholder="学校名称或学校标识码", debounce=False, n_submit=0,
                          className="form-control form-control-sm keyword"),
                html.Button("搜索", id=ids.SEARCH_GO, n_clicks=0,
                            className="btn btn-primary btn-sm"),
                html.Span(className="spacer"),
                # A province's list may be long: the buttons ask the server, which answers
                # with a download or starts a background job (导出管理).
                html.Span([
                    html.Button("导出 CSV", id=ids.LIST_EXPORT_CSV, n_clicks=0,
                                className="btn btn-outline-primary btn-sm"),
                    html.Button("导出 Excel", id=ids.LIST_EXPORT_XLSX, n_clicks=0,
                                className="btn btn-outline-primary btn-sm"),
                ], className="export-links"),
            ], className="filter-bar"),
            dcc.Store(id=ids.LIST_EXPORT_URLS),
            html.Div(id=ids.LIST_EXPORT_MESSAGE, className="export-message"),
            html.Div(id=ids.ISSUED),
            html.Div(id=ids.MESSAGE),
            dcc.Store(id=ids.RELOAD, data=0),
            data_grid(ids.LIST_GRID, list_columns(), "params.data.row_id",
                      empty="没有未激活的学校"),
            html.Div(
                className="pager-row",
                children=[
                    html.Span(id=ids.SUMMARY, className="pager-total"),
                    dropdown(id=ids.PAGE_SIZE, value=state["size"], clearable=False,
                             searchable=False, className="dd-size",
                             options=[{"label": f"{n}条/页", "value": n} for n in PAGE_SIZES]),
                    dbc.Pagination(id=ids.PAGER, max_value=1, active_page=state["page"],
                                   first_last=True, previous_next=True, fully_expanded=False,
                                   size="sm"),
                ],
            ),
        ],
    )


def page(params: dict | None = None):
    state = page_state(params or {})
    return html.Div(
        className="page",
        children=[
            dcc.Location(id=ids.NAV, refresh="callback-nav"),
            dcc.Store(id=ids.STATE, data=state),
            dcc.Store(id=ids.TABLE_STATE, data=table_part(state)),
            dcc.Store(id=ids.LIST_STATE, data=list_part(state)),
            html.H2("激活进度", className="page-title"),
            html.Div(id=ids.ERROR),
            html.Div(
                id=ids.BODY,
                children=[
                    html.Div(html.Nav(id=ids.BREADCRUMB, className="crumbs"),
                             className="toolbar"),
                    dbc.Tabs([dbc.Tab(label="激活进度", tab_id="table"),
                              dbc.Tab(label="未激活学校", tab_id="unactivated")],
                             id=ids.TABS, active_tab=state["tab"], className="view-tabs"),
                    _table_panel(state),
                    _list_panel(state),
                ],
            ),
        ],
    )


def panel_styles(tab: str) -> tuple[dict, dict]:
    return _shown(tab == "table"), _shown(tab == "unactivated")


def breadcrumb(items: list[tuple[str, str | None]]):
    """items: (label, href or None for the current level)."""
    out = []
    for i, (label, link) in enumerate(items):
        if i:
            out.append(html.Span(" / ", className="sep"))
        out.append(dcc.Link(label, href=link) if link else html.Span(label, className="current"))
    return out


def error_panel(text: str):
    return dbc.Alert(text, color="warning", className="error-panel")


def message(text: str, ok: bool):
    return dbc.Alert(text, color="success" if ok else "warning")
