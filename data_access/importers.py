"""Import files into the base tables (SPEC §7.1).

One entry point, :func:`import_file`, for the six kinds of :data:`KINDS`. Every kind follows
the same contract:

- **Formats.** CSV in UTF-8 (with or without BOM) or GBK/GB18030, detected by decoding the
  whole file strictly (UTF-8 first), or XLSX (first sheet, read in streaming mode). Legacy
  ``.xls`` and anything undecodable are refused with a file-level error.
- **Header.** Row 1 names the columns by English key (``hours``) or Chinese label (``获得学时``),
  in any order; a trailing ``*`` (template marker for required columns) is ignored. Unknown
  columns, duplicated columns and missing required columns are errors on row 1. Columns with
  an empty header cell are allowed while they hold nothing (Excel's trailing blank columns); a
  value in such a column is an error of its row. Cells are stripped of surrounding
  whitespace; rows whose cells are all empty are skipped (they keep their row number).
- **All or nothing.** Every row is validated and *every* problem is collected as
  ``row N, column C: reason`` (row 1 is the header, so data starts at row 2). The whole import
  runs in one database transaction; valid rows are written in batches while the file streams
  (so a 445k-row file needs no more memory than one batch plus the key sets), and the
  transaction is rolled back if any error was found — nothing of a refused file is ever
  visible or kept. Once an error is known, later batches are only validated, not written.
  ``dry_run`` validates and counts the same way and always rolls back.
- **Idempotent upserts** by natural key: regions ``code``, schools ``code``, teachers
  ``account``, trainings ``code``, records ``(training_code, account)``, teacher counts
  ``(region_code, stage)``. Stored rows are compared with the file in memory; equal rows are
  counted as unchanged and not touched, so re-importing a file writes nothing.
  Existing rows are looked up per batch (one ``IN``/``= ANY`` query per few thousand rows,
  never one query per row); when the table (or, for records, the training) has no rows yet,
  the look-up is skipped altogether.

Choices where the specification is silent:

- **Optional cells that are empty (or optional columns that are absent) mean "not given".**
  A new row gets the default (``cert_status`` 已通过, school ``kind`` 学校, region ``kind``
  from the parent's kind, training ``created_at`` = import time) or NULL; an existing row keeps
  its stored value. So a routine re-import never wipes what administrators maintain in the
  console (a school's 城乡类型, a teacher's 认证状态 after review), and an import can never
  clear a stored optional value.
- **Soft-deleted schools are not revived.** A schools file naming a deleted school's code is
  refused (``school is deleted``); restoring a school is a deliberate act in 学校管理. Teachers
  pointing at a deleted school are refused the same way.
- ``parent_code`` is a required *column*, but an empty cell makes a new top-level region
  (kind ``province`` unless given); an existing region with a parent cannot be made
  top-level that way (error), so an empty cell never detaches a subtree. Region ``kind``
  accepts the key (``zone``) or the label (功能区). Existing regions (catalogue ones
  included) may be renamed and re-parented; their ``source`` is kept, new ones get
  ``source='import'``. The closure table is rebuilt in the same transaction whenever a
  region was written.
- A training's ``hours_cap`` may not be lowered below hours already recorded for it.
- ``start``/``end`` need a time; ``created_at``/``applied_at`` may be a date only (midnight).
  Seconds are kept when given.
- Duplicate keys inside a file: the later row is reported, naming the first one.
- Error texts never echo an account or ID number (personal data); other bad values are quoted.
- At most :data:`MAX_ERRORS` errors are listed; beyond that a final entry gives the count of
  the rest (protects memory on a completely wrong 400k-row file).
- Teacher counts: ``source`` is the file name, ``updated_at`` the import time; a row is
  unchanged when both count and source are equal.
"""

from __future__ import annotations

import codecs
import csv
import re
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from . import privacy, vocab
from .models import Region, School, Teacher, TeacherCount, Training, TrainingRecord
from .regions import RegionRow, default_kind_for_parent, rebuild_closure

KINDS = ("regions", "schools", "teachers", "trainings", "records", "teacher-counts")

#: Rows validated and written together; also the size of each ``IN`` lookup.
BATCH_SIZE = 5000
#: Errors listed before the rest are only counted.
MAX_ERRORS = 50_000
#: Column name used for problems that concern the whole file rather than one cell.
FILE_COLUMN = "(file)"

_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based row of the file; the header is row 1
    column: str  # the column's English key (or the header text of an unknown column)
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


class ImportRefused(Exception):
    """The file was rejected; nothing was written. ``errors`` lists every problem found."""

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(f"import refused, {len(self.errors)} error(s):\n{lines}")


@dataclass
class ImportResult:
    kind: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    dry_run: bool


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class _Col:
    key: str
    label: str
    required: bool = False


