"""The one export writer (SPEC §6): CSV (UTF-8 with BOM) streamed in chunks, or written to a
file, and XLSX written streaming; both with a title row and the formula-injection guard.

A table declares its columns once, as `Column`s (header label + cell type). Rows are always
the screen's text: the CSV writes it as it is, the XLSX writer stores a number column's text
as the number it shows (`33.03%` → 0.3303 shown as `0.00%`), so Excel displays the screen's
text and SUM and sorting work."""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

BOM = "\ufeff"
_DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")


_DANGEROUS_SET = frozenset(_DANGEROUS_FIRST)
# Cells that start like a formula but cannot be one: `--`, 激活进度's zero-denominator
# ratio (two minus signs and nothing else; no spreadsheet runs it). Written as they are.
_INERT = frozenset({"--"})


@dataclass(frozen=True)
class CellType:
    """How an XLSX cell holds a column's screen text; `number_format` None = text."""

    number_format: str | None = None
    percent: bool = False  # the text ends with `%` and the number is a hundredth of it


TEXT = CellType()
COUNT = CellType("0")
PERCENT = CellType("0.00%", percent=True)  # `33.03%`
AVERAGE = CellType("0.0")  # 人均学时 `7.5`
HOURS = CellType("General")  # 获得学时 of a teacher: `8`, `7.5`


@dataclass(frozen=True)
class Column:
    label: str
    cell: CellType = TEXT


def _percent_number(text: str) -> float:
    if text[-1:] != "%":
        raise ValueError("not a percentage")
    # Parsed as the decimal 0.3303 itself: 33.03 / 100 can land one ulp away from it.
    return float(text[:-1] + "e-2")


