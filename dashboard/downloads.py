"""Downloads (SPEC §6), behind the same login and scope checks as the screens.

- Stable URLs for the two training tables, CSV or XLSX, streamed whatever their size:
  `/export/training/<code>/regions.<csv|xlsx>` and `/export/training/<code>/teachers.<csv|xlsx>`.
- 导出管理: `POST /export/jobs` answers with the stable URL for a small table, or queues a
  background job (run in a separate process) for a large one; `GET /export/jobs` lists the
  caller's own jobs; `GET /export/jobs/<id>/download` streams a finished job's file.

Every export is audit-logged (who, scope, filters, rows).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from typing import Iterable, Iterator, Mapping
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_file
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from data_access import audit
from data_access.accounts import active_bindings
from data_access.audit import COLUMNS as AUDIT_COLUMNS
from data_access.audit import entries_in_scope
from data_access.download_tables import (
    FORMATS,
    TABLES,
    ExportRequest,
    updated_text,
)
from data_access.export_writer import Column, csv_chunks, write_xlsx
from data_access.export_jobs import (
    MAX_ACTIVE_PER_USER,
    TMP_PREFIX,
    JobRow,
    active_jobs,
    create_job,
    job_file,
    job_for_download,
    jobs_for_user,
)
from data_access.privacy import mask_account
from data_access.refresh import current_snapshot
from data_access.rules import is_region_admin
from data_access.regions import school_name
from data_access.scope import (
    NotFound,
    ScopeDenied,
    authorize_region,
    authorize_school,
    authorize_training,
)
from data_access.stats import StatsFilters
from data_access.participants import NAME_QUERY_MAX
from data_access.vocab import STAGES, SUBJECTS

from . import job_launcher
from .errors import error_text, render_error
from .access import current_scope, engine, read, write
from .security import client_ip, csrf_valid

bp = Blueprint("exports", __name__)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMETYPES = {"csv": "text/csv", "xlsx": XLSX_MIME}
STREAM_CHUNK = 64 * 1024
REQUEST_FIELDS = ("training", "region", "school", "stage", "subject", "q", "uncertified")
JSON_ERRORS = {
    400: "请求参数无效",
    403: "无权导出该范围的数据",
    404: "导出文件不存在或已过期",
    405: "请求方式无效",
    429: f"进行中的导出任务已达 {MAX_ACTIVE_PER_USER} 个，请等待完成后再试",
    500: "导出任务启动失败，请稍后再试",
}


def _settings():
    return current_app.extensions["yanxiu"].settings


@bp.errorhandler(HTTPException)
def _errors(exc: HTTPException):
    """导出管理 is called from scripts and the page's JavaScript: it answers JSON errors."""
    if request.path.startswith("/export/jobs"):
        return jsonify(error=JSON_ERRORS.get(exc.code, exc.name)), exc.code
    # A download link opened in the browser: the product's error page.
    title, text = error_text(exc)
    if exc.code == 403:
        text = "无权导出该范围的数据：只能导出您管理范围内的数据。"
    return render_error(exc.code or 500, title, text)


# --------------------------------------------------------------------------- request checks


def _filters(values: Mapping[str, str] | None = None) -> StatsFilters:
    values = request.args if values is None else values
    stage = values.get("stage", "")
    subject = values.get("subject", "")
    uncertified = values.get("uncertified", "include") or "include"
    if stage not in ("", *STAGES) or subject not in ("", *SUBJECTS) or uncertified not in (
        "include", "exclude"
    ):
        abort(400, "筛选条件无效")
    return StatsFilters(stage, subject, uncertified == "exclude")


def _name_query(values: Mapping[str, str]) -> str:
    q = (values.get("q") or "").strip()
    if len(q) > NAME_QUERY_MAX:
        abort(400, "姓名查询过长")
    return q


def _deny(reason: str, training_code: str, values: Mapping[str, str] | None = None):
    values = request.args if values is None else values
    scope = current_scope()
    with write() as conn:
        audit.record(conn, "export_denied", user_id=current_user.id,
                     actor=mask_account(current_user.account),
                     region_code=scope.region_code if scope else None,
                     school_code=scope.school_code if scope else None,
                     detail={"training": training_code[:40], "reason": reason,
                             "region": (values.get("region") or "")[:40],
                             "school": (values.get("school") or "")[:40]},
                     ip=client_ip(), outcome="denied")
    abort(403)


