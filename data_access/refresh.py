"""Aggregate refresh (SPEC §7.2): build a new snapshot inside the database, then switch to it.

Reader contract
---------------
A request resolves the served snapshot id **once** with :func:`current_snapshot` and passes
that id to every query it makes (cards, chart, table, teacher list, download). Every
aggregate row carries its ``snapshot_id``, so the request sees the whole old or the whole new
snapshot, never a mix. The snapshot served before the latest switch (the *previous* one) is
kept with all its rows until the next refresh, so a request that resolved the old id a moment
before a switch still reads complete data. Caches must be keyed by the snapshot id.

Steps of :func:`refresh`
------------------------
0. One refresh runs at a time per database (an advisory lock on PostgreSQL, a ``flock`` next
   to the SQLite file; the operating system releases either when a run is killed). Under
   that lock every ``building`` snapshot is a killed run's: it is marked ``failed``, and the
   rows of every snapshot except the served one and the one before it are dropped. So the
   leftovers of killed runs never accumulate, whatever step they were killed in.
1. A ``snapshots`` row (status ``building``) is inserted and committed.
2. Every aggregate of the new snapshot is built with ``INSERT … SELECT … GROUP BY`` executed
   by the database (no record is read into Python), in one transaction that sees one state
   of the base tables. Where the rows go is snapshot_store's business: on PostgreSQL into new
   tables in a schema of the snapshot's own, indexed after the rows are in and attached as the
   snapshot's partitions of the aggregate tables (REPEATABLE READ; MVCC blocks nobody); on
   SQLite into a new file of the snapshot's own, written without journal and indexed after
   the rows are in, so the main file's write lock is never held by the build and logins do
   not wait for it.

   - ``agg_school``: training_records ⋈ teachers ⋈ schools (not deleted) ⋈ trainings, per
     training × school × 学段 × 学科 × certified (认证状态 = 已通过);
   - ``agg_region`` part ``direct``: ``agg_school`` per the school's own region (a region's
     直属学校; for a region without child regions, simply all its schools);
   - ``agg_region`` part ``subtree``: the ``direct`` rows rolled up the tree through
     ``region_closure`` (every ancestor including the region itself) — equal to rolling up
     ``agg_school``, but over far fewer rows;
   - ``agg_teacher``: one row per participant for the paged per-teacher list, inserted in
     (training, teacher) order;
   - ``agg_teacher_count``: the effective 专任教师数 per region × 学段 key ('' = all), computed
     in Python over the region list (a few thousand regions): the region's own imported
     figure; else the sum of its child regions' effective figures when every child has one;
     else no row (missing, shown as ``—``).
3. In one short transaction: today's ``agg_history`` rows are replaced (per training ×
   region, the subtree totals over all 学段/学科, once for everyone and once for 已通过 only; a
   region without any participant in a training has no row, i.e. zero), the
   ``current_snapshot`` row is switched to the new snapshot, the snapshot is marked ``ready``
   and every other older snapshot except the previous one is marked ``retired`` (or
   ``failed`` for leftovers of killed runs).
4. The older snapshots are dropped: their files deleted (SQLite) or their partitions'
   schemas dropped (PostgreSQL). A failure here does not undo the switch; the next refresh
   drops what is left (step 0).

If anything in step 2 or 3 fails, the new snapshot is marked ``failed`` and dropped, the
served snapshot is untouched and :class:`RefreshError` is raised from the original
exception. A run killed at any point leaves the old snapshot served too.

A snapshot that was retired before it could be switched to (by hand, or by a run that
wrongly ran beside this one) is never switched to: the switch only happens while the
snapshot is still ``building`` (checked under the write lock), and only snapshots older than
the one being switched to are ever retired.
"""

from __future__ import annotations

import fcntl
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Iterator

from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    Engine,
    Integer,
    case,
    column,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    true,
    update,
)

from . import snapshot_store as store
from .models import (
    AggHistory,
    AggRegion,
    AggSchool,
    AggTeacher,
    AggTeacherCount,
    CurrentSnapshot,
    Region,
    RegionClosure,
    School,
    Snapshot,
    Teacher,
    TeacherCount,
    Training,
    TrainingRecord,
)
from .vocab import CERT_PASSED

