"""The demo's admin accounts (data_access.demo.seed_admins): activation at several levels,
deterministic, and the 激活进度 table over them equals an independent computation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from data_access import accounts, activation
from data_access.demo import demo_schools, generate, seed_admins
from data_access.importers import import_file
from data_access.models import Binding, School, User
from data_access.regions import get_region
from tests.activation_fixture import FxBinding, FxSchool, Oracle, names_of, parents_of

TODAY = dt.date(2025, 1, 15)


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    return generate("small", tmp_path_factory.mktemp("small-admins"), today=TODAY)


def _seeded(engine, files):
    for kind in ("regions", "schools"):
        import_file(engine, kind, files[kind], id_key=b"k")
    picks = demo_schools(files["schools"])
    with engine.begin() as conn:
        uid = accounts.create_user(conn, "demo-school", "郑晓峰", "Demo@2026x")
        accounts.grant(conn, uid, "school_admin", picks["xianyou-middle"][0])
        uid = accounts.create_user(conn, "demo-county", "黄文斌", "Demo@2026x")
        accounts.grant(conn, uid, "region_training", "350322")
        result = seed_admins(conn, today=TODAY)
    return result, picks


def _bindings(engine):
    with engine.connect() as conn:
        return conn.execute(
            select(User.account, User.name, Binding.role, Binding.region_code,
                   Binding.school_code, Binding.contact_name, Binding.contact_phone,
                   Binding.created_at, Binding.removed_at)
            .join(User, User.id == Binding.user_id).order_by(Binding.id)).all()


def test_activation_at_several_levels(engine, small_files):
    result, picks = _seeded(engine, small_files)
    assert result.school_admins > 0 and result.region_admins > 0 and result.removed > 0
    with engine.connect() as conn:
        putian = activation.activation_table(conn, get_region(conn, "350300"))
        sanming = activation.activation_table(conn, get_region(conn, "350400"))
        xianyou = activation.activation_table(conn, get_region(conn, "350322"))
    counties = [r for t in (putian, sanming) for r in t.rows if r.kind == "region"]
    shares = {r.code: r.counts.activated / r.counts.schools for r in counties if r.counts.schools}
    assert shares["350302"] == 1.0  # complete
    assert 0.5 < shares["350322"] < 1.0  # partial
    assert shares["350399"] < 0.5  # lagging
    assert any(s == 1.0 for c, s in shares.items() if c != "350302")
    assert any(0 < s < 1 for c, s in shares.items() if c != "350322")
    # 湄洲岛 has no region admin at all, every prefecture has one
    with engine.connect() as conn:
        region_admins = {c for (c,) in conn.execute(
            select(Binding.region_code).where(Binding.region_code.is_not(None),
                                              Binding.removed_at.is_(None)))}
    assert "350399" not in region_admins
    assert {"350000", "350300", "350400"} <= region_admins
    # at the lowest level: schools without an admin, and admins with masked phones
    statuses = [r.activated for r in xianyou.rows if r.kind == "school"]
    assert False in statuses and True in statuses
    phones = [r.admin_phone for r in xianyou.rows
              if r.kind == "school" and r.activated and r.code != picks["xianyou-middle"][0]]
    assert phones and all(p.startswith("177****") and len(p) == 11 for p in phones)


def test_demo_logins_keep_their_schools_and_regions(engine, small_files):
    _, picks = _seeded(engine, small_files)
    rows = _bindings(engine)
    school = picks["xianyou-middle"][0]
    current = [r for r in rows if r.school_code == school and r.removed_at is None]
    assert [r.account for r in current] == ["demo-school"]
    xianyou = [r for r in rows if r.region_code == "350322" and r.removed_at is None]
    assert [r.account for r in xianyou] == ["demo-county"]


def test_seeded_accounts_cannot_log_in(engine, small_files):
    _seeded(engine, small_files)
    account = next(r.account for r in _bindings(engine) if r.account.startswith("177"))
    with engine.connect() as conn:
        assert accounts.authenticate(conn, account, "Demo@2026") is None
        assert accounts.authenticate(conn, account, account) is None


def test_deterministic_and_seeded_once(database_url, engine, small_files, tmp_path):
    from data_access.db import make_engine
    from data_access.schema import upgrade

    _seeded(engine, small_files)
    first = _bindings(engine)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        upgrade(other)
        _seeded(other, small_files)
        assert _bindings(other)[2:] == first[2:]  # after the two demo logins' (made now)
    finally:
        other.dispose()
    with engine.begin() as conn:
        assert seed_admins(conn, today=TODAY).school_admins == 0
    assert _bindings(engine) == first
    assert len(first) > 40


def test_the_table_over_the_demo_equals_an_independent_computation(engine, small_files):
    _seeded(engine, small_files)
    with engine.connect() as conn:
        schools = [FxSchool(c, n, r, k, d is not None) for c, n, r, k, d in conn.execute(
            select(School.code, School.name, School.region_code, School.kind,
                   School.deleted_at))]
    bindings = [FxBinding(r.role, r.school_code or r.region_code, r.removed_at is not None,
                          r.contact_name or r.name, r.contact_phone)
                for r in _bindings(engine)]
    oracle = Oracle(parents_of(engine), schools, bindings)
    names = names_of(engine)
    for code in ("350000", "350300", "350400", "350322", "350399", "350402"):
        with engine.connect() as conn:
            table = activation.activation_table(conn, get_region(conn, code))
            unactivated = list(activation.iter_unactivated(conn, get_region(conn, code)))
        regions, school_rows = activation.table_records(table)
        got = ([[r["name"]] + [r[f] for _, f in activation.TABLE_COLUMNS] for r in regions],
               [[r[f] for _, f in activation.SCHOOL_COLUMNS] for r in school_rows])
        assert got == oracle.table(code, names), code
        assert [s.code for s in unactivated] == [s.code for s in oracle.unactivated(code)]


def test_the_demo_school_has_a_review_backlog_and_its_statistics_stay(engine, small_files):
    from sqlalchemy import func

    from data_access.demo import IMPORT_ORDER, seed_review_backlog
    from data_access.models import Teacher, TrainingRecord

    for kind in IMPORT_ORDER:
        import_file(engine, kind, small_files[kind], id_key=b"k")
    school = demo_schools(small_files["schools"])["xianyou-middle"][0]

    def statuses():
        with engine.connect() as conn:
            return dict(conn.execute(select(Teacher.cert_status, func.count())
                                     .where(Teacher.school_code == school)
                                     .group_by(Teacher.cert_status)).all())

    def participants():
        with engine.connect() as conn:
            return conn.execute(select(Teacher.cert_status, func.count())
                                .join(TrainingRecord, TrainingRecord.teacher_id == Teacher.id)
                                .where(Teacher.school_code == school)
                                .group_by(Teacher.cert_status)).all()

    before, taking_part = statuses(), participants()
    with engine.connect() as conn:
        idle = conn.scalar(select(func.count()).select_from(Teacher).where(
            Teacher.school_code == school,
            Teacher.id.not_in(select(TrainingRecord.teacher_id))))
    with engine.begin() as conn:
        backlog = seed_review_backlog(conn, school, today=TODAY)
    assert idle >= 3 and backlog.rejected == 3
    assert backlog.pending == min(24, idle - 3)
    after = statuses()
    assert after["未审核"] >= backlog.pending and after["未通过"] >= 3
    assert sum(after.values()) == sum(before.values())
    assert participants() == taking_part  # nobody who took part was touched
    with engine.begin() as conn:  # seeded once
        assert seed_review_backlog(conn, school, today=TODAY).pending == 0


def test_the_demo_history_is_consistent_day_by_day(engine, small_files):
    """seed_history: every day a region is at least the sum of its children and at most
    that plus its own part of today; nothing goes down; completed ≤ learners ≤
    participants; 已通过 ≤ everyone; the last day is the refresh's own."""
    from collections import defaultdict

    from data_access.demo import IMPORT_ORDER, seed_history
    from data_access.models import AggHistory, Region
    from data_access.refresh import refresh

    for kind in IMPORT_ORDER:
        import_file(engine, kind, small_files[kind], id_key=b"k")
    refresh(engine, now=dt.datetime.combine(TODAY, dt.time(2, 0)))
    with engine.begin() as conn:
        written = seed_history(conn, TODAY)
        assert written > 0
        assert seed_history(conn, TODAY) == 0  # days that have rows are left alone
        parents = dict(conn.execute(select(Region.code, Region.parent_code)).all())
        rows = conn.execute(select(AggHistory.__table__)).all()
    table = {(r.day, r.training_id, r.region_code, r.certified_only):
             (r.participants, r.learners, r.hours_tenths, r.completed) for r in rows}
    days = defaultdict(set)
    for day, tid, _, _ in table:
        days[tid].add(day)
    assert all(len(d) >= 20 for d in days.values())  # a month of the running training at least
    for (day, tid, code, certified), (p, l, h, c) in table.items():
        assert 0 <= c <= l <= p, (day, code)
        if certified:
            everyone = table.get((day, tid, code, False))
            assert everyone and all(a <= b for a, b in zip((p, l, h, c), everyone))
        kids = [v for (d, t, k, cert), v in table.items()
                if d == day and t == tid and cert == certified and parents.get(k) == code]
        sums = [sum(v[i] for v in kids) for i in range(4)]
        assert all(mine >= s for mine, s in zip((p, l, h, c), sums)), (day, code)
        latest = table[(TODAY, tid, code, certified)]
        assert all(mine <= last for mine, last in zip((p, l, h, c), latest)), (day, code)
    for (day, tid, code, certified), values in table.items():
        previous = table.get((day - dt.timedelta(days=1), tid, code, certified))
        if previous:
            assert all(a >= b for a, b in zip(values, previous)), (day, code)


def test_seeding_leaves_the_planner_statistics_of_the_admins(engine, small_files):
    """PostgreSQL: thousands of bindings written at once look like none to the planner until
    an ANALYZE, and 激活进度 then takes seconds; the seeding renews the statistics."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    _seeded(engine, small_files)
    with engine.connect() as conn:
        for table in ("users", "bindings"):
            estimate = conn.exec_driver_sql(
                f"SELECT reltuples FROM pg_class WHERE oid = '{table}'::regclass").scalar()
            count = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
            assert count > 50 and estimate == count, table
