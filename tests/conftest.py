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
