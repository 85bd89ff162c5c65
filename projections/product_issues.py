"""Product issues: per product x category, complaints filed, closes and repeat complaints.

The example of a projection added after the fact (docs/projections.md, "Adding a projection
after the fact"): registered on a store that already holds events, it starts at position 0 and
catches up like any view.

Definitions:
- product: the filing's product name, ``""`` when it has none; category: the filing's;
- filed: complaints filed; closed: closes (a reopened and re-closed complaint closes twice, as in
  ``analytics``);
- repeat: a filing whose customer had filed another complaint in the 30 days before it, by
  business time (``received_at``), compared with the latest filing of that customer recorded
  before it (so an import of old complaints in reverse order of receipt finds fewer repeats);
  the repeat rate (repeat / filed) is computed when read.

Kept lean because every rebuild pays for it: two event types, a batch reads only the rows it needs
(the cases of the complaints it closes, the customers it files for) and adds its counts in one
statement per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aggregates.complaint import Complaint
from projections.complaint_rows import topics_of
from projections.projection import Positioned, Projection
from projections.schema import Table, columns
from projections.storable import storable_instant
from projections.store import Tx

REPEAT_WINDOW = timedelta(days=30)
NO_PRODUCT = ""

PRODUCT_ISSUES = Table(
    name="product_issues",
    columns=columns("product text, category text, filed int, closed int, repeats int"),
    key=("product", "category"),
)
PRODUCT_ISSUES_CASES = Table(
    name="product_issues_cases",
    columns=columns("id uuid, product text, category text"),
    key=("id",),
)
PRODUCT_ISSUES_CUSTOMERS = Table(
    name="product_issues_customers",
    columns=columns("customer_id text, last_received_at timestamp"),
    key=("customer_id",),
)
COUNT_COLUMNS = ("product", "category", "filed", "closed", "repeats")


class ProductIssuesProjection(Projection):
    name = "product_issues"
    topics = topics_of(Complaint.Filed, Complaint.Closed)
    tables = (PRODUCT_ISSUES, PRODUCT_ISSUES_CASES, PRODUCT_ISSUES_CUSTOMERS)

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        filed = Complaint.Filed
        filings = [p.event for p in events if type(p.event) is filed]
        filed_here = {e.originator_id for e in filings}
        closed_ids = [
            p.event.originator_id for p in events
            if type(p.event) is not filed and p.event.originator_id not in filed_here
        ]
        cases = tx.fetch(PRODUCT_ISSUES_CASES, "id", closed_ids)
        customers = tx.fetch(
            PRODUCT_ISSUES_CUSTOMERS, "customer_id",
            list({str(e.customer.get("id")) for e in filings}),
        )
        counts: dict[tuple[str, str], list[int]] = {}
        new_cases: list[dict[str, Any]] = []
        seen: dict[str, dict[str, Any]] = {}
        for p in events:
            e = p.event
            if type(e) is filed:
                case: dict[str, Any] = {
                    "id": e.originator_id,
                    "product": (e.product or {}).get("name") or NO_PRODUCT,
                    "category": e.category,
                }
                cases[e.originator_id] = case
                new_cases.append(case)
                received = storable_instant(e.received_at)
                customer_id = str(e.customer.get("id"))
                customer = customers.get(customer_id)
                repeat = customer is not None and (
                    timedelta(0) <= received - customer["last_received_at"] <= REPEAT_WINDOW
                )
                if customer is None or received > customer["last_received_at"]:
                    customers[customer_id] = seen[customer_id] = {
                        "customer_id": customer_id, "last_received_at": received,
                    }
                amounts = counts.setdefault((case["product"], case["category"]), [0, 0, 0])
                amounts[0] += 1
                amounts[2] += int(repeat)
            else:
                known = cases.get(e.originator_id)
                if known is None:  # filed before the view's history began
                    continue
                counts.setdefault((known["product"], known["category"]), [0, 0, 0])[1] += 1
        tx.upsert(PRODUCT_ISSUES_CASES, new_cases)
        tx.upsert(PRODUCT_ISSUES_CUSTOMERS, list(seen.values()))
        tx.add(
            PRODUCT_ISSUES,
            [dict(zip(COUNT_COLUMNS, (*key, *amounts), strict=True))
             for key, amounts in counts.items()],
        )
