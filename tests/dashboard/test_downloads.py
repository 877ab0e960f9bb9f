"""Downloads of SPEC §6 through HTTP: the stable URLs (CSV and XLSX) and 导出管理 jobs."""

import csv
import io
import json
import os
import re
import time
import zipfile

from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from data_access import export_jobs as jobs_module
from data_access.models import AuditLog, ExportJob
from data_access.refresh import current_snapshot, refresh
from data_access.regions import get_region
from data_access.stats import StatsFilters
from data_access.participants import TeacherFilters, TeacherScope, iter_teachers
from data_access.trainings import training_by_code
from tests.helpers import build_dataset, login, make_admin, xlsx_shown

ELEVEN_DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")
BASE = "/export/training/T2022"


@pytest.fixture
def world(app, tmp_path):
    engine = app.extensions["yanxiu"].engine
    app.extensions["yanxiu"].settings.export_dir = tmp_path / "exports"
    build_dataset(engine)
    refresh(engine)
    return {"engine": engine, "export_dir": tmp_path / "exports"}


def csv_lines(resp) -> list[list[str]]:
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def xlsx_lines(data: bytes) -> list[list[str]]:
    """Every cell as the spreadsheet shows it."""
    wb = load_workbook(io.BytesIO(data), read_only=True)
    out = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            out.append([xlsx_shown(c) for c in row])
    wb.close()
    return out


# SPEC §6: the number format of each number column of the two tables; every other column is
# text.
REGION_FORMATS = {"学习进度": "0.00%", "参训人数": "0", "参训率": "0.00%", "学习人数": "0",
                  "学习率": "0.00%", "人均学时": "0.0", "完成学时人数": "0", "完成人数占比": "0.00%",
                  "未完成学时人数": "0", "未完成人数占比": "0.00%"}
TEACHER_FORMATS = {"获得学时": "General"}


def assert_typed_cells(data: bytes, csv_rows: list[list[str]], formats: dict[str, str]):
    """The XLSX holds the CSV's rows (the screen's text) with SPEC §6's cell types: each
    number column a number in its format, equal to the number shown (a ratio = the shown
    percentage / 100), `—` the text `—`, every other column text. Returns the data rows'
    cells."""
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    header = [c.value for c in ws[2]]
    assert header == csv_rows[1] and set(formats) <= set(header)
    cells = [list(r) for r in ws.iter_rows(min_row=3)]
    assert len(cells) == len(csv_rows) - 2
    seen = {"number": 0, "missing": 0, "text": 0}
    for row, texts in zip(cells, csv_rows[2:]):
        assert [xlsx_shown(c) for c in row] == texts
        for label, cell, text in zip(header, row, texts):
            fmt = formats.get(label)
            if text == "":
                assert cell.value in (None, ""), label
            elif fmt is None or text == "—":
                assert cell.data_type == "s" and cell.value == text, (label, text)
                seen["missing" if fmt else "text"] += 1
                continue
            assert cell.data_type == "n" and cell.number_format == fmt, (label, text)
            shown = Decimal(text[:-1]) / 100 if fmt.endswith("%") else Decimal(text)
            assert cell.value == float(shown), (label, text, cell.value)
            seen["number"] += 1
    return cells, seen


def xlsx_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


def expected_teachers(engine, region=None, school=None, stage="", subject="",
                      certified_only=False, q="") -> list[list[str]]:
    with engine.connect() as conn:
        snap = current_snapshot(conn)
        training = training_by_code(conn, "T2022")
        where = TeacherScope(school_code=school) if school else TeacherScope(
            region=get_region(conn, region))
        f = TeacherFilters(StatsFilters(stage, subject, certified_only), q)
        return [r.values() for r in iter_teachers(conn, snap[0], training, where, f)]


