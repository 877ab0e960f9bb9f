"""Display tokens of the 大屏 (SPEC §4.6): random, stored as a hash, bound to one region inside
the issuer's scope and one training (or the current one), void once revoked or expired."""

import base64
import hashlib
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from data_access import accounts, display_tokens as dt
from data_access.models import DisplayToken, Training
from data_access.scope import scope_of
from data_access.trainings import current_training
from tests.helpers import build_dataset

NOW = datetime(2022, 8, 1, 10, 0)


def _scope(engine, account, role, code):
    with engine.begin() as conn:
        uid = accounts.create_user(conn, account, f"管理员{account}", "Passw0rd!x")
        return scope_of(conn, uid, accounts.grant(conn, uid, role, code))


@pytest.fixture
def world(engine):
    data = build_dataset(engine)
    return {**data,
            "province": _scope(engine, "fujian", "region_training", "350000"),
            "xianyou": _scope(engine, "xianyou", "region_super", "350322"),
            "school": _scope(engine, "xy-school", "school_admin", "S-XY-1")}


def _issue(engine, scope, region, training="", label="三楼会议室", **kwargs):
    with engine.begin() as conn:
        return dt.issue(conn, scope, user_id=scope.user_id if scope else None,
                        region_code=region, training_code=training, label=label,
                        now=kwargs.pop("now", NOW), **kwargs)


def test_a_token_has_at_least_128_random_bits_and_only_its_hash_is_stored(engine, world):
    issued = [_issue(engine, world["province"], "350322") for _ in range(20)]
    tokens = {i.token for i in issued}
    assert len(tokens) == 20
    for i in issued:
        raw = base64.urlsafe_b64decode(i.token + "=" * (-len(i.token) % 4))
        assert len(raw) * 8 >= 128
        assert i.path == f"/screen/{i.token}"
    with engine.connect() as conn:
        stored = conn.execute(select(DisplayToken)).all()
    assert len(stored) == 20
    by_id = {i.id: i.token for i in issued}
    for row in stored:
        token = by_id[row.id]
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert all(token not in str(value) for value in row)


def test_a_county_admin_issues_only_inside_its_county(engine, world):
    mine = _issue(engine, world["xianyou"], "350322")
    with engine.connect() as conn:
        assert dt.grant_of(conn, mine.token, NOW).region_code == "350322"
    for region in ("350304", "350300", "350000", "350424"):  # another county, above, elsewhere
        with pytest.raises(dt.TokenError, match="不在您的管理范围内"):
            _issue(engine, world["xianyou"], region)
    with pytest.raises(dt.TokenError, match="不在您的管理范围内"):
        _issue(engine, world["school"], "350322")
    # the province reaches every region below it
    assert _issue(engine, world["province"], "350424").id
    with engine.connect() as conn:
        assert len(dt.list_tokens(conn, None)) == 2


@pytest.mark.parametrize("region", [None, "", "999999", "\x00", "35\x0022", "x" * 10000,
                                    ["350322"], {"code": "350322"}, 350322, True])
def test_unknown_or_malformed_regions_are_refused(engine, world, region):
    with pytest.raises(dt.TokenError, match="区域不存在"):
        _issue(engine, world["province"], region)


@pytest.mark.parametrize("training", ["NOPE", "\x00", "T2022' --", "x" * 5000, 0, 7, False,
                                      [], ["T2022"], {"code": "T2022"}])
def test_unknown_or_malformed_trainings_are_refused(engine, world, training):
    with pytest.raises(dt.TokenError, match="培训不存在"):
        _issue(engine, world["province"], "350322", training)


@pytest.mark.parametrize("label, message", [
    (None, "请填写大屏名称"), ("", "请填写大屏名称"), ("   ", "请填写大屏名称"),
    ({"x": 1}, "请填写大屏名称"), (["三楼"], "请填写大屏名称"), (42, "请填写大屏名称"),
    ("三楼\x00会议室", "控制字符"), ("三楼\u202e会议室", "控制字符"), ("大" * 41, "最多 40 个字"),
    ("x" * 100000, "最多 40 个字"), ("\u200b", "请填写大屏名称"),
    ("\ufeff \u200d", "请填写大屏名称")])
def test_labels_are_required_short_and_printable(engine, world, label, message):
    with pytest.raises(dt.TokenError, match=message):
        _issue(engine, world["province"], "350322", label=label)
    assert dt.clean_label("  三楼会议室 ") == "三楼会议室"
    assert dt.clean_label("大" * 40) == "大" * 40


def test_expiry_is_the_end_of_the_chosen_day_and_never_in_the_past():
    today = date(2022, 8, 1)
    assert dt.expiry_of(None, today) is None
    assert dt.expiry_of(today, today) == datetime(2022, 8, 1, 23, 59, 59)
    with pytest.raises(dt.TokenError, match="不能早于今天"):
        dt.expiry_of(today - timedelta(days=1), today)
    with pytest.raises(dt.TokenError, match="最长十年"):
        dt.expiry_of(today + timedelta(days=3661), today)


