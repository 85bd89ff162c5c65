"""The automation rule language (issue 12, ``docs/automation.md``): the request bodies, and the
checked, compiled form of a rule's condition and actions.

A rule is data::

    {"name": "legal risk", "enabled": true, "on": ["filed", "commented"],
     "if": {"all": [{"text": ["subject", "description", "comments"], "contains_any": ["律师"]},
                    {"not": {"field": "tags", "contains": "legal_risk"}}]},
     "then": [{"set_severity": {"at_least": "high"}}, {"add_tag": "legal_risk"},
              {"notify": {"template": "legal_risk", "audience": "team_supervisor"}}]}

``compile_rule`` checks it (``InvalidIntakeError`` naming the field of the first problem, e.g.
``if.all.0.field``) and returns a ``CompiledRule`` whose condition and actions the engine
(``commands/automation.py``) runs. The set is kept small on purpose: every leaf and action below
is documented, and nothing else is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from aggregates.complaint import TAG_PATTERN, Complaint
from aggregates.errors import InvalidIntakeError
from aggregates.vocabulary import Category, Channel, CustomerTier, Severity, Status, Visibility
from commands.input_types import MULTI_LINE, SINGLE_LINE

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_RULE_ID = re.compile(RULE_ID_PATTERN)
MAX_DEPTH = 8
MAX_TERMS = 200
MAX_ACTIONS = 20
SEVERITIES = tuple(s.value for s in Severity)
"""Lowest first: ``at_least`` compares by this order."""
AUDIENCES = ("team_supervisor", "assignee", "customer", "team")
TEXT_SOURCES = ("subject", "description", "comments")
AFTER = {"h": timedelta(hours=1), "d": timedelta(days=1), "m": timedelta(minutes=1)}
_AFTER = re.compile(r"^([1-9][0-9]{0,3})([mhd])$")


def public_type(kind: type[Any]) -> str:
    """An event class's public type (``CustomerReplied`` -> ``customer_replied``), the name
    ``queries/history.EVENT_TYPES`` gives it (a unit test keeps the two equal)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower()


_EVENT_CLASSES = [
    v for v in vars(Complaint).values()
    if isinstance(v, type) and (v is Complaint.Filed or issubclass(v, Complaint.Event))
    and v is not Complaint.Event and v.__name__ != "Created"
]
EVENT_NAMES = frozenset(
    # A base of other events (``SlaRecorded``, ``RemedyChanged``) is never recorded itself.
    public_type(v) for v in _EVENT_CLASSES
    if not any(other is not v and issubclass(other, v) for other in _EVENT_CLASSES)
)
"""What a rule's ``on`` may name: the complaint's public event types."""


class Facts(Protocol):
    """What a condition reads (``commands/automation.py`` provides it)."""

    def field(self, name: str) -> Any: ...

    def text(self, source: str) -> str: ...


# ---- conditions --------------------------------------------------------------------------------

FIELDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    # name: (kind, vocabulary); kind "text" (eq, in), "list" (contains), "number" (eq, gt, ...)
    "severity": ("text", SEVERITIES),
    "status": ("text", tuple(s.value for s in Status)),
    "category": ("text", tuple(c.value for c in Category)),
    "channel": ("text", tuple(c.value for c in Channel)),
    "tier": ("text", tuple(t.value for t in CustomerTier)),
    "region": ("text", None),
    "assignee": ("text", None),
    "team": ("text", None),
    "tags": ("list", None),
    "escalation_level": ("number", None),
    "customer.complaints_last_30_days": ("number", None),
    "event.type": ("text", None),
    "event.visibility": ("text", tuple(v.value for v in Visibility)),
}
OPERATORS = {
    "text": ("eq", "in"),
    "list": ("contains",),
    "number": ("eq", "gt", "gte", "lt", "lte"),
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "in": lambda a, b: a in b,
    "contains": lambda a, b: b in (a or ()),
    "gt": lambda a, b: a is not None and a > b,
    "gte": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "lte": lambda a, b: a is not None and a <= b,
}


