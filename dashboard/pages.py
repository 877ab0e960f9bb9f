"""Page registration, the per-user shell and the role menus, all from the screen list
(`dashboard/screens.py`, SPEC §3)."""

from __future__ import annotations

import dash
from dash import html
from flask_login import current_user

from callbacks import register_callbacks
from data_access.accounts import active_bindings
from data_access.rules import REGION_ROLES, SCHOOL_ROLES
from data_access.schools import needs_urban_rural
from data_access.vocab import ROLE_LABELS
from layouts import shell
from layouts.ids import Shell, Stats
from layouts.shell import MenuEntry, ScopeOption

from . import screens
from .screens import Screen, screen_for
from .access import current_scope, read
from .security import csrf_token

NO_BINDING = ("暂无管理权限", "您的账号还没有绑定管理权限，请联系上级管理员获取权限码。")
DENIED_TEXT = {frozenset(REGION_ROLES): "该功能仅对区域管理员开放。",
               frozenset(SCHOOL_ROLES): "该功能仅对学校管理员开放。"}


def menu_for(role: str | None) -> list[MenuEntry]:
    return screens.menu_for(role)


def guarded_layout(path_screens: list[Screen]):
    """The page of a path: the screen of the active role, a notice for everybody else
    (deny by default: a role no screen of the path names sees no data)."""
    def layout(**params):
        scope = current_scope()
        if scope is None:
            return shell.notice(*NO_BINDING)
        screen = screen_for(path_screens, scope.role)
        if screen is None:
            roles = frozenset().union(*(s.roles for s in path_screens))
            return shell.notice("无权访问", DENIED_TEXT.get(roles, "您当前的管理权限无法访问该功能。"))
        # A URL parameter named like the layout's own argument (`?scope=…`) is not one.
        params.pop("scope", None)
        content = screen.layout(scope, **params)
        if scope.is_school and not screen.own_banner:
            with read() as conn:
                if needs_urban_rural(conn, scope):
                    return html.Div([shell.urban_rural_banner(), content])
        return content

    return layout


def _not_found(**_query):
    return shell.notice("页面不存在", "您访问的页面不存在或已被删除，请从左侧菜单进入。")


def shell_layout():
    """Called on every page load: the frame for the logged-in user and active binding."""
    if not current_user.is_authenticated:
        return shell.notice("请先登录", "")
    with read() as conn:
        bindings = active_bindings(conn, current_user.id)
    scope = current_scope()
    options = [ScopeOption(b.id, f"{b.scope_name} · {ROLE_LABELS[b.role]}") for b in bindings]
    label = next((o.label for o in options if scope and o.binding_id == scope.binding_id), "")
    return shell.shell(
        user_name=current_user.name,
        scope_label=label,
        scopes=options,
        active=scope.binding_id if scope else None,
        menu=menu_for(scope.role if scope else None),
        csrf_token=csrf_token(),
    )


def register(app: dash.Dash) -> None:
    for path, path_screens in screens.screens_by_path().items():
        first = path_screens[0]
        where = {"path_template": path} if "<" in path else {"path": path}
        dash.register_page(f"yanxiu.{first.key}", name=first.title, title=first.tab_title,
                           layout=guarded_layout(path_screens), **where)
    dash.register_page("yanxiu.not_found_404", path="/404", name="页面不存在", layout=_not_found)
    app.layout = shell_layout
    register_callbacks(app, screens.callback_modules())
    # Switching 按区域查看 / 按学员查看 shows the other panel at once; the data follow from
    # the stores (callbacks.training_stats.navigate).
    app.clientside_callback(
        dash.ClientsideFunction("yanxiu", "showViewPanels"),
        dash.Output(Stats.REGION_PANEL, "style"),
        dash.Output(Stats.TEACHER_PANEL, "style"),
        dash.Output(Stats.NAME, "style"),
        dash.Output(Stats.REGION_EXPORTS, "style"),
        dash.Output(Stats.TEACHER_EXPORTS, "style"),
        dash.Input(Stats.TABS, "active_tab"),
        prevent_initial_call=True,
    )
    # The menu highlight follows client-side navigation without a server round trip.
    app.clientside_callback(
        dash.ClientsideFunction("yanxiu", "highlightMenu"),
        dash.Output({"type": Shell.MENU_ITEM, "href": dash.ALL}, "className"),
        dash.Input(Shell.PAGES_LOCATION, "pathname"),
        dash.State({"type": Shell.MENU_ITEM, "href": dash.ALL}, "id"),
    )
    # Runs in the browser: the server side of it is POST /export/jobs, which checks the scope.
    app.clientside_callback(
        dash.ClientsideFunction("yanxiu", "requestExport"),
        dash.Output(Stats.EXPORT_MESSAGE, "children"),
        dash.Input(Stats.EXPORT_JOB_CSV, "n_clicks"),
        dash.Input(Stats.EXPORT_JOB_XLSX, "n_clicks"),
        dash.State(Stats.TEACHER_EXPORT_URLS, "data"),
        prevent_initial_call=True,
    )


def frame_context(path: str) -> dict | None:
    """The product frame (top bar, menu with the current entry highlighted) for the pages
    rendered outside Dash: 权限绑定 and error pages. None without a logged-in user."""
    if not current_user.is_authenticated:
        return None
    with read() as conn:
        bindings = active_bindings(conn, current_user.id)
    scope = current_scope()
    label = next((f"{b.scope_name} · {ROLE_LABELS[b.role]}" for b in bindings
                  if scope and b.id == scope.binding_id), "")
    menu = [(group, [{"label": e.label, "href": e.href,
                      "active": shell.menu_entry_active(e.href, path)} for e in items])
            for group, items in shell.menu_groups(menu_for(scope.role if scope else None))]
    return {"user_name": current_user.name, "scope_label": label, "menu": menu,
            "csrf_token": csrf_token()}
