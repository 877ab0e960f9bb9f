"""Background export jobs (SPEC §6 导出管理, §8.3).

A download larger than the inline limit becomes a row in `export_jobs`; a background worker
(`yanxiu worker`: on a task queue when a broker is configured, else the local worker that
`serve` starts, see `dashboard.task_queue`) writes the file into the export directory while
the web workers keep serving. The table is the truth about every job: a worker takes a job
with one atomic update, beats a heartbeat while it writes, and a job whose heartbeat stops is
handed out once more, then marked 失败 (`recover_stalled`). The job stores the request as it was
authorized when it was created (training id, snapshot id, region or school code, filters);
the runner re-checks the binding and re-authorizes the request with its table's own scope
check (`download_tables`) before it reads anything.

Files are named from the job id and a random token (never from user input) and are kept for
seven days. A user only ever sees and downloads their own jobs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, case, delete, func, insert, select, update

from .download_tables import FORMATS, TABLES, DownloadTable, Malformed, snapshot_ready
from .export_writer import write_csv, write_xlsx
from .models import ExportJob
from .scope import NotFound, Scope, ScopeDenied, scope_of

KEEP = timedelta(days=7)  # a finished file can be downloaded this long
LISTED_AFTER_EXPIRY = timedelta(days=7)  # an expired job stays listed (已过期) this long
STALE_AFTER = timedelta(hours=12)  # a job still queued this long has no worker to run it
HEARTBEAT_EVERY = timedelta(seconds=10)  # a running job's worker says it is alive this often
STALLED_AFTER = timedelta(seconds=90)  # ... and is taken for dead after this much silence
RESUBMIT_AFTER = timedelta(minutes=10)  # a queued job is handed to the task queue again
MAX_ATTEMPTS = 2  # a job whose worker died is retried once
ORPHAN_AGE = timedelta(days=1)  # stray files in the export dir older than this are removed
PROGRESS_EVERY = 5000
MAX_ACTIVE_PER_USER = 3

STATUS_LABELS = {"queued": "排队中", "running": "导出中", "done": "已完成", "failed": "失败"}
EXPIRED_LABEL = "已过期"

ERR_SCOPE = "管理范围已变更，无法导出，请重新发起导出"
ERR_SNAPSHOT = "统计数据已更新，请重新发起导出"
ERR_INTERNAL = "导出失败（内部错误），请重新发起导出"
ERR_INTERRUPTED = "导出中断，请重新发起导出"
ERR_WORKER_LOST = "导出程序意外停止，重试后仍未完成，请重新发起导出"
ERR_QUEUE = "导出服务暂时不可用，请稍后重新发起导出"

FILE_PREFIX = "job-"
TMP_PREFIX = "tmp-"


class JobFailed(Exception):
    """A known reason for a job to fail; the message is shown to the user."""


@dataclass(frozen=True)
class JobRow:
    id: int
    user_id: int
    binding_id: int
    title: str
    table_name: str
    file_format: str
    status: str  # queued | running | done | failed (as stored)
    progress: int
    rows: int | None
    size: int | None
    file_name: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime
    expired: bool
    params: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> int | None:
        """Rows expected when the job was created."""
        return self.params.get("total")

    @property
    def status_label(self) -> str:
        return EXPIRED_LABEL if self.expired else STATUS_LABELS.get(self.status, self.status)

    @property
    def downloadable(self) -> bool:
        return self.status == "done" and not self.expired and bool(self.file_name)

    @property
    def download_name(self) -> str:
        safe = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in self.title)
        return f"{safe}.{self.file_format}"


_COLUMNS = (ExportJob.id, ExportJob.user_id, ExportJob.binding_id, ExportJob.title,
            ExportJob.table_name, ExportJob.file_format, ExportJob.status, ExportJob.progress,
            ExportJob.params, ExportJob.rows, ExportJob.size, ExportJob.file_path,
            ExportJob.error, ExportJob.created_at, ExportJob.finished_at, ExportJob.expires_at)


def _job_row(r, now: datetime) -> JobRow:
    try:
        params = json.loads(r.params)
    except ValueError:
        params = {}
    return JobRow(r.id, r.user_id, r.binding_id, r.title, r.table_name, r.file_format,
                  r.status, r.progress or 0, r.rows, r.size, r.file_path, r.error,
                  r.created_at, r.finished_at, r.expires_at, r.expires_at <= now,
                  params if isinstance(params, dict) else {})


# --------------------------------------------------------------------------- creating, listing


def job_params(table: DownloadTable, fmt: str, total: int) -> dict:
    """What a job stores of an authorized download to produce the same file later: the
    request (re-authorized when the job runs), the snapshot it read, the title row."""
    region, school = table.audit_scope()
    return {"args": table.args, "snapshot_id": table.snapshot_id, "region": region,
            "school": school, "format": fmt, "total": total, "title_line": table.title()}


def create_job(conn: Connection, user_id: int, binding_id: int, table_name: str,
               file_format: str, params: dict, title: str, *, now: datetime | None = None) -> int:
    """Queue a job; `params` as `job_params` makes them."""
    if table_name not in TABLES or file_format not in FORMATS:
        raise ValueError("unknown table or format")
    now = now or datetime.now()
    return conn.execute(
        insert(ExportJob).values(
            user_id=user_id, binding_id=binding_id, table_name=table_name,
            file_format=file_format, params=json.dumps(params, ensure_ascii=False),
            title=title[:400], status="queued", progress=0, created_at=now,
            expires_at=now + KEEP,
        ).returning(ExportJob.id)
    ).scalar_one()


def active_jobs(conn: Connection, user_id: int) -> int:
    """The user's jobs still queued or running."""
    return conn.scalar(select(func.count()).select_from(ExportJob).where(
        ExportJob.user_id == user_id, ExportJob.status.in_(("queued", "running"))))


