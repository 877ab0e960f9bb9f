"""Permission codes (权限码): issue, redeem, revoke, list (SPEC §3).

A code is 140 bits from the OS CSPRNG, written as 7 groups of 4 Crockford base-32 characters
(`K7Q2-…`). Only its SHA-256 is stored (the code itself carries 140 bits of entropy, so a slow
hash adds nothing); it is shown once, at issue time. Redemption is a single conditional UPDATE,
so two concurrent redemptions of one code cannot both succeed; a partial unique index keeps a
school at one 学校管理员 even when two different codes are redeemed at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .accounts import AccountError, grant
from .models import Binding, PermissionCode, Region, School, User
from .regions import get_region
from .rules import administers, in_subtree, is_region_admin, school_admin_bound, school_has_admin
from .scope import Scope
from .vocab import ROLE_REGION_SUPER, ROLE_SCHOOL_ADMIN, ROLES

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
GROUPS, GROUP_LEN = 7, 4
DEFAULT_TTL = timedelta(days=14)

STATUS_UNUSED, STATUS_USED, STATUS_EXPIRED, STATUS_REVOKED = "未使用", "已使用", "已过期", "已撤销"


class CodeError(ValueError):
    """A refusal with a message fit to show to the user."""


def new_code() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN))
    return "-".join(chars[i:i + GROUP_LEN] for i in range(0, len(chars), GROUP_LEN))


def normalize(code: str) -> str:
    text = "".join(c for c in str(code).upper() if c.isalnum())
    return text.translate(str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"}))


def code_hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode("ascii", "ignore")).hexdigest()


# --------------------------------------------------------------------------- the §3 rule


def may_issue(conn: Connection, issuer: Scope | None, role: str, target: str) -> None:
    """Raise CodeError unless `issuer` (None = platform operator) may issue `role` for
    `target` (a region code, or a school code for school_admin): the §3 rule, plus one
    学校管理员 per school and no second open code for it."""
    if role not in ROLES:
        raise CodeError("未知的角色")
    if role == ROLE_SCHOOL_ADMIN:
        region = conn.scalar(
            select(School.region_code).where(School.code == target, School.deleted_at.is_(None)))
        if region is None:
            raise CodeError("学校不存在")
        if not administers(conn, issuer, role, region):
            raise CodeError("只能为本辖区内的学校生成学校管理员权限码")
        if school_has_admin(conn, target):
            raise CodeError("该学校已有学校管理员；如需更换，请先在管理员列表中删除原管理员")
        if _open_code_exists(conn, ROLE_SCHOOL_ADMIN, school_code=target):
            raise CodeError("该学校已有未使用的权限码，如需重新生成请先撤销")
        return
    if get_region(conn, target) is None:
        raise CodeError("区域不存在")
    if administers(conn, issuer, role, target):
        return
    if not is_region_admin(issuer) or issuer.role != ROLE_REGION_SUPER:
        raise CodeError("只有区域超级管理员可以生成区域管理员权限码")
    raise CodeError("超级管理员只能生成本级专项管理员和直属下一级区域超级管理员的权限码")


def _open_code_exists(conn: Connection, role: str, school_code: str) -> bool:
    now = datetime.now()
    return conn.scalar(
        select(PermissionCode.id).where(
            PermissionCode.role == role,
            PermissionCode.school_code == school_code,
            PermissionCode.redeemed_at.is_(None),
            PermissionCode.revoked_at.is_(None),
            PermissionCode.expires_at > now,
        )
    ) is not None


@dataclass(frozen=True)
class IssuedCode:
    id: int
    code: str  # shown once
    role: str
    target: str
    expires_at: datetime


def issue(conn: Connection, issuer: Scope | None, role: str, target: str, *,
          ttl: timedelta = DEFAULT_TTL, now: datetime | None = None) -> IssuedCode:
    may_issue(conn, issuer, role, target)
    now = now or datetime.now()
    code = new_code()
    is_school = role == ROLE_SCHOOL_ADMIN
    cid = conn.execute(
        insert(PermissionCode).values(
            code_hash=code_hash(code),
            hint=code[-GROUP_LEN:],
            role=role,
            region_code=None if is_school else target,
            school_code=target if is_school else None,
            issued_by=issuer.user_id if issuer else None,
            issued_scope=(issuer.region_code or issuer.school_code) if issuer else "platform",
            issued_at=now,
            expires_at=now + ttl,
        ).returning(PermissionCode.id)
    ).scalar_one()
    return IssuedCode(cid, code, role, target, now + ttl)


# --------------------------------------------------------------------------- redeeming


@dataclass(frozen=True)
class Redeemed:
    code_id: int
    binding_id: int
    role: str
    region_code: str | None
    school_code: str | None


def redeem(conn: Connection, user_id: int, code: str, *, contact_name: str,
           contact_phone: str, org_title: str, now: datetime | None = None) -> Redeemed:
    """Bind the user with the code's role and scope. Single use, even under concurrency."""
    now = now or datetime.now()
    digest = code_hash(code)
    row = conn.execute(
        select(PermissionCode.id, PermissionCode.role, PermissionCode.region_code,
               PermissionCode.school_code, PermissionCode.redeemed_at,
               PermissionCode.revoked_at, PermissionCode.expires_at)
        .where(PermissionCode.code_hash == digest)
    ).first()
    if row is None or row.redeemed_at is not None:
        raise CodeError("权限码无效或已被使用")
    if row.revoked_at is not None:
        raise CodeError("权限码已被撤销")
    if row.expires_at <= now:
        raise CodeError("权限码已过期，请联系上级管理员重新生成")
    claimed = conn.execute(
        update(PermissionCode)
        .where(PermissionCode.id == row.id, PermissionCode.redeemed_at.is_(None),
               PermissionCode.revoked_at.is_(None), PermissionCode.expires_at > now)
        .values(redeemed_by=user_id, redeemed_at=now)
    ).rowcount
    if claimed != 1:
        raise CodeError("权限码无效或已被使用")
    target = row.school_code if row.role == ROLE_SCHOOL_ADMIN else row.region_code
    try:
        binding_id = grant(conn, user_id, row.role, target, code_id=row.id,
                           contact_name=contact_name, contact_phone=contact_phone,
                           org_title=org_title)
    except (AccountError, IntegrityError) as exc:
        raise CodeError("该学校已有学校管理员，权限码不可用") from exc
    return Redeemed(row.id, binding_id, row.role, row.region_code, row.school_code)


