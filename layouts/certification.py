"""教师管理 (SPEC §5.2): the certification review of the school's teachers — facets with
counts, the paged list with row selection, 通过 / 不通过 per row and for the selected rows,
and 导出. Built without database access; callbacks/certification.py fills it in.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.certification import COLUMNS, FACETS, REASON_MAX

from .columns import column
from .format import data_grid
from .ids import Certification as ids

TITLE = "教师管理"
PAGE_SIZE = 20
HIDDEN = {"display": "none"}
# Ten columns and the checkboxes in the 990 px a 1280 px screen leaves beside the menu; the
# 申请时间 breaks after its date where it must.
_SIZES = {"account": (104, 0), "name": (64, 1), "id_type": (104, 0), "id_number": (108, 0),
          "title": (84, 0), "stage": (64, 0), "subject": (76, 0.6), "applied_at": (100, 0.5),
          "status": (76, 0)}
_STATUS = {"cellClassRules": {"text-danger": "params.value === '未通过'",
                              "text-warning": "params.value === '未审核'"},
           "tooltipField": "reason"}
COLUMN_DEFS = [
    column(field, label, *_SIZES[field], **(_STATUS if field == "status" else {}))
    for label, field in COLUMNS
] + [column("actions", "操作", 104, cellRenderer="RowActions", cellDataType=False)]
FACET_IDS = {"status": ids.STATUS, "title": ids.TITLE, "stage": ids.STAGE}
LOCKED_TEXT = ('学校（机构）信息中的"学校所在地城乡类型"尚未填写，完善后才能审核教师；'
               "在此之前可以查看和导出。")


def facet_options(pairs: list[tuple[str, int]], total: int) -> list[dict]:
    """`全部 (n)` and `已通过 (n)` … as the manual's screen shows them."""
    return [{"label": f"全部 ({total})", "value": ""}] + [
        {"label": f"{value} ({n})", "value": value} for value, n in pairs]


def _facet(facet: str, label: str):
    return html.Div(className="facet", children=[
        html.Span(f"{label}:", className="facet-label"),
        dbc.RadioItems(id=FACET_IDS[facet], options=[{"label": "全部", "value": ""}], value="",
                       inline=True, inputClassName="btn-check",
                       labelClassName="btn btn-outline-primary btn-sm facet-choice",
                       labelCheckedClassName="active"),
    ])


def reject_dialog():
    return dbc.Modal(id=ids.REJECT, is_open=False, children=[
        dbc.ModalHeader(dbc.ModalTitle("不通过"), close_button=True),
        dbc.ModalBody([
            html.P(id=ids.REJECT_TEXT, className="fw-semibold"),
            dbc.Label("不通过原因（选填）:", html_for=ids.REJECT_REASON),
            dbc.Textarea(id=ids.REJECT_REASON, maxLength=REASON_MAX, rows=3,
                         placeholder="如：证件照片不清晰，请重新上传"),
            html.Div(f"最多 {REASON_MAX} 个字；教师可修改后重新申请。",
                     className="small text-muted mt-1"),
        ]),
        dbc.ModalFooter([
            dcc.Store(id=ids.REJECTING),
            html.Button("取消", id=ids.REJECT_CANCEL, n_clicks=0,
                        className="btn btn-outline-secondary btn-sm"),
            html.Button("确定不通过", id=ids.REJECT_CONFIRM, n_clicks=0,
                        className="btn btn-danger btn-sm"),
        ]),
    ])


def _grid():
    grid = data_grid(ids.GRID, COLUMN_DEFS, "params.data.row_id", empty="没有符合条件的教师")
    # A checkbox per row and one in the header for the page; a click elsewhere selects nothing
    # (the 操作 links are in the row).
    grid.dashGridOptions = {**grid.dashGridOptions, "rowSelection": {
        "mode": "multiRow", "checkboxes": True, "headerCheckbox": True,
        "enableClickSelection": False}}
    return grid


def page(export_urls: dict[str, str]):
    return html.Div(className="page", children=[
        dcc.Store(id=ids.RELOAD, data=0),
        html.Div([html.H2(TITLE, className="page-title"),
                  html.Div([
                      html.A("导出 CSV", id=ids.EXPORT_CSV, href=export_urls["csv"],
                             className="btn btn-outline-primary btn-sm export"),
                      html.A("导出 Excel", id=ids.EXPORT_XLSX, href=export_urls["xlsx"],
                             className="btn btn-outline-primary btn-sm export"),
                  ], className="title-actions")], className="title-row"),
        html.Div(className="facets", children=[_facet(f, label) for f, label in FACETS]),
        dbc.Alert(LOCKED_TEXT, id=ids.LOCKED, color="warning", className="small",
                  style=HIDDEN),
        html.Div(id=ids.MESSAGE),
        html.Div(className="filter-bar", children=[
            html.Button("批量通过", id=ids.BATCH_PASS, n_clicks=0,
                        className="btn btn-primary btn-sm"),
            html.Button("批量不通过", id=ids.BATCH_REJECT, n_clicks=0,
                        className="btn btn-outline-danger btn-sm"),
            html.Span("勾选左侧方框选择本页的教师", className="text-muted small"),
        ]),
        _grid(),
        html.Div(className="pager-row", children=[
            html.Span(id=ids.TOTAL, className="pager-total"),
            dbc.Pagination(id=ids.PAGER, max_value=1, active_page=1, first_last=True,
                           previous_next=True, fully_expanded=False, size="sm"),
            html.Span(f"{PAGE_SIZE}条/页", className="pager-size"),
        ]),
        reject_dialog(),
    ])
