"""Aggregate refresh (SPEC §7.2): build a new snapshot in the database, then switch to it.

Reader contract: a request resolves the snapshot id once with :func:`current_snapshot` and
passes it to every query, so it sees the whole old or the whole new snapshot, never a mix. The
previous snapshot's rows are kept until the next refresh, so a request that resolved the old
id just before a switch still reads complete data.

Steps:
1. a `snapshots` row (status 'building') is committed;
2. aggregates are built with `INSERT … SELECT … GROUP BY` inside the database (agg_school
   from the base tables, agg_region from agg_school through the closure table), and the
   effective 专任教师数 per region × 学段 is computed over the (small) region list;
3. one transaction writes today's history rows, switches `current_snapshot`, marks the
   snapshot ready and purges every snapshot older than the previous one (and leftovers of
   killed or failed runs).
On failure in step 2 the partial rows are deleted, the snapshot is marked 'failed' and the
served snapshot is untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from .models import (
    AggHistory,
    AggRegion,
    AggSchool,
    AggTeacher,
    AggTeacherCount,
    CurrentSnapshot,
    Region,
    Snapshot,
    TeacherCount,
    Training,
)

AGG_TABLES = (AggSchool, AggRegion, AggTeacherCount, AggTeacher)


class RefreshError(RuntimeError):
    pass


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
    row = conn.execute(
        select(Snapshot.id, Snapshot.finished_at)
        .join(CurrentSnapshot, CurrentSnapshot.snapshot_id == Snapshot.id)
        .where(CurrentSnapshot.id == 1)
    ).first()
    return (row[0], row[1]) if row else None


# --------------------------------------------------------------------------- building


_SCHOOL_SQL = """
INSERT INTO agg_school (snapshot_id, training_id, school_code, stage, subject, certified,
                        region_code, participants, learners, hours_tenths, completed)
SELECT :sid, r.training_id, s.code, t.stage, t.subject,
       CASE WHEN t.cert_status = :passed THEN TRUE ELSE FALSE END,
       s.region_code,
       COUNT(*),
       SUM(CASE WHEN r.hours_tenths > 0 THEN 1 ELSE 0 END),
       SUM(r.hours_tenths),
       SUM(CASE WHEN r.hours_tenths >= tr.hours_cap_tenths THEN 1 ELSE 0 END)
FROM training_records r
JOIN trainings tr ON tr.id = r.training_id
JOIN teachers t ON t.id = r.teacher_id
JOIN schools s ON s.code = t.school_code
WHERE s.deleted_at IS NULL
GROUP BY r.training_id, s.code, s.region_code, t.stage, t.subject,
         CASE WHEN t.cert_status = :passed THEN TRUE ELSE FALSE END
"""

_REGION_SUBTREE_SQL = """
INSERT INTO agg_region (snapshot_id, training_id, region_code, part, stage, subject, certified,
                        participants, learners, hours_tenths, completed)
SELECT :sid, a.training_id, c.ancestor_code, 'subtree', a.stage, a.subject, a.certified,
       SUM(a.participants), SUM(a.learners), SUM(a.hours_tenths), SUM(a.completed)
FROM agg_school a
JOIN region_closure c ON c.descendant_code = a.region_code
WHERE a.snapshot_id = :sid
GROUP BY a.training_id, c.ancestor_code, a.stage, a.subject, a.certified
"""

_REGION_DIRECT_SQL = """
INSERT INTO agg_region (snapshot_id, training_id, region_code, part, stage, subject, certified,
                        participants, learners, hours_tenths, completed)
SELECT :sid, a.training_id, a.region_code, 'direct', a.stage, a.subject, a.certified,
       SUM(a.participants), SUM(a.learners), SUM(a.hours_tenths), SUM(a.completed)
FROM agg_school a
WHERE a.snapshot_id = :sid
GROUP BY a.training_id, a.region_code, a.stage, a.subject, a.certified
"""

_TEACHER_SQL = """
INSERT INTO agg_teacher (snapshot_id, training_id, teacher_id, l1, l2, l3, l4, l5, school_code,
                         school_name, region_path, account_masked, name, stage, subject,
                         certified, hours_tenths, study_seconds)
SELECT :sid, r.training_id, t.id, lv.l1, lv.l2, lv.l3, lv.l4, lv.l5, s.code, s.name, lv.path,
       SUBSTR(t.account, 1, 3) || '****' || SUBSTR(t.account, LENGTH(t.account) - 3, 4),
       t.name, t.stage, t.subject,
       CASE WHEN t.cert_status = :passed THEN TRUE ELSE FALSE END,
       r.hours_tenths, r.study_seconds
FROM training_records r
JOIN teachers t ON t.id = r.teacher_id
JOIN schools s ON s.code = t.school_code
JOIN tmp_region_levels lv ON lv.code = s.region_code
WHERE s.deleted_at IS NULL
"""

_HISTORY_SQL = """
INSERT INTO agg_history (day, training_id, region_code, certified_only, participants, learners,
                         hours_tenths, completed, snapshot_id)
SELECT :day, a.training_id, a.region_code, :certified_only,
       SUM(a.participants), SUM(a.learners), SUM(a.hours_tenths), SUM(a.completed), :sid
