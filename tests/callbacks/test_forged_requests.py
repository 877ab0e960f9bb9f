"""Every registered callback and every download, fired with forged inputs by an admin of
another county, must return nothing outside that admin's scope.

The list of callbacks is read from /_dash-dependencies, so a new callback is covered the
moment it is registered.
"""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import func, select

from data_access import accounts, codes
from data_access.models import Binding, PermissionCode, School, Teacher
from dashboard.downloads import XLSX_MIME
from data_access.download_tables import FORMATS, TABLES, url_for
from data_access.refresh import refresh
from tests.helpers import build_dataset, login, make_admin

# Names that only exist outside 宁化县 (350424): any of them in a response is a leak.
OUT_OF_SCOPE_MARKERS = ("仙游", "莆田", "荔城", "福建省直属中学", "实验小学", "13800000001",
                        "putian-admin", "教师01", "教师04", "教师06", "教师08")
OUT_OF_SCOPE_CODES = ("350300", "350322", "350000", "350400", "S-XY-1", "S-FJ-1")
MALFORMED = ("*", "", None, [], {}, ["350322"], {"region": "350322"}, "x" * 10000,
             "350322' OR '1'='1", "../350300", 0, -1, True, 10**30, -(10**30), 1.5,
             float("nan"), float("inf"), "abc", "3.5", [[[[["350322"]]]]],
             {"points": "x"}, {"points": [{}]}, {"points": [{"customdata": None}]},
             {"points": [{"customdata": ["school", {"x": 1}]}]},
             {"colId": "name", "rowId": ["350322"]}, {"colId": None, "rowId": 7},
             [{"key": "350322", "name": 5, "participants": "x"}, {"name": "a"}],
             [{"key": "a", "name": "b", "participants": float("inf")}, "junk", None])


def forged_values():
    for code in OUT_OF_SCOPE_CODES:
        yield code
        yield {"training": "T2022", "region": code, "stage": "", "subject": "",
               "uncertified": "include", "view": "regions"}
        yield {"colId": "name", "rowId": code, "value": code}
        yield {"colId": "name", "rowId": f"region:{code}", "value": code}
        yield {"colId": "action", "rowId": code, "value": "生成权限码"}
        yield f"/training/T2022?region={code}"
        yield f"?region={code}"
    for bad in MALFORMED:
        yield bad
        yield {"training": bad, "region": bad}
        yield {"colId": "action", "rowId": bad, "value": "删除"}
        yield {"colId": "action", "rowId": bad, "value": "撤销"}


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    putian = make_admin(engine, "region_super", "350300", "putian-admin")
    with engine.begin() as conn:
        uid = accounts.user_by_account(conn, "putian-admin").id
        scope_binding = conn.scalar(select(Binding.id).where(Binding.user_id == uid))
        from data_access.scope import scope_of
        putian_scope = scope_of(conn, uid, scope_binding)
        issued = codes.issue(conn, putian_scope, "school_admin", "S-XY-2")
        xy_admin = accounts.create_user(conn, "xy-school", "仙游学校管理员", "Passw0rd!x")
        accounts.grant(conn, xy_admin, "school_admin", "S-XY-1")
    return {"engine": engine, "putian": putian, "code_id": issued.id}