log = logging.getLogger(__name__)

#: Every table whose rows belong to one snapshot.
AGG_TABLES = (AggSchool, AggRegion, AggTeacherCount, AggTeacher)

PART_SUBTREE = "subtree"
PART_DIRECT = "direct"

STATUS_BUILDING = "building"
STATUS_READY = "ready"
STATUS_FAILED = "failed"
STATUS_RETIRED = "retired"

# Page cache of the refresh connection on SQLite while building (KiB; the index inserts of
# agg_teacher touch a few hundred MB of pages). Restored to the connection's value after.
_SQLITE_BUILD_CACHE_KIB = 262144
# work_mem of the build transaction on PostgreSQL.
_POSTGRES_BUILD_WORK_MEM = "64MB"

# pg_advisory_lock key of the refresh ("yanxiu refresh" as a number).
_REFRESH_LOCK_KEY = 0x79616E7869_7572

_LEVELS = 5  # agg_teacher keeps the codes of the first five levels (l1 … l5)


class RefreshError(RuntimeError):
    """The refresh did not produce a new snapshot; the previous one is still served."""


@dataclass(frozen=True)
class RefreshResult:
    snapshot_id: int
    started_at: datetime
    finished_at: datetime
    seconds: float
    trainings: int
    region_rows: int
    school_rows: int


# Built once: every request of a statistics screen, and every 大屏 poll, asks.
_CURRENT = (select(Snapshot.id, Snapshot.finished_at)
            .join(CurrentSnapshot, CurrentSnapshot.snapshot_id == Snapshot.id)
            .where(CurrentSnapshot.id == 1))


def current_snapshot(conn: Connection) -> tuple[int, datetime] | None:
    """(snapshot_id, finished_at) of the served snapshot; None if no refresh ever finished
    (or, on SQLite, its file is gone, e.g. after restoring the database file alone from a
    backup: the next refresh builds it again)."""
    row = conn.execute(_CURRENT).first()
    if row is None or not store.snapshot_available(conn, row[0]):
        return None
    return (row[0], row[1])


def last_refresh_seconds(conn: Connection) -> float | None:
    """How long the served snapshot took to build (the progress display's estimate)."""
    row = conn.execute(
        select(Snapshot.started_at, Snapshot.finished_at)
        .join(CurrentSnapshot, CurrentSnapshot.snapshot_id == Snapshot.id)
        .where(CurrentSnapshot.id == 1)
    ).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return max(0.0, (row[1] - row[0]).total_seconds())


# --------------------------------------------------------------------------- entry point


# What `progress` is told, in order (SQLite adds the indexes of its snapshot file).
STAGES = ("school totals", "region totals (direct schools)", "region totals (subtrees)",
          "teacher list", "teacher counts", "indexes", "daily history and switch")


