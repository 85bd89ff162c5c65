"""Everything that differs between SQLite and PostgreSQL, behind one interface: ``Database``.

The library's own pattern (its ``examples/searchabletimestamps``: an abstract recorder, a subclass
per database, chosen by ``PERSISTENCE_MODULE``): the application recorder of every application we
build *is* the database. ``infra/persistence.py`` names ``infra/databases/sqlite.py`` or
``infra/databases/postgres.py`` as the persistence module, whose factory makes the recorder one of
two subclasses of this class. Those two modules are the only ones that know which database they
talk to; the rest asks this interface:

- reads of the notification log the library lacks (an aggregate's positions, its feed page, a
  window of positions for the projection runner);
- transactions over our own tables (read models, webhook and relay state) in the same database
  and schema, and their SQL dialect (``projections/dialect.py``);
- projection tracking, locks between workers, news of new events and of committed positions
  (LISTEN/NOTIFY, or polling where there is none);
- which errors the environment causes rather than the data, and repairs of stored values.

It lives here, beside its first consumer, so that ``projections/`` and ``queries/`` never import
``infra/``: they are handed an application (or a store) and ask it for its database.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent, Tracking

from aggregates.audit_chain import ChainHead
from projections.coordination import Coordinator
from projections.dialect import Dialect
from projections.schema import Table


class StoredRow(NamedTuple):
    """A notification read by ``Database.notifications_between`` without the library's
    ``Notification`` dataclass (cheaper to make): the attributes its mapper's ``to_domain_event``
    reads."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


class ChainRow(NamedTuple):
    """A stored event with its position and its hash-chain columns (docs/audit.md); the hashes
    are None on a row no recorder chained (written around the recorder, or never migrated)."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    prev_hash: bytes | None
    hash: bytes | None


class TrackingRecorder(Protocol):
    """What we use of the library's tracking recorder (SQLite's or PostgreSQL's)."""

    def create_table(self) -> None: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def _insert_tracking(self, cursor: Any, tracking: Tracking, /) -> None: ...


