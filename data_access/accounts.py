"""Users, bindings (role × scope) and server-side web sessions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from .models import Binding, Region, School, User, WebSession
from .rules import school_has_admin
from .vocab import ROLE_SCHOOL_ADMIN, ROLES

# A hash computed once so that a login for an unknown account costs the same as a wrong
# password (no timing difference between the two answers).
_DUMMY_HASH = generate_password_hash("not-a-real-password")
SESSION_IDLE_LIMIT = timedelta(hours=12)


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class UserRow:
    id: int
    account: str
    name: str
    phone: str | None


@dataclass(frozen=True)
class BindingRow:
    id: int
    user_id: int
    role: str
    region_code: str | None
    school_code: str | None
    scope_name: str
    created_at: datetime


def hash_password(password: str) -> str:
    # werkzeug's default is scrypt, a memory-hard KDF.
    return generate_password_hash(password)


def create_user(
    conn: Connection, account: str, name: str, password: str, phone: str | None = None
) -> int:
    account = account.strip()
    if not account or len(account) > 40:
        raise AccountError("账号不能为空且不超过 40 个字符")
    if len(password) < 8:
        raise AccountError("密码至少 8 位")
    if conn.scalar(select(User.id).where(User.account == account)) is not None:
        raise AccountError("该账号已注册")
    return conn.execute(
        insert(User)
        .values(
            account=account,
            password_hash=hash_password(password),
            name=name.strip(),
            phone=phone,
            created_at=datetime.now(),
            is_active=True,
        )
        .returning(User.id)
    ).scalar_one()


def authenticate(conn: Connection, account: str, password: str) -> UserRow | None:
    row = conn.execute(
        select(User.id, User.account, User.name, User.phone, User.password_hash, User.is_active)
        .where(User.account == account)
    ).first()
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(row.password_hash, password) or not row.is_active:
        return None
    return UserRow(row.id, row.account, row.name, row.phone)


def get_user(conn: Connection, user_id: int) -> UserRow | None:
    row = conn.execute(
        select(User.id, User.account, User.name, User.phone).where(
            User.id == user_id, User.is_active.is_(True)
        )
    ).first()
    return UserRow(*row) if row else None


def user_by_account(conn: Connection, account: str) -> UserRow | None:
    row = conn.execute(
        select(User.id, User.account, User.name, User.phone).where(User.account == account)
    ).first()
    return UserRow(*row) if row else None


def grant(
    conn: Connection,
    user_id: int,
    role: str,
    scope_code: str,
    *,
    code_id: int | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    org_title: str | None = None,
) -> int:
    """Bind a user to a role over a region (region roles) or a school (school_admin)."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role}")
    region_code = school_code = None
    if role == ROLE_SCHOOL_ADMIN:
        if conn.scalar(
            select(School.code).where(School.code == scope_code, School.deleted_at.is_(None))
        ) is None:
            raise AccountError(f"unknown school {scope_code}")
        if school_has_admin(conn, scope_code):
            raise AccountError("该学校已有学校管理员")
        school_code = scope_code
    else:
        if conn.scalar(select(Region.code).where(Region.code == scope_code)) is None:
            raise AccountError(f"unknown region {scope_code}")
        region_code = scope_code
    existing = conn.scalar(
        select(Binding.id).where(
            Binding.user_id == user_id,
            Binding.role == role,
            Binding.region_code.is_(None) if region_code is None
            else Binding.region_code == region_code,
            Binding.school_code.is_(None) if school_code is None
            else Binding.school_code == school_code,
            Binding.removed_at.is_(None),
        )
    )
    if existing is not None:
        return existing
    return conn.execute(
        insert(Binding)
        .values(
            user_id=user_id,
            role=role,
            region_code=region_code,
            school_code=school_code,
            code_id=code_id,
            contact_name=contact_name,
            contact_phone=contact_phone,
            org_title=org_title,
            created_at=datetime.now(),
        )
        .returning(Binding.id)
    ).scalar_one()


def active_bindings(conn: Connection, user_id: int) -> list[BindingRow]:
    """The user's current bindings (removed ones and deleted schools excluded)."""
    rows = conn.execute(
        select(
            Binding.id,
            Binding.user_id,
            Binding.role,
            Binding.region_code,
            Binding.school_code,
            Region.name,
            School.name,
            Binding.created_at,
        )
        .outerjoin(Region, Region.code == Binding.region_code)
        .outerjoin(School, School.code == Binding.school_code)
        .where(Binding.user_id == user_id, Binding.removed_at.is_(None))
        .where((Binding.school_code.is_(None)) | (School.deleted_at.is_(None)))
        .order_by(Binding.id)
    )
    return [
        BindingRow(r[0], r[1], r[2], r[3], r[4], r[5] or r[6] or "", r[7]) for r in rows
    ]


# --------------------------------------------------------------------------- web sessions


def open_session(conn: Connection, user_id: int) -> str:
    sid = secrets.token_urlsafe(32)
    now = datetime.now()
    bindings = active_bindings(conn, user_id)
    conn.execute(
        insert(WebSession).values(
            id=sid,
            user_id=user_id,
            active_binding_id=bindings[0].id if bindings else None,
            created_at=now,
            last_seen_at=now,
        )
    )
    return sid


@dataclass(frozen=True)
class SessionRow:
    id: str
    user_id: int
    active_binding_id: int | None


def load_session(conn: Connection, sid: str) -> SessionRow | None:
    row = conn.execute(
        select(WebSession.id, WebSession.user_id, WebSession.active_binding_id, WebSession.last_seen_at)
        .where(WebSession.id == sid)
    ).first()
    if row is None:
        return None
    now = datetime.now()
    if now - row.last_seen_at > SESSION_IDLE_LIMIT:
        conn.execute(delete(WebSession).where(WebSession.id == sid))
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        conn.execute(update(WebSession).where(WebSession.id == sid).values(last_seen_at=now))
    return SessionRow(row.id, row.user_id, row.active_binding_id)


def set_active_binding(conn: Connection, sid: str, binding_id: int | None) -> None:
    conn.execute(update(WebSession).where(WebSession.id == sid).values(active_binding_id=binding_id))


def close_session(conn: Connection, sid: str) -> None:
    conn.execute(delete(WebSession).where(WebSession.id == sid))