def _fire(client, dep, values, token):
    outputs = dep["output"]
    if outputs.startswith(".."):
        specs = [o for o in outputs[2:-2].split("...")]
    else:
        specs = [outputs]
    out_specs = [{"id": s.rsplit(".", 1)[0], "property": s.rsplit(".", 1)[1].split("@")[0]}
                 for s in specs]
    inputs = [{"id": i["id"], "property": i["property"], "value": v}
              for i, v in zip(dep["inputs"], values)]
    state = [{"id": s["id"], "property": s["property"], "value": v}
             for s, v in zip(dep["state"], values[len(dep["inputs"]):])]
    body = {"output": outputs, "outputs": out_specs if len(out_specs) > 1 else out_specs[0],
            "inputs": inputs, "state": state,
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"]]}
    return client.post("/_dash-update-component", data=json.dumps(body),
                       headers={"Content-Type": "application/json", "X-CSRFToken": token})


def _fire_every_callback(client, values) -> int:
    """Every registered callback, fired with each forged value in every slot at once and in
    each slot alone; nothing outside the scope may show in any answer."""
    with client.session_transaction() as s:
        token = s["csrf"]
    deps = [d for d in client.get("/_dash-dependencies").get_json()
            if not d.get("clientside_function")]  # clientside ones never reach the server
    assert len(deps) >= 10
    fired = 0
    for dep in deps:
        n = len(dep["inputs"]) + len(dep["state"])
        for forged in values:
            # the forged value in every slot at once, and in each slot alone
            combos = [[forged] * n] + [
                [forged if i == j else None for j in range(n)] for i in range(n)] if n > 1 else [[forged]]
            for slots in combos:
                resp = _fire(client, dep, slots, token)
                fired += 1
                assert resp.status_code in (200, 204, 400), (dep["output"], slots, resp.status_code)
                body = resp.get_data(as_text=True)
                # decode JSON escapes (\uXXXX) so that Chinese names are compared as text
                text = json.dumps(json.loads(body), ensure_ascii=False) if (
                    body and resp.is_json) else body
                for marker in OUT_OF_SCOPE_MARKERS:
                    assert marker not in text, (dep["output"], slots, marker)
    return fired


def test_every_callback_with_forged_inputs_leaks_nothing(app, client, world):
    county_admin = make_admin(world["engine"], "region_super", "350424", "ninghua-admin")
    login(client, county_admin)
    fired = _fire_every_callback(client, list(forged_values()))
    assert fired > 500
    # nothing outside the scope was changed by the forged administrative callbacks
    with world["engine"].connect() as conn:
        assert conn.scalar(select(PermissionCode.revoked_at).where(
            PermissionCode.id == world["code_id"])) is None
        assert conn.scalar(select(Binding.removed_at).where(
            Binding.school_code == "S-XY-1")) is None
        # no code issued for a school outside the scope (生成权限码 on a forged row)
        assert conn.scalar(select(func.count()).select_from(PermissionCode)) == 1


def test_a_school_admin_reaches_no_other_school_through_any_callback(app, client, world):
    """宁化县第一中学's 学校管理员, with forged teacher ids of 仙游县's schools in rows,
    selections and the 不通过 dialog's store: no other school's teacher is read or decided,
    no other school is edited."""
    engine = world["engine"]
    with engine.connect() as conn:
        foreign = list(conn.scalars(select(Teacher.id).where(Teacher.school_code != "S-SM-1")))
        before = dict(conn.execute(select(Teacher.id, Teacher.cert_status)).all())
        schools_before = conn.execute(select(School).order_by(School.code)).all()
    school_admin = make_admin(engine, "school_admin", "S-SM-1", "ninghua-school")
    login(client, school_admin)
    values = [*forged_values()]
    for tid in foreign[:4]:
        values += [{"colId": "actions", "rowId": str(tid), "value": "通过"},
                   {"colId": "actions", "rowId": str(tid), "value": "不通过"},
                   [{"row_id": str(tid)}], {"ids": [tid]}, str(tid), tid]
    assert _fire_every_callback(client, values) > 500
    with engine.connect() as conn:
        after = dict(conn.execute(select(Teacher.id, Teacher.cert_status)).all())
        assert {t: after[t] for t in foreign} == {t: before[t] for t in foreign}
        assert conn.execute(select(School).where(School.code != "S-SM-1")
                            .order_by(School.code)).all() == [
            s for s in schools_before if s.code != "S-SM-1"]


# Path values a forged download needs to reach its table's scope check.
PATH_SAMPLES = {"training_code": "T2022"}


def download_text(resp) -> str:
    """A download's content as text (every cell of every sheet of an XLSX)."""
    if resp.mimetype != XLSX_MIME:
        return resp.get_data(as_text=True)
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(resp.get_data()), read_only=True)
    return "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows()
                     for c in row if c.value is not None)


def forged_downloads() -> list[str]:
    """Every download table of the registry, each of its parameters forged ({code}) in turn,
    plus a forged `region` even where the table has none (it must be ignored): a new table
    is covered without editing this test."""
    urls = []
    for name, table in TABLES.items():
        base = {k: PATH_SAMPLES[k] for k in table.path_values()}
        for fmt in FORMATS:
            for key in (*table.query, "region", "school"):
                url = url_for(name, base, fmt)
                urls.append(url + ("&" if "?" in url else "?") + f"{key}={{code}}")
    return list(dict.fromkeys(urls))


DOWNLOADS = forged_downloads()


