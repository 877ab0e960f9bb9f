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
    redis_url: str | None = None
    # Key for the de-duplication hash of ID numbers; kept apart from the session secret so
    # that rotating the secret does not break de-duplication.
    id_hash_key: str = ""
    secure_cookies: bool = False
    testing: bool = False
    export_dir: Path = field(default_factory=lambda: instance_dir() / "exports")
    # Rows above which a download becomes a background job (SPEC §6).
    inline_export_limit: int = 20_000

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{instance_dir() / 'yanxiu.db'}"
        if not self.id_hash_key:
            self.id_hash_key = self.secret_key

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
            redis_url=env.get("YANXIU_REDIS_URL") or None,
            id_hash_key=env.get("YANXIU_ID_HASH_KEY", ""),
            secure_cookies=env.get("YANXIU_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
        )
        if env.get("YANXIU_EXPORT_DIR"):
            values["export_dir"] = Path(env["YANXIU_EXPORT_DIR"])
        values.update(overrides)
        return cls(**values)
