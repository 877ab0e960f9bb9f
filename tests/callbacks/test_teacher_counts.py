"""专任教师数 through the Flask test client: the figures, the upload's preview and 确认导入,
the audit entry, and the downloads (SPEC §4.5, §6) — always for the session's own region."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from data_access import accounts
from data_access.models import AuditLog, TeacherCount
from data_access.teacher_counts import UPLOAD_MAX_BYTES
from tests.helpers import build_dataset, fire, login, make_admin, text_of

HEADER = ["区域代码", "区域名称", "学段", "专任教师数"]


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)  # figures: 仙游县 20, 荔城区 8, 宁化县 4
    make_admin(engine, "region_training", "350300", "putian", "陈淑珍")
    make_admin(engine, "region_training", "350322", "xianyou", "黄文斌")
    with engine.begin() as conn:
        uid = accounts.create_user(conn, "13912345678", "注册名", "Passw0rd!x")
        accounts.grant(conn, uid, "school_admin", "S-XY-1", contact_name="郑晓峰",
                       contact_phone="13912345678")
    return engine


def data_url(rows, mime="text/csv") -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    raw = buf.getvalue().encode("utf-8-sig")
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def figures(client) -> dict:
    resp = fire(client, "tc-figures-grid.rowData", {"tc-reload.data": 0})
    assert resp.status_code == 200
    return resp.get_json()["response"]


def preview(client, contents, filename="专任教师数.csv"):
    resp = fire(client, "tc-preview-grid.rowData",
                {"tc-upload.contents": contents, "tc-upload.filename": filename})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()["response"]


def commit(client, contents, filename="专任教师数.csv", reload=0):
    resp = fire(client, "tc-reload.data",
                {"tc-confirm.n_clicks": 1, "tc-upload.contents": contents,
                 "tc-upload.filename": filename, "tc-reload.data": reload})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()["response"]


def stored(engine) -> dict:
    with engine.connect() as conn:
        return {(r.region_code, r.stage): (r.count, r.source)
                for r in conn.execute(select(TeacherCount))}


def test_the_figures_and_the_regions_shown_as_a_dash(client, world):
    login(client, "putian")
    out = figures(client)
    rows = out["tc-figures-grid"]["rowData"]
    assert [r["region_name"] for r in rows] == ["莆田市", "城厢区", "涵江区", "荔城区", "秀屿区",
                                                "仙游县"]
    by = {r["region_code"]: r for r in rows}
    assert (by["350322"]["own"], by["350322"]["effective"]) == ("20", "20")
    assert by["350322"]["path"] == "仙游县"
    assert by["350300"]["effective"] == "—"
    missing = out["tc-missing-grid"]["rowData"]
    assert [m["path"] for m in missing] == ["莆田市", "城厢区", "涵江区", "秀屿区"]
    assert missing[0]["reason"] == "本级未填报专任教师数，下级区域城厢区、涵江区、秀屿区缺少专任教师数"
    assert out["tc-missing-summary"]["children"] == "共 4 个"
    assert "宁化" not in text_of_json(out)


def text_of_json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_preview_then_commit_changes_the_figures_and_is_audited(client, world):
    login(client, "putian")
    contents = data_url([HEADER, ["350302", "城厢区", "", "900"], ["350303", "涵江区", "", "1100"],
                         ["350305", "秀屿区", "", "700"], ["350322", "仙游县", "", "20"],
                         ["350304", "荔城区", "", ""]])
    out = preview(client, contents)
    grid = out["tc-preview-grid"]["rowData"]
    assert [r["outcome"] for r in grid] == ["新增", "新增", "新增", "不变", "未填写，不导入"]
    assert out["tc-confirm"]["disabled"] is False
    assert out["tc-preview-errors"]["children"] is None
    assert ("350302", "") not in stored(world)  # a preview writes nothing

    out = commit(client, contents, reload=4)
    assert out["tc-reload"]["data"] == 5
    assert out["tc-upload"]["contents"] is None
    result = text_of_json(out["tc-result"])
    assert "新增 3 个、修改 0 个数字，1 个不变" in result
    assert stored(world)[("350305", "")] == (700, "专任教师数.csv")
    assert stored(world)[("350304", "")] == (8, None)  # the blank row left it alone
    rows = {r["region_code"]: r for r in figures(client)["tc-figures-grid"]["rowData"]}
    assert rows["350305"]["source"] == "上传：专任教师数.csv"
    assert rows["350305"]["updater"].startswith("陈淑珍")
    assert rows["350300"]["effective"] == str(900 + 1100 + 8 + 700 + 20)
    with world.connect() as conn:
        entry = conn.execute(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert entry.action == "teacher_counts_import"
    assert entry.scope_region == "350300"
    detail = json.loads(entry.detail)
    assert detail["inserted"] == 3 and detail["file"] == "专任教师数.csv"


def test_errors_are_listed_and_nothing_is_committed(client, world):
    login(client, "xianyou")
    contents = data_url([HEADER, ["350322", "仙游县", "", "abc"], ["350304", "荔城区", "", "9"],
                         ["350322", "仙游县", "小学", "12"], ["350322", "仙游县", "小学", "13"]])
    out = preview(client, contents)
    errors = text_of_json(out["tc-preview-errors"])
    assert "第 2 行，列「专任教师数」：「abc」不是整数" in errors
    assert "第 3 行，列「区域代码」：区域代码「350304」不在您的管理范围内" in errors
    assert "第 5 行，列「区域代码」：与第 4 行重复" in errors
    assert out["tc-confirm"]["disabled"] is True
    before = stored(world)
    out = commit(client, contents)  # a forged 确认导入 for a refused file
    assert "未导入：发现 3 个错误" in text_of_json(out["tc-result"])
    assert stored(world) == before


@pytest.mark.parametrize("contents,filename,words", [
    ("data:text/csv;base64,!!!", "a.csv", "无法读取上传的文件"),
    ("not a data url", "a.csv", "无法读取上传的文件"),
    (data_url([HEADER]), "a.exe", "只能上传 CSV 或 XLSX"),
    (data_url([HEADER]), None, "只能上传 CSV 或 XLSX"),
    ("data:text/csv;base64,", "a.csv", "文件为空"),
    ("data:text/csv;base64," + "A" * (UPLOAD_MAX_BYTES * 4 // 3 + 2048), "a.csv", "文件过大"),
    ("data:text/csv;base64," + base64.b64encode(b"\0" * (UPLOAD_MAX_BYTES + 1)).decode(),
     "a.csv", "文件过大"),
    (["data:text/csv;base64,"], "a.csv", "无法读取上传的文件"),
    (123, "a.csv", "无法读取上传的文件"),
    (data_url([HEADER] + [["350322", "", "", "1"]] * 5001), "a.csv", "文件超过 5000 行"),
])
def test_unreadable_uploads_get_a_chinese_message(client, world, contents, filename, words):
    login(client, "xianyou")
    out = preview(client, contents, filename)
    assert words in text_of_json(out["tc-upload-message"])
    assert out["tc-confirm"]["disabled"] is True


def test_a_school_admin_gets_neither_figures_nor_upload(client, world):
    login(client, "13912345678")
    out = figures(client)
    assert out["tc-figures-grid"]["rowData"] == []
    before = stored(world)
    contents = data_url([HEADER, ["350322", "仙游县", "", "99"]])
    assert "仅对区域管理员开放" in text_of_json(preview(client, contents)["tc-upload-message"])
    assert "仅对区域管理员开放" in text_of_json(commit(client, contents)["tc-result"])
    assert stored(world) == before


def test_downloads_hold_the_screens_rows_and_keep_to_the_scope(client, world):
    login(client, "putian")
    resp = client.get("/export/teacher-counts.csv?region=350322")
    assert resp.status_code == 200
    lines = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert lines[0][0].startswith("专任教师数 · 仙游县")
    assert lines[1] == ["区域代码", "区域", "学段", "专任教师数", "统计用专任教师数", "来源", "更新人",
                        "更新时间"]
    assert lines[2][:4] == ["350322", "仙游县", "全部学段", "20"]

    resp = client.get("/export/teacher-counts/template.xlsx")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.get_data())).active
    assert [c.value for c in sheet[1]] == ["区域代码*", "区域名称", "学段", "专任教师数*"]
    assert [c.value for c in sheet[2]][:2] == ["350300", "莆田市"]

    login(client, "xianyou")
    for url in ("/export/teacher-counts.csv?region=350300",
                "/export/teacher-counts.xlsx?region=350304",
                "/export/teacher-counts/template.csv?region=350424"):
        resp = client.get(url)
        assert resp.status_code == 403, url
        assert "荔城" not in text_of(resp) and "宁化" not in text_of(resp)
    login(client, "13912345678")
    assert client.get("/export/teacher-counts.csv").status_code == 403


def test_a_commit_without_changes_or_a_real_click_writes_no_audit_entry(client, world):
    login(client, "putian")
    same = data_url([HEADER, ["350322", "仙游县", "全部学段", "20"], ["350302", "城厢区", "", ""]])
    out = preview(client, same)
    assert out["tc-confirm"]["disabled"] is True
    assert "没有需要导入的修改" in text_of_json(out["tc-preview-summary"])
    with world.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(AuditLog))
    assert "没有需要导入的修改" in text_of_json(commit(client, same)["tc-result"])
    changed = data_url([HEADER, ["350322", "仙游县", "", "21"]])
    for forged in ("1", [1], -1, True, 0, None):
        resp = fire(client, "tc-reload.data",
                    {"tc-confirm.n_clicks": forged, "tc-upload.contents": changed,
                     "tc-upload.filename": "a.csv", "tc-reload.data": 0})
        assert resp.status_code == 204, forged
    with world.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AuditLog)) == before
    assert stored(world)[("350322", "")] == (20, None)


def test_the_audit_entry_and_the_figures_are_one_transaction(client, world, monkeypatch):
    from data_access import audit

    def broken(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    login(client, "putian")
    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        commit(client, data_url([HEADER, ["350302", "城厢区", "", "5"]]))
    assert ("350302", "") not in stored(world)
