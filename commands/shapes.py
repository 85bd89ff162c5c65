"""The shapes of a complaint and its parts, shared by the intake and the public representation.

One base per shape (as the FastAPI template's ``UserBase -> UserCreate / UserPublic``): the base
names each field once with the type it has when stored; the intake models in
``commands/models.py`` narrow the fields to what intake accepts (lengths, vocabularies, text
rules), and the public models in ``queries/complaint_state.py`` add what only an answer carries
(ids, authors, times). The public models keep the stored types on purpose: a complaint is shown
as stored, including values that intake refuses today but an older version accepted.

The field names agree with the value objects in ``aggregates/values.py``;
``tests/unit/test_shapes.py`` holds them to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel


class CustomerBase(BaseModel):
    id: str
    name: str
    company: str | None = None
    phone: str | None = None
    email: str | None = None
    tier: str


class ProductBase(BaseModel):
    name: str | None = None
    model: str | None = None
    order_number: str | None = None
    contract_number: str | None = None
    service_item: str | None = None


class AttachmentBase(BaseModel):
    name: str
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None


class CommentBase(BaseModel):
    body: str
    visibility: str


class ComplaintBase(BaseModel):
    """What a complaint is filed with (``received_by`` and ``received_at`` excepted: optional at
    intake, always present once filed)."""

    customer: CustomerBase
    product: ProductBase
    category: str
    subject: str
    description: str
    occurred_at: datetime | None
    location: str | None
    attachments: Sequence[AttachmentBase]
    expected_remedy: str | None
    channel: str
    severity: str
    region: str | None
