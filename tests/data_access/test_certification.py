"""教师管理's data (SPEC §5.2): facet counts that follow the other facets' choices, computed
independently from the fixture's teachers; the list; decisions kept to one school."""

from __future__ import annotations

import itertools
import re
import json
from datetime import datetime

import pytest
from sqlalchemy import insert, select, update

from data_access import certification as cert
from data_access.models import AuditLog, School, Teacher

SCHOOL, OTHER = "S-CERT-1", "S-CERT-2"
STATUSES = ("已通过", "未审核", "未通过")
TITLES = ("一级教师", "高级教师", None)
STAGES = ("小学", "初中")


@pytest.fixture
def teachers(engine):
    """30 teachers of one school over every (status, title, stage) mix, unevenly, and a few
    of another school that must never count."""
    rows = []
    mixes = list(itertools.product(STATUSES, TITLES, STAGES))
    for i in range(30):
        status, title, stage = mixes[(i * 7) % len(mixes)]
        rows.append({"account": f"1390000{i:04d}", "name": f"教师{i}", "school_code": SCHOOL,
                     "stage": stage, "subject": "语文", "title": title,
                     "cert_status": status, "applied_at": datetime(2024, 1, 1 + i % 28)})
    for i in range(4):
        rows.append({"account": f"1370000{i:04d}", "name": f"外校{i}", "school_code": OTHER,
                     "stage": "小学", "subject": "数学", "title": None,
                     "cert_status": "未审核", "applied_at": datetime(2024, 2, 1)})
    with engine.begin() as conn:
        conn.execute(insert(School), [
            {"code": SCHOOL, "name": "认证小学", "region_code": "350322", "kind": "学校",
             "urban_rural": "城区"},
            {"code": OTHER, "name": "外校", "region_code": "350322", "kind": "学校",
             "urban_rural": "城区"}])
        conn.execute(insert(Teacher), rows)
    return [r for r in rows if r["school_code"] == SCHOOL]


def _expected(rows, f: cert.CertFilters) -> dict[str, list[tuple[str, int]]]:
    def keep(r, skip):
        return all(not f.value(facet) or facet == skip or (
            (r["title"] or cert.NO_TITLE) if facet == "title" else r[key]) == f.value(facet)
            for facet, key in (("status", "cert_status"), ("title", "title"), ("stage", "stage")))

    out = {}
    for facet, key, values in (("status", "cert_status", cert._ALLOWED["status"]),
                               ("title", "title", cert._ALLOWED["title"]),
                               ("stage", "stage", cert._ALLOWED["stage"])):
        chosen = [r for r in rows if keep(r, facet)]
        out[facet] = [(v, sum(1 for r in chosen if (
            (r[key] or cert.NO_TITLE) if facet == "title" else r[key]) == v)) for v in values]
    return out


@pytest.mark.parametrize("choice", [
    {}, {"status": "未审核"}, {"title": "一级教师"}, {"stage": "初中"},
    {"status": "已通过", "stage": "小学"}, {"status": "未通过", "title": cert.NO_TITLE},
    {"status": "未审核", "title": "高级教师", "stage": "初中"},
])
def test_facet_counts_follow_the_other_facets(engine, teachers, choice):
    f = cert.filters_from(**{"status": "", "title": "", "stage": "", **choice})
    with engine.connect() as conn:
        assert cert.facet_counts(conn, SCHOOL, f) == _expected(teachers, f)
        listed = cert.count_teachers(conn, SCHOOL, f)
    expected = _expected(teachers, f)
    # the list holds exactly the teachers the chosen facets leave
    assert listed == sum(n for v, n in expected["status"] if not f.status or v == f.status)


def test_bad_facet_values_are_refused(engine, teachers):
    for bad in ({"status": "通过"}, {"title": 5}, {"stage": ["小学"]}, {"stage": None}):
        with pytest.raises(cert.CertificationError):
            cert.filters_from(**{"status": "", "title": "", "stage": "", **bad})


