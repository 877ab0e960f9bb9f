"""Test helpers: users, login, Dash callback requests, a small hand-built data set."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert, select

from data_access import accounts
from data_access.models import School, Teacher, TeacherCount, Training, TrainingRecord

PASSWORD = "Passw0rd!x"
_seq = itertools.count(1)


def make_admin(engine, role: str, scope: str, account: str | None = None,
               name: str | None = None) -> str:
    account = account or f"admin{next(_seq)}"
    with engine.begin() as conn:
        uid = accounts.create_user(conn, account, name or f"管理员{account}", PASSWORD)
        accounts.grant(conn, uid, role, scope)
    return account


def csrf(client) -> str:
    client.get("/login")
    with client.session_transaction() as s:
        return s["csrf"]


def login(client, account: str, password: str = PASSWORD, next_path: str | None = None):
    token = csrf(client)
    url = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"account": account, "password": password, "csrf_token": token})


def dash_layout_callbacks(client) -> list[dict]:
    return client.get("/_dash-dependencies").get_json()


def call_callback(client, outputs: list[str] | str, inputs: list[dict],
                  state: list[dict] | None = None, changed: list[str] | None = None):
    """POST one callback like the Dash renderer does (CSRF header included).

    ``outputs`` are "id.prop" strings (with "@hash" for allow_duplicate outputs, exactly as in
    /_dash-dependencies)."""
    if isinstance(outputs, str):
        outputs = [outputs]
    with client.session_transaction() as s:
        token = s.get("csrf", "")
    if len(outputs) == 1:
        output, specs = outputs[0], _spec(outputs[0])
    else:
        output, specs = ".." + "...".join(outputs) + "..", [_spec(o) for o in outputs]
    body = {
        "output": output,
        "outputs": specs,
        "inputs": inputs,
        "changedPropIds": changed or [f"{i['id']}.{i['property']}" for i in inputs[:1]],
        "state": state or [],
    }
    return client.post("/_dash-update-component", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-CSRFToken": token})


def find_callback(client, output: str) -> dict:
    """The callback (from /_dash-dependencies) one of whose outputs is ``output`` ("id.prop",
    without the "@hash" of allow_duplicate outputs)."""
    for dep in client.get("/_dash-dependencies").get_json():
        names = [o.split("@")[0] for o in dep["output"].strip(".").split("...")]
        if output in names and not dep.get("clientside_function"):
            return dep
    raise LookupError(output)


def fire(client, output: str, values: dict, changed: list[str] | None = None):
    """POST the callback that writes ``output``, its inputs and states taken from ``values``
    ("id.prop" → value; missing ones are None), exactly as the Dash renderer builds it."""
    dep = find_callback(client, output)
    outputs = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [
        dep["output"]]

    def slot(spec):
        key = f"{spec['id']}.{spec['property']}"
        return {"id": spec["id"], "property": spec["property"], "value": values.get(key)}

    with client.session_transaction() as s:
        token = s.get("csrf", "")
    specs = [_spec(o) for o in outputs]
    body = {"output": dep["output"], "outputs": specs if len(specs) > 1 else specs[0],
            "inputs": [slot(i) for i in dep["inputs"]], "state": [slot(i) for i in dep["state"]],
            "changedPropIds": changed or [next(iter(values))]}
    return client.post("/_dash-update-component", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-CSRFToken": token})


def _spec(text: str) -> dict:
    cid, prop = text.rsplit(".", 1)
    return {"id": cid, "property": prop.split("@")[0]}


# --------------------------------------------------------------------------- data


def build_dataset(engine) -> dict:
    """A small, fully known data set under 福建省: 莆田市 with two counties, a 直属学校 of the
    province, a county without 专任教师数, one finished training (cap 10)."""
    schools = [
        ("S-XY-1", "仙游县第一中学", "350322"),
        ("S-XY-2", "仙游县实验小学", "350322"),
        ("S-LC-1", "荔城区第一中学", "350304"),
        ("S-FJ-1", "福建省直属中学", "350000"),
        ("S-SM-1", "宁化县第一中学", "350424"),
    ]
    teachers = [
        # account, school, stage, subject, cert, hours (tenths)
        ("13800000001", "S-XY-1", "初中", "语文", "已通过", 100),
        ("13800000002", "S-XY-1", "初中", "数学", "已通过", 55),
        ("13800000003", "S-XY-1", "高中", "语文", "未审核", 100),
        ("13800000004", "S-XY-2", "小学", "语文", "已通过", 0),
        ("13800000005", "S-XY-2", "小学", "数学", "未通过", 100),
        ("13800000006", "S-LC-1", "初中", "英语", "已通过", 75),
        ("13800000007", "S-LC-1", "初中", "英语", "已通过", 100),
        ("13800000008", "S-FJ-1", "高中", "物理", "已通过", 100),
        ("13800000009", "S-SM-1", "初中", "物理", "已通过", 33),
        ("13800000010", "S-SM-1", "初中", "物理", "已通过", None),  # registered, no record
    ]
    now = datetime(2022, 7, 5, 19, 1)
    with engine.begin() as conn:
        conn.execute(insert(School), [
            {"code": c, "name": n, "region_code": r, "kind": "学校", "urban_rural": "城区"}
            for c, n, r in schools])
        conn.execute(insert(Teacher), [
            {"account": a, "name": f"教师{a[-2:]}", "school_code": s, "stage": st, "subject": su,
             "cert_status": cs} for a, s, st, su, cs, _ in teachers])
        tid = conn.execute(insert(Training).values(
            code="T2022", name="2022年“暑期教师研修”专题", start_at=datetime(2022, 7, 20),
            end_at=datetime(2022, 8, 31, 23, 59), hours_cap_tenths=100, created_at=now,
        ).returning(Training.id)).scalar_one()
        ids = dict(conn.execute(select(Teacher.account, Teacher.id)).all())
        conn.execute(insert(TrainingRecord), [
            {"training_id": tid, "teacher_id": ids[a], "hours_tenths": h, "study_seconds": h * 360}
            for a, _, _, _, _, h in teachers if h is not None])
        conn.execute(insert(TeacherCount), [
            {"region_code": "350322", "stage": "", "count": 20},
            {"region_code": "350304", "stage": "", "count": 8},
            {"region_code": "350424", "stage": "", "count": 4},
        ])
    return {"training": "T2022", "training_id": tid}


def text_of(resp) -> str:
    """A response body with JSON escapes decoded, for searching Chinese text."""
    if resp.is_json:
        return json.dumps(resp.get_json(), ensure_ascii=False)
    return resp.get_data(as_text=True)


STATS_RENDER_OUTPUTS = ["st-header.children", "st-error.children", "st-body.style",
                        "st-cards.children", "st-region-grid.rowData",
                        "st-region-grid.pinnedTopRowData", "st-region-grid.dashGridOptions",
                        "st-chart-data.data", "st-export.href", "st-export-xlsx.href"]
TEACHER_OUTPUTS = ["st-teacher-grid.rowData", "st-summary.children", "st-pager.max_value",
                   "st-school-filter.children", "st-school-filter-box.style",
                   "st-teacher-export-urls.data"]
REGION_KEYS = ("training", "region", "stage", "subject", "uncertified")


def stats_state(**changes) -> dict:
    base = {"training": "T2022", "region": "", "school": "", "view": "regions", "stage": "",
            "subject": "", "uncertified": "include", "page": 1, "size": 10, "q": ""}
    return {**base, **changes}


def region_state(**changes) -> dict:
    """The part of the state the cards, chart and region table are rendered from."""
    state = stats_state(**changes)
    return {k: state[k] for k in REGION_KEYS}


def render_region(client, **state):
    """The 按区域查看 render callback as the browser calls it (the response's outputs)."""
    value = region_state(**state) if "raw" not in state else state["raw"]
    return call_callback(client, STATS_RENDER_OUTPUTS,
                         [{"id": "st-region-state", "property": "data", "value": value}])


def table_rows(response: dict) -> list[dict]:
    """The table as on screen: the pinned current region, then the other rows."""
    grid = response["st-region-grid"]
    return list(grid.get("pinnedTopRowData") or []) + list(grid.get("rowData") or [])


def render_teachers(client, **state):
    """The teacher list callback as the browser calls it."""
    value = {k: v for k, v in stats_state(view="teachers", **state).items() if k != "view"}
    return call_callback(client, TEACHER_OUTPUTS,
                         [{"id": "st-teacher-state", "property": "data", "value": value}])


def browser_login(page, base_url: str, account: str, password: str) -> None:
    """Log in through the form and wait for the training list."""
    page.goto(f"{base_url}/login")
    page.fill("#account", account)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#tl-grid .ag-row")


def xlsx_shown(cell) -> str:
    """The text a spreadsheet shows for a cell of an exported XLSX (an openpyxl cell), for
    the number formats the export writer uses."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    fmt = cell.number_format
    if fmt == "0.00%":
        return f"{Decimal(repr(value)) * 100:.2f}%"
    if fmt == "0.0%":
        return f"{Decimal(repr(value)) * 100:.1f}%"
    if fmt == "0.0":
        return f"{Decimal(repr(value)):.1f}"
    if fmt == "0":
        assert float(value).is_integer(), value
        return str(int(value))
    if fmt == "General":
        return str(int(value)) if float(value).is_integer() else repr(value)
    raise AssertionError(f"unexpected number format {fmt!r}")

# The platform manual's table of 2022年“暑期教师研修”专题 (platform-admin-manual.txt, 第三部分
# 二 3, and 莆田市 from the drill-down in 二 5), as printed: 参训人数, 参训率, 学习人数, 学习率,
# 人均学时, 完成学时人数, 完成人数占比, 未完成学时人数, 未完成人数占比. The default demo reproduces it.
MANUAL_SUMMER_TABLE = {
    "福建省": "146999 33.03% 145792 99.18% 7.5 80496 54.76% 66503 45.24%",
    "福州市": "20859 26.81% 20650 99.00% 7.4 11527 55.26% 9332 44.74%",
    "泉州市": "20025 21.58% 19769 98.72% 6.3 7539 37.65% 12486 62.35%",
    "宁德市": "19197 33.72% 19088 99.43% 7.1 11413 59.45% 7784 40.55%",
    "漳州市": "17110 29.94% 17019 99.47% 8.0 10313 60.27% 6797 39.73%",
    "三明市": "13041 42.41% 12968 99.44% 7.5 6826 52.34% 6215 47.66%",
    "龙岩市": "11646 32.75% 11561 99.27% 7.0 5340 45.85% 6306 54.15%",
    "厦门市": "8687 18.19% 8622 99.25% 7.9 4927 56.72% 3760 43.28%",
    "南平市": "7003 22.99% 6894 98.44% 6.8 3120 44.55% 3883 55.45%",
    "平潭综合实验区": "3117 65.52% 3106 99.65% 8.9 2313 74.21% 804 25.79%",
    "莆田市": "24605 66.44% 24475 99.47% 8.4 16754 68.09% 7851 31.91%",
}
MANUAL_SUMMER_COLUMNS = ("participants", "participation_rate", "learners", "learning_rate",
                         "hours_average", "completed", "completed_rate", "not_completed",
                         "not_completed_rate")
