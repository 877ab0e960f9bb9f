"""The 大屏 (SPEC §4.6): a 1920×1080 canvas, scaled to the screen by assets/wall_screen.js.

Everything is drawn at the canvas's own size in pixels (the charts too: fixed width and
height, no responsive resizing), so a 4K screen and a 1366×768 one show the same picture.
"""

from __future__ import annotations

from html import escape

from dash import dcc, html

from .ids import Wall as ids

WIDTH, HEIGHT = 1920, 1080
RANKING_SIZE = (1056, 574)
TREND_SIZE = (664, 248)
NAME_CHARS = 12  # a bar's label; the whole name is in the 重点关注 panel

INVALID_TEXT = "该大屏链接已失效，请联系管理员"
NO_DATA_TEXT = "暂无统计数据，请等待数据更新"
PREVIEW_DENIED_TEXT = "大屏预览仅对区域管理员开放，请先以区域管理员身份登录"
OFFLINE_TEXT = "数据连接中断，正在重试…"
KPI_LABELS = ("参训人数", "参训率", "学习人数", "完成学时人数", "完成人数占比")

TEXT = "#e8f1ff"
MUTED = "#8fa8cc"
ACCENT = "#38d1ff"
HIGHLIGHT = "#ffc53d"
GOOD = "#36cfc9"
GRID = "rgba(143,168,204,0.18)"
FONT = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"


def page(*, poll_seconds: int, rotate_seconds: int, reload_hours: float,
         training_options: list[dict] | None = None):
    """The screen's frame; its contents arrive with the first poll. `training_options`: the
    preview's chooser (a logged-in region admin at /screen/), None on a kiosk."""
    config = html.Div(id=ids.CONFIG, hidden=True, **{
        "data-reload-ms": str(int(reload_hours * 3600 * 1000)),
        "data-poll-ms": str(poll_seconds * 1000),
    })
    return html.Div(className="wall-root", children=[
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Store(id=ids.DATA),
        dcc.Store(id=ids.SHOWN),
        dcc.Interval(id=ids.POLL, interval=poll_seconds * 1000),
        dcc.Interval(id=ids.ROTATE, interval=rotate_seconds * 1000),
        dcc.Interval(id=ids.CLOCK_TICK, interval=1000),
        config,
        _preview_bar(training_options),
        html.Div(id=ids.CANVAS, className="wall-canvas", children=[
            html.Header(className="wall-header", children=[
                html.Div(className="wall-heading", children=[
                    html.H1(id=ids.TITLE, className="wall-title", children="正在加载…"),
                    html.Div(id=ids.PERIOD, className="wall-period"),
                ]),
                html.Div(className="wall-times", children=[
                    html.Div(id=ids.CLOCK, className="wall-clock"),
                    html.Div(id=ids.UPDATED, className="wall-updated"),
                    html.Div(id=ids.OFFLINE, className="wall-offline", children=OFFLINE_TEXT),
                ]),
            ]),
            html.Section(id=ids.KPIS, className="wall-kpis",
                         children=kpi_cards([{"label": label, "value": "—", "delta": "",
                                              "direction": 0} for label in KPI_LABELS])),
            html.Div(className="wall-body", children=[
                html.Section(className="wall-panel wall-ranking", children=[
                    html.H2(id=ids.RANKING_TITLE, className="wall-panel-title",
                            children="完成人数占比排名"),
                    dcc.Graph(id=ids.RANKING, figure=empty_figure(*RANKING_SIZE),
                              config=GRAPH_CONFIG, responsive=False,
                              style={"width": f"{RANKING_SIZE[0]}px",
                                     "height": f"{RANKING_SIZE[1]}px"}),
                ]),
                html.Div(className="wall-side", children=[
                    html.Section(className="wall-panel wall-trend", children=[
                        html.H2(className="wall-panel-title", children="每日参训与完成人数"),
                        dcc.Graph(id=ids.TREND, figure=empty_figure(*TREND_SIZE),
                                  config=GRAPH_CONFIG, responsive=False,
                                  style={"width": f"{TREND_SIZE[0]}px",
                                         "height": f"{TREND_SIZE[1]}px"}),
                    ]),
                    html.Div(className="wall-side-row", children=[
                        html.Section(className="wall-panel wall-lagging", children=[
                            html.H2(id=ids.LAGGING_TITLE, className="wall-panel-title",
                                    children="完成人数占比后五位"),
                            html.Ol(id=ids.LAGGING, className="wall-lagging-list"),
                        ]),
                        html.Section(className="wall-panel wall-focus", children=[
                            html.H2(className="wall-panel-title", children="重点关注"),
                            focus_panel(),
                        ]),
                    ]),
                ]),
            ]),
        ]),
        html.Div(id=ids.NOTICE, className="wall-notice", hidden=True),
    ])


# Nothing to click on a wall: a static picture (no hover, no mode bar, no zoom).
GRAPH_CONFIG = {"staticPlot": True, "displayModeBar": False, "responsive": False}


def _preview_bar(options: list[dict] | None):
    if options is None:
        return html.Div(id=ids.PREVIEW_BAR, hidden=True, children=[
            dcc.Dropdown(id=ids.TRAINING, options=[], value="", clearable=False)])
    return html.Div(id=ids.PREVIEW_BAR, className="wall-preview-bar", children=[
        html.Span("大屏预览（当前管理范围）", className="wall-preview-label"),
        dcc.Dropdown(id=ids.TRAINING, options=options, value="", clearable=False,
                     searchable=False, className="wall-preview-training"),
        html.A("返回大屏管理", href="/wall-screens", className="wall-preview-back"),
    ])


