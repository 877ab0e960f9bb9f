"""The 统计详情 callbacks through HTTP, as the browser calls them."""

import csv
import io

from data_access.refresh import refresh
from tests.helpers import (
    build_dataset,
    call_callback,
    region_state,
    render_region,
    stats_state,
    table_rows,
)


def render(client, **state):
    resp = render_region(client, **state)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["response"]


def rows_of(response):
    return table_rows(response)


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
        {"id": "st-region-state", "property": "data", "value": region_state(region="350322")},
        {"id": "st-hash", "property": "hash", "value": "#ind=learners"}],
        state=[{"id": "st-state", "property": "data", "value": stats_state(region="350322")}])
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


# --------------------------------------------------------------------------- schools, paging


def _navigate(client, trigger: str, value, state: dict, **extra):
    from tests.helpers import fire

    values = {trigger: value, "st-state.data": state, "st-hash.hash": "#ind=completed",
              **extra}
    return fire(client, "st-nav.href", values, changed=[trigger])


def test_a_school_row_opens_its_teachers_in_the_same_url_state(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350300")
    state = stats_state(region="350322", stage="初中")
    resp = _navigate(client, "st-region-grid.cellClicked",
                     {"colId": "name", "rowId": "school:S-XY-1", "value": "仙游县第一中学"}, state)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()["response"]
    assert out["st-nav"]["href"] == (
        "/training/T2022?region=350322&stage=%E5%88%9D%E4%B8%AD&view=teachers&school=S-XY-1"
        "#ind=completed")
    assert out["st-teacher-state"]["data"]["school"] == "S-XY-1"
    assert out["st-tabs"]["active_tab"] == "teachers"
    # the cards, chart and table stay: nothing of the region changed
    assert "st-region-state" not in out
    # a click on the school's bar does the same
    chart = _navigate(client, "st-chart.clickData",
                      {"points": [{"customdata": ["school", "S-XY-2"], "x": "仙游县实验小学"}]},
                      state).get_json()["response"]
    assert chart["st-nav"]["href"].endswith("&school=S-XY-2#ind=completed")
    # a region's bar still drills down
    region = _navigate(client, "st-chart.clickData",
                       {"points": [{"customdata": ["region", "350322"]}]},
                       stats_state(region="350300")).get_json()["response"]
    assert "region=350322" in region["st-nav"]["href"]
    assert region["st-region-state"]["data"]["region"] == "350322"


def test_the_teacher_list_of_one_school(app, client, login_as):
    from tests.helpers import render_teachers

    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350300")
    out = render_teachers(client, region="350322", school="S-XY-1").get_json()["response"]
    rows = out["st-teacher-grid"]["rowData"]
    assert {r["school"] for r in rows} == {"仙游县第一中学"} and len(rows) == 3
    assert out["st-summary"]["children"].endswith("共有 3 条记录")
    assert out["st-school-filter"]["children"] == "学校：仙游县第一中学"
    assert out["st-school-filter-box"]["style"] == {}
    # the 导出 buttons send the stable URL of exactly this list (the school, not the region)
    urls = out["st-teacher-export-urls"]["data"]
    assert urls == {fmt: f"/export/training/T2022/teachers.{fmt}?school=S-XY-1"
                         "&uncertified=include" for fmt in ("csv", "xlsx")}
    lines = client.get(urls["csv"]).get_data().decode("utf-8-sig").splitlines()
    assert len(lines) == 2 + 3 and all("仙游县第一中学" in line for line in lines[2:])
    # a school of another county of the city is not "inside" 仙游县
    other = render_teachers(client, region="350322", school="S-LC-1").get_json()["response"]
    assert other["st-teacher-grid"]["rowData"] == []
    # and a school outside the scope shows nothing at all
    outside = render_teachers(client, school="S-SM-1").get_json()["response"]
    assert outside["st-teacher-grid"]["rowData"] == [] and "宁化" not in str(outside)
    # the school filter comes off again
    cleared = _navigate(client, "st-clear-school.n_clicks", 1,
                        stats_state(region="350322", view="teachers", school="S-XY-1", page=2)
                        ).get_json()["response"]
    assert cleared["st-teacher-state"]["data"]["school"] == ""
    assert "school=" not in cleared["st-nav"]["href"]


def test_paging_re_reads_only_the_teacher_list(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350000")
    state = stats_state(view="teachers")
    for trigger, value, extra in (("st-pager.active_page", 2, {}),
                                  ("st-go.n_clicks", 1, {"st-jump.value": "3"}),
                                  ("st-jump.n_submit", 1, {"st-jump.value": "4"})):
        out = _navigate(client, trigger, value, state, **extra).get_json()["response"]
        assert "st-region-state" not in out, trigger  # cards, chart, table: not re-queried
        assert out["st-teacher-state"]["data"]["page"] in (2, 3, 4)
    go = _navigate(client, "st-go.n_clicks", 1, state, **{"st-jump.value": "3"})
    assert go.get_json()["response"]["st-pager"]["active_page"] == 3
    for bad in ("abc", "-1", "1e9", None, "", "3.5", "٣"):
        resp = _navigate(client, "st-go.n_clicks", 1, state, **{"st-jump.value": bad})
        assert resp.status_code == 204, bad


def test_the_router_keeps_the_page_when_the_url_names_the_state_on_screen(app, client,
                                                                         login_as):
    from tests.helpers import fire

    build_dataset(app.extensions["yanxiu"].engine)
    login_as("region_training", "350000")
    shown = stats_state(view="teachers", page=2)
    same = fire(client, "_pages_content.children", {
        "_pages_location.pathname": "/training/T2022",
        "_pages_location.search": "?view=teachers&page=2", "st-state.data": shown})
    assert same.status_code == 204
    other = fire(client, "_pages_content.children", {
        "_pages_location.pathname": "/training/T2022",
        "_pages_location.search": "?view=teachers&page=3", "st-state.data": shown})
    assert other.status_code == 200 and "st-teacher-state" in other.get_data(as_text=True)
    # a URL naming the router's own parameter is only a request
    forged = fire(client, "_pages_content.children", {
        "_pages_location.pathname": "/training/T2022",
        "_pages_location.search": "?page_state=x&training_code=Y&school=1", "st-state.data": None})
    assert forged.status_code == 200


def _many_schools(engine, n=27):
    """A county (宁化县) with ``n`` schools of one participant each, plus the base data."""
    from sqlalchemy import insert, select

    from data_access.models import School, Teacher, Training, TrainingRecord

    build_dataset(engine)
    with engine.begin() as conn:
        tid = conn.scalar(select(Training.id).where(Training.code == "T2022"))
        conn.execute(insert(School), [
            {"code": f"S-NH-{i:02d}", "name": f"宁化县第{i}中心小学附属幼儿园分园", "region_code": "350424",
             "kind": "学校"} for i in range(n)])
        conn.execute(insert(Teacher), [
            {"account": f"1390000{i:04d}", "name": f"老师{i}", "school_code": f"S-NH-{i:02d}",
             "stage": "小学", "subject": "语文", "cert_status": "已通过"} for i in range(n)])
        ids = conn.execute(select(Teacher.id).where(Teacher.account.like("1390000%"))).scalars()
        conn.execute(insert(TrainingRecord), [
            {"training_id": tid, "teacher_id": t, "hours_tenths": 50, "study_seconds": 100}
            for t in ids])
    refresh(engine)


def test_a_county_with_many_schools_is_paged_with_its_own_row_pinned(app, client, login_as):
    _many_schools(app.extensions["yanxiu"].engine)
    login_as("region_training", "350400")
    out = render(client, region="350424")
    grid = out["st-region-grid"]
    assert [r["name"] for r in grid["pinnedTopRowData"]] == ["宁化县"]
    assert len(grid["rowData"]) == 28 and all(r["kind"] == "school" for r in grid["rowData"])
    options = grid["dashGridOptions"]
    assert options["pagination"] is True and options["paginationPageSize"] == 20
    # a city with a few counties fits one page
    assert "pagination" not in render(client, region="350400")["st-region-grid"]["dashGridOptions"]


def test_the_chart_of_many_schools_stays_readable(app, client, login_as):
    from layouts import comparison_chart as chart

    _many_schools(app.extensions["yanxiu"].engine)
    login_as("region_training", "350400")
    points = render(client, region="350424")["st-chart-data"]["data"]
    figure = chart.comparison_figure(chart.clean_points(points), ["participants"])
    layout = figure["layout"]
    # wide enough for every bar, in a panel that scrolls
    assert layout["width"] >= 28 * chart.CATEGORY_WIDTH and layout["autosize"] is False
    assert layout["xaxis"]["range"] == [-0.5, 27.5]
    # axis labels are short; the hover (the category itself) keeps the whole name
    assert all(len(t) <= chart.AXIS_LABEL_CHARS for t in layout["xaxis"]["ticktext"])
    assert "宁化县第0中心小学附属幼儿园分园" in figure["data"][0]["x"]
    assert chart.scroll_hint(chart.clean_points(points)) == "共 28 所学校，左右滚动查看全部"


def test_ratios_and_hours_have_axes_of_their_own():
    from layouts import comparison_chart as chart

    points = chart.clean_points([
        {"key": "A", "name": "甲", "kind": "region", "participants": 10,
         "participation_rate": 30.0, "hours_average": 7.5},
        {"key": "B", "name": "乙", "kind": "region", "participants": 5,
         "participation_rate": 60.0, "hours_average": 9.1}])
    figure = chart.comparison_figure(points, ["participants", "participation_rate",
                                              "hours_average"])
    axes = {t["name"]: t.get("yaxis", "y") for t in figure["data"]}
    assert axes == {"参训人数": "y", "参训率": "y2", "人均学时": "y3"}
    layout = figure["layout"]
    assert layout["yaxis2"]["ticksuffix"] == "%" and layout["yaxis2"]["visible"] is True
    assert layout["yaxis3"]["title"]["text"] == "学时" and layout["yaxis3"]["visible"] is True
    assert layout["yaxis3"].get("ticksuffix", "") == ""
    assert layout["yaxis3"]["anchor"] == "free" and layout["yaxis3"]["autoshift"] is True
    only_hours = chart.comparison_figure(points, ["participants", "hours_average"])["layout"]
    assert only_hours["yaxis2"]["visible"] is False and "anchor" not in only_hours["yaxis3"]


def test_names_in_the_chart_are_text_never_markup(app, client, login_as):
    from sqlalchemy import update

    from data_access.models import School
    from layouts import comparison_chart as chart

    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    with engine.begin() as conn:
        conn.execute(update(School).where(School.code == "S-XY-1").values(
            name='<a href="https://evil.example/phish">点我</a>'))
        conn.execute(update(School).where(School.code == "S-XY-2").values(name="<b>粗</b>&amp;"))
    refresh(engine)
    login_as("region_training", "350300")
    points = render(client, region="350322")["st-chart-data"]["data"]
    figure = chart.comparison_figure(chart.clean_points(points), ["participants", "learning_rate"])
    text = str(figure)
    assert "<a " not in text and "<b>" not in text
    assert "&lt;a href=&quot;" in text or "&lt;a href=\"" in text
    assert "&lt;b&gt;粗&lt;/b&gt;&amp;amp;" in text


def test_school_admins_get_indicators_that_have_values_at_a_school(app, client, login_as):
    from tests.helpers import fire

    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("school_admin", "S-XY-1")
    out = fire(client, "st-chart.figure", {"st-chart-data.data": [], "st-hash.hash": ""}).get_json()
    figure = out["response"]["st-chart"]["figure"]
    assert figure["layout"]["annotations"][0]["text"] == "暂无学科数据"
    assert out["response"]["st-indicators"]["value"] == ["participants", "completed_rate"]
    from layouts.training_stats import page

    text = str(page("T2022", True, {}))
    assert "'participants', 'completed_rate'" in text


def test_a_chart_of_schools_starts_with_indicators_that_have_values(app, client, login_as):
    from tests.helpers import fire

    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350300")
    for region, expected in (("350322", ["participants", "completed_rate"]),
                             ("350300", ["participants", "participation_rate"])):
        points = render(client, region=region)["st-chart-data"]["data"]
        out = fire(client, "st-chart.figure", {"st-chart-data.data": points,
                                               "st-hash.hash": ""}).get_json()["response"]
        assert out["st-indicators"]["value"] == expected, region
    # indicators named in the URL win
    points = render(client, region="350322")["st-chart-data"]["data"]
    out = fire(client, "st-chart.figure", {"st-chart-data.data": points,
                                           "st-hash.hash": "#ind=learners"}).get_json()
    assert out["response"]["st-indicators"]["value"] == ["learners"]


def _distribution(client, **state):
    from tests.helpers import fire

    resp = fire(client, "st-distribution.figure",
                {"st-region-state.data": region_state(**state)})
    return resp


def test_a_school_sees_its_participants_by_stage_and_subject(app, client, login_as):
    from collections import Counter

    from sqlalchemy import select

    from data_access.models import Teacher, TrainingRecord

    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    with engine.connect() as conn:  # computed from the base tables, not the aggregates
        rows = conn.execute(select(Teacher.stage, Teacher.subject, Teacher.cert_status)
                            .join(TrainingRecord, TrainingRecord.teacher_id == Teacher.id)
                            .where(Teacher.school_code == "S-XY-1")).all()
    login_as("school_admin", "S-XY-1")
    for uncertified, kept in (("include", rows), ("exclude",
                                                  [r for r in rows if r.cert_status == "已通过"])):
        resp = _distribution(client, uncertified=uncertified)
        assert resp.status_code == 200
        stages, subjects = resp.get_json()["response"]["st-distribution"]["figure"]["data"]
        expected_stages = Counter(r.stage for r in kept)
        assert dict(zip(stages["customdata"], stages["y"])) == dict(expected_stages)
        assert stages["customdata"] == [s for s in ("初中", "高中") if s in expected_stages]
        expected_subjects = Counter(r.subject for r in kept)
        assert dict(zip(subjects["customdata"], subjects["y"])) == dict(expected_subjects)
        assert subjects["y"] == sorted(subjects["y"], reverse=True)
    assert _distribution(client, stage="高中").get_json()["response"]["st-distribution"][
        "figure"]["data"][0]["customdata"] == ["高中"]


def test_region_admins_get_no_school_distribution(app, client, login_as):
    build_dataset(app.extensions["yanxiu"].engine)
    refresh(app.extensions["yanxiu"].engine)
    login_as("region_training", "350322")
    assert _distribution(client).status_code == 204
