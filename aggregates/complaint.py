"""The Complaint aggregate: one customer complaint, from intake to closure.

Public methods decide (check the rules, raise domain errors); nested event classes record, and their
``apply`` methods only assign state, so replaying history never re-runs a rule check.
Event class names are stored as topics: never rename one without an upcaster.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from aggregates.errors import (
    IllegalTransitionError,
    InvalidIntakeError,
    RemedyNotFoundError,
    SlaRecordRefusedError,
    SurveyNotFoundError,
)
from aggregates.money import Money
from aggregates.personal_data import ERASED
from aggregates.provenance import Provenance
from aggregates.remedy import OFFERED, CustomerReply, Remedy, RemedyStatus, Survey, within_limit
from aggregates.sla_clock import AppliedSla, Deadline, SlaClock
from aggregates.values import (
    Attachment,
    AttachmentJSON,
    Comment,
    Customer,
    CustomerJSON,
    Product,
    ProductJSON,
)
from aggregates.vocabulary import (
    Category,
    Channel,
    CustomerTier,
    ExpectedRemedy,
    OneOf,
    ResolutionCode,
    Severity,
    SlaMetric,
    Status,
    Visibility,
)

MAX_ESCALATION_LEVEL = 10
IMPORT_KEPT_FIELDS = (
    "company", "sub_product", "issue", "sub_issue", "state", "zip_code", "company_response",
    "timely_response", "consumer_disputed",
)
"""The source's fields an ``Imported`` event keeps."""
TAG_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
# Customers' and channels' clocks are not ours: tolerate this much apparent time travel.
CLOCK_SKEW = timedelta(minutes=5)


_VOCABULARY_VALUES: dict[type[Any], frozenset[str]] = {}


def _require(value: Any, field: str) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidIntakeError(field, "is required")


def _in_vocabulary(value: str | None, vocabulary: type[Any], field: str) -> None:
    values = _VOCABULARY_VALUES.get(vocabulary)
    if values is None:  # once per vocabulary: imports check thousands of filings a second
        values = _VOCABULARY_VALUES[vocabulary] = frozenset(m.value for m in vocabulary)
    if value is not None and value not in values:
        allowed = ", ".join(m.value for m in vocabulary)
        raise InvalidIntakeError(field, f"must be one of: {allowed}")


def _carry_over(before: SlaClock, after: SlaClock) -> SlaClock:
    """``after`` keeping what ``before`` recorded, when both are the same cycle."""
    if before.cycle != after.cycle:
        return after
    return replace(
        after,
        met_at=after.met_at or before.met_at,
        warned_at=before.warned_at,
        breached_at=before.breached_at,
    )


@dataclass(frozen=True)
class Origin:
    """Where an imported complaint came from (``Complaint.Imported``)."""

    source: str
    external_id: str
    digest: str
    """Of the mapped row it was imported from: a re-import with another digest changed."""


@dataclass(frozen=True)
class FollowUp:
    """A pending follow-up (``Complaint.FollowUpScheduled``)."""

    follow_up_id: str
    due_at: datetime
    actions_json: str
    """The actions, as JSON text: the complaint's state holds only immutable values (its cheap
    copy shares them)."""
    if_still_json: str | None
    rule: str | None
    scheduled_in: int
    """The version of the complaint's ``FollowUpScheduled`` event (what its actions name as
    their cause)."""

    @property
    def actions(self) -> list[dict[str, Any]]:
        loaded: list[dict[str, Any]] = json.loads(self.actions_json)
        return loaded

    @property
    def if_still(self) -> dict[str, Any] | None:
        return None if self.if_still_json is None else dict(json.loads(self.if_still_json))


