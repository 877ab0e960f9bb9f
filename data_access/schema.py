"""Schema migrations and the shipped region catalogue."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, func, insert, select

from .models import Region
from .regions import rebuild_closure

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def upgrade(engine: Engine) -> int:
    """Migrate to the newest schema and load catalogue regions that are missing.

    Returns the number of catalogue regions inserted. Operator renames and additions are kept:
    existing codes are never overwritten.
    """
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return load_region_catalogue(engine)


def catalogue_rows() -> list[dict]:
    text = resources.files("data_access").joinpath("data/regions_cn.csv").read_text("utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        rows.append(
            {
                "code": r["code"],
                "name": r["name"],
                "parent_code": r["parent_code"] or None,
                "kind": r["kind"],
                "longitude": float(r["longitude"]) if r["longitude"] else None,
                "latitude": float(r["latitude"]) if r["latitude"] else None,
            }
        )
    return rows


def load_region_catalogue(engine: Engine) -> int:
    rows = catalogue_rows()
    with engine.begin() as conn:
        existing = set(conn.scalars(select(Region.code)))
        levels: dict[str, int] = {
            code: lvl for code, lvl in conn.execute(select(Region.code, Region.level))
        }
        missing = [r for r in rows if r["code"] not in existing]
        if not missing:
            return 0
        by_code = {r["code"]: r for r in rows}

        def level_of(code: str) -> int:
            if code in levels:
                return levels[code]
            parent = by_code[code]["parent_code"]
            levels[code] = 1 if parent is None else level_of(parent) + 1
            return levels[code]

        # Parents first, so foreign keys hold at every insert.
        missing.sort(key=lambda r: level_of(r["code"]))
        conn.execute(
            insert(Region),
            [{**r, "level": level_of(r["code"]), "source": "catalogue"} for r in missing],
        )
        rebuild_closure(conn)
        return len(missing)


def region_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Region))
