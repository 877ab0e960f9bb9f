"""Aggregate refresh (SPEC §7.2): totals, 专任教师数 rule, history, snapshot switching."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.schema import CreateTable

from data_access import refresh as refresh_module
from data_access.models import (
    AggHistory,
    AggRegion,
    AggSchool,
    AggTeacher,
    AggTeacherCount,
    Region,
    School,
    Snapshot,
    Teacher,
    TeacherCount,
    Training,
    TrainingRecord,
)
from data_access.refresh import (
    AGG_TABLES,
    RefreshError,
    current_snapshot,
    effective_teacher_counts,
    refresh,
)
from data_access.accounts import create_user
from data_access.db import make_engine
from data_access.regions import upsert_region
from data_access import snapshot_store as store
from data_access.snapshot_store import (
    SnapshotGone,
    attach_new,
    detach,
    reads_snapshot,
    snapshot_files,
    stores_in_files,
    use_snapshot,
)

DAY1 = datetime(2022, 7, 21, 1, 30)
PASSED = "已通过"

SCHOOLS = [
    # code, name, region
    ("S-DT-1", "大田县第一中学", "350425"),
    ("S-DT-2", "大田县实验小学", "350425"),
    ("S-YX-1", "尤溪县第一中学", "350426"),
    ("S-SM-Z", "三明市直属中学", "350400"),  # 直属学校 of a prefecture
    ("S-FJ-1", "福建省直属中学", "350000"),  # 直属学校 of the province
    ("S-XY-1", "仙游县第一中学", "350322"),
]
TEACHERS = [
    # account, school, stage, subject, cert_status
    ("13900000001", "S-DT-1", "初中", "语文", "已通过"),
    ("13900000002", "S-DT-1", "初中", "语文", "已通过"),
    ("13900000003", "S-DT-1", "初中", "数学", "未审核"),
    ("13900000004", "S-DT-1", "高中", "语文", "未通过"),
    ("13900000005", "S-DT-2", "小学", "语文", "已通过"),
    ("13900000006", "S-DT-2", "小学", "数学", "已通过"),
    ("13900000007", "S-DT-2", "小学", "数学", "未审核"),
    ("13900000008", "S-YX-1", "初中", "英语", "已通过"),
    ("13900000009", "S-YX-1", "初中", "英语", "已通过"),
    ("13900000010", "S-SM-Z", "高中", "物理", "已通过"),
    ("13900000011", "S-SM-Z", "高中", "物理", "未审核"),
    ("13900000012", "S-FJ-1", "高中", "化学", "已通过"),
    ("13900000013", "S-XY-1", "初中", "语文", "已通过"),
    ("13900000014", "S-DT-1", "初中", "语文", "已通过"),  # registered, never took part
]
# training code → (hours cap in tenths, {account suffix: hours in tenths})
TRAININGS = {
    "T-SUMMER": (100, {1: 100, 2: 50, 3: 0, 4: 100, 5: 100, 6: 50, 7: 100, 8: 0, 9: 100,
                       10: 100, 11: 50, 12: 100, 13: 50}),
    "T-WINTER": (50, {1: 50, 5: 30, 8: 0, 10: 50, 12: 50}),
}


class Data:
    """The inserted rows, kept in Python to compute expected totals independently."""

    def __init__(self, engine):
        self.engine = engine
        self.deleted: set[str] = set()
        self.hours: dict[tuple[str, str], int] = {}  # (training code, account) → tenths
        with engine.begin() as conn:
            conn.execute(insert(School), [
                {"code": c, "name": n, "region_code": r, "kind": "学校", "urban_rural": "城区"}
                for c, n, r in SCHOOLS])
            conn.execute(insert(Teacher), [
                {"account": a, "name": f"教师{a[-2:]}", "school_code": s, "stage": st,
                 "subject": su, "cert_status": cs} for a, s, st, su, cs in TEACHERS])
            self.teacher_ids = dict(conn.execute(select(Teacher.account, Teacher.id)).all())
            self.training_ids = {}
            self.caps = {}
            for code, (cap, records) in TRAININGS.items():
                tid = conn.execute(insert(Training).values(
                    code=code, name=code, start_at=datetime(2022, 7, 20),
                    end_at=datetime(2022, 8, 31, 23, 59), hours_cap_tenths=cap,
                    created_at=datetime(2022, 7, 1)).returning(Training.id)).scalar_one()
                self.training_ids[code] = tid
                self.caps[tid] = cap
                for n, h in records.items():
                    self.hours[(code, f"139{n:08d}")] = h
            conn.execute(insert(TrainingRecord), [
                {"training_id": self.training_ids[code], "teacher_id": self.teacher_ids[a],
                 "hours_tenths": h, "study_seconds": h * 360}
                for (code, a), h in self.hours.items()])
            self.parent = dict(conn.execute(select(Region.code, Region.parent_code)).all())
        self.school_region = {c: r for c, _, r in SCHOOLS}
        self.teacher = {a: (s, st, su, cs) for a, s, st, su, cs in TEACHERS}

    # -- changes

    def set_hours(self, code: str, account: str, tenths: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(TrainingRecord).where(
                TrainingRecord.training_id == self.training_ids[code],
                TrainingRecord.teacher_id == self.teacher_ids[account],
            ).values(hours_tenths=tenths))
        self.hours[(code, account)] = tenths

    def delete_school(self, code: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(School).where(School.code == code)
                         .values(deleted_at=datetime(2022, 7, 22)))
        self.deleted.add(code)

    # -- expected totals, computed from the rows above

    def ancestors(self, region: str) -> list[str]:
        out = []
        while region is not None:
            out.append(region)
            region = self.parent[region]
        return out

    def school_totals(self) -> dict[tuple, tuple[int, int, int, int]]:
        out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for (code, account), h in self.hours.items():
            school, stage, subject, cert = self.teacher[account]
            if school in self.deleted:
                continue
            tid = self.training_ids[code]
            v = out[(tid, school, stage, subject, cert == PASSED)]
            v[0] += 1
            v[1] += h > 0
            v[2] += h
            v[3] += h >= self.caps[tid]
        return {k: tuple(v) for k, v in out.items()}

    def region_totals(self, part: str) -> dict[tuple, tuple[int, int, int, int]]:
        out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for (tid, school, stage, subject, cert), v in self.school_totals().items():
            region = self.school_region[school]
            targets = self.ancestors(region) if part == "subtree" else [region]
            for r in targets:
                acc = out[(tid, r, stage, subject, cert)]
                for i in range(4):
                    acc[i] += v[i]
        return {k: tuple(v) for k, v in out.items()}

    def history_totals(self) -> dict[tuple, tuple[int, int, int, int]]:
        out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for (tid, region, _stage, _subject, cert), v in self.region_totals("subtree").items():
            for certified_only in (False, True):
                acc = out[(tid, region, certified_only)]
                if cert or not certified_only:
                    for i in range(4):
                        acc[i] += v[i]
        return {k: tuple(v) for k, v in out.items()}


@pytest.fixture
def data(engine) -> Data:
    return Data(engine)


# --------------------------------------------------------------------------- readers


@reads_snapshot
def read_school(conn, sid):
    a = AggSchool
    return {
        (r.training_id, r.school_code, r.stage, r.subject, bool(r.certified)):
            (r.participants, r.learners, r.hours_tenths, r.completed)
        for r in conn.execute(select(a.__table__).where(a.snapshot_id == sid))
    }


@reads_snapshot
def read_region(conn, sid, part):
    a = AggRegion
    return {
        (r.training_id, r.region_code, r.stage, r.subject, bool(r.certified)):
            (r.participants, r.learners, r.hours_tenths, r.completed)
        for r in conn.execute(
            select(a.__table__).where(a.snapshot_id == sid, a.part == part))
    }


def read_history(conn, day):
    h = AggHistory
    return {
        (r.training_id, r.region_code, bool(r.certified_only)):
            (r.participants, r.learners, r.hours_tenths, r.completed)
        for r in conn.execute(select(h.__table__).where(h.day == day))
    }


@reads_snapshot
def read_counts(conn, sid):
    c = AggTeacherCount
    return {(r.region_code, r.stage): r.count
            for r in conn.execute(select(c.__table__).where(c.snapshot_id == sid))}


@reads_snapshot
def read_teacher_list(conn, sid):
    t = AggTeacher.__table__
    return [dict(r) for r in conn.execute(
        select(t).where(t.c.snapshot_id == sid).order_by(t.c.training_id, t.c.teacher_id)
    ).mappings()]


def reader_view(engine, sid):
    """Everything a screen can read for one snapshot id."""
    with engine.connect() as conn:
        return (read_school(conn, sid), read_region(conn, sid, "subtree"),
                read_region(conn, sid, "direct"), read_counts(conn, sid),
                read_teacher_list(conn, sid))


def agg_rows(conn, sid) -> dict[str, int]:
    """Rows of each aggregate table of snapshot ``sid`` (0 once its rows or file are gone)."""
    try:
        use_snapshot(conn, sid)
    except SnapshotGone:
        return {m.__tablename__: 0 for m in AGG_TABLES}
    return {m.__tablename__: conn.scalar(select(func.count()).select_from(m)
                                         .where(m.snapshot_id == sid))
            for m in AGG_TABLES}


def plant_leftover(engine, sid) -> None:
    """One aggregate row of snapshot ``sid`` where a build that stopped after writing it
    would have left it (on PostgreSQL the build is one transaction, so only a run that
    died between its build and its switch can leave rows: attached partitions)."""
    with engine.connect() as conn:
        if stores_in_files(conn):
            attach_new(conn, sid)
            conn.execute(CreateTable(AggSchool.__table__),
                         execution_options={"schema_translate_map": {None: "snap"}})
            conn.commit()
        else:
            tables = [AggSchool.__table__]
            base = store.create_partitions(conn, sid, tables)
            store.attach_partitions(conn, sid, tables, base)
        conn.execute(insert(AggSchool).values(
            snapshot_id=sid, training_id=1, school_code="S-DT-1", stage="初中", subject="语文",
            certified=True, region_code="350425", participants=1, learners=1, hours_tenths=1,
            completed=0))
        conn.commit()
        if stores_in_files(conn):
            detach(conn)


def snapshots_with_rows(engine) -> set[int]:
    with engine.connect() as conn:
        ids = list(conn.scalars(select(Snapshot.id)))
        found = {sid for sid in ids if any(agg_rows(conn, sid).values())}
        if stores_in_files(conn):
            found |= set(snapshot_files(conn))  # a file is a leftover even when empty
        else:
            found |= store.partition_snapshots(conn)  # and so is a schema of partitions
        return found


def status(engine, sid) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(Snapshot.status).where(Snapshot.id == sid))


def served(engine):
    with engine.connect() as conn:
        return current_snapshot(conn)


# --------------------------------------------------------------------------- aggregates


def test_no_snapshot_before_the_first_refresh(engine):
    assert served(engine) is None


def test_aggregates_equal_independent_totals(engine, data):
    result = refresh(engine, now=DAY1)

    assert served(engine) == (result.snapshot_id, result.finished_at)
    assert result.started_at == DAY1 <= result.finished_at
    assert result.trainings == 2 and result.seconds >= 0
    assert status(engine, result.snapshot_id) == "ready"
    with engine.connect() as conn:
        schools = read_school(conn, result.snapshot_id)
        subtree = read_region(conn, result.snapshot_id, "subtree")
        direct = read_region(conn, result.snapshot_id, "direct")
        rows = agg_rows(conn, result.snapshot_id)
    assert schools == data.school_totals()
    assert subtree == data.region_totals("subtree")
    assert direct == data.region_totals("direct")
    assert result.school_rows == len(schools)
    assert result.region_rows == len(subtree) + len(direct)
    # One teacher-list row per participant, with the masked account and the region path.
    assert rows["agg_teacher"] == len(data.hours)
    with engine.connect() as conn:
        listed = read_teacher_list(conn, result.snapshot_id)
    row = next(r for r in listed if r["teacher_id"] == data.teacher_ids["13900000001"])
    assert row["account_masked"] == "139****0001"
    assert row["region_path"] == "福建省/三明市/大田县"
    assert (row["l1"], row["l2"], row["l3"], row["l4"]) == ("350000", "350400", "350425", None)

    # Spot checks against hand-counted figures (training T-SUMMER, cap 10 hours).
    summer = data.training_ids["T-SUMMER"]

    def total(table, region):
        sums = [0, 0, 0, 0]
        for (tid, r, *_), v in table.items():
            if tid == summer and r == region:
                sums = [a + b for a, b in zip(sums, v)]
        return tuple(sums)

    # 福建省: 13 participants, 11 with hours, 90.0 hours, 7 completed.
    assert total(subtree, "350000") == (13, 11, 900, 7)
    # 三明市 subtree: 11 participants; its 直属学校: teachers 10 and 11.
    assert total(subtree, "350400") == (11, 9, 750, 6)
    assert total(direct, "350400") == (2, 2, 150, 1)
    assert total(direct, "350000") == (1, 1, 100, 1)
    # A county's direct part is all its schools.
    assert total(direct, "350425") == total(subtree, "350425") == (7, 6, 500, 4)
    # The certified flag splits 已通过 from 未审核/未通过.
    assert subtree[(summer, "350425", "初中", "数学", False)] == (1, 0, 0, 0)
    assert subtree[(summer, "350425", "初中", "语文", True)] == (2, 2, 150, 1)


def test_deleted_school_leaves_the_next_snapshot(engine, data):
    first = refresh(engine, now=DAY1)
    data.delete_school("S-DT-1")
    second = refresh(engine, now=DAY1 + timedelta(hours=1))

    with engine.connect() as conn:
        assert read_school(conn, second.snapshot_id) == data.school_totals()
        assert read_region(conn, second.snapshot_id, "subtree") == data.region_totals("subtree")
        assert read_region(conn, second.snapshot_id, "direct") == data.region_totals("direct")
        assert not any(k[1] == "S-DT-1" for k in read_school(conn, second.snapshot_id))
        # The previous snapshot is untouched.
        assert any(k[1] == "S-DT-1" for k in read_school(conn, first.snapshot_id))
        listed = agg_rows(conn, second.snapshot_id)["agg_teacher"]
    assert listed == sum(1 for (_, a) in data.hours if data.teacher[a][0] != "S-DT-1")


# --------------------------------------------------------------------------- 专任教师数


def test_effective_teacher_count_rule():
    regions = [
        ("P", None), ("A", "P"), ("B", "P"), ("Z", "P"),      # Z: a zone, no children
        ("A1", "A"), ("A2", "A"), ("B1", "B"), ("B2", "B"),
        ("B2x", "B2"),                                           # ragged: one level deeper
    ]
    figures = {
        ("A1", ""): 10, ("A2", ""): 20,           # A = 30 (every child has one)
        ("B1", ""): 5, ("B2x", ""): 7,            # B2 = 7 from its only child → B = 12
        ("Z", ""): 1,                             # P = 30 + 12 + 1
        ("A1", "小学"): 4,                        # A2 lacks 小学 → A, P missing for 小学
        ("B", "小学"): 100, ("B1", "小学"): 1,     # own figure wins over children
        ("B2", "初中"): 3,
    }
    got = effective_teacher_counts(regions, figures)
    assert got[("A", "")] == 30
    assert got[("B2", "")] == 7
    assert got[("B", "")] == 12
    assert got[("P", "")] == 43
    assert got[("A1", "小学")] == 4
    assert ("A", "小学") not in got and ("P", "小学") not in got
    assert got[("B", "小学")] == 100
    assert ("B2", "小学") not in got      # a leaf below it has none
    assert got[("B2", "初中")] == 3 and ("B", "初中") not in got
    # Leaves without a figure stay missing; a figure of 0 is a figure.
    assert ("A2", "小学") not in got
    assert effective_teacher_counts([("X", None), ("X1", "X")], {("X1", ""): 0}) == {
        ("X1", ""): 0, ("X", ""): 0}


def test_teacher_counts_snapshot(engine, data):
    with engine.begin() as conn:
        # A functional zone below 大田县 makes the tree ragged there.
        upsert_region(conn, "ZDT01", "大田县经济开发区", "350425", "zone")
        sanming = [c for c, p in conn.execute(select(Region.code, Region.parent_code))
                   if p == "350400"]
        putian = [c for c, p in conn.execute(select(Region.code, Region.parent_code))
                  if p == "350300"]
        rows = [{"region_code": c, "stage": "", "count": 100} for c in sanming if c != "350425"]
        rows += [{"region_code": "ZDT01", "stage": "", "count": 40}]        # 大田县 = 40
        rows += [{"region_code": c, "stage": "小学", "count": 10} for c in sanming
                 if c != "350481"]                                          # 永安市 lacks 小学
        rows += [{"region_code": c, "stage": "", "count": 1} for c in putian]
        rows += [{"region_code": "350300", "stage": "", "count": 500}]     # own figure wins
        conn.execute(insert(TeacherCount), rows)
    sid = refresh(engine, now=DAY1).snapshot_id
    with engine.connect() as conn:
        counts = read_counts(conn, sid)
    assert counts[("ZDT01", "")] == 40
    assert counts[("350425", "")] == 40
    assert counts[("350400", "")] == 100 * (len(sanming) - 1) + 40
    assert counts[("350300", "")] == 500
    assert counts[("350425", "小学")] == 10
    assert ("350400", "小学") not in counts
    assert ("350000", "") not in counts           # other prefectures have no figures
    assert ("350426", "初中") not in counts and ("350100", "") not in counts
    assert ("ZDT01", "小学") not in counts


# --------------------------------------------------------------------------- history


def test_history_replaced_on_the_same_day_and_kept_across_days(engine, data):
    day1 = DAY1.date()
    first = refresh(engine, now=DAY1)
    with engine.connect() as conn:
        assert read_history(conn, day1) == data.history_totals()

    data.set_hours("T-SUMMER", "13900000003", 100)  # 0 → 10 hours
    second = refresh(engine, now=DAY1 + timedelta(hours=12))
    expected_day1 = data.history_totals()
    with engine.connect() as conn:
        hist = read_history(conn, day1)
        assert hist == expected_day1
        ids = set(conn.scalars(select(AggHistory.snapshot_id).where(AggHistory.day == day1)))
    assert ids == {second.snapshot_id} != {first.snapshot_id}
    summer = data.training_ids["T-SUMMER"]
    assert hist[(summer, "350000", False)] == (13, 12, 1000, 8)
    assert hist[(summer, "350000", True)] == (9, 8, 650, 5)

    data.set_hours("T-SUMMER", "13900000008", 50)
    refresh(engine, now=DAY1 + timedelta(days=1))
    with engine.connect() as conn:
        assert read_history(conn, day1) == expected_day1
        assert read_history(conn, day1 + timedelta(days=1)) == data.history_totals()
        assert read_history(conn, day1 + timedelta(days=1)) != expected_day1


# --------------------------------------------------------------------------- switching


@pytest.mark.parametrize("step", ["_build_teacher_counts", "_write_history"])
def test_failed_refresh_keeps_the_previous_snapshot(engine, data, monkeypatch, step):
    first = refresh(engine, now=DAY1)
    before = reader_view(engine, first.snapshot_id)
    with engine.connect() as conn:
        history_before = read_history(conn, DAY1.date())
    data.set_hours("T-SUMMER", "13900000003", 100)
    seen = {}

    def broken(conn, sid, *args):
        # Rows of the new snapshot exist at this point; the failure must remove them.
        seen["sid"] = sid
        seen["rows"] = agg_rows(conn, sid)
        raise ValueError("disk full")

    monkeypatch.setattr(refresh_module, step, broken)
    with pytest.raises(RefreshError) as info:
        refresh(engine, now=DAY1 + timedelta(hours=1))
    assert isinstance(info.value.__cause__, ValueError)

    assert seen["rows"]["agg_school"] > 0 and seen["rows"]["agg_region"] > 0
    assert served(engine) == (first.snapshot_id, first.finished_at)
    assert reader_view(engine, first.snapshot_id) == before
    with engine.connect() as conn:
        assert set(agg_rows(conn, seen["sid"]).values()) == {0}
        assert read_history(conn, DAY1.date()) == history_before
    assert status(engine, seen["sid"]) == "failed"

    monkeypatch.undo()
    third = refresh(engine, now=DAY1 + timedelta(hours=2))
    with engine.connect() as conn:
        assert read_school(conn, third.snapshot_id) == data.school_totals()


def test_snapshot_retired_meanwhile_is_not_switched_to(engine, data, monkeypatch):
    """A concurrent refresh that retired this run's snapshot wins; this run fails cleanly."""
    first = refresh(engine, now=DAY1)
    real = refresh_module._build_teacher_counts

    def retired_meanwhile(conn, sid):
        real(conn, sid)
        conn.execute(update(Snapshot).where(Snapshot.id == sid).values(status="failed"))

    monkeypatch.setattr(refresh_module, "_build_teacher_counts", retired_meanwhile)
    with pytest.raises(RefreshError):
        refresh(engine, now=DAY1 + timedelta(hours=1))
    assert served(engine)[0] == first.snapshot_id
    with engine.connect() as conn:
        assert set(agg_rows(conn, first.snapshot_id + 1).values()) == {0}


