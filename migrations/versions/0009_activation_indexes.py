"""indexes of the live 激活进度 queries

A province's activation table and its 未激活学校 pages read every school of the subtree with
its current 学校管理员; both lookups are answered from an index alone: the not-deleted schools
of a region in code order (with the name and 机构类型 the list shows), and a school's
bindings with the role and removal the query checks.

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_schools_region_live", "schools",
                    ["region_code", "deleted_at", "code", "name", "kind"])
    op.drop_index("ix_bindings_school", table_name="bindings")
    op.create_index("ix_bindings_school", "bindings", ["school_code", "role", "removed_at"])


def downgrade() -> None:
    op.drop_index("ix_bindings_school", table_name="bindings")
    op.create_index("ix_bindings_school", "bindings", ["school_code"])
    op.drop_index("ix_schools_region_live", table_name="schools")