def refresh(engine: Engine, *, now: datetime | None = None,
            progress: Callable[[str], None] | None = None) -> RefreshResult:
    """Build a new snapshot of every aggregate and switch readers to it.

    ``now`` pins the refresh clock (tests, back-fills): the snapshot starts at ``now``, the
    history rows are written for ``now.date()``, and ``finished_at`` is ``now`` plus the time
    the refresh took. Without it the local wall clock is used.

    One refresh runs at a time per database (a second one waits for the first); so every
    ``building`` snapshot found at the start is the leftover of a killed run.
    """
    clock = time.perf_counter()
    started_at = now if now is not None else datetime.now()

    _require_snapshot_schema(engine)
    with _one_refresh_at_a_time(engine):
        try:
            _clean_leftovers(engine)
        except Exception:  # the leftovers only cost space; the next refresh tries again
            log.exception("cleaning the leftovers of earlier refreshes failed")
        try:
            with engine.begin() as conn:
                sid = conn.execute(
                    insert(Snapshot)
                    .values(started_at=started_at, status=STATUS_BUILDING)
                    .returning(Snapshot.id)
                ).scalar_one()
        except Exception as exc:
            raise RefreshError(f"refresh could not start: {exc}") from exc

        try:
            school_rows, region_rows = _build_snapshot(engine, sid, progress)
            if progress:
                progress(STAGES[-1])
            finished_at = _finish_time(started_at, now, clock)
            with engine.begin() as conn:
                previous, trainings = _switch(conn, sid, started_at.date(), finished_at)
        except RefreshError:
            _discard(engine, sid)
            raise
        except Exception as exc:
            _discard(engine, sid)
            raise RefreshError(
                f"refresh of snapshot {sid} failed; the previous snapshot stays in service: {exc}"
            ) from exc

        if engine.dialect.name == "postgresql":
            try:
                store.vacuum_partitions(engine, sid, [model.__table__ for model in AGG_TABLES])
            except Exception:  # served all the same, only by slower plans until autovacuum
                log.exception("vacuum of the partitions of snapshot %s failed", sid)
        try:
            _purge(engine, keep_from=sid, previous=previous)
        except Exception:  # the switch is done; the next refresh deletes what is left
            log.exception("purging old snapshots failed (new snapshot %s is served)", sid)

    return RefreshResult(
        snapshot_id=sid,
        started_at=started_at,
        finished_at=finished_at,
        seconds=time.perf_counter() - clock,
        trainings=trainings,
        region_rows=region_rows,
        school_rows=school_rows,
    )


def _finish_time(started_at: datetime, now: datetime | None, clock: float) -> datetime:
    if now is None:
        return datetime.now()
    return started_at + timedelta(seconds=round(time.perf_counter() - clock, 6))


@contextmanager
def _one_refresh_at_a_time(engine: Engine) -> Iterator[None]:
    """Held for the whole refresh; released by the operating system when a run is killed.

    PostgreSQL: a session-level advisory lock (every host of a deployment sees it). SQLite:
    an exclusive ``flock`` on a file next to the database file (SQLite serves one host)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _REFRESH_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"),
                                 {"key": _REFRESH_LOCK_KEY})
                    conn.commit()
                except Exception:  # closing the connection releases it as well
                    conn.invalidate()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.refresh-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _require_snapshot_schema(engine: Engine) -> None:
    """A SQLite database not yet upgraded to migration 0008 still has aggregate tables in
    the main file; its readers would find them before the snapshot's file and show nothing
    of a new snapshot. A PostgreSQL database before 0013 has aggregate tables that take no
    partitions."""
    names = ", ".join(f"'{model.__tablename__}'" for model in AGG_TABLES)
    if store.stores_in_files(engine):
        query = f"SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name IN ({names})"
    else:
        query = ("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND oid IN ("
                 + ", ".join(f"to_regclass('{model.__tablename__}')" for model in AGG_TABLES)
                 + ")")
    with engine.connect() as conn:
        old = conn.execute(text(query)).scalar()
    if old:
        raise RefreshError("the database schema is older than this version: "
                           "run `yanxiu db upgrade` first (数据库结构不是最新版本，请先运行 yanxiu db upgrade)")


def _build_snapshot(engine: Engine, sid: int, progress=None) -> tuple[int, int]:
    """Every aggregate of snapshot ``sid``, committed under status ``building``."""
    if engine.dialect.name == "sqlite":
        return _build_sqlite(engine, sid, progress)
    tables = [model.__table__ for model in AGG_TABLES]
    with _build_transaction(engine) as conn:
        created_as = {model.__table__.name for model in _CREATED_AS}
        base = store.create_partitions(
            conn, sid, [t for t in tables if t.name not in created_as])
        conn.info[_CREATE_AS] = created_as
        try:
            counts = _build(conn, sid, progress)
        finally:
            conn.info.pop(_CREATE_AS, None)
        if progress:
            progress("indexes")
        store.attach_partitions(conn, sid, tables, base)
        return counts


#: PostgreSQL: the partitions that their first build statement creates by CREATE TABLE … AS
#: (the others are created empty first). Key in ``conn.info``: the names still to create.
_CREATED_AS = (AggSchool, AggRegion, AggTeacher)
_CREATE_AS = "yanxiu.refresh.create_as"


@contextmanager
def _build_transaction(engine: Engine) -> Iterator[Connection]:
    """The build's one transaction. On PostgreSQL it is REPEATABLE READ so that every
    statement of the build reads the same state of the base tables (readers and writers are
    not blocked by it: MVCC)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin(), _bulk_session(conn):
            yield conn


