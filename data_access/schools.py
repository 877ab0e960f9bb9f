"""学校管理 (SPEC §4.4): the schools of a scope — list, add, edit, soft delete, 调整隶属.

Every function takes an already-built :class:`~data_access.scope.Scope` and checks the school
or region it is asked about against it (a school code or region code is only ever a
*request*). Field values are checked by :mod:`data_access.school_fields`, the same rules as
the `schools` importer. Every change is written to the audit log in the same transaction,
with the old and the new values (personal data masked).

Transfer rule (§4.4): an admin of a province or a prefecture (city) moves schools between the
regions below its own region — a city admin between its counties (and zones), a province
admin between its cities, which includes any county of the province, since a school of a
city lies in one of its counties. Both the school's current region and the target lie
*strictly* below the admin's region: the admin's own 直属学校 are not moved, and no school is
moved up to become one. Admins of a county or a zone cannot transfer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import audit, school_fields, vocab
from .models import Binding, PermissionCode, Region, School, User
from .privacy import mask_name, mask_phone
from .regions import ancestor_chains, get_region, is_within
from .rules import current_school_admin, in_subtree, is_region_admin
from .scope import CODE_RE, Scope, ScopeDenied, authorize_school
from .text import has_control_characters

PAGE_SIZES = (20, 50, 100)
QUERY_MAX = 40
EXPORT_BATCH = 2000
UNFILLED = "未填写"  # the 城乡类型 filter value for schools that have none yet
ACTIVATED, NOT_ACTIVATED = "已激活", "未激活"
TRANSFER_KINDS = ("province", "prefecture")

#: Fields of the form, in order. The code is given once, at creation; the region is chosen
#: at creation and changed afterwards only by 调整隶属.
FORM_FIELDS = ("code", "name", "region_code", "kind", "urban_rural", "address", "phone",
               "principal")
EDITABLE = ("name", "kind", "urban_rural", "address", "phone", "principal")
#: Fields that hold personal data: the audit log keeps them masked.
_PERSONAL = {"principal": mask_name, "phone": mask_phone}


class SchoolError(ValueError):
    """A refusal with a message fit to show (Chinese)."""


class SchoolFormError(SchoolError):
    """Field-level problems: ``errors`` maps a form field to its Chinese message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(f"{school_fields.LABELS[k]}：{v}" for k, v in errors.items()))
        self.errors = errors


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class SchoolFilters:
    """What the list is narrowed to; build it with :func:`filters_from`."""

    q: str = ""
    kind: str | None = None
    urban_rural: str | None = None  # a 城乡类型, or UNFILLED
    activated: bool | None = None

    def describe(self) -> dict[str, str]:
        """The filters that are set, as the title row of a download names them."""
        out = {}
        if self.kind:
            out["机构类型"] = self.kind
        if self.urban_rural:
            out["城乡类型"] = self.urban_rural
        if self.activated is not None:
            out["是否激活"] = ACTIVATED if self.activated else NOT_ACTIVATED
        if self.q:
            out["搜索"] = self.q
        return out


def filters_from(q: object = None, kind: object = None, urban_rural: object = None,
                 activated: object = None) -> SchoolFilters:
    """Filters from what a browser or a URL sent: anything unknown is refused (ScopeDenied),
    never passed on. ``activated`` is True/False, "1"/"0" or empty."""
    def text(value):
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ScopeDenied("malformed filter")
        return value

    q, kind, urban_rural = text(q).strip(), text(kind), text(urban_rural)
    if len(q) > QUERY_MAX or has_control_characters(q):
        raise ScopeDenied("malformed search")
    if kind and kind not in vocab.SCHOOL_KINDS:
        raise ScopeDenied("unknown kind")
    if urban_rural and urban_rural not in (*vocab.URBAN_RURAL, UNFILLED):
        raise ScopeDenied("unknown urban_rural")
    if activated in (None, ""):
        flag = None
    elif activated in (True, "1"):
        flag = True
    elif activated in (False, "0"):
        flag = False
    else:
        raise ScopeDenied("malformed activated")
    return SchoolFilters(q, kind or None, urban_rural or None, flag)


