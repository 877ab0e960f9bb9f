"""who last changed a 专任教师数 figure

The 专任教师数 screen shows each figure's 来源, 更新人 and 更新时间. 来源 (the file name) and
更新时间 were already stored; the updater is the user who committed an upload in the console
(NULL for a figure imported by the platform operator's CLI).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("teacher_counts", sa.Column("updated_by", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teacher_counts") as batch:
        batch.drop_column("updated_by")
