"""Verifying the hash chain and its checkpoints (docs/audit.md): the whole store, the store
since the latest checkpoint, or one aggregate.

The walk reads the events in position order, a page at a time (memory: one page plus one head
per aggregate), and for each event recomputes its hash over the stored bytes, checks that its
``prev_hash`` is its predecessor's hash and that its version follows its predecessor's. When the
walk passes a checkpoint's position it recomputes the Merkle root of the heads and checks it,
the counts and the signature. Every break is reported with the aggregate, version, position,
what was expected and what was found.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel

from aggregates.audit_chain import GENESIS, ChainHead, event_hash, merkle_root, signature_holds
from commands.audit_checkpoints import Checkpoint, CheckpointService
from projections.database import ChainRow, Database

PAGE = 10_000
MAX_REPORTED = 1000
"""Breaks listed in a report (all are counted)."""
MAX_GAPS = 100


class BreakKind(StrEnum):
    HASH_MISMATCH = "hash_mismatch"
    """The event's bytes do not give its stored hash: its state, topic, id or version changed."""
    LINK_BROKEN = "link_broken"
    """Its ``prev_hash`` is not its predecessor's hash: a predecessor changed or was replaced."""
    VERSION_GAP = "version_gap"
    """Versions are missing before it: events deleted."""
    VERSION_ORDER = "version_order"
    """Its version does not follow its predecessor's in position order: events moved."""
    UNCHAINED = "unchained"
    """It has no hash: written around the recorder."""
    MISSING_POSITIONS = "missing_positions"
    """Positions below the last are missing where the store never skips one (SQLite)."""
    CHECKPOINT_ROOT = "checkpoint_root"
    """The heads at a checkpoint's position do not give its root or counts: an aggregate (or its
    last events) deleted or rewritten."""
    CHECKPOINT_TRUNCATED = "checkpoint_truncated"
    """A checkpoint covers positions the store no longer has: the log was cut short."""
    CHECKPOINT_SIGNATURE = "checkpoint_signature"
    """A checkpoint's signature does not hold under the configured key: forged or altered."""
    CHECKPOINT_KEY = "checkpoint_key"
    """A checkpoint was signed with another key: its signature cannot be checked here."""
    CHECKPOINT_UNREADABLE = "checkpoint_unreadable"
    """The checkpoints' events cannot be read back."""


class ChainBreak(BaseModel):
    kind: BreakKind
    aggregate_id: UUID | None = None
    version: int | None = None
    position: int | None = None
    expected: str | None = None
    found: str | None = None
    detail: str


class VerifyReport(BaseModel):
    ok: bool
    """No break found."""
    scope: str
    """``store``, ``since_checkpoint`` or ``aggregate``."""
    events: int
    """Events whose hashes were recomputed."""
    aggregates: int
    first_position: int | None
    last_position: int | None
    checkpoints_checked: int
    since_position: int | None = None
    """With ``since_checkpoint``: the position of the checkpoint the walk started from."""
    breaks: list[ChainBreak]
    breaks_total: int
    position_gaps: list[tuple[int, int]]
    """Ranges of positions with no event (PostgreSQL: rolled-back inserts leave them, so they are
    information; on SQLite each is also a ``missing_positions`` break)."""
    position_gaps_total: int
    seconds: float


Progress = Callable[[int, int], None]
"""Called after each page with (events done, last position read)."""


