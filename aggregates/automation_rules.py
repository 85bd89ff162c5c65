"""Automation rules as configuration: one ``AutomationRuleBook`` aggregate (fixed id) holding every
rule, each versioned on its own (issue 12).

A rule is stored as plain JSON, the shape of ``PUT /automation/rules/{rule_id}`` less its reason
(``docs/automation.md``); the command layer validates it (``commands/automation_models.py``) and
the book records it. The shipped defaults are version 0 of their ids, built in, until a rule with
the same id is defined here. Event class names are stored topics: never rename one without an
upcaster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate

from aggregates.provenance import Provenance

RULE_BOOK_ID = uuid5(NAMESPACE_URL, "/automation/rules")
RuleJSON = dict[str, Any]


@dataclass(frozen=True)
class StoredRule:
    """One rule as the book holds it: its latest version."""

    rule_id: str
    version: int
    definition: RuleJSON
    reason: str | None
    changed_by: str
    changed_at: datetime


class AutomationRuleBook(Aggregate):
    """Every automation rule defined through the API (the shipped defaults are not stored until
    changed). The aggregate's version counts changes to the book; each rule has its own."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None

    class Opened(Event, Aggregate.Created):
        """The book, created with the first rule defined (same save)."""

        def apply(self, book: AutomationRuleBook) -> None:
            book.rules = {}

    class RuleDefined(Event):
        """Version ``rule_version`` of rule ``rule_id``: its whole definition."""

        rule_id: str
        rule_version: int
        definition: RuleJSON
        reason: str | None

        def apply(self, book: AutomationRuleBook) -> None:
            book.rules = {
                **book.rules,
                self.rule_id: StoredRule(
                    self.rule_id, self.rule_version, self.definition, self.reason, self.actor,
                    self.timestamp,
                ),
            }

    if TYPE_CHECKING:
        rules: dict[str, StoredRule]

    def __init__(self) -> None:
        pass

    @classmethod
    def open(cls, by: Provenance) -> AutomationRuleBook:
        return cls._create(cls.Opened, id=RULE_BOOK_ID, **by.as_event_fields())

    def define(
        self, rule_id: str, definition: RuleJSON, *, reason: str | None, after: int, by: Provenance
    ) -> int | None:
        """Records the next version of ``rule_id`` (``after`` + 1: ``after`` is the version in
        force, 0 for a shipped default or a new rule), unless ``definition`` is the one in force
        (then nothing changes, so a repeated PUT is harmless). Returns the version recorded."""
        current = self.rules.get(rule_id)
        if current is not None and current.definition == definition:
            return None
        version = max(after, current.version if current else 0) + 1
        self.trigger_event(
            self.RuleDefined,
            rule_id=rule_id,
            rule_version=version,
            definition=definition,
            reason=reason,
            **by.as_event_fields(),
        )
        return version
