"""Training statistics read from the precomputed aggregates of one snapshot (SPEC §4.2).

Callers resolve the snapshot id once per request (refresh.current_snapshot) and pass it to
every function here, so one screen never mixes two snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from . import vocab
from .export_writer import AVERAGE, COUNT, PERCENT, TEXT, CellType, Column
from .metrics import (
    REGION_TABLE_COLUMNS,
    Counts,
    hours_average_value,
    metric_row,
    percent_value,
)
from .snapshot_store import reads_snapshot
from .models import AggHistory, AggRegion, AggSchool, AggTeacherCount, School
from .regions import RegionRow, children
from .trainings import TrainingRow

PART_SUBTREE = "subtree"
PART_DIRECT = "direct"
DIRECT_SCHOOLS_LABEL = "直属学校"


@dataclass(frozen=True)
class StatsFilters:
    stage: str = ""  # '' = 全部
    subject: str = ""  # '' = 全部
    certified_only: bool = False  # 未通过认证教师: 不包含


@dataclass(frozen=True)
class TableRow:
    """One row of the 按区域查看 table."""

    key: str  # region code or school code; '' for the 直属学校 row
    kind: str  # current | region | direct | school
    name: str
    counts: Counts

    @property
    def drillable(self) -> bool:
        return self.kind == "region"


def _sums(model):
    return (
        func.sum(model.participants),
        func.sum(model.learners),
        func.sum(model.hours_tenths),
        func.sum(model.completed),
    )


def _filter(stmt, model, f: StatsFilters):
    if f.stage:
        stmt = stmt.where(model.stage == f.stage)
    if f.subject:
        stmt = stmt.where(model.subject == f.subject)
    if f.certified_only:
        stmt = stmt.where(model.certified.is_(True))
    return stmt


@reads_snapshot
def _region_counts(
    conn: Connection, snapshot_id: int, training_id: int, codes: list[str], f: StatsFilters
) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    stmt = (
        select(AggRegion.region_code, AggRegion.part, *_sums(AggRegion))
        .where(
            AggRegion.snapshot_id == snapshot_id,
            AggRegion.training_id == training_id,
            AggRegion.region_code.in_(codes),
        )
        .group_by(AggRegion.region_code, AggRegion.part)
    )
    stmt = _filter(stmt, AggRegion, f)
    return {
        (r[0], r[1]): tuple(int(v or 0) for v in r[2:]) for r in conn.execute(stmt)
    }


@reads_snapshot
def teacher_counts(
    conn: Connection, snapshot_id: int, codes: list[str], f: StatsFilters
) -> dict[str, int]:
    """Effective 专任教师数 per region; a subject filter has no denominator (no figures are
    kept per subject), so it yields none."""
    if f.subject:
        return {}
    rows = conn.execute(
        select(AggTeacherCount.region_code, AggTeacherCount.count).where(
            AggTeacherCount.snapshot_id == snapshot_id,
            AggTeacherCount.stage == f.stage,
            AggTeacherCount.region_code.in_(codes),
        )
    )
    return dict(rows.all())


def _counts(raw: tuple[int, int, int, int] | None, denominator: int | None) -> Counts:
    p, l, h, c = raw or (0, 0, 0, 0)
    return Counts(p, l, h, c, denominator)


def region_overview(
    conn: Connection, snapshot_id: int, training: TrainingRow, region: RegionRow, f: StatsFilters
) -> Counts:
    sums = _region_counts(conn, snapshot_id, training.id, [region.code], f)
    denominators = teacher_counts(conn, snapshot_id, [region.code], f)
    return _counts(sums.get((region.code, PART_SUBTREE)), denominators.get(region.code))


def has_direct_schools(conn: Connection, region_code: str) -> bool:
    return (
        conn.scalar(
            select(School.code)
            .where(School.region_code == region_code, School.deleted_at.is_(None))
            .limit(1)
        )
        is not None
    )


def region_table(
    conn: Connection, snapshot_id: int, training: TrainingRow, region: RegionRow, f: StatsFilters
) -> list[TableRow]:
    """The current region first, then its child regions (and its 直属学校 row), or — at a
    region without child regions — its schools; sorted by 参训人数, largest first."""
    kids = children(conn, region.code)
    codes = [region.code] + [k.code for k in kids]
    sums = _region_counts(conn, snapshot_id, training.id, codes, f)
    denominators = teacher_counts(conn, snapshot_id, codes, f)
    current = TableRow(
        region.code,
        "current",
        region.name,
        _counts(sums.get((region.code, PART_SUBTREE)), denominators.get(region.code)),
    )
    if kids:
        rows = [
            TableRow(k.code, "region", k.name,
                     _counts(sums.get((k.code, PART_SUBTREE)), denominators.get(k.code)))
            for k in kids
        ]
        if has_direct_schools(conn, region.code):
            rows.append(
                TableRow("", "direct", DIRECT_SCHOOLS_LABEL,
                         _counts(sums.get((region.code, PART_DIRECT)), None))
            )
    else:
        rows = school_rows(conn, snapshot_id, training, region.code, f)
    rows.sort(key=lambda r: (-r.counts.participants, r.name, r.key))
    return [current, *rows]


@reads_snapshot
def school_rows(
    conn: Connection, snapshot_id: int, training: TrainingRow, region_code: str, f: StatsFilters
) -> list[TableRow]:
    """Every (not deleted) school attached to the region, with its totals (zeros included)."""
    stmt = (
        select(AggSchool.school_code, *_sums(AggSchool))
        .where(
            AggSchool.snapshot_id == snapshot_id,
            AggSchool.training_id == training.id,
            AggSchool.region_code == region_code,
        )
        .group_by(AggSchool.school_code)
    )
    sums = {r[0]: tuple(int(v or 0) for v in r[1:]) for r in conn.execute(_filter(stmt, AggSchool, f))}
    schools = conn.execute(
        select(School.code, School.name).where(
            School.region_code == region_code, School.deleted_at.is_(None)
        )
    )
    return [TableRow(code, "school", name, _counts(sums.get(code), None)) for code, name in schools]


def region_table_records(rows: list[TableRow]) -> list[dict]:
    """The table's rows as the grid shows them; downloads write the very same values."""
    out = []
    for r in rows:
        m = dict(metric_row(r.counts).__dict__)  # shallow: asdict() deep-copies, 4× slower
        out.append({
            "row_id": r.key if r.kind in ("current", "region") else f"{r.kind}:{r.key}",
            "kind": r.kind,
            "code": r.key if r.kind == "region" else "",
            "name": r.name,
            **m,
        })
    return out


