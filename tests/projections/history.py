"""A seeded random complaint history, generated in-process and saved many aggregates per call."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from aggregates.business_time import CALENDAR_24X7, Target
from aggregates.complaint import Complaint
from aggregates.provenance import Provenance
from aggregates.sla_policy import Escalation
from aggregates.values import Customer, Product
from aggregates.vocabulary import Category, Channel, ResolutionCode, Severity, Visibility
from commands.application import ComplaintsApp
from commands.sla_clocks import deadline, resumed
from commands.sla_watch import settle

BY = Provenance("generator", "seeded-history")
AGENTS = ("ann", "bob", "cho", "dev", "eve")
TEAMS = ("east-desk", "west-desk", None)
REGIONS = ("east", "west", "north", None)


def file_random(rng: random.Random, n: int) -> Complaint:
    received = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(365 * 86400))
    return Complaint.file(
        reference=f"C-{n:04X}-SEED",
        customer=Customer(id=f"CUST-{rng.randrange(300)}", name="Li", phone="1380000",
                          tier=rng.choice(["standard", "vip"])),
        product=Product(name=rng.choice(["X9", "K2", None])),
        category=rng.choice(list(Category)).value,
        subject=rng.choice(["Broken screen", "Late parcel", "Rude agent", "Double charge"]),
        description=rng.choice(["zebra crossing damaged", "arrived late", "invoice wrong"]),
        channel=rng.choice(list(Channel)).value,
        severity=rng.choice(list(Severity)).value,
        region=rng.choice(REGIONS),
        received_at=received,
        by=BY,
    )


# remedy_provided needs a fulfilled remedy (issue 12): histories here offer none.
CODES = [code for code in ResolutionCode if code != ResolutionCode.REMEDY_PROVIDED]


def act(rng: random.Random, c: Complaint) -> None:
    """One random legal step of a complaint's lifecycle."""
    if c.is_closed:
        survey = c.survey
        if survey is not None and survey.answered_at is None and rng.random() < 0.5:
            c.record_satisfaction(
                survey.token, csat=rng.randint(1, 5), nps=rng.randint(0, 10), comment=None,
                now=survey.expires_at, by=BY,
            )
            return
        c.reopen("customer came back", by=BY)
        return
    roll = rng.random()
    if roll < 0.3:
        assignee, team = rng.choice(AGENTS), rng.choice(TEAMS)
        if (assignee, team) != (c.assignee, c.team):
            c.assign(assignee, team=team, by=BY)
    elif roll < 0.6:
        c.comment("update", visibility=rng.choice(list(Visibility)).value, by=BY)
    elif roll < 0.7 and c.escalation_level < 10:
        c.escalate("slow", by=BY)
    elif roll < 0.75:
        # A rule's or a person's change (issue 12): the views count the severity as it is now.
        severity = rng.choice([s.value for s in Severity if s.value != c.severity])
        c.change_severity(severity, reason="re-triaged", by=BY)
    else:
        c.close(rng.choice(CODES).value, "done", by=BY)
        # As the application does on every close (issue 12): a survey to answer.
        c.request_survey(
            f"{c.id}-{c.version}", expires_at=datetime(2100, 1, 1, tzinfo=UTC), by=BY
        )


def imported(rng: random.Random, c: Complaint) -> None:
    """A third of the filings recorded as imports, the source's timely flag random (or not
    given); half of those closed at a business time after their receipt."""
    if rng.random() >= 1 / 3:
        return
    timely = rng.choice([True, False, None])
    c.record_import(
        source="seed", external_id=str(c.id), digest="d", kept={"timely_response": timely}, by=BY
    )
    if rng.random() < 0.5:
        closed_at = c.received_at + timedelta(hours=rng.randrange(1, 400))
        c.close("resolved", "closed at the source", closed_at=closed_at, by=BY)


SHORT = (Target.parse("PT4H"), Target.parse("P3D"))
LONG = (Target.parse("P900D"), Target.parse("P1000D"))
"""Events are stamped with the time they are generated, long after the complaints' seeded
``received_at``: long targets (for low and medium severity) are still met in time."""


def apply_sla(c: Complaint) -> None:
    """Terms on 24x7 by severity, as a filing applies them."""
    first_response, resolution = SHORT if c.severity in {"high", "critical"} else LONG
    c.apply_sla(
        policy_version=0, rule=c.severity, calendar="24x7", calendar_version=0,
        first_response_target=first_response.text, resolution_target=resolution.text,
        at_risk_ratio=0.2,
        first_response=deadline(CALENDAR_24X7, c.received_at, first_response, 0.2),
        resolution=deadline(CALENDAR_24X7, c.resolution_started_at, resolution, 0.2),
        by=BY,
    )


def act_sla(rng: random.Random, c: Complaint) -> None:
    """One random step of a complaint's SLA clocks: a new cycle after a reopen, a wait for the
    customer and its end, or what the deadline watcher would record at a random moment."""
    if c.sla is None or c.is_closed:
        return
    moment = c.received_at + timedelta(hours=rng.randrange(1, 120))
    if c.sla.resolution.cycle < c.resolution_cycle:
        target = Target.parse(c.sla.resolution.target)
        c.start_resolution_cycle(
            started_at=moment, resolution=deadline(CALENDAR_24X7, moment, target, 0.2), by=BY
        )
    roll = rng.random()
    if c.paused_since is not None:
        if roll < 0.5:
            resumed_at = c.paused_since + timedelta(hours=rng.randrange(1, 48))
            moved, paused = resumed(
                CALENDAR_24X7, c.sla.resolution.deadline, c.paused_since, resumed_at
            )
            c.record_customer_reply("here", channel="email", resumed_at=resumed_at,
                                    paused_seconds=paused, resolution=moved, by=BY)
    elif roll < 0.25:
        c.await_customer("need a photo", paused_at=moment, by=BY)
    elif roll < 0.6:
        settle(c, moment, escalation=Escalation(), calendar=CALENDAR_24X7, history=list,
               correlation_id="seeded-history")


def generate(
    app: ComplaintsApp,
    complaints: int,
    *,
    seed: int = 7,
    rounds: int = 8,
    after_round=None,
    sla: bool = False,
    imports: bool = False,
) -> list[UUID]:
    """Files ``complaints`` complaints over ``rounds`` rounds, acting on earlier ones in between,
    so that the events of different complaints interleave in the log. ``sla``: with SLA clocks
    (steps drawn from a second generator, so the rest of the history is the same). ``imports``:
    some filings are imports (issue 13), a few of them closed at a business time (a third
    generator)."""
    rng = random.Random(seed)
    sla_rng = random.Random(seed + 1)
    import_rng = random.Random(seed + 2)
    live: list[Complaint] = []
    per_round = -(-complaints // rounds)
    for r in range(rounds):
        count = min(per_round, complaints - len(live))
        new = [file_random(rng, len(live) + i) for i in range(count)]
        if imports:
            for c in new:
                imported(import_rng, c)
        if sla:
            for c in new:
                apply_sla(c)
        touched = rng.sample(live, k=min(len(live), len(live) // 2 + 1)) if live else []
        for c in touched:
            for _ in range(rng.randint(1, 3)):
                act(rng, c)
                if sla:
                    act_sla(sla_rng, c)
        live += new
        pending = [c for c in [*new, *touched] if c.pending_events]
        for i in range(0, len(pending), 500):
            app.save(*pending[i : i + 500])
        if after_round:
            after_round(r)
    return [c.id for c in live]