def kpi_cards(kpis: list[dict]):
    cards = []
    for k in kpis:
        arrow = {1: "wall-up", -1: "wall-down"}.get(k["direction"], "wall-flat")
        cards.append(html.Div(className="wall-kpi", children=[
            html.Div(k["label"], className="wall-kpi-label"),
            html.Div(k["value"], className="wall-kpi-value"),
            html.Div([html.Span("较昨日 ", className="wall-kpi-since"),
                      html.Span(k["delta"] or "—", className=arrow)],
                     className="wall-kpi-delta"),
        ]))
    return cards


def lagging_items(units: list[dict]):
    if not units:
        return [html.Li("暂无数据", className="wall-empty")]
    return [html.Li(className="wall-lagging-item", children=[
        html.Span(u["short"], className="wall-lagging-name", title=u["name"]),
        html.Span(u["share_text"], className="wall-lagging-value"),
    ]) for u in units]


def _base_layout(width: int, height: int) -> dict:
    return {
        "width": width, "height": height, "autosize": False,
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "color": TEXT, "size": 20},
        "margin": {"l": 20, "r": 30, "t": 10, "b": 40},
        "showlegend": False,
        # A redraw replaces the data in place: no transition, no blank frame.
        "uirevision": "wall",
    }


def empty_figure(width: int, height: int) -> dict:
    layout = _base_layout(width, height)
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    return {"data": [], "layout": layout}


def ranking_figure(ranking: list[dict], highlight: int | None = None) -> dict:
    """Horizontal bars, the best on top; the highlighted unit in another colour."""
    names = [_label(u["short"]) for u in ranking][::-1]
    values = [u["share"] or 0 for u in ranking][::-1]
    top = max(values, default=0)
    texts = [u["share_text"] for u in ranking][::-1]
    colors = [HIGHLIGHT if highlight is not None and i == len(ranking) - 1 - highlight else ACCENT
              for i in range(len(ranking))]
    layout = _base_layout(*RANKING_SIZE)
    size = 22 if len(ranking) <= 10 else 19
    layout["margin"] = {"l": 290, "r": 110, "t": 6, "b": 36}
    # Room for the value after the longest bar; never beyond 100%.
    layout["xaxis"] = {"range": [0, min(100, max(10, top * 1.12))], "ticksuffix": "%",
                       "gridcolor": GRID, "zeroline": False,
                       "tickfont": {"color": MUTED, "size": 18}}
    layout["yaxis"] = {"automargin": False, "tickfont": {"size": size}}
    layout["bargap"] = 0.28
    return {"data": [{
        "type": "bar", "orientation": "h", "y": names, "x": values, "text": texts,
        "textposition": "outside", "cliponaxis": False,
        "textfont": {"size": size, "color": TEXT},
        "marker": {"color": colors},
    }], "layout": layout}


def _label(name: str) -> str:
    """Cut on the plain text, then escaped: plotly reads a subset of HTML in tick labels."""
    return escape(name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…",
                  quote=False)


def trend_figure(trend: dict) -> dict:
    layout = _base_layout(*TREND_SIZE)
    layout["showlegend"] = True
    layout["legend"] = {"orientation": "h", "x": 0, "y": 1.14, "font": {"size": 18}}
    layout["margin"] = {"l": 90, "r": 20, "t": 40, "b": 50}
    layout["xaxis"] = {"type": "date", "tickformat": "%m-%d", "gridcolor": GRID,
                       "tickfont": {"color": MUTED, "size": 16}}
    if len(trend["days"]) <= 10:  # one tick per day (plotly would add ticks between days)
        layout["xaxis"]["dtick"] = 86_400_000
    layout["yaxis"] = {"gridcolor": GRID, "rangemode": "tozero",
                       "tickfont": {"color": MUTED, "size": 16}, "tickformat": "d"}
    mode = "lines+markers" if len(trend["days"]) <= 40 else "lines"
    return {"data": [
        {"type": "scatter", "mode": mode, "name": "参训人数", "x": trend["days"],
         "y": trend["participants"], "line": {"color": ACCENT, "width": 4},
         "marker": {"size": 7}},
        {"type": "scatter", "mode": mode, "name": "完成学时人数", "x": trend["days"],
         "y": trend["completed"], "line": {"color": GOOD, "width": 4}, "marker": {"size": 7}},
    ], "layout": layout}


def focus_panel():
    """Filled in the browser from the screen data, one sub-region after the other."""
    return html.Div(className="wall-focus-body", children=[
        html.Div(id=ids.FOCUS_NAME, className="wall-focus-name", children="—"),
        html.Div(id=ids.FOCUS_RANK, className="wall-focus-rank"),
        html.Dl(className="wall-focus-figures", children=[
            html.Dt("完成人数占比"), html.Dd(id=ids.FOCUS_SHARE, children="—"),
            html.Dt("参训人数"), html.Dd(id=ids.FOCUS_PARTICIPANTS, children="—"),
            html.Dt("完成学时人数"), html.Dd(id=ids.FOCUS_COMPLETED, children="—"),
        ]),
    ])
