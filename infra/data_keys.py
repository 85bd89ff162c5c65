"""Customers' data keys, wrapped by the master key, in tables apart from the events.

The key hierarchy (docs/personal-data.md): the master key (``infra/secrets.py``: the service key,
from configuration) wraps one random 256-bit data key per customer; each data key seals that
customer's personal fields in the stored events (``commands/personal_data_mapper.py``). Erasing
a customer destroys their wrapped keys (the row keeps the key id, when it was made and destroyed
and why, never the key): every value sealed with them becomes unreadable for good, in the events,
in backups made afterwards and in every copy of the events, without touching a stored event.

Tables, in the event store's database (created with the others at start):

- ``personal_data_keys``: key id -> customer id, wrapped key (AES-GCM under the master key, its
  associated data the key id and customer id), the wrapping master key's id, created_at, and once
  erased erased_at and the reason (the wrapped key then NULL). At most one key per customer is
  alive (a partial unique index): a customer erased and filing again gets a new one.
- ``personal_data_erased_complaints``: complaints whose customer was erased, for plaintext values
  (stored before encryption, or with it off), which no key destruction can reach.

Which customer a complaint belongs to is read from its ``Filed`` event, where the customer id is in
the clear, and remembered: no row is written per complaint, so filing for a known customer costs
no extra write.

Caching: unwrapped keys and "this complaint was erased" are remembered for
``cache_seconds`` (``COMPLAINTS_DATA_KEY_CACHE_SECONDS``). An erasure made in this process takes
effect at once; one made by another process within that time. Every method is thread-safe (the
group-commit writer and request threads call the mapper at once).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import Application

from commands.erasure import Erasure
from commands.personal_data_mapper import DataKey, DataKeyUnavailableError
from infra.secrets import key_id, load_key, previous_keys
from infra.settings import Settings
from stream.store_tables import StoreTables

DATA_KEY_BYTES = 32
NONCE_BYTES = 12
KEYS = "personal_data_keys"
ERASED_COMPLAINTS = "personal_data_erased_complaints"
MAX_REMEMBERED = 100_000
"""Entries of each in-process cache (complaint -> customer, opened keys) before it is emptied."""


class MasterKeys:
    """The master key that wraps new data keys, and the previous ones still accepted for
    unwrapping while a rotation runs (``COMPLAINTS_PREVIOUS_SECRET_KEYS``)."""

    def __init__(self, current: str, previous: Sequence[str] = ()) -> None:
        self.current_id = key_id(current)
        self._ciphers = {key_id(k): AESGCM(base64.b64decode(k)) for k in (*previous, current)}

    @property
    def ids(self) -> list[str]:
        return list(self._ciphers)

    def wrap(self, data_key: bytes, associated: bytes) -> tuple[str, str]:
        """(master key id, base64 nonce | wrapped key | tag) under the current master key."""
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + self._ciphers[self.current_id].encrypt(nonce, data_key, associated)
        return self.current_id, base64.b64encode(wrapped).decode()

    def unwrap(self, master_key_id: str, wrapped: str, associated: bytes) -> bytes:
        cipher = self._ciphers.get(master_key_id)
        if cipher is None:
            raise DataKeyUnavailableError(
                f"a data key is wrapped by master key {master_key_id}, which is not configured"
                f" (configured: {', '.join(self._ciphers)}); set COMPLAINTS_SECRET_KEY or"
                " COMPLAINTS_PREVIOUS_SECRET_KEYS"
            )
        raw = base64.b64decode(wrapped)
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
        except InvalidTag:
            raise DataKeyUnavailableError(
                f"a data key does not unwrap with master key {master_key_id}: damaged"
            ) from None


def master_keys(settings: Settings) -> MasterKeys:
    """The configured service key and the previous ones (``infra/secrets.py``)."""
    return MasterKeys(load_key(settings), previous_keys(settings))


def _key_associated(data_key_id: str, customer_id: str) -> bytes:
    return f"data-key:{data_key_id}:{customer_id}".encode()


class DataKeyStore:
    """``DataKeys`` (commands/personal_data_mapper.py) on tables of the event store's database."""

    def __init__(
        self,
        app: Application[UUID],
        master: MasterKeys,
        *,
        cache_seconds: float = 5.0,
        remember: int = MAX_REMEMBERED,
    ) -> None:
        self._app = app
        self._remember = remember
        self._tables = StoreTables(app, KEYS, ERASED_COMPLAINTS)
        self.master = master
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._opened: dict[str, tuple[DataKey | None, float]] = {}
        self._current: dict[str, tuple[DataKey, float]] = {}
        self._customer_of: dict[UUID, str] = {}
        self._erased: tuple[frozenset[str], float] = (frozenset(), -1e18)

    # ---- tables -----------------------------------------------------------------------------

    def create_tables(self) -> None:
        statements = [
            "CREATE TABLE IF NOT EXISTS {personal_data_keys} ("
            " key_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, wrapped_key TEXT,"
            " master_key_id TEXT, created_at DOUBLE PRECISION NOT NULL,"
            " erased_at DOUBLE PRECISION, erasure_reason TEXT)",
            "CREATE UNIQUE INDEX IF NOT EXISTS personal_data_keys_alive"
            " ON {personal_data_keys} (customer_id) WHERE erased_at IS NULL",
            "CREATE INDEX IF NOT EXISTS personal_data_keys_by_customer"
            " ON {personal_data_keys} (customer_id, created_at)",
            "CREATE TABLE IF NOT EXISTS {personal_data_erased_complaints} ("
            " complaint_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,"
            " erased_at DOUBLE PRECISION NOT NULL)",
        ]
        with self._tables.cursor(commit=True) as cursor:
            for statement in statements:
                cursor.execute(self._tables.sql(statement))

    def _rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        # Every read here is one statement: outside a transaction on PostgreSQL. A BEGIN and
        # ROLLBACK around it cost two round trips, and the ROLLBACK made psycopg deallocate every
        # statement the pooled connection had prepared (the write path's among them), to be
        # parsed and planned again: a key read follows most filings and, in another serving
        # process, the first comment (docs/performance.md, "PostgreSQL's share", session 24).
        with self._tables.one_read() as cursor:
            cursor.execute(self._tables.sql(statement), params)
            return list(cursor.fetchall())

    # ---- DataKeys ---------------------------------------------------------------------------

    def key_for_filing(self, complaint_id: UUID, customer_id: str) -> DataKey:
        self._remember_customer(complaint_id, customer_id)
        return self._current_key(customer_id)

    def key_for_complaint(self, complaint_id: UUID) -> DataKey:
        customer_id = self._customer_of.get(complaint_id)
        if customer_id is None:
            customer_id = self._customer_from_filing(complaint_id)
            self._remember_customer(complaint_id, customer_id)
        return self._current_key(customer_id)

    def _remember_customer(self, complaint_id: UUID, customer_id: str) -> None:
        if len(self._customer_of) >= self._remember:
            self._customer_of.clear()  # crude bound; a miss costs one read of a Filed event
        self._customer_of[complaint_id] = customer_id

    def open_key(self, data_key_id: str) -> DataKey | None:
        now = time.monotonic()
        cached = self._opened.get(data_key_id)
        if cached is not None and now - cached[1] < self.cache_seconds:
            return cached[0]
        rows = self._rows(
            "SELECT customer_id, wrapped_key, master_key_id FROM {personal_data_keys}"
            " WHERE key_id = %s",
            (data_key_id,),
        )
        if not rows:
            raise DataKeyUnavailableError(f"no data key {data_key_id} in {KEYS}")
        key = self._unwrapped(data_key_id, rows[0])
        if len(self._opened) >= self._remember:
            self._opened.clear()
        self._opened[data_key_id] = (key, now)
        return key

    def open_keys(self, data_key_ids: Collection[str]) -> dict[str, DataKey | None]:
        """Opens the keys of ``data_key_ids`` not in the cache (or older than ``cache_seconds``)
        in one read per 500 and caches them, as ``open_key`` would one at a time: a page of
        events about to be decoded (the feed, an export) then reads no key alone. Returns them
        all, cached or read (None: destroyed). Ids without a row are left out, to ``open_key``
        (which refuses them)."""
        now = time.monotonic()
        opened: dict[str, DataKey | None] = {}
        wanted = []
        for data_key_id in data_key_ids:
            cached = self._opened.get(data_key_id)
            if cached is None or now - cached[1] >= self.cache_seconds:
                wanted.append(data_key_id)
            else:
                opened[data_key_id] = cached[0]
        if len(self._opened) + len(wanted) > self._remember:
            self._opened.clear()
        for start in range(0, len(wanted), 500):
            chunk = tuple(wanted[start : start + 500])
            rows = self._rows(
                "SELECT key_id, customer_id, wrapped_key, master_key_id FROM {personal_data_keys}"
                f" WHERE key_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            for row in rows:
                try:
                    key = self._unwrapped(row["key_id"], row)
                except Exception:  # noqa: BLE001 - left to open_key, which names the event
                    continue
                self._opened[row["key_id"]] = (key, now)
                opened[row["key_id"]] = key
        return opened

    def is_erased(self, complaint_id: UUID) -> bool:
        erased, fetched_at = self._erased
        now = time.monotonic()
        if now - fetched_at >= self.cache_seconds:
            rows = self._rows("SELECT complaint_id FROM {personal_data_erased_complaints}")
            erased = frozenset(row["complaint_id"] for row in rows)
            self._erased = (erased, now)
        return str(complaint_id) in erased

    # ---- erasure and rotation ---------------------------------------------------------------

    def erase(self, customer_id: str, complaint_ids: Iterable[UUID], reason: str) -> Erasure:
        """Destroys the customer's live data keys and marks ``complaint_ids`` erased, in one
        transaction; what it destroyed (nothing, when already erased)."""
        now = time.time()
        complaints = sorted(set(complaint_ids), key=str)
        with self._tables.cursor(commit=True) as cursor:
            cursor.execute(
                self._tables.sql(
                    "SELECT key_id FROM {personal_data_keys}"
                    " WHERE customer_id = %s AND erased_at IS NULL"
                ),
                (customer_id,),
            )
            destroyed = [row["key_id"] for row in cursor.fetchall()]
            cursor.execute(
                self._tables.sql(
                    "UPDATE {personal_data_keys} SET wrapped_key = NULL, master_key_id = NULL,"
                    " erased_at = %s, erasure_reason = %s"
                    " WHERE customer_id = %s AND erased_at IS NULL"
                ),
                (now, reason, customer_id),
            )
            cursor.execute(
                self._tables.sql(
                    "SELECT complaint_id FROM {personal_data_erased_complaints}"
                    " WHERE customer_id = %s"
                ),
                (customer_id,),
            )
            already = {row["complaint_id"] for row in cursor.fetchall()}
            marked = [c for c in complaints if str(c) not in already]
            for complaint_id in marked:
                cursor.execute(
                    self._tables.sql(
                        "INSERT INTO {personal_data_erased_complaints}"
                        " (complaint_id, customer_id, erased_at) VALUES (%s, %s, %s)"
                        " ON CONFLICT (complaint_id) DO NOTHING"
                    ),
                    (str(complaint_id), customer_id, now),
                )
        with self._lock:
            # This process sees the erasure at once; others within ``cache_seconds``.
            for data_key_id in destroyed:
                self._opened[data_key_id] = (None, time.monotonic())
            self._current.pop(customer_id, None)
            self._erased = (self._erased[0] | {str(c) for c in complaints}, self._erased[1])
        return Erasure(destroyed, marked)

    def erased_complaints(self, customer_id: str) -> list[UUID]:
        rows = self._rows(
            "SELECT complaint_id FROM {personal_data_erased_complaints} WHERE customer_id = %s",
            (customer_id,),
        )
        return [UUID(row["complaint_id"]) for row in rows]

    def has_keys(self, customer_id: str) -> bool:
        return bool(
            self._rows(
                "SELECT key_id FROM {personal_data_keys} WHERE customer_id = %s",
                (customer_id,),
            )
        )

    def make_keys(self, customer_ids: Iterable[str]) -> None:
        """Makes a data key for each customer without a live one, in one transaction, and
        remembers them all: for bulk loads (``bench/generated_store.py``), whose own transaction
        holds SQLite's writer, so a first filing cannot write its customer's key then."""
        wanted = set(customer_ids)
        rows = []
        for customer_id in wanted:
            data_key_id = uuid4().hex
            raw = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
            master_id, wrapped = self.master.wrap(raw, _key_associated(data_key_id, customer_id))
            rows.append((data_key_id, customer_id, wrapped, master_id, time.time()))
        with self._tables.cursor(commit=True) as cursor:
            cursor.executemany(
                self._tables.sql(
                    "INSERT INTO {personal_data_keys}"
                    " (key_id, customer_id, wrapped_key, master_key_id, created_at)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                ),
                rows,
            )
        # Only the wanted customers' keys (an import makes keys batch after batch).
        alive = []
        listed = sorted(wanted)
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            alive += self._rows(
                "SELECT key_id, customer_id, wrapped_key, master_key_id FROM {personal_data_keys}"
                f" WHERE erased_at IS NULL AND customer_id IN ({', '.join(['%s'] * len(chunk))})",
                tuple(chunk),
            )
        now = time.monotonic()
        with self._lock:
            for row in alive:
                if row["customer_id"] in wanted:
                    key = self._unwrapped(row["key_id"], row)
                    assert key is not None  # alive
                    self._current[row["customer_id"]] = (key, now)
                    self._opened[key.key_id] = (key, now)

    def rewrap(self) -> int:
        """Re-wraps every live data key not wrapped by the current master key; how many. Each
        key in its own compare-and-set update, so a crash midway leaves every key wrapped by one
        of the configured master keys."""
        rows = self._rows(
            "SELECT key_id, customer_id, wrapped_key, master_key_id FROM {personal_data_keys}"
            " WHERE erased_at IS NULL AND master_key_id <> %s",
            (self.master.current_id,),
        )
        rewrapped = 0
        for row in rows:
            associated = _key_associated(row["key_id"], row["customer_id"])
            raw = self.master.unwrap(row["master_key_id"], row["wrapped_key"], associated)
            master_id, wrapped = self.master.wrap(raw, associated)
            with self._tables.cursor(commit=True) as cursor:
                cursor.execute(
                    self._tables.sql(
                        "UPDATE {personal_data_keys} SET wrapped_key = %s, master_key_id = %s"
                        " WHERE key_id = %s AND wrapped_key = %s AND erased_at IS NULL"
                    ),
                    (wrapped, master_id, row["key_id"], row["wrapped_key"]),
                )
                rewrapped += cursor.rowcount
        return rewrapped

    def wrapping_keys(self) -> dict[str, int]:
        """Live data keys per wrapping master key id."""
        rows = self._rows(
            "SELECT master_key_id, COUNT(*) AS n FROM {personal_data_keys}"
            " WHERE erased_at IS NULL GROUP BY master_key_id"
        )
        return {row["master_key_id"]: int(row["n"]) for row in rows}

    # ---- inside -----------------------------------------------------------------------------

    def _current_key(self, customer_id: str) -> DataKey:
        now = time.monotonic()
        cached = self._current.get(customer_id)
        if cached is not None and now - cached[1] < self.cache_seconds:
            return cached[0]
        with self._lock:  # one key made per customer by this process, not one per thread
            cached = self._current.get(customer_id)
            if cached is not None and now - cached[1] < self.cache_seconds:
                return cached[0]
            key = self._alive_key(customer_id) or self._new_key(customer_id)
            self._current[customer_id] = (key, now)
            self._opened[key.key_id] = (key, now)
            return key

    def _alive_key(self, customer_id: str) -> DataKey | None:
        rows = self._rows(
            "SELECT key_id, customer_id, wrapped_key, master_key_id FROM {personal_data_keys}"
            " WHERE customer_id = %s AND erased_at IS NULL",
            (customer_id,),
        )
        return self._unwrapped(rows[0]["key_id"], rows[0]) if rows else None

    def _new_key(self, customer_id: str) -> DataKey:
        data_key_id = uuid4().hex
        raw = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
        master_id, wrapped = self.master.wrap(raw, _key_associated(data_key_id, customer_id))
        with self._tables.one_write() as cursor:
            # Another process may make the customer's key at the same moment: the partial
            # unique index lets one in, and the other takes that one.
            cursor.execute(
                self._tables.sql(
                    "INSERT INTO {personal_data_keys}"
                    " (key_id, customer_id, wrapped_key, master_key_id, created_at)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING key_id"
                ),
                (data_key_id, customer_id, wrapped, master_id, time.time()),
            )
            made = bool(cursor.fetchall())
        if made:
            # Ours went in: it is the key just drawn, so no read back and no unwrap (a new
            # customer's filing made three round trips in the group-commit writer, now two).
            return DataKey(data_key_id, AESGCM(raw))
        key = self._alive_key(customer_id)
        if key is None:
            raise DataKeyUnavailableError(f"could not make a data key for customer {customer_id}")
        return key

    def _unwrapped(self, data_key_id: str, row: Any) -> DataKey | None:
        if row["wrapped_key"] is None:
            return None  # destroyed: its customer was erased
        raw = self.master.unwrap(
            row["master_key_id"],
            row["wrapped_key"],
            _key_associated(data_key_id, row["customer_id"]),
        )
        return DataKey(data_key_id, AESGCM(raw))

    def _customer_from_filing(self, complaint_id: UUID) -> str:
        """The customer id in the clear in the complaint's ``Filed`` event (its version 1)."""
        stored = self._app.recorder.select_events(complaint_id, lte=1)
        if not stored:
            raise DataKeyUnavailableError(
                f"personal data for complaint {complaint_id}, which has no Filed event"
            )
        decoded: dict[str, Any] = self._app.mapper.transcoder.decode(stored[0].state)
        return str(decoded["customer"]["id"])
