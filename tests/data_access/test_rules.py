"""The shared scope rules (data_access/rules.py), and that the modules use them."""

import pathlib
import re

import pytest
from sqlalchemy import insert, select, update

from data_access import accounts, rules
from data_access.models import Binding, School
from data_access.scope import scope_of

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _scope(conn, account, role, target):
    uid = accounts.create_user(conn, account, account, "Passw0rd!x")
    return scope_of(conn, uid, accounts.grant(conn, uid, role, target))


@pytest.fixture
def schools(engine):
    with engine.begin() as conn:
        conn.execute(insert(School), [
            {"code": "S1", "name": "仙游县第一中学", "region_code": "350322", "kind": "学校"},
            {"code": "S2", "name": "宁化县第一中学", "region_code": "350424", "kind": "学校"},
        ])


def test_region_admins_only(engine, schools):
    with engine.begin() as conn:
        assert rules.is_region_admin(_scope(conn, "a", "region_super", "350300"))
        assert rules.is_region_admin(_scope(conn, "b", "region_training", "350322"))
        assert not rules.is_region_admin(_scope(conn, "c", "school_admin", "S1"))
    assert not rules.is_region_admin(None)


def test_in_subtree(engine, schools):
    with engine.connect() as conn:
        inside = set(conn.scalars(select(School.code).where(
            rules.in_subtree("350300", School.region_code))))
        everything = set(conn.scalars(select(School.code).where(
            rules.in_subtree("350000", School.region_code))))
        own = set(conn.scalars(select(School.code).where(
            rules.in_subtree("350424", School.region_code))))
    assert inside == {"S1"} and everything == {"S1", "S2"} and own == {"S2"}


def test_school_has_admin_follows_removal(engine, schools):
    with engine.begin() as conn:
        assert not rules.school_has_admin(conn, "S1")
        scope = _scope(conn, "s", "school_admin", "S1")
        assert rules.school_has_admin(conn, "S1") and not rules.school_has_admin(conn, "S2")
        with pytest.raises(accounts.AccountError):
            accounts.grant(conn, accounts.create_user(conn, "t", "t", "Passw0rd!x"),
                           "school_admin", "S1")
        conn.execute(update(Binding).where(Binding.id == scope.binding_id)
                     .values(removed_at=Binding.created_at))
        assert not rules.school_has_admin(conn, "S1")


def test_administers_is_the_one_table_of_spec_3(engine, schools):
    with engine.begin() as conn:
        city_super = _scope(conn, "cs", "region_super", "350300")
        city_training = _scope(conn, "ct", "region_training", "350300")
        school = _scope(conn, "sa", "school_admin", "S1")
        assert rules.administers(conn, city_super, "region_training", "350300")
        assert rules.administers(conn, city_super, "region_super", "350322")
        assert not rules.administers(conn, city_super, "region_super", "350300")
        assert not rules.administers(conn, city_super, "region_training", "350322")
        assert rules.administers(conn, city_super, "school_admin", "350322")
        assert not rules.administers(conn, city_super, "school_admin", "350424")
        assert rules.administers(conn, city_training, "school_admin", "350322")
        assert not rules.administers(conn, city_training, "region_training", "350300")
        assert not rules.administers(conn, school, "school_admin", "350322")
        assert rules.administers(conn, None, "region_super", "350000")


# Each rule once: no module outside the rules (and the region tree, the refresh, the
# indexed participant list and 激活进度's live roll-up, which read the closure for their own
# purposes) walks the region closure or looks for a school's admin binding by hand.
CLOSURE_USERS = {"data_access/rules.py", "data_access/regions.py", "data_access/refresh.py",
                 "data_access/participants.py", "data_access/models.py",
                 "data_access/activation.py"}


def test_the_rules_are_not_copied():
    for path in sorted((ROOT / "data_access").glob("*.py")) + sorted(
            (ROOT / "callbacks").glob("*.py")) + sorted((ROOT / "dashboard").glob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel not in CLOSURE_USERS:
            assert "RegionClosure" not in text, rel
        if rel != "data_access/rules.py":
            assert not re.search(r"Binding\.role == ROLE_SCHOOL_ADMIN", text), rel
            # "region admins only" is `rules.is_region_admin`, not a role test of its own
            assert "or scope.is_school" not in text and "is_school or" not in text, rel