@dataclass(frozen=True)
class SchoolRow:
    code: str
    name: str
    region_code: str
    region_path: str  # 福建省/莆田市/仙游县
    kind: str
    urban_rural: str | None
    address: str | None
    phone: str | None  # the school's own number
    principal: str | None
    admin_name: str | None  # the bound 学校管理员, None when not activated
    admin_phone: str  # the admin's number, already masked ('' when none)

    @property
    def activated(self) -> bool:
        return self.admin_name is not None

    def values(self) -> list[str]:
        """The row as the list and its download show it (order of COLUMNS)."""
        return [self.name, self.code, self.region_path, self.kind, self.urban_rural or "",
                ACTIVATED if self.activated else NOT_ACTIVATED, self.admin_name or "",
                self.admin_phone]


#: Column labels of the list and its download, in SchoolRow.values() order.
COLUMNS = ("学校名称", "学校标识码", "所在区域", "机构类型", "城乡类型", "是否激活", "学校管理员",
           "联系电话")


def _admins():
    """The current 学校管理员 binding of each school (at most one, by a unique index)."""
    return (select(Binding.school_code, Binding.user_id, Binding.contact_name,
                   Binding.contact_phone)
            .where(current_school_admin())
            .subquery("admin"))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(region_code: str, filters: SchoolFilters, columns):
    admin = _admins()
    stmt = (
        select(*columns(admin))
        .select_from(School)
        .outerjoin(admin, admin.c.school_code == School.code)
        .outerjoin(User, User.id == admin.c.user_id)
        .where(School.deleted_at.is_(None), in_subtree(region_code, School.region_code))
    )
    if filters.kind:
        stmt = stmt.where(School.kind == filters.kind)
    if filters.urban_rural == UNFILLED:
        stmt = stmt.where(or_(School.urban_rural.is_(None), School.urban_rural == ""))
    elif filters.urban_rural:
        stmt = stmt.where(School.urban_rural == filters.urban_rural)
    if filters.activated is True:
        stmt = stmt.where(admin.c.school_code.is_not(None))
    elif filters.activated is False:
        stmt = stmt.where(admin.c.school_code.is_(None))
    if filters.q:
        pattern = _like(filters.q)
        stmt = stmt.where(or_(School.name.like(f"%{pattern}%", escape="\\"),
                              School.code.like(f"{pattern}%", escape="\\")))
    return stmt


def _row_columns(admin):
    return (School.code, School.name, School.region_code, School.kind, School.urban_rural,
            School.address, School.phone, School.principal,
            func.coalesce(admin.c.contact_name, User.name).label("admin_name"),
            func.coalesce(admin.c.contact_phone, User.phone).label("admin_phone"),
            admin.c.school_code.label("admin_school"))


def _from(chain: list[tuple[str, str]], root: str | None) -> list[tuple[str, str]]:
    codes = [c for c, _ in chain]
    return chain[codes.index(root):] if root in codes else chain


def region_paths(conn: Connection, codes, root: str | None = None) -> dict[str, str]:
    """`福建省/莆田市/仙游县` for each region code; from ``root`` down (`莆田市/仙游县`) for
    the regions below it."""
    return {code: "/".join(name for _, name in _from(chain, root))
            for code, chain in ancestor_chains(conn, codes).items()}


def _tree_ordered(conn: Connection, codes, root: str | None = None) -> list[tuple[str, str]]:
    """(code, path from ``root``) of the regions in tree order: each region followed by its
    subtree, siblings by code."""
    chains = ancestor_chains(conn, codes)
    ordered = sorted(chains.items(), key=lambda item: [c for c, _ in item[1]])
    return [(code, "/".join(name for _, name in _from(chain, root))) for code, chain in ordered]


def _rows(conn: Connection, result, root: str | None = None) -> list[SchoolRow]:
    rows = list(result)
    paths = region_paths(conn, (r.region_code for r in rows), root)
    return [SchoolRow(
        code=r.code, name=r.name, region_code=r.region_code,
        region_path=paths.get(r.region_code, r.region_code), kind=r.kind,
        urban_rural=r.urban_rural or None, address=r.address, phone=r.phone,
        principal=r.principal,
        admin_name=(r.admin_name or "—") if r.admin_school is not None else None,
        admin_phone=mask_phone(r.admin_phone) if r.admin_school is not None else "")
        for r in rows]


