"""Import files into the base tables (SPEC §7.1).

One entry point, :func:`import_file`, for the six kinds of :data:`KINDS`. Every kind follows
the same contract:

- **Formats.** CSV in UTF-8 (with or without BOM) or GBK/GB18030, or XLSX (first sheet,
  read in streaming mode). Legacy ``.xls``, any other encoding and unsafe archives are refused
  with a file-level error (row 1, column ``(file)``) that says what is accepted.
- **Encoding rule** (measured on real files, see docs/import-formats.md). A file that starts
  with a UTF-16/UTF-32 byte-order mark, or whose first 64 KiB hold at least 8 NUL bytes
  making up 1/20 of them, is UTF-16/UTF-32: refused. A file that decodes strictly as UTF-8 is UTF-8 — unless its text
  holds no character of three or more UTF-8 bytes (so no Chinese) but some of U+0250–U+07FF
  (Greek, Cyrillic, Hebrew, Arabic …) and reads as Chinese in GB18030: GBK bytes form valid
  UTF-8 only by chance, in files with very few Chinese characters, and then read as such a
  jumble. Any other file is GB18030 (a superset of GBK) only when it decodes strictly and its
  non-ASCII text reads as Simplified Chinese: of up to 4,096 non-ASCII characters from each
  MiB, **at least half** are GB2312 hanzi or Chinese punctuation (GB2312 rows 1–3) and **at
  most a tenth** are kana, Greek, Cyrillic, box drawing (GB2312 rows 4–7, 9) or private-use
  codes. Measured: genuine GBK files 98–100 % GB2312 (the rest are GBK-only name characters
  such as 堃, 喆, 昇, 镕) and nothing of the second kind; Big5 files 32–36 % GB2312 and 40–49 %
  kana and the like; Shift-JIS 0–1 % and Latin-1 0 % GB2312. Files with only two or three
  Chinese characters can fall on either side (a lone Big5 楊國華 reads as valid GB2312, a lone
  name 王堃喆 in GBK is refused); the message says to save as "CSV UTF-8", which is always
  read right.
- **Control characters** (Unicode Cc: C0, DEL, C1; ``data_access.text``) in a header or data
  cell, CSV or XLSX (where Excel stores them as ``_xHHHH_``), are errors of that cell:
  ``row N, column C: contains a control character (U+0000)``. No field is multi-line, so a
  tab or line break inside a value is one too; the tabs and line breaks around a value are
  trimmed with the other whitespace. The cell's value is dropped (PostgreSQL refuses NUL even
  in a lookup) and the follow-on errors of that cell are not reported.
- **XLSX archives** are checked from their zip directory before anything is parsed
  (:func:`check_xlsx_archive`): at most :data:`XLSX_MAX_PARTS` parts, no part above 1 MiB
  compressed more than :data:`XLSX_MAX_RATIO` to 1, at most :data:`XLSX_MAX_UNPACKED` in
  all, deflate or stored only.
- **Header.** Row 1 names the columns by English key (``hours``) or Chinese label (``获得学时``),
  in any order; a trailing ``*`` (template marker for required columns) is ignored. Unknown
  columns, duplicated columns and missing required columns are errors on row 1. Columns with
  an empty header cell are allowed while they hold nothing (Excel's trailing blank columns); a
  value in such a column is an error of its row. Cells are stripped of surrounding
  whitespace; rows whose cells are all empty are skipped (they keep their row number).
- **All or nothing.** Every row is validated and *every* problem is reported as
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
- **PostgreSQL writes by COPY** (:func:`copy_insert`, :func:`copy_update`, from
  :data:`COPY_MIN_ROWS` rows on), and the batched kinds (schools, teachers, records) write one
  batch in a second thread while the next one is read and checked, in the same transaction;
  the connection is used by one thread at a time (:meth:`_Importer.settle_writes`).

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
- **Error report.** Every refused import (a dry run included) writes every error, in row
  order, to a CSV file (UTF-8 with BOM for Excel; columns 行号, 列, 值, 原因): ``errors_file``
  when given, else ``<name>-errors-<YYYYMMDD-HHMMSS>.csv`` next to the input, or in the system's
  temporary folder when that folder cannot be written; readable by its owner only. Errors are
  streamed to it as they are found (sorted every :data:`REPORT_EVERY` rows); only the first
  :data:`SHOWN_ERRORS` stay in memory and in :class:`ImportRefused`, so a 400k-row file full
  of errors needs no more memory than a good one. 值 masks accounts and ID numbers, shows
  control characters as ``[U+0000]``, is cut at :data:`REPORT_VALUE_CHARS` characters and
  carries the exports' formula guard.
- Teacher counts: ``source`` is the file name, ``updated_at`` the import time and
  ``updated_by`` the console user who committed it (NULL from the CLI); a row whose count
  equals the stored one is unchanged and keeps its source, updater and time (so uploading the
  template back with a few figures changed re-dates only those). An optional 区域名称 column
  is checked against the code (the template carries it) and not stored. The console's
  upload (``data_access.teacher_counts``) also refuses rows outside the admin's region and
  skips rows whose 专任教师数 is blank.
"""

from __future__ import annotations

import codecs
import collections
import csv
import errno
import heapq
import os
import re
import tempfile
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
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

from . import privacy, school_fields, vocab
from .export_writer import BOM, guard_row
from .db import analyze
from .models import Region, School, Teacher, TeacherCount, Training, TrainingRecord
from .regions import RegionRow, default_kind_for_parent, rebuild_closure
from .rules import in_subtree
from .text import code_point, has_control_characters, value_controls, visible

KINDS = ("regions", "schools", "teachers", "trainings", "records", "teacher-counts")

#: Rows validated and written together; also the size of each ``IN`` lookup.
BATCH_SIZE = 5000
#: Errors kept in memory: shown on the terminal and carried by :class:`ImportRefused`. Every
#: error, however many, is written to the error report file.
SHOWN_ERRORS = 1000
#: Rows read between two moments at which the errors found so far go into the report file.
REPORT_EVERY = 1000
#: Longest value written to the 值 column of the error report.
REPORT_VALUE_CHARS = 100
REPORT_HEADER = ("行号", "列", "值", "原因")
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
    value: str = field(default="", compare=False, repr=False)  # the cell, for the report

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


