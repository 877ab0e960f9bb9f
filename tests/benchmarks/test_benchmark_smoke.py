"""The benchmark script keeps working: a small-scale run end to end (SPEC §8.3).

It builds the small demo data set, serves it with `yanxiu serve`, measures every callback a
few times and writes its report into the test's temporary folder (never docs/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import _chromium
from tests.conftest import BACKEND, POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]

CALLBACK_KEYS = {
    "region_province", "region_city", "region_county", "region_uncertified_exclude",
    "region_filters", "region_county_admin", "breadcrumb", "chart_full", "chart_patch",
    "navigate_drilldown", "page_route", "teacher_first_page", "teacher_middle_page",
    "teacher_last_page", "teacher_filtered_last_page", "teacher_name_search",
    "activation_province", "activation_drilldown", "activation_unactivated",
    "activation_search",
}
REQUIRED = {"region_province", "region_city", "region_county", "region_uncertified_exclude",
            "region_filters", "chart_full", "teacher_first_page", "teacher_middle_page",
            "teacher_last_page", "teacher_name_search", "activation_province",
            "activation_drilldown", "activation_unactivated", "activation_search"}


@pytest.mark.slow
def test_small_benchmark_runs_and_reports_every_measurement(tmp_path):
    docs = ROOT / "docs" / "performance.md"
    before = docs.read_bytes() if docs.exists() else None
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--scale", "small",
         "--calls", "20", "--page-runs", "1", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    measurements = results["measurements"]
    assert set(measurements) == CALLBACK_KEYS
    for key in REQUIRED:
        m = measurements[key]
        assert m["available"] and m["errors"] == 0, (key, m)
        assert m["n"] == 20 and 0 < m["median_ms"] <= m["p95_ms"] <= m["max_ms"], (key, m)
    for key in ("export_csv", "export_xlsx"):
        assert key in results["exports"]
    assert results["exports"]["export_csv"]["available"]
    wall = results["wall_screen"]
    assert wall["http"]["errors"] == 0 and wall["http"]["steady"]["n"] == 10 * 100
    q = wall["queries"]
    # 100 screens of one region: one read of the aggregates per snapshot, none in between
    assert q["first_round_answers"] == q["new_snapshot_answers"] == 100
    assert q["steady_round_statements"] == 0 and q["steady_round_answers"] == 0
    assert q["cache_fills"] == 2 and 0 < q["first_round_statements"] <= 5
    assert q["new_snapshot_statements"] == q["first_round_statements"]
    assert len(results["refresh"]["runs_seconds"]) >= 3
    assert results["naive"]["n"] >= 20 and results["naive"]["ratio"] is not None
    assert results["naive"]["same_participants_as_screen"] is True
    for key in ("nproc", "cpu_model", "python", "sqlite"):
        assert key in results["machine"]

    page = results["page_weight"]
    report = (tmp_path / "performance.md").read_text()
    assert "### Page weight" in report
    if page["available"]:
        assert len(page["runs"]) == 1
        first, repeat = page["runs"][0]["first"], page["runs"][0]["repeat"]
        # Compressed bundles, then nearly everything from the browser cache.
        assert 1_000_000 < first["bytes"] <= 3_000_000, first
        assert repeat["bytes"] <= 150_000 and repeat["from_cache"] >= 10, repeat
        assert repeat["revalidated"] >= 1 and not first["failed"] and not repeat["failed"]
        assert 0 < repeat["seconds"] and 0 < first["seconds"]
        assert "| first load (empty cache) | 1 |" in report
    else:
        # Without a browser the step says why instead of failing the run.
        assert not _chromium() and "not measured" in report, page
    assert "| measurement |" in report and "refresh" in report
    assert "未激活学校: province list, first/middle/last pages" in report
    # A smoke run never touches the published report.
    assert (docs.read_bytes() if docs.exists() else None) == before


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "postgresql" or not POSTGRES_URL,
                    reason="the PostgreSQL side of the benchmark runs in the PostgreSQL pass")
def test_small_benchmark_measures_postgresql_beside_sqlite(tmp_path):
    from sqlalchemy import text

    from data_access.db import make_engine

    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--scale", "small",
         "--calls", "3", "--warmup", "1", "--page-runs", "0", "--refresh-runs", "1",
         "--naive-runs", "1", "--export-runs", "1", "--export-budget", "5", "--wall-rounds", "2",
         "--out", str(tmp_path), "--no-docs", "--database-url", POSTGRES_URL],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    pg = results["postgresql"]
    assert set(pg["measurements"]) == CALLBACK_KEYS
    for key in REQUIRED:
        m = pg["measurements"][key]
        assert m["available"] and m["errors"] == 0 and m["n"] == 3, (key, m)
    assert pg["data"]["teachers"] == results["data"]["teachers"] > 0
    assert pg["data"]["training_records"] == results["data"]["training_records"]
    assert pg["build"]["import"]["teachers"]["rows"] == results["build"]["import"]["teachers"]["rows"]
    assert pg["refresh"]["target_s"] == results["refresh"]["median_s"]
    assert pg["naive"]["same_participants_as_screen"] is True
    assert pg["exports"]["export_csv"]["available"]
    report = (tmp_path / "performance.md").read_text()
    assert "## PostgreSQL beside SQLite" in report
    assert "| SQLite median / p95 ms | PostgreSQL median / p95 ms |" in report
    # the run's database is gone, and the report holds no password
    from sqlalchemy.engine import make_url

    name = make_url(pg["build"]["database"]).database
    assert name.startswith("yanxiu_bench_small_")
    admin = make_engine(POSTGRES_URL)
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_database WHERE datname = :n"),
                           {"n": name}) == 0
    admin.dispose()
