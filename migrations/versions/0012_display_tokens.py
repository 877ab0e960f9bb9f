"""display tokens of the 大屏 kiosk links

A region admin (or the operator's CLI) issues a link `/screen/<token>` for one region and one
training (or the current one); only the token's SHA-256 is stored (SPEC §4.6).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "display_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("region_code", sa.String(20), sa.ForeignKey("regions.code"), nullable=False),
        sa.Column("training_id", sa.Integer(), sa.ForeignKey("trainings.id"), nullable=True),
        sa.Column("issued_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen_ip", sa.String(45), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("display_tokens")
