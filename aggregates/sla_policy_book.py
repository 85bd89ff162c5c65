"""The SLA policy as configuration: one ``SlaPolicyBook`` aggregate holding every version.

There is one policy in force; each change is a new version of this single aggregate (fixed id), with
the full list of rules, the escalation levels, who changed it and why. The aggregate's version is
the policy's version; version 0 is the built-in ``DEFAULT_POLICY``, in force until a policy is set.
Two first settings at once collide on the fixed id; a later racing writer on the next version.

Rules are stored as plain JSON, the same shape as the HTTP body::

    {"name": "vip-critical",
     "when": {"severity": ["critical"], "tier": ["vip"], "category": null, "channel": null},
     "calendar": "cn-office", "first_response": "PT1H", "resolution": "P2D",
     "at_risk_ratio": 0.2}

``check_rules`` validates them (naming the field of the first problem); ``to_policy`` reads them
back as the contract's ``Policy``. Event class names are stored topics: never rename one without an
upcaster.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate

from aggregates.business_time import Target
from aggregates.complaint import MAX_ESCALATION_LEVEL
from aggregates.errors import InvalidIntakeError
from aggregates.provenance import Provenance
from aggregates.sla_policy import (
    DEFAULT_AT_RISK_RATIO,
    DEFAULT_POLICY,
    Conditions,
    Escalation,
    Policy,
    Rule,
)
from aggregates.vocabulary import Category, Channel, CustomerTier, Severity

POLICY_BOOK_ID = uuid5(NAMESPACE_URL, "/sla/policy")
MAX_RULES = 200
MAX_TARGET_DAYS = 366
"""A target longer than a year is a typing mistake, and would overflow date arithmetic."""
RULE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,99}$"
_TIME_PART = (
    r"T(?:[0-9]{1,4}H(?:[0-9]{1,6}M)?(?:[0-9]{1,8}S)?|[0-9]{1,6}M(?:[0-9]{1,8}S)?|[0-9]{1,8}S)"
)
TARGET_PATTERN = rf"^P(?:[0-9]{{1,3}}D|(?:[0-9]{{1,3}}D)?{_TIME_PART})$"
"""ISO 8601 ``PnDTnHnMnS`` (no years, months or weeks: their length is not fixed)."""

_RULE_NAME = re.compile(RULE_NAME_PATTERN)
_TARGET = re.compile(TARGET_PATTERN)
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "severity": tuple(v.value for v in Severity),
    "tier": tuple(v.value for v in CustomerTier),
    "category": tuple(v.value for v in Category),
    "channel": tuple(v.value for v in Channel),
}
"""What a rule's ``when`` may test, and the vocabulary of each."""
RULE_FIELDS = {"name", "when", "calendar", "first_response", "resolution", "at_risk_ratio"}
ESCALATION_LEVELS = (
    "on_first_response_breach",
    "on_resolution_breach",
    "still_open_after_resolution_breach",
    "critical_at_filing",
)

RuleJSON = dict[str, Any]
EscalationJSON = dict[str, Any]


def check_target(text: Any, field: str) -> Target:
    if not isinstance(text, str) or not _TARGET.fullmatch(text):
        raise InvalidIntakeError(
            field, "must be an ISO 8601 duration of days, hours, minutes and seconds like PT4H, "
            "P2D or PT30S",
        )
    try:
        target = Target.parse(text)
    except ValueError as e:
        raise InvalidIntakeError(field, str(e)) from None
    if target.days + target.seconds / 86400 > MAX_TARGET_DAYS:
        raise InvalidIntakeError(field, f"must be at most {MAX_TARGET_DAYS} days")
    return target


def _check_when(when: Any, field: str) -> dict[str, list[str] | None]:
    if when is None:
        when = {}
    if not isinstance(when, dict):
        raise InvalidIntakeError(field, "must be an object of severity, tier, category, channel")
    for key in when:
        if key not in DIMENSIONS:
            raise InvalidIntakeError(
                f"{field}.{key}", "is not a condition (severity, tier, category, channel)"
            )
    checked: dict[str, list[str] | None] = {}
    for key, vocabulary in DIMENSIONS.items():
        values = when.get(key)
        if values is None:
            checked[key] = None
            continue
        if not isinstance(values, list | tuple) or not values:
            raise InvalidIntakeError(
                f"{field}.{key}", "must list at least one value (leave it out to match any)"
            )
        for i, value in enumerate(values):
            if value not in vocabulary:
                raise InvalidIntakeError(
                    f"{field}.{key}.{i}", "must be one of: " + ", ".join(vocabulary)
                )
        checked[key] = sorted(set(values), key=vocabulary.index)
    return checked


