"""Display tokens: the kiosk links of the 大屏 (SPEC §4.6).

A token is 192 bits from the OS CSPRNG (URL-safe base 64, 32 characters); only its SHA-256 is
stored (the token carries its own entropy, so a slow hash adds nothing) and it is shown once,
when issued. It grants the wall screen of one region and one training (or the current
training) and nothing else; revoked or past its expiry, it grants nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased

from .db import SQLITE_BUSY_TIMEOUT_MS
from .models import DisplayToken, Region, Training, User
from .privacy import person_label
from .regions import RegionRow, get_region, is_within
from .rules import in_subtree
from .scope import CODE_RE, Scope
from .text import has_control_characters
from .trainings import TrainingRow, training_by_code

TOKEN_BYTES = 24
KIOSK_PREFIX = "/screen/"
LABEL_MAX = 40
EXPIRY_MAX_DAYS = 3660  # ten years: a longer one is meant to be 长期有效
# The kiosk's last visit is written at most this often (every poll would be a write).
SEEN_EVERY = timedelta(minutes=2)
CURRENT_TRAINING_LABEL = "当前培训（自动跟随）"

STATUS_ACTIVE, STATUS_REVOKED, STATUS_EXPIRED = "有效", "已撤销", "已过期"
# A token is looked up only when it has the shape of one: anything else is refused unread.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32}")


# Zero-width and other format characters (Unicode category Cf) show as nothing at all.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")


class TokenError(ValueError):
    """A refusal with a message fit to show to the user."""


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str

    @property
    def path(self) -> str:
        return f"{KIOSK_PREFIX}{self.token}"


@dataclass(frozen=True)
class TokenRow:
    """One line of the 大屏管理 list."""

    id: int
    label: str
    region_code: str
    region_name: str
    training_code: str | None  # None: follows the current training
    training_name: str
    issuer: str
    created_at: datetime
    expires_at: datetime | None
    last_seen_at: datetime | None
    last_seen_ip: str
    status: str


@dataclass(frozen=True)
class Grant:
    """What a valid token shows: its region and its training (None: the current one)."""

    token_id: int
    region_code: str
    training_id: int | None
    last_seen_at: datetime | None
    last_seen_ip: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "ignore")).hexdigest()


def clean_label(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise TokenError("请填写大屏名称（如：三楼会议室）")
    label = raw.strip()
    if has_control_characters(label):
        raise TokenError("大屏名称含有不可见的控制字符，请重新输入")
    if not _INVISIBLE.sub("", label).strip():  # only zero-width or format characters
        raise TokenError("请填写大屏名称（如：三楼会议室）")
    if len(label) > LABEL_MAX:
        raise TokenError(f"大屏名称最多 {LABEL_MAX} 个字")
    return label


def expiry_of(day: date | None, today: date) -> datetime | None:
    """A link valid until the end of `day`; None: no expiry."""
    if day is None:
        return None
    if day < today:
        raise TokenError("有效期不能早于今天")
    if day > today + timedelta(days=EXPIRY_MAX_DAYS):
        raise TokenError("有效期最长十年；不需要到期的大屏请不填有效期")
    return datetime.combine(day, time(23, 59, 59))


def issue(conn: Connection, issuer: Scope | None, *, user_id: int | None, region_code: object,
          training_code: object, label: object, expires_on: date | None = None,
          now: datetime | None = None) -> IssuedToken:
    """Issue a link for `region_code` (inside the issuer's scope; `issuer` None = platform
    operator) and `training_code` (None or '' = the current training)."""
    now = now or datetime.now()
    label = clean_label(label)
    region = _region_for(conn, issuer, region_code)
    training_id = None
    # Only None and '' mean "the current training": a forged 0, [] or {} is no choice at all.
    if training_code is not None and training_code != "":
        valid = isinstance(training_code, str) and CODE_RE.fullmatch(training_code)
        training = training_by_code(conn, training_code) if valid else None
        if training is None:
            raise TokenError("培训不存在")
        training_id = training.id
    token = secrets.token_urlsafe(TOKEN_BYTES)
    new_id = conn.execute(
        insert(DisplayToken).values(
            token_hash=token_hash(token), label=label, region_code=region.code,
            training_id=training_id, issued_by=user_id, created_at=now,
            expires_at=expiry_of(expires_on, now.date()))
        .returning(DisplayToken.id)
    ).scalar_one()
    return IssuedToken(new_id, token)


def _region_for(conn: Connection, issuer: Scope | None, code: object) -> RegionRow:
    # Checked for shape before any lookup: a NUL byte cannot even be sent to PostgreSQL.
    region = get_region(conn, code) if isinstance(code, str) and CODE_RE.fullmatch(code) else None
    if region is None:
        raise TokenError("区域不存在")
    if issuer is not None and not (issuer.region_code and issuer.school_code is None
                                   and is_within(conn, issuer.region_code, region.code)):
        raise TokenError("该区域不在您的管理范围内")
    return region


def training_choices(conn: Connection) -> list[TrainingRow]:
    """Every training a link may be bound to, newest first (the 培训列表's order)."""
    return [TrainingRow(*r) for r in conn.execute(
        select(Training.id, Training.code, Training.name, Training.start_at, Training.end_at,
               Training.hours_cap_tenths, Training.created_at)
        .order_by(Training.created_at.desc(), Training.id.desc()))]


def status_of(expires_at: datetime | None, revoked_at: datetime | None, now: datetime) -> str:
    if revoked_at is not None:
        return STATUS_REVOKED
    if expires_at is not None and expires_at < now:
        return STATUS_EXPIRED
    return STATUS_ACTIVE


def list_tokens(conn: Connection, scope: Scope | None, now: datetime | None = None,
                token_id: int | None = None) -> list[TokenRow]:
    """Every link of a region inside the scope (None: all of them, for the operator), newest
    first — also the ones other admins of the scope issued."""
    now = now or datetime.now()
    issuer = aliased(User)
    stmt = (
        select(DisplayToken.id, DisplayToken.label, DisplayToken.region_code, Region.name,
               Training.code, Training.name, issuer.name, issuer.account,
               DisplayToken.created_at, DisplayToken.expires_at, DisplayToken.revoked_at,
               DisplayToken.last_seen_at, DisplayToken.last_seen_ip)
        .join(Region, Region.code == DisplayToken.region_code)
        .outerjoin(Training, Training.id == DisplayToken.training_id)
        .outerjoin(issuer, issuer.id == DisplayToken.issued_by)
        .order_by(DisplayToken.created_at.desc(), DisplayToken.id.desc())
    )
    if scope is not None:
        stmt = stmt.where(in_subtree(scope.region_code, DisplayToken.region_code))
    if token_id is not None:
        stmt = stmt.where(DisplayToken.id == token_id)
    out = []
    for (tid, label, region_code, region_name, t_code, t_name, i_name, i_account, created,
         expires, revoked, seen, ip) in conn.execute(stmt):
        out.append(TokenRow(
            tid, label, region_code, region_name, t_code,
            t_name if t_code else CURRENT_TRAINING_LABEL,
            person_label(i_name, i_account) if (i_name or i_account) else "平台运维（命令行）",
            created, expires, seen, ip or "", status_of(expires, revoked, now)))
    return out


def revoke(conn: Connection, scope: Scope | None, token_id: object, *, user_id: int | None,
           now: datetime | None = None) -> TokenRow:
    """Revoke a link of the scope; returns it as it was. Revoking twice is refused."""
    now = now or datetime.now()
    if isinstance(token_id, bool) or not isinstance(token_id, int) or not 0 < token_id < 2**31:
        raise TokenError("大屏链接不存在")
    row = next(iter(list_tokens(conn, scope, now, token_id)), None)
    if row is None:
        raise TokenError("大屏链接不存在或不在您的管理范围内")
    if row.status == STATUS_REVOKED:
        raise TokenError("该大屏链接已撤销")
    conn.execute(update(DisplayToken).where(DisplayToken.id == token_id,
                                            DisplayToken.revoked_at.is_(None))
                 .values(revoked_at=now, revoked_by=user_id))
    return row


# Built once: a kiosk polls every minute, and building the statement costs more than
# running it.
_GRANT = (
    select(DisplayToken.id, DisplayToken.region_code, DisplayToken.training_id,
           DisplayToken.expires_at, DisplayToken.revoked_at, DisplayToken.last_seen_at,
           DisplayToken.last_seen_ip)
    .where(DisplayToken.token_hash == bindparam("token_hash"))
)


def grant_of(conn: Connection, token: object, now: datetime | None = None) -> Grant | None:
    """The grant of a kiosk's token; None when it is unknown, revoked or expired."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        return None
    now = now or datetime.now()
    row = conn.execute(_GRANT, {"token_hash": token_hash(token)}).first()
    if row is None or status_of(row.expires_at, row.revoked_at, now) != STATUS_ACTIVE:
        return None
    return Grant(row.id, row.region_code, row.training_id, row.last_seen_at, row.last_seen_ip)


def seen_is_due(grant: Grant, ip: str, now: datetime) -> bool:
    return (grant.last_seen_at is None or now - grant.last_seen_at >= SEEN_EVERY
            or (grant.last_seen_ip or "") != ip)


SEEN_LOCK_WAIT_MS = 200


def mark_seen(engine: Engine, token_id: int, ip: str, now: datetime) -> bool:
    """Best effort: the visit is written unless the database is busy with another writer
    (an import) for more than a moment — a screen's poll never waits for it, the next poll
    writes it instead. Returns whether it was written."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SEEN_LOCK_WAIT_MS}")
            conn.commit()
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{SEEN_LOCK_WAIT_MS}ms'")
                conn.execute(update(DisplayToken).where(DisplayToken.id == token_id)
                             .values(last_seen_at=now, last_seen_ip=ip[:45]))
            return True
        except OperationalError:
            return False
        finally:
            if sqlite:
                try:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                    conn.commit()
                except OperationalError:
                    conn.invalidate()  # never back into the pool with the short timeout


def token_path(token: str) -> str:
    return f"{KIOSK_PREFIX}{token}"


def token_in_path(pathname: object) -> str | None:
    """The token of a kiosk path `/screen/<token>` (None for anything else)."""
    if not isinstance(pathname, str) or not pathname.startswith(KIOSK_PREFIX):
        return None
    token = pathname[len(KIOSK_PREFIX):].rstrip("/")
    return token if _TOKEN_RE.fullmatch(token) else None