@pytest.mark.parametrize("url", DOWNLOADS)
def test_downloads_with_forged_scope_are_refused_or_scoped(app, client, world, url):
    county_admin = make_admin(world["engine"], "region_super", "350424", "ninghua-admin")
    login(client, county_admin)
    for code in itertools.chain(OUT_OF_SCOPE_CODES, ["*", "x" * 5000, "' OR 1=1 --"]):
        resp = client.get(url.format(code=code))
        text = download_text(resp)
        assert resp.status_code in (200, 400, 403, 404)
        for marker in OUT_OF_SCOPE_MARKERS:
            assert marker not in text, (url, code, marker)


def test_download_registry_is_reached_by_the_forged_suite():
    for name, table in TABLES.items():
        base = {k: PATH_SAMPLES[k] for k in table.path_values()}
        for fmt in FORMATS:
            path = url_for(name, base, fmt).split("?")[0]
            assert any(url.startswith(path + "?") for url in DOWNLOADS), (name, fmt)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_export_jobs_with_forged_scope_are_refused_or_scoped(app, client, world, name):
    """POST /export/jobs for every table, by its URL and by its fields, forged."""
    county_admin = make_admin(world["engine"], "region_super", "350424", "ninghua-admin")
    login(client, county_admin)
    with client.session_transaction() as s:
        token = s["csrf"]
    table = TABLES[name]
    base = {k: PATH_SAMPLES[k] for k in table.path_values()}
    for code in itertools.chain(OUT_OF_SCOPE_CODES, ["*", "' OR 1=1 --"]):
        bodies = [{"url": url_for(name, {**base, **{k: code for k in table.query}}, "csv")},
                  {"table": name, "format": "xlsx", **base, "region": code, "school": code}]
        for body in bodies:
            resp = client.post("/export/jobs", json=body, headers={"X-CSRFToken": token})
            assert resp.status_code in (200, 400, 403, 404), (body, resp.status_code)
            answer = resp.get_json()
            if resp.status_code == 200:
                # an inline answer names a URL the same checks allow: fetch it
                text = download_text(client.get(answer["url"]))
                for marker in OUT_OF_SCOPE_MARKERS:
                    assert marker not in text, (body, marker)


def test_anonymous_gets_nothing_from_any_callback_or_download(app, client, world):
    deps_client = app.test_client()
    county_admin = make_admin(world["engine"], "region_super", "350424", "ninghua-admin")
    login(deps_client, county_admin)
    deps = [d for d in deps_client.get("/_dash-dependencies").get_json()
            if not d.get("clientside_function")]
    for dep in deps:
        resp = _fire(client, dep, [None] * (len(dep["inputs"]) + len(dep["state"])), "")
        assert resp.status_code == 401
    for url in DOWNLOADS:
        assert client.get(url.format(code="350300")).status_code == 401


# --------------------------------------------------------------------------- the 大屏 kiosk


def _kiosk_path(engine, region: str, training: str | None) -> str:
    from data_access import display_tokens

    with engine.begin() as conn:
        return display_tokens.issue(conn, None, user_id=None, region_code=region,
                                    training_code=training, label="走廊大屏").path


def _other_training(engine) -> None:
    from datetime import datetime

    from data_access.models import Training

    with engine.begin() as conn:
        conn.execute(Training.__table__.insert().values(
            code="TSECRET", name="机密专题培训", start_at=datetime(2022, 9, 1),
            end_at=datetime(2022, 9, 30), hours_cap_tenths=50, created_at=datetime(2022, 8, 1)))


def test_a_kiosk_reaches_no_console_callback_page_or_download(app, client, world):
    """With a kiosk's cookies (it has none of its own) every console callback, page and
    download gives nothing, also when sent to the kiosk's own endpoint."""
    kiosk = app.test_client()
    path = _kiosk_path(world["engine"], "350424", "T2022")
    assert kiosk.get(path).status_code == 200
    deps_client = app.test_client()
    login(deps_client, make_admin(world["engine"], "region_super", "350424", "ninghua-admin"))
    deps = [d for d in deps_client.get("/_dash-dependencies").get_json()
            if not d.get("clientside_function")]
    assert len(deps) >= 10
    for dep in deps:
        resp = _fire(kiosk, dep, [None] * (len(dep["inputs"]) + len(dep["state"])), "")
        assert resp.status_code == 401, dep["output"]
        body = json.loads(_fire(kiosk, dep, [None] * 40, "").get_data() or b"{}")
        assert "response" not in body
    for dep in deps:  # the console's callbacks do not exist on the kiosk's endpoint
        payload = {"output": dep["output"], "outputs": [], "inputs": [], "state": [],
                   "changedPropIds": []}
        resp = kiosk.post("/screen/_dash-update-component", data=json.dumps(payload),
                          headers={"Content-Type": "application/json"})
        assert resp.status_code == 400, dep["output"]
    for url in DOWNLOADS:
        assert kiosk.get(url.format(code="350424")).status_code == 401
    for page in ("/", "/training/T2022", "/activation", "/schools", "/wall-screens", "/exports",
                 "/screen/"):
        resp = kiosk.get(page)
        assert resp.status_code == 401 or (  # /exports answers like the download URLs
            resp.status_code == 302 and resp.headers["Location"].startswith("/login")), page