def post_job(client, **body):
    with client.session_transaction() as s:
        token = s.get("csrf", "")
    return client.post("/export/jobs", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-CSRFToken": token})


# --------------------------------------------------------------------------- regions


def test_regions_xlsx_has_the_rows_of_regions_csv(world, client, login_as):
    login_as("region_training", "350000")
    query = "?region=350300&stage=初中&subject=&uncertified=include"
    lines = csv_lines(client.get(f"{BASE}/regions.csv{query}"))
    resp = client.get(f"{BASE}/regions.xlsx{query}")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    sheet = xlsx_lines(resp.get_data())
    assert sheet[0][0] == lines[0][0] and "学段：初中" in sheet[0][0]
    assert sheet[1] == lines[1] and sheet[1][0] == "区域名称"
    assert sheet[2:] == lines[2:]
    assert [r[0] for r in sheet[2:]][:1] == ["莆田市"]
    # no temporary file is left in the export directory
    assert not world["export_dir"].exists() or not list(world["export_dir"].iterdir())


def test_regions_xlsx_cells_keep_their_types_and_add_up(world, client, login_as):
    login_as("region_training", "350000")
    for query in ("", "?region=350300", "?stage=初中"):
        csv_resp = client.get(f"{BASE}/regions.csv{query}")
        lines = csv_lines(csv_resp)
        data = client.get(f"{BASE}/regions.xlsx{query}").get_data()
        cells, seen = assert_typed_cells(data, lines, REGION_FORMATS)
        assert seen["number"] and seen["text"], query
        # SUM of 参训人数 over the child rows (直属学校 included) is the current region's row
        col = lines[1].index("参训人数")
        assert len(cells) > 2 and sum(r[col].value for r in cells[1:]) == cells[0][col].value
        assert all(isinstance(r[col].value, int) for r in cells)
    # 福建省: its 直属学校 row has no 专任教师数, so its 参训率 is the text `—`
    assert seen["missing"]
    lines = csv_lines(client.get(f"{BASE}/regions.csv?region=350300"))
    assert lines[2][:7] == ["莆田市", "—", "7", "—", "6", "85.71%", "8.8"]
    assert lines[3][:4] == ["仙游县", "15.00%", "5", "25.00%"]
    cells, _ = assert_typed_cells(client.get(f"{BASE}/regions.xlsx?region=350300").get_data(),
                                  lines, REGION_FORMATS)
    # 学习率 6 / 7 is stored as the 85.71% shown, not as 0.857142…
    assert [c.value for c in cells[0][:7]] == ["莆田市", "—", 7, "—", 6, 0.8571, 8.8]
    assert [c.value for c in cells[1][:4]] == ["仙游县", 0.15, 5, 0.25]


def test_regions_xlsx_scope_checks(world, client, login_as):
    login_as("region_training", "350300")
    assert client.get(f"{BASE}/regions.xlsx?region=350400").status_code == 403
    assert client.get("/export/training/NOPE/regions.xlsx").status_code == 404
    assert client.get(f"{BASE}/regions.xlsx?uncertified=maybe").status_code == 400
    assert client.get(f"{BASE}/regions.pdf").status_code == 404


# --------------------------------------------------------------------------- teachers


def test_teachers_csv_and_xlsx_hold_the_list_with_masked_accounts(world, client, login_as):
    login_as("region_training", "350000")
    expected = expected_teachers(world["engine"], region="350000")
    assert len(expected) == 9
    resp = client.get(f"{BASE}/teachers.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    lines = csv_lines(resp)
    title = lines[0][0]
    assert "2022年“暑期教师研修”专题" in title and "福建省" in title and "数据更新时间：" in title
    assert lines[1] == ["账号", "姓名", "所在学校", "所在区域", "学段", "学科领域", "获得学时",
                        "实际学习时长"]
    assert lines[2:] == expected
    assert lines[2][0] == "138****0001" and lines[2][3] == "福建省/莆田市/仙游县"
    assert not ELEVEN_DIGITS.search(resp.get_data(as_text=True))

    resp = client.get(f"{BASE}/teachers.xlsx")
    assert resp.status_code == 200
    data = resp.get_data()
    assert int(resp.headers["Content-Length"]) == len(data)
    sheet = xlsx_lines(data)
    assert sheet[0][0] == title and sheet[1] == lines[1] and sheet[2:] == expected
    assert not ELEVEN_DIGITS.search(xlsx_text(data))


def test_teachers_xlsx_cells_keep_their_types(world, client, login_as):
    login_as("region_training", "350000")
    lines = csv_lines(client.get(f"{BASE}/teachers.csv"))
    data = client.get(f"{BASE}/teachers.xlsx").get_data()
    cells, seen = assert_typed_cells(data, lines, TEACHER_FORMATS)
    assert seen["number"] == len(lines) - 2
    by_account = {r[0].value: r for r in cells}
    first = by_account["138****0002"]
    assert [c.value for c in first[6:]] == [5.5, "05:30:00"]
    assert by_account["138****0001"][6].value == 10
    # SUM over 获得学时 works
    total = sum(Decimal(r[6]) for r in lines[2:])
    assert total == Decimal("66.3") and round(sum(r[6].value for r in cells), 1) == float(total)


def test_teacher_download_applies_the_filters(world, client, login_as):
    login_as("region_training", "350000")
    engine = world["engine"]
    cases = [
        ("region=350300&stage=初中", dict(region="350300", stage="初中")),
        ("region=350322&uncertified=exclude", dict(region="350322", certified_only=True)),
        ("subject=物理", dict(region="350000", subject="物理")),
        ("q=教师0", dict(region="350000", q="教师0")),
        ("q=教师05", dict(region="350000", q="教师05")),
        ("region=350304&q=教师05", dict(region="350304", q="教师05")),
    ]
    for query, kwargs in cases:
        expected = expected_teachers(engine, **kwargs)
        for fmt in ("csv", "xlsx"):
            resp = client.get(f"{BASE}/teachers.{fmt}?{query}")
            assert resp.status_code == 200, query
            lines = csv_lines(resp) if fmt == "csv" else xlsx_lines(resp.get_data())
            assert lines[2:] == expected, (query, fmt)
    stage_rows = expected_teachers(engine, region="350300", stage="初中")
    assert stage_rows and all(r[4] == "初中" for r in stage_rows)
    assert len(expected_teachers(engine, region="350322", certified_only=True)) == 3
    # q is a name prefix
    q_rows = csv_lines(client.get(f"{BASE}/teachers.csv?q=教师05"))
    assert [r[1] for r in q_rows[2:]] == ["教师05"] and "姓名：教师05" in q_rows[0][0]
    assert len(csv_lines(client.get(f"{BASE}/teachers.csv?q=教师0"))) - 2 == 9
    assert len(csv_lines(client.get(f"{BASE}/teachers.csv?region=350304&q=教师05"))) == 2


def test_teacher_download_of_one_school(world, client, login_as, app):
    login_as("region_training", "350300")
    lines = csv_lines(client.get(f"{BASE}/teachers.csv?school=S-XY-1"))
    assert lines[2:] == expected_teachers(world["engine"], school="S-XY-1")
    assert len(lines) - 2 == 3 and "仙游县第一中学" in lines[0][0]
    assert client.get(f"{BASE}/teachers.csv?school=S-SM-1").status_code == 403
    assert client.get(f"{BASE}/teachers.csv?school=S-XY-1&region=350322").status_code == 400

    school_client = app.test_client()
    login(school_client, make_admin(world["engine"], "school_admin", "S-XY-2"))
    own = csv_lines(school_client.get(f"{BASE}/teachers.csv"))
    assert own[2:] == expected_teachers(world["engine"], school="S-XY-2") and len(own) == 4
    assert school_client.get(f"{BASE}/teachers.xlsx?school=S-XY-2").status_code == 200
    assert school_client.get(f"{BASE}/teachers.csv?school=S-XY-1").status_code == 403
    assert school_client.get(f"{BASE}/teachers.csv?region=350322").status_code == 403
    assert school_client.get(f"{BASE}/regions.csv").status_code == 403


def test_teacher_download_errors(world, client, login_as):
    login_as("region_training", "350300")
    for query in ("region=350400", "region=350000", "region=*", "region=" + "x" * 500):
        resp = client.get(f"{BASE}/teachers.csv?{query}")
        assert resp.status_code == 403, query
        assert "宁化" not in resp.get_data(as_text=True)
    assert client.get(f"{BASE}/teachers.xlsx?region=350400").status_code == 403
    assert client.get("/export/training/NOPE/teachers.csv").status_code == 404
    assert client.get("/export/training/NOPE/teachers.xlsx").status_code == 404
    for query in ("stage=大学", "subject=炼丹", "uncertified=no", "q=" + "张" * 31):
        assert client.get(f"{BASE}/teachers.csv?{query}").status_code == 400, query
    assert client.get(f"{BASE}/teachers.csv?q=" + "张" * 30).status_code == 200
    assert client.get(f"{BASE}/teachers.json").status_code == 404


def test_anonymous_and_unbound_users_get_nothing(world, app):
    anonymous = app.test_client()
    for url in (f"{BASE}/teachers.csv", f"{BASE}/teachers.xlsx", f"{BASE}/regions.xlsx",
                "/export/jobs", "/export/jobs/1/download"):
        assert anonymous.get(url).status_code == 401
    assert anonymous.post("/export/jobs", json={}).status_code == 401

    from data_access import accounts

    with world["engine"].begin() as conn:
        accounts.create_user(conn, "nobinding", "无绑定", "Passw0rd!x")
    unbound = app.test_client()
    login(unbound, "nobinding")
    for url in (f"{BASE}/teachers.csv", f"{BASE}/teachers.xlsx", "/export/jobs"):
        assert unbound.get(url).status_code == 403


def test_every_teacher_export_is_audit_logged(world, client, login_as):
    login_as("region_training", "350300")
    client.get(f"{BASE}/teachers.csv?region=350322&stage=初中&q=教师0")
    client.get(f"{BASE}/teachers.xlsx?school=S-LC-1")
    client.get(f"{BASE}/teachers.csv?region=350400")
    with world["engine"].connect() as conn:
        rows = conn.execute(select(AuditLog.action, AuditLog.scope_region, AuditLog.scope_school,
                                   AuditLog.detail, AuditLog.outcome)
                            .order_by(AuditLog.id)).all()
    exports = [r for r in rows if r.action == "export"]
    first, second = json.loads(exports[0].detail), json.loads(exports[1].detail)
    assert exports[0].scope_region == "350322"
    assert first["table"] == "teachers" and first["format"] == "csv" and first["stage"] == "初中"
    assert first["rows"] == 2 and first["name"] == "教**"
    assert exports[1].scope_school == "S-LC-1" and second["format"] == "xlsx"
    assert second["rows"] == 2
    assert any(r.action == "export_denied" and r.outcome == "denied" for r in rows)


# --------------------------------------------------------------------------- 导出管理 jobs


def test_small_exports_are_answered_inline(world, client, login_as):
    login_as("region_training", "350000")
    resp = post_job(client, table="teachers", format="csv", training="T2022", region="350300",
                    stage="初中")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["mode"] == "inline" and body["url"].startswith(f"{BASE}/teachers.csv?")
    lines = csv_lines(client.get(body["url"]))
    assert lines[2:] == expected_teachers(world["engine"], region="350300", stage="初中")
    resp = post_job(client, table="regions", format="xlsx", training="T2022")
    assert resp.get_json()["mode"] == "inline"
    assert client.get(resp.get_json()["url"]).status_code == 200


def test_job_requests_are_checked(world, client, login_as):
    login_as("region_training", "350300")
    # no CSRF header
    resp = client.post("/export/jobs", json={"table": "teachers", "format": "csv",
                                             "training": "T2022"})
    assert resp.status_code == 403 and resp.is_json
    assert post_job(client, table="teachers", format="csv", training="T2022",
                    region="350400").status_code == 403
    assert post_job(client, table="teachers", format="csv", training="NOPE").status_code == 404
    assert post_job(client, table="teachers", format="pdf", training="T2022").status_code == 400
    assert post_job(client, table="users", format="csv", training="T2022").status_code == 400
    assert post_job(client, table="teachers", format="csv", training="T2022",
                    stage=["初中"]).status_code == 400
    assert post_job(client, table="teachers", format="csv", training="T2022",
                    q="张" * 31).status_code == 400
    assert post_job(client, table="teachers", format="csv", training="T2022",
                    region="350322", school="S-XY-1").status_code == 400


def test_large_export_becomes_a_job_only_its_owner_sees(world, app, client, login_as,
                                                        monkeypatch):
    started = []
    monkeypatch.setattr(app.extensions["yanxiu"].job_queue, "submit", started.append)
    app.extensions["yanxiu"].settings.inline_export_limit = 1
    login_as("region_training", "350000")
    resp = post_job(client, table="teachers", format="csv", training="T2022",
                    uncertified="exclude")
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["mode"] == "job" and body["rows"] == 7
    job_id = body["job_id"]
    assert started == [job_id]

    listed = client.get("/export/jobs").get_json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]
    assert listed[0]["status"] == "排队中" and listed[0]["url"] is None
    assert client.get(f"/export/jobs/{job_id}/download").status_code == 404

    assert jobs_module.run_job(world["engine"], job_id, world["export_dir"]) == "done"
    # a job runs only once
    assert jobs_module.run_job(world["engine"], job_id, world["export_dir"]) == "done"

    job = client.get("/export/jobs").get_json()["jobs"][0]
    assert job["status"] == "已完成" and job["rows"] == 7 and job["progress"] == 7
    assert job["size"] > 0 and job["url"] == f"/export/jobs/{job_id}/download"
    assert job["expires_at"] > job["created_at"]
    assert "按学员查看" in job["title"]
    resp = client.get(job["url"])
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    data = resp.get_data()
    # the file equals the stable download of the same request
    assert data == client.get(f"{BASE}/teachers.csv?uncertified=exclude").get_data()
    assert csv_lines(resp)[2:] == expected_teachers(world["engine"], region="350000",
                                                     certified_only=True)
    assert not ELEVEN_DIGITS.search(data.decode("utf-8-sig"))
    with world["engine"].connect() as conn:
        stored = conn.scalar(select(ExportJob.file_path).where(ExportJob.id == job_id))
        actions = [a for a, in conn.execute(select(AuditLog.action))]
    assert stored.startswith(f"job-{job_id}-") and "/" not in stored
    assert (world["export_dir"] / stored).is_file()
    assert "export" in actions and "export_download" in actions

    # another user of the same scope sees no job and cannot download it
    other = app.test_client()
    login(other, make_admin(world["engine"], "region_training", "350000"))
    assert other.get("/export/jobs").get_json()["jobs"] == []
    assert other.get(f"/export/jobs/{job_id}/download").status_code == 404
    assert other.get("/export/jobs/999999/download").status_code == 404


def test_job_file_expires_and_is_purged(world, app, client, login_as, monkeypatch):
    from datetime import datetime, timedelta

    app.extensions["yanxiu"].settings.inline_export_limit = 1
    login_as("region_training", "350000")
    job_id = post_job(client, table="teachers", format="xlsx", training="T2022").get_json()["job_id"]
    assert jobs_module.run_job(world["engine"], job_id, world["export_dir"]) == "done"
    url = f"/export/jobs/{job_id}/download"
    sheet = xlsx_lines(client.get(url).get_data())
    assert sheet[2:] == expected_teachers(world["engine"], region="350000")
    with world["engine"].begin() as conn:
        conn.execute(ExportJob.__table__.update().values(
            expires_at=datetime.now() - timedelta(minutes=1)))
    job = client.get("/export/jobs").get_json()["jobs"][0]
    assert job["status"] == "已过期" and job["url"] is None
    assert client.get(url).status_code == 404
    with world["engine"].begin() as conn:
        assert jobs_module.purge_expired(conn, world["export_dir"]) == 1
    assert not any(world["export_dir"].iterdir())


def test_job_of_a_removed_binding_fails_and_cannot_be_downloaded(world, app, client, login_as,
                                                                 monkeypatch):
    from datetime import datetime

    from data_access.models import Binding

    app.extensions["yanxiu"].settings.inline_export_limit = 1
    login_as("region_training", "350000")
    job_id = post_job(client, table="teachers", format="csv", training="T2022").get_json()["job_id"]
    with world["engine"].begin() as conn:
        conn.execute(Binding.__table__.update().values(removed_at=datetime.now()))
    assert jobs_module.run_job(world["engine"], job_id, world["export_dir"]) == "failed"
    with world["engine"].connect() as conn:
        job = jobs_module.jobs_for_user(conn, conn.scalar(
            select(ExportJob.user_id).where(ExportJob.id == job_id)))[0]
    assert job.status_label == "失败" and "管理范围已变更" in job.error
    assert not world["export_dir"].exists() or not list(world["export_dir"].iterdir())


def test_active_jobs_per_user_are_limited(world, app, client, login_as, monkeypatch):
    app.extensions["yanxiu"].settings.inline_export_limit = 1
    login_as("region_training", "350000")
    for _ in range(jobs_module.MAX_ACTIVE_PER_USER):
        assert post_job(client, table="teachers", format="csv",
                        training="T2022").status_code == 202
    resp = post_job(client, table="teachers", format="csv", training="T2022")
    assert resp.status_code == 429 and "导出任务" in resp.get_json()["error"]


def test_job_runs_in_a_worker_process(world, app, client, login_as, job_worker):
    app.extensions["yanxiu"].settings.inline_export_limit = 1
    app.extensions["yanxiu"].settings.export_dir = world["export_dir"]
    login_as("region_training", "350300")
    resp = post_job(client, table="teachers", format="xlsx", training="T2022", stage="初中")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job_id = resp.get_json()["job_id"]
    job_worker.start()
    deadline = time.monotonic() + 60
    while True:
        job = client.get("/export/jobs").get_json()["jobs"][0]
        if job["status"] in ("已完成", "失败") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert job["id"] == job_id and job["status"] == "已完成", job
    data = client.get(job["url"]).get_data()
    sheet = xlsx_lines(data)
    assert sheet[2:] == expected_teachers(world["engine"], region="350300", stage="初中")
    assert "学段：初中" in sheet[0][0]
    # the job's file keeps the cell types of the stable download
    lines = csv_lines(client.get(f"{BASE}/teachers.csv?region=350300&stage=初中"))
    _, seen = assert_typed_cells(data, lines, TEACHER_FORMATS)
    assert seen["number"] == len(lines) - 2 > 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_region_table_job_writes_the_stable_download(world, client, login_as, fmt):
    """Region tables are always answered inline, but the runner handles them too."""
    from data_access.accounts import active_bindings, user_by_account

    account = login_as("region_training", "350000")
    engine = world["engine"]
    with engine.begin() as conn:
        user = user_by_account(conn, account)
        binding = active_bindings(conn, user.id)[0]
        snap = current_snapshot(conn)
        training = training_by_code(conn, "T2022")
        params = {"table": "regions", "training_id": training.id, "training_code": "T2022",
                  "snapshot_id": snap[0], "region": "350300", "school": None, "stage": "初中",
                  "subject": "", "certified_only": False, "q": "", "format": fmt, "total": 3}
        expected = client.get(f"{BASE}/regions.csv?region=350300&stage=初中").get_data()
        params["title_line"] = csv_lines_from(expected)[0][0]
        job_id = jobs_module.create_job(conn, user.id, binding.id, "regions", fmt, params,
                                        "按区域查看")
    assert jobs_module.run_job(engine, job_id, world["export_dir"]) == "done"
    job = client.get("/export/jobs").get_json()["jobs"][0]
    data = client.get(job["url"]).get_data()
    if fmt == "csv":
        assert data == expected
        return
    lines = csv_lines_from(expected)
    sheet = xlsx_lines(data)
    assert sheet[0][0] == lines[0][0] and sheet[1:] == lines[1:]
    cells, seen = assert_typed_cells(data, lines, REGION_FORMATS)
    assert seen["number"] and seen["missing"] and seen["text"]
    col = lines[1].index("参训人数")
    assert sum(r[col].value for r in cells[1:]) == cells[0][col].value > 0


def csv_lines_from(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_purge_fails_interrupted_jobs_and_the_cli_runs_it(world, app, client, login_as,
                                                          monkeypatch):
    from datetime import datetime, timedelta

    from click.testing import CliRunner

    from dashboard.cli import main

    app.extensions["yanxiu"].settings.inline_export_limit = 1
    login_as("region_training", "350000")
    job_id = post_job(client, table="teachers", format="csv", training="T2022").get_json()["job_id"]
    with world["engine"].begin() as conn:
        conn.execute(ExportJob.__table__.update().values(
            created_at=datetime.now() - jobs_module.STALE_AFTER - timedelta(minutes=1)))
    world["export_dir"].mkdir(parents=True, exist_ok=True)
    stray = world["export_dir"] / "tmp-stray.xlsx"
    stray.write_bytes(b"x")
    old = time.time() - 2 * 86400
    os.utime(stray, (old, old))
    monkeypatch.setenv("YANXIU_DATABASE_URL", app.extensions["yanxiu"].settings.database_url)
    result = CliRunner().invoke(main, ["exports", "purge", "--export-dir",
                                       str(world["export_dir"])])
    assert result.exit_code == 0, result.output
    assert "1 export file(s) removed" in result.output and not stray.exists()
    job = client.get("/export/jobs").get_json()["jobs"][0]
    assert job["id"] == job_id and job["status"] == "失败" and "中断" in job["error"]
    # a failed job is not run any more
    assert jobs_module.run_job(world["engine"], job_id, world["export_dir"]) == "failed"


def test_job_reports_progress_while_it_writes(world, app, client, login_as, monkeypatch):
    from sqlalchemy import event

    monkeypatch.setattr(jobs_module, "PROGRESS_EVERY", 2)
    app.extensions["yanxiu"].settings.inline_export_limit = 1
    login_as("region_training", "350000")
    job_id = post_job(client, table="teachers", format="xlsx", training="T2022").get_json()["job_id"]
    seen = []

    @event.listens_for(world["engine"], "before_cursor_execute")
    def _watch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE EXPORT_JOBS") and "progress" in statement:
            seen.append(parameters)

    assert jobs_module.run_job(world["engine"], job_id, world["export_dir"]) == "done"
    event.remove(world["engine"], "before_cursor_execute", _watch)
    # claim (0), every 2 rows (2, 4, 6, 8), then done (9)
    assert len(seen) == 6


# --------------------------------------------------------------------------- 操作日志


def _audit_entries(engine, action):
    with engine.connect() as conn:
        return [(r.scope_region, r.scope_school, json.loads(r.detail), r.outcome) for r in
                conn.execute(select(AuditLog).where(AuditLog.action == action)
                             .order_by(AuditLog.id))]


def test_audit_log_downloads_as_csv_and_xlsx_within_the_own_scope(world, app, client):
    engine = world["engine"]
    login(app.test_client(), make_admin(engine, "region_training", "350400", "sanming-admin"))
    login(client, make_admin(engine, "region_training", "350300", "putian-admin"))
    client.get(f"{BASE}/regions.csv")
    # a `region` parameter never widens the scope
    resp = client.get("/export/audit.csv?region=350000")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    lines = csv_lines(resp)
    assert lines[0][0].startswith("操作日志 · 莆田市 · 导出时间：")
    assert lines[1] == ["时间", "操作人", "操作", "范围", "结果", "详情"]
    body = "\n".join(",".join(r) for r in lines[2:])
    assert "莆田市" in body and "按区域查看" in body and "三明市" not in body
    assert not ELEVEN_DIGITS.search(body)
    xlsx = client.get("/export/audit.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = xlsx_lines(xlsx.get_data())
    assert sheet[0][0].startswith("操作日志 · 莆田市") and sheet[1] == lines[1]
    shown = "\n".join(",".join(r) for r in sheet[2:])
    assert "三明市" not in shown and "导出" in shown
    exports = [e for e in _audit_entries(engine, "export") if e[2].get("table") == "audit"]
    assert [(e[0], e[2]["format"]) for e in exports] == [("350300", "csv"), ("350300", "xlsx")]
    assert exports[0][2]["rows"] == len(lines) - 2


def test_audit_log_download_is_refused_to_a_school_admin_and_logged(world, client, login_as):
    login_as("school_admin", "S-XY-1")
    for fmt in ("csv", "xlsx"):
        resp = client.get(f"/export/audit.{fmt}")
        assert resp.status_code == 403 and "无权导出" in resp.get_data(as_text=True)
    denied = _audit_entries(world["engine"], "export_denied")
    assert len(denied) == 2
    assert all(e[1] == "S-XY-1" and e[2] == {"table": "audit", "reason": "no region scope"}
               and e[3] == "denied" for e in denied)
    assert not [e for e in _audit_entries(world["engine"], "export")]


def test_audit_log_export_job_request_answers_inline(world, client, login_as):
    """操作日志 is never a background job: POST /export/jobs names its stable URL."""
    login_as("region_super", "350300")
    resp = post_job(client, url="/export/audit.xlsx")
    assert resp.status_code == 200
    assert resp.get_json() == {"mode": "inline", "url": "/export/audit.xlsx"}
    assert post_job(client, table="audit", format="csv").get_json()["url"] == "/export/audit.csv"
    assert post_job(client, url="https://example.com/export/audit.csv").status_code == 400
    assert post_job(client, url="/export/nothing.csv").status_code == 400


def test_export_button_request_by_stable_url_becomes_the_same_job(world, app, client, login_as,
                                                                  monkeypatch):
    """The 导出 buttons send the stable URL the server built; above the inline limit the job
    stores the authorized request and writes exactly that URL's file."""
    app.extensions["yanxiu"].settings.inline_export_limit = 1
    login_as("region_training", "350000")
    url = f"{BASE}/teachers.csv?region=350300&stage=%E5%88%9D%E4%B8%AD"
    resp = post_job(client, url=url)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job_id = resp.get_json()["job_id"]
    with world["engine"].connect() as conn:
        params = json.loads(conn.scalar(select(ExportJob.params).where(ExportJob.id == job_id)))
    assert params["args"]["region"] == "350300" and params["args"]["stage"] == "初中"
    assert jobs_module.run_job(world["engine"], job_id, world["export_dir"]) == "done"
    job = client.get("/export/jobs").get_json()["jobs"][0]
    assert client.get(job["url"]).get_data() == client.get(url).get_data()
    # a forged URL is checked like the link itself
    assert post_job(client, url=f"{BASE}/teachers.csv?region=350400").status_code == 200
    login_as("region_training", "350322")
    assert post_job(client, url=f"{BASE}/teachers.csv?region=350300").status_code == 403