def test_older_snapshots_and_leftovers_are_purged(engine, data):
    first = refresh(engine, now=DAY1)
    # A run killed during its build: a 'building' snapshot with some rows.
    with engine.begin() as conn:
        killed = conn.execute(insert(Snapshot).values(started_at=DAY1, status="building")
                              .returning(Snapshot.id)).scalar_one()
    plant_leftover(engine, killed)
    second = refresh(engine, now=DAY1 + timedelta(hours=1))
    third = refresh(engine, now=DAY1 + timedelta(hours=2))

    assert served(engine)[0] == third.snapshot_id
    assert status(engine, first.snapshot_id) == "retired"
    assert status(engine, killed) == "failed"
    assert status(engine, second.snapshot_id) == "ready"      # the previous one is kept
    with engine.connect() as conn:
        assert set(agg_rows(conn, first.snapshot_id).values()) == {0}
        assert set(agg_rows(conn, killed).values()) == {0}
        assert all(agg_rows(conn, second.snapshot_id)[t] > 0
                   for t in ("agg_school", "agg_region", "agg_teacher"))
        assert read_school(conn, second.snapshot_id) == read_school(conn, third.snapshot_id)


def test_reader_keeps_reading_the_snapshot_it_resolved(engine, data):
    first = refresh(engine, now=DAY1)
    with engine.connect() as conn:
        resolved, _ = current_snapshot(conn)
        before = read_region(conn, resolved, "subtree")
    assert before == data.region_totals("subtree")
    old_expected = data.region_totals("subtree")

    data.set_hours("T-SUMMER", "13900000008", 100)
    data.delete_school("S-YX-1")
    second = refresh(engine, now=DAY1 + timedelta(minutes=5))

    assert served(engine)[0] == second.snapshot_id != resolved == first.snapshot_id
    with engine.connect() as conn:
        # The request that resolved the old id still reads all of the old snapshot …
        assert read_region(conn, resolved, "subtree") == old_expected
        # … while new requests see the new one.
        new_id, _ = current_snapshot(conn)
        assert read_region(conn, new_id, "subtree") == data.region_totals("subtree")
        assert read_region(conn, new_id, "subtree") != old_expected


