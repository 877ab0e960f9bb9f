"""SQLAlchemy models for every entity of the product.

Conventions that the rest of the code relies on:
- regions and schools are keyed by their natural codes (strings);
- the region tree is stored twice: ``regions.parent_code`` (the edge list, the source of
  truth) and ``region_closure`` (every ancestor/descendant pair including the node itself at
  depth 0), rebuilt by :func:`data_access.regions.rebuild_closure` whenever the tree changes;
- hours are stored as integer tenths (``hours_tenths``) so sums and averages are exact;
- aggregate tables carry a ``snapshot_id``; readers pick one snapshot and read only its rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


# --------------------------------------------------------------------------- region tree


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(
        String(20), ForeignKey("regions.code"), index=True
    )
    # province | prefecture | county | zone
    kind: Mapped[str] = mapped_column(String(12))
    # 1 = province; a county directly under a province has level 2.
    level: Mapped[int] = mapped_column(Integer)
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    # "catalogue" for the shipped national table, "import"/"cli" for operator additions.
    source: Mapped[str] = mapped_column(String(12), default="catalogue")


class RegionClosure(Base):
    __tablename__ = "region_closure"

    ancestor_code: Mapped[str] = mapped_column(
        String(20), ForeignKey("regions.code"), primary_key=True
    )
    descendant_code: Mapped[str] = mapped_column(
        String(20), ForeignKey("regions.code"), primary_key=True
    )
    depth: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_region_closure_descendant", "descendant_code", "ancestor_code"),)


# --------------------------------------------------------------------------- schools, teachers


class School(Base):
    __tablename__ = "schools"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(20), ForeignKey("regions.code"), index=True)
    kind: Mapped[str] = mapped_column(String(12), default="学校")
    urban_rural: Mapped[str | None] = mapped_column(String(4))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    principal: Mapped[str | None] = mapped_column(String(60))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    # A region's live schools in code order, with what the 未激活学校 list shows: the 激活进度
    # queries read a subtree's schools from this index alone (data_access/activation.py).
    __table_args__ = (
        Index("ix_schools_region_live", "region_code", "deleted_at", "code", "name", "kind"),
    )


class Teacher(Base):
    __tablename__ = "teachers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    school_code: Mapped[str] = mapped_column(String(40), ForeignKey("schools.code"), index=True)
    stage: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(10))
    id_type: Mapped[str | None] = mapped_column(String(20))
    # Only the masked form and a keyed hash of the ID number are ever stored.
    id_number_masked: Mapped[str | None] = mapped_column(String(20))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    cert_status: Mapped[str] = mapped_column(String(4), default="已通过")
    applied_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The school admin's last 通过/不通过 (教师管理); an import keeps it unless the row's
    # 申请时间 is later (a new application).
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[int | None] = mapped_column(Integer)
    decision_reason: Mapped[str | None] = mapped_column(String(200))


class Training(Base):
    __tablename__ = "trainings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    start_at: Mapped[datetime] = mapped_column(DateTime)
    end_at: Mapped[datetime] = mapped_column(DateTime)
    hours_cap_tenths: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class TrainingRecord(Base):
    __tablename__ = "training_records"

    training_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trainings.id"), primary_key=True
    )
    teacher_id: Mapped[int] = mapped_column(Integer, ForeignKey("teachers.id"), primary_key=True)
    hours_tenths: Mapped[int] = mapped_column(Integer)
    study_seconds: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_training_records_teacher", "teacher_id"),)


class TeacherCount(Base):
    """Imported 专任教师数 of one region, optionally for one 学段 ('' = all stages)."""

    __tablename__ = "teacher_counts"

    region_code: Mapped[str] = mapped_column(
        String(20), ForeignKey("regions.code"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(8), primary_key=True, default="")
    count: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The user who committed the figure in the console; None = imported by the CLI. (No
    # foreign key: a figure outlives its updater's account, as audit entries do.)
    updated_by: Mapped[int | None] = mapped_column(Integer)


# --------------------------------------------------------------------------- accounts


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Binding(Base):
    """A user's administrative role over one scope (a region or a school)."""

    __tablename__ = "bindings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"), index=True)
    # region_super | region_training | school_admin
    role: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str | None] = mapped_column(String(20), ForeignKey("regions.code"))
    school_code: Mapped[str | None] = mapped_column(String(40), ForeignKey("schools.code"))
    contact_name: Mapped[str | None] = mapped_column(String(60))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    org_title: Mapped[str | None] = mapped_column(String(100))
    code_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("permission_codes.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)
    removed_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))

    __table_args__ = (
        Index("ix_bindings_region", "region_code"),
        # Covers "the school's current 学校管理员" (role and removal checked in the index).
        Index("ix_bindings_school", "school_code", "role", "removed_at"),
        # At most one current 学校管理员 per school, even under concurrent redemptions.
        Index(
            "uq_bindings_one_school_admin",
            "school_code",
            unique=True,
            sqlite_where=text("role = 'school_admin' AND removed_at IS NULL"),
            postgresql_where=text("role = 'school_admin' AND removed_at IS NULL"),
        ),
    )


