"""A complaint's history told as a story a compliance officer can follow (issue 12).

One line per event: when, who (a person, or ``automation`` with the rule and its version, or the
SLA deadline watcher), what caused it when something other than a person's request did
("because of event 1 (filed)"), and what happened, in words. Every event type of
``EVENT_TYPES`` has its sentence; a type added later without one still gets a line (its type
and fields), so the story never drops an event.

It is told from a ``History`` as the reader may see it (``Reader.history`` masked it and logged
what it shows in clear), so a story shows no personal field its reader could not see in the
history itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from aggregates.event_ids import event_id
from aggregates.vocabulary import Severity
from commands.reactions import AUTOMATION
from queries.history import History, HistoryEvent

MAX_QUOTE = 200
"""Longer free text (comments, replies, summaries) is cut to this many characters."""
_SEVERITIES = [s.value for s in Severity]


class StoryLine(BaseModel):
    version: int
    at: datetime
    who: str = Field(description="The person, or automation with its rule (id@vN)")
    rule: str | None = Field(description="The rule that acted (id@vN); null for a person")
    because: str | None = Field(
        description="What caused it, when an event did (an automatic action): "
        "'because of event N (type)'"
    )
    what: str = Field(description="What happened, in words")
    text: str = Field(description="The whole line: when, who, why and what")


def tell(history: History) -> list[StoryLine]:
    """The history's events as story lines, oldest first."""
    causes = {
        str(event_id(history.complaint_id, e.version)): f"event {e.version} ({e.type})"
        for e in history.events
    }
    state: dict[str, Any] = {}
    return [_line(e, causes, state) for e in history.events]


def render_text(history: History, lines: list[StoryLine]) -> str:
    """The story as plain text: a heading, then one line per event."""
    head = f"Complaint {history.reference} ({history.complaint_id})"
    chain = (
        "its stored events verify against their hash chain"
        if history.chain_verified
        else f"its hash chain is BROKEN ({len(history.chain_breaks)} break(s))"
    )
    return "\n".join([head, chain, "", *(line.text for line in lines)]) + "\n"


def _line(e: HistoryEvent, causes: Mapping[str, str], state: dict[str, Any]) -> StoryLine:
    data = e.data
    # ``sla_applied`` names the SLA policy's rule, not an automation rule.
    rule = data.get("rule") if e.type != "sla_applied" else None
    rule = rule if isinstance(rule, str) and rule else None
    who = e.actor if rule is None else f"{e.actor} (rule {rule})"
    if e.actor == "sla-watcher":
        who = "the SLA deadline watcher"
    cause = causes.get(e.causation_id or "")
    because = f"because of {cause}" if cause else None
    if because is None and e.actor == AUTOMATION and e.causation_id:
        because = f"because of {e.causation_id}"
    state["at"] = e.occurred_at
    say = SENTENCES.get(e.type)
    what = say(data, state) if say is not None else _generic(e.type, data)
    at = e.occurred_at.astimezone(UTC)
    text = f"{at:%Y-%m-%d %H:%M:%S} UTC  #{e.version}  {who}"
    text += f", {because}: {what}" if because else f": {what}"
    return StoryLine(
        version=e.version, at=e.occurred_at, who=who, rule=rule, because=because, what=what,
        text=text,
    )


def _quote(value: Any) -> str:
    text = " ".join(str(value).split())
    if len(text) > MAX_QUOTE:
        text = text[: MAX_QUOTE - 1] + "…"
    return f'"{text}"'


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        try:
            return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        except OverflowError:  # stored before intake refused implausible instants
            return value.isoformat()
    return str(value)


def _why(data: Mapping[str, Any]) -> str:
    reason = data.get("reason")
    return f" because {_quote(reason)[1:-1]}" if reason else ""


