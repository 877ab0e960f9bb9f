"""The screen list (dashboard/screens.py): every callbacks module is registered, every screen
names the callbacks its controls need, and each screen is in the menu and opens only for its
roles."""

import dataclasses
import json
import re

import pytest

import callbacks
from dashboard import screens
from tests.helpers import build_dataset, call_callback, fire, login, make_admin

ROLE_SCOPES = {"region_super": "350300", "region_training": "350000",
               "school_admin": "S-XY-1"}
DASH_SCREENS = [s for s in screens.SCREENS if s.layout is not None]


def _ids(node, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        cid = node.get("props", {}).get("id") if "props" in node else None
        if isinstance(cid, dict):
            out.add(str(cid.get("type", "")))
        elif isinstance(cid, str):
            out.add(cid)
        for value in node.get("props", {}).values() if "props" in node else node.values():
            _ids(value, out)
    elif isinstance(node, list):
        for item in node:
            _ids(item, out)
    return out


def _url(screen) -> str:
    return re.sub(r"<[^>]+>", "T2022", screen.path)


def render(client, path: str):
    """The page the router shows at `path`, as the browser would get it."""
    resp = fire(client, "_pages_content.children", {"_pages_location.pathname": path,
                                                     "_pages_location.search": ""})
    assert resp.status_code == 200, (path, resp.status_code)
    return resp.get_json()["response"]["_pages_content"]["children"]


def text(node) -> str:
    return json.dumps(node, ensure_ascii=False)


def menu(client) -> list[tuple[str, str, str]]:
    layout = client.get("/_dash-layout").get_json()
    found = []

    def walk(node):
        if isinstance(node, dict):
            cid = node.get("props", {}).get("id")
            if isinstance(cid, dict) and cid.get("type") == "shell-menu-item":
                found.append((node["props"]["href"], node["props"]["children"], node["type"]))
            for v in node.get("props", {}).values():
                walk(v)
        elif isinstance(node, list):
            for i in node:
                walk(i)

    walk(layout)
    return found


# --------------------------------------------------------------------------- callbacks


def test_every_callbacks_module_is_registered_by_the_screen_list():
    assert screens.registry_problems() == []
    registered = set(screens.callback_modules())
    # the 大屏's module belongs to the kiosk app (tests/callbacks/test_wall_screen.py)
    assert registered | {callbacks.KIOSK_MODULE} == set(callbacks.module_names())
    assert callbacks.KIOSK_MODULE not in registered


@pytest.mark.parametrize("module", [m for m in callbacks.module_names()
                                    if m != callbacks.KIOSK_MODULE])
def test_a_callbacks_module_left_out_of_the_list_fails(module):
    """Leaving any module out (a screen forgetting to name it) is reported."""
    without = tuple(dataclasses.replace(s, callbacks=None) if s.callbacks == module else s
                    for s in screens.SCREENS)
    frame = screens.FRAME_CALLBACKS
    if module in frame:
        screens_frame, screens.FRAME_CALLBACKS = frame, tuple(m for m in frame if m != module)
        try:
            problems = screens.registry_problems(without)
        finally:
            screens.FRAME_CALLBACKS = screens_frame
    else:
        problems = screens.registry_problems(without)
    assert problems == [f"callbacks/{module}.py is not registered by any screen"]


def test_an_unregistered_module_loses_its_callbacks(app):
    """What the check above guards against: the app only gets the named modules' callbacks."""
    import dash

    other = dash.Dash(__name__, server=False)
    callbacks.register_callbacks(other, ["shell"])
    outputs = set(other.callback_map)
    assert outputs and all("shell-" in o for o in outputs)
    full = set(app.extensions["yanxiu"].dash_app.callback_map)
    assert any("admins-grid" in o for o in full) and any("st-" in o for o in full)


def needed_modules(layout_ids: set[str], frame_ids: set[str]) -> set[str]:
    """The callbacks modules whose callbacks read or write components of a layout."""
    return {m for m in callbacks.module_names() if m not in screens.FRAME_CALLBACKS
            and (callbacks.component_ids(m) - frame_ids) & layout_ids}


def callback_problems(screen, layout_ids: set[str], frame_ids: set[str]) -> list[str]:
    needed = needed_modules(layout_ids, frame_ids)
    named = {screen.callbacks} if screen.callbacks else set()
    return ([f"{screen.key} needs callbacks/{m}.py" for m in sorted(needed - named)]
            + [f"{screen.key} names callbacks/{m}.py, which has none of its components"
               for m in sorted(named - needed)])


@pytest.fixture
def world(app):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    return engine


def _frame_ids(client) -> set[str]:
    return _ids(client.get("/_dash-layout").get_json(), set())


def test_every_screen_names_the_callbacks_its_controls_need(app, client, world):
    seen = 0
    for role, scope in ROLE_SCOPES.items():
        c = app.test_client()
        login(c, make_admin(world, role, scope))
        frame = _frame_ids(c)
        for screen in DASH_SCREENS:
            if role not in screen.roles:
                continue
            layout_ids = _ids(render(c, _url(screen)), set())
            assert callback_problems(screen, layout_ids, frame) == [], screen.key
            # ... and the check would catch a screen that forgot its module
            if screen.callbacks:
                forgot = dataclasses.replace(screen, callbacks=None)
                assert callback_problems(forgot, layout_ids, frame), screen.key
            seen += 1
    assert seen >= len(DASH_SCREENS)


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize("role", sorted(ROLE_SCOPES))
def test_each_screen_is_in_the_menu_and_opens_only_for_its_roles(app, client, world, role):
    login(client, make_admin(world, role, ROLE_SCOPES[role]))
    entries = menu(client)
    hrefs = [href for href, _, _ in entries]
    assert len(hrefs) == len(set(hrefs))
    # in list order within each menu group, the groups in the order of their first entry
    from layouts.shell import menu_groups
    expected = [(e.href, e.label, "A" if e.reload else "Link")
                for _, group in menu_groups(screens.menu_for(role)) for e in group]
    assert [e[:2] for e in expected] == [(s.path, s.title) for s in sorted(
        (s for s in screens.SCREENS if s.group is not None and role in s.roles),
        key=lambda s: [x.group for x in screens.SCREENS if x.group].index(s.group))]
    assert entries == expected
    for screen in screens.SCREENS:
        allowed = any(role in s.roles for s in screens.SCREENS if s.path == screen.path)
        if screen.layout is None:  # served by Flask
            assert client.get(screen.path).status_code == (200 if allowed else 403)
            continue
        shown = text(render(client, _url(screen)))
        if allowed:
            assert "无权访问" not in shown and "暂无管理权限" not in shown, screen.key
        else:
            assert "无权访问" in shown, screen.key
            assert screen.path not in hrefs


def test_a_url_parameter_named_scope_opens_every_screen(app, client, world):
    """`?scope=…` once collided with the layout's own argument (a 500 on every screen)."""
    login(client, make_admin(world, "region_super", "350300"))
    for screen in screens.SCREENS:
        if screen.layout is None or "<" in screen.path:
            continue
        resp = fire(client, "_pages_content.children", {"_pages_location.pathname": screen.path,
                                                        "_pages_location.search": "?scope=1"})
        assert resp.status_code in (200, 204), (screen.key, resp.status_code)


def test_region_screens_are_denied_to_a_school_admin_with_the_reason(app, client, world):
    login(client, make_admin(world, "school_admin", "S-XY-1"))
    for screen in DASH_SCREENS:
        if screen.roles == screens.REGION_ROLES and not any(
                "school_admin" in s.roles for s in DASH_SCREENS if s.path == screen.path):
            page = text(render(client, screen.path))
            assert "该功能仅对区域管理员开放" in page
            # none of the screen's own components is built
            assert not (_ids(json.loads(page), set()) - _frame_ids(client)
                        - {"notice"}) & callbacks.component_ids(screen.callbacks), screen.key


def test_a_user_without_binding_sees_no_screen(app, client, world):
    from data_access import accounts
    from tests.helpers import PASSWORD

    with world.begin() as conn:
        accounts.create_user(conn, "nobinding", "无权限用户", PASSWORD)
    login(client, "nobinding")
    assert menu(client) == []
    for screen in DASH_SCREENS:
        page = text(render(client, _url(screen)))
        assert "暂无管理权限" in page, screen.key


def test_anonymous_requests_get_no_page(client, world):
    for screen in DASH_SCREENS:
        resp = call_callback(client, "_pages_content.children", [
            {"id": "_pages_location", "property": "pathname", "value": _url(screen)},
            {"id": "_pages_location", "property": "search", "value": ""}])
        assert resp.status_code == 401, screen.key


def test_screen_keys_are_unique_and_one_screen_per_path_and_role():
    with pytest.raises(ValueError):
        screens._check(screens.SCREENS + (screens.SCREENS[0],))
    clash = dataclasses.replace(screens.SCREENS[0], key="other")
    with pytest.raises(ValueError):
        screens._check(screens.SCREENS + (clash,))
