"""Value objects of a complaint: who complains, about what, with which files, and what was said.

They are immutable and compared by value. ``Customer``, ``Product`` and ``Attachment`` travel in
``Complaint.Filed``, where they are stored as plain JSON objects, exactly as events recorded before
these classes existed hold them: ``to_json`` writes that form and ``from_json`` reads it back, the
one mapping between the two. Keeping the plain form (rather than the library's transcodings, which
wrap a value as ``{"_type_": ..., "_data_": ...}``) means stored events, the history endpoint and
every event consumer see the same JSON as before. Older stored objects may lack optional keys
(importers wrote sparse ones): those read as their defaults.

``Comment`` never travels as such: ``Complaint.Commented`` carries its fields, and the aggregate
keeps the comments it has collected as ``Comment`` values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any, ClassVar, NamedTuple, Self

from aggregates.vocabulary import CustomerTier, OneOf

JSONObject = dict[str, Any]


class JSONValue:
    """A flat frozen dataclass stored as a JSON object of its fields."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @classmethod
    def from_json(cls, data: JSONObject) -> Self:
        """Reads the stored form: missing optional keys take their defaults; unknown keys (none
        were ever written) are ignored rather than breaking the replay of a stored event."""
        try:
            return cls(**data)
        except TypeError:  # an unknown key (or a missing required one, raised again below)
            known = {f.name for f in fields(cls)}
            return cls(**{name: value for name, value in data.items() if name in known})

    def to_json(self) -> JSONObject:
        # Flat (see the class docstring): a dict of the fields, without ``asdict``'s recursive
        # deep copy, which cost as much as the rest of an import's filing.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Customer(JSONValue):
    """The person or company complaining, and how to reach them (a phone or an email)."""

    id: str
    name: str
    company: str | None = None
    phone: str | None = None
    email: str | None = None
    tier: Annotated[str, OneOf(CustomerTier)] = CustomerTier.STANDARD.value


@dataclass(frozen=True)
class Product(JSONValue):
    """What the complaint is about: any of a product, an order, a contract or a service."""

    name: str | None = None
    model: str | None = None
    order_number: str | None = None
    contract_number: str | None = None
    service_item: str | None = None


@dataclass(frozen=True)
class Attachment(JSONValue):
    """A file the customer sent, described (the file itself is kept elsewhere)."""

    name: str
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None


class Comment(NamedTuple):
    """One comment on a complaint, as ``Complaint.Commented`` recorded it.

    A named tuple rather than a frozen dataclass, equally immutable and compared by value: a
    complaint is replayed one comment at a time, and a named tuple is made in under half the time
    (loading a complaint with 100 comments was 7% slower with a dataclass).
    """

    id: str
    body: str
    visibility: str
    author: str
    created_at: datetime


@dataclass(frozen=True)
class StoredAs:
    """Marks an event field that holds a value object in its stored JSON form.

    The event keeps the JSON object (so stored events decode as they always did); this names the
    value object whose ``to_json`` wrote it, for ``apply`` to read and for the public event
    schema to describe.
    """

    value_type: type[JSONValue]


CustomerJSON = Annotated[JSONObject, StoredAs(Customer)]
ProductJSON = Annotated[JSONObject, StoredAs(Product)]
AttachmentJSON = Annotated[JSONObject, StoredAs(Attachment)]
