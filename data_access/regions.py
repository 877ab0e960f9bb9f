"""The ragged region tree, stored as an edge list plus a closure table.

Why a closure table: subtree membership is one indexed join (`region_closure.ancestor_code =
:r`) that reads the same on SQLite and PostgreSQL, and the aggregate refresh rolls totals up
the tree with one `GROUP BY ancestor_code` — no recursion at read time, whatever the depth.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, select, text

from .db import analyze
from .models import Region, RegionClosure, School


class RegionError(ValueError):
    pass


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    parent_code: str | None
    kind: str
    level: int


def rebuild_closure(conn: Connection) -> None:
    """Recompute region_closure and regions.level from the parent edges."""
    conn.execute(text("DELETE FROM region_closure"))
    conn.execute(
        text(
            """
            WITH RECURSIVE t(ancestor_code, descendant_code, depth) AS (
                SELECT code, code, 0 FROM regions
                UNION ALL
                SELECT t.ancestor_code, r.code, t.depth + 1
                FROM t JOIN regions r ON r.parent_code = t.descendant_code
            )
            INSERT INTO region_closure (ancestor_code, descendant_code, depth)
            SELECT ancestor_code, descendant_code, depth FROM t
            """
        )
    )
    conn.execute(
        text(
            """
            UPDATE regions SET level = (
                SELECT MAX(c.depth) + 1 FROM region_closure c
                WHERE c.descendant_code = regions.code
            )
            """
        )
    )
    analyze(conn, RegionClosure.__table__, Region.__table__)


def get_region(conn: Connection, code: str) -> RegionRow | None:
    row = conn.execute(
        select(Region.code, Region.name, Region.parent_code, Region.kind, Region.level).where(
            Region.code == code
        )
    ).first()
    return RegionRow(*row) if row else None


def children(conn: Connection, code: str) -> list[RegionRow]:
    rows = conn.execute(
        select(Region.code, Region.name, Region.parent_code, Region.kind, Region.level)
        .where(Region.parent_code == code)
        .order_by(Region.code)
    )
    return [RegionRow(*r) for r in rows]


def ancestors(conn: Connection, code: str) -> list[RegionRow]:
    """The path from the root down to ``code`` (inclusive)."""
    rows = conn.execute(
        select(Region.code, Region.name, Region.parent_code, Region.kind, Region.level)
        .join(RegionClosure, RegionClosure.ancestor_code == Region.code)
        .where(RegionClosure.descendant_code == code)
        .order_by(RegionClosure.depth.desc())
    )
    return [RegionRow(*r) for r in rows]


def ancestor_chains(conn: Connection, codes) -> dict[str, list[tuple[str, str]]]:
    """The (code, name) path from the root down to each region code, in batched queries."""
    codes = sorted(set(codes))
    chains: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(codes), 500):
        rows = conn.execute(
            select(RegionClosure.descendant_code, Region.code, Region.name)
            .join(Region, Region.code == RegionClosure.ancestor_code)
            .where(RegionClosure.descendant_code.in_(codes[start:start + 500]))
            .order_by(RegionClosure.descendant_code, RegionClosure.depth.desc())
        )
        for code, ancestor, name in rows:
            chains.setdefault(code, []).append((ancestor, name))
    return chains


def is_within(conn: Connection, ancestor_code: str, code: str) -> bool:
    """True when ``code`` is ``ancestor_code`` or lies in its subtree."""
    return (
        conn.execute(
            select(RegionClosure.depth).where(
                and_(
                    RegionClosure.ancestor_code == ancestor_code,
                    RegionClosure.descendant_code == code,
                )
            )
        ).first()
        is not None
    )


def school_region(conn: Connection, school_code: str) -> str | None:
    return conn.scalar(
        select(School.region_code).where(School.code == school_code, School.deleted_at.is_(None))
    )


def school_name(conn: Connection, school_code: str) -> str | None:
    return conn.scalar(select(School.name).where(School.code == school_code))


def path_names(conn: Connection, code: str) -> str:
    """`福建省/三明市/宁化县` for a region code."""
    return "/".join(r.name for r in ancestors(conn, code))


def default_kind_for_parent(parent: RegionRow | None) -> str:
    if parent is None:
        return "province"
    return {"province": "prefecture", "prefecture": "county"}.get(parent.kind, "zone")


def upsert_region(
    conn: Connection,
    code: str,
    name: str,
    parent_code: str | None,
    kind: str | None = None,
    source: str = "cli",
) -> None:
    """Add a region, or rename / re-parent an existing one; keeps the tree acyclic."""
    parent = get_region(conn, parent_code) if parent_code else None
    if parent_code and parent is None:
        raise RegionError(f"unknown parent region {parent_code}")
    existing = get_region(conn, code)
    if existing and parent_code and is_within(conn, code, parent_code):
        raise RegionError(f"{parent_code} lies inside {code}; a region cannot move under itself")
    kind = kind or (existing.kind if existing else default_kind_for_parent(parent))
    if existing:
        conn.execute(
            Region.__table__.update()
            .where(Region.code == code)
            .values(name=name, parent_code=parent_code, kind=kind)
        )
    else:
        conn.execute(
            Region.__table__.insert().values(
                code=code,
                name=name,
                parent_code=parent_code,
                kind=kind,
                level=(parent.level + 1) if parent else 1,
                source=source,
            )
        )
    rebuild_closure(conn)