class ImportRefused(Exception):
    """The file was rejected; nothing was written.

    ``errors`` holds the first :data:`SHOWN_ERRORS` problems in row order and ``total`` counts
    every one; ``report_path`` is the error report file listing all of them (None when it could
    not be written, and ``report_problem`` says why).
    """

    def __init__(self, errors: list[RowError], total: int | None = None,
                 report_path: Path | None = None, report_problem: str | None = None):
        self.errors = list(errors)
        self.total = len(self.errors) if total is None else total
        self.report_path = report_path
        self.report_problem = report_problem
        lines = [f"import refused, {self.total} error(s):", *(str(e) for e in self.errors)]
        if self.unlisted:
            lines.append(f"… and {self.unlisted} more error(s)")
        if report_path is not None:
            lines.append(f"error report: {report_path}")
        elif report_problem:
            lines.append(report_problem)
        super().__init__("\n".join(lines))

    @property
    def unlisted(self) -> int:
        """Errors found but not in ``errors`` (they are in the report file)."""
        return self.total - len(self.errors)


@dataclass
class ImportResult:
    kind: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    dry_run: bool
    skipped: int = 0  # teacher-count rows left blank in a console upload
    kept_decisions: int = 0  # teachers rows whose 认证状态 left a school's decision standing


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
        # Not stored: the template names each region, and a name that does not match the
        # code is a row error (the usual slip is a code copied from the wrong row).
        _Col("region_name", "区域名称"),
        _Col("stage", "学段"),
        _Col("count", "专任教师数", True),
    ),
}


def columns(kind: str) -> tuple[tuple[str, str, bool], ...]:
    """(key, Chinese label, required) of each column of ``kind``, e.g. for a template."""
    return tuple((c.key, c.label, c.required) for c in _COLUMNS[kind])


# --------------------------------------------------------------------------- error report


