"""The application frame: top bar, left menu, content area."""

from __future__ import annotations

from dataclasses import dataclass

import dash
from dash import dcc, html

from .format import dropdown
from .ids import Shell

PRODUCT_NAME = "研修管理工作台"


@dataclass(frozen=True)
class MenuEntry:
    label: str
    href: str
    group: str


@dataclass(frozen=True)
class ScopeOption:
    binding_id: int
    label: str


def top_bar(user_name: str, scope_label: str, scopes: list[ScopeOption], active: int | None,
            csrf_token: str):
    switcher = dropdown(
        id=Shell.SCOPE_SWITCHER,
        options=[{"label": s.label, "value": s.binding_id} for s in scopes],
        value=active,
        clearable=False,
        searchable=False,
        className="scope-switcher",
    ) if len(scopes) > 1 else html.Span(scope_label, className="scope-label")
    return html.Header(
        className="topbar",
        children=[
            html.Div([html.Span("研", className="logo"), html.Span(PRODUCT_NAME, className="product")],
                     className="brand"),
            html.Div(switcher, className="scope"),
            html.Div(
                className="user",
                children=[
                    html.Span(user_name, className="user-name"),
                    html.Form(
                        action="/logout",
                        method="post",
                        className="logout-form",
                        children=[
                            dcc.Input(type="hidden", name="csrf_token", value=csrf_token),
                            html.Button("退出", type="submit", className="btn-link"),
                        ],
                    ),
                ],
            ),
        ],
    )


def left_menu(entries: list[MenuEntry]):
    groups: dict[str, list[MenuEntry]] = {}
    for e in entries:
        groups.setdefault(e.group, []).append(e)
    children = []
    for group, items in groups.items():
        children.append(html.Div(group, className="menu-group"))
        children.extend(dcc.Link(i.label, href=i.href, className="menu-item") for i in items)
    return html.Nav(children, className="leftmenu")


def shell(user_name: str, scope_label: str, scopes: list[ScopeOption], active: int | None,
          menu: list[MenuEntry], csrf_token: str, content=None):
    return html.Div(
        className="app",
        children=[
            dcc.Location(id=Shell.NAV, refresh="callback-nav"),
            dcc.Location(id=Shell.SCOPE_SWITCH_RELOAD, refresh=True),
            top_bar(user_name, scope_label, scopes, active, csrf_token),
            html.Div(
                className="body",
                children=[left_menu(menu),
                          html.Main(content if content is not None else dash.page_container,
                                    className="content")],
            ),
        ],
    )


def notice(title: str, text: str):
    """A full-width message panel (no binding, no access, errors)."""
    return html.Div([html.H3(title), html.P(text)], className="notice")
