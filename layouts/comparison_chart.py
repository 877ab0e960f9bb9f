"""各区域参训情况对比 / 各学科参训情况对比: the comparison chart as plain plotly dicts.

Counts are bars on the left axis (人数), ratios lines on a right axis (%), 人均学时 a line on
an axis of its own (学时), so that neither flattens the other. Names come from the database
(school names are typed by administrators) and plotly renders a subset of HTML in labels and
hover texts, so every name is escaped before it reaches a figure.

Figures are plain dicts: building plotly objects costs more than the query behind them.
"""

from __future__ import annotations

import math
from html import escape, unescape

from data_access.stats import INDICATORS

COLORS = ["#1f6feb", "#12b886", "#f59f00", "#845ef7", "#e8590c", "#0ca678", "#d6336c"]
# Up to this many categories the chart fits its panel; beyond, it keeps a readable width per
# category and the panel scrolls horizontally.
FITTING_CATEGORIES = 16
CATEGORY_WIDTH = 46  # px per category of a scrolling chart
AXIS_LABEL_CHARS = 8  # characters of a name under its bar; the hover shows it whole
EMPTY_REGIONS = "暂无下级区域数据"
EMPTY_SUBJECTS = "暂无学科数据"
FONT = dict(family="Noto Sans CJK SC, Microsoft YaHei, sans-serif", size=12)


def empty_figure(message: str = "") -> dict:
    return {"data": [], "layout": {
        "height": 360, "margin": {"l": 50, "r": 50, "t": 20, "b": 60}, "plot_bgcolor": "#fff",
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "autosize": True,
        "font": FONT,
        "annotations": [{"text": message, "showarrow": False, "x": 0.5, "y": 0.5,
                         "xref": "paper", "yref": "paper"}] if message else []}}