def _filed(d: Mapping[str, Any], state: dict[str, Any]) -> str:
    state["severity"] = d.get("severity")
    customer = d.get("customer") or {}
    product = d.get("product") or {}
    who = f"customer {customer.get('name')} ({customer.get('id')}"
    who += f", {customer['tier']})" if customer.get("tier") else ")"
    about = product.get("name") or product.get("order_number") or product.get("service_item")
    number = product.get("order_number")
    order = f", order {number}" if number and about != number else ""
    received = d.get("received_at")
    try:  # an import's true receipt, when it is not the filing's moment
        late = isinstance(received, datetime) and state["at"] - received > timedelta(minutes=1)
    except OverflowError:  # an implausible instant stored before intake refused them
        late = True
    return (
        f"filed by {d.get('received_by')} via {d.get('channel')}"
        + (f" (received {_when(received)})" if late else "")
        + f" for {who}: "
        f"{_quote(d.get('subject'))} ({d.get('category')}, severity {d.get('severity')}"
        + (f", about {about}{order}" if about else "")
        + (f", region {d['region']}" if d.get("region") else "")
        + ")"
    )


def _assigned(d: Mapping[str, Any], state: dict[str, Any]) -> str:
    team = f" of team {d['team']}" if d.get("team") else ""
    return f"assigned to {d.get('assignee')}{team}{_why(d)}"


def _severity(d: Mapping[str, Any], state: dict[str, Any]) -> str:
    new, old = d.get("severity"), state.get("severity")
    state["severity"] = new
    if old in _SEVERITIES and new in _SEVERITIES and old != new:
        verb = "raised" if _SEVERITIES.index(new) > _SEVERITIES.index(old) else "lowered"
        return f"severity {verb} from {old} to {new}{_why(d)}"
    return f"severity set to {new}{_why(d)}"


def _notification(d: Mapping[str, Any], state: dict[str, Any]) -> str:
    to = str(d.get("audience", "")).replace("_", " ")
    if d.get("recipient"):
        to += f" {d['recipient']}"
    return f"notified the {to} (template {d.get('template')}){_why(d)}"


def _sla_recorded(verb: str, instant: str) -> Callable[[Mapping[str, Any], dict[str, Any]], str]:
    def say(d: Mapping[str, Any], state: dict[str, Any]) -> str:
        metric = str(d.get("metric", "")).replace("_", " ")
        return (
            f"SLA {verb}: the {metric} clock (cycle {d.get('cycle')}, due "
            f"{_when(d.get('due_at'))}) {verb} at {_when(d.get(instant))}"
        )

    return say


def _closed(d: Mapping[str, Any], state: dict[str, Any]) -> str:
    state.pop("waiting", None)  # closing ends a wait for the customer
    when = f" (closed {_when(d['closed_at'])})" if d.get("closed_at") else ""
    return f"closed as {d.get('resolution_code')}{when}: {_quote(d.get('summary'))}"


def _imported(d: Mapping[str, Any], _: dict[str, Any]) -> str:
    about = ", ".join(
        f"{label} {_quote(d[name])}"
        for name, label in (("company", "company"), ("issue", "issue"))
        if d.get(name)
    )
    return f"imported from {d.get('source')} record {d.get('external_id')}" + (
        f" ({about})" if about else ""
    )


def _customer_awaited(d: Mapping[str, Any], state: dict[str, Any]) -> str:
    state["waiting"] = True
    return f"waiting for the customer (resolution clock paused){_why(d)}"


def _customer_replied(d: Mapping[str, Any], state: dict[str, Any]) -> str:
    """A reply ends a wait (and resumes the clock) only if the complaint was waiting: the
    customer may also write unprompted, from the tracking page."""
    resumed = " (the wait ended, resolution clock resumed)" if state.pop("waiting", False) else ""
    return f"the customer replied via {d.get('channel')}{resumed}: {_quote(d.get('body'))}"


def _remedy(d: Mapping[str, Any]) -> str:
    return str(d.get("remedy_id", ""))[:8]


def _amount(d: Mapping[str, Any]) -> str:
    return f" {d['amount']} {d.get('currency')}" if d.get("amount") is not None else ""


def _action(action: Any) -> str:
    """A rule's action data (``{"add_tag": "x"}``) in words: its name and argument."""
    if isinstance(action, dict) and len(action) == 1:
        ((name, argument),) = action.items()
        shown = argument if isinstance(argument, str) else ", ".join(
            f"{k} {v}" for k, v in argument.items()) if isinstance(argument, dict) else argument
        return f"{str(name).replace('_', ' ')} {shown}"
    return str(action)


Sentence = Callable[[Mapping[str, Any], dict[str, Any]], str]

