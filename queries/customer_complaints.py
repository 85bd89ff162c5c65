"""The complaints of one customer, for erasure: exact, even while the complaint list lags.

The complaint list (``customer_id`` column, indexed) knows every complaint up to its position;
the ``Filed`` events after that position (the customer id is in the clear in them) add those it
has not seen yet. So an erasure right after a filing still finds that complaint.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from projections.complaint_list import COMPLAINT_LIST, ComplaintListProjection
from projections.store import ReadModelStore

FILED_TOPIC = get_topic(Complaint.Filed)


def complaints_of_customer(store: ReadModelStore, customer_id: str) -> list[UUID]:
    position = store.position(ComplaintListProjection.name)
    with store.read() as tx:
        rows = tx.rows(
            f"SELECT id FROM {tx.table(COMPLAINT_LIST.name)} WHERE customer_id = %s",
            (customer_id,),
        )
        found = {UUID(str(tx.decode(COMPLAINT_LIST, "id", r["id"]))) for r in rows}
    head = store.app.recorder.max_notification_id() or 0
    if head > position:
        decode = store.app.mapper.transcoder.decode
        for n in store.notifications(position + 1, head, [FILED_TOPIC]):
            if str(decode(n.state)["customer"]["id"]) == customer_id:
                found.add(UUID(str(n.originator_id)))
    return sorted(found, key=str)
