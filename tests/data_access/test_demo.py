"""The demo data generator writes six consistent import files (parsed here with csv only)."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest

from data_access import demo
from data_access.vocab import CERT_STATUSES, SCHOOL_KINDS, STAGES, SUBJECTS, TITLES, URBAN_RURAL

TODAY = dt.date(2025, 1, 15)
CATALOGUE = Path(demo.__file__).with_name("data") / "regions_cn.csv"

HEADERS = {
    "regions": ["区域代码", "区域名称", "上级区域代码", "区域类型"],
    "schools": ["学校标识码", "学校名称", "所在区域代码", "机构类型", "城乡类型"],
    "teachers": ["账号", "姓名", "学校标识码", "学段", "学科领域", "职称", "证件类型", "证件号码",
                 "认证状态", "申请时间"],
    "trainings": ["培训编号", "培训名称", "开始时间", "结束时间", "获得学时上限", "创建时间"],
    "records": ["培训编号", "账号", "获得学时", "实际学习时长"],
    "teacher-counts": ["区域代码", "学段", "专任教师数"],
}


def _catalogue() -> dict[str, dict[str, str]]:
    with open(CATALOGUE, encoding="utf-8", newline="") as f:
        return {r["code"]: r for r in csv.DictReader(f)}


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _province_of(code: str, parents: dict[str, str]) -> str:
    while parents.get(code):
        code = parents[code]
    return code


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, Path]:
    return demo.generate("small", tmp_path_factory.mktemp("small"), today=TODAY)


@pytest.fixture(scope="module")
def data(small) -> dict[str, list[dict[str, str]]]:
    return {kind: _read(path) for kind, path in small.items()}


def test_public_constants():
    assert demo.SCALES == ("small", "province", "national")
    assert tuple(demo.FILE_NAMES) == demo.IMPORT_ORDER
    assert set(demo.IMPORT_ORDER) == set(HEADERS)


def test_six_files_with_bom_and_chinese_headers(small):
    assert list(small) == list(demo.IMPORT_ORDER)
    for kind, path in small.items():
        assert path.name == demo.FILE_NAMES[kind]
        raw = path.read_bytes()
        assert raw.startswith(codecs.BOM_UTF8), kind
        header = next(csv.reader([raw[len(codecs.BOM_UTF8):].decode("utf-8").splitlines()[0]]))
        assert header == HEADERS[kind], kind
    # no stray temporary file is left behind
    assert sorted(p.name for p in next(iter(small.values())).parent.iterdir()) == sorted(
        demo.FILE_NAMES.values())


def test_small_scale_sizes(data):
    assert 50 <= len(data["schools"]) <= 70
    assert 1800 <= len(data["teachers"]) <= 2200
    per_training = Counter(r["培训编号"] for r in data["records"])
    assert 500 <= per_training["2022SUMMER"] <= 900
    assert 1100 <= per_training["2025WINTER"] <= 1700


def test_zones_are_the_only_regions_and_do_not_collide(data):
    catalogue = _catalogue()
    zones = {r["区域代码"]: r for r in data["regions"]}
    assert {r["区域名称"]: (r["上级区域代码"], r["区域类型"]) for r in zones.values()} == {
        "平潭综合实验区": ("350000", "zone"),
        "湄洲岛": ("350300", "zone"),
        "北岸经济开发区": ("350300", "zone"),
    }
    assert not set(zones) & set(catalogue)


def test_schools_hang_on_known_regions_with_unique_codes_and_names(data):
    catalogue = _catalogue()
    known = set(catalogue) | {r["区域代码"] for r in data["regions"]}
    schools = data["schools"]
    codes = [s["学校标识码"] for s in schools]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"\d{10}", c) for c in codes)
    assert all(s["所在区域代码"] in known for s in schools)
    names = [(s["所在区域代码"], s["学校名称"]) for s in schools]
    assert len(set(names)) == len(names)
    assert all(s["机构类型"] in SCHOOL_KINDS for s in schools)
    assert all(s["城乡类型"] in URBAN_RURAL or s["城乡类型"] == "" for s in schools)
    kinds = Counter(s["机构类型"] for s in schools)
    assert kinds["学校"] > 0.8 * len(schools)
    assert kinds["学校"] < len(schools)  # some 教研/电教/进修 institutions
    empty = sum(1 for s in schools if s["城乡类型"] == "")
    assert 1 <= empty <= 0.1 * len(schools)
    # only 莆田市 and 三明市 (and the zones) are populated at this scale
    prefixes = {s["所在区域代码"][:4] for s in schools if s["所在区域代码"] != "350000"}
    assert prefixes <= {"3503", "3504", "3501"}


def test_direct_schools_at_province_and_prefecture_level(data):
    regions = Counter(s["所在区域代码"] for s in data["schools"])
    assert regions["350000"] >= 3
    assert regions["350300"] >= 1 and regions["350400"] >= 1
    # most schools are at county or zone level
    assert sum(v for k, v in regions.items() if k not in {"350000", "350300", "350400"}) > \
        0.7 * len(data["schools"])


def test_teachers_are_valid_and_attached_to_known_schools(data):
    schools = {s["学校标识码"] for s in data["schools"]}
    teachers = data["teachers"]
    accounts = [t["账号"] for t in teachers]
    assert len(set(accounts)) == len(accounts)
    assert all(re.fullmatch(r"1[3589]\d{9}", a) for a in accounts)
    for t in teachers:
        assert t["学校标识码"] in schools
        assert t["学段"] in STAGES
        assert t["学科领域"] in SUBJECTS
        assert t["职称"] in TITLES
        assert t["认证状态"] in CERT_STATUSES
        assert t["证件类型"] == "居民身份证"
        assert re.fullmatch(r"\d{17}[\dX]", t["证件号码"])
        dt.datetime.strptime(t["申请时间"], "%Y-%m-%d %H:%M")
        assert t["申请时间"] < TODAY.isoformat()
        if t["学段"] == "幼儿园":
            assert t["学科领域"] == "学前教育"
        if t["学段"] == "特教":
            assert t["学科领域"] == "特殊教育"
    stages = Counter(t["学段"] for t in teachers)
    assert stages["小学"] == max(stages.values())
    subjects = Counter(t["学科领域"] for t in teachers)
    assert {"语文", "数学"} <= {s for s, _ in subjects.most_common(3)}


def test_about_five_percent_not_certified(data):
    statuses = Counter(t["认证状态"] for t in data["teachers"])
    share = 1 - statuses["已通过"] / len(data["teachers"])
    assert 0.03 <= share <= 0.07
    assert statuses["未审核"] > 0 and statuses["未通过"] > 0


def test_trainings_finished_and_ongoing(data):
    rows = {r["培训编号"]: r for r in data["trainings"]}
    assert rows["2022SUMMER"] == {
        "培训编号": "2022SUMMER", "培训名称": "2022年“暑期教师研修”专题",
        "开始时间": "2022-07-20 00:00", "结束时间": "2022-08-31 23:59",
        "获得学时上限": "10", "创建时间": "2022-07-05 19:01",
    }
    winter = rows["2025WINTER"]
    assert winter["培训名称"] == "2025年“寒假教师研修”专题"
    assert winter["开始时间"] == "2024-12-16 00:00"
    assert winter["结束时间"] == "2025-03-16 23:59"
    assert winter["获得学时上限"] == "6"
    assert winter["创建时间"] == "2024-12-09 00:00"


def test_records_reference_teachers_and_respect_the_cap(data):
    accounts = {t["账号"] for t in data["teachers"]}
    caps = {r["培训编号"]: float(r["获得学时上限"]) for r in data["trainings"]}
    seen = set()
    by_training: dict[str, list[float]] = {code: [] for code in caps}
    for r in data["records"]:
        key = (r["培训编号"], r["账号"])
        assert key not in seen
        seen.add(key)
        assert r["账号"] in accounts
        assert re.fullmatch(r"\d+(\.\d)?", r["获得学时"]), r
        hours = float(r["获得学时"])
        assert 0 <= hours <= caps[r["培训编号"]]
        assert re.fullmatch(r"\d+", r["实际学习时长"])
        by_training[r["培训编号"]].append(hours)
    for code, hours in by_training.items():
        learners = sum(1 for h in hours if h > 0) / len(hours)
        completed = sum(1 for h in hours if h == caps[code]) / len(hours)
        assert learners > 0.97
        assert 0.35 < completed < 0.65


def test_teacher_counts_leave_gaps_on_purpose(data):
    counts = data["teacher-counts"]
    regions = {r["区域代码"] for r in counts}
    assert "350399" not in regions and "350398" not in regions  # 湄洲岛, 北岸经济开发区
    assert "350305" not in regions  # 秀屿区 has not reported its figure
    assert "350199" in regions  # 平潭综合实验区
    assert "350300" in regions  # 莆田市 has its own figure (its zones have none)
    assert "350000" not in regions
    assert all(r["学段"] in ("",) + STAGES for r in counts)
    assert any(r["学段"] for r in counts)  # some per-stage rows
    # every 三明市 county has a figure above the teachers registered there
    school_region = {s["学校标识码"]: s["所在区域代码"] for s in data["schools"]}
    teachers = Counter(school_region[t["学校标识码"]] for t in data["teachers"])
    totals = {r["区域代码"]: int(r["专任教师数"]) for r in counts if r["学段"] == ""}
    catalogue = _catalogue()
    sanming = [c for c, r in catalogue.items() if r["parent_code"] == "350400"]
    for county in sanming:
        assert totals[county] >= teachers[county], county
    # a per-stage split adds up to its total row
    split = {r["区域代码"] for r in counts if r["学段"]}
    for region in split:
        assert sum(int(r["专任教师数"]) for r in counts
                   if r["区域代码"] == region and r["学段"]) == totals[region]


def test_deterministic_for_a_seed(small, tmp_path):
    again = demo.generate("small", tmp_path / "again", today=TODAY)
    for kind in demo.IMPORT_ORDER:
        assert again[kind].read_bytes() == small[kind].read_bytes(), kind
    other = demo.generate("small", tmp_path / "other", seed=7, today=TODAY)
    assert other["teachers"].read_bytes() != small["teachers"].read_bytes()


def test_unknown_scale_is_rejected(tmp_path):
    with pytest.raises(ValueError):
        demo.generate("galaxy", tmp_path)


def test_scaled_down_national_run_covers_every_province(tmp_path):
    files = demo.generate("national", tmp_path, today=TODAY, teacher_factor=0.0004)
    catalogue = _catalogue()
    parents = {c: r["parent_code"] for c, r in catalogue.items()}
    zones = {r["区域代码"]: r["上级区域代码"] for r in _read(files["regions"])}
    parents.update(zones)
    provinces = {c for c, r in catalogue.items() if r["kind"] == "province"}
    assert len(provinces) == 31

    school_province = {}
    for s in _read(files["schools"]):
        assert s["所在区域代码"] in parents
        school_province[s["学校标识码"]] = _province_of(s["所在区域代码"], parents)
    assert set(school_province.values()) == provinces

    teacher_provinces = Counter()
    accounts = set()
    with open(files["teachers"], encoding="utf-8-sig", newline="") as f:
        for t in csv.DictReader(f):
            teacher_provinces[school_province[t["学校标识码"]]] += 1
            accounts.add(t["账号"])
    assert set(teacher_provinces) == provinces
    # populous provinces get more teachers than small ones
    assert teacher_provinces["440000"] > teacher_provinces["540000"]
    assert len(accounts) == sum(teacher_provinces.values())

    counties = {c for c, r in catalogue.items() if r["kind"] == "county"}
    school_regions = {s["所在区域代码"] for s in _read(files["schools"])}
    assert counties <= school_regions  # every county holds at least one school

    codes = Counter()
    with open(files["records"], encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            assert r["账号"] in accounts
            codes[r["培训编号"]] += 1
    assert set(codes) == {"2022SUMMER", "2025WINTER"}


# --------------------------------------------------------------------------- province scale


class _Province:
    """The 2022SUMMER totals per city of 福建省, computed from the files with a plain walk:
    records ⋈ teachers ⋈ schools → region → the province's child region."""

    def __init__(self, files: dict[str, Path]):
        catalogue = _catalogue()
        self.name = {c: r["name"] for c, r in catalogue.items()}
        self.parent = {c: r["parent_code"] for c, r in catalogue.items()}
        for r in _read(files["regions"]):
            self.name[r["区域代码"]] = r["区域名称"]
            self.parent[r["区域代码"]] = r["上级区域代码"]
        self.children: dict[str, list[str]] = {}
        for code, parent in self.parent.items():
            if parent:
                self.children.setdefault(parent, []).append(code)
        self.schools = {s["学校标识码"]: s for s in _read(files["schools"])}
        self.teachers = {t["账号"]: t for t in _read(files["teachers"])}
        records = _read(files["records"])
        self.records = [r for r in records if r["培训编号"] == "2022SUMMER"]
        self.other_records = len(records) - len(self.records)
        self.counts = _read(files["teacher-counts"])
        self.figures = {r["区域代码"]: int(r["专任教师数"]) for r in self.counts if r["学段"] == ""}

    def city_of(self, region: str) -> str:
        """The child of 福建省 a region lies in, or 福建省 itself for its 直属学校."""
        while self.parent.get(region) and self.parent[region] != "350000":
            region = self.parent[region]
        return region

    def totals(self, key) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for r in self.records:
            school = self.schools[self.teachers[r["账号"]]["学校标识码"]]
            tenths = round(float(r["获得学时"]) * 10)
            for k in key(school):
                t = out.setdefault(k, [0, 0, 0, 0])
                t[0] += 1
                t[1] += tenths > 0
                t[2] += tenths
                t[3] += tenths >= 100
        return out

    def denominator(self, code: str) -> int | None:
        """SPEC §1.5: the region's own figure, else its children's sum when all have one."""
        if code in self.figures:
            return self.figures[code]
        kids = self.children.get(code, [])
        values = [self.denominator(k) for k in kids]
        return sum(values) if kids and None not in values else None