_COLUMNS: dict[str, tuple[_Col, ...]] = {
    "regions": (
        _Col("code", "区域代码", True),
        _Col("name", "区域名称", True),
        _Col("parent_code", "上级区域代码", True),
        _Col("kind", "区域类型"),
    ),
    "schools": (
        _Col("code", "学校标识码", True),
        _Col("name", "学校名称", True),
        _Col("region_code", "所在区域代码", True),
        _Col("kind", "机构类型"),
        _Col("urban_rural", "城乡类型"),
    ),
    "teachers": (
        _Col("account", "账号", True),
        _Col("name", "姓名", True),
        _Col("school_code", "学校标识码", True),
        _Col("stage", "学段", True),
        _Col("subject", "学科领域", True),
        _Col("title", "职称"),
        _Col("id_type", "证件类型"),
        _Col("id_number", "证件号码"),
        _Col("cert_status", "认证状态"),
        _Col("applied_at", "申请时间"),
    ),
    "trainings": (
        _Col("code", "培训编号", True),
        _Col("name", "培训名称", True),
        _Col("start", "开始时间", True),
        _Col("end", "结束时间", True),
        _Col("hours_cap", "获得学时上限", True),
        _Col("created_at", "创建时间"),
    ),
    "records": (
        _Col("training_code", "培训编号", True),
        _Col("account", "账号", True),
        _Col("hours", "获得学时", True),
        _Col("study_seconds", "实际学习时长", True),
    ),
    "teacher-counts": (
        _Col("region_code", "区域代码", True),
        _Col("stage", "学段"),
        _Col("count", "专任教师数", True),
    ),
}


def columns(kind: str) -> tuple[tuple[str, str, bool], ...]:
    """(key, Chinese label, required) of each column of ``kind``, e.g. for a template."""
    return tuple((c.key, c.label, c.required) for c in _COLUMNS[kind])


# --------------------------------------------------------------------------- reading files


class _FileProblem(Exception):
    def __init__(self, reason: str, row: int = 1):
        super().__init__(reason)
        self.reason = reason
        self.row = row


_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"


def _detect_encoding(path: Path) -> str | None:
    """``utf-8-sig`` or ``gb18030`` when the whole file decodes strictly, else None."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _csv_rows(path: Path) -> Iterator[list[str]]:
    encoding = _detect_encoding(path)
    if encoding is None:
        raise _FileProblem("cannot decode the file: it is neither UTF-8 nor GBK/GB18030 text")
    with path.open("r", encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        row_no = 0
        try:
            for row_no, row in enumerate(reader, start=1):
                yield row
        except csv.Error as exc:
            raise _FileProblem(f"malformed CSV: {exc}", row_no + 1) from None


def _cell_text(value: Any) -> str:
    """An XLSX cell value as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return f"{value.hour}:{value.minute:02d}:{value.second:02d}"
    if isinstance(value, timedelta):
        total = int(value.total_seconds())
        return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"
    return str(value)


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for broken archives
        raise _FileProblem(f"cannot read the XLSX file ({type(exc).__name__})") from None
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        # Some writers store wrong dimensions; read every row and cell that is really there.
        sheet.reset_dimensions()
        # Read-only rows are positional: missing rows and cells come back empty.
        rows = sheet.iter_rows(values_only=True)
        row_no = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # a damaged sheet part
                raise _FileProblem(f"cannot read the XLSX file ({type(exc).__name__})",
                                   row_no + 1) from None
            row_no += 1
            yield [_cell_text(v) for v in row]
    finally:
        workbook.close()


def _open_rows(path: Path) -> Iterator[list[str]]:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise _FileProblem(f"cannot open the file ({exc.strerror or exc})") from None
    if head.startswith(_XLSX_MAGIC):
        return _xlsx_rows(path)
    if head.startswith(_XLS_MAGIC):
        raise _FileProblem("legacy .xls files are not supported; save the sheet as .xlsx or CSV")
    return _csv_rows(path)


def _header_name(cell: str) -> str:
    name = cell.strip()
    while name.endswith(("*", "＊")):
        name = name[:-1].rstrip()
    return name


def _map_header(kind: str, header: list[str]) -> tuple[list[tuple[int, str]], list[RowError]]:
    """[(cell index, column key)] for the recognised columns, and the header errors."""
    cols = _COLUMNS[kind]
    by_name: dict[str, str] = {}
    for c in cols:
        by_name[c.key.lower()] = c.key
        by_name[c.label] = c.key
    errors: list[RowError] = []
    found: dict[str, int] = {}
    mapping: list[tuple[int, str]] = []
    for index, cell in enumerate(header):
        name = _header_name(cell)
        if not name:
            continue
        key = by_name.get(name) or by_name.get(name.lower())
        if key is None:
            errors.append(RowError(1, name, "unknown column"))
        elif key in found:
            errors.append(RowError(1, key, "column appears more than once"))
        else:
            found[key] = index
            mapping.append((index, key))
    for c in cols:
        if c.required and c.key not in found:
            errors.append(RowError(1, c.key, "required column is missing"))
    return mapping, errors


# --------------------------------------------------------------------------- cell parsers


class _Bad(Exception):
    """A cell value is invalid; the message is the reason."""


_MISSING = "required value is missing"
_ACCOUNT_RE = re.compile(r"[0-9]{11}")
_REGION_CODE_RE = re.compile(r"[A-Za-z0-9]{1,20}")
_DECIMAL_RE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_HMS_RE = re.compile(r"([0-9]+):([0-5][0-9]):([0-5][0-9])")
_DATETIME_RE = re.compile(
    r"([0-9]{4})([-./])([0-9]{1,2})\2([0-9]{1,2})"
    r"(?:[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?"
)