def _authorize(table: str, training_code: str, values: Mapping[str, str]):
    """The authorized export request and the snapshot it reads: 403 outside the caller's
    scope, 404 for an unknown training, 400 for malformed filters."""
    scope = current_scope()
    if scope is None or (table == "regions" and not is_region_admin(scope)):
        _deny("no region scope", training_code, values)
    f = _filters(values)
    q = _name_query(values) if table == "teachers" else ""
    region_arg = values.get("region") or ""
    school_arg = (values.get("school") or "") if table == "teachers" else ""
    if region_arg and school_arg:
        abort(400, "区域与学校只能指定其一")
    req = None
    with read() as conn:
        try:
            training = authorize_training(conn, scope, training_code)
        except NotFound:
            abort(404)
        try:
            if school_arg or (table == "teachers" and scope.is_school and not region_arg):
                code = authorize_school(conn, scope, school_arg or None)
                req = ExportRequest(table, training, f, school_name(conn, code) or code,
                                    school_code=code, q=q)
            else:
                region = authorize_region(conn, scope, region_arg or None)
                try:
                    req = ExportRequest(table, training, f, region.name, region=region, q=q)
                except ValueError:
                    abort(400, "该区域不支持按学员导出")
        except ScopeDenied:
            req = None
        snap = current_snapshot(conn) if req is not None else None
    if req is None:
        _deny("school outside scope" if school_arg else "region outside scope", training_code,
              values)
    return req, snap


def _audit_export(conn, req: ExportRequest, fmt: str, rows: int, **extra) -> None:
    f = req.filters
    detail = {"table": req.table, "training": req.training.code, "format": fmt,
              "stage": f.stage, "subject": f.subject, "certified_only": f.certified_only,
              "rows": rows, **extra}
    if req.school_code is not None:
        detail["school"] = req.school_code
    if req.q:
        # A name is personal data: the log keeps only that a name filter was used.
        detail["name"] = req.q[0] + "*" * (len(req.q) - 1)
    audit.record(conn, "export", user_id=current_user.id,
                 actor=mask_account(current_user.account),
                 region_code=req.region.code if req.region is not None else None,
                 school_code=req.school_code, detail=detail, ip=client_ip())


def stable_url(req: ExportRequest, fmt: str) -> str:
    params = ({"school": req.school_code} if req.school_code is not None
              else {"region": req.region.code})
    params.update(stage=req.filters.stage, subject=req.filters.subject)
    if req.table == "teachers":
        params["q"] = req.q
    params["uncertified"] = "exclude" if req.filters.certified_only else "include"
    return (f"/export/training/{quote(req.training.code, safe='')}/{req.table}.{fmt}?"
            + urlencode(params))


def _disposition(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}


# --------------------------------------------------------------------------- stable URLs


@bp.get("/export/training/<training_code>/regions.<fmt>")
def regions_export(training_code: str, fmt: str):
    return _download("regions", training_code, fmt)


@bp.get("/export/training/<training_code>/teachers.<fmt>")
def teachers_export(training_code: str, fmt: str):
    return _download("teachers", training_code, fmt)


def _download(table: str, training_code: str, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    req, snap = _authorize(table, training_code, request.args)
    snapshot_id = snap[0] if snap else None
    title = req.title(updated_text(snap[1] if snap else None))
    with read() as conn:
        if table == "regions":
            values = req.region_values(conn, snapshot_id)
            count = len(values)
        else:
            values = None
            count = req.count(conn, snapshot_id)
    with write() as conn:
        _audit_export(conn, req, fmt, count)

    eng = engine()

    def rows(conn) -> Iterable[list[str]]:
        return values if values is not None else req.rows(conn, snapshot_id)

    if fmt == "csv":
        def streamed() -> Iterator[list[str]]:
            # The connection lives as long as the response body is being sent.
            with eng.connect() as conn:
                yield from rows(conn)

        return Response(csv_chunks(title, req.columns(), streamed()), mimetype="text/csv",
                        headers=_disposition(req.filename(fmt)))
    return _xlsx_response(eng, title, req, rows)


def _xlsx_response(eng, title: str, req: ExportRequest, rows) -> Response:
    """Write the workbook to a temporary file (streaming, constant memory), then stream the
    file; it is unlinked as soon as it is opened, so nothing is left behind."""
    folder = _settings().export_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".xlsx", dir=folder)
    os.close(fd)
    try:
        with eng.connect() as conn:
            write_xlsx(tmp, title, req.columns(), rows(conn))
        fh = open(tmp, "rb")
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    size = os.fstat(fh.fileno()).st_size

    def body() -> Iterator[bytes]:
        try:
            while chunk := fh.read(STREAM_CHUNK):
                yield chunk
        finally:
            fh.close()

    response = Response(body(), mimetype=XLSX_MIME,
                        headers={**_disposition(req.filename("xlsx")),
                                 "Content-Length": str(size)})
    response.call_on_close(fh.close)
    return response


# --------------------------------------------------------------------------- 导出管理


def _body_values() -> dict[str, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    values = {}
    for key in ("table", "format", *REQUEST_FIELDS):
        value = body.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str) or len(value) > 200:
            abort(400)
        values[key] = value
    if values["table"] not in TABLES or values["format"] not in FORMATS:
        abort(400)
    return values


