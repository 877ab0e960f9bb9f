"""大屏管理 through the callback endpoint: issue, list and revoke kiosk links inside the
session's scope; forged values get a message (or nothing), never a 500 or another scope's
link."""

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from data_access import audit, display_tokens
from data_access.models import AuditLog, DisplayToken
from tests.helpers import build_dataset, fire, login, make_admin, text_of

LINK_RE = re.compile(r"http://localhost/screen/([A-Za-z0-9_-]{32})")


def fire_on(client, input_key: str, values: dict):
    """POST the callback that `input_key` ("id.prop") triggers, as the renderer builds it;
    its other inputs and states are taken from `values` (missing ones are None)."""
    cid, prop = input_key.rsplit(".", 1)
    dep = next(d for d in client.get("/_dash-dependencies").get_json()
               if any(i["id"] == cid and i["property"] == prop for i in d["inputs"]))
    outputs = dep["output"][2:-2].split("...") if dep["output"].startswith("..") else [
        dep["output"]]
    specs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1].split("@")[0]}
             for o in outputs]

    def slot(spec):
        return {"id": spec["id"], "property": spec["property"],
                "value": values.get(f"{spec['id']}.{spec['property']}")}

    with client.session_transaction() as s:
        token = s.get("csrf", "")
    body = {"output": dep["output"], "outputs": specs if len(specs) > 1 else specs[0],
            "inputs": [slot(i) for i in dep["inputs"]], "state": [slot(s) for s in dep["state"]],
            "changedPropIds": [input_key]}
    return client.post("/_dash-update-component", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-CSRFToken": token})


def issue(client, label="三楼会议室", region="350322", training="", expires=None):
    return fire_on(client, "wa-issue.n_clicks", {
        "wa-issue.n_clicks": 1, "wa-label.value": label, "wa-region.value": region,
        "wa-training.value": training, "wa-expires.date": expires, "wa-reload.data": 0})


def rows(client):
    resp = fire_on(client, "wa-reload.data", {"wa-reload.data": 1})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {r["id"]: r for r in resp.get_json()["response"]["wa-grid"]["rowData"]}


def ask(client, token_id):
    return fire_on(client, "wa-grid.cellRendererData", {"wa-grid.cellRendererData": {
        "colId": "actions", "rowId": str(token_id), "value": "撤销", "rowIndex": 0}})


def confirm(client, pending):
    return fire_on(client, "wa-confirm.submit_n_clicks", {
        "wa-confirm.submit_n_clicks": 1, "wa-pending.data": pending, "wa-reload.data": 3})


def _count(engine):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(DisplayToken))