SENTENCES: dict[str, Sentence] = {
    "filed": _filed,
    "assigned": _assigned,
    "commented": lambda d, _: (
        f"commented ({'to the customer' if d.get('visibility') == 'customer' else 'internal'}): "
        f"{_quote(d.get('body'))}"
    ),
    "escalated": lambda d, _: f"escalated to level {d.get('level')}{_why(d)}",
    "closed": _closed,
    "imported": _imported,
    "reopened": lambda d, _: f"reopened{_why(d)}",
    "sla_applied": lambda d, _: (
        f"SLA terms applied: policy v{d.get('policy_version')}, rule {d.get('rule')}, calendar "
        f"{d.get('calendar')} v{d.get('calendar_version')}; first response "
        f"{d.get('first_response_target')} due {_when(d.get('first_response_due_at'))}, "
        f"resolution {d.get('resolution_target')} due {_when(d.get('resolution_due_at'))}"
        + (_why(d) if d.get("reason") else "")
    ),
    "customer_awaited": _customer_awaited,
    "customer_replied": _customer_replied,
    "sla_cycle_started": lambda d, _: (
        f"a new {str(d.get('metric', '')).replace('_', ' ')} cycle {d.get('cycle')} started, "
        f"due {_when(d.get('due_at'))}"
    ),
    "sla_warned": _sla_recorded("warned", "warned_at"),
    "sla_breached": _sla_recorded("breached", "breached_at"),
    "personal_data_erased": lambda d, _: f"the customer's personal data were erased{_why(d)}",
    "severity_changed": _severity,
    "tagged": lambda d, _: f"tagged {d.get('tag')}{_why(d)}",
    "untagged": lambda d, _: f"tag {d.get('tag')} removed{_why(d)}",
    "notification_requested": _notification,
    "linked_to": lambda d, _: f"linked to {d.get('reference')} ({d.get('reason')})",
    "follow_up_scheduled": lambda d, _: (
        f"follow-up scheduled for {_when(d.get('due_at'))}: "
        + "; ".join(_action(a) for a in d.get("actions") or [])
        + (" (if its condition still holds then)" if d.get("if_still") else "")
    ),
    "follow_up_done": lambda d, _: (
        "follow-up taken up: performed"
        if d.get("performed")
        else "follow-up taken up: not performed, its condition no longer held"
    ),
    "remedy_proposed": lambda d, _: (
        f"remedy {_remedy(d)} proposed: {d.get('kind')}{_amount(d)}, "
        f"{_quote(d.get('description'))}"
    ),
    "approval_requested": lambda d, _: (
        f"approval requested for remedy {_remedy(d)} (above the proposer's limit"
        + (f" of {_amount(d['limit'])[1:]})" if isinstance(d.get("limit"), dict) else ": none)")
    ),
    "remedy_approved": lambda d, _: f"remedy {_remedy(d)} approved",
    "remedy_rejected": lambda d, _: f"remedy {_remedy(d)} rejected{_why(d)}",
    "customer_accepted": lambda d, _: f"the customer accepted remedy {_remedy(d)}",
    "customer_declined": lambda d, _: f"the customer declined remedy {_remedy(d)}{_why(d)}",
    "remedy_fulfilled": lambda d, _: (
        f"remedy {_remedy(d)} fulfilled" + (f": {_quote(d['note'])}" if d.get("note") else "")
    ),
    # The token is the customer's key to the survey: never in the story.
    "survey_requested": lambda d, _: (
        f"satisfaction survey sent to the customer (open until {_when(d.get('expires_at'))})"
    ),
    "satisfaction_recorded": lambda d, _: (
        f"the customer rated the handling: CSAT {d.get('csat')}/5, NPS {d.get('nps')}/10"
        + (f", {_quote(d['comment'])}" if d.get("comment") else "")
    ),
}
"""A sentence per public event type (``queries/history.py``): what happened, from its data."""

_QUIET = {"rule", "reason"}


def _generic(kind: str, data: Mapping[str, Any]) -> str:
    """A line for an event type without a sentence of its own (added by a later change)."""
    fields = ", ".join(
        f"{k}={_quote(v) if isinstance(v, str) else _when(v)}"
        for k, v in data.items()
        if k not in _QUIET and v is not None and not isinstance(v, dict | list)
    )
    return kind.replace("_", " ") + (f" ({fields})" if fields else "") + _why(data)
