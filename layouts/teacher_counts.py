"""专任教师数 (SPEC §4.5): the import of the figures — 下载模板, 上传, preview, 确认导入 — the
regions whose 参训率 shows `—` and why, and the current figures.

Built without database access; the callbacks (callbacks/teacher_counts.py) fill in the rows
for the session's scope.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.teacher_counts import COLUMNS, UPLOAD_MAX_BYTES

from .columns import column
from .format import data_grid
from .ids import TeacherCounts as ids

TITLE = "专任教师数"
HIDDEN = {"display": "none"}
FIGURE_PAGE_SIZE = 20
PREVIEW_PAGE_SIZE = 20

_FIGURE_SIZES = {"region_code": (90, 0), "path": (150, 1.6), "stage": (84, 0),
                 "own": (96, 0), "effective": (120, 0), "source": (170, 1.6),
                 "updater": (150, 1), "updated_at": (128, 0)}
_NUMBER = {"type": "rightAligned"}


def figure_columns() -> list[dict]:
    cols = []
    for label, field in COLUMNS:
        extra = dict(_NUMBER) if field in ("own", "effective") else {}
        if field == "effective":
            extra["cellClassRules"] = {"text-danger": "params.value === '—'"}
        cols.append(column(field, label, *_FIGURE_SIZES[field], sortable=True, **extra))
    return cols


def missing_columns() -> list[dict]:
    return [column("path", "区域", 180, 1), column("reason", "原因", 300, 3)]


def preview_columns() -> list[dict]:
    return [
        column("row", "行号", 64, **_NUMBER),
        column("region_code", "区域代码", 100),
        column("region_name", "区域名称", 130, 1),
        column("stage", "学段", 84),
        column("count", "专任教师数", 96, **_NUMBER),
        column("current", "当前数字", 96, **_NUMBER),
        column("outcome", "结果", 110, cellClassRules={
            "text-danger": "params.value === '有错误'",
            "text-success": "params.value === '新增' || params.value === '修改'"}),
        column("errors", "错误说明", 240, 3),
    ]


def _steps(template_url: str):
    return html.Ol(className="steps small", children=[
        html.Li([html.A("下载模板", href=template_url, className="btn btn-outline-primary btn-sm"),
                 html.Span("：列出本范围的全部区域，已填入当前的专任教师数。")]),
        html.Li("在模板中填写或修改「专任教师数」（学段留空表示全部学段；不需要修改的行可以保留或留空）。"),
        html.Li("上传填好的文件，核对预览中的每一行，再点击「确认导入」。"),
    ])


def _upload():
    mb = UPLOAD_MAX_BYTES // 2**20
    return dcc.Upload(
        id=ids.UPLOAD,
        accept=".csv,.xlsx",
        max_size=UPLOAD_MAX_BYTES,
        multiple=False,
        className="upload-box",
        children=html.Div([
            html.Span("将文件拖到此处，或 "),
            html.A("点击选择文件", className="link-cell"),
            html.Div(f"支持 CSV（UTF-8 或 GBK）和 XLSX，不超过 {mb} MB", className="text-muted small"),
        ]),
    )


def _preview_panel():
    return html.Div(id=ids.PREVIEW_PANEL, style=HIDDEN, className="preview-panel", children=[
        html.Div(id=ids.PREVIEW_SUMMARY, className="preview-summary"),
        html.Div(id=ids.PREVIEW_ERRORS),
        data_grid(ids.PREVIEW_GRID, preview_columns(), "params.data.row_id",
                  empty="文件中没有数据行", page_size=PREVIEW_PAGE_SIZE,
                  getRowStyle={"styleConditions": [
                      {"condition": "params.data.outcome === '有错误'",
                       "style": {"backgroundColor": "#fdf0f0"}}]}),
        html.Div(className="filter-bar", children=[
            html.Button("确认导入", id=ids.CONFIRM, n_clicks=0, disabled=True,
                        className="btn btn-primary btn-sm"),
            html.Button("取消", id=ids.CANCEL, n_clicks=0,
                        className="btn btn-outline-secondary btn-sm"),
            html.Span("确认导入时全部行一起保存；有任何错误则不保存任何一行。",
                      className="text-muted small"),
        ]),
    ])


def page(template_url: str, export_urls: dict[str, str]):
    return html.Div(className="page", children=[
        dcc.Store(id=ids.RELOAD, data=0),
        html.H2(TITLE, className="page-title"),
        dbc.Alert(id=ids.UPDATED, color="info", className="small"),
        html.Section(className="section", children=[
            html.Div("导入专任教师数", className="panel-title"),
            _steps(template_url),
            _upload(),
            html.Div(id=ids.UPLOAD_MESSAGE),
            _preview_panel(),
            html.Div(id=ids.RESULT),
        ]),
        html.Section(className="section", children=[
            html.Div(className="filter-bar", children=[
                html.Span("参训率显示为 — 的区域", className="panel-title"),
                html.Span(id=ids.MISSING_SUMMARY, className="text-muted small"),
            ]),
            data_grid(ids.MISSING_GRID, missing_columns(), "params.data.row_id",
                      empty="本范围内所有区域都有专任教师数，参训率和学习进度可以正常计算。",
                      page_size=FIGURE_PAGE_SIZE),
        ]),
        html.Section(className="section", children=[
            html.Div(className="filter-bar", children=[
                html.Span("当前专任教师数", className="panel-title"),
                html.Span(id=ids.FIGURES_SUMMARY, className="text-muted small"),
                html.Span(className="spacer"),
                html.Span(className="export-links", children=[
                    html.A("导出 CSV", href=export_urls["csv"],
                           className="btn btn-outline-primary btn-sm"),
                    html.A("导出 Excel", href=export_urls["xlsx"],
                           className="btn btn-outline-primary btn-sm"),
                ]),
            ]),
            data_grid(ids.FIGURES_GRID, figure_columns(), "params.data.row_id",
                      page_size=FIGURE_PAGE_SIZE),
        ]),
    ])


def updated_note(updated: str) -> list:
    return ["专任教师数是参训率和学习进度的分母。本页显示已保存的数字；导入的新数字在下次数据更新后计入统计页面，"
            f"当前统计数据更新时间：{updated}。"]


def preview_summary(filename: str, rows: int, counts: dict[str, int], errors: int,
                    changes: int):
    parts = [f"文件「{filename}」共 {rows} 行"]
    parts += [f"{label} {n} 行" for label, n in counts.items() if n]
    text = "：".join([parts[0], "，".join(parts[1:])]) if len(parts) > 1 else parts[0]
    if errors:
        return dbc.Alert(f"{text}。发现 {errors} 个错误，请修改文件后重新上传；"
                         "在改正全部错误之前不会导入任何一行。", color="danger")
    if not changes:
        return dbc.Alert(f"{text}。没有发现错误；文件中的数字与当前数字相同，没有需要导入的修改。",
                         color="info")
    return dbc.Alert(f"{text}。没有发现错误，核对无误后请点击「确认导入」。", color="success")


def error_list(messages: list[str], total: int):
    if not messages:
        return None
    items = [html.Li(m) for m in messages]
    if total > len(messages):
        items.append(html.Li(f"…… 另有 {total - len(messages)} 个错误未列出"))
    return html.Ul(items, className="error-list small")