def jobs_for_user(conn: Connection, user_id: int, *, now: datetime | None = None,
                  limit: int = 100) -> list[JobRow]:
    """Only this user's jobs, newest first; expired ones are flagged (已过期)."""
    now = now or datetime.now()
    rows = conn.execute(
        select(*_COLUMNS).where(ExportJob.user_id == user_id)
        .order_by(ExportJob.created_at.desc(), ExportJob.id.desc()).limit(limit))
    return [_job_row(r, now) for r in rows]


def job_for_download(conn: Connection, user_id: int, job_id: int, *,
                     now: datetime | None = None) -> JobRow | None:
    """The job if it is this user's own, finished and not expired; else None."""
    if isinstance(job_id, bool) or not isinstance(job_id, int) or not 0 < job_id < 2**31:
        return None
    r = conn.execute(select(*_COLUMNS).where(ExportJob.id == job_id,
                                             ExportJob.user_id == user_id)).first()
    if r is None:
        return None
    job = _job_row(r, now or datetime.now())
    return job if job.downloadable else None


def job_file(export_dir: Path, job: JobRow) -> Path | None:
    """The job's file inside the export directory, if it is there."""
    if not job.file_name or "/" in job.file_name or "\\" in job.file_name \
            or not job.file_name.startswith(FILE_PREFIX):
        return None
    path = Path(export_dir) / job.file_name
    return path if path.is_file() else None


# --------------------------------------------------------------------------- running


def _stored_args(params: dict) -> dict:
    """The request of a job; jobs queued by an earlier version stored the training table's
    fields one by one."""
    if isinstance(params.get("args"), dict):
        return params["args"]
    return {"training_code": params.get("training_code") or "",
            "region": params.get("region") or "", "school": params.get("school") or "",
            "stage": params.get("stage") or "", "subject": params.get("subject") or "",
            "q": params.get("q") or "",
            "uncertified": "exclude" if params.get("certified_only") else "include"}


def table_from_params(conn: Connection, scope: Scope, table_name: str,
                      params: dict) -> DownloadTable:
    """Rebuild the download, re-authorizing it against the scope exactly as its URL is."""
    try:
        return TABLES[table_name].authorize(conn, scope, _stored_args(params),
                                            snapshot_id=params.get("snapshot_id"))
    except NotFound as exc:
        raise JobFailed("培训不存在") from exc
    except (ScopeDenied, Malformed, KeyError) as exc:
        raise JobFailed(ERR_SCOPE) from exc