def _check_rule(rule: Any, field: str, calendars: Collection[str]) -> RuleJSON:
    if not isinstance(rule, dict):
        raise InvalidIntakeError(field, "must be an object")
    unknown = set(rule) - RULE_FIELDS
    if unknown:
        raise InvalidIntakeError(f"{field}.{sorted(unknown)[0]}", "is not a field of a rule")
    name = rule.get("name")
    if not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
        raise InvalidIntakeError(
            f"{field}.name",
            "must be 1-100 letters, digits, spaces or . _ : / -, starting with a letter or digit",
        )
    calendar = rule.get("calendar", "24x7")
    if calendar not in calendars:
        known = ", ".join(sorted(calendars))
        raise InvalidIntakeError(f"{field}.calendar", f"names no calendar (known: {known})")
    first_response = check_target(rule.get("first_response"), f"{field}.first_response")
    resolution = check_target(rule.get("resolution"), f"{field}.resolution")
    ratio = rule.get("at_risk_ratio", DEFAULT_AT_RISK_RATIO)
    if (
        isinstance(ratio, bool)
        or not isinstance(ratio, int | float)
        or not math.isfinite(ratio)
        or not 0 < ratio < 1
    ):
        raise InvalidIntakeError(
            f"{field}.at_risk_ratio", "must be a number between 0 and 1 (both excluded)"
        )
    return {
        "name": name,
        "when": _check_when(rule.get("when"), f"{field}.when"),
        "calendar": calendar,
        "first_response": first_response.text,
        "resolution": resolution.text,
        "at_risk_ratio": float(ratio),
    }


def _matches_everything(rule: RuleJSON) -> bool:
    return all(values is None for values in rule["when"].values())


def check_rules(rules: Any, calendars: Collection[str]) -> list[RuleJSON]:
    """The rules validated and normalised (every condition present, ``null`` for any).

    Refused: no rules; a name used twice; a calendar not in ``calendars``; a target that is not a
    ``PnDTnHnMnS`` duration above zero or is over a year; an at-risk ratio outside (0, 1); a value
    outside its vocabulary; a last rule with conditions (the last rule is the default: a policy
    must answer for every complaint, and one is not added silently); a rule before the last that
    matches everything (the rules after it could never apply).
    """
    if not isinstance(rules, list | tuple) or not rules:
        raise InvalidIntakeError("rules", "needs at least one rule (the last matching everything)")
    if len(rules) > MAX_RULES:
        raise InvalidIntakeError("rules", f"at most {MAX_RULES} rules")
    checked = [_check_rule(rule, f"rules.{i}", calendars) for i, rule in enumerate(rules)]
    seen: dict[str, int] = {}
    for i, rule in enumerate(checked):
        if rule["name"] in seen:
            raise InvalidIntakeError(
                f"rules.{i}.name", f"repeats the name of rules.{seen[rule['name']]}"
            )
        seen[rule["name"]] = i
    last = len(checked) - 1
    for i, rule in enumerate(checked[:-1]):
        if _matches_everything(rule):
            raise InvalidIntakeError(
                f"rules.{i}.when",
                "matches everything, so the rules after it would never apply (only the last "
                "rule may)",
            )
    if not _matches_everything(checked[last]):
        raise InvalidIntakeError(
            f"rules.{last}.when",
            "the last rule is the default and must match everything: leave out its conditions",
        )
    return checked


def check_escalation(escalation: Any) -> EscalationJSON:
    """Escalation levels (1 to the complaint's highest level) and the time still open after a
    resolution breach before the last level; what is left out takes the contract's default."""
    default = Escalation()
    if escalation is None:
        escalation = {}
    if not isinstance(escalation, dict):
        raise InvalidIntakeError("escalation", "must be an object")
    unknown = set(escalation) - {*ESCALATION_LEVELS, "still_open_after"}
    if unknown:
        raise InvalidIntakeError(f"escalation.{sorted(unknown)[0]}", "is not an escalation field")
    checked: EscalationJSON = {}
    for key in ESCALATION_LEVELS:
        level = escalation.get(key, getattr(default, key))
        if isinstance(level, bool) or not isinstance(level, int):
            raise InvalidIntakeError(f"escalation.{key}", "must be a whole number")
        if not 1 <= level <= MAX_ESCALATION_LEVEL:
            raise InvalidIntakeError(
                f"escalation.{key}", f"must be from 1 to {MAX_ESCALATION_LEVEL}"
            )
        checked[key] = level
    still_open = escalation.get("still_open_after", default.still_open_after.text)
    checked["still_open_after"] = check_target(still_open, "escalation.still_open_after").text
    return checked


