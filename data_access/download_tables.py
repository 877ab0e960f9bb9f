"""Every downloadable table (SPEC §6), each one definition.

A table is a `DownloadTable` subclass listed in `TABLES`. It declares

- `name` (stored with export jobs, named in the audit log) and `label` (按区域查看 …);
- `path`, its stable URL without the format (`/export/training/<training_code>/regions`;
  `<x>` parts are path values) and `query`, the URL parameters it reads;
- `columns` (`export_writer.Column`s with their SPEC §6 cell types);
- `authorize(conn, scope, args)`: the scope check. `args` are the path values and URL
  parameters as sent (never trusted); the scope is built on the server from the session.
  It raises `ScopeDenied` (403, audit-logged), `NotFound` (404) or `Malformed` (400) and
  returns the authorized download, which gives
- `title()` (the title row), `count(conn)` and `rows(conn)` (in batches: an iterator that
  never holds the whole table), and what the audit log records.

The stable-URL routes, `POST /export/jobs`, the background job runner and the 导出 buttons
all go through `TABLES`, `authorize` and `url`, so a new table is one class here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar, Iterator, Mapping
from urllib.parse import quote, urlencode

from sqlalchemy import Connection, select

from . import activation
from . import certification as cert
from . import teacher_counts as counts
from .audit import COLUMNS as AUDIT_COLUMNS
from .audit import entries_in_scope
from .export_writer import COUNT, CellType, Column, title_line
from .models import School, Snapshot
from .participants import COLUMNS as PARTICIPANT_COLUMNS
from .participants import (
    NAME_QUERY_MAX,
    TeacherFilters,
    TeacherScope,
    count_teachers,
    iter_teacher_values,
)
from .refresh import current_snapshot
from .regions import RegionRow, school_name
from .rules import is_region_admin
from .schools import COLUMNS as SCHOOL_COLUMNS
from .schools import count_schools, iter_schools
from .schools import filters_from as school_filters
from .snapshot_store import snapshot_available
from .scope import Scope, ScopeDenied, authorize_region, authorize_school, authorize_training
from .stats import (
    REGION_TABLE_EXPORT_COLUMNS,
    StatsFilters,
    region_table,
    region_table_records,
    region_table_values,
)
from .trainings import TrainingRow
from .vocab import STAGES, SUBJECTS

FORMATS = ("csv", "xlsx")
NO_SNAPSHOT = "尚未生成"
_PATH_VALUE = re.compile(r"<([a-z_]+)>")


class Malformed(ValueError):
    """A request no screen would send (bad filter, both region and school): 400."""


class DownloadTable:
    """One table as a download; see the module docstring. Subclasses set the class
    attributes, implement `authorize` (returning an instance), `title`, `count` and `rows`."""

    name: ClassVar[str]
    label: ClassVar[str]
    path: ClassVar[str]
    query: ClassVar[tuple[str, ...]]
    columns: ClassVar[tuple[Column, ...]]
    # May exceed the inline limit (20,000 rows): 导出 then queues a background job.
    background: ClassVar[bool] = False

    def __init__(self, args: dict[str, str], scope_name: str):
        self.args = args  # the authorized request: path values and URL parameters
        self.scope_name = scope_name  # the region's or school's name, for titles and files

    # ------------------------------------------------------------------ per table

    @classmethod
    def authorize(cls, conn: Connection, scope: Scope | None, args: Mapping[str, str],
                  snapshot_id: int | None = None) -> "DownloadTable":
        raise NotImplementedError

    def title(self) -> str:
        raise NotImplementedError

    def count(self, conn: Connection) -> int:
        raise NotImplementedError

    def rows(self, conn: Connection) -> Iterator[list[str]]:
        raise NotImplementedError

    def audit_scope(self) -> tuple[str | None, str | None]:
        """The (region, school) an export entry is filed under."""
        raise NotImplementedError

    def audit_detail(self, fmt: str, rows: int) -> dict:
        """The detail of the export's audit entry (who and when are the entry's own)."""
        return {"table": self.name, "format": fmt, "rows": rows}

    @classmethod
    def denied_detail(cls, args: Mapping[str, object], reason: str) -> dict:
        """The detail of a refused export's audit entry: what was asked for, cut short."""
        return {"table": cls.name, "reason": reason}

    # ------------------------------------------------------------------ shared

    snapshot_id: int | None = None  # the aggregate snapshot read, if any

    def label_text(self) -> str:
        """A short name for 导出管理 and the downloaded file."""
        return f"{self.scope_name}-{self.label}"

    def filename(self, fmt: str) -> str:
        return f"{self.label_text()}.{fmt}"

    def url(self, fmt: str) -> str:
        return url_for(self.name, self.args, fmt)

    @classmethod
    def path_values(cls) -> tuple[str, ...]:
        return tuple(_PATH_VALUE.findall(cls.path))

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return cls.path_values() + cls.query


