"""学校管理: the list, 新增/编辑, 删除, 调整隶属 and 生成权限码 (SPEC §4.4).

Every callback builds the scope from the session (`require_scope`) and hands the school or
region the browser names to data_access, which checks it against the scope: a grid row, a
store or a form value is only ever a request.
"""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from data_access.metrics import MINUTE_TIME
from data_access import codes, schools
from data_access.download_tables import url_for
from data_access.privacy import mask_account
from data_access.scope import ScopeDenied, authorize_region, valid_id
from data_access.vocab import ROLE_LABELS, ROLE_SCHOOL_ADMIN
from dashboard.access import read, write
from dashboard.security import client_ip
from layouts import admin_pages
from layouts import schools as view
from layouts.ids import Schools as ids

from . import callback, next_reload, region_scope
from .admin_pages import issue_and_record

EDIT, DELETE, MOVE, ISSUE = "编辑", "删除", "调整隶属", "生成权限码"
TIME = MINUTE_TIME
FIELDS = schools.FORM_FIELDS
DENIED = "该学校不存在或不在管理范围内"


def _actor() -> str:
    return mask_account(current_user.account)


def _export_urls(region: str, filters: schools.SchoolFilters) -> tuple[str, str]:
    """The stable download URLs of the list as shown (the same checks run again there)."""
    activated = {True: "1", False: "0", None: ""}[filters.activated]
    args = {"region": region, "q": filters.q, "kind": filters.kind or "",
            "urban_rural": filters.urban_rural or "", "activated": activated}
    return url_for("schools", args, "csv"), url_for("schools", args, "xlsx")


@callback(Output(ids.GRID, "rowData"), Output(ids.PAGER, "max_value"),
          Output(ids.PAGER, "active_page"), Output(ids.TOTAL, "children"),
          Output(ids.EXPORT_CSV, "href"), Output(ids.EXPORT_XLSX, "href"),
          Input(ids.REGION, "value"), Input(ids.KIND, "value"), Input(ids.URBAN, "value"),
          Input(ids.ACTIVATED, "value"), Input(ids.QUERY, "value"),
          Input(ids.PAGER, "active_page"), Input(ids.RELOAD, "data"))
