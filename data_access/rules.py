"""The scope rules several modules share, each written once (SPEC §3).

- `is_region_admin`: "region admins only" — the screens, callbacks, downloads and scope
  checks reserved to region roles all ask this.
- `in_subtree`: "inside this region's subtree", as a SQL condition on a region-code column.
- `current_school_admin` / `school_admin_bound` / `school_has_admin`: "this school already
  has a 学校管理员".
- `administers`: who may create (issue a code for) and cancel (revoke it, remove the binding)
  which admin binding.

Nothing here reads the session: callers pass a `Scope` built on the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, and_, select

from .models import Binding, Region, RegionClosure
from .regions import is_within
from .vocab import ROLE_REGION_SUPER, ROLE_REGION_TRAINING, ROLE_SCHOOL_ADMIN, ROLES

if TYPE_CHECKING:  # scope.py imports accounts.py, which uses the rules below
    from .scope import Scope

REGION_ROLES = frozenset({ROLE_REGION_SUPER, ROLE_REGION_TRAINING})
SCHOOL_ROLES = frozenset({ROLE_SCHOOL_ADMIN})


def is_region_admin(scope: "Scope | None") -> bool:
    """An active binding of a region role over a region."""
    return scope is not None and scope.role in REGION_ROLES and scope.region_code is not None


def in_subtree(region_code: str, column):
    """SQL: `column` (a region code) is `region_code` or lies below it."""
    return column.in_(select(RegionClosure.descendant_code)
                      .where(RegionClosure.ancestor_code == region_code))


def current_school_admin():
    """SQL: a `bindings` row is a current 学校管理员 binding (at most one per school)."""
    return and_(Binding.role == ROLE_SCHOOL_ADMIN, Binding.removed_at.is_(None))


def school_admin_bound(school_code):
    """SQL EXISTS: the school (a code or a column) has a current 学校管理员 binding."""
    return (select(Binding.id)
            .where(Binding.school_code == school_code, current_school_admin())
            .exists())


def school_has_admin(conn: Connection, school_code: str) -> bool:
    return bool(conn.scalar(select(school_admin_bound(school_code))))


def administers(conn: Connection, scope: "Scope | None", role: str,
                target_region: str | None) -> bool:
    """SPEC §3's table: whether `scope` (None = the platform operator) administers the
    bindings of `role` over a target lying in `target_region` (the region itself for region
    roles, the school's region for 学校管理员).

    The one rule behind issuing a code, revoking one and removing an admin: whoever may
    create a binding may cancel it, and nobody else."""
    if role not in ROLES or target_region is None:
        return False
    if scope is None:
        return True
    if not is_region_admin(scope):
        return False
    if role == ROLE_SCHOOL_ADMIN:
        return is_within(conn, scope.region_code, target_region)
    if scope.role != ROLE_REGION_SUPER:
        return False
    if role == ROLE_REGION_TRAINING:
        return target_region == scope.region_code
    parent = conn.scalar(select(Region.parent_code).where(Region.code == target_region))
    return parent is not None and parent == scope.region_code
