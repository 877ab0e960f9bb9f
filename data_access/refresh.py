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
1. A ``snapshots`` row (status ``building``) is inserted and committed, so a killed run leaves
   a visible trace that the next run cleans up.
2. In one transaction, every aggregate of the new snapshot is built with
   ``INSERT … SELECT … GROUP BY`` executed by the database (no record is read into Python):

   - ``agg_school``: training_records ⋈ teachers ⋈ schools (not deleted) ⋈ trainings, per
     training × school × 学段 × 学科 × certified (认证状态 = 已通过);
   - ``agg_region`` part ``direct``: ``agg_school`` per the school's own region (a region's
     直属学校; for a region without child regions, simply all its schools);
   - ``agg_region`` part ``subtree``: the ``direct`` rows rolled up the tree through
     ``region_closure`` (every ancestor including the region itself) — equal to rolling up
     ``agg_school``, but over far fewer rows;
   - ``agg_teacher``: one row per participant for the paged per-teacher list, inserted in
     (training, teacher) order so that most of its index inserts are appends;
   - ``agg_teacher_count``: the effective 专任教师数 per region × 学段 key ('' = all), computed
     in Python over the region list (a few thousand regions): the region's own imported
     figure; else the sum of its child regions' effective figures when every child has one;
     else no row (missing, shown as ``—``).
3. In one transaction: today's ``agg_history`` rows are replaced (per training × region, the
   subtree totals over all 学段/学科, once for everyone and once for 已通过 only; a region
   without any participant in a training has no row, i.e. zero), the
   ``current_snapshot`` row is switched to the new snapshot, the snapshot is marked ``ready``
   and every other older snapshot except the previous one is marked ``retired`` (or
   ``failed`` for leftovers of killed runs).
4. In a separate transaction, the rows of those older snapshots are deleted (index range
   deletes). A failure here does not undo the switch; the next refresh deletes what is left.

If anything in step 2 or 3 fails, the new snapshot's rows are deleted, it is marked
``failed``, the served snapshot is untouched and :class:`RefreshError` is raised from the
original exception. A run killed at any point leaves the old snapshot served too: the build
and the switch are one transaction each, and the next run retires the leftover.

Two refreshes started at the same time cannot switch to a snapshot the other one retired:
the switch only happens while the snapshot is still ``building`` (checked under the write
lock), and only snapshots older than the one being switched to are ever retired.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterator

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    Engine,
    Integer,
    and_,
    case,
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


def current_snapshot(conn: Connection) -> tuple[int, datetime] | None:
    """(snapshot_id, finished_at) of the served snapshot; None if no refresh ever finished."""
    row = conn.execute(
        select(Snapshot.id, Snapshot.finished_at)
        .join(CurrentSnapshot, CurrentSnapshot.snapshot_id == Snapshot.id)
        .where(CurrentSnapshot.id == 1)
    ).first()
    return (row[0], row[1]) if row else None


# --------------------------------------------------------------------------- entry point


def refresh(engine: Engine, *, now: datetime | None = None) -> RefreshResult:
    """Build a new snapshot of every aggregate and switch readers to it.

    ``now`` pins the refresh clock (tests, back-fills): the snapshot starts at ``now``, the
    history rows are written for ``now.date()``, and ``finished_at`` is ``now`` plus the time
    the refresh took. Without it the local wall clock is used.
    """
    clock = time.perf_counter()
    started_at = now if now is not None else datetime.now()

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
        with _build_transaction(engine) as conn:
            school_rows, region_rows = _build(conn, sid)
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
def _build_transaction(engine: Engine) -> Iterator[Connection]:
    """The build's one transaction. On PostgreSQL it is REPEATABLE READ so that every
    statement of the build reads the same state of the base tables, as a SQLite transaction
    does anyway."""
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


# --------------------------------------------------------------------------- step 2: build


def _build(conn: Connection, sid: int) -> tuple[int, int]:
    """Every aggregate of snapshot ``sid``; returns (school rows, region rows)."""
    school_rows = _build_schools(conn, sid)
    region_rows = _build_direct(conn, sid)
    region_rows += _build_subtree(conn, sid)
    _build_teacher_list(conn, sid)
    _build_teacher_counts(conn, sid)
    if conn.dialect.name == "postgresql":
        # Fresh planner statistics for the readers of the new rows.
        conn.execute(text("ANALYZE agg_school, agg_region, agg_teacher_count, agg_teacher"))
    return school_rows, region_rows


def _sid(sid: int):
    return literal(sid, Integer)


def _insert_select(conn: Connection, model, columns: list[str], rows) -> int:
    """INSERT … SELECT executed by the database; returns the number of rows inserted."""
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


