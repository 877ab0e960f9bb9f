from sqlalchemy import func, select

from data_access.models import Region, RegionClosure
from data_access.regions import ancestors, children, is_within, path_names, upsert_region
from data_access.schema import load_region_catalogue


def test_catalogue_is_loaded_with_the_ragged_tree(engine):
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(Region.kind, func.count()).group_by(Region.kind)).all())
        assert kinds == {"province": 31, "prefecture": 339, "county": 2851}
        # Beijing districts hang directly under the province: a two-level branch.
        assert [r.name for r in ancestors(conn, "110101")] == ["北京市", "东城区"]
        assert path_names(conn, "350424") == "福建省/三明市/宁化县"
        assert is_within(conn, "350000", "350424")
        assert not is_within(conn, "350400", "350100")


def test_catalogue_load_is_idempotent_and_keeps_renames(engine):
    with engine.begin() as conn:
        upsert_region(conn, "350300", "莆田市（改）", "350000")
    assert load_region_catalogue(engine) == 0
    with engine.connect() as conn:
        assert conn.scalar(select(Region.name).where(Region.code == "350300")) == "莆田市（改）"


def test_zone_can_be_added_and_reparented_without_cycles(engine):
    import pytest

    from data_access.regions import RegionError

    with engine.begin() as conn:
        upsert_region(conn, "PT01", "平潭综合实验区", "350000", "zone")
        assert [r.code for r in children(conn, "350000")][-1] == "PT01"
        upsert_region(conn, "MZD", "湄洲岛", "350300", "zone")
        assert path_names(conn, "MZD") == "福建省/莆田市/湄洲岛"
        upsert_region(conn, "MZD", "湄洲岛", "350000")
        assert path_names(conn, "MZD") == "福建省/湄洲岛"
        with pytest.raises(RegionError):
            upsert_region(conn, "350000", "福建省", "350300")
        depth = conn.scalar(
            select(RegionClosure.depth).where(
                RegionClosure.ancestor_code == "350000", RegionClosure.descendant_code == "MZD"
            )
        )
        assert depth == 1


def test_migrations_match_the_models(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from data_access.models import Base

    from data_access.refresh import AGG_TABLES

    # On SQLite the aggregate tables live in each snapshot's own file, not in the main one
    # (data_access/snapshot_store.py); test_refresh checks those files' tables and indexes.
    in_files = engine.dialect.name == "sqlite"
    agg = {model.__tablename__ for model in AGG_TABLES}

    def include(obj, name, type_, reflected, compare_to):
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return not (in_files and table is not None and table.name in agg)

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": include}),
                                Base.metadata)
    assert diff == []
    if in_files:
        with engine.connect() as conn:
            tables = set(conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
        assert not tables & agg
