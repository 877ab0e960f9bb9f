"""权限码管理, 管理员列表 and 操作日志 (SPEC §3, §4.5)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.audit import COLUMNS as AUDIT_FIELDS
from data_access.vocab import ROLE_REGION_SUPER, ROLE_REGION_TRAINING, ROLE_SCHOOL_ADMIN

from .columns import ACTION_WIDTH, SECONDS_WIDTH, TIME_MIN_WIDTH, TIME_WIDTH, column
from .format import data_grid, dropdown
from .ids import Admins, Audit, Codes


CODE_COLUMNS = [
    column("hint", "权限码", 100),
    column("role", "角色", 100, 1),
    column("target", "区域/学校", 130, 2),
    # nine columns: at 1280 px a time breaks after its date; from 1366 px it fits one line
    column("issued_at", "生成时间", TIME_MIN_WIDTH, 1.6),
    column("expires_at", "有效期至", TIME_MIN_WIDTH, 1.6),
    column("status", "状态", 66),
    column("redeemed_by", "使用人", 100, 1.2),
    column("redeemed_at", "使用时间", TIME_MIN_WIDTH, 1.6),
    column("action", "操作", ACTION_WIDTH, cellClass="link-cell"),
]


FORM_GROUP = {"display": "flex", "alignItems": "center", "gap": "10px"}


def codes_page(role_options: list[dict]):
    return html.Div(
        className="page",
        children=[
            html.H2("权限码管理", className="page-title"),
            html.Div(
                className="filter-bar",
                children=[
                    html.Div([
                        html.Label("角色:", htmlFor=Codes.ROLE),
                        dropdown(id=Codes.ROLE, options=role_options,
                                 value=role_options[0]["value"] if role_options else None,
                                 clearable=False, searchable=False,
                                 style={"width": "270px"}),  # the longest role label
                    ], style=FORM_GROUP),
                    # A school's name and code need room: this group takes the rest of the
                    # line, or a line of its own on narrow screens.
                    html.Div([
                        html.Label("区域/学校:", htmlFor=Codes.TARGET),
                        dropdown(id=Codes.TARGET, options=[], placeholder="输入名称或代码搜索",
                                 style={"flex": "1"}),
                    ], style={**FORM_GROUP, "flex": "1 1 560px"}),
                    html.Button("生成权限码", id=Codes.ISSUE, n_clicks=0,
                                className="btn btn-primary btn-sm"),
                ],
            ),
            html.Div(id=Codes.ISSUED),
            html.Div(id=Codes.MESSAGE),
            dcc.Store(id=Codes.RELOAD, data=0),
            data_grid(Codes.GRID, CODE_COLUMNS, "params.data.id", empty="暂无权限码",
                      page_size=20),
        ],
    )


def issued_code(code: str, role: str, target: str, expires: str):
    return dbc.Alert(
        [
            html.Div(f"已为 {target} 生成{role}权限码（有效期至 {expires}）："),
            html.Div(code, className="issued-code", id="codes-issued-value"),
            html.Div("请立即复制并发给对方；权限码只显示这一次，离开本页后无法再次查看。",
                     className="small"),
        ],
        color="success",
    )


ADMIN_COLUMNS = [
    column("user_name", "姓名", 80, 1),
    column("account", "账号", 112),  # `139****0001` cannot wrap
    column("role", "角色", 100, 1),
    column("scope", "管理范围", 130, 2),
    column("phone", "手机号", 112),
    column("org_title", "单位/职务", 100, 1.3),
    column("bound_at", "绑定时间", TIME_WIDTH),
    column("action", "操作", ACTION_WIDTH, cellClass="link-cell"),
]


def admins_page():
    return html.Div(
        className="page",
        children=[
            html.H2("管理员列表", className="page-title"),
            html.P("更换管理员：先删除原管理员，再在【权限码管理】中生成新的权限码。",
                   className="text-muted small"),
            html.Div(id=Admins.MESSAGE),
            dcc.ConfirmDialog(id=Admins.CONFIRM, message=""),
            dcc.Store(id=Admins.PENDING),
            dcc.Store(id=Admins.RELOAD, data=0),
            data_grid(Admins.GRID, ADMIN_COLUMNS, "params.data.id", empty="暂无管理员",
                      page_size=20),
        ],
    )


_AUDIT_SIZES = {"at": (SECONDS_WIDTH, 0), "actor": (150, 1), "action": (90, 0.8),
                "scope": (120, 1.2), "outcome": (60, 0), "detail": (220, 3.5)}
# The columns (and their order) of the download too: data_access.audit.COLUMNS.
AUDIT_COLUMNS = [column(field, header, *_AUDIT_SIZES[field]) for field, header in AUDIT_FIELDS]


def audit_page(export_urls: dict[str, str]):
    """`export_urls`: the stable download URLs by format (csv, xlsx)."""
    return html.Div(
        className="page",
        children=[
            html.Div([html.H2("操作日志", className="page-title"),
                      html.Span([
                          html.A("导出 CSV", href=export_urls["csv"],
                                 className="btn btn-outline-primary btn-sm export"),
                          html.A("导出 Excel", href=export_urls["xlsx"],
                                 className="btn btn-outline-primary btn-sm export"),
                      ], className="export-links")],
                     className="title-row"),
            dcc.Store(id=Audit.LOAD, data=0),
            data_grid(Audit.GRID, AUDIT_COLUMNS, "params.data.id", empty="暂无操作日志",
                      page_size=20),
        ],
    )


def message(text: str, ok: bool):
    return dbc.Alert(text, color="success" if ok else "warning")


def role_options(role: str) -> list[dict]:
    opts = [{"label": "学校管理员", "value": ROLE_SCHOOL_ADMIN}]
    if role == ROLE_REGION_SUPER:
        opts = [{"label": "区域教师研修管理员（本级）", "value": ROLE_REGION_TRAINING},
                {"label": "区域超级管理员（下一级区域）", "value": ROLE_REGION_SUPER}] + opts
    return opts
