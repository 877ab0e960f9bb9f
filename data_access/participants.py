"""按学员查看: the per-teacher list of a training, paged from `agg_teacher` (SPEC §4.2.5).

Every page is read through one of the `ix_agg_teacher_*` indexes: the region (by its level
column) or school, then `teacher_id` (the deterministic order), then the filter columns. The
inner query selects only `teacher_id` so SQLite and PostgreSQL answer filter + OFFSET from
the index alone; only the rows of the page are then read from the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import Connection, and_, func, select

from .export_writer import HOURS, Column
from .metrics import duration, hours
from .snapshot_store import reads_snapshot
from .models import AggTeacher, RegionClosure, School
from .regions import RegionRow
from .stats import StatsFilters
from .trainings import TrainingRow

PAGE_SIZES = (10, 20, 50)
INDEXED_LEVELS = 3  # l1…l3 have an index each; deeper regions go through their schools
NAME_QUERY_MAX = 30

# The list as a download, in `TeacherRow.values()` order. 实际学习时长 stays text: it runs past
# 24 hours, and the text is exactly the screen's (docs/decisions.md, XLSX cell types).
COLUMNS = (Column("账号"), Column("姓名"), Column("所在学校"), Column("所在区域"), Column("学段"),
           Column("学科领域"), Column("获得学时", HOURS), Column("实际学习时长"))


@dataclass(frozen=True)
class TeacherScope:
    """Where the list is taken from: a region's subtree or one school (already authorized)."""

    region: RegionRow | None = None
    school_code: str | None = None


@dataclass(frozen=True)
class TeacherFilters:
    stats: StatsFilters = StatsFilters()
    name: str = ""  # prefix (which includes the exact name)


@dataclass(frozen=True)
class TeacherRow:
    teacher_id: int
    account: str  # already masked
    name: str
    school: str
    region_path: str
    stage: str
    subject: str
    hours: str
    duration: str

    def values(self) -> list[str]:
        return [self.account, self.name, self.school, self.region_path, self.stage,
                self.subject, self.hours, self.duration]


def _where(snapshot_id: int, training: TrainingRow, where: TeacherScope, f: TeacherFilters):
    conds = [AggTeacher.snapshot_id == snapshot_id, AggTeacher.training_id == training.id]
    if where.school_code is not None:
        conds.append(AggTeacher.school_code == where.school_code)
    elif where.region is not None and 1 <= where.region.level <= INDEXED_LEVELS:
        conds.append(getattr(AggTeacher, f"l{where.region.level}") == where.region.code)
    elif where.region is not None:
        schools = (select(School.code)
                   .join(RegionClosure, RegionClosure.descendant_code == School.region_code)
                   .where(RegionClosure.ancestor_code == where.region.code))
        conds.append(AggTeacher.school_code.in_(schools))
    else:
        raise ValueError("a teacher list needs a region or a school")
    if f.stats.stage:
        conds.append(AggTeacher.stage == f.stats.stage)
    if f.stats.subject:
        conds.append(AggTeacher.subject == f.stats.subject)
    if f.stats.certified_only:
        conds.append(AggTeacher.certified.is_(True))
    name = f.name.strip()[:NAME_QUERY_MAX]
    if name:
        # A prefix as a range: the binary collation keeps it one index range on both databases.
        conds.append(and_(AggTeacher.name >= name, AggTeacher.name < name + "\U0010ffff"))
    return conds


@reads_snapshot
def count_teachers(conn: Connection, snapshot_id: int, training: TrainingRow,
                   where: TeacherScope, f: TeacherFilters) -> int:
    return conn.scalar(select(func.count()).select_from(AggTeacher)
                       .where(*_where(snapshot_id, training, where, f)))


def _row(r) -> TeacherRow:
    return TeacherRow(r.teacher_id, r.account_masked, r.name, r.school_name, r.region_path,
                      r.stage, r.subject, hours(r.hours_tenths), duration(r.study_seconds))


_COLUMNS = (AggTeacher.teacher_id, AggTeacher.account_masked, AggTeacher.name,
            AggTeacher.school_name, AggTeacher.region_path, AggTeacher.stage,
            AggTeacher.subject, AggTeacher.hours_tenths, AggTeacher.study_seconds)


@reads_snapshot
def teacher_page(conn: Connection, snapshot_id: int, training: TrainingRow, where: TeacherScope,
                 f: TeacherFilters, page: int, page_size: int,
                 total: int | None = None) -> list[TeacherRow]:
    """One page in list order. With the total known, pages past the middle are read from the
    end of the index (descending), so the last page costs what the first one does."""
    if page_size not in PAGE_SIZES:
        raise ValueError("page size")
    offset = max(0, page - 1) * page_size
    limit, descending = page_size, False
    if total is not None and offset > total // 2:
        descending = True
        end = total - offset  # rows from this page's first row to the end
        if end <= 0:
            return []
        limit = min(page_size, end)
        offset = end - limit
    order = AggTeacher.teacher_id.desc() if descending else AggTeacher.teacher_id
    ids = (
        select(AggTeacher.teacher_id)
        .where(*_where(snapshot_id, training, where, f))
        .order_by(order)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    stmt = (
        select(*_COLUMNS)
        .join(ids, ids.c.teacher_id == AggTeacher.teacher_id)
        .where(AggTeacher.snapshot_id == snapshot_id, AggTeacher.training_id == training.id)
        .order_by(AggTeacher.teacher_id)
    )
    return [_row(r) for r in conn.execute(stmt)]


@reads_snapshot
def _keyset_batches(conn: Connection, snapshot_id: int, training: TrainingRow,
                    where: TeacherScope, f: TeacherFilters, batch: int) -> Iterator[list]:
    """Every matching row in list order, in keyset batches (constant memory, no OFFSET)."""
    last = 0
    base = _where(snapshot_id, training, where, f)
    while True:
        rows = conn.execute(
            select(*_COLUMNS).where(*base, AggTeacher.teacher_id > last)
            .order_by(AggTeacher.teacher_id).limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


@reads_snapshot
def iter_teachers(conn: Connection, snapshot_id: int, training: TrainingRow, where: TeacherScope,
                  f: TeacherFilters, batch: int = 5000) -> Iterator[TeacherRow]:
    """All matching rows in list order."""
    for rows in _keyset_batches(conn, snapshot_id, training, where, f, batch):
        yield from (_row(r) for r in rows)


@reads_snapshot
def iter_teacher_values(conn: Connection, snapshot_id: int, training: TrainingRow,
                        where: TeacherScope, f: TeacherFilters,
                        batch: int = 5000) -> Iterator[list[str]]:
    """`TeacherRow.values()` of every matching row, in list order, without building the row
    objects: the fast path for downloads."""
    for rows in _keyset_batches(conn, snapshot_id, training, where, f, batch):
        for _tid, account, name, school, path, stage, subject, tenths, seconds in rows:
            yield [account, name, school, path, stage, subject, hours(tenths), duration(seconds)]
