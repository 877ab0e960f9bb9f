"""统计详情 (SPEC §4.2): header, cards, comparison chart, 按区域查看 and 按学员查看.

The page is built from the URL only (no database access); every number is filled in by
callbacks that check the scope.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.metrics import DEFINITIONS, MISSING_DENOMINATOR_TIP, REGION_TABLE_COLUMNS
from data_access.stats import DEFAULT_INDICATORS, INDICATORS, SCHOOL_DEFAULT_INDICATORS
from data_access.participants import NAME_QUERY_MAX, PAGE_SIZES
from data_access.text import PASTED_WHITESPACE, has_control_characters
from data_access.vocab import STAGES, SUBJECTS

from .comparison_chart import distribution_placeholder, empty_figure
from .format import UNCERTIFIED_OPTIONS, data_grid, dropdown, grid_options, options
from .ids import Stats as ids

# Fields whose `—` means a missing 专任教师数 (the tooltip says so).
DENOMINATOR_FIELDS = {"progress", "participation_rate"}
VIEWS = ("regions", "teachers")
MAX_PAGE = 10_000_000


REGION_PAGE_SIZE = 20  # rows of the 按区域查看 table per page (a county may have 100+ schools)


def region_columns() -> list[dict]:
    """Every column sorts over all rows of the table (the grid holds them all); the current
    region's row is pinned on top and never moves."""
    # Eleven columns fit the 990 px a 1280 px screen leaves beside the menu: long school
    # names wrap onto a second line instead of being cut off.
    cols = [{
        # Pinned columns do not flex (AG Grid gives them 200 px unless told): a width of its own.
        "field": "name", "headerName": "区域名称", "pinned": "left", "width": 160, "minWidth": 150,
        "cellRenderer": "RegionName", "sortable": True, "wrapText": True, "autoHeight": True,
        "cellStyle": {"lineHeight": "20px", "paddingTop": "9px", "paddingBottom": "9px"},
        "comparator": {"function": "compareChineseText"},
    }]
    for label, field in REGION_TABLE_COLUMNS:
        col = {"field": field, "headerName": label, "minWidth": 78, "flex": 1,
               "type": "rightAligned", "sortable": True,
               "comparator": {"function": "compareDisplayedNumbers"}}
        if field == "progress":
            col.update(cellRenderer="ProgressBar", minWidth=118, flex=1.5, type=None)
        if field in DENOMINATOR_FIELDS:
            col["tooltipValueGetter"] = {
                "function": f"params.value === '—' ? '{MISSING_DENOMINATOR_TIP}' : null"}
        cols.append({k: v for k, v in col.items() if v is not None})
    return cols


def region_grid_options(rows: int) -> dict:
    """The grid's own paging, only when the rows do not fit one page."""
    options = grid_options("暂无数据")
    if rows > REGION_PAGE_SIZE:
        options.update(pagination=True, paginationPageSize=REGION_PAGE_SIZE,
                       paginationPageSizeSelector=False)
    return options


TEACHER_COLUMNS = [
    {"field": "account", "headerName": "账号", "minWidth": 120, "flex": 1},
    {"field": "name", "headerName": "姓名", "minWidth": 80, "flex": 0.8},
    {"field": "school", "headerName": "所在学校", "minWidth": 180, "flex": 1.8},
    {"field": "region_path", "headerName": "所在区域", "minWidth": 190, "flex": 1.8},
    {"field": "stage", "headerName": "学段", "minWidth": 70, "flex": 0.6},
    {"field": "subject", "headerName": "学科领域", "minWidth": 100, "flex": 0.9},
    {"field": "hours", "headerName": "获得学时", "minWidth": 90, "flex": 0.7, "type": "rightAligned"},
    {"field": "duration", "headerName": "实际学习时长", "minWidth": 110, "flex": 0.9,
     "type": "rightAligned"},
]


def _int(value, default: int, low: int, high: int) -> int:
    if isinstance(value, bool):
        return default
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return n if low <= n <= high else default


def _text(value, limit: int) -> str:
    """A text parameter from the URL or the browser; anything else, or text with control
    characters (never part of a code or a name), counts as not given."""
    if not isinstance(value, str) or has_control_characters(value, allow=PASTED_WHITESPACE):
        return ""
    return value.strip()[:limit]


STATE_KEYS = ("training", "region", "school", "view", "stage", "subject", "uncertified",
              "page", "size", "q")
# The parts of the state each view depends on: changing a page of the teacher list must not
# re-query the cards, the chart and the region table, and the other way round.
REGION_KEYS = ("training", "region", "stage", "subject", "uncertified")
TEACHER_KEYS = ("training", "region", "school", "stage", "subject", "uncertified", "page",
                "size", "q")


