"""A benchmark store: a year of generated complaints, as the application would have recorded them.

``stored_events(app, complaints, seed)`` yields the stored events (the application's mapper made
them: the library's topics and state bytes, with any cipher or compressor configured) of
``complaints`` complaints filed over a year, in the order the service would have recorded them:

- a filing: ``Filed`` and ``SlaApplied`` (due times from the application's SLA terms, as
  ``ComplaintsApp.file_complaint`` computes them) and the reference index's ``Registered``;
- a lifecycle: assignment, a reply to the customer, an internal note, sometimes a wait for the
  customer and the customer's answer (the resolution clock paused and moved), an escalation,
  closing (90%), and for some a reopen (``Reopened`` with ``SlaCycleStarted``) and a second close;
- the deadline watcher's records where a clock passed its at-risk or due instant unmet
  (``SlaWarned``, ``SlaBreached`` and the escalation a breach causes), as ``commands/sla_watch.py``
  decides them, at the instant it would have.

About nine events per complaint. Events are triggered on the aggregates with their historical
timestamps (the intake rules are bypassed on purpose: the values are valid by construction), and
only open complaints are held: memory stays flat however many events are made.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from aggregates.business_time import Calendar, Target
from aggregates.complaint import MAX_ESCALATION_LEVEL, Complaint
from aggregates.reference import ALPHABET, ComplaintReference, index_id
from aggregates.sla_policy import Policy, Rule
from aggregates.vocabulary import Category, Channel, ResolutionCode, Severity, SlaMetric, SlaState
from commands.application import ComplaintsApp
from commands.personal_data_mapper import PersonalDataMapper
from commands.sla_clocks import deadline, resumed
from commands.sla_watch import WATCHER
from infra.data_keys import DataKeyStore

START = datetime(2025, 1, 1, tzinfo=UTC)
CUSTOMERS = 50_000
YEAR_SECONDS = 365 * 86_400.0
AGENT = {"actor": "bench", "correlation_id": "bench", "causation_id": None}
WATCHING = {"actor": WATCHER, "correlation_id": f"{WATCHER}:bench", "causation_id": None}
AGENTS = [f"agent-{i}" for i in range(60)]
TEAMS = [f"team-{i}" for i in range(8)]
REGIONS = ["east", "west", "north", "south", "central", "overseas", None]
CATEGORIES = [c.value for c in Category]
CHANNELS = [c.value for c in Channel]
SEVERITIES = [s.value for s in Severity]
RESOLUTIONS = [r.value for r in ResolutionCode]
DESCRIPTIONS = [
    "screen cracked", "parcel late", "charged twice", "agent was rude", "refund missing"
]
FIRST_RESPONSE, RESOLUTION = SlaMetric.FIRST_RESPONSE.value, SlaMetric.RESOLUTION.value
METRICS = (FIRST_RESPONSE, RESOLUTION)
BREACH_ESCALATION = {FIRST_RESPONSE: 1, RESOLUTION: 2}
"""The built-in policy's levels (``Escalation``): what a breach of each clock escalates to."""


def lifecycle(rng: random.Random) -> list[tuple[float, str]]:
    """Hours after filing, and action."""
    hours, steps = 0.0, []
    for action, mean_hours in (("assign", 1), ("reply", 2), ("note", 6)):
        hours += rng.expovariate(1 / mean_hours)
        steps.append((hours, action))
    if rng.random() < 0.1:
        hours += rng.expovariate(1 / 6)
        steps.append((hours, "await"))
        hours += rng.expovariate(1 / 12)
        steps.append((hours, "customer_reply"))
    if rng.random() < 0.15:
        hours += rng.expovariate(1 / 12)
        steps.append((hours, "escalate"))
    if rng.random() < 0.9:
        hours += rng.expovariate(1 / 30)
        steps.append((hours, "close"))
        if rng.random() < 0.08:
            hours += rng.expovariate(1 / 48)
            steps.append((hours, "reopen"))
            hours += rng.expovariate(1 / 24)
            steps.append((hours, "close"))
    return steps


