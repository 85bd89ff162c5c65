"""The intake record of one imported row: ``FileComplaint``'s rules, and what an import adds.

An import keeps what the source published: its customer may have no contact (the CFPB publishes
none), its description may be longer than a form's (published narratives run past 20,000
characters), and it carries the source's id, the closure and the fields kept as they were.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from aggregates.complaint import IMPORT_KEPT_FIELDS
from aggregates.vocabulary import ResolutionCode
from commands.input_types import MULTI_LINE, PlausibleInstant
from commands.models import Customer, FileComplaint, OptionalShort, ShortText

MAX_IMPORTED_DESCRIPTION = 100_000
ImportedText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_IMPORTED_DESCRIPTION
    ),
    MULTI_LINE,
]


IMPORT_ONLY = (
    "external_id", "closed_at", "resolution", "summary", "company", "sub_product", "issue",
    "sub_issue", "state", "zip_code", "company_response", "timely_response", "consumer_disputed",
)


class ImportedCustomer(Customer):
    """A customer as the source published them: no contact needed (reachability is a rule of
    intake, for complaints we must answer; an import records history)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)

    @model_validator(mode="after")
    def _reachable(self) -> ImportedCustomer:
        return self


class ImportComplaint(FileComplaint):
    """One row of an import, mapped (``commands/import_mapping.py``) and validated."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)

    customer: ImportedCustomer  # type: ignore[assignment]
    description: ImportedText  # type: ignore[assignment]
    external_id: ShortText
    closed_at: PlausibleInstant | None = None
    resolution: ResolutionCode | None = Field(
        default=None, description="How it was closed; null: it is still open"
    )
    summary: OptionalShort = None
    company: OptionalShort = None
    sub_product: OptionalShort = None
    issue: OptionalShort = None
    sub_issue: OptionalShort = None
    state: OptionalShort = None
    zip_code: OptionalShort = None
    company_response: OptionalShort = None
    timely_response: bool | None = None
    consumer_disputed: bool | None = None

    def filing(self) -> dict[str, Any]:
        """``Complaint.file``'s keyword arguments, without what only the import records."""
        filing = super().filing()
        for name in IMPORT_ONLY:
            filing.pop(name, None)
        return filing

    def kept(self) -> dict[str, Any]:
        """The source's fields ``Complaint.Imported`` keeps."""
        return {name: getattr(self, name) for name in IMPORT_KEPT_FIELDS}


def import_record(mapped: dict[str, Any]) -> dict[str, Any]:
    """The model's input from a mapped row (``BoundMapping.apply``): flat targets nested the way
    ``FileComplaint`` takes them."""
    record = {k: v for k, v in mapped.items() if v is not None}
    customer = {
        part: record.pop(f"customer_{part}")
        for part in ("id", "name", "phone", "email")
        if f"customer_{part}" in record
    }
    record["customer"] = customer
    if "product" in record:
        record["product"] = {"name": record["product"]}
    return record


TARGET_OF_FIELD = {
    "customer.id": "customer_id", "customer.name": "customer_name",
    "customer.phone": "customer_phone", "customer.email": "customer_email",
    "product.name": "product",
}
"""A model field's dotted location -> the mapping target it came from (for error columns)."""