def _enum(value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise _Bad(f"'{value}' is not allowed; expected one of: {', '.join(allowed)}")
    return value


def _tenths(value: str) -> int:
    """`12.5` → 125. Non-negative, at most one decimal (trailing zeros are fine)."""
    if not _DECIMAL_RE.fullmatch(value):
        raise _Bad(f"'{value}' is not a number")
    number = Decimal(value)
    if number < 0:
        raise _Bad("must not be negative")
    tenths = number * 10
    if tenths != tenths.to_integral_value():
        raise _Bad("more than one decimal")
    result = int(tenths)
    if result > _INT32_MAX:
        raise _Bad("number is too large")
    return result


def _count(value: str) -> int:
    if not _INT_RE.fullmatch(value):
        raise _Bad(f"'{value}' is not a whole number")
    number = int(value)
    if number < 0:
        raise _Bad("must not be negative")
    if number > _INT32_MAX:
        raise _Bad("number is too large")
    return number


def _seconds(value: str) -> int:
    if value.isascii() and value.isdigit():
        number = int(value)
    else:
        m = _HMS_RE.fullmatch(value)
        if not m:
            raise _Bad(f"'{value}' is not a duration; expected seconds or H:MM:SS")
        number = int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])
    if number > _INT64_MAX:
        raise _Bad("number is too large")
    return number


def _datetime(value: str, date_only_ok: bool) -> datetime:
    m = _DATETIME_RE.fullmatch(value)
    if m and (m[5] is not None or date_only_ok):
        try:
            return datetime(
                int(m[1]), int(m[3]), int(m[4]),
                int(m[5] or 0), int(m[6] or 0), int(m[7] or 0),
            )
        except ValueError:
            pass
    example = "2022-07-20 or 2022-07-20 00:00" if date_only_ok else "2022-07-20 00:00"
    raise _Bad(f"'{value}' is not a valid date; expected e.g. {example}")


def _fmt_tenths(tenths: int) -> str:
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


def _chunks(items: list, size: int = BATCH_SIZE) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: VARCHAR lengths of every string column, so over-long cells are row errors, not crashes.
_MAXLEN: dict[tuple[str, str], int] = {
    (t.name, c.name): c.type.length
    for t in (Region.__table__, School.__table__, Teacher.__table__, Training.__table__,
              TrainingRecord.__table__, TeacherCount.__table__)
    for c in t.columns
    if getattr(c.type, "length", None)
}


# --------------------------------------------------------------------------- importer base


_BAD = object()


@dataclass
class _Context:
    id_key: bytes
    now: datetime
    source: str
    write: bool


@dataclass
class _Importer:
    ctx: _Context
    errors: list[RowError] = field(default_factory=list)
    hidden_errors: int = 0
    first_hidden_row: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    batch: list = field(default_factory=list)

    table: ClassVar[Table]

    # -- errors
    def error(self, row: int, column: str, reason: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(row, column, reason))
        else:
            if not self.hidden_errors:
                self.first_hidden_row = row
            self.hidden_errors += 1

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    @property
    def writing(self) -> bool:
        return self.ctx.write and not self.errors

    def parse(self, row: int, column: str, fn: Callable[..., Any], value: str, *args) -> Any:
        try:
            return fn(value, *args)
        except _Bad as bad:
            self.error(row, column, str(bad))
            return _BAD

    def required_text(self, row: int, v: dict[str, str], column: str, db_column: str) -> Any:
        value = v.get(column, "")
        if not value:
            self.error(row, column, _MISSING)
            return _BAD
        limit = _MAXLEN.get((self.table.name, db_column))
        if limit is not None and len(value) > limit:
            self.error(row, column, f"longer than {limit} characters")
            return _BAD
        return value

    def optional_text(self, row: int, v: dict[str, str], column: str, db_column: str) -> Any:
        value = v.get(column, "")
        if not value:
            return None
        return self.required_text(row, v, column, db_column)

    # -- lifecycle, overridden per kind
    def load(self, conn: Connection) -> None:
        pass

    def check(self, row: int, v: dict[str, str]) -> Any:
        """Validate one row; return the parsed row or None after recording errors."""
        raise NotImplementedError

    def flush(self, conn: Connection) -> None:
        """Handle the rows of ``self.batch`` (checks against stored rows, then writes)."""
        raise NotImplementedError

    def finish(self, conn: Connection) -> None:
        if self.batch:
            self.flush(conn)
            self.batch = []

    # -- helpers for writing
    def write(self, conn: Connection, inserts: list[dict], updates: list[dict],
              update_stmt) -> None:
        self.inserted += len(inserts)
        self.updated += len(updates)
        if not self.writing:
            return
        if inserts:
            # Plain executemany: sqlite3's executemany, psycopg's pipeline mode. (Multi-row
            # VALUES pages measured slower on psycopg, whose placeholder parsing of long
            # statements is not cached.)
            conn.execute(insert(self.table), inserts)
        if updates:
            conn.execute(update_stmt, updates)


def _one_of(conn: Connection, column, name: str):
    """``column IN (:name…)`` for a list parameter, in the form each database does best.

    PostgreSQL gets ``column = ANY(:name)`` with one array parameter (half the time of a long
    ``IN`` list there); other databases get an expanding ``IN``. Either way the statement is
    compiled once and cached for every chunk.
    """
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def _is_empty(conn: Connection, table: Table) -> bool:
    """True when ``table`` holds no row: then every row of the file is new."""
    column = next(iter(table.primary_key.columns))
    return conn.execute(select(column).limit(1)).first() is None


