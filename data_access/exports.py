"""The one export writer: CSV (UTF-8 with BOM) streamed in chunks, with a title row and the
formula-injection guard of SPEC §6."""

from __future__ import annotations

import csv
import io
from typing import Iterable, Iterator

BOM = "\ufeff"
_DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")


def guard_cell(value: object) -> str:
    """Prefix `'` to cells a spreadsheet would read as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_DANGEROUS_FIRST) else text


def csv_chunks(title: str, header: list[str], rows: Iterable[list[object]],
               rows_per_chunk: int = 2000) -> Iterator[bytes]:
    """Yield the file in pieces so that no download is ever held in memory whole."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write(BOM)
    writer.writerow([guard_cell(title)])
    writer.writerow([guard_cell(h) for h in header])
    n = 0
    for row in rows:
        writer.writerow([guard_cell(v) for v in row])
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