def count_schools(conn: Connection, region_code: str, filters: SchoolFilters) -> int:
    """How many schools of the (authorized) region's subtree match the filters."""
    inner = _filtered(region_code, filters, lambda admin: (School.code,)).subquery()
    return conn.scalar(select(func.count()).select_from(inner))


def list_schools(conn: Connection, region_code: str, filters: SchoolFilters, *,
                 page: int = 1, size: int = PAGE_SIZES[0],
                 path_root: str | None = None) -> list[SchoolRow]:
    """One page of the schools of the (authorized) region's subtree, by region then code.
    所在区域 is the path from ``path_root`` (the admin's own region) down, else from the top."""
    size = size if size in PAGE_SIZES else PAGE_SIZES[0]
    page = max(1, page)
    stmt = (_filtered(region_code, filters, _row_columns)
            .order_by(School.region_code, School.code)
            .offset((page - 1) * size).limit(size))
    return _rows(conn, conn.execute(stmt), path_root)


def iter_schools(conn: Connection, region_code: str, filters: SchoolFilters,
                 batch: int = EXPORT_BATCH, path_root: str | None = None) -> Iterator[SchoolRow]:
    """Every matching school in list order, read in keyset batches (for downloads)."""
    after: tuple[str, str] | None = None
    while True:
        stmt = _filtered(region_code, filters, _row_columns)
        if after is not None:
            stmt = stmt.where(or_(School.region_code > after[0],
                                  and_(School.region_code == after[0], School.code > after[1])))
        rows = _rows(conn, conn.execute(stmt.order_by(School.region_code, School.code)
                                        .limit(batch)), path_root)
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].region_code, rows[-1].code)


def get_school(conn: Connection, scope: Scope, code: object) -> SchoolRow:
    """One school of the scope (for the edit form); ScopeDenied when outside or deleted."""
    code = authorize_school(conn, scope, code)
    admin = _admins()
    stmt = (select(*_row_columns(admin)).select_from(School)
            .outerjoin(admin, admin.c.school_code == School.code)
            .outerjoin(User, User.id == admin.c.user_id)
            .where(School.code == code))
    return _rows(conn, conn.execute(stmt), scope.region_code)[0]


def regions_in_scope(conn: Connection, scope: Scope, limit: int = 5000) -> list[tuple[str, str]]:
    """(code, path from the scope's region) of every region of the scope's subtree in tree
    order, the scope's own first: where a new school may be attached (§1.1: a school hangs
    at any level)."""
    _region_scope(scope)
    codes = conn.scalars(select(Region.code).where(in_subtree(scope.region_code, Region.code))
                         .order_by(Region.level, Region.code).limit(limit))
    return _tree_ordered(conn, codes, scope.region_code)


# --------------------------------------------------------------------------- changes


@dataclass
class SchoolChange:
    """What a change did: the entry written to the audit log, and what to tell the user."""

    action: str  # school_create | school_update | school_delete | school_move
    code: str
    name: str
    old: dict = field(default_factory=dict)
    new: dict = field(default_factory=dict)
    binding_id: int | None = None  # the 学校管理员 binding ended (delete)
    codes_revoked: int = 0

    @property
    def changed(self) -> bool:
        return self.action != "school_update" or bool(self.new)


def _region_scope(scope: Scope) -> None:
    if not is_region_admin(scope):
        raise ScopeDenied("no region scope")


def _form_text(values: dict, key: str, errors: dict[str, str]) -> str:
    value = values.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[key] = "格式不正确"
        return ""
    try:
        return school_fields.trimmed(value)
    except school_fields.FieldProblem as problem:
        errors[key] = problem.zh
        return ""


def _check(values: dict, keys, known_region, errors: dict[str, str]) -> dict:
    """The form's values through the shared field rules; problems go to ``errors``."""
    checks = {
        "code": (school_fields.school_code,),
        "name": (school_fields.school_name,),
        "region_code": (school_fields.region_code, known_region),
        "kind": (school_fields.kind,),
        "urban_rural": (school_fields.urban_rural,),
        "address": (school_fields.optional_text, "address"),
        "phone": (school_fields.phone,),
        "principal": (school_fields.optional_text, "principal"),
    }
    out = {}
    for key in keys:
        raw = _form_text(values, key, errors)
        if key in errors:
            continue
        check, *args = checks[key]
        try:
            out[key] = check(raw, *args)
        except school_fields.FieldProblem as problem:
            errors[key] = problem.zh
    return out