def _stored_rows(conn: Connection, key_col, cols: list, keys: list) -> dict:
    """Stored rows (as mappings) for ``keys``, one query per chunk of keys."""
    out = {}
    stmt = select(key_col, *cols).where(_one_of(conn, key_col, "keys"))
    for part in _chunks(keys):
        for row in conn.execute(stmt, {"keys": part}):
            out[row[0]] = row._mapping
    return out


def _same(new: dict, old, keys: Iterable[str]) -> bool:
    return all(new[k] == old[k] for k in keys)


# --------------------------------------------------------------------------- regions


_REGION_KIND_BY_LABEL = {label: key for key, label in vocab.REGION_KIND_LABELS.items()}


class _Regions(_Importer):
    table = Region.__table__

    def load(self, conn: Connection) -> None:
        self.existing = {
            r.code: r
            for r in conn.execute(select(Region.code, Region.name, Region.parent_code, Region.kind))
        }
        self.rows: dict[str, tuple[int, str, str | None, str | None]] = {}
        self.seen: dict[str, int] = {}  # every well-formed code of the file, valid row or not

    def check(self, row: int, v: dict[str, str]) -> Any:
        ok = True
        code = v.get("code", "")
        if not code:
            self.error(row, "code", _MISSING)
            ok = False
        elif not _REGION_CODE_RE.fullmatch(code) or not code.isascii():
            self.error(row, "code", f"'{code}' must be 1-20 letters or digits")
            ok = False
        elif code in self.seen:
            self.error(row, "code", f"duplicate of row {self.seen[code]}")
            ok = False
        else:
            self.seen[code] = row
        name = self.required_text(row, v, "name", "name")
        parent = v.get("parent_code", "") or None
        if parent is not None and (not _REGION_CODE_RE.fullmatch(parent) or not parent.isascii()):
            self.error(row, "parent_code", f"'{parent}' must be 1-20 letters or digits")
            ok = False
        kind = v.get("kind", "") or None
        if kind is not None:
            kind = self.parse(row, "kind", _enum, _REGION_KIND_BY_LABEL.get(kind, kind),
                              vocab.REGION_KINDS)
        if not ok or name is _BAD or kind is _BAD:
            return None
        self.rows[code] = (row, name, parent, kind)
        return None  # kept in self.rows; handled in finish()

    def flush(self, conn: Connection) -> None:
        pass  # everything happens in finish(): the rows need each other

    def finish(self, conn: Connection) -> None:
        rows = self.rows
        parent_of = {code: r.parent_code for code, r in self.existing.items()}
        for code, (row, _name, parent, _kind) in rows.items():
            if parent is not None and parent not in self.existing and parent not in self.seen:
                self.error(row, "parent_code", f"unknown region code '{parent}'")
            elif parent is None and code in self.existing and parent_of[code] is not None:
                # An empty cell must not silently detach a whole subtree.
                self.error(row, "parent_code", "an existing region cannot become top-level")
            parent_of[code] = parent
        # A region may not end up below itself. (Only the rows on a cycle are reported,
        # not every region hanging below one.)
        for code, (row, _name, parent, _kind) in rows.items():
            seen = set()
            node = parent
            while node is not None and node != code and node not in seen:
                seen.add(node)
                node = parent_of.get(node)
            if node == code:
                self.error(row, "parent_code", "a region cannot become its own ancestor")
        if self.failed:
            return

        depth: dict[str, int] = {}

        def depth_of(code: str) -> int:
            chain = []
            node: str | None = code
            while node is not None and node not in depth:
                chain.append(node)
                node = parent_of.get(node)
            base = depth[node] if node is not None else -1
            for n in reversed(chain):
                base += 1
                depth[n] = base
            return depth[code]

        kinds: dict[str, str] = {code: r.kind for code, r in self.existing.items()}

        def kind_of(code: str) -> str:
            if code in rows:
                _row, name, parent, kind = rows[code]
                if kind is None:
                    kind = (
                        self.existing[code].kind
                        if code in self.existing
                        else default_kind_for_parent(
                            RegionRow(parent, "", None, kind_of(parent), 0) if parent else None
                        )
                    )
                kinds[code] = kind
                return kind
            return kinds[code]

        inserts: list[dict] = []
        updates: list[dict] = []
        for code, (_row, name, parent, _kind) in rows.items():
            kind = kind_of(code)
            old = self.existing.get(code)
            if old is None:
                inserts.append(
                    {
                        "code": code,
                        "name": name,
                        "parent_code": parent,
                        "kind": kind,
                        "level": depth_of(code) + 1,
                        "source": "import",
                    }
                )
            elif (old.name, old.parent_code, old.kind) == (name, parent, kind):
                self.unchanged += 1
            else:
                updates.append({"b_code": code, "name": name, "parent_code": parent, "kind": kind})
        # Parents before children so the foreign key holds at every insert.
        inserts.sort(key=lambda r: r["level"])
        stmt = update(self.table).where(self.table.c.code == bindparam("b_code"))
        self.write(conn, inserts, updates, stmt)
        if self.writing and (inserts or updates):
            rebuild_closure(conn)


