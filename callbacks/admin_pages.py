"""权限码管理, 管理员列表, 操作日志."""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from data_access.metrics import MINUTE_TIME
from data_access import admins, audit, codes
from data_access.privacy import mask_account, mask_phone, person_label
from data_access.regions import children, get_region, school_name
from data_access.vocab import ROLE_LABELS, ROLE_REGION_SUPER, ROLE_REGION_TRAINING, ROLE_SCHOOL_ADMIN
from data_access.rules import is_region_admin
from data_access.scope import valid_id
from dashboard.access import read, require_scope, write
from dashboard.security import client_ip
from layouts import admin_pages as view
from layouts.ids import Admins, Audit, Codes

from . import callback, next_reload

TIME = MINUTE_TIME
REVOKE = "撤销"
MISSING = "—"
CLI_GRANTED = "—（平台授权）"


@callback(Output(Codes.TARGET, "options"), Output(Codes.TARGET, "value"),
          Input(Codes.ROLE, "value"), Input(Codes.TARGET, "search_value"))
def code_targets(role, search):
    scope = require_scope()
    if not is_region_admin(scope):
        raise PreventUpdate
    with read() as conn:
        if role == ROLE_REGION_TRAINING and scope.role == ROLE_REGION_SUPER:
            opts = [{"label": scope.name, "value": scope.region_code}]
            return opts, scope.region_code
        if role == ROLE_REGION_SUPER and scope.role == ROLE_REGION_SUPER:
            opts = [{"label": r.name, "value": r.code} for r in children(conn, scope.region_code)]
            return opts, no_update if ctx.triggered_id == Codes.TARGET else None
        if role == ROLE_SCHOOL_ADMIN:
            query = search if isinstance(search, str) else ""
            opts = [{"label": f"{name}（{code}）", "value": code}
                    for code, name in codes.school_candidates(conn, scope.region_code, query)]
            return opts, no_update if ctx.triggered_id == Codes.TARGET else None
    raise PreventUpdate


@callback(Output(Codes.ISSUED, "children"), Output(Codes.MESSAGE, "children"),
          Output(Codes.RELOAD, "data"),
          Input(Codes.ISSUE, "n_clicks"), State(Codes.ROLE, "value"), State(Codes.TARGET, "value"),
          State(Codes.RELOAD, "data"), prevent_initial_call=True)
def issue_code(_clicks, role, target, reload):
    scope = require_scope()
    if not isinstance(role, str) or not isinstance(target, str) or not target:
        return None, view_error("请选择角色和区域/学校"), no_update
    try:
        with write() as conn:
            issued = issue_and_record(conn, scope, role, target)
            target_name = _target_name(conn, role, target)
    except codes.CodeError as exc:
        return None, view_error(str(exc)), no_update
    return (view.issued_code(issued.code, ROLE_LABELS[role], target_name,
                             issued.expires_at.strftime(TIME)), None, next_reload(reload))


def issue_and_record(conn, scope, role: str, target: str) -> codes.IssuedCode:
    """Issue a code as 权限码管理 does (the §3 rule, `codes.issue`) and log it; every screen
    that offers 生成权限码 goes through here. Raises codes.CodeError with the reason."""
    issued = codes.issue(conn, scope, role, target)
    audit.record(conn, "code_issue", user_id=scope.user_id,
                 actor=mask_account(current_user.account),
                 region_code=None if role == ROLE_SCHOOL_ADMIN else target,
                 school_code=target if role == ROLE_SCHOOL_ADMIN else None,
                 detail={"code_id": issued.id, "role": role}, ip=client_ip())
    return issued


def _row_id(cell: dict) -> int:
    """Grid row ids arrive as strings; only plain positive integers are accepted."""
    raw = cell.get("rowId")
    value = int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 10 else None
    if valid_id(value) is None:
        raise PreventUpdate
    return value


def _target_name(conn, role, target):
    if role == ROLE_SCHOOL_ADMIN:
        return school_name(conn, target) or target
    region = get_region(conn, target)
    return region.name if region else target


def view_error(text: str):
    return view.message(text, ok=False)