class PermissionCode(Base):
    __tablename__ = "permission_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The last group of the code, so an issuer can tell codes apart in the list.
    hint: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str | None] = mapped_column(String(20), ForeignKey("regions.code"))
    school_code: Mapped[str | None] = mapped_column(String(40), ForeignKey("schools.code"))
    issued_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))
    issued_scope: Mapped[str | None] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    redeemed_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class DisplayToken(Base):
    """A kiosk link of the 大屏 (SPEC §4.6): one region, one training or the current one.

    Only the SHA-256 of the token is kept; the token itself is shown once, when issued."""

    __tablename__ = "display_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(String(20), ForeignKey("regions.code"))
    # None: the screen follows the current training (进行中, else the latest).
    training_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("trainings.id"))
    issued_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))  # None: CLI
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_seen_ip: Mapped[str | None] = mapped_column(String(45))


class WebSession(Base):
    """Server-side session: the browser holds only the random id."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"), index=True)
    active_binding_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("bindings.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(40))  # masked account or "cli"
    action: Mapped[str] = mapped_column(String(40))
    scope_region: Mapped[str | None] = mapped_column(String(20), index=True)
    scope_school: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(12), default="ok")


class RateEvent(Base):
    """Failed login / code-redemption attempts, counted per key in a sliding window.

    Kept in the database (not in worker memory) so the limit holds across every worker."""

    __tablename__ = "rate_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_rate_events_key_at", "key", "at"),)


# --------------------------------------------------------------------------- aggregates


class Snapshot(Base):
    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # building | ready | failed | retired
    status: Mapped[str] = mapped_column(String(10))


class CurrentSnapshot(Base):
    """One row (id = 1) naming the snapshot readers use; switched in one transaction."""

    __tablename__ = "current_snapshot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(Integer, ForeignKey("snapshots.id"))


class AggRegion(Base):
    """Training totals per region and (stage, subject, certified) cell.

    ``part`` is 'subtree' (all schools in the region's subtree) or 'direct' (schools attached
    to the region itself: its 直属学校).
    """

    __tablename__ = "agg_region"
    # PostgreSQL: a partition per snapshot (data_access/snapshot_store.py); SQLite: a file.
    __table_args__ = ({"postgresql_partition_by": "LIST (snapshot_id)"},)

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    training_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    part: Mapped[str] = mapped_column(String(7), primary_key=True)
    stage: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(20), primary_key=True)
    certified: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    participants: Mapped[int] = mapped_column(Integer)
    learners: Mapped[int] = mapped_column(Integer)
    hours_tenths: Mapped[int] = mapped_column(BigInteger)
    completed: Mapped[int] = mapped_column(Integer)


class AggSchool(Base):
    """Training totals per school and (stage, subject, certified) cell."""

    __tablename__ = "agg_school"

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    training_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    stage: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(20), primary_key=True)
    certified: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(20))
    participants: Mapped[int] = mapped_column(Integer)
    learners: Mapped[int] = mapped_column(Integer)
    hours_tenths: Mapped[int] = mapped_column(BigInteger)
    completed: Mapped[int] = mapped_column(Integer)

    # Covering: a region's school rows are summed from the index alone.
    __table_args__ = (
        Index("ix_agg_school_region", "snapshot_id", "training_id", "region_code", "school_code",
              "stage", "subject", "certified", "participants", "learners", "hours_tenths",
              "completed"),
        {"postgresql_partition_by": "LIST (snapshot_id)"},
    )


class AggTeacherCount(Base):
    """Effective 专任教师数 per region and stage ('' = all) after the children-sum rule.

    A missing denominator has no row.
    """

    __tablename__ = "agg_teacher_count"
    __table_args__ = ({"postgresql_partition_by": "LIST (snapshot_id)"},)

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    stage: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class AggTeacher(Base):
    """One row per participant of a training in a snapshot: the per-teacher list (按学员查看).

    ``l1``…``l5`` are the codes of the school region's ancestors by level (l1 = province), so
    "every teacher inside region R" is ``l{R.level} = R`` — one index range, any depth.
    Display fields are copied in (masked account, school name, region path) so that a page
    is read from this table alone.
    """

    __tablename__ = "agg_teacher"

    snapshot_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    training_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    l1: Mapped[str | None] = mapped_column(String(20))
    l2: Mapped[str | None] = mapped_column(String(20))
    l3: Mapped[str | None] = mapped_column(String(20))
    l4: Mapped[str | None] = mapped_column(String(20))
    l5: Mapped[str | None] = mapped_column(String(20))
    school_code: Mapped[str] = mapped_column(String(40))
    school_name: Mapped[str] = mapped_column(String(200))
    region_path: Mapped[str] = mapped_column(String(400))
    account_masked: Mapped[str] = mapped_column(String(20))
    # Binary collation on PostgreSQL so that a prefix is one index range, as on SQLite.
    name: Mapped[str] = mapped_column(String(60).with_variant(String(60, collation="C"),
                                                              "postgresql"))
    stage: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(20))
    certified: Mapped[bool] = mapped_column(Boolean)
    hours_tenths: Mapped[int] = mapped_column(Integer)
    study_seconds: Mapped[int] = mapped_column(BigInteger)

    # Each index ends with the filter columns so that filtering and OFFSET are answered from
    # the index alone (see data_access/participants.py).
    # Only the three levels administrators work at (province, prefecture, county) are indexed:
    # every index costs refresh time, and deeper regions (zones under a county) are small
    # enough to be read through their schools (ix_agg_teacher_school).
    # A name search is a range of names inside the region: with a name index over the whole
    # country, a common surname would be read for every province and then filtered.
    __table_args__ = tuple(
        Index(f"ix_agg_teacher_l{n}", "snapshot_id", "training_id", f"l{n}", "teacher_id",
              "stage", "subject", "certified")
        for n in range(1, 4)
    ) + tuple(
        Index(f"ix_agg_teacher_l{n}_name", "snapshot_id", "training_id", f"l{n}", "name",
              "teacher_id", "stage", "subject", "certified")
        for n in range(1, 4)
    ) + (
        Index("ix_agg_teacher_school", "snapshot_id", "training_id", "school_code", "teacher_id",
              "stage", "subject", "certified"),
        {"postgresql_partition_by": "LIST (snapshot_id)"},
    )


class ExportJob(Base):
    """A download too large for the request worker, written by a background worker."""

    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"), index=True)
    binding_id: Mapped[int] = mapped_column(Integer, ForeignKey("bindings.id"))
    table_name: Mapped[str] = mapped_column(String(20))  # regions | teachers
    file_format: Mapped[str] = mapped_column(String(4))  # csv | xlsx
    params: Mapped[str] = mapped_column(Text)  # JSON of the authorized request
    title: Mapped[str] = mapped_column(String(400))
    # queued | running | done | failed
    status: Mapped[str] = mapped_column(String(10))
    progress: Mapped[int] = mapped_column(Integer, default=0)  # rows written so far
    rows: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int | None] = mapped_column(BigInteger)
    file_path: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    # How many times a worker has taken the job (a job whose worker died is retried once).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Running: the worker's last sign of life. Queued: when the job was last handed to the
    # task queue.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)


class AggHistory(Base):
    """Daily totals per training × region (whole subtree), for ▲/▼ and trend lines."""

    __tablename__ = "agg_history"

    day: Mapped[datetime] = mapped_column(Date, primary_key=True)
    training_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    certified_only: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    participants: Mapped[int] = mapped_column(Integer)
    learners: Mapped[int] = mapped_column(Integer)
    hours_tenths: Mapped[int] = mapped_column(BigInteger)
    completed: Mapped[int] = mapped_column(Integer)
    snapshot_id: Mapped[int] = mapped_column(Integer)

    # "the latest day before D for this training and region" is one index seek.
    __table_args__ = (
        Index("ix_agg_history_region_day", "training_id", "region_code", "certified_only", "day"),
    )


__all__ = [
    "Base",
    "Region",
    "RegionClosure",
    "School",
    "Teacher",
    "Training",
    "TrainingRecord",
    "TeacherCount",
    "User",
    "Binding",
    "PermissionCode",
    "WebSession",
    "DisplayToken",
    "AuditLog",
    "RateEvent",
    "Snapshot",
    "CurrentSnapshot",
    "AggRegion",
    "AggSchool",
    "AggTeacherCount",
    "AggHistory",
    "AggTeacher",
    "ExportJob",
]
