"""Stable download URLs (SPEC §6), behind the same login and scope checks as the screens."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort, request
from flask_login import current_user

from data_access import audit
from data_access.audit import entries_in_scope
from data_access.exports import csv_chunks, title_line
from data_access.privacy import mask_account
from data_access.refresh import current_snapshot
from data_access.scope import NotFound, ScopeDenied, authorize_region, authorize_training
from data_access.stats import (
    StatsFilters,
    region_table,
    region_table_header,
    region_table_records,
    region_table_values,
)
from data_access.vocab import STAGES, SUBJECTS

from .access import current_scope, read, write
from .security import client_ip

bp = Blueprint("exports", __name__)


def _filters() -> StatsFilters:
    stage = request.args.get("stage", "")
    subject = request.args.get("subject", "")
    uncertified = request.args.get("uncertified", "include") or "include"
    if stage not in ("", *STAGES) or subject not in ("", *SUBJECTS) or uncertified not in (
        "include", "exclude"
    ):
        abort(400, "筛选条件无效")
    return StatsFilters(stage, subject, uncertified == "exclude")


def _deny(reason: str, training_code: str):
    scope = current_scope()
    with write() as conn:
        audit.record(conn, "export_denied", user_id=current_user.id,
                     actor=mask_account(current_user.account),
                     region_code=scope.region_code if scope else None,
                     detail={"training": training_code[:40], "reason": reason,
                             "region": request.args.get("region", "")[:40]},
                     ip=client_ip(), outcome="denied")
    abort(403)


@bp.get("/export/training/<training_code>/regions.<fmt>")
def regions_export(training_code: str, fmt: str):
    if fmt != "csv":
        abort(404)
    scope = current_scope()
    if scope is None or scope.is_school:
        _deny("no region scope", training_code)
    f = _filters()
    with read() as conn:
        try:
            training = authorize_training(conn, scope, training_code)
        except NotFound:
            abort(404)
        try:
            region = authorize_region(conn, scope, request.args.get("region") or None)
        except ScopeDenied:
            region = None
        if region is not None:
            snap = current_snapshot(conn)
            records = [] if snap is None else region_table_records(
                region_table(conn, snap[0], training, region, f))
            updated = "尚未生成" if snap is None else f"{snap[1]:%Y-%m-%d %H:%M:%S}"
    if region is None:
        _deny("region outside scope", training_code)
    title = title_line(
        training.name,
        region.name,
        {"学段": f.stage or "全部", "学科领域": f.subject or "全部",
         "未通过认证教师": "不包含" if f.certified_only else "包含"},
        updated,
    )
    with write() as conn:
        audit.record(conn, "export", user_id=current_user.id,
                     actor=mask_account(current_user.account), region_code=region.code,
                     detail={"table": "regions", "training": training.code, "format": fmt,
                             "stage": f.stage, "subject": f.subject,
                             "certified_only": f.certified_only, "rows": len(records)},
                     ip=client_ip())
    filename = f"{training.name}-{region.name}-按区域查看.csv"
    body = csv_chunks(title, region_table_header(), (region_table_values(r) for r in records))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@bp.get("/export/audit.csv")
def audit_export():
    """操作日志 of the caller's own region scope (a `region` parameter is never honoured)."""
    scope = current_scope()
    if scope is None or scope.is_school:
        _deny("no region scope", "audit")
    with read() as conn:
        rows = entries_in_scope(conn, scope.region_code, limit=100_000)
    with write() as conn:
        audit.record(conn, "export", user_id=current_user.id,
                     actor=mask_account(current_user.account), region_code=scope.region_code,
                     detail={"table": "audit", "format": "csv", "rows": len(rows)}, ip=client_ip())
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    body = csv_chunks(
        f"操作日志 · {scope.name} · 导出时间：{now}",
        ["时间", "操作人", "操作", "范围", "结果", "详情"],
        ([f"{r.at:%Y-%m-%d %H:%M:%S}", r.actor, r.action, r.scope_name, r.outcome, r.detail]
         for r in rows),
    )
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'{scope.name}-操作日志.csv')}"})