# --------------------------------------------------------------------------- schools


class _Schools(_Importer):
    table = School.__table__
    _compared = ("name", "region_code", "kind", "urban_rural")

    def load(self, conn: Connection) -> None:
        self.regions = set(conn.scalars(select(Region.code)))
        self.seen: dict[str, int] = {}
        self.was_empty = _is_empty(conn, self.table)

    def check(self, row: int, v: dict[str, str]) -> Any:
        code = self.required_text(row, v, "code", "code")
        name = self.required_text(row, v, "name", "name")
        region = v.get("region_code", "")
        if not region:
            self.error(row, "region_code", _MISSING)
            region = _BAD
        elif region not in self.regions:
            self.error(row, "region_code", f"unknown region code '{region}'")
            region = _BAD
        kind = v.get("kind", "") or None
        if kind is not None:
            kind = self.parse(row, "kind", _enum, kind, vocab.SCHOOL_KINDS)
        urban = v.get("urban_rural", "") or None
        if urban is not None:
            urban = self.parse(row, "urban_rural", _enum, urban, vocab.URBAN_RURAL)
        if code is _BAD:
            return None
        first = self.seen.get(code)
        if first is not None:
            self.error(row, "code", f"duplicate of row {first}")
            return None
        self.seen[code] = row
        # Rows with other errors still go to flush() so a deleted school is reported too.
        valid = _BAD not in (name, region, kind, urban)
        return (row, valid, {"code": code, "name": name, "region_code": region, "kind": kind,
                             "urban_rural": urban})

    def flush(self, conn: Connection) -> None:
        t = self.table
        stored = {} if self.was_empty else _stored_rows(
            conn, t.c.code, [t.c[c] for c in self._compared] + [t.c.deleted_at],
            [p["code"] for _row, _valid, p in self.batch],
        )
        inserts, updates = [], []
        for row, valid, p in self.batch:
            old = stored.get(p["code"])
            if old is not None and old["deleted_at"] is not None:
                self.error(row, "code", "school is deleted")
                continue
            if not valid:
                continue
            if old is None:
                p["kind"] = p["kind"] or "学校"
                p["updated_at"] = self.ctx.now
                inserts.append(p)
                continue
            p["kind"] = p["kind"] or old["kind"]
            p["urban_rural"] = p["urban_rural"] or old["urban_rural"]
            if _same(p, old, self._compared):
                self.unchanged += 1
            else:
                p["b_code"] = p.pop("code")
                p["updated_at"] = self.ctx.now
                updates.append(p)
        self.write(conn, inserts, updates, update(t).where(t.c.code == bindparam("b_code")))


# --------------------------------------------------------------------------- teachers


class _Teachers(_Importer):
    table = Teacher.__table__
    _compared = ("name", "school_code", "stage", "subject", "title", "id_type",
                 "id_number_masked", "id_number_hash", "cert_status", "applied_at")
    _kept = ("title", "id_type", "id_number_masked", "id_number_hash", "cert_status",
             "applied_at")

    def load(self, conn: Connection) -> None:
        self.schools: dict[str, bool] = {
            code: deleted is None
            for code, deleted in conn.execute(select(School.code, School.deleted_at))
        }
        self.seen: dict[str, int] = {}
        self.stages = {s: s for s in vocab.STAGES}
        self.subjects = {s: s for s in vocab.SUBJECTS}
        self.titles = {s: s for s in vocab.TITLES}
        self.statuses = {s: s for s in vocab.CERT_STATUSES}
        self.hasher = privacy.id_number_hasher(self.ctx.id_key)
        self.was_empty = _is_empty(conn, self.table)

    def check(self, row: int, v: dict[str, str]) -> Any:
        ok = True
        account = v.get("account", "")
        if not account:
            self.error(row, "account", _MISSING)
            ok = False
        elif not _ACCOUNT_RE.fullmatch(account):
            self.error(row, "account", "must be 11 digits")
            ok = False
        else:
            first = self.seen.get(account)
            if first is not None:
                self.error(row, "account", f"duplicate of row {first}")
                ok = False
            else:
                self.seen[account] = row
        name = self.required_text(row, v, "name", "name")
        school = v.get("school_code", "")
        live = self.schools.get(school)
        if not school:
            self.error(row, "school_code", _MISSING)
            ok = False
        elif live is None:
            self.error(row, "school_code", f"unknown school code '{school}'")
            ok = False
        elif not live:
            self.error(row, "school_code", f"school '{school}' is deleted")
            ok = False
        stage = self._vocab(row, v, "stage", self.stages, True)
        subject = self._vocab(row, v, "subject", self.subjects, True)
        title = self._vocab(row, v, "title", self.titles, False)
        status = self._vocab(row, v, "cert_status", self.statuses, False)
        id_type = self.optional_text(row, v, "id_type", "id_type")
        id_number = v.get("id_number", "")
        masked = digest = None
        if id_number:
            if len(id_number) > 40:
                self.error(row, "id_number", "longer than 40 characters")
                ok = False
            else:
                masked = privacy.mask_id_number(id_number.upper())
                digest = self.hasher(id_number)
        applied = v.get("applied_at", "")
        applied = self.parse(row, "applied_at", _datetime, applied, True) if applied else None
        if not ok or _BAD in (name, stage, subject, title, status, id_type, applied):
            return None
        return (
            row,
            {
                "account": account,
                "name": name,
                "school_code": school,
                "stage": stage,
                "subject": subject,
                "title": title,
                "id_type": id_type,
                "id_number_masked": masked,
                "id_number_hash": digest,
                "cert_status": status,
                "applied_at": applied,
            },
        )

    def _vocab(self, row: int, v: dict[str, str], column: str, allowed: dict, required: bool):
        value = v.get(column, "")
        if not value:
            if required:
                self.error(row, column, _MISSING)
                return _BAD
            return None
        canonical = allowed.get(value)
        if canonical is None:
            return self.parse(row, column, _enum, value, allowed)
        return canonical

    def flush(self, conn: Connection) -> None:
        t = self.table
        stored = {} if self.was_empty else _stored_rows(
            conn, t.c.account, [t.c[c] for c in self._compared],
            [p["account"] for _row, p in self.batch],
        )
        inserts, updates = [], []
        for _row, p in self.batch:
            old = stored.get(p["account"])
            if old is None:
                if p["cert_status"] is None:
                    p["cert_status"] = vocab.CERT_PASSED
                inserts.append(p)
                continue
            for k in self._kept:
                if p[k] is None:
                    p[k] = old[k]
            if _same(p, old, self._compared):
                self.unchanged += 1
            else:
                p["b_account"] = p.pop("account")
                updates.append(p)
        self.write(conn, inserts, updates, update(t).where(t.c.account == bindparam("b_account")))