class _Walk:
    def __init__(self, database: Database, key: bytes, key_id: str) -> None:
        self.database = database
        self.key = key
        self.key_id = key_id
        self.heads: dict[UUID, tuple[int, bytes]] = {}
        self.breaks: list[ChainBreak] = []
        self.breaks_total = 0
        self.gaps: list[tuple[int, int]] = []
        self.gaps_total = 0
        self.events = 0
        self.first: int | None = None
        self.last: int | None = None
        self.checkpoints_checked = 0

    def add(self, found: ChainBreak) -> None:
        self.breaks_total += 1
        if len(self.breaks) < MAX_REPORTED:
            self.breaks.append(found)

    def event(self, row: ChainRow) -> None:
        self.events += 1
        if self.first is None:
            self.first = row.position
        self.last = row.position
        check_event(row, self.heads.get(row.originator_id), self.add)
        self.heads[row.originator_id] = (row.originator_version, row.hash or GENESIS)

    def gap(self, after: int, before: int) -> None:
        """Positions ``after+1 .. before-1`` have no event."""
        if before <= after + 1:
            return
        self.gaps_total += 1
        if len(self.gaps) < MAX_GAPS:
            self.gaps.append((after + 1, before - 1))
        if self.database.positions_are_dense:
            self.add(
                ChainBreak(
                    kind=BreakKind.MISSING_POSITIONS,
                    position=after + 1,
                    expected=f"positions {after + 1}..{before - 1}",
                    found="none",
                    detail=f"{before - after - 1} events deleted at positions "
                    f"{after + 1}..{before - 1}",
                )
            )

    def signature(self, checkpoint: Checkpoint) -> bool:
        if checkpoint.key_id != self.key_id:
            self.add(
                ChainBreak(
                    kind=BreakKind.CHECKPOINT_KEY,
                    position=checkpoint.position,
                    expected=self.key_id,
                    found=checkpoint.key_id,
                    detail=f"checkpoint {checkpoint.number} was signed with key"
                    f" {checkpoint.key_id}; the configured audit key is {self.key_id}",
                )
            )
            return False
        if not signature_holds(self.key, checkpoint.message, bytes.fromhex(checkpoint.signature)):
            self.add(
                ChainBreak(
                    kind=BreakKind.CHECKPOINT_SIGNATURE,
                    position=checkpoint.position,
                    found=checkpoint.signature,
                    detail=f"checkpoint {checkpoint.number}: the signature does not hold for its"
                    " position, counts and root",
                )
            )
            return False
        return True

    def root(self, checkpoint: Checkpoint) -> None:
        """Checks the heads (as of the checkpoint's position) against the checkpoint."""
        self.checkpoints_checked += 1
        self.signature(checkpoint)
        heads = [ChainHead(k, v, h) for k, (v, h) in self.heads.items()]
        root = merkle_root(heads).hex()
        events = sum(h.version for h in heads)
        if (root, len(heads), events) != (
            checkpoint.root,
            checkpoint.aggregate_count,
            checkpoint.event_count,
        ):
            self.add(
                ChainBreak(
                    kind=BreakKind.CHECKPOINT_ROOT,
                    position=checkpoint.position,
                    expected=f"root {checkpoint.root}, {checkpoint.aggregate_count} aggregates,"
                    f" {checkpoint.event_count} events",
                    found=f"root {root}, {len(heads)} aggregates, {events} events",
                    detail=f"checkpoint {checkpoint.number}: the store up to position"
                    f" {checkpoint.position} is not what was signed"
                    + _difference(checkpoint, len(heads), events),
                )
            )


def _difference(checkpoint: Checkpoint, aggregates: int, events: int) -> str:
    parts = []
    if aggregates != checkpoint.aggregate_count:
        parts.append(f"{checkpoint.aggregate_count - aggregates} aggregates missing")
    if events != checkpoint.event_count:
        parts.append(f"{checkpoint.event_count - events} events missing")
    return f" ({', '.join(parts)})" if parts else " (a head event rewritten)"


