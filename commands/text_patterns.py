"""The characters text input may not hold, and the whitespace trimmed off it, as code point ranges.

One definition, two renderings: a Python regular expression that intake checks with
(``commands/input_types.py``), and a JSON Schema ``pattern`` that documents the same rule in the
OpenAPI document, so that generated clients and fuzzers know what is accepted before they send
it. JSON Schema patterns are ECMA-262 regular expressions read with Unicode semantics; both
renderings spell each character so that Python ``re``, Rust ``regex`` and ECMA engines agree
(``\\uXXXX`` escapes for the Basic Multilingual Plane, the character itself above it).

Lone UTF-16 surrogates are refused too, but no portable pattern can name them (they are not
characters); the OpenAPI descriptions say so instead.
"""

from __future__ import annotations

from collections.abc import Iterable

Ranges = tuple[tuple[int, int], ...]

SURROGATES: Ranges = ((0xD800, 0xDFFF),)
# U+FDD0..U+FDEF and the last two code points of every plane: reserved for a program's own use.
NONCHARACTERS: Ranges = ((0xFDD0, 0xFDEF),) + tuple(
    (plane + 0xFFFE, plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000)
)
_C0_C1 = ((0x00, 0x1F), (0x7F, 0x9F))

UNSAFE_IN_SINGLE_LINE: Ranges = _C0_C1 + ((0x2028, 0x2029),) + SURROGATES + NONCHARACTERS
"""Ids, names, subjects: no control character (tab and line breaks included)."""
UNSAFE_IN_MULTI_LINE: Ranges = (
    ((0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F)) + SURROGATES + NONCHARACTERS
)
"""Free text, as checked after CR LF and CR became LF: tab and LF allowed."""
UNSAFE_IN_MULTI_LINE_AS_SENT: Ranges = (
    ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F)) + SURROGATES + NONCHARACTERS
)
"""As ``UNSAFE_IN_MULTI_LINE``, before CR is normalised: the CR a client sends is accepted."""

TRIMMED: Ranges = (
    (0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
    (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
)
"""What pydantic's ``strip_whitespace`` removes from both ends (Unicode White_Space; unlike
Python's ``str.strip``, not U+001C..U+001F). ``tests/unit/test_text_patterns.py`` checks it."""


def python_class(ranges: Ranges) -> str:
    """The inside of a Python ``re`` character class: the characters themselves."""
    return "".join(chr(lo) if lo == hi else f"{chr(lo)}-{chr(hi)}" for lo, hi in ranges)


def _schema_char(code: int) -> str:
    return f"\\u{code:04X}" if code <= 0xFFFF else chr(code)


def schema_class(*sets: Ranges) -> str:
    """The inside of a JSON Schema (ECMA-262) character class, surrogates left out."""
    return "".join(
        _schema_char(lo) if lo == hi else f"{_schema_char(lo)}-{_schema_char(hi)}"
        for lo, hi in _without_surrogates(r for ranges in sets for r in ranges)
    )


def _without_surrogates(ranges: Iterable[tuple[int, int]]) -> Iterable[tuple[int, int]]:
    for lo, hi in ranges:
        if lo >= 0xD800 and hi <= 0xDFFF:
            continue
        yield lo, hi


def text_pattern(unsafe: Ranges, *, trimmed: bool, required: bool) -> str:
    """The JSON Schema pattern of text that may not hold ``unsafe`` characters.

    ``trimmed``: whitespace at either end is removed before the check (so any may be sent there),
    and ``required`` then means something must be left.
    """
    if not trimmed:
        return f"^[^{schema_class(unsafe)}]*$"
    space, safe = schema_class(TRIMMED), schema_class(unsafe)
    solid = f"[^{safe}{space}]"
    core = f"{solid}(?:[^{safe}]*{solid})?"
    return f"^[{space}]*{core if required else f'(?:{core})?'}[{space}]*$"


def not_blank_pattern() -> str:
    """Some character that trimming keeps (unanchored: anywhere in the text)."""
    return f"[^{schema_class(TRIMMED)}]"
