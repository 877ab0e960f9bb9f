"""A hand-built ragged tree with schools and bindings for the 激活进度 tests, and an
independent computation of every cell of the table and of the 未激活学校 list (plain Python
over the fixture's own lists — no SQL, no closure table, nothing from data_access.activation).

Tree (codes are the operator's choice, SPEC §1.1), every case §2/§4.3 names:

    T0 测试省                   直属学校 ×3 (province level), region_super
    ├── T1 甲市                  直属学校 ×2 (prefecture level), region_training
    │   ├── T11 甲一县           3 schools, all activated; two region admins
    │   ├── T12 甲二县           5 schools, 2 activated (one via a re-issued binding)
    │   │   └── T12Z 甲二开发区  zone under a county: 2 schools, 1 activated; region admin
    │   ├── T13 甲三县           no schools at all; region admin
    │   └── T1Z 甲市高新区       zone under a city: 2 schools, none activated
    ├── T2 乙市                  no region admin anywhere in it
    │   ├── T21 乙一县           16 schools, 3 activated (18.75% → 18.8%, half-up)
    │   └── T22 乙二县           only a deleted school (its admin binding still current)
    └── T3 丙区                  county directly under the province; its region admin removed
                                 2 schools, 1 activated, 1 whose admin was removed

Plus a school of another province (福建省) with an admin, which must never count.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import insert, select, update
from werkzeug.security import generate_password_hash

from data_access.models import Binding, Region, School, User
from data_access.regions import rebuild_closure

ROOT = "T0"
REGIONS = [  # code, name, parent, kind
    ("T0", "测试省", None, "province"),
    ("T1", "甲市", "T0", "prefecture"),
    ("T11", "甲一县", "T1", "county"),
    ("T12", "甲二县", "T1", "county"),
    ("T12Z", "甲二开发区", "T12", "zone"),
    ("T13", "甲三县", "T1", "county"),
    ("T1Z", "甲市高新区", "T1", "zone"),
    ("T2", "乙市", "T0", "prefecture"),
    ("T21", "乙一县", "T2", "county"),
    ("T22", "乙二县", "T2", "county"),
    ("T3", "丙区", "T0", "county"),
]


@dataclass(frozen=True)
class FxSchool:
    code: str
    name: str
    region: str
    kind: str = "学校"
    deleted: bool = False


@dataclass(frozen=True)
class FxBinding:
    role: str
    target: str  # region code, or school code for school_admin
    removed: bool = False
    name: str = "管理员"
    phone: str | None = None


def _schools() -> list[FxSchool]:
    s = [
        FxSchool("T0-D1", "测试省实验中学", "T0"),
        FxSchool("T0-D2", "测试省教育科学研究院", "T0", "教研机构"),
        FxSchool("T0-D3", "测试省电化教育馆", "T0", "电教机构"),
        FxSchool("T1-D1", "甲市第一中学", "T1"),
        FxSchool("T1-D2", "甲市实验小学", "T1"),
        FxSchool("T11-1", "甲一县第一中学", "T11"),
        FxSchool("T11-2", "甲一县城关小学", "T11"),
        FxSchool("T11-3", "甲一县教师进修学校", "T11", "进修机构"),
        FxSchool("T12-1", "甲二县第一中学", "T12"),
        FxSchool("T12-2", "甲二县第二中学", "T12"),
        FxSchool("T12-3", "甲二县城南小学", "T12"),
        FxSchool("T12-4", "甲二县<b>石壁</b>中心小学", "T12"),  # HTML in a name stays text
        FxSchool("T12-5", "甲二县幼儿园", "T12"),
        FxSchool("T12Z-1", "甲二开发区实验学校", "T12Z"),
        FxSchool("T12Z-2", "甲二开发区100%_小学", "T12Z"),  # LIKE wildcards in a name
        FxSchool("T1Z-1", "甲市高新区第一小学", "T1Z"),
        FxSchool("T1Z-2", "甲市高新区幼儿园", "T1Z"),
        FxSchool("T22-1", "乙二县已撤并小学", "T22", deleted=True),
        FxSchool("T3-1", "丙区第一中学", "T3"),
        FxSchool("T3-2", "丙区中心小学", "T3"),
        FxSchool("350322-X1", "仙游县测试外省学校", "350322"),  # another province
    ]
    s += [FxSchool(f"T21-{i:02d}", f"乙一县第{i}小学", "T21") for i in range(1, 17)]
    return s


SCHOOLS = _schools()

BINDINGS = [
    # region admins
    FxBinding("region_super", "T0", name="省管理员"),
    FxBinding("region_training", "T1", name="甲市管理员"),
    FxBinding("region_super", "T11", name="甲一县超级管理员"),
    FxBinding("region_training", "T11", name="甲一县研修管理员"),  # same region twice: once
    FxBinding("region_training", "T12Z", name="开发区管理员"),
    FxBinding("region_super", "T13", name="甲三县管理员"),
    FxBinding("region_training", "T3", removed=True, name="丙区原管理员"),
    FxBinding("region_super", "350000", name="福建省管理员"),  # outside the tree
    # school admins
    FxBinding("school_admin", "T0-D1", name="赵一", phone="13800000001"),
    FxBinding("school_admin", "T1-D2", name="钱二", phone="13800000002"),
    FxBinding("school_admin", "T11-1", name="孙三", phone="13800000003"),
    FxBinding("school_admin", "T11-2", name="李四", phone="13800000004"),
    FxBinding("school_admin", "T11-3", name="周五", phone=None),  # no phone given
    FxBinding("school_admin", "T12-1", removed=True, name="吴六", phone="13800000006"),
    FxBinding("school_admin", "T12-1", name="郑七", phone="13800000007"),  # re-issued
    FxBinding("school_admin", "T12-3", name="王八", phone="13800000008"),
    FxBinding("school_admin", "T12Z-1", name="冯九", phone="13800000009"),
    FxBinding("school_admin", "T21-01", name="陈十", phone="13800000010"),
    FxBinding("school_admin", "T21-07", name="褚十一", phone="13800000011"),
    FxBinding("school_admin", "T21-16", name="卫十二", phone="13800000012"),
    FxBinding("school_admin", "T22-1", name="蒋十三", phone="13800000013"),  # deleted school
    FxBinding("school_admin", "T3-1", name="沈十四", phone="13800000014"),
    FxBinding("school_admin", "T3-2", removed=True, name="韩十五", phone="13800000015"),
    FxBinding("school_admin", "350322-X1", name="杨十六", phone="13800000016"),
]

_seq = itertools.count(1)
_HASH = None


def _password_hash() -> str:
    global _HASH
    if _HASH is None:
        _HASH = generate_password_hash("fixture-password-0")
    return _HASH


def build(engine) -> None:
    """Write the tree, the schools and the bindings into a migrated database."""
    now = datetime(2026, 3, 1, 9, 0)
    with engine.begin() as conn:
        conn.execute(insert(Region), [
            {"code": code, "name": name, "parent_code": parent, "kind": kind, "level": 0,
             "source": "import"} for code, name, parent, kind in REGIONS])
        rebuild_closure(conn)
        conn.execute(insert(School), [
            {"code": s.code, "name": s.name, "region_code": s.region, "kind": s.kind,
             "urban_rural": "城区", "deleted_at": now if s.deleted else None} for s in SCHOOLS])
        for b in BINDINGS:
            n = next(_seq)
            uid = conn.execute(insert(User).values(
                account=f"fx{n:04d}", password_hash=_password_hash(), name=f"注册名{n}",
                phone=None, created_at=now, is_active=True).returning(User.id)).scalar_one()
            is_school = b.role == "school_admin"
            bid = conn.execute(insert(Binding).values(
                user_id=uid, role=b.role, region_code=None if is_school else b.target,
                school_code=b.target if is_school else None, contact_name=b.name,
                contact_phone=b.phone, created_at=now).returning(Binding.id)).scalar_one()
            if b.removed:
                conn.execute(update(Binding).where(Binding.id == bid).values(removed_at=now))


# --------------------------------------------------------------------------- the oracle


def parents_of(engine) -> dict[str, str | None]:
    """The whole region tree (catalogue + fixture) as code → parent, read as plain rows."""
    from data_access.models import Region

    with engine.connect() as conn:
        return dict(conn.execute(select(Region.code, Region.parent_code)).all())


class Oracle:
    """Every 激活进度 cell computed from first principles over the fixture's lists."""

    def __init__(self, parents: dict[str, str | None], schools=None, bindings=None):
        self.parents = parents
        self.schools = SCHOOLS if schools is None else schools
        self.bindings = BINDINGS if bindings is None else bindings
        self.kids: dict[str, list[str]] = {}
        for code, parent in parents.items():
            if parent:
                self.kids.setdefault(parent, []).append(code)
        live = [b for b in self.bindings if not b.removed]
        self.school_admin = {b.target: b for b in live if b.role == "school_admin"}
        self.region_admins = {b.target for b in live if b.role != "school_admin"}

    def subtree(self, code: str) -> set[str]:
        out, todo = set(), [code]
        while todo:
            c = todo.pop()
            out.add(c)
            todo.extend(self.kids.get(c, []))
        return out

    def live_schools(self, regions: set[str]) -> list[FxSchool]:
        return [s for s in self.schools if s.region in regions and not s.deleted]

    def activated(self, school: FxSchool) -> bool:
        return school.code in self.school_admin

    def counts(self, code: str) -> dict:
        inside = self.subtree(code)
        below = inside - {code}
        schools = self.live_schools(inside)
        covered = [r for r in below
                   if any(self.activated(s) for s in self.live_schools(self.subtree(r)))]
        return {
            "schools": len(schools),
            "activated": sum(self.activated(s) for s in schools),
            "regions": len(below),
            "regions_activated": len(below & self.region_admins),
            "covered": len(covered),
        }

    def direct(self, code: str) -> dict:
        schools = self.live_schools({code})
        return {"schools": len(schools), "activated": sum(self.activated(s) for s in schools)}

    @staticmethod
    def ratio(n: int, d: int) -> str:
        if d == 0:
            return "--"
        value = (Decimal(n) * 100 / Decimal(d)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{value}%"

    def region_cells(self, code: str, name: str) -> list[str]:
        """区域, 学校激活进度, 学校总数, 学校激活数, 区域激活进度, 区域总数, 区域激活数,
        学校管理员覆盖区域数 — as SPEC §4.3 orders them."""
        c = self.counts(code)
        return [name, self.ratio(c["activated"], c["schools"]), str(c["schools"]),
                str(c["activated"]), self.ratio(c["regions_activated"], c["regions"]),
                str(c["regions"]), str(c["regions_activated"]), str(c["covered"])]

    def direct_cells(self, code: str) -> list[str]:
        c = self.direct(code)
        return ["直属学校", self.ratio(c["activated"], c["schools"]), str(c["schools"]),
                str(c["activated"]), "--", "--", "--", "--"]

    def table(self, code: str, names: dict[str, str]) -> tuple[list[list[str]], list[list[str]]]:
        """(region-type rows, school rows) of the table at ``code``."""
        rows = [self.region_cells(code, names[code])]
        kids = sorted(self.kids.get(code, []))
        if not kids:
            schools = sorted(self.live_schools({code}), key=lambda s: s.code)
            return rows, [self.school_cells(s) for s in schools]
        if self.live_schools({code}):
            rows.append(self.direct_cells(code))
        rows.extend(self.region_cells(k, names[k]) for k in kids)
        return rows, []

    def school_cells(self, s: FxSchool) -> list[str]:
        """学校名称, 学校标识码, 是否激活, 学校管理员, 联系电话 (masked)."""
        b = self.school_admin.get(s.code)
        if b is None:
            return [s.name, s.code, "未激活", "", ""]
        phone = f"{b.phone[:3]}****{b.phone[-4:]}" if b.phone else ""
        return [s.name, s.code, "已激活", b.name, phone]

    def unactivated(self, code: str, query: str = "") -> list[FxSchool]:
        """未激活学校 of the subtree: name contains the query or code starts with it (letters
        case-insensitive), ordered by region code then 学校标识码."""
        q = query.strip().lower()
        out = [s for s in self.live_schools(self.subtree(code)) if not self.activated(s)
               and (not q or q in s.name.lower() or s.code.lower().startswith(q))]
        return sorted(out, key=lambda s: (s.region, s.code))

    def path(self, code: str, names: dict[str, str]) -> str:
        parts = []
        while code:
            parts.append(names[code])
            code = self.parents.get(code)
        return "/".join(reversed(parts))


def names_of(engine) -> dict[str, str]:
    from data_access.models import Region

    with engine.connect() as conn:
        return dict(conn.execute(select(Region.code, Region.name)).all())