class Condition(Protocol):
    def holds(self, facts: Facts) -> bool: ...


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        return all(p.holds(facts) for p in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        return any(p.holds(facts) for p in self.parts)


@dataclass(frozen=True)
class Not:
    part: Condition

    def holds(self, facts: Facts) -> bool:
        return not self.part.holds(facts)


@dataclass(frozen=True)
class FieldTest:
    name: str
    operator: str
    value: Any

    def holds(self, facts: Facts) -> bool:
        return _COMPARE[self.operator](facts.field(self.name), self.value)


@dataclass(frozen=True)
class TextContains:
    sources: tuple[str, ...]
    pattern: re.Pattern[str]
    terms: tuple[str, ...] = ()
    """The terms, case-folded: a plain substring test first (fast), the pattern (word edges)
    only when one occurs. An alternation of dozens of terms with look-arounds scans every
    position of the text, which showed in a profile of filing."""

    def holds(self, facts: Facts) -> bool:
        for source in self.sources:
            text = facts.text(source)
            if not text:
                continue
            folded = text.casefold()
            if any(term in folded for term in self.terms) and self.pattern.search(text):
                return True
        return False


def term_pattern(terms: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for ``terms``. A term of ASCII letters and digits at an edge
    must not touch another ASCII letter or digit there ("sue" is not in "issue", "12315" is in
    "打12315"); other terms (Chinese) match anywhere."""
    parts = []
    for term in sorted(terms, key=len, reverse=True):
        escaped = re.escape(term)
        if term[0].isascii() and term[0].isalnum():
            escaped = "(?<![A-Za-z0-9])" + escaped
        if term[-1].isascii() and term[-1].isalnum():
            escaped += "(?![A-Za-z0-9])"
        parts.append(escaped)
    return re.compile("|".join(parts), re.IGNORECASE)


def compile_condition(data: Any, path: str = "if", depth: int = 0) -> Condition:
    if depth > MAX_DEPTH:
        raise InvalidIntakeError(path, f"conditions nest at most {MAX_DEPTH} deep")
    if not isinstance(data, dict) or not data:
        raise InvalidIntakeError(path, "must be a condition object (all, any, not, field, text)")
    if set(data) in ({"all"}, {"any"}):
        key = next(iter(data))
        parts = data[key]
        if not isinstance(parts, list) or not parts:
            raise InvalidIntakeError(f"{path}.{key}", "must list at least one condition")
        compiled = tuple(
            compile_condition(p, f"{path}.{key}.{i}", depth + 1) for i, p in enumerate(parts)
        )
        return AllOf(compiled) if key == "all" else AnyOf(compiled)
    if set(data) == {"not"}:
        return Not(compile_condition(data["not"], f"{path}.not", depth + 1))
    if "field" in data:
        return _field_test(data, path)
    if "text" in data:
        return _text_test(data, path)
    raise InvalidIntakeError(path, "must be one of all, any, not, field, text")


def _field_test(data: dict[str, Any], path: str) -> FieldTest:
    name = data["field"]
    if not isinstance(name, str) or name not in FIELDS:
        raise InvalidIntakeError(f"{path}.field", "must be one of: " + ", ".join(FIELDS))
    kind, vocabulary = FIELDS[name]
    operators = [k for k in data if k != "field"]
    allowed = OPERATORS[kind]
    if len(operators) != 1 or operators[0] not in allowed:
        raise InvalidIntakeError(
            path, f"{name} takes exactly one of: " + ", ".join(allowed)
        )
    operator = operators[0]
    value = data[operator]
    where = f"{path}.{operator}"
    if kind == "number":
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidIntakeError(where, "must be an integer")
    elif operator == "in":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise InvalidIntakeError(where, "must list at least one string")
        for i, v in enumerate(value):
            _in(v, vocabulary, f"{where}.{i}")
        value = tuple(value)
    else:
        if not isinstance(value, str):
            raise InvalidIntakeError(where, "must be a string")
        _in(value, vocabulary, where)
    return FieldTest(name, operator, value)


def _in(value: str, vocabulary: tuple[str, ...] | None, where: str) -> None:
    if vocabulary is not None and value not in vocabulary:
        raise InvalidIntakeError(where, "must be one of: " + ", ".join(vocabulary))


def _text_test(data: dict[str, Any], path: str) -> TextContains:
    if set(data) != {"text", "contains_any"}:
        raise InvalidIntakeError(path, "a text condition has exactly text and contains_any")
    sources = data["text"]
    if not isinstance(sources, list) or not sources:
        raise InvalidIntakeError(f"{path}.text", "must list at least one of: "
                                 + ", ".join(TEXT_SOURCES))
    for i, s in enumerate(sources):
        if s not in TEXT_SOURCES:
            raise InvalidIntakeError(f"{path}.text.{i}", "must be one of: "
                                     + ", ".join(TEXT_SOURCES))
    terms = data["contains_any"]
    if not isinstance(terms, list) or not terms or len(terms) > MAX_TERMS:
        raise InvalidIntakeError(f"{path}.contains_any", f"must list 1 to {MAX_TERMS} terms")
    for i, t in enumerate(terms):
        if not isinstance(t, str) or not t.strip() or len(t) > 100:
            raise InvalidIntakeError(f"{path}.contains_any.{i}", "must be a term of 1-100 "
                                     "characters")
    stripped = [t.strip() for t in terms]
    return TextContains(
        tuple(dict.fromkeys(sources)),
        term_pattern(stripped),
        tuple(dict.fromkeys(t.casefold() for t in stripped)),
    )


# ---- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: str
    """The action's key: set_severity, add_tag, remove_tag, escalate, assign, notify,
    follow_up."""
    args: Mapping[str, Any]
    then: tuple[Action, ...] = ()
    """``follow_up``: the actions it performs later."""
    if_still: Condition | None = None


ACTIONS = ("set_severity", "add_tag", "remove_tag", "escalate", "assign", "notify", "follow_up")


def compile_actions(data: Any, path: str = "then", depth: int = 0) -> tuple[Action, ...]:
    if not isinstance(data, list) or not data or len(data) > MAX_ACTIONS:
        raise InvalidIntakeError(path, f"must list 1 to {MAX_ACTIONS} actions")
    return tuple(compile_action(a, f"{path}.{i}", depth) for i, a in enumerate(data))


def compile_action(data: Any, path: str, depth: int = 0) -> Action:
    if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in ACTIONS:
        raise InvalidIntakeError(path, "must be an object with one key of: " + ", ".join(ACTIONS))
    kind, arg = next(iter(data.items()))
    where = f"{path}.{kind}"
    if kind == "set_severity":
        if isinstance(arg, str):
            arg = {"to": arg}
        if not isinstance(arg, dict) or len(arg) != 1 or next(iter(arg)) not in ("to",
                                                                                  "at_least"):
            raise InvalidIntakeError(where, 'must be a severity, {"to": s} or {"at_least": s}')
        _in(next(iter(arg.values())), SEVERITIES, f"{where}.{next(iter(arg))}")
        return Action(kind, dict(arg))
    if kind in ("add_tag", "remove_tag"):
        if not isinstance(arg, str) or not TAG_PATTERN.fullmatch(arg):
            raise InvalidIntakeError(where, "must be a tag: 1-40 of a-z, 0-9, _ and - (not first)")
        return Action(kind, {"tag": arg})
    if kind == "escalate":
        _object(arg, where, required=("reason",))
        return Action(kind, {"reason": _line(arg["reason"], f"{where}.reason", 2000)})
    if kind == "assign":
        _object(arg, where, required=("assignee",), optional=("team",))
        team = arg.get("team")
        return Action(kind, {
            "assignee": _line(arg["assignee"], f"{where}.assignee"),
            "team": None if team is None else _line(team, f"{where}.team"),
        })
    if kind == "notify":
        _object(arg, where, required=("template", "audience"))
        _in(arg["audience"], AUDIENCES, f"{where}.audience")
        return Action(kind, {"template": _line(arg["template"], f"{where}.template"),
                             "audience": arg["audience"]})
    # follow_up
    if depth >= 2:
        raise InvalidIntakeError(where, "follow-ups nest at most 2 deep")
    _object(arg, where, required=("after", "then"), optional=("if_still",))
    after = arg["after"]
    if not isinstance(after, str) or not _AFTER.fullmatch(after):
        raise InvalidIntakeError(f"{where}.after", 'must be a delay like "30m", "24h" or "2d"')
    if_still = arg.get("if_still")
    return Action(
        kind,
        # The data as sent: what ``FollowUpScheduled`` records and the watcher compiles again.
        {"after": after, "then": arg["then"], "if_still": if_still},
        then=compile_actions(arg["then"], f"{where}.then", depth + 1),
        if_still=None if if_still is None else compile_condition(if_still, f"{where}.if_still"),
    )


def delay(after: str) -> timedelta:
    """A follow-up's ``after`` as a duration (checked by ``compile_action``)."""
    found = _AFTER.fullmatch(after)
    assert found is not None
    return int(found.group(1)) * AFTER[found.group(2)]


def _object(
    arg: Any, where: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    if not isinstance(arg, dict):
        raise InvalidIntakeError(where, "must be an object of " + ", ".join(required + optional))
    for key in arg:
        if key not in required + optional:
            raise InvalidIntakeError(f"{where}.{key}", "is not a field of this action")
    for key in required:
        if key not in arg:
            raise InvalidIntakeError(f"{where}.{key}", "is required")


def _line(value: Any, where: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidIntakeError(where, f"must be text of 1-{limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidIntakeError(where, "must be one line without control characters")
    return value.strip()


# ---- a whole rule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    version: int
    name: str
    enabled: bool
    on: frozenset[str]
    condition: Condition | None
    actions: tuple[Action, ...]
    definition: dict[str, Any]


DEFINITION_KEYS = ("name", "enabled", "on", "if", "then")


def check_rule_id(rule_id: str) -> str:
    if not _RULE_ID.fullmatch(rule_id):
        raise InvalidIntakeError("rule_id", "must be 1-64 of a-z, 0-9, _ and - (not first)")
    return rule_id


def compile_rule(rule_id: str, version: int, definition: Mapping[str, Any]) -> CompiledRule:
    """Checks a rule's definition (naming the field of the first problem) and compiles it."""
    for key in definition:
        if key not in DEFINITION_KEYS:
            raise InvalidIntakeError(key, "is not a field of a rule")
    name = definition.get("name") or rule_id
    if not isinstance(name, str):
        raise InvalidIntakeError("name", "must be a string")
    enabled = definition.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidIntakeError("enabled", "must be true or false")
    on = definition.get("on")
    if not isinstance(on, list) or not on:
        raise InvalidIntakeError("on", "must list at least one event type")
    for i, name_ in enumerate(on):
        if name_ not in EVENT_NAMES:
            raise InvalidIntakeError(f"on.{i}", "must be one of: " + ", ".join(sorted(EVENT_NAMES)))
    condition = definition.get("if")
    return CompiledRule(
        rule_id=rule_id,
        version=version,
        name=name,
        enabled=enabled,
        on=frozenset(on),
        condition=None if condition is None else compile_condition(condition),
        actions=compile_actions(definition.get("then")),
        definition=dict(definition),
    )


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 SINGLE_LINE]


class PutRule(BaseModel):
    """``PUT /automation/rules/{rule_id}``: the rule, or for a rule that exists (a shipped default
    too) only the fields that change, e.g. ``{"enabled": false}``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: Name | None = None
    enabled: bool | None = None
    on: Annotated[
        list[Annotated[str, Field(json_schema_extra={"enum": sorted(EVENT_NAMES)})]],
        Field(min_length=1, max_length=30),
    ] | None = None
    if_: Annotated[dict[str, Any] | None, Field(alias="if")] = None
    then: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_ACTIONS)] | None = None
    reason: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
                  MULTI_LINE] | None
    ) = Field(default=None, description="Why this version (recorded with it)")

    def changes(self) -> dict[str, Any]:
        """The definition fields sent (``if`` under its own name)."""
        sent = self.model_dump(by_alias=True, exclude_unset=True, exclude={"reason"})
        return sent


class DryRun(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    complaint_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=64), SINGLE_LINE]