@pytest.fixture(scope="module")
def province(province_demo_files) -> _Province:
    return _Province(province_demo_files)


def test_province_summer_reproduces_the_manuals_table(province):
    from data_access.metrics import Counts, metric_row
    from tests.helpers import MANUAL_SUMMER_COLUMNS, MANUAL_SUMMER_TABLE

    by_city = province.totals(lambda s: {province.city_of(s["所在区域代码"]), "350000"})
    by_code = {province.name[c]: c for c in ["350000", *province.children["350000"]]}
    for name, printed in MANUAL_SUMMER_TABLE.items():
        code = by_code[name]
        row = metric_row(Counts(*by_city[code], province.denominator(code)))
        assert [getattr(row, f) for f in MANUAL_SUMMER_COLUMNS] == printed.split(), name
    # the ten cities and the province's 直属学校 are all there is
    assert set(by_city) == {by_code[n] for n in MANUAL_SUMMER_TABLE} | {"350000"}
    direct = province.totals(
        lambda s: ["direct"] if s["所在区域代码"] == "350000" else [])["direct"]
    assert [direct[0], direct[1], direct[3]] == [1709, 1640, 424]


def test_province_summer_stays_realistic(province):
    # participation varies by county inside every city that has county figures
    by_county = province.totals(lambda s: [s["所在区域代码"]])
    varied = 0
    for city in province.children["350000"]:
        rates = [by_county[c][0] / province.figures[c]
                 for c in province.children.get(city, []) if c in province.figures]
        if len(rates) >= 3:
            assert max(rates) - min(rates) > 0.1, province.name[city]
            varied += 1
    assert varied >= 6
    # every region's figure is above the teachers registered there, and those above the
    # participants; only early, reviewed applicants took part
    registered = Counter(province.schools[t["学校标识码"]]["所在区域代码"]
                         for t in province.teachers.values())
    for code, figure in province.figures.items():
        if code == "350000" or province.parent.get(code) == "350000":
            continue
        assert by_county.get(code, [0])[0] <= registered[code] <= figure, code
    by_city = province.totals(lambda s: [province.city_of(s["所在区域代码"])])
    in_city = Counter()
    for region, n in registered.items():
        in_city[province.city_of(region)] += n
    for city in province.children["350000"]:
        assert by_city[city][0] <= in_city[city] <= province.denominator(city), city
    for r in province.records:
        teacher = province.teachers[r["账号"]]
        assert teacher["申请时间"] < "2022-07-20" and teacher["认证状态"] != "未审核"
    # the deliberate gaps: zones without a figure, two prefectures with their own figure only
    assert "350399" not in province.figures and "350398" not in province.figures
    assert "350305" not in province.figures and "350300" in province.figures
    for prefecture in ("350700", "350900"):
        assert prefecture in province.figures
        assert not set(province.children[prefecture]) & set(province.figures)
    # the scale of SPEC §8.3
    assert 430_000 <= len(province.teachers) <= 460_000
    assert 9_500 <= len(province.schools) <= 10_500
    assert 270_000 <= province.other_records <= 330_000


def test_demo_schools_exist_at_both_demo_scales(small, province_demo_files):
    for files in (small, province_demo_files):
        schools = {s["学校标识码"]: s for s in _read(files["schools"])}
        picks = demo.demo_schools(files["schools"])
        assert set(picks) == set(demo.DEMO_SCHOOLS)
        assert len({code for code, _ in picks.values()}) == len(picks)
        chosen = {key: schools[code] for key, (code, _) in picks.items()}
        assert all(s["学校名称"] == picks[k][1] and s["机构类型"] == "学校"
                   for k, s in chosen.items())
        assert chosen["xianyou-middle"]["所在区域代码"] == "350322"
        assert chosen["xianyou-middle"]["学校名称"].endswith("中学")
        assert chosen["putian-kindergarten"]["学校名称"].endswith("幼儿园")
        assert chosen["urban-rural-missing"]["城乡类型"] == ""
    # at the default scale all three are in 莆田市, under the demo's 莆田市 and 仙游县 admins
    assert all(schools[code]["所在区域代码"].startswith("3503") for code, _ in picks.values())