@contextmanager
def _bulk_session(conn: Connection) -> Iterator[None]:
    """Bulk settings for the build: a larger SQLite page cache, restored afterwards (the
    connection goes back to the pool); more work_mem for the PostgreSQL transaction."""
    if conn.dialect.name == "postgresql":
        # Transaction-scoped: the hash aggregates of the build stay in memory.
        conn.execute(text(f"SET LOCAL work_mem = '{_POSTGRES_BUILD_WORK_MEM}'"))
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_BUILD_CACHE_KIB}")
    try:
        yield
    finally:
        _pragma_quietly(conn, f"PRAGMA cache_size={int(before)}")


def _build_sqlite(engine: Engine, sid: int, progress=None) -> tuple[int, int]:
    """SQLite: the snapshot's tables in a new file of their own (see snapshot_store), built
    in one transaction that writes only that file and reads the base tables of the main
    file; indexes are created after the rows, the file is synced before the switch."""
    with engine.connect() as conn:
        path = store.attach_new(conn, sid)
        try:
            conn.exec_driver_sql(f"PRAGMA {store.SCHEMA}.journal_mode=OFF")
            conn.exec_driver_sql(f"PRAGMA {store.SCHEMA}.synchronous=OFF")
            conn.exec_driver_sql(f"PRAGMA {store.SCHEMA}.cache_size=-{_SQLITE_BUILD_CACHE_KIB}")
            # Per statement: Connection.execution_options() would change the connection.
            in_file = {"schema_translate_map": {None: store.SCHEMA}}
            for model in AGG_TABLES:
                conn.execute(CreateTable(model.__table__), execution_options=in_file)
            conn.commit()
            # pysqlite opens the transaction at the first INSERT (the first statement of
            # _build); every later read of the base tables sees the same state.
            with conn.begin(), _bulk_session(conn):
                counts = _build(conn, sid, progress)
            if progress:
                progress("indexes")
            with conn.begin():
                conn.exec_driver_sql("PRAGMA threads=2")  # CREATE INDEX sorts on both cores
                for model in AGG_TABLES:
                    for index in model.__table__.indexes:
                        conn.execute(CreateIndex(index), execution_options=in_file)
        finally:
            store.detach(conn)
    store.sync_file(path)
    return counts


# --------------------------------------------------------------------------- step 2: build


def _build(conn: Connection, sid: int, progress=None) -> tuple[int, int]:
    """Every aggregate of snapshot ``sid``; returns (school rows, region rows)."""
    tell = progress or (lambda _stage: None)
    tell(STAGES[0])
    school_rows = _build_schools(conn, sid)
    tell(STAGES[1])
    region_rows = _build_direct(conn, sid)
    tell(STAGES[2])
    region_rows += _build_subtree(conn, sid)
    tell(STAGES[3])
    _build_teacher_list(conn, sid)
    tell(STAGES[4])
    _build_teacher_counts(conn, sid)
    return school_rows, region_rows


def _sid(sid: int):
    return literal(sid, Integer)


def _insert_select(conn: Connection, model, columns: list[str], rows) -> int:
    """INSERT … SELECT executed by the database (on PostgreSQL the first write of a
    partition creates it by CREATE TABLE … AS instead); returns the number of rows written."""
    to_create = conn.info.get(_CREATE_AS)
    if to_create and model.__tablename__ in to_create:
        to_create.discard(model.__tablename__)
        return store.create_as(conn, model.__table__, columns, rows)
    stmt = insert(model).from_select(columns, rows).execution_options(preserve_rowcount=True)
    return conn.execute(stmt).rowcount


