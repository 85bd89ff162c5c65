"""Field-level encryption of personal data in stored events, with one data key per customer.

The library's ``Mapper`` can encrypt a whole event with one application key; crypto-shredding needs
a key per customer and the rest of the event in the clear (routing, analytics, the hash chain and
projections read it), so this mapper seals only the fields ``PERSONAL_FIELDS`` names. A sealed
value reads ``pd:v1:<data key id>:<base64 nonce | ciphertext | tag>`` (AES-GCM). Its associated
data is the complaint id, the event's version and the field's path: a sealed value copied into
another event, or into another field, fails to open instead of showing there.

Reading: a value whose data key was destroyed (the customer erased) reads ``ERASED``; a plaintext
value (stored before encryption, or with encryption off) passes through, unless that complaint
was erased, when it reads ``ERASED`` too. Keys come from a ``DataKeys`` store (infra/data_keys.py),
attached after the application is built (``protect_with``): the store lives in the event store's
database, which exists only once the application does. Without a store the mapper is the library's.

Thread-safe: the mapper keeps no state of its own besides the store, which is made for it (the
group-commit writer thread and request threads call it at once).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from aggregates.personal_data import ERASED, PERSONAL_FIELDS

SEALED_PREFIX = "pd:v1:"
_SEALED_KEY_IDS = re.compile(rb'"pd:v1:([0-9A-Za-z_-]+):')
"""The data key ids of the sealed values in a stored (JSON) state."""
NONCE_BYTES = 12


class DataKey(NamedTuple):
    """An unwrapped data key, ready to seal and open values."""

    key_id: str
    cipher: AESGCM


class DataKeyUnavailableError(RuntimeError):
    """Raised when a data key exists but cannot be unwrapped (its master key is not configured),
    or when personal data are to be sealed for a complaint the key store does not know."""


class DataKeys(Protocol):
    """Where data keys are kept, apart from the events (``infra/data_keys.py``)."""

    def key_for_filing(self, complaint_id: UUID, customer_id: str) -> DataKey:
        """The customer's current data key (made if they have none alive), recorded as the key
        of ``complaint_id``."""
        ...

    def key_for_complaint(self, complaint_id: UUID) -> DataKey:
        """The data key new personal data of ``complaint_id`` are sealed with: its customer's
        current one."""
        ...

    def open_key(self, key_id: str) -> DataKey | None:
        """The data key ``key_id``; None when it was destroyed (its customer erased)."""
        ...

    def is_erased(self, complaint_id: UUID) -> bool:
        """Whether ``complaint_id``'s customer was erased (for plaintext values)."""
        ...

    def open_keys(self, key_ids: Collection[str]) -> dict[str, DataKey | None]:
        """Reads the keys ``key_ids`` at once (those not cached), caches them for ``open_key``
        and returns them (None: destroyed); an id with no key is left out."""
        ...

    def make_keys(self, customer_ids: Iterable[str]) -> None:
        """Makes a data key for each customer without a live one, in one transaction (bulk
        loads: imports)."""
        ...


def associated_data(complaint_id: UUID | str, version: int, path: str) -> bytes:
    return f"{complaint_id}:{version}:{path}".encode()


def seal(key: DataKey, plaintext: str, associated: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + key.cipher.encrypt(nonce, plaintext.encode(), associated)
    return f"{SEALED_PREFIX}{key.key_id}:{base64.b64encode(sealed).decode()}"


def _sealed(key: DataKey, associated: bytes, value: Any) -> Any:
    return seal(key, value, associated) if isinstance(value, str) else value


def sealing_key_id(value: str) -> str:
    return value[len(SEALED_PREFIX) :].partition(":")[0]


def open_sealed(key: DataKey, value: str, associated: bytes) -> str:
    payload = base64.b64decode(value[len(SEALED_PREFIX) :].partition(":")[2], validate=True)
    return key.cipher.decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], associated).decode()


def _replaced(state: dict[str, Any], parts: list[str], change: Callable[[Any], Any]) -> None:
    """Replaces the value at ``parts`` in ``state`` by ``change(value)``, copying the nested
    objects on the way (they may be shared with the domain event, which must not change)."""
    if len(parts) == 1:
        if parts[0] in state:
            state[parts[0]] = change(state[parts[0]])
        return
    inner = state.get(parts[0])
    if isinstance(inner, dict):
        inner = dict(inner)
        state[parts[0]] = inner
        _replaced(inner, parts[1:], change)


OpenedKeys = Mapping[str, DataKey | None]
"""Data keys opened for a page of events (``open_keys_of``), by id; None: destroyed."""
NO_KEYS: OpenedKeys = {}