@pytest.fixture
def engine(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    return engine


def test_the_form_offers_the_scopes_regions_and_every_training(app, client, engine):
    login(client, make_admin(engine, "region_super", "350300", "putian"))
    resp = fire_on(client, "wa-load.data", {"wa-load.data": 0})
    out = resp.get_json()["response"]
    regions = {o["value"]: o["label"] for o in out["wa-region"]["options"]}
    assert out["wa-region"]["value"] == "350300"
    assert regions["350300"] == "莆田市" and regions["350322"] == "莆田市/仙游县"
    assert "350000" not in regions and "350424" not in regions
    trainings = out["wa-training"]["options"]
    assert trainings[0] == {"label": "当前培训（自动跟随）", "value": ""}
    assert trainings[1]["value"] == "T2022" and "已结束" in trainings[1]["label"]
    assert out["wa-training"]["value"] == ""
    page = text_of(fire(client, "_pages_content.children", {
        "_pages_location.pathname": "/wall-screens", "_pages_location.search": ""}))
    assert "大屏管理" in page and "生成大屏链接" in page and "预览大屏" in page
    assert '"href": "/screen/"' in page and "_blank" in page


def test_issue_list_and_revoke_as_a_province_admin(app, client, engine):
    login(client, make_admin(engine, "region_training", "350000", "fujian", name="林志强"))
    until = date.today() + timedelta(days=365)
    resp = issue(client, label=" 三楼会议室 ", training="T2022", expires=until.isoformat())
    assert resp.status_code == 200
    shown = text_of(resp)
    assert "该链接只显示这一次，请立即复制并在大屏设备的浏览器中打开" in shown
    token = LINK_RE.search(shown).group(1)
    with engine.connect() as conn:
        grant = display_tokens.grant_of(conn, token)
    assert grant.region_code == "350322"

    listed = rows(client)
    assert list(listed) == [grant.token_id]
    row = listed[grant.token_id]
    assert row["label"] == "三楼会议室" and row["region"] == "福建省/莆田市/仙游县"
    assert row["training"] == "2022年“暑期教师研修”专题"
    assert row["issuer"] == "林志强（fu***an）"
    assert row["expires_at"] == f"{until:%Y.%m.%d}" and row["last_seen_at"] == "从未访问"
    assert row["status"] == "有效" and row["actions"] == ["撤销"]
    assert token not in json.dumps(listed)

    asked = ask(client, grant.token_id).get_json()["response"]
    assert asked["wa-confirm"]["displayed"] is True
    assert "三楼会议室" in asked["wa-confirm"]["message"]
    assert asked["wa-pending"]["data"] == grant.token_id
    done = confirm(client, grant.token_id)
    assert done.status_code == 200 and "已撤销大屏链接「三楼会议室」" in text_of(done)
    row = rows(client)[grant.token_id]
    assert row["status"] == "已撤销" and row["actions"] == []
    with engine.connect() as conn:
        assert display_tokens.grant_of(conn, token) is None
    again = confirm(client, grant.token_id)
    assert "该大屏链接已撤销" in text_of(again)


def test_a_link_without_training_or_expiry(app, client, engine):
    login(client, make_admin(engine, "region_training", "350000"))
    shown = text_of(issue(client, label="大厅", region="350000"))
    assert "当前培训（自动跟随）" in shown and "长期有效" in shown
    row = next(iter(rows(client).values()))
    assert (row["training"], row["expires_at"], row["region"]) == (
        "当前培训（自动跟随）", "长期有效", "福建省")


def test_a_county_admin_neither_sees_nor_revokes_a_province_link(app, client, engine):
    province = app.test_client()
    login(province, make_admin(engine, "region_training", "350000"))
    top = LINK_RE.search(text_of(issue(province, label="省厅大厅", region="350000"))).group(1)
    other = LINK_RE.search(text_of(issue(province, label="荔城区会议室", region="350304"))).group(1)
    mine = LINK_RE.search(text_of(issue(province, label="仙游县会议室", region="350322"))).group(1)
    with engine.connect() as conn:
        ids = {t: display_tokens.grant_of(conn, t).token_id for t in (top, other, mine)}

    login(client, make_admin(engine, "region_super", "350322"))
    assert list(rows(client)) == [ids[mine]]  # issued by the province, inside the county
    for token in (top, other):
        resp = ask(client, ids[token])
        assert resp.status_code == 200
        assert "不存在或不在您的管理范围内" in text_of(resp)
        assert resp.get_json()["response"]["wa-confirm"]["displayed"] is False
        # the dialog skipped: a forged submit with the foreign id
        resp = confirm(client, ids[token])
        assert resp.status_code == 200 and "不存在或不在您的管理范围内" in text_of(resp)
        assert "省厅" not in text_of(resp) and "荔城" not in text_of(resp)
    with engine.connect() as conn:
        assert display_tokens.grant_of(conn, top) and display_tokens.grant_of(conn, other)
    # a region admin of the scope revokes a link another admin issued there
    assert "已撤销" in text_of(confirm(client, ids[mine]))


@pytest.mark.parametrize("field, value, message", [
    ("region", "350304", "该区域不在您的管理范围内"),
    ("region", "350000", "该区域不在您的管理范围内"),
    ("region", {"code": "350322"}, "区域不存在"),
    ("region", ["350322"], "区域不存在"),
    ("region", "x" * 100000, "区域不存在"),
    ("region", "350322\n", "区域不存在"),
    ("region", "\t350322", "区域不存在"),
    ("region", None, "区域不存在"),
    ("training", "NOPE", "培训不存在"),
    ("training", {"code": "T2022"}, "培训不存在"),
    ("training", 5, "培训不存在"),
    ("training", "T2022\n", "培训不存在"),
    ("label", {"label": "三楼"}, "请填写大屏名称"),
    ("label", None, "请填写大屏名称"),
    ("label", "会" * 41, "最多 40 个字"),
    ("label", "三楼\r\n会议室", "控制字符"),
    ("label", "三楼\t会议室", "控制字符"),
    ("expires", "2000-01-01", "不能早于今天"),
    ("expires", "tomorrow", "有效期格式不正确"),
    ("expires", {"date": "2099-01-01"}, "有效期格式不正确"),
    ("expires", 20991231, "有效期格式不正确"),
    ("expires", "9" * 5000, "有效期格式不正确"),
    ("expires", "2030-01-01xxxxxxx", "有效期格式不正确"),
])
def test_forged_form_values_get_a_message_and_issue_nothing(app, client, engine, field, value,
                                                            message):
    login(client, make_admin(engine, "region_super", "350322"))
    form = {"label": "三楼会议室", "region": "350322", "training": "", "expires": None}
    resp = issue(client, **{**form, field: value})
    assert resp.status_code == 200
    out = resp.get_json()["response"]
    assert message in json.dumps(out["wa-message"], ensure_ascii=False)
    assert out["wa-issued"]["children"] is None
    assert _count(engine) == 0


def test_other_control_characters_are_refused_before_any_callback(app, client, engine):
    login(client, make_admin(engine, "region_super", "350322"))
    for form in ({"region": "35\x0022"}, {"label": "三楼\x1b会议室"},
                 {"training": "\u202eT2022"}):
        resp = issue(client, **form)
        assert resp.status_code == 400 and "请求内容无效" in text_of(resp)
    assert _count(engine) == 0


@pytest.mark.parametrize("pending", ["1", [1], {"id": 1}, True, 1.0, 0, -1, 2**40, None,
                                     "x" * 5000])
def test_forged_revoke_ids_do_nothing(app, client, engine, pending):
    province = app.test_client()
    login(province, make_admin(engine, "region_training", "350000"))
    issue(province, region="350322")
    login(client, make_admin(engine, "region_super", "350322"))
    resp = confirm(client, pending)
    assert resp.status_code in (200, 204)
    for cell in ({"value": "撤销", "rowId": pending}, {"value": "删除", "rowId": "1"},
                 pending, {"value": "撤销", "rowId": "1 OR 1=1"}):
        resp = fire_on(client, "wa-grid.cellRendererData", {"wa-grid.cellRendererData": cell})
        assert resp.status_code in (200, 204)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DisplayToken)
                           .where(DisplayToken.revoked_at.is_not(None))) == 0


