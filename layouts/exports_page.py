"""导出管理 (SPEC §6): the user's own export jobs, with progress and download links."""

from __future__ import annotations

from dash import dcc, html

from .columns import ACTION_WIDTH, TIME_WIDTH, column
from .format import data_grid
from .ids import Exports

COLUMNS = [
    column("title", "文件", 160, 3),
    column("format", "格式", 64),
    column("status", "状态", 72),
    column("progress", "进度", 72),
    column("rows", "行数", 84, type="rightAligned"),
    column("size", "大小", 84, type="rightAligned"),
    column("created_at", "创建时间", TIME_WIDTH),
    column("expires_at", "过期时间", TIME_WIDTH),
    # 下载, or why the job failed (which may take a few lines)
    column("action", "操作", ACTION_WIDTH, 0.8, cellRenderer="DownloadLink"),
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
