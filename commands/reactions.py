"""Reactions: what the application does on its own in answer to a complaint's new events, in
the same save as the events that caused it (routing, automation rules, repeat-complaint links).

A command decides; before its events are saved, every reaction is shown each new event in turn,
and may trigger more events on the complaint (with ``Provenance.automatic``: the system as actor,
the triggering event as cause, the rule that acted). Those are shown to the reactions too, so a
rule can answer another rule's action, but never its own: each event carries the set of rules in
its causation chain, and a rule in that set must not act (``Trigger.caused_by``). A cap on
the events one save may add stops anything the guard does not foresee.

Doing it in the same save (not in a worker that follows the log) keeps a filing and its routing
one atomic step: nobody ever sees an unrouted complaint that routing will grab a moment later,
and a rule's action can never be lost between two transactions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from aggregates.complaint import Complaint
from aggregates.event_ids import event_id
from aggregates.provenance import Provenance, rule_id_of

if TYPE_CHECKING:
    from commands.application import ComplaintsApp

AUTOMATION = "automation"
"""The actor of every event a reaction records (routing and automation rules alike)."""

MAX_AUTOMATIC_EVENTS = 32
"""More automatic events than this in one save is a loop the guard did not catch: refuse it."""


class AutomationLoopError(RuntimeError):
    """Reactions kept adding events past ``MAX_AUTOMATIC_EVENTS``."""


@dataclass(frozen=True)
class Trigger:
    """One new event shown to the reactions."""

    event: Any
    """The complaint's event (a ``Complaint.Event``; ``Complaint.Filed`` at filing)."""
    correlation_id: str
    chain: frozenset[str]
    """The rule ids in its causation chain (empty for a person's action)."""
    shared: dict[Any, Any] = field(default_factory=dict, compare=False)
    """What the reactions of one save share (one dict per save): a lookup one reaction made,
    another reuses (``commands/customer_history.prior_complaints``)."""

    @cached_property
    def event_id(self) -> str:
        """Its id (``aggregates/event_ids.py``): what an action it causes names as
        ``causation_id``. Made when first asked: most events cause nothing, and a uuid5 for
        each was about half of ``react`` on a command without rules that act."""
        return str(event_id(self.event.originator_id, self.event.originator_version))

    def caused_by(self, rule_id: str) -> bool:
        """Whether ``rule_id`` is in this event's causation chain: then it must not act on it."""
        return rule_id in self.chain

    def automatic(self, rule: str) -> Provenance:
        """The provenance of an action ``rule`` (``id@vN``) takes because of this event."""
        return Provenance(AUTOMATION, self.correlation_id, self.event_id, rule)


class Reaction(Protocol):
    def react(self, app: ComplaintsApp, complaint: Complaint, trigger: Trigger) -> None:
        """Triggers on ``complaint`` whatever this reaction does about ``trigger.event`` (or
        nothing). Must not save; may read (cached) configuration and views."""


def react(app: ComplaintsApp, complaint: Complaint, reactions: list[Reaction]) -> None:
    """Shows each pending event of ``complaint`` (and each one a reaction adds) to every
    reaction, in order."""
    if not reactions:
        return
    shown: list[Trigger] = []
    shared: dict[Any, Any] = {}
    pending = complaint.pending_events
    first_automatic = len(pending)
    index = 0
    while index < len(pending):
        event: Any = pending[index]
        index += 1
        chain = _chain_of(getattr(event, "causation_id", None), shown)
        if rule := getattr(event, "rule", None):
            chain = chain | {rule_id_of(rule)}
        trigger = Trigger(event, event.correlation_id, chain, shared)
        shown.append(trigger)
        for reaction in reactions:
            reaction.react(app, complaint, trigger)
        if len(pending) - first_automatic > MAX_AUTOMATIC_EVENTS:
            raise AutomationLoopError(
                f"reactions added more than {MAX_AUTOMATIC_EVENTS} events in one save"
            )


def _chain_of(causation_id: str | None, shown: list[Trigger]) -> frozenset[str]:
    """The causation chain of the event this save showed earlier that ``causation_id`` names;
    empty when it names none of them (a person's action: a request id, or nothing)."""
    if causation_id:
        for earlier in shown:
            if earlier.event_id == causation_id:
                return earlier.chain
    return frozenset()
