"""统计详情 (SPEC §4.2): header, 未通过认证教师 toggle, breadcrumb, 按区域查看 table."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.metrics import MISSING_DENOMINATOR_TIP, REGION_TABLE_COLUMNS
from data_access.vocab import STAGES, SUBJECTS

from .format import grid_locale, UNCERTIFIED_OPTIONS, options
from .ids import Stats as ids

# Fields whose `—` means a missing 专任教师数 (the tooltip says so).
DENOMINATOR_FIELDS = {"progress", "participation_rate"}


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


def page(training_code: str = "", region: str = "", stage: str = "", subject: str = "",
         uncertified: str = "include", view: str = "regions", **_ignored):
    """Built from the URL only; every number comes from callbacks that check the scope."""
    state = {
        "training": training_code if isinstance(training_code, str) else "",
        "region": region if isinstance(region, str) else "",
        "stage": stage if stage in STAGES else "",
        "subject": subject if subject in SUBJECTS else "",
        "uncertified": "exclude" if uncertified == "exclude" else "include",
        "view": "regions",
    }
    return html.Div(
        className="page",
        children=[
            dcc.Store(id=ids.STATE, data=state),
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
                    dbc.Tabs([dbc.Tab(label="按区域查看", tab_id="regions")], active_tab="regions",
                             className="view-tabs"),
                    html.Div(
                        className="filter-bar",
                        children=[
                            html.Label("学段:", htmlFor=ids.STAGE),
                            dcc.Dropdown(id=ids.STAGE, options=options(STAGES), value=state["stage"],
                                         clearable=False, searchable=False, className="dd"),
                            html.Label("学科领域:", htmlFor=ids.SUBJECT),
                            dcc.Dropdown(id=ids.SUBJECT, options=options(SUBJECTS),
                                         value=state["subject"], clearable=False, className="dd"),
                            html.Button("筛选", id=ids.FILTER, n_clicks=0,
                                        className="btn btn-primary btn-sm"),
                            html.A("导出", id=ids.EXPORT, href="", className="btn btn-outline-primary btn-sm export"),
                        ],
                    ),
                    dag.AgGrid(
                        id=ids.GRID,
                        columnDefs=region_columns(),
                        rowData=[],
                        defaultColDef={"sortable": False, "resizable": True, "suppressMovable": True,
                                       "wrapHeaderText": True, "autoHeaderHeight": True},
                        dashGridOptions={"domLayout": "autoHeight", "suppressCellFocus": True,
                                         "tooltipShowDelay": 200,
                                         "localeText": grid_locale("暂无数据")},
                        getRowId="params.data.row_id",
                        getRowStyle={"styleConditions": [
                            {"condition": "params.data.kind === 'current'",
                             "style": {"fontWeight": "600", "backgroundColor": "#f3f7ff"}}]},
                        className="grid",
                    ),
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


def stats_query(state: dict) -> str:
    """The URL query for a view state; defaults are left out so URLs stay short."""
    params = {}
    for key in ("region", "stage", "subject"):
        if state.get(key):
            params[key] = state[key]
    if state.get("uncertified") == "exclude":
        params["uncertified"] = "exclude"
    return ("?" + urlencode(params)) if params else ""


def stats_href(state: dict, **changes) -> str:
    new = {**state, **changes}
    return f"/training/{quote(new['training'], safe='')}{stats_query(new)}"


def export_href(state: dict, fmt: str = "csv") -> str:
    params = {k: state.get(k) or "" for k in ("region", "stage", "subject")}
    params["uncertified"] = state.get("uncertified") or "include"
    return (f"/export/training/{quote(state['training'], safe='')}/regions.{fmt}?"
            + urlencode(params))
