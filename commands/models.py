"""Command models: what a caller asks the system to do, validated before any aggregate is touched.

The intake model doubles as the HTTP request body of ``POST /complaints`` so that validation rules
and their 422 field names exist exactly once. The complaint's parts narrow the shared shapes of
``commands/shapes.py`` to what intake accepts, and map to the domain's value objects.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from aggregates import values
from aggregates.vocabulary import (
    Category,
    Channel,
    CustomerTier,
    ExpectedRemedy,
    ResolutionCode,
    Severity,
    SlaMetric,
    Visibility,
)
from commands.input_types import MULTI_LINE, SINGLE_LINE, PlausibleInstant
from commands.shapes import (
    AttachmentBase,
    CommentBase,
    ComplaintBase,
    CustomerBase,
    ProductBase,
)
from commands.text_patterns import not_blank_pattern

# Every free-form string below carries SINGLE_LINE or MULTI_LINE (see commands/input_types.py):
# intake refuses control characters, lone surrogates and non-characters in every field, nested
# ones too (``sha256`` is held to hex digits by its pattern).
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SINGLE_LINE
]
OptionalShort = (
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), SINGLE_LINE] | None
)
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), MULTI_LINE
]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), MULTI_LINE
]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)


class Customer(CustomerBase, Command):
    # The reachability rule below, stated for clients: a phone with something left once
    # trimmed, or an e-mail (whose pattern needs some text).
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["phone"],
                 "properties": {"phone": {"type": "string", "pattern": not_blank_pattern()}}},
                {"required": ["email"], "properties": {"email": {"not": {"type": "null"}}}},
            ]
        }
    )

    id: ShortText
    name: ShortText
    company: OptionalShort = None
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), SINGLE_LINE] | None
    ) = None
    email: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
            ),
            SINGLE_LINE,
        ]
        | None
    ) = None
    tier: CustomerTier = CustomerTier.STANDARD

    @model_validator(mode="after")
    def _reachable(self) -> Customer:
        if not (self.phone or self.email):
            raise ValueError("at least one of customer.phone or customer.email is required")
        return self

    def to_value(self) -> values.Customer:
        return values.Customer(**self.model_dump())


class Product(ProductBase, Command):
    name: OptionalShort = None
    model: OptionalShort = None
    order_number: OptionalShort = None
    contract_number: OptionalShort = None
    service_item: OptionalShort = None

    def to_value(self) -> values.Product:
        return values.Product(**self.model_dump())


class Attachment(AttachmentBase, Command):
    name: ShortText
    content_type: OptionalShort = None
    size: Annotated[int, Field(ge=0)] | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = None

    def to_value(self) -> values.Attachment:
        return values.Attachment(**self.model_dump())


class FileComplaint(ComplaintBase, Command):
    """Register a new complaint from any channel through the one standard intake."""

    customer: Customer
    product: Product = Field(default_factory=Product)
    category: Category
    subject: ShortText
    description: LongText
    occurred_at: PlausibleInstant | None = Field(
        default=None,
        description="When it happened; not after `received_at` (5 minutes of clock skew allowed)",
    )
    location: OptionalShort = None
    attachments: Annotated[list[Attachment], Field(max_length=50)] = Field(default_factory=list)
    expected_remedy: ExpectedRemedy | None = None
    channel: Channel
    severity: Severity
    region: OptionalShort = None
    received_by: OptionalShort = Field(default=None, description="Default: the caller")
    received_at: PlausibleInstant | None = Field(
        default=None,
        description="When the complaint reached us (an import keeps the true time); not in the "
        "future (5 minutes of clock skew allowed). Default: now",
    )

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        use_enum_values=True,
        json_schema_extra={
            "examples": [
                {
                    "customer": {
                        "id": "CUST-1001",
                        "name": "张伟",
                        "company": None,
                        "phone": "13800138000",
                        "email": "zhang.wei@example.com",
                        "tier": "vip",
                    },
                    "product": {
                        "name": "X9 phone",
                        "model": "X9-128",
                        "order_number": "SO-2026-0042",
                        "contract_number": None,
                        "service_item": None,
                    },
                    "category": "product_quality",
                    "subject": "Screen cracked on arrival",
                    "description": "The parcel arrived with the phone screen cracked.",
                    "occurred_at": "2026-11-20T10:00:00+08:00",
                    "location": "Shanghai",
                    "attachments": [
                        {
                            "name": "photo.jpg",
                            "content_type": "image/jpeg",
                            "size": 52311,
                            "sha256": "9f86d081884c7d659a2feaa0c55ad015"
                            "a3bf4f1b2b0b822cd15d6c15b0f00a08",
                        }
                    ],
                    "expected_remedy": "exchange",
                    "channel": "web",
                    "severity": "high",
                    "region": "east",
                    "received_by": None,
                    "received_at": None,
                }
            ]
        },
    )

    def filing(self) -> dict[str, Any]:
        """Keyword arguments of ``Complaint.file``: the intake, its parts as value objects
        (``received_at`` and ``received_by`` excepted: the application settles them)."""
        parts = {"customer", "product", "attachments", "received_at", "received_by"}
        return {
            **self.model_dump(exclude=parts),
            "customer": self.customer.to_value(),
            "product": self.product.to_value(),
            "attachments": tuple(a.to_value() for a in self.attachments),
        }


class AssignComplaint(Command):
    assignee: ShortText
    team: OptionalShort = None
    reason: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), MULTI_LINE]
        | None
    ) = None


class CommentOnComplaint(CommentBase, Command):
    body: LongText
    visibility: Visibility = Visibility.INTERNAL


class EscalateComplaint(Command):
    reason: Reason
    level: Annotated[int, Field(ge=1, le=10)] | None = None


class CloseComplaint(Command):
    resolution_code: ResolutionCode
    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), MULTI_LINE
    ]


class ReopenComplaint(Command):
    reason: Reason


class AwaitCustomer(Command):
    """Wait for the customer's answer: status ``pending_customer``, the resolution clock paused."""

    reason: Reason


