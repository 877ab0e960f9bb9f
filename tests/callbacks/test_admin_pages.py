"""权限码管理, 管理员列表 and 操作日志 through the callback endpoint (and the 操作日志 CSV)."""

import csv
import io
import re

from sqlalchemy import select

from data_access import accounts, audit, codes
from data_access.models import Binding, PermissionCode, User
from data_access.scope import scope_of
from tests.helpers import build_dataset, call_callback, dash_layout_callbacks, login, text_of

PASSWORD = "Passw0rd!x"


def _output_of(client, input_id: str) -> list[str]:
    """The outputs (with their @hash suffixes) of the callback fired by `input_id`."""
    dep = next(d for d in dash_layout_callbacks(client)
               if any(i["id"] == input_id for i in d["inputs"]))
    out = dep["output"]
    return out[2:-2].split("...") if out.startswith("..") else [out]


def _admin(engine, account, role, scope_code, name=None, **contact):
    with engine.begin() as conn:
        uid = accounts.create_user(conn, account, name or f"注册名{account}", PASSWORD)
        bid = accounts.grant(conn, uid, role, scope_code, **contact)
        return scope_of(conn, uid, bid)


def code_rows(client):
    resp = call_callback(client, "codes-grid.rowData",
                         [{"id": "codes-reload", "property": "data", "value": 0}])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {r["id"]: r for r in resp.get_json()["response"]["codes-grid"]["rowData"]}


def click_revoke(client, code_id):
    """A 撤销 click on the grid, as the browser (or a forger) sends it."""
    return call_callback(
        client, _output_of(client, "codes-grid"),
        [{"id": "codes-grid", "property": "cellClicked",
          "value": {"colId": "action", "rowId": str(code_id), "value": "撤销"}}],
        state=[{"id": "codes-reload", "property": "data", "value": 0}])


def _revoked(engine, code_id):
    with engine.connect() as conn:
        return conn.scalar(select(PermissionCode.revoked_at)
                           .where(PermissionCode.id == code_id)) is not None


def test_a_training_admin_cannot_revoke_its_super_admins_region_codes(app, client):
    """D1: revoking follows the issuing rule (SPEC §3), also for a forged cellClicked."""
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    sup = _admin(engine, "pt-super", "region_super", "350300")
    _admin(engine, "pt-training", "region_training", "350300")
    with engine.begin() as conn:
        own_training = codes.issue(conn, sup, "region_training", "350300")
        child_super = codes.issue(conn, sup, "region_super", "350322")
        school_by_super = codes.issue(conn, sup, "school_admin", "S-XY-1")

    login(client, "pt-training")
    rows = code_rows(client)
    assert rows[own_training.id]["action"] == "" and rows[child_super.id]["action"] == ""
    assert rows[school_by_super.id]["action"] == "撤销"
    for code in (own_training, child_super):
        resp = click_revoke(client, code.id)
        assert resp.status_code == 200 and "无权撤销" in text_of(resp)
        assert not _revoked(engine, code.id)
    assert click_revoke(client, school_by_super.id).status_code == 200
    assert _revoked(engine, school_by_super.id)
    with engine.begin() as conn:
        training = scope_of(conn, *conn.execute(
            select(Binding.user_id, Binding.id).join(User, User.id == Binding.user_id)
            .where(User.account == "pt-training")).one())
        school_by_training = codes.issue(conn, training, "school_admin", "S-XY-2")

    super_client = app.test_client()
    login(super_client, "pt-super")
    rows = code_rows(super_client)
    assert all(rows[c.id]["action"] == "撤销"
               for c in (own_training, child_super, school_by_training))
    for code in (own_training, child_super, school_by_training):
        assert click_revoke(super_client, code.id).status_code == 200
        assert _revoked(engine, code.id)


def test_admin_list_names_people_by_their_contact_name(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    _admin(engine, "putian", "region_super", "350300", contact_name="林志强",
           contact_phone="13900000001", org_title="莆田市教育局")
    with engine.begin() as conn:  # granted from the command line: no contact details
        uid = accounts.create_user(conn, "xianyou", "仙游县管理员", PASSWORD, "13900000002")
        accounts.grant(conn, uid, "region_training", "350322")
    login(client, "putian")
    resp = call_callback(client, "admins-grid.rowData",
                         [{"id": "admins-reload", "property": "data", "value": 0}])
    rows = {r["account"]: r for r in resp.get_json()["response"]["admins-grid"]["rowData"]}
    me, cli = rows["pu***an"], rows["xi***ou"]
    assert (me["user_name"], me["phone"], me["org_title"]) == (
        "林志强", "139****0001", "莆田市教育局")
    # the registered name and phone stand in; the missing 单位/职务 says why
    assert (cli["user_name"], cli["phone"]) == ("仙游县管理员", "139****0002")
    assert cli["org_title"] == "—（平台授权）"


def test_audit_screen_and_csv_name_the_actor_and_speak_chinese(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    from data_access.refresh import refresh
    refresh(engine)
    _admin(engine, "putian", "region_super", "350300", contact_name="林志强",
           contact_phone="13900000001", org_title="莆田市教育局")
    login(client, "putian")
    client.get("/export/training/T2022/teachers.csv?region=350322&stage=初中&q=教师")
    client.get("/export/training/T2022/regions.csv?region=350400")
    with engine.begin() as conn:
        uid = conn.scalar(select(User.id).where(User.account == "putian"))
        bid = conn.scalar(select(Binding.id).where(Binding.user_id == uid))
        issued = codes.issue(conn, scope_of(conn, uid, bid), "school_admin", "S-XY-1")
        audit.record(conn, "code_issue", user_id=uid, actor="pu***an", school_code="S-XY-1",
                     detail={"code_id": issued.id, "role": "school_admin"})

    resp = call_callback(client, "audit-grid.rowData",
                         [{"id": "audit-load", "property": "data", "value": 0}])
    assert resp.status_code == 200
    rows = resp.get_json()["response"]["audit-grid"]["rowData"]
    by_action = {}
    for r in rows:
        by_action.setdefault(r["action"], []).append(r)
    assert {"登录", "导出", "拒绝导出", "生成权限码"} <= set(by_action)
    for r in rows:
        assert not re.search(r'[{}"]', r["detail"]), r
        assert "******" not in r["actor"] and "putian" not in f"{r['actor']}{r['detail']}"
    assert {r["actor"] for r in by_action["导出"]} == {"林志强（pu***an）"}
    export = by_action["导出"][0]
    assert export["detail"] == ("导出「按学员查看」CSV，2 行，培训：2022年“暑期教师研修”专题，"
                                "学段：初中，姓名：教*")
    assert export["scope"] == "仙游县"
    assert "请求的区域：三明市" in by_action["拒绝导出"][0]["detail"]
    assert "生成「学校管理员」权限码" in by_action["生成权限码"][0]["detail"]
    assert "仙游县第一中学" in by_action["生成权限码"][0]["detail"]
    assert [r["detail"] for r in by_action["登录"]] == ["登录成功"]

    # the download: the screen's columns and sentences (the export itself is logged after)
    lines = list(csv.reader(io.StringIO(
        client.get("/export/audit.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[1] == ["时间", "操作人", "操作", "范围", "结果", "详情"]
    keys = ["at", "actor", "action", "scope", "outcome", "detail"]
    assert lines[2:] == [[r[k] for k in keys] for r in rows]
