"""统计详情 (SPEC §4.2): header, cards, comparison chart, 按区域查看 and 按学员查看.

The page is built from the URL only (no database access); every number is filled in by
callbacks that check the scope.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.metrics import DEFINITIONS, MISSING_DENOMINATOR_TIP, REGION_TABLE_COLUMNS
from data_access.stats import DEFAULT_INDICATORS, INDICATORS
from data_access.teachers import PAGE_SIZES
from data_access.vocab import STAGES, SUBJECTS

from .format import UNCERTIFIED_OPTIONS, data_grid, dropdown, options
from .ids import Stats as ids

# Fields whose `—` means a missing 专任教师数 (the tooltip says so).
DENOMINATOR_FIELDS = {"progress", "participation_rate"}
VIEWS = ("regions", "teachers")
MAX_PAGE = 10_000_000


def region_columns() -> list[dict]:
    cols = [{
        "field": "name", "headerName": "区域名称", "pinned": "left", "minWidth": 150, "flex": 1.6,
        "cellRenderer": "RegionName",
    }]
    for label, field in REGION_TABLE_COLUMNS:
        col = {"field": field, "headerName": label, "minWidth": 78, "flex": 1,
               "type": "rightAligned"}
        if field == "progress":
            col.update(cellRenderer="ProgressBar", minWidth=140, flex=1.6, type=None)
        if field in DENOMINATOR_FIELDS:
            col["tooltipValueGetter"] = {
                "function": f"params.value === '—' ? '{MISSING_DENOMINATOR_TIP}' : null"}
        cols.append({k: v for k, v in col.items() if v is not None})
    return cols


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
    try:
        n = int(value)
    except (TypeError, ValueError):
        return default
    return n if low <= n <= high else default


def parse_state(training_code="", region="", view="regions", stage="", subject="",
                uncertified="include", page="1", size="10", q="") -> dict:
    """The view state named by the URL, with everything malformed replaced by defaults."""
    text = lambda v: v if isinstance(v, str) else ""  # noqa: E731
    return {
        "training": text(training_code)[:40],
        "region": text(region)[:40],
        "view": view if view in VIEWS else "regions",
        "stage": stage if stage in STAGES else "",
        "subject": subject if subject in SUBJECTS else "",
        "uncertified": "exclude" if uncertified == "exclude" else "include",
        "page": _int(page, 1, 1, MAX_PAGE),
        "size": _int(size, 10, 10, 50) if _int(size, 10, 10, 50) in PAGE_SIZES else 10,
        "q": text(q).strip()[:30],
    }


def stats_query(state: dict) -> str:
    """The URL query for a view state; defaults are left out so URLs stay short."""
    params = {}
    for key in ("region", "stage", "subject", "q"):
        if state.get(key):
            params[key] = state[key]
    if state.get("view") == "teachers":
        params["view"] = "teachers"
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


def export_href(state: dict, table: str, fmt: str = "csv") -> str:
    params = {k: state.get(k) or "" for k in ("region", "stage", "subject")}
    if table == "teachers":
        params["q"] = state.get("q") or ""
    params["uncertified"] = state.get("uncertified") or "include"
    return (f"/export/training/{quote(state['training'], safe='')}/{table}.{fmt}?"
            + urlencode(params))


def indicators_from_hash(hash_value) -> list[str]:
    """`#ind=participants,learning_rate` → known indicator keys (defaults when none)."""
    if isinstance(hash_value, str) and hash_value.startswith("#ind="):
        keys = [k for k in hash_value[5:].split(",") if k in INDICATORS]
        if keys:
            return list(dict.fromkeys(keys))[:6]
    return list(DEFAULT_INDICATORS)


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
                  maxLength=30, debounce=False, n_submit=0,
                  className="form-control form-control-sm keyword",
                  style={} if view == "teachers" else {"display": "none"}),
        html.Button("筛选", id=ids.FILTER, n_clicks=0, className="btn btn-primary btn-sm"),
        html.Span(className="spacer"),
        # The region table is small: plain download links. The teacher list may be large: the
        # buttons ask the server, which answers with a download or starts a background job.
        html.Span([
            html.A("导出 CSV", id=ids.EXPORT, href="", className="btn btn-outline-primary btn-sm"),
            html.A("导出 Excel", id=ids.EXPORT_XLSX, href="",
                   className="btn btn-outline-primary btn-sm"),
        ], className="export-links", style={} if view == "regions" else {"display": "none"}),
        html.Span([
            html.Button("导出 CSV", id=ids.EXPORT_JOB_CSV, n_clicks=0,
                        className="btn btn-outline-primary btn-sm"),
            html.Button("导出 Excel", id=ids.EXPORT_JOB_XLSX, n_clicks=0,
                        className="btn btn-outline-primary btn-sm"),
        ], className="export-links", style={} if view == "teachers" else {"display": "none"}),
    ]
    return html.Div([html.Div(children, className="filter-bar"),
                     html.Div(id=ids.EXPORT_MESSAGE, className="export-message")])


def _teacher_panel(state: dict):
    return html.Div(
        id=ids.TEACHER_PANEL,
        children=[
            html.Div("数据明细", className="panel-title"),
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
                    dcc.Input(id=ids.JUMP, type="number", min=1, step=1, debounce=True,
                              className="form-control form-control-sm jump"),
                    html.Span("页"),
                    html.Button("GO", id=ids.GO, n_clicks=0, className="btn btn-outline-primary btn-sm"),
                ],
            ),
        ],
        style={} if state["view"] == "teachers" else {"display": "none"},
    )


def page(training_code: str = "", school: bool = False, **query):
    """``school``: the 学校管理员's page (§5.3) — the school's cards, 各学科参训情况对比 and the
    teacher list; no region table."""
    state = parse_state(training_code, **{k: v for k, v in query.items() if k in (
        "region", "view", "stage", "subject", "uncertified", "page", "size", "q")})
    if school:
        state = {**state, "view": "teachers", "region": ""}
    return html.Div(
        className="page",
        children=[
            dcc.Store(id=ids.STATE, data=state),
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
                        className="chart-panel",
                        children=[
                            html.Div([
                                html.Span("各学科参训情况对比" if school else "各区域参训情况对比",
                                          className="panel-title"),
                                html.Span("指标选择:", className="ind-label"),
                                dropdown(
                                    id=ids.INDICATORS, multi=True, clearable=False,
                                    options=[{"label": label, "value": key}
                                             for key, (label, _) in INDICATORS.items()],
                                    value=list(DEFAULT_INDICATORS), className="dd-indicators"),
                            ], className="chart-head"),
                            dcc.Graph(id=ids.CHART, figure=empty_figure(),
                                      config={"displayModeBar": False, "locale": "zh-CN"},
                                      className="chart"),
                        ],
                    ),
                    dbc.Tabs([dbc.Tab(label="按区域查看", tab_id="regions",
                                      tab_style={"display": "none"} if school else {}),
                              dbc.Tab(label="按学员查看", tab_id="teachers")],
                             id=ids.TABS, active_tab=state["view"], className="view-tabs"),
                    _filters(state, state["view"]),
                    html.Div(
                        id=ids.REGION_PANEL,
                        children=[data_grid(ids.GRID, region_columns(), "params.data.row_id",
                                        getRowStyle={"styleConditions": [
                                            {"condition": "params.data.kind === 'current'",
                                             "style": {"fontWeight": "600",
                                                       "backgroundColor": "#f3f7ff"}}]})],
                        style={} if state["view"] == "regions" else {"display": "none"},
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


def empty_figure(message: str = "") -> dict:
    """Figures are plain dicts: building plotly objects costs more than the query behind them."""
    return {"data": [], "layout": {
        "height": 360, "margin": {"l": 50, "r": 50, "t": 20, "b": 60}, "plot_bgcolor": "#fff",
        "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "annotations": [{"text": message, "showarrow": False, "x": 0.5, "y": 0.5,
                         "xref": "paper", "yref": "paper"}] if message else []}}


COLORS = ["#1f6feb", "#12b886", "#f59f00", "#845ef7", "#e8590c", "#0ca678", "#d6336c"]


def comparison_traces(points: list[dict], keys: list[str]) -> tuple[list[dict], list[str]]:
    """Bars (counts, left axis) and lines (ratios and 人均学时, right axis), sorted by the first
    indicator, largest first. Returns plotly trace dicts and the category order."""
    first = keys[0]
    ordered = sorted(points, key=lambda p: (-(p.get(first) or 0), p["name"]))
    names = [p["name"] for p in ordered]
    traces = []
    for i, key in enumerate(keys):
        label, kind = INDICATORS[key]
        values = [p.get(key) for p in ordered]
        common = dict(name=label, x=names, y=values, customdata=[p["key"] for p in ordered],
                      marker=dict(color=COLORS[i % len(COLORS)]))
        if kind == "count":
            traces.append(dict(type="bar", hovertemplate="%{x}<br>" + label + "：%{y}<extra></extra>",
                               **common))
        else:
            suffix = "%" if kind == "ratio" else ""
            if all(v is None for v in values):
                # e.g. 参训率 of schools (专任教师数 is kept per region): say so in the legend
                # instead of drawing an empty axis.
                common["name"] = label + "（暂无数据）"
            traces.append(dict(type="scatter", mode="lines+markers", yaxis="y2",
                               hovertemplate="%{x}<br>" + label + "：%{y}" + suffix + "<extra></extra>",
                               **common))
    return traces, names


def comparison_figure(points: list[dict], keys: list[str]) -> dict:
    if not points:
        return empty_figure("暂无下级区域数据")
    traces, names = comparison_traces(points, keys)
    return {"data": traces, "layout": comparison_layout(names, keys, traces)}


def comparison_layout(names: list[str], keys: list[str], traces: list[dict]) -> dict:
    kinds = {INDICATORS[k][1] for k in keys}
    largest_bar = max((v or 0 for t in traces if t["type"] == "bar" for v in t["y"]), default=0)
    right_values = [v for t in traces if t.get("yaxis") == "y2" for v in t["y"]]
    right_empty = all(v is None for v in right_values)
    # Ratios (%) and 人均学时 share the right axis; a % suffix only when every line is a ratio.
    right_units = [u for kind, u in (("ratio", "%"), ("hours", "学时")) if kind in kinds]
    right_title = " / ".join(right_units)
    percent_axis = right_units == ["%"]
    many = len(names) > 12
    return dict(
        height=380 if not many else 440,
        margin=dict(l=50, r=55, t=30, b=110 if many else 60),
        barmode="group",
        plot_bgcolor="#fff",
        legend=dict(orientation="h", y=1.1, x=0, yanchor="bottom"),
        hovermode="x unified",
        xaxis=dict(categoryorder="array", categoryarray=names, tickangle=-45 if many else 0,
                   automargin=True, visible=True),
        # Axis titles must be objects (plotly.js ignores a bare string), and the right axis
        # picks its own round ticks: an overlaying axis otherwise copies the left axis's
        # gridlines and lands on values such as 20.4%.
        # Whole numbers as the table shows them ("25000", not the SI "25k"); with only a few
        # people per bar, one tick per person so that no two ticks round to the same label.
        yaxis=dict(title=dict(text="人数"), gridcolor="#eef1f5", rangemode="tozero",
                   tickformat="d", automargin=True,
                   visible=any(t["type"] == "bar" for t in traces),
                   **({"dtick": 1} if largest_bar <= 10 else {})),
        yaxis2=dict(title=dict(text=right_title), overlaying="y", side="right",
                    visible=not right_empty,
                    rangemode="tozero", tickmode="auto", showgrid=False, automargin=True,
                    ticksuffix="%" if percent_axis else ""),
        font=dict(family="Noto Sans CJK SC, Microsoft YaHei, sans-serif", size=12),
    )
