"""Progress of the long commands: shown on a terminal, silent in cron (SPEC §7.3)."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner

from dashboard import progress
from dashboard.cli import main
from dashboard.progress import Progress, count_lines


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rows_with_rate_and_time_left_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "REDRAW_EVERY_S", 0)
    out = Terminal()
    shown = Progress("importing teachers", total=1000, stream=out)
    shown.started -= 2  # two seconds in
    shown.rows(400)
    line = out.getvalue()
    assert line.startswith("\rimporting teachers: 400 / 1,000 rows (40%), 200 rows/s")
    assert "about 3 s left" in line
    shown.done()
    assert out.getvalue().endswith("\r")


def test_stages_with_the_previous_duration_as_estimate(monkeypatch):
    out = Terminal()
    shown = Progress("refresh", stages=3, expected_s=600, stream=out)
    shown.stage("school totals")
    shown.stage("teacher list")
    assert "refresh: [2/3] teacher list (0 s so far, about 10 min 00 s left)" in out.getvalue()


def test_nothing_when_not_on_a_terminal(monkeypatch):
    monkeypatch.delenv("YANXIU_PROGRESS", raising=False)
    out = io.StringIO()
    shown = Progress("refresh", stages=3, stream=out)
    shown.stage("school totals")
    shown.rows(10)
    shown.done()
    assert out.getvalue() == ""
    monkeypatch.setenv("YANXIU_PROGRESS", "0")
    shown = Progress("x", stream=Terminal())
    shown.stage("a")
    assert shown.stream.getvalue() == ""


def test_count_lines(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(b"h1,h2\n1,2\n3,4")  # no newline at the end
    assert count_lines(f) == 2
    f.write_bytes(b"h1,h2\n" + b"1,2\n" * 5000)
    assert count_lines(f) == 5000
    assert count_lines(tmp_path / "a.xlsx") is None


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("YANXIU_DATABASE_URL", database_url)
    monkeypatch.setenv("YANXIU_SECRET_KEY", "cli-test-secret-0123456789")

    def _run(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return _run


def test_the_commands_show_progress_on_a_terminal_and_stay_quiet_in_cron(
        run, tmp_path, monkeypatch):
    out = tmp_path / "demo"
    monkeypatch.setenv("YANXIU_PROGRESS", "1")
    monkeypatch.setattr(progress, "REDRAW_EVERY_S", 0)
    gen = run("gen-demo", "--scale", "small", "--out", str(out))
    assert "\rgen-demo small: teachers: " in gen.stderr and "rows/s" in gen.stderr
    for kind in ("regions", "schools", "teachers"):
        result = run("import", kind, str(out / f"{kind}.csv"))
        assert result.exit_code == 0
    assert "\rimporting teachers: 2,000 / 2,000 rows (100%)" in result.stderr
    refreshed = run("refresh")
    assert "refresh: [1/7] school totals" in refreshed.stderr
    assert "[6/7] indexes" in refreshed.stderr
    assert "[7/7] daily history and switch" in refreshed.stderr
    again = run("refresh")
    assert "left)" in again.stderr or "so far)" in again.stderr  # the last run's estimate

    monkeypatch.delenv("YANXIU_PROGRESS")  # cron: stderr is no terminal
    quiet = run("import", "teachers", str(out / "teachers.csv"))
    assert quiet.stderr == "" and "imported" in quiet.output
    assert run("refresh").stderr == ""
