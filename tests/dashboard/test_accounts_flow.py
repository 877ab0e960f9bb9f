"""Register → refused everything → bind a code issued in the UI → see exactly that scope."""

import re

from sqlalchemy import select

from data_access.models import AuditLog
from data_access.refresh import refresh
from tests.helpers import (
    build_dataset,
    call_callback,
    csrf,
    login,
    make_admin,
    render_region,
    text_of,
)

ISSUE_OUTPUTS = ["codes-issued.children", "codes-message.children", "codes-reload.data"]


def register(client, account="newbie01", phone="13912345678"):
    token = csrf(client)
    return client.post("/register", data={"account": account, "password": "Passw0rd!x",
                                          "name": "新用户", "phone": phone,
                                          "csrf_token": token})


def issue_in_ui(client, role, target):
    resp = call_callback(
        client, ISSUE_OUTPUTS,
        [{"id": "codes-issue", "property": "n_clicks", "value": 1}],
        state=[{"id": "codes-role", "property": "value", "value": role},
               {"id": "codes-target", "property": "value", "value": target},
               {"id": "codes-reload", "property": "data", "value": 0}])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    text = resp.get_data(as_text=True)
    match = re.search(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){6}", text)
    assert match, text
    return match.group(0)


def test_new_user_is_refused_until_bound_then_sees_exactly_the_county(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)

    resp = register(client)
    assert resp.status_code == 302 and resp.headers["Location"] == "/bind"
    # no binding: every page leads to the binding page, callbacks and downloads give nothing
    assert client.get("/").headers["Location"] == "/bind"
    assert client.get("/training/T2022").headers["Location"] == "/bind"
    assert client.get("/codes").headers["Location"] == "/bind"
    assert client.get("/export/training/T2022/regions.csv").status_code == 403
    grid = render_region(client, region="350322")
    assert grid.status_code == 204
    assert client.get("/bind").status_code == 200

    # the city's super admin issues a county code in the UI (a province issues to its
    # direct children the same way)
    city = app.test_client()
    login(city, make_admin(engine, "region_super", "350300", "putian-super"))
    code = issue_in_ui(city, "region_super", "350322")

    token = csrf(client)
    bad = client.post("/bind", data={"code": "AAAA-BBBB", "contact_name": "新用户",
                                     "contact_phone": "13912345678", "org_title": "教育局",
                                     "csrf_token": token})
    assert bad.status_code == 400 and "权限码无效" in bad.get_data(as_text=True)
    ok = client.post("/bind", data={"code": code.lower(), "contact_name": "新用户",
                                    "contact_phone": "13912345678", "org_title": "仙游县教育局",
                                    "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    csv_text = client.get("/export/training/T2022/regions.csv").get_data(as_text=True)
    assert "仙游县第一中学" in csv_text
    for outside in ("莆田市", "荔城", "宁化", "福建省直属"):
        assert outside not in csv_text
    assert client.get("/export/training/T2022/regions.csv?region=350300").status_code == 403

    # the same code cannot be used twice
    other = app.test_client()
    register(other, "second01", "13912345679")
    token = csrf(other)
    again = other.post("/bind", data={"code": code, "contact_name": "乙", "org_title": "x",
                                      "contact_phone": "13912345679", "csrf_token": token})
    assert again.status_code == 400


def test_removed_binding_takes_effect_on_the_next_request(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    login(client, make_admin(engine, "region_training", "350322", "xianyou-admin"))
    assert client.get("/export/training/T2022/regions.csv").status_code == 200

    from datetime import datetime

    from sqlalchemy import update

    from data_access.models import Binding, User
    with engine.begin() as conn:
        uid = conn.scalar(select(User.id).where(User.account == "xianyou-admin"))
        conn.execute(update(Binding).where(Binding.user_id == uid).values(removed_at=datetime.now()))
    assert client.get("/export/training/T2022/regions.csv").status_code == 403
    assert client.get("/").headers["Location"] == "/bind"


def test_city_admin_removes_a_school_admin_in_the_ui(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    school_admin = make_admin(engine, "school_admin", "S-XY-1", "school-one")
    teacher_client = app.test_client()
    login(teacher_client, school_admin)
    assert teacher_client.get("/").status_code == 200

    login(client, make_admin(engine, "region_training", "350300", "putian-training"))
    rows = call_callback(client, "admins-grid.rowData",
                         [{"id": "admins-reload", "property": "data", "value": 0}]
                         ).get_json()["response"]["admins-grid"]["rowData"]
    row = next(r for r in rows if r["scope"] == "仙游县第一中学")
    assert row["action"] == "删除" and row["account"] == "sc***ne"
    resp = call_callback(client, ["admins-message.children", "admins-reload.data"],
                         [{"id": "admins-confirm", "property": "submit_n_clicks", "value": 1}],
                         state=[{"id": "admins-pending", "property": "data", "value": row["id"]},
                                {"id": "admins-reload", "property": "data", "value": 0}])
    assert "已删除" in text_of(resp)
    assert teacher_client.get("/").headers["Location"] == "/bind"
    with engine.connect() as conn:
        actions = conn.scalars(select(AuditLog.action)).all()
    assert "admin_remove" in actions


def test_login_is_rate_limited_per_account(app, client):
    engine = app.extensions["yanxiu"].engine
    account = make_admin(engine, "region_training", "350000", "limited-admin")
    for _ in range(5):
        assert login(client, account, "wrong-password").status_code == 401
    blocked = login(client, account)  # even the right password is refused for now
    assert blocked.status_code == 429
    assert "尝试次数过多" in blocked.get_data(as_text=True)
    other = make_admin(engine, "region_training", "350000", "other-admin")
    assert login(client, other).status_code == 302


def test_code_redemption_is_rate_limited(app, client):
    register(client, "guesser01")
    token = csrf(client)
    statuses = [client.post("/bind", data={"code": f"AAAA-{i:04d}", "contact_name": "x",
                                           "contact_phone": "13900000000", "org_title": "x",
                                           "csrf_token": token}).status_code
                for i in range(11)]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


def test_scope_switcher_changes_the_active_binding(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    account = make_admin(engine, "region_training", "350322", "two-hats")
    from data_access import accounts
    with engine.begin() as conn:
        uid = accounts.user_by_account(conn, account).id
        second = accounts.grant(conn, uid, "region_training", "350424")
    login(client, account)
    first_csv = client.get("/export/training/T2022/regions.csv").get_data(as_text=True)
    assert "仙游县" in first_csv
    resp = call_callback(client, "shell-scope-reload.href",
                         [{"id": "shell-scope-switcher", "property": "value", "value": second}])
    assert resp.status_code == 200
    second_csv = client.get("/export/training/T2022/regions.csv").get_data(as_text=True)
    assert "宁化县" in second_csv and "仙游" not in second_csv
    # another user's binding id cannot be switched to
    stranger = make_admin(engine, "region_training", "350000", "stranger")
    with engine.connect() as conn:
        from data_access.models import Binding, User
        foreign = conn.scalar(select(Binding.id).join(User, User.id == Binding.user_id)
                              .where(User.account == stranger))
    resp = call_callback(client, "shell-scope-reload.href",
                         [{"id": "shell-scope-switcher", "property": "value", "value": foreign}])
    assert resp.status_code == 204
