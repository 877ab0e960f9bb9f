"""Training list queries (SPEC §4.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, func, select

from .models import Training

STATUS_NOT_STARTED = "未开始"
STATUS_RUNNING = "进行中"
STATUS_ENDED = "已结束"
STATUSES = (STATUS_NOT_STARTED, STATUS_RUNNING, STATUS_ENDED)
PAGE_SIZE = 10


@dataclass(frozen=True)
class TrainingRow:
    id: int
    code: str
    name: str
    start_at: datetime
    end_at: datetime
    hours_cap_tenths: int
    created_at: datetime

    def status(self, now: datetime | None = None) -> str:
        now = now or datetime.now()
        if now < self.start_at:
            return STATUS_NOT_STARTED
        if now <= self.end_at:
            return STATUS_RUNNING
        return STATUS_ENDED

    @property
    def period(self) -> str:
        """`2022.07.20 00:00-2022.08.31 23:59`"""
        return f"{self.start_at:%Y.%m.%d %H:%M}-{self.end_at:%Y.%m.%d %H:%M}"


_COLUMNS = (
    Training.id,
    Training.code,
    Training.name,
    Training.start_at,
    Training.end_at,
    Training.hours_cap_tenths,
    Training.created_at,
)


def training_by_code(conn: Connection, code: str) -> TrainingRow | None:
    row = conn.execute(select(*_COLUMNS).where(Training.code == code)).first()
    return TrainingRow(*row) if row else None


def training_by_id(conn: Connection, training_id: int) -> TrainingRow | None:
    row = conn.execute(select(*_COLUMNS).where(Training.id == training_id)).first()
    return TrainingRow(*row) if row else None


_LATEST = (Training.start_at.desc(), Training.id.desc())
# Built once: every 大屏 without a training of its own asks on every poll.
_RUNNING = (select(*_COLUMNS)
            .where(Training.start_at <= bindparam("now"), Training.end_at >= bindparam("now"))
            .order_by(*_LATEST).limit(1))
_STARTED = select(*_COLUMNS).where(Training.start_at <= bindparam("now")).order_by(
    *_LATEST).limit(1)
_FIRST = select(*_COLUMNS).order_by(Training.start_at, Training.id).limit(1)


def current_training(conn: Connection, now: datetime | None = None) -> TrainingRow | None:
    """The training a 大屏 without its own follows: the 进行中 one that started last, else the
    one that started last (finished), else the first upcoming one."""
    params = {"now": now or datetime.now()}
    row = (conn.execute(_RUNNING, params).first() or conn.execute(_STARTED, params).first()
           or conn.execute(_FIRST).first())
    return TrainingRow(*row) if row else None


@dataclass(frozen=True)
class TrainingFilters:
    status: str = ""  # '' = 全部
    start: date | None = None
    end: date | None = None
    keyword: str = ""


def _conditions(f: TrainingFilters, now: datetime):
    conds = []
    if f.status == STATUS_NOT_STARTED:
        conds.append(Training.start_at > now)
    elif f.status == STATUS_RUNNING:
        conds.append(and_(Training.start_at <= now, Training.end_at >= now))
    elif f.status == STATUS_ENDED:
        conds.append(Training.end_at < now)
    # The date range selects trainings whose period overlaps it.
    if f.start:
        conds.append(Training.end_at >= datetime.combine(f.start, datetime.min.time()))
    if f.end:
        conds.append(
            Training.start_at < datetime.combine(f.end + timedelta(days=1), datetime.min.time())
        )
    if f.keyword:
        escaped = f.keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(Training.name.like(f"%{escaped}%", escape="\\"))
    return conds


def list_trainings(
    conn: Connection, f: TrainingFilters, page: int = 1, now: datetime | None = None
) -> tuple[list[TrainingRow], int]:
    """One page of trainings, newest first, and the total count."""
    now = now or datetime.now()
    conds = _conditions(f, now)
    total = conn.scalar(select(func.count()).select_from(Training).where(*conds))
    rows = conn.execute(
        select(*_COLUMNS)
        .where(*conds)
        .order_by(Training.created_at.desc(), Training.id.desc())
        .limit(PAGE_SIZE)
        .offset(max(0, page - 1) * PAGE_SIZE)
    )
    return [TrainingRow(*r) for r in rows], total
