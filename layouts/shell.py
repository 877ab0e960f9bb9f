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
    # A screen served outside Dash (a server-rendered form such as 权限绑定): the menu opens it
    # with a full page load, since Dash's client-side router only knows its own pages.
    reload: bool = False


@dataclass(frozen=True)
class ScopeOption:
    binding_id: int
    label: str


def menu_groups(entries: list[MenuEntry]) -> list[tuple[str, list[MenuEntry]]]:
    """The entries by menu group, groups in the order of their first entry."""
    groups: dict[str, list[MenuEntry]] = {}
    for e in entries:
        groups.setdefault(e.group, []).append(e)
    return list(groups.items())


def menu_entry_active(href: str, path: str) -> bool:
    """The menu entry a path belongs to (the same rule as `highlightMenu` in assets/menu.js):
    the training list also owns the statistics pages of its trainings."""
    if href == "/":
        return path == "/" or path.startswith("/training/")
    return path == href or path.startswith(href + "/")


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
    children = []
    for group, items in menu_groups(entries):
        children.append(html.Div(group, className="menu-group"))
        for i in items:
            item_id = {"type": Shell.MENU_ITEM, "href": i.href}
            link = html.A if i.reload else dcc.Link
            children.append(link(i.label, href=i.href, id=item_id, className="menu-item"))
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


SCHOOL_INFO_PATH = "/school-info"
URBAN_RURAL_BANNER = '请前往【基本管理-学校（机构）信息】完善"学校所在地城乡类型"的选项'


def urban_rural_banner(component_id: str | None = None, shown: bool = True, link: bool = True):
    """The banner of SPEC §5.1 on every page of a school whose 城乡类型 is empty (with a
    link to 学校（机构）信息, but on that page itself)."""
    go = [dcc.Link("前往填写", href=SCHOOL_INFO_PATH, className="alert-link ms-2")] if link else []
    return html.Div(
        [html.Span(URBAN_RURAL_BANNER), *go],
        className="alert alert-warning urban-rural-banner", role="alert",
        style=None if shown else {"display": "none"},
        **({"id": component_id} if component_id else {}))


def notice(title: str, text: str, back: tuple[str, str] | None = ("返回首页", "/")):
    """A full-width message panel (no binding, no access, errors) with a way back."""
    children = [html.H3(title), html.P(text)]
    if back is not None:
        children.append(dcc.Link(back[0], href=back[1], className="btn btn-primary btn-sm"))
    return html.Div(children, className="notice")