def _build_schools(conn: Connection, sid: int) -> int:
    """agg_school from the base tables: one GROUP BY over the record table."""
    certified = case((Teacher.cert_status == CERT_PASSED, true()), else_=false())
    completed = case((TrainingRecord.hours_tenths >= Training.hours_cap_tenths, 1), else_=0)
    base = (
        select(
            TrainingRecord.training_id,
            School.code.label("school_code"),
            Teacher.stage,
            Teacher.subject,
            certified.label("certified"),
            School.region_code,
            TrainingRecord.hours_tenths,
            completed.label("completed"),
        )
        .join(Training, Training.id == TrainingRecord.training_id)
        .join(Teacher, Teacher.id == TrainingRecord.teacher_id)
        .join(School, School.code == Teacher.school_code)
        .where(School.deleted_at.is_(None))
        .subquery("base")
    )
    keys = (base.c.training_id, base.c.school_code, base.c.stage, base.c.subject,
            base.c.certified, base.c.region_code)
    rows = select(
        _sid(sid),
        *keys,
        func.count(),
        func.sum(case((base.c.hours_tenths > 0, 1), else_=0)),
        func.sum(base.c.hours_tenths),
        func.sum(base.c.completed),
    ).group_by(*keys)
    columns = ["snapshot_id", "training_id", "school_code", "stage", "subject", "certified",
               "region_code", "participants", "learners", "hours_tenths", "completed"]
    return _insert_select(conn, AggSchool, columns, rows)


_REGION_COLUMNS = ["snapshot_id", "training_id", "region_code", "part", "stage", "subject",
                   "certified", "participants", "learners", "hours_tenths", "completed"]


def _sums(model):
    return (func.sum(model.participants), func.sum(model.learners),
            func.sum(model.hours_tenths), func.sum(model.completed))


def _build_direct(conn: Connection, sid: int) -> int:
    """agg_region 'direct': the schools attached to each region itself."""
    a = AggSchool
    keys = (a.training_id, a.region_code, a.stage, a.subject, a.certified)
    rows = (
        select(_sid(sid), a.training_id, a.region_code, literal_column(f"'{PART_DIRECT}'"),
               a.stage, a.subject, a.certified, *_sums(a))
        .where(a.snapshot_id == sid)
        .group_by(*keys)
    )
    return _insert_select(conn, AggRegion, _REGION_COLUMNS, rows)


def _build_subtree(conn: Connection, sid: int) -> int:
    """agg_region 'subtree': the direct rows rolled up to every ancestor (and the region)."""
    d, c = AggRegion, RegionClosure
    keys = (d.training_id, c.ancestor_code, d.stage, d.subject, d.certified)
    rows = (
        select(_sid(sid), d.training_id, c.ancestor_code, literal_column(f"'{PART_SUBTREE}'"),
               d.stage, d.subject, d.certified, *_sums(d))
        .join(c, c.descendant_code == d.region_code)
        .where(d.snapshot_id == sid, d.part == PART_DIRECT)
        .group_by(*keys)
    )
    return _insert_select(conn, AggRegion, _REGION_COLUMNS, rows)


_TEACHER_COLUMNS = ["snapshot_id", "training_id", "teacher_id", "l1", "l2", "l3", "l4", "l5",
                    "school_code", "school_name", "region_path", "account_masked", "name",
                    "stage", "subject", "certified", "hours_tenths", "study_seconds"]
_TEACHER_SELECT = text("""
SELECT :sid AS snapshot_id, r.training_id AS training_id, t.id AS teacher_id,
       s.l1 AS l1, s.l2 AS l2, s.l3 AS l3, s.l4 AS l4, s.l5 AS l5, s.code AS school_code,
       s.name AS school_name, s.path AS region_path,
       SUBSTR(t.account, 1, 3) || '****' || SUBSTR(t.account, LENGTH(t.account) - 3, 4)
           AS account_masked,
       t.name AS name, t.stage AS stage, t.subject AS subject,
       CASE WHEN t.cert_status = :passed THEN TRUE ELSE FALSE END AS certified,
       r.hours_tenths AS hours_tenths, r.study_seconds AS study_seconds
FROM training_records r
JOIN teachers t ON t.id = r.teacher_id
JOIN tmp_school_levels s ON s.code = t.school_code
ORDER BY r.training_id, r.teacher_id
""")


