"""drop the teacher-list indexes of levels 4 and 5 (read through their schools instead)

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_agg_teacher_l4", table_name="agg_teacher")
    op.drop_index("ix_agg_teacher_l5", table_name="agg_teacher")


def downgrade() -> None:
    for n in (4, 5):
        op.create_index(f"ix_agg_teacher_l{n}", "agg_teacher",
                        ["snapshot_id", "training_id", f"l{n}", "teacher_id", "stage",
                         "subject", "certified"])
