"""The automation rule book service (``app.automation``): rules read, defined and dry-run, and the
follow-ups the deadline watcher takes up (issue 12, ``docs/automation.md``).

Like ``app.sla`` it borrows the complaints application (one store, one log). Rules are stored in
one ``AutomationRuleBook`` (``aggregates/automation_rules.py``); the shipped defaults
(``commands/automation_defaults.py``) are version 0 of their ids until one is defined. Every save
of a complaint asks for the rules (``rules()``), so they are kept compiled in a process-local
cache for ``cache_seconds``: a command reads nothing more while it is fresh, a change made in this
process is seen at once, one made in another within that time.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from aggregates.automation_rules import RULE_BOOK_ID, AutomationRuleBook, StoredRule
from aggregates.complaint import Complaint
from aggregates.errors import InvalidIntakeError
from aggregates.event_ids import event_id
from aggregates.provenance import Provenance, rule_id_of, rule_ref
from commands.automation import ComplaintFacts, perform, perform_due_follow_ups, type_of
from commands.automation_defaults import DEFAULT_RULES
from commands.automation_models import (
    DEFINITION_KEYS,
    CompiledRule,
    PutRule,
    check_rule_id,
    compile_rule,
)
from commands.context import CommandContext
from commands.errors import (
    ComplaintNotFoundError,
    ConcurrencyConflictError,
    PreconditionFailedError,
)
from commands.reactions import AUTOMATION

if TYPE_CHECKING:
    from commands.application import ComplaintsApp

log = logging.getLogger(__name__)


class RuleNotFoundError(LookupError):
    """No rule, built in or defined, has the given id."""


class RulePreconditionFailedError(PreconditionFailedError):
    def __init__(self, rule_id: str, expected: int, actual: int) -> None:
        super().__init__(expected, actual)
        self.args = (f"rule {rule_id} is at version {actual}, not {expected}",)


@dataclass(frozen=True)
class RuleVersion:
    """A rule in force: compiled, and who set it, when and why (``None`` for a default)."""

    rule: CompiledRule
    built_in: bool
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule.rule_id,
            "version": self.rule.version,
            "built_in": self.built_in,
            **self.rule.definition,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
        }


@dataclass(frozen=True)
class RuleSaved:
    current: RuleVersion
    created: bool
    """A new rule id (HTTP 201)."""
    recorded: bool


def normal(rule_id: str, definition: Mapping[str, Any]) -> dict[str, Any]:
    """A definition with every key, in order (so that equal rules compare equal)."""
    full = {"name": rule_id, "enabled": True, "on": None, "if": None, "then": None}
    full.update({k: v for k, v in definition.items()})
    return {k: full[k] for k in DEFINITION_KEYS} | {
        k: v for k, v in definition.items() if k not in DEFINITION_KEYS
    }


_DEFAULTS = {
    rule_id: RuleVersion(compile_rule(rule_id, 0, normal(rule_id, d)), True,
                         "shipped default", None, None)
    for rule_id, d in DEFAULT_RULES.items()
}


class AutomationConfig:
    CACHE_SECONDS = 1.0

    def __init__(self, app: ComplaintsApp, cache_seconds: float = CACHE_SECONDS) -> None:
        self._app = app
        self.cache_seconds = cache_seconds
        self.disabled: frozenset[str] = frozenset()
        """Rule ids switched off by the configuration (``COMPLAINTS_AUTOMATION_DISABLED_RULES``):
        never run here, whatever their stored definition says."""
        self._cache: tuple[float, dict[str, RuleVersion]] | None = None

    # ---- reading -------------------------------------------------------------------------------

    def rules(self) -> list[CompiledRule]:
        """The rules in force, by id (the engine's ``RuleSource``; cached), less those the
        configuration switched off."""
        return [v.rule for v in self._in_force().values() if v.rule.rule_id not in self.disabled]

    def versions(self) -> list[RuleVersion]:
        return list(self._read().values())

    def version(self, rule_id: str) -> RuleVersion:
        found = self._read().get(rule_id)
        if found is None:
            raise RuleNotFoundError(f"no automation rule {rule_id[:80]!r}")
        return found

    def _in_force(self) -> dict[str, RuleVersion]:
        now = time.monotonic()
        if self._cache is not None and now - self._cache[0] < self.cache_seconds:
            return self._cache[1]
        rules = self._read()
        self._cache = (now, rules)
        return rules

    def _read(self) -> dict[str, RuleVersion]:
        rules = dict(_DEFAULTS)
        book = self._book()
        for stored in book.rules.values() if book else ():
            try:
                rules[stored.rule_id] = _version_of(stored)
            except InvalidIntakeError as e:  # stored by an older version of the language
                log.error("automation rule %s@v%s no longer compiles: %s", stored.rule_id,
                          stored.version, e)
        return dict(sorted(rules.items()))

    def _book(self) -> AutomationRuleBook | None:
        try:
            book: object = self._app.repository.get(RULE_BOOK_ID)
        except AggregateNotFoundError:
            return None
        return book if isinstance(book, AutomationRuleBook) else None

    # ---- writing -------------------------------------------------------------------------------

    def put(self, rule_id: str, command: PutRule, ctx: CommandContext) -> RuleSaved:
        """Defines the next version of ``rule_id``: the fields sent over the rule in force (a
        default's too), or a new rule. Nothing is recorded when nothing changes."""
        check_rule_id(rule_id)
        self._cache = None  # filings in this process see the change at once
        current = self._read().get(rule_id)
        at = current.rule.version if current else 0
        if ctx.expected_version is not None and ctx.expected_version != at:
            raise RulePreconditionFailedError(rule_id, ctx.expected_version, at)
        base = current.rule.definition if current else {}
        definition = normal(rule_id, {**base, **command.changes()})
        compile_rule(rule_id, at + 1, definition)  # refuses, naming the field
        if current is not None and current.rule.definition == definition:
            return RuleSaved(current, False, False)
        book = self._book() or AutomationRuleBook.open(ctx.provenance)
        book.define(rule_id, definition, reason=command.reason, after=at, by=ctx.provenance)
        try:
            self._app.save(book)
        except IntegrityError:
            raise ConcurrencyConflictError(
                "the automation rules were changed by another request; try again"
            ) from None
        self._cache = None
        return RuleSaved(_version_of(book.rules[rule_id]), current is None, True)

    # ---- dry-run -------------------------------------------------------------------------------

    def dry_run(self, rule_id: str, complaint_id: UUID) -> dict[str, Any]:
        """What the rule in force (enabled or not) would do on each of the complaint's events:
        each event applied in turn, the rule shown it as the trigger on the complaint as it then
        stood, its actions performed on a copy. Nothing is saved."""
        rule = self.version(rule_id).rule
        ref = rule_ref(rule.rule_id, rule.version)
        complaint: Any = None
        matches = []
        event: Any
        for event in self._app.events.get(complaint_id):
            complaint = event.mutate(complaint)
            if not isinstance(complaint, Complaint):
                break
            kind = type_of(event)
            caused_by_rule = getattr(event, "rule", None)
            if kind not in rule.on or (
                caused_by_rule and rule_id_of(caused_by_rule) == rule.rule_id
            ):
                continue
            facts = ComplaintFacts(self._app, complaint, event, event.timestamp)
            if rule.condition is not None and not rule.condition.holds(facts):
                continue
            trial = copy.deepcopy(complaint)
            by = Provenance(AUTOMATION, f"dry-run:{uuid4()}",
                            str(event_id(complaint.id, event.originator_version)), ref)
            actions = perform(self._app, trial, rule.actions, by, reason=f"rule {ref}",
                              dry_run=True)
            matches.append({"event_version": event.originator_version, "event_type": kind,
                            "actions": actions})
        if not isinstance(complaint, Complaint):
            raise ComplaintNotFoundError(f"no complaint with id {complaint_id}")
        return {"rule": rule.rule_id, "version": rule.version, "matches": matches}

    # ---- follow-ups ----------------------------------------------------------------------------

    def perform_follow_ups(self, complaint_id: UUID, now: datetime | None = None) -> int:
        """The deadline watcher: takes up the complaint's follow-ups due at ``now`` (default:
        the application's clock) in one save, decided on the complaint as stored; a save that
        loses a race is decided again. Returns how many were taken up."""
        app = self._app
        now = now or app.clock()
        for attempt in range(1, 4):
            complaint = app.get_complaint(complaint_id)
            taken = perform_due_follow_ups(app, complaint, now, f"{AUTOMATION}:{uuid4()}")
            if not taken:
                return 0
            try:
                app._run(app._save(complaint, CommandContext(AUTOMATION, "system", AUTOMATION),
                                   ""), "PerformFollowUps")
            except ConcurrencyConflictError:
                if attempt == 3:
                    raise
                continue
            return taken
        raise AssertionError("unreachable")


def _version_of(stored: StoredRule) -> RuleVersion:
    return RuleVersion(
        compile_rule(stored.rule_id, stored.version, stored.definition),
        False, stored.reason, stored.changed_by, stored.changed_at,
    )
