"""name search inside a region: one name index per indexed level

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LEVELS = (1, 2, 3)


def upgrade() -> None:
    op.drop_index("ix_agg_teacher_name", table_name="agg_teacher")
    for n in LEVELS:
        op.create_index(f"ix_agg_teacher_l{n}_name", "agg_teacher",
                        ["snapshot_id", "training_id", f"l{n}", "name", "teacher_id", "stage",
                         "subject", "certified"])


def downgrade() -> None:
    for n in LEVELS:
        op.drop_index(f"ix_agg_teacher_l{n}_name", table_name="agg_teacher")
    op.create_index("ix_agg_teacher_name", "agg_teacher",
                    ["snapshot_id", "training_id", "name", "teacher_id"])
