"""学校管理 through the callback endpoint, as the browser sends it and as a forger would:
no school outside the scope can be read, edited, deleted or moved, nor moved into a region
outside the scope (SPEC §4.4, §8.1)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from data_access import accounts, codes
from data_access.models import AuditLog, Binding, PermissionCode, School
from data_access.scope import scope_of
from tests.helpers import build_dataset, dash_layout_callbacks, login, make_admin, text_of

FIELDS = ("code", "name", "region_code", "kind", "urban_rural", "address", "phone", "principal")


def _dep(client, input_id: str, prop: str, output: str | None = None) -> dict:
    """The callback fired by `input_id.prop` (and writing `output`, when several are)."""
    for dep in dash_layout_callbacks(client):
        if dep.get("clientside_function"):
            continue
        if not any(i["id"] == input_id and i["property"] == prop for i in dep["inputs"]):
            continue
        names = [o.split("@")[0] for o in dep["output"].strip(".").split("...")]
        if output is None or output in names:
            return dep
    raise LookupError((input_id, prop, output))


def fire(client, input_id, prop, values: dict, output=None):
    """POST the callback like the renderer: ``values`` maps "id.prop" to a value (others
    None); the response as {"id.prop": value}."""
    dep = _dep(client, input_id, prop, output)
    outputs = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [
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
            "changedPropIds": [f"{input_id}.{prop}"]}
    resp = client.post("/_dash-update-component", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-CSRFToken": token})
    assert resp.status_code in (200, 204), resp.get_data(as_text=True)
    if resp.status_code == 204:
        return None
    out = {}
    for cid, props in resp.get_json()["response"].items():
        for p, v in props.items():
            out[f"{cid}.{p}"] = v
    return out


def rows(client, **filters):
    values = {"schools-region.value": filters.get("region", ""),
              "schools-kind.value": filters.get("kind", ""),
              "schools-urban.value": filters.get("urban", ""),
              "schools-activated.value": filters.get("activated", ""),
              "schools-query.value": filters.get("q", ""),
              "schools-pager.active_page": filters.get("page", 1),
              "schools-reload.data": 0}
    return fire(client, "schools-reload", "data", values)


def action(client, name: str, code, output: str):
    """A click on a row's action link (the grid's cellRendererData), forged or not."""
    return fire(client, "schools-grid", "cellRendererData",
                {"schools-grid.cellRendererData": {"value": name, "rowId": code,
                                                   "colId": "actions"}}, output)


def save(client, editing, **values):
    data = {f"schools-field-{k}.value": v for k, v in values.items()}
    data.update({"schools-form-save.n_clicks": 1, "schools-editing.data": editing,
                 "schools-reload.data": 0})
    return fire(client, "schools-form-save", "n_clicks", data)


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    make_admin(engine, "region_training", "350322", "xianyou")
    make_admin(engine, "region_training", "350300", "putian")
    make_admin(engine, "region_training", "350424", "ninghua")
    with engine.begin() as conn:
        uid = accounts.create_user(conn, "13912345678", "注册名", "Passw0rd!x")
        accounts.grant(conn, uid, "school_admin", "S-XY-1", contact_name="郑晓峰",
                       contact_phone="13912345678")
    return engine


def _state(engine):
    with engine.connect() as conn:
        return (sorted(map(tuple, conn.execute(
            select(School.code, School.name, School.region_code, School.kind,
                   School.urban_rural, School.deleted_at)))),
                conn.scalar(select(func.count()).select_from(Binding)
                            .where(Binding.removed_at.is_not(None))),
                conn.scalar(select(func.count()).select_from(PermissionCode)))


def test_the_list_shows_the_scope_with_masked_admin_phone(app, client, world):
    login(client, "xianyou")
    out = rows(client)
    grid = {r["code"]: r for r in out["schools-grid.rowData"]}
    assert set(grid) == {"S-XY-1", "S-XY-2"}
    assert grid["S-XY-1"] == {
        "code": "S-XY-1", "name": "仙游县第一中学", "region": "仙游县", "kind": "学校",
        "urban_rural": "城区", "activated": "已激活", "admin": "郑晓峰", "phone": "139****5678",
        "actions": ["编辑", "删除"]}
    # a county admin is offered no 调整隶属; a school without admin gets 生成权限码
    assert grid["S-XY-2"]["actions"] == ["编辑", "删除", "生成权限码"]
    assert out["schools-total.children"] == "共 2 条"
    assert "13912345678" not in text_of_out(out)
    assert out["schools-export-csv.href"] == "/export/schools.csv"


def text_of_out(out) -> str:
    return json.dumps(out, ensure_ascii=False)


def test_filters_paging_and_export_links_follow_the_controls(app, client, world):
    login(client, "putian")
    out = rows(client, region="350322", activated="0", q="实验")
    assert [r["code"] for r in out["schools-grid.rowData"]] == ["S-XY-2"]
    assert out["schools-export-xlsx.href"] == (
        "/export/schools.xlsx?region=350322&q=%E5%AE%9E%E9%AA%8C&activated=0")
    assert [r["actions"] for r in out["schools-grid.rowData"]] == [
        ["编辑", "删除", "调整隶属", "生成权限码"]]
    everything = rows(client)
    assert [r["code"] for r in everything["schools-grid.rowData"]] == ["S-LC-1", "S-XY-1",
                                                                      "S-XY-2"]


@pytest.mark.parametrize("filters", [
    dict(region="350400"), dict(region="350000"), dict(region="S-XY-1"), dict(region=["350322"]),
    dict(region="350322' OR '1'='1"), dict(kind="大学"), dict(q="x" * 500), dict(q={"a": 1}),
    dict(activated="2"), dict(urban="郊区"), dict(page="2"), dict(page=10**9),
])
def test_forged_filters_give_no_rows_outside_the_scope(app, client, world, filters):
    login(client, "xianyou")
    out = rows(client, **filters)
    text = text_of_out(out)
    for marker in ("荔城", "宁化", "福建省直属", "S-LC-1"):
        assert marker not in text


def test_a_county_admin_adds_a_school_with_messages_next_to_the_fields(app, client, world):
    login(client, "xianyou")
    opened = fire(client, "schools-add", "n_clicks", {"schools-add.n_clicks": 1,
                                                      "schools-region.value": ""})
    assert opened["schools-form.is_open"] is True
    assert opened["schools-field-region_code.value"] == "350322"
    assert opened["schools-field-code.disabled"] is False
    bad = save(client, None, code="S-XY-2", name="", region_code="350304", kind="大学",
               urban_rural="乡村", phone="电话")
    assert bad["schools-form.is_open"] is True
    invalid = {k for k in FIELDS if bad[f"schools-field-{k}.invalid"]}
    assert invalid == {"code", "name", "region_code", "kind", "phone"}
    assert bad["schools-feedback-code.children"] == "该学校标识码已被使用"
    assert bad["schools-feedback-name.children"] == "必填"
    assert bad["schools-feedback-region_code.children"] == "所在区域不存在"
    assert bad["schools-feedback-urban_rural.children"] is None
    good = save(client, None, code="S-XY-9", name="仙游县第九中学", region_code="350322",
                kind="学校", urban_rural="乡村", address="", phone="0594-8281234",
                principal="王小明")
    assert good["schools-form.is_open"] is False
    assert "已新增学校「仙游县第九中学」" in text_of_out(good)
    assert "S-XY-9" in [r["code"] for r in rows(client)["schools-grid.rowData"]]
    with world.connect() as conn:
        entry = conn.execute(select(AuditLog.action, AuditLog.actor, AuditLog.ip)
                             .order_by(AuditLog.id.desc())).first()
    assert (entry.action, entry.actor) == ("school_create", "xi***ou")


def test_editing_opens_the_stored_values_and_saves_old_and_new(app, client, world):
    login(client, "xianyou")
    opened = action(client, "编辑", "S-XY-2", "schools-form.is_open")
    assert opened["schools-form.is_open"] is True
    assert opened["schools-editing.data"] == {"code": "S-XY-2"}
    assert opened["schools-field-name.value"] == "仙游县实验小学"
    assert opened["schools-field-code.disabled"] is True
    assert opened["schools-field-region_code.disabled"] is True
    done = save(client, {"code": "S-XY-2"}, code="S-XY-2", name="仙游县实验小学（东校区）",
                region_code="350322", kind="学校", urban_rural="镇区", address="城东",
                phone="", principal="")
    assert done["schools-form.is_open"] is False
    with world.connect() as conn:
        stored = conn.execute(select(School.name, School.urban_rural)
                              .where(School.code == "S-XY-2")).one()
        detail = json.loads(conn.scalar(select(AuditLog.detail)
                                        .where(AuditLog.action == "school_update")))
    assert tuple(stored) == ("仙游县实验小学（东校区）", "镇区")
    assert detail["old"] == {"name": "仙游县实验小学", "urban_rural": "城区", "address": None}


def test_forged_edits_reach_no_school_outside_the_scope(app, client, world):
    login(client, "xianyou")
    before = _state(world)
    for code in ("S-LC-1", "S-FJ-1", "S-SM-1", "NOPE", ["S-XY-1"], {"code": "S-LC-1"}, 7):
        opened = action(client, "编辑", code, "schools-form.is_open")
        if opened is not None:
            assert opened["schools-form.is_open"] is False
            assert "荔城" not in text_of_out(opened) and "宁化" not in text_of_out(opened)
        out = save(client, {"code": code}, name="被篡改", kind="其他")
        if out is not None:
            assert "被篡改" not in text_of_out(out)
    # a forged 编辑 store cannot turn an edit into a create, or name a region outside
    out = save(client, "S-LC-1", name="被篡改")
    assert out is None
    out = save(client, None, code="S-NEW", name="新校", region_code="350304")
    assert out["schools-feedback-region_code.children"] == "所在区域不存在"
    assert _state(world) == before


def test_delete_asks_with_the_consequences_then_soft_deletes(app, client, world):
    login(client, "xianyou")
    asked = action(client, "删除", "S-XY-1", "schools-delete.is_open")
    assert asked["schools-delete.is_open"] is True
    assert asked["schools-delete-text.children"] == "确定删除「仙游县第一中学」（学校标识码：S-XY-1）吗？"
    assert asked["schools-deleting.data"] == "S-XY-1"
    done = fire(client, "schools-delete-confirm", "n_clicks",
                {"schools-delete-confirm.n_clicks": 1, "schools-deleting.data": "S-XY-1",
                 "schools-reload.data": 0})
    assert done["schools-delete.is_open"] is False
    assert "已删除学校「仙游县第一中学」，其学校管理员的绑定已结束" in text_of_out(done)
    with world.connect() as conn:
        assert conn.scalar(select(School.deleted_at).where(School.code == "S-XY-1"))
        assert conn.scalar(select(Binding.removed_at).where(Binding.school_code == "S-XY-1"))
    assert [r["code"] for r in rows(client)["schools-grid.rowData"]] == ["S-XY-2"]


def test_forged_deletes_reach_no_school_outside_the_scope(app, client, world):
    login(client, "xianyou")
    before = _state(world)
    for code in ("S-LC-1", "S-FJ-1", "S-SM-1", "S-XY-1' OR '1'='1", "%", ["S-XY-1"], None, 5):
        asked = action(client, "删除", code, "schools-delete.is_open")
        if asked is not None:
            assert asked["schools-delete.is_open"] is False
        done = fire(client, "schools-delete-confirm", "n_clicks",
                    {"schools-delete-confirm.n_clicks": 1, "schools-deleting.data": code,
                     "schools-reload.data": 0})
        if done is not None:
            assert "已删除" not in text_of_out(done)
    assert _state(world) == before


def _move(client, code, target):
    return fire(client, "schools-move-confirm", "n_clicks",
                {"schools-move-confirm.n_clicks": 1, "schools-moving.data": code,
                 "schools-move-target.value": target, "schools-reload.data": 0})


def test_a_city_admin_moves_a_school_between_its_counties_only(app, client, world):
    login(client, "putian")
    asked = action(client, "调整隶属", "S-XY-2", "schools-move.is_open")
    assert asked["schools-move.is_open"] is True
    targets = [o["value"] for o in asked["schools-move-target.options"]]
    assert "350304" in targets and "350322" not in targets and "350300" not in targets
    assert not any(t.startswith("3504") for t in targets)
    assert {o["label"] for o in asked["schools-move-target.options"]} >= {"莆田市/荔城区"}
    refused = _move(client, "S-XY-2", "350424")  # into 三明市
    assert refused["schools-move.is_open"] is True
    assert "只能调整到本辖区内的下级区域" in text_of_out(refused)
    done = _move(client, "S-XY-2", "350304")
    assert done["schools-move.is_open"] is False
    assert "已将学校「仙游县实验小学」调整到 莆田市/荔城区" in text_of_out(done)
    with world.connect() as conn:
        assert conn.scalar(select(School.region_code).where(School.code == "S-XY-2")) == "350304"


def test_a_county_admin_cannot_move_even_with_a_forged_request(app, client, world):
    login(client, "xianyou")
    before = _state(world)
    asked = action(client, "调整隶属", "S-XY-2", "schools-move.is_open")
    assert asked["schools-move.is_open"] is False
    assert "不能由当前管理员调整隶属" in text_of_out(asked)
    for target in ("350304", "350322", "350424"):
        out = _move(client, "S-XY-2", target)
        assert "区县级管理员不能调整学校隶属" in text_of_out(out)
    assert _state(world) == before


def test_forged_moves_of_or_into_anything_outside_the_scope_change_nothing(app, client, world):
    login(client, "putian")
    before = _state(world)
    for code, target in (("S-SM-1", "350322"), ("S-FJ-1", "350322"), ("S-XY-1", "350424"),
                         ("S-XY-1", "350000"), ("S-XY-1", "350300"), ("S-XY-1", "110101"),
                         ("S-XY-1", ["350304"]), ("S-XY-1", {"v": "350304"}),
                         ("S-XY-1", "350304' OR '1'='1"), (["S-XY-1"], "350304"),
                         ({"code": "S-XY-1"}, "350304")):
        out = _move(client, code, target)
        if out is not None:
            assert "已将" not in text_of_out(out) and "宁化" not in text_of_out(out)
        asked = action(client, "调整隶属", code, "schools-move.is_open")
        if asked is not None:
            assert "宁化" not in text_of_out(asked)
    assert _state(world) == before


def test_a_code_is_issued_once_for_a_school_without_admin(app, client, world):
    login(client, "xianyou")
    out = action(client, "生成权限码", "S-XY-2", "schools-issued.children")
    shown = text_of_out(out)
    code = re.search(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){6}", shown).group(0)
    assert "仙游县实验小学" in shown and "只显示这一次" in shown
    with world.connect() as conn:
        stored = conn.execute(select(PermissionCode.code_hash, PermissionCode.school_code)).one()
        assert stored.school_code == "S-XY-2" and stored.code_hash == codes.code_hash(code)
        assert conn.scalar(select(AuditLog.action).order_by(AuditLog.id.desc())) == "code_issue"
    again = action(client, "生成权限码", "S-XY-2", "schools-issued.children")
    assert "该学校已有未使用的权限码" in text_of_out(again)
    taken = action(client, "生成权限码", "S-XY-1", "schools-issued.children")
    assert "该学校已有学校管理员" in text_of_out(taken)
    outside = action(client, "生成权限码", "S-LC-1", "schools-issued.children")
    assert "荔城" not in text_of_out(outside)
    with world.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PermissionCode)) == 1


def test_school_admins_get_nothing_from_these_callbacks(app, client, world):
    login(client, "13912345678")
    assert rows(client) is None
    assert action(client, "编辑", "S-XY-1", "schools-form.is_open") is None
    assert _move(client, "S-XY-1", "350304") is None


def test_the_page_opens_with_the_urls_filters_when_they_are_valid():
    from layouts import schools as view

    regions = [("350300", "莆田市"), ("350322", "莆田市/仙游县")]
    urls = {"csv": "/export/schools.csv", "xlsx": "/export/schools.xlsx"}

    def value(page, cid):
        found = []

        def walk(node):
            if getattr(node, "id", None) == cid:
                found.append(node.value)
            for child in getattr(node, "children", None) or []:
                if hasattr(child, "to_plotly_json"):
                    walk(child)
        walk(page)
        return found[0]

    page = view.page(urls, regions, "350322", "实验", "学校", "未填写", "0")
    assert [value(page, c) for c in ("schools-region", "schools-query", "schools-kind",
                                     "schools-urban", "schools-activated")] == [
        "350322", "实验", "学校", "未填写", "0"]
    forged = view.page(urls, regions, "350400", ["x"], "大学", "郊区", "2")
    assert [value(forged, c) for c in ("schools-region", "schools-query", "schools-kind",
                                       "schools-urban", "schools-activated")] == [
        "350300", "", "", "", ""]
