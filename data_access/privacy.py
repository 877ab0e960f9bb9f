"""Masking of personal data. Every screen, payload and export goes through these."""

from __future__ import annotations

import hashlib
import hmac


PHONE_LENGTH = 11
STARS = "***"


def mask_account(account: str | None) -> str:
    """A login as screens and files show it.

    A mobile number keeps its first 3 and last 4 digits (`13812344708` → `138****4708`, as
    teacher accounts are shown). Any other login keeps a few characters at each end and three
    stars, whatever its length, so that accounts can be told apart without being revealed or
    their length given away: `fujian` → `fu***an`, `zhangsan2024` → `zha***024`,
    `abc` → `a***c`; two characters or fewer → `***`."""
    if not account:
        return ""
    if len(account) == PHONE_LENGTH and account.isdigit():
        return f"{account[:3]}****{account[-4:]}"
    n = len(account)
    keep = 3 if n >= 12 else 2 if n >= 6 else 1 if n >= 3 else 0
    return f"{account[:keep]}{STARS}{account[-keep:]}" if keep else STARS


def person_label(name: str | None, account: str | None) -> str:
    """Who someone is on screen: `林志强（fu***an）` (a name and the masked login)."""
    masked = mask_account(account)
    if name and masked:
        return f"{name}（{masked}）"
    return name or masked


def mask_name(name: str | None) -> str:
    """A person's name where only a hint is kept (the audit log): the first character and
    one star per other character, `王小明` → `王**`; a single character → `*`."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str | None) -> str:
    return mask_account(phone)


def mask_id_number(id_number: str | None) -> str:
    """`350102199001010375` → `35*****0375` (first 2 + ***** + last 4)."""
    if not id_number:
        return ""
    if len(id_number) < 7:
        return "*" * len(id_number)
    return f"{id_number[:2]}*****{id_number[-4:]}"


def id_number_hash(id_number: str, key: bytes) -> str:
    """Keyed hash used to de-duplicate ID numbers without storing them."""
    return hmac.new(key, id_number.strip().upper().encode("utf-8"), hashlib.sha256).hexdigest()


def id_number_hasher(key: bytes):
    """A fast ``id_number -> id_number_hash(id_number, key)`` for bulk imports.

    The keyed state is computed once and copied per value instead of rebuilt each time."""
    base = hmac.new(key, digestmod=hashlib.sha256)

    def digest(id_number: str) -> str:
        h = base.copy()
        h.update(id_number.strip().upper().encode("utf-8"))
        return h.hexdigest()

    return digest
