"""Reading the 统计详情 page in the browser: the region table (its current region pinned on
top), the teacher list and the waits between a click and the new numbers."""

from __future__ import annotations

import re

_TABLE_JS = """grid => {
  const g = document.querySelector(grid);
  if (!g) { return []; }
  const byIndex = sel => {
    const out = {};
    g.querySelectorAll(sel + ' .ag-row').forEach(r => {
      out[r.getAttribute('row-index')] = Array.from(r.querySelectorAll('.ag-cell'))
        .map(c => c.innerText.trim());
    });
    return out;
  };
  const join = (left, center) => Object.keys(center)
    .sort((a, b) => Number(a.replace('t-', '')) - Number(b.replace('t-', '')))
    .map(i => (left[i] || []).concat(center[i]));
  return join(byIndex('.ag-pinned-left-floating-top'), byIndex('.ag-floating-top-container'))
    .concat(join(byIndex('.ag-body .ag-pinned-left-cols-container'),
                 byIndex('.ag-body .ag-center-cols-container')));
}"""


def table(page, grid: str) -> list[list[str]]:
    """Every rendered row of a grid as on screen (pinned rows first, then by row index)."""
    return page.evaluate(_TABLE_JS, grid)


def region_rows(page) -> list[list[str]]:
    return table(page, "#st-region-grid")


def region_names(page) -> list[str]:
    return [row[0] for row in region_rows(page)]


def wait_current_region(page, name: str) -> None:
    """The pinned first row shows ``name`` (the table of that region has arrived)."""
    page.wait_for_function(
        """name => { const r = document.querySelector(
              "#st-region-grid .ag-pinned-left-floating-top .ag-row");
              return r && r.innerText.trim() === name; }""", arg=name)


def wait_rows_changed(page, grid: str, before: list[list[str]]) -> None:
    page.wait_for_function(
        f"before => {{ const now = ({_TABLE_JS})('{grid}');"
        f" return now.length > 0 && JSON.stringify(now) !== JSON.stringify(before); }}",
        arg=before)


def summary(page) -> str:
    return page.inner_text("#st-summary").strip()


def wait_summary(page, pattern: str):
    page.wait_for_function(
        "p => new RegExp(p).test(document.querySelector('#st-summary').innerText)", arg=pattern)
    return re.search(pattern, summary(page))


def teacher_rows(page) -> list[list[str]]:
    return table(page, "#st-teacher-grid")


def wait_region_names(page, names: list[str]) -> None:
    """The table shows exactly these rows (the current region first)."""
    try:
        page.wait_for_function(
            f"names => JSON.stringify(({_TABLE_JS})('#st-region-grid').map(r => r[0]))"
            f" === JSON.stringify(names)", arg=names, timeout=10_000)
    except Exception:
        raise AssertionError(f"region table shows {region_names(page)}, expected {names}")
