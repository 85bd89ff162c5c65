"""The repeat-complaint rule (issue 12): a new complaint is linked to the same customer's, or the
same order's, complaints that are open or were closed recently.

A reaction (``commands/reactions.py``): on ``Filed``, before the filing is saved, it asks the
customer history port (the customers view, exact while the view lags) for the prior complaints
and records one ``LinkedTo`` per prior complaint, newest first, at most ``max_links``, each with
the rule as its cause. Links are one way: the new complaint names the earlier ones; the earlier
complaint is not changed (no second aggregate in the filing's save, so a busy earlier complaint
can never make a filing fail), and its later repeats are listed by ``GET /customers/{id}``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from aggregates.complaint import Complaint
from aggregates.provenance import rule_ref
from commands.customer_history import prior_complaints
from commands.reactions import Trigger

if TYPE_CHECKING:
    from commands.application import ComplaintsApp

RULE_ID = "repeat-complaints"
RULE_VERSION = 1
SAME_CUSTOMER = "same customer"
SAME_ORDER = "same order"


class RepeatComplaints:
    """Links a new complaint to the open or recently closed complaints of its customer or
    order. ``window``: how recently closed (30 days by default); ``max_links``: at most this
    many links per filing (the newest)."""

    def __init__(self, window: timedelta = timedelta(days=30), max_links: int = 10) -> None:
        self.window = window
        self.max_links = max_links
        self.rule = rule_ref(RULE_ID, RULE_VERSION)

    def react(self, app: ComplaintsApp, complaint: Complaint, trigger: Trigger) -> None:
        if type(trigger.event) is not Complaint.Filed or trigger.caused_by(RULE_ID):
            return
        since = trigger.event.timestamp - self.window
        customer_id, order = complaint.customer.id, complaint.product.order_number or None
        prior = [
            p
            for p in prior_complaints(
                app.customer_history, trigger.shared, customer_id, order, since
            )
            if p.id != complaint.id and (p.closed_at is None or p.closed_at >= since)
        ]
        by = trigger.automatic(self.rule)
        linked = {linked_id for linked_id, _ in complaint.linked}
        # ``p.id``, not ``str(p.id)``: the same order (UUIDs compare as their fixed-width hex),
        # without formatting up to ``MAX_PRIOR`` ids on every filing.
        newest_first = sorted(prior, key=lambda p: (p.filed_at, p.id), reverse=True)
        for p in newest_first[: self.max_links]:
            if p.id in linked:
                continue
            reason = SAME_CUSTOMER if p.customer_id == customer_id else SAME_ORDER
            complaint.link_to(p.id, p.reference, reason=reason, by=by)