def test_snapshot_ids_and_day_of_history(engine, data):
    """Without a pinned clock the history row is written for today."""
    result = refresh(engine)
    assert result.finished_at >= result.started_at
    with engine.connect() as conn:
        assert read_history(conn, date.today()) == data.history_totals()


def test_failed_purge_does_not_undo_the_switch(engine, data, monkeypatch):
    first = refresh(engine, now=DAY1)
    second = refresh(engine, now=DAY1 + timedelta(hours=1))

    def broken(*args, **kwargs):
        raise OSError("database is locked")

    monkeypatch.setattr(refresh_module, "_purge", broken)
    third = refresh(engine, now=DAY1 + timedelta(hours=2))
    assert served(engine)[0] == third.snapshot_id
    with engine.connect() as conn:
        assert agg_rows(conn, first.snapshot_id)["agg_school"] > 0   # left for the next refresh
    monkeypatch.undo()
    fourth = refresh(engine, now=DAY1 + timedelta(hours=3))
    with engine.connect() as conn:
        assert {sid for sid in range(first.snapshot_id, fourth.snapshot_id + 1)
                if agg_rows(conn, sid)["agg_school"]} == {third.snapshot_id, fourth.snapshot_id}
    assert second.snapshot_id < third.snapshot_id


def test_postgresql_keeps_a_partition_per_snapshot_and_waits_little_for_readers(engine, data):
    """PostgreSQL: the served and the previous snapshot are partitions of every aggregate
    table; a retired snapshot whose partitions a reader still holds is left to the next
    refresh (after a moment's wait) instead of stalling the readers behind the drop."""
    if stores_in_files(engine):
        pytest.skip("SQLite keeps a file per snapshot")
    first = refresh(engine, now=DAY1)
    second = refresh(engine, now=DAY1 + timedelta(hours=1))

    def partitions():
        with engine.connect() as conn:
            return {parent: sorted(conn.exec_driver_sql(
                "SELECT n.nspname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE i.inhparent = '{parent}'::regclass").scalars())
                for parent in ("agg_school", "agg_region", "agg_teacher_count", "agg_teacher")}

    both = [f"snapshot_{first.snapshot_id}", f"snapshot_{second.snapshot_id}"]
    assert partitions() == {table: both for table in partitions()}
    with engine.connect() as conn:  # the build's working tables went with its commit
        assert sorted(conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = %(s)s",
            {"s": both[1]}).scalars()) == sorted(partitions())
    reader = engine.connect()
    try:
        reader.execute(select(func.count()).select_from(AggSchool)
                       .where(AggSchool.snapshot_id == first.snapshot_id))  # holds its lock
        started = time.perf_counter()
        third = refresh(engine, now=DAY1 + timedelta(hours=2))
        assert time.perf_counter() - started < 30
        assert served(engine)[0] == third.snapshot_id
        assert first.snapshot_id in snapshots_with_rows(engine)  # left behind, not waited for
    finally:
        reader.close()
    fourth = refresh(engine, now=DAY1 + timedelta(hours=3))
    assert snapshots_with_rows(engine) == {third.snapshot_id, fourth.snapshot_id}
    with engine.connect() as conn:
        assert read_school(conn, fourth.snapshot_id) == data.school_totals()
        # Vacuumed once served: every page all-visible, so the covering indexes answer by
        # index-only scans without visiting the rows' pages.
        for table in ("agg_school", "agg_region", "agg_teacher"):
            pages, visible = conn.exec_driver_sql(
                "SELECT relpages, relallvisible FROM pg_class "
                f"WHERE oid = 'snapshot_{fourth.snapshot_id}.{table}'::regclass").one()
            assert pages > 0 and visible == pages, table


