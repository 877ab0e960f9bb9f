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
