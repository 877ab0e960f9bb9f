"""Engine and session creation for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker


SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL mode, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def is_sqlite(bind: Engine | Connection | Session) -> bool:
    return bind.get_bind().dialect.name == "sqlite" if isinstance(bind, Session) else (
        bind.dialect.name == "sqlite"
    )


def analyze(conn: Connection, *tables) -> None:
    """Give PostgreSQL's planner fresh statistics of ``tables`` (SQLAlchemy tables) after a
    bulk write. Without them a table filled since its last ANALYZE looks nearly empty, and
    the planner picks nested loops that take seconds instead of milliseconds (autovacuum
    catches up only a minute later, and not at all where it is switched off). Inside the
    writing transaction, so the statistics commit, or roll back, with the rows. SQLite's
    planner does without."""
    if conn.dialect.name != "postgresql" or not tables:
        return
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql("ANALYZE " + ", ".join(quote(t.name) for t in tables))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A Core connection inside one transaction (commit on success, rollback on error)."""
    with engine.begin() as conn:
        yield conn
