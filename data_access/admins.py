"""管理员列表: admins bound inside a scope, and their removal (SPEC §3, §4.5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, or_, select, update

from .models import Binding, Region, RegionClosure, School, User
from .regions import is_within
from .scope import Scope
from .vocab import ROLE_REGION_SUPER, ROLE_REGION_TRAINING, ROLE_SCHOOL_ADMIN


class AdminError(ValueError):
    pass


@dataclass(frozen=True)
class AdminRow:
    binding_id: int
    user_name: str
    account: str  # raw; callers mask it
    role: str
    scope_code: str
    scope_name: str
    contact_phone: str | None
    org_title: str | None
    bound_at: datetime
    removable: bool


def may_manage(conn: Connection, scope: Scope, role: str, region_code: str | None,
               school_region: str | None) -> bool:
    """The same rule as issuing (§3): a region_super manages its own 专项管理员 and the super
    admins of its direct children; any region admin manages 学校管理员 in its subtree."""
    if scope.is_school:
        return False
    if role == ROLE_SCHOOL_ADMIN:
        return school_region is not None and is_within(conn, scope.region_code, school_region)
    if scope.role != ROLE_REGION_SUPER:
        return False
    if role == ROLE_REGION_TRAINING:
        return region_code == scope.region_code
    if role == ROLE_REGION_SUPER:
        parent = conn.scalar(select(Region.parent_code).where(Region.code == region_code))
        return parent == scope.region_code
    return False


def admins_in_scope(conn: Connection, scope: Scope, limit: int = 2000) -> list[AdminRow]:
    rc = RegionClosure.__table__.alias("rc")
    sc = RegionClosure.__table__.alias("sc")
    stmt = (
        select(Binding.id, User.name, User.account, Binding.role, Binding.region_code,
               Binding.school_code, Region.name, School.name, School.region_code,
               Binding.contact_phone, Binding.org_title, Binding.created_at)
        .join(User, User.id == Binding.user_id)
        .outerjoin(Region, Region.code == Binding.region_code)
        .outerjoin(School, School.code == Binding.school_code)
        .outerjoin(rc, and_(rc.c.descendant_code == Binding.region_code,
                            rc.c.ancestor_code == scope.region_code))
        .outerjoin(sc, and_(sc.c.descendant_code == School.region_code,
                            sc.c.ancestor_code == scope.region_code))
        .where(Binding.removed_at.is_(None))
        .where(or_(rc.c.ancestor_code.is_not(None), sc.c.ancestor_code.is_not(None)))
        .order_by(Binding.region_code.is_(None), Binding.region_code, Binding.school_code,
                  Binding.id)
        .limit(limit)
    )
    out = []
    for r in conn.execute(stmt):
        out.append(AdminRow(
            binding_id=r[0], user_name=r[1], account=r[2], role=r[3],
            scope_code=r[5] or r[4], scope_name=r[7] or r[6] or "",
            contact_phone=r[9], org_title=r[10], bound_at=r[11],
            removable=r[0] != scope.binding_id and may_manage(conn, scope, r[3], r[4], r[8]),
        ))
    return out


def remove_admin(conn: Connection, scope: Scope, binding_id: int,
                 now: datetime | None = None) -> AdminRow:
    row = conn.execute(
        select(Binding.id, Binding.role, Binding.region_code, Binding.school_code,
               School.region_code, User.name, User.account)
        .join(User, User.id == Binding.user_id)
        .outerjoin(School, School.code == Binding.school_code)
        .where(Binding.id == binding_id, Binding.removed_at.is_(None))
    ).first()
    if row is None or row.id == scope.binding_id or not may_manage(
        conn, scope, row.role, row.region_code, row[4]
    ):
        raise AdminError("无权删除该管理员")
    conn.execute(update(Binding).where(Binding.id == binding_id)
                 .values(removed_at=now or datetime.now(), removed_by=scope.user_id))
    return AdminRow(row.id, row.name, row.account, row.role, row.school_code or row.region_code,
                    "", None, None, now or datetime.now(), False)
