"""导出管理: lists only the signed-in user's own jobs."""

from __future__ import annotations

from dash import Input, Output
from flask_login import current_user

from data_access.metrics import MINUTE_TIME
from data_access.export_jobs import jobs_for_user
from data_access.metrics import integer, percent
from dashboard.access import read, recover_jobs, require_scope
from layouts.exports_page import size_text
from layouts.ids import Exports

from . import callback

TIME = MINUTE_TIME
ACTIVE = ("queued", "running")


def _progress(job) -> str:
    """`35%` while a job runs, `100%` once its file is written."""
    if job.status == "done":
        return "100%"
    if job.status in ACTIVE and job.total:
        return percent(min(job.progress, job.total), job.total, 0)
    return ""


@callback(Output(Exports.GRID, "rowData"), Input(Exports.TICK, "n_intervals"))
def job_rows(_tick):
    require_scope()
    recover_jobs()
    with read() as conn:
        jobs = jobs_for_user(conn, current_user.id)
    return [
        {"id": j.id, "title": j.title, "format": j.file_format.upper(), "status": j.status_label,
         "progress": _progress(j),
         # the rows being written while the job runs, the file's rows once done
         "rows": integer(j.rows if j.rows is not None else j.total) if (
             j.rows is not None or j.status in ACTIVE) else "",
         "size": size_text(j.size),
         "created_at": j.created_at.strftime(TIME), "expires_at": j.expires_at.strftime(TIME),
         "download_url": f"/export/jobs/{j.id}/download" if j.downloadable else None,
         # The cell shows 下载 once the file is ready; its value must change for the grid to
         # redraw it.
         "action": "下载" if j.downloadable else (j.error or "")}
        for j in jobs
    ]
