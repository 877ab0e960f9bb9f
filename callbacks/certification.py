"""教师管理: the facets, the list, and 通过 / 不通过 per row or for the selected rows (SPEC §5.2).

Always the session's own school: a row id, a selection or a dialog's store is only ever a
request, looked up again inside that school by `certification.decide`.
"""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask_login import current_user

from data_access import certification as cert
from data_access.download_tables import url_for
from data_access.privacy import mask_account
from data_access.schools import needs_urban_rural
from data_access.scope import valid_id
from dashboard.access import read, write
from dashboard.security import client_ip
from layouts import certification as view
from layouts.admin_pages import message
from layouts.ids import Certification as ids

from . import callback, next_reload, school_scope

PASS, REJECT = "通过", "不通过"
SHOWN: dict = {}


def _filters(status, title, stage) -> cert.CertFilters:
    try:
        return cert.filters_from(status or "", title or "", stage or "")
    except cert.CertificationError:
        return cert.CertFilters()


@callback(
    Output(ids.STATUS, "options"), Output(ids.TITLE, "options"), Output(ids.STAGE, "options"),
    Output(ids.GRID, "rowData"), Output(ids.GRID, "selectedRows"),
    Output(ids.PAGER, "max_value"), Output(ids.PAGER, "active_page"),
    Output(ids.TOTAL, "children"), Output(ids.EXPORT_CSV, "href"),
    Output(ids.EXPORT_XLSX, "href"), Output(ids.LOCKED, "style"),
    Output(ids.BATCH_PASS, "disabled"), Output(ids.BATCH_REJECT, "disabled"),
    Input(ids.STATUS, "value"), Input(ids.TITLE, "value"), Input(ids.STAGE, "value"),
    Input(ids.PAGER, "active_page"), Input(ids.RELOAD, "data"),
)
def teacher_rows(status, title, stage, page, _reload):
    """The facets' counts under each other's choices, one page of teachers, the downloads."""
    scope = school_scope()
    f = _filters(status, title, stage)
    page = (valid_id(page) or 1) if ctx.triggered_id in (ids.PAGER, ids.RELOAD) else 1
    with read() as conn:
        counts = cert.facet_counts(conn, scope.school_code, f)
        total = cert.count_teachers(conn, scope.school_code, f)
        pages = max(1, -(-total // view.PAGE_SIZE))
        page = min(page, pages)
        rows = cert.list_teachers(conn, scope.school_code, f, page=page, size=view.PAGE_SIZE)
        locked = needs_urban_rural(conn, scope)
    options = []
    for facet, _label in cert.FACETS:
        # a facet's 全部 is the number left by the other facets' choices
        options.append(view.facet_options(counts[facet], sum(n for _, n in counts[facet])))
    records = [{"row_id": str(r.id),
                **{field: getattr(r, field) for _, field in cert.EXPORT_COLUMNS},
                "actions": [] if locked else [a for a, wanted in ((PASS, r.status != "已通过"),
                                                                  (REJECT, r.status != "未通过"))
                                                if wanted]}
               for r in rows]
    args = {"status": f.status, "title": f.title, "stage": f.stage}
    return (*options, records, [], pages, page, f"共 {total} 条",
            url_for("certification", args, "csv"), url_for("certification", args, "xlsx"),
            SHOWN if locked else view.HIDDEN, locked, locked)


def _ids_of(rows) -> list[int]:
    """Teacher ids from the grid's selection or a clicked row (the server checks them)."""
    out = []
    for row in rows if isinstance(rows, list) else []:
        raw = row.get("row_id") if isinstance(row, dict) else None
        # row ids are the teachers' ids as text (the grid's getRowId)
        plain = isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 11
        tid = valid_id(int(raw)) if plain else None
        if tid is None:
            raise PreventUpdate
        out.append(tid)
    return out


def _decide(scope, teacher_ids, passed: bool, reason: str = ""):
    with write() as conn:
        return cert.decide(conn, scope.school_code, scope.user_id, teacher_ids, passed, reason,
                           actor=mask_account(current_user.account), ip=client_ip())


def _done(decision: cert.Decision) -> str:
    text = f"已将 {decision.teachers} 名教师设为「{decision.status}」"
    if decision.unchanged:
        text += f"（{decision.unchanged} 名原已是该状态）"
    return text


@callback(
    Output(ids.MESSAGE, "children"),
    Output(ids.RELOAD, "data"),
    Output(ids.REJECT, "is_open"),
    Output(ids.REJECT_TEXT, "children"),
    Output(ids.REJECTING, "data"),
    Output(ids.REJECT_REASON, "value"),
    Input(ids.GRID, "cellRendererData"),
    Input(ids.BATCH_PASS, "n_clicks"),
    Input(ids.BATCH_REJECT, "n_clicks"),
    State(ids.GRID, "selectedRows"),
    State(ids.RELOAD, "data"),
    prevent_initial_call=True,
)
def ask_or_decide(cell, _batch_pass, _batch_reject, selected, reload):
    """通过 (a row's link or 批量通过) decides at once; 不通过 asks for the optional reason."""
    scope = school_scope()
    if ctx.triggered_id == ids.GRID:
        action = cell.get("value") if isinstance(cell, dict) else None
        if action not in (PASS, REJECT):
            raise PreventUpdate
        teacher_ids = _ids_of([{"row_id": cell.get("rowId")}])
    else:
        action = PASS if ctx.triggered_id == ids.BATCH_PASS else REJECT
        teacher_ids = _ids_of(selected)
        if not teacher_ids:
            return message("请先勾选教师", ok=False), no_update, False, no_update, None, no_update
    if action == REJECT:
        with read() as conn:
            if needs_urban_rural(conn, scope):
                return (message(cert.LOCKED_MESSAGE, ok=False), no_update, False, no_update,
                        None, no_update)
        text = (f"将所选 {len(teacher_ids)} 名教师设为「未通过」" if len(teacher_ids) > 1
                else "将该教师设为「未通过」")
        return None, no_update, True, text, {"ids": teacher_ids}, ""
    try:
        decision = _decide(scope, teacher_ids, True)
    except cert.CertificationError as exc:
        return message(str(exc), ok=False), next_reload(reload), False, no_update, None, no_update
    return (message(_done(decision), ok=True), next_reload(reload), False, no_update, None,
            no_update)


@callback(
    Output(ids.MESSAGE, "children", allow_duplicate=True),
    Output(ids.RELOAD, "data", allow_duplicate=True),
    Output(ids.REJECT, "is_open", allow_duplicate=True),
    Output(ids.REJECTING, "data", allow_duplicate=True),
    Input(ids.REJECT_CONFIRM, "n_clicks"),
    Input(ids.REJECT_CANCEL, "n_clicks"),
    State(ids.REJECTING, "data"),
    State(ids.REJECT_REASON, "value"),
    State(ids.RELOAD, "data"),
    prevent_initial_call=True,
)
def confirm_reject(_confirm, _cancel, rejecting, reason, reload):
    """确定不通过: the teachers of the dialog, with the reason typed (checked again)."""
    scope = school_scope()
    if ctx.triggered_id == ids.REJECT_CANCEL:
        return no_update, no_update, False, None
    raw = rejecting.get("ids") if isinstance(rejecting, dict) else None
    if not isinstance(raw, list) or not raw:
        raise PreventUpdate
    try:
        decision = _decide(scope, raw, False, reason if isinstance(reason, str) else "")
    except cert.CertificationError as exc:
        return message(str(exc), ok=False), next_reload(reload), False, None
    return message(_done(decision), ok=True), next_reload(reload), False, None