# --------------------------------------------------------------------------- trainings


class _Trainings(_Importer):
    table = Training.__table__

    def load(self, conn: Connection) -> None:
        t = self.table
        self.existing = {
            r.code: r
            for r in conn.execute(
                select(t.c.code, t.c.id, t.c.name, t.c.start_at, t.c.end_at,
                       t.c.hours_cap_tenths, t.c.created_at)
            )
        }
        self.seen: dict[str, int] = {}

    def check(self, row: int, v: dict[str, str]) -> Any:
        code = self.required_text(row, v, "code", "code")
        name = self.required_text(row, v, "name", "name")
        values = {}
        for column in ("start", "end"):
            raw = v.get(column, "")
            if not raw:
                self.error(row, column, _MISSING)
                values[column] = _BAD
            else:
                values[column] = self.parse(row, column, _datetime, raw, False)
        start, end = values["start"], values["end"]
        if _BAD not in (start, end) and end <= start:
            self.error(row, "end", "must be after start")
            end = _BAD
        raw = v.get("hours_cap", "")
        if not raw:
            self.error(row, "hours_cap", _MISSING)
            cap = _BAD
        else:
            cap = self.parse(row, "hours_cap", _tenths, raw)
            if cap is not _BAD and cap <= 0:
                self.error(row, "hours_cap", "must be greater than 0")
                cap = _BAD
        raw = v.get("created_at", "")
        created = self.parse(row, "created_at", _datetime, raw, True) if raw else None
        if code is not _BAD:
            first = self.seen.get(code)
            if first is not None:
                self.error(row, "code", f"duplicate of row {first}")
                return None
            self.seen[code] = row
        if _BAD in (code, name, start, end, cap, created):
            return None
        self.batch.append((row, {"code": code, "name": name, "start_at": start, "end_at": end,
                                 "hours_cap_tenths": cap, "created_at": created}))
        return None  # kept in self.batch; handled in finish()

    def flush(self, conn: Connection) -> None:
        pass

    def finish(self, conn: Connection) -> None:
        t = self.table
        # Existing trainings whose cap goes down: the cap may not drop below recorded hours.
        lowered = {
            self.existing[p["code"]].id: (row, p)
            for row, p in self.batch
            if p["code"] in self.existing
            and p["hours_cap_tenths"] < self.existing[p["code"]].hours_cap_tenths
        }
        if lowered:
            tr = TrainingRecord.__table__
            for tid, top in conn.execute(
                select(tr.c.training_id, func.max(tr.c.hours_tenths))
                .where(tr.c.training_id.in_(list(lowered)))
                .group_by(tr.c.training_id)
            ):
                row, p = lowered[tid]
                if top is not None and top > p["hours_cap_tenths"]:
                    self.error(row, "hours_cap",
                               f"lower than hours already recorded ({_fmt_tenths(top)})")
        if self.failed:
            return
        inserts, updates = [], []
        compared = ("name", "start_at", "end_at", "hours_cap_tenths", "created_at")
        for _row, p in self.batch:
            old = self.existing.get(p["code"])
            if old is None:
                p["created_at"] = p["created_at"] or self.ctx.now
                inserts.append(p)
                continue
            p["created_at"] = p["created_at"] or old.created_at
            if _same(p, old._mapping, compared):
                self.unchanged += 1
            else:
                p["b_code"] = p.pop("code")
                updates.append(p)
        self.batch = []
        self.write(conn, inserts, updates, update(t).where(t.c.code == bindparam("b_code")))


# --------------------------------------------------------------------------- records