_TEACHER_SQL = """
INSERT INTO agg_teacher (snapshot_id, training_id, teacher_id, l1, l2, l3, l4, l5, school_code,
                         school_name, region_path, account_masked, name, stage, subject,
                         certified, hours_tenths, study_seconds)
SELECT :sid, r.training_id, t.id, s.l1, s.l2, s.l3, s.l4, s.l5, s.code, s.name, s.path,
       SUBSTR(t.account, 1, 3) || '****' || SUBSTR(t.account, LENGTH(t.account) - 3, 4),
       t.name, t.stage, t.subject,
       CASE WHEN t.cert_status = :passed THEN TRUE ELSE FALSE END,
       r.hours_tenths, r.study_seconds
FROM training_records r
JOIN teachers t ON t.id = r.teacher_id
JOIN tmp_school_levels s ON s.code = t.school_code
ORDER BY r.training_id, r.teacher_id
"""


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
    "CREATE TEMPORARY TABLE tmp_region_levels (code VARCHAR(20) PRIMARY KEY, l1 VARCHAR(20), "
    "l2 VARCHAR(20), l3 VARCHAR(20), l4 VARCHAR(20), l5 VARCHAR(20), path VARCHAR(400))",
    "CREATE TEMPORARY TABLE tmp_school_levels (code VARCHAR(40) PRIMARY KEY, name VARCHAR(200), "
    "l1 VARCHAR(20), l2 VARCHAR(20), l3 VARCHAR(20), l4 VARCHAR(20), l5 VARCHAR(20), "
    "path VARCHAR(400))",
)


def _build_teacher_list(conn: Connection, sid: int) -> None:
    """agg_teacher: one row per participant with the display fields of the teacher list.

    The region levels and path are computed in Python over the region list, then attached to
    every (not deleted) school in a small temporary table, so the big INSERT … SELECT joins
    one small table per record."""
    tree = [tuple(r) for r in conn.execute(select(Region.code, Region.parent_code, Region.name))]
    for ddl in _TEACHER_LIST_TEMP_TABLES:
        conn.execute(text(ddl))
    conn.execute(text("INSERT INTO tmp_region_levels (code, l1, l2, l3, l4, l5, path) "
                      "VALUES (:code, :l1, :l2, :l3, :l4, :l5, :path)"), region_levels(tree))
    conn.execute(text(
        "INSERT INTO tmp_school_levels (code, name, l1, l2, l3, l4, l5, path) "
        "SELECT s.code, s.name, lv.l1, lv.l2, lv.l3, lv.l4, lv.l5, lv.path "
        "FROM schools s JOIN tmp_region_levels lv ON lv.code = s.region_code "
        "WHERE s.deleted_at IS NULL"))
    conn.execute(text(_TEACHER_SQL), {"sid": sid, "passed": CERT_PASSED})
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


def _purge(engine: Engine, *, keep_from: int, previous: int | None) -> None:
    """Delete the rows of every snapshot older than ``keep_from`` except ``previous``.

    Two index range deletes per table (below and between the kept ids), so the cost is the
    rows deleted, not the rows kept. Snapshots newer than ``keep_from`` are never touched."""
    if previous is None:
        ranges = [(None, keep_from)]
    else:
        ranges = [(None, previous), (previous, keep_from)]
    with engine.begin() as conn, _bulk_session(conn):
        for model in AGG_TABLES:
            for low, high in ranges:
                cond = [model.snapshot_id < high]
                if low is not None:
                    cond.append(model.snapshot_id > low)
                conn.execute(delete(model).where(and_(*cond)))


def _discard(engine: Engine, sid: int) -> None:
    """Failure path: drop the new snapshot's rows and mark it failed (best effort — when
    the database itself is gone, the next refresh cleans up)."""
    try:
        with engine.begin() as conn:
            for model in AGG_TABLES:
                conn.execute(delete(model).where(model.snapshot_id == sid))
            conn.execute(
                update(Snapshot)
                .where(Snapshot.id == sid, Snapshot.status.in_((STATUS_BUILDING, STATUS_READY)))
                .values(status=STATUS_FAILED, finished_at=datetime.now())
            )
    except Exception:
        log.exception("could not discard failed snapshot %s", sid)


def _pragma_quietly(conn: Connection, sql: str) -> None:
    """Restore a connection setting; a failure must not hide the exception in flight."""
    try:
        conn.exec_driver_sql(sql)
    except Exception:  # pragma: no cover - only when the connection itself is broken
        log.warning("could not restore %r on a pooled connection", sql)
