"""The catch-up loop: one loop for live tailing and for rebuilds.

Each round reads the store's head, then one page (a window of positions up to it) of notifications
of the projections' topics, decodes each event once, and applies the batch to every projection in
one transaction together with each projection's new position: the window's end, so lag in events
is exactly ``head - position``. A thread reads and decodes the next page while one is applied.

``rebuild`` is the same loop after a reset, in bulk: large pages, secondary indexes built once at
the end, commits that need not wait for the disk, no cyclic garbage collection.

No stored event can stop the loop. A batch that fails because of its events is applied again with
the culprits isolated (``projections/isolation.py``) and quarantined (``projections/quarantine.py``)
in the same transaction that moves the position past them; ``retry`` applies them later. A batch
that fails for any other reason (connection lost, lock timeout, SQLITE_BUSY) quarantines nothing:
``run_forever`` retries it after a pause that doubles up to ``retry_max_seconds``.

Written by hand rather than with the library's ``ProjectionRunner``: that runner commits one
transaction per event (about 1,600 events/s here, against about 49,000 with batches), has no way to
reset a projection, and cannot tail SQLite (its recorder has no ``subscribe()``).
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from commands.personal_data_mapper import PersonalDataMapper
from projections import quarantine
from projections.coordination import Coordinator
from projections.failures import blames_the_event, error_class
from projections.isolation import Settlement, decode_each, settle
from projections.observer import BatchObserver, Unobserved
from projections.position_signal import signal_for
from projections.projection import Positioned, Projection
from projections.quarantine import Quarantined
from projections.retry import RetryReport, retry_quarantined
from projections.store import PositionMovedError, ReadModelStore, Tx

log = logging.getLogger(__name__)

Progress = Callable[[dict[str, int], int], None]
"""Called after each batch with every projection's position and the head it read up to."""

IDLE_WAIT_SECONDS = 1.0
LOCK_RETRY_SECONDS = 1.0
"""How often a runner asks again for the locks of projections another worker runs. Not on every
wake-up: every insert wakes every runner (PostgreSQL NOTIFY), and a standby (a second
``projections run`` for availability, docs/deployment.md) asked for six locks at every wake-up,
about 60 statements a second under load. A holder that stops is taken over within this much
time, or at once where its release is announced (``Coordinator.release_announced``:
PostgreSQL)."""
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0
READ_AHEAD_PAGES = 1
"""Pages read and decoded ahead, in a thread, while the current one is applied: decoding (Python)
then overlaps the database's work on the previous batch. Bounds memory to a few pages."""


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside the block (then one full collection).

    A rebuild allocates millions of short-lived, acyclic objects (decoded events, rows), and
    every so many allocations the collector traversed all of them that were still alive: a
    third of a rebuild's time, for nothing to collect (peak memory is the same without it).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()


@dataclass(frozen=True)
class Page:
    batch: list[Positioned]
    end: int
    """The position every projection reaches once the page is applied."""
    head: int
    decoded: bool = True
    """False when some of the batch could not be decoded (``Undecodable`` stand-ins)."""


@dataclass(frozen=True)
class Targets:
    """What one ``catch_up`` applies every page to: the projections, the topics each reads, and
    whether each commit waits for the disk (``ReadModelStore.write``)."""

    projections: list[Projection]
    topics: dict[str, frozenset[str]]
    durable: bool

    @classmethod
    def of(cls, projections: Sequence[Projection], durable: bool) -> Targets:
        return cls(list(projections), {p.name: frozenset(p.topics) for p in projections}, durable)


def back_off(failures: int, base: float, ceiling: float) -> float:
    """The pause after ``failures`` consecutive failures: base, 2 x base, 4 x base, ... ceiling."""
    return float(min(ceiling, base * 2 ** min(failures - 1, 32)))


