"""学校管理's download (SPEC §6): `/export/schools.<csv|xlsx>?region=&q=&kind=&urban_rural=&activated=`
holds exactly the screen's rows under the same scope and filters."""

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from data_access import accounts
from data_access.models import AuditLog
from data_access import audit
from tests.callbacks.test_schools import rows as screen_rows
from tests.helpers import build_dataset, login, make_admin, xlsx_shown

HEADER = ["学校名称", "学校标识码", "所在区域", "机构类型", "城乡类型", "是否激活", "学校管理员",
          "联系电话"]


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    make_admin(engine, "region_training", "350300", "putian")
    make_admin(engine, "region_training", "350322", "xianyou")
    with engine.begin() as conn:
        uid = accounts.create_user(conn, "13912345678", "注册名", "Passw0rd!x")
        accounts.grant(conn, uid, "school_admin", "S-XY-1", contact_name="郑晓峰",
                       contact_phone="13912345678")
    return engine


def csv_lines(resp):
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _screen(client, **filters):
    out = screen_rows(client, **filters)
    return [[r["name"], r["code"], r["region"], r["kind"],
             "" if r["urban_rural"] == "—" else r["urban_rural"], r["activated"],
             "" if r["admin"] == "—" else r["admin"], "" if r["phone"] == "—" else r["phone"]]
            for r in out["schools-grid.rowData"]]


@pytest.mark.parametrize("filters,query", [
    ({}, ""),
    ({"region": "350322"}, "?region=350322"),
    ({"activated": "1"}, "?activated=1"),
    ({"activated": "0", "q": "中学"}, "?activated=0&q=中学"),
    ({"kind": "学校", "urban": "城区"}, "?kind=学校&urban_rural=城区"),
])
def test_the_download_holds_the_screens_rows(app, client, world, filters, query):
    login(client, "putian")
    lines = csv_lines(client.get(f"/export/schools.csv{query}"))
    assert lines[0][0].startswith("学校管理 · ")
    assert lines[1] == HEADER
    assert lines[2:] == _screen(client, **filters)
    xlsx = client.get(f"/export/schools.xlsx{query}")
    assert xlsx.status_code == 200
    ws = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True).worksheets[0]
    cells = [[xlsx_shown(c) for c in row] for row in ws.iter_rows()]
    assert [c[:8] for c in cells[1:]] == lines[1:]


def test_title_masks_and_audit(app, client, world):
    login(client, "putian")
    lines = csv_lines(client.get("/export/schools.csv?region=350322&activated=1"))
    assert lines[0][0].startswith("学校管理 · 仙游县 · 机构类型：全部 · 城乡类型：全部 · 是否激活：已激活 · 导出时间：")
    assert lines[2] == ["仙游县第一中学", "S-XY-1", "莆田市/仙游县", "学校", "城区", "已激活", "郑晓峰",
                        "139****5678"]
    assert "13912345678" not in json.dumps(lines, ensure_ascii=False)
    with world.connect() as conn:
        entry = audit.entries_in_scope(conn, "350300")[0]
    assert entry.action == "导出"
    assert entry.detail.startswith("导出「学校管理」CSV，1 行")
    assert "是否激活：已激活" in entry.detail


@pytest.mark.parametrize("query,status", [
    ("?region=350400", 403), ("?region=350000", 403), ("?region=S-XY-1", 403),
    ("?kind=大学", 400), ("?activated=2", 400), ("?urban_rural=郊区", 400),
    ("?q=" + "x" * 41, 400),
])
def test_outside_the_scope_or_malformed(app, client, world, query, status):
    login(client, "xianyou")
    resp = client.get(f"/export/schools.csv{query}")
    assert resp.status_code == status
    assert "荔城" not in resp.get_data(as_text=True)


def test_school_admins_and_anonymous_get_no_school_list(app, client, world):
    assert client.get("/export/schools.csv").status_code == 401
    login(client, "13912345678")
    assert client.get("/export/schools.csv").status_code == 403
