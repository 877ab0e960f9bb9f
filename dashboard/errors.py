"""Error pages in Chinese, inside the product's frame, with a way back.

Dash renders its own "页面不存在" for unknown screens; these handlers cover everything the
Flask side answers with an error: forms, downloads, server errors. Callback and job
endpoints (`/_dash-*`, `/export/jobs`) are called by scripts and get short JSON instead.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .security import csrf_token, safe_next

ERROR_TEXTS = {
    400: ("请求无效", "请求参数无效或页面已过期，请返回后重试。"),
    401: ("请先登录", "登录已过期，请重新登录。"),
    403: ("无权访问", "您没有权限查看该页面或数据。如需开通权限，请联系上级管理员。"),
    404: ("页面不存在", "您访问的页面或文件不存在，可能已被删除，或链接有误。"),
    405: ("请求方式无效", "该地址不支持这种访问方式，请从页面上的按钮或菜单进入。"),
    413: ("内容过大", "提交的内容或文件超过了大小限制。"),
    429: ("操作过于频繁", "操作过于频繁，请稍后再试。"),
    500: ("系统内部错误", "服务器处理请求时出错，请稍后重试；如果问题持续出现，请联系平台运维人员。"),
}
_CJK = re.compile(r"[\u4e00-\u9fff]")
JSON_PREFIXES = ("/_dash", "/_reload", "/export/jobs", "/screen/_dash")


def error_text(exc: HTTPException) -> tuple[str, str]:
    """(title, explanation). A description given with `abort(code, "…")` in Chinese is more
    precise than the generic text; werkzeug's own English descriptions are never shown."""
    title, text = ERROR_TEXTS.get(exc.code or 500, ERROR_TEXTS[500])
    if exc.description and _CJK.search(exc.description):
        text = exc.description
    return title, text


def _back_link() -> str | None:
    """The referring page, when it is one of ours and not the failing page itself."""
    ref = request.referrer
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc != request.host:
        return None
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if target in (request.path, request.full_path):
        return None
    back = safe_next(target)
    return None if back == "/" else back


def render_error(code: int, title: str, text: str):
    if request.path.startswith(JSON_PREFIXES):
        return jsonify(error=text), code
    from .pages import frame_context

    try:
        frame = frame_context(request.path)
    except Exception:  # noqa: BLE001 - the error page must render even when the database is down
        current_app.logger.warning("error page without frame", exc_info=True)
        frame = None
    logged_in = frame is not None
    page = render_template(
        "error.html", title=title, text=text, frame=frame, error=None, message=None,
        wide=False, back=_back_link(), home="/" if logged_in else "/login",
        home_label="返回工作台" if logged_in else "前往登录", csrf_token=csrf_token())
    return page, code


def _http_error(exc: HTTPException):
    title, text = error_text(exc)
    response = render_error(exc.code or 500, title, text)
    if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        page, code = response
        return page, code, {"Allow": ", ".join(exc.valid_methods)}
    return response


def register(server: Flask) -> None:
    server.register_error_handler(HTTPException, _http_error)
