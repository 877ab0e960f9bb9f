"""Page registration, the per-user shell and the role menus (SPEC §3)."""

from __future__ import annotations

import dash
from dash.exceptions import PreventUpdate
from flask_login import current_user

from callbacks import register_callbacks
from data_access.accounts import active_bindings
from data_access.rules import is_region_admin
from data_access.vocab import ROLE_LABELS, ROLE_SCHOOL_ADMIN
from layouts import admin_pages, exports_page, shell, training_list, training_stats
from layouts.ids import Shell, Stats
from layouts.shell import MenuEntry, ScopeOption

from .access import current_scope, read
from .security import csrf_token

# Only screens that exist are listed; the order follows SPEC §3.
REGION_MENU = [
    MenuEntry("教师研修", "/", "专项管理"),
    MenuEntry("权限码管理", "/codes", "基本管理"),
    MenuEntry("管理员列表", "/admins", "基本管理"),
    MenuEntry("操作日志", "/audit", "基本管理"),
    MenuEntry("导出管理", "/exports", "基本管理"),
    MenuEntry("权限绑定", "/bind", "基本管理", reload=True),
]
SCHOOL_MENU = [
    MenuEntry("培训统计", "/", "教师研修"),
    MenuEntry("导出管理", "/exports", "基本管理"),
    MenuEntry("权限绑定", "/bind", "基本管理", reload=True),
]


def menu_for(role: str | None) -> list[MenuEntry]:
    if role is None:
        return []
    return SCHOOL_MENU if role == ROLE_SCHOOL_ADMIN else REGION_MENU


def _home(**_query):
    scope = current_scope()
    if scope is None:
        return shell.notice("暂无管理权限",
                            "您的账号还没有绑定管理权限，请联系上级管理员获取权限码。")
    return training_list.page("培训列表")


def _training(**params):
    # Dash passes the path variable, the URL's parameters and the router's State together;
    # none of them is trusted (a URL may even name `page_state`).
    scope = current_scope()
    if scope is None:
        return shell.notice("暂无管理权限", "您的账号还没有绑定管理权限。")
    code = params.get("training_code")
    code = code if isinstance(code, str) else ""
    shown = params.get("page_state")
    # The page's own controls already show the state this URL names (they changed it): keep
    # the page and let its stores drive the callbacks, instead of rebuilding every component.
    state = training_stats.page_state(code, scope.is_school, params)
    if isinstance(shown, dict) and training_stats.clean_state(shown) == state:
        raise PreventUpdate
    return training_stats.page(code, scope.is_school, params)


def _region_only(build):
    def layout(**_query):
        scope = current_scope()
        if not is_region_admin(scope):
            return shell.notice("无权访问", "该功能仅对区域管理员开放。")
        return build(scope)

    return layout


def _codes_page(scope):
    return admin_pages.codes_page(admin_pages.role_options(scope.role))


def _exports(**_query):
    if current_scope() is None:
        return shell.notice("暂无管理权限", "您的账号还没有绑定管理权限。")
    return exports_page.page()


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
    dash.register_page("yanxiu.home", path="/", name="培训列表", title="研修管理工作台",
                       layout=_home)
    dash.register_page("yanxiu.training", path_template="/training/<training_code>",
                       name="统计详情", title="统计详情 · 研修管理工作台", layout=_training)
    dash.register_page("yanxiu.codes", path="/codes", name="权限码管理",
                       title="权限码管理 · 研修管理工作台", layout=_region_only(_codes_page))
    dash.register_page("yanxiu.admins", path="/admins", name="管理员列表",
                       title="管理员列表 · 研修管理工作台",
                       layout=_region_only(lambda _s: admin_pages.admins_page()))
    dash.register_page("yanxiu.audit", path="/audit", name="操作日志",
                       title="操作日志 · 研修管理工作台",
                       layout=_region_only(lambda _s: admin_pages.audit_page()))
    dash.register_page("yanxiu.exports", path="/exports", name="导出管理",
                       title="导出管理 · 研修管理工作台", layout=_exports)
    dash.register_page("yanxiu.not_found_404", path="/404", name="页面不存在", layout=_not_found)
    app.layout = shell_layout
    register_callbacks(app)
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
        dash.State(Stats.STATE, "data"),
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