class RecordCustomerReply(Command):
    """The customer's answer to a wait (keyed by staff): resumes the resolution clock."""

    body: LongText
    channel: Channel


class ReapplySla(Command):
    """Apply the current SLA policy to an open complaint (supervisor or admin)."""

    reason: Reason


class RecordSlaWarning(Command):
    """The deadline watcher: ``metric``'s clock in ``cycle`` became at risk."""

    metric: SlaMetric
    cycle: Annotated[int, Field(ge=1)]
    due_at: AwareDatetime
    warned_at: AwareDatetime


class RecordSlaBreach(Command):
    """The deadline watcher: ``metric``'s clock in ``cycle`` passed ``due_at`` unmet
    (``breached_at`` is the due instant)."""

    metric: SlaMetric
    cycle: Annotated[int, Field(ge=1)]
    due_at: AwareDatetime
    breached_at: AwareDatetime


Tag = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$"),
    Field(description="1-40 of a-z, 0-9, _ and - (not first)"),
]


class TagComplaint(Command):
    """Add a tag by hand (``legal_risk``, ``high_attention``, ...)."""

    tag: Tag
    reason: Reason | None = None


class UntagComplaint(Command):
    """Remove a tag (``DELETE /complaints/{id}/tags/{tag}``), e.g. one a rule added."""

    tag: Tag
    reason: Reason | None = None


class ChangeSeverity(Command):
    """Set the severity by hand, e.g. to take back what a rule raised."""

    severity: Severity
    reason: Reason


class EraseCustomerData(Command):
    """Erase a customer's personal data (crypto-shredding). The reason is kept in the clear as
    evidence: name the request (e.g. a ticket number), never personal data."""

    reason: Reason


# ---- closed loop (issue 12): remedies, the customer's side, the satisfaction survey ---------

AMOUNT_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"
RemedyId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
OptionalReason = (
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), MULTI_LINE] | None
)


class ProposeRemedy(Command):
    """``amount`` as a decimal string (``"120.00"``) or number, at most two decimals, with its
    ``currency`` (ISO 4217); an apology may have neither."""

    kind: ExpectedRemedy
    amount: (
        Annotated[
            Decimal,
            Field(ge=0, lt=10**9, max_digits=11, decimal_places=2),
            # Documented as the string form (a JSON number is accepted too).
            WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["500.00"]}),
        ]
        | None
    ) = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    description: Reason


class RemedyRejection(Command):
    reason: Reason


class RemedyFulfilment(Command):
    note: OptionalReason = None


class CustomerDecline(Command):
    reason: Reason


class ApproveRemedy(Command):
    remedy_id: RemedyId


class RejectRemedy(Command):
    remedy_id: RemedyId
    reason: Reason


class FulfilRemedy(Command):
    remedy_id: RemedyId
    note: OptionalReason = None


class AcceptRemedy(Command):
    """The customer's, through the tracking page."""

    remedy_id: RemedyId


class DeclineRemedy(Command):
    """The customer's, through the tracking page."""

    remedy_id: RemedyId
    reason: Reason


class TrackReply(Command):
    """The customer writes through the tracking page."""

    body: LongText


class AnswerSurvey(Command):
    csat: Annotated[int, Field(ge=1, le=5)]
    nps: Annotated[int, Field(ge=0, le=10)]
    comment: OptionalReason = None
