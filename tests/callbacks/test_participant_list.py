"""按学员查看, overview cards and the comparison chart, through the callback endpoint."""

import re
from datetime import datetime, timedelta

from sqlalchemy import update

from data_access.models import TrainingRecord
from data_access.refresh import refresh
from tests.helpers import (
    build_dataset,
    call_callback,
    render_region,
    render_teachers,
    text_of,
)


def teachers(client, **state):
    resp = render_teachers(client, **state)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()["response"]
    return out["st-teacher-grid"]["rowData"], out["st-summary"]["children"], out["st-pager"]["max_value"]


def setup(app, login_as, scope="350000"):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    login_as("region_training", scope)
    return engine


def test_teacher_list_pages_masks_and_counts(app, client, login_as):
    setup(app, login_as)
    rows, summary, pages = teachers(client)
    assert summary == "当前第 1 页/共 1 页, 共有 9 条记录" and pages == 1
    assert len(rows) == 9
    for r in rows:
        assert re.fullmatch(r"\d{3}\*{4}\d{4}", r["account"])
    first = next(r for r in rows if r["name"] == "教师01")
    assert first == {**first, "school": "仙游县第一中学", "region_path": "福建省/莆田市/仙游县",
                     "stage": "初中", "subject": "语文", "hours": "10", "duration": "10:00:00"}
    assert "13800000001" not in text_of(render_teachers(client))

    rows, summary, pages = teachers(client, size=10, page=1, region="350300")
    assert summary.endswith("共有 7 条记录")
    # deterministic order and the last page
    all_ids = [r["row_id"] for r in teachers(client, size=10)[0]]
    assert all_ids == sorted(all_ids, key=int)


def test_teacher_filters_name_search_and_page_clamp(app, client, login_as):
    setup(app, login_as)
    assert teachers(client, stage="初中")[1].endswith("共有 5 条记录")
    assert teachers(client, uncertified="exclude")[1].endswith("共有 7 条记录")
    rows, summary, _ = teachers(client, q="教师0")
    assert summary.endswith("共有 9 条记录")
    rows, summary, _ = teachers(client, q="教师05")
    assert [r["name"] for r in rows] == ["教师05"]
    rows, summary, _ = teachers(client, q="%")
    assert rows == [] and summary.endswith("共有 0 条记录")
    rows, summary, _ = teachers(client, page=999)
    assert summary.startswith("当前第 1 页/共 1 页")


def test_teacher_list_respects_scope(app, client, login_as):
    setup(app, login_as, "350424")
    rows, summary, _ = teachers(client)
    assert summary.endswith("共有 1 条记录") and rows[0]["region_path"] == "福建省/三明市/宁化县"
    rows, summary, _ = teachers(client, region="350300")
    assert rows == [] and "仙游" not in summary


def test_cards_show_the_change_since_the_previous_day(app, client, login_as):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine, now=datetime.now() - timedelta(days=1))
    with engine.begin() as conn:
        conn.execute(update(TrainingRecord).where(TrainingRecord.hours_tenths == 0)
                     .values(hours_tenths=100))
    refresh(engine)
    login_as("region_training", "350322")
    resp = render_region(client)
    text = text_of(resp)
    assert "学习人数" in text and "▲ 1" in text  # one more learner than yesterday
    assert "完成学时人数" in text


