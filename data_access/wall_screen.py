"""What the 大屏 shows (SPEC §4.6), read from one snapshot, and the cache that lets many
screens of one region share one read.

The numbers are those of 统计详情 with its default filters (全部学段, 全部学科, 未通过认证教师
包含): the same `region_table` rows and the same formatting, so a wall screen and the console
never disagree. Everything is plain JSON-ready data; the page only draws it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from sqlalchemy import Connection, select

from .metrics import MINUTE_TIME, Counts, metric_row, percent_value
from .models import AggHistory
from .regions import RegionRow
from .stats import StatsFilters, change_since, region_table
from .trainings import TrainingRow

RANKING_SIZE = 15
LAGGING_SIZE = 5
NO_PARTICIPANTS = "暂无参训"


def snapshot_key(region_code: str, training_id: int, snapshot_id: int) -> str:
    return f"{region_code}:{training_id}:{snapshot_id}"


def _history(conn: Connection, training: TrainingRow, region_code: str
             ) -> list[tuple[date, Counts]]:
    rows = conn.execute(
        select(AggHistory.day, AggHistory.participants, AggHistory.learners,
               AggHistory.hours_tenths, AggHistory.completed)
        .where(AggHistory.training_id == training.id, AggHistory.region_code == region_code,
               AggHistory.certified_only.is_(False))
        .order_by(AggHistory.day)
    )
    return [(r[0], Counts(*r[1:])) for r in rows]


def _kpis(now: Counts, before: Counts | None) -> list[dict]:
    m = metric_row(now)

    def ratio(num: Callable[[Counts], int], den: Callable[[Counts], int | None]):
        return lambda c: None if c is None else percent_value(num(c), den(c))

    participation = ratio(lambda c: c.participants, lambda c: now.teacher_count)
    completed_share = ratio(lambda c: c.completed, lambda c: c.participants)
    count = lambda v: str(int(v))  # noqa: E731
    points = lambda v: f"{v:.2f}%"  # noqa: E731
    cards = (
        ("参训人数", m.participants, change_since(now.participants,
                                                before and before.participants, count)),
        ("参训率", m.participation_rate,
         change_since(participation(now), participation(before), points)),
        ("学习人数", m.learners, change_since(now.learners, before and before.learners, count)),
        ("完成学时人数", m.completed,
         change_since(now.completed, before and before.completed, count)),
        ("完成人数占比", m.completed_rate,
         change_since(completed_share(now), completed_share(before), points)),
    )
    return [{"label": label, "value": value, "delta": d[0], "direction": d[1]}
            for label, value, d in cards]


def short_name(name: str, region_name: str) -> str:
    """A school's name without the region's name in front (`仙游县第一中学` on 仙游县's
    screen → `第一中学`), for the narrow lists of the wall; the 重点关注 panel shows it whole."""
    if name.startswith(region_name) and len(name) - len(region_name) >= 2:
        return name[len(region_name):]
    return name


def _unit(row, rank: int | None, region_name: str) -> dict:
    m = metric_row(row.counts)
    share = percent_value(row.counts.completed, row.counts.participants)
    return {
        "name": row.name,
        "short": short_name(row.name, region_name),
        "rank": rank,
        "share": share,
        "share_text": m.completed_rate if row.counts.participants else NO_PARTICIPANTS,
        "participants": m.participants,
        "participation_rate": m.participation_rate,
        "completed": m.completed,
    }


def screen_data(conn: Connection, snapshot_id: int, snapshot_time: datetime,
                training: TrainingRow, region: RegionRow) -> dict:
    """The whole screen of one region and training in one snapshot."""
    rows = region_table(conn, snapshot_id, training, region, StatsFilters())
    current, units = rows[0], [r for r in rows[1:] if r.kind in ("region", "school")]
    # Ranked by 完成人数占比, highest first; a unit nobody of which takes part has no share and
    # comes last (it is also the first of the lagging).
    ranked = sorted(units, key=lambda r: (
        percent_value(r.counts.completed, r.counts.participants) is None,
        -(percent_value(r.counts.completed, r.counts.participants) or 0),
        -r.counts.participants, r.name))
    lagging = sorted(units, key=lambda r: (
        percent_value(r.counts.completed, r.counts.participants) is not None,
        percent_value(r.counts.completed, r.counts.participants) or 0,
        r.counts.participants, r.name))[:LAGGING_SIZE]
    rank_of = {id(r): i + 1 for i, r in enumerate(ranked)}

    history = _history(conn, training, region.code)
    day = snapshot_time.date()
    before = next((c for d, c in reversed(history) if d < day), None)
    last_day = min(day, training.end_at.date())
    trend = [(d, c) for d, c in history if training.start_at.date() <= d <= last_day]
    if not trend and history:
        trend = history[-1:]

    return {
        "key": snapshot_key(region.code, training.id, snapshot_id),
        "region": region.name,
        "training": training.name,
        "period": training.period,
        "updated": snapshot_time.strftime(MINUTE_TIME),
        "kpis": _kpis(current.counts, before),
        "unit_label": "学校" if any(r.kind == "school" for r in units) else "下级区域",
        "units": len(units),
        "ranking": [_unit(r, rank_of[id(r)], region.name) for r in ranked[:RANKING_SIZE]],
        "lagging": [_unit(r, rank_of[id(r)], region.name) for r in lagging],
        "trend": {
            "days": [d.isoformat() for d, _ in trend],
            "participants": [c.participants for _, c in trend],
            "completed": [c.completed for _, c in trend],
        },
    }


# --------------------------------------------------------------------------- the cache


@dataclass
class _Entry:
    value: dict | None = None
    ready: threading.Event | None = None


class ScreenCache:
    """Screen data by (region, training, snapshot): a snapshot never changes, so an entry is
    valid until the snapshot is retired, and the bound keeps the worker's memory flat.

    Single-flight: when a new snapshot arrives and a hundred screens ask at once, one of them
    reads the database and the others wait for its answer."""

    def __init__(self, size: int = 256):
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0  # reads of the database, counted by the benchmark

    def get(self, key: str, build: Callable[[], dict]) -> dict:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.value is not None:
                self._entries.move_to_end(key)
                return entry.value
            owner = entry is None
            if owner:
                entry = _Entry(ready=threading.Event())
                self._entries[key] = entry
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        if not owner:
            entry.ready.wait(timeout=30)
            if entry.value is not None:
                return entry.value
            return build()  # the owner failed: answer this request on its own
        try:
            value = build()
            self.builds += 1
            entry.value = value
            return value
        except BaseException:
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            raise
        finally:
            entry.ready.set()
