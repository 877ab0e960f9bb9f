"""certification decisions of 教师管理

A school admin's 通过/不通过 (SPEC §5.2) is kept with its time, its author and an optional
reason, so that a re-import of the same teachers file never undoes it: only a row with a
later 申请时间 than the decision is a new application.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("teachers") as batch:
        batch.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teachers") as batch:
        batch.drop_column("decision_reason")
        batch.drop_column("decided_by")
        batch.drop_column("decided_at")