def _audit_values(values: dict) -> dict:
    """Values as the audit log keeps them: personal data masked, empty ones left out."""
    out = {}
    for key, value in values.items():
        if value in (None, ""):
            out[key] = None
            continue
        out[key] = _PERSONAL[key](value) if key in _PERSONAL else value
    return out


def _entry(scope: Scope, change: SchoolChange, region_code: str, *, actor: str | None,
           ip: str | None, now: datetime) -> dict:
    """The change's audit entry: the school's code and name at the time, the old and new
    values, the binding ended and the codes revoked."""
    detail = {"school": change.code, "name": change.name}
    if change.old:
        detail["old"] = _audit_values(change.old)
    if change.new:
        detail["new"] = _audit_values(change.new)
    if change.binding_id is not None:
        detail["binding_id"] = change.binding_id
    if change.codes_revoked:
        detail["codes_revoked"] = change.codes_revoked
    return dict(user_id=scope.user_id, actor=actor, region_code=region_code,
                school_code=change.code, detail=detail, ip=ip, now=now)


def create_school(conn: Connection, scope: Scope, values: dict, *, actor: str | None = None,
                  ip: str | None = None, now: datetime | None = None) -> SchoolChange:
    """新增: a school in a region of the scope, checked like an imported row."""
    _region_scope(scope)
    if not isinstance(values, dict):
        raise SchoolError("请求格式不正确")
    now = now or datetime.now()

    def known(code: str) -> bool:
        return CODE_RE.match(code) is not None and is_within(conn, scope.region_code, code)

    errors: dict[str, str] = {}
    clean = _check(values, FORM_FIELDS, known, errors)
    code = clean.get("code")
    if code is not None:
        existing = conn.execute(select(School.deleted_at).where(School.code == code)).first()
        if existing is not None:
            errors["code"] = ("该学校标识码属于一所已删除的学校，不能再次使用"
                              if existing.deleted_at is not None else "该学校标识码已被使用")
    if errors:
        raise SchoolFormError(errors)
    clean["kind"] = clean["kind"] or school_fields.DEFAULT_KIND
    try:
        conn.execute(insert(School).values(**clean, updated_at=now))
    except IntegrityError as exc:  # the same code added at the same moment; the caller's
        raise SchoolFormError({"code": "该学校标识码已被使用"}) from exc  # transaction ends
    change = SchoolChange("school_create", code, clean["name"],
                          new={k: v for k, v in clean.items() if k != "code"})
    audit.record(conn, "school_create",
                 **_entry(scope, change, clean["region_code"], actor=actor, ip=ip, now=now))
    return change


def _stored(conn: Connection, code: str):
    return conn.execute(
        select(School.code, School.name, School.region_code, School.kind, School.urban_rural,
               School.address, School.phone, School.principal)
        .where(School.code == code, School.deleted_at.is_(None))
    ).first()


def update_school(conn: Connection, scope: Scope, code: object, values: dict, *,
                  actor: str | None = None, ip: str | None = None,
                  now: datetime | None = None) -> SchoolChange:
    """编辑: the editable fields of a school of the scope. As in the importer, an empty
    机构类型 or 城乡类型 keeps the stored value (an empty 城乡类型 would lock the school's
    own pages, §5.1); 学校地址, 联系电话 and 校长姓名 may be cleared."""
    _region_scope(scope)
    code = authorize_school(conn, scope, code)
    return _update(conn, scope, code, values, EDITABLE, (), actor=actor, ip=ip, now=now)


#: What a 学校管理员 may change of their own school (学校（机构）信息, SPEC §5.1), and what
#: must be filled in; 学校名称, 学校标识码 and 所在区域 go through the county admin.
INFO_EDITABLE = ("kind", "urban_rural", "address", "phone", "principal")
INFO_REQUIRED = ("kind", "urban_rural", "address", "phone")
_READ_ONLY = {"code": "学校标识码不能修改", "name": "学校名称请联系区县管理员修改",
              "region_code": "所在区域请联系区县管理员修改"}


