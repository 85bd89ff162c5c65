"""Routing rules (issue 12): which team a new complaint goes to, as versioned configuration.

One ``RoutingRules`` aggregate (fixed id) holds every version; each ``PUT /routing/rules`` that
changes something is a ``Published`` event with the whole ordered list and the reason, and the
aggregate's version is the rules' version (0: none published, so nothing is routed). An
automatic assignment names its rule as ``routing/<name>@v<version>``.

A rule: ``{"name", "when": {"category": [...], "region": [...], "channel": [...], "tier": [...],
"severity": [...], "product": [...]}, "team"}``. Ordered, first match wins; an empty or missing
condition list matches any value; ``product`` is matched against the complaint's product name,
``region`` against its region (both exactly). Shapes and vocabularies are checked by the command
model (``commands/routing_models.py``); what spans rules (unique names, known teams) here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate

from aggregates.errors import InvalidIntakeError
from aggregates.provenance import Provenance, rule_ref

ROUTING_RULES_ID = uuid5(NAMESPACE_URL, "/routing/rules")
RULE_ID_PREFIX = "routing/"
MAX_RULES = 200
CONDITIONS = ("category", "region", "channel", "tier", "severity", "product")

RuleJSON = dict[str, Any]


@dataclass(frozen=True)
class Facts:
    """What a rule is matched against: the complaint's values for each condition."""

    category: str
    region: str | None
    channel: str
    tier: str
    severity: str
    product: str | None

    def matches(self, rule: RuleJSON) -> bool:
        when: Mapping[str, Sequence[str]] = rule.get("when") or {}
        return all(
            not when.get(condition) or getattr(self, condition) in when[condition]
            for condition in CONDITIONS
        )


def first_match(rules: Sequence[RuleJSON], facts: Facts) -> RuleJSON | None:
    """The first rule whose every condition holds, or None."""
    return next((rule for rule in rules if facts.matches(rule)), None)


def rule_id(name: str) -> str:
    """The id an event names the rule by (``routing/<name>``; ``rule_ref`` adds the version)."""
    return f"{RULE_ID_PREFIX}{name}"


def check_rules(rules: Sequence[RuleJSON], teams: Collection[str]) -> list[RuleJSON]:
    """The rules normalised (every condition present, a list, ``[]`` for any), refused naming
    the field when a name repeats or a team is not in the directory (``teams``)."""
    if len(rules) > MAX_RULES:
        raise InvalidIntakeError("rules", f"at most {MAX_RULES} rules")
    checked: list[RuleJSON] = []
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        name = rule["name"]
        if name in seen:
            raise InvalidIntakeError(f"rules.{i}.name", f"repeats the name of rules.{seen[name]}")
        seen[name] = i
        if rule["team"] not in teams:
            raise InvalidIntakeError(f"rules.{i}.team", "names no team of the directory")
        when = rule.get("when") or {}
        checked.append({
            "name": name,
            "when": {c: list(dict.fromkeys(when.get(c) or [])) for c in CONDITIONS},
            "team": rule["team"],
        })
    return checked


class RoutingRules(Aggregate):
    """Every version of the routing rules (the aggregate's version is the rules' version)."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None

    class Published(Event):
        """A new version: the whole ordered list, replacing the previous one."""

        rules: list[RuleJSON]
        reason: str

        def apply(self, book: RoutingRules) -> None:
            book.rules = self.rules
            book.reason = self.reason
            book.changed_by = self.actor
            book.changed_at = self.timestamp

    class FirstPublished(Published, Aggregate.Created):
        """The first version, which creates the aggregate (same fields, same effect)."""

    if TYPE_CHECKING:
        rules: list[RuleJSON]
        reason: str
        changed_by: str
        changed_at: datetime

    def __init__(self) -> None:
        pass

    @classmethod
    def first(
        cls, rules: Sequence[RuleJSON], *, reason: str, teams: Collection[str], by: Provenance
    ) -> RoutingRules:
        return cls._create(
            cls.FirstPublished,
            id=ROUTING_RULES_ID,
            rules=check_rules(rules, teams),
            reason=reason,
            **by.as_event_fields(),
        )

    def publish(
        self, rules: Sequence[RuleJSON], *, reason: str, teams: Collection[str], by: Provenance
    ) -> bool:
        """Records a new version unless the rules are those in force (a repeated PUT records
        nothing); returns whether it recorded one."""
        checked = check_rules(rules, teams)
        if checked == self.rules:
            return False
        self.trigger_event(self.Published, rules=checked, reason=reason, **by.as_event_fields())
        return True

    def ref(self, name: str) -> str:
        """How an event caused by the rule ``name`` of this version names it."""
        return rule_ref(rule_id(name), self.version)
