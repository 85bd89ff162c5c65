"""Product issues per product x category, from the ``product_issues`` view: most filed first."""

from __future__ import annotations

from pydantic import BaseModel, Field

from projections.product_issues import PRODUCT_ISSUES
from projections.store import ReadModelStore

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class ProductIssue(BaseModel):
    product: str = Field(description='The filing\'s product name ("" when it had none)')
    category: str
    filed: int
    closed: int = Field(description="Closes (a reopened complaint closed again counts twice)")
    repeat_complaints: int = Field(
        description="Filings whose customer had filed another complaint in the 30 days before"
    )
    repeat_rate: float | None = Field(description="repeat_complaints / filed; null if none filed")


class ProductIssues(BaseModel):
    items: list[ProductIssue]


def product_issues(
    store: ReadModelStore, *, product: str | None = None, category: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> ProductIssues:
    """The rows of ``product`` and/or ``category`` (all when None), by filed desc, then name."""
    conditions, params = [], []
    for column, value in (("product", product), ("category", category)):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    with store.read() as tx:
        rows = tx.rows(
            f"SELECT product, category, filed, closed, repeats FROM "
            f"{tx.table(PRODUCT_ISSUES.name)} {where}"
            "ORDER BY filed DESC, product, category LIMIT %s",
            [*params, limit],
        )
    return ProductIssues(
        items=[
            ProductIssue(
                product=r["product"], category=r["category"], filed=r["filed"],
                closed=r["closed"], repeat_complaints=r["repeats"],
                repeat_rate=r["repeats"] / r["filed"] if r["filed"] else None,
            )
            for r in rows
        ]
    )
