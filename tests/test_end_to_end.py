"""Import files → refresh → download, checked cell by cell against totals computed
independently from the import files (own parsing, own tree walk, own rounding)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources

import pytest

from data_access.demo import IMPORT_ORDER, generate
from data_access.importers import import_file
from data_access.refresh import refresh
from tests.helpers import login, make_admin

MISSING = "—"


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def pct(n: int, d: int | None) -> str:
    if not d:
        return MISSING
    return f"{(Decimal(n) * 100 / Decimal(d)).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def tenths(text: str) -> int:
    return int((Decimal(text) * 10).to_integral_value())


class Expected:
    """The 按区域查看 table computed from the six files and the catalogue alone."""

    def __init__(self, files: dict, training_code: str):
        catalogue = csv.DictReader(io.StringIO(
            resources.files("data_access").joinpath("data/regions_cn.csv").read_text("utf-8")))
        self.name, self.parent = {}, {}
        for r in catalogue:
            self.name[r["code"]] = r["name"]
            self.parent[r["code"]] = r["parent_code"] or None
        for r in read_csv(files["regions"]):
            self.name[r["区域代码"]] = r["区域名称"]
            self.parent[r["区域代码"]] = r["上级区域代码"] or None
        self.children = defaultdict(list)
        for code, parent in self.parent.items():
            if parent:
                self.children[parent].append(code)
        self.school_region = {s["学校标识码"]: s["所在区域代码"] for s in read_csv(files["schools"])}
        self.school_name = {s["学校标识码"]: s["学校名称"] for s in read_csv(files["schools"])}
        self.teacher = {t["账号"]: t for t in read_csv(files["teachers"])}
        training = next(t for t in read_csv(files["trainings"]) if t["培训编号"] == training_code)
        self.cap = tenths(training["获得学时上限"])
        self.records = [r for r in read_csv(files["records"]) if r["培训编号"] == training_code]
        self.figures = {}
        for c in read_csv(files["teacher-counts"]):
            self.figures[(c["区域代码"], c["学段"])] = int(c["专任教师数"])

    def ancestors(self, code):
        while code:
            yield code
            code = self.parent.get(code)

    def denominator(self, code, stage=""):
        if (code, stage) in self.figures:
            return self.figures[(code, stage)]
        kids = self.children.get(code, [])
        if not kids:
            return None
        values = [self.denominator(k, stage) for k in kids]
        return None if any(v is None for v in values) else sum(values)

    def totals(self, keep, stage="", subject="", certified_only=False):
        t = defaultdict(lambda: [0, 0, 0, 0])
        for r in self.records:
            teacher = self.teacher[r["账号"]]
            if stage and teacher["学段"] != stage or subject and teacher["学科领域"] != subject:
                continue
            if certified_only and (teacher["认证状态"] or "已通过") != "已通过":
                continue
            for key in keep(teacher["学校标识码"]):
                h = tenths(r["获得学时"])
                row = t[key]
                row[0] += 1
                row[1] += h > 0
                row[2] += h
                row[3] += h >= self.cap
        return t

    def row(self, name, counts, denominator):
        p, learners, hours, completed = counts
        avg = MISSING if not learners else str(
            (Decimal(hours) / 10 / learners).quantize(Decimal("0.1"), ROUND_HALF_UP))
        return [name, pct(completed, denominator), str(p), pct(p, denominator), str(learners),
                pct(learners, p), avg, str(completed), pct(completed, p), str(p - completed),
                pct(p - completed, p)]

    def table(self, region, stage="", subject="", certified_only=False):
        denominator = (lambda code: None) if subject else (lambda code: self.denominator(code, stage))
        by_region = self.totals(lambda s: list(self.ancestors(self.school_region[s])),
                                stage, subject, certified_only)
        rows = []
        kids = self.children.get(region, [])
        if kids:
            for k in kids:
                rows.append(self.row(self.name[k], by_region.get(k, [0, 0, 0, 0]), denominator(k)))
            direct = [s for s, r in self.school_region.items() if r == region]
            if direct:
                by_school = self.totals(lambda s: [s], stage, subject, certified_only)
                total = [sum(by_school.get(s, [0, 0, 0, 0])[i] for s in direct) for i in range(4)]
                rows.append(self.row("直属学校", total, None))
        else:
            by_school = self.totals(lambda s: [s], stage, subject, certified_only)
            for s, r in self.school_region.items():
                if r == region:
                    rows.append(self.row(self.school_name[s], by_school.get(s, [0, 0, 0, 0]), None))
        rows.sort(key=lambda r: (-int(r[2]), r[0]))
        current = self.row(self.name[region], by_region.get(region, [0, 0, 0, 0]),
                           denominator(region))
        return [current] + rows


@pytest.fixture
def imported(app, tmp_path):
    engine = app.extensions["yanxiu"].engine
    files = generate("small", tmp_path / "demo")
    for kind in IMPORT_ORDER:
        import_file(engine, kind, files[kind], id_key=b"k")
    refresh(engine)
    return files


CASES = [
    ("350000", "", "", "include"),
    ("350000", "", "", "exclude"),
    ("350300", "初中", "", "include"),
    ("350300", "", "语文", "exclude"),
    ("350322", "", "", "include"),
    ("350399", "", "", "include"),
    ("350400", "小学", "数学", "include"),
]


@pytest.mark.parametrize("training_code", ["2022SUMMER", "WINTER"])
def test_download_equals_independent_computation(app, client, imported, training_code):
    trainings = [t["培训编号"] for t in read_csv(imported["trainings"])]
    code = next(t for t in trainings if t.endswith(training_code))
    expected = Expected(imported, code)
    login(client, make_admin(app.extensions["yanxiu"].engine, "region_training", "350000"))
    for region, stage, subject, uncertified in CASES:
        resp = client.get(f"/export/training/{code}/regions.csv?region={region}&stage={stage}"
                          f"&subject={subject}&uncertified={uncertified}")
        assert resp.status_code == 200
        lines = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
        want = expected.table(region, stage, subject, uncertified == "exclude")
        assert lines[2:] == want, (region, stage, subject, uncertified)


def _summer_participants_only(files: dict, out) -> dict:
    """The demo files with only 2022SUMMER's records and the teachers who have one: that
    training's statistics depend on nothing else, and the import costs a third."""
    out.mkdir()
    kept = {kind: out / path.name for kind, path in files.items()}
    accounts = set()
    with open(files["records"], encoding="utf-8-sig", newline="") as src, \
            open(kept["records"], "w", encoding="utf-8-sig", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for row in reader:
            if row[0] == "2022SUMMER":
                writer.writerow(row)
                accounts.add(row[1])
    with open(files["teachers"], encoding="utf-8-sig", newline="") as src, \
            open(kept["teachers"], "w", encoding="utf-8-sig", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        writer.writerows(row for row in reader if row[0] in accounts)
    for kind in ("regions", "schools", "trainings", "teacher-counts"):
        kept[kind].write_bytes(files[kind].read_bytes())
    return kept


@pytest.mark.slow
def test_default_demo_downloads_the_manuals_fujian_table(app, client, province_demo_files,
                                                         tmp_path):
    from tests.helpers import MANUAL_SUMMER_TABLE

    engine = app.extensions["yanxiu"].engine
    files = _summer_participants_only(province_demo_files, tmp_path / "summer")
    for kind in IMPORT_ORDER:
        import_file(engine, kind, files[kind], id_key=b"k")
    refresh(engine)
    login(client, make_admin(engine, "region_training", "350000"))
    resp = client.get("/export/training/2022SUMMER/regions.csv?region=350000&stage=&subject="
                      "&uncertified=include")
    assert resp.status_code == 200
    lines = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    header = next(i for i, line in enumerate(lines) if line[:1] == ["区域名称"])
    assert lines[header][2:11] == ["参训人数", "参训率", "学习人数", "学习率", "人均学时",
                                   "完成学时人数", "完成人数占比", "未完成学时人数", "未完成人数占比"]
    table = {line[0]: line[2:11] for line in lines[header + 1:] if line}
    for name, printed in MANUAL_SUMMER_TABLE.items():
        assert table[name] == printed.split(), name
    assert table["直属学校"][:3] == ["1709", MISSING, "1640"]
    assert len(table) == len(MANUAL_SUMMER_TABLE) + 1