def test_expired_and_revoked_tokens_grant_nothing(engine, world):
    until_today = _issue(engine, world["province"], "350322", expires_on=NOW.date())
    revoked = _issue(engine, world["province"], "350322", label="大厅")
    kept = _issue(engine, world["province"], "350300", training="T2022", label="会议室")
    with engine.begin() as conn:
        assert dt.grant_of(conn, until_today.token, NOW.replace(hour=23, minute=59)) is not None
        assert dt.grant_of(conn, until_today.token, NOW + timedelta(days=1)) is None
        dt.revoke(conn, world["province"], revoked.id, user_id=world["province"].user_id,
                  now=NOW)
        assert dt.grant_of(conn, revoked.token, NOW) is None
        with pytest.raises(dt.TokenError, match="已撤销"):
            dt.revoke(conn, world["province"], revoked.id, user_id=None, now=NOW)
        statuses = {r.id: r.status for r in dt.list_tokens(conn, world["province"],
                                                           NOW + timedelta(days=1))}
        grant = dt.grant_of(conn, kept.token, NOW)
    assert statuses == {until_today.id: "已过期", revoked.id: "已撤销", kept.id: "有效"}
    assert (grant.region_code, grant.training_id) == ("350300", world["training_id"])


def test_revoking_outside_the_scope_is_refused(engine, world):
    province_link = _issue(engine, world["province"], "350000")
    neighbour = _issue(engine, world["province"], "350304")
    own = _issue(engine, world["xianyou"], "350322")
    with engine.begin() as conn:
        for token_id in (province_link.id, neighbour.id, 10**6):
            with pytest.raises(dt.TokenError, match="不存在或不在您的管理范围内"):
                dt.revoke(conn, world["xianyou"], token_id, user_id=world["xianyou"].user_id)
        for forged in ("1", [own.id], {"id": own.id}, True, 1.0, -1, 0, 2**40, None):
            with pytest.raises(dt.TokenError, match="不存在"):
                dt.revoke(conn, world["xianyou"], forged, user_id=None)
        # the county sees only its own link; the province sees all three
        assert [r.id for r in dt.list_tokens(conn, world["xianyou"])] == [own.id]
        assert len(dt.list_tokens(conn, world["province"])) == 3
        assert dt.grant_of(conn, province_link.token) is not None
        assert dt.grant_of(conn, neighbour.token) is not None
        # a region admin of the scope may revoke a link another admin of it issued
        row = dt.revoke(conn, world["province"], own.id, user_id=world["province"].user_id)
        assert row.label == "三楼会议室" and row.status == "有效"
        assert dt.grant_of(conn, own.token) is None
        revoked_by = conn.scalar(select(DisplayToken.revoked_by)
                                 .where(DisplayToken.id == own.id))
    assert revoked_by == world["province"].user_id


def test_grant_of_refuses_malformed_tokens_unread(engine, world):
    issued = _issue(engine, world["province"], "350322")
    forged = [None, "", 42, {"token": issued.token}, [issued.token], issued.token[:-1],
              issued.token + "A", issued.token + "\n", " " + issued.token,
              issued.token[:-1] + "/", issued.token[:-1] + "=", "A" * 32, "\x00" * 32,
              "x" * 100000, issued.token.upper() if issued.token.upper() != issued.token
              else issued.token.lower()]
    with engine.connect() as conn:
        for token in forged:
            assert dt.grant_of(conn, token) is None, repr(token)
        assert dt.grant_of(conn, issued.token).token_id == issued.id
    assert dt.token_in_path(issued.path) == issued.token
    for path in ("/screen/", "/screen/../x", f"/screens/{issued.token}", None, {"a": 1},
                 f"/screen/{issued.token}/x", f"/screen/{issued.token}\n"):
        assert dt.token_in_path(path) is None


def test_a_link_without_training_follows_the_current_one(engine, world):
    link = _issue(engine, world["province"], "350322", training="")
    with engine.begin() as conn:
        grant = dt.grant_of(conn, link.token, NOW)
        row = dt.list_tokens(conn, world["province"], NOW)[0]
        assert grant.training_id is None
        assert (row.training_code, row.training_name) == (None, dt.CURRENT_TRAINING_LABEL)

        def add(code, start, end):
            conn.execute(insert(Training).values(
                code=code, name=f"培训{code}", start_at=start, end_at=end,
                hours_cap_tenths=100, created_at=start))

        # T2022 runs 2022-07-20 … 2022-08-31
        assert current_training(conn, NOW).code == "T2022"
        add("LATER", datetime(2022, 7, 25), datetime(2022, 12, 31))
        assert current_training(conn, NOW).code == "LATER"  # the running one started last
        assert current_training(conn, datetime(2023, 3, 1)).code == "LATER"  # latest finished
        add("NEXT", datetime(2030, 1, 1), datetime(2030, 2, 1))
        assert current_training(conn, datetime(2022, 1, 1)).code == "T2022"  # first upcoming
        choices = [t.code for t in dt.training_choices(conn)]
    assert choices == ["NEXT", "LATER", "T2022"]  # newest first
