"""The audit log: who did what, when, over which scope. No raw personal data is written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, insert, or_, select

from .models import AuditLog, Region, RegionClosure, School


def record(
    conn: Connection,
    action: str,
    *,
    user_id: int | None = None,
    actor: str | None = None,
    region_code: str | None = None,
    school_code: str | None = None,
    detail: dict | None = None,
    ip: str | None = None,
    outcome: str = "ok",
    now: datetime | None = None,
) -> None:
    conn.execute(
        insert(AuditLog).values(
            at=now or datetime.now(),
            user_id=user_id,
            actor=actor,
            action=action,
            scope_region=region_code,
            scope_school=school_code,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
            ip=ip,
            outcome=outcome,
        )
    )


ACTION_LABELS = {
    "login": "登录",
    "register": "注册",
    "user_create": "创建用户",
    "grant": "授权",
    "code_issue": "生成权限码",
    "code_redeem": "绑定权限码",
    "code_revoke": "撤销权限码",
    "admin_remove": "删除管理员",
    "export": "导出",
    "export_denied": "拒绝导出",
    "export_download": "下载导出文件",
    "denied": "拒绝访问",
    "scope_switch": "切换管理范围",
}
OUTCOME_LABELS = {"ok": "成功", "failed": "失败", "denied": "拒绝", "limited": "限流"}


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    scope_name: str
    detail: str
    outcome: str


def entries_in_scope(conn: Connection, region_code: str, limit: int = 1000) -> list[AuditRow]:
    """Audit entries about the region's subtree (its regions and their schools), newest first."""
    rc = RegionClosure.__table__.alias("rc")
    sc = RegionClosure.__table__.alias("sc")
    stmt = (
        select(AuditLog.at, AuditLog.actor, AuditLog.action, Region.name, School.name,
               AuditLog.detail, AuditLog.outcome)
        .outerjoin(Region, Region.code == AuditLog.scope_region)
        .outerjoin(School, School.code == AuditLog.scope_school)
        .outerjoin(rc, and_(rc.c.descendant_code == AuditLog.scope_region,
                            rc.c.ancestor_code == region_code))
        .outerjoin(sc, and_(sc.c.descendant_code == School.region_code,
                            sc.c.ancestor_code == region_code))
        .where(or_(rc.c.ancestor_code.is_not(None), sc.c.ancestor_code.is_not(None)))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    return [
        AuditRow(r[0], r[1] or "", ACTION_LABELS.get(r[2], r[2]), r[4] or r[3] or "",
                 r[5] or "", OUTCOME_LABELS.get(r[6], r[6]))
        for r in conn.execute(stmt)
    ]
