"""SQLite: each snapshot's aggregate tables live in a file of their own

Revision ID: 0008
Revises: 0007

On SQLite the aggregate tables leave the main file (see data_access/snapshot_store.py); the
rows they held are a rebuildable copy of the base tables, so no snapshot is served until the
next `yanxiu refresh` (the pages say that no statistics exist yet). PostgreSQL is unchanged.
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

AGG_TABLES = ("agg_teacher", "agg_teacher_count", "agg_region", "agg_school")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DELETE FROM current_snapshot")
    op.execute("UPDATE snapshots SET status = 'retired' WHERE status = 'ready'")
    op.execute("UPDATE snapshots SET status = 'failed' WHERE status = 'building'")
    for table in AGG_TABLES:
        op.drop_table(table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    from data_access.models import Base

    bind = op.get_bind()
    for table in reversed(AGG_TABLES):
        Base.metadata.tables[table].create(bind)