def _conditions(when: dict[str, list[str] | None]) -> Conditions:
    def values(key: str) -> frozenset[str] | None:
        listed = when.get(key)
        return None if listed is None else frozenset(listed)

    return Conditions(
        severity=values("severity"),
        tier=values("tier"),
        category=values("category"),
        channel=values("channel"),
    )


def to_rule(rule: RuleJSON) -> Rule:
    return Rule(
        name=rule["name"],
        when=_conditions(rule.get("when") or {}),
        calendar=rule["calendar"],
        first_response=Target.parse(rule["first_response"]),
        resolution=Target.parse(rule["resolution"]),
        at_risk_ratio=rule.get("at_risk_ratio", DEFAULT_AT_RISK_RATIO),
    )


def to_escalation(escalation: EscalationJSON) -> Escalation:
    default = Escalation()
    levels = {key: escalation.get(key, getattr(default, key)) for key in ESCALATION_LEVELS}
    still_open = escalation.get("still_open_after")
    return Escalation(
        **levels,
        still_open_after=Target.parse(still_open) if still_open else default.still_open_after,
    )


def to_policy(version: int, rules: Sequence[RuleJSON], escalation: EscalationJSON) -> Policy:
    return Policy(
        version=version,
        rules=tuple(to_rule(r) for r in rules),
        escalation=to_escalation(escalation),
    )


def rule_json(rule: Rule) -> RuleJSON:
    """The stored (and HTTP) form of a ``Rule``: the inverse of ``to_rule``."""

    def listed(key: str) -> list[str] | None:
        values: frozenset[str] | None = getattr(rule.when, key)
        return None if values is None else sorted(values, key=DIMENSIONS[key].index)

    return {
        "name": rule.name,
        "when": {key: listed(key) for key in DIMENSIONS},
        "calendar": rule.calendar,
        "first_response": rule.first_response.text,
        "resolution": rule.resolution.text,
        "at_risk_ratio": rule.at_risk_ratio,
    }


def escalation_json(escalation: Escalation) -> EscalationJSON:
    return {
        **{key: getattr(escalation, key) for key in ESCALATION_LEVELS},
        "still_open_after": escalation.still_open_after.text,
    }


DEFAULT_RULES = [rule_json(r) for r in DEFAULT_POLICY.rules]
DEFAULT_ESCALATION = escalation_json(DEFAULT_POLICY.escalation)


class SlaPolicyBook(Aggregate):
    """Every version of the SLA policy (the aggregate's version is the policy's)."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None

    class Revised(Event):
        """A new version: the whole policy, replacing the previous one."""

        rules: list[RuleJSON]
        escalation: EscalationJSON
        reason: str

        def apply(self, book: SlaPolicyBook) -> None:
            book.rules = self.rules
            book.escalation = self.escalation
            book.reason = self.reason
            book.changed_by = self.actor
            book.changed_at = self.timestamp

    class Adopted(Revised, Aggregate.Created):
        """The first policy set (version 1): a revision of the built-in version 0, which creates
        the book (same fields, same effect)."""

    if TYPE_CHECKING:
        rules: list[RuleJSON]
        escalation: EscalationJSON
        reason: str
        changed_by: str
        changed_at: datetime

    def __init__(self) -> None:
        pass

    @staticmethod
    def _checked(
        rules: Any, escalation: Any, reason: str, calendars: Collection[str]
    ) -> tuple[list[RuleJSON], EscalationJSON, str]:
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidIntakeError("reason", "is required: say why the policy changes")
        return check_rules(rules, calendars), check_escalation(escalation), reason.strip()

    @classmethod
    def adopt(
        cls,
        rules: Any,
        *,
        escalation: Any = None,
        reason: str,
        calendars: Collection[str],
        by: Provenance,
    ) -> SlaPolicyBook:
        """The first policy. ``calendars``: the names rules may use (``24x7`` and those defined)."""
        rules, escalation, reason = cls._checked(rules, escalation, reason, calendars)
        return cls._create(
            cls.Adopted,
            id=POLICY_BOOK_ID,
            rules=rules,
            escalation=escalation,
            reason=reason,
            **by.as_event_fields(),
        )

    def revise(
        self,
        rules: Any,
        *,
        escalation: Any = None,
        reason: str,
        calendars: Collection[str],
        by: Provenance,
    ) -> bool:
        """Records a new version, unless rules and escalation are those in force (then nothing
        changes, so a repeated PUT is harmless); returns whether it recorded one."""
        rules, escalation, reason = self._checked(rules, escalation, reason, calendars)
        if rules == self.rules and escalation == self.escalation:
            return False
        self.trigger_event(
            self.Revised, rules=rules, escalation=escalation, reason=reason,
            **by.as_event_fields(),
        )
        return True

    def policy(self) -> Policy:
        return to_policy(self.version, self.rules, self.escalation)
