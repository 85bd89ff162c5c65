"""Customers: their complaints in figures (the ``customers`` view, docs/customers.md) and the
erasure of their personal data (crypto-shredding, docs/personal-data.md)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from api.blocking import in_thread
from api.deps import AppDep, ContextDep, Principal, permit
from api.problems import problem_responses
from api.read_models import StoreDep, waits_for
from commands.erasure import ErasureResult, erase_customer
from commands.input_types import SINGLE_LINE_PATTERN
from commands.models import EraseCustomerData
from infra.data_keys import DataKeyStore
from projections.store import ReadModelStore
from queries.customer_complaints import complaints_of_customer
from queries.customers import CustomerPublic, get_customer

router = APIRouter(prefix="/customers", tags=["customers"])
ComplianceDep = Annotated[Principal, permit("personal_data.erase")]

CustomerId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="The customer's id, as complaints carry it (customer.id)",
        json_schema_extra={"pattern": SINGLE_LINE_PATTERN},
    ),
]


@router.get(
    "/{customer_id}",
    response_model=CustomerPublic,
    dependencies=[permit("customer.read")],
    responses=problem_responses(
        {
            401: "Missing or invalid token",
            403: "Not allowed to your role",
            404: "No complaint of this customer (yet: see min_position)",
        }
    ),
)
def customer(
    customer_id: CustomerId,
    app: AppDep,
    store: StoreDep,
    _view: Annotated[None, waits_for("customers")],
) -> CustomerPublic:
    """The customer's complaints in figures: in all, open, filed in the last 30 days, the last
    filing, and the latest complaints (ids, references, status). No personal data: the
    customer id is the pseudonymous id complaints carry."""
    return get_customer(store, customer_id, app.clock())


class ErasurePublic(BaseModel):
    customer_id: str
    already_erased: bool = Field(
        description="True when nothing was left to erase (an erasure repeated): nothing changed"
    )
    complaint_ids: list[UUID] = Field(
        description="The customer's complaints this erasure recorded personal_data_erased on"
    )
    data_keys_destroyed: int = Field(description="How many data keys this erasure destroyed")
    position: int | None = Field(
        description="Position of the last event written (pass as min_position to read your "
        "writes); null when nothing was written"
    )


@router.post(
    "/{customer_id}/erase",
    response_model=ErasurePublic,
    responses=problem_responses(
        {
            401: "Missing or invalid token",
            403: "Not a compliance officer",
            404: "No complaint or data of this customer",
            409: "The customer's complaints kept changing; send it again",
            422: "Invalid reason",
        }
    ),
)
async def erase_customer_data(
    customer_id: CustomerId,
    command: EraseCustomerData,
    app: AppDep,
    ctx: ContextDep,
    request: Request,
    _: ComplianceDep,
) -> ErasurePublic:
    """Destroys the customer's data keys and records the erasure: afterwards every read path
    shows "[erased]" for their personal fields. Repeating it changes nothing (200,
    `already_erased`), unless personal data of theirs arrived since."""
    keys: DataKeyStore = request.app.state.data_keys
    read_models: ReadModelStore = request.app.state.read_models

    def erase() -> ErasureResult:
        complaints = complaints_of_customer(read_models, customer_id)
        return erase_customer(app, keys, customer_id, command, complaints, ctx)

    result = await in_thread(erase)
    return ErasurePublic(
        customer_id=result.customer_id,
        already_erased=result.already_erased,
        complaint_ids=result.complaint_ids,
        data_keys_destroyed=len(result.data_key_ids),
        position=result.position,
    )
