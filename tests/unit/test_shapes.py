"""The complaint's parts have one shape: domain value objects, intake models and answers agree."""

from __future__ import annotations

from dataclasses import fields

import pytest
from pydantic import BaseModel

from aggregates import values
from aggregates.vocabulary import CustomerTier
from commands import models, shapes
from queries import complaint_state


@pytest.mark.parametrize(
    ("value", "base", "intake", "public"),
    [
        (values.Customer, shapes.CustomerBase, models.Customer, complaint_state.CustomerPublic),
        (values.Product, shapes.ProductBase, models.Product, complaint_state.ProductPublic),
        (values.Attachment, shapes.AttachmentBase, models.Attachment,
         complaint_state.AttachmentPublic),
    ],
)
def test_a_part_has_the_same_fields_in_the_domain_at_intake_and_in_answers(
    value: type[values.JSONValue],
    base: type[BaseModel],
    intake: type[BaseModel],
    public: type[BaseModel],
) -> None:
    names = [f.name for f in fields(value)]
    assert list(base.model_fields) == names
    assert list(intake.model_fields) == names
    assert list(public.model_fields) == names


def test_a_comment_answer_adds_its_id_author_and_time_to_the_shape() -> None:
    assert list(complaint_state.CommentPublic.model_fields) == list(values.Comment._fields)
    assert set(models.CommentOnComplaint.model_fields) == set(shapes.CommentBase.model_fields)


def test_the_intake_and_the_answer_share_the_filed_fields() -> None:
    filed = set(shapes.ComplaintBase.model_fields) | {"received_by", "received_at"}
    assert set(models.FileComplaint.model_fields) == filed
    assert filed <= set(complaint_state.ComplaintPublic.model_fields)


def test_an_intake_part_maps_to_its_value_object() -> None:
    customer = models.Customer(id="C-1", name="N", email="n@example.com", tier=CustomerTier.VIP)
    assert customer.to_value() == values.Customer(
        id="C-1", name="N", email="n@example.com", tier="vip"
    )
