"""Request model of the routing rules (issue 12): the body of ``PUT /routing/rules`` (and of the
CLI's file). Shapes and vocabularies are checked here (422 naming the field); unique names and
known teams by the ``RoutingRules`` aggregate (``aggregates/routing_rules.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from aggregates.routing_rules import MAX_RULES
from aggregates.vocabulary import Category, Channel, CustomerTier, Severity
from commands.directory_models import DirectoryId, Values
from commands.models import Command, Reason

RULE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,99}$"
"""No ``@``: an event names a rule as ``routing/<name>@v<version>``."""


class RoutingWhen(Command):
    """What a rule matches; a condition left out, null or empty matches any value."""

    category: Annotated[list[Category], Field(max_length=20)] | None = None
    region: Values | None = None
    channel: Annotated[list[Channel], Field(max_length=20)] | None = None
    tier: Annotated[list[CustomerTier], Field(max_length=20)] | None = None
    severity: Annotated[list[Severity], Field(max_length=20)] | None = None
    product: Values | None = Field(default=None, description="Product names, matched exactly")


class RoutingRuleInput(Command):
    name: Annotated[str, StringConstraints(pattern=RULE_NAME_PATTERN)] = Field(
        description="Unique; recorded on each assignment it makes as routing/<name>@v<version>"
    )
    when: RoutingWhen = Field(default_factory=RoutingWhen)
    team: DirectoryId = Field(description="A team of the directory")


class PutRoutingRules(Command):
    """The whole ordered list (first match wins): each PUT that changes it is a new version."""

    rules: Annotated[list[RoutingRuleInput], Field(max_length=MAX_RULES)]
    reason: Reason = Field(description="Why the rules change (recorded)")

    def rules_json(self) -> list[dict[str, Any]]:
        return [r.model_dump(mode="json") for r in self.rules]
