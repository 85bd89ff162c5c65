"""The public event format: every complaint event as a CloudEvents 1.0 envelope (JSON format).

The cursor API, the SSE stream, webhooks and the NATS relay all send exactly what ``to_cloud_event``
returns, so one consumer can switch transports without re-parsing. Public types come from
``queries.history.EVENT_TYPES`` (never from class names): renaming a class cannot change the wire.

Stores written before intake was hardened may hold values intake now refuses: NUL and other control
characters in text, instants whose UTC value lies outside years 1-9999. The envelope carries only
what a consumer can take: control characters other than tab, newline and carriage return are
removed (PostgreSQL jsonb, for one, refuses ``\u0000``), and such instants are clamped to the ends
of that range, so a consumer converting them to UTC does not overflow. The history endpoint still
shows the stored values.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, create_model
from pydantic_core import to_jsonable_python

from aggregates.complaint import Complaint
from aggregates.event_ids import EVENT_ID_NAMESPACE, event_id  # noqa: F401 - re-exported
from aggregates.values import JSONValue, StoredAs
from aggregates.vocabulary import OneOf
from queries.disclosure import ALL_FIELDS, disclose, event_paths
from queries.history import EVENT_TYPES, event_data

SPEC_VERSION = "1.0"
TYPE_PREFIX = "complaint."
DATA_CONTENT_TYPE = "application/json"
MEDIA_TYPE = "application/cloudevents+json"
DEFAULT_SOURCE = "urn:complaint-ledger:complaints"


PUBLIC_TYPES: dict[type[Any], str] = {cls: TYPE_PREFIX + name for cls, name in EVENT_TYPES.items()}
TYPE_CLASSES: dict[str, type[Any]] = {name: cls for cls, name in PUBLIC_TYPES.items()}

SCHEMA_VERSION = 5
"""Version of the public event schema (``GET /events/schema``). Raise it whenever an event's
stored shape changes, and add the schema it then has as ``tests/data/event_schema_v<N>.json``."""

# Fields every complaint event carries in its envelope; everything else is the event's `data`.
_ENVELOPE_FIELDS = frozenset(typing.get_type_hints(Complaint.Event)) | {"originator_topic"}


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def has_control_characters(text: str) -> bool:
    """Whether ``public_value`` would remove characters from ``text``."""
    return _CONTROL.search(text) is not None


def public_value(value: Any) -> Any:
    """``value`` with control characters removed and out-of-range instants clamped, recursively."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        try:
            value.astimezone(UTC)
        except OverflowError:
            # Only an offset can push a representable local time past year 1 or 9999.
            return _EARLIEST if value.year == 1 else _LATEST
        return value
    if isinstance(value, dict):
        return {public_value(k): public_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [public_value(v) for v in value]
    return value


def to_cloud_event(
    event: Any, position: int, source: str = DEFAULT_SOURCE, *, personal_data: bool = False
) -> dict[str, Any]:
    """The JSON-ready CloudEvent for one recorded complaint event at ``position``; its personal
    fields masked unless ``personal_data`` (``aggregates/personal_data.py``, docs/events.md)."""
    type_ = PUBLIC_TYPES[type(event)]
    timestamp: datetime = event.timestamp
    envelope: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": str(event_id(event.originator_id, event.originator_version)),
        "source": source,
        "type": type_,
        "subject": str(event.originator_id),
        "time": timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": DATA_CONTENT_TYPE,
        "position": position,
        "aggregateversion": event.originator_version,
        "actor": public_value(event.actor),
        "correlationid": public_value(event.correlation_id),
    }
    # CloudEvents has no null attribute values: an absent cause is an absent attribute.
    if event.causation_id is not None:
        envelope["causationid"] = public_value(event.causation_id)
    data = to_jsonable_python(public_value(event_data(event)))
    if not personal_data:
        data, _ = disclose(data, event_paths(type(event).__qualname__), ALL_FIELDS)
    envelope["data"] = data
    return envelope


def data_model(cls: type[Any]) -> type[BaseModel]:
    """A pydantic model of one event class's `data`, derived from the class's own annotations:
    the event's contract, not the intake's (whose rules may change without any stored event
    changing)."""
    fields: dict[str, Any] = {}
    for name, hint in typing.get_type_hints(cls, include_extras=True).items():
        if name in _ENVELOPE_FIELDS or typing.get_origin(hint) is typing.ClassVar:
            continue
        fields[name] = (_public_type(hint), ...)
    return create_model(PUBLIC_TYPES[cls].replace(".", "_"), **fields)


def _public_type(hint: Any) -> Any:
    """``hint`` with the domain's markers made visible to pydantic: a value object stored as
    JSON (``StoredAs``) becomes a model of its fields, a vocabulary string (``OneOf``) its enum."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        for marker in hint.__metadata__:
            if isinstance(marker, StoredAs):
                return _value_model(marker.value_type)
            if isinstance(marker, OneOf):
                return marker.vocabulary
        return _public_type(args[0])
    if origin is list:
        return list[_public_type(args[0])]  # type: ignore[misc]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_public_type(a) for a in args)]  # noqa: UP007
    return hint


def _value_model(value_type: type[JSONValue]) -> type[BaseModel]:
    hints = typing.get_type_hints(value_type, include_extras=True)
    fields: dict[str, Any] = {
        f.name: (
            _public_type(hints[f.name]),
            ... if f.default is dataclasses.MISSING else f.default,
        )
        for f in dataclasses.fields(value_type)
    }
    return create_model(value_type.__name__, __doc__=value_type.__doc__, **fields)


def json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of the envelope, with one `data` definition per public type."""
    defs: dict[str, Any] = {}
    variants = []
    for cls, type_ in PUBLIC_TYPES.items():
        schema = TypeAdapter(data_model(cls)).json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        schema["title"] = f"{type_} data"
        defs[type_] = schema
        variants.append(
            {
                "properties": {
                    "type": {"const": type_},
                    "data": {"$ref": f"#/$defs/{type_}"},
                }
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "/events/schema",
        "title": "complaint-ledger public event (CloudEvents 1.0, JSON format)",
        "version": SCHEMA_VERSION,
        "type": "object",
        "required": [
            "specversion", "id", "source", "type", "subject", "time", "datacontenttype",
            "position", "aggregateversion", "actor", "correlationid", "data",
        ],
        "properties": {
            "specversion": {"const": SPEC_VERSION},
            "id": {"type": "string", "format": "uuid",
                   "description": "Stable event id, the same on every transport: "
                   "de-duplicate on it."},
            "source": {"type": "string", "format": "uri-reference"},
            "type": {"enum": list(TYPE_CLASSES)},
            "subject": {"type": "string", "format": "uuid", "description": "The complaint id."},
            "time": {"type": "string", "format": "date-time",
                     "description": "When the event was recorded (UTC)."},
            "datacontenttype": {"const": DATA_CONTENT_TYPE},
            "position": {"type": "integer", "minimum": 1,
                         "description": "Global commit order. Increasing but with gaps: follow "
                         "next_cursor or the SSE id, never position + 1."},
            "aggregateversion": {"type": "integer", "minimum": 1},
            "actor": {"type": "string"},
            "correlationid": {"type": "string"},
            "causationid": {"type": "string"},
            "data": {"type": "object"},
        },
        "oneOf": variants,
        "$defs": defs,
    }
