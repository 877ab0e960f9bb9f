"""Dash callbacks: thin glue between the URL/controls, the scope guard and data_access.

Callbacks are declared with this package's `callback` decorator and attached to an app by
`register_callbacks(app)`, so that every app built by the factory (one per test) gets them,
and so that every callback — including ones added later — runs behind the login/scope guard.
"""

from __future__ import annotations

import functools
from typing import Callable

from dash.exceptions import PreventUpdate

_REGISTRY: list[tuple[tuple, dict, Callable]] = []


def callback(*args, **kwargs):
    def decorate(fn: Callable) -> Callable:
        _REGISTRY.append((args, kwargs, fn))
        return fn

    return decorate


def _guarded(fn: Callable) -> Callable:
    from dashboard.access import current_scope

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # Deny by default: no active binding, no callback.
        if current_scope() is None:
            raise PreventUpdate
        return fn(*args, **kwargs)

    return wrapper


def register_callbacks(app) -> None:
    from . import (  # noqa: F401  (importing fills the registry)
        admin_pages,
        exports_page,
        shell,
        training_list,
        training_stats,
    )

    for args, kwargs, fn in _REGISTRY:
        app.callback(*args, **kwargs)(_guarded(fn))