def test_a_school_admin_gets_nothing(app, client, engine):
    province = app.test_client()
    login(province, make_admin(engine, "region_training", "350000"))
    issue(province, region="350322")
    login(client, make_admin(engine, "school_admin", "S-XY-1"))
    assert fire_on(client, "wa-reload.data", {"wa-reload.data": 1}).status_code == 204
    assert fire_on(client, "wa-load.data", {"wa-load.data": 0}).status_code == 204
    assert issue(client).status_code == 204
    assert confirm(client, 1).status_code == 204
    assert _count(engine) == 1


def test_issue_and_revoke_are_audited_without_the_token(app, client, engine):
    login(client, make_admin(engine, "region_training", "350000", "fujian", name="林志强"))
    token = LINK_RE.search(text_of(issue(client, label="三楼会议室"))).group(1)
    token_id = next(iter(rows(client)))
    issue(client, label="大厅", training="T2022", region="350304")
    confirm(client, token_id)
    with engine.connect() as conn:
        logged = conn.execute(select(AuditLog.action, AuditLog.scope_region, AuditLog.detail,
                                     AuditLog.actor, AuditLog.ip)
                              .where(AuditLog.action.like("screen_token_%"))
                              .order_by(AuditLog.id)).all()
        entries = [e for e in audit.entries_in_scope(conn, "350000")
                   if e.action.startswith("大屏链接")]
    assert [(a, r) for a, r, *_ in logged] == [("screen_token_issue", "350322"),
                                               ("screen_token_issue", "350304"),
                                               ("screen_token_revoke", "350322")]
    assert json.loads(logged[0].detail) == {"token_id": token_id, "label": "三楼会议室",
                                            "training": ""}
    assert json.loads(logged[1].detail)["training"] == "T2022"
    assert all(row.actor == "fu***an" and row.ip for row in logged)
    assert all(token not in (row.detail or "") for row in logged)
    assert [e.detail for e in entries] == [
        f"撤销大屏链接「三楼会议室」（#{token_id}），区域：仙游县，培训：当前培训（自动跟随）",
        f"生成大屏链接「大厅」（#{token_id + 1}），区域：荔城区，培训：2022年“暑期教师研修”专题",
        f"生成大屏链接「三楼会议室」（#{token_id}），区域：仙游县，培训：当前培训（自动跟随）"]
    assert [e.action for e in entries] == ["大屏链接撤销", "大屏链接生成", "大屏链接生成"]
