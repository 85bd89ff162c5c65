"""Issuing a token: the request (``POST /tokens``, ``complaints tokens create``) and its lifetime
spelt as people say it (``30d``, ``12h``, ``90m``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import Field, field_validator

from aggregates.errors import InvalidIntakeError
from aggregates.vocabulary import Grant, Role
from commands.models import Command, ShortText

LIFETIME_PATTERN = r"^[1-9][0-9]{0,6}[dhm]$"
LONGEST_LIFETIME = timedelta(days=3650)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_lifetime(text: str, field: str = "expires_in") -> timedelta:
    """``30d``, ``12h`` or ``90m`` as a duration of at most ten years."""
    if not re.fullmatch(LIFETIME_PATTERN, text):
        raise InvalidIntakeError(field, "must be a number and d, h or m, e.g. 30d, 12h, 90m")
    lifetime = timedelta(**{_UNITS[text[-1]]: int(text[:-1])})
    if lifetime > LONGEST_LIFETIME:
        raise InvalidIntakeError(field, "must be at most 3650d")
    return lifetime


class IssueToken(Command):
    name: ShortText
    """The principal's name, recorded on every event it causes."""
    role: Role
    teams: Annotated[list[ShortText], Field(max_length=50)] = []
    """The teams the principal acts for (its scope; commands/permissions.py)."""
    grants: Annotated[list[Grant], Field(max_length=len(Grant))] = []
    expires_in: Annotated[
        str | None,
        Field(pattern=LIFETIME_PATTERN, description="e.g. 30d, 12h, 90m; absent: never"),
    ] = None

    @field_validator("expires_in")
    @classmethod
    def _lifetime(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_lifetime(value)
            except InvalidIntakeError as e:
                raise ValueError(e.reason) from None
        return value
