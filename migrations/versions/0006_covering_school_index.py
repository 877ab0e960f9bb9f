"""covering index for a region's school rows

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = ["snapshot_id", "training_id", "region_code", "school_code", "stage", "subject",
           "certified", "participants", "learners", "hours_tenths", "completed"]


def upgrade() -> None:
    op.drop_index("ix_agg_school_region", table_name="agg_school")
    op.create_index("ix_agg_school_region", "agg_school", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_agg_school_region", table_name="agg_school")
    op.create_index("ix_agg_school_region", "agg_school",
                    ["snapshot_id", "training_id", "region_code"])
