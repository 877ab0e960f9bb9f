"""Control characters in user input (forms, URLs, callbacks, import files).

PostgreSQL refuses NUL in text and SQLite stores it silently; the other C0/C1 controls and
DEL are never part of a name, a code or a search. Every input path rejects them with a
message of its own, using this one definition.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls. TAB, LF and CR count too: a single-line field never holds
# them. Callers that accept them (a CSV cell with line breaks, text pasted into a search box
# that is stripped anyway) pass ``allow_whitespace``.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def first_control_character(text: str, *, allow_whitespace: bool = False) -> str | None:
    """The first control character of ``text`` as ``U+0000``, or None."""
    m = (_CONTROL_EXCEPT_WHITESPACE if allow_whitespace else _CONTROL).search(text)
    return None if m is None else f"U+{ord(m.group()):04X}"


def has_control_characters(text: str, *, allow_whitespace: bool = False) -> bool:
    return first_control_character(text, allow_whitespace=allow_whitespace) is not None
