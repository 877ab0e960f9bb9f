"""学校（机构）信息: the session's own school, shown, then edited and saved (SPEC §5.1).

The school is always the session's (no callback takes a school code from the browser); a
region admin's session gets nothing here. Saving goes through the same field rules and audit
entry as 学校管理's 编辑, with 机构类型, 城乡类型, 学校地址 and 联系电话 required.
"""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from data_access import schools
from data_access.privacy import mask_account
from data_access.scope import ScopeDenied
from dashboard.access import read, write
from dashboard.security import client_ip
from layouts import school_info as view
from layouts.admin_pages import message
from layouts.ids import SchoolInfo as ids

from . import callback, next_reload, school_scope

FIELDS = schools.INFO_EDITABLE
SHOWN: dict = {}
NONE = "—"


@callback(
    Output(ids.BANNER, "style"),
    *[Output(ids.value(k), "children") for k in (*view.READ_ONLY, *FIELDS)],
    *[Output(ids.field(k), "value") for k in FIELDS],
    Input(ids.RELOAD, "data"),
)
def show_school(_reload):
    """The school as stored, in the view and (ready to edit) in the form."""
    scope = school_scope()
    with read() as conn:
        try:
            row = schools.own_school(conn, scope)
        except ScopeDenied:
            raise PreventUpdate from None
    stored = {"name": row.name, "code": row.code, "region_path": row.region_path,
              "kind": row.kind, "urban_rural": row.urban_rural, "address": row.address,
              "phone": row.phone, "principal": row.principal}
    shown = [stored[k] or NONE for k in (*view.READ_ONLY, *FIELDS)]
    return (view.HIDDEN if row.urban_rural else SHOWN, *shown,
            *[stored[k] or None for k in FIELDS])


@callback(
    Output(ids.VIEW, "style"),
    Output(ids.FORM, "style"),
    *[Output(ids.field(k), "invalid") for k in FIELDS],
    Output(ids.MESSAGE, "children"),
    Output(ids.RELOAD, "data", allow_duplicate=True),
    Input(ids.EDIT, "n_clicks"),
    Input(ids.CANCEL, "n_clicks"),
    State(ids.RELOAD, "data"),
    prevent_initial_call=True,
)
def switch_mode(_edit, _cancel, reload):
    """编辑 opens the form on the stored values; 取消 drops what was typed."""
    school_scope()
    clean = [False] * len(FIELDS)
    if ctx.triggered_id == ids.EDIT:
        return view.HIDDEN, SHOWN, *clean, None, no_update
    return SHOWN, view.HIDDEN, *clean, None, next_reload(reload)


@callback(
    Output(ids.VIEW, "style", allow_duplicate=True),
    Output(ids.FORM, "style", allow_duplicate=True),
    *[Output(ids.field(k), "invalid", allow_duplicate=True) for k in FIELDS],
    *[Output(ids.feedback(k), "children") for k in FIELDS],
    Output(ids.MESSAGE, "children", allow_duplicate=True),
    Output(ids.RELOAD, "data", allow_duplicate=True),
    Input(ids.SAVE, "n_clicks"),
    *[State(ids.field(k), "value") for k in FIELDS],
    State(ids.RELOAD, "data"),
    prevent_initial_call=True,
)
def save_school(n_clicks, *args):
    """保存: every problem under its field, or the change saved and audit-logged."""
    scope = school_scope()
    if not (isinstance(n_clicks, int) and not isinstance(n_clicks, bool) and n_clicks > 0):
        raise PreventUpdate
    *values, reload = args
    no_problems = [False] * len(FIELDS), [None] * len(FIELDS)
    try:
        with write() as conn:
            change = schools.update_school_info(
                conn, scope, dict(zip(FIELDS, values)),
                actor=mask_account(current_user.account), ip=client_ip())
    except schools.SchoolFormError as exc:
        return (no_update, no_update, *[k in exc.errors for k in FIELDS],
                *[exc.errors.get(k) for k in FIELDS],
                message("请按提示修改标红的项目", ok=False), no_update)
    except (schools.SchoolError, ScopeDenied):
        return (no_update, no_update, *no_problems[0], *no_problems[1],
                message("无法保存：当前管理身份不能修改该学校的信息", ok=False), no_update)
    done = "已保存学校（机构）信息" if change.changed else "没有修改"
    return (SHOWN, view.HIDDEN, *no_problems[0], *no_problems[1], message(done, ok=True),
            next_reload(reload))
