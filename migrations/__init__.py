"""Alembic migrations; run with `yanxiu db upgrade` (see data_access.schema.upgrade)."""