def _number(value) -> float | None:
    """A chart value as sent back by the browser: a finite number, else missing."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def clean_points(points) -> list[dict]:
    """The chart's points (from the page's store) with everything malformed dropped: each
    needs a text key and name; indicator values are finite numbers or None."""
    if not isinstance(points, list):
        return []
    out = []
    for p in points[:5000]:
        if not isinstance(p, dict) or not isinstance(p.get("key"), str) \
                or not isinstance(p.get("name"), str):
            continue
        kind = p.get("kind") if p.get("kind") in ("region", "school", "subject") else "subject"
        out.append({"key": p["key"], "name": p["name"], "kind": kind,
                    "drillable": p.get("drillable") is True,
                    **{k: _number(p.get(k)) for k in INDICATORS}})
    return out


def _categories(ordered: list[dict]) -> list[str]:
    """One unique, escaped label per point: two schools of one county may share a name, and
    plotly would draw them as one bar."""
    counts: dict[str, int] = {}
    for p in ordered:
        counts[p["name"]] = counts.get(p["name"], 0) + 1
    return [escape(p["name"] if counts[p["name"]] == 1 else f"{p['name']}（{p['key']}）",
                   quote=False) for p in ordered]


def _short(label: str) -> str:
    # Escaped text: count characters of the name, not of the entities.
    plain = unescape(label)
    return label if len(plain) <= AXIS_LABEL_CHARS else escape(
        plain[:AXIS_LABEL_CHARS - 1], quote=False) + "…"


def _sort_value(value: float | None) -> float:
    return -math.inf if value is None else value


def comparison_traces(points: list[dict], keys: list[str]) -> tuple[list[dict], list[str]]:
    """Bars and lines sorted by the first indicator, largest first (missing values last).
    Returns plotly trace dicts and the category order."""
    first = keys[0]
    ordered = sorted(points, key=lambda p: (-_sort_value(p.get(first)), p["name"], p["key"]))
    names = _categories(ordered)
    traces = []
    for i, key in enumerate(keys):
        label, kind = INDICATORS[key]
        values = [p.get(key) for p in ordered]
        # A click says what was clicked: a region drills down, a school opens its teachers.
        common = dict(name=label, x=names, y=values,
                      customdata=[[p["kind"], p["key"]] for p in ordered],
                      marker=dict(color=COLORS[i % len(COLORS)]))
        if kind == "count":
            traces.append(dict(type="bar", hovertemplate=label + "：%{y:d}<extra></extra>",
                               **common))
            continue
        if all(v is None for v in values):
            # e.g. 参训率 of schools (专任教师数 is kept per region): say so in the legend
            # instead of drawing an empty axis.
            common["name"] = label + "（暂无数据）"
        if kind == "ratio":
            axis, value_format = "y2", "%{y:.2f}%"
        else:
            axis, value_format = "y3", "%{y:.1f}"
        traces.append(dict(type="scatter", mode="lines+markers", yaxis=axis,
                           hovertemplate=label + "：" + value_format + "<extra></extra>",
                           **common))
    return traces, names


def comparison_figure(points: list[dict], keys: list[str], *, empty: str = EMPTY_REGIONS) -> dict:
    if not points:
        return empty_figure(empty)
    traces, names = comparison_traces(points, keys)
    return {"data": traces, "layout": comparison_layout(names, traces)}


def _has_values(traces: list[dict], axis: str) -> bool:
    return any(v is not None for t in traces if t.get("yaxis") == axis for v in t["y"])


def comparison_layout(names: list[str], traces: list[dict]) -> dict:
    largest_bar = max((v or 0 for t in traces if t["type"] == "bar" for v in t["y"]), default=0)
    bars = any(t["type"] == "bar" for t in traces)
    ratios, hours = _has_values(traces, "y2"), _has_values(traces, "y3")
    scrolling = len(names) > FITTING_CATEGORIES
    slanted = len(names) > 8 or any(len(n) > 6 for n in names)
    layout = dict(
        height=420 if slanted else 380,
        margin=dict(l=50, r=20, t=30, b=20),
        barmode="group",
        plot_bgcolor="#fff",
        legend=dict(orientation="h", y=1.08, x=0, yanchor="bottom"),
        hovermode="x unified",
        font=FONT,
        # The range is fixed to the categories: autorange pads it by a share of the category
        # count for the lines, which leaves a wide empty band in a chart of 80 schools.
        xaxis=dict(categoryorder="array", categoryarray=names, tickmode="array", tickvals=names,
                   ticktext=[_short(n) for n in names], tickangle=-45 if slanted else 0,
                   range=[-0.5, len(names) - 0.5], automargin=True, visible=True,
                   fixedrange=True),
        # Axis titles must be objects (plotly.js ignores a bare string). Whole numbers as the
        # table shows them ("25000", not the SI "25k"); with only a few people per bar, one
        # tick per person so that no two ticks round to the same label.
        yaxis=dict(title=dict(text="人数"), gridcolor="#eef1f5", rangemode="tozero",
                   tickformat="d", automargin=True, visible=bars, fixedrange=True,
                   **({"dtick": 1} if largest_bar <= 10 else {})),
        # The right axes pick their own round ticks (an overlaying axis otherwise copies the
        # left axis's gridlines and lands on values such as 20.4%).
        yaxis2=dict(title=dict(text="%"), overlaying="y", side="right", visible=ratios,
                    rangemode="tozero", tickmode="auto", showgrid=False, automargin=True,
                    ticksuffix="%", fixedrange=True),
        # 人均学时 has an axis of its own; beside the % axis it is shifted outwards.
        yaxis3=dict(title=dict(text="学时"), overlaying="y", side="right", visible=hours,
                    rangemode="tozero", tickmode="auto", showgrid=False, automargin=True,
                    fixedrange=True,
                    **({"anchor": "free", "autoshift": True} if ratios else {})),
    )
    if scrolling:
        layout["width"] = len(names) * CATEGORY_WIDTH + 140
        layout["autosize"] = False
    else:
        layout["autosize"] = True
    return layout


def scroll_hint(points: list[dict]) -> str:
    """Said above a chart too wide for its panel, so that nobody takes the visible part for
    the whole."""
    if len(points) <= FITTING_CATEGORIES:
        return ""
    unit = "所学校" if all(p["kind"] == "school" for p in points) else "项"
    return f"共 {len(points)} {unit}，左右滚动查看全部"


def indicator_patch(points: list[dict], keys: list[str]) -> tuple[list[dict], dict]:
    """What changes when only the indicators change: the traces and the layout (axis order,
    axes shown, the width of a scrolling chart)."""
    traces, names = comparison_traces(points, keys)
    return traces, comparison_layout(names, traces)


DISTRIBUTION_HEIGHT = 300
EMPTY_DISTRIBUTION = "暂无参训人员"


def distribution_placeholder() -> dict:
    """What the panel shows until its numbers arrive: nothing (not 暂无参训人员)."""
    blank = empty_figure()
    return {**blank, "layout": {**blank["layout"], "height": DISTRIBUTION_HEIGHT}}


def distribution_figure(stages: list[tuple[str, int]], subjects: list[tuple[str, int]]) -> dict:
    """各学段/学科参训人数分布: two bar charts side by side, 参训人数 by 学段 and by 学科领域,
    each bar labelled with its number."""
    if not stages and not subjects:
        blank = empty_figure(EMPTY_DISTRIBUTION)
        return {**blank, "layout": {**blank["layout"], "height": DISTRIBUTION_HEIGHT}}

    def bars(pairs, axis: str, color: str, name: str) -> dict:
        labels = [escape(k, quote=False) for k, _ in pairs]
        return {"type": "bar", "x": [_short(x) for x in labels], "y": [v for _, v in pairs],
                "text": [str(v) for _, v in pairs], "textposition": "outside",
                "cliponaxis": False, "customdata": labels, "name": name,
                "hovertemplate": "%{customdata}：%{y} 人<extra></extra>",
                "marker": {"color": color}, "xaxis": f"x{axis}", "yaxis": f"y{axis}"}

    axis = {"showgrid": True, "gridcolor": "#eef1f5", "rangemode": "tozero",
            "title": {"text": "参训人数（人）"}, "tickformat": ",d"}
    return {
        "data": [bars(stages, "", COLORS[0], "学段"), bars(subjects, "2", COLORS[1], "学科领域")],
        "layout": {
            "height": DISTRIBUTION_HEIGHT, "autosize": True, "font": FONT, "showlegend": False,
            "plot_bgcolor": "#fff", "margin": {"l": 60, "r": 20, "t": 36, "b": 60},
            "bargap": 0.35,
            "xaxis": {"domain": [0, 0.4], "type": "category", "tickangle": 0},
            "xaxis2": {"domain": [0.5, 1], "type": "category", "tickangle": -30},
            "yaxis": {**axis, "anchor": "x"},
            "yaxis2": {**axis, "anchor": "x2", "title": {"text": ""}},
            "annotations": [
                {"text": "按学段", "x": 0.2, "y": 1.08, "xref": "paper", "yref": "paper",
                 "showarrow": False, "font": {"size": 13}},
                {"text": "按学科领域", "x": 0.75, "y": 1.08, "xref": "paper", "yref": "paper",
                 "showarrow": False, "font": {"size": 13}},
            ],
        },
    }