def url_for(table: str, args: Mapping[str, str], fmt: str) -> str:
    """The stable download URL of `table` for `args` (the one place a URL is built): path
    values in the path, the table's non-empty parameters in its order."""
    cls = TABLES[table]
    if fmt not in FORMATS:
        raise ValueError("unknown format")
    path = _PATH_VALUE.sub(lambda m: quote(str(args.get(m.group(1)) or ""), safe=""), cls.path)
    params = {k: args[k] for k in cls.query if args.get(k)}
    return f"{path}.{fmt}" + (f"?{urlencode(params)}" if params else "")


def clean_args(table: type[DownloadTable], values: Mapping[str, object]) -> dict[str, str]:
    """The table's own keys from a request, as strings; anything else is ignored."""
    out = {}
    for key in table.keys():
        value = values.get(key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise Malformed("参数无效")
        out[key] = value
    return out


# --------------------------------------------------------------------------- training tables


def snapshot_time(conn: Connection, snapshot_id: int | None) -> datetime | None:
    if snapshot_id is None:
        return None
    return conn.scalar(select(Snapshot.finished_at).where(Snapshot.id == snapshot_id))


def snapshot_ready(conn: Connection, snapshot_id: int) -> bool:
    """Still served or kept (a refresh keeps the previous snapshot's rows)."""
    status = conn.scalar(select(Snapshot.status).where(Snapshot.id == snapshot_id))
    return status == "ready" and snapshot_available(conn, snapshot_id)


def updated_text(finished_at: datetime | None) -> str:
    return NO_SNAPSHOT if finished_at is None else f"{finished_at:%Y-%m-%d %H:%M:%S}"


def _filters(args: Mapping[str, str]) -> StatsFilters:
    stage, subject = args.get("stage", ""), args.get("subject", "")
    uncertified = args.get("uncertified") or "include"
    if stage not in ("", *STAGES) or subject not in ("", *SUBJECTS) or uncertified not in (
            "include", "exclude"):
        raise Malformed("筛选条件无效")
    return StatsFilters(stage, subject, uncertified == "exclude")


class TrainingTable(DownloadTable):
    """A table of one training's statistics, read from one aggregate snapshot."""

    training: TrainingRow
    filters: StatsFilters
    region: RegionRow | None = None
    school_code: str | None = None
    q: str = ""

    @classmethod
    def _start(cls, conn, scope, args, snapshot_id):
        if scope is None:
            raise ScopeDenied("no region scope")
        args = clean_args(cls, args)
        f = _filters(args)
        training = authorize_training(conn, scope, args["training_code"])
        if snapshot_id is None:
            snap = current_snapshot(conn)
            snapshot_id = snap[0] if snap else None
        return args, f, training, snapshot_id

    def _finish(self, training, f, snapshot_id, conn):
        self.training, self.filters, self.snapshot_id = training, f, snapshot_id
        self.updated = updated_text(snapshot_time(conn, snapshot_id))
        canonical = {"training_code": training.code,
                     "region": self.region.code if self.region is not None else "",
                     "school": self.school_code or "",
                     "stage": f.stage, "subject": f.subject, "q": self.q,
                     "uncertified": "exclude" if f.certified_only else "include"}
        self.args = {k: canonical[k] for k in self.keys()}
        return self

    def filter_labels(self) -> dict[str, str]:
        f = self.filters
        return {"学段": f.stage or "全部", "学科领域": f.subject or "全部",
                "未通过认证教师": "不包含" if f.certified_only else "包含"}

    def title(self) -> str:
        """Training, region or school, filters, 数据更新时间."""
        return title_line(self.training.name, self.scope_name, self.filter_labels(),
                          self.updated)

    def label_text(self) -> str:
        return f"{self.training.name}-{self.scope_name}-{self.label}"

    def audit_scope(self):
        return (self.region.code if self.region is not None else None), self.school_code

    def audit_detail(self, fmt, rows):
        f = self.filters
        return {"table": self.name, "training": self.training.code, "format": fmt,
                "stage": f.stage, "subject": f.subject, "certified_only": f.certified_only,
                "rows": rows}

    @classmethod
    def denied_detail(cls, args, reason):
        def cut(key):
            value = args.get(key)
            return value[:40] if isinstance(value, str) else ""

        return {"training": cut("training_code"), "reason": reason, "region": cut("region"),
                "school": cut("school")}


class RegionTable(TrainingTable):
    """统计详情 · 按区域查看: the current region's row, its children (or schools)."""

    name = "regions"
    label = "按区域查看"
    path = "/export/training/<training_code>/regions"
    query = ("region", "stage", "subject", "uncertified")
    columns = REGION_TABLE_EXPORT_COLUMNS

    @classmethod
    def authorize(cls, conn, scope, args, snapshot_id=None):
        if not is_region_admin(scope):
            raise ScopeDenied("no region scope")
        args, f, training, snapshot_id = cls._start(conn, scope, args, snapshot_id)
        try:
            region = authorize_region(conn, scope, args["region"] or None)
        except ScopeDenied as exc:
            raise ScopeDenied("region outside scope") from exc
        table = cls(args, region.name)
        table.region = region
        return table._finish(training, f, snapshot_id, conn)

    def _values(self, conn) -> list[list[str]]:
        if self.snapshot_id is None:
            return []
        if not hasattr(self, "_cached"):
            records = region_table_records(region_table(
                conn, self.snapshot_id, self.training, self.region, self.filters))
            self._cached = [region_table_values(r) for r in records]
        return self._cached

    def count(self, conn):
        return len(self._values(conn))

    def rows(self, conn):
        # A region table is a few hundred rows at most: read once, then written.
        yield from self._values(conn)


class ParticipantTable(TrainingTable):
    """统计详情 · 按学员查看: every matching participant, read in keyset batches."""

    name = "teachers"
    label = "按学员查看"
    path = "/export/training/<training_code>/teachers"
    query = ("region", "school", "stage", "subject", "q", "uncertified")
    columns = PARTICIPANT_COLUMNS
    background = True

    @classmethod
    def authorize(cls, conn, scope, args, snapshot_id=None):
        args, f, training, snapshot_id = cls._start(conn, scope, args, snapshot_id)
        q = args["q"].strip()
        if len(q) > NAME_QUERY_MAX:
            raise Malformed("姓名查询过长")
        region_arg, school_arg = args["region"], args["school"]
        if region_arg and school_arg:
            raise Malformed("区域与学校只能指定其一")
        try:
            if school_arg or (scope.is_school and not region_arg):
                code = authorize_school(conn, scope, school_arg or None)
                table = cls(args, school_name(conn, code) or code)
                table.school_code = code
            else:
                region = authorize_region(conn, scope, region_arg or None)
                table = cls(args, region.name)
                table.region = region
        except ScopeDenied as exc:
            raise ScopeDenied("school outside scope" if school_arg
                              else "region outside scope") from exc
        table.q = q
        return table._finish(training, f, snapshot_id, conn)

    def filter_labels(self):
        labels = super().filter_labels()
        if self.q:
            labels["姓名"] = self.q
        return labels

    def _where(self):
        where = (TeacherScope(school_code=self.school_code) if self.school_code is not None
                 else TeacherScope(region=self.region))
        return where, TeacherFilters(self.filters, self.q)

    def count(self, conn):
        if self.snapshot_id is None:
            return 0
        return count_teachers(conn, self.snapshot_id, self.training, *self._where())

    def rows(self, conn):
        if self.snapshot_id is None:
            return
        yield from iter_teacher_values(conn, self.snapshot_id, self.training, *self._where())

    def audit_detail(self, fmt, rows):
        detail = super().audit_detail(fmt, rows)
        if self.school_code is not None:
            detail["school"] = self.school_code
        if self.q:
            # A name is personal data: the log keeps only that a name filter was used.
            detail["name"] = self.q[0] + "*" * (len(self.q) - 1)
        return detail


# --------------------------------------------------------------------------- 操作日志


class AuditTable(DownloadTable):
    """操作日志 of the caller's own region scope (no parameter chooses another region), with
    the screen's columns and sentences."""

    name = "audit"
    label = "操作日志"
    path = "/export/audit"
    query = ()
    columns = tuple(Column(label) for _, label in AUDIT_COLUMNS)
    LIMIT = 100_000

    @classmethod
    def authorize(cls, conn, scope, args, snapshot_id=None):
        if not is_region_admin(scope):
            raise ScopeDenied("no region scope")
        table = cls({}, scope.name)
        table.region_code = scope.region_code
        table.exported_at = datetime.now()
        return table

    def title(self):
        return f"操作日志 · {self.scope_name} · 导出时间：{self.exported_at:%Y-%m-%d %H:%M:%S}"

    def _entries(self, conn):
        if not hasattr(self, "_cached"):
            keys = [key for key, _ in AUDIT_COLUMNS]
            self._cached = [[cells[k] for k in keys] for cells in (
                r.cells() for r in entries_in_scope(conn, self.region_code, limit=self.LIMIT))]
        return self._cached

    def count(self, conn):
        return len(self._entries(conn))

    def rows(self, conn):
        yield from self._entries(conn)

    def audit_scope(self):
        return self.region_code, None


# --------------------------------------------------------------------------- 学校管理


class SchoolTable(DownloadTable):
    """学校管理: the schools of a region of the caller's scope under the screen's filters,
    as on screen (live, not from a snapshot), read in keyset batches."""

    name = "schools"
    label = "学校管理"
    path = "/export/schools"
    query = ("region", "q", "kind", "urban_rural", "activated")
    columns = tuple(Column(label) for label in SCHOOL_COLUMNS)
    background = True  # a province holds some ten thousand schools

    @classmethod
    def authorize(cls, conn, scope, args, snapshot_id=None):
        if not is_region_admin(scope):
            raise ScopeDenied("no region scope")
        args = clean_args(cls, args)
        try:
            filters = school_filters(args["q"], args["kind"], args["urban_rural"],
                                     args["activated"])
        except ScopeDenied as exc:
            raise Malformed("筛选条件无效") from exc
        try:
            region = authorize_region(conn, scope, args["region"] or None)
        except ScopeDenied as exc:
            raise ScopeDenied("region outside scope") from exc
        table = cls(args, region.name)
        table.region, table.filters, table.root = region, filters, scope.region_code
        table.exported_at = datetime.now()
        activated = {True: "1", False: "0", None: ""}[filters.activated]
        table.args = {"region": region.code, "q": filters.q, "kind": filters.kind or "",
                      "urban_rural": filters.urban_rural or "", "activated": activated}
        return table

    def title(self):
        f = self.filters
        labels = {"机构类型": f.kind or "全部", "城乡类型": f.urban_rural or "全部",
                  "是否激活": {True: "已激活", False: "未激活", None: "全部"}[f.activated]}
        if f.q:
            labels["搜索"] = f.q
        parts = [self.label, self.scope_name, *(f"{k}：{v}" for k, v in labels.items()),
                 f"导出时间：{self.exported_at:%Y-%m-%d %H:%M:%S}"]
        return " · ".join(parts)

    def count(self, conn):
        return count_schools(conn, self.region.code, self.filters)

    def rows(self, conn):
        for row in iter_schools(conn, self.region.code, self.filters, path_root=self.root):
            yield row.values()

    def audit_scope(self):
        return self.region.code, None

    def audit_detail(self, fmt, rows):
        f = self.filters
        detail = {"table": self.name, "format": fmt, "rows": rows}
        for key, value in (("kind", f.kind), ("urban_rural", f.urban_rural),
                           ("activated", f.activated), ("q", f.q)):
            if value not in (None, ""):
                detail[key] = value
        return detail

    @classmethod
    def denied_detail(cls, args, reason):
        region = args.get("region")
        return {"table": cls.name, "reason": reason,
                "region": region[:40] if isinstance(region, str) else ""}


# --------------------------------------------------------------------------- 激活进度

# 学校激活进度 / 区域激活进度: one decimal (`83.8%`); `--` cells stay text.
ONE_DECIMAL_PERCENT = CellType("0.0%", percent=True)


def _exported_at() -> str:
    return f"导出时间：{datetime.now():%Y-%m-%d %H:%M:%S}"


def _activation_region(conn, scope, args) -> RegionRow:
    if not is_region_admin(scope):
        raise ScopeDenied("no region scope")
    try:
        return authorize_region(conn, scope, args["region"] or None)
    except ScopeDenied as exc:
        raise ScopeDenied("region outside scope") from exc


def _live_region_table(cls, conn, scope, args) -> "DownloadTable":
    """A table of live data for a region of the caller's scope (`?region=`), dated by the
    time of the export."""
    args = clean_args(cls, args)
    region = _activation_region(conn, scope, args)
    table = cls({"region": region.code}, region.name)
    table.region = region
    table.read_at = _exported_at()
    return table


class ActivationTable(DownloadTable):
    """激活进度 as on screen, live from the bindings: the region's row, its 直属学校 and its
    child regions — or, at a region without child regions, its schools, with the region's
    own figures in the title row (a table of schools has other columns)."""

    name = "activation"
    label = "激活进度"
    path = "/export/activation"
    query = ("region",)
    columns = (Column("区域"),) + tuple(
        Column(label, ONE_DECIMAL_PERCENT if field.endswith("_rate") else COUNT)
        for label, field in activation.TABLE_COLUMNS)
    school_columns = tuple(Column(label) for label, _ in activation.SCHOOL_COLUMNS)

    @classmethod
    def authorize(cls, conn, scope, args, snapshot_id=None):
        table = _live_region_table(cls, conn, scope, args)
        region = table.region
        # Read now, so that the columns (regions, or schools) are known before the header.
        table.table = activation.activation_table(conn, region)
        if table.table.schools_as_rows:
            table.columns = cls.school_columns
        return table

    def title(self):
        parts = ["激活进度", self.scope_name]
        if self.table.schools_as_rows:
            own = activation.region_record(self.table.rows[0])
            parts += [f"学校激活进度：{own['school_rate']}", f"学校总数：{own['schools']}",
                      f"学校激活数：{own['activated']}"]
        return " · ".join([*parts, self.read_at])

    def _values(self) -> list[list[str]]:
        regions, schools = activation.table_records(self.table)
        if self.table.schools_as_rows:
            return [[r[f] for _, f in activation.SCHOOL_COLUMNS] for r in schools]
        return [[r["name"]] + [r[f] for _, f in activation.TABLE_COLUMNS] for r in regions]

    def count(self, conn):
        return len(self._values())

    def rows(self, conn):
        yield from self._values()

    def audit_scope(self):
        return self.region.code, None


class UnactivatedTable(DownloadTable):
    """未激活学校 of the region's subtree under the screen's search, in the screen's order,
    read in keyset batches."""

    name = "unactivated"
    label = "未激活学校"
    path = "/export/activation/unactivated"
    query = ("region", "q")
    columns = tuple(Column(label) for label, _ in activation.UNACTIVATED_COLUMNS)
    background = True

    @classmethod
    def authorize(cls, conn, scope, args, snapshot_id=None):
        args = clean_args(cls, args)
        raw_q = args["q"].strip()
        if len(raw_q) > activation.QUERY_MAX or activation.clean_query(raw_q) != raw_q:
            raise Malformed("搜索内容无效")
        region = _activation_region(conn, scope, args)
        table = cls({"region": region.code, "q": raw_q}, region.name)
        table.region, table.q = region, raw_q
        table.read_at = _exported_at()
        return table

    def title(self):
        parts = ["未激活学校", self.scope_name]
        if self.q:
            parts.append(f"搜索：{self.q}")
        return " · ".join([*parts, self.read_at])

    def count(self, conn):
        return activation.count_unactivated(conn, self.region, self.q)

    def rows(self, conn):
        for s in activation.iter_unactivated(conn, self.region, self.q):
            yield [s.name, s.code, s.region_path, s.kind]

    def audit_scope(self):
        return self.region.code, None

    def audit_detail(self, fmt, rows):
        detail = super().audit_detail(fmt, rows)
        if self.q:
            detail["q"] = self.q  # a school's name or code, not personal data
        return detail


# --------------------------------------------------------------------------- 专任教师数


class TeacherCountTable(DownloadTable):
    """专任教师数 as on screen: every region of the subtree with its figures, the figure the
    statistics use and, where it is missing, why (live from the stored figures)."""

    name = "teacher-counts"
    label = "专任教师数"
    path = "/export/teacher-counts"
    query = ("region",)
    columns = tuple(Column(label, COUNT if key in counts.COUNT_FIELDS else CellType())
                    for label, key in counts.COLUMNS)

    @classmethod
    def authorize(cls, conn, scope, args, snapshot_id=None):
        table = _live_region_table(cls, conn, scope, args)
        snap = current_snapshot(conn)
        table.updated = updated_text(snapshot_time(conn, snap[0] if snap else None))
        return table

    def title(self):
        return " · ".join([self.label, self.scope_name, self.read_at,
                           f"统计数据更新时间：{self.updated}（新数字在下次数据更新后计入统计）"])

    def _rows(self, conn):
        if not hasattr(self, "_cached"):
            self._cached = counts.figures_table(conn, self.region)
        return self._cached

    def count(self, conn):
        return len(self._rows(conn))

    def rows(self, conn):
        for r in self._rows(conn):
            yield counts.figure_values(r)

    def audit_scope(self):
        return self.region.code, None


class TeacherCountTemplate(TeacherCountTable):
    """下载模板: the import file of the region's figures, ready to fill in and upload — the
    importer's header on row 1 (no title row) and the current figure in every row."""

    name = "teacher-counts-template"
    label = "专任教师数导入模板"
    path = "/export/teacher-counts/template"
    columns = tuple(Column(label, COUNT if label.startswith("专任教师数") else CellType())
                    for label in counts.template_header())

    def title(self):
        return None

    def rows(self, conn):
        yield from counts.template_rows(self._rows(conn))


class CertificationTable(DownloadTable):
    """教师管理: the school's teachers under the screen's facets, as on screen (live)."""

    name = "certification"
    label = "教师管理"
    path = "/export/certification"
    query = ("status", "title", "stage")
    columns = tuple(Column(label) for label, _ in cert.EXPORT_COLUMNS)

    @classmethod
    def authorize(cls, conn, scope, args, snapshot_id=None):
        if scope is None or not scope.is_school:
            raise ScopeDenied("no school scope")
        args = clean_args(cls, args)
        try:
            filters = cert.filters_from(args["status"], args["title"], args["stage"])
        except cert.CertificationError as exc:
            raise Malformed("筛选条件无效") from exc
        table = cls(args, school_name(conn, scope.school_code) or scope.school_code)
        table.school, table.filters = scope.school_code, filters
        table.region_code = conn.scalar(select(School.region_code).where(
            School.code == scope.school_code))
        table.read_at = _exported_at()
        return table

    def title(self):
        f = self.filters
        parts = [self.label, self.scope_name, f"审核状态：{f.status or '全部'}",
                 f"职称：{f.title or '全部'}", f"学段：{f.stage or '全部'}", self.read_at]
        return " · ".join(parts)

    def count(self, conn):
        return cert.count_teachers(conn, self.school, self.filters)

    def rows(self, conn):
        for batch in cert.iter_teachers(conn, self.school, self.filters):
            for row in batch:
                yield [getattr(row, field) for _, field in cert.EXPORT_COLUMNS]

    def audit_scope(self):
        return self.region_code, self.school

    def audit_detail(self, fmt, rows):
        f = self.filters
        detail = {"table": self.name, "format": fmt, "rows": rows}
        for key, value in (("cert_status", f.status), ("title", f.title), ("stage", f.stage)):
            if value:
                detail[key] = value
        return detail


# --------------------------------------------------------------------------- the list

TABLES: dict[str, type[DownloadTable]] = {
    t.name: t for t in (RegionTable, ParticipantTable, AuditTable, SchoolTable,
                        ActivationTable, UnactivatedTable, TeacherCountTable,
                        TeacherCountTemplate, CertificationTable)
}

