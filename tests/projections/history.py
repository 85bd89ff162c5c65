"""A seeded random complaint history, generated in-process and saved many aggregates per call."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from aggregates.complaint import Complaint
from aggregates.provenance import Provenance
from aggregates.values import Customer, Product
from aggregates.vocabulary import Category, Channel, ResolutionCode, Severity, Visibility
from commands.application import ComplaintsApp

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


def act(rng: random.Random, c: Complaint) -> None:
    """One random legal step of a complaint's lifecycle."""
    if c.is_closed:
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
    else:
        c.close(rng.choice(list(ResolutionCode)).value, "done", by=BY)


def generate(
    app: ComplaintsApp, complaints: int, *, seed: int = 7, rounds: int = 8, after_round=None
) -> list[UUID]:
    """Files ``complaints`` complaints over ``rounds`` rounds, acting on earlier ones in between,
    so that the events of different complaints interleave in the log."""
    rng = random.Random(seed)
    live: list[Complaint] = []
    per_round = -(-complaints // rounds)
    for r in range(rounds):
        count = min(per_round, complaints - len(live))
        new = [file_random(rng, len(live) + i) for i in range(count)]
        touched = rng.sample(live, k=min(len(live), len(live) // 2 + 1)) if live else []
        for c in touched:
            for _ in range(rng.randint(1, 3)):
                act(rng, c)
        live += new
        pending = [c for c in [*new, *touched] if c.pending_events]
        for i in range(0, len(pending), 500):
            app.save(*pending[i : i + 500])
        if after_round:
            after_round(r)
    return [c.id for c in live]
