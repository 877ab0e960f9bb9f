"""Grid columns that never cut their text off at 1280 px and wider (with the 200 px menu).

Short texts of a fixed form (times, statuses, masked accounts, 撤销) get a fixed width that
fits them; long texts (names, school names, sentences) share the rest of the width and wrap
onto more lines, the row growing to fit.
"""

from __future__ import annotations

# px at the app's 14 px font, cell padding and borders included: `2026.12.01 22:06` needs
# 143, `2026.12.01 22:06:41` 166; a few px more for fonts with wider digits.
TIME_WIDTH, SECONDS_WIDTH, ACTION_WIDTH = 150, 176, 64
# A time may break after its date where a page has too many columns for it at 1280 px.
TIME_MIN_WIDTH = 100
# Wrapped lines at the normal line spacing; one line keeps the row's usual 39 px height.
WRAPPED_STYLE = {"lineHeight": "20px", "paddingTop": "9px", "paddingBottom": "9px"}


def column(field: str, header: str, min_width: int, flex: float = 0, **extra) -> dict:
    """A fixed-width column (`flex` 0) or one taking a `flex` share of the rest, at least
    `min_width` wide, whose text wraps."""
    col = {"field": field, "headerName": header, "minWidth": min_width}
    if flex:
        col.update(flex=flex, wrapText=True, autoHeight=True, cellStyle=WRAPPED_STYLE)
    else:
        col["width"] = min_width
    return {**col, **extra}