_SPLIT_PATHS = {name: [p.split(".") for p in paths] for name, paths in PERSONAL_FIELDS.items()}


class PersonalDataMapper(Mapper[UUID]):
    keys: DataKeys | None = None
    encrypt: bool = True

    def protect_with(self, keys: DataKeys, *, encrypt: bool = True) -> None:
        """Seal personal fields with ``keys`` (when ``encrypt``; opening works either way)."""
        self.keys = keys
        self.encrypt = encrypt

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        paths = _SPLIT_PATHS.get(type(domain_event).__qualname__)
        keys = self.keys
        if paths is None or keys is None or not self.encrypt:
            return super().to_stored_event(domain_event)
        # As the library's ``to_stored_event``, with the personal fields sealed on the way.
        state = dict(vars(domain_event))
        complaint_id: UUID = state.pop("originator_id")
        version: int = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        if type(domain_event) is Complaint.Filed:
            key = keys.key_for_filing(complaint_id, str(state["customer"]["id"]))
        else:
            key = keys.key_for_complaint(complaint_id)
        for parts in paths:
            associated = associated_data(complaint_id, version, ".".join(parts))
            _replaced(state, parts, partial(_sealed, key, associated))
        stored_state = self.transcoder.encode(state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=complaint_id,
            originator_version=version,
            topic=get_topic(type(domain_event)),
            state=stored_state,
        )

    def open_keys_of(self, stored_events: Sequence[StoredEvent]) -> OpenedKeys:
        """Opens the data keys the events' sealed fields name in one read, before they are
        decoded one by one (a page of the feed or of an export): otherwise each event whose key
        is not cached reads its key alone, which was most of an export's time on PostgreSQL.
        Found in the stored JSON by their prefix; nothing to do for a compressed or encrypted
        state (none is configured here).

        Returns the keys, for ``to_domain_event(..., opened=)``: a page that takes longer to
        decode than the cache keeps keys (a rebuild's 50,000 positions on a busy machine) then
        still reads none alone."""
        keys = self.keys
        if keys is None or self.compressor is not None or self.cipher is not None:
            return NO_KEYS
        found = {key for e in stored_events for key in _SEALED_KEY_IDS.findall(e.state)}
        if not found:
            return NO_KEYS
        return keys.open_keys({key.decode() for key in found})

    def to_domain_event(
        self, stored_event: StoredEvent, opened: OpenedKeys = NO_KEYS
    ) -> DomainEventProtocol[UUID]:
        """The library's, with the personal fields opened: with the keys in ``opened`` (those
        ``open_keys_of`` returned for the event's page), else with the key store's."""
        event = super().to_domain_event(stored_event)
        state = vars(event)  # a fresh object the library just made: ours to change
        self.open_fields(
            type(event).__qualname__, state["originator_id"], state["originator_version"], state,
            opened,
        )
        return event

    def open_fields(
        self, qualname: str, complaint_id: UUID | str, version: int, state: dict[str, Any],
        opened: OpenedKeys = NO_KEYS,
    ) -> None:
        """Opens in ``state`` (the decoded state of a ``qualname`` event, changed in place) the
        personal fields it seals, as ``to_domain_event`` does: also for an export that maps
        stored states without making domain events (``stream/stored_envelopes.py``), which
        passes the id as text (made once per event rather than once per field)."""
        for parts in _SPLIT_PATHS.get(qualname, ()):
            _replaced(
                state, parts,
                partial(self._opened, complaint_id, version, ".".join(parts), opened),
            )

    def _opened(
        self, complaint_id: UUID | str, version: int, path: str, opened: OpenedKeys, value: Any
    ) -> Any:
        if not isinstance(value, str):
            return value
        keys = self.keys
        if not value.startswith(SEALED_PREFIX):
            # Plaintext, from before encryption or with it off.
            if keys is None:
                return value
            erased = keys.is_erased(
                complaint_id if isinstance(complaint_id, UUID) else UUID(complaint_id)
            )
            return ERASED if erased else value
        if keys is None:
            raise MapperDeserialisationError(
                f"{path} of complaint {complaint_id} v{version} is sealed, but no data key store"
                " is configured"
            )
        key_id = sealing_key_id(value)
        key = opened[key_id] if key_id in opened else keys.open_key(key_id)
        if key is None:
            return ERASED
        try:
            return open_sealed(key, value, associated_data(complaint_id, version, path))
        except (InvalidTag, binascii.Error, ValueError) as error:
            raise MapperDeserialisationError(
                f"{path} of complaint {complaint_id} v{version} does not open with its data key"
                f" {key.key_id}: sealed for another event or field, or damaged"
                f" ({type(error).__name__})"
            ) from None
