"""The `yanxiu` command line, through click's runner."""

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dashboard.cli import main
from data_access.models import Binding, School, Snapshot


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("YANXIU_DATABASE_URL", database_url)
    monkeypatch.setenv("YANXIU_SECRET_KEY", "cli-test-secret-0123456789")
    runner = CliRunner()

    def _run(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return _run


def test_gen_demo_import_refresh_user_grant(run, engine, tmp_path):
    out = tmp_path / "demo"
    assert run("gen-demo", "--scale", "small", "--out", str(out)).exit_code == 0
    assert run("db", "upgrade").exit_code == 0
    for kind, name in [("regions", "regions.csv"), ("schools", "schools.csv"),
                       ("teachers", "teachers.csv"), ("trainings", "trainings.csv"),
                       ("records", "records.csv"), ("teacher-counts", "teacher-counts.csv")]:
        result = run("import", kind, str(out / name))
        assert result.exit_code == 0, result.output
    again = run("import", "schools", str(out / "schools.csv"))
    assert "0 new, 0 updated" in again.output
    assert run("refresh").exit_code == 0
    assert run("user", "create", "--account", "zhang", "--name", "张三", "--password-stdin",
               input="Passw0rd!x\n").exit_code == 0
    assert run("grant", "--account", "zhang", "--role", "region_super",
               "--scope", "350000").exit_code == 0
    code = run("code", "issue", "--role", "region_training", "--scope", "350300")
    assert code.exit_code == 0 and len(code.output.strip().split("\n")[-1].split("-")) == 7
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(School)) > 50
        assert conn.scalar(select(func.count()).select_from(Binding)) == 1
        assert conn.scalar(select(Snapshot.status)) == "ready"


def test_refused_import_exits_non_zero_and_lists_every_bad_row(run, engine, tmp_path):
    bad = tmp_path / "schools.csv"
    bad.write_text("学校标识码,学校名称,所在区域代码\nA1,甲校,999999\nA2,,350322\nA3,丙校,350322\n",
                   encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "schools", str(bad)])
    assert result.exit_code == 1
    assert "row 2, column region_code" in result.output
    assert "row 3, column name" in result.output
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(School)) == 0


def test_serve_refuses_default_secret_and_debug(run, monkeypatch):
    monkeypatch.delenv("YANXIU_SECRET_KEY")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "YANXIU_SECRET_KEY" in result.output
    monkeypatch.setenv("YANXIU_SECRET_KEY", "short")
    assert CliRunner().invoke(main, ["serve"]).exit_code != 0
    monkeypatch.setenv("YANXIU_SECRET_KEY", "a-long-enough-secret-0123456789")
    monkeypatch.setenv("FLASK_DEBUG", "1")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "debug" in result.output
    assert CliRunner().invoke(main, ["serve", "--workers", "1"]).exit_code != 0