# The cell type of each metric in a download (SPEC §6), by `MetricRow` field.
_METRIC_CELLS: dict[str, CellType] = {
    "progress": PERCENT,
    "participants": COUNT,
    "participation_rate": PERCENT,
    "learners": COUNT,
    "learning_rate": PERCENT,
    "hours_average": AVERAGE,
    "completed": COUNT,
    "completed_rate": PERCENT,
    "not_completed": COUNT,
    "not_completed_rate": PERCENT,
}

# The 按区域查看 table as a download, in `region_table_values` order.
REGION_TABLE_EXPORT_COLUMNS: tuple[Column, ...] = (Column("区域名称", TEXT),) + tuple(
    Column(label, _METRIC_CELLS[field]) for label, field in REGION_TABLE_COLUMNS)


def region_table_values(record: dict) -> list[str]:
    return [record["name"]] + [record[field] for _, field in REGION_TABLE_COLUMNS]


# --------------------------------------------------------------------------- overview cards


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    sub: str  # e.g. 学习率 under 学习人数; '' when none
    delta: str  # '▲ 120' / '▼ 0.35%' / '' (no previous day, or filters without history)
    direction: int  # 1 up, -1 down, 0 unchanged/none


def previous_day_counts(conn: Connection, training: TrainingRow, region_code: str,
                        before, certified_only: bool) -> Counts | None:
    """Totals of the latest daily history row strictly before `before` (a date)."""
    row = conn.execute(
        select(AggHistory.participants, AggHistory.learners, AggHistory.hours_tenths,
               AggHistory.completed)
        .where(AggHistory.training_id == training.id, AggHistory.region_code == region_code,
               AggHistory.certified_only.is_(certified_only), AggHistory.day < before)
        .order_by(AggHistory.day.desc())
        .limit(1)
    ).first()
    return Counts(*row) if row else None


def change_since(now: float | None, before: float | None, fmt) -> tuple[str, int]:
    if now is None or before is None:
        return "", 0
    diff = round(now - before, 6)
    if diff == 0:
        return "— 0", 0
    return ("▲ " if diff > 0 else "▼ ") + fmt(abs(diff)), 1 if diff > 0 else -1


def overview_cards(current: Counts, previous: Counts | None) -> list[Card]:
    """参训人数, 参训率, 学习人数 (学习率), 人均学时, 完成学时人数 (完成人数占比), each with its
    change since the previous daily snapshot (ratios in percentage points)."""
    m = metric_row(current)

    def rate(c: Counts | None):
        return None if c is None else percent_value(c.participants, current.teacher_count)

    def avg(c: Counts | None):
        return None if c is None else hours_average_value(c.hours_tenths, c.learners)

    count = lambda v: str(int(v))  # noqa: E731
    points = lambda v: f"{v:.2f}%"  # noqa: E731
    one = lambda v: f"{v:.1f}"  # noqa: E731
    cards = [
        ("参训人数", m.participants, "", change_since(current.participants,
                                              previous and previous.participants, count)),
        ("参训率", m.participation_rate, "", change_since(rate(current), rate(previous), points)),
        ("学习人数", m.learners, f"学习率 {m.learning_rate}",
         change_since(current.learners, previous and previous.learners, count)),
        ("人均学时", m.hours_average, "", change_since(avg(current), avg(previous), one)),
        ("完成学时人数", m.completed, f"完成人数占比 {m.completed_rate}",
         change_since(current.completed, previous and previous.completed, count)),
    ]
    return [Card(label, value, sub, d[0], d[1]) for label, value, sub, d in cards]


