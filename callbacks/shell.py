"""The top-left scope switcher: changes the active binding in the server-side session."""

from __future__ import annotations

from dash import Input, Output
from dash.exceptions import PreventUpdate
from flask_login import current_user

from data_access import accounts
from data_access.scope import valid_id
from dashboard.access import write
from layouts.ids import Shell

from . import callback


@callback(Output(Shell.SCOPE_SWITCH_RELOAD, "href"), Input(Shell.SCOPE_SWITCHER, "value"),
          prevent_initial_call=True)
def switch_scope(binding_id):
    binding_id = valid_id(binding_id)
    if binding_id is None or binding_id == current_user.active_binding_id:
        raise PreventUpdate
    with write() as conn:
        # Only one of the user's own current bindings can become active.
        if binding_id not in {b.id for b in accounts.active_bindings(conn, current_user.id)}:
            raise PreventUpdate
        accounts.set_active_binding(conn, current_user.session_id, binding_id)
    return "/"
