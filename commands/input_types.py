"""What a caller's text and instants must be before anything stores them: annotated pydantic types.

Text. Every string a command carries ends up in events, read models (PostgreSQL ``text`` cannot
hold NUL), webhooks and screens, so intake refuses what no person types: C0 and C1 control
characters, DEL, lone UTF-16 surrogates (they cannot be encoded as UTF-8) and Unicode
non-characters (reserved for a program's internal use, never for interchange). Two shapes:

- ``SINGLE_LINE`` for ids, names, subjects, phone numbers, references: no line breaks and no tab
  either, since a name with a newline would break every list, CSV export and log line showing it;
- ``MULTI_LINE`` for free text (descriptions, comments, reasons): tab and line feed allowed, and
  CR LF or a lone CR normalised to LF, because pasted text carries them and refusing it would only
  make people retype it.

Instants and days: ``PlausibleInstant`` and ``PlausibleDay`` hold values to the one range defined in
``aggregates/plausible_time.py``. The same types validate query parameters, so a bad value is a
422 naming the field wherever it arrives.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field
from pydantic_core import PydanticCustomError

from aggregates.plausible_time import (
    DAY_RANGE,
    INSTANT_RANGE,
    is_plausible_day,
    is_plausible_instant,
)

# U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000)
)
_SURROGATES = "\ud800-\udfff"
_UNSAFE_IN_MULTI_LINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_SURROGATES}{_NONCHARACTERS}]")
_UNSAFE_IN_SINGLE_LINE = re.compile(
    f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_SURROGATES}{_NONCHARACTERS}]"
)
_LINE_BREAKS = {"\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"}


def describe_character(character: str) -> str:
    code = f"U+{ord(character):04X}"
    if character in _LINE_BREAKS:
        return f"a line break ({code})"
    if character == "\t":
        return f"a tab ({code})"
    if "\ud800" <= character <= "\udfff":
        return f"a lone UTF-16 surrogate ({code})"
    if character <= "\x1f" or "\x7f" <= character <= "\x9f":
        return f"the control character {code}"
    return f"the Unicode non-character {code}"


def unsafe_character_reason(text: str, *, multi_line: bool) -> str | None:
    """Why ``text`` cannot be stored (naming the first offending character), or None."""
    pattern = _UNSAFE_IN_MULTI_LINE if multi_line else _UNSAFE_IN_SINGLE_LINE
    found = pattern.search(text)
    if found is None:
        return None
    where = f"at character {found.start() + 1}"
    if not multi_line and found.group() in _LINE_BREAKS | {"\t"}:
        return f"must be a single line: contains {describe_character(found.group())} {where}"
    return f"contains {describe_character(found.group())} {where}"


def _single_line(text: str) -> str:
    reason = unsafe_character_reason(text, multi_line=False)
    if reason:
        raise PydanticCustomError("unsafe_text", reason)
    return text


def _multi_line(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    reason = unsafe_character_reason(text, multi_line=True)
    if reason:
        raise PydanticCustomError("unsafe_text", reason)
    return text


SINGLE_LINE = AfterValidator(_single_line)
"""Metadata for ``Annotated[str, StringConstraints(...), SINGLE_LINE]``: placed after the length
constraints, it checks the stripped value."""
MULTI_LINE = AfterValidator(_multi_line)
"""As ``SINGLE_LINE``, for free text: tab and LF allowed, CR LF and CR normalised to LF."""


def _plausible_instant(value: datetime) -> datetime:
    if not is_plausible_instant(value):
        raise PydanticCustomError("instant_out_of_range", f"must be {INSTANT_RANGE}")
    return value


def _plausible_day(value: date) -> date:
    if not is_plausible_day(value):
        raise PydanticCustomError("day_out_of_range", f"must be {DAY_RANGE}")
    return value


PlausibleInstant = Annotated[AwareDatetime, AfterValidator(_plausible_instant)]
"""An ISO-8601 instant with a UTC offset, within the plausible range."""
PlausibleDay = Annotated[date, AfterValidator(_plausible_day)]
"""A calendar day (YYYY-MM-DD) within the plausible range."""


MAX_POSITION = 2**63 - 1
"""The largest event-store position (PostgreSQL ``bigint``, SQLite ``INTEGER``): a caller's
number past it can name no event, and the database driver would refuse to bind it."""

Position = Annotated[int, Field(ge=0, le=MAX_POSITION)]
