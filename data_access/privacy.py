"""Masking of personal data. Every screen, payload and export goes through these."""

from __future__ import annotations

import hashlib
import hmac


def mask_account(account: str | None) -> str:
    """`13812344708` → `138****4708`; anything shorter than 8 characters is fully masked."""
    if not account:
        return ""
    if len(account) < 8:
        return "*" * len(account)
    return f"{account[:3]}****{account[-4:]}"


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