@bp.post("/export/jobs")
def create_export_job():
    """Small tables are downloaded at once (the answer names the stable URL); larger ones
    become a background job whose file appears in 导出管理."""
    if not csrf_valid(request.headers.get("X-CSRFToken")):
        abort(403)
    values = _body_values()
    table, fmt = values["table"], values["format"]
    req, snap = _authorize(table, values["training"], values)
    url = stable_url(req, fmt)
    if table == "regions":  # a region table has at most a few hundred rows
        return jsonify(mode="inline", url=url)
    snapshot_id = snap[0] if snap else None
    with read() as conn:
        count = req.count(conn, snapshot_id)
    if count <= _settings().inline_export_limit:
        return jsonify(mode="inline", url=url, rows=count)
    scope = current_scope()
    with write() as conn:
        if active_jobs(conn, current_user.id) >= MAX_ACTIVE_PER_USER:
            abort(429)
        params = {**req.params(snapshot_id), "format": fmt, "total": count,
                  "title_line": req.title(updated_text(snap[1] if snap else None))}
        job_id = create_job(conn, current_user.id, scope.binding_id, table, fmt, params,
                            req.label())
        _audit_export(conn, req, fmt, count, job_id=job_id)
    try:
        job_launcher.start_job(job_id)
    except OSError:
        current_app.logger.exception("could not start export job %s", job_id)
        abort(500)
    return jsonify(mode="job", job_id=job_id, rows=count), 202


def _size_text(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _when(value: datetime | None) -> str | None:
    return None if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _job_json(job: JobRow, bindings: set[int]) -> dict:
    usable = job.downloadable and job.binding_id in bindings
    return {
        "id": job.id,
        "title": job.title,
        "table": job.table_name,
        "format": job.file_format,
        "status": job.status_label,
        "state": "expired" if job.expired else job.status,
        "progress": job.progress,
        "total": job.total,
        "rows": job.rows,
        "size": job.size,
        "size_text": _size_text(job.size),
        "created_at": _when(job.created_at),
        "finished_at": _when(job.finished_at),
        "expires_at": _when(job.expires_at),
        "error": job.error,
        "url": f"/export/jobs/{job.id}/download" if usable else None,
    }


@bp.get("/export/jobs")
def list_export_jobs():
    """The caller's own jobs, newest first (never anybody else's)."""
    if current_scope() is None:
        abort(403)
    with read() as conn:
        jobs = jobs_for_user(conn, current_user.id)
        bindings = {b.id for b in active_bindings(conn, current_user.id)}
    return jsonify(jobs=[_job_json(j, bindings) for j in jobs])


@bp.get("/export/jobs/<int:job_id>/download")
def download_export_job(job_id: int):
    """A finished job's file: only the owner's, not expired, and only while the binding it was
    exported under is still held."""
    if current_scope() is None:
        abort(403)
    with read() as conn:
        job = job_for_download(conn, current_user.id, job_id)
        if job is not None and job.binding_id not in {
                b.id for b in active_bindings(conn, current_user.id)}:
            job = None
    path = job_file(_settings().export_dir, job) if job is not None else None
    if path is None:
        abort(404)
    with write() as conn:
        audit.record(conn, "export_download", user_id=current_user.id,
                     actor=mask_account(current_user.account),
                     region_code=job.params.get("region"), school_code=job.params.get("school"),
                     detail={"job_id": job.id, "table": job.table_name,
                             "format": job.file_format, "rows": job.rows},
                     ip=client_ip())
    return send_file(path, mimetype=MIMETYPES[job.file_format], as_attachment=True,
                     download_name=job.download_name, max_age=0)


# --------------------------------------------------------------------------- audit log


@bp.get("/export/audit.csv")
def audit_export():
    """操作日志 of the caller's own region scope (a `region` parameter is never honoured),
    with the columns and sentences of the screen."""
    scope = current_scope()
    if not is_region_admin(scope):
        with write() as conn:
            audit.record(conn, "export_denied", user_id=current_user.id,
                         actor=mask_account(current_user.account),
                         school_code=scope.school_code if scope else None,
                         detail={"table": "audit", "reason": "no region scope"},
                         ip=client_ip(), outcome="denied")
        abort(403)
    with read() as conn:
        rows = entries_in_scope(conn, scope.region_code, limit=100_000)
    with write() as conn:
        audit.record(conn, "export", user_id=current_user.id,
                     actor=mask_account(current_user.account), region_code=scope.region_code,
                     detail={"table": "audit", "format": "csv", "rows": len(rows)}, ip=client_ip())
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    keys = [key for key, _ in AUDIT_COLUMNS]
    body = csv_chunks(
        f"操作日志 · {scope.name} · 导出时间：{now}",
        [Column(label) for _, label in AUDIT_COLUMNS],
        ([cells[k] for k in keys] for cells in (r.cells() for r in rows)),
    )
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'{scope.name}-操作日志.csv')}"})