def _kiosk_fire(client, dep, values):
    outputs = dep["output"]
    specs = outputs[2:-2].split("...") if outputs.startswith("..") else [outputs]
    body = {"output": outputs,
            "outputs": [{"id": s.rsplit(".", 1)[0], "property": s.rsplit(".", 1)[1].split("@")[0]}
                        for s in specs],
            "inputs": [{"id": i["id"], "property": i["property"], "value": v}
                       for i, v in zip(dep["inputs"], values)],
            "state": [{"id": s["id"], "property": s["property"], "value": v}
                      for s, v in zip(dep["state"], values[len(dep["inputs"]):])],
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"]]}
    return client.post("/screen/_dash-update-component", data=json.dumps(body),
                       headers={"Content-Type": "application/json"})


def test_the_kiosk_callback_never_answers_another_region_or_training(app, world):
    """A 宁化县 kiosk bound to T2022, every slot of its callbacks forged (other regions,
    trainings, paths, malformed values): the answer is 宁化县's T2022 screen, a notice, or
    nothing — never another region's or training's numbers."""
    engine = world["engine"]
    _other_training(engine)
    path = _kiosk_path(engine, "350424", "T2022")
    kiosk = app.test_client()
    deps = [d for d in kiosk.get("/screen/_dash-dependencies").get_json()
            if not d.get("clientside_function")]
    assert deps
    forged = [*forged_values(), "TSECRET", "/screen/", "/screen", "/training/T2022",
              "/screen/" + "A" * 32, path + "/../x", path.upper(), {"pathname": path}]
    answered = 0
    for dep in deps:
        n = len(dep["inputs"]) + len(dep["state"])
        slots_of = {f"{i['id']}.{i['property']}": k for k, i in enumerate(
            [*dep["inputs"], *dep["state"]])}
        honest = [None] * n
        honest[slots_of["wall-url.pathname"]] = path
        for value in forged:
            for k in range(n):
                values = list(honest)
                values[k] = value
                resp = _kiosk_fire(kiosk, dep, values)
                assert resp.status_code in (200, 204, 400), (values, resp.status_code)
                text = json.dumps(resp.get_json(), ensure_ascii=False) if resp.is_json else ""
                for marker in (*OUT_OF_SCOPE_MARKERS, "机密专题培训", "莆田市", "三明市"):
                    assert marker not in text, (values, marker)
                if resp.status_code == 200 and "宁化县" in text:
                    assert "2022年“暑期教师研修”专题" in text
                    answered += 1
    assert answered > 50  # the honest slots kept answering with the kiosk's own screen


def test_the_outputs_check_accepts_what_the_renderer_sends(app, client, world):
    """Every server callback's `outputs` as the Dash renderer builds them — an
    allow_duplicate output's property with its `@hash` — passes the check that refuses
    forged ones."""
    from dashboard.app import _outputs_match

    login(client, make_admin(world["engine"], "region_super", "350424", "ninghua-admin"))
    deps = [d for d in client.get("/_dash-dependencies").get_json()
            if not d.get("clientside_function")]
    hashed = 0
    for dep in deps:
        names = dep["output"][2:-2].split("...") if dep["output"].startswith("..") else [
            dep["output"]]
        for strip in (False, True):
            specs = []
            for name in names:
                cid, _, prop = name.rpartition(".")
                hashed += "@" in prop and not strip
                prop = prop.split("@")[0] if strip else prop
                specs.append({"id": json.loads(cid) if cid.startswith("{") else cid,
                              "property": prop})
            sent = specs if dep["output"].startswith("..") else specs[0]
            assert _outputs_match(dep["output"], sent), dep["output"]
        assert not _outputs_match(dep["output"], None)
    assert hashed > 0