def _as_bytes(value: object) -> bytes:
    """A stored value as bytes, whatever a tamperer left there (SQLite keeps any type in any
    column: ``state || 'x'`` is text; a NULL state): the recomputed hash then differs rather
    than the verifier failing."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return b"" if value is None else str(value).encode()


def check_event(
    row: ChainRow, head: tuple[int, bytes] | None, report: Callable[[ChainBreak], None]
) -> None:
    """Checks one event against its aggregate's previous event (``head``: version and hash),
    reporting each break."""

    def at(
        kind: BreakKind, detail: str, expected: str | None = None, found: str | None = None
    ) -> ChainBreak:
        return ChainBreak(
            kind=kind,
            aggregate_id=row.originator_id,
            version=row.originator_version,
            position=row.position,
            expected=expected,
            found=found,
            detail=detail,
        )

    if row.hash is None or row.prev_hash is None:
        report(at(BreakKind.UNCHAINED, "the event has no hash"))
        return
    prev_hash, stored_hash = _as_bytes(row.prev_hash), _as_bytes(row.hash)
    recomputed = event_hash(
        prev_hash,
        row.originator_id,
        row.originator_version,
        str(row.topic),
        _as_bytes(row.state),
    )
    if recomputed != stored_hash:
        report(
            at(
                BreakKind.HASH_MISMATCH,
                expected=recomputed.hex(),
                found=stored_hash.hex(),
                detail="the stored event's bytes do not give its stored hash (altered in place)",
            )
        )
    expected_version = head[0] + 1 if head else 1
    expected_prev = head[1] if head else GENESIS
    if row.originator_version > expected_version:
        report(
            at(
                BreakKind.VERSION_GAP,
                expected=f"version {expected_version}",
                found=f"version {row.originator_version}",
                detail=f"versions {expected_version}..{row.originator_version - 1} are missing",
            )
        )
    elif row.originator_version < expected_version:
        report(
            at(
                BreakKind.VERSION_ORDER,
                expected=f"version {expected_version}",
                found=f"version {row.originator_version}",
                detail="the event comes after a later version of its aggregate in the log",
            )
        )
    elif prev_hash != expected_prev:
        report(
            at(
                BreakKind.LINK_BROKEN,
                expected=expected_prev.hex(),
                found=prev_hash.hex(),
                detail="prev_hash is not the hash of the previous version as stored",
            )
        )


def _checkpoints(service: CheckpointService, walk: _Walk) -> list[Checkpoint]:
    try:
        return sorted(service.all(), key=lambda c: c.position)
    except Exception as error:  # a tampered checkpoint event may not decode at all
        walk.add(
            ChainBreak(
                kind=BreakKind.CHECKPOINT_UNREADABLE,
                detail=f"the checkpoints cannot be read: {type(error).__name__}",
            )
        )
        return []


def verify_store(
    database: Database,
    checkpoints: CheckpointService,
    key: bytes,
    *,
    since_checkpoint: bool = False,
    anchors: Sequence[Checkpoint] = (),
    progress: Progress | None = None,
    page_size: int = PAGE,
) -> VerifyReport:
    """Walks the store (or, ``since_checkpoint``, what follows the latest checkpoint).

    ``anchors``: checkpoints kept outside the store (copies of ``GET /audit/checkpoints``),
    checked like the stored ones: they show a truncation that took the later checkpoints with
    it, which nothing left in the store can show."""
    started = time.perf_counter()
    walk = _Walk(database, key, checkpoints.key_id)
    pending = _checkpoints(checkpoints, walk)
    if anchors:
        stored = {(c.number, c.signature) for c in pending}
        pending = sorted(
            pending + [a for a in anchors if (a.number, a.signature) not in stored],
            key=lambda c: c.position,
        )
    after = 0
    since: int | None = None
    if since_checkpoint and pending:
        latest = pending[-1]
        pending = []
        since = after = latest.position
        # The heads as the checkpoint signed them: its root proves them, so the walk need
        # not read what came before (and so cannot check those events' own hashes).
        _, heads = database.chain_heads(latest.position)
        walk.heads = {h.originator_id: (h.version, h.hash) for h in heads}
        walk.root(latest)
    while rows := database.chain_rows(after, page_size):
        for row in rows:
            while pending and row.position > pending[0].position:
                walk.root(pending.pop(0))
            walk.gap(after, row.position)
            walk.event(row)
            after = row.position
        if progress:
            progress(walk.events, after)
    for checkpoint in pending:  # positions the store no longer reaches
        if checkpoint.position > after:
            walk.add(
                ChainBreak(
                    kind=BreakKind.CHECKPOINT_TRUNCATED,
                    position=checkpoint.position,
                    expected=f"events up to position {checkpoint.position}",
                    found=f"the store ends at position {after}",
                    detail=f"checkpoint {checkpoint.number} covers positions the store no longer"
                    " has: the log was truncated",
                )
            )
        walk.root(checkpoint)
    return VerifyReport(
        ok=walk.breaks_total == 0,
        scope="since_checkpoint" if since_checkpoint else "store",
        events=walk.events,
        aggregates=len(walk.heads),
        first_position=walk.first,
        last_position=walk.last,
        checkpoints_checked=walk.checkpoints_checked,
        since_position=since,
        breaks=walk.breaks,
        breaks_total=walk.breaks_total,
        position_gaps=walk.gaps,
        position_gaps_total=walk.gaps_total,
        seconds=round(time.perf_counter() - started, 3),
    )


def verify_aggregate(database: Database, originator_id: UUID) -> list[ChainBreak]:
    """The breaks in one aggregate's chain (its own events only: cheap, for a history)."""
    breaks: list[ChainBreak] = []
    head: tuple[int, bytes] | None = None
    for row in database.chain_of(originator_id):
        check_event(row, head, breaks.append)
        head = (row.originator_version, row.hash or GENESIS)
    return breaks
