"""Who sees which personal fields in clear, and the one function that masks the others.

The rules (docs/personal-data-access.md): compliance, and any principal holding the
``personal_data`` grant, see everything; a supervisor sees everything on complaints of their teams
and on complaints not yet routed to a team, and elsewhere sees what an agent does; an agent sees
everything but the customer's phone and email, which they see only on complaints assigned to
them; everyone else (analyst, service, admin) sees every personal field masked.

The fields are those of ``aggregates/personal_data.py`` (stored event paths); each public
representation says where they appear in it (``COMPLAINT``, ``LIST_ROW``, ``COMMENT_PAGE``,
``event_paths``). ``disclose`` masks a representation in place of its personal fields only, by
shallow copies (pydantic ``model_copy`` or a new dict): the complaint is already loaded, so
deciding and masking cost no read, and a viewer who may see everything costs no copy at all.
It also says which personal fields the answer shows in clear, for the access log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel

from aggregates.personal_data import CONTACT_FIELDS, ERASED, PERSONAL_FIELDS, masked
from aggregates.vocabulary import Grant, Role

T = TypeVar("T")

ALL_FIELDS: frozenset[str] = frozenset(p for paths in PERSONAL_FIELDS.values() for p in paths)
"""Every personal field of any event."""
NOTHING: frozenset[str] = frozenset()

Paths = tuple[tuple[str, str], ...]
"""(where in a representation, which personal field it holds), e.g. ``("items.body", "body")``:
the second names the field as ``PERSONAL_FIELDS`` does, which picks its mask and its rule."""

_FILED: Paths = tuple((p, p) for p in PERSONAL_FIELDS["Complaint.Filed"])
COMPLAINT: Paths = (
    *_FILED, ("comments.body", "body"), ("remedies.customer_reason", "reason")
)
"""The complaint's representation: what it was filed with, and its embedded comments."""
LIST_ROW: Paths = (("customer.name", "customer.name"),)
"""A row of the complaint list (it carries the customer's name, no other personal field)."""
COMMENT_PAGE: Paths = (("items.body", "body"),)
"""A page of a complaint's comments."""


def event_paths(qualname: str, *, within: str = "") -> Paths:
    """The personal fields of one event class's data (``Complaint.Filed``...), found at the same
    paths in the data, which lies ``within`` a field of the representation (a history entry's
    ``data``) or is the representation itself."""
    prefix = f"{within}." if within else ""
    return tuple((prefix + p, p) for p in PERSONAL_FIELDS.get(qualname, ()))


@dataclass(frozen=True)
class Viewer:
    """The principal reading, as far as the rules need it."""

    name: str
    role: str
    teams: tuple[str, ...] = ()
    grants: frozenset[str] = frozenset()

    @property
    def sees_everything(self) -> bool:
        """Compliance, or granted: every personal field in clear, on every complaint (and on
        the event stream, whose events are not read complaint by complaint)."""
        return self.role == Role.COMPLIANCE.value or Grant.PERSONAL_DATA.value in self.grants


@dataclass(frozen=True)
class Holding:
    """What the rules ask of a complaint: who holds it now; and whose it is, for the log."""

    complaint_id: UUID
    customer_id: str | None
    assignee: str | None
    team: str | None


def withheld(viewer: Viewer, holding: Holding) -> frozenset[str]:
    """The personal fields ``viewer`` sees masked on the complaint ``holding`` describes."""
    if viewer.sees_everything:
        return NOTHING
    if viewer.role == Role.SUPERVISOR.value and (
        holding.team is None or holding.team in viewer.teams
    ):
        return NOTHING
    if viewer.role in (Role.AGENT.value, Role.SUPERVISOR.value):
        if viewer.role == Role.AGENT.value and holding.assignee == viewer.name:
            return NOTHING
        return frozenset(CONTACT_FIELDS)
    return ALL_FIELDS


def withheld_on_stream(viewer: Viewer) -> frozenset[str]:
    """The event stream is not read complaint by complaint: all or nothing."""
    return NOTHING if viewer.sees_everything else ALL_FIELDS


def disclose(node: T, paths: Paths, hidden: frozenset[str]) -> tuple[T, frozenset[str]]:
    """``node`` with the personal fields in ``hidden`` masked (``aggregates.personal_data.masked``),
    and the personal fields it still shows in clear with a value (neither empty nor erased).

    ``node`` is a pydantic model, a dict, or a list of them; a path's segments are attribute or
    key names, and a list on the way applies the rest of the path to each element. ``node`` is
    never changed: what is masked is copied, down to it, once however many of its fields are
    masked (a complaint's representation is large, and an agent sees two of its fields masked)."""
    masks, shown_paths = _plan(paths, hidden)
    shown = frozenset(field for parts, field in shown_paths if _has_value(node, parts))
    return (_mask(node, masks) if masks else node), shown


_Masks = dict[str, "_Masks | str"]
"""What to mask under a node: a field's name (a leaf: the personal field it holds) or the masks
under that field's value."""


@lru_cache(maxsize=256)
def _plan(
    paths: Paths, hidden: frozenset[str]
) -> tuple[_Masks, tuple[tuple[tuple[str, ...], str], ...]]:
    """The masks of ``hidden`` as a tree, and the paths of the other fields, split: the same few
    (paths, hidden) pairs come back on every read."""
    masks: _Masks = {}
    shown: list[tuple[tuple[str, ...], str]] = []
    for path, field in paths:
        parts = tuple(path.split("."))
        if field not in hidden:
            shown.append((parts, field))
            continue
        level = masks
        for part in parts[:-1]:
            nested = level.setdefault(part, {})
            assert isinstance(nested, dict), f"{path} lies under another masked field"
            level = nested
        level[parts[-1]] = field
    return masks, tuple(shown)


def disclose_all(
    nodes: Iterable[tuple[T, Paths, frozenset[str]]],
) -> tuple[list[T], frozenset[str]]:
    """``disclose`` over several parts of one answer (a history's events): the parts, and the
    fields shown in any of them."""
    parts: list[T] = []
    shown: set[str] = set()
    for node, paths, hidden in nodes:
        part, fields = disclose(node, paths, hidden)
        parts.append(part)
        shown |= fields
    return parts, frozenset(shown)


_ABSENT = object()


def _get(node: Any, name: str) -> Any:
    if isinstance(node, BaseModel):
        return getattr(node, name, _ABSENT)
    if isinstance(node, dict):
        return node.get(name, _ABSENT)
    return _ABSENT


def _mask(node: Any, masks: _Masks) -> Any:
    if isinstance(node, list | tuple):
        return [_mask(item, masks) for item in node]
    updates: dict[str, Any] = {}
    for name, under in masks.items():
        value = _get(node, name)
        if value is _ABSENT or value is None:
            continue
        updates[name] = masked(under, value) if isinstance(under, str) else _mask(value, under)
    if not updates:
        return node
    if isinstance(node, BaseModel):
        return node.model_copy(update=updates)
    return {**node, **updates}


def _has_value(node: Any, parts: Sequence[str]) -> bool:
    if isinstance(node, list | tuple):
        return any(_has_value(item, parts) for item in node)
    value = _get(node, parts[0])
    if value is _ABSENT or value is None:
        return False
    if len(parts) > 1:
        return _has_value(value, parts[1:])
    return value not in ("", ERASED)