class Database(ApplicationRecorder):
    """The event store's recorder, plus what the service needs of its database beyond recording.

    Exactly two implementations: ``SQLiteDatabase`` and ``PostgresDatabase`` (``infra/databases``).
    """

    dialect: Dialect
    """The SQL of our own tables in this database (one ``%s`` placeholder rewriter among them)."""
    tracking: TrackingRecorder
    """The library's tracking recorder for projection positions, on this database."""
    tracking_table: str
    """The qualified name of its table."""

    # ---- the notification log ---------------------------------------------------------------

    @abstractmethod
    def event_positions(self, originator_id: UUID) -> dict[int, int]:
        """Maps each version of the aggregate to the notification id (position) of its event:
        the library's ``select_events`` returns stored events without their notification ids."""

    @abstractmethod
    def events_after(self, originator_id: UUID, version: int) -> Sequence[Notification]:
        """The aggregate's events after ``version``, in order, each with its notification id:
        a cached aggregate's fast-forward and its position in one query (``version`` 0: all)."""

    @abstractmethod
    def first_events(self, originator_ids: Sequence[UUID], up_to: int) -> Sequence[StoredEvent]:
        """The events up to version ``up_to`` of each of these aggregates that exist, in one
        query (the library's ``select_events`` reads one aggregate per round trip): an import
        asks it of a whole batch of rows at once."""

    @abstractmethod
    def notifications_of(
        self, originator_id: UUID, *, after: int, stop: int, limit: int, topics: Sequence[str]
    ) -> Sequence[Notification]:
        """Up to ``limit`` notifications of one aggregate with ``after < id <= stop`` and one of
        ``topics``, in order (the library's ``select_notifications`` cannot filter by
        originator)."""

    @abstractmethod
    def notifications_between(
        self, first: int, last: int, topics: Sequence[str]
    ) -> Sequence[Notification | StoredRow]:
        """The notifications of ``topics`` with ``first <= id <= last``, in order.

        A window of positions rather than "the next N of these topics": asking for the next N
        with a topic filter let PostgreSQL choose to fetch and sort the whole rest of the log on
        every page when its statistics are off, which made a rebuild quadratic."""

    @abstractmethod
    def append_in_bulk(self, events: Iterable[StoredEvent]) -> int:
        """Appends ``events`` (the mapper's stored events) in one transaction, in their order:
        the rows ``insert_events`` would write, numbered by the store as it numbers them, but
        written in bulk (COPY, one multi-row statement) and consumed as a stream, so that a
        store of millions of events loads in minutes and in constant memory. Returns how many.
        For loading stores (``bench/rebuild.py``): unlike ``insert_events`` it returns no
        notification ids and writes nothing but the events."""

    # ---- the hash chain (docs/audit.md) -----------------------------------------------------
    #
    # Every insert path (``insert_events`` with or without tracking, ``append_in_bulk``) stores
    # each event's ``prev_hash`` and ``hash`` (``aggregates/audit_chain.py``) in the same write;
    # stores from before the chain are migrated when their tables are created.

    positions_are_dense: bool
    """Whether every position from 1 to the last is taken unless an event was deleted (SQLite's
    rowids), or a rolled-back insert may leave a gap (PostgreSQL's sequence)."""

    @abstractmethod
    def chain_rows(self, after: int, limit: int) -> Sequence[ChainRow]:
        """Up to ``limit`` stored events with positions above ``after``, in position order."""

    @abstractmethod
    def chain_of(self, originator_id: UUID) -> Sequence[ChainRow]:
        """One aggregate's stored events, in version order."""

    @abstractmethod
    def chain_heads(self, up_to: int | None = None) -> tuple[int, list[ChainHead]]:
        """Every aggregate's last event at positions up to ``up_to`` (the last position when
        None), read in one snapshot; with the position they cover (0 for an empty store)."""

    # ---- our own tables ---------------------------------------------------------------------

    @abstractmethod
    def transaction(
        self, *, commit: bool, durable: bool = True, pipelined: bool = False
    ) -> AbstractContextManager[Any]:
        """A DB-API cursor in a transaction on our own tables, committed on exit when ``commit``
        (rolled back on error). A committing transaction can always write what it has read: it
        holds the write lock from its start where the database has one (SQLite).
        ``durable=False`` lets the commit return before it reaches the disk where the database
        allows it (PostgreSQL): a crash may then lose the last few such commits, each whole.
        ``pipelined=True`` lets a networked database send statements without waiting for each
        one's result (PostgreSQL's pipeline mode: one round trip per read rather than per
        statement); an error then surfaces at a later statement or at the commit, so a caller
        that must know which statement failed (savepoints) does not ask for it."""

    def one_read(self) -> AbstractContextManager[Any]:
        """A DB-API cursor for a single read statement on our own tables. A transaction gives
        one statement nothing (it sees one snapshot alone), so where a transaction costs round
        trips (PostgreSQL: BEGIN and ROLLBACK) the statement runs outside one; here, and on
        SQLite, it is a read-only transaction."""
        return self.transaction(commit=False)

    def one_write(self) -> AbstractContextManager[Any]:
        """A DB-API cursor for a single write statement on our own tables, durable once the
        block ends. Where one statement is atomic and committed by itself (PostgreSQL's
        autocommit) it runs outside a transaction, sparing BEGIN and COMMIT (two round trips
        of a small write's three); here, and on SQLite, it is a committing transaction. A
        batched write through it (``Tx.insert``, ``Tx.upsert``) is one statement however many
        rows it carries."""
        return self.transaction(commit=True)

    @abstractmethod
    def index_names(self, table: Table) -> set[str]:
        """The names of the table's indexes, primary key included (tests, operations)."""

    @abstractmethod
    def column_names(self, table: Table) -> list[str]:
        """The columns the table has in the database, in order (empty if it does not exist)."""

    def columns_of(self, tables: Sequence[Table]) -> dict[str, list[str]]:
        """``column_names`` of each table, by name; in one query where the database gains by it
        (every process start asks this of every view table: ``ReadModelStore.outdated``)."""
        return {table.name: self.column_names(table) for table in tables}

    @abstractmethod
    def clamp_stored_instants(self, tables: Sequence[Table]) -> None:
        """Brings timestamps the database holds but Python cannot read (before year 1 or after
        9999 in UTC, written before encoders clamped them) into the storable range
        (``projections/storable.py``); run once per process by the composition root."""

    # ---- projection tracking ----------------------------------------------------------------

    def create_tracking_table(self) -> None:
        """Creates the tracking table if missing."""
        self.tracking.create_table()

    def tracking_position(self, key: str) -> int | None:
        """The position recorded under ``key``, or None."""
        return self.tracking.max_tracking_id(key)

    def record_tracking(self, cursor: Any, tracking: Tracking) -> None:
        """Records a position in the transaction of ``cursor``, never moving it backwards (the
        library's tracking upsert, which it keeps private: its public one opens a transaction
        of its own)."""
        self.tracking._insert_tracking(cursor, tracking)  # noqa: SLF001

    # ---- coordination and news --------------------------------------------------------------

    @property
    @abstractmethod
    def identity(self) -> str:
        """Names this database (and schema) within the process: runners and readers of the same
        one share in-process position signals (``projections/position_signal.py``)."""

    @abstractmethod
    def coordinator(self, poll_seconds: float) -> Coordinator:
        """Locks that keep one worker per name (projection, webhook delivery) across processes,
        and a wait for new events; ``poll_seconds`` bounds the wait where nothing announces
        them."""

    @abstractmethod
    def watch_events(self, stop: threading.Event, poll_seconds: float) -> Iterator[None]:
        """Yields whenever new events may have been recorded, until ``stop`` is set; raises when
        the database goes away (the caller tries again)."""

    @abstractmethod
    def announce_positions(self, cursor: Any, positions: Mapping[str, int]) -> None:
        """Tells readers in other processes where the projections will be once the transaction
        of ``cursor`` commits (nothing if it rolls back). A no-op where the database cannot
        announce: readers there poll."""

    @abstractmethod
    def watch_positions(
        self, done: Callable[[], bool], *, poll_seconds: float, recheck_seconds: float
    ) -> Iterator[Mapping[str, int] | None]:
        """Until ``done()``: the positions announced by other processes (a mapping), or None
        when the reader should read the positions itself. None comes first (what committed
        before the watch began), then every ``recheck_seconds`` should an announcement be
        missed, or every ``poll_seconds`` where nothing is announced."""

    # ---- errors -----------------------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def blames_the_data(error: BaseException) -> bool | None:
        """Whether this database's driver error ``error`` can be caused by the values written
        (True) or only by the environment: connection, locks, resources, schema (False).
        None when ``error`` is not this database's driver error."""


class DatabaseMissingError(TypeError):
    """Raised when an application was built without one of our persistence modules."""


def database_of(app: Application[UUID]) -> Database:
    """The database of an application built by ``infra/persistence.py``."""
    recorder = app.recorder
    if not isinstance(recorder, Database):
        raise DatabaseMissingError(
            f"{type(recorder).__name__} is not one of our databases: build the application "
            "with the environment of infra.persistence.database_from_url"
        )
    return recorder
