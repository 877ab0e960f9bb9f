"""PostgreSQL: the aggregate tables are partitioned by snapshot, a partition per snapshot

Revision ID: 0013
Revises: 0012

On PostgreSQL the four aggregate tables become partitioned tables (LIST on snapshot_id; see
data_access/snapshot_store.py): a refresh builds its snapshot's partitions without indexes,
indexes them in one pass and attaches them, and retires a snapshot by dropping them. The rows
they held are a rebuildable copy of the base tables, so, as on SQLite with 0008, no snapshot
is served until the next `yanxiu refresh` (the pages say that no statistics exist yet).
SQLite is unchanged.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

AGG_TABLES = ("agg_teacher", "agg_teacher_count", "agg_region", "agg_school")


def _retire_every_snapshot() -> None:
    op.execute("DELETE FROM current_snapshot")
    op.execute("UPDATE snapshots SET status = 'retired' WHERE status = 'ready'")
    op.execute("UPDATE snapshots SET status = 'failed' WHERE status = 'building'")


def _drop_partition_schemas() -> None:
    bind = op.get_bind()
    names = bind.exec_driver_sql(
        "SELECT nspname FROM pg_namespace WHERE nspname ~ '^snapshot_[0-9]+$'").scalars().all()
    for name in names:
        op.execute(f'DROP SCHEMA "{name}" CASCADE')


def _tables(partitioned: bool) -> list[sa.Table]:
    from data_access.models import Base

    metadata = sa.MetaData()
    tables = []
    for name in AGG_TABLES:
        table = Base.metadata.tables[name].to_metadata(metadata)
        table.dialect_options["postgresql"]["partition_by"] = (
            "LIST (snapshot_id)" if partitioned else None)
        tables.append(table)
    return tables


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _retire_every_snapshot()
    for name in AGG_TABLES:
        op.drop_table(name)
    for table in _tables(partitioned=True):
        table.create(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _retire_every_snapshot()
    for name in AGG_TABLES:
        op.drop_table(name)
    _drop_partition_schemas()
    for table in _tables(partitioned=False):
        table.create(op.get_bind())