def _claim(engine: Engine, job_id: int) -> bool:
    """queued → running, atomically: a job is never run by two workers at once."""
    with engine.begin() as conn:
        return conn.execute(
            update(ExportJob).where(ExportJob.id == job_id, ExportJob.status == "queued")
            .values(status="running", progress=0, attempts=ExportJob.attempts + 1,
                    heartbeat_at=datetime.now())
        ).rowcount == 1


class _Heartbeat:
    """Stamps `heartbeat_at` of a running job every HEARTBEAT_EVERY from a thread, so that a
    job stays alive through a long query before its first row as well as while it writes."""

    def __init__(self, engine: Engine, job_id: int, every: timedelta = HEARTBEAT_EVERY):
        self._engine, self._job_id = engine, job_id
        self._every = every.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat",
                                        daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with self._engine.begin() as conn:
                    conn.execute(update(ExportJob).where(
                        ExportJob.id == self._job_id, ExportJob.status == "running",
                    ).values(heartbeat_at=datetime.now()))
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                pass


def next_queued(conn: Connection) -> int | None:
    """The oldest job waiting for a worker."""
    return conn.scalar(select(ExportJob.id).where(ExportJob.status == "queued")
                       .order_by(ExportJob.id).limit(1))


def recover_stalled(engine: Engine, *, now: datetime | None = None,
                    stalled_after: timedelta = STALLED_AFTER,
                    resubmit_after: timedelta | None = None) -> list[int]:
    """Jobs whose worker died: retried once (back to queued), then failed with a clear
    message. With `resubmit_after`, jobs queued longer than that are returned too (a broker
    that lost its messages on a restart must be given them again). Returns the ids to hand
    to the task queue; every change is conditional, so that callers racing each other hand
    out each job once."""
    now = now or datetime.now()
    cutoff = now - stalled_after
    out: list[int] = []
    with engine.begin() as conn:
        silent = conn.execute(select(ExportJob.id, ExportJob.attempts).where(
            ExportJob.status == "running",
            func.coalesce(ExportJob.heartbeat_at, ExportJob.created_at) < cutoff)).all()
        for job_id, attempts in silent:
            still_silent = (ExportJob.id == job_id, ExportJob.status == "running",
                            func.coalesce(ExportJob.heartbeat_at, ExportJob.created_at) < cutoff)
            if (attempts or 0) < MAX_ATTEMPTS:
                if conn.execute(update(ExportJob).where(*still_silent).values(
                        status="queued", progress=0, heartbeat_at=now)).rowcount:
                    out.append(job_id)
            else:
                conn.execute(update(ExportJob).where(*still_silent).values(
                    status="failed", error=ERR_WORKER_LOST, finished_at=now))
        if resubmit_after is not None:
            waiting = func.coalesce(ExportJob.heartbeat_at, ExportJob.created_at)
            for job_id, in conn.execute(select(ExportJob.id).where(
                    ExportJob.status == "queued", waiting < now - resubmit_after)).all():
                if conn.execute(update(ExportJob).where(
                        ExportJob.id == job_id, ExportJob.status == "queued",
                        waiting < now - resubmit_after).values(heartbeat_at=now)).rowcount:
                    out.append(job_id)
    return out


def release(engine: Engine, job_id: int) -> None:
    """Give a job back to the queue, as if it had not been taken: its worker is being
    stopped (a deployment, not a failure)."""
    with engine.begin() as conn:
        conn.execute(update(ExportJob).where(
            ExportJob.id == job_id, ExportJob.status == "running",
        ).values(status="queued", progress=0, heartbeat_at=datetime.now(),
                 attempts=case((ExportJob.attempts > 0, ExportJob.attempts - 1), else_=0)))


def mark_failed(engine: Engine, job_id: int, message: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(
            status="failed", error=message[:500], finished_at=datetime.now()))


def run_job(engine: Engine, job_id: int, export_dir: Path, *,
            heartbeat: timedelta = HEARTBEAT_EVERY) -> str:
    """Write a queued job's file; returns the final status ('done', 'failed', or the status
    the job already had when it was not queued). Runs in a background worker, never in a
    web worker."""
    if not _claim(engine, job_id):
        with engine.connect() as conn:
            return conn.scalar(select(ExportJob.status).where(ExportJob.id == job_id)) or "missing"
    export_dir = Path(export_dir)
    with _Heartbeat(engine, job_id, heartbeat):
        return _write_job(engine, job_id, export_dir)


