"""Demo data: the six import files of a Fujian-like province, a small slice of it, or the
whole nation.

``generate(scale, out_dir)`` writes ``regions.csv``, ``schools.csv``, ``teachers.csv``,
``trainings.csv``, ``records.csv`` and ``teacher-counts.csv`` (UTF-8 with BOM, Chinese header
labels, the formats of SPEC §7.1) and returns kind → path. Import them in ``IMPORT_ORDER``.

Scales:

- ``small``: 福建省 with only 莆田市 and 三明市 (and the three functional zones); ≈60 schools,
  ≈2,000 teachers. Fast enough for tests.
- ``province``: 福建省 whole; ≈10,000 schools, ≈445,000 teachers, a finished training with
  the manual's 146,999 records (below) and an ongoing one with ≈300k (SPEC §8.3).
- ``national``: all 31 provinces; ≈460k schools, ≈16 M teachers, two trainings of ≈6 M
  records each. Everything is streamed to disk one province at a time: only that province's
  school plan and a few per-region counters are held in memory.

The output is a pure function of ``(scale, seed, today, teacher_factor)``: one seeded
``random.Random`` drives every choice in a fixed order, Faker (seeded) only fills a name pool
once, and account numbers come from a bijection of the running teacher index, so they are
unique without remembering the ones already issued.

Data shape (what the screens are meant to show):

- Schools hang mostly under counties and zones; each province and prefecture also has a few
  直属学校. Names follow the usual patterns (宁化县第一中学, 宁化县石壁镇中心小学,
  三明市实验小学, 仙游县教师进修学校, …) and are unique within their region. A few schools have
  an empty 城乡类型 (their school admins see the completion banner of SPEC §5.1).
- Teachers: stage mix ≈ 小学 45%, 初中 25%, 高中 13%, 幼儿园 10%, 中职 4%, 通用学段 2%, 特教 1%
  (driven by the school type), subjects plausible for the stage, titles correlated with age,
  ≈95% 已通过 and the rest 未审核 (recent applications) or 未通过.
- Participation varies by county (some ≈20%, some ≈65% for the finished training); about
  99% of participants have hours > 0 and about half reach the cap. Only teachers who applied
  before the finished training began (and so are never 未审核) took part in it.
- 专任教师数: per county (some with per-stage rows), a bit above the teachers registered there.
  Deliberate gaps so the `—` / 缺少专任教师数 display has something to show: the zones 湄洲岛
  and 北岸经济开发区 and the county 秀屿区 have no figure (莆田市 therefore has its own
  figure), and 南平市 and 宁德市 (plus a few random prefectures at national scale) have a
  prefecture-level figure only, so their counties have none. Provinces have no own figure
  (theirs is the sum of their children), except 福建省 at the default scale (below).
- Admin accounts (``seed_admins``, run on the imported database — there is no import file
  for bindings): 学校管理员 for most schools, with counties complete, partial or lagging;
  region admins for the province, the prefectures and most counties and zones, 湄洲岛 with
  none; a few admins removed (some replaced). Bindings do not touch the statistics.

The default scale reproduces the platform manual (第三部分 二 3 and 5): the finished training
2022SUMMER shows, with the default filters, exactly the manual's 福建省 row and its ten city
rows (``MANUAL_SUMMER_TABLE``), every column. Each city's exact totals (participants,
learners, completed, and a sum of hours whose average rounds to the manual's 人均学时) are
shared out to its counties and schools with varied rates; what the cities leave of the
province's totals is the province's 直属学校 row; each city's effective 专任教师数 is a figure
its 参训率 rounds to (a prefecture figure, or county figures that add up to it), and the
province has a figure of its own (the cities' figures add up to more than the province's, as
on the platform). With ``teacher_factor`` other than 1 the totals are drawn at random as at the
other scales.
"""

from __future__ import annotations

import bisect
import csv
import datetime as _dt
import math
import random
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path

from . import metrics

__all__ = ["SCALES", "FILE_NAMES", "IMPORT_ORDER", "ZONES", "MANUAL_SUMMER_TABLE", "DEMO_SCHOOLS",
           "SeededAdmins", "seed_admins", "ReviewBacklog", "seed_review_backlog",
           "demo_schools", "generate"]

SCALES = ("small", "province", "national")
FILE_NAMES = {
    "regions": "regions.csv",
    "schools": "schools.csv",
    "teachers": "teachers.csv",
    "trainings": "trainings.csv",
    "records": "records.csv",
    "teacher-counts": "teacher-counts.csv",
}
IMPORT_ORDER = ("regions", "schools", "teachers", "trainings", "records", "teacher-counts")

HEADERS = {
    "regions": ("区域代码", "区域名称", "上级区域代码", "区域类型"),
    "schools": ("学校标识码", "学校名称", "所在区域代码", "机构类型", "城乡类型"),
    "teachers": ("账号", "姓名", "学校标识码", "学段", "学科领域", "职称", "证件类型", "证件号码",
                 "认证状态", "申请时间"),
    "trainings": ("培训编号", "培训名称", "开始时间", "结束时间", "获得学时上限", "创建时间"),
    "records": ("培训编号", "账号", "获得学时", "实际学习时长"),
    "teacher-counts": ("区域代码", "学段", "专任教师数"),
}

FUJIAN = "350000"
PUTIAN = "350300"
SANMING = "350400"


@dataclass(frozen=True)
class Zone:
    code: str
    name: str
    parent_code: str
    # Prefix of the zone's school names and the catalogue county used for ID-number prefixes.
    school_prefix: str
    id_region: str
    weight: float


# Functional zones added on top of the national catalogue (codes checked not to collide).
ZONES = (
    Zone("350199", "平潭综合实验区", FUJIAN, "平潭综合实验区", "350128", 1.0),
    Zone("350399", "湄洲岛", PUTIAN, "莆田市湄洲岛", "350305", 0.25),
    Zone("350398", "北岸经济开发区", PUTIAN, "莆田市北岸经济开发区", "350305", 0.6),
)
# Regions deliberately left without a 专任教师数 figure.
_ZONES_WITHOUT_COUNT = frozenset({"350399", "350398"})
# A county that has not reported its figure yet (its prefecture reports one of its own, so
# the prefecture's and the province's rates are unchanged).
_COUNTIES_WITHOUT_COUNT = frozenset({"350305"})  # 莆田市秀屿区
# Prefectures that report one prefecture-level figure instead of county figures.
_PREFECTURE_FIGURE_ONLY = frozenset({"350700", "350900"})
# Prefectures that report their own figure on top of their counties' (their zones have none).
_PREFECTURE_FIGURE_ALSO = frozenset({PUTIAN})


@dataclass(frozen=True)
class _Scale:
    teachers: int
    schools: int
    province_direct: tuple[int, int]
    prefecture_direct: tuple[int, int]
    summer_rate: float  # mean share of teachers taking part in the finished training
    winter_rate: float  # ... in the ongoing one
    prefectures: frozenset[str] | None = None  # None = all prefectures of the province
    direct_size: float = 1.5  # size of a 直属学校 relative to a county school of its type
    national: bool = False
    manual_table: bool = False  # 2022SUMMER reproduces MANUAL_SUMMER_TABLE (teacher_factor 1)


_SCALE_CONFIG = {
    "small": _Scale(2_000, 60, (3, 3), (2, 2), 0.35, 0.70, direct_size=0.5,
                    prefectures=frozenset({PUTIAN, SANMING})),
    "province": _Scale(445_000, 10_000, (16, 16), (2, 5), 0.35, 0.69, manual_table=True),
    "national": _Scale(16_000_000, 460_000, (10, 16), (2, 5), 0.39, 0.375, national=True),
}

# Resident population (millions, 2020 census): shares of teachers and schools per province.
_POPULATION = {
    "110000": 21.89, "120000": 13.87, "130000": 74.61, "140000": 34.92, "150000": 24.05,
    "210000": 42.59, "220000": 24.07, "230000": 31.85, "310000": 24.87, "320000": 84.75,
    "330000": 64.57, "340000": 61.03, "350000": 41.54, "360000": 45.19, "370000": 101.53,
    "410000": 99.37, "420000": 57.75, "430000": 66.45, "440000": 126.01, "450000": 50.13,
    "460000": 10.08, "500000": 32.05, "510000": 83.67, "520000": 38.56, "530000": 47.21,
    "540000": 3.65, "610000": 39.53, "620000": 25.02, "630000": 5.92, "640000": 7.20,
    "650000": 25.85,
}
# Tiny or purely nominal counties: they keep one or two schools at most.
_TINY_COUNTIES = frozenset({"金门县", "西沙群岛", "南沙群岛", "中沙群岛的岛礁及其海域"})

# --------------------------------------------------------------------------- trainings

SUMMER_CODE = "2022SUMMER"
SUMMER_START = _dt.datetime(2022, 7, 20, 0, 0)
SUMMER_END = _dt.datetime(2022, 8, 31, 23, 59)
SUMMER_CREATED = _dt.datetime(2022, 7, 5, 19, 1)
SUMMER_CAP = 10
WINTER_CAP = 6


@dataclass(frozen=True)
class _HoursModel:
    cap_tenths: int
    zero: float  # share of participants with 0 hours
    complete: float  # base share reaching the cap
    partial_mode: int  # mode (tenths) of the triangular partial-hours distribution


_SUMMER_HOURS = _HoursModel(SUMMER_CAP * 10, 0.008, 0.548, 32)
_WINTER_HOURS = _HoursModel(WINTER_CAP * 10, 0.012, 0.48, 20)
# Share of teachers who applied before the finished training began (the others applied later
# or are still 未审核, and none of them took part in it).
_EARLY_SHARE = 0.88
# A city's registered teachers as a share of its 专任教师数 (some full-time teachers have no
# platform account yet).
_REGISTERED_SHARE = (0.9, 0.97)
# At most this share of a city's early applicants take part, so counties can still differ.
_PARTICIPATION_HEADROOM = 0.85

