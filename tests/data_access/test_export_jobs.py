"""The job table's own rules: a job is taken once, a silent worker's job is retried once and
then fails, a broker's lost message is handed out again, a stopped worker gives its job back."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from data_access import export_jobs as jobs
from data_access.models import ExportJob
from data_access.refresh import refresh
from tests.helpers import build_dataset, make_admin


@pytest.fixture
def queued_job(engine):
    """A queued export of the whole province's teacher list, as POST /export/jobs stores it."""
    from data_access.accounts import active_bindings, user_by_account
    from data_access.download_tables import TABLES
    from data_access.scope import scope_of

    build_dataset(engine)
    refresh(engine)
    account = make_admin(engine, "region_training", "350000")
    with engine.begin() as conn:
        user = user_by_account(conn, account)
        binding = active_bindings(conn, user.id)[0]
        scope = scope_of(conn, user.id, binding.id)
        table = TABLES["teachers"].authorize(conn, scope, {"training_code": "T2022"})
        count = table.count(conn)
        job_id = jobs.create_job(conn, user.id, binding.id, "teachers", "csv",
                                 jobs.job_params(table, "csv", count), table.label_text())
    return job_id


def _job(engine, job_id):
    with engine.connect() as conn:
        return conn.execute(select(ExportJob.__table__).where(ExportJob.id == job_id)).one()


def _as_if_taken(engine, job_id, *, attempts: int, silent_for: timedelta):
    with engine.begin() as conn:
        conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(
            status="running", attempts=attempts, heartbeat_at=datetime.now() - silent_for))


def test_a_silent_job_is_retried_once_then_fails(engine, queued_job, tmp_path):
    _as_if_taken(engine, queued_job, attempts=1, silent_for=timedelta(seconds=30))
    # a worker that spoke 30 s ago is alive
    assert jobs.recover_stalled(engine) == []
    assert _job(engine, queued_job).status == "running"

    _as_if_taken(engine, queued_job, attempts=1, silent_for=timedelta(minutes=5))
    assert jobs.recover_stalled(engine) == [queued_job]
    job = _job(engine, queued_job)
    assert (job.status, job.attempts, job.error) == ("queued", 1, None)
    # a second sweep finds nothing more to do
    assert jobs.recover_stalled(engine) == []

    _as_if_taken(engine, queued_job, attempts=2, silent_for=timedelta(minutes=5))
    assert jobs.recover_stalled(engine) == []
    job = _job(engine, queued_job)
    assert job.status == "failed" and job.error == jobs.ERR_WORKER_LOST
    assert "重新发起导出" in job.error
    # a failed job is not taken again
    assert jobs.run_job(engine, queued_job, tmp_path) == "failed"


def test_a_retried_job_completes_and_counts_its_attempts(engine, queued_job, tmp_path):
    _as_if_taken(engine, queued_job, attempts=1, silent_for=timedelta(minutes=5))
    assert jobs.recover_stalled(engine) == [queued_job]
    assert jobs.run_job(engine, queued_job, tmp_path) == "done"
    job = _job(engine, queued_job)
    assert (job.status, job.attempts, job.rows) == ("done", 2, 9)
    assert (tmp_path / job.file_path).is_file()


def test_queued_jobs_are_handed_out_again_only_when_asked(engine, queued_job):
    with engine.begin() as conn:
        conn.execute(update(ExportJob).values(heartbeat_at=datetime.now() - timedelta(hours=1)))
    # the local worker reads the table itself: nothing to hand out
    assert jobs.recover_stalled(engine) == []
    # a broker may have lost the message
    assert jobs.recover_stalled(engine, resubmit_after=timedelta(minutes=10)) == [queued_job]
    assert jobs.recover_stalled(engine, resubmit_after=timedelta(minutes=10)) == []
    assert _job(engine, queued_job).status == "queued"


def test_racing_sweeps_hand_each_job_out_once(engine, queued_job):
    _as_if_taken(engine, queued_job, attempts=1, silent_for=timedelta(minutes=5))
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def sweep():
        barrier.wait()
        results.append(jobs.recover_stalled(engine))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sum(results, [])) == [queued_job]


def test_a_running_job_beats_its_heartbeat(engine, queued_job, tmp_path, monkeypatch):
    seen: list[datetime] = []
    real_rows = jobs.write_csv

    def slow_writer(path, title, columns, rows, **kw):
        start = _job(engine, queued_job).heartbeat_at
        time.sleep(2.5)
        seen.extend([start, _job(engine, queued_job).heartbeat_at])
        return real_rows(path, title, columns, rows, **kw)

    monkeypatch.setattr(jobs, "write_csv", slow_writer)
    assert jobs.run_job(engine, queued_job, tmp_path, heartbeat=timedelta(seconds=1)) == "done"
    assert seen[1] - seen[0] >= timedelta(seconds=1)


def test_a_stopped_worker_gives_its_job_back(engine, queued_job, tmp_path, monkeypatch):
    def interrupted(*_a, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "write_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        jobs.run_job(engine, queued_job, tmp_path / "exports")
    job = _job(engine, queued_job)
    assert (job.status, job.attempts) == ("queued", 0)
    assert not list((tmp_path / "exports").iterdir())