def _open_report(source: Path, explicit: Path | None, now: datetime):
    """A new text file for the error report and its path: ``explicit`` when given, else
    ``<name>-errors-<YYYYMMDD-HHMMSS>.csv`` next to ``source`` or, when that folder cannot be
    written, in the system's temporary folder. Readable by the owner only (it names schools
    and rows of a file that holds personal data); never follows or replaces an existing file
    unless it is the path asked for."""
    if explicit is not None:
        if explicit.exists() and source.exists() and os.path.samefile(explicit, source):
            raise OSError(errno.EINVAL, "it is the file being imported")
        fd = os.open(explicit, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        return os.fdopen(fd, "w", encoding="utf-8", newline=""), explicit
    stem = f"{source.stem}-errors-{now:%Y%m%d-%H%M%S}"
    last: OSError | None = None
    for folder in (source.parent, Path(tempfile.gettempdir())):
        for n in range(1, 100):
            candidate = folder / f"{stem}{f'-{n}' if n > 1 else ''}.csv"
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:  # not writable (or gone): try the next folder
                last = exc
                break
            return os.fdopen(fd, "w", encoding="utf-8", newline=""), candidate
    raise last or OSError("no free file name for the error report")


class _ErrorReport:
    """Every error of one import, streamed in row order to the error report file (UTF-8 with
    BOM; columns 行号, 列, 值, 原因); only the first :data:`SHOWN_ERRORS` are kept in memory.

    Errors are collected as they are found and sorted into the file by :meth:`settle`, up to a
    row before which no new error can appear. The checks that need the whole file (a region's
    parent, a training's cap) report rows already written; those are merged into the file.
    Values are written as the report's 值 with accounts and ID numbers masked, control
    characters made visible and the spreadsheet formula guard of the exports.
    """

    def __init__(self, kind: str, source: Path, explicit: Path | None, now: datetime):
        self.order = {c.key: i for i, c in enumerate(_COLUMNS.get(kind, ()))}
        self.source, self.explicit, self.now = source, explicit, now
        self.total = 0
        self.first: list[RowError] = []
        self.pending: list[RowError] = []
        self.path: Path | None = None
        self.problem: str | None = None
        self._fh = None
        self._writer = None
        self._last: tuple[int, int] | None = None  # sort key of the last error written

    def key(self, error: RowError) -> tuple[int, int]:
        """Row, then the kind's column order; the header's problems stay left to right."""
        if error.row == 1:
            return (1, 0)
        return (error.row, self.order.get(error.column, len(self.order)))

    def add(self, error: RowError) -> None:
        self.pending.append(error)
        self.total += 1

    def settle(self, before_row: int) -> None:
        """Write the pending errors of rows before ``before_row`` (all of theirs are known)."""
        ready = [e for e in self.pending if e.row < before_row]
        if ready:
            self.pending = [e for e in self.pending if e.row >= before_row]
            ready.sort(key=self.key)
            self._write(ready)

    def close(self) -> None:
        """Write what is still pending and close the file."""
        pending = sorted(self.pending, key=self.key)
        self.pending = []
        if pending:
            self._write(pending)
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError as exc:
                self._fail(exc)
            self._fh = None

    def discard(self) -> None:
        """Remove a half-written report (the import stopped on an unexpected error)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None

    # -- writing
    def _record(self, error: RowError) -> list[str]:
        value = error.value
        if error.column == "account":
            value = privacy.mask_account(value)
        elif error.column == "id_number":
            value = privacy.mask_id_number(value)
        value = visible(value)
        if len(value) > REPORT_VALUE_CHARS:
            value = value[:REPORT_VALUE_CHARS] + "…"
        return guard_row([error.row, error.column, value, error.reason])

    def _open(self) -> bool:
        if self._fh is not None:
            return True
        if self.problem is not None:
            return False
        try:
            self._fh, self.path = _open_report(self.source, self.explicit, self.now)
            self._fh.write(BOM)
            self._writer = csv.writer(self._fh, lineterminator="\r\n")
            self._writer.writerow(REPORT_HEADER)
        except OSError as exc:
            self._fail(exc)
            return False
        return True

    def _fail(self, exc: OSError) -> None:
        where = self.path or self.explicit
        self.problem = (f"the error report could not be written"
                        f"{f' to {where}' if where else ''} ({exc.strerror or exc})")
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None
        self.path = None

    def _write(self, errors: list[RowError]) -> None:
        """Append ``errors`` (sorted) to the file, or merge them in when they belong before
        rows already written."""
        if self._last is not None and self.key(errors[0]) < self._last:
            self._merge(errors)
            return
        room = SHOWN_ERRORS - len(self.first)
        if room > 0:
            self.first.extend(errors[:room])
        self._last = self.key(errors[-1])
        if self._open():
            try:
                self._writer.writerows(self._record(e) for e in errors)
            except OSError as exc:
                self._fail(exc)

    def _merge(self, pending: list[RowError]) -> None:
        """Merge late errors into the sorted file (only the whole-file checks of regions and
        trainings find them; their files are small)."""
        self.first = list(heapq.merge(self.first, pending, key=self.key))[:SHOWN_ERRORS]
        self._last = max(self._last, self.key(pending[-1]))
        if self._fh is None:
            return
        path, tmp_name = self.path, None
        try:
            self._fh.close()
            self._fh = None
            fd, tmp_name = tempfile.mkstemp(prefix=".errors-", suffix=".csv", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out, \
                    path.open(encoding="utf-8-sig", newline="") as old:
                reader = csv.reader(old)
                next(reader)  # header
                writer = csv.writer(out, lineterminator="\r\n")
                out.write(BOM)
                writer.writerow(REPORT_HEADER)
                # Records of the file and new errors, by the same key (on ties the file's
                # come first, as they were found first).
                written = ((self.key(RowError(int(r[0]), r[1], "")), r) for r in reader)
                found = ((self.key(e), self._record(e)) for e in pending)
                writer.writerows(r for _key, r in heapq.merge(written, found,
                                                              key=lambda t: t[0]))
            os.replace(tmp_name, path)
            self._fh = path.open("a", encoding="utf-8", newline="")
            self._writer = csv.writer(self._fh, lineterminator="\r\n")
        except OSError as exc:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)
            self._fail(exc)


# --------------------------------------------------------------------------- reading files


class _FileProblem(Exception):
    def __init__(self, reason: str, row: int = 1):
        super().__init__(reason)
        self.reason = reason
        self.row = row


_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"

# -- encodings

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_32_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
_CHUNK = 1 << 20
#: Bytes at the start of a file looked at for byte-order marks and NUL bytes; UTF-16 without
#: a mark is told by at least this many NUL bytes, making up 1/20 of them or more.
_HEAD = 1 << 16
_MIN_NUL = 8
#: Non-ASCII characters of each MiB judged by the GB18030 rule, and of the whole file.
_SAMPLE_PER_CHUNK = 4096
_SAMPLE_MAX = 1 << 18
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_WIDE = re.compile("[\u0800-\U0010ffff]")  # three- and four-byte UTF-8: CJK among others
_FOREIGN = re.compile("[\u0250-\u07ff]")  # IPA … Greek, Cyrillic, Hebrew, Arabic … NKo
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))

_ENCODING_HELP = (
    "accepted encodings are UTF-8 (with or without BOM), GBK and GB18030; save the file as "
    "\"CSV UTF-8\" (Excel: 文件 → 另存为 → CSV UTF-8(逗号分隔)(*.csv)) and import it again"
)


def _gb_class(ch: str) -> str:
    """How a character read as GB18030 counts for :func:`_reads_as_chinese`:
    ``S`` GB2312 hanzi or Chinese punctuation, ``R`` another CJK ideograph (GBK/GB18030 only:
    rare name characters such as 堃), ``O`` what a Chinese file never holds (kana, Greek,
    Cyrillic, box drawing, private-use codes), ``""`` anything else (counted, never decisive)."""
    point = ord(ch)
    if 0xE000 <= point <= 0xF8FF:
        return "O"  # GBK's user-defined areas, where much of Big5 lands
    code = ch.encode("gb18030")
    if len(code) == 2 and code[1] >= 0xA1:
        if 0xB0 <= code[0] <= 0xF7 or 0xA1 <= code[0] <= 0xA3:
            return "S"
        if 0xA4 <= code[0] <= 0xA7 or code[0] == 0xA9:
            return "O"  # GB2312 rows 4-7 and 9: kana, Greek, Cyrillic, box drawing
    if any(low <= point <= high for low, high in _CJK_RANGES):
        return "R"
    return ""


def _reads_as_chinese(sample: collections.Counter) -> bool:
    """The confidence rule for a file read as GB18030 (see the module docstring)."""
    counts = collections.Counter()
    for ch, n in sample.items():
        counts[_gb_class(ch)] += n
    total = sum(counts.values())
    return 2 * counts["S"] >= total and 10 * counts["O"] <= total


def _utf8_reading(path: Path) -> tuple[bool, bool] | None:
    """None when ``path`` is not strictly UTF-8 (BOM or not), else whether its text holds a
    character of three or more UTF-8 bytes (Chinese does) and one from IPA to NKo."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    wide = foreign = False
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                text = decoder.decode(chunk)
                if not wide:  # once Chinese is seen, only the strict decoding matters
                    wide = _WIDE.search(text) is not None
                    foreign = foreign or _FOREIGN.search(text) is not None
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return wide, foreign


def _gb18030_reads_as_chinese(path: Path) -> bool:
    """True when ``path`` decodes strictly as GB18030 and its sampled non-ASCII text passes
    the confidence rule."""
    decoder = codecs.getincrementaldecoder("gb18030")(errors="strict")
    sample: collections.Counter = collections.Counter()
    sampled = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                text = decoder.decode(chunk)
                quota = min(_SAMPLE_PER_CHUNK, _SAMPLE_MAX - sampled)
                for run in _NON_ASCII_RUN.finditer(text):
                    if quota <= 0:
                        break
                    part = run.group()[:quota]
                    sample.update(part)
                    quota -= len(part)
                    sampled += len(part)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return _reads_as_chinese(sample)


def _detect_encoding(path: Path) -> str:
    """``utf-8-sig`` or ``gb18030`` by the rule of the module docstring; refuses the rest."""
    with path.open("rb") as fh:
        head = fh.read(_HEAD)
    nul = head.count(0)
    # UTF-16 puts a NUL next to every ASCII character; a few NUL cells of a real CSV (errors
    # of their rows) come nowhere near that.
    if head.startswith(_UTF16_32_BOMS) or (nul >= _MIN_NUL and nul * 20 >= len(head)):
        raise _FileProblem(f"cannot read the file: it is UTF-16 or UTF-32 text; {_ENCODING_HELP}")
    utf8 = _utf8_reading(path)
    if utf8 is not None:
        wide, foreign = utf8
        # GBK bytes form valid UTF-8 only by chance, in files with a few Chinese characters,
        # and then read as a jumble of Greek, Cyrillic, Hebrew … without any Chinese.
        if head.startswith(_UTF8_BOM) or wide or not foreign:
            return "utf-8-sig"
        return "gb18030" if _gb18030_reads_as_chinese(path) else "utf-8-sig"
    if not head.startswith(_UTF8_BOM) and _gb18030_reads_as_chinese(path):
        return "gb18030"
    raise _FileProblem(
        "cannot read the file: its encoding is not UTF-8, GBK or GB18030 (Big5, Shift-JIS, "
        f"Latin-1 and UTF-16 files, for example, are not read correctly); {_ENCODING_HELP}"
    )


def _csv_rows(path: Path) -> Iterator[list[str]]:
    encoding = _detect_encoding(path)
    with path.open("r", encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        row_no = 0
        try:
            for row_no, row in enumerate(reader, start=1):
                yield row
        except csv.Error as exc:
            raise _FileProblem(f"malformed CSV: {exc}", row_no + 1) from None


# -- XLSX

#: Limits on an XLSX archive, checked from its zip directory before anything is parsed.
#: Measured (docs/import-formats.md): a 445,000-row teachers sheet written by xlsxwriter
#: unpacks to 214 MB in 10 parts, compressed at most 9.4 to 1; any genuine sheet measured
#: stayed below 12 to 1, a deflate bomb reaches 1,000 to 1.
XLSX_MAX_UNPACKED = 512 * 1024 * 1024
XLSX_MAX_RATIO = 100
XLSX_MAX_PARTS = 1000
#: Parts smaller than this are not held to the ratio: they cannot do harm.
XLSX_RATIO_FLOOR = 1024 * 1024


class ArchiveRefused(Exception):
    """An XLSX file refused by :func:`check_xlsx_archive`; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_xlsx_archive(file) -> None:
    """Refuse an XLSX (zip) file that would unpack to more than :data:`XLSX_MAX_UNPACKED`,
    holds a part compressed more than :data:`XLSX_MAX_RATIO` to 1 (a decompression bomb),
    more than :data:`XLSX_MAX_PARTS` parts, or a compression method other than deflate.

    ``file`` is a path or a binary file object. Only the zip directory is read.

    Checking the directory is enough: CPython's ``zipfile.ZipExtFile`` (3.11,
    ``_read1``) takes a part's size from its directory entry (``self._left =
    zipinfo.file_size``), cuts whatever it inflates to that size (``data[:self._left]``) and
    inflates deflate data only as far as asked (``decompress(data, n)``); so a part can never
    yield more bytes than the directory declares, whatever its compressed stream holds (a part
    that lies stops at its declared size and fails its CRC). The other methods zipfile knows
    (bzip2, LZMA) inflate a whole read at once before that cut, so they are refused; no
    spreadsheet program writes them.
    """
    try:
        with zipfile.ZipFile(file) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise ArchiveRefused(f"cannot read the XLSX file ({type(exc).__name__})") from None
    if len(parts) > XLSX_MAX_PARTS:
        raise ArchiveRefused(
            f"the XLSX file holds {len(parts):,} parts; at most {XLSX_MAX_PARTS:,} are accepted")
    unpacked = 0
    for part in parts:
        if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveRefused(
                f"the XLSX file uses an unsupported compression method in {part.filename}; "
                "save it again from the spreadsheet program")
        if part.file_size > XLSX_RATIO_FLOOR and (
            part.file_size > XLSX_MAX_RATIO * max(part.compress_size, 1)
        ):
            ratio = part.file_size // max(part.compress_size, 1)
            raise ArchiveRefused(
                f"the XLSX file is refused as a possible decompression bomb: {part.filename} "
                f"is compressed {ratio:,} to 1 (at most {XLSX_MAX_RATIO} to 1 is accepted)")
        unpacked += part.file_size
    if unpacked > XLSX_MAX_UNPACKED:
        raise ArchiveRefused(
            f"the XLSX file unpacks to {unpacked / 2**20:,.0f} MiB, more than the "
            f"{XLSX_MAX_UNPACKED // 2**20} MiB accepted; save it as CSV UTF-8 instead")


# Excel writes a control character in a string as _xHHHH_ (and a literal "_x" sequence with
# its underscore escaped as _x005F_, which a left-to-right scan skips); openpyxl keeps the
# escapes, so they are turned back into the characters they stand for, to be checked.
_XLSX_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _xlsx_unescape(match: re.Match) -> str:
    ch = chr(int(match.group(1), 16))
    return ch if has_control_characters(ch) else match.group()


def _cell_text(value: Any) -> str:
    """An XLSX cell value as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _XLSX_ESCAPE.sub(_xlsx_unescape, value) if "_x" in value else value
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