# The manual's table of 2022年“暑期教师研修”专题 (第三部分 二 3; 莆田市 from the drill-down of
# 二 5), default filters: region code → 参训人数, 参训率, 学习人数, 人均学时, 完成学时人数, as printed.
# The other columns (学习率, 完成人数占比, 未完成学时人数, 未完成人数占比) follow from these.
MANUAL_SUMMER_TABLE: dict[str, tuple[int, str, int, str, int]] = {
    FUJIAN: (146999, "33.03%", 145792, "7.5", 80496),
    "350100": (20859, "26.81%", 20650, "7.4", 11527),  # 福州市
    "350500": (20025, "21.58%", 19769, "6.3", 7539),  # 泉州市
    "350900": (19197, "33.72%", 19088, "7.1", 11413),  # 宁德市
    "350600": (17110, "29.94%", 17019, "8.0", 10313),  # 漳州市
    "350400": (13041, "42.41%", 12968, "7.5", 6826),  # 三明市
    "350800": (11646, "32.75%", 11561, "7.0", 5340),  # 龙岩市
    "350200": (8687, "18.19%", 8622, "7.9", 4927),  # 厦门市
    "350700": (7003, "22.99%", 6894, "6.8", 3120),  # 南平市
    "350199": (3117, "65.52%", 3106, "8.9", 2313),  # 平潭综合实验区
    PUTIAN: (24605, "66.44%", 24475, "8.4", 16754),  # 莆田市
}


@dataclass
class _Target:
    """Exact 2022SUMMER totals a group of schools (a city, or the province's 直属学校) must
    produce, and the teachers registered there."""

    participants: int
    learners: int
    completed: int
    hours_tenths: int
    registered: int = 0


def _training_rows(today: _dt.date) -> list[tuple[str, ...]]:
    start = _dt.datetime.combine(today - _dt.timedelta(days=30), _dt.time(0, 0))
    end = _dt.datetime.combine(today + _dt.timedelta(days=60), _dt.time(23, 59))
    created = start - _dt.timedelta(days=7)
    year = today.year
    return [
        (SUMMER_CODE, "2022年“暑期教师研修”专题", _fmt_dt(SUMMER_START), _fmt_dt(SUMMER_END),
         str(SUMMER_CAP), _fmt_dt(SUMMER_CREATED)),
        (f"{year}WINTER", f"{year}年“寒假教师研修”专题", _fmt_dt(start), _fmt_dt(end),
         str(WINTER_CAP), _fmt_dt(created)),
    ]


