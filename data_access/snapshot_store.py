"""Where a snapshot's aggregate rows live.

PostgreSQL: in partitions of the aggregate tables, which are partitioned by ``snapshot_id``
(LIST, one partition per snapshot). A snapshot's partitions are plain tables in a schema of
their own, ``snapshot_<id>`` (:func:`create_partitions`): the build fills them without any
index, then adds the primary keys and indexes in one sort each and attaches them to the
aggregate tables (:func:`attach_partitions`), all in the build's one transaction, so a killed
build leaves nothing. Readers query the aggregate tables by ``snapshot_id`` and read only
that snapshot's partition. Retiring a snapshot is dropping its schema
(:func:`drop_partitions`), not deleting rows. MVCC: building blocks no reader and no writer;
the drop takes the aggregate tables' lock for a moment and gives up rather than wait behind
a long reader (the next refresh drops it).

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
from typing import Iterable

from sqlalchemy import Connection, Engine, Select, Table, cast, null, select
from sqlalchemy.schema import CreateIndex

SCHEMA = "snap"
_INFO_KEY = "yanxiu_snapshot"
_FILE_RE = re.compile(r"^(\d+)\.db$")
_PARTITION_SCHEMA_RE = re.compile(r"^snapshot_(\d+)$")
# How long dropping a retired snapshot's partitions may wait for the readers of the
# aggregate tables; readers arriving meanwhile wait behind it, so this is their worst delay.
_DROP_LOCK_TIMEOUT = "1s"


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


# --------------------------------------------------------------------------- PostgreSQL


def partition_schema(snapshot_id: int) -> str:
    return f"snapshot_{int(snapshot_id)}"


def create_partitions(conn: Connection, snapshot_id: int, tables: list[Table]) -> str:
    """The build's transaction: a schema for ``snapshot_id`` with a plain table shaped like
    each of ``tables`` (no key, no index), first on the search path until the transaction
    ends, so that the build's unqualified names write there and read the base tables from
    the usual schema. Returns that usual schema."""
    q = conn.dialect.identifier_preparer.quote
    base = aggregate_schema(conn)
    path = conn.exec_driver_sql("SHOW search_path").scalar_one()
    schema = partition_schema(snapshot_id)
    conn.exec_driver_sql(f"CREATE SCHEMA {q(schema)}")
    for table in tables:
        conn.exec_driver_sql(f"CREATE TABLE {q(schema)}.{q(table.name)} "
                             f"(LIKE {q(base)}.{q(table.name)} INCLUDING DEFAULTS)")
    conn.exec_driver_sql(f"SET LOCAL search_path TO {q(schema)}, {path}")
    return base


def aggregate_schema(conn: Connection) -> str:
    """The schema the aggregate tables are found in on this connection's search path."""
    return conn.exec_driver_sql(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass('agg_school')").scalar_one()


def create_as(conn: Connection, table: Table, columns: list[str], rows) -> int:
    """The build's transaction: create the partition ``table`` of the snapshot's schema (first
    on the search path) by CREATE TABLE … AS ``rows``, whose columns are ``columns`` in order;
    returns the number of rows. PostgreSQL plans the SELECT of a CREATE TABLE … AS in
    parallel, never that of an INSERT … SELECT. Each column is cast to the aggregate table's
    own type and collation, as ATTACH PARTITION wants them; a column that ``rows`` lacks is
    NULL, NOT NULL comes with the primary key (:func:`attach_partitions`)."""
    if isinstance(rows, Select):  # its columns named as the table's (a textual one names them)
        rows = rows.with_only_columns(
            *(c.label(name) for c, name in zip(rows.selected_columns, columns)),
            maintain_column_froms=True)
    built = rows.subquery("built")
    given = {name: built.c[name] for name in columns}
    shaped = select(*(
        cast(given[c.name] if c.name in given else null(), c.type).label(c.name)
        for c in table.columns))
    compiled = shaped.compile(dialect=conn.dialect)
    q = conn.dialect.identifier_preparer.quote
    return conn.exec_driver_sql(f"CREATE TABLE {q(table.name)} AS {compiled}",
                                compiled.params).rowcount


def attach_partitions(conn: Connection, snapshot_id: int, tables: list[Table], base: str) -> None:
    """After the rows are in: each table's primary key (with the NOT NULL of its other
    columns) and indexes, built in one pass each, then the table attached as the partition
    of ``snapshot_id`` (the aggregate tables' own indexes take these over instead of
    building them again)."""
    q = conn.dialect.identifier_preparer.quote
    schema = partition_schema(snapshot_id)
    in_schema = {"schema_translate_map": {None: schema}}
    for table in tables:
        key = ", ".join(q(c.name) for c in table.primary_key.columns)
        required = "".join(f", ALTER COLUMN {q(c.name)} SET NOT NULL" for c in table.columns
                           if not c.nullable and not c.primary_key)
        conn.exec_driver_sql(
            f"ALTER TABLE {q(schema)}.{q(table.name)} ADD PRIMARY KEY ({key}){required}")
        for index in table.indexes:
            conn.execute(CreateIndex(index), execution_options=in_schema)
        conn.exec_driver_sql(
            f"ALTER TABLE {q(base)}.{q(table.name)} ATTACH PARTITION "
            f"{q(schema)}.{q(table.name)} FOR VALUES IN ({int(snapshot_id)})")
    conn.exec_driver_sql(f"ANALYZE {_partition_names(conn, snapshot_id, tables)}")


def vacuum_partitions(engine: Engine, snapshot_id: int, tables: list[Table]) -> None:
    """Once the snapshot is served: VACUUM its partitions, which marks their pages all-visible,
    so that the covering indexes answer by index-only scans instead of visiting every row's
    page (new rows are not all-visible until a VACUUM; VACUUM cannot run inside the build's
    transaction). Tables never written since cost a fraction of a second to vacuum."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(f"VACUUM {_partition_names(conn, snapshot_id, tables)}")


def _partition_names(conn: Connection, snapshot_id: int, tables: list[Table]) -> str:
    """``snapshot_<id>.agg_school, …``: the partitions of ``tables``, quoted, for one
    statement over all of them."""
    q = conn.dialect.identifier_preparer.quote
    schema = partition_schema(snapshot_id)
    return ", ".join(f"{q(schema)}.{q(t.name)}" for t in tables)


def partition_snapshots(conn: Connection) -> set[int]:
    """The ids of every snapshot that has a schema of partitions."""
    names = conn.exec_driver_sql(
        "SELECT nspname FROM pg_namespace WHERE nspname ~ '^snapshot_[0-9]+$'").scalars()
    return {int(m.group(1)) for n in names if (m := _PARTITION_SCHEMA_RE.match(n))}


def drop_partitions(engine: Engine, snapshot_ids: Iterable[int]) -> bool:
    """Drop the partitions of ``snapshot_ids``, all in one transaction: dropping a partition
    locks the whole aggregate table, so every reader of any snapshot holds it off, and each
    try makes the readers arriving meanwhile wait. False when the readers did not let go
    within :data:`_DROP_LOCK_TIMEOUT` (nothing dropped; the next refresh tries again)."""
    from sqlalchemy.exc import OperationalError

    names = [partition_schema(sid) for sid in sorted(snapshot_ids)]
    if not names:
        return True
    q = engine.dialect.identifier_preparer.quote
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_DROP_LOCK_TIMEOUT}'")
            conn.exec_driver_sql(
                f"DROP SCHEMA IF EXISTS {', '.join(map(q, names))} CASCADE")
    except OperationalError as exc:
        # lock_not_available, or deadlock_detected when a reader took the tables in
        # another order: either way, the readers win and the next refresh tries again.
        if getattr(exc.orig, "sqlstate", None) not in ("55P03", "40P01"):
            raise
        return False
    return True
