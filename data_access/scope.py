"""Scope rules: what an active binding may see. Deny by default.

`Scope` is built on the server from the session's active binding; nothing the browser sends
is trusted. Every query function receives an already-authorized region, school or training.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, select

from .accounts import BindingRow, active_bindings
from .models import School
from .regions import RegionRow, get_region, is_within
from .rules import is_region_admin
from .trainings import TrainingRow, training_by_code
from .vocab import ROLE_SCHOOL_ADMIN

CODE_RE = re.compile(r"^[0-9A-Za-z]{1,40}$")
# 学校标识码 are imported as free text (e.g. `S-XY-1`): anything printable without spaces.
SCHOOL_CODE_RE = re.compile(r"^[^\x00-\x20\x7f]{1,40}$")


class ScopeDenied(PermissionError):
    """The request names something outside the caller's scope, or something malformed."""


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class Scope:
    user_id: int
    binding_id: int
    role: str
    region_code: str | None  # region roles
    school_code: str | None  # school_admin
    name: str  # the scope's display name

    @property
    def is_school(self) -> bool:
        return self.role == ROLE_SCHOOL_ADMIN


def scope_of(conn: Connection, user_id: int, binding_id: int | None) -> Scope | None:
    """The scope of the session's active binding, re-read on every request so that a removed
    binding or a moved school takes effect at once."""
    if binding_id is None:
        return None
    for b in active_bindings(conn, user_id):
        if b.id == binding_id:
            return _scope_from(b)
    return None


def _scope_from(b: BindingRow) -> Scope:
    return Scope(b.user_id, b.id, b.role, b.region_code, b.school_code, b.scope_name)


def _valid_code(value: object) -> str:
    if not isinstance(value, str) or not CODE_RE.match(value):
        raise ScopeDenied("malformed code")
    return value


def authorize_region(conn: Connection, scope: Scope, requested: object = None) -> RegionRow:
    """The region to show: the scope's own region when nothing (or '') is requested, else the
    requested one if it lies inside the scope."""
    if not is_region_admin(scope):
        raise ScopeDenied("a school scope has no region view")
    if requested in (None, ""):
        code = scope.region_code
    else:
        code = _valid_code(requested)
        if not is_within(conn, scope.region_code, code):
            raise ScopeDenied("region outside scope")
    region = get_region(conn, code)
    if region is None:
        raise ScopeDenied("unknown region")
    return region


def authorize_school(conn: Connection, scope: Scope, requested: object = None) -> str:
    """A school code the scope may see: its own school, or any school in its region subtree."""
    if scope.is_school:
        if requested not in (None, "", scope.school_code):
            raise ScopeDenied("school outside scope")
        return scope.school_code
    if not isinstance(requested, str) or not SCHOOL_CODE_RE.match(requested):
        raise ScopeDenied("malformed school code")
    code = requested
    region = conn.scalar(
        select(School.region_code).where(School.code == code, School.deleted_at.is_(None))
    )
    if region is None or not is_within(conn, scope.region_code, region):
        raise ScopeDenied("school outside scope")
    return code


def authorize_training(conn: Connection, scope: Scope, requested: object) -> TrainingRow:
    """Trainings are platform-wide: every admin sees every training, only within their scope."""
    if not isinstance(requested, str) or not CODE_RE.match(requested):
        raise NotFound("unknown training")
    training = training_by_code(conn, requested)
    if training is None:
        raise NotFound("unknown training")
    return training


def valid_id(value: object) -> int | None:
    """A database id sent by the browser: a positive int (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        return None
    return value
