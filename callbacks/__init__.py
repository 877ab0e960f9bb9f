"""Dash callbacks: thin glue between the URL/controls, the scope guard and data_access.

Callbacks are declared with this package's `callback` decorator and attached to an app by
`register_callbacks(app, modules)`, so that every app built by the factory (one per test) gets
them, and so that every callback — including ones added later — runs behind the login/scope
guard. The modules are named by the screen list (`dashboard.screens.callback_modules()`): a
screen names the module of its controls, and a test fails for a module here that no screen
names.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Callable, Iterable

from dash.exceptions import PreventUpdate

_REGISTRY: list[tuple[tuple, dict, Callable]] = []
# Callbacks that run in the browser (assets/*.js), by the module that declares them.
_CLIENTSIDE: list[tuple[str, tuple, dict]] = []


def callback(*args, **kwargs):
    def decorate(fn: Callable) -> Callable:
        _REGISTRY.append((args, kwargs, fn))
        return fn

    return decorate


def clientside_callback(module: str, *args, **kwargs) -> None:
    """Declare a browser-side callback (`dash.ClientsideFunction`, inputs, outputs) of a
    screen's module, attached with the module's other callbacks. It never reaches the
    server: whatever it calls there (a download, POST /export/jobs) does its own checks."""
    _CLIENTSIDE.append((module, args, kwargs))


def next_reload(reload) -> int:
    """The next value of a screen's reload counter (anything odd sent back starts again)."""
    ok = isinstance(reload, int) and not isinstance(reload, bool) and 0 <= reload < 10**9
    return reload + 1 if ok else 1


def school_scope():
    """The session's scope when it is a 学校管理员's; a callback of a school screen does
    nothing for anyone else."""
    from dashboard.access import require_scope

    scope = require_scope()
    if not scope.is_school:
        raise PreventUpdate
    return scope


def region_scope():
    """The session's scope when it is a region admin's; nothing happens for anyone else."""
    from data_access.rules import is_region_admin
    from dashboard.access import require_scope

    scope = require_scope()
    if not is_region_admin(scope):
        raise PreventUpdate
    return scope


def _guarded(fn: Callable) -> Callable:
    from dashboard.access import current_scope

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # Deny by default: no active binding, no callback.
        if current_scope() is None:
            raise PreventUpdate
        return fn(*args, **kwargs)

    return wrapper


def module_names() -> list[str]:
    """Every callbacks module of this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def declared_in(name: str) -> list[Callable]:
    """The callbacks a module declares (importing it fills the registry)."""
    module = importlib.import_module(f"{__name__}.{name}")
    return [fn for _, _, fn in _REGISTRY if fn.__module__ == module.__name__]


def component_ids(name: str) -> set[str]:
    """The component ids a module's callbacks read or write (a pattern id by its `type`)."""
    module = importlib.import_module(f"{__name__}.{name}").__name__
    ids: set[str] = set()
    declared = [(args, kwargs) for args, kwargs, fn in _REGISTRY if fn.__module__ == module]
    declared += [(args, kwargs) for owner, args, kwargs in _CLIENTSIDE if owner == module]
    for args, kwargs in declared:
        for dep in _dependencies([*args, *kwargs.values()]):
            cid = dep.component_id
            cid = cid.get("type", "") if isinstance(cid, dict) else cid
            ids.add(str(getattr(cid, "value", cid)))
    return ids


def _dependencies(values) -> Iterable:
    from dash.dependencies import DashDependency

    for v in values:
        if isinstance(v, DashDependency):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from _dependencies(v)


# The 大屏's module: attached to the kiosk app under /screen/ (dashboard/app.py), never to
# the console. A kiosk has no login and so no scope; its callbacks' guard is its token (or,
# on the preview, the region admin's session), resolved inside each of them.
KIOSK_MODULE = "wall_screen"


def register_kiosk_callbacks(app) -> None:
    module = importlib.import_module(f"{__name__}.{KIOSK_MODULE}").__name__
    for args, kwargs, fn in _REGISTRY:
        if fn.__module__ == module:
            app.callback(*args, **kwargs)(fn)
    for owner, args, kwargs in _CLIENTSIDE:
        if owner == module:
            app.clientside_callback(*args, **kwargs)


def register_callbacks(app, modules: Iterable[str]) -> None:
    """Attach the callbacks of the named modules, each behind the scope guard."""
    wanted = set()
    if KIOSK_MODULE in modules:
        raise ValueError("the 大屏's callbacks belong to the kiosk app only")
    for name in modules:
        wanted.add(importlib.import_module(f"{__name__}.{name}").__name__)
    for args, kwargs, fn in _REGISTRY:
        if fn.__module__ in wanted:
            app.callback(*args, **kwargs)(_guarded(fn))
    for module, args, kwargs in _CLIENTSIDE:
        if module in wanted:
            app.clientside_callback(*args, **kwargs)
