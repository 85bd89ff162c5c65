"""Stored text made safe to print on an operator's terminal.

Events written before intake refused control characters may hold ESC sequences (which a terminal
obeys: colours, cursor moves, window titles), NUL or bell; and any text may hold square brackets,
which rich would read as markup (``[/bold]`` in a subject made ``complaints history`` crash).
Cells are therefore rich ``Text`` (never markup) with control characters shown as escapes.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with each control character replaced by its escape (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def cell(text: str) -> Text:
    """A table cell showing ``text`` literally: no markup, control characters escaped."""
    return Text(visible(text))