@contextmanager
def _sheet_size_unread():
    """openpyxl looks for a read-only sheet's <dimension> by parsing up to the end of
    <sheetData>, so a sheet without one (a 2 MB file can hold millions of rows) is parsed whole
    before its first row is read. The rows are read as they are (`reset_dimensions`), so the
    size is never needed; this is the only read-only workbook the product opens."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    global _OPENPYXL_GET_SIZE
    if _OPENPYXL_GET_SIZE is None:
        _OPENPYXL_GET_SIZE = ReadOnlyWorksheet.__dict__["_get_size"]
    ReadOnlyWorksheet._get_size = _skip_size
    try:
        yield
    finally:
        # Overlapping threads: one still inside may then find the size the slow way; never
        # a wrong result.
        ReadOnlyWorksheet._get_size = _OPENPYXL_GET_SIZE


_OPENPYXL_GET_SIZE = None


def _skip_size(self) -> None:
    return None


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    with path.open("rb") as fh:  # one open file for the check and the parse
        try:
            check_xlsx_archive(fh)
        except ArchiveRefused as refused:
            raise _FileProblem(refused.reason) from None
        fh.seek(0)
        from openpyxl import load_workbook

        try:
            with _sheet_size_unread():
                workbook = load_workbook(fh, read_only=True, data_only=True)
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
    if path.suffix.lower() == ".xlsx":
        # Named a workbook but not one: reading it as text would only confuse the reader.
        raise _FileProblem("cannot read the XLSX file: it is not an Excel workbook")
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


_MISSING = school_fields.MISSING_EN
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
    # Teacher counts committed in the console (data_access.teacher_counts): the committing
    # user, the region whose subtree the rows must lie in, and whether a row without a
    # 专任教师数 is skipped (a template row left blank) rather than an error.
    updated_by: int | None = None
    within: str | None = None
    skip_blank_counts: bool = False
    # At most this many data rows (an upload); more is a file error, found without reading on.
    max_rows: int | None = None
    # Called inside the import's transaction just before it commits (not on a dry run, not
    # when anything is wrong), e.g. to write the audit entry in the same transaction.
    before_commit: Callable[[Connection, "ImportResult"], None] | None = None
    # Told the number of the row being read every PROGRESS_EVERY rows (the CLI's progress).
    progress: Callable[[int], None] | None = None


PROGRESS_EVERY = 2000


@dataclass
class _Importer:
    ctx: _Context
    report: _ErrorReport
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    batch: list = field(default_factory=list)
    # The row being checked: its values, and the cells already reported for a control
    # character (whose follow-on errors, such as "required value is missing", are not news).
    row: int = 0
    values: dict = field(default_factory=dict)
    rejected: frozenset = frozenset()
    # PostgreSQL: the thread that writes one batch by COPY while the next is read and
    # checked, and that write (see settle_writes).
    writer: ThreadPoolExecutor | None = None
    pending: Future | None = None

    table: ClassVar[Table]
    #: True when check() hands rows to the batch and flush() may still find errors in them;
    #: False for the kinds that keep their rows to the end (regions, trainings, counts).
    batched: ClassVar[bool] = True

    # -- errors
    def error(self, row: int, column: str, reason: str, value: str | None = None) -> None:
        """Record a problem; ``value`` defaults to the cell of the row being checked."""
        if row == self.row:
            if column in self.rejected:
                return
            if value is None:
                value = self.values.get(column, "")
        self.report.add(RowError(row, column, reason, value or ""))

    @property
    def failed(self) -> bool:
        return self.report.total > 0

    @property
    def writing(self) -> bool:
        return self.ctx.write and not self.failed

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
    def flush_batch(self, conn: Connection) -> None:
        self.settle_writes()
        self.flush(conn)
        self.batch = []

    def settle_writes(self, quiet: bool = False) -> None:
        """Wait for the batch being written in the background, and raise what it raised
        (unless ``quiet``): the connection is the import's own, so nothing else may use it
        meanwhile."""
        pending = self.pending
        if pending is None:
            return
        try:
            if not quiet:
                pending.result()
                return
            while True:
                try:
                    pending.exception()
                    return
                except BaseException:  # another Ctrl-C: the write still owns the connection
                    continue
        finally:
            # Interrupted while waiting: still pending, so the error path waits for it.
            if pending.done():
                self.pending = None

    def write(self, conn: Connection, inserts: list[dict], updates: list[dict],
              update_stmt, keys: dict[str, str], last: bool = False) -> None:
        """Write new and changed rows. ``update_stmt`` names each key column by a bind
        parameter; ``keys`` maps those parameter names to the key columns (for COPY).
        ``last``: the caller uses the connection no more before the next flush, so a
        PostgreSQL import may write in the background while the next batch is checked."""
        self.inserted += len(inserts)
        self.updated += len(updates)
        if not self.writing:
            return
        self.settle_writes()
        copy = conn.dialect.name == "postgresql"
        if last and copy and self.writer is not None and (
                len(inserts) >= COPY_MIN_ROWS or len(updates) >= COPY_MIN_ROWS):
            self.pending = self.writer.submit(
                self._write_now, conn, inserts, updates, update_stmt, keys, copy)
        else:
            self._write_now(conn, inserts, updates, update_stmt, keys, copy)

    def _write_now(self, conn: Connection, inserts: list[dict], updates: list[dict],
                   update_stmt, keys: dict[str, str], copy: bool) -> None:
        if inserts:
            if copy and len(inserts) >= COPY_MIN_ROWS:
                copy_insert(conn, self.table, inserts)
            else:
                # Plain executemany: sqlite3's executemany, psycopg's pipeline mode.
                # (Multi-row VALUES pages measured slower on psycopg, whose placeholder
                # parsing of long statements is not cached.)
                conn.execute(insert(self.table), inserts)
        if updates:
            if copy and len(updates) >= COPY_MIN_ROWS:
                copy_update(conn, self.table, updates, keys)
            else:
                conn.execute(update_stmt, updates)


#: From this many rows on, PostgreSQL gets them through COPY (fewer go row by row: a COPY
#: and its staging table cost more than a few statements).
COPY_MIN_ROWS = 200


def _copy_values(conn: Connection, table: Table, columns: list[str], rows: list[dict]):
    """Each row's values of ``columns`` as the database takes them (the columns' own bind
    processing applied, which COPY would otherwise bypass)."""
    processors = [table.c[c].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
                  for c in columns]
    if not any(processors):
        return ([row[c] for c in columns] for row in rows)
    return (
        [value if fn is None or value is None else fn(value)
         for fn, value in zip(processors, (row[c] for c in columns))]
        for row in rows
    )


def _copy_into(conn: Connection, target: str, columns: list[str], values) -> None:
    """COPY ``values`` (lists in the order of ``columns``) into the table named ``target``,
    through the transaction's own connection."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, columns)))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    finally:
        cursor.close()


