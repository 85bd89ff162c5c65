"""The customer history's indexed tail (``queries/customer_history.py``) against a naive replay
of the whole tail, as the port did it before the index: random filings, closes, reopens,
the same position saved twice (this process's own save, then the log's read), prunes, and calls
still replaying from an older position while another prunes past it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.customer_history import PriorComplaint
from queries.customer_history import CLOSED, FILED, REOPENED, _Index, _matches, _replay, _Tail

T0 = datetime(2026, 1, 1, tzinfo=UTC)
IDS = [UUID(int=n + 1) for n in range(8)]
CUSTOMERS = ["CUST-A", "CUST-B", "CUST-C"]
ORDERS = [None, "SO-1", "SO-2"]

event = st.tuples(
    st.sampled_from([FILED, CLOSED, REOPENED]), st.integers(0, len(IDS) - 1),
    st.sampled_from(CUSTOMERS), st.sampled_from(ORDERS),
    st.integers(0, 5),  # its time: not always in the log's order (clocks, imports)
)
step = st.one_of(
    st.tuples(st.just("add"), st.integers(1, 60), event),
    st.tuples(st.just("prune"), st.integers(0, 60)),
    st.tuples(st.just("read"), st.integers(0, 60)),  # a call holds the index from there
    st.just(("done",)),  # the oldest such call is done
)


def entry(at: int, e: tuple[str, int, str, str | None, int]) -> _Tail:
    topic, n, customer, order, minutes = e
    when = T0 + timedelta(minutes=minutes)
    filed = None
    if topic == FILED:
        filed = PriorComplaint(IDS[n], f"R-{n}", customer, order, when, None)
    return _Tail(topic, IDS[n], when, filed)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(step, max_size=60),
    view=st.lists(st.tuples(st.integers(0, len(IDS) - 1), st.sampled_from(CUSTOMERS),
                            st.sampled_from(ORDERS), st.booleans()), max_size=4),
    customer=st.sampled_from(CUSTOMERS),
    order=st.sampled_from(ORDERS),
    since=st.integers(-1, 6),
    limit=st.integers(1, 4),
)
def test_the_indexed_tail_answers_as_a_replay_of_the_whole_tail(
    steps: list[tuple], view: list[tuple[int, str, str | None, bool]], customer: str,
    order: str | None, since: int, limit: int,
) -> None:
    index, naive = _Index(), dict[int, _Tail]()
    pruned = -1  # the naive tail: the events after the newest prune
    kept = -1  # what the index keeps: also those after the oldest call still replaying
    readers: list[int] = []
    for s in steps:
        if s[0] == "add":
            if s[1] <= pruned:  # the port adds only after its position (``_add``)
                continue
            index.add(s[1], entry(s[1], s[2]))
            naive[s[1]] = entry(s[1], s[2])
        elif s[0] == "prune":
            pruned = max(pruned, s[1])
            index.prune(pruned)
            kept = max(kept, min([pruned, *readers]))
        elif s[0] == "read":
            readers.append(pruned)
            index.readers[pruned] = index.readers.get(pruned, 0) + 1
        elif readers:
            start = readers.pop(0)
            index.readers[start] -= 1
            if not index.readers[start]:
                del index.readers[start]
        # Nothing a call still replays from its position is gone; nothing else is kept.
        assert kept <= min([pruned, *readers])
        assert index.events == {at: t for at, t in naive.items() if at > kept}
        assert sorted(index.positions) == sorted(index.events)

    for start in {pruned, *readers}:
        found = {
            IDS[n]: PriorComplaint(IDS[n], f"R-{n}", c, o, T0, T0 if closed else None)
            for n, c, o, closed in view
        }
        whole = [t for at, t in sorted(naive.items()) if at > start]
        expected = dict(found)
        _replay(expected, whole, customer, order)
        got = index.answer(start, found, customer, order, T0 + timedelta(minutes=since), limit)

        def newest(answer: dict[UUID, PriorComplaint]) -> list[PriorComplaint]:
            when = T0 + timedelta(minutes=since)
            matching = [p for p in answer.values() if _matches(p, customer, order, when)]
            return sorted(matching, key=lambda p: (p.filed_at, p.id))[-limit:]

        assert newest(got) == newest(expected)
        reopened = {t.complaint_id for t in whole if t.topic == REOPENED}
        assert {index.events[at].complaint_id for at in index.reopens if at > start} == reopened