class _Records(_Importer):
    table = TrainingRecord.__table__

    def load(self, conn: Connection) -> None:
        t = Training.__table__
        self.trainings = {
            code: (tid, cap)
            for code, tid, cap in conn.execute(select(t.c.code, t.c.id, t.c.hours_cap_tenths))
        }
        self.seen: dict[tuple[int, str], int] = {}
        # Trainings without any record yet: every row of theirs is new, nothing to look up.
        tr = self.table
        self.fresh = {
            tid for tid, _cap in self.trainings.values()
            if conn.execute(select(tr.c.training_id).where(tr.c.training_id == tid).limit(1))
            .first() is None
        }

    def check(self, row: int, v: dict[str, str]) -> Any:
        ok = True
        code = v.get("training_code", "")
        training = self.trainings.get(code)
        if not code:
            self.error(row, "training_code", _MISSING)
            ok = False
        elif training is None:
            self.error(row, "training_code", f"unknown training code '{code}'")
            ok = False
        account = v.get("account", "")
        if not account:
            self.error(row, "account", _MISSING)
            ok = False
        elif not _ACCOUNT_RE.fullmatch(account):
            self.error(row, "account", "must be 11 digits")
            ok = False
        raw = v.get("hours", "")
        if not raw:
            self.error(row, "hours", _MISSING)
            hours = _BAD
        else:
            hours = self.parse(row, "hours", _tenths, raw)
            if hours is not _BAD and training is not None and hours > training[1]:
                self.error(row, "hours",
                           f"exceeds the training's hours cap of {_fmt_tenths(training[1])}")
                hours = _BAD
        raw = v.get("study_seconds", "")
        if not raw:
            self.error(row, "study_seconds", _MISSING)
            seconds = _BAD
        else:
            seconds = self.parse(row, "study_seconds", _seconds, raw)
        if ok:
            key = (training[0], account)
            first = self.seen.get(key)
            if first is not None:
                self.error(row, "account", f"duplicate of row {first}")
                return None
            self.seen[key] = row
        if account and _ACCOUNT_RE.fullmatch(account):
            # Still looked up in flush() so an unknown account is reported with the rest.
            valid = ok and hours is not _BAD and seconds is not _BAD
            return (row, valid, training[0] if training else None, account, hours, seconds)
        return None

    def flush(self, conn: Connection) -> None:
        te, tr = Teacher.__table__, self.table
        ids: dict[str, int] = {}
        by_account = select(te.c.account, te.c.id).where(_one_of(conn, te.c.account, "keys"))
        for part in _chunks(sorted({p[3] for p in self.batch})):
            for account, teacher in conn.execute(by_account, {"keys": part}):
                ids[account] = teacher
        resolved = []
        for row, valid, tid, account, hours, seconds in self.batch:
            teacher = ids.get(account)
            if teacher is None:
                self.error(row, "account", "unknown teacher account")
            elif valid:
                resolved.append((tid, teacher, hours, seconds))
        stored: dict[tuple[int, int], tuple[int, int]] = {}
        trainings = sorted({r[0] for r in resolved} - self.fresh)
        existing = select(
            tr.c.training_id, tr.c.teacher_id, tr.c.hours_tenths, tr.c.study_seconds
        ).where(_one_of(conn, tr.c.training_id, "tids"), _one_of(conn, tr.c.teacher_id, "keys"))
        for part in _chunks(sorted({r[1] for r in resolved if r[0] not in self.fresh})):
            for tid, teacher, hours, seconds in conn.execute(
                existing, {"tids": trainings, "keys": part}
            ):
                stored[(tid, teacher)] = (hours, seconds)
        inserts, updates = [], []
        for tid, teacher, hours, seconds in resolved:
            old = stored.get((tid, teacher))
            if old is None:
                inserts.append({"training_id": tid, "teacher_id": teacher,
                                "hours_tenths": hours, "study_seconds": seconds})
            elif old == (hours, seconds):
                self.unchanged += 1
            else:
                updates.append({"b_training": tid, "b_teacher": teacher,
                                "hours_tenths": hours, "study_seconds": seconds})
        stmt = update(tr).where(tr.c.training_id == bindparam("b_training"),
                                tr.c.teacher_id == bindparam("b_teacher"))
        self.write(conn, inserts, updates, stmt)


# --------------------------------------------------------------------------- teacher counts