def parse_state(training_code="", region="", view="regions", stage="", subject="",
                uncertified="include", page="1", size="10", q="", school="") -> dict:
    """The view state named by the URL, with everything malformed replaced by defaults.
    Codes are only requests here: the callbacks authorize them against the session's scope."""
    size_n = _int(size, 10, 10, 50)
    return {
        "training": _text(training_code, 40),
        "region": _text(region, 40),
        "school": _text(school, 40),
        "view": view if view in VIEWS else "regions",
        "stage": stage if stage in STAGES else "",
        "subject": subject if subject in SUBJECTS else "",
        "uncertified": "exclude" if uncertified == "exclude" else "include",
        "page": _int(page, 1, 1, MAX_PAGE),
        "size": size_n if size_n in PAGE_SIZES else 10,
        "q": _text(q, NAME_QUERY_MAX),
    }


def clean_state(raw) -> dict | None:
    """A state sent back by the browser, re-parsed exactly like a URL; None if malformed."""
    if not isinstance(raw, dict):
        return None
    return parse_state(*(raw.get(k) for k in ("training", "region", "view", "stage", "subject",
                                               "uncertified", "page", "size", "q", "school")))


def region_part(state: dict) -> dict:
    return {k: state[k] for k in REGION_KEYS}


def teacher_part(state: dict, school_scope: bool = False) -> dict | None:
    """None while the teacher list is not shown (a region admin on 按区域查看)."""
    if state["view"] != "teachers" and not school_scope:
        return None
    return {k: state[k] for k in TEACHER_KEYS}


def stats_query(state: dict) -> str:
    """The URL query for a view state; defaults are left out so URLs stay short."""
    params = {}
    for key in ("region", "stage", "subject", "q"):
        if state.get(key):
            params[key] = state[key]
    if state.get("view") == "teachers":
        params["view"] = "teachers"
        if state.get("school"):
            params["school"] = state["school"]
        if state.get("page", 1) != 1:
            params["page"] = state["page"]
        if state.get("size", 10) != 10:
            params["size"] = state["size"]
    if state.get("uncertified") == "exclude":
        params["uncertified"] = "exclude"
    return ("?" + urlencode(params)) if params else ""


def stats_href(state: dict, **changes) -> str:
    new = {**state, **changes}
    return f"/training/{quote(new['training'], safe='')}{stats_query(new)}"


def state_of_href(href: str) -> dict:
    """The state a `stats_href` names (what the page's router will parse from it)."""
    parts = urlsplit(href)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    code = unquote(parts.path.removeprefix("/training/"))
    return parse_state(code, **{k: v for k, v in query.items() if k in STATE_KEYS})


def default_indicators(school: bool) -> list[str]:
    return list(SCHOOL_DEFAULT_INDICATORS if school else DEFAULT_INDICATORS)


def indicators_from_hash(hash_value, school: bool = False) -> list[str]:
    """`#ind=participants,learning_rate` → known indicator keys (defaults when none)."""
    if isinstance(hash_value, str) and hash_value.startswith("#ind="):
        keys = [k for k in hash_value[5:].split(",") if k in INDICATORS]
        if keys:
            return list(dict.fromkeys(keys))[:6]
    return default_indicators(school)


def indicators_hash(keys: list[str]) -> str:
    return "#ind=" + ",".join(keys)


def _help_popover():
    return html.Span([
        html.Button("指标说明", id=ids.HELP, className="btn btn-link btn-sm help-link", n_clicks=0),
        dbc.Popover(
            dbc.PopoverBody(html.Dl([item for label, text in DEFINITIONS
                                     for item in (html.Dt(label), html.Dd(text))],
                                    className="definitions")),
            target=ids.HELP, trigger="legacy", placement="bottom-end", className="help-popover",
        ),
    ])


