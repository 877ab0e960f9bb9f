"""index for the previous-day lookup of the overview cards

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_agg_history_region_day", "agg_history",
                    ["training_id", "region_code", "certified_only", "day"])


def downgrade() -> None:
    op.drop_index("ix_agg_history_region_day", table_name="agg_history")
