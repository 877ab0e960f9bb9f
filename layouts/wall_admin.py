"""大屏管理: issue and revoke the kiosk links of the wall screen (SPEC §4.6)."""

from __future__ import annotations

from datetime import date, timedelta

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.display_tokens import EXPIRY_MAX_DAYS, LABEL_MAX

from .admin_pages import FORM_GROUP
from .columns import ACTION_WIDTH, TIME_MIN_WIDTH, column
from .format import data_grid, dropdown
from .ids import WallAdmin as ids

PREVIEW_PATH = "/screen/"
SHOWN_ONCE = "该链接只显示这一次，请立即复制并在大屏设备的浏览器中打开"
NO_EXPIRY = "长期有效"

COLUMNS = [
    column("label", "大屏名称", 100, 1.2),
    column("region", "区域", 90, 1),
    column("training", "培训", 120, 1.6),
    column("issuer", "签发人", 100, 1.1),
    # ten columns: at 1280 px a time breaks after its date; from 1440 px it fits one line
    column("created_at", "签发时间", TIME_MIN_WIDTH, 1.2),
    column("expires_at", "有效期至", TIME_MIN_WIDTH, 1.2),
    column("last_seen_at", "最近访问", TIME_MIN_WIDTH, 1.2),
    column("last_seen_ip", "访问IP", 90, 1),
    column("status", "状态", 66),
    column("actions", "操作", ACTION_WIDTH, cellRenderer="RowActions", cellDataType=False),
]


def _required(text: str, target: str):
    return html.Label([text, html.Span("*", className="required-mark", title="必填"), ":"],
                      htmlFor=target)


def page(scope, /, **_params):
    """The form's choices (regions of the scope, trainings) come from a callback that
    re-derives the scope, like every other value on this page. `scope` is positional-only:
    the URL's parameters arrive as keywords, and a `?scope=` must not collide with it."""
    return html.Div(
        className="page",
        children=[
            html.Div([html.H2("大屏管理", className="page-title"),
                      html.A("预览大屏", href=PREVIEW_PATH, target="_blank", rel="noopener",
                             className="btn btn-outline-primary btn-sm")],
                     className="title-row"),
            html.P("为会议室、大厅等处的大屏设备生成专用链接：设备无需登录，只能查看所选区域和培训的"
                   "大屏，不能访问其他页面。不再使用的链接请及时撤销。",
                   className="text-muted small"),
            html.Div(
                className="filter-bar",
                children=[
                    html.Div([
                        _required("大屏名称", ids.LABEL),
                        dcc.Input(id=ids.LABEL, type="text", maxLength=LABEL_MAX,
                                  placeholder="如：三楼会议室",
                                  className="form-control form-control-sm",
                                  style={"width": "180px"}),
                    ], style=FORM_GROUP),
                    html.Div([
                        _required("区域", ids.REGION),
                        dropdown(id=ids.REGION, options=[], clearable=False, searchable=True,
                                 placeholder="输入名称搜索", style={"flex": "1"}),
                    ], style={**FORM_GROUP, "flex": "1 1 300px"}),
                    html.Div([
                        html.Label("培训:", htmlFor=ids.TRAINING),
                        dropdown(id=ids.TRAINING, options=[], value="", clearable=False,
                                 searchable=True, style={"flex": "1"}),
                    ], style={**FORM_GROUP, "flex": "1 1 320px"}),
                    html.Div([
                        html.Label("有效期至:", htmlFor=ids.EXPIRES),
                        dcc.DatePickerSingle(id=ids.EXPIRES, placeholder=NO_EXPIRY,
                                             display_format="YYYY-MM-DD",
                                             month_format="YYYY年M月", first_day_of_week=1,
                                             min_date_allowed=date.today(),
                                             max_date_allowed=date.today()
                                             + timedelta(days=EXPIRY_MAX_DAYS),
                                             clearable=True),
                    ], style=FORM_GROUP),
                    html.Button("生成大屏链接", id=ids.ISSUE, n_clicks=0,
                                className="btn btn-primary btn-sm"),
                ],
            ),
            html.Div(id=ids.ISSUED),
            html.Div(id=ids.MESSAGE),
            dcc.ConfirmDialog(id=ids.CONFIRM, message=""),
            dcc.Store(id=ids.PENDING),
            dcc.Store(id=ids.LOAD, data=0),
            dcc.Store(id=ids.RELOAD, data=0),
            data_grid(ids.GRID, COLUMNS, "params.data.id", empty="暂无大屏链接", page_size=20),
        ],
    )


def issued_link(url: str, label: str, region: str, training: str, expires: str):
    return dbc.Alert(
        [
            html.Div(f"已为「{label}」生成大屏链接（区域：{region}；培训：{training}；"
                     f"有效期至：{expires}）："),
            html.Div(url, className="issued-code", id=ids.ISSUED_VALUE,
                     style={"fontSize": "16px", "wordBreak": "break-all"}),
            html.Div(SHOWN_ONCE + "；离开本页后无法再次查看。", className="small"),
        ],
        color="success",
    )


def message(text: str, ok: bool):
    return dbc.Alert(text, color="success" if ok else "warning")