def _filters(state: dict, view: str):
    children = [
        html.Label("学段:", htmlFor=ids.STAGE),
        dropdown(id=ids.STAGE, options=options(STAGES), value=state["stage"],
                 clearable=False, searchable=False, className="dd"),
        html.Label("学科领域:", htmlFor=ids.SUBJECT),
        dropdown(id=ids.SUBJECT, options=options(SUBJECTS), value=state["subject"],
                 clearable=False, className="dd"),
        dcc.Input(id=ids.NAME, type="text", placeholder="请输入姓名", value=state["q"],
                  maxLength=NAME_QUERY_MAX, debounce=False, n_submit=0,
                  className="form-control form-control-sm keyword",
                  style=_shown(view == "teachers")),
        html.Button("筛选", id=ids.FILTER, n_clicks=0, className="btn btn-primary btn-sm"),
        html.Span(className="spacer"),
        # The region table is small: plain download links. The teacher list may be large: the
        # buttons ask the server, which answers with a download or starts a background job.
        html.Span([
            html.A("导出 CSV", id=ids.EXPORT, href="", className="btn btn-outline-primary btn-sm"),
            html.A("导出 Excel", id=ids.EXPORT_XLSX, href="",
                   className="btn btn-outline-primary btn-sm"),
        ], id=ids.REGION_EXPORTS, className="export-links", style=_shown(view == "regions")),
        html.Span([
            html.Button("导出 CSV", id=ids.EXPORT_JOB_CSV, n_clicks=0,
                        className="btn btn-outline-primary btn-sm"),
            html.Button("导出 Excel", id=ids.EXPORT_JOB_XLSX, n_clicks=0,
                        className="btn btn-outline-primary btn-sm"),
        ], id=ids.TEACHER_EXPORTS, className="export-links", style=_shown(view == "teachers")),
    ]
    return html.Div([html.Div(children, className="filter-bar"),
                     html.Div(id=ids.EXPORT_MESSAGE, className="export-message")])


def _shown(visible: bool) -> dict:
    return {} if visible else {"display": "none"}


def _teacher_panel(state: dict):
    return html.Div(
        id=ids.TEACHER_PANEL,
        children=[
            html.Div([html.Span("数据明细", className="panel-title"),
                      html.Span([html.Span(id=ids.SCHOOL_FILTER, className="chip"),
                                 html.Button("查看全部学员", id=ids.CLEAR_SCHOOL, n_clicks=0,
                                             className="btn btn-link btn-sm")],
                                id=ids.SCHOOL_FILTER_BOX, className="school-filter",
                                style=_shown(bool(state["school"])))],
                     className="panel-head"),
            data_grid(ids.TEACHER_GRID, TEACHER_COLUMNS, "params.data.row_id"),
            html.Div(
                className="pager-row",
                children=[
                    html.Span(id=ids.SUMMARY, className="pager-total"),
                    dbc.Pagination(id=ids.PAGER, max_value=1, active_page=state["page"],
                                   first_last=True, previous_next=True, fully_expanded=False,
                                   size="sm"),
                    dropdown(id=ids.PAGE_SIZE, value=state["size"], clearable=False,
                             searchable=False, className="dd-size",
                             options=[{"label": f"{n}条/页", "value": n} for n in PAGE_SIZES]),
                    html.Span("跳至"),
                    # Committed on every keystroke: GO then reads the number typed, with no
                    # extra round trip when the box loses focus.
                    dcc.Input(id=ids.JUMP, type="text", inputMode="numeric", pattern="[0-9]*",
                              maxLength=8, debounce=False, n_submit=0,
                              className="form-control form-control-sm jump"),
                    html.Span("页"),
                    html.Button("GO", id=ids.GO, n_clicks=0,
                                className="btn btn-outline-primary btn-sm"),
                ],
            ),
        ],
        style=_shown(state["view"] == "teachers"),
    )


def school_filter(name: str | None) -> tuple[str, dict]:
    """The school a teacher list is narrowed to (from a click on a school), and whether the
    chip with its way out (查看全部学员) shows."""
    return (f"学校：{name}", _shown(True)) if name else ("", _shown(False))


def school_view_state(state: dict) -> dict:
    """A 学校管理员 always sees the teacher list of their own school."""
    return {**state, "view": "teachers", "region": "", "school": ""}


def page_state(training_code: str, school_scope: bool, query: dict) -> dict:
    """The state of the page the URL names (``query``: the URL's parameters)."""
    state = parse_state(training_code, **{k: v for k, v in query.items()
                                          if k in STATE_KEYS and k != "training"})
    return school_view_state(state) if school_scope else state