def copy_insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys, all new) with one COPY (PostgreSQL)."""
    columns = list(rows[0])
    # The columns' Python-side defaults, which an INSERT through SQLAlchemy would fill in
    # and COPY knows nothing of.
    defaults = {c.name: c.default.arg for c in table.columns
                if c.name not in rows[0] and c.default is not None and c.default.is_scalar}
    if defaults:
        columns += list(defaults)
        rows = [{**defaults, **row} for row in rows]
    _copy_into(conn, table.name, columns, _copy_values(conn, table, columns, rows))


def copy_update(conn: Connection, table: Table, rows: list[dict], keys: dict[str, str]) -> None:
    """Update stored rows from ``rows`` in one statement (PostgreSQL): the rows go by COPY
    into a staging table shaped like ``table``, then one UPDATE … FROM joins it on the key
    columns. ``keys`` maps the rows' key entries (``b_code``) to the key columns (``code``)."""
    names = [keys.get(k, k) for k in rows[0]]
    renamed = ({keys.get(k, k): v for k, v in row.items()} for row in rows)
    stage = f"_import_stage_{table.name}"
    quoted = conn.dialect.identifier_preparer.quote
    target = quoted(table.name)
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {quoted(stage)} ON COMMIT DROP AS "
        f"SELECT {', '.join(map(quoted, names))} FROM {target} WITH NO DATA")
    _copy_into(conn, stage, names, _copy_values(conn, table, names, renamed))
    key_columns = set(keys.values())
    assignments = ", ".join(f"{quoted(c)} = s.{quoted(c)}" for c in names if c not in key_columns)
    joins = " AND ".join(f"t.{quoted(c)} = s.{quoted(c)}" for c in key_columns)
    conn.exec_driver_sql(f"UPDATE {target} AS t SET {assignments} FROM {quoted(stage)} AS s "
                         f"WHERE {joins}")
    conn.exec_driver_sql(f"DROP TABLE {quoted(stage)}")


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
    batched = False

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
                self.error(row, "parent_code", f"unknown region code '{parent}'", parent)
            elif parent is None and code in self.existing and parent_of[code] is not None:
                # An empty cell must not silently detach a whole subtree.
                self.error(row, "parent_code", "an existing region cannot become top-level",
                           "")
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
                self.error(row, "parent_code", "a region cannot become its own ancestor", parent)
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
        self.write(conn, inserts, updates, stmt, {"b_code": "code"})
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

    def field(self, row: int, v: dict[str, str], column: str, check: Callable[..., Any],
              *args) -> Any:
        """One cell through the rule every way of writing a school shares
        (:mod:`data_access.school_fields`)."""
        try:
            return check(v.get(column, ""), *args)
        except school_fields.FieldProblem as problem:
            self.error(row, column, problem.en)
            return _BAD

    def check(self, row: int, v: dict[str, str]) -> Any:
        code = self.field(row, v, "code", school_fields.school_code)
        name = self.field(row, v, "name", school_fields.school_name)
        region = self.field(row, v, "region_code", school_fields.region_code,
                            self.regions.__contains__)
        kind = self.field(row, v, "kind", school_fields.kind)
        urban = self.field(row, v, "urban_rural", school_fields.urban_rural)
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
                self.error(row, "code", "school is deleted", p["code"])
                continue
            if not valid:
                continue
            if old is None:
                p["kind"] = p["kind"] or school_fields.DEFAULT_KIND
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
        self.write(conn, inserts, updates, update(t).where(t.c.code == bindparam("b_code")),
                   {"b_code": "code"}, last=True)


