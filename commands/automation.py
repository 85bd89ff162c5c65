"""The automation engine (issue 12): the ``Automation`` reaction runs the rules of the rule book
on every new event of a complaint, in the save that records it (``commands/reactions.py``).

For each trigger event, each enabled rule whose ``on`` names the event's public type, which is not
in the trigger's causation chain (no rule answers its own action, however indirectly) and whose
condition holds, performs its actions on the complaint with ``trigger.automatic("<id>@v<N>")``:
actor ``automation``, the triggering event as cause, the rule and version named. An action that
would change nothing (severity already at least ``high``, tag already there, the same owner)
records nothing; one the complaint refuses (escalating past the top level, changing a closed
complaint's severity) is skipped, so a rule never fails the command that triggered it.

Severity raised by a rule on a complaint with SLA clocks re-applies the SLA terms for the new
severity in the same save (``ComplaintsApp._apply_sla``, with the rule's reason): a legal threat
is answered on the terms of a ``high`` complaint, from its ``received_at``, as if filed so.

The rules come through ``RuleSource.rules()``: the rule book service's process-local cache, so a
command reads nothing more when no rule changed (``commands/automation_config.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from aggregates.complaint import Complaint
from aggregates.errors import IllegalTransitionError, InvalidIntakeError
from aggregates.event_ids import event_id
from aggregates.provenance import Provenance, rule_ref
from commands.automation_models import (
    SEVERITIES,
    Action,
    CompiledRule,
    compile_actions,
    compile_condition,
    delay,
    public_type,
)
from commands.customer_history import prior_complaints
from commands.reactions import AUTOMATION, Trigger

if TYPE_CHECKING:
    from commands.application import ComplaintsApp

Effect = dict[str, Any]
"""What an action did (or, in a dry-run, would do): ``{"action": "add_tag", "tag": ...}``."""

_TYPES: dict[type[Any], str] = {}


def type_of(event: Any) -> str:
    kind = type(event)
    name = _TYPES.get(kind)
    if name is None:
        name = _TYPES[kind] = public_type(kind)
    return name


class RuleSource(Protocol):
    def rules(self) -> Sequence[CompiledRule]:
        """The rules in force, enabled or not (cached)."""
        ...


class ComplaintFacts:
    """What a condition reads: the complaint as it stands in this save, the triggering event
    (``None`` for a follow-up's ``if_still``) and, only when a rule asks, the customer's recent
    complaints (a read of the customers view)."""

    def __init__(
        self,
        app: ComplaintsApp,
        complaint: Complaint,
        event: Any,
        now: datetime,
        shared: dict[Any, Any] | None = None,
    ) -> None:
        self._app = app
        self._shared: dict[Any, Any] = {} if shared is None else shared
        self._complaint = complaint
        self._event = event
        self._now = now
        self._recent: int | None = None

    def field(self, name: str) -> Any:
        c = self._complaint
        if name == "tier":
            return c.customer.tier
        if name == "event.type":
            return type_of(self._event) if self._event is not None else None
        if name == "event.visibility":
            return getattr(self._event, "visibility", None)
        if name == "customer.complaints_last_30_days":
            return self._complaints_last_30_days()
        return getattr(c, name)

    def text(self, source: str) -> str:
        """The triggering event's text: the filing's subject and description, a comment's or
        reply's body ("comments"); empty for other events."""
        event = self._event
        if source == "comments":
            if isinstance(event, Complaint.Commented | Complaint.CustomerReplied):
                return str(event.body)
            return ""
        if isinstance(event, Complaint.Filed):
            return str(getattr(event, source))
        return ""

    def _complaints_last_30_days(self) -> int:
        """The customer's complaints filed in the 30 days up to now, this one counted."""
        if self._recent is None:
            c = self._complaint
            since = self._now - timedelta(days=30)
            prior = prior_complaints(
                self._app.customer_history, self._shared, c.customer.id, None, since
            )
            others = {
                p.id for p in prior
                if p.id != c.id and p.customer_id == c.customer.id and since <= p.filed_at
            }
            self._recent = len(others) + 1
        return self._recent


class Automation:
    """The reaction (registered in ``app.reactions`` by the composition root)."""

    def __init__(self, source: RuleSource) -> None:
        self.source = source

    def react(self, app: ComplaintsApp, complaint: Complaint, trigger: Trigger) -> None:
        kind = type_of(trigger.event)
        facts: ComplaintFacts | None = None
        for rule in self.source.rules():
            if not rule.enabled or kind not in rule.on or trigger.caused_by(rule.rule_id):
                continue
            if rule.condition is not None:
                facts = facts or ComplaintFacts(app, complaint, trigger.event,
                                                trigger.event.timestamp, trigger.shared)
                if not rule.condition.holds(facts):
                    continue
            ref = rule_ref(rule.rule_id, rule.version)
            perform(app, complaint, rule.actions, trigger.automatic(ref),
                    reason=f"rule {ref}: {rule.name}")


def perform(
    app: ComplaintsApp,
    complaint: Complaint,
    actions: Sequence[Action],
    by: Provenance,
    *,
    reason: str,
    dry_run: bool = False,
) -> list[Effect]:
    """Performs ``actions`` on ``complaint`` (each as far as it changes something and the
    complaint allows it); returns what they did. ``dry_run``: on a copy, no SLA re-apply."""
    done: list[Effect] = []
    for action in actions:
        try:
            effect = _perform(app, complaint, action, by, reason, dry_run)
        except (IllegalTransitionError, InvalidIntakeError):
            continue  # refused by the complaint (closed, top level): a rule does not insist
        if effect is not None:
            done.append(effect)
    return done


def _perform(
    app: ComplaintsApp, c: Complaint, action: Action, by: Provenance, reason: str, dry_run: bool
) -> Effect | None:
    args = action.args
    if action.kind == "set_severity":
        target = args.get("to") or max(
            c.severity, args["at_least"], key=SEVERITIES.index
        )
        if target == c.severity:
            return None
        c.change_severity(target, reason=reason, by=by)
        if c.sla is not None and not dry_run:
            app._apply_sla(c, reason, by)
        return {"action": "set_severity", "severity": target}
    if action.kind == "add_tag":
        if args["tag"] in c.tags:
            return None
        c.tag(args["tag"], reason=reason, by=by)
        return {"action": "add_tag", "tag": args["tag"]}
    if action.kind == "remove_tag":
        if args["tag"] not in c.tags:
            return None
        c.untag(args["tag"], reason=reason, by=by)
        return {"action": "remove_tag", "tag": args["tag"]}
    if action.kind == "escalate":
        c.escalate(args["reason"], by=by)
        return {"action": "escalate", "level": c.escalation_level, "reason": args["reason"]}
    if action.kind == "assign":
        if args["assignee"] == c.assignee and args["team"] == c.team:
            return None
        c.assign(args["assignee"], team=args["team"], reason=reason, by=by)
        return {"action": "assign", "assignee": args["assignee"], "team": args["team"]}
    if action.kind == "notify":
        recipient = recipient_of(app, c, args["audience"])
        c.request_notification(args["template"], audience=args["audience"], recipient=recipient,
                               reason=reason, by=by)
        return {"action": "notify", "template": args["template"], "audience": args["audience"],
                "recipient": recipient}
    # follow_up
    due_at = app.clock() + delay(args["after"])
    c.schedule_follow_up(due_at, list(args["then"]), if_still=args["if_still"], by=by)
    return {"action": "follow_up", "due_at": due_at.isoformat(), "then": args["then"],
            "if_still": args["if_still"]}


def recipient_of(app: ComplaintsApp, c: Complaint, audience: str) -> str | None:
    """Whom ``audience`` names now, where the complaint and the directory tell (``None``: the
    gateway resolves it, e.g. the customer's own contact)."""
    if audience == "assignee":
        return c.assignee
    if audience == "team":
        return c.team
    if audience == "team_supervisor" and c.team:
        team = app.directory.team(c.team)
        return team.supervisor if team is not None else None
    return None


def perform_due_follow_ups(app: ComplaintsApp, complaint: Complaint, now: datetime,
                           correlation_id: str) -> int:
    """The deadline watcher's part: each follow-up due at ``now`` is taken up once: its actions
    performed if its ``if_still`` holds now, and ``FollowUpDone`` recorded, all caused by the
    ``FollowUpScheduled`` event and naming its rule. Returns how many were taken up."""
    taken = 0
    for follow_up in [f for f in complaint.follow_ups if f.due_at <= now]:
        cause = str(event_id(complaint.id, follow_up.scheduled_in))
        by = Provenance(AUTOMATION, correlation_id, cause, follow_up.rule)
        holds = True
        if follow_up.if_still is not None:
            condition = compile_condition(follow_up.if_still, "if_still")
            holds = condition.holds(ComplaintFacts(app, complaint, None, now))
        if holds:
            perform(app, complaint, compile_actions(follow_up.actions, "then", 1), by,
                    reason=f"follow-up of rule {follow_up.rule}")
        complaint.finish_follow_up(follow_up.follow_up_id, performed=holds, by=by)
        taken += 1
    return taken
