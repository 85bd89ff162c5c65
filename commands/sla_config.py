"""The SLA configuration service: business calendars and the policy, versioned, with who and why.

Like ``TokenService``, it borrows the complaints application (one store, one notification log)
rather than being one: ``ComplaintsApp`` builds one instance, ``app.sla``. Writes go through the
aggregates (``SlaCalendar``, ``SlaPolicyBook``), which validate and record; reads of a version
read that version's one event, so any version is one primary-key query away (complaints keep the
versions they started with, and their figures are recomputed under those).

Writes honour ``If-Match`` (the version the caller last saw; ``0``: none set yet) and
``Idempotency-Key`` (an ``IdempotencyRecord`` saved atomically with the change, as for complaints).
A PUT of what is already in force records nothing and answers the current version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from aggregates.business_time import CALENDAR_24X7, Calendar
from aggregates.sla_calendar import (
    BUILT_IN,
    SlaCalendar,
    calendar_id,
    to_calendar,
    to_definition,
)
from aggregates.sla_policy import DEFAULT_POLICY, Policy, Rule
from aggregates.sla_policy_book import (
    POLICY_BOOK_ID,
    SlaPolicyBook,
    escalation_json,
    rule_json,
    to_policy,
)
from commands.context import CommandContext
from commands.errors import (
    ConcurrencyConflictError,
    IdempotencyKeyReusedError,
    PreconditionFailedError,
)
from commands.idempotency import IdempotencyRecord, fingerprint, legacy_record_id, record_id
from commands.listing import created
from commands.sla_models import SetCalendar, SetPolicy

T = TypeVar("T")
A = TypeVar("A", SlaCalendar, SlaPolicyBook)


class SlaConfigNotFoundError(LookupError):
    """Raised when no calendar has the given name, or no policy or calendar that version."""


class SlaPreconditionFailedError(PreconditionFailedError):
    """``If-Match`` names a version other than the calendar's or the policy's current one."""

    def __init__(self, what: str, expected: int, actual: int) -> None:
        super().__init__(expected, actual)
        self.args = (f"{what} is at version {actual}, not {expected}",)


@dataclass(frozen=True)
class CalendarVersion:
    """One version of a calendar and who made it, when and why (``None`` for the built-in)."""

    calendar: Calendar
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None

    @property
    def built_in(self) -> bool:
        return self.calendar.always_open

    def as_json(self) -> dict[str, Any]:
        """The public form (``GET /sla/calendars/{name}``, the CLI)."""
        return {
            "name": self.calendar.name,
            "version": self.calendar.version,
            "built_in": self.built_in,
            **to_definition(self.calendar),
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
        }


@dataclass(frozen=True)
class PolicyVersion:
    """One version of the policy and who made it, when and why (``None`` for version 0)."""

    policy: Policy
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """The public form (``GET /sla/policy``, the CLI)."""
        return {
            "version": self.policy.version,
            "rules": [rule_json(r) for r in self.policy.rules],
            "escalation": escalation_json(self.policy.escalation),
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
        }


V = TypeVar("V", CalendarVersion, PolicyVersion)
BUILT_IN_CALENDAR = CalendarVersion(CALENDAR_24X7, "built in", None, None)
BUILT_IN_POLICY = PolicyVersion(DEFAULT_POLICY, "built in: in force until a policy is set", None,
                                None)


@dataclass(frozen=True)
class Saved(Generic[T]):
    """What a write left in force."""

    current: T
    created: bool
    """This write made the first version (HTTP 201)."""
    recorded: bool
    """A new version was recorded (False: it was in force already, or the request a replay)."""
    replayed: bool = False
    """The answer of an earlier request with the same ``Idempotency-Key``."""


class SlaConfigService:
    """Business calendars and the SLA policy of one store (``app.sla``)."""

    TERMS_CACHE_SECONDS = 1.0
    """How long ``terms_for`` reuses the policy and calendars it read. Every filing asks for
    them, and reading them cost a round trip or two (more than the rest of a filing's reads);
    a change made in this process is seen at once, one made in another within this time."""

    def __init__(self, app: Application[UUID]) -> None:
        self._app = app
        self._in_force: dict[str, tuple[float, Any]] = {}
        """``terms_for``'s cache: "policy" or a calendar's name -> (when read, what)."""

    # ---- calendars ---------------------------------------------------------------------------

    def set_calendar(
        self, name: str, data: SetCalendar | Mapping[str, Any], ctx: CommandContext
    ) -> Saved[CalendarVersion]:
        """Defines the calendar ``name`` or records its next version."""
        command = data if isinstance(data, SetCalendar) else SetCalendar.model_validate(data)

        def change(calendar: SlaCalendar | None) -> tuple[SlaCalendar, bool]:
            terms: dict[str, Any] = {"reason": command.reason, "by": ctx.provenance}
            if calendar is None:
                return SlaCalendar.define(name, command.definition(), **terms), True
            return calendar, calendar.redefine(command.definition(), **terms)

        return self._write(
            ctx,
            f"calendar {name}",
            ("SetCalendar", name, command),
            lambda: self._calendar_aggregate(name),
            change,
            lambda version: self.calendar_version(name, version),
            self._calendar_of,
        )

    def calendar(self, name: str, version: int | None = None) -> Calendar:
        """The calendar ``name`` now, or at ``version`` (``24x7``: version 0, built in)."""
        return self.calendar_version(name, version).calendar

    def calendar_version(self, name: str, version: int | None = None) -> CalendarVersion:
        if name == BUILT_IN:
            if version not in (None, 0):
                raise SlaConfigNotFoundError(f"calendar {BUILT_IN} has only version 0")
            return BUILT_IN_CALENDAR
        if version is None:
            calendar = self._calendar_aggregate(name)
            if calendar is None:
                raise SlaConfigNotFoundError(f"no calendar named {name[:80]!r}")
            return self._calendar_of(calendar)
        event = self._event(calendar_id(name), version)
        if event is None:
            raise SlaConfigNotFoundError(f"calendar {name[:80]!r} has no version {version}")
        return _calendar_version(name, event)

    def calendar_versions(self, name: str) -> list[CalendarVersion]:
        """Every version of the calendar ``name``, oldest first."""
        if name == BUILT_IN:
            return [BUILT_IN_CALENDAR]
        versions = [_calendar_version(name, e) for e in self._app.events.get(calendar_id(name))]
        if not versions:
            raise SlaConfigNotFoundError(f"no calendar named {name[:80]!r}")
        return versions

    def calendars(self) -> list[CalendarVersion]:
        """Every calendar as it is now, the built-in ``24x7`` first, then by name."""
        defined = created(self._app, SlaCalendar.Defined, SlaCalendar)
        found = [self._calendar_of(c) for c in defined]
        return [BUILT_IN_CALENDAR, *sorted(found, key=lambda v: v.calendar.name)]

    def calendar_names(self) -> list[str]:
        return [v.calendar.name for v in self.calendars()]

    # ---- the policy --------------------------------------------------------------------------

    def set_policy(
        self,
        rules: Sequence[Any],
        reason: str,
        ctx: CommandContext,
        escalation: Mapping[str, Any] | None = None,
    ) -> Saved[PolicyVersion]:
        """Records the next version of the policy (the first replaces the built-in version 0)."""
        command = SetPolicy.model_validate(
            {"rules": list(rules), "reason": reason, "escalation": escalation}
        )
        return self.set_policy_command(command, ctx)

    def set_policy_command(self, command: SetPolicy, ctx: CommandContext) -> Saved[PolicyVersion]:
        """Records the next version of the policy from its validated request (``PUT /sla/policy``
        and ``complaints sla policy set``)."""

        def change(book: SlaPolicyBook | None) -> tuple[SlaPolicyBook, bool]:
            terms: dict[str, Any] = {
                "escalation": command.escalation_json(),
                "reason": command.reason,
                "calendars": _KnownCalendars(self),
                "by": ctx.provenance,
            }
            if book is None:
                return SlaPolicyBook.adopt(command.rules_json(), **terms), True
            return book, book.revise(command.rules_json(), **terms)

        return self._write(
            ctx,
            "the SLA policy",
            ("SetPolicy", None, command),
            self._policy_book,
            change,
            self.policy_version,
            self._policy_of,
        )

    def policy(self, version: int | None = None) -> Policy:
        """The policy now, or at ``version`` (0: the built-in ``DEFAULT_POLICY``)."""
        return self.policy_version(version).policy

    def policy_version(self, version: int | None = None) -> PolicyVersion:
        if version == 0:
            return BUILT_IN_POLICY
        if version is None:
            book = self._policy_book()
            return BUILT_IN_POLICY if book is None else self._policy_of(book)
        event = self._event(POLICY_BOOK_ID, version)
        if event is None:
            raise SlaConfigNotFoundError(f"the SLA policy has no version {version}")
        return _policy_version(event)

    def policy_versions(self) -> list[PolicyVersion]:
        """Every version of the policy, oldest first, the built-in version 0 included."""
        return [BUILT_IN_POLICY, *map(_policy_version, self._app.events.get(POLICY_BOOK_ID))]

    def terms_for(
        self, severity: str, tier: str, category: str, channel: str
    ) -> tuple[Policy, Rule, Calendar]:
        """What a complaint filed now is measured by: the policy in force, its first rule that
        matches, and the current version of that rule's calendar."""
        policy: Policy = self._cached("", self.policy)
        rule = policy.rule_for(severity=severity, tier=tier, category=category, channel=channel)
        calendar: Calendar = self._cached(rule.calendar, lambda: self.calendar(rule.calendar))
        return policy, rule, calendar

    def _cached(self, key: str, read: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._in_force.get(key)
        if hit is not None and now - hit[0] < self.TERMS_CACHE_SECONDS:
            return hit[1]
        value = read()
        self._in_force[key] = (now, value)
        return value

    # ---- helpers -----------------------------------------------------------------------------

    def _calendar_aggregate(self, name: str) -> SlaCalendar | None:
        try:
            calendar: object = self._app.repository.get(calendar_id(name))
        except AggregateNotFoundError:
            return None
        return calendar if isinstance(calendar, SlaCalendar) else None

    @staticmethod
    def _calendar_of(calendar: SlaCalendar) -> CalendarVersion:
        return CalendarVersion(
            calendar.calendar(), calendar.reason, calendar.changed_by, calendar.changed_at
        )

    def _policy_book(self) -> SlaPolicyBook | None:
        try:
            book: object = self._app.repository.get(POLICY_BOOK_ID)
        except AggregateNotFoundError:
            return None
        return book if isinstance(book, SlaPolicyBook) else None

    @staticmethod
    def _policy_of(book: SlaPolicyBook) -> PolicyVersion:
        return PolicyVersion(book.policy(), book.reason, book.changed_by, book.changed_at)

    def _event(self, aggregate_id: UUID, version: int) -> Any:
        """The event that made ``version`` of an aggregate (``Defined``/``Redefined``,
        ``Adopted``/``Revised``), or None."""
        if version < 1:
            return None
        found = list(self._app.events.get(aggregate_id, gt=version - 1, lte=version))
        return found[0] if found else None

    def _write(
        self,
        ctx: CommandContext,
        what: str,
        request: tuple[str, str | None, BaseModel],
        load: Callable[[], A | None],
        change: Callable[[A | None], tuple[A, bool]],
        version: Callable[[int], V],
        current: Callable[[A], V],
    ) -> Saved[V]:
        """One write of a calendar or the policy: the answer of an earlier request with the same
        ``Idempotency-Key``; else ``If-Match`` checked against the stored aggregate (``load``),
        ``change`` made to it (``None``: nothing stored yet, the first version) and saved with
        the idempotency record. ``what`` names it in refusals; ``request`` is fingerprinted;
        ``version`` reads a stored version, ``current`` the version an aggregate is at."""
        print_ = fingerprint(*request) if ctx.idempotency_key else ""
        self._in_force.clear()  # filings in this process see the change at once
        replay = self._replay(ctx, print_)
        if replay is None:
            existing = load()
            at = existing.version if existing else 0
            if ctx.expected_version is not None and ctx.expected_version != at:
                raise SlaPreconditionFailedError(what, ctx.expected_version, at)
            aggregate, recorded = change(existing)
            replay = self._save(aggregate, ctx, print_, recorded, what)
            if replay is None:
                return Saved(current(aggregate), existing is None, recorded)
        return Saved(
            version(replay.complaint_version), replay.complaint_version == 1, False, replayed=True
        )

    def _save(
        self,
        aggregate: SlaCalendar | SlaPolicyBook,
        ctx: CommandContext,
        print_: str,
        recorded: bool,
        what: str,
    ) -> IdempotencyRecord | None:
        """Saves the change and the idempotency record together; returns the record of a
        concurrent request with the same key if that one won, else None."""
        record = (
            IdempotencyRecord.record(
                ctx.principal, ctx.idempotency_key, print_, aggregate.id, aggregate.version
            )
            if ctx.idempotency_key
            else None
        )
        if not recorded and record is None:
            return None
        try:
            self._app.save(*([aggregate] if recorded else []), record)
        except IntegrityError:
            if replay := self._replay(ctx, print_):
                return replay
            raise ConcurrencyConflictError(
                f"{what} was changed by another request; reload it and try again"
            ) from None
        return None

    def _replay(self, ctx: CommandContext, print_: str) -> IdempotencyRecord | None:
        """The record of an earlier request with the same key (and body), if any."""
        if not ctx.idempotency_key:
            return None
        for candidate in (
            record_id(ctx.principal, ctx.idempotency_key),
            legacy_record_id(ctx.principal, ctx.idempotency_key),
        ):
            try:
                record: object = self._app.repository.get(candidate)
            except AggregateNotFoundError:
                continue
            if (
                isinstance(record, IdempotencyRecord)
                and record.principal == ctx.principal
                and record.key == ctx.idempotency_key
            ):
                if record.fingerprint != print_:
                    raise IdempotencyKeyReusedError(
                        f"Idempotency-Key {ctx.idempotency_key!r} was already used with a "
                        "different request"
                    )
                return record
        return None


def _calendar_version(name: str, event: Any) -> CalendarVersion:
    return CalendarVersion(
        to_calendar(name, event.originator_version, event.definition),
        event.reason,
        event.actor,
        event.timestamp,
    )


def _policy_version(event: Any) -> PolicyVersion:
    return PolicyVersion(
        to_policy(event.originator_version, event.rules, event.escalation),
        event.reason,
        event.actor,
        event.timestamp,
    )


class _KnownCalendars:
    """The calendar names a policy may use, looked up one at a time (a primary-key read each);
    listed in full only to say which exist when a rule names another."""

    def __init__(self, service: SlaConfigService) -> None:
        self._service = service

    def __contains__(self, name: object) -> bool:
        if name == BUILT_IN:
            return True
        return isinstance(name, str) and self._service._calendar_aggregate(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._service.calendar_names())

    def __len__(self) -> int:
        return len(self._service.calendar_names())