@dataclass(eq=False)
class Case:
    """An open complaint, what is left of its lifecycle (seconds since START, action), and when
    the deadline watcher is next due to look at it."""

    complaint: Complaint
    plan: deque[tuple[float, str]]
    watch_at: float | None = None
    extra: list[Any] = field(default_factory=list)
    """Events of other aggregates saved with the complaint's (the reference index)."""


class Generator:
    def __init__(self, app: ComplaintsApp, seed: int) -> None:
        self.app, self.rng = app, random.Random(seed)
        self.to_stored = app.mapper.to_stored_event
        self._terms: dict[tuple[str, ...], tuple[Policy, Rule, Calendar]] = {}
        self._calendars: dict[tuple[str, int], Calendar] = {}
        self.pending: list[tuple[float, int, str, Case]] = []
        self.seq = 0

    def stored_events(self, complaints: int) -> Iterator[StoredEvent]:
        rng, filed_at = self.rng, 0.0
        rate = complaints / YEAR_SECONDS
        for n in range(complaints):
            filed_at += rng.expovariate(rate)
            while self.pending and self.pending[0][0] <= filed_at:
                yield from self._next()
            yield from self._stored(self._file(n, filed_at))
        while self.pending:
            yield from self._next()

    def _stored(self, case: Case) -> Iterator[StoredEvent]:
        for e in case.complaint.collect_events():
            yield self.to_stored(e)
        for e in case.extra:
            yield self.to_stored(e)
        case.extra.clear()

    def _push(self, t: float, kind: str, case: Case) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (t, self.seq, kind, case))

    def _next(self) -> Iterator[StoredEvent]:
        t, _, kind, case = heapq.heappop(self.pending)
        if kind == "step":
            _, action = case.plan.popleft()
            self._act(case.complaint, action, t)
            if case.plan:
                self._push(case.plan[0][0], "step", case)
        elif case.watch_at == t:
            self._watch(case.complaint, t)
        else:
            return  # a stale watch: the clocks moved since it was planned
        self._plan_watch(case, t)
        yield from self._stored(case)

    # ---- what the application records --------------------------------------------------------

    def _file(self, n: int, t: float) -> Case:
        rng, when = self.rng, START + timedelta(seconds=t)
        reference = reference_for(n)
        c = Complaint._create(  # noqa: SLF001 - valid by construction, intake rules bypassed
            Complaint.Filed, id=UUID(int=rng.getrandbits(128), version=4), timestamp=when,
            reference=reference,
            # The JSON objects ``Customer.to_json`` and ``Product.to_json`` write.
            customer={"id": f"CUST-{rng.randrange(CUSTOMERS)}", "name": "Customer", "company": None,
                      "phone": "1", "email": None,
                      "tier": "vip" if rng.random() < 0.1 else "standard"},
            product={"name": rng.choice(["X9", "K2", "M5"]), "model": None,
                     "order_number": None, "contract_number": None, "service_item": None},
            category=rng.choice(CATEGORIES), subject="Problem with my order",
            description=rng.choice(DESCRIPTIONS), occurred_at=None, location=None,
            attachments=[], expected_remedy=None, channel=rng.choice(CHANNELS),
            severity=rng.choice(SEVERITIES), region=rng.choice(REGIONS), received_by="bench",
            received_at=when, **AGENT,
        )
        # The clocks start with the filing (ComplaintsApp._apply_sla, at the filing's instant).
        policy, rule, calendar = self._terms_for(c)
        ratio = rule.at_risk_ratio
        first_response = deadline(calendar, when, rule.first_response, ratio)
        resolution = deadline(calendar, when, rule.resolution, ratio)
        c.trigger_event(
            Complaint.SlaApplied, timestamp=when, policy_version=policy.version, rule=rule.name,
            calendar=calendar.name, calendar_version=calendar.version,
            first_response_target=rule.first_response.text,
            resolution_target=rule.resolution.text, at_risk_ratio=ratio,
            first_response_due_at=first_response.due_at,
            first_response_at_risk_at=first_response.at_risk_at, resolution_cycle=1,
            resolution_due_at=resolution.due_at, resolution_at_risk_at=resolution.at_risk_at,
            reason=None, **AGENT,
        )
        index = ComplaintReference._create(  # noqa: SLF001 - register() stamps the wall clock
            ComplaintReference.Registered, id=index_id(reference), timestamp=when,
            reference=reference, complaint_id=c.id,
        )
        case = Case(c, deque((t + h * 3600, a) for h, a in lifecycle(rng)), extra=[
            *index.collect_events()
        ])
        self._push(case.plan[0][0], "step", case)
        self._plan_watch(case, t)
        return case

    def _act(self, c: Complaint, action: str, t: float) -> None:
        rng, when = self.rng, START + timedelta(seconds=t)
        if action == "assign":
            c.trigger_event(Complaint.Assigned, timestamp=when, assignee=rng.choice(AGENTS),
                            team=rng.choice(TEAMS), reason=None, rule=None, **AGENT)
        elif action in ("reply", "note"):
            c.trigger_event(Complaint.Commented, timestamp=when,
                            comment_id=f"{rng.getrandbits(128):032x}",
                            body="We are looking into it.",
                            visibility="customer" if action == "reply" else "internal", **AGENT)
        elif action == "await":
            c.trigger_event(Complaint.CustomerAwaited, timestamp=when,
                            reason="Need a photo of the order", paused_at=when, **AGENT)
        elif action == "customer_reply":
            # ComplaintsApp._record_customer_reply: the resolution clock moved by the pause.
            assert c.sla is not None and c.paused_since is not None
            moved, paused = resumed(self._calendar_of(c), c.sla.resolution.deadline,
                                    c.paused_since, when)
            c.trigger_event(Complaint.CustomerReplied, timestamp=when,
                            reply_id=f"{rng.getrandbits(128):032x}", body="Photo attached",
                            channel="email", resumed_at=when, paused_seconds=paused,
                            resolution_due_at=moved.due_at,
                            resolution_at_risk_at=moved.at_risk_at, **AGENT)
        elif action == "escalate" and c.escalation_level < MAX_ESCALATION_LEVEL:
            c.trigger_event(Complaint.Escalated, timestamp=when, level=c.escalation_level + 1,
                            reason="slow", rule=None, **AGENT)
        elif action == "close":
            c.trigger_event(Complaint.Closed, timestamp=when,
                            resolution_code=rng.choice(RESOLUTIONS),
                            summary="Resolved with the customer.", closed_at=None, **AGENT)
        elif action == "reopen":
            # ComplaintsApp._reopen: a new resolution cycle on the clocks' pinned terms.
            c.trigger_event(Complaint.Reopened, timestamp=when, reason="came back", **AGENT)
            assert c.sla is not None
            cycle = deadline(self._calendar_of(c), when, Target.parse(c.sla.resolution.target),
                             c.sla.at_risk_ratio)
            c.trigger_event(Complaint.SlaCycleStarted, timestamp=when,
                            metric=RESOLUTION, cycle=c.resolution_cycle,
                            started_at=when, due_at=cycle.due_at, at_risk_at=cycle.at_risk_at,
                            **AGENT)

    def _watch(self, c: Complaint, t: float) -> None:
        """What ``commands/sla_watch.settle`` records at ``t``: warnings, breaches, and the
        escalation a breach causes (the built-in policy's levels)."""
        assert c.sla is not None
        now, level = START + timedelta(seconds=t), 0
        for metric in METRICS:
            clock = c.sla.clock(metric)
            paused = c.paused_since if metric == RESOLUTION else None
            state = clock.reading(now, paused).state
            fields = {"metric": metric, "cycle": clock.cycle, "due_at": clock.due_at}
            if state == SlaState.BREACHED and clock.breached_at is None:
                c.trigger_event(Complaint.SlaBreached, timestamp=now,
                                breached_at=clock.due_at, **fields, **WATCHING)
                level = max(level, BREACH_ESCALATION[metric])
            elif state == SlaState.AT_RISK and clock.warned_at is None:
                c.trigger_event(Complaint.SlaWarned, timestamp=now,
                                warned_at=clock.at_risk_at, **fields, **WATCHING)
        if level > c.escalation_level and not c.is_closed:
            c.trigger_event(Complaint.Escalated, timestamp=now, level=level,
                            reason="SLA breached", rule=None, **WATCHING)

    def _plan_watch(self, case: Case, t: float) -> None:
        """The next instant the watcher would find something to record on the complaint."""
        c, case.watch_at = case.complaint, None
        if c.sla is None or c.is_closed:
            return
        instants = []
        for metric in METRICS:
            clock = c.sla.clock(metric)
            if clock.met_at is not None or clock.breached_at is not None:
                continue
            if metric == RESOLUTION and c.paused_since is not None:
                if c.paused_since >= clock.due_at:
                    instants.append(t)  # breached before the pause
                continue
            if clock.warned_at is None:
                instants.append(seconds_since_start(clock.at_risk_at))
            instants.append(seconds_since_start(clock.due_at))
        if instants:
            case.watch_at = max(t, min(instants))
            self._push(case.watch_at, "watch", case)

    # ---- terms, fixed for the run (the store's policy does not change while it is made) ------

    def _terms_for(self, c: Complaint) -> tuple[Policy, Rule, Calendar]:
        key = (c.severity, c.customer.tier, c.category, c.channel)
        if key not in self._terms:
            self._terms[key] = self.app.sla_terms.terms_for(*key)
        return self._terms[key]

    def _calendar_of(self, c: Complaint) -> Calendar:
        assert c.sla is not None
        key = (c.sla.calendar, c.sla.calendar_version)
        if key not in self._calendars:
            self._calendars[key] = self.app.sla_terms.calendar(*key)
        return self._calendars[key]


