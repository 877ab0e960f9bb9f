"""Sliding-window counters of failed attempts, stored in the database so that every worker
process sees the same counts."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select

from .models import RateEvent


def key(kind: str, value: str, secret: bytes) -> str:
    # Keyed hash: the table never holds raw accounts or addresses.
    digest = hashlib.blake2b(value.encode("utf-8"), key=secret[:64], digest_size=16).hexdigest()
    return f"{kind}:{digest}"


def count(conn: Connection, k: str, window: timedelta, now: datetime | None = None) -> int:
    now = now or datetime.now()
    return conn.scalar(
        select(func.count()).select_from(RateEvent).where(RateEvent.key == k,
                                                          RateEvent.at > now - window)
    )


def hit(conn: Connection, k: str, now: datetime | None = None) -> None:
    conn.execute(insert(RateEvent).values(key=k, at=now or datetime.now()))


def prune(conn: Connection, older_than: timedelta = timedelta(days=1)) -> None:
    conn.execute(delete(RateEvent).where(RateEvent.at < datetime.now() - older_than))
