"""The 统计详情 callbacks through HTTP, as the browser calls them."""

import csv
import io

from data_access.refresh import refresh
from tests.helpers import STATS_RENDER_OUTPUTS, build_dataset, call_callback, stats_state


def render(client, **state):
    resp = call_callback(client, STATS_RENDER_OUTPUTS,
                         [{"id": "st-state", "property": "data", "value": stats_state(**state)}])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["response"]


def rows_of(response):
    return response["st-region-grid"]["rowData"]


def test_province_table_current_region_first_then_children_and_direct_schools(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350000")
    rows = rows_of(render(client))
    assert rows[0]["name"] == "福建省" and rows[0]["kind"] == "current"
    names = [r["name"] for r in rows]
    assert "莆田市" in names and "三明市" in names and "直属学校" in names
    assert rows[0]["participants"] == "9"
    putian = next(r for r in rows if r["name"] == "莆田市")
    assert putian["participants"] == "7"
    assert putian["learners"] == "6"
    assert putian["completed"] == "4"
    # 莆田市 has no own figure and not every county has one → missing, never 0.00%
    assert putian["participation_rate"] == "—"
    direct = next(r for r in rows if r["kind"] == "direct")
    assert direct["participants"] == "1" and direct["participation_rate"] == "—"
    # sorted by 参训人数, largest first, after the current region
    counts = [int(r["participants"]) for r in rows[1:]]
    assert counts == sorted(counts, reverse=True)


def test_county_rows_are_schools_and_toggle_excludes_uncertified(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350300")
    rows = rows_of(render(client, region="350322"))
    assert [r["name"] for r in rows] == ["仙游县", "仙游县第一中学", "仙游县实验小学"]
    county = rows[0]
    assert (county["participants"], county["participation_rate"], county["learners"],
            county["learning_rate"], county["hours_average"], county["completed"]) == (
        "5", "25.00%", "4", "80.00%", "8.9", "3")
    excluded = rows_of(render(client, region="350322", uncertified="exclude"))[0]
    assert excluded["participants"] == "3"
    # the 专任教师数 does not change with the toggle
    assert excluded["participation_rate"] == "15.00%"


def test_breadcrumb_is_rooted_at_the_users_scope(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350300")
    resp = call_callback(client, "st-breadcrumb.children", [
        {"id": "st-state", "property": "data", "value": stats_state(region="350322")},
        {"id": "st-hash", "property": "hash", "value": "#ind=learners"}])
    crumbs = resp.get_json()["response"]["st-breadcrumb"]["children"]
    assert crumbs[0]["props"]["href"].endswith("#ind=learners")
    text = [c["props"]["children"] for c in crumbs if c["type"] in ("Link", "Span")]
    assert text == ["莆田市", " / ", "仙游县"]
    assert "福建省" not in str(crumbs)


def test_out_of_scope_region_shows_an_error_panel_and_no_data(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350300")
    for forged in ("350000", "350424", "350400", "*", "' OR 1=1 --", "x" * 10000):
        response = render(client, region=forged)
        assert rows_of(response) == []
        assert "宁化" not in str(response) and "三明" not in str(response)
        assert "无权查看" in str(response["st-error"])


def test_download_matches_the_screen(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350000")
    screen = rows_of(render(client, region="350300", stage="初中"))
    resp = client.get("/export/training/T2022/regions.csv?region=350300&stage=初中&subject=&uncertified=include")
    assert resp.status_code == 200
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert "2022年“暑期教师研修”专题" in lines[0][0] and "学段：初中" in lines[0][0]
    assert lines[1][0] == "区域名称" and len(lines[1]) == 11
    from data_access.stats import region_table_values
    assert lines[2:] == [region_table_values(r) for r in screen]


def test_download_scope_and_training_checks(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350300")
    assert client.get("/export/training/T2022/regions.csv?region=350400").status_code == 403
    assert client.get("/export/training/T2022/regions.csv?region=350000").status_code == 403
    assert client.get("/export/training/NOPE/regions.csv").status_code == 404
    assert client.get("/export/training/T2022/regions.csv?stage=bogus").status_code == 400
    assert client.get("/export/training/T2022/regions.csv").status_code == 200
