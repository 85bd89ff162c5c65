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

Every rule here is also written into the OpenAPI document (JSON Schema patterns, formats and
descriptions), so that a client generated from it, or a fuzzer, knows what will be accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, GetCoreSchemaHandler, WithJsonSchema
from pydantic.annotated_handlers import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from aggregates.plausible_time import (
    DAY_RANGE,
    INSTANT_RANGE,
    is_plausible_day,
    is_plausible_instant,
)
from commands.text_patterns import (
    UNSAFE_IN_MULTI_LINE,
    UNSAFE_IN_MULTI_LINE_AS_SENT,
    UNSAFE_IN_SINGLE_LINE,
    python_class,
    text_pattern,
)

_UNSAFE_IN_MULTI_LINE = re.compile(f"[{python_class(UNSAFE_IN_MULTI_LINE)}]")
_UNSAFE_IN_SINGLE_LINE = re.compile(f"[{python_class(UNSAFE_IN_SINGLE_LINE)}]")
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


@dataclass(frozen=True)
class TextRule:
    """``Annotated`` metadata that checks a string's characters and documents the check as a
    JSON Schema ``pattern`` (an ``AfterValidator`` would check without telling clients).

    Placed after the length constraints, it checks the trimmed value; the pattern describes the
    value as sent, so it lets whitespace that is trimmed off surround the text.
    """

    multi_line: bool

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        check = _multi_line if self.multi_line else _single_line
        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        text: Any = schema.get("schema", {})  # the ``str`` schema this rule wraps
        trimmed = bool(text.get("strip_whitespace"))
        unsafe = UNSAFE_IN_MULTI_LINE_AS_SENT if self.multi_line else UNSAFE_IN_SINGLE_LINE
        pattern = text_pattern(unsafe, trimmed=trimmed, required=text.get("min_length", 0) > 0)
        if "pattern" in json_schema:  # a format of its own (e-mail): both must hold
            json_schema.setdefault("allOf", []).append({"pattern": json_schema.pop("pattern")})
            json_schema["allOf"].append({"pattern": pattern})
        else:
            json_schema["pattern"] = pattern
        return json_schema


SINGLE_LINE_PATTERN = text_pattern(UNSAFE_IN_SINGLE_LINE, trimmed=False, required=False)
"""The JSON Schema pattern of single-line text taken as sent (paths and query parameters, which
``api/query_guard.py`` holds to the single-line rule)."""

SINGLE_LINE = TextRule(multi_line=False)
"""Metadata for ``Annotated[str, StringConstraints(...), SINGLE_LINE]``: placed after the length
constraints, it checks the stripped value."""
MULTI_LINE = TextRule(multi_line=True)
"""As ``SINGLE_LINE``, for free text: tab and LF allowed, CR LF and CR normalised to LF."""


def _plausible_instant(value: datetime) -> datetime:
    if not is_plausible_instant(value):
        raise PydanticCustomError("instant_out_of_range", f"must be {INSTANT_RANGE}")
    return value


def _plausible_day(value: date) -> date:
    if not is_plausible_day(value):
        raise PydanticCustomError("day_out_of_range", f"must be {DAY_RANGE}")
    return value


# ISO-8601 as RFC 3339 writes it, years limited to the plausible ones; the exact bounds (in UTC)
# are in the description, as JSON Schema has no comparison for instants.
_YEAR = r"(?:19[7-9][0-9]|20[0-9][0-9])"
_DAY = _YEAR + r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
INSTANT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": f"^{_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{{1,6}})?"
    "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$",
    "description": f"An instant with a UTC offset, {INSTANT_RANGE}",
}
DAY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "pattern": f"^{_DAY}$",
    "description": f"A calendar day (YYYY-MM-DD), {DAY_RANGE}",
}

PlausibleInstant = Annotated[
    AwareDatetime, AfterValidator(_plausible_instant), WithJsonSchema(INSTANT_SCHEMA)
]
"""An ISO-8601 instant with a UTC offset, within the plausible range."""
PlausibleDay = Annotated[date, AfterValidator(_plausible_day), WithJsonSchema(DAY_SCHEMA)]
"""A calendar day (YYYY-MM-DD) within the plausible range."""


MAX_POSITION = 2**63 - 1
"""The largest event-store position (PostgreSQL ``bigint``, SQLite ``INTEGER``): a caller's
number past it can name no event, and the database driver would refuse to bind it."""

Position = Annotated[int, Field(ge=0, le=MAX_POSITION)]


def _digits_at_most(limit: str) -> str:
    """A regular expression of the digit strings of ``limit``'s length that are at most it."""
    choices = [
        limit[:i] + f"[0-{int(d) - 1}]" + f"[0-9]{{{len(limit) - i - 1}}}"
        for i, d in enumerate(limit)
        if d != "0"
    ]
    return "|".join([*choices, limit])


_MAX_DIGITS = len(str(MAX_POSITION))
POSITION_PATTERN = f"^(?:[0-9]{{1,{_MAX_DIGITS - 1}}}|{_digits_at_most(str(MAX_POSITION))})$"
"""A position written out (a header): ASCII digits, at most ``MAX_POSITION``."""
