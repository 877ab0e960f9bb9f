"""教师管理 (SPEC §5.2): the certification review of one school's teachers — facets with
counts, the paged list, and 通过 / 不通过 decisions.

Every function takes the school of an already-authorized 学校管理员 scope; a teacher id sent
by the browser is only ever looked up inside that school.

- **Facets** 审核状态, 职称 and 学段: each facet's counts follow the *other* facets' current
  choices (choosing 未审核 changes the 职称 and 学段 counts, not the 审核状态 ones), as on the
  platform's own screen.
- **Decisions** take effect at once here and in the statistics' 未通过认证教师 toggle at the
  next refresh. They are kept with their time, author and reason, so that a re-import of the
  same teachers file never undoes them (the importer's rule, ``importers._Teachers``).
- **Read-only** while the school's 城乡类型 is empty (§5.1): viewing works, deciding does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from . import audit, vocab
from .metrics import MINUTE_TIME
from .models import School, Teacher
from .privacy import mask_account

PAGE_SIZES = (20, 50)
BATCH_MAX = 500
LOCKED_MESSAGE = '请先在【基本管理-学校（机构）信息】中完善"学校所在地城乡类型"'
REASON_MAX = 200
NO_TITLE = "未填写"  # the 职称 facet's value for teachers without one
FACETS = (("status", "审核状态"), ("title", "职称"), ("stage", "学段"))
_COLUMN = {"status": Teacher.cert_status, "title": Teacher.title, "stage": Teacher.stage}
_ALLOWED = {"status": vocab.CERT_STATUSES, "title": (*vocab.TITLES, NO_TITLE),
            "stage": vocab.STAGES}


class CertificationError(ValueError):
    """A refusal with a message fit to show (Chinese)."""


@dataclass(frozen=True)
class CertFilters:
    status: str = ""
    title: str = ""
    stage: str = ""

    def value(self, facet: str) -> str:
        return getattr(self, facet)


def filters_from(status: object = "", title: object = "", stage: object = "") -> CertFilters:
    """The facets' choices from a request; anything not in its list is refused."""
    out = {}
    for facet, raw in (("status", status), ("title", title), ("stage", stage)):
        value = raw if isinstance(raw, str) else None
        if value is None or (value and value not in _ALLOWED[facet]):
            raise CertificationError(f"{dict(FACETS)[facet]}的取值无效")
        out[facet] = value
    return CertFilters(**out)


def _where(stmt, school_code: str, f: CertFilters, skip: str | None = None):
    stmt = stmt.where(Teacher.school_code == school_code)
    for facet, column in _COLUMN.items():
        value = f.value(facet)
        if facet == skip or not value:
            continue
        if facet == "title" and value == NO_TITLE:
            stmt = stmt.where(column.is_(None))
        else:
            stmt = stmt.where(column == value)
    return stmt


def facet_counts(conn: Connection, school_code: str,
                 f: CertFilters) -> dict[str, list[tuple[str, int]]]:
    """For each facet, (value, count) of every value of its list, counted under the other
    facets' choices (values without teachers count 0 and are kept: the choices stay put)."""
    out = {}
    for facet, column in _COLUMN.items():
        stmt = _where(select(column, func.count()), school_code, f, skip=facet).group_by(column)
        found = {(NO_TITLE if value is None and facet == "title" else value): n
                 for value, n in conn.execute(stmt)}
        out[facet] = [(value, int(found.get(value, 0))) for value in _ALLOWED[facet]]
    return out


@dataclass(frozen=True)
class TeacherRow:
    id: int
    account: str  # masked
    name: str
    id_type: str
    id_number: str  # masked as stored
    title: str
    stage: str
    subject: str
    applied_at: str
    status: str
    reason: str  # of a 不通过

    @property
    def pending(self) -> bool:
        return self.status == vocab.CERT_PENDING


#: Columns of the list (SPEC §5.2), with the TeacherRow field of each; 操作 is the screen's.
COLUMNS = (("账号", "account"), ("姓名", "name"), ("证件类型", "id_type"),
           ("证件号码", "id_number"), ("职称", "title"), ("学段", "stage"),
           ("学科领域", "subject"), ("申请时间", "applied_at"), ("审核状态", "status"))
#: The download adds the reason of a 不通过 (on screen, the 审核状态 cell's tooltip).
EXPORT_COLUMNS = (*COLUMNS, ("不通过原因", "reason"))


def _row(r) -> TeacherRow:
    return TeacherRow(
        id=r.id, account=mask_account(r.account), name=r.name, id_type=r.id_type or "",
        id_number=r.id_number_masked or "", title=r.title or "", stage=r.stage,
        subject=r.subject, applied_at=r.applied_at.strftime(MINUTE_TIME) if r.applied_at else "",
        status=r.cert_status,
        reason=(r.decision_reason or "") if r.cert_status == vocab.CERT_REJECTED else "")


