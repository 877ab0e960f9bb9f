"""Downloads (SPEC §6), behind the same login and scope checks as the screens.

- Stable URLs, CSV or XLSX, streamed whatever their size: one route per table of
  `data_access.download_tables.TABLES` (`/export/training/<code>/regions.<csv|xlsx>`,
  `/export/training/<code>/teachers.<csv|xlsx>`, `/export/audit.<csv|xlsx>`, …).
- 导出管理: `POST /export/jobs` answers with the stable URL for a small table, or queues a
  background job (run in a separate process) for a large one; `GET /export/jobs` lists the
  caller's own jobs; `GET /export/jobs/<id>/download` streams a finished job's file.

Every export is audit-logged (who, scope, filters, rows), and so is every refused one.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from typing import Iterator, Mapping
from urllib.parse import parse_qsl, quote, urlsplit

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_file
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from data_access import audit
from data_access.accounts import active_bindings
from data_access.download_tables import FORMATS, TABLES, DownloadTable, Malformed
from data_access.export_jobs import (
    ERR_QUEUE,
    MAX_ACTIVE_PER_USER,
    TMP_PREFIX,
    JobRow,
    active_jobs,
    create_job,
    job_file,
    job_for_download,
    job_params,
    jobs_for_user,
    mark_failed,
)
from data_access.export_writer import csv_chunks, write_xlsx
from data_access.privacy import mask_account
from data_access.scope import NotFound, ScopeDenied

from .access import current_scope, engine, read, recover_jobs, write
from .errors import error_text, render_error
from .security import client_ip, csrf_valid

bp = Blueprint("exports", __name__)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMETYPES = {"csv": "text/csv", "xlsx": XLSX_MIME}
STREAM_CHUNK = 64 * 1024
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


# --------------------------------------------------------------------------- authorizing


def authorize(table: type[DownloadTable], values: Mapping[str, object]) -> DownloadTable:
    """The table's own scope check on the session's scope: 403 (audit-logged) outside it,
    404 for an unknown training, 400 for a malformed request."""
    scope = current_scope()
    try:
        with read() as conn:
            return table.authorize(conn, scope, values)
    except Malformed as exc:
        abort(400, str(exc))
    except NotFound:
        abort(404)
    except ScopeDenied as exc:
        reason = str(exc) if str(exc) in audit.DENIED_REASONS else "no region scope"
        with write() as conn:
            audit.record(conn, "export_denied", user_id=current_user.id,
                         actor=mask_account(current_user.account),
                         region_code=scope.region_code if scope else None,
                         school_code=scope.school_code if scope else None,
                         detail=table.denied_detail(values, reason),
                         ip=client_ip(), outcome="denied")
        abort(403)


def _audit_export(conn, table: DownloadTable, fmt: str, rows: int, **extra) -> None:
    region, school = table.audit_scope()
    audit.record(conn, "export", user_id=current_user.id,
                 actor=mask_account(current_user.account), region_code=region,
                 school_code=school, detail={**table.audit_detail(fmt, rows), **extra},
                 ip=client_ip())


def _disposition(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}


# --------------------------------------------------------------------------- stable URLs


def _flask_rule(table: type[DownloadTable]) -> str:
    return f"{table.path}.<fmt>"


def _stable_url_view(table: type[DownloadTable]):
    def view(fmt: str, **path_values):
        if fmt not in FORMATS:
            abort(404)
        return _download(table, fmt, {**request.args.to_dict(), **path_values})

    view.__name__ = f"download_{table.name}"
    return view


for _table in TABLES.values():
    bp.add_url_rule(_flask_rule(_table), view_func=_stable_url_view(_table), methods=["GET"])

# POST /export/jobs may name a table by its stable URL: the same rules, matched here.
_URLS = Map([Rule(_flask_rule(t), endpoint=t.name) for t in TABLES.values()])


def _download(table_cls: type[DownloadTable], fmt: str, values: Mapping[str, object]):
    table = authorize(table_cls, values)
    with read() as conn:
        count = table.count(conn)
    with write() as conn:
        _audit_export(conn, table, fmt, count)

    eng = engine()
    if fmt == "csv":
        def streamed() -> Iterator[list[str]]:
            # The connection lives as long as the response body is being sent.
            with eng.connect() as conn:
                yield from table.rows(conn)

        return Response(csv_chunks(table.title(), table.columns, streamed()),
                        mimetype="text/csv", headers=_disposition(table.filename(fmt)))
    return _xlsx_response(eng, table)


def _xlsx_response(eng, table: DownloadTable) -> Response:
    """Write the workbook to a temporary file (streaming, constant memory), then stream the
    file; it is unlinked as soon as it is opened, so nothing is left behind."""
    folder = _settings().export_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".xlsx", dir=folder)
    os.close(fd)
    try:
        with eng.connect() as conn:
            write_xlsx(tmp, table.title(), table.columns, table.rows(conn))
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
                        headers={**_disposition(table.filename("xlsx")),
                                 "Content-Length": str(size)})
    response.call_on_close(fh.close)
    return response


# --------------------------------------------------------------------------- 导出管理


def _requested() -> tuple[type[DownloadTable], str, dict]:
    """The table, format and request of a POST /export/jobs body: `{"url": <stable URL>}`
    (what the 导出 buttons send), or `{"table", "format", <the table's parameters>}`."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    if "url" in body:
        url = body["url"]
        if not isinstance(url, str) or len(url) > 2000:
            abort(400)
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            abort(400)
        try:
            name, path_values = _URLS.bind("localhost").match(parts.path, method="GET")
        except HTTPException:
            abort(400)
        table_cls = TABLES[name]
        fmt = path_values.pop("fmt")
        values = {**dict(parse_qsl(parts.query, keep_blank_values=True)), **path_values}
    else:
        name, fmt = body.get("table"), body.get("format")
        if not isinstance(name, str) or name not in TABLES:
            abort(400)
        table_cls = TABLES[name]
        # The training tables' path value is also accepted under its short name.
        values = {k: v for k, v in body.items() if k not in ("table", "format")}
        if "training" in values and "training_code" not in values:
            values["training_code"] = values.pop("training")
    if fmt not in FORMATS:
        abort(400)
    for key in table_cls.keys():
        value = values.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            abort(400)
    return table_cls, fmt, values


@bp.post("/export/jobs")
def create_export_job():
    """Small tables are downloaded at once (the answer names the stable URL); larger ones
    become a background job whose file appears in 导出管理."""
    if not csrf_valid(request.headers.get("X-CSRFToken")):
        abort(403)
    table_cls, fmt, values = _requested()
    table = authorize(table_cls, values)
    url = table.url(fmt)
    if not table.background:  # a table that is never large
        return jsonify(mode="inline", url=url)
    with read() as conn:
        count = table.count(conn)
    if count <= _settings().inline_export_limit:
        return jsonify(mode="inline", url=url, rows=count)
    scope = current_scope()
    with write() as conn:
        if active_jobs(conn, current_user.id) >= MAX_ACTIVE_PER_USER:
            abort(429)
        job_id = create_job(conn, current_user.id, scope.binding_id, table.name, fmt,
                            job_params(table, fmt, count), table.label_text())
        _audit_export(conn, table, fmt, count, job_id=job_id)
    try:
        current_app.extensions["yanxiu"].job_queue.submit(job_id)
    except Exception:  # noqa: BLE001 - the broker is down: say so, leave no job waiting
        current_app.logger.exception("could not queue export job %s", job_id)
        mark_failed(engine(), job_id, ERR_QUEUE)
        return jsonify(error=ERR_QUEUE), 503
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
    recover_jobs()
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
