"""The two training tables as downloads (SPEC §6): 按区域查看 and 按学员查看.

An `ExportRequest` is built only from values that were already authorized (a region from
`authorize_region`, a school from `authorize_school`, a training from `authorize_training`).
The stable download URLs and the background jobs both turn it into the same title row,
columns and rows, so a file is identical whichever way it was produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from sqlalchemy import Connection, select

from .export_writer import Column, title_line
from .models import Snapshot
from .regions import RegionRow
from .stats import (
    REGION_TABLE_EXPORT_COLUMNS,
    StatsFilters,
    region_table,
    region_table_records,
    region_table_values,
)
from .participants import COLUMNS as TEACHER_COLUMNS
from .participants import (
    TeacherFilters,
    TeacherScope,
    count_teachers,
    iter_teacher_values,
)
from .trainings import TrainingRow

TABLES = ("regions", "teachers")
FORMATS = ("csv", "xlsx")
TABLE_LABELS = {"regions": "按区域查看", "teachers": "按学员查看"}
NO_SNAPSHOT = "尚未生成"


@dataclass(frozen=True)
class ExportRequest:
    table: str  # regions | teachers
    training: TrainingRow
    filters: StatsFilters
    scope_name: str  # the region's or the school's name
    region: RegionRow | None = None
    school_code: str | None = None  # teachers of one school (teachers table only)
    q: str = ""  # name prefix (teachers table only)

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            raise ValueError("unknown table")
        if (self.region is None) == (self.school_code is None):
            raise ValueError("an export needs exactly one of region and school")
        if self.table == "regions" and self.region is None:
            raise ValueError("the region table needs a region")

    # ------------------------------------------------------------------ labels

    def filter_labels(self) -> dict[str, str]:
        f = self.filters
        labels = {"学段": f.stage or "全部", "学科领域": f.subject or "全部",
                  "未通过认证教师": "不包含" if f.certified_only else "包含"}
        if self.table == "teachers" and self.q:
            labels["姓名"] = self.q
        return labels

    def title(self, updated: str) -> str:
        """The file's title row: training, region or school, filters, 数据更新时间."""
        return title_line(self.training.name, self.scope_name, self.filter_labels(), updated)

    def label(self) -> str:
        """A short name for 导出管理 and the downloaded file."""
        return f"{self.training.name}-{self.scope_name}-{TABLE_LABELS[self.table]}"

    def filename(self, fmt: str) -> str:
        return f"{self.label()}.{fmt}"

    def columns(self) -> tuple[Column, ...]:
        return REGION_TABLE_EXPORT_COLUMNS if self.table == "regions" else TEACHER_COLUMNS

    # ------------------------------------------------------------------ rows

    def _teacher_args(self):
        where = (TeacherScope(school_code=self.school_code) if self.school_code is not None
                 else TeacherScope(region=self.region))
        return where, TeacherFilters(self.filters, self.q)

    def count(self, conn: Connection, snapshot_id: int | None) -> int:
        if snapshot_id is None:
            return 0
        if self.table == "regions":
            return len(self.region_values(conn, snapshot_id))
        where, f = self._teacher_args()
        return count_teachers(conn, snapshot_id, self.training, where, f)

    def region_values(self, conn: Connection, snapshot_id: int | None) -> list[list[str]]:
        """The 按区域查看 rows exactly as the grid shows them (a short list)."""
        if snapshot_id is None:
            return []
        records = region_table_records(
            region_table(conn, snapshot_id, self.training, self.region, self.filters))
        return [region_table_values(r) for r in records]

    def rows(self, conn: Connection, snapshot_id: int | None) -> Iterator[list[str]]:
        """All rows of the table in screen order, read in constant memory for teachers."""
        if snapshot_id is None:
            return
        if self.table == "regions":
            yield from self.region_values(conn, snapshot_id)
            return
        where, f = self._teacher_args()
        yield from iter_teacher_values(conn, snapshot_id, self.training, where, f)

    # ------------------------------------------------------------------ job parameters

    def params(self, snapshot_id: int | None) -> dict:
        """What a background job needs to produce the same file later (JSON-safe)."""
        return {
            "table": self.table,
            "training_id": self.training.id,
            "training_code": self.training.code,
            "snapshot_id": snapshot_id,
            "region": self.region.code if self.region is not None else None,
            "school": self.school_code,
            "stage": self.filters.stage,
            "subject": self.filters.subject,
            "certified_only": self.filters.certified_only,
            "q": self.q,
        }


def snapshot_time(conn: Connection, snapshot_id: int | None) -> datetime | None:
    if snapshot_id is None:
        return None
    return conn.scalar(select(Snapshot.finished_at).where(Snapshot.id == snapshot_id))


def snapshot_ready(conn: Connection, snapshot_id: int) -> bool:
    """Still served or kept (a refresh keeps the previous snapshot's rows)."""
    return conn.scalar(select(Snapshot.status).where(Snapshot.id == snapshot_id)) == "ready"


def updated_text(finished_at: datetime | None) -> str:
    return NO_SNAPSHOT if finished_at is None else f"{finished_at:%Y-%m-%d %H:%M:%S}"