def _write_job(engine: Engine, job_id: int, export_dir: Path) -> str:
    tmp: Path | None = None
    try:
        with engine.connect() as conn:
            job = conn.execute(select(*_COLUMNS).where(ExportJob.id == job_id)).one()
            params = json.loads(job.params)
            scope = scope_of(conn, job.user_id, job.binding_id)
            if scope is None:
                raise JobFailed(ERR_SCOPE)
            table = table_from_params(conn, scope, job.table_name, params)
            snapshot_id = table.snapshot_id
            if snapshot_id is not None and not snapshot_ready(conn, snapshot_id):
                raise JobFailed(ERR_SNAPSHOT)
            export_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            name = f"{FILE_PREFIX}{job_id}-{secrets.token_hex(8)}.{job.file_format}"
            tmp = export_dir / f"{TMP_PREFIX}{name}"

            def progress(n: int) -> None:
                with engine.begin() as c:
                    c.execute(update(ExportJob).where(ExportJob.id == job_id)
                              .values(progress=n))

            writer = write_xlsx if job.file_format == "xlsx" else write_csv
            rows = writer(tmp, params["title_line"], table.columns, table.rows(conn),
                          progress=progress, progress_every=PROGRESS_EVERY)
            conn.rollback()
            # The snapshot's rows must not have been purged while they were read.
            if snapshot_id is not None and not snapshot_ready(conn, snapshot_id):
                raise JobFailed(ERR_SNAPSHOT)
        final = export_dir / name
        os.replace(tmp, final)
        tmp = final
        size = final.stat().st_size
        with engine.begin() as conn:
            conn.execute(update(ExportJob).where(
                ExportJob.id == job_id, ExportJob.status == "running").values(
                status="done", progress=rows, rows=rows, size=size, file_path=name,
                finished_at=datetime.now(), error=None))
        return "done"
    except JobFailed as exc:
        _discard(tmp)
        mark_failed(engine, job_id, str(exc))
        return "failed"
    except Exception:  # noqa: BLE001 - any failure must end as a failed job, not a stuck one
        traceback.print_exc(file=sys.stderr)
        _discard(tmp)
        mark_failed(engine, job_id, ERR_INTERNAL)
        return "failed"
    except BaseException:  # the worker is being stopped: the job goes back to the queue
        _discard(tmp)
        with contextlib.suppress(Exception):
            release(engine, job_id)
        raise


def _discard(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


# --------------------------------------------------------------------------- housekeeping


def purge_expired(conn: Connection, export_dir: Path, *, now: datetime | None = None) -> int:
    """Delete the files of expired jobs, forget jobs long expired, fail interrupted jobs and
    remove stray files; returns the number of files removed."""
    now = now or datetime.now()
    export_dir = Path(export_dir)
    removed = 0
    expired = conn.execute(select(ExportJob.id, ExportJob.file_path).where(
        ExportJob.expires_at <= now, ExportJob.file_path.is_not(None))).all()
    for job_id, name in expired:
        removed += _remove(export_dir, name)
        conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(file_path=None))
    conn.execute(delete(ExportJob).where(ExportJob.expires_at <= now - LISTED_AFTER_EXPIRY))
    conn.execute(update(ExportJob).where(
        ExportJob.status.in_(("queued", "running")), ExportJob.created_at <= now - STALE_AFTER,
    ).values(status="failed", error=ERR_INTERRUPTED, finished_at=now))
    if export_dir.is_dir():
        known = {n for n, in conn.execute(
            select(ExportJob.file_path).where(ExportJob.file_path.is_not(None)))}
        cutoff = time.time() - ORPHAN_AGE.total_seconds()
        for path in export_dir.iterdir():
            if not path.name.startswith((FILE_PREFIX, TMP_PREFIX)) or path.name in known:
                continue
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                pass
    return removed


def _remove(export_dir: Path, name: str) -> int:
    if not name or "/" in name or "\\" in name:
        return 0
    try:
        (export_dir / name).unlink()
        return 1
    except FileNotFoundError:
        return 0
