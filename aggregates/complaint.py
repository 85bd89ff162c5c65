"""The Complaint aggregate: one customer complaint, from intake to closure.

Public methods decide (check the rules, raise domain errors); nested event classes record, and their
``apply`` methods only assign state, so replaying history never re-runs a rule check.
Event class names are stored as topics: never rename one without an upcaster.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from aggregates.errors import IllegalTransitionError, InvalidIntakeError
from aggregates.provenance import Provenance
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
    Status,
    Visibility,
)

MAX_ESCALATION_LEVEL = 10
# Customers' and channels' clocks are not ours: tolerate this much apparent time travel.
CLOCK_SKEW = timedelta(minutes=5)


def _require(value: Any, field: str) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidIntakeError(field, "is required")


def _in_vocabulary(value: str | None, vocabulary: type[Any], field: str) -> None:
    if value is not None and value not in {m.value for m in vocabulary}:
        allowed = ", ".join(m.value for m in vocabulary)
        raise InvalidIntakeError(field, f"must be one of: {allowed}")


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

    class Assigned(Event):
        assignee: str
        team: str | None
        reason: str | None

        def apply(self, complaint: Complaint) -> None:
            complaint.assignee = self.assignee
            complaint.team = self.team
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

    class Escalated(Event):
        level: int
        reason: str

        def apply(self, complaint: Complaint) -> None:
            complaint.escalation_level = self.level

    class Closed(Event):
        resolution_code: Annotated[str, OneOf(ResolutionCode)]
        summary: str

        def apply(self, complaint: Complaint) -> None:
            complaint.status = Status.CLOSED.value
            complaint.resolution_code = self.resolution_code
            complaint.resolution_summary = self.summary
            complaint.closed_at = self.timestamp

    class Reopened(Event):
        reason: str

        def apply(self, complaint: Complaint) -> None:
            complaint.status = Status.ASSIGNED.value if complaint.assignee else Status.NEW.value
            complaint.closed_at = None
            complaint.resolution_code = None
            complaint.resolution_summary = None
            complaint.reopen_count += 1

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
    ) -> Complaint:
        _require(customer.id, "customer.id")
        _require(customer.name, "customer.name")
        if not (customer.phone or customer.email):
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

    def assign(
        self, assignee: str, *, team: str | None = None, reason: str | None = None, by: Provenance
    ) -> None:
        if self.is_closed:
            raise IllegalTransitionError("a closed complaint cannot be assigned; reopen it first")
        _require(assignee, "assignee")
        if assignee == self.assignee and team == self.team:
            raise IllegalTransitionError(f"the complaint is already assigned to {assignee}")
        self.trigger_event(
            self.Assigned, assignee=assignee, team=team, reason=reason, **by.as_event_fields()
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
        self.trigger_event(self.Escalated, level=new_level, reason=reason, **by.as_event_fields())

    def close(self, resolution_code: str, summary: str, *, by: Provenance) -> None:
        if self.is_closed:
            raise IllegalTransitionError("the complaint is already closed")
        _in_vocabulary(resolution_code, ResolutionCode, "resolution_code")
        _require(resolution_code, "resolution_code")
        _require(summary, "summary")
        self.trigger_event(
            self.Closed, resolution_code=resolution_code, summary=summary, **by.as_event_fields()
        )

    def reopen(self, reason: str, *, by: Provenance) -> None:
        if not self.is_closed:
            raise IllegalTransitionError("only a closed complaint can be reopened")
        _require(reason, "reason")
        self.trigger_event(self.Reopened, reason=reason, **by.as_event_fields())