class Complaint(Aggregate):
    INITIAL_VERSION = 1

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        causation_id: str | None

    class Filed(Aggregate.Created):
        actor: str
        correlation_id: str
        causation_id: str | None
        reference: str
        # Value objects are stored as plain JSON objects (see aggregates/values.py).
        customer: CustomerJSON
        product: ProductJSON
        category: Annotated[str, OneOf(Category)]
        subject: str
        description: str
        occurred_at: datetime | None
        location: str | None
        attachments: list[AttachmentJSON]
        expected_remedy: Annotated[str, OneOf(ExpectedRemedy)] | None
        channel: Annotated[str, OneOf(Channel)]
        severity: Annotated[str, OneOf(Severity)]
        region: str | None
        received_by: str
        received_at: datetime

        def apply(self, complaint: Complaint) -> None:
            complaint.reference = self.reference
            complaint.customer = Customer.from_json(self.customer)
            complaint.product = Product.from_json(self.product)
            complaint.category = self.category
            complaint.subject = self.subject
            complaint.description = self.description
            complaint.occurred_at = self.occurred_at
            complaint.location = self.location
            complaint.attachments = tuple(Attachment.from_json(a) for a in self.attachments)
            complaint.expected_remedy = self.expected_remedy
            complaint.channel = self.channel
            complaint.severity = self.severity
            complaint.region = self.region
            complaint.received_by = self.received_by
            complaint.received_at = self.received_at
            complaint.status = Status.NEW.value
            complaint.assignee = None
            complaint.team = None
            complaint.escalation_level = 0
            complaint.comments = []
            complaint.first_response_at = None
            complaint.closed_at = None
            complaint.resolution_code = None
            complaint.resolution_summary = None
            complaint.reopen_count = 0
            complaint.sla = None
            complaint.paused_since = None
            complaint.resolution_started_at = self.received_at
            complaint.resolution_pauses = ()
            complaint.personal_data_erased_at = None
            complaint.tags = ()
            complaint.linked = ()
            complaint.follow_ups = ()
            # closed loop (issue 12)
            complaint.remedies = ()
            complaint.customer_replies = ()
            complaint.survey = None
            complaint.origin = None

    class Assigned(Event):
        assignee: str
        team: str | None
        reason: str | None
        rule: str | None
        """The routing or automation rule (``id@vN``) that assigned it; ``None``: a person."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["rule"] = None

        def apply(self, complaint: Complaint) -> None:
            complaint.assignee = self.assignee
            complaint.team = self.team
            # Assigning a complaint that waits for the customer does not end the wait.
            if complaint.status != Status.PENDING_CUSTOMER.value:
                complaint.status = Status.ASSIGNED.value

    class Commented(Event):
        comment_id: str
        body: str
        visibility: Annotated[str, OneOf(Visibility)]

        def apply(self, complaint: Complaint) -> None:
            complaint.comments.append(
                Comment(
                    id=self.comment_id,
                    body=self.body,
                    visibility=self.visibility,
                    author=self.actor,
                    created_at=self.timestamp,
                )
            )
            if self.visibility == Visibility.CUSTOMER.value and complaint.first_response_at is None:
                complaint.first_response_at = self.timestamp
                complaint._meet(SlaMetric.FIRST_RESPONSE, self.timestamp)

    class Escalated(Event):
        level: int
        reason: str
        rule: str | None
        """The automation rule (``id@vN``) that escalated it; ``None``: a person or the watcher."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["rule"] = None

        def apply(self, complaint: Complaint) -> None:
            complaint.escalation_level = self.level

    class Closed(Event):
        resolution_code: Annotated[str, OneOf(ResolutionCode)]
        summary: str
        closed_at: datetime | None
        """When it was closed in business time, for a closure recorded later than it happened
        (an import: the sheet's date); ``None``: at the event's own time."""

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["closed_at"] = None

        @property
        def closed_time(self) -> datetime:
            """The business time of the close: ``closed_at`` if given, else the timestamp.
            Every view and measure of "when it was closed" reads this."""
            return self.closed_at or self.timestamp

        def apply(self, complaint: Complaint) -> None:
            at = self.closed_time
            complaint.status = Status.CLOSED.value
            complaint.resolution_code = self.resolution_code
            complaint.resolution_summary = self.summary
            complaint.closed_at = at
            # Closing ends a wait for the customer, meets the resolution clock and, if no
            # customer-visible reply came first, the first-response clock (the customer is told
            # the outcome).
            complaint.paused_since = None
            complaint._meet(SlaMetric.RESOLUTION, at)
            complaint._meet(SlaMetric.FIRST_RESPONSE, at)

    class Imported(Event):
        """The complaint came from another system's records (same save as ``Filed``): where
        from (``source``, ``external_id``: unique together, the complaint's id derives from
        them), a ``digest`` of the mapped row (a re-import tells a changed row by it), and the
        source's fields kept as they were (any may be ``None`` when the sheet has no such
        column)."""

        source: str
        external_id: str
        digest: str
        company: str | None
        """The company complained about."""
        sub_product: str | None
        issue: str | None
        sub_issue: str | None
        state: str | None
        zip_code: str | None
        company_response: str | None
        """The company's response as the source worded it (e.g. ``Closed with explanation``)."""
        timely_response: bool | None
        consumer_disputed: bool | None

        def apply(self, complaint: Complaint) -> None:
            complaint.origin = Origin(self.source, self.external_id, self.digest)

    class Reopened(Event):
        reason: str

        def apply(self, complaint: Complaint) -> None:
            complaint.status = Status.ASSIGNED.value if complaint.assignee else Status.NEW.value
            complaint.closed_at = None
            complaint.resolution_code = None
            complaint.resolution_summary = None
            complaint.reopen_count += 1
            # A new resolution cycle; with SLA clocks, ``SlaCycleStarted`` (same save) gives
            # its due time.
            complaint.resolution_started_at = self.timestamp
            complaint.resolution_pauses = ()

    # ---- SLA clocks (issue 9). Every instant below was computed by the application from the
    # terms in force and is stored as given: replay never recomputes a due time.

    class SlaApplied(Event):
        """The SLA terms the complaint's clocks run under: at filing (same save as ``Filed``,
        due times from ``received_at``), or a supervisor's re-apply (``reason`` given; the
        resolution due of the current cycle, moved by its pauses so far)."""

        policy_version: int
        rule: str
        calendar: str
        calendar_version: int
        first_response_target: str
        resolution_target: str
        at_risk_ratio: float
        first_response_due_at: datetime
        first_response_at_risk_at: datetime
        resolution_cycle: int
        resolution_due_at: datetime
        resolution_at_risk_at: datetime
        reason: str | None

        def apply(self, complaint: Complaint) -> None:
            before = complaint.sla
            first_response = SlaClock(
                metric=SlaMetric.FIRST_RESPONSE,
                target=self.first_response_target,
                cycle=1,
                due_at=self.first_response_due_at,
                at_risk_at=self.first_response_at_risk_at,
                met_at=complaint.first_response_at,
            )
            resolution = SlaClock(
                metric=SlaMetric.RESOLUTION,
                target=self.resolution_target,
                cycle=self.resolution_cycle,
                due_at=self.resolution_due_at,
                at_risk_at=self.resolution_at_risk_at,
            )
            if before is not None:
                # A re-apply never takes back what was recorded for these cycles.
                first_response = _carry_over(before.first_response, first_response)
                resolution = _carry_over(before.resolution, resolution)
            complaint.sla = AppliedSla(
                policy_version=self.policy_version,
                rule=self.rule,
                calendar=self.calendar,
                calendar_version=self.calendar_version,
                at_risk_ratio=self.at_risk_ratio,
                first_response=first_response,
                resolution=resolution,
            )

    class CustomerAwaited(Event):
        """The complaint waits for the customer's answer (status ``pending_customer``): the
        resolution clock pauses at ``paused_at``."""

        reason: str
        paused_at: datetime

        def apply(self, complaint: Complaint) -> None:
            complaint.status = Status.PENDING_CUSTOMER.value
            complaint.paused_since = self.paused_at

    class CustomerReplied(Event):
        """The customer answered (keyed by staff, or later by the customer): the wait ends and
        the resolution clock resumes at ``resumed_at``, its due and at-risk instants moved by
        ``paused_seconds`` of working time (``null`` for a complaint without SLA clocks)."""

        reply_id: str
        body: str
        channel: Annotated[str, OneOf(Channel)]
        resumed_at: datetime
        paused_seconds: int | None
        resolution_due_at: datetime | None
        resolution_at_risk_at: datetime | None

        def apply(self, complaint: Complaint) -> None:
            # A reply when nothing was awaited (the customer writing through the tracking page)
            # changes no status.
            if complaint.status == Status.PENDING_CUSTOMER.value:
                complaint.status = Status.ASSIGNED.value if complaint.assignee else Status.NEW.value
            complaint.customer_replies = (
                *complaint.customer_replies,
                CustomerReply(self.reply_id, self.body, self.channel, self.actor, self.timestamp),
            )
            if complaint.paused_since is not None:
                complaint.resolution_pauses = (
                    *complaint.resolution_pauses, (complaint.paused_since, self.resumed_at)
                )
            complaint.paused_since = None
            if (
                complaint.sla is not None
                and self.resolution_due_at is not None
                and self.resolution_at_risk_at is not None
            ):
                complaint._set_clock(
                    replace(
                        complaint.sla.resolution,
                        due_at=self.resolution_due_at,
                        at_risk_at=self.resolution_at_risk_at,
                    )
                )

    class SlaCycleStarted(Event):
        """A reopen started a new cycle of ``metric`` (the resolution clock) at ``started_at``,
        with its own due time (same save as ``Reopened``)."""

        metric: Annotated[str, OneOf(SlaMetric)]
        cycle: int
        started_at: datetime
        due_at: datetime
        at_risk_at: datetime

        def apply(self, complaint: Complaint) -> None:
            assert complaint.sla is not None
            complaint.resolution_started_at = self.started_at
            complaint._set_clock(
                replace(
                    complaint.sla.clock(self.metric),
                    cycle=self.cycle,
                    due_at=self.due_at,
                    at_risk_at=self.at_risk_at,
                    met_at=None,
                    warned_at=None,
                    breached_at=None,
                )
            )

    class SlaRecorded(Event):
        """What the deadline watcher records of one clock: ``metric``'s clock, cycle ``cycle``,
        due at ``due_at``. Only its subclasses are recorded."""

        metric: Annotated[str, OneOf(SlaMetric)]
        cycle: int
        due_at: datetime

        def _record(self, complaint: Complaint, **instant: Any) -> None:
            assert complaint.sla is not None
            complaint._set_clock(replace(complaint.sla.clock(self.metric), **instant))

    class SlaWarned(SlaRecorded):
        """The deadline watcher saw the clock become at risk."""

        warned_at: datetime

        def apply(self, complaint: Complaint) -> None:
            self._record(complaint, warned_at=self.warned_at)

    class SlaBreached(SlaRecorded):
        """The clock passed its due instant unmet; ``breached_at`` is that instant, not the
        moment the watcher noticed."""

        breached_at: datetime

        def apply(self, complaint: Complaint) -> None:
            self._record(complaint, breached_at=self.breached_at)

    # ---- automation (issue 12): every event below may be recorded by a rule, which it names.

    class SeverityChanged(Event):
        severity: Annotated[str, OneOf(Severity)]
        reason: str
        rule: str | None

        def apply(self, complaint: Complaint) -> None:
            complaint.severity = self.severity

    class Tagged(Event):
        tag: str
        reason: str | None
        rule: str | None

        def apply(self, complaint: Complaint) -> None:
            complaint.tags = (*complaint.tags, self.tag)

    class Untagged(Event):
        tag: str
        reason: str | None
        rule: str | None

        def apply(self, complaint: Complaint) -> None:
            complaint.tags = tuple(t for t in complaint.tags if t != self.tag)

    class NotificationRequested(Event):
        """A message for a gateway (SMS, e-mail, WeChat templates are the gateways' job): the
        event stream and webhooks carry it. ``audience`` says who in relation to the complaint
        (``assignee``, ``team_supervisor``, ``customer``, ...), ``recipient`` whom that resolved
        to when it was requested (``None``: the gateway resolves it, e.g. the customer's
        contact)."""

        notification_id: str
        template: str
        audience: str
        recipient: str | None
        reason: str
        rule: str | None

        def apply(self, complaint: Complaint) -> None:
            pass  # a request to the outside world; the complaint's state does not change

    class LinkedTo(Event):
        """A related complaint (the same customer or order, open or recently closed)."""

        complaint_id: UUID
        reference: str
        reason: str
        rule: str | None

        def apply(self, complaint: Complaint) -> None:
            complaint.linked = (*complaint.linked, (self.complaint_id, self.reference))

    class FollowUpScheduled(Event):
        """A rule's ``follow_up``: at ``due_at`` the deadline watcher performs ``actions`` (the
        rule's action data) if ``if_still`` (its condition data; ``None``: always) holds then."""

        follow_up_id: str
        due_at: datetime
        actions: list[dict[str, Any]]
        if_still: dict[str, Any] | None
        rule: str | None

        def apply(self, complaint: Complaint) -> None:
            complaint.follow_ups = (
                *complaint.follow_ups,
                FollowUp(
                    self.follow_up_id, self.due_at, json.dumps(self.actions),
                    None if self.if_still is None else json.dumps(self.if_still),
                    self.rule, self.originator_version,
                ),
            )

    class FollowUpDone(Event):
        """The watcher took up the follow-up: ``performed`` says whether ``if_still`` held and its
        actions were performed (they are recorded beside this event, in the same save)."""

        follow_up_id: str
        performed: bool

        def apply(self, complaint: Complaint) -> None:
            complaint.follow_ups = tuple(
                f for f in complaint.follow_ups if f.follow_up_id != self.follow_up_id
            )

    class PersonalDataErased(Event):
        """The customer's personal data were erased (crypto-shredding, issue 11): from here on the
        complaint holds ``ERASED`` for them. Earlier events still hold the sealed values, which
        read ``ERASED`` once the data key is gone; this event brings every cached complaint and
        every projection up to date through the ordinary event flow."""

        reason: str

        def apply(self, complaint: Complaint) -> None:
            customer = complaint.customer
            complaint.customer = replace(
                customer,
                name=ERASED,
                phone=ERASED if customer.phone is not None else None,
                email=ERASED if customer.email is not None else None,
            )
            complaint.description = ERASED
            if complaint.location is not None:
                complaint.location = ERASED
            complaint.comments = [c._replace(body=ERASED) for c in complaint.comments]
            complaint.customer_replies = tuple(
                replace(r, body=ERASED) for r in complaint.customer_replies
            )
            complaint.remedies = tuple(
                replace(r, customer_reason=ERASED) if r.customer_reason is not None else r
                for r in complaint.remedies
            )
            complaint.personal_data_erased_at = self.timestamp

    # ---- closed loop (issue 12): remedies, the customer's access code, the satisfaction survey.

    class RemedyProposed(Event):
        remedy_id: str
        kind: Annotated[str, OneOf(ExpectedRemedy)]
        amount: str | None
        """Two decimals as text (``"120.00"``); ``None`` for an apology without one."""
        currency: str | None
        description: str

        def apply(self, complaint: Complaint) -> None:
            complaint.remedies = (
                *complaint.remedies,
                Remedy(
                    id=self.remedy_id,
                    kind=self.kind,
                    amount=self.amount,
                    currency=self.currency,
                    description=self.description,
                    status=RemedyStatus.PROPOSED.value,
                    proposed_by=self.actor,
                    proposed_at=self.timestamp,
                    updated_at=self.timestamp,
                ),
            )

    class RemedyChanged(Event):
        """A step of one remedy; only its subclasses are recorded."""

        remedy_id: str

        def _change(self, complaint: Complaint, status: RemedyStatus, **fields: Any) -> None:
            complaint.remedies = tuple(
                replace(r, status=status.value, updated_at=self.timestamp, **fields)
                if r.id == self.remedy_id
                else r
                for r in complaint.remedies
            )

    class ApprovalRequested(RemedyChanged):
        """The remedy is above the proposer's approval limit (same save as the proposal)."""

        limit: dict[str, str] | None
        """The proposer's limit (``Money.to_json``); ``None``: they have none."""

        def apply(self, complaint: Complaint) -> None:
            self._change(complaint, RemedyStatus.AWAITING_APPROVAL)

    class RemedyApproved(RemedyChanged):
        def apply(self, complaint: Complaint) -> None:
            self._change(complaint, RemedyStatus.APPROVED, decided_by=self.actor)

    class RemedyRejected(RemedyChanged):
        reason: str

        def apply(self, complaint: Complaint) -> None:
            self._change(
                complaint,
                RemedyStatus.REJECTED,
                decided_by=self.actor,
                rejection_reason=self.reason,
            )

    class CustomerAccepted(RemedyChanged):
        def apply(self, complaint: Complaint) -> None:
            self._change(complaint, RemedyStatus.ACCEPTED)

    class CustomerDeclined(RemedyChanged):
        reason: str

        def apply(self, complaint: Complaint) -> None:
            self._change(complaint, RemedyStatus.DECLINED, customer_reason=self.reason)

    class RemedyFulfilled(RemedyChanged):
        note: str | None

        def apply(self, complaint: Complaint) -> None:
            self._change(complaint, RemedyStatus.FULFILLED, fulfilment_note=self.note)

    class SurveyRequested(Event):
        """A close asks the customer how it went: ``token`` travels in this event's data to the
        notification gateway, which sends the survey link."""

        token: str
        expires_at: datetime

        def apply(self, complaint: Complaint) -> None:
            complaint.survey = Survey(self.token, self.expires_at)

    class SatisfactionRecorded(Event):
        token: str
        csat: int
        """1-5; 4 and 5 count as satisfied."""
        nps: int
        """0-10; 9-10 promoters, 0-6 detractors."""
        comment: str | None

        def apply(self, complaint: Complaint) -> None:
            if complaint.survey is not None and complaint.survey.token == self.token:
                complaint.survey = replace(complaint.survey, answered_at=self.timestamp)

    def __deepcopy__(self, memo: dict[int, Any]) -> Complaint:
        """A copy sharing the immutable state. The repository hands out a deep copy of the cached
        complaint on every read, and a generic deep copy walks every comment: it cost more CPU
        than the rest of a command. Every attribute is immutable (str, datetime, frozen
        dataclasses, tuples of them) except the two lists, which are copied;
        ``tests/unit/test_complaint_copy.py`` keeps that true."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.comments = list(self.comments)
        copy._pending_events = list(self._pending_events)
        return copy

    # State assigned by events, declared for type checkers only: class-level annotations would
    # make the library turn them into constructor parameters.
    if TYPE_CHECKING:
        reference: str
        customer: Customer
        product: Product
        category: str
        subject: str
        description: str
        occurred_at: datetime | None
        location: str | None
        attachments: tuple[Attachment, ...]
        expected_remedy: str | None
        channel: str
        severity: str
        region: str | None
        received_by: str
        received_at: datetime
        status: str
        assignee: str | None
        team: str | None
        escalation_level: int
        comments: list[Comment]
        first_response_at: datetime | None
        closed_at: datetime | None
        resolution_code: str | None
        resolution_summary: str | None
        reopen_count: int
        sla: AppliedSla | None
        """The SLA terms and clocks; ``None`` for a complaint filed before SLA clocks existed
        (until a re-apply)."""
        paused_since: datetime | None
        """When the wait for the customer began (status ``pending_customer``), else ``None``."""
        resolution_started_at: datetime
        """When the current resolution cycle began: ``received_at``, or the last reopen."""
        resolution_pauses: tuple[tuple[datetime, datetime], ...]
        """The finished waits for the customer in the current resolution cycle."""
        personal_data_erased_at: datetime | None
        """When the customer's personal data were last erased; ``None`` if never."""
        tags: tuple[str, ...]
        """Labels, in the order they were added (``legal_risk``, ``high_attention``, ...)."""
        linked: tuple[tuple[UUID, str], ...]
        """Related complaints (id, reference), in the order they were linked."""
        follow_ups: tuple[FollowUp, ...]
        """Follow-ups scheduled by automation rules and not yet taken up, oldest first."""
        remedies: tuple[Remedy, ...]
        """Remedies offered, oldest first (at most one open: ``Remedy.is_open``)."""
        customer_replies: tuple[CustomerReply, ...]
        survey: Survey | None
        """The survey of the latest close; ``None`` before one."""
        origin: Origin | None
        """Where an imported complaint came from; ``None`` for one filed here."""

    @classmethod
    def file(
        cls,
        *,
        reference: str,
        customer: Customer,
        product: Product,
        category: str,
        subject: str,
        description: str,
        channel: str,
        severity: str,
        received_at: datetime,
        received_by: str | None = None,
        occurred_at: datetime | None = None,
        location: str | None = None,
        attachments: Sequence[Attachment] = (),
        expected_remedy: str | None = None,
        region: str | None = None,
        by: Provenance,
        id: UUID | None = None,  # noqa: A002 - the library's own name for it
        contact_required: bool = True,
    ) -> Complaint:
        """``contact_required=False`` for an import of history: its customer may have been
        published without a way to reach them (the CFPB's are anonymous)."""
        _require(customer.id, "customer.id")
        _require(customer.name, "customer.name")
        if contact_required and not (customer.phone or customer.email):
            raise InvalidIntakeError("customer", "needs a phone or an email")
        _in_vocabulary(customer.tier, CustomerTier, "customer.tier")
        for value, field in ((subject, "subject"), (description, "description")):
            _require(value, field)
        for value, vocabulary, field in (
            (category, Category, "category"),
            (channel, Channel, "channel"),
            (severity, Severity, "severity"),
        ):
            _require(value, field)
            _in_vocabulary(value, vocabulary, field)
        _in_vocabulary(expected_remedy, ExpectedRemedy, "expected_remedy")
        if received_at.tzinfo is None:
            raise InvalidIntakeError("received_at", "needs a UTC offset")
        if occurred_at is not None and occurred_at.tzinfo is None:
            raise InvalidIntakeError("occurred_at", "needs a UTC offset")
        if occurred_at is not None and occurred_at > received_at + CLOCK_SKEW:
            raise InvalidIntakeError("occurred_at", "is after the complaint was received")
        return cls._create(
            cls.Filed,
            id=id or uuid4(),
            reference=reference,
            customer=customer.to_json(),
            product=product.to_json(),
            category=category,
            subject=subject,
            description=description,
            occurred_at=occurred_at,
            location=location,
            attachments=[a.to_json() for a in attachments],
            expected_remedy=expected_remedy,
            channel=channel,
            severity=severity,
            region=region,
            received_by=received_by or by.actor,
            received_at=received_at,
            **by.as_event_fields(),
        )

    @property
    def is_closed(self) -> bool:
        return self.status == Status.CLOSED.value

    @property
    def filed_at(self) -> datetime:
        return self.created_on

    @property
    def is_awaiting_customer(self) -> bool:
        return self.status == Status.PENDING_CUSTOMER.value

    @property
    def resolution_cycle(self) -> int:
        """The current resolution cycle: 1, plus one per reopen."""
        return self.reopen_count + 1

    def _meet(self, metric: SlaMetric, at: datetime) -> None:
        if self.sla is not None and self.sla.clock(metric).met_at is None:
            self._set_clock(replace(self.sla.clock(metric), met_at=at))

    def _set_clock(self, clock: SlaClock) -> None:
        assert self.sla is not None
        self.sla = self.sla.with_clock(clock)

    def assign(
        self, assignee: str, *, team: str | None = None, reason: str | None = None, by: Provenance
    ) -> None:
        if self.is_closed:
            raise IllegalTransitionError("a closed complaint cannot be assigned; reopen it first")
        _require(assignee, "assignee")
        if assignee == self.assignee and team == self.team:
            raise IllegalTransitionError(f"the complaint is already assigned to {assignee}")
        self.trigger_event(
            self.Assigned, assignee=assignee, team=team, reason=reason, **by.rule_fields()
        )

    def comment(self, body: str, *, visibility: str, by: Provenance) -> None:
        if self.is_closed:
            raise IllegalTransitionError("a closed complaint cannot be commented on")
        _require(body, "body")
        _in_vocabulary(visibility, Visibility, "visibility")
        self.trigger_event(
            self.Commented,
            comment_id=uuid4().hex,
            body=body,
            visibility=visibility,
            **by.as_event_fields(),
        )

    def escalate(self, reason: str, *, level: int | None = None, by: Provenance) -> None:
        if self.is_closed:
            raise IllegalTransitionError("a closed complaint cannot be escalated")
        _require(reason, "reason")
        new_level = self.escalation_level + 1 if level is None else level
        if new_level <= self.escalation_level:
            raise IllegalTransitionError(
                f"escalation only rises: the complaint is at level {self.escalation_level}"
            )
        if new_level > MAX_ESCALATION_LEVEL:
            raise IllegalTransitionError(f"escalation level cannot exceed {MAX_ESCALATION_LEVEL}")
        self.trigger_event(self.Escalated, level=new_level, reason=reason, **by.rule_fields())

    def close(
        self,
        resolution_code: str,
        summary: str,
        *,
        by: Provenance,
        closed_at: datetime | None = None,
    ) -> None:
        """``closed_at``: a closure that happened elsewhere, earlier (an import). The remedy
        rule is this system's workflow and does not judge such history: its remedies were never
        recorded here."""
        if self.is_closed:
            raise IllegalTransitionError("the complaint is already closed")
        _in_vocabulary(resolution_code, ResolutionCode, "resolution_code")
        _require(resolution_code, "resolution_code")
        _require(summary, "summary")
        if closed_at is not None:
            if closed_at.tzinfo is None:
                raise InvalidIntakeError("closed_at", "needs a UTC offset")
            if closed_at < self.received_at:
                raise InvalidIntakeError("closed_at", "is before the complaint was received")
        elif resolution_code == ResolutionCode.REMEDY_PROVIDED.value and not any(
            r.status == RemedyStatus.FULFILLED.value for r in self.remedies
        ):
            raise IllegalTransitionError(
                "remedy_provided needs a fulfilled remedy; fulfil the accepted remedy first"
            )
        self.trigger_event(
            self.Closed,
            resolution_code=resolution_code,
            summary=summary,
            closed_at=closed_at,
            **by.as_event_fields(),
        )

    def record_import(
        self, *, source: str, external_id: str, digest: str, kept: Mapping[str, Any],
        by: Provenance,
    ) -> None:
        """Records where the complaint came from, right after ``file`` (same save).
        ``kept``: the source's fields of ``Imported`` (company, issue, ...)."""
        if self.version != 1 or self.origin is not None:
            raise IllegalTransitionError("only a complaint just filed can record its import")
        _require(source, "source")
        _require(external_id, "external_id")
        self.trigger_event(
            self.Imported,
            source=source,
            external_id=external_id,
            digest=digest,
            **{name: kept.get(name) for name in IMPORT_KEPT_FIELDS},
            **by.as_event_fields(),
        )

    def reopen(self, reason: str, *, by: Provenance) -> None:
        if not self.is_closed:
            raise IllegalTransitionError("only a closed complaint can be reopened")
        _require(reason, "reason")
        self.trigger_event(self.Reopened, reason=reason, **by.as_event_fields())

    # ---- SLA clocks -------------------------------------------------------------------------

    def apply_sla(
        self,
        *,
        policy_version: int,
        rule: str,
        calendar: str,
        calendar_version: int,
        first_response_target: str,
        resolution_target: str,
        at_risk_ratio: float,
        first_response: Deadline,
        resolution: Deadline,
        reason: str | None = None,
        by: Provenance,
    ) -> None:
        """Records the SLA terms and due times (computed by the application): at filing
        (``reason`` None), or a re-apply of the current policy to an open complaint."""
        if self.is_closed:
            raise IllegalTransitionError("SLA terms apply to open complaints only; reopen it first")
        if reason is not None:
            _require(reason, "reason")
        for deadline in (first_response, resolution):
            if deadline.at_risk_at > deadline.due_at:
                raise ValueError("a clock cannot be at risk after it is due")
        self.trigger_event(
            self.SlaApplied,
            policy_version=policy_version,
            rule=rule,
            calendar=calendar,
            calendar_version=calendar_version,
            first_response_target=first_response_target,
            resolution_target=resolution_target,
            at_risk_ratio=at_risk_ratio,
            first_response_due_at=first_response.due_at,
            first_response_at_risk_at=first_response.at_risk_at,
            resolution_cycle=self.resolution_cycle,
            resolution_due_at=resolution.due_at,
            resolution_at_risk_at=resolution.at_risk_at,
            reason=reason,
            **by.as_event_fields(),
        )

    def await_customer(self, reason: str, *, paused_at: datetime, by: Provenance) -> None:
        """Waits for the customer's answer: status ``pending_customer``, resolution clock paused."""
        if self.is_closed:
            raise IllegalTransitionError("a closed complaint cannot wait for the customer")
        if self.is_awaiting_customer:
            raise IllegalTransitionError("the complaint is already waiting for the customer")
        _require(reason, "reason")
        self.trigger_event(
            self.CustomerAwaited, reason=reason, paused_at=paused_at, **by.as_event_fields()
        )

    def record_customer_reply(
        self,
        body: str,
        *,
        channel: str,
        resumed_at: datetime,
        paused_seconds: int | None,
        resolution: Deadline | None,
        by: Provenance,
        unprompted: bool = False,
    ) -> None:
        """The customer's answer to a wait: resumes the resolution clock, whose due and at-risk
        instants the application moved by the paused working time (``resolution``; ``None``
        without SLA clocks). ``unprompted``: the customer writes through the tracking page, which
        they may do at any time before the close (a wait, if any, ends as above)."""
        if unprompted:
            if self.is_closed:
                raise IllegalTransitionError("the complaint is closed")
        elif not self.is_awaiting_customer:
            raise IllegalTransitionError(
                "the complaint is not waiting for the customer; add a comment instead"
            )
        _require(body, "body")
        _require(channel, "channel")
        _in_vocabulary(channel, Channel, "channel")
        self.trigger_event(
            self.CustomerReplied,
            reply_id=uuid4().hex,
            body=body,
            channel=channel,
            resumed_at=resumed_at,
            paused_seconds=paused_seconds,
            resolution_due_at=resolution.due_at if resolution else None,
            resolution_at_risk_at=resolution.at_risk_at if resolution else None,
            **by.as_event_fields(),
        )

    def start_resolution_cycle(
        self, *, started_at: datetime, resolution: Deadline, by: Provenance
    ) -> None:
        """After a reopen: the new resolution cycle's due time (computed by the application on
        the complaint's calendar version)."""
        if self.sla is None:
            raise IllegalTransitionError("the complaint has no SLA clocks")
        if self.is_closed:
            raise IllegalTransitionError("a closed complaint starts no resolution cycle")
        if self.sla.resolution.cycle >= self.resolution_cycle:
            raise IllegalTransitionError(
                f"resolution cycle {self.resolution_cycle} has already started"
            )
        self.trigger_event(
            self.SlaCycleStarted,
            metric=SlaMetric.RESOLUTION.value,
            cycle=self.resolution_cycle,
            started_at=started_at,
            due_at=resolution.due_at,
            at_risk_at=resolution.at_risk_at,
            **by.as_event_fields(),
        )

    def warn_sla(
        self, metric: str, *, cycle: int, due_at: datetime, warned_at: datetime, by: Provenance
    ) -> None:
        """The deadline watcher's warning: once per metric and cycle, only for a clock that is
        still running towards ``due_at``."""
        clock = self._watched_clock(metric, cycle, due_at)
        if clock.warned_at is not None:
            raise SlaRecordRefusedError(f"{metric} cycle {cycle} was already warned")
        if clock.met_at is not None:
            raise SlaRecordRefusedError(f"{metric} cycle {cycle} was met")
        if clock.breached_at is not None:
            raise SlaRecordRefusedError(f"{metric} cycle {cycle} is already breached")
        if self._paused(metric):
            raise SlaRecordRefusedError(f"the {metric} clock is paused")
        self.trigger_event(
            self.SlaWarned,
            metric=metric,
            cycle=cycle,
            due_at=due_at,
            warned_at=warned_at,
            **by.as_event_fields(),
        )

    def breach_sla(
        self, metric: str, *, cycle: int, due_at: datetime, breached_at: datetime, by: Provenance
    ) -> None:
        """The deadline watcher's breach: once per metric and cycle, at (not before) ``due_at``;
        never for a clock met in time, nor one paused before it fell due. A clock met late (the
        watcher was down) is breached with its true time."""
        clock = self._watched_clock(metric, cycle, due_at)
        if clock.breached_at is not None:
            raise SlaRecordRefusedError(f"{metric} cycle {cycle} was already breached")
        if breached_at < due_at:
            raise SlaRecordRefusedError("a clock cannot be breached before it is due")
        if self._paused(metric) and self.paused_since is not None and self.paused_since < due_at:
            raise SlaRecordRefusedError(f"the {metric} clock is paused")
        self.trigger_event(
            self.SlaBreached,
            metric=metric,
            cycle=cycle,
            due_at=due_at,
            breached_at=breached_at,
            **by.as_event_fields(),
        )

    @property
    def holds_personal_data(self) -> bool:
        """Whether the complaint shows personal data an erasure would replace: never erased, or
        commented on since."""
        return (
            self.personal_data_erased_at is None
            or any(c.body != ERASED for c in self.comments)
            or any(r.body != ERASED for r in self.customer_replies)
            or any(r.customer_reason not in (None, ERASED) for r in self.remedies)
        )

    # ---- automation: what rules (and people) do besides the lifecycle -----------------------

    def change_severity(self, severity: str, *, reason: str, by: Provenance) -> None:
        if self.is_closed:
            raise IllegalTransitionError("a closed complaint's severity cannot change")
        _require(severity, "severity")
        _in_vocabulary(severity, Severity, "severity")
        _require(reason, "reason")
        if severity == self.severity:
            raise IllegalTransitionError(f"the severity is already {severity}")
        self.trigger_event(
            self.SeverityChanged, severity=severity, reason=reason, **by.rule_fields()
        )

    def tag(self, tag: str, *, reason: str | None = None, by: Provenance) -> None:
        _require(tag, "tag")
        if not TAG_PATTERN.fullmatch(tag):
            raise InvalidIntakeError("tag", "must be 1-40 of a-z, 0-9, _ and - (not first)")
        if tag in self.tags:
            raise IllegalTransitionError(f"the complaint is already tagged {tag}")
        self.trigger_event(self.Tagged, tag=tag, reason=reason, **by.rule_fields())

    def untag(self, tag: str, *, reason: str | None = None, by: Provenance) -> None:
        if tag not in self.tags:
            raise IllegalTransitionError(f"the complaint is not tagged {tag}")
        self.trigger_event(self.Untagged, tag=tag, reason=reason, **by.rule_fields())

    def request_notification(
        self,
        template: str,
        *,
        audience: str,
        recipient: str | None = None,
        reason: str,
        by: Provenance,
    ) -> str:
        """Records a request for a gateway to send ``template`` to ``audience``; returns the
        notification's id (gateways deduplicate on it)."""
        _require(template, "template")
        _require(audience, "audience")
        _require(reason, "reason")
        notification_id = uuid4().hex
        self.trigger_event(
            self.NotificationRequested,
            notification_id=notification_id,
            template=template,
            audience=audience,
            recipient=recipient,
            reason=reason,
            **by.rule_fields(),
        )
        return notification_id

    def link_to(self, complaint_id: UUID, reference: str, *, reason: str, by: Provenance) -> None:
        if complaint_id == self.id:
            raise IllegalTransitionError("a complaint cannot be linked to itself")
        if any(linked == complaint_id for linked, _ in self.linked):
            raise IllegalTransitionError(f"the complaint is already linked to {reference}")
        _require(reason, "reason")
        self.trigger_event(
            self.LinkedTo,
            complaint_id=complaint_id,
            reference=reference,
            reason=reason,
            **by.rule_fields(),
        )

    def schedule_follow_up(
        self,
        due_at: datetime,
        actions: list[dict[str, Any]],
        *,
        if_still: dict[str, Any] | None,
        by: Provenance,
    ) -> str:
        """Records a follow-up the deadline watcher performs at ``due_at``; returns its id."""
        if not actions:
            raise InvalidIntakeError("actions", "a follow-up needs at least one action")
        follow_up_id = uuid4().hex
        self.trigger_event(
            self.FollowUpScheduled,
            follow_up_id=follow_up_id,
            due_at=due_at,
            actions=actions,
            if_still=if_still,
            **by.rule_fields(),
        )
        return follow_up_id

    def finish_follow_up(self, follow_up_id: str, *, performed: bool, by: Provenance) -> None:
        """Records that a pending follow-up was taken up (once: a second time is refused)."""
        if not any(f.follow_up_id == follow_up_id for f in self.follow_ups):
            raise IllegalTransitionError(f"no pending follow-up {follow_up_id}")
        self.trigger_event(
            self.FollowUpDone,
            follow_up_id=follow_up_id,
            performed=performed,
            **by.as_event_fields(),
        )

    def erase_personal_data(self, reason: str, *, by: Provenance) -> None:
        """Records that the customer's personal data were erased (closed complaints too: the
        right to erasure does not wait for a complaint to be open)."""
        _require(reason, "reason")
        self.trigger_event(self.PersonalDataErased, reason=reason, **by.as_event_fields())

    # ---- closed loop: remedies, the customer's access, the survey ------------------------------

    def propose_remedy(
        self,
        kind: str,
        *,
        money: Money | None,
        description: str,
        limit: Money | None,
        by: Provenance,
    ) -> str:
        """Offers a remedy; above the proposer's approval ``limit`` (``None``: no limit, so
        every remedy) it waits for approval first. Returns the remedy's id."""
        if self.is_closed:
            raise IllegalTransitionError("a closed complaint gets no remedy; reopen it first")
        _require(kind, "kind")
        _in_vocabulary(kind, ExpectedRemedy, "kind")
        _require(description, "description")
        if money is None and kind != ExpectedRemedy.APOLOGY.value:
            raise InvalidIntakeError("amount", f"is required for a {kind}")
        if (current := self.open_remedy) is not None:
            raise IllegalTransitionError(
                f"remedy {current.id} is still {current.status}; settle it before proposing another"
            )
        remedy_id = uuid4().hex
        self.trigger_event(
            self.RemedyProposed,
            remedy_id=remedy_id,
            kind=kind,
            amount=money.to_json()["amount"] if money else None,
            currency=money.currency if money else None,
            description=description,
            **by.as_event_fields(),
        )
        if not within_limit(limit, money):
            self.trigger_event(
                self.ApprovalRequested,
                remedy_id=remedy_id,
                limit=limit.to_json() if limit else None,
                **by.as_event_fields(),
            )
        return remedy_id

    def approve_remedy(self, remedy_id: str, *, limit: Money | None, by: Provenance) -> None:
        self._decide_approval(remedy_id, limit, by)
        self.trigger_event(self.RemedyApproved, remedy_id=remedy_id, **by.as_event_fields())

    def reject_remedy(
        self, remedy_id: str, reason: str, *, limit: Money | None, by: Provenance
    ) -> None:
        _require(reason, "reason")
        self._decide_approval(remedy_id, limit, by)
        self.trigger_event(
            self.RemedyRejected, remedy_id=remedy_id, reason=reason, **by.as_event_fields()
        )

    def accept_remedy(self, remedy_id: str, *, by: Provenance) -> None:
        """The customer takes the remedy offered (within the proposer's limit, or approved)."""
        self._offered(remedy_id)
        self.trigger_event(self.CustomerAccepted, remedy_id=remedy_id, **by.as_event_fields())

    def decline_remedy(self, remedy_id: str, reason: str, *, by: Provenance) -> None:
        """The customer refuses the remedy offered; another may be proposed."""
        _require(reason, "reason")
        self._offered(remedy_id)
        self.trigger_event(
            self.CustomerDeclined, remedy_id=remedy_id, reason=reason, **by.as_event_fields()
        )

    def fulfil_remedy(self, remedy_id: str, note: str | None, *, by: Provenance) -> None:
        remedy = self._remedy_to_change(remedy_id)
        if remedy.status != RemedyStatus.ACCEPTED.value:
            raise IllegalTransitionError(
                f"only an accepted remedy can be fulfilled; this one is {remedy.status}"
            )
        self.trigger_event(
            self.RemedyFulfilled, remedy_id=remedy_id, note=note, **by.as_event_fields()
        )

    @property
    def open_remedy(self) -> Remedy | None:
        return next((r for r in self.remedies if r.is_open), None)

    def remedy(self, remedy_id: str) -> Remedy:
        remedy = next((r for r in self.remedies if r.id == remedy_id), None)
        if remedy is None:
            raise RemedyNotFoundError(f"the complaint has no remedy {remedy_id[:40]!r}")
        return remedy

    def _remedy_to_change(self, remedy_id: str) -> Remedy:
        remedy = self.remedy(remedy_id)
        if self.is_closed:
            raise IllegalTransitionError("the complaint is closed; reopen it first")
        return remedy

    def _offered(self, remedy_id: str) -> Remedy:
        remedy = self._remedy_to_change(remedy_id)
        if remedy.status not in OFFERED:
            raise IllegalTransitionError(
                f"the remedy is {remedy.status}: only an offered remedy can be accepted or declined"
            )
        return remedy

    def _decide_approval(self, remedy_id: str, limit: Money | None, by: Provenance) -> None:
        remedy = self._remedy_to_change(remedy_id)
        if remedy.status != RemedyStatus.AWAITING_APPROVAL.value:
            raise IllegalTransitionError(f"the remedy is {remedy.status}, not awaiting approval")
        if by.actor == remedy.proposed_by:
            raise IllegalTransitionError("the proposer cannot decide on their own remedy")
        if not within_limit(limit, remedy.money):
            shown = f"{limit.amount} {limit.currency}" if limit else "none"
            raise IllegalTransitionError(
                f"your approval limit ({shown}) does not cover "
                f"{remedy.amount or '-'} {remedy.currency or ''}".rstrip()
            )

    def request_survey(self, token: str, *, expires_at: datetime, by: Provenance) -> None:
        """Issues a one-time satisfaction survey (on closing, same save)."""
        if not self.is_closed:
            raise IllegalTransitionError("a survey is requested when the complaint is closed")
        _require(token, "token")
        self.trigger_event(
            self.SurveyRequested, token=token, expires_at=expires_at, **by.as_event_fields()
        )

    def survey_open(self, now: datetime) -> bool:
        survey = self.survey
        return survey is not None and survey.answered_at is None and now <= survey.expires_at

    def record_satisfaction(
        self,
        token: str,
        *,
        csat: int,
        nps: int,
        comment: str | None,
        now: datetime,
        by: Provenance,
    ) -> None:
        """The customer's answer to the latest survey, once; an unknown, superseded or expired
        token is ``SurveyNotFoundError``."""
        survey = self.survey
        if survey is None or not hmac.compare_digest(survey.token.encode(), token.encode()):
            raise SurveyNotFoundError("no such survey")
        if survey.answered_at is not None:
            raise IllegalTransitionError("the survey was already answered")
        if now > survey.expires_at:
            raise SurveyNotFoundError("no such survey")
        if not 1 <= csat <= 5:
            raise InvalidIntakeError("csat", "must be 1 to 5")
        if not 0 <= nps <= 10:
            raise InvalidIntakeError("nps", "must be 0 to 10")
        self.trigger_event(
            self.SatisfactionRecorded,
            token=token,
            csat=csat,
            nps=nps,
            comment=comment,
            **by.as_event_fields(),
        )

    def _watched_clock(self, metric: str, cycle: int, due_at: datetime) -> SlaClock:
        """The clock a warning or breach names, refused unless it is still the current cycle,
        due at ``due_at`` (a pause may have moved it) and not met in time."""
        _in_vocabulary(metric, SlaMetric, "metric")
        if self.sla is None:
            raise SlaRecordRefusedError("the complaint has no SLA clocks")
        clock = self.sla.clock(metric)
        if clock.cycle != cycle:
            raise SlaRecordRefusedError(f"{metric} is in cycle {clock.cycle}, not {cycle}")
        if clock.due_at != due_at:
            raise SlaRecordRefusedError(
                f"{metric} cycle {cycle} is due at {clock.due_at.isoformat()}, not "
                f"{due_at.isoformat()}"
            )
        if clock.met_in_time():
            raise SlaRecordRefusedError(f"{metric} cycle {cycle} was met")
        return clock

    def _paused(self, metric: str) -> bool:
        return metric == SlaMetric.RESOLUTION.value and self.paused_since is not None
