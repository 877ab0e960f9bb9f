"""The one list of screens (SPEC §3, §4, §5).

Each `Screen` declares its path, title, menu group, the roles that see it (deny by default),
its layout and the callbacks module its controls need. The role menus, the Dash page
registration, the page guards and the callback registration all derive from `SCREENS`
(`dashboard/pages.py`), so a new screen is one entry here plus its layout and callbacks.

Two screens may share a path for different roles (the home page is 教师研修 for region
admins and 培训统计 for school admins): the page shows the screen of the active role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from data_access.download_tables import FORMATS, url_for
from data_access.rules import REGION_ROLES, SCHOOL_ROLES
from layouts import (
    activation,
    admin_pages,
    certification,
    exports_page,
    school_info,
    schools,
    teacher_counts,
    training_list,
    training_stats,
    wall_admin,
)
from layouts.shell import PRODUCT_NAME, MenuEntry

ALL_ROLES = REGION_ROLES | SCHOOL_ROLES

# Callbacks of the frame around every screen (the scope switcher), not of one screen.
FRAME_CALLBACKS = ("shell",)


@dataclass(frozen=True)
class Screen:
    key: str  # unique; the Dash page is `yanxiu.<key>`
    path: str  # the URL; `<name>` parts are path variables passed to the layout
    title: str  # menu label and page name
    roles: frozenset[str]  # the roles that see it; nobody else (empty = nobody)
    # layout(scope, **params) → components, called only for a scope whose role is in
    # `roles`; params are the URL's query and path variables (never trusted). None: the
    # screen is served by Flask outside Dash (a server-rendered form).
    layout: Callable[..., Any] | None
    group: str | None = None  # menu group; None = not in the menu (reached by a link)
    # The menu opens it with a full page load (a screen served outside Dash, whose path
    # Dash's client-side router does not know).
    reload: bool = False
    callbacks: str | None = None  # the module callbacks/<name>.py of its controls
    page_title: str | None = None  # the browser tab's title; default "<title> · 研修管理工作台"
    # The page shows the 城乡类型 banner of §5.1 itself (and hides it once filled in); on every
    # other school page the page guard adds it while the school's 城乡类型 is empty.
    own_banner: bool = False

    @property
    def tab_title(self) -> str:
        return self.page_title or f"{self.title} · {PRODUCT_NAME}"

    def menu_entry(self) -> MenuEntry:
        return MenuEntry(self.title, self.path, self.group, reload=self.reload)


# --------------------------------------------------------------------------- layouts


def _training_list(scope, **_params):
    return training_list.page("培训列表")


def _training_stats(scope, **params):
    # Dash passes the path variable, the URL's parameters and the router's State together;
    # none of them is trusted (a URL may even name `page_state`).
    from dash.exceptions import PreventUpdate

    code = params.get("training_code")
    code = code if isinstance(code, str) else ""
    shown = params.get("page_state")
    # The page's own controls already show the state this URL names (they changed it): keep
    # the page and let its stores drive the callbacks, instead of rebuilding every component.
    state = training_stats.page_state(code, scope.is_school, params)
    if isinstance(shown, dict) and training_stats.clean_state(shown) == state:
        raise PreventUpdate
    return training_stats.page(code, scope.is_school, params)


def _activation(scope, **params):
    # The page's own controls already show the state this URL names (they changed it): keep
    # the page; otherwise (a link, Back, a reload) build it from the URL.
    from dash.exceptions import PreventUpdate

    shown = params.get("activation_state")
    if isinstance(shown, dict) and activation.clean_state(shown) == activation.page_state(params):
        raise PreventUpdate
    return activation.page(params)
def _schools(scope, **params):
    # The regions of the scope are the choices of the region filter and of the form, given
    # with the page (a dropdown drops a value its choices do not hold yet). The URL's filters
    # open the list so narrowed (a shared link, the download's parameters); every callback
    # checks them again.
    from data_access.schools import regions_in_scope

    from .access import read

    with read() as conn:
        regions = regions_in_scope(conn, scope)
    return schools.page({fmt: url_for("schools", {}, fmt) for fmt in FORMATS}, regions,
                        params.get("region") or scope.region_code, params.get("q", ""),
                        params.get("kind", ""), params.get("urban_rural", ""),
                        params.get("activated", ""))


# --------------------------------------------------------------------------- the list

# In menu order (SPEC §3); each role's menu keeps this order.
SCREENS: tuple[Screen, ...] = (
    Screen("home", "/", "教师研修", REGION_ROLES, _training_list, group="专项管理",
           callbacks="training_list", page_title=PRODUCT_NAME),
    Screen("wall_admin", "/wall-screens", "大屏管理", REGION_ROLES, wall_admin.page,
           group="专项管理", callbacks="wall_admin"),
    Screen("school_info", "/school-info", "学校（机构）信息", SCHOOL_ROLES,
           lambda scope, **_: school_info.page(), group="基本管理", callbacks="school_info",
           own_banner=True),
    Screen("certification", "/teachers", "教师管理", SCHOOL_ROLES,
           lambda scope, **_: certification.page(
               {fmt: url_for("certification", {}, fmt) for fmt in FORMATS}),
           group="基本管理", callbacks="certification"),
    Screen("school_home", "/", "培训统计", SCHOOL_ROLES, _training_list, group="教师研修",
           callbacks="training_list", page_title=PRODUCT_NAME),
    Screen("training", "/training/<training_code>", "统计详情", ALL_ROLES, _training_stats,
           callbacks="training_stats"),
    Screen("activation", "/activation", "激活进度", REGION_ROLES, _activation, group="基本管理",
           callbacks="activation"),
    Screen("schools", "/schools", "学校管理", REGION_ROLES, _schools, group="基本管理",
           callbacks="schools"),
    Screen("codes", "/codes", "权限码管理", REGION_ROLES,
           lambda scope, **_: admin_pages.codes_page(admin_pages.role_options(scope.role)),
           group="基本管理", callbacks="admin_pages"),
    Screen("admins", "/admins", "管理员列表", REGION_ROLES,
           lambda scope, **_: admin_pages.admins_page(), group="基本管理",
           callbacks="admin_pages"),
    Screen("teacher_counts", "/teacher-counts", "专任教师数", REGION_ROLES,
           lambda scope, **_: teacher_counts.page(
               url_for("teacher-counts-template", {}, "xlsx"),
               {fmt: url_for("teacher-counts", {}, fmt) for fmt in FORMATS}),
           group="基本管理", callbacks="teacher_counts"),
    Screen("audit", "/audit", "操作日志", REGION_ROLES,
           lambda scope, **_: admin_pages.audit_page(
               {fmt: url_for("audit", {}, fmt) for fmt in FORMATS}), group="基本管理",
           callbacks="admin_pages"),
    Screen("exports", "/exports", "导出管理", ALL_ROLES, lambda scope, **_: exports_page.page(),
           group="基本管理", callbacks="exports_page"),
    Screen("bind", "/bind", "权限绑定", ALL_ROLES, None, group="基本管理", reload=True),
)


def menu_for(role: str | None, screens: tuple[Screen, ...] = SCREENS) -> list[MenuEntry]:
    """The menu of a role: its screens that have a menu group, in list order."""
    if role is None:
        return []
    return [s.menu_entry() for s in screens if s.group is not None and role in s.roles]


def screens_by_path(screens: tuple[Screen, ...] = SCREENS) -> dict[str, list[Screen]]:
    """The Dash-rendered screens grouped by path, in list order."""
    out: dict[str, list[Screen]] = {}
    for s in screens:
        if s.layout is not None:
            out.setdefault(s.path, []).append(s)
    return out


def screen_for(path_screens: list[Screen], role: str | None) -> Screen | None:
    """The screen a role sees at a path; None = denied."""
    if role is None:
        return None
    return next((s for s in path_screens if role in s.roles), None)


def callback_modules(screens: tuple[Screen, ...] = SCREENS) -> tuple[str, ...]:
    """Every callbacks module the app registers: the frame's and each screen's, by name."""
    return tuple(sorted({*FRAME_CALLBACKS, *(s.callbacks for s in screens if s.callbacks)}))


def registry_problems(screens: tuple[Screen, ...] = SCREENS) -> list[str]:
    """What keeps the callbacks modules and the screen list apart: a module in callbacks/
    that nothing registers (its callbacks would silently be lost), a named module that does
    not exist or declares no callback."""
    import callbacks

    present = set(callbacks.module_names())
    named = set(callback_modules(screens)) | {callbacks.KIOSK_MODULE}
    problems = [f"callbacks/{m}.py is not registered by any screen" for m in sorted(present - named)]
    problems += [f"callbacks/{m}.py does not exist" for m in sorted(named - present)]
    problems += [f"callbacks/{m}.py declares no callback" for m in sorted(named & present)
                 if not callbacks.declared_in(m)]
    return problems


def _check(screens: tuple[Screen, ...]) -> None:
    keys = [s.key for s in screens]
    if len(keys) != len(set(keys)):
        raise ValueError("screen keys must be unique")
    for path, group in screens_by_path(screens).items():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a.roles & b.roles:
                    raise ValueError(f"two screens at {path} for the same role")


_check(SCREENS)
