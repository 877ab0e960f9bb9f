"""Background exports on `yanxiu worker` processes: the local worker, and Celery on the test
broker when one is given. A job waits 排队中 while no worker runs; a worker that dies mid-export
leaves a job that is retried once and then fails with a clear message, never one stuck at
导出中."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from data_access import export_jobs as jobs
from data_access.models import ExportJob
from data_access.refresh import refresh
from tests.conftest import BACKEND
from tests.dashboard.test_downloads import post_job
from tests.helpers import build_dataset


@pytest.fixture
def world(app, job_worker):
    state = app.extensions["yanxiu"]
    state.settings.inline_export_limit = 1
    state.settings.job_stalled_seconds = 3
    build_dataset(state.engine)
    refresh(state.engine)
    return state


def _listed(client, job_id):
    job = next(j for j in client.get("/export/jobs").get_json()["jobs"] if j["id"] == job_id)
    return job


def _wait_for(client, job_id, statuses, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        job = _listed(client, job_id)
        if job["status"] in statuses or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def test_a_job_waits_queued_until_a_worker_starts(world, client, login_as, job_worker):
    login_as("region_training", "350000")
    resp = post_job(client, table="teachers", format="csv", training="T2022")
    assert resp.status_code == 202
    job_id = resp.get_json()["job_id"]
    time.sleep(2)
    assert _listed(client, job_id)["status"] == "排队中"
    job_worker.start()
    job = _wait_for(client, job_id, ("已完成", "失败"))
    assert job["status"] == "已完成", job
    assert client.get(job["url"]).status_code == 200


def test_the_job_of_a_worker_that_died_is_run_again(world, client, login_as, job_worker):
    """As if a worker had taken the job and its host had gone: the next look at 导出管理 (or
    any worker's sweep) gives it back to the queue, and a worker finishes it."""
    login_as("region_training", "350000")
    job_id = post_job(client, table="teachers", format="xlsx", training="T2022").get_json()[
        "job_id"]
    with world.engine.begin() as conn:
        conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(
            status="running", attempts=1, heartbeat_at=datetime.now() - timedelta(minutes=5)))
    assert _listed(client, job_id)["status"] == "排队中"
    job_worker.start()
    job = _wait_for(client, job_id, ("已完成", "失败"))
    assert job["status"] == "已完成", job
    with world.engine.connect() as conn:
        assert conn.scalar(select(ExportJob.attempts).where(ExportJob.id == job_id)) == 2


@contextmanager
def _held_inside_export(world, client, job_worker, job_id):
    """Start a worker and hold it inside the export (the teacher rows are locked) until the
    block ends; yields the worker process and the lock's connection."""
    with world.engine.connect() as lock:
        lock.execute(text("LOCK TABLE agg_teacher IN ACCESS EXCLUSIVE MODE"))
        proc = job_worker.start()
        deadline = time.monotonic() + 60
        while _listed(client, job_id)["status"] != "导出中":
            assert time.monotonic() < deadline, "the worker never took the job"
            time.sleep(0.2)
        yield proc, lock


def _kill_mid_export(world, client, job_worker, job_id):
    """Start a worker, hold it inside the export, kill it."""
    with _held_inside_export(world, client, job_worker, job_id) as (proc, lock):
        time.sleep(1.5)  # inside the export, heartbeat beating
        assert _listed(client, job_id)["status"] == "导出中"
        job_worker.stop_all()
        assert proc.poll() is not None
        lock.rollback()


@pytest.mark.skipif(BACKEND != "postgresql",
                    reason="holding a worker inside its read needs a table lock readers wait "
                           "for (PostgreSQL); the dead-worker path itself is tested above")
