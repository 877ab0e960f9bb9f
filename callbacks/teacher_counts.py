"""专任教师数: the figures of the session's region, and the upload — previewed (a dry run of
the import), then committed — that changes them.

The region is always the session's own (no callback takes a region from the browser). The
uploaded file travels with each request (dcc.Upload keeps it in the browser), so 确认导入
checks everything again: what is committed is what passes the import's rules at that moment.
"""

from __future__ import annotations

import base64
import binascii
import shutil
import tempfile
from pathlib import Path

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask import current_app
from flask_login import current_user

from data_access import audit
from data_access import teacher_counts as tc
from data_access.download_tables import snapshot_time, updated_text
from data_access.importers import ImportRefused
from data_access.privacy import mask_account
from data_access.refresh import current_snapshot
from data_access.rules import is_region_admin
from data_access.scope import ScopeDenied, authorize_region
from dashboard.access import engine, read, require_scope
from dashboard.security import client_ip
from layouts import teacher_counts as view
from layouts.admin_pages import message
from layouts.ids import TeacherCounts as ids

from . import callback, next_reload

HIDDEN = view.HIDDEN
SHOWN: dict = {}
REGION_ONLY = "专任教师数仅对区域管理员开放。"
# A data URL of at most UPLOAD_MAX_BYTES: base64 is 4/3 of the bytes, plus its header.
MAX_CONTENTS = tc.UPLOAD_MAX_BYTES * 4 // 3 + 1024


def _region(conn, scope):
    if not is_region_admin(scope):
        raise ScopeDenied("no region scope")
    return authorize_region(conn, scope, None)


def _updated(conn) -> str:
    snap = current_snapshot(conn)
    return updated_text(snapshot_time(conn, snap[0] if snap else None))


@callback(
    Output(ids.UPDATED, "children"),
    Output(ids.MISSING_GRID, "rowData"),
    Output(ids.MISSING_SUMMARY, "children"),
    Output(ids.FIGURES_GRID, "rowData"),
    Output(ids.FIGURES_SUMMARY, "children"),
    Input(ids.RELOAD, "data"),
)
def render_figures(_reload):
    """The current figures of the region's subtree and the regions whose 参训率 shows `—`."""
    scope = require_scope()
    with read() as conn:
        try:
            region = _region(conn, scope)
        except ScopeDenied:
            return REGION_ONLY, [], "", [], ""
        rows = tc.figures_table(conn, region)
        updated = _updated(conn)
    missing = tc.missing_regions(rows)
    missing_records = [{"row_id": r.region_code, "region_name": r.region_name,
                        "path": r.path, "reason": r.reason} for r in missing]
    regions = sum(1 for r in rows if r.stage == "")
    given = sum(1 for r in rows if r.own is not None)
    return (view.updated_note(updated), missing_records,
            f"共 {len(missing)} 个" if missing else "无",
            [tc.figure_record(r) for r in rows],
            f"共 {regions} 个区域，已填报 {given} 个数字")


def _decode(contents, filename) -> tuple[bytes, str]:
    """The uploaded bytes and the file's clean name; UploadRefused with a Chinese reason."""
    name = tc.clean_filename(filename)
    if not isinstance(contents, str):
        raise tc.UploadRefused("无法读取上传的文件，请重新选择文件")
    if len(contents) > MAX_CONTENTS:
        raise tc.UploadRefused(f"文件过大：最大 {tc.UPLOAD_MAX_BYTES // 2**20} MB")
    head, sep, body = contents.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise tc.UploadRefused("无法读取上传的文件，请重新选择文件")
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise tc.UploadRefused("无法读取上传的文件，请重新选择文件") from None
    tc.check_size(len(data))
    return data, name


class _Saved:
    """The upload in a private temporary folder for as long as the import reads it."""

    def __init__(self, data: bytes, name: str):
        self.data, self.suffix = data, Path(name).suffix.lower()

    def __enter__(self) -> Path:
        self.folder = Path(tempfile.mkdtemp(prefix="yanxiu-upload-"))
        path = self.folder / f"upload{self.suffix}"
        path.write_bytes(self.data)
        return path

    def __exit__(self, *exc):
        shutil.rmtree(self.folder, ignore_errors=True)


def _id_key() -> bytes:
    return current_app.extensions["yanxiu"].settings.id_hash_key.encode()


def _preview_records(preview: tc.Preview) -> list[dict]:
    return [{"row_id": str(r.row), "row": r.row, "region_code": r.region_code,
             "region_name": r.region_name, "stage": r.stage, "count": r.count,
             "current": r.current, "outcome": r.outcome, "errors": "；".join(r.errors)}
            for r in preview.rows]


def _outcome_counts(preview: tc.Preview) -> dict[str, int]:
    counts = {tc.OUTCOME_NEW: 0, tc.OUTCOME_CHANGED: 0, tc.OUTCOME_SAME: 0,
              tc.OUTCOME_BLANK: 0, tc.OUTCOME_ERROR: 0, tc.OUTCOME_UNLISTED: 0}
    for r in preview.rows:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts


