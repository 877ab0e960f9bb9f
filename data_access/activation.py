"""激活进度 (SPEC §4.3, definitions in §2): how far a region's admin accounts are opened.

Computed **live** from the base tables — schools, the region closure and the current
bindings — never from the nightly snapshot, so a code redeemed a minute ago already counts.
Every function takes an already-authorized region (``scope.authorize_region``).

Definitions, for a region R (SPEC §2):

- 学校总数: the schools of R's subtree that are not deleted;
- 学校激活数: those of them with a current (not removed) 学校管理员 binding;
- 区域总数: the regions of R's subtree below R (R itself excluded);
- 区域激活数: those of them with at least one current region-admin binding
  (区域超级管理员 or 区域教师研修管理员) on the region itself;
- 学校管理员覆盖区域数: the regions below R whose subtree holds at least one activated
  school;
- 学校激活进度 = 学校激活数 / 学校总数 and 区域激活进度 = 区域激活数 / 区域总数, one decimal
  rounded half-up (``83.8%``); a zero denominator is ``--``.

Cost: the table is one statement (plus the school list at a region without child regions):
one pass over the subtree's not-deleted schools with their current 学校管理员, both read from
indexes alone (``ix_schools_region_live``, ``ix_bindings_school``; migration 0009), rolled up
to R and its children through the closure table — whatever the depth of the tree. A
未激活学校 page is a count and a page of the same anti-join, in index order (no sort).
At province scale (≈10k schools) each pass takes a few milliseconds (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, case, exists, func, literal, or_, select, tuple_

from . import metrics
from .models import Binding, PermissionCode, Region, RegionClosure, School, User
from .privacy import mask_phone
from .regions import RegionRow
from .rules import REGION_ROLES, current_school_admin
from .stats import DIRECT_SCHOOLS_LABEL
from .text import has_control_characters
from .vocab import ROLE_SCHOOL_ADMIN

# A ratio with a zero denominator on this screen (SPEC §4.3 writes `--`, not the `—` of the
# statistics: the manual's 激活进度 screen shows it so).
NO_RATIO = "--"
ACTIVATED, NOT_ACTIVATED = "已激活", "未激活"

ROW_CURRENT, ROW_DIRECT, ROW_REGION, ROW_SCHOOL = "current", "direct", "region", "school"

PAGE_SIZES = (10, 20, 50)
DEFAULT_PAGE_SIZE = 10
QUERY_MAX = 40


def ratio(numerator: int, denominator: int) -> str:
    """`83.8%` (one decimal, half-up), or `--` for a zero denominator."""
    return metrics.percent(numerator, denominator, 1) if denominator else NO_RATIO


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class ActivationCounts:
    schools: int  # 学校总数
    activated: int  # 学校激活数
    regions: int | None = None  # 区域总数; None on the 直属学校 row
    regions_activated: int | None = None  # 区域激活数
    covered: int | None = None  # 学校管理员覆盖区域数


@dataclass(frozen=True)
class ActivationRow:
    """One row of the 激活进度 table.

    ``kind``: current (the region itself), direct (its 直属学校), region (a child region, a
    drill-down link) or school (at a region without child regions)."""

    kind: str
    code: str  # region code; school code for a school row; the region's code for 直属学校
    name: str
    counts: ActivationCounts | None = None  # None on school rows
    admin_name: str | None = None  # school rows: the 学校管理员, None when not activated
    admin_phone: str | None = None  # masked

    @property
    def activated(self) -> bool:
        return self.admin_name is not None

    @property
    def drillable(self) -> bool:
        return self.kind == ROW_REGION


@dataclass(frozen=True)
class ActivationTable:
    region: RegionRow
    rows: list[ActivationRow]  # the current region first
    schools_as_rows: bool  # a region without child regions: the rows after the first are schools


def _current_school_admin():
    """Join condition of a school's current 学校管理员 binding (at most one: a partial unique
    index keeps it so); answered from ``ix_bindings_school`` alone."""
    return and_(Binding.school_code == School.code, current_school_admin())


def _school_admins():
    """The school codes of the current 学校管理员 bindings, as a CTE to join the schools with.

    PostgreSQL misjudges how many schools a subtree holds (the closure table knows every
    region of the catalogue) and would look up each school's admin by index: 24 ms for a
    province's 10,000 schools, against 13 ms for one pass over the current admins hashed,
    which MATERIALIZED makes it take. SQLite reads the CTE as the plain join it stands for."""
    return (select(Binding.school_code).where(current_school_admin())
            .cte("school_admins").prefix_with("MATERIALIZED", dialect="postgresql"))


def _table_statement(region_code: str):
    """One statement for the whole table: a row per head — the region R and each child —
    with its school and region columns and its own schools' counts (the 直属学校 row).

    - ``own``: per region of R's subtree, its not-deleted schools and how many have a
      current 学校管理员 — the one pass over the subtree's schools (index-only through
      ``ix_schools_region_live``, joined with ``school_admins``);
    - ``school_cols``: ``own`` rolled up to each head through the closure table;
    - ``region_cols``: per head, the closure rows below it, those with a current region
      admin on the region itself, and those whose own subtree holds a region of ``own``
      with an activated school.
    """
    heads = (select(Region.code, Region.name)
             .where(or_(Region.code == region_code, Region.parent_code == region_code))
             .cte("heads"))
    within = RegionClosure.__table__.alias("within_r")
    admins = _school_admins()
    own = (
        select(within.c.descendant_code.label("region_code"),
               func.count().label("schools"),
               func.count(admins.c.school_code).label("activated"))
        .select_from(within)
        .join(School, and_(School.region_code == within.c.descendant_code,
                           School.deleted_at.is_(None)))
        .outerjoin(admins, admins.c.school_code == School.code)
        .where(within.c.ancestor_code == region_code)
        .group_by(within.c.descendant_code)
        .cte("own")
    )
    up = RegionClosure.__table__.alias("up")
    school_cols = (
        select(up.c.ancestor_code.label("head"),
               func.sum(own.c.schools).label("schools"),
               func.sum(own.c.activated).label("activated"),
               func.sum(case((up.c.depth == 0, own.c.schools), else_=0)).label("direct"),
               func.sum(case((up.c.depth == 0, own.c.activated), else_=0))
               .label("direct_activated"))
        .join(own, own.c.region_code == up.c.descendant_code)
        .where(up.c.ancestor_code.in_(select(heads.c.code)))
        .group_by(up.c.ancestor_code)
        .cte("school_cols")
    )
    below = RegionClosure.__table__.alias("below")
    region_admin = exists().where(
        Binding.region_code == below.c.descendant_code, Binding.role.in_(sorted(REGION_ROLES)),
        Binding.removed_at.is_(None))
    holder = RegionClosure.__table__.alias("holder")
    covered = exists().where(holder.c.ancestor_code == below.c.descendant_code,
                             own.c.region_code == holder.c.descendant_code,
                             own.c.activated > 0)
    region_cols = (
        select(below.c.ancestor_code.label("head"),
               func.count().label("regions"),
               func.sum(case((region_admin, 1), else_=0)).label("regions_activated"),
               func.sum(case((covered, 1), else_=0)).label("covered"))
        .where(below.c.ancestor_code.in_(select(heads.c.code)), below.c.depth > 0)
        .group_by(below.c.ancestor_code)
        .cte("region_cols")
    )
    return (
        select(heads.c.code, heads.c.name,
               school_cols.c.schools, school_cols.c.activated, school_cols.c.direct,
               school_cols.c.direct_activated,
               region_cols.c.regions, region_cols.c.regions_activated, region_cols.c.covered)
        .outerjoin(school_cols, school_cols.c.head == heads.c.code)
        .outerjoin(region_cols, region_cols.c.head == heads.c.code)
        .order_by(case((heads.c.code == region_code, 0), else_=1), heads.c.code)
    )


def activation_table(conn: Connection, region: RegionRow) -> ActivationTable:
    """The current region, its 直属学校 row (when it has direct schools), its child regions in
    code order; at a region without child regions, its schools in code order."""
    heads = conn.execute(_table_statement(region.code)).all()
    rows = []
    direct = None
    for h in heads:
        counts = ActivationCounts(int(h.schools or 0), int(h.activated or 0),
                                  int(h.regions or 0), int(h.regions_activated or 0),
                                  int(h.covered or 0))
        if h.code == region.code:
            rows.append(ActivationRow(ROW_CURRENT, region.code, region.name, counts))
            if h.direct:
                direct = ActivationRow(ROW_DIRECT, region.code, DIRECT_SCHOOLS_LABEL,
                                       ActivationCounts(int(h.direct),
                                                        int(h.direct_activated or 0)))
        else:
            rows.append(ActivationRow(ROW_REGION, h.code, h.name, counts))
    if len(rows) == 1:
        rows.extend(school_rows(conn, region.code))
        return ActivationTable(region, rows, True)
    if direct is not None:
        rows.insert(1, direct)
    return ActivationTable(region, rows, False)


def school_rows(conn: Connection, region_code: str) -> list[ActivationRow]:
    """The (not deleted) schools attached to the region, in code order, with their
    学校管理员's name and masked phone (the contact given at binding, else the account's)."""
    stmt = (
        select(School.code, School.name, Binding.id,
               func.coalesce(Binding.contact_name, User.name),
               func.coalesce(Binding.contact_phone, User.phone))
        .outerjoin(Binding, _current_school_admin())
        .outerjoin(User, User.id == Binding.user_id)
        .where(School.region_code == region_code, School.deleted_at.is_(None))
        .order_by(School.code)
    )
    return [
        ActivationRow(ROW_SCHOOL, code, name,
                      admin_name=(admin or "") if binding is not None else None,
                      admin_phone=mask_phone(phone) if binding is not None else None)
        for code, name, binding, admin, phone in conn.execute(stmt)
    ]


# --------------------------------------------------------------------------- display records

# The table's columns after 区域 (SPEC §4.3, in order), with the record field of each.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("学校激活进度", "school_rate"),
    ("学校总数", "schools"),
    ("学校激活数", "activated"),
    ("区域激活进度", "region_rate"),
    ("区域总数", "regions"),
    ("区域激活数", "regions_activated"),
    ("学校管理员覆盖区域数", "covered"),
)
# At a region without child regions, the columns of its school rows.
SCHOOL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("学校名称", "name"),
    ("学校标识码", "code"),
    ("是否激活", "status"),
    ("学校管理员", "admin_name"),
    ("联系电话", "admin_phone"),
)


def _count(value: int | None) -> str:
    return NO_RATIO if value is None else str(value)


def region_record(row: ActivationRow) -> dict:
    """A region-type row (current, direct, child) as the grid shows it and the download
    writes it (the grid sorts the displayed numbers, `--` last)."""
    c = row.counts
    has_regions = c.regions is not None
    return {
        "row_id": f"{row.kind}:{row.code}",
        "kind": row.kind,
        "code": row.code if row.kind == ROW_REGION else "",
        "name": row.name,
        "school_rate": ratio(c.activated, c.schools),
        "schools": str(c.schools),
        "activated": str(c.activated),
        "region_rate": ratio(c.regions_activated, c.regions) if has_regions else NO_RATIO,
        "regions": _count(c.regions),
        "regions_activated": _count(c.regions_activated),
        "covered": _count(c.covered),
    }


def school_record(row: ActivationRow) -> dict:
    return {
        "row_id": f"school:{row.code}",
        "kind": ROW_SCHOOL,
        "code": row.code,
        "name": row.name,
        "status": ACTIVATED if row.activated else NOT_ACTIVATED,
        "admin_name": row.admin_name or "",
        "admin_phone": row.admin_phone or "",
    }


def table_records(table: ActivationTable) -> tuple[list[dict], list[dict]]:
    """(region-type records, school records): the rows the screen shows and the download
    writes, in order."""
    regions = [region_record(r) for r in table.rows if r.kind != ROW_SCHOOL]
    schools = [school_record(r) for r in table.rows if r.kind == ROW_SCHOOL]
    return regions, schools


# --------------------------------------------------------------------------- 未激活学校


def clean_query(query: object) -> str:
    """The search term as used: text only, stripped, at most QUERY_MAX characters, '' when it
    holds control characters (a hostile or garbled request finds nothing special)."""
    if not isinstance(query, str):
        return ""
    query = query.strip()[:QUERY_MAX]
    return "" if has_control_characters(query) else query


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _unactivated_select(region_code: str, query: str, *columns):
    """Schools of the subtree, not deleted, without a current 学校管理员 (an anti-join),
    matching the search: a fragment of the 学校名称 anywhere, or the start of the
    学校标识码 — letters compared case-insensitively on both databases."""
    admins = _school_admins()
    stmt = (
        select(*columns)
        .select_from(RegionClosure)
        .join(School, and_(School.region_code == RegionClosure.descendant_code,
                           School.deleted_at.is_(None)))
        .outerjoin(admins, admins.c.school_code == School.code)
        .where(RegionClosure.ancestor_code == region_code, admins.c.school_code.is_(None))
    )
    query = clean_query(query)
    if query:
        escaped = _escape_like(query.lower())
        stmt = stmt.where(or_(func.lower(School.name).like(f"%{escaped}%", escape="\\"),
                              func.lower(School.code).like(f"{escaped}%", escape="\\")))
    return stmt


def count_unactivated(conn: Connection, region: RegionRow, query: str = "") -> int:
    return int(conn.scalar(_unactivated_select(region.code, query, func.count())) or 0)


@dataclass(frozen=True)
class UnactivatedSchool:
    code: str
    name: str
    region_code: str
    region_path: str  # `福建省/莆田市/仙游县`
    kind: str  # 机构类型


@dataclass(frozen=True)
class UnactivatedPage:
    rows: list[UnactivatedSchool]
    total: int
    page: int  # 1-based, clamped to the last page
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def valid_page(page: object, size: object) -> tuple[int, int]:
    """A page number and size from the browser: anything odd becomes page 1, 10 rows."""
    size = size if isinstance(size, int) and not isinstance(size, bool) and size in PAGE_SIZES \
        else DEFAULT_PAGE_SIZE
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        page = 1
    return min(page, 10**7), size


# The closure's descendant is the school's region: ordering by it lets both databases walk
# the closure and ix_schools_region_live in order, with no sort.
_ORDER = (RegionClosure.descendant_code, School.code)


def unactivated_page(conn: Connection, region: RegionRow, query: str = "", page: int = 1,
                     size: int = DEFAULT_PAGE_SIZE) -> UnactivatedPage:
    """One page of the 未激活学校 of the region's subtree, ordered by region code then
    学校标识码 (a county's schools together); a page beyond the last shows the last."""
    page, size = valid_page(page, size)
    total = count_unactivated(conn, region, query)
    last = max(1, -(-total // size))
    page = min(page, last)
    stmt = (_unactivated_select(region.code, query, School.code, School.name,
                                School.region_code, School.kind)
            .order_by(*_ORDER).limit(size).offset((page - 1) * size))
    raw = conn.execute(stmt).all()
    return UnactivatedPage(_with_paths(conn, raw), total, page, size)


def iter_unactivated(conn: Connection, region: RegionRow, query: str = "",
                     batch: int = 2000) -> Iterator[UnactivatedSchool]:
    """Every 未激活学校 of the subtree in page order, read in keyset batches (downloads)."""
    after: tuple[str, str] | None = None
    while True:
        stmt = _unactivated_select(region.code, query, School.code, School.name,
                                   School.region_code, School.kind)
        if after is not None:
            stmt = stmt.where(tuple_(School.region_code, School.code)
                              > tuple_(literal(after[0]), literal(after[1])))
        raw = conn.execute(stmt.order_by(*_ORDER).limit(batch)).all()
        if not raw:
            return
        yield from _with_paths(conn, raw)
        if len(raw) < batch:
            return
        after = (raw[-1].region_code, raw[-1].code)


def _with_paths(conn: Connection, raw) -> list[UnactivatedSchool]:
    paths = region_paths(conn, {r.region_code for r in raw})
    return [UnactivatedSchool(r.code, r.name, r.region_code, paths.get(r.region_code, ""),
                              r.kind) for r in raw]


def region_paths(conn: Connection, codes: set[str]) -> dict[str, str]:
    """`福建省/三明市/宁化县` for each region code, in one statement."""
    if not codes:
        return {}
    rows = conn.execute(
        select(RegionClosure.descendant_code, Region.name)
        .join(Region, Region.code == RegionClosure.ancestor_code)
        .where(RegionClosure.descendant_code.in_(sorted(codes)))
        .order_by(RegionClosure.descendant_code, RegionClosure.depth.desc())
    )
    parts: dict[str, list[str]] = {}
    for code, name in rows:
        parts.setdefault(code, []).append(name)
    return {code: "/".join(names) for code, names in parts.items()}


# The 未激活学校 list's columns (SPEC §4.3), with the record field of each.
UNACTIVATED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("学校名称", "name"),
    ("学校标识码", "code"),
    ("所在区域", "region_path"),
    ("机构类型", "kind"),
)


def unactivated_record(s: UnactivatedSchool) -> dict:
    return {"row_id": s.code, "code": s.code, "name": s.name, "region_path": s.region_path,
            "kind": s.kind}


def schools_with_open_code(conn: Connection, school_codes: list[str],
                           now: datetime | None = None) -> set[str]:
    """Those of the schools (a page of the list) with an unused, unexpired, unrevoked
    学校管理员 code: a second one cannot be issued until it is revoked (SPEC §3)."""
    if not school_codes:
        return set()
    now = now or datetime.now()
    return {code for (code,) in conn.execute(
        select(PermissionCode.school_code).where(
            PermissionCode.school_code.in_(school_codes),
            PermissionCode.role == ROLE_SCHOOL_ADMIN,
            PermissionCode.redeemed_at.is_(None),
            PermissionCode.revoked_at.is_(None),
            PermissionCode.expires_at > now,
        ))}