def guard_cell(value: object) -> str:
    """Prefix `'` to cells a spreadsheet would read as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_DANGEROUS_FIRST) and text not in _INERT else text


def guard_row(row: Iterable[object]) -> list[str]:
    """`guard_cell` over a row, without a function call per cell (exports write millions)."""
    texts = ["" if v is None else str(v) for v in row]
    return ["'" + t if t[:1] in _DANGEROUS_SET and t not in _INERT else t for t in texts]


def csv_chunks(title: str | None, columns: Sequence[Column], rows: Iterable[list[object]],
               rows_per_chunk: int = 2000) -> Iterator[bytes]:
    """Yield the file in pieces so that no download is ever held in memory whole. Every cell
    is the screen's text, whatever the column's cell type. A table without a title (an import
    template, whose first row must be the importer's header) starts with the header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write(BOM)
    if title is not None:
        writer.writerow([guard_cell(title)])
    writer.writerow([guard_cell(c.label) for c in columns])
    n = 0
    for row in rows:
        writer.writerow(guard_row(row))
        n += 1
        if n % rows_per_chunk == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def title_line(training_name: str, scope_name: str, filters: dict[str, str], updated: str) -> str:
    parts = [training_name, scope_name]
    parts += [f"{k}：{v}" for k, v in filters.items()]
    parts.append(f"数据更新时间：{updated}")
    return " · ".join(parts)


# --------------------------------------------------------------------------- files

# An Excel sheet holds 1,048,576 rows; the title and header rows take two of them, so each
# sheet carries at most this many data rows before the export continues on a new sheet.
# Module-level so that tests can lower it.
XLSX_SHEET_DATA_ROWS = 1_048_576 - 2
PROGRESS_EVERY = 5000
_WIDTH_SAMPLE = 200  # rows looked at to size the columns
_MAX_WIDTH = 60


def _display_width(text: str) -> int:
    """Rough column width: CJK and other wide characters count twice."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _counting(rows: Iterable[list[object]], progress, every: int, counter: list[int]):
    n = 0
    for row in rows:
        yield row
        n += 1
        counter[0] = n
        if progress is not None and n % every == 0:
            progress(n)


def write_csv(path, title: str | None, columns: Sequence[Column], rows: Iterable[list[object]],
              progress=None, *, progress_every: int = PROGRESS_EVERY) -> int:
    """Write exactly the bytes of `csv_chunks` to `path`; returns the number of data rows.

    `progress(n)` is called every `progress_every` rows."""
    counter = [0]
    with open(path, "wb") as fh:
        for chunk in csv_chunks(title, columns, _counting(rows, progress, progress_every, counter)):
            fh.write(chunk)
    return counter[0]


def write_xlsx(path, title: str | None, columns: Sequence[Column], rows: Iterable[list[object]],
               *,
               progress=None, progress_every: int = PROGRESS_EVERY) -> int:
    """Write an XLSX file streaming (xlsxwriter constant-memory); returns the data rows.

    Every sheet starts with the title row (merged over the columns; none when `title` is
    None) and the header row.
    Text columns hold the screen's text behind the same formula guard as the CSV; a number
    column's cell is the number its text shows, in the column's number format, and stays
    that text when it is not a number (`—`). After `XLSX_SHEET_DATA_ROWS` data rows the
    export continues on a new sheet (数据1, 数据2, …)."""
    import xlsxwriter

    per_sheet = XLSX_SHEET_DATA_ROWS
    if per_sheet < 1:
        raise ValueError("XLSX_SHEET_DATA_ROWS must be positive")
    rows = iter(rows)
    first = list(itertools.islice(rows, _WIDTH_SAMPLE))
    width_cols = max(1, len(columns))
    widths = [_display_width(guard_cell(c.label)) for c in columns] or [10]
    for row in first:
        for i, v in enumerate(row[:width_cols]):
            widths[i] = max(widths[i], _display_width(guard_cell(v)))
    widths = [min(_MAX_WIDTH, max(8, w + 2)) for w in widths]
    title_text = None if title is None else guard_cell(title)
    top = 0 if title is None else 1  # the header's row
    header_cells = [guard_cell(c.label) for c in columns]
    text_cols = [i for i, c in enumerate(columns) if c.cell.number_format is None]

    workbook = xlsxwriter.Workbook(str(path), {
        "constant_memory": True,
        # Row data is buffered in temporary files next to the target, not in memory.
        "tmpdir": str(Path(path).parent),
        # Text is never turned into a formula, number or link; numbers are written as such.
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    })
    try:
        title_fmt = workbook.add_format({"bold": True})
        header_fmt = workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
        formats: dict[str, object] = {}
        number_cols = []  # (column, text → number, cell format)
        for i, c in enumerate(columns):
            fmt = c.cell.number_format
            if fmt is None:
                continue
            if fmt not in formats:
                # General is every cell's default: no format to look up per cell.
                formats[fmt] = (None if fmt == "General"
                                else workbook.add_format({"num_format": fmt}))
            number_cols.append((i, _percent_number if c.cell.percent else float, formats[fmt]))
        sheet_no = 0
        row_no = 0  # data rows on the current sheet
        total = 0

        def new_sheet():
            nonlocal sheet_no
            sheet_no += 1
            ws = workbook.add_worksheet(f"数据{sheet_no}")
            for i, w in enumerate(widths):
                ws.set_column(i, i, w)
            if title_text is None:
                pass
            elif width_cols > 1:
                ws.merge_range(0, 0, 0, width_cols - 1, title_text, title_fmt)
            else:
                ws.write_string(0, 0, title_text, title_fmt)
            for i, h in enumerate(header_cells):
                ws.write_string(top, i, h, header_fmt)
            return ws

        ws = new_sheet()
        write_string, write_number = ws.write_string, ws.write_number
        for row in itertools.chain(first, rows):
            if row_no == per_sheet:
                ws = new_sheet()
                write_string, write_number = ws.write_string, ws.write_number
                row_no = 0
            r = row_no + top + 1
            for col in text_cols:
                text = row[col]
                text = "" if text is None else str(text)
                write_string(r, col, "'" + text if text[:1] in _DANGEROUS_SET
                             and text not in _INERT else text)
            for col, to_number, fmt in number_cols:
                text = row[col]
                try:
                    write_number(r, col, to_number(text), fmt)
                except (TypeError, ValueError):
                    # `—` (no denominator) and anything else that is not a number stay
                    # text; NaN and infinity are refused by write_number (TypeError).
                    write_string(r, col, guard_cell(text))
            row_no += 1
            total += 1
            if progress is not None and total % progress_every == 0:
                progress(total)
    finally:
        workbook.close()
    return total