# --------------------------------------------------------------------------- teachers


class _Teachers(_Importer):
    table = Teacher.__table__
    _compared = ("name", "school_code", "stage", "subject", "title", "id_type",
                 "id_number_masked", "id_number_hash", "cert_status", "applied_at")
    _kept = ("title", "id_type", "id_number_masked", "id_number_hash", "cert_status",
             "applied_at")
    _decision = ("decided_at", "decided_by", "decision_reason")

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
                "decided_at": None,
                "decided_by": None,
                "decision_reason": None,
            },
        )

    kept_decisions: int = 0

    def _keep_decision(self, p: dict, old) -> None:
        """SPEC §5.2: an import never undoes a school admin's decision; a row whose 申请时间
        is later than the decision is a new application (back to 未审核)."""
        if old["decided_at"] is None:
            return
        # A new application: a 申请时间 other than the stored one, and after the decision
        # (the same file again carries the stored time, whatever the clocks say).
        applied = p["applied_at"]
        if applied is not None and applied != old["applied_at"] and applied > old["decided_at"]:
            p["cert_status"] = vocab.CERT_PENDING
            return
        if p["cert_status"] is not None and p["cert_status"] != old["cert_status"]:
            self.kept_decisions += 1
        p["cert_status"] = old["cert_status"]
        for k in self._decision:
            p[k] = old[k]

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
            conn, t.c.account, [t.c[c] for c in (*self._compared, *self._decision)],
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
            self._keep_decision(p, old)
            for k in self._kept:
                if p[k] is None:
                    p[k] = old[k]
            if _same(p, old, (*self._compared, *self._decision)):
                self.unchanged += 1
            else:
                p["b_account"] = p.pop("account")
                updates.append(p)
        self.write(conn, inserts, updates,
                   update(t).where(t.c.account == bindparam("b_account")),
                   {"b_account": "account"}, last=True)


