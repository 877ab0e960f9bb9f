import pytest

from tests.helpers import PASSWORD, csrf, login, make_admin


def test_anonymous_requests_get_nothing(client):
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert client.get("/training/T2022?region=350000").status_code == 302
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-dependencies").status_code == 401
    assert client.post("/_dash-update-component", json={}).status_code == 401
    assert client.get("/export/training/T2022/regions.csv").status_code == 401
    # the login page and static styles are public
    assert client.get("/login").status_code == 200
    assert client.get("/assets/yanxiu.css").status_code == 200


def test_login_logout_and_session_renewal(app, client):
    account = make_admin(app.extensions["yanxiu"].engine, "region_training", "350000")
    token = csrf(client)
    with client.session_transaction() as s:
        s["sid"] = "attacker-chosen-id"
    resp = client.post("/login", data={"account": account, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    with client.session_transaction() as s:
        sid = s["sid"]
    assert sid != "attacker-chosen-id" and len(sid) >= 40
    home = client.get("/")
    assert home.status_code == 200
    assert home.headers["Cache-Control"] == "no-store"
    assert "Cookie" in home.headers["Vary"]
    cookie = home.headers.getlist("Set-Cookie")
    assert any(c.startswith("_csrf_token=") for c in cookie)
    # logout ends the server-side session: the old cookie no longer works
    with client.session_transaction() as s:
        saved = dict(s)
    client.post("/logout", data={"csrf_token": saved["csrf"]})
    assert client.get("/_dash-layout").status_code == 401
    with client.session_transaction() as s:
        s.update(saved)
    assert client.get("/_dash-layout").status_code == 401


def test_same_answer_for_unknown_account_and_wrong_password(app, client):
    account = make_admin(app.extensions["yanxiu"].engine, "region_training", "350000")
    wrong = login(client, account, "not-the-password")
    unknown = login(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "账号或密码错误" in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).replace(account, "X") == unknown.get_data(
        as_text=True).replace("nobody-here", "X")


def test_login_requires_csrf_token(app, client):
    account = make_admin(app.extensions["yanxiu"].engine, "region_training", "350000")
    client.get("/login")
    resp = client.post("/login", data={"account": account, "password": PASSWORD})
    assert resp.status_code == 400


@pytest.mark.parametrize("target,expected", [
    ("/training/T2022?region=350300", "/training/T2022?region=350300"),
    ("//evil.example", "/"),
    ("/\\evil.example", "/"),
    ("https://evil.example/", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_only_to_same_site_paths(app, client, target, expected):
    account = make_admin(app.extensions["yanxiu"].engine, "region_training", "350000")
    resp = login(client, account, next_path=__import__("urllib.parse").parse.quote(target, safe=""))
    assert resp.status_code == 302
    assert resp.headers["Location"] == expected


def test_session_cookie_flags(app, client):
    account = make_admin(app.extensions["yanxiu"].engine, "region_training", "350000")
    resp = login(client, account)
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("yanxiu_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_dash_callbacks_require_the_csrf_header(app, client, login_as):
    login_as("region_training", "350000")
    resp = client.post("/_dash-update-component", json={"output": "x.children", "outputs": {},
                                                        "inputs": [], "changedPropIds": []})
    assert resp.status_code == 403