# --------------------------------------------------------------------------- comparison chart

# 指标选择: key → (label, kind). Counts are bars on the left axis, ratios lines on the right.
INDICATORS: dict[str, tuple[str, str]] = {
    "participants": ("参训人数", "count"),
    "learners": ("学习人数", "count"),
    "completed": ("完成学时人数", "count"),
    "not_completed": ("未完成学时人数", "count"),
    "participation_rate": ("参训率", "ratio"),
    "learning_rate": ("学习率", "ratio"),
    "completed_rate": ("完成人数占比", "ratio"),
    "progress": ("学习进度", "ratio"),
    "hours_average": ("人均学时", "hours"),
}
DEFAULT_INDICATORS = ("participants", "participation_rate")
# A school has no 专任教师数 of its own (SPEC §5.3), so 参训率 has no value there.
SCHOOL_DEFAULT_INDICATORS = ("participants", "completed_rate")


def indicator_value(c: Counts, key: str) -> float | None:
    return {
        "participants": c.participants,
        "learners": c.learners,
        "completed": c.completed,
        "not_completed": c.not_completed,
        "participation_rate": percent_value(c.participants, c.teacher_count),
        "learning_rate": percent_value(c.learners, c.participants),
        "completed_rate": percent_value(c.completed, c.participants),
        "progress": percent_value(c.completed, c.teacher_count),
        "hours_average": hours_average_value(c.hours_tenths, c.learners),
    }[key]


def comparison_series(rows: list[TableRow]) -> list[dict]:
    """The chart's points: the sub-regions (or schools) of the table, without the current row
    and the 直属学校 row, with every indicator's numeric value."""
    return [
        {"key": r.key, "name": r.name, "kind": r.kind, "drillable": r.drillable,
         **{k: indicator_value(r.counts, k) for k in INDICATORS}}
        for r in rows if r.kind in ("region", "school")
    ]


# --------------------------------------------------------------------------- one school (§5.3)


@reads_snapshot
def school_overview(conn: Connection, snapshot_id: int, training: TrainingRow, school_code: str,
                    f: StatsFilters) -> Counts:
    stmt = select(*_sums(AggSchool)).where(
        AggSchool.snapshot_id == snapshot_id, AggSchool.training_id == training.id,
        AggSchool.school_code == school_code)
    row = conn.execute(_filter(stmt, AggSchool, f)).first()
    return _counts(tuple(int(v or 0) for v in row) if row else None, None)


@reads_snapshot
def school_subject_series(conn: Connection, snapshot_id: int, training: TrainingRow,
                          school_code: str, f: StatsFilters) -> list[dict]:
    """各学科参训情况对比: one point per 学科领域 of the school's participants."""
    stmt = (
        select(AggSchool.subject, *_sums(AggSchool))
        .where(AggSchool.snapshot_id == snapshot_id, AggSchool.training_id == training.id,
               AggSchool.school_code == school_code)
        .group_by(AggSchool.subject)
    )
    rows = [TableRow(r[0], "school", r[0], _counts(tuple(int(v or 0) for v in r[1:]), None))
            for r in conn.execute(_filter(stmt, AggSchool, f))]
    return [{**p, "kind": "subject", "drillable": False} for p in comparison_series(rows)]


@dataclass(frozen=True)
class Distribution:
    """各学段/学科参训人数分布: 参训人数 per 学段 (in the platform's order) and per 学科领域
    (most participants first)."""

    stages: list[tuple[str, int]]
    subjects: list[tuple[str, int]]


@reads_snapshot
def school_distribution(conn: Connection, snapshot_id: int, training: TrainingRow,
                        school_code: str, f: StatsFilters) -> Distribution:
    """参训人数 of the school's teachers by 学段 and by 学科领域 (the same filters as its cards)."""
    def by(column) -> dict[str, int]:
        stmt = (select(column, func.sum(AggSchool.participants))
                .where(AggSchool.snapshot_id == snapshot_id, AggSchool.training_id == training.id,
                       AggSchool.school_code == school_code)
                .group_by(column))
        return {key: int(n or 0) for key, n in conn.execute(_filter(stmt, AggSchool, f))
                if int(n or 0) > 0}

    stages = by(AggSchool.stage)
    order = {s: i for i, s in enumerate(vocab.STAGES)}
    subjects = by(AggSchool.subject)
    return Distribution(
        stages=sorted(stages.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])),
        subjects=sorted(subjects.items(), key=lambda kv: (-kv[1], kv[0])))