@callback(Output(Codes.GRID, "rowData"), Input(Codes.RELOAD, "data"))
def code_rows(_reload):
    scope = require_scope()
    if not is_region_admin(scope):
        raise PreventUpdate
    with read() as conn:
        rows = codes.codes_in_scope(conn, scope)
    return [
        {"id": r.id, "hint": f"****-{r.hint}", "role": ROLE_LABELS.get(r.role, r.role),
         "target": r.target_name, "issued_at": r.issued_at.strftime(TIME),
         "expires_at": r.expires_at.strftime(TIME), "status": r.status,
         "redeemed_by": person_label(r.redeemed_by_name, r.redeemed_by_account),
         "redeemed_at": r.redeemed_at.strftime(TIME) if r.redeemed_at else "",
         "action": REVOKE if r.revocable else ""}
        for r in rows
    ]


@callback(Output(Codes.MESSAGE, "children", allow_duplicate=True),
          Output(Codes.RELOAD, "data", allow_duplicate=True),
          Input(Codes.GRID, "cellClicked"), State(Codes.RELOAD, "data"),
          prevent_initial_call=True)
def revoke_code(cell, reload):
    scope = require_scope()
    if not isinstance(cell, dict) or cell.get("colId") != "action" or cell.get("value") != REVOKE:
        raise PreventUpdate
    code_id = _row_id(cell)
    try:
        with write() as conn:
            revoked = codes.revoke(conn, scope, code_id)
            # Filed under the code's target, like its issue, so both show in the same logs.
            audit.record(conn, "code_revoke", user_id=scope.user_id,
                         actor=mask_account(current_user.account),
                         region_code=revoked.region_code, school_code=revoked.school_code,
                         detail={"code_id": code_id, "role": revoked.role}, ip=client_ip())
    except codes.CodeError as exc:
        return view_error(str(exc)), no_update
    return None, next_reload(reload)


# --------------------------------------------------------------------------- 管理员列表


@callback(Output(Admins.GRID, "rowData"), Input(Admins.RELOAD, "data"))
def admin_rows(_reload):
    scope = require_scope()
    if not is_region_admin(scope):
        raise PreventUpdate
    with read() as conn:
        rows = admins.admins_in_scope(conn, scope)
    return [
        {"id": r.binding_id, "user_name": r.user_name, "account": mask_account(r.account),
         "role": ROLE_LABELS.get(r.role, r.role), "scope": r.scope_name,
         "phone": mask_phone(r.contact_phone) or MISSING,
         "org_title": r.org_title or (MISSING if r.via_code else CLI_GRANTED),
         "bound_at": r.bound_at.strftime(TIME), "action": "删除" if r.removable else ""}
        for r in rows
    ]


@callback(Output(Admins.CONFIRM, "displayed"), Output(Admins.CONFIRM, "message"),
          Output(Admins.PENDING, "data"), Input(Admins.GRID, "cellClicked"),
          prevent_initial_call=True)
def ask_remove(cell):
    require_scope()
    if not isinstance(cell, dict) or cell.get("colId") != "action" or cell.get("value") != "删除":
        raise PreventUpdate
    binding_id = _row_id(cell)
    return True, "确定删除该管理员吗？删除后对方将立即失去该管理权限。", binding_id


@callback(Output(Admins.MESSAGE, "children"), Output(Admins.RELOAD, "data"),
          Input(Admins.CONFIRM, "submit_n_clicks"), State(Admins.PENDING, "data"),
          State(Admins.RELOAD, "data"), prevent_initial_call=True)
def remove_admin(_submit, binding_id, reload):
    scope = require_scope()
    binding_id = valid_id(binding_id)
    if binding_id is None:
        raise PreventUpdate
    try:
        with write() as conn:
            removed = admins.remove_admin(conn, scope, binding_id)
            audit.record(conn, "admin_remove", user_id=scope.user_id,
                         actor=mask_account(current_user.account),
                         region_code=None if removed.role == ROLE_SCHOOL_ADMIN else removed.scope_code,
                         school_code=removed.scope_code if removed.role == ROLE_SCHOOL_ADMIN else None,
                         detail={"binding_id": binding_id, "role": removed.role}, ip=client_ip())
    except admins.AdminError as exc:
        return view_error(str(exc)), no_update
    return view_error_ok(f"已删除管理员 {removed.user_name}"), next_reload(reload)


def view_error_ok(text: str):
    return view.message(text, ok=True)


# --------------------------------------------------------------------------- 操作日志


@callback(Output(Audit.GRID, "rowData"), Input(Audit.LOAD, "data"))
def audit_rows(_load):
    scope = require_scope()
    if not is_region_admin(scope):
        raise PreventUpdate
    with read() as conn:
        rows = audit.entries_in_scope(conn, scope.region_code)
    return [{"id": i, **r.cells()} for i, r in enumerate(rows)]
