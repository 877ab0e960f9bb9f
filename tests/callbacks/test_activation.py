"""激活进度 through the Flask test client: the callbacks' cells and the downloads equal the
independent computation of tests/activation_fixture.py, navigation goes through the URL,
a region outside the scope gets an error panel, and 生成权限码 reuses the code flow."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from data_access import activation as act
from data_access.models import AuditLog, PermissionCode
from tests import activation_fixture as fx
from tests.helpers import call_callback, fire, login, make_admin, text_of, xlsx_shown

TABLE_OUTPUTS = ["act-error.children", "act-body.style", "act-breadcrumb.children",
                 "act-grid.rowData", "act-grid.pinnedTopRowData", "act-grid.dashGridOptions",
                 "act-school-grid.rowData", "act-school-grid.dashGridOptions",
                 "act-school-box.style", "act-note.style", "act-table-title.children",
                 "act-export-csv.href", "act-export-xlsx.href"]
LIST_OUTPUTS = ["act-list-grid.rowData", "act-summary.children", "act-pager.max_value",
                "act-list-export-urls.data"]
NAV_OUTPUTS = ["act-nav.href", "act-state.data", "act-table-state.data", "act-list-state.data",
               "act-table-panel.style", "act-list-panel.style", "act-pager.active_page"]
ISSUE_OUTPUTS = ["act-issued.children", "act-message.children", "act-reload.data"]
CODE = re.compile(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){6}")


@pytest.fixture
def tree(app):
    engine = app.extensions["yanxiu"].engine
    fx.build(engine)
    return engine


@pytest.fixture
def oracle(tree):
    return fx.Oracle(fx.parents_of(tree))


@pytest.fixture
def names(tree):
    return fx.names_of(tree)


@pytest.fixture
def province_admin(client, tree):
    account = make_admin(tree, "region_training", "T0", "t0-admin", "省研修管理员")
    login(client, account)
    return account


def render_table(client, region=""):
    resp = call_callback(client, TABLE_OUTPUTS,
                         [{"id": "act-table-state", "property": "data",
                           "value": {"region": region}}],
                         state=[{"id": "act-state", "property": "data",
                                 "value": {"region": region}}])
    assert resp.status_code == 200
    return resp.get_json()["response"]


def render_list(client, region="", q="", page=1, size=10, reload=0):
    value = {"region": region, "q": q, "page": page, "size": size}
    resp = call_callback(client, LIST_OUTPUTS,
                         [{"id": "act-list-state", "property": "data", "value": value},
                          {"id": "act-reload", "property": "data", "value": reload}])
    assert resp.status_code == 200
    return resp.get_json()["response"]


def table_cells(response) -> tuple[list[list[str]], list[list[str]]]:
    grid = response["act-grid"]
    rows = list(grid["pinnedTopRowData"]) + list(grid["rowData"])
    regions = [[r["name"]] + [r[f] for _, f in act.TABLE_COLUMNS] for r in rows]
    schools = [[r[f] for _, f in act.SCHOOL_COLUMNS]
               for r in response["act-school-grid"]["rowData"]]
    return regions, schools


@pytest.mark.parametrize("code", [c for c, *_ in fx.REGIONS])
def test_the_screen_shows_the_independently_computed_cells(client, province_admin, oracle,
                                                           names, code):
    response = render_table(client, "" if code == "T0" else code)
    assert table_cells(response) == oracle.table(code, names)
    leaf = not oracle.kids.get(code)
    assert (response["act-school-box"]["style"] == {}) is leaf
    assert (response["act-note"]["style"] == {}) is not leaf  # the note under region rows
    assert response["act-export-csv"]["href"] == f"/export/activation.csv?region={code}"


@pytest.mark.parametrize("code", [c for c, *_ in fx.REGIONS])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_download_equals_the_screen(client, province_admin, oracle, names, code, fmt):
    regions, schools = oracle.table(code, names)
    resp = client.get(f"/export/activation.{fmt}?region={code}")
    assert resp.status_code == 200
    title, header, rows = _download(resp, fmt)
    assert title.startswith(f"激活进度 · {names[code]} · ")
    if schools or not oracle.kids.get(code):
        assert header == [label for label, _ in act.SCHOOL_COLUMNS]
        assert rows == schools
        current = regions[0]
        assert f"学校激活进度：{current[1]}" in title  # the region's own row, in the title
    else:
        assert header == ["区域"] + [label for label, _ in act.TABLE_COLUMNS]
        assert rows == regions


def _download(resp, fmt):
    if fmt == "csv":
        lines = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
        return lines[0][0], lines[1], lines[2:]
    wb = load_workbook(io.BytesIO(resp.get_data()))
    ws = wb.worksheets[0]
    values = [[xlsx_shown(c) for c in row] for row in ws.iter_rows()]
    width = len(values[1])
    return values[0][0], values[1], [r[:width] for r in values[2:]]


def test_xlsx_cells_keep_their_type(client, province_admin):
    resp = client.get("/export/activation.xlsx?region=T0")
    ws = load_workbook(io.BytesIO(resp.get_data())).worksheets[0]
    row = [c for c in next(ws.iter_rows(min_row=3, max_row=3))]
    assert row[0].value == "测试省"
    assert row[1].number_format == "0.0%" and abs(row[1].value - 0.343) < 1e-9
    assert row[2].number_format == "0" and row[2].value == 35
    direct = [c.value for c in next(ws.iter_rows(min_row=4, max_row=4))]
    assert direct[0] == "直属学校" and direct[4:] == ["--", "--", "--", "--"]


@pytest.mark.parametrize("code", ["T0", "T1", "T12", "T2", "T13"])
@pytest.mark.parametrize("q", ["", "小学", "t21-1", "100%"])
def test_the_list_and_its_download_equal_the_independent_computation(
        client, province_admin, oracle, names, code, q):
    expected = oracle.unactivated(code, q)
    shown = []
    page, pages = 1, 1
    while page <= pages:
        response = render_list(client, code, q, page, 10)
        pages = response["act-pager"]["max_value"]
        shown += response["act-list-grid"]["rowData"]
        page += 1
    assert [(r["name"], r["code"], r["region_path"], r["kind"]) for r in shown] == [
        (s.name, s.code, oracle.path(s.region, names), s.kind) for s in expected]
    assert response["act-summary"]["children"].endswith(f"共有 {len(expected)} 条记录")
    for fmt in ("csv", "xlsx"):
        url = response["act-list-export-urls"]["data"][fmt]
        title, header, rows = _download(client.get(url), fmt)
        assert title.startswith(f"未激活学校 · {names[code]}")
        assert header == [label for label, _ in act.UNACTIVATED_COLUMNS]
        assert rows == [[s.name, s.code, oracle.path(s.region, names), s.kind] for s in expected]


def test_paging_and_the_summary_line(client, province_admin):
    response = render_list(client, "T0", "", 3, 10)
    assert response["act-summary"]["children"] == "当前第 3 页/共 3 页, 共有 23 条记录"
    assert len(response["act-list-grid"]["rowData"]) == 3
    response = render_list(client, "T0", "", 99, 20)  # beyond the last page: the last
    assert response["act-summary"]["children"] == "当前第 2 页/共 2 页, 共有 23 条记录"


def test_a_region_admin_sees_issue_actions(client, province_admin):
    rows = render_list(client, "T3")["act-list-grid"]["rowData"]
    assert [(r["code"], r["action"]) for r in rows] == [("T3-2", "生成权限码")]


def test_navigation_goes_through_the_url(client, province_admin):
    state = {"region": "", "tab": "table", "q": "", "page": 1, "size": 10}

    def nav(trigger: str, value, **extra):
        inputs = {"act-grid.cellClicked": None, "act-tabs.active_tab": state["tab"],
                  "act-search-go.n_clicks": 0, "act-search.n_submit": 0,
                  "act-pager.active_page": state["page"], "act-page-size.value": state["size"]}
        inputs[trigger] = value
        ids = list(inputs)
        resp = call_callback(
            client, NAV_OUTPUTS,
            [{"id": k.split(".")[0], "property": k.split(".")[1], "value": inputs[k]}
             for k in ids],
            state=[{"id": "act-search", "property": "value", "value": extra.get("q", "")},
                   {"id": "act-state", "property": "data", "value": extra.get("state", state)}],
            changed=[trigger])
        return resp

    resp = nav("act-grid.cellClicked", {"colId": "name", "rowId": "region:T1", "value": "甲市"})
    out = resp.get_json()["response"]
    assert out["act-nav"]["href"] == "/activation?region=T1"
    assert out["act-table-state"]["data"] == {"region": "T1"}
    assert "act-list-state" not in out  # the list is not shown: not re-read
    resp = nav("act-tabs.active_tab", "unactivated")
    out = resp.get_json()["response"]
    assert out["act-nav"]["href"] == "/activation?tab=unactivated"
    assert out["act-list-state"]["data"] == {"region": "", "q": "", "page": 1, "size": 10}
    assert out["act-list-panel"]["style"] == {} and out["act-table-panel"]["style"] == {
        "display": "none"}
    listing = {**state, "tab": "unactivated", "region": "T2"}
    out = nav("act-search-go.n_clicks", 1, q=" 乙一县 ", state=listing).get_json()["response"]
    assert out["act-nav"]["href"] == (
        "/activation?region=T2&tab=unactivated&q=%E4%B9%99%E4%B8%80%E5%8E%BF")
    assert "act-table-state" not in out  # a search does not re-read the table
    out = nav("act-pager.active_page", 2, state=listing).get_json()["response"]
    assert out["act-nav"]["href"] == "/activation?region=T2&tab=unactivated&page=2"
    # clicks that go nowhere change nothing
    for cell in ({"colId": "name", "rowId": "direct:T0"},
                 {"colId": "schools", "rowId": "region:T1"},
                 {"colId": "name", "rowId": "current:T0"}, "junk", None):
        assert nav("act-grid.cellClicked", cell).status_code == 204


def _route(client, search: str, shown=None):
    values = {"_pages_location.pathname": "/activation", "_pages_location.search": search}
    if shown is not None:
        values["act-state.data"] = shown
    return fire(client, "_pages_content.children", values)


def test_the_page_is_built_from_its_url(client, province_admin):
    resp = _route(client, "?region=T1&tab=unactivated&q=%E5%B0%8F%E5%AD%A6&page=2&size=20")
    assert resp.status_code == 200
    page = text_of(resp)
    state = {"region": "T1", "tab": "unactivated", "q": "小学", "page": 2, "size": 20}
    assert json.dumps(state, ensure_ascii=False) in page  # the STATE store
    assert "注：点击具体区域名称，可查看下一级管理员开通情况。" in page
    # malformed parameters fall back to the defaults
    page = text_of(_route(client, "?tab=nope&page=-3&size=999&q=%00x"))
    assert json.dumps({"region": "", "tab": "table", "q": "", "page": 1, "size": 10}) in page
    # the page already shows what the URL names (its own controls changed it): kept
    assert _route(client, "?region=T1", shown={"region": "T1", "tab": "table"}).status_code == 204


def test_the_menu_lists_it_in_spec_order(client, province_admin):
    layout = text_of(client.get("/_dash-layout"))
    order = ["教师研修", "激活进度", "权限码管理", "管理员列表", "导出管理"]
    positions = [layout.index(f'"children": "{label}"') for label in order]
    assert positions == sorted(positions)
    assert '"href": "/activation"' in layout


def test_a_region_outside_the_scope_gets_an_error_panel(client, tree):
    account = make_admin(tree, "region_training", "T1", "t1-admin")
    login(client, account)
    for region in ("T0", "T2", "T21", "350000", "nope", "T1' OR '1'='1"):
        response = render_table(client, region)
        assert "无权查看" in text_of_dict(response["act-error"])
        assert response["act-grid"]["rowData"] == []
        assert response["act-school-grid"]["rowData"] == []
        assert response["act-export-csv"]["href"] == ""
        rows = render_list(client, region)["act-list-grid"]["rowData"]
        assert rows == []
        assert client.get(f"/export/activation.csv?region={region}").status_code == 403
        assert client.get(
            f"/export/activation/unactivated.xlsx?region={region}").status_code == 403
    with tree.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "denied")) >= 6
    # its own region and below are fine
    assert render_table(client, "T12")["act-error"]["children"] is None


def text_of_dict(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def test_a_school_admin_has_no_activation_screen(client, tree):
    account = make_admin(tree, "school_admin", "T12-2", "t12-school")
    login(client, account)
    response = render_table(client, "T12")
    assert response["act-grid"]["rowData"] == []
    assert client.get("/export/activation.csv").status_code == 403


def _issue(client, school, value="生成权限码", region="T0"):
    return call_callback(
        client, ISSUE_OUTPUTS,
        [{"id": "act-list-grid", "property": "cellClicked",
          "value": {"colId": "action", "rowId": school, "value": value}}],
        state=[{"id": "act-list-state", "property": "data",
                "value": {"region": region, "q": "", "page": 1, "size": 10}},
               {"id": "act-reload", "property": "data", "value": 0}])


def test_issuing_a_code_from_the_list(client, province_admin, tree):
    resp = _issue(client, "T3-2")
    assert resp.status_code == 200
    out = resp.get_json()["response"]
    shown = text_of_dict(out["act-issued"])
    assert len(CODE.findall(shown)) == 1 and "丙区中心小学" in shown
    assert "只显示这一次" in shown
    with tree.connect() as conn:
        code = conn.execute(select(PermissionCode.role, PermissionCode.school_code)).all()
        assert code == [("school_admin", "T3-2")]
        logged = conn.execute(select(AuditLog.action, AuditLog.scope_school)
                              .where(AuditLog.action == "code_issue")).all()
        assert logged == [("code_issue", "T3-2")]
    # the list now says the code waits to be used; a second one is refused
    rows = render_list(client, "T3", reload=1)["act-list-grid"]["rowData"]
    assert [(r["code"], r["action"]) for r in rows] == [("T3-2", "已生成待使用")]
    out = _issue(client, "T3-2").get_json()["response"]
    assert "已有未使用的权限码" in text_of_dict(out["act-message"])
    assert CODE.search(text_of_dict(out)) is None


def test_issuing_is_refused_outside_the_scope_and_for_activated_schools(client, tree):
    account = make_admin(tree, "region_training", "T1", "t1-issuer")
    login(client, account)
    for school, region in (("T3-2", "T1"), ("T21-02", "T1"), ("T3-2", "T3"),
                           ("350322-X1", "T1"), ("T11-1", "T1")):
        resp = _issue(client, school, region=region)
        assert resp.status_code in (200, 204)
        if resp.status_code == 200:
            assert CODE.search(text_of(resp)) is None
    for value in ("已生成待使用", "删除", None):
        assert _issue(client, "T1Z-1", value=value).status_code == 204
    with tree.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PermissionCode)) == 0
