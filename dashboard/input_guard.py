"""Hostile input that never reaches a view: control characters in the URL or the query
string, and JSON bodies that are malformed or nested too deeply to be a real request.

Form fields are checked by the form handlers themselves, so that the message can name the
field (see `dashboard.auth`).
"""

from __future__ import annotations

from flask import abort, request

from data_access.text import PASTED_WHITESPACE, has_control_characters

# Dash's requests nest a few levels (body → inputs → value → a store's dict …); anything far
# deeper is not a request the product sends.
MAX_JSON_DEPTH = 32
MAX_JSON_NODES = 200_000
INVALID_CHARACTERS = "请求中包含无效的控制字符，请检查输入后重试。"


def reject_hostile_input():
    """before_request: 400 for control characters in the path or query string, and for
    JSON bodies that cannot be parsed, are nested too deeply or carry control characters."""
    if has_control_characters(request.path) or any(
            has_control_characters(k) or has_control_characters(v)
            for k, v in request.args.items(multi=True)):
        abort(400, INVALID_CHARACTERS)
    if request.method == "POST" and request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            abort(400, "请求内容无效")
        if not _json_acceptable(body):
            abort(400, "请求内容无效")
    return None


def _json_acceptable(body) -> bool:
    """Depth and size bounded, no control characters in any key or string (TAB, LF and CR
    are allowed: they can be pasted into a text field). Iterative: a hostile body cannot
    exhaust the stack here."""
    stack = [(body, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_JSON_DEPTH or nodes > MAX_JSON_NODES:
            return False
        if isinstance(value, str):
            if has_control_characters(value, allow=PASTED_WHITESPACE):
                return False
        elif isinstance(value, dict):
            for k, v in value.items():
                if has_control_characters(k, allow=PASTED_WHITESPACE):
                    return False
                stack.append((v, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return True