def own_school(conn: Connection, scope: Scope) -> SchoolRow:
    """The school of a 学校管理员's scope, as 学校（机构）信息 shows it."""
    if not scope.is_school:
        raise ScopeDenied("no school scope")
    return get_school(conn, scope, scope.school_code)


def needs_urban_rural(conn: Connection, scope: Scope) -> bool:
    """True while the scope's school has no 城乡类型: its pages show the banner of §5.1 and
    allow no changes but the ones on 学校（机构）信息."""
    if not scope.is_school:
        return False
    value = conn.scalar(select(School.urban_rural).where(School.code == scope.school_code))
    return not value


def update_school_info(conn: Connection, scope: Scope, values: dict, *,
                       actor: str | None = None, ip: str | None = None,
                       now: datetime | None = None) -> SchoolChange:
    """学校（机构）信息 saved by the school's own admin: 机构类型, 城乡类型, 学校地址 and
    联系电话 required, 校长姓名 optional; the read-only fields are refused when changed."""
    if not scope.is_school:
        raise ScopeDenied("no school scope")
    code = authorize_school(conn, scope, None)
    return _update(conn, scope, code, values, INFO_EDITABLE, INFO_REQUIRED, read_only=_READ_ONLY,
                   actor=actor, ip=ip, now=now)


def _update(conn: Connection, scope: Scope, code: str, values: dict, editable, required, *,
            read_only: dict[str, str] | None = None, actor: str | None, ip: str | None,
            now: datetime | None) -> SchoolChange:
    """The shared body of 编辑: check, compare with the stored row, write the fields that
    changed and their audit entry (nothing at all when nothing changed)."""
    if not isinstance(values, dict):
        raise SchoolError("请求格式不正确")
    now = now or datetime.now()
    old = _stored(conn, code)
    if old is None:
        raise ScopeDenied("school outside scope")
    errors: dict[str, str] = {}
    refused = read_only or {"code": "学校标识码不能修改",
                            "region_code": "所在区域请通过「调整隶属」修改"}
    for key, label in refused.items():
        if key in values and values[key] not in (None, getattr(old, key)):
            errors[key] = label
    clean = _check(values, [k for k in editable if k in values], None, errors)
    for key in required:
        if key not in errors and not clean.get(key):
            errors[key] = school_fields.MISSING_ZH
    if errors:
        raise SchoolFormError(errors)
    for key in ("kind", "urban_rural"):
        if key in clean and clean[key] is None:
            del clean[key]
    changes = {k: v for k, v in clean.items() if (getattr(old, k) or None) != v}
    change = SchoolChange("school_update", code, clean.get("name", old.name),
                          old={k: getattr(old, k) for k in changes}, new=changes)
    if not changes:
        return change
    done = conn.execute(update(School)
                        .where(School.code == code, School.deleted_at.is_(None))
                        .values(**changes, updated_at=now)).rowcount
    if done != 1:
        raise ScopeDenied("school outside scope")
    audit.record(conn, "school_update",
                 **_entry(scope, change, old.region_code, actor=actor, ip=ip, now=now))
    return change


def delete_school(conn: Connection, scope: Scope, code: object, *, actor: str | None = None,
                  ip: str | None = None, now: datetime | None = None) -> SchoolChange:
    """删除: a soft delete. The school leaves every list at once and the statistics at the
    next refresh; its 学校管理员 binding ends now (the admin's next request no longer has the
    scope) and its unused 权限码 are revoked; teachers, records and history are kept."""
    _region_scope(scope)
    code = authorize_school(conn, scope, code)
    now = now or datetime.now()
    old = _stored(conn, code)
    done = conn.execute(update(School).where(School.code == code, School.deleted_at.is_(None))
                        .values(deleted_at=now, updated_at=now)).rowcount
    if done != 1:
        raise ScopeDenied("school outside scope")
    binding_id = conn.scalar(
        select(Binding.id).where(Binding.school_code == code, current_school_admin()))
    if binding_id is not None:
        conn.execute(update(Binding).where(Binding.id == binding_id)
                     .values(removed_at=now, removed_by=scope.user_id))
    revoked = conn.execute(
        update(PermissionCode)
        .where(PermissionCode.school_code == code, PermissionCode.redeemed_at.is_(None),
               PermissionCode.revoked_at.is_(None), PermissionCode.expires_at > now)
        .values(revoked_at=now)).rowcount
    change = SchoolChange("school_delete", code, old.name,
                          old={k: getattr(old, k) for k in FORM_FIELDS if k != "code"},
                          binding_id=binding_id,
                          codes_revoked=revoked)
    audit.record(conn, "school_delete",
                 **_entry(scope, change, old.region_code, actor=actor, ip=ip, now=now))
    return change