def region_levels(regions: list[tuple[str, str | None, str]]) -> list[dict]:
    """Per region: its ancestors' codes by level (l1 = root) and the path of names."""
    parent = {c: p for c, p, _ in regions}
    name = {c: n for c, _, n in regions}
    out = []
    for code, _, _ in regions:
        chain, cur = [], code
        while cur is not None and len(chain) <= len(parent):
            chain.append(cur)
            cur = parent.get(cur)
        chain.reverse()
        levels = (chain + [None] * _LEVELS)[:_LEVELS]
        out.append({"code": code, **{f"l{i + 1}": levels[i] for i in range(_LEVELS)},
                    "path": "/".join(name[c] for c in chain)})
    return out


_TEACHER_LIST_TEMP_TABLES = (
    "DROP TABLE IF EXISTS tmp_school_levels",
    "DROP TABLE IF EXISTS tmp_region_levels",
    "CREATE {temporary}TABLE tmp_region_levels (code VARCHAR(20) PRIMARY KEY, l1 VARCHAR(20), "
    "l2 VARCHAR(20), l3 VARCHAR(20), l4 VARCHAR(20), l5 VARCHAR(20), path VARCHAR(400))",
    "CREATE {temporary}TABLE tmp_school_levels (code VARCHAR(40) PRIMARY KEY, "
    "name VARCHAR(200), l1 VARCHAR(20), l2 VARCHAR(20), l3 VARCHAR(20), l4 VARCHAR(20), "
    "l5 VARCHAR(20), path VARCHAR(400))",
)


def _build_teacher_list(conn: Connection, sid: int) -> None:
    """agg_teacher: one row per participant with the display fields of the teacher list.

    The region levels and path are computed in Python over the region list, then attached to
    every (not deleted) school in a small temporary table, so the big INSERT … SELECT joins
    one small table per record."""
    tree = [tuple(r) for r in conn.execute(select(Region.code, Region.parent_code, Region.name))]
    # PostgreSQL's workers cannot read a temporary table, which would keep the whole
    # statement in one process: there they are plain tables of the snapshot's schema, first
    # on the build's search path, and dropped before the commit.
    temporary = "" if conn.dialect.name == "postgresql" else "TEMPORARY "
    for ddl in _TEACHER_LIST_TEMP_TABLES:
        conn.execute(text(ddl.format(temporary=temporary)))
    conn.execute(text("INSERT INTO tmp_region_levels (code, l1, l2, l3, l4, l5, path) "
                      "VALUES (:code, :l1, :l2, :l3, :l4, :l5, :path)"), region_levels(tree))
    conn.execute(text(
        "INSERT INTO tmp_school_levels (code, name, l1, l2, l3, l4, l5, path) "
        "SELECT s.code, s.name, lv.l1, lv.l2, lv.l3, lv.l4, lv.l5, lv.path "
        "FROM schools s JOIN tmp_region_levels lv ON lv.code = s.region_code "
        "WHERE s.deleted_at IS NULL"))
    rows = _TEACHER_SELECT.bindparams(sid=sid, passed=CERT_PASSED).columns(
        *(column(c) for c in _TEACHER_COLUMNS))
    _insert_select(conn, AggTeacher, _TEACHER_COLUMNS, rows)
    conn.execute(text("DROP TABLE tmp_school_levels"))
    conn.execute(text("DROP TABLE tmp_region_levels"))


