"""培训列表 (SPEC §4.1)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from .format import data_grid
from .ids import TrainingList as ids

STATUS_OPTIONS = [{"label": s, "value": v} for s, v in
                  (("全部", ""), ("未开始", "未开始"), ("进行中", "进行中"), ("已结束", "已结束"))]

COLUMNS = [
    {"field": "name", "headerName": "培训名称", "flex": 3, "minWidth": 220},
    {"field": "status", "headerName": "培训状态", "flex": 1, "minWidth": 90,
     "cellClassRules": {"status-running": "params.value === '进行中'",
                        "status-ended": "params.value === '已结束'"}},
    {"field": "period", "headerName": "培训周期", "flex": 2.2, "minWidth": 250},
    {"field": "hours_cap", "headerName": "获得学时上限", "flex": 1, "minWidth": 110},
    {"field": "created_at", "headerName": "创建时间", "flex": 1.4, "minWidth": 150},
    {"field": "action", "headerName": "操作", "flex": 1.2, "minWidth": 120, "cellClass": "link-cell"},
]


def page(title: str = "培训列表"):
    return html.Div(
        className="page",
        children=[
            html.H2(title, className="page-title"),
            html.Div(
                className="filter-bar",
                children=[
                    dbc.RadioItems(id=ids.STATUS, options=STATUS_OPTIONS, value="", inline=True,
                                   className="status-filter", inputClassName="btn-check",
                                   labelClassName="btn btn-outline-primary btn-sm",
                                   labelCheckedClassName="active"),
                    # Month and day names come from the date-fns zh-CN locale in assets/.
                    dcc.DatePickerRange(id=ids.DATE_RANGE, start_date_placeholder_text="开始日期",
                                        end_date_placeholder_text="结束日期",
                                        display_format="YYYY-MM-DD", month_format="YYYY年M月",
                                        first_day_of_week=1, clearable=True,
                                        className="date-range"),
                    dcc.Input(id=ids.KEYWORD, type="text", placeholder="请输入关键词", debounce=True,
                              maxLength=50, className="form-control form-control-sm keyword"),
                ],
            ),
            data_grid(ids.GRID, COLUMNS, "params.data.code", empty="暂无培训"),
            html.Div(
                className="pager-row",
                children=[
                    html.Span(id=ids.TOTAL, className="pager-total"),
                    dbc.Pagination(id=ids.PAGER, max_value=1, active_page=1, first_last=True,
                                   previous_next=True, fully_expanded=False, size="sm"),
                    html.Span("10条/页", className="pager-size"),
                ],
            ),
        ],
    )
