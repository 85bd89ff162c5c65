"""GET /analytics/product-issues: filed, closed and repeat complaints per product x category."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aggregates.vocabulary import Category
from api.deps import Principal, permit
from api.read_models import StoreDep, waits_for
from commands.input_types import SINGLE_LINE_PATTERN
from queries.product_issues import DEFAULT_LIMIT, MAX_LIMIT, ProductIssues, product_issues

router = APIRouter(prefix="/analytics", tags=["read models"])


@router.get("/product-issues", response_model=ProductIssues)
def list_product_issues(
    store: StoreDep,
    _: Annotated[Principal, permit("analytics.read")],
    _view: Annotated[None, waits_for("product_issues")],
    product: Annotated[
        str | None,
        Query(max_length=200, pattern=SINGLE_LINE_PATTERN,
              description='Only this product ("" for none)'),
    ] = None,
    category: Category | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> ProductIssues:
    """Per product x category since the first event: complaints filed, closes, repeat complaints
    (the customer filed another in the previous 30 days) and the repeat rate; most filed first."""
    return product_issues(
        store, product=product, category=category.value if category else None, limit=limit
    )
