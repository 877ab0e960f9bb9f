"""学校管理 (SPEC §4.4): the schools of the scope, with 新增/编辑, 删除, 调整隶属, 生成权限码."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from data_access.school_fields import LABELS
from data_access.schools import COLUMNS as SCHOOL_COLUMNS
from data_access.schools import NOT_ACTIVATED, ACTIVATED, UNFILLED
from data_access.vocab import SCHOOL_KINDS, URBAN_RURAL

from .columns import column
from .format import data_grid, dropdown, options
from .ids import Schools as ids

_SIZES = {"name": (140, 2.4), "code": (108, 0), "region": (100, 1.5), "kind": (84, 0),
          "urban_rural": (76, 0), "activated": (76, 0), "admin": (84, 1), "phone": (112, 0)}
_FIELDS = ("name", "code", "region", "kind", "urban_rural", "activated", "admin", "phone")
# The columns of the download too, in data_access.schools.COLUMNS' order.
COLUMNS = [column(f, header, *_SIZES[f]) for f, header in zip(_FIELDS, SCHOOL_COLUMNS)] + [
    # 编辑 删除 调整隶属 生成权限码 on two lines at 1280 px (a row holds two lines of a
    # school name anyway); the list is a value, not text
    column("actions", "操作", 176, cellRenderer="RowActions", cellDataType=False,
           autoHeight=True, cellStyle={"lineHeight": "20px", "paddingTop": "9px",
                                       "paddingBottom": "9px"}),
]

KIND_OPTIONS = options(SCHOOL_KINDS)
URBAN_OPTIONS = options((*URBAN_RURAL, UNFILLED))
ACTIVATED_OPTIONS = [{"label": "全部", "value": ""}, {"label": ACTIVATED, "value": "1"},
                     {"label": NOT_ACTIVATED, "value": "0"}]
PAGE_SIZE = 20

REQUIRED = ("code", "name", "region_code")
DELETE_CONSEQUENCES = [
    "删除后：",
    "· 该校立即从各列表中消失；",
    "· 该校的学校管理员绑定立即结束，对方下次操作即失去管理权限，未使用的权限码同时作废；",
    "· 统计数据在下次数据更新后不再包含该校；",
    "· 该校的教师、培训记录和操作日志等历史数据予以保留。",
]


def page(export_urls: dict[str, str], regions: list[tuple[str, str]], region: object = "",
         q: object = "", kind: object = "", urban_rural: object = "", activated: object = ""):
    """The page. `export_urls`: the stable download URLs by format; `regions`: (code, path)
    of the scope's regions, its own first; the other arguments are the URL's filters, as
    sent (the callbacks check them again)."""
    def pick(value, allowed):
        return value if isinstance(value, str) and value in allowed else ""

    region_options = [{"label": path, "value": code} for code, path in regions]
    codes = [code for code, _ in regions]
    region = pick(region, codes) or (codes[0] if codes else "")
    q = q if isinstance(q, str) else ""
    return html.Div(
        className="page",
        children=[
            html.Div([html.H2("学校管理", className="page-title"),
                      html.Div([
                          html.Button("新增学校", id=ids.ADD, n_clicks=0,
                                      className="btn btn-primary btn-sm"),
                          html.A("导出 CSV", id=ids.EXPORT_CSV, href=export_urls["csv"],
                                 className="btn btn-outline-primary btn-sm export"),
                          html.A("导出 Excel", id=ids.EXPORT_XLSX, href=export_urls["xlsx"],
                                 className="btn btn-outline-primary btn-sm export"),
                      ], className="title-actions")],
                     className="title-row"),
            html.Div(
                className="filter-bar",
                children=[
                    html.Label("区域:", htmlFor=ids.REGION),
                    dropdown(id=ids.REGION, options=region_options, value=region,
                             clearable=False, placeholder="选择区域", style={"width": "170px"}),
                    html.Label("机构类型:", htmlFor=ids.KIND),
                    dropdown(id=ids.KIND, options=KIND_OPTIONS, value=pick(kind, SCHOOL_KINDS),
                             clearable=False, searchable=False, className="dd-narrow"),
                    html.Label("城乡类型:", htmlFor=ids.URBAN),
                    dropdown(id=ids.URBAN, options=URBAN_OPTIONS,
                             value=pick(urban_rural, (*URBAN_RURAL, UNFILLED)),
                             clearable=False, searchable=False, className="dd-narrow"),
                    html.Label("是否激活:", htmlFor=ids.ACTIVATED),
                    dropdown(id=ids.ACTIVATED, options=ACTIVATED_OPTIONS,
                             value=pick(activated, ("1", "0")), clearable=False,
                             searchable=False, className="dd-narrow"),
                    dcc.Input(id=ids.QUERY, type="text", value=q[:40], debounce=True,
                              maxLength=40, placeholder="学校名称或学校标识码",
                              className="form-control form-control-sm keyword school-query"),
                ],
            ),
            html.Div(id=ids.MESSAGE),
            html.Div(id=ids.ISSUED),
            dcc.Store(id=ids.RELOAD, data=0),
            data_grid(ids.GRID, COLUMNS, "params.data.code", empty="暂无学校"),
            html.Div(
                className="pager-row",
                children=[
                    html.Span(id=ids.TOTAL, className="pager-total"),
                    dbc.Pagination(id=ids.PAGER, max_value=1, active_page=1, first_last=True,
                                   previous_next=True, fully_expanded=False, size="sm"),
                    html.Span(f"{PAGE_SIZE}条/页", className="pager-size"),
                ],
            ),
            form_modal(region_options),
            delete_modal(),
            move_modal(),
        ],
    )


def _label(key: str):
    parts = [LABELS[key]]
    if key in REQUIRED:
        parts.append(html.Span("*", className="required-mark", title="必填"))
    return dbc.Label(parts, html_for=ids.field(key), width=3, className="form-label-cell")


def _field(key: str, control):
    return dbc.Row([
        _label(key),
        dbc.Col([control, dbc.FormFeedback(id=ids.feedback(key), type="invalid")], width=9),
    ], className="mb-2")


def _text(key: str, maxlength: int, placeholder: str = ""):
    return dbc.Input(id=ids.field(key), type="text", maxLength=maxlength, size="sm",
                     placeholder=placeholder, debounce=False)


def _select(key: str, opts, placeholder: str):
    # dbc.Select: a native <select>, whose invalid state shows the message below it.
    return dbc.Select(id=ids.field(key), options=opts, placeholder=placeholder, size="sm")


def form_modal(region_options: list[dict]):
    return dbc.Modal(
        id=ids.FORM,
        is_open=False,
        backdrop="static",
        size="lg",
        children=[
            dbc.ModalHeader(dbc.ModalTitle(id=ids.FORM_TITLE), close_button=True),
            dbc.ModalBody([
                dcc.Store(id=ids.EDITING),
                _field("code", _text("code", 40, "如 3135000001")),
                _field("name", _text("name", 200)),
                _field("region_code", _select("region_code", region_options, "请选择所在区域")),
                _field("kind", _select("kind", [{"label": k, "value": k} for k in SCHOOL_KINDS],
                                       "学校")),
                _field("urban_rural", _select("urban_rural",
                                              [{"label": u, "value": u} for u in URBAN_RURAL],
                                              "请选择城乡类型")),
                _field("address", _text("address", 300)),
                _field("phone", _text("phone", 40, "如 0594-1234567")),
                _field("principal", _text("principal", 60)),
                html.Div([html.Span("*", className="required-mark"), " 为必填项"],
                         className="small text-muted"),
                html.Div(id=ids.FORM_MESSAGE),
            ]),
            dbc.ModalFooter([
                html.Button("取消", id=ids.FORM_CANCEL, n_clicks=0,
                            className="btn btn-outline-secondary btn-sm"),
                html.Button("保存", id=ids.FORM_SAVE, n_clicks=0,
                            className="btn btn-primary btn-sm"),
            ]),
        ],
    )


def delete_modal():
    return dbc.Modal(
        id=ids.DELETE,
        is_open=False,
        children=[
            dbc.ModalHeader(dbc.ModalTitle("删除学校"), close_button=True),
            dbc.ModalBody([html.P(id=ids.DELETE_TEXT, className="fw-semibold"),
                           html.Div([html.Div(line) for line in DELETE_CONSEQUENCES],
                                    className="small")]),
            dbc.ModalFooter([
                dcc.Store(id=ids.DELETING),
                html.Button("取消", id=ids.DELETE_CANCEL, n_clicks=0,
                            className="btn btn-outline-secondary btn-sm"),
                html.Button("确定删除", id=ids.DELETE_CONFIRM, n_clicks=0,
                            className="btn btn-danger btn-sm"),
            ]),
        ],
    )


def move_modal():
    return dbc.Modal(
        id=ids.MOVE,
        is_open=False,
        children=[
            dbc.ModalHeader(dbc.ModalTitle("调整隶属"), close_button=True),
            dbc.ModalBody([
                html.P(id=ids.MOVE_TEXT),
                dbc.Label("调整到:", html_for=ids.MOVE_TARGET),
                dropdown(id=ids.MOVE_TARGET, options=[],
                         placeholder="选择目标区域（可输入名称搜索）"),
                html.Div("学校管理员的管理范围随之调整；统计数据在下次数据更新后按新的隶属关系计算。",
                         className="small text-muted mt-2"),
                html.Div(id=ids.MOVE_MESSAGE),
            ]),
            dbc.ModalFooter([
                dcc.Store(id=ids.MOVING),
                html.Button("取消", id=ids.MOVE_CANCEL, n_clicks=0,
                            className="btn btn-outline-secondary btn-sm"),
                html.Button("确定调整", id=ids.MOVE_CONFIRM, n_clicks=0,
                            className="btn btn-primary btn-sm"),
            ]),
        ],
    )


def message(text: str, ok: bool):
    return dbc.Alert(text, color="success" if ok else "warning", dismissable=True)
