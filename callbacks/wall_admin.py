"""大屏管理: the kiosk links of the wall screen (SPEC §4.6).

Every callback re-derives the scope from the session (`region_scope`); the region, training
and link id the browser sends are requests that data_access.display_tokens checks against
that scope. The token itself exists only in the answer to the issuing click.
"""

from __future__ import annotations

from datetime import date, datetime

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from flask import request
from flask_login import current_user

from data_access import audit, display_tokens
from data_access.display_tokens import CURRENT_TRAINING_LABEL, STATUS_ACTIVE, TokenError
from data_access.metrics import MINUTE_TIME
from data_access.privacy import mask_account
from data_access.schools import region_paths, regions_in_scope
from data_access.scope import valid_id
from dashboard.access import read, write
from dashboard.security import client_ip
from layouts import wall_admin as view
from layouts.ids import WallAdmin as ids

from . import callback, next_reload, region_scope

REVOKE = "撤销"
NEVER_SEEN = "从未访问"
MISSING = "—"
DATE = "%Y.%m.%d"


def _actor() -> str:
    return mask_account(current_user.account)


def _error(text: str):
    return view.message(text, ok=False)


@callback(Output(ids.REGION, "options"), Output(ids.REGION, "value"),
          Output(ids.TRAINING, "options"), Output(ids.TRAINING, "value"),
          Input(ids.LOAD, "data"))
def link_choices(_load):
    """The regions a link may show (the scope's own first) and every training, newest
    first, after 当前培训（自动跟随）."""
    scope = region_scope()
    with read() as conn:
        regions = regions_in_scope(conn, scope)
        trainings = display_tokens.training_choices(conn)
    region_opts = [{"label": path, "value": code} for code, path in regions]
    training_opts = [{"label": CURRENT_TRAINING_LABEL, "value": ""}] + [
        {"label": f"{t.name}（{t.status()}）", "value": t.code} for t in trainings]
    return region_opts, scope.region_code, training_opts, ""


def _expiry(value) -> date | None:
    """The date picker's value: '' or None is 长期有效; anything else must be a date."""
    if value is None or value == "":
        return None
    # the date picker sends `YYYY-MM-DD` (a datetime string after the day is tolerated)
    if isinstance(value, str) and 10 <= len(value) <= 32 and (
            len(value) == 10 or value[10] in "T "):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise TokenError("有效期格式不正确，请从日历中选择日期")


def _link(path: str) -> str:
    """The full address to type into the kiosk's browser: where this request arrived."""
    return request.url_root.rstrip("/") + path


@callback(Output(ids.ISSUED, "children"), Output(ids.MESSAGE, "children"),
          Output(ids.RELOAD, "data"),
          Input(ids.ISSUE, "n_clicks"), State(ids.LABEL, "value"), State(ids.REGION, "value"),
          State(ids.TRAINING, "value"), State(ids.EXPIRES, "date"), State(ids.RELOAD, "data"),
          prevent_initial_call=True)
def issue_link(_clicks, label, region, training, expires, reload):
    scope = region_scope()
    try:
        expires_on = _expiry(expires)
        with write() as conn:
            issued = display_tokens.issue(conn, scope, user_id=scope.user_id,
                                          region_code=region, training_code=training,
                                          label=label, expires_on=expires_on)
            row = display_tokens.list_tokens(conn, scope, token_id=issued.id)[0]
            audit.record(conn, "screen_token_issue", user_id=scope.user_id, actor=_actor(),
                         region_code=row.region_code,
                         detail={"token_id": issued.id, "label": row.label,
                                 "training": row.training_code or ""}, ip=client_ip())
            region_name = region_paths(conn, [row.region_code], scope.region_code).get(
                row.region_code, row.region_name)
    except TokenError as exc:
        return None, _error(str(exc)), no_update
    expires_text = row.expires_at.strftime(DATE) if row.expires_at else view.NO_EXPIRY
    return (view.issued_link(_link(issued.path), row.label, region_name, row.training_name,
                             expires_text), None, next_reload(reload))


@callback(Output(ids.GRID, "rowData"), Input(ids.RELOAD, "data"))
def link_rows(_reload):
    scope = region_scope()
    with read() as conn:
        rows = display_tokens.list_tokens(conn, scope)
        paths = region_paths(conn, {r.region_code for r in rows}, scope.region_code)
    return [
        {"id": r.id, "label": r.label, "region": paths.get(r.region_code, r.region_name),
         "training": r.training_name, "issuer": r.issuer,
         "created_at": r.created_at.strftime(MINUTE_TIME),
         "expires_at": r.expires_at.strftime(DATE) if r.expires_at else view.NO_EXPIRY,
         "last_seen_at": r.last_seen_at.strftime(MINUTE_TIME) if r.last_seen_at else NEVER_SEEN,
         "last_seen_ip": r.last_seen_ip or MISSING, "status": r.status,
         "actions": [REVOKE] if r.status == STATUS_ACTIVE else []}
        for r in rows
    ]


def _clicked_id(data) -> int:
    """The link id of a click on 撤销 (grid row ids arrive as strings), or PreventUpdate."""
    if not isinstance(data, dict) or data.get("value") != REVOKE:
        raise PreventUpdate
    raw = data.get("rowId")
    value = int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 10 else None
    if valid_id(value) is None:
        raise PreventUpdate
    return value


@callback(Output(ids.CONFIRM, "displayed"), Output(ids.CONFIRM, "message"),
          Output(ids.PENDING, "data"), Output(ids.MESSAGE, "children", allow_duplicate=True),
          Input(ids.GRID, "cellRendererData"), prevent_initial_call=True)
def ask_revoke(cell):
    scope = region_scope()
    token_id = _clicked_id(cell)
    with read() as conn:
        row = next(iter(display_tokens.list_tokens(conn, scope, token_id=token_id)), None)
    if row is None:
        return False, no_update, None, _error("大屏链接不存在或不在您的管理范围内")
    if row.status != STATUS_ACTIVE:
        return False, no_update, None, _error(f"该大屏链接{row.status}")
    text = (f"确定撤销大屏「{row.label}」（{row.region_name}）的链接吗？撤销后该大屏将立即显示"
            f"“该大屏链接已失效，请联系管理员”，需要时请重新生成链接。")
    return True, text, token_id, None


@callback(Output(ids.MESSAGE, "children", allow_duplicate=True),
          Output(ids.RELOAD, "data", allow_duplicate=True),
          Output(ids.PENDING, "data", allow_duplicate=True),
          Input(ids.CONFIRM, "submit_n_clicks"), State(ids.PENDING, "data"),
          State(ids.RELOAD, "data"), prevent_initial_call=True)
def revoke_link(_submit, token_id, reload):
    scope = region_scope()
    token_id = valid_id(token_id)
    if token_id is None:
        raise PreventUpdate
    try:
        with write() as conn:
            row = display_tokens.revoke(conn, scope, token_id, user_id=scope.user_id,
                                        now=datetime.now())
            # Filed under the link's region, like its issue, so both show in the same logs.
            audit.record(conn, "screen_token_revoke", user_id=scope.user_id, actor=_actor(),
                         region_code=row.region_code,
                         detail={"token_id": row.id, "label": row.label,
                                 "training": row.training_code or ""}, ip=client_ip())
    except TokenError as exc:
        return _error(str(exc)), next_reload(reload), None
    return view.message(f"已撤销大屏链接「{row.label}」", ok=True), next_reload(reload), None
