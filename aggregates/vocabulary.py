"""Fixed vocabularies of the complaint domain.

Values are the wire and storage spelling: events store the ``.value`` strings, never the enum
objects, so the stored JSON stays readable by any consumer. An event field that holds such a
string says so with ``Annotated[str, OneOf(Category)]``, which the public event schema reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class OneOf:
    """Marks a ``str`` field whose value is one of ``vocabulary``'s values (checked when the
    event is decided, so every stored event of that field holds one)."""

    vocabulary: type[StrEnum]


class Category(StrEnum):
    PRODUCT_QUALITY = "product_quality"
    SERVICE_ATTITUDE = "service_attitude"
    LOGISTICS = "logistics"
    BILLING = "billing"
    OTHER = "other"


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    MINI_PROGRAM = "mini_program"
    WECHAT = "wechat"
    PHONE = "phone"
    EMAIL = "email"
    SOCIAL_MEDIA = "social_media"
    IN_PERSON = "in_person"
    STAFF = "staff"
    POSTAL_MAIL = "postal_mail"
    FAX = "fax"
    REFERRAL = "referral"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ExpectedRemedy(StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    APOLOGY = "apology"
    COMPENSATION = "compensation"
    OTHER = "other"


class CustomerTier(StrEnum):
    STANDARD = "standard"
    VIP = "vip"


class Visibility(StrEnum):
    INTERNAL = "internal"
    CUSTOMER = "customer"


class ResolutionCode(StrEnum):
    RESOLVED = "resolved"
    REMEDY_PROVIDED = "remedy_provided"
    DUPLICATE = "duplicate"
    INVALID = "invalid"
    WITHDRAWN = "withdrawn"


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    PENDING_CUSTOMER = "pending_customer"
    """Waiting for the customer's answer: the resolution clock is paused (still open)."""
    CLOSED = "closed"


class SlaMetric(StrEnum):
    """The clocks on a complaint: first response (met by the first customer-visible comment)
    and resolution (met by closing; each reopen starts a new cycle)."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class SlaState(StrEnum):
    """Where one SLA clock stands (the representation's ``state``; computed, never stored)."""

    RUNNING = "running"
    PAUSED = "paused"
    AT_RISK = "at_risk"
    MET = "met"
    BREACHED = "breached"


class Role(StrEnum):
    """What a token's principal is for (issue 11; the permission table says what each may do)."""

    AGENT = "agent"
    """Files complaints; works the complaints assigned to them or to their teams."""
    SUPERVISOR = "supervisor"
    """Every complaint of their teams: assigns, escalates, closes, reopens; the SLA policy."""
    COMPLIANCE = "compliance"
    """Reads everything (history, audit and access logs), exports dossiers, verifies the
    store, erases personal data; changes no complaint."""
    ANALYST = "analyst"
    """Analytics and event export; personal data only masked unless granted."""
    SERVICE = "service"
    """Another service: the event stream and cursor API; personal data only where granted."""
    ADMIN = "admin"
    """Tokens, webhook subscriptions, configuration."""


class Grant(StrEnum):
    """Rights a token carries beyond its role."""

    PERSONAL_DATA = "personal_data"
    """Sees personal data unmasked where the role alone would see it masked (analyst, service)."""
