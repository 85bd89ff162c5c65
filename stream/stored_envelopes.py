"""CloudEvent envelopes made straight from stored rows, for an export of the whole log.

``to_cloud_event`` takes a domain event, and making them was most of an export's time: the
library's JSON decoding with its object hook, an event object per row, ``to_jsonable_python``.
Nearly every stored state needs none of it. One stored at its class's current version, with every
instant in UTC, no control characters and nothing else the library transcodes *is* its envelope
once each stored instant is replaced by its envelope text (``...Z``, as pydantic writes it), the
envelope fields are taken out and the personal fields opened (and masked); that is done here, on
the bytes with one regular expression and then with orjson. Every other row (an older version to
upcast, an offset to normalise, a control character to remove, a value that does not decode) is
decoded as the feed decodes it (``stream.feed.decoded_envelope``), so an export is the same
either way (tests/stream/test_stored_envelopes.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha1
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from aggregates.event_ids import EVENT_ID_NAMESPACE
from aggregates.personal_data import PERSONAL_FIELDS
from commands.personal_data_mapper import PersonalDataMapper
from projections.database import StoredRow
from queries.disclosure import ALL_FIELDS, Paths, disclose, event_paths
from stream.envelope import DATA_CONTENT_TYPE, PUBLIC_TYPES, SPEC_VERSION, has_control_characters
from stream.feed import decoded_envelope

_UTC_INSTANT = re.compile(
    rb'\{"_type_":"datetime_iso","_data_":"'
    rb'(?=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?\+00:00"\})'
)
"""The start of an instant as the library's transcoding stores a UTC datetime; pydantic (the
envelope's ``data``) and ``to_cloud_event`` (its ``time``) write the same text with ``Z`` for the
offset. Replaced by a constant (no template to expand: a third of the time), its end below."""
_UTC_END = b'+00:00"}'
_EXPONENT_SIGNS = (b"e-", b"e+")
_EXPONENT = re.compile(rb"\de[-+]\d")
"""Python writes a float below 1e-4 or from 1e16 with an exponent (``1e-05``), orjson otherwise
(``0.00001``); with none in a stored state, orjson writes its envelope as ``json`` does."""
_STORED_TIMESTAMP = b'"timestamp":{"_type_":"datetime_iso"'
_TRANSCODED = b'"_type_"'
_ESCAPED = b"\\u"
"""Stored JSON escapes control characters (and nothing else, ``ensure_ascii`` being off) as
``\\uXXXX``: such a row goes the slow way, which removes them."""
_DELETE = b"\x7f"
_NOT_DATA = ("originator_topic", "originator_id", "originator_version")
_NAMESPACE = EVENT_ID_NAMESPACE.bytes


@dataclass(frozen=True)
class _Kind:
    """What mapping a stored row of one public event class needs."""

    type: str
    qualname: str
    class_version: int
    paths: Paths
    personal: tuple[tuple[str, ...], ...]


_KINDS: dict[str, _Kind] = {
    get_topic(cls): _Kind(
        type=type_,
        qualname=cls.__qualname__,
        class_version=getattr(cls, "class_version", 1),
        paths=event_paths(cls.__qualname__),
        personal=tuple(tuple(p.split(".")) for p in PERSONAL_FIELDS.get(cls.__qualname__, ())),
    )
    for cls, type_ in PUBLIC_TYPES.items()
}


def stored_envelopes(
    app: Application[UUID],
    rows: Sequence[StoredRow | Notification],
    source: str,
    *,
    personal_data: bool,
) -> list[dict[str, Any]]:
    """The envelopes of the public events among ``rows`` (a page of the log, in order): what
    ``decoded_envelope`` makes of each, undecodable ones left out as it leaves them out."""
    mapper = app.mapper
    if not isinstance(mapper, PersonalDataMapper) or mapper.cipher or mapper.compressor:
        fast = None
    else:
        fast = mapper
        fast.open_keys_of(rows)  # type: ignore[arg-type]
    envelopes = []
    for row in rows:
        kind = _KINDS.get(row.topic)
        if kind is None:
            continue
        envelope = None if fast is None else _mapped(fast, kind, row, source, personal_data)
        if envelope is None:
            envelope = decoded_envelope(app, row, source, personal_data)
        if envelope is not None:
            envelopes.append(envelope)
    return envelopes


def _mapped(
    mapper: PersonalDataMapper,
    kind: _Kind,
    row: StoredRow | Notification,
    source: str,
    personal_data: bool,
) -> dict[str, Any] | None:
    """The envelope of ``row`` mapped from its stored JSON, or None when it must be decoded."""
    state = row.state
    if _ESCAPED in state or _DELETE in state or _STORED_TIMESTAMP not in state:
        return None
    instants = state.count(_UTC_END)
    state, replaced = _UTC_INSTANT.subn(b'"', state)
    if replaced != instants:
        return None
    state = state.replace(_UTC_END, b'Z"')
    if _TRANSCODED in state:
        return None
    try:
        fields = orjson.loads(state)
        if fields.pop("class_version", 1) != kind.class_version:
            return None
        time = fields.pop("timestamp")
        actor = fields.pop("actor")
        correlation_id = fields.pop("correlation_id")
        causation_id = fields.pop("causation_id")
        for name in _NOT_DATA:
            fields.pop(name, None)
        version = row.originator_version
        subject = str(row.originator_id)
        if kind.personal:
            mapper.open_fields(kind.qualname, subject, version, fields)
            if any(_control_in(fields, parts) for parts in kind.personal):
                return None
    except Exception:  # noqa: BLE001 - the slow way raises or logs it, naming the event
        return None
    if not personal_data and kind.paths:
        fields, _ = disclose(fields, kind.paths, ALL_FIELDS)
    plain = not any(sign in state for sign in _EXPONENT_SIGNS) or not _EXPONENT.search(state)
    envelope: dict[str, Any] = (PlainEnvelope if plain else dict)({
        "specversion": SPEC_VERSION,
        "id": _event_id(subject, version),
        "source": source,
        "type": kind.type,
        "subject": subject,
        "time": time,
        "datacontenttype": DATA_CONTENT_TYPE,
        "position": row.id,
        "aggregateversion": version,
        "actor": actor,
        "correlationid": correlation_id,
    })
    if causation_id is not None:
        envelope["causationid"] = causation_id
    envelope["data"] = fields
    return envelope


class PlainEnvelope(dict[str, Any]):
    """An envelope holding only what orjson writes exactly as ``json`` does (no float that
    Python writes with an exponent): the export writes it with orjson, four times faster."""


def _control_in(fields: dict[str, Any], parts: tuple[str, ...]) -> bool:
    """Whether the opened personal field at ``parts`` holds a control character (the slow way
    removes it; the rest of the state was checked on its bytes)."""
    value: Any = fields
    for part in parts:
        if not isinstance(value, dict):
            return False
        value = value.get(part)
    return isinstance(value, str) and has_control_characters(value)


def _event_id(subject: str, version: int) -> str:
    """``str(event_id(originator_id, version))`` without making UUID objects."""
    digest = bytearray(sha1(_NAMESPACE + f"{subject}/{version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