class Runner:
    """Feeds projections from the event store's notification log, one page per transaction.

    Each page's events are decoded once and applied to every projection that reads their topics;
    the view's rows and its tracking position commit together, so a runner stopped at any moment
    resumes exactly where it stopped (exactly-once), and ``rebuild`` refills a view from event
    zero. Events a projection cannot apply are quarantined instead of stopping it; a database
    that is away is retried with back-off. Several runners may share a store: a ``Coordinator``
    lets one of them at a time work on each projection.
    """

    def __init__(
        self,
        app: Application[UUID],
        projections: Sequence[Projection],
        *,
        store: ReadModelStore | None = None,
        page_size: int = 1000,
        bulk_page_size: int | None = None,
        poll_seconds: float = 0.1,
        batch_delay_seconds: float = 0.0,
        batch_interval_seconds: float = 0.0,
        retry_base_seconds: float = RETRY_BASE_SECONDS,
        retry_max_seconds: float = RETRY_MAX_SECONDS,
    ) -> None:
        """Pages of ``page_size`` positions (one transaction each) while tailing, of
        ``bulk_page_size`` (default: the same) while more than a page behind: larger batches
        fold more events of one complaint into one row write and spread each statement's cost
        over more events. The projections' tables must exist: the composition root
        (``infra/bootstrap.py``) creates them."""
        self.app = app
        self.store = store or ReadModelStore(app)
        self.projections = list(projections)
        self.page_size = page_size
        self.bulk_page_size = max(bulk_page_size or page_size, page_size)
        self.poll_seconds = poll_seconds
        self.batch_delay_seconds = batch_delay_seconds
        self.batch_interval_seconds = batch_interval_seconds
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.signal = signal_for(self.store.identity)
        self.holding: dict[str, bool] = {}
        """Per projection: whether it may have quarantined events, so that a batch must look up
        which aggregates to park (unknown: look). Only the runner holding a projection adds
        rows (a retry only removes them), so a False stays true until this runner adds one."""
        self.observer: BatchObserver = Unobserved()
        """Told each committed batch's size (the metrics, plugged in by the composition root)."""
        self.known: dict[str, int] = {}
        """Per projection: the position this runner last committed or read. Tailing reads no
        positions per wake-up: each batch's claim checks them anyway (a reset or another
        worker's batch meanwhile fails it, and they are read again)."""

    def catch_up(
        self,
        projections: Sequence[Projection] | None = None,
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        durable: bool = True,
    ) -> int:
        """Applies every event up to the head, following the head while it moves; returns how
        many events were read. ``durable=False``: see ``ReadModelStore.write``."""
        projections = list(self.projections if projections is None else projections)
        if not projections:
            return 0
        stop = stop or threading.Event()
        topics = sorted({t for p in projections for t in p.topics})
        targets = Targets.of(projections, durable)
        read = 0
        while not stop.is_set():
            positions = self._positions([p.name for p in projections])
            start, head = min(positions.values()), self.store.head()
            if head <= start:
                # Nothing to do as far as this runner knows: ask the store, in case a reset
                # (a rebuild by another process) moved a position back while no event came.
                stored = self.store.positions(list(positions))
                if stored == positions:
                    break
                self.known.update(stored)
                continue
            pages = self._pages(start, topics, stop, head=head)
            # Tailing (a page at most behind), the page is read here: a read-ahead thread would
            # only add its start and hand-offs to every wake-up.
            reading = nullcontext(pages) if head - start <= self.page_size else (
                self._read_ahead(pages)
            )
            with reading as pages:
                try:
                    for page in pages:
                        if stop.is_set():
                            break
                        self._apply(targets, positions, page)
                        positions = {n: max(pos, page.end) for n, pos in positions.items()}
                        read += len(page.batch)
                        if progress:
                            progress(dict(positions), page.head)
                except PositionMovedError as moved:
                    log.info("projection position moved (%s); reloading", moved)
                    self.holding.clear()  # a reset (rebuild elsewhere) empties the quarantine
                    self.known.clear()
                    continue
            break
        return read

    def _positions(self, names: Sequence[str]) -> dict[str, int]:
        """The positions to resume from: those this runner knows, the others read (one query)."""
        missing = [n for n in names if n not in self.known]
        if missing:
            self.known.update(self.store.positions(missing))
        return {n: self.known[n] for n in names}

    def rebuild(
        self,
        projections: Sequence[Projection] | None = None,
        *,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Drops and refills the projections from event zero, up to the live head; returns how
        many events were read. The caller must be their only runner (hold their locks).

        Tables are refilled without their secondary indexes and without waiting for each commit
        to reach the disk; the indexes are then built (one durable transaction), and the runner
        catches up with what arrived meanwhile. Should it die before the end, the tables are
        consistent with their positions: a new rebuild starts over, and a runner just resumes
        (it creates missing indexes when it starts).
        """
        projections = list(self.projections if projections is None else projections)
        for p in projections:
            self.store.reset(p.name, p.tables, secondary=False)
            self.known.pop(p.name, None)
        with paused_gc():
            read = self.catch_up(projections, stop=stop, progress=progress, durable=False)
        self.store.create_indexes([t for p in projections for t in p.tables])
        return read + self.catch_up(projections, stop=stop, progress=progress)

    def _pages(
        self, start: int, topics: Sequence[str], stop: threading.Event, *, head: int | None = None
    ) -> Iterator[Page]:
        """Pages from ``start`` up to the head, read again after each page (``head``: the first
        time's, already read)."""
        mapper = self.app.mapper
        while not stop.is_set():
            if head is None:
                head = self.store.head()
            if start >= head:
                return
            size = self.bulk_page_size if head - start > self.page_size else self.page_size
            # A page is a window of positions; events of other topics in it are skipped, and
            # every projection's position advances to its end (lag in events is then exactly
            # ``head - position``).
            end = min(head, start + size)
            page = self.store.notifications(start + 1, end, topics)
            decode: Callable[[Any], Any] = mapper.to_domain_event
            if isinstance(mapper, PersonalDataMapper):
                # The page's data keys in one read, not one read per event whose key is not
                # cached (a rebuild reads every customer's key), and decoded with those keys:
                # a bulk page can take longer to decode than the cache keeps them.
                opened = mapper.open_keys_of(page)  # type: ignore[arg-type]
                decode = partial(mapper.to_domain_event, opened=opened)
            try:
                batch = [Positioned(n.id, n.topic, decode(n)) for n in page]
            except Exception:  # one at a time, to quarantine only what cannot be decoded
                batch = decode_each(mapper, page)
                yield Page(batch, end, head, decoded=False)
            else:
                yield Page(batch, end, head)
            start, head = end, None

    @contextmanager
    def _read_ahead(self, pages: Iterator[Page]) -> Iterator[Iterator[Page]]:
        """Runs ``pages`` in a thread, READ_AHEAD_PAGES ahead of the consumer; errors are raised
        in the consumer. Leaving the block stops the thread (and drops what it read ahead)."""
        handoff: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=READ_AHEAD_PAGES)
        cancelled = threading.Event()

        def put(item: tuple[str, object]) -> bool:
            while not cancelled.is_set():
                try:
                    handoff.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for page in pages:
                    if not put(("page", page)):
                        return
                put(("end", None))
            except Exception as e:  # handed over to the consumer, which raises it
                put(("error", e))

        def consume() -> Iterator[Page]:
            while True:
                kind, item = handoff.get()
                if kind == "end":
                    return
                if kind == "error":
                    assert isinstance(item, Exception)
                    raise item
                assert isinstance(item, Page)
                yield item

        thread = threading.Thread(target=produce, name="projections-reader", daemon=True)
        thread.start()
        try:
            yield consume()
        finally:
            cancelled.set()
            thread.join()

    def _apply(self, targets: Targets, positions: dict[str, int], page: Page) -> None:
        """One transaction: each projection claims its position, applies its part of the page
        and moves to the page's end. If that fails because of events, once more with the
        culprits isolated and quarantined (see the module's docstring)."""
        if page.decoded:
            try:
                # Pipelined, an error surfaces at a later statement, but it is the same error:
                # whether it blames the events is judged alike, and isolating them is not
                # pipelined.
                pipelined = self._pipelines(targets, positions, page)
                self._write(targets, positions, page, isolate=False, pipelined=pipelined)
                return
            except PositionMovedError:
                raise
            except Exception as error:
                if not blames_the_event(error, self.store.database.blames_the_data):
                    raise
                log.warning(
                    "the batch up to position %s failed (%s: %s); isolating the events at fault",
                    page.end, error_class(error), quarantine.message(error),
                )
        self._write(targets, positions, page, isolate=True)

    def _pipelines(self, targets: Targets, positions: dict[str, int], page: Page) -> bool:
        """Whether the batch may be written pipelined (``Database.transaction``): while tailing
        (durable commits, a page of ``page_size`` at most), and only when no view it moves may
        park events (parking runs each event in a savepoint, which must fail where it fails)."""
        return (
            targets.durable
            and len(page.batch) <= self.page_size
            and all(
                self.holding.get(p.name) is False
                for p in targets.projections if positions[p.name] < page.end
            )
        )

    def _write(
        self, targets: Targets, positions: dict[str, int], page: Page, *, isolate: bool,
        pipelined: bool = False,
    ) -> None:
        first = page.batch[0].position if page.batch else page.end
        moving = [p for p in targets.projections if positions[p.name] < page.end]
        moved: dict[str, int] = {}
        sizes: dict[str, int] = {}
        with self.store.write(durable=targets.durable, pipelined=pipelined) as tx:
            # Every view's position claimed in one statement and advanced in one: a tail batch
            # carries few events, so per-statement round trips are most of its cost.
            self.store.claim_all(tx, {p.name: positions[p.name] for p in moving})
            for p in moving:
                mine = positions[p.name]
                topics = targets.topics[p.name]
                if mine < first:
                    events = [b for b in page.batch if b.topic in topics]
                else:
                    events = [b for b in page.batch if b.position > mine and b.topic in topics]
                held = self._held(tx, p.name)
                if isolate or held:
                    self._quarantine(tx, p.name, settle(tx, p, events, held))
                else:
                    p.apply(tx, events)
                moved[p.name] = page.end
                sizes[p.name] = len(events)
            self.store.advance_all(tx, list(moved), page.end)
            self.store.announce(tx, moved)
        self.known.update(moved)
        self.signal.publish(moved)
        for name, size in sizes.items():
            self.observer.batch_applied(name, size)

    def _held(self, tx: Tx, name: str) -> dict[UUID, int]:
        """The aggregates whose events this batch must park (see ``holding``)."""
        if self.holding.get(name) is False:
            return {}
        held = quarantine.held_aggregates(tx, name)
        self.holding[name] = bool(held)
        return held

    def _quarantine(self, tx: Tx, name: str, settlement: Settlement) -> None:
        now = datetime.now(UTC)
        entries = [Quarantined.failure(name, p, error, now) for p, error in settlement.failed]
        entries += [Quarantined.parking(name, p, behind, now) for p, behind in settlement.parked]
        if not entries:
            return
        quarantine.record(tx, entries)
        self.holding[name] = True
        for p, error in settlement.failed:
            log.error(
                "%s: quarantined the event at position %s (%s %s v%s): %s: %s",
                name, p.position, p.topic, p.event.originator_id,
                p.event.originator_version, error_class(error), quarantine.message(error),
            )
        if settlement.parked:
            log.warning("%s: parked %s later events of the same complaints behind them",
                        name, len(settlement.parked))

    def retry(self, projection: Projection) -> RetryReport:
        """Applies the projection's quarantined events again (see ``projections/retry.py``)."""
        return retry_quarantined(self.store, projection, page_size=self.page_size)

    def coordinator(self) -> Coordinator:
        return self.store.database.coordinator(self.poll_seconds)

    def run_forever(self, stop: threading.Event) -> None:
        """Tails the store until ``stop`` is set, running the projections whose lock it holds
        and retrying the others' locks (taking over from a worker that died).

        A failure that is not an event's fault (those are quarantined, see ``catch_up``) is
        retried after a pause that doubles with each consecutive failure, up to
        ``retry_max_seconds``: never a tight loop on the same batch."""
        failures = 0
        held: list[str] | None = None
        ask_again_at = 0.0  # when to ask for the locks not held (see LOCK_RETRY_SECONDS)
        while not stop.is_set():
            try:
                with self.coordinator() as coordinator:
                    while not stop.is_set():
                        asking = (
                            time.monotonic() >= ask_again_at or coordinator.release_announced()
                        )
                        if asking:
                            ask_again_at = time.monotonic() + LOCK_RETRY_SECONDS
                        locked = [
                            p for p in self.projections
                            if (asking or p.name in (held or ())) and coordinator.acquire(p.name)
                        ]
                        if [p.name for p in locked] != held:  # told once per change
                            held = [p.name for p in locked]
                            waiting = [p.name for p in self.projections if p not in locked]
                            log.info("running projections: %s; standing by for: %s",
                                     ", ".join(held) or "none", ", ".join(waiting) or "none")
                        began = time.monotonic()
                        self.catch_up(locked, stop=stop)
                        failures = 0
                        coordinator.wait(IDLE_WAIT_SECONDS, stop)
                        # Under a steady stream of commands every insert wakes us; pausing a
                        # moment lets one batch (one transaction) carry many events instead of one.
                        # While events keep coming, batches start at most every
                        # ``batch_interval_seconds``: a batch's statements cost about as much for
                        # one event as for fifty, so fewer, fuller batches cost less CPU per
                        # event, for at most that much more lag. After a quiet spell, only the
                        # delay.
                        since = time.monotonic() - began
                        stop.wait(max(self.batch_delay_seconds,
                                      self.batch_interval_seconds - since))
            except Exception as error:
                failures += 1
                pause = back_off(failures, self.retry_base_seconds, self.retry_max_seconds)
                log.error(
                    "projection runner failed (%s: %s; %s in a row); retrying in %.1fs",
                    error_class(error), quarantine.message(error), failures, pause,
                    exc_info=failures == 1,
                )
                stop.wait(pause)
                held = None  # the locks went with the session
                ask_again_at = 0.0
                self.known.clear()  # another worker may have run them meanwhile
        log.info("projection runner stopped; its locks are released")


class BackgroundRunner:
    """Runs a ``Runner`` in a daemon thread (``complaints serve`` and tests)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=runner.run_forever, args=(self.stopping,), name="projections", daemon=True
        )

    def start(self) -> BackgroundRunner:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)

    def __enter__(self) -> BackgroundRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