_LIST_COLUMNS = (Teacher.id, Teacher.account, Teacher.name, Teacher.id_type,
                 Teacher.id_number_masked, Teacher.title, Teacher.stage, Teacher.subject,
                 Teacher.applied_at, Teacher.cert_status, Teacher.decision_reason)


def count_teachers(conn: Connection, school_code: str, f: CertFilters) -> int:
    return conn.scalar(_where(select(func.count()).select_from(Teacher), school_code, f))


def list_teachers(conn: Connection, school_code: str, f: CertFilters, *, page: int = 1,
                  size: int = 10) -> list[TeacherRow]:
    """One page, the oldest application first (the order a reviewer works through them)."""
    if size not in PAGE_SIZES:
        size = PAGE_SIZES[0]
    page = max(1, page)
    stmt = (_where(select(*_LIST_COLUMNS), school_code, f)
            .order_by(Teacher.applied_at.is_(None), Teacher.applied_at, Teacher.id)
            .limit(size).offset((page - 1) * size))
    return [_row(r) for r in conn.execute(stmt)]


def iter_teachers(conn: Connection, school_code: str, f: CertFilters, batch: int = 2000):
    """Every row of the list in its order, in batches (for the download)."""
    stmt = (_where(select(*_LIST_COLUMNS), school_code, f)
            .order_by(Teacher.applied_at.is_(None), Teacher.applied_at, Teacher.id))
    rows = []
    for r in conn.execute(stmt.execution_options(yield_per=batch)):
        rows.append(_row(r))
        if len(rows) >= batch:
            yield rows
            rows = []
    if rows:
        yield rows


@dataclass(frozen=True)
class Decision:
    status: str  # 已通过 | 未通过
    teachers: int  # how many changed
    unchanged: int  # already so


def decide(conn: Connection, school_code: str, user_id: int, teacher_ids: object,
           passed: bool, reason: object = "", *, actor: str | None = None,
           ip: str | None = None, now: datetime | None = None) -> Decision:
    """通过 / 不通过 for teachers of the school (one, or the selected rows of 批量通过 /
    批量不通过); an optional reason with 不通过. Ids outside the school are refused whole.
    The audit entry is filed under the school's region (its county admins see it)."""
    if isinstance(teacher_ids, list) and len(teacher_ids) > BATCH_MAX:
        raise CertificationError(f"一次最多审核 {BATCH_MAX} 名教师，请分批操作")
    if not isinstance(teacher_ids, list) or not teacher_ids or any(
            not isinstance(i, int) or isinstance(i, bool) or not 0 < i < 2**31
            for i in teacher_ids):
        raise CertificationError("请先选择教师")
    if not isinstance(reason, str) or len(reason.strip()) > REASON_MAX:
        raise CertificationError(f"不通过原因最多 {REASON_MAX} 个字")
    reason = " ".join(reason.split())
    if any(not ch.isprintable() for ch in reason):
        raise CertificationError("不通过原因不能含有控制字符")
    school = conn.execute(select(School.urban_rural, School.region_code)
                          .where(School.code == school_code)).first()
    if school is None or not school.urban_rural:
        raise CertificationError(LOCKED_MESSAGE)
    ids = sorted(set(teacher_ids))
    found = {r.id: r for r in conn.execute(
        select(Teacher.id, Teacher.account, Teacher.cert_status, Teacher.decision_reason)
        .where(Teacher.id.in_(ids), Teacher.school_code == school_code))}
    if len(found) != len(ids):
        raise CertificationError("所选教师不属于本校")
    status = vocab.CERT_PASSED if passed else vocab.CERT_REJECTED
    # A 不通过 with a new reason changes a teacher already 未通过 too.
    changing = [i for i in ids if found[i].cert_status != status or (
        not passed and reason and found[i].decision_reason != reason)]
    now = now or datetime.now().replace(microsecond=0)
    if changing:
        conn.execute(update(Teacher).where(Teacher.id.in_(changing),
                                           Teacher.school_code == school_code)
                     .values(cert_status=status, decided_at=now, decided_by=user_id,
                             decision_reason=None if passed else (reason or None)))
        audit.record(conn, "cert_decision", user_id=user_id, actor=actor,
                     region_code=school.region_code, school_code=school_code, ip=ip, now=now,
                     detail={"status": status, "teachers": len(changing),
                             "accounts": [mask_account(found[i].account) for i in changing],
                             **({"reason": reason} if reason and not passed else {})})
    return Decision(status, len(changing), len(ids) - len(changing))