# --------------------------------------------------------------------------- killed runs

_KILLED_RUN = """
import os, signal, sys
from data_access import refresh as r
from data_access.db import make_engine

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

setattr(r, sys.argv[2], die)
r.refresh(make_engine(sys.argv[1]))
"""


def killed_refresh(engine, step: str) -> None:
    """A refresh in its own process, killed with SIGKILL when it reaches ``step``."""
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run([sys.executable, "-c", _KILLED_RUN, url, step], timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr


@pytest.mark.parametrize("step", ["_build_teacher_list", "_purge"])
def test_killed_refreshes_leave_nothing_that_grows(engine, data, step):
    """Refreshes killed while building, or while deleting old snapshots (the switch is
    done then), never leave more than the next run's cleanup removes: after any number of
    kills the database holds the served snapshot, the previous one and at most the one
    killed run's leftover."""
    refresh(engine, now=DAY1)
    refresh(engine, now=DAY1 + timedelta(hours=1))
    for _ in range(6):
        killed_refresh(engine, step)
        assert len(snapshots_with_rows(engine)) <= 3
    final = refresh(engine, now=DAY1 + timedelta(hours=2))

    with engine.connect() as conn:
        statuses = dict(conn.execute(select(Snapshot.id, Snapshot.status)).all())
        assert "building" not in statuses.values()
        previous = max(sid for sid, st in statuses.items() if st == "ready" and sid != final.snapshot_id)
        assert snapshots_with_rows(engine) == {final.snapshot_id, previous}
        assert read_school(conn, final.snapshot_id) == data.school_totals()


def test_a_write_is_not_held_up_by_a_running_build(engine, data, monkeypatch):
    """A login (its session row and audit entry) must not wait for the refresh: while the
    build is running, another connection with a 200 ms busy timeout writes at once."""
    refresh(engine, now=DAY1)
    building, release = threading.Event(), threading.Event()
    real = refresh_module._build_teacher_counts

    def slow_build(conn, sid):
        real(conn, sid)          # inside the build's transaction, rows written
        building.set()
        release.wait(10)

    monkeypatch.setattr(refresh_module, "_build_teacher_counts", slow_build)
    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault("r", refresh(engine, now=DAY1 + timedelta(hours=1))))
    worker.start()
    try:
        assert building.wait(30)
        other = make_engine(engine.url.render_as_string(hide_password=False))
        try:
            with other.connect() as conn:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA busy_timeout=200")
                else:
                    conn.exec_driver_sql("SET lock_timeout = '200ms'")
                started = time.perf_counter()
                create_user(conn, "writer-during-build", "测试用户", "Passw0rd!2026")
                conn.commit()
                assert time.perf_counter() - started < 5
        finally:
            other.dispose()
    finally:
        release.set()
        worker.join(60)
    assert result["r"].snapshot_id == served(engine)[0]


def test_refresh_refuses_a_sqlite_database_of_the_old_layout(engine, data):
    """Before migration 0008 the aggregate tables sit in the main file, where readers would
    find them first: the refresh says to upgrade instead of building a snapshot nobody sees."""
    if not stores_in_files(engine):
        assert refresh(engine, now=DAY1).snapshot_id
        return
    with engine.begin() as conn:
        conn.execute(CreateTable(AggSchool.__table__))
    with pytest.raises(RefreshError, match="yanxiu db upgrade"):
        refresh(engine, now=DAY1)
    assert served(engine) is None