@dataclass(frozen=True)
class RevokedCode:
    id: int
    role: str
    region_code: str | None
    school_code: str | None


def revoke(conn: Connection, issuer: Scope | None, code_id: int,
           now: datetime | None = None) -> RevokedCode:
    """Revoke an unused code; only who may issue it may revoke it (§3)."""
    row = conn.execute(
        select(PermissionCode.id, PermissionCode.role, PermissionCode.region_code,
               PermissionCode.school_code, School.region_code.label("school_region"),
               PermissionCode.redeemed_at, PermissionCode.revoked_at)
        .outerjoin(School, School.code == PermissionCode.school_code)
        .where(PermissionCode.id == code_id)
    ).first()
    if row is None:
        raise CodeError("权限码不存在")
    target_region = row.school_region if row.school_code else row.region_code
    if not administers(conn, issuer, row.role, target_region):
        raise CodeError("无权撤销该权限码：只能撤销本账号有权生成的权限码")
    if row.redeemed_at is not None:
        raise CodeError("权限码已被使用，不能撤销；如需取消权限请在管理员列表中删除")
    if row.revoked_at is None:
        conn.execute(update(PermissionCode).where(PermissionCode.id == code_id)
                     .values(revoked_at=now or datetime.now()))
    return RevokedCode(row.id, row.role, row.region_code, row.school_code)


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class CodeRow:
    id: int
    hint: str
    role: str
    target_code: str
    target_name: str
    issued_at: datetime
    expires_at: datetime
    status: str
    redeemed_by_name: str | None
    redeemed_by_account: str | None  # raw; callers mask it
    redeemed_at: datetime | None
    revocable: bool  # unused, and the scope may issue (hence revoke) it


def status_of(redeemed_at, revoked_at, expires_at, now: datetime) -> str:
    if redeemed_at is not None:
        return STATUS_USED
    if revoked_at is not None:
        return STATUS_REVOKED
    if expires_at <= now:
        return STATUS_EXPIRED
    return STATUS_UNUSED


def codes_in_scope(conn: Connection, scope: Scope, now: datetime | None = None,
                   limit: int = 500) -> list[CodeRow]:
    """Codes whose target lies in the scope's subtree, newest first."""
    now = now or datetime.now()
    redeemer = Binding.__table__.alias("rb")
    stmt = (
        select(PermissionCode.id, PermissionCode.hint, PermissionCode.role,
               PermissionCode.region_code, PermissionCode.school_code,
               Region.name.label("region_name"), School.name.label("school_name"),
               School.region_code.label("school_region"),
               PermissionCode.issued_at, PermissionCode.expires_at, PermissionCode.redeemed_at,
               PermissionCode.revoked_at,
               func.coalesce(redeemer.c.contact_name, User.name).label("redeemer_name"),
               User.account.label("redeemer_account"))
        .outerjoin(Region, Region.code == PermissionCode.region_code)
        .outerjoin(School, School.code == PermissionCode.school_code)
        .outerjoin(User, User.id == PermissionCode.redeemed_by)
        .outerjoin(redeemer, redeemer.c.code_id == PermissionCode.id)
        .where(or_(in_subtree(scope.region_code, PermissionCode.region_code),
                   in_subtree(scope.region_code, School.region_code)))
        .order_by(PermissionCode.issued_at.desc(), PermissionCode.id.desc())
        .limit(limit)
    )
    out = []
    for r in conn.execute(stmt):
        status = status_of(r.redeemed_at, r.revoked_at, r.expires_at, now)
        target_region = r.school_region if r.school_code else r.region_code
        out.append(CodeRow(
            r.id, r.hint, r.role, r.school_code or r.region_code,
            r.school_name or r.region_name or "", r.issued_at, r.expires_at, status,
            r.redeemer_name, r.redeemer_account, r.redeemed_at,
            status == STATUS_UNUSED and administers(conn, scope, r.role, target_region)))
    return out


def school_candidates(conn: Connection, region_code: str, query: str = "",
                      limit: int = 50) -> list[tuple[str, str]]:
    """Schools in the region's subtree without a 学校管理员, matching a name/code fragment."""
    stmt = (
        select(School.code, School.name)
        .where(in_subtree(region_code, School.region_code), School.deleted_at.is_(None),
               ~school_admin_bound(School.code))
        .order_by(School.name, School.code)
        .limit(limit)
    )
    query = (query or "").strip()[:40]
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(or_(School.name.like(f"%{escaped}%", escape="\\"),
                              School.code.like(f"{escaped}%", escape="\\")))
    return [(c, n) for c, n in conn.execute(stmt)]
