"""教师管理 through the Flask test client (SPEC §5.2): the facets' counts against an
independent count of the fixture, decisions per row and in batches, the 不通过 dialog, the
lock while 城乡类型 is empty, another school's teachers, region sessions, and the download."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest
from sqlalchemy import select, update

from data_access import accounts
from data_access.models import AuditLog, School, Teacher
from tests.helpers import build_dataset, fire, login, make_admin, text_of

LIST = "ct-grid.rowData"


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)  # S-XY-1: 已通过 ×2, 未审核 ×1; S-XY-2: 已通过, 未通过
    with engine.begin() as conn:
        uid = accounts.create_user(conn, "13912345678", "郑晓峰", "Passw0rd!x")
        accounts.grant(conn, uid, "school_admin", "S-XY-1", contact_name="郑晓峰",
                       contact_phone="13912345678")
        conn.execute(update(Teacher).where(Teacher.account == "13800000002")
                     .values(title="一级教师"))
    make_admin(engine, "school_admin", "S-XY-2", "other-school")
    make_admin(engine, "region_training", "350322", "xianyou")
    return engine


def rows(client, status="", title="", stage="", page=1):
    resp = fire(client, LIST, {"ct-status.value": status, "ct-title.value": title,
                               "ct-stage.value": stage, "ct-pager.active_page": page,
                               "ct-reload.data": 0})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()["response"]


def teachers(engine, school="S-XY-1"):
    with engine.connect() as conn:
        return {r.account: r for r in conn.execute(
            select(Teacher.id, Teacher.account, Teacher.cert_status, Teacher.title,
                   Teacher.stage, Teacher.decision_reason)
            .where(Teacher.school_code == school))}


def confirm(client, rejecting, reason=None):
    """确定不通过 (its outputs are shared with the dialog's opener, so found by its input)."""
    dep = next(d for d in client.get("/_dash-dependencies").get_json()
               if any(i["id"] == "ct-reject-confirm" for i in d["inputs"]))
    values = {"ct-reject-confirm.n_clicks": 1, "ct-rejecting.data": rejecting,
              "ct-reject-reason.value": reason, "ct-reload.data": 0}

    def slot(spec):
        return {**spec, "value": values.get(f"{spec['id']}.{spec['property']}")}

    outputs = dep["output"].strip(".").split("...")
    body = {"output": dep["output"],
            "outputs": [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
                        for o in outputs],
            "inputs": [slot(i) for i in dep["inputs"]], "state": [slot(i) for i in dep["state"]],
            "changedPropIds": ["ct-reject-confirm.n_clicks"]}
    with client.session_transaction() as sess:
        token = sess.get("csrf", "")
    return client.post("/_dash-update-component", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-CSRFToken": token})


def act(client, cell=None, batch=None, selected=None):
    values = {"ct-grid.cellRendererData": cell, "ct-grid.selectedRows": selected,
              "ct-reload.data": 0}
    changed = ["ct-grid.cellRendererData"]
    if batch:
        values[f"ct-batch-{batch}.n_clicks"] = 1
        changed = [f"ct-batch-{batch}.n_clicks"]
    resp = fire(client, "ct-reject-text.children", values, changed=changed)
    return resp


@pytest.mark.parametrize("choice", [{}, {"status": "未审核"}, {"stage": "初中"},
                                    {"title": "未填写"}, {"status": "已通过", "stage": "初中"}])
def test_facet_counts_equal_an_independent_count(client, world, choice):
    login(client, "13912345678")
    out = rows(client, **choice)
    school = list(teachers(world).values())

    def left(skip):
        return [t for t in school if all(
            not choice.get(f) or f == skip or value == choice[f]
            for f, value in (("status", t.cert_status), ("title", t.title or "未填写"),
                             ("stage", t.stage)))]

    for facet, grid_id, attr in (("status", "ct-status", "cert_status"),
                                 ("title", "ct-title", "title"), ("stage", "ct-stage", "stage")):
        counted = Counter((getattr(t, attr) or "未填写") for t in left(facet))
        labels = {o["value"]: o["label"] for o in out[grid_id]["options"]}
        assert labels[""] == f"全部 ({len(left(facet))})"
        for value, label in labels.items():
            if value:
                assert label == f"{value} ({counted.get(value, 0)})", (facet, value)
    shown = out["ct-grid"]["rowData"]
    assert len(shown) == len(left(None))
    assert all("****" in r["account"] for r in shown)


def test_pass_reject_with_a_reason_and_batches(client, world):
    login(client, "13912345678")
    before = teachers(world)
    pending = before["13800000003"].id
    # 通过 on a row decides at once
    resp = act(client, cell={"rowId": str(pending), "value": "通过", "colId": "actions"})
    assert "已将 1 名教师设为「已通过」" in text_of(resp)
    assert teachers(world)["13800000003"].cert_status == "已通过"
    # 不通过 asks first, then keeps the reason
    resp = act(client, cell={"rowId": str(pending), "value": "不通过", "colId": "actions"})
    out = resp.get_json()["response"]
    assert out["ct-reject"]["is_open"] is True
    assert out["ct-rejecting"]["data"] == {"ids": [pending]}
    resp = confirm(client, {"ids": [pending]}, "证件照片不清晰")
    assert "设为「未通过」" in text_of(resp)
    row = teachers(world)["13800000003"]
    assert (row.cert_status, row.decision_reason) == ("未通过", "证件照片不清晰")
    # 批量通过 of the selected rows
    selected = [{"row_id": str(t.id)} for t in teachers(world).values()]
    resp = act(client, batch="pass", selected=selected)
    assert "已将 1 名教师设为「已通过」（2 名原已是该状态）" in text_of(resp)
    assert act(client, batch="pass", selected=[]).status_code == 200
    with world.connect() as conn:
        logged = conn.execute(select(AuditLog.detail).where(
            AuditLog.action == "cert_decision")).scalars().all()
    assert [json.loads(d)["status"] for d in logged] == ["已通过", "未通过", "已通过"]


def test_another_schools_teachers_cannot_be_decided(client, world):
    login(client, "13912345678")
    foreign = teachers(world, "S-XY-2")["13800000005"].id
    resp = act(client, cell={"rowId": str(foreign), "value": "通过", "colId": "actions"})
    assert "所选教师不属于本校" in text_of(resp)
    resp = act(client, batch="pass", selected=[{"row_id": str(foreign)}])
    assert "所选教师不属于本校" in text_of(resp)
    resp = confirm(client, {"ids": [foreign]})
    assert "所选教师不属于本校" in text_of(resp)
    assert teachers(world, "S-XY-2")["13800000005"].cert_status == "未通过"
    for forged in ([{"row_id": "x"}], [{"row_id": None}], "junk", [{"row_id": "1" * 30}]):
        assert act(client, batch="pass", selected=forged).status_code in (200, 204)
    names = {r["name"] for r in rows(client)["ct-grid"]["rowData"]}
    assert names == {"教师01", "教师02", "教师03"}  # never 教师04/05 of 仙游县实验小学


def test_a_school_without_urban_rural_type_is_read_only(client, world):
    with world.begin() as conn:
        conn.execute(update(School).where(School.code == "S-XY-1").values(urban_rural=None))
    login(client, "13912345678")
    out = rows(client)
    assert out["ct-locked"]["style"] == {}
    assert out["ct-batch-pass"]["disabled"] is True
    assert all(r["actions"] == [] for r in out["ct-grid"]["rowData"])
    pending = teachers(world)["13800000003"].id
    resp = act(client, cell={"rowId": str(pending), "value": "通过", "colId": "actions"})
    assert "城乡类型" in text_of(resp)
    assert teachers(world)["13800000003"].cert_status == "未审核"
    assert client.get("/export/certification.csv").status_code == 200  # downloads still work


def test_region_sessions_get_nothing(client, world):
    login(client, "xianyou")
    assert fire(client, LIST, {"ct-status.value": "", "ct-reload.data": 0}).status_code == 204
    pending = teachers(world)["13800000003"].id
    resp = act(client, cell={"rowId": str(pending), "value": "通过", "colId": "actions"})
    assert resp.status_code == 204
    assert client.get("/export/certification.csv").status_code == 403
    assert teachers(world)["13800000003"].cert_status == "未审核"


def test_the_download_holds_the_screens_rows(client, world):
    login(client, "13912345678")
    resp = client.get("/export/certification.csv?status=已通过")
    assert resp.status_code == 200
    lines = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert lines[0][0].startswith("教师管理 · 仙游县第一中学 · 审核状态：已通过")
    assert lines[1][:4] == ["账号", "姓名", "证件类型", "证件号码"]
    shown = rows(client, status="已通过")["ct-grid"]["rowData"]
    assert [line[0] for line in lines[2:]] == [r["account"] for r in shown]
    assert "13800000001" not in resp.get_data(as_text=True)
    assert client.get("/export/certification.xlsx?stage=大学").status_code == 400


def test_odd_ids_large_batches_new_reasons_and_the_lock_on_the_dialog(client, world):
    login(client, "13912345678")
    pending = teachers(world)["13800000003"].id
    for odd in ("²", "٣", "１", "3.0", " 3"):
        resp = act(client, cell={"rowId": odd, "value": "通过", "colId": "actions"})
        assert resp.status_code == 204, odd
    resp = confirm(client, {"ids": [pending] * 501})
    assert "一次最多审核 500 名教师" in text_of(resp)
    confirm(client, {"ids": [pending]}, "旧原因")
    resp = confirm(client, {"ids": [pending]}, "证件照片不清晰")
    assert "已将 1 名教师设为「未通过」" in text_of(resp)
    assert teachers(world)["13800000003"].decision_reason == "证件照片不清晰"
    with world.connect() as conn:
        last = json.loads(conn.execute(select(AuditLog.detail).where(
            AuditLog.action == "cert_decision").order_by(AuditLog.id.desc())).scalar())
    assert last["accounts"] == ["138****0003"]
    with world.begin() as conn:
        conn.execute(update(School).where(School.code == "S-XY-1").values(urban_rural=None))
    resp = act(client, cell={"rowId": str(pending), "value": "不通过", "colId": "actions"})
    out = resp.get_json()["response"]
    assert out["ct-reject"]["is_open"] is False and "城乡类型" in text_of(resp)


def _participants_card(client, uncertified) -> str:
    from tests.helpers import render_region

    out = render_region(client, uncertified=uncertified).get_json()["response"]
    first = out["st-cards"]["children"][0]["props"]["children"]
    assert first[0]["props"]["children"] == "参训人数"
    return first[1]["props"]["children"]


def test_a_decision_reaches_the_statistics_toggle_after_the_refresh(client, world):
    from data_access.refresh import refresh

    refresh(world)
    login(client, "13912345678")
    # S-XY-1: 01 and 02 已通过 and 03 未审核 took part
    assert (_participants_card(client, "include"), _participants_card(client, "exclude")) == (
        "3", "2")
    passed_teacher = teachers(world)["13800000001"].id
    confirm(client, {"ids": [passed_teacher]}, "任教学段填写有误")
    assert _participants_card(client, "exclude") == "2"  # the snapshot is not re-read yet
    refresh(world)
    assert (_participants_card(client, "include"), _participants_card(client, "exclude")) == (
        "3", "1")