def test_a_worker_killed_mid_export_means_one_retry_then_a_clear_failure(
        world, client, login_as, job_worker):
    login_as("region_training", "350000")
    job_id = post_job(client, table="teachers", format="csv", training="T2022").get_json()[
        "job_id"]

    _kill_mid_export(world, client, job_worker, job_id)
    # the heartbeat falls silent: after 3 s the job is back in the queue (排队中), not 导出中
    job = _wait_for(client, job_id, ("排队中",), timeout=30)
    assert job["status"] == "排队中" and job["error"] is None

    _kill_mid_export(world, client, job_worker, job_id)
    job = _wait_for(client, job_id, ("失败",), timeout=30)
    assert job["status"] == "失败" and job["error"] == jobs.ERR_WORKER_LOST

    # a new export of the same table, with a worker left alone, completes
    job_id = post_job(client, table="teachers", format="csv", training="T2022").get_json()[
        "job_id"]
    job_worker.start()
    assert _wait_for(client, job_id, ("已完成", "失败"))["status"] == "已完成"


def test_an_unreachable_broker_fails_the_request_with_a_clear_message(app, client, login_as,
                                                                      world):
    from dashboard.task_queue import BrokerQueue

    state = app.extensions["yanxiu"]
    state.settings.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    state.job_queue = BrokerQueue(state.settings)
    login_as("region_training", "350000")
    started = time.monotonic()
    resp = post_job(client, table="teachers", format="csv", training="T2022")
    assert time.monotonic() - started < 20
    assert resp.status_code == 503 and resp.get_json()["error"] == jobs.ERR_QUEUE
    listed = client.get("/export/jobs").get_json()["jobs"]
    assert listed[0]["status"] == "失败" and listed[0]["error"] == jobs.ERR_QUEUE


@pytest.mark.skipif(BACKEND != "postgresql",
                    reason="holding a worker inside its read needs a table lock (PostgreSQL)")
def test_a_worker_stopped_for_a_deployment_loses_no_job(world, client, login_as, job_worker):
    """SIGTERM: the local worker gives its job straight back to the queue; a Celery worker
    finishes the job it is writing before it exits."""
    import signal

    login_as("region_training", "350000")
    job_id = post_job(client, table="teachers", format="csv", training="T2022").get_json()[
        "job_id"]
    with _held_inside_export(world, client, job_worker, job_id) as (proc, lock):
        proc.send_signal(signal.SIGTERM)
        if job_worker.mode == "local":
            proc.wait(20)
            job = _listed(client, job_id)
            assert job["status"] == "排队中", job
        time.sleep(0.5)
        lock.rollback()
    if job_worker.mode == "local":
        with world.engine.connect() as conn:
            assert conn.scalar(select(ExportJob.attempts).where(ExportJob.id == job_id)) == 0
        job_worker.start()
    assert _wait_for(client, job_id, ("已完成", "失败"))["status"] == "已完成"
    assert proc.wait(30) == 0


def test_settings_of_the_task_queue_are_checked():
    from dashboard.settings import Settings

    with pytest.raises(ValueError, match="YANXIU_JOB_STALLED_SECONDS"):
        Settings(job_stalled_seconds=1)
    with pytest.raises(ValueError, match="YANXIU_TASK_QUEUE"):
        Settings(task_queue="a b\n")
    with pytest.raises(ValueError, match="YANXIU_INLINE_EXPORT_LIMIT"):
        Settings(inline_export_limit=0)
    s = Settings.from_env()
    assert s.job_stalled_seconds == 90 and s.task_queue == "yanxiu"


def test_a_server_stopped_right_after_its_start_leaves_no_local_worker(database_url, tmp_path):
    """`serve` stopped at once (a failed start, a test) must not leave its worker behind,
    whether or not the worker process had been started yet."""
    from dashboard.settings import Settings
    from dashboard.task_queue import LocalWorkerProcess

    settings = Settings(database_url=database_url, export_dir=tmp_path / "exports")
    for pause in (0.0, 0.0, 0.05, 0.5):
        local = LocalWorkerProcess(settings).start()
        time.sleep(pause)
        local.stop()
        assert not local.running
