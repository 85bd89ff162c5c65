"""Request models of the directory (issue 12): the HTTP bodies of ``PUT /directory/teams/
{team_id}`` and ``PUT /directory/agents/{agent_id}`` (and what the CLI builds), so a bad field is
a 422 naming it and OpenAPI states what is accepted. That an agent's team exists is checked by the
directory service, which names the field too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from aggregates.money import CURRENCY_PATTERN, Money
from aggregates.vocabulary import Category
from commands.input_types import SINGLE_LINE
from commands.models import Command, Reason

DirectoryId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    SINGLE_LINE,
    Field(description="One line, 1-100 characters; an agent's is its token's principal name"),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SINGLE_LINE
]
Value = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SINGLE_LINE
]
Values = Annotated[list[Value], Field(max_length=100)]
AMOUNT_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"


class PutTeam(Command):
    name: Name
    supervisor: DirectoryId | None = Field(
        default=None, description="The supervisor's principal name (notified when routing "
        "finds no available agent)"
    )
    reason: Reason | None = Field(default=None, description="Why it changes (recorded)")


class SkillsInput(Command):
    """What the agent handles; an empty list (or one left out) means any."""

    categories: Annotated[list[Category], Field(max_length=20)] = []
    regions: Values = []
    products: Values = Field(default=[], description="Product names, matched exactly")
    languages: Values = []


class MoneyInput(Command):
    amount: Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN)] = Field(
        description="Decimal text, at most two places, below a billion", examples=["500.00"]
    )
    currency: Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN.pattern)] = Field(
        description="ISO 4217, e.g. CNY"
    )

    def to_json(self) -> dict[str, str]:
        return Money.of(self.amount, self.currency, "approval_limit.amount").to_json()


class PutAgent(Command):
    display_name: Name
    team: DirectoryId | None = Field(default=None, description="A team of the directory")
    skills: SkillsInput = Field(default_factory=SkillsInput)
    available: bool = Field(default=True, description="false: on leave, routed nothing")
    approval_limit: MoneyInput | None = Field(
        default=None, description="Remedies up to this need no approval; null: every one does"
    )
    reason: Reason | None = Field(default=None, description="Why it changes (recorded)")

    def profile(self) -> dict[str, Any]:
        """The profile as the ``Agent`` aggregate takes it (plain JSON)."""
        return {
            "display_name": self.display_name,
            "team": self.team,
            "skills": self.skills.model_dump(mode="json"),
            "available": self.available,
            "approval_limit": self.approval_limit.to_json() if self.approval_limit else None,
        }