def effective_teacher_counts(
    regions: list[tuple[str, str | None]], figures: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    """(region, 学段 key) → effective 专任教师数 (SPEC §1.5).

    ``regions`` are (code, parent_code) pairs, ``figures`` the imported (region, stage) →
    count ('' = all stages). Per stage key independently: the region's own figure; else the
    sum of its children's effective figures when every child has one; else no key (missing).
    A region without children and without a figure is missing.
    """
    codes = [code for code, _ in regions]
    known = set(codes)
    kids: dict[str, list[str]] = {}
    for code, parent in regions:
        if parent is not None and parent in known:
            kids.setdefault(parent, []).append(code)
    # Children before parents: an iterative post-order from every root.
    order: list[str] = []
    seen: set[str] = set()
    roots = [code for code, parent in regions if parent is None or parent not in known]
    for root in roots:
        stack = [(root, False)]
        while stack:
            code, expanded = stack.pop()
            if expanded:
                order.append(code)
                continue
            if code in seen:
                continue
            seen.add(code)
            stack.append((code, True))
            stack.extend((child, False) for child in kids.get(code, ()))
    stages = sorted({stage for _, stage in figures} | {""})
    result: dict[tuple[str, str], int] = {}
    for stage in stages:
        for code in order:
            own = figures.get((code, stage))
            if own is not None:
                result[(code, stage)] = own
                continue
            children = kids.get(code)
            if children and all((child, stage) in result for child in children):
                result[(code, stage)] = sum(result[(child, stage)] for child in children)
    return result


def _build_teacher_counts(conn: Connection, sid: int) -> int:
    regions = [(c, p) for c, p in conn.execute(select(Region.code, Region.parent_code))]
    figures = {
        (r, s or ""): n
        for r, s, n in conn.execute(
            select(TeacherCount.region_code, TeacherCount.stage, TeacherCount.count)
        )
    }
    counts = effective_teacher_counts(regions, figures)
    if counts:
        conn.execute(insert(AggTeacherCount), [
            {"snapshot_id": sid, "region_code": r, "stage": s, "count": n}
            for (r, s), n in sorted(counts.items())
        ])
    return len(counts)


# --------------------------------------------------------------------------- step 3: switch


def _switch(conn: Connection, sid: int, day: date, finished_at: datetime
            ) -> tuple[int | None, int]:
    """History, switch, retire: one transaction. Returns (previous snapshot id, trainings)."""
    store.use_snapshot(conn, sid)  # before the first write: SQLite attaches outside a transaction
    # First statement is a write: SQLite takes the write lock here, PostgreSQL locks the row.
    claimed = conn.execute(
        update(Snapshot)
        .where(Snapshot.id == sid, Snapshot.status == STATUS_BUILDING)
        .values(status=STATUS_READY, finished_at=finished_at)
    ).rowcount
    if claimed != 1:
        raise RefreshError(f"snapshot {sid} was retired by a concurrent refresh")
    previous = conn.execute(
        select(CurrentSnapshot.snapshot_id).where(CurrentSnapshot.id == 1).with_for_update()
    ).scalar()

    _write_history(conn, sid, day)

    if previous is None:
        conn.execute(insert(CurrentSnapshot).values(id=1, snapshot_id=sid))
    else:
        conn.execute(update(CurrentSnapshot).where(CurrentSnapshot.id == 1)
                     .values(snapshot_id=sid))

    older = [Snapshot.id < sid]
    if previous is not None:
        older.append(Snapshot.id != previous)
    conn.execute(update(Snapshot).where(*older, Snapshot.status == STATUS_READY)
                 .values(status=STATUS_RETIRED))
    conn.execute(update(Snapshot).where(*older, Snapshot.status == STATUS_BUILDING)
                 .values(status=STATUS_FAILED, finished_at=finished_at))
    trainings = conn.execute(select(func.count()).select_from(Training)).scalar_one()
    return previous, trainings


def _write_history(conn: Connection, sid: int, day: date) -> None:
    """Replace the day's rows: per training × region, totals over all 学段/学科, for
    everyone (certified_only False) and for 已通过 only (True)."""
    conn.execute(delete(AggHistory).where(AggHistory.day == day))
    a = AggRegion
    columns = ["day", "training_id", "region_code", "certified_only", "participants",
               "learners", "hours_tenths", "completed", "snapshot_id"]
    for certified_only in (False, True):
        def total(col, certified_only=certified_only):
            if certified_only:
                col = case((a.certified.is_(True), col), else_=0)
            return func.sum(col)

        rows = (
            select(literal(day, Date), a.training_id, a.region_code,
                   literal(certified_only, Boolean),
                   total(a.participants), total(a.learners), total(a.hours_tenths),
                   total(a.completed), _sid(sid))
            .where(a.snapshot_id == sid, a.part == PART_SUBTREE)
            .group_by(a.training_id, a.region_code)
        )
        _insert_select(conn, AggHistory, columns, rows)


# --------------------------------------------------------------------------- cleanup


def _clean_leftovers(engine: Engine) -> None:
    """Before a build: mark the ``building`` snapshots of killed runs ``failed`` and drop the
    rows of every snapshot except the served one and the one served before it (still
    ``ready``: a switch retires every other older snapshot). Runs under the refresh lock, so
    no other build is in progress."""
    with engine.begin() as conn:
        conn.execute(update(Snapshot).where(Snapshot.status == STATUS_BUILDING)
                     .values(status=STATUS_FAILED, finished_at=datetime.now()))
        keep = set(conn.execute(select(Snapshot.id).where(Snapshot.status == STATUS_READY))
                   .scalars())
        served = conn.execute(
            select(CurrentSnapshot.snapshot_id).where(CurrentSnapshot.id == 1)).scalar()
        if served is not None:
            keep.add(served)
    _drop_snapshots(engine, keep=keep)


def _purge(engine: Engine, *, keep_from: int, previous: int | None) -> None:
    """After a switch: drop every snapshot older than ``keep_from`` except ``previous``.
    Snapshots newer than ``keep_from`` are never touched."""
    keep = {keep_from} | ({previous} if previous is not None else set())
    _drop_snapshots(engine, keep=keep, below=keep_from)


def _drop_snapshots(engine: Engine, *, keep: set[int], below: int | None = None) -> None:
    """Drop the other snapshots: SQLite deletes their files, PostgreSQL drops their
    partitions (a snapshot whose partitions are still being read is left to the next run)."""
    if store.stores_in_files(engine):
        for sid, path in store.snapshot_files(engine).items():
            if sid not in keep and (below is None or sid < below):
                store.remove_file(path)
        return
    with engine.connect() as conn:
        found = store.partition_snapshots(conn)
    retired = [sid for sid in found if sid not in keep and (below is None or sid < below)]
    if not store.drop_partitions(engine, retired):
        log.warning("snapshots %s: the aggregate tables are being read; the next refresh "
                    "drops them", retired)


def _discard(engine: Engine, sid: int) -> None:
    """Failure path: mark the new snapshot failed and drop its rows (best effort — when the
    database itself is gone, the next refresh cleans up)."""
    try:
        with engine.begin() as conn:
            served = conn.execute(
                select(CurrentSnapshot.snapshot_id).where(CurrentSnapshot.id == 1)).scalar()
            if served == sid:  # the switch's commit went through after all
                log.warning("snapshot %s is served although its switch reported a failure", sid)
                return
            conn.execute(
                update(Snapshot)
                .where(Snapshot.id == sid, Snapshot.status.in_((STATUS_BUILDING, STATUS_READY)))
                .values(status=STATUS_FAILED, finished_at=datetime.now())
            )
        if store.stores_in_files(engine):
            store.remove_file(store.snapshot_path(engine, sid))
        elif not store.drop_partitions(engine, [sid]):
            log.warning("failed snapshot %s: the aggregate tables are being read; the next "
                        "refresh drops it", sid)
    except Exception:
        log.exception("could not discard failed snapshot %s", sid)


def _pragma_quietly(conn: Connection, sql: str) -> None:
    """Restore a connection setting; a failure must not hide the exception in flight."""
    try:
        conn.exec_driver_sql(sql)
    except Exception:  # pragma: no cover - only when the connection itself is broken
        log.warning("could not restore %r on a pooled connection", sql)
