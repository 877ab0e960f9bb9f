"""学校（机构）信息 (SPEC §5.1): the school admin's own school, shown and edited.

学校名称, 学校标识码 and 所在区域 are read-only here (changed through the county admin); the
other fields are edited in place, the required ones (机构类型, 城乡类型, 学校地址, 联系电话)
marked with a red asterisk and every problem shown under its field. Built without database
access; callbacks/school_info.py fills in the values.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.school_fields import LABELS, MAX_LENGTH
from data_access.schools import INFO_EDITABLE, INFO_REQUIRED
from data_access.vocab import SCHOOL_KINDS, URBAN_RURAL

from .ids import SchoolInfo as ids
from .shell import urban_rural_banner

TITLE = "学校（机构）信息"
HIDDEN = {"display": "none"}
#: Shown, never edited here; `region_path` is 所在区域 as a path.
READ_ONLY = ("name", "code", "region_path")
READ_ONLY_NOTE = "如需修改学校名称、学校标识码或所在区域，请联系所在区县的管理员。"
_PLACEHOLDERS = {"address": "如 莆田市城厢区龙桥街道东大路 1 号", "phone": "如 0594-1234567",
                 "principal": ""}


def label(key: str) -> str:
    return "所在区域" if key == "region_path" else LABELS[key]


def _label(key: str, required: bool):
    parts = [label(key)]
    if required:
        parts.append(html.Span("*", className="required-mark", title="必填"))
    return dbc.Label(parts, html_for=ids.field(key), width=3, className="info-label")


def _control(key: str):
    if key == "kind":
        return dbc.Select(id=ids.field(key), size="sm",
                          options=[{"label": k, "value": k} for k in SCHOOL_KINDS])
    if key == "urban_rural":
        return dbc.Select(id=ids.field(key), size="sm", placeholder="请选择城乡类型",
                          options=[{"label": u, "value": u} for u in URBAN_RURAL])
    return dbc.Input(id=ids.field(key), type="text", size="sm", debounce=False,
                     maxLength=MAX_LENGTH.get(key), placeholder=_PLACEHOLDERS.get(key, ""))


def _shown_row(key: str):
    return dbc.Row([dbc.Col(label(key), width=3, className="info-label"),
                    dbc.Col(html.Span(id=ids.value(key)), width=9, className="info-value")],
                   className="info-row")


def _view():
    """The editable fields' values and 编辑 (the read-only ones stay above in both modes)."""
    return html.Div(id=ids.VIEW, children=[
        *[_shown_row(k) for k in INFO_EDITABLE],
        html.Div(html.Button("编辑", id=ids.EDIT, n_clicks=0, className="btn btn-primary btn-sm"),
                 className="filter-bar mt-3"),
    ])


def _form():
    rows = [dbc.Row([_label(key, key in INFO_REQUIRED),
                     dbc.Col([_control(key),
                              dbc.FormFeedback(id=ids.feedback(key), type="invalid")], width=9)],
                    className="info-row")
            for key in INFO_EDITABLE]
    return html.Div(id=ids.FORM, style=HIDDEN, children=[
        *rows,
        html.Div([html.Span("*", className="required-mark"), " 为必填项。"],
                 className="small text-muted"),
        html.Div(className="filter-bar mt-3", children=[
            html.Button("保存", id=ids.SAVE, n_clicks=0, className="btn btn-primary btn-sm"),
            html.Button("取消", id=ids.CANCEL, n_clicks=0,
                        className="btn btn-outline-secondary btn-sm"),
        ]),
    ])


def page():
    return html.Div(className="page", children=[
        dcc.Store(id=ids.RELOAD, data=0),
        urban_rural_banner(ids.BANNER, shown=False, link=False),
        html.H2(TITLE, className="page-title"),
        html.Div(id=ids.MESSAGE),
        html.Section(className="section school-info", children=[
            *[_shown_row(k) for k in READ_ONLY],
            html.Div(READ_ONLY_NOTE, className="small text-muted mb-2"),
            _view(), _form()]),
    ])
