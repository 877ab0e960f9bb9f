"""All configuration, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET = "dev-only-insecure-secret"


def instance_dir() -> Path:
    return Path(os.environ.get("YANXIU_INSTANCE_DIR", Path.cwd() / "instance"))


@dataclass
class Settings:
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET
    # The task queue's broker (SPEC §7.5), e.g. redis://host:6379/0; without one, background
    # work runs in the local worker that `serve` and `demo` start.
    broker_url: str | None = None
    task_queue: str = "yanxiu"  # the queue's name on the broker (two deployments, one Redis)
    # A running job whose worker has been silent this long is retried once, then 失败.
    job_stalled_seconds: int = 90
    # Key for the de-duplication hash of ID numbers; kept apart from the session secret so
    # that rotating the secret does not break de-duplication.
    id_hash_key: str = ""
    secure_cookies: bool = False
    testing: bool = False
    export_dir: Path = field(default_factory=lambda: instance_dir() / "exports")
    # Rows above which a download becomes a background job (SPEC §6).
    inline_export_limit: int = 20_000
    # The 大屏 (SPEC §4.6): how often it asks for a new snapshot, moves its highlighted
    # sub-region on, and reloads itself.
    screen_poll_seconds: int = 60
    screen_rotate_seconds: int = 15
    screen_reload_hours: float = 6.0
    # Reverse proxies in front of `serve` whose X-Forwarded-For/-Proto/-Host are believed
    # (client IPs of the audit log, rate limits and 大屏 visits; the kiosk link's address).
    trusted_proxies: int = 0

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{instance_dir() / 'yanxiu.db'}"
        if not self.id_hash_key:
            self.id_hash_key = self.secret_key
        if not 0 <= self.trusted_proxies <= 5:
            raise ValueError("YANXIU_TRUSTED_PROXIES must be between 0 and 5")
        if not 1 <= self.inline_export_limit <= 1_000_000:
            raise ValueError("YANXIU_INLINE_EXPORT_LIMIT must be between 1 and 1000000")
        if not 3 <= self.job_stalled_seconds <= 3600:
            raise ValueError("YANXIU_JOB_STALLED_SECONDS must be between 3 and 3600")
        if not self.task_queue or len(self.task_queue) > 100 or not all(
                c.isalnum() or c in "-_." for c in self.task_queue):
            raise ValueError("YANXIU_TASK_QUEUE: letters, digits, '-', '_' and '.' only")
        if not (1 <= self.screen_poll_seconds <= 3600 and 1 <= self.screen_rotate_seconds <= 3600
                and 0.01 <= self.screen_reload_hours <= 168):
            raise ValueError("screen timings out of range: poll and rotation 1–3600 s, "
                             "reload 0.01–168 h")

    @property
    def has_real_secret(self) -> bool:
        return bool(self.secret_key) and self.secret_key != DEFAULT_SECRET and len(
            self.secret_key
        ) >= 16

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values = dict(
            database_url=env.get("YANXIU_DATABASE_URL", ""),
            secret_key=env.get("YANXIU_SECRET_KEY", DEFAULT_SECRET),
            broker_url=env.get("YANXIU_BROKER_URL") or None,
            task_queue=env.get("YANXIU_TASK_QUEUE") or "yanxiu",
            id_hash_key=env.get("YANXIU_ID_HASH_KEY", ""),
            secure_cookies=env.get("YANXIU_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
        )
        for name, key, kind in (("screen_poll_seconds", "YANXIU_SCREEN_POLL_SECONDS", int),
                                ("screen_rotate_seconds", "YANXIU_SCREEN_ROTATE_SECONDS", int),
                                ("screen_reload_hours", "YANXIU_SCREEN_RELOAD_HOURS", float),
                                ("trusted_proxies", "YANXIU_TRUSTED_PROXIES", int),
                                ("job_stalled_seconds", "YANXIU_JOB_STALLED_SECONDS", int),
                                ("inline_export_limit", "YANXIU_INLINE_EXPORT_LIMIT", int)):
            if env.get(key):
                try:
                    values[name] = kind(env[key])
                except ValueError:
                    raise ValueError(f"{key} must be a number, not {env[key]!r}") from None
        if env.get("YANXIU_EXPORT_DIR"):
            values["export_dir"] = Path(env["YANXIU_EXPORT_DIR"])
        values.update(overrides)
        return cls(**values)