FROM agg_region a
WHERE a.snapshot_id = :sid AND a.part = 'subtree' {condition}
GROUP BY a.training_id, a.region_code
"""


def effective_teacher_counts(
    regions: list[tuple[str, str | None]], figures: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    """(region, stage) → 专任教师数: own figure, else the sum of the children's effective
    figures when every child has one; missing otherwise (no key)."""
    kids: dict[str, list[str]] = {}
    for code, parent in regions:
        if parent is not None:
            kids.setdefault(parent, []).append(code)
    stages = {stage for _, stage in figures} | {""}
    result: dict[tuple[str, str], int] = {}
    # Children before parents: process by descending depth.
    depth: dict[str, int] = {}
    parent_of = dict(regions)

    def depth_of(code: str) -> int:
        if code not in depth:
            p = parent_of.get(code)
            depth[code] = 0 if p is None else depth_of(p) + 1
        return depth[code]

    order = sorted((code for code, _ in regions), key=depth_of, reverse=True)
    for stage in stages:
        for code in order:
            own = figures.get((code, stage))
            if own is not None:
                result[(code, stage)] = own
                continue
            children = kids.get(code)
            if children and all((c, stage) in result for c in children):
                result[(code, stage)] = sum(result[(c, stage)] for c in children)
    return result


def region_levels(regions: list[tuple[str, str | None, str]]) -> list[dict]:
    """Per region: its ancestors' codes by level (l1 = root) and the path of names."""
    parent = {c: p for c, p, _ in regions}
    name = {c: n for c, _, n in regions}
    out = []
    for code, _, _ in regions:
        chain, cur = [], code
        while cur is not None:
            chain.append(cur)
            cur = parent.get(cur)
        chain.reverse()
        levels = (chain + [None] * 5)[:5]
        out.append({"code": code, "l1": levels[0], "l2": levels[1], "l3": levels[2],
                    "l4": levels[3], "l5": levels[4], "path": "/".join(name[c] for c in chain)})
    return out


def _build(conn: Connection, sid: int) -> tuple[int, int]:
    params = {"sid": sid, "passed": "已通过"}
    school_rows = conn.execute(text(_SCHOOL_SQL), params).rowcount
    region_rows = conn.execute(text(_REGION_SUBTREE_SQL), params).rowcount
    region_rows += conn.execute(text(_REGION_DIRECT_SQL), params).rowcount
    tree = [tuple(r) for r in conn.execute(select(Region.code, Region.parent_code, Region.name))]
    conn.execute(text("DROP TABLE IF EXISTS tmp_region_levels"))
    conn.execute(text(
        "CREATE TEMPORARY TABLE tmp_region_levels (code VARCHAR(20) PRIMARY KEY, l1 VARCHAR(20), "
        "l2 VARCHAR(20), l3 VARCHAR(20), l4 VARCHAR(20), l5 VARCHAR(20), path VARCHAR(400))"))
    conn.execute(text("INSERT INTO tmp_region_levels VALUES (:code, :l1, :l2, :l3, :l4, :l5, :path)"),
                 region_levels(tree))
    conn.execute(text(_TEACHER_SQL), params)
    conn.execute(text("DROP TABLE tmp_region_levels"))
    regions = [(c, p) for c, p, _ in tree]
    figures = {(r, s): n for r, s, n in conn.execute(
        select(TeacherCount.region_code, TeacherCount.stage, TeacherCount.count))}
    counts = effective_teacher_counts(regions, figures)
    if counts:
        conn.execute(insert(AggTeacherCount), [
            {"snapshot_id": sid, "region_code": r, "stage": s, "count": n}
            for (r, s), n in counts.items()])
    return school_rows, region_rows


def _purge(conn: Connection, snapshot_ids: list[int]) -> None:
    if not snapshot_ids:
        return
    for model in AGG_TABLES:
        conn.execute(delete(model).where(model.snapshot_id.in_(snapshot_ids)))


def refresh(engine: Engine, *, now: datetime | None = None) -> RefreshResult:
    started = time.perf_counter()
    started_at = now or datetime.now()
    with engine.begin() as conn:
        sid = conn.execute(
            insert(Snapshot).values(started_at=started_at, status="building")
            .returning(Snapshot.id)
        ).scalar_one()
    try:
        with engine.begin() as conn:
            school_rows, region_rows = _build(conn, sid)
    except Exception as exc:
        with engine.begin() as conn:
            _purge(conn, [sid])
            conn.execute(update(Snapshot).where(Snapshot.id == sid).values(status="failed"))
        raise RefreshError(f"refresh failed; the previous snapshot stays in service: {exc}") from exc

    finished_at = now or datetime.now()
    with engine.begin() as conn:
        day = finished_at.date()
        conn.execute(delete(AggHistory).where(AggHistory.day == day))
        for certified_only, condition in ((False, ""), (True, "AND a.certified = TRUE")):
            conn.execute(text(_HISTORY_SQL.format(condition=condition)),
                         {"day": day, "certified_only": certified_only, "sid": sid})
        previous = current_snapshot(conn)
        if previous is None:
            conn.execute(insert(CurrentSnapshot).values(id=1, snapshot_id=sid))
        else:
            conn.execute(update(CurrentSnapshot).where(CurrentSnapshot.id == 1)
                         .values(snapshot_id=sid))
        conn.execute(update(Snapshot).where(Snapshot.id == sid)
                     .values(status="ready", finished_at=finished_at))
        keep = {sid} | ({previous[0]} if previous else set())
        stale = [s for s, in conn.execute(
            select(Snapshot.id).where(Snapshot.id.not_in(keep),
                                      Snapshot.status.in_(("ready", "building", "failed"))))]
        _purge(conn, stale)
        if stale:
            conn.execute(update(Snapshot).where(Snapshot.id.in_(stale), Snapshot.status == "ready")
                         .values(status="retired"))
            conn.execute(update(Snapshot).where(Snapshot.id.in_(stale),
                                                Snapshot.status == "building")
                         .values(status="failed"))
        trainings = conn.execute(select(Training.id)).all()
    return RefreshResult(sid, started_at, finished_at, time.perf_counter() - started,
                         len(trainings), region_rows, school_rows)
