"""管理员列表: admins bound inside a scope, and their removal (SPEC §3, §4.5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, or_, select, update

from .models import Binding, Region, School, User
from .rules import administers, in_subtree
from .scope import Scope
from .vocab import ROLE_SCHOOL_ADMIN


class AdminError(ValueError):
    pass


@dataclass(frozen=True)
class AdminRow:
    binding_id: int
    user_name: str  # the contact name given at binding, else the registered name
    account: str  # raw; callers mask it
    role: str
    scope_code: str
    scope_name: str
    contact_phone: str | None  # given at binding, else at registration; raw, callers mask it
    org_title: str | None
    bound_at: datetime
    removable: bool
    via_code: bool  # bound by redeeming a code (else granted from the command line)


def _target_region(role: str, region_code: str | None, school_region: str | None) -> str | None:
    return school_region if role == ROLE_SCHOOL_ADMIN else region_code


def admins_in_scope(conn: Connection, scope: Scope, limit: int = 2000) -> list[AdminRow]:
    stmt = (
        select(Binding.id, func.coalesce(Binding.contact_name, User.name).label("name"),
               User.account, Binding.role, Binding.region_code, Binding.school_code,
               Region.name.label("region_name"), School.name.label("school_name"),
               School.region_code.label("school_region"),
               func.coalesce(Binding.contact_phone, User.phone).label("phone"),
               Binding.org_title, Binding.created_at, Binding.code_id)
        .join(User, User.id == Binding.user_id)
        .outerjoin(Region, Region.code == Binding.region_code)
        .outerjoin(School, School.code == Binding.school_code)
        .where(Binding.removed_at.is_(None))
        .where(or_(in_subtree(scope.region_code, Binding.region_code),
                   in_subtree(scope.region_code, School.region_code)))
        .order_by(Binding.region_code.is_(None), Binding.region_code, Binding.school_code,
                  Binding.id)
        .limit(limit)
    )
    out = []
    for r in conn.execute(stmt):
        target = _target_region(r.role, r.region_code, r.school_region)
        out.append(AdminRow(
            binding_id=r.id, user_name=r.name, account=r.account, role=r.role,
            scope_code=r.school_code or r.region_code,
            scope_name=r.school_name or r.region_name or "",
            contact_phone=r.phone, org_title=r.org_title, bound_at=r.created_at,
            removable=r.id != scope.binding_id and administers(conn, scope, r.role, target),
            via_code=r.code_id is not None,
        ))
    return out


def remove_admin(conn: Connection, scope: Scope, binding_id: int,
                 now: datetime | None = None) -> AdminRow:
    """Remove a binding the scope administers (§3); nobody removes themselves."""
    now = now or datetime.now()
    row = conn.execute(
        select(Binding.id, Binding.role, Binding.region_code, Binding.school_code,
               School.region_code.label("school_region"),
               func.coalesce(Binding.contact_name, User.name).label("name"), User.account,
               Binding.code_id)
        .join(User, User.id == Binding.user_id)
        .outerjoin(School, School.code == Binding.school_code)
        .where(Binding.id == binding_id, Binding.removed_at.is_(None))
    ).first()
    if row is None or row.id == scope.binding_id or not administers(
        conn, scope, row.role, _target_region(row.role, row.region_code, row.school_region)
    ):
        raise AdminError("无权删除该管理员")
    conn.execute(update(Binding).where(Binding.id == binding_id)
                 .values(removed_at=now, removed_by=scope.user_id))
    return AdminRow(row.id, row.name, row.account, row.role, row.school_code or row.region_code,
                    "", None, None, now, False, row.code_id is not None)