def test_demo_builds_prints_and_keeps_the_demo_logins(monkeypatch, tmp_path):
    """`yanxiu demo` (small scale, server stubbed): every demo login exists with its role and
    scope, is named after a person, and the console lists account, role, scope and name."""
    import re

    from dashboard import cli
    from data_access import accounts
    from data_access.db import make_engine
    from data_access.models import School
    from data_access.refresh import current_snapshot
    from data_access.vocab import ROLE_LABELS

    served = []
    monkeypatch.setenv("YANXIU_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "_serve", lambda host, port, workers, settings: served.append(port))
    first = CliRunner().invoke(main, ["demo", "--scale", "small", "--port", "8060"],
                               catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert served == [8060] and "http://127.0.0.1:8060/" in first.output

    engine = make_engine(f"sqlite:///{tmp_path / 'demo' / 'yanxiu-demo.db'}")
    with engine.connect() as conn:
        # the statistics are served from the renamed database
        assert current_snapshot(conn) is not None
        seen = {}
        for u in cli.DEMO_USERS:
            user = accounts.authenticate(conn, u.account, cli.DEMO_PASSWORD)
            assert user is not None, u.account
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", user.name), user.name
            (binding,) = accounts.active_bindings(conn, user.id)
            assert binding.role == u.role
            seen[u.account] = (binding, user.name)
        schools = {b.school_code: conn.execute(
            select(School.name, School.region_code, School.urban_rural)
            .where(School.code == b.school_code)).one()
            for b, _ in seen.values() if b.school_code}
        # 激活进度 has something to show: admin accounts opened part of the way
        from data_access.activation import activation_table
        from data_access.regions import get_region

        fujian = activation_table(conn, get_region(conn, "350000")).rows[0].counts
        assert 0 < fujian.activated < fujian.schools
        assert 0 < fujian.regions_activated < fujian.regions
    engine.dispose()
    assert "admin accounts:" in first.output
    # the region logins that tests and docs rely on
    assert {a: (b.role, b.region_code) for a, (b, _) in seen.items() if b.region_code} == {
        "fujian": ("region_training", "350000"), "putian": ("region_training", "350300"),
        "xianyou": ("region_training", "350322"), "sanming": ("region_super", "350400")}
    # three school admins: a 仙游县 middle school, a kindergarten, a school without 城乡类型
    middle, kindergarten, incomplete = (schools[seen[a][0].school_code] for a in (
        "xianyou-school", "kindergarten", "school-info"))
    assert middle.region_code == "350322" and middle.name.endswith("中学")
    assert kindergarten.name.endswith("幼儿园")
    assert incomplete.urban_rural in (None, "")
    assert len({u.name for u in cli.DEMO_USERS}) == len(cli.DEMO_USERS)

    second = CliRunner().invoke(main, ["demo"], catch_exceptions=False)
    assert second.exit_code == 0 and "creating the demo database" not in second.output
    for out in (first.output, second.output):
        lines = [line.split() for line in out.splitlines()]
        assert ["账号", "角色", "管理范围", "姓名"] in lines
        for account, (binding, name) in seen.items():
            assert [account, ROLE_LABELS[binding.role], binding.scope_name, name] in lines

def test_refused_import_shows_the_first_thousand_errors_and_where_all_are(run, engine, tmp_path):
    bad = tmp_path / "schools.csv"
    bad.write_text("学校标识码,学校名称,所在区域代码\n"
                   + "".join(f"A{i},甲校{i},999999\n" for i in range(1500)), encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "schools", str(bad)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert sum(line.startswith("row ") for line in lines) == 1000
    assert lines[0] == "row 2, column region_code: unknown region code '999999'"
    report = next(tmp_path.glob("schools-errors-*.csv"))
    assert lines[-3:] == [
        "… and 500 more error(s), not shown here",
        f"every error is listed in {report}",
        "refused: 1500 error(s); nothing was written",
    ]
    assert len(report.read_text(encoding="utf-8-sig").splitlines()) == 1 + 1500
    # --errors-file chooses the place; a dry run that finds errors writes a report too.
    chosen = tmp_path / "reports" / "bad-schools.csv"
    chosen.parent.mkdir()
    result = CliRunner().invoke(main, ["import", "schools", str(bad), "--dry-run",
                                       "--errors-file", str(chosen)])
    assert result.exit_code == 1
    assert f"every error is listed in {chosen}" in result.output
    assert chosen.read_text(encoding="utf-8-sig").splitlines()[:2] == [
        "行号,列,值,原因", "2,region_code,999999,unknown region code '999999'"]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(School)) == 0


def test_screen_token_issue_list_and_revoke(run, engine):
    import json
    import re
    from datetime import date, timedelta

    from data_access.display_tokens import grant_of
    from data_access.models import AuditLog
    from tests.helpers import build_dataset

    build_dataset(engine)
    issued = run("screen-token", "issue", "--region", "350322", "--label", "三楼会议室")
    assert issued.exit_code == 0, issued.output
    path = next(line for line in issued.output.splitlines() if line.startswith("/screen/"))
    token = re.fullmatch(r"/screen/([A-Za-z0-9_-]{32})", path).group(1)
    assert "只显示这一次" in issued.output and "当前培训（自动跟随）" in issued.output
    until = date.today() + timedelta(days=30)
    dated = run("screen-token", "issue", "--region", "350300", "--training", "T2022",
                "--label", "大厅", "--expires", until.isoformat())
    assert dated.exit_code == 0 and f"有效期至 {until:%Y-%m-%d}" in dated.output
    with engine.connect() as conn:
        grant = grant_of(conn, token)
    assert (grant.region_code, grant.training_id) == ("350322", None)

    listed = run("screen-token", "list").output.splitlines()
    assert listed[0].split() == ["ID", "大屏名称", "区域", "培训", "签发时间", "有效期至",
                                 "最近访问", "访问IP", "状态"]
    first = listed[2].split()  # newest first: 三楼会议室 was issued before 大厅
    assert first[:3] == [str(grant.token_id), "三楼会议室", "仙游县"]
    assert first[-4:] == ["长期有效", "从未访问", "—", "有效"]
    assert "2022年“暑期教师研修”专题" in listed[1] and f"{until:%Y-%m-%d}" in listed[1]
    assert token not in "\n".join(listed)

    assert run("screen-token", "revoke", str(grant.token_id)).exit_code == 0
    with engine.connect() as conn:
        assert grant_of(conn, token) is None
        logged = conn.execute(select(AuditLog.action, AuditLog.actor, AuditLog.detail)
                              .where(AuditLog.action.like("screen_token_%"))
                              .order_by(AuditLog.id)).all()
    assert [(a, actor) for a, actor, _ in logged] == [
        ("screen_token_issue", "cli"), ("screen_token_issue", "cli"),
        ("screen_token_revoke", "cli")]
    assert json.loads(logged[2].detail) == {"token_id": grant.token_id, "label": "三楼会议室",
                                            "training": ""}
    assert all(token not in detail for _, _, detail in logged)
    assert run("screen-token", "list").output.splitlines()[2].split()[-1] == "已撤销"


@pytest.mark.parametrize("args, message", [
    (["issue", "--region", "999999", "--label", "大厅"], "区域不存在"),
    (["issue", "--region", "350322", "--training", "NOPE", "--label", "大厅"], "培训不存在"),
    (["issue", "--region", "350322", "--label", " "], "请填写大屏名称"),
    (["issue", "--region", "350322", "--label", "会" * 41], "最多 40 个字"),
    (["issue", "--region", "350322", "--label", "大厅", "--expires", "2000-01-01"],
     "不能早于今天"),
    (["issue", "--region", "350322", "--label", "大厅", "--expires", "2999-01-01"],
     "最长十年"),
    (["issue", "--region", "350322", "--label", "大厅", "--expires", "明天"],
     "YYYY-MM-DD"),
    (["revoke", "12345"], "大屏链接不存在"),
    (["revoke", "abc"], "大屏链接不存在"),
])
def test_screen_token_refusals_are_clear(run, engine, args, message):
    result = CliRunner().invoke(main, ["screen-token", *args])
    assert result.exit_code == 1 and message in result.output, result.output
