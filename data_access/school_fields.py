"""The rules of a school's fields (SPEC §1.2), shared by every way a school is written: the
`schools` importer and the 学校管理 form check a value with the same functions, so a value
one accepts the other accepts too.

Each check returns the clean value or raises :class:`FieldProblem`, which carries the reason
twice: in English for the importer's ``row N, column C: reason`` lines (whose wording the
import reports and their tests rely on) and in Chinese for the message shown next to a form
field. Values arrive already trimmed of surrounding whitespace (the importer trims cells, the
form trims what was typed).
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from . import vocab
from .models import School
from .text import code_point, control_characters, value_controls

#: VARCHAR lengths of the school columns, so that an over-long value is a field error.
MAX_LENGTH = {c.name: c.type.length for c in School.__table__.columns
              if getattr(c.type, "length", None)}

#: Form field labels (also the importer's Chinese column labels).
LABELS = {
    "code": "学校标识码",
    "name": "学校名称",
    "region_code": "所在区域",
    "kind": "机构类型",
    "urban_rural": "城乡类型",
    "address": "学校地址",
    "phone": "联系电话",
    "principal": "校长姓名",
}
DEFAULT_KIND = "学校"

# A 学校标识码 is free text (`S-XY-1`, `3135000001`): printable, without spaces, because it
# is the school's identifier in URLs, callbacks and the scope checks (data_access.scope).
_CODE_RE = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]+")
# A telephone number as schools write it: `0594-1234567`, `(0594) 123 4567`, `13800000000`,
# `0594-1234567转8001`.
_PHONE_RE = re.compile(r"\+?[0-9()（）\- ]*[0-9][0-9()（）\- ]*(?:转[0-9]{1,6})?")


class FieldProblem(ValueError):
    """A value is not acceptable; ``en`` for import reports, ``zh`` for the form."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.en, self.zh = en, zh


MISSING_EN, MISSING_ZH = "required value is missing", "必填"


def missing() -> FieldProblem:
    return FieldProblem(MISSING_EN, MISSING_ZH)


def control_problem(found: list[str]) -> FieldProblem:
    points = ", ".join(code_point(c) for c in found)
    if len(found) == 1:
        return FieldProblem(f"contains a control character ({points})",
                            f"不能包含控制字符（{points}）")
    return FieldProblem(f"contains control characters ({points})",
                        f"不能包含控制字符（{points.replace(', ', '、')}）")


def trimmed(raw: str) -> str:
    """A value as typed (the form): trimmed like an import cell, and refused like one when
    it holds a control character (data_access.text.value_controls)."""
    found = value_controls(raw)
    if found:
        raise control_problem(found)
    return raw.strip()


def _plain(value: str, field: str) -> str:
    """No control character, not longer than the column."""
    found = control_characters(value)
    if found:
        raise control_problem(found)
    limit = MAX_LENGTH.get(field)
    if limit is not None and len(value) > limit:
        raise FieldProblem(f"longer than {limit} characters", f"不能超过 {limit} 个字符")
    return value


def required_text(value: str, field: str) -> str:
    if not value:
        raise missing()
    return _plain(value, field)


def optional_text(value: str, field: str) -> str | None:
    return _plain(value, field) if value else None


def school_code(value: str) -> str:
    value = required_text(value, "code")
    if not _CODE_RE.fullmatch(value):
        raise FieldProblem("must not contain spaces", "不能包含空格")
    return value


def school_name(value: str) -> str:
    return required_text(value, "name")


def region_code(value: str, known: Callable[[str], bool]) -> str:
    """A region code the caller knows (``known``: exists, or exists inside a scope)."""
    value = required_text(value, "region_code")
    if not known(value):
        raise FieldProblem(f"unknown region code '{value}'", "所在区域不存在")
    return value


def enum(value: str, allowed: Iterable[str], field: str) -> str | None:
    """An optional value of a closed list (empty = not given)."""
    if not value:
        return None
    _plain(value, field)
    allowed = tuple(allowed)
    if value not in allowed:
        raise FieldProblem(f"'{value}' is not allowed; expected one of: {', '.join(allowed)}",
                           f"「{value}」不是有效的{LABELS[field]}，应为：{'、'.join(allowed)}")
    return value


def kind(value: str) -> str | None:
    return enum(value, vocab.SCHOOL_KINDS, "kind")


def urban_rural(value: str) -> str | None:
    return enum(value, vocab.URBAN_RURAL, "urban_rural")


def phone(value: str) -> str | None:
    value = optional_text(value, "phone")
    if value is not None and not _PHONE_RE.fullmatch(value):
        raise FieldProblem("is not a telephone number",
                           "不是有效的电话号码（如 0594-1234567 或 13800000000）")
    return value


__all__ = ["FieldProblem", "LABELS", "MAX_LENGTH", "MISSING_EN", "MISSING_ZH", "missing",
           "DEFAULT_KIND", "control_problem",
           "required_text", "optional_text", "school_code", "school_name", "region_code",
           "trimmed", "enum", "kind", "urban_rural", "phone"]
