"""The JSON Schema patterns in the OpenAPI document say exactly what intake's text rules accept."""

from __future__ import annotations

import re
from typing import Annotated, Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import StringConstraints, TypeAdapter, ValidationError

from commands.input_types import MULTI_LINE, POSITION_PATTERN, SINGLE_LINE
from commands.models import LongText, OptionalShort, ShortText
from commands.text_patterns import TRIMMED

# Characters on every side of each rule: controls, line breaks, whitespace that is and is not
# trimmed, non-characters in and above the first plane, and ordinary text.
_EDGES = (
    "\x00\t\n\x0b\x0c\r\x1c\x1f \x7f\x85\x9f\xa0\u1680\u2000\u200b\u2028\u2029\u202f\u3000"
    "\ufdd0\ufeff\ufffe\uffff\U0001fffe\U0010ffff\U0001f600aZ9é张,."
)
TEXT = st.text(st.sampled_from(_EDGES), max_size=12)
NoTrim = Annotated[str, SINGLE_LINE]
LongNoTrim = Annotated[str, StringConstraints(max_length=200), MULTI_LINE]


def documented(annotation: Any) -> re.Pattern[str]:
    schema = TypeAdapter(annotation).json_schema()
    patterns = [schema["pattern"]] if "pattern" in schema else [
        s["pattern"] for s in schema["anyOf"] if "pattern" in s
    ]
    (pattern,) = patterns
    # JSON Schema's `$` is the end of the text; Python's also matches before a final newline.
    return re.compile(pattern.removesuffix("$") + r"\Z")


def accepts(annotation: Any, text: str) -> bool:
    try:
        TypeAdapter(annotation).validate_python(text)
    except ValidationError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_each_text_pattern_accepts_what_intake_accepts(text: str) -> None:
    for annotation in (ShortText, OptionalShort, LongText, NoTrim, LongNoTrim):
        assert bool(documented(annotation).search(text)) == accepts(annotation, text), (
            annotation, text,
        )


def test_trimmed_is_what_pydantic_strips() -> None:
    strip = TypeAdapter(Annotated[str, StringConstraints(strip_whitespace=True)])
    stripped = {c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF
                and strip.validate_python(chr(c) + "a") == "a"}
    assert stripped == {c for lo, hi in TRIMMED for c in range(lo, hi + 1)}


def test_the_position_pattern_ends_at_the_largest_bigint() -> None:
    position = re.compile(POSITION_PATTERN)
    for text, allowed in [
        ("0", True), ("0009223372036854775807", False), ("9223372036854775807", True),
        ("9223372036854775808", False), ("9300000000000000000", False), ("１", False),
        ("999999999999999999", True), ("", False), ("-1", False),
    ]:
        assert bool(position.fullmatch(text)) == allowed, text
