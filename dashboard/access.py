"""The one place that turns the server-side session into an authorized scope.

Every callback and download calls `require_scope()`; it never looks at anything the browser
sent except the session cookie.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import current_app, g
from flask_login import current_user
from sqlalchemy import Connection, Engine

from data_access.accounts import active_bindings, set_active_binding
from data_access.scope import Scope, ScopeDenied, scope_of


def engine() -> Engine:
    return current_app.extensions["yanxiu"].engine


def recover_jobs() -> None:
    """Retry or fail the export jobs whose worker died (any process may notice first)."""
    from .task_queue import recover

    state = current_app.extensions["yanxiu"]
    try:
        recover(state.engine, state.job_queue, state.settings)
    except Exception:  # noqa: BLE001 - a busy database: the workers' own sweep follows
        current_app.logger.warning("export job sweep skipped", exc_info=True)


@contextmanager
def read() -> Iterator[Connection]:
    with engine().connect() as conn:
        yield conn


@contextmanager
def write() -> Iterator[Connection]:
    with engine().begin() as conn:
        yield conn


def current_scope() -> Scope | None:
    """The active binding's scope, re-read from the database once per request."""
    if "yanxiu_scope" not in g:
        scope = None
        if current_user.is_authenticated:
            with read() as conn:
                scope = scope_of(conn, current_user.id, current_user.active_binding_id)
            if scope is None:
                scope = _fall_back_to_first_binding()
        g.yanxiu_scope = scope
    return g.yanxiu_scope


def _fall_back_to_first_binding() -> Scope | None:
    """The active binding was removed (or never set): continue with the user's first
    remaining binding, if any, and remember it in the session."""
    with write() as conn:
        bindings = active_bindings(conn, current_user.id)
        if not bindings:
            return None
        set_active_binding(conn, current_user.session_id, bindings[0].id)
        current_user.active_binding_id = bindings[0].id
        return scope_of(conn, current_user.id, bindings[0].id)


def require_scope() -> Scope:
    scope = current_scope()
    if scope is None:
        raise ScopeDenied("no active binding")
    return scope
