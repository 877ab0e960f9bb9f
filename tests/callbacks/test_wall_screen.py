"""The 大屏's kiosk app (/screen/): what a token grants, what it never grants, and the cost."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from data_access import display_tokens
from data_access.refresh import refresh
from layouts.ids import Wall
from tests.helpers import build_dataset

POLL_OUTPUT = f"{Wall.SHOWN}.data"


def kiosk_dependencies(client) -> list[dict]:
    return client.get("/screen/_dash-dependencies").get_json()


def poll(client, pathname: str, *, shown=None, training=""):
    """POST the kiosk's poll as the Dash renderer does (with the CSRF header when the client
    has a session)."""
    dep = next(d for d in kiosk_dependencies(client) if POLL_OUTPUT in d["output"])
    outputs = dep["output"].strip(".").split("...")
    values = {f"{Wall.POLL}.n_intervals": 3, f"{Wall.URL}.pathname": pathname,
              f"{Wall.TRAINING}.value": training, f"{Wall.SHOWN}.data": shown}

    def slot(spec):
        return {"id": spec["id"], "property": spec["property"],
                "value": values.get(f"{spec['id']}.{spec['property']}")}

    with client.session_transaction() as s:
        token = s.get("csrf", "")
    body = {"output": dep["output"],
            "outputs": [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1].split("@")[0]}
                        for o in outputs],
            "inputs": [slot(i) for i in dep["inputs"]], "state": [slot(i) for i in dep["state"]],
            "changedPropIds": [f"{Wall.POLL}.n_intervals"]}
    return client.post("/screen/_dash-update-component", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-CSRFToken": token})


def screen_of(response) -> dict:
    assert response.status_code == 200, response.data[:300]
    out = response.get_json()["response"]
    return {f"{cid}.{prop}": value for cid, props in out.items() for prop, value in props.items()}


@pytest.fixture
def dataset(app):
    engine = app.extensions["yanxiu"].engine
    data = build_dataset(engine)
    refresh(engine, now=datetime(2022, 8, 1, 2, 0))
    refresh(engine, now=datetime(2022, 8, 2, 2, 0))
    return data


def issue(app, region: str, training: str | None = None, **kw) -> str:
    with app.extensions["yanxiu"].engine.begin() as conn:
        issued = display_tokens.issue(conn, None, user_id=None, region_code=region,
                                      training_code=training, label="三楼会议室", **kw)
    return issued.path


def test_a_kiosk_link_shows_its_region_without_a_login(app, client, dataset):
    path = issue(app, "350300", dataset["training"])
    page = client.get(path)
    assert page.status_code == 200 and "login" not in page.headers.get("Location", "")
    shown = screen_of(poll(client, path))
    assert shown[f"{Wall.TITLE}.children"] == "莆田市 · 2022年“暑期教师研修”专题"
    data = shown[f"{Wall.DATA}.data"]
    kpis = {k["label"]: k["value"] for k in data["kpis"]}
    # 莆田市 of the test data set: 7 participants (S-XY-1 ×3, S-XY-2 ×2, S-LC-1 ×2)
    assert kpis["参训人数"] == "7"
    # 仙游县 3 of 5 completed, 荔城区 1 of 2; the districts nobody of which took part last
    assert [(u["name"], u["share_text"]) for u in data["ranking"][:2]] == [
        ("仙游县", "60.00%"), ("荔城区", "50.00%")]
    assert {u["share_text"] for u in data["ranking"][2:]} == {"暂无参训"}
    assert [u["name"] for u in data["lagging"]][-2:] == ["荔城区", "仙游县"]
    assert shown[f"{Wall.NOTICE}.hidden"] is True


def test_a_poll_on_the_snapshot_on_display_answers_nothing(app, client, dataset):
    path = issue(app, "350322", dataset["training"])
    first = screen_of(poll(client, path))
    key = first[f"{Wall.SHOWN}.data"]
    assert poll(client, path, shown=key).status_code == 204
    refresh(app.extensions["yanxiu"].engine, now=datetime(2022, 8, 3, 2, 0))
    again = screen_of(poll(client, path, shown=key))
    assert again[f"{Wall.SHOWN}.data"] != key
    assert again[f"{Wall.UPDATED}.children"].startswith("数据更新时间 2022.08.03 02:00")


def test_the_trend_and_the_change_since_yesterday_come_from_the_daily_history(
        app, client, dataset):
    data = screen_of(poll(client, issue(app, "350300", dataset["training"])))[f"{Wall.DATA}.data"]
    assert data["trend"] == {"days": ["2022-08-01", "2022-08-02"], "participants": [7, 7],
                             "completed": [4, 4]}
    # the same records on both days: every change is zero; 莆田市 has no 专任教师数 (not
    # every county has one), so 参训率 has neither a value nor a change
    kpis = {k["label"]: k for k in data["kpis"]}
    assert (kpis["参训率"]["value"], kpis["参训率"]["delta"]) == ("—", "")
    assert {k["delta"] for k in data["kpis"] if k["label"] != "参训率"} == {"— 0"}
    assert [k["label"] for k in data["kpis"]] == ["参训人数", "参训率", "学习人数", "完成学时人数",
                                                 "完成人数占比"]


def test_the_numbers_are_those_of_the_statistics_page(app, client, dataset, login_as):
    from tests.helpers import render_region

    path = issue(app, "350000", dataset["training"])
    kpis = {k["label"]: k["value"] for k in
            screen_of(poll(app.test_client(), path))[f"{Wall.DATA}.data"]["kpis"]}
    login_as("region_super", "350000")
    page = json.dumps(render_region(client, region="350000").get_json(), ensure_ascii=False)
    for label in ("参训人数", "参训率", "学习人数", "完成学时人数"):
        assert kpis[label] in page, label
    # 9 of the 10 teachers took part; 5 of them reached the cap
    assert (kpis["参训人数"], kpis["完成学时人数"], kpis["完成人数占比"]) == ("9", "5", "55.56%")


@pytest.mark.parametrize("how", ["revoked", "expired", "unknown", "malformed"])
def test_a_link_that_no_longer_grants_shows_the_invalid_notice(app, client, dataset, how):
    engine = app.extensions["yanxiu"].engine
    path = issue(app, "350322", dataset["training"])
    shown = screen_of(poll(client, path))[f"{Wall.SHOWN}.data"]
    if how == "revoked":
        with engine.begin() as conn:
            (row,) = display_tokens.list_tokens(conn, None)
            display_tokens.revoke(conn, None, row.id, user_id=None)
    elif how == "expired":
        from sqlalchemy import update

        from data_access.models import DisplayToken

        with engine.begin() as conn:
            conn.execute(update(DisplayToken).values(
                expires_at=datetime.now() - timedelta(seconds=1)))
    elif how == "unknown":
        path = "/screen/" + "A" * 32
    else:
        path = "/screen/<script>alert(1)</script>"
    page = client.get(path)
    assert page.status_code == 200 and "Location" not in page.headers  # never a login page
    out = screen_of(poll(client, path, shown=shown))
    assert out[f"{Wall.NOTICE}.children"] == "该大屏链接已失效，请联系管理员"
    assert out[f"{Wall.NOTICE}.hidden"] is False
    assert f"{Wall.DATA}.data" not in out  # the numbers behind it are not touched
    assert poll(client, path, shown="invalid").status_code == 204


def test_the_last_visit_is_recorded_without_a_write_per_poll(app, client, dataset):
    engine = app.extensions["yanxiu"].engine
    path = issue(app, "350322", dataset["training"])
    poll(client, path)
    with engine.connect() as conn:
        (row,) = display_tokens.list_tokens(conn, None)
    assert row.last_seen_ip == "127.0.0.1" and row.last_seen_at is not None
    poll(client, path)
    with engine.connect() as conn:
        (again,) = display_tokens.list_tokens(conn, None)
    assert again.last_seen_at == row.last_seen_at


def test_a_link_without_a_training_follows_the_current_one(app, client, dataset):
    from data_access.models import Training

    engine = app.extensions["yanxiu"].engine
    path = issue(app, "350322")
    assert "暑期" in screen_of(poll(client, path))[f"{Wall.TITLE}.children"]
    with engine.begin() as conn:
        conn.execute(Training.__table__.insert().values(
            code="TNOW", name="正在进行的专题", start_at=datetime.now() - timedelta(days=1),
            end_at=datetime.now() + timedelta(days=9), hours_cap_tenths=50,
            created_at=datetime.now()))
    refresh(engine)
    assert "正在进行的专题" in screen_of(poll(client, path))[f"{Wall.TITLE}.children"]


def test_many_screens_of_one_region_cost_one_read_per_snapshot(app, dataset):
    from sqlalchemy import event

    engine = app.extensions["yanxiu"].engine
    paths = [issue(app, "350300", dataset["training"]) for _ in range(3)]
    statements = []
    event.listen(engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2]) if "agg_region" in a[2] else None)
    cache = app.extensions["yanxiu"].screen_cache
    before = cache.builds
    clients = [app.test_client() for _ in range(20)]
    for i, c in enumerate(clients):
        poll(c, paths[i % 3])
    assert cache.builds - before == 1
    assert len(statements) == 1  # one read of the aggregates for 20 screens
    refresh(engine, now=datetime(2022, 8, 4, 2, 0))
    statements.clear()
    for i, c in enumerate(clients):
        poll(c, paths[i % 3])
    assert cache.builds - before == 2 and len(statements) == 1


def test_the_preview_shows_the_admins_own_scope_and_needs_a_login(app, client, dataset,
                                                                   login_as):
    anonymous = app.test_client()
    resp = anonymous.get("/screen/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert anonymous.get("/screen").status_code in (301, 302, 308)
    assert screen_of(poll(anonymous, "/screen/"))[f"{Wall.NOTICE}.hidden"] is False

    login_as("region_super", "350322")
    assert client.get("/screen/").status_code == 200
    layout = json.dumps(client.get("/screen/_dash-layout").get_json(), ensure_ascii=False)
    assert "当前培训（自动跟随）" in layout and "2022年“暑期教师研修”专题" in layout
    out = screen_of(poll(client, "/screen/", training=dataset["training"]))
    assert out[f"{Wall.TITLE}.children"].startswith("仙游县 · ")
    assert poll(client, "/screen/", training="NOPE").status_code == 204
    # a logged-in browser's poll carries the session: without the CSRF header it is refused
    with client.session_transaction() as s:
        s["csrf"] = "changed"
    resp = client.post("/screen/_dash-update-component", data="{}",
                       headers={"Content-Type": "application/json", "X-CSRFToken": "x"})
    assert resp.status_code == 403


def test_a_school_admin_gets_no_preview(app, client, dataset, login_as):
    login_as("school_admin", "S-XY-1")
    out = screen_of(poll(client, "/screen/"))
    assert out[f"{Wall.NOTICE}.children"].startswith("大屏预览仅对区域管理员开放")
    assert "仙游" not in json.dumps(out, ensure_ascii=False)


def test_the_kiosk_app_serves_only_its_own_callbacks_and_assets(app, client):
    deps = kiosk_dependencies(client)
    outputs = " ".join(d["output"] for d in deps)
    assert "wall-" in outputs and "st-" not in outputs and "_pages" not in outputs
    console = client.get("/login")
    assert console.status_code == 200
    index = client.get("/screen/" + "A" * 32).get_data(as_text=True)
    assert "wall_screen.css" in index and "wall_screen.js" in index
    assert "yanxiu.css" not in index and "clientside.js" not in index
    assert "正在加载…" in index and "Loading..." not in index


def test_forged_outputs_and_browser_side_callbacks_are_refused_not_a_server_error(
        app, dataset):
    app.testing = False  # a server error answers 500 instead of raising
    kiosk = app.test_client()
    path = issue(app, "350322", dataset["training"])
    dep = next(d for d in kiosk_dependencies(kiosk) if POLL_OUTPUT in d["output"])
    base = {"output": dep["output"], "inputs": [
        {"id": i["id"], "property": i["property"], "value": path if i["property"] == "pathname"
         else None} for i in dep["inputs"]], "state": [
        {"id": s["id"], "property": s["property"], "value": None} for s in dep["state"]],
        "changedPropIds": []}
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
               for o in dep["output"].strip(".").split("...")]
    for forged in ("x", None, {}, outputs[:1], outputs + outputs[:1], [{"id": "x"}] * len(outputs),
                   [o | {"property": "style"} for o in outputs], [[o] for o in outputs],
                   ["wall-title.children"] * len(outputs)):
        resp = kiosk.post("/screen/_dash-update-component", json={**base, "outputs": forged})
        assert resp.status_code == 400 and resp.is_json, (forged, resp.status_code)
    assert kiosk.post("/screen/_dash-update-component",
                      json={**base, "outputs": outputs}).status_code == 200
    clock = {"output": "wall-clock.children", "outputs": {"id": "wall-clock",
                                                          "property": "children"},
             "inputs": [{"id": "wall-clock-tick", "property": "n_intervals", "value": 1}],
             "state": [], "changedPropIds": []}
    assert kiosk.post("/screen/_dash-update-component", json=clock).status_code == 400


def test_names_reach_the_ranking_escaped(app, client, dataset):
    from sqlalchemy import update

    from data_access.models import School

    engine = app.extensions["yanxiu"].engine
    with engine.begin() as conn:
        conn.execute(update(School).where(School.code == "S-XY-2")
                     .values(name="<b>x</b><br>y<a href='h'>z"))
    refresh(engine, now=datetime(2022, 8, 5, 2, 0))
    figure = screen_of(poll(client, issue(app, "350322", dataset["training"])))[
        f"{Wall.RANKING}.figure"]
    labels = figure["data"][0]["y"]
    assert not any("<" in label for label in labels), labels
    assert any(label.startswith("&lt;b&gt;x") for label in labels), labels


def test_a_busy_database_never_holds_a_poll_for_the_last_visit(app, dataset, tmp_path):
    """Another writer (an import) holding the write lock: the visit is not written this time,
    and the poll answers at once."""
    import sqlite3
    import time

    engine = app.extensions["yanxiu"].engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the lock is SQLite's")
    path = issue(app, "350322", dataset["training"])
    lock = sqlite3.connect(engine.url.database, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        shown = screen_of(poll(app.test_client(), path))
        assert time.monotonic() - started < 3
        assert shown[f"{Wall.TITLE}.children"].startswith("仙游县")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    with engine.connect() as conn:
        assert display_tokens.list_tokens(conn, None)[0].last_seen_at is None
        # the connection went back to the pool with the normal busy timeout
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    poll(app.test_client(), path)
    with engine.connect() as conn:
        assert display_tokens.list_tokens(conn, None)[0].last_seen_at is not None


def test_behind_a_trusted_proxy_the_visit_has_the_clients_address(database_url):
    from dashboard import create_app
    from dashboard.settings import Settings

    app = create_app(Settings(database_url=database_url, secret_key="test-secret-0123456789",
                              trusted_proxies=1))
    engine = app.extensions["yanxiu"].engine
    data = build_dataset(engine)
    refresh(engine)
    path = issue(app, "350322", data["training"])
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
    poll(client, path)
    with engine.connect() as conn:
        assert display_tokens.list_tokens(conn, None)[0].last_seen_ip == "203.0.113.7"
    engine.dispose()


def test_the_kiosk_hides_the_preview_bar(app, client, dataset, login_as):
    login_as("region_super", "350322")
    path = issue(app, "350322", dataset["training"])
    assert screen_of(poll(client, path))[f"{Wall.PREVIEW_BAR}.hidden"] is True
    assert screen_of(poll(client, "/screen/"))[f"{Wall.PREVIEW_BAR}.hidden"] is False
