"""Background work on a task queue (SPEC §7.5).

With `YANXIU_BROKER_URL` set, a web worker hands a job to Celery (Redis or RabbitMQ as broker)
and `yanxiu worker` processes on any host run it. Without a broker, the same job code runs in
the local worker that `serve` and `demo` start themselves: it takes queued jobs straight from
`export_jobs`, so there is no extra server to install.

Either way the `export_jobs` row is the truth about a job: a worker takes it with one atomic
update (`run_job`), so a message delivered twice runs it once; a running job beats a heartbeat,
and a job whose heartbeat stops (a killed worker, a host gone) is handed out once more, then
marked 失败 (`recover`). The broker only says "look at job N"; nothing is lost with it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from data_access.db import make_engine
from data_access.export_jobs import (
    RESUBMIT_AFTER,
    next_queued,
    purge_expired,
    recover_stalled,
    run_job,
)

from .settings import Settings

log = logging.getLogger("yanxiu.worker")

EXPORT_TASK = "yanxiu.export"
POLL_EVERY_S = 1.0  # the local worker looks for queued jobs this often
SWEEP_EVERY_S = 15.0  # every worker looks for jobs whose worker died this often
PURGE_EVERY_S = 3600.0  # ... and removes expired export files this often


def heartbeat_every(settings: Settings) -> timedelta:
    """A third of the silence after which a job is taken for dead, at most 10 s."""
    return timedelta(seconds=max(1.0, min(10.0, settings.job_stalled_seconds / 3)))


class LocalQueue:
    """No broker: the local worker polls `export_jobs`, so a queued row is already handed
    over."""

    uses_broker = False

    def submit(self, job_id: int) -> None:
        pass


class BrokerQueue:
    """Celery on the configured broker."""

    uses_broker = True

    def __init__(self, settings: Settings):
        self._settings = settings
        self._app = None

    @property
    def app(self):
        if self._app is None:
            self._app = celery_app(self._settings)
        return self._app

    def submit(self, job_id: int) -> None:
        self.app.send_task(EXPORT_TASK, args=[int(job_id)], queue=self._settings.task_queue)


def make_queue(settings: Settings) -> LocalQueue | BrokerQueue:
    return BrokerQueue(settings) if settings.broker_url else LocalQueue()


def recover(engine: Engine, queue, settings: Settings) -> list[int]:
    """Retry or fail the jobs whose worker died and hand the retried ones (and, on a broker,
    queued jobs it may have lost) to the queue. Safe to call from any number of processes."""
    ids = recover_stalled(engine, stalled_after=timedelta(seconds=settings.job_stalled_seconds),
                          resubmit_after=RESUBMIT_AFTER if queue.uses_broker else None)
    for job_id in ids:
        try:
            queue.submit(job_id)
        except Exception:  # noqa: BLE001 - the broker is down; the next sweep hands it again
            log.warning("job %s could not be handed to the task queue", job_id)
    return ids


# --------------------------------------------------------------------------- Celery


def celery_app(settings: Settings):
    from celery import Celery

    app = Celery("yanxiu", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_ignore_result=True,  # the job's row holds its state and result
        task_default_queue=settings.task_queue,
        # A job is acknowledged when a worker takes it; a worker that dies is noticed by its
        # silent heartbeat and the job handed out again (`recover`), whatever the broker.
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        broker_transport_options={"socket_connect_timeout": 3, "socket_timeout": 10},
        # A web request that queues a job must not hang on a broker that is down.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0,
                                   "interval_step": 0.5, "interval_max": 1},
    )

    @app.task(name=EXPORT_TASK, ignore_result=True)
    def export(job_id: int) -> str:
        return run_job(_process_engine(settings), int(job_id), Path(settings.export_dir),
                       heartbeat=heartbeat_every(settings))

    return app


_engines: dict[int, Engine] = {}


def _process_engine(settings: Settings) -> Engine:
    """One engine per process: a pool's connections must not cross a fork."""
    pid = os.getpid()
    if pid not in _engines:
        _engines[pid] = make_engine(settings.database_url)
    return _engines[pid]


# --------------------------------------------------------------------------- workers


def _lower_priority() -> None:
    if hasattr(os, "nice"):
        try:
            os.nice(10)  # on a web host, yield the CPU to the web workers
        except OSError:
            pass


