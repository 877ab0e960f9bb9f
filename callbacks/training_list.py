"""培训列表: filters, paging and the link to 统计详情."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from dash import Input, Output, ctx
from dash.exceptions import PreventUpdate

from data_access.metrics import hours
from data_access.scope import valid_id
from data_access.trainings import PAGE_SIZE, STATUSES, TrainingFilters, list_trainings
from dashboard.access import read
from layouts.ids import Shell
from layouts.ids import TrainingList as ids

from . import callback


def _date(value) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@callback(
    Output(ids.GRID, "rowData"),
    Output(ids.PAGER, "max_value"),
    Output(ids.PAGER, "active_page"),
    Output(ids.TOTAL, "children"),
    Input(ids.STATUS, "value"),
    Input(ids.DATE_RANGE, "start_date"),
    Input(ids.DATE_RANGE, "end_date"),
    Input(ids.KEYWORD, "value"),
    Input(ids.PAGER, "active_page"),
)
def training_rows(status, start, end, keyword, page):
    filters = TrainingFilters(
        status=status if status in STATUSES else "",
        start=_date(start),
        end=_date(end),
        keyword=keyword.strip()[:50] if isinstance(keyword, str) else "",
    )
    page = (valid_id(page) or 1) if ctx.triggered_id == ids.PAGER else 1
    with read() as conn:
        rows, total = list_trainings(conn, filters, page)
    records = [
        {
            "code": t.code,
            "name": t.name,
            "status": t.status(),
            "period": t.period,
            "hours_cap": hours(t.hours_cap_tenths),
            "created_at": f"{t.created_at:%Y.%m.%d %H:%M}",
            "action": "查看统计详情",
        }
        for t in rows
    ]
    pages = max(1, -(-total // PAGE_SIZE))
    return records, pages, page, f"共 {total} 条"


@callback(Output(Shell.NAV, "href", allow_duplicate=True), Input(ids.GRID, "cellClicked"),
          prevent_initial_call=True)
def open_training(cell):
    if not isinstance(cell, dict) or cell.get("colId") not in ("action", "name"):
        raise PreventUpdate
    code = cell.get("rowId")
    if not isinstance(code, str) or not code:
        raise PreventUpdate
    return f"/training/{quote(code, safe='')}"
