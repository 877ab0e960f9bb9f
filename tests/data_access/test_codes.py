import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from data_access import accounts, codes
from data_access.models import Binding, PermissionCode, School
from data_access.scope import scope_of


def _user(conn, account):
    return accounts.create_user(conn, account, account, "Passw0rd!x")


def _scope(conn, account, role, target):
    uid = _user(conn, account)
    bid = accounts.grant(conn, uid, role, target)
    return scope_of(conn, uid, bid)


@pytest.fixture
def schools(engine):
    with engine.begin() as conn:
        conn.execute(insert(School), [
            {"code": "S1", "name": "仙游县第一中学", "region_code": "350322", "kind": "学校"},
            {"code": "S2", "name": "宁化县第一中学", "region_code": "350424", "kind": "学校"},
        ])


def test_code_format_entropy_and_storage(engine):
    code = codes.new_code()
    groups = code.split("-")
    assert len(groups) == 7 and all(len(g) == 4 for g in groups)
    assert len(set(codes.new_code() for _ in range(200))) == 200
    with engine.begin() as conn:
        issued = codes.issue(conn, None, "region_super", "350000")
        stored = conn.execute(select(PermissionCode.code_hash, PermissionCode.hint)).one()
    assert issued.code not in (stored.code_hash, stored.hint)
    assert stored.code_hash == codes.code_hash(issued.code)
    # typed in lower case, without dashes, with O for 0: still the same code
    assert codes.code_hash(issued.code.lower().replace("-", " ").replace("0", "o")) == stored.code_hash


def test_issuing_rules_follow_the_role_table(engine, schools):
    with engine.begin() as conn:
        fj_super = _scope(conn, "fj", "region_super", "350000")
        pt_training = _scope(conn, "pt", "region_training", "350300")
        codes.issue(conn, fj_super, "region_training", "350000")
        codes.issue(conn, fj_super, "region_super", "350300")  # direct child
        with pytest.raises(codes.CodeError):
            codes.issue(conn, fj_super, "region_super", "350322")  # grandchild
        with pytest.raises(codes.CodeError):
            codes.issue(conn, fj_super, "region_training", "350300")
        with pytest.raises(codes.CodeError):
            codes.issue(conn, pt_training, "region_training", "350300")
        codes.issue(conn, pt_training, "school_admin", "S1")
        with pytest.raises(codes.CodeError):
            codes.issue(conn, pt_training, "school_admin", "S2")  # outside 莆田市
        with pytest.raises(codes.CodeError):
            codes.issue(conn, pt_training, "school_admin", "S1")  # open code exists


def test_single_use_under_concurrent_redemption(engine):
    with engine.begin() as conn:
        issued = codes.issue(conn, None, "region_training", "350300")
        users = [_user(conn, f"u{i}") for i in range(2)]
    results = []
    barrier = threading.Barrier(2)

    def redeem(uid):
        barrier.wait()
        try:
            with engine.begin() as conn:
                codes.redeem(conn, uid, issued.code, contact_name="张三",
                             contact_phone="13800000000", org_title="教育局")
            results.append("ok")
        except codes.CodeError:
            results.append("refused")
        except Exception as exc:  # a lost write race surfaces as a database error
            results.append(f"error:{type(exc).__name__}")

    threads = [threading.Thread(target=redeem, args=(u,)) for u in users]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count("ok") == 1, results
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Binding)) == 1


def test_one_school_admin_even_with_two_codes(engine, schools):
    with engine.begin() as conn:
        first = codes.issue(conn, None, "school_admin", "S1")
        conn.execute(PermissionCode.__table__.insert().values(
            code_hash=codes.code_hash("SECOND-CODE"), hint="CODE", role="school_admin",
            school_code="S1", issued_at=datetime.now(),
            expires_at=datetime.now() + timedelta(days=1)))
        a, b = _user(conn, "a"), _user(conn, "b")
    with engine.begin() as conn:
        codes.redeem(conn, a, first.code, contact_name="甲", contact_phone="13800000000",
                     org_title="校长")
    with pytest.raises(codes.CodeError):
        with engine.begin() as conn:
            codes.redeem(conn, b, "SECOND-CODE", contact_name="乙",
                         contact_phone="13800000001", org_title="教师")


def test_expiry_revocation_and_status_list(engine, schools):
    now = datetime.now()
    with engine.begin() as conn:
        pt = _scope(conn, "pt", "region_super", "350300")
        old = codes.issue(conn, pt, "region_training", "350300", now=now - timedelta(days=15))
        revoked = codes.issue(conn, pt, "school_admin", "S1")
        codes.revoke(conn, pt, revoked.id)
        used = codes.issue(conn, None, "region_super", "350322")
        uid = _user(conn, "redeemer")
        codes.redeem(conn, uid, used.code, contact_name="王五", contact_phone="13800000002",
                     org_title="教育局")
        with pytest.raises(codes.CodeError, match="过期"):
            codes.redeem(conn, uid, old.code, contact_name="x", contact_phone="13800000002",
                         org_title="x")
        with pytest.raises(codes.CodeError, match="撤销"):
            codes.redeem(conn, uid, revoked.code, contact_name="x", contact_phone="13800000002",
                         org_title="x")
        listed = {r.id: r for r in codes.codes_in_scope(conn, pt)}
        assert listed[old.id].status == codes.STATUS_EXPIRED
        assert listed[revoked.id].status == codes.STATUS_REVOKED
        assert listed[used.id].status == codes.STATUS_USED
        # the name the redeemer gave at binding (the issuer's contact), and the account
        assert listed[used.id].redeemed_by_name == "王五"
        assert listed[used.id].redeemed_by_account == "redeemer"
        # a county admin elsewhere sees none of them
        nh = _scope(conn, "nh", "region_super", "350424")
        assert codes.codes_in_scope(conn, nh) == []
        with pytest.raises(codes.CodeError):
            codes.revoke(conn, nh, old.id)


def test_revoking_follows_the_issuing_rule(engine, schools):
    """D1: a 专项管理员 may not revoke the region codes its super admin issued; the super
    admin may; 学校管理员 codes in the subtree may be revoked by both, as both may issue them."""
    with engine.begin() as conn:
        pt_super = _scope(conn, "pt-super", "region_super", "350300")
        pt_training = _scope(conn, "pt-training", "region_training", "350300")
        own_training = codes.issue(conn, pt_super, "region_training", "350300")
        child_super = codes.issue(conn, pt_super, "region_super", "350322")
        school_by_super = codes.issue(conn, pt_super, "school_admin", "S1")
        for code in (own_training, child_super):
            with pytest.raises(codes.CodeError, match="无权撤销"):
                codes.revoke(conn, pt_training, code.id)
        listed = {r.id: r for r in codes.codes_in_scope(conn, pt_training)}
        assert not listed[own_training.id].revocable and not listed[child_super.id].revocable
        assert listed[school_by_super.id].revocable
        assert all(r.revocable for r in codes.codes_in_scope(conn, pt_super))
        codes.revoke(conn, pt_training, school_by_super.id)
        school_by_training = codes.issue(conn, pt_training, "school_admin", "S1")
        codes.revoke(conn, pt_super, school_by_training.id)
        codes.revoke(conn, pt_super, own_training.id)
        codes.revoke(conn, pt_super, child_super.id)
        revoked = dict(conn.execute(select(PermissionCode.id, PermissionCode.revoked_at)).all())
    assert all(revoked[c.id] is not None for c in (own_training, child_super, school_by_super,
                                                    school_by_training))