def test_the_list_is_masked_and_paged_oldest_application_first(engine, teachers):
    f = cert.filters_from()
    with engine.connect() as conn:
        first = cert.list_teachers(conn, SCHOOL, f, page=1, size=20)
        second = cert.list_teachers(conn, SCHOOL, f, page=2, size=20)
        everything = [r for batch in cert.iter_teachers(conn, SCHOOL, f, batch=7) for r in batch]
    assert (len(first), len(second)) == (20, 10)
    assert not {r.id for r in first} & {r.id for r in second}
    assert [r.id for r in everything] == [r.id for r in first + second]
    assert len(everything) == 30
    assert all("****" in r.account and not r.account.isdigit() for r in everything)
    assert [r.applied_at for r in everything] == sorted(r.applied_at for r in everything)


def _ids(engine, school, status=None):
    with engine.connect() as conn:
        stmt = select(Teacher.id).where(Teacher.school_code == school)
        if status:
            stmt = stmt.where(Teacher.cert_status == status)
        return list(conn.scalars(stmt.order_by(Teacher.id)))


def test_decisions_stay_inside_the_school_and_are_audited(engine, teachers):
    pending = _ids(engine, SCHOOL, "未审核")
    with engine.begin() as conn:
        done = cert.decide(conn, SCHOOL, 9, pending[:3], True, actor="郑晓峰（13***78）")
        rejected = cert.decide(conn, SCHOOL, 9, pending[3:4], False, reason="  证件照片\t不清晰 ")
    assert (done.teachers, done.unchanged, rejected.teachers) == (3, 0, 1)
    with engine.connect() as conn:
        row = conn.execute(select(Teacher.cert_status, Teacher.decided_by,
                                  Teacher.decision_reason).where(Teacher.id == pending[3])).one()
        entries = conn.execute(select(AuditLog.action, AuditLog.scope_school, AuditLog.detail)
                               .order_by(AuditLog.id)).all()
        regions = set(conn.scalars(select(AuditLog.scope_region)))
    assert regions == {"350322"}
    assert tuple(row) == ("未通过", 9, "证件照片 不清晰")
    assert [(a, s) for a, s, _ in entries] == [("cert_decision", SCHOOL)] * 2
    detail = json.loads(entries[1][2])
    assert detail == {"status": "未通过", "teachers": 1, "reason": "证件照片 不清晰",
                      "accounts": [detail["accounts"][0]]}
    assert re.fullmatch(r"139\*{4}\d{4}", detail["accounts"][0])
    # a teacher of another school, anywhere in the request, refuses the whole request
    outsider = _ids(engine, OTHER)[0]
    before = _ids(engine, SCHOOL, "未审核")
    for bad in ([outsider], [before[0], outsider], [], [True], ["1"], [0], [2**40], "1", None,
                list(range(1, 600))):
        with engine.begin() as conn, pytest.raises(cert.CertificationError):
            cert.decide(conn, SCHOOL, 9, bad, True)
    assert _ids(engine, SCHOOL, "未审核") == before
    assert _ids(engine, OTHER, "未审核") == _ids(engine, OTHER)
    # deciding again what is already so changes and logs nothing
    with engine.begin() as conn:
        again = cert.decide(conn, SCHOOL, 9, pending[:3], True)
    assert (again.teachers, again.unchanged) == (0, 3)


def test_a_school_without_urban_rural_type_cannot_decide(engine, teachers):
    with engine.begin() as conn:
        conn.execute(update(School).where(School.code == SCHOOL).values(urban_rural=None))
    with engine.begin() as conn, pytest.raises(cert.CertificationError, match="城乡类型"):
        cert.decide(conn, SCHOOL, 9, _ids(engine, SCHOOL)[:1], True)
    with engine.connect() as conn:  # viewing still works
        assert cert.count_teachers(conn, SCHOOL, cert.filters_from()) == 30