# --------------------------------------------------------------------------- trainings


class _Trainings(_Importer):
    table = Training.__table__
    batched = False

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
                               f"lower than hours already recorded ({_fmt_tenths(top)})",
                               _fmt_tenths(p["hours_cap_tenths"]))
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
        self.write(conn, inserts, updates, update(t).where(t.c.code == bindparam("b_code")),
                   {"b_code": "code"})


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
                self.error(row, "account", "unknown teacher account", account)
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
        self.write(conn, inserts, updates, stmt,
                   {"b_training": "training_id", "b_teacher": "teacher_id"}, last=True)


# --------------------------------------------------------------------------- teacher counts


def _same_name(given: str, stored: str) -> bool:
    """A 区域名称 cell names the stored region; a name the downloads' formula guard wrote
    as `'=…` (a leading = + - @) comes back with that `'`."""
    return given == stored or (given[:1] == "'" and stored[:1] in "=+-@" and given[1:] == stored)


class _TeacherCounts(_Importer):
    table = TeacherCount.__table__
    batched = False

    def load(self, conn: Connection) -> None:
        t = self.table
        self.regions = {code: name for code, name in conn.execute(select(Region.code, Region.name))}
        self.within = None
        if self.ctx.within is not None:
            self.within = set(conn.scalars(select(Region.code).where(
                in_subtree(self.ctx.within, Region.code))))
        self.existing = {
            (r.region_code, r.stage): r.count
            for r in conn.execute(select(t.c.region_code, t.c.stage, t.c.count))
        }
        self.seen: dict[tuple[str, str], int] = {}
        self.skipped = 0
        self.source = self.ctx.source[: _MAXLEN[(t.name, "source")]]

    def check(self, row: int, v: dict[str, str]) -> Any:
        region = v.get("region_code", "")
        if not region:
            self.error(row, "region_code", _MISSING)
            region = _BAD
        elif region not in self.regions:
            self.error(row, "region_code", f"unknown region code '{region}'")
            region = _BAD
        elif self.within is not None and region not in self.within:
            self.error(row, "region_code", f"region '{region}' is outside your scope")
            region = _BAD
        name = v.get("region_name", "")
        if name and region is not _BAD and not _same_name(name, self.regions[region]):
            self.error(row, "region_name",
                       f"does not match region code '{region}' ('{self.regions[region]}')")
            region = _BAD
        stage = v.get("stage", "")
        if stage == vocab.ALL_STAGES:  # as the console and its downloads show a blank 学段
            stage = ""
        if stage:
            stage = self.parse(row, "stage", _enum, stage, vocab.STAGES)
        raw = v.get("count", "")
        if not raw and self.ctx.skip_blank_counts:
            # A template row left blank: no figure given, nothing to write or check further.
            self.skipped += 1
            return None
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
            values = {"count": count, "source": self.source, "updated_at": self.ctx.now,
                      "updated_by": self.ctx.updated_by}
            if old is None:
                inserts.append({"region_code": region, "stage": stage, **values})
            elif old == count:
                # The figure stands: it keeps the source, updater and time it came with.
                self.unchanged += 1
            else:
                updates.append({"b_region": region, "b_stage": stage, **values})
        self.batch = []
        t = self.table
        stmt = update(t).where(t.c.region_code == bindparam("b_region"),
                               t.c.stage == bindparam("b_stage"))
        self.write(conn, inserts, updates, stmt, {"b_region": "region_code", "b_stage": "stage"})


_IMPORTERS: dict[str, type[_Importer]] = {
    "regions": _Regions,
    "schools": _Schools,
    "teachers": _Teachers,
    "trainings": _Trainings,
    "records": _Records,
    "teacher-counts": _TeacherCounts,
}


# --------------------------------------------------------------------------- entry point


def _control_reason(found: list[str]) -> str:
    if len(found) == 1:
        return f"contains a control character ({code_point(found[0])})"
    return f"contains control characters ({', '.join(code_point(c) for c in found)})"


def _cell_controls(cell: str) -> list[str]:
    """Control characters of a cell: inside its value, or anywhere except the tabs and line
    breaks trimmed off its ends as whitespace (see the module docstring)."""
    return value_controls(cell)


def _header_errors(kind: str, header: list[str]) -> tuple[list[tuple[int, str]], list[RowError]]:
    """:func:`_map_header`, after the check for control characters (a header cell holding
    one names no column, so only those are reported)."""
    controls = [
        RowError(1, visible(_header_name(cell)), _control_reason(found), cell)
        for cell in header
        if (found := _cell_controls(cell))
    ]
    if controls:
        return [], controls
    return _map_header(kind, header)