def page(training_code: str = "", school_scope: bool = False, query: dict | None = None):
    """``school_scope``: the 学校管理员's page (§5.3) — the school's cards, 各学科参训情况对比
    and the teacher list; no region table."""
    state = page_state(training_code, school_scope, query or {})
    school = school_scope
    return html.Div(
        className="page",
        children=[
            dcc.Location(id=ids.NAV, refresh="callback-nav"),
            dcc.Store(id=ids.STATE, data=state),
            dcc.Store(id=ids.REGION_STATE, data=region_part(state)),
            dcc.Store(id=ids.TEACHER_STATE, data=teacher_part(state, school)),
            dcc.Store(id=ids.TEACHER_EXPORT_URLS),
            dcc.Location(id=ids.HASH, refresh=False),
            dcc.Store(id=ids.CHART_DATA),
            html.Div(id=ids.HEADER, className="stats-header"),
            html.Div(id=ids.ERROR),
            html.Div(
                id=ids.BODY,
                children=[
                    html.Div(
                        className="toolbar",
                        children=[
                            html.Nav(id=ids.BREADCRUMB, className="crumbs"),
                            html.Div(
                                className="toggle",
                                children=[
                                    _help_popover(),
                                    html.Span("未通过认证教师", className="toggle-label"),
                                    dbc.RadioItems(
                                        id=ids.UNCERTIFIED, options=UNCERTIFIED_OPTIONS,
                                        value=state["uncertified"], inline=True,
                                        inputClassName="btn-check",
                                        labelClassName="btn btn-outline-primary btn-sm",
                                        labelCheckedClassName="active",
                                    ),
                                ],
                            ),
                        ],
                    ),
                    html.Div(id=ids.CARDS, className="cards"),
                    html.Div(
                        id=ids.DISTRIBUTION_PANEL, className="chart-panel",
                        style=_shown(school),
                        children=[
                            html.Div(html.Span("各学段/学科参训人数分布", className="panel-title"),
                                     className="chart-head"),
                            dcc.Graph(id=ids.DISTRIBUTION,
                                      figure=distribution_placeholder(),
                                      config={"displayModeBar": False},
                                      className="distribution-chart"),
                        ],
                    ),
                    html.Div(
                        className="chart-panel",
                        children=[
                            html.Div([
                                html.Span("各学科参训情况对比" if school else "各区域参训情况对比",
                                          className="panel-title"),
                                html.Span(id=ids.CHART_HINT, className="chart-hint"),
                                html.Span("指标选择:", className="ind-label"),
                                dropdown(
                                    id=ids.INDICATORS, multi=True, clearable=False,
                                    options=[{"label": label, "value": key}
                                             for key, (label, _) in INDICATORS.items()],
                                    value=default_indicators(school),
                                    className="dd-indicators"),
                            ], className="chart-head"),
                            html.Div(
                                dcc.Graph(id=ids.CHART, figure=empty_figure(),
                                          config={"displayModeBar": False}, className="chart"),
                                className="chart-scroll"),
                        ],
                    ),
                    dbc.Tabs([dbc.Tab(label="按区域查看", tab_id="regions",
                                      tab_style={"display": "none"} if school else {}),
                              dbc.Tab(label="按学员查看", tab_id="teachers")],
                             id=ids.TABS, active_tab=state["view"], className="view-tabs"),
                    _filters(state, state["view"]),
                    html.Div(
                        id=ids.REGION_PANEL,
                        children=[data_grid(
                            ids.GRID, region_columns(), "params.data.row_id",
                            getRowStyle={"styleConditions": [
                                {"condition": "params.data.kind === 'current'",
                                 "style": {"fontWeight": "600", "backgroundColor": "#f3f7ff"}}]})],
                        style=_shown(state["view"] == "regions"),
                    ),
                    _teacher_panel(state),
                ],
            ),
        ],
    )


def header(name: str, status: str, period: str, updated_at: str):
    return [
        html.H2(name, className="page-title"),
        html.Div(
            className="meta",
            children=[
                html.Span(status, className=f"badge status status-{status}"),
                html.Span(f"培训周期：{period}"),
                html.Span(f"数据更新时间：{updated_at}", className="updated"),
            ],
        ),
    ]


def cards(items) -> list:
    out = []
    for c in items:
        cls = {1: "up", -1: "down"}.get(c.direction, "flat")
        out.append(html.Div([
            html.Div(c.label, className="card-label"),
            html.Div(c.value, className="card-value"),
            html.Div(c.sub, className="card-sub") if c.sub else None,
            html.Div([html.Span(c.delta, className=f"delta {cls}"),
                      html.Span(" 较前一日", className="card-hint")] if c.delta else "",
                     className="card-delta"),
        ], className="kpi"))
    return out


def breadcrumb(items: list[tuple[str, str | None]]):
    """items: (label, href or None for the current level)."""
    out = []
    for i, (label, href) in enumerate(items):
        if i:
            out.append(html.Span(" / ", className="sep"))
        out.append(dcc.Link(label, href=href) if href else html.Span(label, className="current"))
    return out


def error_panel(text: str):
    return dbc.Alert(text, color="warning", className="error-panel")
