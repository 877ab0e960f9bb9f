"""/login and /logout (SPEC §7.4) on server-side sessions, with flask-login."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, abort, current_app, redirect, render_template, request, session
from flask_login import LoginManager, UserMixin, current_user

from data_access import accounts, audit, codes, ratelimit
from data_access.privacy import mask_account
from data_access.text import has_control_characters

from .access import write
from .security import client_ip, csrf_token, csrf_valid, safe_next

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

LOGIN_FAILED = "账号或密码错误"
INVALID_ACCOUNT = "账号中包含无效字符，请重新输入"
CONTROL_CHARACTERS = "包含无效字符，请重新输入"
TOO_MANY = "尝试次数过多，请 15 分钟后再试"
WINDOW = timedelta(minutes=15)
LOGIN_LIMIT_PER_ACCOUNT = 5
LOGIN_LIMIT_PER_IP = 30
REDEEM_WINDOW = timedelta(hours=1)
REDEEM_LIMIT_PER_USER = 10
REDEEM_LIMIT_PER_IP = 30
PHONE_RE = re.compile(r"^1\d{10}$")


def _rate_key(kind: str, value: str) -> str:
    return ratelimit.key(kind, value, current_app.config["SECRET_KEY"].encode())


@dataclass
class SessionUser(UserMixin):
    id: int
    account: str
    name: str
    session_id: str
    active_binding_id: int | None

    def get_id(self) -> str:
        return str(self.id)


@login_manager.request_loader
def _load_from_session(_request):
    sid = session.get("sid")
    if not sid or not isinstance(sid, str):
        return None
    with write() as conn:
        row = accounts.load_session(conn, sid)
        if row is None:
            return None
        user = accounts.get_user(conn, row.user_id)
    if user is None:
        return None
    return SessionUser(user.id, user.account, user.name, row.id, row.active_binding_id)


@bp.get("/login")
def login_form():
    return render_template("login.html", error=None, next_path=safe_next(request.args.get("next")),
                           csrf_token=csrf_token(), account="")


@bp.post("/login")
def login_submit():
    next_path = safe_next(request.args.get("next") or request.form.get("next"))
    if not csrf_valid(request.form.get("csrf_token")):
        abort(400, "表单已过期，请刷新页面后重试")
    account = (request.form.get("account") or "").strip()[:40]
    password = (request.form.get("password") or "")[:200]
    if has_control_characters(account):
        # Never looked up: PostgreSQL refuses NUL, and no account contains a control character.
        return render_template("login.html", error=INVALID_ACCOUNT, next_path=next_path,
                               csrf_token=csrf_token(), account=""), 400
    account_key = _rate_key("login-account", account.lower())
    ip_key = _rate_key("login-ip", client_ip())
    with write() as conn:
        if (ratelimit.count(conn, account_key, WINDOW) >= LOGIN_LIMIT_PER_ACCOUNT
                or ratelimit.count(conn, ip_key, WINDOW) >= LOGIN_LIMIT_PER_IP):
            audit.record(conn, "login", actor=mask_account(account), ip=client_ip(),
                         outcome="limited")
            return render_template("login.html", error=TOO_MANY, next_path=next_path,
                                   csrf_token=csrf_token(), account=account), 429
    with write() as conn:
        user = accounts.authenticate(conn, account, password)
        if user is None:
            ratelimit.hit(conn, account_key)
            ratelimit.hit(conn, ip_key)
            audit.record(conn, "login", actor=mask_account(account), ip=client_ip(),
                         outcome="failed")
            return render_template("login.html", error=LOGIN_FAILED, next_path=next_path,
                                   csrf_token=csrf_token(), account=account), 401
        # A new session id on every login; the old one (if any) is closed.
        old = session.get("sid")
        if old:
            accounts.close_session(conn, old)
        sid = accounts.open_session(conn, user.id)
        first = next(iter(accounts.active_bindings(conn, user.id)), None)
        audit.record(conn, "login", user_id=user.id, actor=mask_account(user.account),
                     region_code=first.region_code if first else None,
                     school_code=first.school_code if first else None, ip=client_ip())
    session.clear()
    session["sid"] = sid
    csrf_token()
    return redirect(next_path)


@bp.post("/logout")
def logout():
    if not csrf_valid(request.form.get("csrf_token")):
        abort(400, "表单已过期，请刷新页面后重试")
    sid = session.get("sid")
    if sid:
        with write() as conn:
            accounts.close_session(conn, sid)
    session.clear()
    return redirect("/login")


# --------------------------------------------------------------------------- registration


@dataclass
class Field:
    name: str
    label: str
    type: str = "text"
    max: int = 40
    value: str = ""
    error: str = ""
    autocomplete: str = "off"
    placeholder: str = ""


def _register_fields(form=None) -> list[Field]:
    form = form or {}
    return [
        Field("account", "账号", value=form.get("account", "")[:40], autocomplete="username"),
        Field("password", "密码", type="password", max=200, autocomplete="new-password"),
        Field("name", "姓名", max=30, value=form.get("name", "")[:30]),
        Field("phone", "手机号", max=11, value=form.get("phone", "")[:11]),
    ]


@bp.get("/register")
def register_form():
    return render_template("register.html", title="注册账号", fields=_register_fields(),
                           csrf_token=csrf_token(), error=None, message=None, wide=False)


@bp.post("/register")
def register_submit():
    if not csrf_valid(request.form.get("csrf_token")):
        abort(400, "表单已过期，请刷新页面后重试")
    fields = _register_fields(request.form)
    by_name = {f.name: f for f in fields}
    account = by_name["account"].value.strip()
    password = (request.form.get("password") or "")[:200]
    name = by_name["name"].value.strip()
    phone = by_name["phone"].value.strip()
    if not re.fullmatch(r"[0-9A-Za-z_.@-]{4,40}", account):
        by_name["account"].error = "账号为 4–40 位字母、数字或 _ . @ -"
    if len(password) < 8:
        by_name["password"].error = "密码至少 8 位"
    elif has_control_characters(password):
        by_name["password"].error = "密码" + CONTROL_CHARACTERS
    if not name:
        by_name["name"].error = "请填写姓名"
    elif has_control_characters(name):
        by_name["name"].error = "姓名" + CONTROL_CHARACTERS
        by_name["name"].value = ""
    if not PHONE_RE.match(phone):
        by_name["phone"].error = "请填写 11 位手机号"
    if not any(f.error for f in fields):
        ip_key = _rate_key("register-ip", client_ip())
        with write() as conn:
            if ratelimit.count(conn, ip_key, WINDOW) >= LOGIN_LIMIT_PER_IP:
                return render_template("register.html", title="注册账号", fields=fields,
                                       csrf_token=csrf_token(), error=TOO_MANY, message=None,
                                       wide=False), 429
            ratelimit.hit(conn, ip_key)
            try:
                uid = accounts.create_user(conn, account, name, password, phone)
            except accounts.AccountError as exc:
                by_name["account"].error = str(exc)
            else:
                audit.record(conn, "register", user_id=uid, actor=mask_account(account),
                             ip=client_ip())
                sid = accounts.open_session(conn, uid)
                session.clear()
                session["sid"] = sid
                csrf_token()
                return redirect("/bind")
    return render_template("register.html", title="注册账号", fields=fields,
                           csrf_token=csrf_token(), error=None, message=None, wide=False), 400


# --------------------------------------------------------------------------- binding


def _bind_fields(form=None) -> list[Field]:
    form = form or {}
    return [
        Field("code", "权限码", max=60, value="", placeholder="如 K7Q2-8M4D-…"),
        Field("contact_name", "姓名", max=30, value=form.get("contact_name", "")[:30]),
        Field("contact_phone", "手机号", max=11, value=form.get("contact_phone", "")[:11]),
        Field("org_title", "单位/职务", max=100, value=form.get("org_title", "")[:100]),
    ]


def _has_binding() -> bool:
    with write() as conn:
        return bool(accounts.active_bindings(conn, current_user.id))


def _bind_page(fields: list[Field], error: str | None = None):
    from .pages import frame_context

    return render_template("bind.html", title="权限码绑定", fields=fields,
                           csrf_token=csrf_token(), error=error, message=None, wide=True,
                           has_binding=_has_binding(), frame=frame_context("/bind"))


@bp.get("/bind")
def bind_form():
    # The contact fields start with what was given at registration; the user may change them
    # for this binding (e.g. an office phone).
    with write() as conn:
        user = accounts.get_user(conn, current_user.id)
    return _bind_page(_bind_fields({"contact_name": user.name if user else "",
                                    "contact_phone": (user.phone or "") if user else ""}))


@bp.post("/bind")
def bind_submit():
    if not csrf_valid(request.form.get("csrf_token")):
        abort(400, "表单已过期，请刷新页面后重试")
    fields = _bind_fields(request.form)
    by_name = {f.name: f for f in fields}
    code = (request.form.get("code") or "")[:60]
    if not code.strip():
        by_name["code"].error = "请填写权限码"
    if not by_name["contact_name"].value.strip():
        by_name["contact_name"].error = "请填写姓名"
    if not PHONE_RE.match(by_name["contact_phone"].value.strip()):
        by_name["contact_phone"].error = "请填写 11 位手机号"
    if not by_name["org_title"].value.strip():
        by_name["org_title"].error = "请填写单位/职务"
    for f, text in ((by_name["code"], code), (by_name["contact_name"], None),
                    (by_name["org_title"], None)):
        if has_control_characters(text if text is not None else f.value):
            f.error = f.label + CONTROL_CHARACTERS
            f.value = ""

    def page(status: int, error: str | None = None):
        return _bind_page(fields, error), status

    if any(f.error for f in fields):
        return page(400)
    user_key = _rate_key("redeem-user", str(current_user.id))
    ip_key = _rate_key("redeem-ip", client_ip())
    with write() as conn:
        if (ratelimit.count(conn, user_key, REDEEM_WINDOW) >= REDEEM_LIMIT_PER_USER
                or ratelimit.count(conn, ip_key, REDEEM_WINDOW) >= REDEEM_LIMIT_PER_IP):
            audit.record(conn, "code_redeem", user_id=current_user.id,
                         actor=mask_account(current_user.account), ip=client_ip(),
                         outcome="limited")
            return page(429, "尝试次数过多，请 1 小时后再试")
    try:
        with write() as conn:
            redeemed = codes.redeem(
                conn, current_user.id, code,
                contact_name=by_name["contact_name"].value.strip(),
                contact_phone=by_name["contact_phone"].value.strip(),
                org_title=by_name["org_title"].value.strip(),
            )
            audit.record(conn, "code_redeem", user_id=current_user.id,
                         actor=mask_account(current_user.account),
                         region_code=redeemed.region_code, school_code=redeemed.school_code,
                         detail={"code_id": redeemed.code_id, "role": redeemed.role,
                                 "binding_id": redeemed.binding_id}, ip=client_ip())
            accounts.set_active_binding(conn, current_user.session_id, redeemed.binding_id)
    except codes.CodeError as exc:
        with write() as conn:
            ratelimit.hit(conn, user_key)
            ratelimit.hit(conn, ip_key)
            audit.record(conn, "code_redeem", user_id=current_user.id,
                         actor=mask_account(current_user.account), ip=client_ip(),
                         outcome="failed", detail={"reason": str(exc)})
        return page(400, str(exc))
    return redirect("/")
