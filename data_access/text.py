"""Checks on text that comes from outside (import files, forms, URLs, callbacks): one
definition of a control character for every input path.

A control character is any character of Unicode category Cc: the C0 controls U+0000–U+001F
(NUL, TAB, line feed, carriage return, ESC, …), DEL U+007F and the C1 controls
U+0080–U+009F; and, by the same rule, the characters that cannot be stored at all (lone
surrogates U+D800–U+DFFF, which no UTF-8 database or file takes) or that silently rearrange
what is shown (the line and paragraph separators U+2028/U+2029, the bidirectional
embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069). None of them belongs in
a name, a code, a number or a search term: NUL cannot be stored by PostgreSQL at all, and the
others corrupt what screens, logs and exported files show. Callers that legitimately take
several lines or tabs say so with ``allow``.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069]")
# What text pasted into a single-line search box may carry; it is stripped anyway.
PASTED_WHITESPACE = "\t\n\r"


def control_characters(text: str, allow: str = "") -> list[str]:
    """The distinct control characters of ``text`` in order of appearance, except those in
    ``allow`` (e.g. ``"\\n"`` for a multi-line field)."""
    found: list[str] = []
    for match in _CONTROL.finditer(text):
        ch = match.group()
        if ch not in allow and ch not in found:
            found.append(ch)
    return found


def has_control_characters(text: str, allow: str = "") -> bool:
    """True when ``text`` holds a control character not in ``allow``."""
    if text.isprintable():  # the fast answer for nearly all text: controls are unprintable
        return False
    if not allow:
        return _CONTROL.search(text) is not None
    return bool(control_characters(text, allow))


def value_controls(raw: str) -> list[str]:
    """The control characters of a single-line value as typed or read from a cell: those
    inside it, and any around it except the tabs and line breaks that trimming drops with
    the other whitespace (a value pasted with a trailing line break is fine; ``\x85`` or
    ``\x0b`` at its end, which ``str.strip()`` would silently drop, is not)."""
    return control_characters(raw.strip()) or control_characters(raw, allow=PASTED_WHITESPACE)


def code_point(ch: str) -> str:
    """``"\\x00"`` → ``"U+0000"``: how a message names an invisible character."""
    return f"U+{ord(ch):04X}"


def visible(text: str) -> str:
    """``text`` with each control character written as ``[U+0000]``, for messages and files
    that show a rejected value."""
    return _CONTROL.sub(lambda m: f"[{code_point(m.group())}]", text)


__all__ = ["PASTED_WHITESPACE", "control_characters", "has_control_characters",
           "value_controls", "code_point",
           "visible"]