def _fmt_dt(value: _dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- vocabularies

# School types: (share of county schools, relative teacher count, stage mix).
_SCHOOL_TYPES: dict[str, tuple[float, float, dict[str, float]]] = {
    "kindergarten": (24.0, 18, {"幼儿园": 1.0}),
    "primary": (45.0, 40, {"小学": 0.985, "通用学段": 0.015}),
    "nine_year": (5.0, 55, {"小学": 0.58, "初中": 0.40, "通用学段": 0.02}),
    "junior": (12.5, 65, {"初中": 0.98, "通用学段": 0.02}),
    "senior": (7.0, 110, {"高中": 0.78, "初中": 0.20, "通用学段": 0.02}),
    "vocational": (2.3, 100, {"中职": 0.97, "通用学段": 0.03}),
    "special": (1.3, 60, {"特教": 0.95, "通用学段": 0.05}),
    "institution": (0.0, 25, {"通用学段": 0.6, "小学": 0.15, "初中": 0.12, "高中": 0.08,
                              "幼儿园": 0.05}),
}
_COUNTY_TYPE_POOL = [t for t, (w, _, _) in _SCHOOL_TYPES.items() for _ in range(int(w * 10))]

_SUBJECTS_BY_STAGE: dict[str, dict[str, int]] = {
    "幼儿园": {"学前教育": 1},
    "特教": {"特殊教育": 1},
    "小学": {"语文": 30, "数学": 25, "英语": 10, "科学": 5, "道德与法治": 5, "音乐": 4,
             "美术": 4, "体育与健康": 6, "信息技术": 3, "心理健康教育": 1, "劳动教育": 1,
             "综合实践活动": 2, "其他": 1},
    "初中": {"语文": 16, "数学": 16, "英语": 14, "物理": 7, "化学": 5, "生物": 5, "历史": 6,
             "地理": 5, "道德与法治": 7, "体育与健康": 6, "音乐": 2, "美术": 2, "信息技术": 3,
             "心理健康教育": 1, "劳动教育": 1, "综合实践活动": 1, "其他": 1},
    "高中": {"语文": 14, "数学": 14, "英语": 13, "物理": 9, "化学": 8, "生物": 7, "历史": 6,
             "地理": 6, "思想政治": 7, "体育与健康": 5, "信息技术": 3, "音乐": 2, "美术": 2,
             "心理健康教育": 2, "其他": 1},
    "中职": {"语文": 10, "数学": 10, "英语": 8, "思想政治": 6, "体育与健康": 5, "信息技术": 15,
             "美术": 3, "音乐": 3, "其他": 40},
    "通用学段": {"心理健康教育": 20, "信息技术": 15, "综合实践活动": 10, "劳动教育": 10,
                 "科学": 5, "语文": 5, "数学": 5, "其他": 30},
}
_FEMALE_SHARE = {"幼儿园": 0.97, "小学": 0.78, "初中": 0.62, "高中": 0.52, "中职": 0.5,
                 "特教": 0.75, "通用学段": 0.55}

# Titles by age band (upper bound of the band, weights).
_TITLES_BY_AGE = (
    (26, {"未定级": 60, "二级教师": 35, "三级教师": 5}),
    (35, {"二级教师": 50, "一级教师": 35, "未定级": 10, "三级教师": 5}),
    (45, {"一级教师": 60, "高级教师": 25, "二级教师": 13, "未定级": 2}),
    (99, {"高级教师": 45, "一级教师": 45, "二级教师": 8, "正高级教师": 2}),
)

# Mobile prefixes; an account is prefix + 8 digits.
_MOBILE_PREFIXES = tuple(
    [str(p) for p in range(130, 140)]
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + [str(p) for p in range(180, 190)]
    + ["191", "193", "195", "196", "197", "198", "199"]
)
_ACCOUNT_SPACE = len(_MOBILE_PREFIXES) * 100_000_000
_ACCOUNT_MULTIPLIER = 1_234_567_891  # coprime to the account space (2, 3, 5 do not divide it)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_DIGITS = "零一二三四五六七八九"
_PLACE_FIRST = ("东西南北中上下大小长永安新太平石清青龙凤金白黄洪高古双三梅桃柳竹松江河湖溪山岭"
                "华兴隆福寿丰乐和泰宝富顺昌盛仁义德文武桥营塘官洋坂")
_PLACE_SECOND = "口头坑洋田坂埔溪山岭湖江河源坪阳台亭林岗坝岩城门庄桥塘沙港湾铺墩园家寨埠屯"
_SEAT_QUARTERS = ("城关", "城东", "城西", "城南", "城北")
# The numbered name ("{prefix}第N…") used when the usual patterns are exhausted.
_FALLBACK_WORD = {"kindergarten": "幼儿园", "primary": "小学", "nine_year": "实验学校",
                  "vocational": "职业中专学校"}
_KINDERGARTEN_BRANDS = ("阳光", "蓝天", "小天鹅", "育才", "童心", "启明星", "金太阳", "贝贝",
                        "博雅", "爱心", "春苗", "小星星")


def _expand(weights: dict[str, float], size: int = 200) -> tuple[str, ...]:
    """A lookup table: picking a uniform index gives the weighted choice (fast in loops)."""
    total = sum(weights.values())
    table: list[str] = []
    for key, w in weights.items():
        table.extend([key] * max(1, round(size * w / total)))
    return tuple(table)


_STAGE_TABLES = {t: _expand(mix) for t, (_, _, mix) in _SCHOOL_TYPES.items()}
_SUBJECT_TABLES = {s: _expand(w) for s, w in _SUBJECTS_BY_STAGE.items()}
_TITLE_BY_AGE = tuple(
    _expand(next(w for bound, w in _TITLES_BY_AGE if age <= bound), 100) for age in range(100)
)


# --------------------------------------------------------------------------- catalogue


@dataclass
class _CatRegion:
    code: str
    name: str
    parent_code: str
    kind: str
    children: list[str] = field(default_factory=list)


def _load_catalogue() -> dict[str, _CatRegion]:
    text = resources.files("data_access").joinpath("data/regions_cn.csv").read_text("utf-8")
    regions: dict[str, _CatRegion] = {}
    for row in csv.DictReader(text.splitlines()):
        regions[row["code"]] = _CatRegion(row["code"], row["name"], row["parent_code"] or "",
                                          row["kind"])
    for r in regions.values():
        if r.parent_code:
            regions[r.parent_code].children.append(r.code)
    return regions


# --------------------------------------------------------------------------- plan objects


@dataclass
class _Unit:
    """A county-level region (county or zone) that holds ordinary schools."""

    code: str
    name: str
    prefecture: str  # the prefecture code, or the province code for a county under it
    prefix: str  # school-name prefix
    urban: bool  # a city district: mostly 城区 schools
    id_region: str
    weight: float
    summer_rate: float = 0.0
    winter_rate: float = 0.0
    completion_shift: float = 0.0


@dataclass
class _School:
    code: str
    name: str
    region_code: str
    kind: str
    urban_rural: str
    school_type: str
    raw_size: float
    unit: _Unit
    size: int = 0
    mult: float = 1.0  # the school's participation relative to its unit's
    # 2022SUMMER plan: teachers who applied before it, participants among them, and how many
    # of those have 0 hours / reach the cap; the rest have partial hours adding up to
    # partial_tenths (None: drawn freely).
    early: int = 0
    participants: int = 0
    zeros: int = 0
    completed: int = 0
    partial_tenths: int | None = None


# --------------------------------------------------------------------------- generator


class _Generator:
    def __init__(self, scale: str, out_dir: Path, seed: int, today: _dt.date,
                 factor: float, progress=None) -> None:
        self.progress = progress
        self.cfg = _SCALE_CONFIG[scale]
        self.scale = scale
        self.out_dir = out_dir
        self.today = today
        self.factor = factor
        self.rng = random.Random(seed)
        self.catalogue = _load_catalogue()
        self.all_counties = tuple(c for c, r in self.catalogue.items() if r.kind == "county")
        self.account_offset = self.rng.randrange(_ACCOUNT_SPACE)
        self.next_teacher = 0
        # teacher counts per holding region (unit or direct-school region) and stage
        self.stage_counts: dict[str, dict[str, int]] = {}
        self.manual = self.cfg.manual_table and factor == 1.0
        # 专任教师数 a region must carry (MANUAL_SUMMER_TABLE); others are derived from teachers
        self.figures: dict[str, int] = {}
        self._names()
        self._calendar()
        self._id_cache: dict[str, int] = {}

    # ..................................................................... pools

    def _names(self) -> None:
        from faker import Faker

        fake = Faker("zh_CN")
        fake.seed_instance(self.rng.randrange(2**31))
        self.female_names = tuple(fake.name_female() for _ in range(3000))
        self.male_names = tuple(fake.name_male() for _ in range(1500))

    def _calendar(self) -> None:
        base = _dt.date(2020, 2, 1)
        last = max(self.today - _dt.timedelta(days=1), _dt.date(2022, 9, 2))
        n = (last - base).days + 1
        self.days = tuple((base + _dt.timedelta(days=i)).isoformat() for i in range(n))
        self.early_end = (SUMMER_START.date() - base).days - 1  # applied before the summer
        self.late_start = (_dt.date(2022, 9, 1) - base).days
        self.recent_start = max(self.late_start, n - 45)
        self.last_day = n - 1
        hours = {7: 2, 8: 6, 9: 9, 10: 9, 11: 7, 12: 4, 13: 4, 14: 7, 15: 8, 16: 8, 17: 6,
                 18: 4, 19: 5, 20: 7, 21: 6, 22: 4, 23: 2, 6: 1}
        self.hour_table = tuple(int(h) for h in _expand({str(k): v for k, v in hours.items()}))
        self.hm = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in range(60))
        self.mmdd = tuple((_dt.date(2001, 1, 1) + _dt.timedelta(days=i)).strftime("%m%d")
                          for i in range(365))
        self.mmdd_sum = tuple(self._id_partial(s, 10) for s in self.mmdd)
        self.seq_sum = tuple(self._id_partial(f"{i:03d}", 14) for i in range(1000))
        self.year_sum = {y: self._id_partial(str(y), 6) for y in range(1930, 2030)}

    @staticmethod
    def _id_partial(digits: str, offset: int) -> int:
        return sum(int(c) * _ID_WEIGHTS[offset + i] for i, c in enumerate(digits))

    # ..................................................................... regions

    def provinces(self) -> list[str]:
        if self.cfg.national:
            return sorted(c for c, r in self.catalogue.items() if r.kind == "province")
        return [FUJIAN]

    def _prefectures(self, province: str) -> list[str]:
        out = []
        for c in self.catalogue[province].children:
            r = self.catalogue[c]
            if r.kind == "prefecture" and (self.cfg.prefectures is None
                                           or c in self.cfg.prefectures):
                out.append(c)
        return out

    def _units(self, province: str) -> list[_Unit]:
        cat = self.catalogue
        prov = cat[province]
        units: list[_Unit] = []
        rng = self.rng
        for child in prov.children:
            r = cat[child]
            if r.kind == "prefecture":
                if self.cfg.prefectures is not None and child not in self.cfg.prefectures:
                    continue
                counties = [(cat[c], child, r.name) for c in r.children]
            else:  # a county directly under the province (municipality districts, 省直辖县)
                counties = [(r, province, prov.name)]
            for county, pref_code, pref_name in counties:
                urban = county.name.endswith("区")
                if urban:
                    parent_name = prov.name if pref_code == province else pref_name
                    prefix = (county.name if "直辖" in parent_name
                              else parent_name + county.name)
                else:
                    prefix = county.name
                weight = rng.lognormvariate(0.0, 0.45) * (1.3 if urban else 1.0)
                if county.name in _TINY_COUNTIES:
                    weight = 0.02
                units.append(_Unit(county.code, county.name, pref_code, prefix, urban,
                                   county.code, weight))
        for zone in ZONES:
            parent = cat.get(zone.parent_code)
            if parent is None or (zone.parent_code != province
                                  and parent.parent_code != province):
                continue
            if zone.parent_code != province and self.cfg.prefectures is not None \
                    and zone.parent_code not in self.cfg.prefectures:
                continue
            units.append(_Unit(zone.code, zone.name, zone.parent_code, zone.school_prefix, False,
                               zone.id_region, zone.weight))
        for u in units:
            z = rng.gauss(0.0, 1.0)
            u.summer_rate = min(0.95, max(0.05, self.cfg.summer_rate * math.exp(0.4 * z - 0.08)))
            w = math.exp(0.25 * z + 0.1 * rng.gauss(0.0, 1.0) - 0.036)
            u.winter_rate = min(0.95, max(0.05, self.cfg.winter_rate * w))
            u.completion_shift = rng.uniform(-0.12, 0.12)
        return units

    # ..................................................................... schools

    def _school_code(self, school_type: str, province: str) -> str:
        digit = {"kindergarten": "1", "primary": "2", "nine_year": "2"}.get(school_type, "3")
        self.code_counter += self.rng.randint(1, 9)
        return f"{digit}1{province[:2]}{self.code_counter:06d}"

    def _direct_schools(self, province: str) -> list[_School]:
        cat, rng, cfg = self.catalogue, self.rng, self.cfg
        schools: list[_School] = []
        prov = cat[province]
        full = prov.name
        short = _short_province(full)
        templates = [
            (f"{short}师范大学附属中学", "senior"), (f"{full}实验小学", "primary"),
            (f"{full}实验幼儿园", "kindergarten"), (f"{full}教育科学研究院", "教研机构"),
            (f"{short}师范大学附属小学", "primary"), (f"{full}实验中学", "senior"),
            (f"{full}电化教育馆", "电教机构"), (f"{short}教育学院", "进修机构"),
            (f"{full}体育运动学校", "vocational"), (f"{full}盲人学校", "special"),
            (f"{full}外国语学校", "senior"), (f"{full}机关幼儿园", "kindergarten"),
            (f"{short}师范大学附属幼儿园", "kindergarten"), (f"{full}理工学校", "vocational"),
            (f"{full}聋哑学校", "special"), (f"{full}华侨中学", "senior"),
        ]
        count = self._direct_count(cfg.province_direct)
        center = _Unit(province, full, province, full, True, "", 1.0)
        self._rates_for_direct(center)
        for name, t in templates[:count]:
            schools.append(self._direct_school(province, name, t, center, province))
        for pref in self._prefectures(province):
            p = cat[pref]
            if "直辖" in p.name:
                continue
            unit = _Unit(pref, p.name, pref, p.name, True, "", 1.0)
            self._rates_for_direct(unit)
            pref_templates = [
                (f"{p.name}第一中学", "senior"), (f"{p.name}实验小学", "primary"),
                (f"{p.name}实验幼儿园", "kindergarten"), (f"{p.name}教育科学研究所", "教研机构"),
                (f"{p.name}特殊教育学校", "special"), (f"{p.name}电化教育馆", "电教机构"),
                (f"{p.name}教师进修学院", "进修机构"), (f"{p.name}职业中专学校", "vocational"),
                (f"{p.name}外国语学校", "senior"), (f"{p.name}第二中学", "senior"),
            ]
            first = pref_templates[:2]
            rest = pref_templates[2:]
            rng.shuffle(rest)
            n = self._direct_count(cfg.prefecture_direct)
            for name, t in (first + rest)[:n]:
                schools.append(self._direct_school(province, name, t, unit, pref))
        return schools

    def _direct_count(self, bounds: tuple[int, int]) -> int:
        n = self.rng.randint(*bounds)
        return max(1, round(n * min(1.0, self.factor)))

    def _rates_for_direct(self, unit: _Unit) -> None:
        rng = self.rng
        unit.summer_rate = min(0.95, self.cfg.summer_rate * rng.uniform(0.9, 1.4))
        unit.winter_rate = min(0.95, self.cfg.winter_rate * rng.uniform(0.9, 1.3))
        unit.completion_shift = rng.uniform(0.0, 0.12)

    def _direct_school(self, province: str, name: str, t: str, unit: _Unit,
                       region: str) -> _School:
        kind = t if t in ("教研机构", "电教机构", "进修机构") else "学校"
        school_type = "institution" if kind != "学校" else t
        size = _SCHOOL_TYPES[school_type][1] * (self.cfg.direct_size if kind == "学校" else 1.0)
        size *= self.rng.uniform(0.8, 1.25)
        return _School(self._school_code(school_type, province), name, region, kind, "城区",
                       school_type, size, unit)

    def _county_schools(self, province: str, unit: _Unit, n: int) -> list[_School]:
        rng = self.rng
        names: set[str] = set()
        schools: list[_School] = []
        p = unit.prefix
        counters: dict[str, int] = {}

        def numbered(kind_word: str) -> str:
            counters[kind_word] = counters.get(kind_word, 0) + 1
            i = counters[kind_word]
            return f"{p}第{_cn_number(i)}{kind_word}"

        towns = self._place_names(max(3, min(40, n // 5 + 2)), suffixes=("镇", "镇", "乡"))
        rural_seat = "城区" if unit.urban else "镇区"

        def add(name: str, school_type: str, kind: str, urban_rural: str, size_mult: float):
            names.add(name)
            raw = _SCHOOL_TYPES[school_type][1] * size_mult * rng.lognormvariate(-0.08, 0.4)
            schools.append(_School(self._school_code(school_type, province), name, unit.code,
                                   kind, urban_rural, school_type, raw, unit))

        # Institutions of the county education bureau.
        if n >= 4:
            for name, kind, prob in ((f"{p}教师进修学校", "进修机构", 0.8),
                                     (f"{p}教师发展中心", "教研机构", 0.35),
                                     (f"{p}电化教育站", "电教机构", 0.25),
                                     (f"{p}青少年校外活动中心", "其他", 0.08)):
                if len(schools) < n - 2 and rng.random() < prob:
                    add(name, "institution", kind, "城区", 1.0)
        has_special = False
        vocational = 0
        while len(schools) < n:
            t = (self.type_deck.pop() if self.type_deck
                 else _COUNTY_TYPE_POOL[int(rng.random() * len(_COUNTY_TYPE_POOL))])
            if t == "special" and has_special:
                t = "primary"
            if t == "vocational" and vocational >= 4:
                t = "junior"
            where = rng.random()
            seat = where < (0.6 if unit.urban else 0.35)
            village = not seat and where > 0.75
            town = rng.choice(towns)
            ur = "城区" if seat or (unit.urban and rng.random() < 0.4) else (
                "乡村" if village and rng.random() < 0.8 else "镇区")
            if not unit.urban and seat and rng.random() < 0.2:
                ur = rural_seat
            mult = 1.6 if seat else (0.35 if village else 1.0)
            name = ""
            for _attempt in range(6):
                name = self._county_school_name(t, p, seat, village, town, numbered)
                if name not in names:
                    break
            else:
                name = numbered(_FALLBACK_WORD.get(t, "中学"))
            if name in names:
                continue
            if t == "special":
                has_special = True
            if t == "vocational":
                vocational += 1
            add(name, t, "学校", ur, mult)
        # Now and then one school has not filled in its 城乡类型 yet.
        candidates = [s for s in schools if s.kind == "学校"]
        if candidates and rng.random() < min(0.25, 0.06 * len(candidates)):
            rng.choice(candidates).urban_rural = ""
        return schools

    def _county_school_name(self, t: str, p: str, seat: bool, village: bool, town: str,
                            numbered) -> str:
        """One candidate name; options are lambdas so numbering advances only when used."""
        rng = self.rng
        stem = self._stem
        options: tuple
        if t == "kindergarten":
            if seat:
                options = (lambda: f"{p}实验幼儿园", lambda: f"{p}机关幼儿园",
                           lambda: numbered("幼儿园"), lambda: f"{p}{stem()}幼儿园",
                           lambda: f"{p}{rng.choice(_KINDERGARTEN_BRANDS)}幼儿园")
            elif village:
                options = (lambda: f"{p}{town}{stem()}幼儿园",)
            else:
                options = (lambda: f"{p}{town}中心幼儿园",)
        elif t == "primary":
            if seat:
                options = (lambda: f"{p}实验小学", lambda: numbered("实验小学"),
                           lambda: numbered("小学"), lambda: f"{p}{stem()}小学",
                           lambda: f"{p}{stem()}小学",
                           lambda: f"{p}{rng.choice(_SEAT_QUARTERS)}小学")
            elif village:
                options = (lambda: f"{p}{town}{stem()}{rng.choice(('村', ''))}小学",)
            else:
                options = (lambda: f"{p}{town}中心小学",)
        elif t == "nine_year":
            if seat:
                options = (lambda: f"{p}实验学校", lambda: f"{p}{stem()}学校",
                           lambda: f"{p}{rng.choice(_SEAT_QUARTERS)}学校")
            else:
                options = (lambda: f"{p}{town}学校", lambda: f"{p}{town}九年一贯制学校")
        elif t == "junior":
            if seat:
                options = (lambda: numbered("中学"), lambda: f"{p}{stem()}中学",
                           lambda: f"{p}{rng.choice(_SEAT_QUARTERS)}中学",
                           lambda: f"{p}实验中学")
            else:
                options = (lambda: f"{p}{town}中学", lambda: f"{p}{town}中学",
                           lambda: f"{p}{town}第二中学")
        elif t == "senior":
            if seat:
                options = (lambda: numbered("中学"), lambda: f"{p}第一中学",
                           lambda: f"{p}高级中学", lambda: f"{p}华侨中学",
                           lambda: f"{p}{stem()}中学")
            else:
                options = (lambda: f"{p}{town}中学",)
        elif t == "vocational":
            options = tuple((lambda n=n: f"{p}{n}") for n in (
                "职业中专学校", "职业技术学校", "职业教育中心", "工业职业技术学校",
                "农业职业技术学校", "第二职业中专学校"))
        elif t == "special":
            options = (lambda: f"{p}特殊教育学校",)
        else:
            raise ValueError(t)
        return options[int(rng.random() * len(options))]()

    def _stem(self) -> str:
        return self.rng.choice(_PLACE_FIRST) + self.rng.choice(_PLACE_SECOND)

    def _place_names(self, n: int, suffixes: tuple[str, ...] = ("",)) -> list[str]:
        rng = self.rng
        out: list[str] = []
        seen: set[str] = set()
        while len(out) < n:
            stem = rng.choice(_PLACE_FIRST) + rng.choice(_PLACE_SECOND)
            if stem in seen:
                continue
            seen.add(stem)
            out.append(stem + rng.choice(suffixes))
        return out

    def _plan_province(self, province: str, teacher_target: int,
                       school_target: int) -> list[_School]:
        self.code_counter = self.rng.randrange(1000, 9000)
        direct = self._direct_schools(province)
        units = self._units(province)
        targets = self._summer_targets(province) if self.manual and province == FUJIAN else None
        weights = [u.weight for u in units]
        if targets is not None:
            # Each city gets schools in proportion to the teachers it must hold.
            city_weight: dict[str, float] = defaultdict(float)
            for u in units:
                city_weight[self._city_of(u)] += u.weight
            weights = [u.weight * targets[self._city_of(u)].registered
                       / city_weight[self._city_of(u)] for u in units]
        county_total = max(len(units), school_target - len(direct))
        allocation = _allocate(county_total - len(units), weights)
        # A shuffled deck of school types in their target shares: even a small data set
        # gets the intended stage mix.
        types = [t for t, (w, _, _) in _SCHOOL_TYPES.items() if w > 0]
        deck_counts = _allocate(county_total, [_SCHOOL_TYPES[t][0] for t in types])
        self.type_deck = [t for t, k in zip(types, deck_counts) for _ in range(k)]
        self.rng.shuffle(self.type_deck)
        schools = list(direct)
        for unit, extra in zip(units, allocation):
            n = 1 + extra
            if unit.name in _TINY_COUNTIES:
                n = min(n, 2)
            schools.extend(self._county_schools(province, unit, n))
        if targets is None:
            _set_sizes(schools, max(teacher_target, len(schools)))
            self._plan_summer_at_random(schools)
        else:
            self._size_cities(schools, targets)
            self._plan_summer_targets(schools, targets)
        return schools

    def _city_of(self, unit: _Unit) -> str:
        """The province's child region a unit's schools count towards: its prefecture, or
        the unit itself when it hangs directly under the province (平潭综合实验区); a 直属学校
        unit counts towards its own region (a prefecture, or the province)."""
        if unit.prefecture != unit.code and self.catalogue[unit.prefecture].kind == "province":
            return unit.code
        return unit.prefecture

    def _summer_targets(self, province: str) -> dict[str, _Target]:
        """The exact totals of MANUAL_SUMMER_TABLE per city, the remainder for the province's
        直属学校 (keyed by the province code), and the 专任教师数 the rates need."""
        rng = self.rng
        cap = _SUMMER_HOURS.cap_tenths
        table = MANUAL_SUMMER_TABLE
        cities = [c for c in table if c != province]
        targets: dict[str, _Target] = {}
        hour_ranges: dict[str, range] = {}
        for code in [province, *cities]:
            participants, rate, learners, average, completed = table[code]
            self.figures[code] = _middle(_values_showing(
                rate, lambda t, p=participants: metrics.percent(p, t),
                participants, participants * 10_000, increasing=False))
            hour_ranges[code] = _values_showing(
                average, lambda h, n=learners: metrics.hours_average(h, n),
                0, cap * learners, increasing=True)
            targets[code] = _Target(participants, learners, completed, 0)
        whole = targets.pop(province)
        direct = _Target(
            whole.participants - sum(targets[c].participants for c in cities),
            whole.learners - sum(targets[c].learners for c in cities),
            whole.completed - sum(targets[c].completed for c in cities), 0)
        if not 0 <= direct.completed <= direct.learners <= direct.participants:
            raise ValueError("the cities of MANUAL_SUMMER_TABLE exceed the province row")
        # The 直属学校 get the usual partial hours unless the province's average needs more or
        # less; the cities' hour sums then share out what the province's average leaves.
        partial = direct.learners - direct.completed
        natural = cap * direct.completed + round(partial * _partial_mean(_SUMMER_HOURS))
        lowest = sum(hour_ranges[c].start for c in cities)
        highest = sum(hour_ranges[c][-1] for c in cities)
        province_hours = hour_ranges[province]
        direct_hours = min(max(natural,
                               cap * direct.completed + partial,
                               province_hours.start - highest),
                           cap * direct.completed + (cap - 1) * partial,
                           province_hours[-1] - lowest)
        low = max(lowest, province_hours.start - direct_hours)
        high = min(highest, province_hours[-1] - direct_hours)
        if low > high:
            raise ValueError("no hours reproduce the 人均学时 of MANUAL_SUMMER_TABLE")
        widths = [len(hour_ranges[c]) - 1 for c in cities]
        extra = _allocate_capped((low + high) // 2 - lowest, widths, widths)
        for code, more in zip(cities, extra):
            targets[code].hours_tenths = hour_ranges[code].start + more
        direct.hours_tenths = direct_hours
        for code in cities:
            t = targets[code]
            share = rng.uniform(*_REGISTERED_SHARE)
            needed = math.ceil(t.participants / (_EARLY_SHARE * _PARTICIPATION_HEADROOM))
            t.registered = max(round(share * self.figures[code]), needed)
        targets[province] = direct
        return targets

    def _size_cities(self, schools: list[_School], targets: dict[str, _Target]) -> None:
        """Size each city's schools to its registered teachers; the province's 直属学校 at the
        average density, or larger when their participants need it."""
        groups: dict[str, list[_School]] = defaultdict(list)
        for s in schools:
            groups[self._city_of(s.unit)].append(s)
        if set(groups) != set(targets):
            raise ValueError("MANUAL_SUMMER_TABLE and the generated cities differ: "
                             f"{sorted(set(groups) ^ set(targets))}")
        raw_cities = 0.0
        registered = 0
        for city, group in groups.items():
            if city == FUJIAN:
                continue
            _set_sizes(group, targets[city].registered)
            raw_cities += sum(s.raw_size for s in group)
            registered += targets[city].registered
        direct = groups.get(FUJIAN, [])
        if direct:
            t = targets[FUJIAN]
            needed = math.ceil(t.participants / (_EARLY_SHARE * _PARTICIPATION_HEADROOM))
            t.registered = max(round(sum(s.raw_size for s in direct) * registered / raw_cities),
                               needed)
            _set_sizes(direct, t.registered)

    def _plan_early(self, schools: list[_School]) -> None:
        rng = self.rng
        for s in schools:
            s.mult = math.exp(0.2 * rng.gauss(0.0, 1.0) - 0.02)
            s.early = _binomial(rng, s.size, _EARLY_SHARE)

    def _plan_summer_at_random(self, schools: list[_School]) -> None:
        rng = self.rng
        h = _SUMMER_HOURS
        self._plan_early(schools)
        for s in schools:
            s.participants = _binomial(
                rng, s.early, min(0.97, s.unit.summer_rate * s.mult / _EARLY_SHARE))
            s.zeros = _binomial(rng, s.participants, h.zero)
            complete = min(0.95, max(0.05, h.complete + s.unit.completion_shift))
            s.completed = _binomial(rng, s.participants - s.zeros, complete)

    def _plan_summer_targets(self, schools: list[_School], targets: dict[str, _Target]) -> None:
        """Share each city's exact totals out to its schools: participants by the county's
        rate and the school's own, completion by the county's, hours likewise."""
        rng = self.rng
        cap = _SUMMER_HOURS.cap_tenths
        self._plan_early(schools)
        groups: dict[str, list[_School]] = defaultdict(list)
        for s in schools:
            groups[self._city_of(s.unit)].append(s)
        for city, group in groups.items():
            t = targets[city]
            early = [s.early for s in group]
            k = _allocate_capped(t.participants,
                                 [s.early * s.unit.summer_rate * s.mult for s in group], early)
            zeros = _allocate_capped(t.participants - t.learners, k, k)
            learners = [a - b for a, b in zip(k, zeros)]
            base = t.completed / t.learners if t.learners else 0.0
            done = _allocate_capped(
                t.completed,
                [n * max(0.02, base + s.unit.completion_shift) * rng.lognormvariate(0.0, 0.15)
                 for n, s in zip(learners, group)],
                learners)
            partial = [a - b for a, b in zip(learners, done)]
            room = [(cap - 2) * m for m in partial]
            more = _allocate_capped(
                t.hours_tenths - cap * t.completed - sum(partial),
                [m * max(0.1, 1 + 2 * s.unit.completion_shift) * rng.lognormvariate(0.0, 0.1)
                 for m, s in zip(partial, group)],
                room)
            for s, n, z, c, m, extra in zip(group, k, zeros, done, partial, more):
                s.participants, s.zeros, s.completed = n, z, c
                s.partial_tenths = m + extra

    # ..................................................................... teachers

    def _write_teachers(self, schools: list[_School], province: str, tw, sw, ww,
                        winter_code: str) -> None:
        rng = self.rng
        rand = rng.random
        tri = rng.triangular
        female_names, male_names = self.female_names, self.male_names
        n_female, n_male = len(female_names), len(male_names)
        days, hm, hour_table = self.days, self.hm, self.hour_table
        n_hours = len(hour_table)
        early_end, late_start = self.early_end, self.late_start
        recent_start, last_day = self.recent_start, self.last_day
        mmdd, mmdd_sum, seq_sum, year_sum = self.mmdd, self.mmdd_sum, self.seq_sum, self.year_sum
        ref_year = self.today.year
        province_counties = [cc for c in self.catalogue[province].children
                             for cc in (self.catalogue[c].children or [c])]
        all_counties = self.all_counties
        id_cache = self._id_cache
        prefixes = _MOBILE_PREFIXES
        mult, offset = _ACCOUNT_MULTIPLIER, self.account_offset
        summer_cap, winter_cap = _SUMMER_HOURS.cap_tenths, _WINTER_HOURS.cap_tenths
        winter_mode = _WINTER_HOURS.partial_mode
        hours_text = metrics.hours
        # Of the teachers who applied later, this share is still waiting for review (未审核);
        # 未通过 is equally likely for early and late applicants.
        pending_share = 0.03 / (1 - _EARLY_SHARE)
        failed_share = 0.02
        idx = self.next_teacher
        for school in schools:
            if self.progress is not None:
                self.progress(idx)
            unit = school.unit
            code = school.code
            stage_table = _STAGE_TABLES[school.school_type]
            n_stage = len(stage_table)
            p_winter = min(0.97, unit.winter_rate * school.mult)
            complete_w = min(0.95, max(0.05, _WINTER_HOURS.complete + unit.completion_shift))
            zero_w = _WINTER_HOURS.zero
            home = unit.id_region
            direct_pool = None if home else [
                c for c in province_counties
                if unit.code == province or c.startswith(unit.code[:4])
            ] or province_counties
            counts = self.stage_counts.setdefault(school.region_code, {})
            outcomes = self._summer_outcomes(school)
            # Selection sampling: exactly school.early early applicants among the teachers and
            # exactly school.participants participants among them, in random positions.
            left, early_left, taking_part = school.size, school.early, school.participants
            t_rows = []
            s_rows = []
            w_rows = []
            for _ in range(school.size):
                j = (mult * idx + offset) % _ACCOUNT_SPACE
                idx += 1
                account = f"{prefixes[j // 100_000_000]}{j % 100_000_000:08d}"
                stage = stage_table[int(rand() * n_stage)]
                female = rand() < _FEMALE_SHARE[stage]
                name = (female_names[int(rand() * n_female)] if female
                        else male_names[int(rand() * n_male)])
                subjects = _SUBJECT_TABLES[stage]
                subject = subjects[int(rand() * len(subjects))]
                age = int(tri(22, 60, 37))
                title = _TITLE_BY_AGE[age][int(rand() * 100)]
                # ID number: region + birth date + sequence (sex digit) + MOD 11-2 check.
                x = rand()
                if direct_pool is not None:
                    region6 = direct_pool[int(x * len(direct_pool))]
                elif x < 0.85:
                    region6 = home
                elif x < 0.95:
                    region6 = province_counties[int(rand() * len(province_counties))]
                else:
                    region6 = all_counties[int(rand() * len(all_counties))]
                rsum = id_cache.get(region6)
                if rsum is None:
                    rsum = id_cache[region6] = self._id_partial(region6, 0)
                year = ref_year - age
                d = int(rand() * 365)
                seq = int(rand() * 500) * 2 + (0 if female else 1)
                check = _ID_CHECK[(rsum + year_sum[year] + mmdd_sum[d] + seq_sum[seq]) % 11]
                id_number = f"{region6}{year}{mmdd[d]}{seq:03d}{check}"
                early = rand() * left < early_left
                left -= 1
                x = rand()
                if early:
                    cert = "未通过" if x < failed_share else "已通过"
                    day = int(rand() * (early_end + 1))
                elif x < pending_share:
                    cert = "未审核"
                    day = recent_start + int(rand() * (last_day - recent_start + 1))
                else:
                    cert = "未通过" if x < pending_share + failed_share else "已通过"
                    day = late_start + int(rand() * (last_day - late_start + 1))
                minute = hour_table[int(rand() * n_hours)] * 60 + int(rand() * 60)
                applied = f"{days[day]} {hm[minute]}"
                t_rows.append((account, name, code, stage, subject, title, "居民身份证",
                               id_number, cert, applied))
                counts[stage] = counts.get(stage, 0) + 1
                if early:
                    if rand() * early_left < taking_part:
                        taking_part -= 1
                        tenths = outcomes.pop()
                        s_rows.append((SUMMER_CODE, account, hours_text(tenths),
                                       _study_seconds(rand, tenths, summer_cap)))
                    early_left -= 1
                if rand() < p_winter:
                    w_rows.append((winter_code, account,
                                   *_record(rand, tri, winter_cap, zero_w, complete_w,
                                            winter_mode)))
            tw.writerows(t_rows)
            sw.writerows(s_rows)
            ww.writerows(w_rows)
        self.next_teacher = idx

    def _summer_outcomes(self, school: _School) -> list[int]:
        """The 2022SUMMER hours (tenths) of the school's participants, shuffled."""
        rng = self.rng
        h = _SUMMER_HOURS
        partial = school.participants - school.zeros - school.completed
        if school.partial_tenths is None:
            hours = [int(rng.triangular(1, h.cap_tenths - 1, h.partial_mode) + 0.5)
                     for _ in range(partial)]
        else:
            hours = _values_with_sum(rng, partial, school.partial_tenths, 1, h.cap_tenths - 1)
        hours.extend([0] * school.zeros)
        hours.extend([h.cap_tenths] * school.completed)
        rng.shuffle(hours)
        return hours

    # ..................................................................... counts

    def _teacher_count_rows(self, provinces: list[str]) -> list[tuple[str, str, int]]:
        """专任教师数 rows. A city's figure is the one its 参训率 needs (self.figures) or a bit
        above its registered teachers, and is shared out to its counties (each a bit above
        its own teachers) unless only the prefecture reports one."""
        rng = self.rng
        cat = self.catalogue
        rows: list[tuple[str, str, int]] = []
        figure_only = set(_PREFECTURE_FIGURE_ONLY)
        if self.cfg.national:
            for code, r in cat.items():
                if (r.kind == "prefecture" and "直辖" not in r.name
                        and rng.random() < 0.04):
                    figure_only.add(code)
        if self.cfg.prefectures is not None:
            figure_only &= self.cfg.prefectures

        def total(code: str) -> int:
            return sum(self.stage_counts.get(code, {}).values())

        def figure(code: str, holders: list[str]) -> int:
            if code in self.figures:
                return self.figures[code]
            return _inflate(rng, sum(total(h) for h in holders))

        for province in provinces:
            if province in self.figures:
                rows.append((province, "", self.figures[province]))
            cities = list(cat[province].children) + [z.code for z in ZONES
                                                     if z.parent_code == province]
            for child in cities:
                r = cat.get(child)
                if r is not None and r.kind == "prefecture":
                    if self.cfg.prefectures is not None and child not in self.cfg.prefectures:
                        continue
                    units = list(r.children) + [z.code for z in ZONES
                                                if z.parent_code == child]
                    if child in figure_only or child in _PREFECTURE_FIGURE_ALSO:
                        # the prefecture's figure covers its 直属学校 too
                        holders = [child, *units]
                        whole = figure(child, holders)
                        rows.append((child, "", whole))
                        if child in figure_only:
                            continue
                    else:
                        holders = units
                        whole = figure(child, holders)
                else:  # a county or zone directly under the province
                    if child not in self.stage_counts:
                        continue
                    units = holders = [child]
                    whole = figure(child, holders)
                shares = self._split_figure(whole, [(h, total(h)) for h in holders])
                for unit in units:
                    if unit in _ZONES_WITHOUT_COUNT or unit not in self.stage_counts:
                        continue
                    unit_rows = self._unit_count_rows(unit, shares[unit])
                    if unit not in _COUNTIES_WITHOUT_COUNT:  # drawn all the same: the other
                        rows.extend(unit_rows)  # counties' figures stay as they were
        return rows

    def _split_figure(self, whole: int, holders: list[tuple[str, int]]) -> dict[str, int]:
        """Share a figure out so that each holder gets its registered teachers and a varied
        part of what is left."""
        rng = self.rng
        spare = whole - sum(n for _, n in holders)
        if spare < 0:
            raise ValueError(f"专任教师数 {whole} is below the teachers registered under "
                             f"{holders[0][0]}")
        extra = _allocate(spare, [n * rng.uniform(0.3, 1.7) for _, n in holders])
        return {code: n + e for (code, n), e in zip(holders, extra)}

    def _unit_count_rows(self, unit: str, whole: int) -> list[tuple[str, str, int]]:
        rng = self.rng
        counts = self.stage_counts[unit]
        if rng.random() < 0.3:
            stages = [stage for stage in _STAGE_ORDER if counts.get(stage)]
            base = [counts[stage] for stage in stages]
            extra = _allocate(whole - sum(base), [n * rng.uniform(0.5, 1.5) for n in base])
            return [(unit, "", whole),
                    *((unit, stage, n + e) for stage, n, e in zip(stages, base, extra))]
        return [(unit, "", whole)]

    # ..................................................................... run

    def run(self) -> dict[str, Path]:
        out = self.out_dir
        out.mkdir(parents=True, exist_ok=True)
        paths = {kind: out / FILE_NAMES[kind] for kind in IMPORT_ORDER}
        provinces = self.provinces()

        with _open_csv(paths["regions"]) as f:
            w = csv.writer(f)
            w.writerow(HEADERS["regions"])
            for zone in ZONES:
                if zone.parent_code in self.catalogue and self._region_selected(zone.parent_code):
                    w.writerow((zone.code, zone.name, zone.parent_code, "zone"))

        trainings = _training_rows(self.today)
        winter_code = trainings[1][0]
        with _open_csv(paths["trainings"]) as f:
            w = csv.writer(f)
            w.writerow(HEADERS["trainings"])
            w.writerows(trainings)

        winter_tmp = out / (FILE_NAMES["records"] + ".part")
        cfg = self.cfg
        total_pop = sum(_POPULATION[p] for p in provinces)
        with _open_csv(paths["schools"]) as sf, _open_csv(paths["teachers"]) as tf, \
                _open_csv(paths["records"]) as rf, \
                open(winter_tmp, "w", encoding="utf-8", newline="", buffering=1 << 20) as wf:
            school_w = csv.writer(sf)
            teacher_w = csv.writer(tf)
            summer_w = csv.writer(rf)
            winter_w = csv.writer(wf)
            school_w.writerow(HEADERS["schools"])
            teacher_w.writerow(HEADERS["teachers"])
            summer_w.writerow(HEADERS["records"])
            for province in provinces:
                share = _POPULATION[province] / total_pop
                teacher_target = round(cfg.teachers * share * self.factor)
                school_target = round(cfg.schools * share * self.factor)
                schools = self._plan_province(province, teacher_target, school_target)
                school_w.writerows((s.code, s.name, s.region_code, s.kind, s.urban_rural)
                                   for s in schools)
                self._write_teachers(schools, province, teacher_w, summer_w, winter_w,
                                     winter_code)
        with open(paths["records"], "ab") as dst, open(winter_tmp, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        winter_tmp.unlink()

        with _open_csv(paths["teacher-counts"]) as f:
            w = csv.writer(f)
            w.writerow(HEADERS["teacher-counts"])
            w.writerows(self._teacher_count_rows(provinces))
        return paths

    def _region_selected(self, code: str) -> bool:
        r = self.catalogue[code]
        if r.kind == "province":
            return code in self.provinces()
        if r.parent_code not in self.provinces():
            return False
        return self.cfg.prefectures is None or code in self.cfg.prefectures


_STAGE_ORDER = ("幼儿园", "小学", "初中", "高中", "中职", "特教", "通用学段")


def _record(rand, tri, cap: int, zero: float, complete: float, mode: int) -> tuple[str, int]:
    """(hours as text with at most one decimal, study seconds) of one participant drawn at
    random."""
    x = rand()
    if x < zero:
        tenths = 0
    elif x < zero + (1 - zero) * complete:
        tenths = cap
    else:
        tenths = int(tri(1, cap - 1, mode) + 0.5)
    return metrics.hours(tenths), _study_seconds(rand, tenths, cap)


def _study_seconds(rand, tenths: int, cap: int) -> int:
    """实际学习时长 that goes with the hours: a few minutes without credit, or about 5 minutes
    per tenth of an hour."""
    if tenths == 0:
        return 0 if rand() < 0.5 else 60 + int(rand() * 840)
    if tenths == cap:
        return int(cap * 300 * (1.0 + 0.4 * rand()))
    return int(tenths * 300 * (0.8 + 0.4 * rand()))


def _partial_mean(model: _HoursModel) -> float:
    """Mean tenths of a participant with partial hours (the triangular distribution's)."""
    return (1 + (model.cap_tenths - 1) + model.partial_mode) / 3


def _values_with_sum(rng: random.Random, n: int, total: int, low: int, high: int) -> list[int]:
    """n integers in [low, high] adding up to total, spread like a triangular distribution
    around the mean total / n."""
    if not n * low <= total <= n * high:
        raise ValueError(f"{n} values in [{low}, {high}] cannot add up to {total}")
    if n == 0:
        return []
    mode = min(high, max(low, 3 * total / n - low - high))
    values = [rng.triangular(low, high, mode) for _ in range(n)]
    factor = total / sum(values)
    values = [min(high, max(low, int(v * factor + 0.5))) for v in values]
    diff = total - sum(values)
    while diff:
        i = int(rng.random() * n)
        step = max(1, abs(diff) // n)
        if diff > 0:
            step = min(step, high - values[i])
            values[i] += step
            diff -= step
        else:
            step = min(step, values[i] - low)
            values[i] -= step
            diff += step
    return values


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """A binomial draw (normal approximation for large n, clamped to 0..n)."""
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if n < 40:
        return sum(1 for _ in range(n) if rng.random() < p)
    value = round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))
    return min(n, max(0, value))


def _set_sizes(schools: list[_School], total: int) -> None:
    """Scale the schools' raw sizes to ``total`` teachers (each school at least one)."""
    scale = total / sum(s.raw_size for s in schools)
    cumulative = 0.0
    assigned = 0
    for s in schools:
        cumulative += s.raw_size * scale
        s.size = max(1, round(cumulative) - assigned)
        assigned += s.size


def _values_showing(shown: str, show, low: int, high: int, *, increasing: bool) -> range:
    """The integers x in [low, high] for which ``show(x)`` (a metrics formatter, monotone in
    x) gives exactly ``shown``."""
    sign = 1 if increasing else -1
    target = sign * Decimal(shown.rstrip("%"))
    xs = range(low, high + 1)

    def key(x: int) -> Decimal:
        return sign * Decimal(show(x).rstrip("%"))

    first = bisect.bisect_left(xs, target, key=key)
    stop = bisect.bisect_right(xs, target, key=key)
    if first >= stop:
        raise ValueError(f"no value in [{low}, {high}] shows as {shown}")
    return range(low + first, low + stop)


def _middle(values: range) -> int:
    return values[len(values) // 2]


def _allocate_capped(total: int, weights: list[float], caps: list[int]) -> list[int]:
    """Split ``total`` proportionally to ``weights`` with no share above its cap: what the
    capped ones cannot take goes to the others in proportion (deterministic)."""
    if total > sum(caps):
        raise ValueError(f"{total} does not fit into caps adding up to {sum(caps)}")
    out = [0] * len(weights)
    free = [i for i, c in enumerate(caps) if c > 0]
    left = total
    while left > 0:
        w = [weights[i] for i in free]
        if sum(w) <= 0:
            w = [caps[i] - out[i] for i in free]
        shares = _allocate(left, w)
        still_free = []
        for i, share in zip(free, shares):
            take = min(share, caps[i] - out[i])
            out[i] += take
            left -= take
            if out[i] < caps[i]:
                still_free.append(i)
        free = still_free
    return out


def _cn_number(n: int) -> str:
    """1 → 一, 12 → 十二, 35 → 三十五 (digits from 100 on)."""
    if n < 10:
        return _DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return (_DIGITS[tens] if tens > 1 else "") + "十" + (_DIGITS[ones] if ones else "")
    return str(n)


def _inflate(rng: random.Random, n: int) -> int:
    """A 专任教师数 a bit above the teachers registered on the platform."""
    return max(1, round(n * rng.uniform(1.05, 1.6)))


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` proportionally to ``weights`` (largest remainder, deterministic)."""
    if total <= 0 or not weights:
        return [0] * len(weights)
    s = sum(weights)
    exact = [total * w / s for w in weights]
    base = [int(e) for e in exact]
    left = total - sum(base)
    order = sorted(range(len(weights)), key=lambda i: (base[i] - exact[i], i))
    for i in order[:left]:
        base[i] += 1
    return base


def _short_province(name: str) -> str:
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _open_csv(path: Path):
    return open(path, "w", encoding="utf-8-sig", newline="", buffering=1 << 20)


# Schools that get a demo 学校管理员 login (dashboard.cli.DEMO_USERS), picked from the
# generated schools by fixed rules so that they exist at every scale.
DEMO_SCHOOLS = ("xianyou-middle", "putian-kindergarten", "urban-rural-missing")
XIANYOU = "350322"


def demo_schools(schools_csv: str | Path) -> dict[str, tuple[str, str]]:
    """DEMO_SCHOOLS key → (学校标识码, 学校名称): a middle school of 仙游县, a kindergarten of
    莆田市 and a school of 莆田市 whose 城乡类型 is still empty (its admin sees the banner
    asking to complete it); 城区 schools first, then in file order, and outside the region
    only if it has none (a small data set may lack one)."""
    parents = {code: r.parent_code for code, r in _load_catalogue().items()}
    parents.update({z.code: z.parent_code for z in ZONES})

    def within(code: str, ancestor: str) -> bool:
        while code:
            if code == ancestor:
                return True
            code = parents.get(code, "")
        return False

    with open(schools_csv, encoding="utf-8-sig", newline="") as f:
        schools = [r for r in csv.DictReader(f) if r["机构类型"] == "学校"]
    rules = {
        "xianyou-middle": (XIANYOU, lambda r: r["学校名称"].endswith("中学")),
        "putian-kindergarten": (PUTIAN, lambda r: r["学校名称"].endswith("幼儿园")),
        "urban-rural-missing": (PUTIAN, lambda r: r["城乡类型"] == ""),
    }
    picked: dict[str, tuple[str, str]] = {}
    for key in DEMO_SCHOOLS:
        region, match = rules[key]
        taken = {code for code, _ in picked.values()}
        candidates = [r for r in schools if match(r) and r["学校标识码"] not in taken]
        if not candidates:
            raise ValueError(f"the demo data has no school for {key}")
        best = min(enumerate(candidates), key=lambda ir: (
            not within(ir[1]["所在区域代码"], region), ir[1]["城乡类型"] != "城区", ir[0]))[1]
        picked[key] = (best["学校标识码"], best["学校名称"])
    return picked


def generate(
    scale: str,
    out_dir: str | Path,
    *,
    seed: int = 2022,
    today: _dt.date | None = None,
    teacher_factor: float = 1.0,
    progress=None,
) -> dict[str, Path]:
    """Write the six demo import files into ``out_dir``; return kind → path.

    ``progress`` (a callable) is told how many teachers were written so far, school by school.

    ``today`` anchors the ongoing training (start 30 days before, end 60 days after) and the
    application dates; the output is identical for the same scale, seed, today and factor.
    ``teacher_factor`` scales the numbers of teachers and schools (every county still gets at
    least one school); tests use it to run the national layout in a fraction of the time.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    if not teacher_factor > 0:
        raise ValueError("teacher_factor must be positive")
    today = today or _dt.date.today()
    return _Generator(scale, Path(out_dir), seed, today, teacher_factor, progress).run()


def expected_teachers(scale: str, teacher_factor: float = 1.0) -> int:
    """About how many teachers `generate` writes (the progress display's total)."""
    return round(_SCALE_CONFIG[scale].teachers * teacher_factor)


# --------------------------------------------------------------------------- admin accounts

# 激活进度 in the demo (SPEC §4.3): which counties have opened their 学校管理员 accounts.
# Profiles are drawn per county or zone (a region holding schools, below the prefectures):
# share of its schools activated.
_ACTIVATION_PROFILES = (
    (0.30, (1.0, 1.0)),  # complete
    (0.50, (0.55, 0.95)),  # partial
    (0.20, (0.10, 0.45)),  # lagging
)
# Fixed choices the demo logins rely on: a complete county, a partial one and a lagging zone
# that also has no region admin at all (湄洲岛).
_ACTIVATION_FIXED = {"350302": 1.0, XIANYOU: 0.7, "350399": 0.2}
_NO_REGION_ADMIN = frozenset({"350399"})
_REGION_ADMIN_SHARE = 0.92  # the other counties and zones with a region admin
_DIRECT_ACTIVATED = 0.85  # 直属学校 of provinces and prefectures
_REPLACED_SHARE = 0.03  # activated schools whose first admin was removed and replaced
_ADMIN_PREFIX = "177"  # accounts of the seeded admins (no teacher account uses it)
_SURNAMES = "林陈黄郑吴王张李刘蔡杨许罗周徐谢叶苏何曾游朱江卢魏詹傅施邱潘"
_GIVEN = "志建国明华文斌丽萍淑珍海燕晓峰秀英玉兰金水春梅丽娟美玲振宇雅婷俊杰少华宏伟静怡"
_TITLES_SCHOOL = ("教务处主任", "信息中心主任", "副校长", "办公室主任", "教研室主任")
_TITLES_REGION = ("教师发展中心主任", "教育局人事科科长", "教师进修学校副校长", "电教站站长")


@dataclass(frozen=True)
class SeededAdmins:
    school_admins: int
    region_admins: int
    removed: int


def seed_admins(conn, *, seed: int = 2026, today: _dt.date | None = None) -> SeededAdmins:
    """Give the demo database its admin accounts: 学校管理员 for most schools (some counties
    complete, some partial, some lagging), region admins for the prefectures, counties and
    zones (one zone without any), and a few replaced or removed admins. Schools that already
    have an admin (the demo logins) keep theirs; a database seeded once is left alone.

    Deterministic for the database's schools and regions: choices follow one seeded random
    generator over the regions and schools in code order. The accounts cannot log in (one
    unknown random password)."""
    import secrets

    from sqlalchemy import insert, select

    from .accounts import hash_password
    from .db import analyze
    from .models import Binding, Region, School, User
    from .rules import school_admin_bound
    from .vocab import ROLE_REGION_SUPER, ROLE_REGION_TRAINING, ROLE_SCHOOL_ADMIN

    if conn.scalar(select(User.id).where(User.account.like(f"{_ADMIN_PREFIX}%")).limit(1)):
        return SeededAdmins(0, 0, 0)
    rng = random.Random(seed)
    base = _dt.datetime.combine(today or _dt.date(2022, 7, 1), _dt.time(9, 0)) \
        - _dt.timedelta(days=400)
    regions = conn.execute(select(Region.code, Region.kind, Region.level)
                           .order_by(Region.code)).all()
    schools: dict[str, list[str]] = defaultdict(list)
    for code, region in conn.execute(select(School.code, School.region_code)
                                     .where(School.deleted_at.is_(None))
                                     .order_by(School.region_code, School.code)):
        schools[region].append(code)
    taken = set(conn.scalars(select(School.code).where(school_admin_bound(School.code))))
    region_roles: dict[str, set[str]] = defaultdict(set)
    for code, role in conn.execute(select(Binding.region_code, Binding.role).where(
            Binding.region_code.is_not(None), Binding.removed_at.is_(None))):
        region_roles[code].add(role)
    # Regions in use: those holding schools and every ancestor of them.
    parents = dict(conn.execute(select(Region.code, Region.parent_code)).all())
    used: set[str] = set()
    for code in schools:
        while code and code not in used:
            used.add(code)
            code = parents.get(code)

    users: list[dict] = []
    # (account, role, region, school, 单位/职务, bound at, removed at)
    bindings: list[tuple[str, str, str | None, str | None, str, _dt.datetime,
                         _dt.datetime | None]] = []
    password = hash_password(secrets.token_urlsafe(24))

    def person(title_pool) -> tuple[str, str, str]:
        n = len(users)
        account = f"{_ADMIN_PREFIX}{(n * 7_919 + 1_000_003) % 100_000_000:08d}"
        name = rng.choice(_SURNAMES) + "".join(
            rng.choice(_GIVEN) for _ in range(1 if rng.random() < 0.3 else 2))
        users.append({"account": account, "password_hash": password, "name": name,
                      "phone": account, "created_at": base, "is_active": True})
        return account, name, rng.choice(title_pool)

    def when() -> _dt.datetime:
        return base + _dt.timedelta(days=rng.randrange(380), minutes=rng.randrange(600))

    removed = 0
    for code, kind, level in regions:
        if code not in used:
            continue
        # region admins
        if kind in ("province", "prefecture"):
            wanted = [ROLE_REGION_SUPER, ROLE_REGION_TRAINING]
        elif code in _NO_REGION_ADMIN:
            wanted = []
        else:
            wanted = [ROLE_REGION_TRAINING] if rng.random() < _REGION_ADMIN_SHARE else []
        for role in wanted:
            if role in region_roles[code]:
                continue
            account, name, title = person(_TITLES_REGION)
            bindings.append((account, role, code, None, title, when(), None))
        # school admins
        own = schools.get(code, [])
        if not own:
            continue
        if kind in ("province", "prefecture"):
            share = _DIRECT_ACTIVATED
        elif code in _ACTIVATION_FIXED:
            share = _ACTIVATION_FIXED[code]
        else:
            x, share = rng.random(), None
            for weight, (low, high) in _ACTIVATION_PROFILES:
                if x < weight:
                    share = rng.uniform(low, high)
                    break
                x -= weight
        n = round(len(own) * share)
        if share < 1.0:
            n = min(n, len(own) - 1)  # a partial county keeps at least one school to chase
        chosen = set(rng.sample(own, n))
        for school in own:
            if school in taken:
                continue
            at = when()
            if school in chosen:
                if rng.random() < _REPLACED_SHARE:  # the first admin removed, then replaced
                    account, name, title = person(_TITLES_SCHOOL)
                    gone = at + _dt.timedelta(days=rng.randrange(20, 200))
                    bindings.append((account, ROLE_SCHOOL_ADMIN, None, school, title, at, gone))
                    removed += 1
                    at = gone + _dt.timedelta(days=rng.randrange(1, 10))
                account, name, title = person(_TITLES_SCHOOL)
                bindings.append((account, ROLE_SCHOOL_ADMIN, None, school, title, at, None))
            elif rng.random() < 0.02:  # an admin removed and not replaced yet
                account, name, title = person(_TITLES_SCHOOL)
                bindings.append((account, ROLE_SCHOOL_ADMIN, None, school, title, at,
                                 at + _dt.timedelta(days=rng.randrange(20, 200))))
                removed += 1

    if not users:
        return SeededAdmins(0, 0, 0)
    conn.execute(insert(User), users)
    ids = dict(conn.execute(select(User.account, User.id)
                            .where(User.account.like(f"{_ADMIN_PREFIX}%"))).all())
    names = {u["account"]: u["name"] for u in users}
    rows = []
    for account, role, region, school, title, at, gone in bindings:
        rows.append({"user_id": ids[account], "role": role, "region_code": region,
                     "school_code": school, "contact_name": names[account],
                     "contact_phone": account, "org_title": title, "created_at": at,
                     "removed_at": gone})
    # A removed binding first, so that the school's current admin comes after it.
    rows.sort(key=lambda r: r["removed_at"] is None)
    conn.execute(insert(Binding), rows)
    analyze(conn, User.__table__, Binding.__table__)
    schools_bound = sum(1 for b in bindings if b[1] == ROLE_SCHOOL_ADMIN and b[6] is None)
    return SeededAdmins(schools_bound, sum(1 for b in bindings if b[1] != ROLE_SCHOOL_ADMIN),
                        removed)


@dataclass(frozen=True)
class ReviewBacklog:
    pending: int  # teachers made 未审核 (a recent application)
    rejected: int  # teachers made 未通过 (a decision with its reason)


BACKLOG_PENDING, BACKLOG_REJECTED = 24, 3
_REJECT_REASONS = ("证件照片不清晰，请重新上传", "姓名与证件不一致", "任教学段填写有误")


def seed_review_backlog(conn, school_code: str, *, today: _dt.date | None = None,
                        seed: int = 2026) -> ReviewBacklog:
    """Give one demo school the 教师管理 backlog of SPEC §5.2: recent applications still
    未审核 and a few 未通过 with their reasons. Only teachers who took part in no training
    are touched, so every statistic (and the manual's table) stays as it was; a school
    seeded once is left alone."""
    from sqlalchemy import exists, select, update

    from .models import Teacher, TrainingRecord
    from .vocab import CERT_PENDING, CERT_REJECTED

    if conn.scalar(select(Teacher.id).where(Teacher.school_code == school_code,
                                            Teacher.decided_at.is_not(None)).limit(1)):
        return ReviewBacklog(0, 0)
    idle = list(conn.scalars(
        select(Teacher.id).where(Teacher.school_code == school_code,
                                 ~exists().where(TrainingRecord.teacher_id == Teacher.id))
        .order_by(Teacher.id)))
    rng = random.Random(seed)
    rng.shuffle(idle)
    # A small data set may have few such teachers: the rejections first, then the backlog.
    rejected = idle[:BACKLOG_REJECTED]
    pending = idle[BACKLOG_REJECTED:BACKLOG_REJECTED + BACKLOG_PENDING]
    day = _dt.datetime.combine(today or _dt.date.today(), _dt.time(8, 30))
    for i, tid in enumerate(sorted(pending)):
        conn.execute(update(Teacher).where(Teacher.id == tid).values(
            cert_status=CERT_PENDING, applied_at=day - _dt.timedelta(days=i % 12, hours=i % 5),
            decided_at=None, decided_by=None, decision_reason=None))
    for i, tid in enumerate(sorted(rejected)):
        applied = day - _dt.timedelta(days=20 + i)
        conn.execute(update(Teacher).where(Teacher.id == tid).values(
            cert_status=CERT_REJECTED, applied_at=applied,
            decided_at=applied + _dt.timedelta(days=2), decided_by=None,
            decision_reason=_REJECT_REASONS[i % len(_REJECT_REASONS)]))
    return ReviewBacklog(len(pending), len(rejected))


# --------------------------------------------------------------------------- daily history

_MAX_HISTORY_DAYS = 90


def seed_history(conn, today: _dt.date | None = None, *, seed: int = 2026) -> int:
    """Give the demo the daily history a real deployment collects one nightly refresh at a
    time, so that the 大屏's trend and the ▲/▼ of every screen have days to compare with.

    Day d of a training holds a share f(d) of each region's own part (its subtree's totals
    minus its children's) — f rising from the training's start to 1 on its last day (or
    today) — rounded down and summed up the tree, so every day is consistent: a region is
    the sum of its children and its 直属学校, 已通过 ≤ everyone, completed ≤ learners ≤
    participants, and the numbers never go down. Returns the rows written; days that
    already have rows are left alone."""
    from sqlalchemy import insert, select

    from .models import AggHistory, Region, Training

    today = today or _dt.date.today()
    parents = dict(conn.execute(select(Region.code, Region.parent_code)).all())
    trainings = conn.execute(select(Training.id, Training.start_at, Training.end_at)).all()
    latest = conn.execute(select(AggHistory.__table__).where(AggHistory.day == today)).all()
    have = set(conn.execute(select(AggHistory.day, AggHistory.training_id).distinct()).all())
    written = 0
    for tid, start_at, end_at in trainings:
        first, last = start_at.date(), min(end_at.date(), today)
        if last <= first:
            continue
        first = max(first, last - _dt.timedelta(days=_MAX_HISTORY_DAYS))
        # A finished training's days run to its last day (which holds the final numbers);
        # a running one's to yesterday (today's numbers are the refresh's own).
        finished = end_at.date() < today
        days = [first + _dt.timedelta(days=i) for i in range((last - first).days + finished)]
        span = len(days) + (0 if finished else 1)
        for certified in (False, True):
            rows = {r.region_code: (r.participants, r.learners, r.hours_tenths, r.completed)
                    for r in latest if r.training_id == tid and r.certified_only is certified
                    and r.participants}
            own = _own_parts(rows, parents)
            sid = next((r.snapshot_id for r in latest), 0)
            speeds = {code: 1.4 + random.Random(f"{seed}:{code}").random() * 1.8 for code in own}
            batch = []
            for i, day in enumerate(days):
                if (day, tid) in have:
                    continue
                t = (i + 1) / span
                totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
                for code, (p, l, h, c) in own.items():
                    fp = 0.08 + 0.92 * (1 - (1 - t) ** speeds[code])
                    fl = fp * (0.9 + 0.1 * t)
                    fc = fl * t ** 1.6
                    part = (math.floor(p * fp), math.floor(l * fl), math.floor(h * (fl + fc) / 2),
                            math.floor(c * fc))
                    node = code
                    while node is not None and node in parents:
                        if node in rows:
                            acc = totals[node]
                            for k in range(4):
                                acc[k] += part[k]
                        node = parents[node]
                for code, (p, l, h, c) in totals.items():
                    batch.append({"day": day, "training_id": tid, "region_code": code,
                                  "certified_only": certified, "participants": p,
                                  "learners": l, "hours_tenths": h, "completed": c,
                                  "snapshot_id": sid})
            for start in range(0, len(batch), 5000):
                conn.execute(insert(AggHistory), batch[start:start + 5000])
            written += len(batch)
    return written


def _own_parts(rows: dict[str, tuple[int, int, int, int]], parents: dict[str, str | None]
               ) -> dict[str, tuple[int, ...]]:
    """Each region's subtree totals minus those of its children that have rows."""
    own = {code: list(v) for code, v in rows.items()}
    for code, values in rows.items():
        parent = parents.get(code)
        if parent in own:
            for k in range(4):
                own[parent][k] -= values[k]
    return {code: tuple(max(0, x) for x in v) for code, v in own.items()}
