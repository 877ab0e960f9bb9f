"""Progress of the long commands (`import`, `refresh`, `gen-demo`, `demo`'s first run) on a
terminal: rows or stages done, the rate and the time left, redrawn in place at most a few
times a second. Not on a terminal (cron, a pipe, a log file) it writes nothing: the commands'
own one-line summaries are what a log should hold.

`YANXIU_PROGRESS=1` forces it on, `YANXIU_PROGRESS=0` off.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

REDRAW_EVERY_S = 0.25


def enabled(stream: TextIO) -> bool:
    forced = os.environ.get("YANXIU_PROGRESS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """One line that counts rows (`rows(done)`) or stages (`stage(name)`)."""

    def __init__(self, label: str, *, total: int | None = None, stages: int | None = None,
                 expected_s: float | None = None, stream: TextIO | None = None):
        self.label = label
        self.total = total
        self.stages = stages
        self.expected_s = expected_s  # e.g. the previous refresh's duration
        self.stream = stream or sys.stderr
        self.on = enabled(self.stream)
        self.started = time.monotonic()
        self._drawn = 0.0
        self._stage = 0
        self._width = 0

    # rows ---------------------------------------------------------------------------

    def rows(self, done: int) -> None:
        if not self.on:
            return
        now = time.monotonic()
        if now - self._drawn < REDRAW_EVERY_S:
            return
        self._drawn = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{self.label}: {done:,}"
        if self.total:
            text += f" / {self.total:,} rows ({min(100, 100 * done / self.total):.0f}%)"
        else:
            text += " rows"
        text += f", {rate:,.0f} rows/s"
        if self.total and rate > 0 and done < self.total:
            text += f", about {duration((self.total - done) / rate)} left"
        self._draw(text)

    # stages -------------------------------------------------------------------------

    def stage(self, name: str) -> None:
        if not self.on:
            return
        self._stage += 1
        elapsed = time.monotonic() - self.started
        text = f"{self.label}: "
        if self.stages:
            text += f"[{min(self._stage, self.stages)}/{self.stages}] "
        text += f"{name} ({duration(elapsed)} so far"
        if self.expected_s and self.expected_s > elapsed:
            text += f", about {duration(self.expected_s - elapsed)} left"
        self._draw(text + ")")

    # -------------------------------------------------------------------------------

    def _draw(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def done(self) -> None:
        """Clear the line (the command prints its own summary next)."""
        if self.on and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def count_lines(path) -> int | None:
    """Data rows of a CSV file (lines minus the header), read in large blocks: a quarter of a
    second for a million rows. None for anything else (an XLSX file has no cheap count)."""
    if not str(path).lower().endswith(".csv"):
        return None
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)
