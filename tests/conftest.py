"""Shared fixtures: every test gets a fresh, migrated database.

The suite runs on SQLite by default. With ``YANXIU_TEST_BACKEND=postgresql`` and
``YANXIU_TEST_POSTGRES_URL`` pointing at a server (an admin connection, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) every test gets its own database
cloned from a migrated template.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid

import pytest
from sqlalchemy import text

from data_access.db import make_engine
from data_access.schema import upgrade

BACKEND = os.environ.get("YANXIU_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("YANXIU_TEST_POSTGRES_URL", "")
_counter = itertools.count()


def pytest_report_header(config):
    return f"yanxiu database backend: {BACKEND}"


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield path
        return
    if BACKEND != "postgresql":
        raise pytest.UsageError(f"unknown YANXIU_TEST_BACKEND {BACKEND!r}")
    if not POSTGRES_URL:
        raise pytest.UsageError("YANXIU_TEST_BACKEND=postgresql needs YANXIU_TEST_POSTGRES_URL")
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"yanxiu_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _pg_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture
def database_url(_template, tmp_path):
    """URL of a fresh database holding the schema and the region catalogue."""
    if BACKEND == "sqlite":
        path = tmp_path / "yanxiu.db"
        shutil.copyfile(_template, path)
        yield f"sqlite:///{path}"
        return
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"yanxiu_t_{uuid.uuid4().hex[:10]}_{next(_counter)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"'))
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(database_url):
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


# --------------------------------------------------------------------------- app fixtures


@pytest.fixture
def app(database_url):
    from dashboard import create_app
    from dashboard.settings import Settings

    application = create_app(Settings(database_url=database_url, secret_key="test-secret-0123456789",
                                      testing=True))
    yield application
    application.extensions["yanxiu"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login_as(app, client):
    """login_as(role, scope_code) → creates a user bound to that scope and logs the client in."""
    from tests.helpers import login, make_admin

    def _login(role: str, scope: str, account: str | None = None):
        account = make_admin(app.extensions["yanxiu"].engine, role, scope, account)
        login(client, account)
        return account

    return _login


# --------------------------------------------------------------------------- demo data


@pytest.fixture(scope="session")
def province_demo_files(tmp_path_factory):
    """The default (province-scale) demo files, generated once per session."""
    import datetime

    from data_access.demo import generate

    return generate("province", tmp_path_factory.mktemp("province-demo"),
                    today=datetime.date(2025, 1, 15))


# --------------------------------------------------------------------------- background workers

BROKER_URL = os.environ.get("YANXIU_TEST_BROKER_URL", "")


def _queue_modes() -> list[str]:
    """Job tests run with the local worker, and again on the broker when one is given
    (`.ci/run` gives the local Redis; YANXIU_REQUIRE_BROKER makes its absence a failure)."""
    if BROKER_URL:
        return ["local", "broker"]
    if os.environ.get("YANXIU_REQUIRE_BROKER"):
        raise pytest.UsageError("YANXIU_REQUIRE_BROKER is set but YANXIU_TEST_BROKER_URL is not")
    return ["local"]


class WorkerControl:
    """`yanxiu worker` processes of one test, on the app's database and export folder."""

    def __init__(self, app, mode: str, queue_name: str):
        self.app, self.mode, self.queue_name = app, mode, queue_name
        self.procs: list = []

    @property
    def settings(self):
        return self.app.extensions["yanxiu"].settings

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("YANXIU_BROKER_URL", None)
        env.update(YANXIU_DATABASE_URL=self.settings.database_url,
                   YANXIU_EXPORT_DIR=str(self.settings.export_dir),
                   YANXIU_JOB_STALLED_SECONDS=str(self.settings.job_stalled_seconds),
                   YANXIU_TASK_QUEUE=self.queue_name, YANXIU_SECRET_KEY="test-secret-0123456789")
        if self.mode == "broker":
            env["YANXIU_BROKER_URL"] = BROKER_URL
        return env

    def start(self):
        import subprocess
        import sys

        proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "worker"],
                                env=self.environment(), stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        import signal
        import subprocess

        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass


@pytest.fixture(params=_queue_modes())
def job_worker(request, app, tmp_path):
    """Sets the app up for the test's queue mode (the local worker, or Celery on the test
    broker with a queue of its own) and hands out `yanxiu worker` processes to start."""
    from dashboard.task_queue import BrokerQueue, LocalQueue

    state = app.extensions["yanxiu"]
    state.settings.export_dir = tmp_path / "exports"
    queue_name = f"yanxiu-test-{uuid.uuid4().hex[:10]}"
    state.settings.task_queue = queue_name
    if request.param == "broker":
        import redis

        try:
            redis.Redis.from_url(BROKER_URL, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            pytest.fail(f"the test broker {BROKER_URL} does not answer: {exc}")
        state.settings.broker_url = BROKER_URL
        state.job_queue = BrokerQueue(state.settings)
    else:
        state.settings.broker_url = None
        state.job_queue = LocalQueue()
    control = WorkerControl(app, request.param, queue_name)
    yield control
    control.stop_all()
    if request.param == "broker":
        import redis

        redis.Redis.from_url(BROKER_URL).delete(queue_name)