class _Sweeper(threading.Thread):
    """Recovers jobs of dead workers and purges expired files while a worker runs."""

    def __init__(self, settings: Settings, queue, stop: threading.Event):
        super().__init__(name="yanxiu-sweeper", daemon=True)
        self._settings, self._queue, self._stop = settings, queue, stop
        self._engine = make_engine(settings.database_url)

    def run(self) -> None:
        last_purge = 0.0
        while True:
            try:
                recover(self._engine, self._queue, self._settings)
                if time.monotonic() - last_purge >= PURGE_EVERY_S:
                    with self._engine.begin() as conn:
                        purge_expired(conn, Path(self._settings.export_dir))
                    last_purge = time.monotonic()
            except Exception:  # noqa: BLE001 - the database is away; try again later
                log.warning("job sweep failed; retrying in %.0f s", SWEEP_EVERY_S,
                            exc_info=True)
            if self._stop.wait(SWEEP_EVERY_S):
                return


def _stop_on_sigterm() -> None:
    """SIGTERM ends the worker through SystemExit, so that a job being written goes back to
    the queue instead of waiting out its heartbeat."""
    def handler(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handler)


def run_local_worker(settings: Settings, *, parent_pid: int | None = None,
                     stop: threading.Event | None = None) -> None:
    """Take queued jobs from `export_jobs` one at a time until stopped (or until the process
    that started this worker is gone)."""
    stop = stop or threading.Event()
    queue = LocalQueue()
    engine = make_engine(settings.database_url)
    sweeper = _Sweeper(settings, queue, stop)
    sweeper.start()
    try:
        while not stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                return
            try:
                with engine.connect() as conn:
                    job_id = next_queued(conn)
            except Exception:  # noqa: BLE001 - the database is away; keep polling
                log.warning("could not look for queued jobs", exc_info=True)
                job_id = None
            if job_id is None:
                stop.wait(POLL_EVERY_S)
                continue
            run_job(engine, job_id, Path(settings.export_dir),
                    heartbeat=heartbeat_every(settings))
    finally:
        stop.set()
        engine.dispose()


def run_celery_worker(settings: Settings, concurrency: int) -> None:
    app = celery_app(settings)
    stop = threading.Event()
    _Sweeper(settings, BrokerQueue(settings), stop).start()
    app.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}",
                     f"--queues={settings.task_queue}", "--without-gossip", "--without-mingle",
                     "--pool=prefork"])
    stop.set()


def worker(settings: Settings, *, concurrency: int = 1, parent_pid: int | None = None) -> None:
    """`yanxiu worker`: a Celery worker when a broker is configured, else the local one."""
    _lower_priority()
    if settings.broker_url:
        run_celery_worker(settings, concurrency)
    else:
        _stop_on_sigterm()
        run_local_worker(settings, parent_pid=parent_pid)


class LocalWorkerProcess:
    """The local worker of `serve` and `demo` (no broker): one `yanxiu worker` child process,
    started again if it dies, stopped with the server."""

    RESTART_AFTER_S = 2.0

    def __init__(self, settings: Settings):
        self._settings = settings
        self._owner = os.getpid()
        self._stop = threading.Event()
        # Held while a child is started and while stopping: a stop() that comes before the
        # child exists must not miss it (the child would outlive the server).
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._supervise, name="yanxiu-local-worker",
                                        daemon=True)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "dashboard.cli", "worker", "--parent-pid",
                str(os.getpid())]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The settings of this server, which `demo` builds in code, travel in the
        # environment (never on the command line, where other local users could read a
        # database password).
        env.update(YANXIU_DATABASE_URL=self._settings.database_url,
                   YANXIU_EXPORT_DIR=str(self._settings.export_dir),
                   YANXIU_JOB_STALLED_SECONDS=str(self._settings.job_stalled_seconds),
                   YANXIU_TASK_QUEUE=self._settings.task_queue)
        env.pop("YANXIU_BROKER_URL", None)
        return env

    def start(self) -> "LocalWorkerProcess":
        self._thread.start()
        return self

    def _supervise(self) -> None:
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    # Its own session: a signal to the server's process group (Ctrl-C, a
                    # supervisor) reaches the server, which stops the worker in order.
                    self._proc = subprocess.Popen(self.command(), env=self.environment(),
                                                  stdin=subprocess.DEVNULL, close_fds=True,
                                                  start_new_session=True)
                except OSError:
                    log.exception("could not start the local worker")
                    self._proc = None
            if self._proc is not None:
                self._proc.wait()
            if self._stop.wait(self.RESTART_AFTER_S):
                return
            log.warning("the local worker stopped; starting it again")

    def stop(self, timeout: float = 10.0) -> None:
        # gunicorn's workers are forks of the process that started this one and leave
        # through the same `finally`: only the owner stops the worker.
        if os.getpid() != self._owner:
            return
        with self._lock:
            self._stop.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """True while the supervisor or its worker process is alive."""
        proc = self._proc
        return self._thread.is_alive() or (proc is not None and proc.poll() is None)