def seconds_since_start(instant: datetime) -> float:
    return (instant - START).total_seconds()


def reference_for(n: int) -> str:
    """A distinct reference per complaint (``C-XXXX-XXXX``, the service's alphabet)."""
    chars = "".join(ALPHABET[(n >> (5 * i)) & 31] for i in range(7, -1, -1))
    return f"C-{chars[:4]}-{chars[4:]}"


def bulk_mapper(app: ComplaintsApp, complaints: int) -> Mapper[UUID]:
    """The application's mapper, sealing personal data as it does, for a bulk load: the
    customers' data keys made first (a first filing would write its key, which it cannot do
    inside the load's transaction, SQLite's one writer) and every complaint's customer
    remembered (its filing is not committed yet when its comments are sealed)."""
    keys = app.mapper.keys
    if not isinstance(keys, DataKeyStore) or not app.mapper.encrypt:
        return app.mapper
    bulk = DataKeyStore(app, keys.master, cache_seconds=math.inf, remember=complaints + 1)
    bulk.make_keys(f"CUST-{n}" for n in range(CUSTOMERS))
    mapper = PersonalDataMapper(
        transcoder=app.mapper.transcoder,
        compressor=app.mapper.compressor,
        cipher=app.mapper.cipher,
    )
    mapper.protect_with(bulk)
    return mapper


def stored_events(app: ComplaintsApp, complaints: int, seed: int) -> Iterator[StoredEvent]:
    generator = Generator(app, seed)
    # Now, not when the events are first asked for: that is inside the bulk load's transaction.
    generator.to_stored = bulk_mapper(app, complaints).to_stored_event
    return generator.stored_events(complaints)