def school_rows(region, kind, urban, activated, q, page, _reload):
    scope = region_scope()
    page = (valid_id(page) or 1) if ctx.triggered_id in (ids.PAGER, ids.RELOAD) else 1
    try:
        with read() as conn:
            shown = authorize_region(conn, scope, region)
            filters = schools.filters_from(q, kind, urban, activated)
            total = schools.count_schools(conn, shown.code, filters)
            pages = max(1, -(-total // view.PAGE_SIZE))
            page = min(page, pages)
            rows = schools.list_schools(conn, shown.code, filters, page=page,
                                        size=view.PAGE_SIZE, path_root=scope.region_code)
            movable = schools.may_transfer(conn, scope)
    except ScopeDenied:
        return [], 1, 1, "共 0 条", *_export_urls("", schools.SchoolFilters())
    records = []
    for r in rows:
        actions = [EDIT, DELETE]
        if movable and r.region_code != scope.region_code:
            actions.append(MOVE)
        if not r.activated:
            actions.append(ISSUE)
        name, code, region_path, kind_, urban_, active, admin, phone = r.values()
        records.append({"code": code, "name": name, "region": region_path, "kind": kind_,
                        "urban_rural": urban_ or "—", "activated": active,
                        "admin": admin or "—", "phone": phone or "—", "actions": actions})
    region_arg = shown.code if shown.code != scope.region_code else ""
    return (records, pages, page, f"共 {total} 条", *_export_urls(region_arg, filters))


def _row_action(data, wanted: str) -> str:
    """The school code of a click on one of the row's action links, or PreventUpdate."""
    if not isinstance(data, dict) or data.get("value") != wanted:
        raise PreventUpdate
    code = data.get("rowId")
    if not isinstance(code, str) or not code or len(code) > 40:
        raise PreventUpdate
    return code


# --------------------------------------------------------------------------- 新增 / 编辑

_FORM_VALUES = [Output(ids.field(k), "value") for k in FIELDS]
_FORM_INVALID = [Output(ids.field(k), "invalid", allow_duplicate=True) for k in FIELDS]
_FORM_FEEDBACK = [Output(ids.feedback(k), "children", allow_duplicate=True) for k in FIELDS]


@callback(Output(ids.FORM, "is_open"), Output(ids.FORM_TITLE, "children"),
          Output(ids.EDITING, "data"), *_FORM_VALUES,
          Output(ids.field("code"), "disabled"), Output(ids.field("region_code"), "disabled"),
          *_FORM_INVALID, *_FORM_FEEDBACK,
          Output(ids.FORM_MESSAGE, "children", allow_duplicate=True),
          Output(ids.MESSAGE, "children", allow_duplicate=True),
          Input(ids.ADD, "n_clicks"), Input(ids.GRID, "cellRendererData"),
          Input(ids.FORM_CANCEL, "n_clicks"), State(ids.REGION, "value"),
          prevent_initial_call=True)
def open_form(_add, cell, _cancel, region):
    scope = region_scope()
    blank_checks = [False] * len(FIELDS) + [None] * len(FIELDS)
    if ctx.triggered_id == ids.FORM_CANCEL:
        return (False, no_update, None, *([no_update] * len(FIELDS)), no_update, no_update,
                *blank_checks, None, no_update)
    if ctx.triggered_id == ids.ADD:
        with read() as conn:
            try:
                default_region = authorize_region(conn, scope, region).code
            except ScopeDenied:
                default_region = scope.region_code
        values = {k: "" for k in FIELDS}
        values.update(region_code=default_region, kind="学校")
        return (True, "新增学校", None, *[values[k] for k in FIELDS], False, False,
                *blank_checks, None, None)
    code = _row_action(cell, EDIT)
    try:
        with read() as conn:
            row = schools.get_school(conn, scope, code)
    except ScopeDenied:
        return (False, no_update, None, *([no_update] * len(FIELDS)), no_update, no_update,
                *blank_checks, None, view.message(DENIED, ok=False))
    values = {"code": row.code, "name": row.name, "region_code": row.region_code,
              "kind": row.kind, "urban_rural": row.urban_rural or "",
              "address": row.address or "", "phone": row.phone or "",
              "principal": row.principal or ""}
    return (True, f"编辑学校：{row.name}", {"code": row.code}, *[values[k] for k in FIELDS],
            True, True, *blank_checks, None, None)


@callback(Output(ids.FORM, "is_open", allow_duplicate=True), *_FORM_INVALID, *_FORM_FEEDBACK,
          Output(ids.FORM_MESSAGE, "children", allow_duplicate=True),
          Output(ids.MESSAGE, "children", allow_duplicate=True),
          Output(ids.RELOAD, "data", allow_duplicate=True),
          Input(ids.FORM_SAVE, "n_clicks"), State(ids.EDITING, "data"),
          *[State(ids.field(k), "value") for k in FIELDS], State(ids.RELOAD, "data"),
          prevent_initial_call=True)
def save_form(_save, editing, *args):
    scope = region_scope()
    *field_values, reload = args
    values = dict(zip(FIELDS, field_values))
    if editing is not None and not (isinstance(editing, dict)
                                    and isinstance(editing.get("code"), str)):
        raise PreventUpdate
    try:
        with write() as conn:
            if editing is None:
                change = schools.create_school(conn, scope, values, actor=_actor(),
                                               ip=client_ip())
                done = f"已新增学校「{change.name}」"
            else:
                editable = {k: v for k, v in values.items() if k in schools.EDITABLE}
                change = schools.update_school(conn, scope, editing["code"], editable,
                                               actor=_actor(), ip=client_ip())
                done = (f"已保存学校「{change.name}」的修改" if change.changed
                        else f"学校「{change.name}」没有修改")
    except schools.SchoolFormError as exc:
        return (True, *[k in exc.errors for k in FIELDS],
                *[exc.errors.get(k) for k in FIELDS],
                view.message("请按提示修改标红的项目", ok=False), no_update, no_update)
    except (schools.SchoolError, ScopeDenied):
        return (False, *([False] * len(FIELDS)), *([None] * len(FIELDS)), None,
                view.message(DENIED, ok=False), next_reload(reload))
    return (False, *([False] * len(FIELDS)), *([None] * len(FIELDS)), None,
            view.message(done, ok=True), next_reload(reload))


# --------------------------------------------------------------------------- 删除


@callback(Output(ids.DELETE, "is_open"), Output(ids.DELETE_TEXT, "children"),
          Output(ids.DELETING, "data"), Output(ids.MESSAGE, "children", allow_duplicate=True),
          Input(ids.GRID, "cellRendererData"), Input(ids.DELETE_CANCEL, "n_clicks"),
          prevent_initial_call=True)
def ask_delete(cell, _cancel):
    scope = region_scope()
    if ctx.triggered_id == ids.DELETE_CANCEL:
        return False, no_update, None, no_update
    code = _row_action(cell, DELETE)
    try:
        with read() as conn:
            row = schools.get_school(conn, scope, code)
    except ScopeDenied:
        return False, no_update, None, view.message(DENIED, ok=False)
    return True, f"确定删除「{row.name}」（学校标识码：{row.code}）吗？", row.code, None


@callback(Output(ids.DELETE, "is_open", allow_duplicate=True),
          Output(ids.MESSAGE, "children", allow_duplicate=True),
          Output(ids.RELOAD, "data", allow_duplicate=True),
          Input(ids.DELETE_CONFIRM, "n_clicks"), State(ids.DELETING, "data"),
          State(ids.RELOAD, "data"), prevent_initial_call=True)
def confirm_delete(_confirm, code, reload):
    scope = region_scope()
    if not isinstance(code, str) or not code:
        raise PreventUpdate
    try:
        with write() as conn:
            change = schools.delete_school(conn, scope, code, actor=_actor(), ip=client_ip())
    except ScopeDenied:
        return False, view.message(DENIED, ok=False), next_reload(reload)
    text = f"已删除学校「{change.name}」"
    if change.binding_id is not None:
        text += "，其学校管理员的绑定已结束"
    return False, view.message(text + "。", ok=True), next_reload(reload)


# --------------------------------------------------------------------------- 调整隶属


@callback(Output(ids.MOVE, "is_open"), Output(ids.MOVE_TEXT, "children"),
          Output(ids.MOVE_TARGET, "options"), Output(ids.MOVE_TARGET, "value"),
          Output(ids.MOVING, "data"), Output(ids.MOVE_MESSAGE, "children"),
          Output(ids.MESSAGE, "children", allow_duplicate=True),
          Input(ids.GRID, "cellRendererData"), Input(ids.MOVE_CANCEL, "n_clicks"),
          prevent_initial_call=True)
def ask_move(cell, _cancel):
    scope = region_scope()
    if ctx.triggered_id == ids.MOVE_CANCEL:
        return False, no_update, no_update, None, None, None, no_update
    code = _row_action(cell, MOVE)
    try:
        with read() as conn:
            row = schools.get_school(conn, scope, code)
            targets = schools.transfer_targets(conn, scope, code)
    except ScopeDenied:
        return False, no_update, [], None, None, None, view.message(DENIED, ok=False)
    if not targets:
        return (False, no_update, [], None, None, None,
                view.message("该学校不能由当前管理员调整隶属", ok=False))
    opts = [{"label": path, "value": c} for c, path in targets]
    text = f"将「{row.name}」（现属 {row.region_path}）调整到其他区域。"
    return True, text, opts, None, row.code, None, None


@callback(Output(ids.MOVE, "is_open", allow_duplicate=True),
          Output(ids.MOVE_MESSAGE, "children", allow_duplicate=True),
          Output(ids.MESSAGE, "children", allow_duplicate=True),
          Output(ids.RELOAD, "data", allow_duplicate=True),
          Input(ids.MOVE_CONFIRM, "n_clicks"), State(ids.MOVING, "data"),
          State(ids.MOVE_TARGET, "value"), State(ids.RELOAD, "data"),
          prevent_initial_call=True)
def confirm_move(_confirm, code, target, reload):
    scope = region_scope()
    if not isinstance(code, str) or not code:
        raise PreventUpdate
    if not isinstance(target, str) or not target:
        return True, view.message("请选择目标区域", ok=False), no_update, no_update
    try:
        with write() as conn:
            change = schools.move_school(conn, scope, code, target, actor=_actor(),
                                         ip=client_ip())
            path = schools.region_paths(conn, [target], scope.region_code).get(target, target)
    except schools.SchoolError as exc:
        return True, view.message(str(exc), ok=False), no_update, no_update
    except ScopeDenied:
        return False, None, view.message(DENIED, ok=False), next_reload(reload)
    return (False, None, view.message(f"已将学校「{change.name}」调整到 {path}", ok=True),
            next_reload(reload))


# --------------------------------------------------------------------------- 生成权限码


@callback(Output(ids.ISSUED, "children"), Output(ids.MESSAGE, "children", allow_duplicate=True),
          Output(ids.RELOAD, "data", allow_duplicate=True),
          Input(ids.GRID, "cellRendererData"), State(ids.RELOAD, "data"),
          prevent_initial_call=True)
def issue_code(cell, reload):
    scope = region_scope()
    code = _row_action(cell, ISSUE)
    try:
        with write() as conn:
            issued = issue_and_record(conn, scope, ROLE_SCHOOL_ADMIN, code)
            row = schools.get_school(conn, scope, code)
    except codes.CodeError as exc:
        return None, view.message(str(exc), ok=False), no_update
    except ScopeDenied:
        return None, view.message(DENIED, ok=False), no_update
    return (admin_pages.issued_code(issued.code, ROLE_LABELS[ROLE_SCHOOL_ADMIN], row.name,
                                    issued.expires_at.strftime(TIME)), None,
            next_reload(reload))