def test_chart_sorts_by_the_first_indicator_and_patches_on_indicator_change(app, client, login_as):
    setup(app, login_as)
    render = render_region(client)
    points = render.get_json()["response"]["st-chart-data"]["data"]
    assert {p["name"] for p in points} >= {"莆田市", "三明市"}
    assert "直属学校" not in {p["name"] for p in points}
    outputs = ["st-chart.figure", "st-indicators.value", "st-hash.hash",
               "st-chart-hint.children"]
    full = call_callback(client, outputs, [
        {"id": "st-chart-data", "property": "data", "value": points},
        {"id": "st-indicators", "property": "value", "value": ["participants"]},
        {"id": "st-hash", "property": "hash", "value": "#ind=learners,learning_rate"}],
        changed=["st-chart-data.data"]).get_json()["response"]
    figure = full["st-chart"]["figure"]
    assert [t["name"] for t in figure["data"]] == ["学习人数", "学习率"]
    assert figure["data"][0]["type"] == "bar" and figure["data"][1]["yaxis"] == "y2"
    assert figure["data"][0]["x"][0] == "莆田市"
    assert figure["data"][0]["customdata"][0] == ["region", "350300"]
    layout = figure["layout"]
    assert layout["yaxis"]["title"]["text"] == "人数"
    assert layout["yaxis2"]["title"]["text"] == "%" and layout["yaxis2"]["ticksuffix"] == "%"
    # a handful of participants per region: one tick per person, never "0, 1, 1, 2"
    assert max(figure["data"][0]["y"]) <= 10 and layout["yaxis"]["dtick"] == 1
    patched = call_callback(client, outputs, [
        {"id": "st-chart-data", "property": "data", "value": points},
        {"id": "st-indicators", "property": "value", "value": ["completed", "progress", "hours_average"]},
        {"id": "st-hash", "property": "hash", "value": ""}],
        changed=["st-indicators.value"]).get_json()["response"]
    assert "__dash_patch_update" in str(patched["st-chart"]["figure"])
    assert patched["st-hash"]["hash"] == "#ind=completed,progress,hours_average"


def test_school_admin_sees_its_school_cards_subjects_and_teachers(app, client, login_as):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    login_as("school_admin", "S-XY-1")
    render = render_region(client)
    out = render.get_json()["response"]
    assert out["st-region-grid"]["rowData"] == []
    assert {p["name"] for p in out["st-chart-data"]["data"]} == {"语文", "数学"}
    assert out["st-export"]["href"] == ""  # no region table to download
    text = text_of(render)
    assert "参训人数" in text and "仙游县实验小学" not in text
    rows, summary, _ = teachers(client)
    assert summary.endswith("共有 3 条记录")
    assert {r["school"] for r in rows} == {"仙游县第一中学"}
    # a region requested by a school admin is refused
    denied = render_region(client, region="350322")
    assert "无权查看" in text_of(denied) and "仙游县实验小学" not in text_of(denied)
    rows, summary, _ = teachers(client, region="350322")
    assert rows == []


def test_teacher_list_of_a_region_below_county_level(app, client, login_as):
    """Regions deeper than a county have no level index; their list goes through schools."""
    engine = app.extensions["yanxiu"].engine
    from data_access.regions import upsert_region
    with engine.begin() as conn:
        upsert_region(conn, "XYZONE", "仙游县经济开发区", "350322", "zone")
    build_dataset(engine)
    from sqlalchemy import update as sql_update

    from data_access.models import School
    with engine.begin() as conn:
        conn.execute(sql_update(School).where(School.code == "S-XY-2").values(region_code="XYZONE"))
    refresh(engine)
    login_as("region_training", "350300")
    rows, summary, _ = teachers(client, region="XYZONE")
    assert summary.endswith("共有 2 条记录")
    assert {r["region_path"] for r in rows} == {"福建省/莆田市/仙游县/仙游县经济开发区"}


def test_school_chart_says_when_a_ratio_has_no_data(app, client, login_as):
    """Schools have no 专任教师数 of their own, so their 参训率 is "—": the chart names that in
    the legend and draws no empty % axis."""
    setup(app, login_as)
    render = render_region(client, region="350322")
    points = render.get_json()["response"]["st-chart-data"]["data"]
    assert points and all(p["participation_rate"] is None for p in points)
    figure = call_callback(client, ["st-chart.figure", "st-indicators.value", "st-hash.hash",
               "st-chart-hint.children"], [
        {"id": "st-chart-data", "property": "data", "value": points},
        {"id": "st-indicators", "property": "value", "value": []},
        {"id": "st-hash", "property": "hash", "value": "#ind=participants,participation_rate"}],
        changed=["st-chart-data.data"]).get_json()["response"]["st-chart"]["figure"]
    assert [t["name"] for t in figure["data"]] == ["参训人数", "参训率（暂无数据）"]
    assert figure["layout"]["yaxis"]["visible"] is True
    assert figure["layout"]["yaxis2"]["visible"] is False
