"""Business calendars as configuration: one ``SlaCalendar`` per name, each change a version.

A calendar's id is derived from its name (uuid5), so looking one up is a primary-key read and two
first definitions of one name collide in the store. Every change records the whole definition
(time zone, weekly working hours, holidays, make-up working days), who made it and why, so the
calendar in force at any version can be rebuilt: complaints keep the calendar version they started
with. The built-in ``24x7`` (``CALENDAR_24X7``, version 0) is never stored and cannot be changed.

The definition is stored as plain JSON, the same shape as the HTTP body::

    {"timezone": "Asia/Shanghai",
     "working_hours": {"mon": [["09:00", "18:00"]], ...},   # a day left out has no hours
     "holidays": ["2026-10-01"], "workdays": ["2026-09-28"],
     "workday_hours": [["09:00", "18:00"]]}                  # optional: a make-up day's hours

``check_definition`` validates and normalises it with the business-time module's rules
(``Calendar.from_json``, naming the field of the first problem); ``to_calendar`` reads it back.
Event class names are stored topics: never rename one without an upcaster.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from aggregates.business_time import CALENDAR_24X7, Calendar
from aggregates.errors import FieldError, InvalidIntakeError
from aggregates.provenance import Provenance

BUILT_IN = CALENDAR_24X7.name
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Calendar names: lower-case letters, digits, ``.``, ``_``, ``-``; 1-64, starting alphanumeric."""

_NAME = re.compile(NAME_PATTERN)

Definition = dict[str, Any]
"""A calendar definition as stored (see the module's docstring)."""


def calendar_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/sla/calendars/{name}")


def check_name(name: str) -> None:
    if name == BUILT_IN:
        raise InvalidIntakeError("name", f"{BUILT_IN} is built in and cannot be changed")
    if not _NAME.fullmatch(name):
        raise InvalidIntakeError(
            "name", "must be 1-64 lower-case letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )


def check_definition(data: dict[str, Any]) -> Definition:
    """The definition validated and normalised (intervals and dates sorted, dates unique, ``00:00``
    as an end written ``24:00``); raises ``FieldError`` naming the first bad field. The rules are
    the business-time module's own (``Calendar.from_json``), so what is stored is what computes;
    refused as a domain error, like every other configuration rule."""
    try:
        return Calendar.from_json("definition", data).to_json()
    except FieldError as error:
        raise InvalidIntakeError(error.field, error.reason) from None


def to_calendar(name: str, version: int, definition: Definition) -> Calendar:
    """The ``Calendar`` of a stored definition."""
    return Calendar.from_json(name, definition, version)


def to_definition(calendar: Calendar) -> Definition:
    """The stored (and HTTP) form of a ``Calendar``: the inverse of ``to_calendar``."""
    return calendar.to_json()


class SlaCalendar(Aggregate):
    """A named business calendar and its versions (the aggregate's version is the calendar's)."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None

    class Redefined(Event):
        """A new version: the whole definition, replacing the previous one."""

        definition: Definition
        reason: str | None

        def apply(self, calendar: SlaCalendar) -> None:
            calendar.definition = self.definition
            calendar.reason = self.reason
            calendar.changed_by = self.actor
            calendar.changed_at = self.timestamp

    class Defined(Redefined, Aggregate.Created):
        """The first version of a calendar: a definition like every later one, and the name."""

        name: str

        def apply(self, calendar: SlaCalendar) -> None:
            calendar.name = self.name
            super().apply(calendar)

    if TYPE_CHECKING:
        name: str
        definition: Definition
        reason: str | None
        changed_by: str
        changed_at: datetime

    def __init__(self) -> None:
        pass

    @classmethod
    def define(
        cls, name: str, data: dict[str, Any], *, reason: str | None, by: Provenance
    ) -> SlaCalendar:
        check_name(name)
        return cls._create(
            cls.Defined,
            id=calendar_id(name),
            name=name,
            definition=check_definition(data),
            reason=reason,
            **by.as_event_fields(),
        )

    def redefine(self, data: dict[str, Any], *, reason: str | None, by: Provenance) -> bool:
        """Records a new version, unless ``data`` is the current definition (then nothing
        changes, so a repeated PUT is harmless); returns whether it recorded one."""
        definition = check_definition(data)
        if definition == self.definition:
            return False
        self.trigger_event(
            self.Redefined, definition=definition, reason=reason, **by.as_event_fields()
        )
        return True

    def calendar(self) -> Calendar:
        return to_calendar(self.name, self.version, self.definition)
