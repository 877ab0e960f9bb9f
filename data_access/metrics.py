"""The metrics of SPEC §2: exact definitions, half-up rounding and display formats.

Every screen and every download formats numbers through this module, so the screen and the
file can never disagree. Ratios are computed with integer arithmetic (no floats), so
half-up rounding is exact on the displayed digit.
"""

from __future__ import annotations

from dataclasses import dataclass

MISSING = "—"
MISSING_DENOMINATOR_TIP = "缺少专任教师数"


def round_half_up_ratio(numerator: int, denominator: int, decimals: int) -> int:
    """round(numerator / denominator * 10**decimals) with halves rounded up, in integers."""
    scale = 10**decimals
    return (2 * numerator * scale + denominator) // (2 * denominator)


def format_scaled(value: int, decimals: int) -> str:
    if decimals == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole, frac = divmod(value, 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def percent(numerator: int, denominator: int | None, decimals: int = 2) -> str:
    """`33.03%`, or `—` when the denominator is missing or zero."""
    if not denominator:
        return MISSING
    return format_scaled(round_half_up_ratio(numerator * 100, denominator, decimals), decimals) + "%"


def percent_value(numerator: int, denominator: int | None, decimals: int = 2) -> float | None:
    """The same ratio as a number (for charts and sorting); None when missing."""
    if not denominator:
        return None
    return round_half_up_ratio(numerator * 100, denominator, decimals) / 10**decimals


def hours_average(hours_tenths: int, learners: int) -> str:
    """人均学时: sum(hours) / 学习人数, one decimal, half-up; `—` with no learners."""
    if not learners:
        return MISSING
    return format_scaled(round_half_up_ratio(hours_tenths, learners * 10, 1), 1)


def hours_average_value(hours_tenths: int, learners: int) -> float | None:
    if not learners:
        return None
    return round_half_up_ratio(hours_tenths, learners * 10, 1) / 10


def hours(hours_tenths: int) -> str:
    """获得学时 of one teacher: `8`, `7.5` (a whole number shows without decimals)."""
    whole, frac = divmod(hours_tenths, 10)
    return str(whole) if frac == 0 else f"{whole}.{frac}"


def duration(seconds: int) -> str:
    """`HH:MM:SS` with at least two hour digits and no upper bound."""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


# Times as every screen and download shows them to the minute: `2026.12.01 22:06`.
MINUTE_TIME = "%Y.%m.%d %H:%M"


def integer(value: int | None) -> str:
    return MISSING if value is None else str(value)


@dataclass(frozen=True)
class Counts:
    """Raw totals of one scope; everything shown is derived from these."""

    participants: int = 0
    learners: int = 0
    hours_tenths: int = 0
    completed: int = 0
    teacher_count: int | None = None  # 专任教师数; None = missing

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(
            self.participants + other.participants,
            self.learners + other.learners,
            self.hours_tenths + other.hours_tenths,
            self.completed + other.completed,
            None,
        )

    @property
    def not_completed(self) -> int:
        return self.participants - self.completed


@dataclass(frozen=True)
class MetricRow:
    """The formatted §2 metrics of one scope, in table column order."""

    progress: str  # 学习进度
    progress_value: float | None
    participants: str  # 参训人数
    participation_rate: str  # 参训率
    learners: str  # 学习人数
    learning_rate: str  # 学习率
    hours_average: str  # 人均学时
    completed: str  # 完成学时人数
    completed_rate: str  # 完成人数占比
    not_completed: str  # 未完成学时人数
    not_completed_rate: str  # 未完成人数占比


def metric_row(c: Counts) -> MetricRow:
    return MetricRow(
        progress=percent(c.completed, c.teacher_count),
        progress_value=percent_value(c.completed, c.teacher_count),
        participants=str(c.participants),
        participation_rate=percent(c.participants, c.teacher_count),
        learners=str(c.learners),
        learning_rate=percent(c.learners, c.participants),
        hours_average=hours_average(c.hours_tenths, c.learners),
        completed=str(c.completed),
        completed_rate=percent(c.completed, c.participants),
        not_completed=str(c.not_completed),
        not_completed_rate=percent(c.not_completed, c.participants),
    )


# The table columns of §4.2.4 after 区域名称, with the MetricRow field that fills each.
REGION_TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("学习进度", "progress"),
    ("参训人数", "participants"),
    ("参训率", "participation_rate"),
    ("学习人数", "learners"),
    ("学习率", "learning_rate"),
    ("人均学时", "hours_average"),
    ("完成学时人数", "completed"),
    ("完成人数占比", "completed_rate"),
    ("未完成学时人数", "not_completed"),
    ("未完成人数占比", "not_completed_rate"),
)

DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("参训人数", "在本培训中有学习记录的教师人数"),
    ("参训率", "参训人数 ÷ 专任教师数；缺少专任教师数时显示 —"),
    ("学习人数", "参训且获得学时大于 0 的教师人数"),
    ("学习率", "学习人数 ÷ 参训人数"),
    ("人均学时", "获得学时总和 ÷ 学习人数，保留 1 位小数"),
    ("完成学时人数", "获得学时达到本培训获得学时上限的教师人数"),
    ("完成人数占比", "完成学时人数 ÷ 参训人数"),
    ("未完成学时人数", "参训人数 − 完成学时人数"),
    ("未完成人数占比", "未完成学时人数 ÷ 参训人数"),
    ("学习进度", "完成学时人数 ÷ 专任教师数；缺少专任教师数时显示 —"),
)
