"""Hostile input at every web entry point: control characters (PostgreSQL refuses NUL, SQLite
would store it), malformed and deeply nested JSON, requests for callbacks that do not exist.
The answer is a clear message or "no data", never a 500."""

import json

import pytest

from data_access.refresh import refresh
from tests.helpers import PASSWORD, build_dataset, call_callback, csrf, login, make_admin


@pytest.fixture
def admin_client(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    login(client, make_admin(engine, "region_training", "350000"))
    return client


def test_login_with_a_control_character_is_refused_clearly(app, client):
    make_admin(app.extensions["yanxiu"].engine, "region_training", "350000", "plain-admin")
    token = csrf(client)
    for account in ("x\x00", "plain-admin\x00", "a\x1bb", "a\x7fb"):
        resp = client.post("/login", data={"account": account, "password": PASSWORD,
                                           "csrf_token": token})
        assert resp.status_code == 400, account
        assert "账号中包含无效字符" in resp.get_data(as_text=True)


@pytest.mark.parametrize("url", [
    "/training/T2022?view=teachers&q=%00",
    "/export/training/T2022/teachers.csv?q=%00",
    "/export/training/T2022/teachers.csv?q=%E5%BC%A0%00",
    "/export/training/T2022/regions.csv?region=350300%00",
    "/codes?x=%1b",
])
def test_control_characters_in_a_url_get_a_clear_400(admin_client, url):
    resp = admin_client.get(url)
    assert resp.status_code == 400
    assert "无效的控制字符" in resp.get_data(as_text=True)


def test_control_characters_in_a_callback_get_400(admin_client):
    resp = call_callback(admin_client, ["codes-target.options", "codes-target.value"],
                         [{"id": "codes-role", "property": "value", "value": "school_admin"},
                          {"id": "codes-target", "property": "search_value", "value": "仙\u0000"}])
    assert resp.status_code == 400


def test_teacher_search_state_with_a_control_character_is_ignored(admin_client):
    from tests.helpers import render_teachers

    resp = render_teachers(admin_client, q="教\u0000")
    assert resp.status_code == 400
    # the same through the page state (a search parameter that reached the page router)
    from layouts.training_stats import parse_state

    assert parse_state("T2022", q="教\x00")["q"] == ""


def test_deeply_nested_json_is_a_bad_request_not_a_crash(admin_client, app):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with admin_client.session_transaction() as s:
        token = s["csrf"]
    nested = "[" * 5000 + "]" * 5000
    for path in ("/_dash-update-component", "/export/jobs"):
        resp = admin_client.post(path, data=nested, headers={
            "Content-Type": "application/json", "X-CSRFToken": token})
        assert resp.status_code == 400, (path, resp.status_code)
        assert "导出任务启动失败" not in resp.get_data(as_text=True)
    deep = {"output": "st-breadcrumb.children", "inputs": [{"value": {"a": nested}}]}
    resp = admin_client.post("/_dash-update-component", data=json.dumps(deep), headers={
        "Content-Type": "application/json", "X-CSRFToken": token})
    assert resp.status_code == 400


def test_a_request_for_a_callback_that_does_not_exist_is_a_bad_request(admin_client):
    resp = call_callback(admin_client, ["no-such-output.children"],
                         [{"id": "st-region-state", "property": "data", "value": {}}])
    assert resp.status_code == 400


def test_registration_and_binding_refuse_control_characters_next_to_the_field(client):
    token = csrf(client)
    resp = client.post("/register", data={"account": "newuser01", "password": PASSWORD,
                                          "name": "王\x00琳", "phone": "13912345678",
                                          "csrf_token": token})
    assert resp.status_code == 400
    assert "姓名包含无效字符" in resp.get_data(as_text=True)
    client.post("/register", data={"account": "newuser02", "password": PASSWORD,
                                   "name": "王琳", "phone": "13912345678", "csrf_token": token})
    resp = client.post("/bind", data={"code": "AAAA\x00", "contact_name": "王琳",
                                      "contact_phone": "13912345678", "org_title": "教育局\x01",
                                      "csrf_token": csrf(client)})
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert "权限码包含无效字符" in text and "单位/职务包含无效字符" in text