def _run(
    engine: Engine,
    kind: str,
    rows: Iterator[list[str]],
    ctx: _Context,
    report: _ErrorReport,
    dry_run: bool,
) -> tuple[_Importer, int] | None:
    """Check the header, then stream every row through the kind's importer in one
    transaction; commit only when no error was found and this is not a dry run.
    Every problem goes to ``report``; None when the header was already wrong."""
    header = next(rows, None)
    if header is None:
        report.add(RowError(1, FILE_COLUMN, "the file is empty"))
        return None
    mapping, header_errors = _header_errors(kind, header)
    if header_errors:
        for error in header_errors:
            report.add(error)
        return None
    width = len(header)
    unnamed = [i for i, cell in enumerate(header) if not _header_name(cell)]

    importer = _IMPORTERS[kind](ctx, report)
    count = 0
    with engine.connect() as conn, ThreadPoolExecutor(1) as writer:
        if conn.dialect.name == "postgresql" and importer.batched:
            importer.writer = writer
        trans = conn.begin()
        try:
            importer.load(conn)
            try:
                progress = ctx.progress
                for row_no, cells in enumerate(rows, start=2):
                    if progress is not None and (row_no - 1) % PROGRESS_EVERY == 0:
                        progress(row_no - 1)
                    if row_no % REPORT_EVERY == 0 and report.pending:
                        # Flush the open batch first: its checks against stored rows are the
                        # last errors its rows can get, so every error before this row is
                        # known and can go to the report file.
                        if importer.batched and importer.batch:
                            importer.flush_batch(conn)
                        report.settle(row_no)
                    values = {}
                    blank = True
                    n = len(cells)
                    for index, key in mapping:
                        if index < n:
                            value = cells[index].strip()
                            if value:
                                values[key] = value
                                blank = False
                    importer.row, importer.values, importer.rejected = row_no, values, frozenset()
                    if has_control_characters("".join(cells)):
                        rejected = set()
                        for index, key in mapping:
                            if index < n and (found := _cell_controls(cells[index])):
                                importer.error(row_no, key, _control_reason(found),
                                               cells[index].strip() or cells[index])
                                # Never handed on: PostgreSQL refuses NUL even in a lookup.
                                values.pop(key, None)
                                rejected.add(key)
                                blank = False
                        importer.rejected = frozenset(rejected)
                    if (n > width and any(c.strip() for c in cells[width:])) or any(
                        i < n and cells[i].strip() for i in unnamed
                    ):
                        importer.error(row_no, FILE_COLUMN, "value in a column without a header")
                        blank = False
                    if blank:
                        continue
                    count += 1
                    if ctx.max_rows is not None and count > ctx.max_rows:
                        raise _FileProblem(f"more than {ctx.max_rows} data rows", row_no)
                    parsed = importer.check(row_no, values)
                    if parsed is not None:
                        importer.batch.append(parsed)
                        if len(importer.batch) >= BATCH_SIZE:
                            importer.flush_batch(conn)
            except _FileProblem as problem:
                importer.error(problem.row, FILE_COLUMN, problem.reason, "")
            importer.row, importer.values, importer.rejected = 0, {}, frozenset()
            importer.settle_writes()
            importer.finish(conn)
            importer.settle_writes()
            if importer.failed or dry_run:
                trans.rollback()
            else:
                if ctx.before_commit is not None:
                    ctx.before_commit(conn, _result(kind, importer, count, dry_run))
                if importer.inserted or importer.updated:
                    analyze(conn, importer.table)
                trans.commit()
        except BaseException:
            importer.settle_writes(quiet=True)
            if trans.is_active:
                trans.rollback()
            raise
    return importer, count


def read_records(kind: str, path: str | Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column key: cell text}) of every non-blank data row of a file, read
    the way :func:`import_file` reads it, for showing a file before it is imported. Control
    characters are made visible (``[U+0000]``). Reading stops quietly where the file cannot
    be read or its header is wrong: :func:`import_file` reports those problems."""
    try:
        rows = _open_rows(Path(path))
        with closing(rows):
            header = next(rows, None)
            if header is None:
                return
            mapping, errors = _header_errors(kind, header)
            if errors:
                return
            for row_no, cells in enumerate(rows, start=2):
                n = len(cells)
                values = {key: visible(cells[i].strip()) for i, key in mapping
                          if i < n and cells[i].strip()}
                if values or any(c.strip() for c in cells):
                    yield row_no, values
    except _FileProblem:
        return


def import_file(
    engine: Engine,
    kind: str,
    path: str | Path,
    *,
    id_key: bytes,
    dry_run: bool = False,
    now: datetime | None = None,
    errors_file: str | Path | None = None,
    source: str | None = None,
    updated_by: int | None = None,
    within: str | None = None,
    skip_blank_counts: bool = False,
    max_rows: int | None = None,
    before_commit: Callable[[Connection, ImportResult], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Validate ``path`` as a ``kind`` file and upsert it in one transaction.

    Raises :class:`ImportRefused` (and writes nothing) when the file or any row is bad; every
    error is then listed in the error report file (``errors_file``, or by default a new
    ``<name>-errors-<time>.csv`` next to ``path``, see :func:`_open_report`).
    With ``dry_run`` the counts are computed the same way and nothing is written.
    ``source`` names the file in what is stored (default: the file's name; an upload is
    saved under a temporary name). ``updated_by``, ``within``, ``skip_blank_counts``,
    ``max_rows`` and ``before_commit`` are the console's options (see :class:`_Context`);
    ``progress`` is told how many data rows were read, every few thousand.
    """
    path = Path(path)
    now = now or datetime.now().replace(microsecond=0)
    report = _ErrorReport(kind, path, Path(errors_file) if errors_file else None, now)
    outcome = None
    try:
        if kind not in KINDS:
            report.add(RowError(1, FILE_COLUMN,
                                f"unknown kind '{kind}'; expected one of: {', '.join(KINDS)}"))
        else:
            try:
                rows = _open_rows(path)
                with closing(rows):  # closes the file / workbook however this ends
                    outcome = _run(engine, kind, rows,
                                   _Context(id_key=id_key, now=now,
                                            source=source or path.name, write=not dry_run,
                                            updated_by=updated_by, within=within,
                                            skip_blank_counts=skip_blank_counts,
                                            max_rows=max_rows, before_commit=before_commit,
                                            progress=progress),
                                   report, dry_run)
            except _FileProblem as problem:  # the file cannot be read at all
                report.add(RowError(problem.row, FILE_COLUMN, problem.reason))
    except BaseException:
        report.discard()
        raise
    if report.total:
        report.close()
        raise ImportRefused(report.first, report.total, report.path, report.problem)
    importer, count = outcome
    return _result(kind, importer, count, dry_run)


def _result(kind: str, importer: "_Importer", count: int, dry_run: bool) -> ImportResult:
    return ImportResult(kind=kind, rows=count, inserted=importer.inserted,
                        updated=importer.updated, unchanged=importer.unchanged,
                        dry_run=dry_run, skipped=getattr(importer, "skipped", 0),
                        kept_decisions=getattr(importer, "kept_decisions", 0))


__all__ = ["KINDS", "RowError", "ImportRefused", "ImportResult", "import_file", "columns",
           "read_records",
           "check_xlsx_archive", "ArchiveRefused"]
