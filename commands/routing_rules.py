"""The routing rules service (issue 12): ``PUT``/``GET /routing/rules`` through the complaints
application (``app.routing_rules``), and the rules in force for the routing reaction.

A PUT whose rules are those in force records nothing and answers the current version; ``If-Match``
is honoured (``0``: none published yet). Every team a rule names must be in the directory. The
routing reaction reads ``in_force()`` on every filing: it is kept for ``cache_seconds``
(``COMPLAINTS_DIRECTORY_CACHE_SECONDS``), so a change made by another process applies within that
time, and one made here at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from aggregates.routing_rules import ROUTING_RULES_ID, RoutingRules, RuleJSON
from commands.context import CommandContext
from commands.directory import CACHE_SECONDS, DirectoryService, NoComplaint
from commands.errors import ConcurrencyConflictError, PreconditionFailedError
from commands.permissions import authorize
from commands.routing_models import PutRoutingRules


@dataclass(frozen=True)
class RulesVersion:
    version: int
    """0: no rules published (nothing is routed)."""
    rules: tuple[RuleJSON, ...]
    reason: str | None = None
    changed_by: str | None = None
    changed_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "rules": list(self.rules),
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
        }


NO_RULES = RulesVersion(0, ())


@dataclass(frozen=True)
class Published:
    """What a PUT left in force."""

    current: RulesVersion
    recorded: bool


class RulesPreconditionFailedError(PreconditionFailedError):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(expected, actual)
        self.args = (f"the routing rules are at version {actual}, not {expected}",)


class RoutingRulesService:
    def __init__(
        self,
        app: Application[UUID],
        directory: DirectoryService,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._app = app
        self._directory = directory
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, RulesVersion] | None = None
        self._lock = threading.Lock()

    def current(self) -> RulesVersion:
        """The rules in force, from the store."""
        book = self._book()
        return NO_RULES if book is None else _version(book)

    def in_force(self) -> RulesVersion:
        """The rules in force, as read at most ``cache_seconds`` ago (the routing reaction)."""
        cached = self._cached
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self._lock:
            current = self.current()
            self._cached = (now, current)
            return current

    def publish(self, command: PutRoutingRules, ctx: CommandContext) -> Published:
        """Records the next version of the rules (nothing if they are those in force)."""
        authorize("routing.configure", ctx.actor, NoComplaint())
        teams = self._directory.team_ids()
        try:
            book = self._book()
            at = book.version if book else 0
            if ctx.expected_version is not None and ctx.expected_version != at:
                raise RulesPreconditionFailedError(ctx.expected_version, at)
            terms: dict[str, Any] = {"reason": command.reason, "teams": teams,
                                     "by": ctx.provenance}
            if book is None:
                book, recorded = RoutingRules.first(command.rules_json(), **terms), True
            else:
                recorded = book.publish(command.rules_json(), **terms)
            if recorded:
                try:
                    self._app.save(book)
                except IntegrityError:
                    raise ConcurrencyConflictError(
                        "the routing rules were changed by another request; reload and try again"
                    ) from None
            return Published(_version(book), recorded)
        finally:
            self._cached = None  # filings in this process see the change at once

    def _book(self) -> RoutingRules | None:
        try:
            book: object = self._app.repository.get(ROUTING_RULES_ID)
        except AggregateNotFoundError:
            return None
        return book if isinstance(book, RoutingRules) else None


def _version(book: RoutingRules) -> RulesVersion:
    return RulesVersion(
        book.version, tuple(book.rules), book.reason, book.changed_by, book.changed_at
    )