# --------------------------------------------------------------------------- 调整隶属


def may_transfer(conn: Connection, scope: Scope) -> bool:
    """Whether the scope transfers schools at all: admins of a province or a city."""
    if not is_region_admin(scope):
        return False
    region = get_region(conn, scope.region_code)
    return region is not None and region.kind in TRANSFER_KINDS


def _below(conn: Connection, scope: Scope, region_code: str) -> bool:
    return region_code != scope.region_code and is_within(conn, scope.region_code, region_code)


def transfer_targets(conn: Connection, scope: Scope, code: object,
                     limit: int = 5000) -> list[tuple[str, str]]:
    """(code, path from the scope's region) of the regions the school may be moved to, in
    tree order; [] when it may not move."""
    code = authorize_school(conn, scope, code)
    if not may_transfer(conn, scope):
        return []
    current = _stored(conn, code).region_code
    if not _below(conn, scope, current):
        return []
    codes = [c for c in conn.scalars(
        select(Region.code).where(in_subtree(scope.region_code, Region.code))
        .order_by(Region.level, Region.code).limit(limit))
        if c not in (current, scope.region_code)]
    return _tree_ordered(conn, codes, scope.region_code)


def move_school(conn: Connection, scope: Scope, code: object, target: object, *,
                actor: str | None = None, ip: str | None = None,
                now: datetime | None = None) -> SchoolChange:
    """调整隶属 under the rule of the module docstring. The school's 学校管理员 keeps the
    binding; their scope follows on their next request, the statistics at the next refresh."""
    _region_scope(scope)
    code = authorize_school(conn, scope, code)
    if not may_transfer(conn, scope):
        raise SchoolError("区县级管理员不能调整学校隶属，请联系上级（地市级或省级）管理员")
    old = _stored(conn, code)
    if not _below(conn, scope, old.region_code):
        raise SchoolError("本级直属学校不能调整隶属")
    if not isinstance(target, str) or not CODE_RE.match(target) \
            or get_region(conn, target) is None or not _below(conn, scope, target):
        raise SchoolError("只能调整到本辖区内的下级区域")
    if target == old.region_code:
        raise SchoolError("学校已在该区域，无需调整")
    now = now or datetime.now()
    done = conn.execute(update(School).where(School.code == code, School.deleted_at.is_(None))
                        .values(region_code=target, updated_at=now)).rowcount
    if done != 1:
        raise ScopeDenied("school outside scope")
    binding_id = conn.scalar(
        select(Binding.id).where(Binding.school_code == code, current_school_admin()))
    change = SchoolChange("school_move", code, old.name, old={"region_code": old.region_code},
                          new={"region_code": target}, binding_id=binding_id)
    # Filed under the region it leaves: the admins there keep seeing the move in 操作日志,
    # those of the region it joins see it through the school.
    audit.record(conn, "school_move",
                 **_entry(scope, change, old.region_code, actor=actor, ip=ip, now=now))
    return change


__all__ = ["PAGE_SIZES", "COLUMNS", "UNFILLED", "SchoolError", "SchoolFormError",
           "SchoolFilters", "SchoolRow", "SchoolChange", "filters_from", "count_schools",
           "list_schools", "iter_schools", "get_school", "regions_in_scope", "create_school",
           "update_school", "own_school", "needs_urban_rural", "update_school_info",
           "INFO_EDITABLE", "INFO_REQUIRED", "delete_school", "may_transfer", "transfer_targets", "move_school",
           "region_paths"]
