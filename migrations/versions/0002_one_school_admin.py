"""one current school admin per school; rate-limit events

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WHERE = sa.text("role = 'school_admin' AND removed_at IS NULL")


def upgrade() -> None:
    op.create_index("uq_bindings_one_school_admin", "bindings", ["school_code"], unique=True,
                    sqlite_where=WHERE, postgresql_where=WHERE)
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rate_events_key_at", "rate_events", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_rate_events_key_at", table_name="rate_events")
    op.drop_table("rate_events")
    op.drop_index("uq_bindings_one_school_admin", table_name="bindings")
