"""The benchmark's page-weight step never ends the run: without a usable Chromium it reports
"not measured" and why."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_run"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("benchmark_run", None)


@pytest.mark.parametrize("chromium, why", [
    (None, "Chromium not found"),
    ("/bin/false", "Error"),  # found, but it does not start
])
def test_without_a_browser_the_page_weight_is_not_measured(bench, monkeypatch, chromium, why):
    monkeypatch.setattr(bench, "find_chromium", lambda: chromium)
    result = bench.measure_page_weight("http://127.0.0.1:9", runs=1, timeout=20)
    assert result["available"] is False and why in result["note"], result
    table = "\n".join(bench.render_page_weight(result))
    assert "| first load (empty cache) | — |" in table and "not measured (" in table
    assert "| repeat load (same context) | — |" in table
    report = {"measurements": {}, "refresh": {"pass": True}, "naive": {"pass": True},
              "exports": {}, "page_weight": result}
    assert bench.all_targets_met(report) is False


def test_zero_runs_skip_the_step(bench):
    result = bench.measure_page_weight("http://127.0.0.1:9", runs=0)
    assert result["available"] is False and result["note"] == "--page-runs 0"
