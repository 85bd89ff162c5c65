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
    event_id: str
    """Its id (``aggregates/event_ids.py``): what an action it causes names as ``causation_id``."""
    correlation_id: str
    chain: frozenset[str]
    """The rule ids in its causation chain (empty for a person's action)."""
    shared: dict[Any, Any] = field(default_factory=dict, compare=False)
    """What the reactions of one save share (one dict per save): a lookup one reaction made,
    another reuses (``commands/customer_history.prior_complaints``)."""

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
    chains: dict[str, frozenset[str]] = {}
    shared: dict[Any, Any] = {}
    pending = complaint.pending_events
    first_automatic = len(pending)
    index = 0
    while index < len(pending):
        event: Any = pending[index]
        index += 1
        own_id = str(event_id(complaint.id, event.originator_version))
        chain = chains.get(getattr(event, "causation_id", None) or "", frozenset())
        if rule := getattr(event, "rule", None):
            chain = chain | {rule_id_of(rule)}
        chains[own_id] = chain
        trigger = Trigger(event, own_id, event.correlation_id, chain, shared)
        for reaction in reactions:
            reaction.react(app, complaint, trigger)
        if len(pending) - first_automatic > MAX_AUTOMATIC_EVENTS:
            raise AutomationLoopError(
                f"reactions added more than {MAX_AUTOMATIC_EVENTS} events in one save"
            )