class _TeacherCounts(_Importer):
    table = TeacherCount.__table__

    def load(self, conn: Connection) -> None:
        t = self.table
        self.regions = set(conn.scalars(select(Region.code)))
        self.existing = {
            (r.region_code, r.stage): (r.count, r.source)
            for r in conn.execute(select(t.c.region_code, t.c.stage, t.c.count, t.c.source))
        }
        self.seen: dict[tuple[str, str], int] = {}
        self.source = self.ctx.source[: _MAXLEN[(t.name, "source")]]

    def check(self, row: int, v: dict[str, str]) -> Any:
        region = v.get("region_code", "")
        if not region:
            self.error(row, "region_code", _MISSING)
            region = _BAD
        elif region not in self.regions:
            self.error(row, "region_code", f"unknown region code '{region}'")
            region = _BAD
        stage = v.get("stage", "")
        if stage:
            stage = self.parse(row, "stage", _enum, stage, vocab.STAGES)
        raw = v.get("count", "")
        if not raw:
            self.error(row, "count", _MISSING)
            count = _BAD
        else:
            count = self.parse(row, "count", _count, raw)
        if region is _BAD or stage is _BAD:
            return None
        first = self.seen.get((region, stage))
        if first is not None:
            self.error(row, "region_code", f"duplicate of row {first}")
            return None
        self.seen[(region, stage)] = row
        if count is _BAD:
            return None
        self.batch.append((region, stage, count))
        return None

    def flush(self, conn: Connection) -> None:
        pass

    def finish(self, conn: Connection) -> None:
        inserts, updates = [], []
        for region, stage, count in self.batch:
            old = self.existing.get((region, stage))
            values = {"count": count, "source": self.source, "updated_at": self.ctx.now}
            if old is None:
                inserts.append({"region_code": region, "stage": stage, **values})
            elif old == (count, self.source):
                self.unchanged += 1
            else:
                updates.append({"b_region": region, "b_stage": stage, **values})
        self.batch = []
        t = self.table
        stmt = update(t).where(t.c.region_code == bindparam("b_region"),
                               t.c.stage == bindparam("b_stage"))
        self.write(conn, inserts, updates, stmt)


_IMPORTERS: dict[str, type[_Importer]] = {
    "regions": _Regions,
    "schools": _Schools,
    "teachers": _Teachers,
    "trainings": _Trainings,
    "records": _Records,
    "teacher-counts": _TeacherCounts,
}


# --------------------------------------------------------------------------- entry point


def _run(
    engine: Engine,
    kind: str,
    rows: Iterator[list[str]],
    source: str,
    id_key: bytes,
    dry_run: bool,
    now: datetime,
) -> tuple[_Importer, int]:
    """Check the header, then stream every row through the kind's importer in one
    transaction; commit only when no error was found and this is not a dry run."""
    try:
        header = next(rows, None)
    except _FileProblem as problem:
        raise ImportRefused([RowError(problem.row, FILE_COLUMN, problem.reason)]) from None
    if header is None:
        raise ImportRefused([RowError(1, FILE_COLUMN, "the file is empty")])
    mapping, header_errors = _map_header(kind, header)
    if header_errors:
        raise ImportRefused(header_errors)
    width = len(header)
    unnamed = [i for i, cell in enumerate(header) if not _header_name(cell)]

    importer = _IMPORTERS[kind](_Context(id_key=id_key, now=now, source=source,
                                         write=not dry_run))
    count = 0
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            importer.load(conn)
            try:
                for row_no, cells in enumerate(rows, start=2):
                    values = {}
                    blank = True
                    n = len(cells)
                    for index, key in mapping:
                        if index < n:
                            value = cells[index].strip()
                            if value:
                                values[key] = value
                                blank = False
                    if (n > width and any(c.strip() for c in cells[width:])) or any(
                        i < n and cells[i].strip() for i in unnamed
                    ):
                        importer.error(row_no, FILE_COLUMN, "value in a column without a header")
                        blank = False
                    if blank:
                        continue
                    count += 1
                    parsed = importer.check(row_no, values)
                    if parsed is not None:
                        importer.batch.append(parsed)
                        if len(importer.batch) >= BATCH_SIZE:
                            importer.flush(conn)
                            importer.batch = []
            except _FileProblem as problem:
                importer.error(problem.row, FILE_COLUMN, problem.reason)
            importer.finish(conn)
            if importer.hidden_errors:
                importer.errors.append(
                    RowError(importer.first_hidden_row, FILE_COLUMN,
                             f"{importer.hidden_errors} more error(s) not listed")
                )
            if importer.errors or dry_run:
                trans.rollback()
            else:
                trans.commit()
        except BaseException:
            if trans.is_active:
                trans.rollback()
            raise
    return importer, count


def import_file(
    engine: Engine,
    kind: str,
    path: str | Path,
    *,
    id_key: bytes,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Validate ``path`` as a ``kind`` file and upsert it in one transaction.

    Raises :class:`ImportRefused` (and writes nothing) when the file or any row is bad.
    With ``dry_run`` the counts are computed the same way and nothing is written.
    """
    if kind not in KINDS:
        raise ImportRefused(
            [RowError(1, FILE_COLUMN,
                      f"unknown kind '{kind}'; expected one of: {', '.join(KINDS)}")]
        )
    path = Path(path)
    now = now or datetime.now().replace(microsecond=0)
    try:
        rows = _open_rows(path)
    except _FileProblem as problem:
        raise ImportRefused([RowError(problem.row, FILE_COLUMN, problem.reason)]) from None
    with closing(rows):  # closes the file / workbook however this ends
        importer, count = _run(engine, kind, rows, path.name, id_key, dry_run, now)
    if importer.errors:
        order = {c.key: i for i, c in enumerate(_COLUMNS[kind])}
        raise ImportRefused(
            sorted(importer.errors, key=lambda e: (e.row, order.get(e.column, len(order))))
        )
    return ImportResult(
        kind=kind,
        rows=count,
        inserted=importer.inserted,
        updated=importer.updated,
        unchanged=importer.unchanged,
        dry_run=dry_run,
    )


__all__ = ["KINDS", "RowError", "ImportRefused", "ImportResult", "import_file", "columns"]
