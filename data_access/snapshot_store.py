"""Where a snapshot's aggregate rows live.

PostgreSQL: in the aggregate tables of the database, every row tagged with its
``snapshot_id`` (MVCC: building a snapshot blocks no reader and no writer).

SQLite: in a database file of its own, ``<database>.snapshots/<id>.db``, holding the four
aggregate tables (``AGG_TABLES``; the main file has none of them). SQLite has one writer at a
time per file, so a refresh that wrote its millions of index entries into the main file would
make every login, audit entry and code redemption wait for it; written into its own file, the
build holds only read locks on the main file. Retiring a snapshot is deleting its file, so a
killed refresh cannot leave rows behind that slow the next one down.

A connection reads a snapshot after :func:`use_snapshot` (done by every query function that
takes a ``snapshot_id``, through :func:`reads_snapshot`): the file is attached as the schema
``snap``, and the aggregate tables' unqualified names resolve to it (SQLite looks up ``temp``,
``main``, then the attached files). Rows still carry their ``snapshot_id`` and every query
filters on it, so a connection with another snapshot attached would read nothing rather than
the wrong numbers.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from sqlalchemy import Connection, Engine

SCHEMA = "snap"
_INFO_KEY = "yanxiu_snapshot"
_FILE_RE = re.compile(r"^(\d+)\.db$")


class SnapshotGone(LookupError):
    """The snapshot's file no longer exists (retired by two later refreshes, or lost)."""


def stores_in_files(bind: Connection | Engine) -> bool:
    return bind.dialect.name == "sqlite"


def snapshot_dir(bind: Connection | Engine) -> Path:
    database = (bind.engine if isinstance(bind, Connection) else bind).url.database
    if not database or database == ":memory:":
        raise RuntimeError("snapshots of an in-memory SQLite database have nowhere to live")
    return Path(f"{database}.snapshots")


def snapshot_path(bind: Connection | Engine, snapshot_id: int) -> Path:
    return snapshot_dir(bind) / f"{int(snapshot_id)}.db"


def snapshot_files(bind: Connection | Engine) -> dict[int, Path]:
    """Every snapshot file on disk, by id (leftovers of killed runs included)."""
    folder = snapshot_dir(bind)
    if not folder.is_dir():
        return {}
    found = {}
    for entry in folder.iterdir():
        m = _FILE_RE.match(entry.name)
        if m:
            found[int(m.group(1))] = entry
    return found


def snapshot_available(conn: Connection, snapshot_id: int) -> bool:
    return not stores_in_files(conn) or snapshot_path(conn, snapshot_id).is_file()


def attached_snapshot(conn: Connection) -> int | None:
    return conn.connection.info.get(_INFO_KEY)


def use_snapshot(conn: Connection, snapshot_id: int) -> None:
    """Make ``snapshot_id`` the snapshot this connection reads (SQLite: attach its file)."""
    if not stores_in_files(conn):
        return
    info = conn.connection.info
    path = snapshot_path(conn, snapshot_id)
    # Checked even when attached already: a retired file stays readable through the open
    # handle, and must not be (a stat costs microseconds).
    if not path.is_file():
        detach(conn)
        raise SnapshotGone(f"snapshot {snapshot_id} has no file {path}")
    if info.get(_INFO_KEY) == snapshot_id:
        return
    detach(conn)
    # ATTACH of a missing file would create it: checked above; the race with a refresh
    # deleting it now is covered by the snapshot_id filter of every query (empty result).
    conn.exec_driver_sql(f"ATTACH DATABASE ? AS {SCHEMA}", (str(path),))
    info[_INFO_KEY] = snapshot_id


def attach_new(conn: Connection, snapshot_id: int) -> Path:
    """The refresh's build connection: a new, empty file for ``snapshot_id``, attached."""
    path = snapshot_path(conn, snapshot_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_file(path)
    detach(conn)
    conn.exec_driver_sql(f"ATTACH DATABASE ? AS {SCHEMA}", (str(path),))
    conn.connection.info[_INFO_KEY] = snapshot_id
    return path


def detach(conn: Connection) -> None:
    if conn.connection.info.pop(_INFO_KEY, None) is not None:
        conn.exec_driver_sql(f"DETACH DATABASE {SCHEMA}")


def remove_file(path: Path) -> None:
    """Delete a snapshot file (and a journal a killed build may have left). A process that
    still has it attached keeps reading its open file until it attaches a newer one."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def sync_file(path: Path) -> None:
    """The build writes without a journal and without syncs (a failed build's file is
    deleted anyway); before readers are switched to it, the file is made durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def reads_snapshot(fn):
    """For query functions whose first two parameters are ``(conn, snapshot_id)``."""

    @functools.wraps(fn)
    def wrapper(conn, snapshot_id, *args, **kwargs):
        if snapshot_id is not None:
            use_snapshot(conn, snapshot_id)
        return fn(conn, snapshot_id, *args, **kwargs)

    return wrapper