@callback(
    Output(ids.UPLOAD_MESSAGE, "children"),
    Output(ids.PREVIEW_PANEL, "style"),
    Output(ids.PREVIEW_SUMMARY, "children"),
    Output(ids.PREVIEW_ERRORS, "children"),
    Output(ids.PREVIEW_GRID, "rowData"),
    Output(ids.CONFIRM, "disabled"),
    Output(ids.RESULT, "children"),
    Input(ids.UPLOAD, "contents"),
    Input(ids.CANCEL, "n_clicks"),
    State(ids.UPLOAD, "filename"),
    prevent_initial_call=True,
)
def preview_upload(contents, _cancel, filename):
    """Every row of the uploaded file with what 确认导入 would do, and every error in
    Chinese; nothing is written."""
    scope = require_scope()
    if ctx.triggered_id == ids.CANCEL:
        return None, HIDDEN, None, None, [], True, None
    if contents is None:  # cleared by 确认导入, whose result stays on screen
        return None, HIDDEN, None, None, [], True, no_update
    with read() as conn:
        try:
            region = _region(conn, scope)
        except ScopeDenied:
            return message(REGION_ONLY, ok=False), HIDDEN, None, None, [], True, None
    try:
        data, name = _decode(contents, filename)
    except tc.UploadRefused as exc:
        return message(f"未能读取文件：{exc}", ok=False), HIDDEN, None, None, [], True, None
    try:
        with _Saved(data, name) as path:
            preview = tc.preview_upload(engine(), region, path, name, _id_key())
    except tc.UploadRefused as exc:
        return message(f"未能导入文件：{exc}", ok=False), HIDDEN, None, None, [], True, None
    summary = view.preview_summary(name, len(preview.rows), _outcome_counts(preview),
                                   preview.error_total, preview.changes)
    ready = preview.ok and preview.changes > 0
    return (None, SHOWN, summary, view.error_list(preview.errors, preview.error_total),
            _preview_records(preview), not ready, None)


@callback(
    Output(ids.RESULT, "children", allow_duplicate=True),
    Output(ids.PREVIEW_PANEL, "style", allow_duplicate=True),
    Output(ids.UPLOAD, "contents"),
    Output(ids.RELOAD, "data"),
    Input(ids.CONFIRM, "n_clicks"),
    State(ids.UPLOAD, "contents"),
    State(ids.UPLOAD, "filename"),
    State(ids.RELOAD, "data"),
    prevent_initial_call=True,
)
def commit_upload(n_clicks, contents, filename, reload):
    """确认导入: the whole file in one transaction, audit-logged; or nothing, with the errors."""
    scope = require_scope()
    clicked = isinstance(n_clicks, int) and not isinstance(n_clicks, bool) and n_clicks > 0
    if not clicked or contents is None:
        raise PreventUpdate
    with read() as conn:
        try:
            region = _region(conn, scope)
        except ScopeDenied:
            return message(REGION_ONLY, ok=False), HIDDEN, None, no_update
    try:
        data, name = _decode(contents, filename)
    except tc.UploadRefused as exc:
        return message(f"未能读取文件：{exc}", ok=False), HIDDEN, None, no_update
    actor, ip = mask_account(current_user.account), client_ip()

    def record(conn, result):
        # In the import's own transaction: the figures and their audit entry, or neither.
        if result.inserted or result.updated:
            audit.record(conn, "teacher_counts_import", user_id=scope.user_id, actor=actor,
                         region_code=region.code, ip=ip,
                         detail={"file": name, "rows": result.rows,
                                 "inserted": result.inserted, "updated": result.updated,
                                 "unchanged": result.unchanged, "skipped": result.skipped})

    try:
        with _Saved(data, name) as path:
            result = tc.commit_upload(engine(), region, path, name, _id_key(), scope.user_id,
                                      before_commit=record)
    except ImportRefused as refused:
        first = "；".join(tc.chinese_message(e) for e in refused.errors[:3])
        return (message(f"未导入：发现 {refused.total} 个错误（{first}）。请重新上传改正后的文件。",
                        ok=False), HIDDEN, None, no_update)
    except tc.UploadRefused as exc:
        return message(f"未导入：{exc}", ok=False), HIDDEN, None, no_update
    if not (result.inserted or result.updated):
        return (message(f"「{name}」中的数字与当前数字相同，没有需要导入的修改。", ok=True),
                HIDDEN, None, no_update)
    done = (f"已导入「{name}」：新增 {result.inserted} 个、修改 {result.updated} 个数字，"
            f"{result.unchanged} 个不变。统计页面在下次数据更新后采用新数字。")
    return message(done, ok=True), HIDDEN, None, next_reload(reload)

