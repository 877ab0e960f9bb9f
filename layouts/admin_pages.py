"""权限码管理, 管理员列表 and 操作日志 (SPEC §3, §4.5)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.vocab import ROLE_REGION_SUPER, ROLE_REGION_TRAINING, ROLE_SCHOOL_ADMIN

from .format import data_grid, dropdown
from .ids import Admins, Audit, Codes


CODE_COLUMNS = [
    {"field": "hint", "headerName": "权限码", "minWidth": 120, "flex": 1},
    {"field": "role", "headerName": "角色", "minWidth": 150, "flex": 1.3},
    {"field": "target", "headerName": "区域/学校", "minWidth": 180, "flex": 1.6},
    {"field": "issued_at", "headerName": "生成时间", "minWidth": 140, "flex": 1.2},
    {"field": "expires_at", "headerName": "有效期至", "minWidth": 140, "flex": 1.2},
    {"field": "status", "headerName": "状态", "minWidth": 90, "flex": 0.8},
    {"field": "redeemed_by", "headerName": "使用人", "minWidth": 100, "flex": 1},
    {"field": "redeemed_at", "headerName": "使用时间", "minWidth": 140, "flex": 1.2},
    {"field": "action", "headerName": "操作", "minWidth": 80, "flex": 0.7, "cellClass": "link-cell"},
]


def codes_page(role_options: list[dict]):
    return html.Div(
        className="page",
        children=[
            html.H2("权限码管理", className="page-title"),
            html.Div(
                className="filter-bar",
                children=[
                    html.Label("角色:", htmlFor=Codes.ROLE),
                    dropdown(id=Codes.ROLE, options=role_options,
                                 value=role_options[0]["value"] if role_options else None,
                                 clearable=False, searchable=False, className="dd-wide"),
                    html.Label("区域/学校:", htmlFor=Codes.TARGET),
                    dropdown(id=Codes.TARGET, options=[], placeholder="输入名称或代码搜索",
                                 className="dd-target"),
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
    {"field": "user_name", "headerName": "姓名", "minWidth": 100, "flex": 1},
    {"field": "account", "headerName": "账号", "minWidth": 120, "flex": 1},
    {"field": "role", "headerName": "角色", "minWidth": 150, "flex": 1.3},
    {"field": "scope", "headerName": "管理范围", "minWidth": 180, "flex": 1.6},
    {"field": "phone", "headerName": "手机号", "minWidth": 120, "flex": 1},
    {"field": "org_title", "headerName": "单位/职务", "minWidth": 140, "flex": 1.3},
    {"field": "bound_at", "headerName": "绑定时间", "minWidth": 140, "flex": 1.2},
    {"field": "action", "headerName": "操作", "minWidth": 80, "flex": 0.7, "cellClass": "link-cell"},
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


AUDIT_COLUMNS = [
    {"field": "at", "headerName": "时间", "minWidth": 160, "flex": 1.2},
    {"field": "actor", "headerName": "操作人", "minWidth": 120, "flex": 1},
    {"field": "action", "headerName": "操作", "minWidth": 110, "flex": 1},
    {"field": "scope", "headerName": "范围", "minWidth": 150, "flex": 1.3},
    {"field": "outcome", "headerName": "结果", "minWidth": 70, "flex": 0.6},
    {"field": "detail", "headerName": "详情", "minWidth": 260, "flex": 3},
]


def audit_page():
    return html.Div(
        className="page",
        children=[
            html.Div([html.H2("操作日志", className="page-title"),
                      html.A("导出", href="/export/audit.csv",
                             className="btn btn-outline-primary btn-sm export")],
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
