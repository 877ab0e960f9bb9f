"""导出管理 (SPEC §6): the user's own export jobs, with progress and download links."""

from __future__ import annotations

from dash import dcc, html

from .format import data_grid
from .ids import Exports

COLUMNS = [
    {"field": "title", "headerName": "文件", "minWidth": 260, "flex": 3},
    {"field": "format", "headerName": "格式", "minWidth": 70, "flex": 0.6},
    {"field": "status", "headerName": "状态", "minWidth": 80, "flex": 0.8},
    {"field": "progress", "headerName": "进度", "minWidth": 110, "flex": 1},
    {"field": "rows", "headerName": "行数", "minWidth": 90, "flex": 0.8, "type": "rightAligned"},
    {"field": "size", "headerName": "大小", "minWidth": 90, "flex": 0.8, "type": "rightAligned"},
    {"field": "created_at", "headerName": "创建时间", "minWidth": 140, "flex": 1.2},
    {"field": "expires_at", "headerName": "过期时间", "minWidth": 140, "flex": 1.2},
    {"field": "action", "headerName": "操作", "minWidth": 80, "flex": 0.7,
     "cellRenderer": "DownloadLink"},
]


def page():
    return html.Div(
        className="page",
        children=[
            html.H2("导出管理", className="page-title"),
            html.P("超过 2 万行的导出在后台生成，完成后在此下载；文件保留 7 天。",
                   className="text-muted small"),
            dcc.Interval(id=Exports.TICK, interval=3000, n_intervals=0),
            data_grid(Exports.GRID, COLUMNS, "params.data.id", empty="暂无导出任务",
                      page_size=20),
        ],
    )


def size_text(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""
