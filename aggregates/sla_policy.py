"""SLA policy: ordered rules (first match wins) giving targets on a named calendar.

CONTRACT (issue 9): the value types below are shared by the policy's storage (the configuration
work: an event-sourced policy with versions, who and why), the clocks on the complaint and the
deadline watcher. Policy version 0 is built in and used until a policy is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregates.business_time import Target

DEFAULT_AT_RISK_RATIO = 0.2
"""A clock is at risk once this share of its target is left."""


@dataclass(frozen=True)
class Conditions:
    """What a rule matches; ``None`` for a dimension means any value."""

    severity: frozenset[str] | None = None
    tier: frozenset[str] | None = None
    category: frozenset[str] | None = None
    channel: frozenset[str] | None = None

    def match(self, *, severity: str, tier: str, category: str, channel: str) -> bool:
        return all(
            allowed is None or value in allowed
            for allowed, value in (
                (self.severity, severity),
                (self.tier, tier),
                (self.category, category),
                (self.channel, channel),
            )
        )


@dataclass(frozen=True)
class Rule:
    name: str
    when: Conditions
    calendar: str
    first_response: Target
    resolution: Target
    at_risk_ratio: float = DEFAULT_AT_RISK_RATIO


@dataclass(frozen=True)
class Escalation:
    """Levels the deadline watcher escalates to (issue 9 defaults)."""

    on_first_response_breach: int = 1
    on_resolution_breach: int = 2
    still_open_after_resolution_breach: int = 3
    still_open_after: Target = Target(days=1, seconds=0, text="P1D")
    critical_at_filing: int = 1


@dataclass(frozen=True)
class Policy:
    version: int
    rules: tuple[Rule, ...]
    escalation: Escalation = Escalation()

    def rule_for(self, *, severity: str, tier: str, category: str, channel: str) -> Rule:
        """The first matching rule; a valid policy ends with a rule that matches everything."""
        for rule in self.rules:
            if rule.when.match(severity=severity, tier=tier, category=category, channel=channel):
                return rule
        raise LookupError("no SLA rule matches: the policy lacks a default rule")


DEFAULT_POLICY = Policy(
    version=0,
    rules=(
        Rule(
            name="default",
            when=Conditions(),
            calendar="24x7",
            first_response=Target.parse("PT4H"),
            resolution=Target.parse("P3D"),
        ),
    ),
)
"""In force until someone sets a policy: 4 hours to a first response, 3 days to resolution,
round the clock."""
