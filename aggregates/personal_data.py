"""Which stored event fields hold personal data, and how such a value is shown masked or erased.

One table for every path that treats personal data: the mapper that encrypts these fields with the
customer's data key (crypto-shredding), the read paths and event stream that mask them for
principals who may not see them, and erasure, after which they read ``ERASED``.

Paths are dotted field names inside an event's stored data (``customer.phone`` is the ``phone`` key
of the ``customer`` object). Customer id, tier and company, the subject, category and product stay
in the clear: they are what lists, routing and analytics work on, and the id is what erasure finds
a customer's complaints by. Free text the customer wrote or that is written about them (the
description, comments, the customer's replies, the place it happened) is personal.
"""

from __future__ import annotations

from collections.abc import Mapping

ERASED = "[erased]"
"""What a personal field reads after its customer's data were erased."""

MASKED = "[masked]"
"""A personal free-text field shown to a principal who may not read it."""

PERSONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Complaint.Filed": (
        "customer.name",
        "customer.phone",
        "customer.email",
        "location",
        "description",
    ),
    "Complaint.Commented": ("body",),
    "Complaint.CustomerReplied": ("body",),
    # closed loop: what the customer writes when declining a remedy or answering the survey.
    "Complaint.CustomerDeclined": ("reason",),
    "Complaint.SatisfactionRecorded": ("comment",),
}
"""Event class ``__qualname__`` -> the personal fields of its stored data."""

CONTACT_FIELDS: tuple[str, ...] = ("customer.phone", "customer.email")
"""The fields an agent sees masked on complaints they do not own."""


def mask_phone(phone: str) -> str:
    """``13812348000`` -> ``138****8000``: enough to recognise, not enough to call."""
    if phone in (ERASED, MASKED):
        return phone
    digits = [i for i, ch in enumerate(phone) if ch.isdigit()]
    if len(digits) <= 4:
        return "*" * len(phone)
    keep = set(digits[:3] + digits[-4:]) if len(digits) >= 9 else set(digits[-2:])
    return "".join(ch if i in keep or not ch.isdigit() else "*" for i, ch in enumerate(phone))


def mask_email(email: str) -> str:
    """``zhang.wei@example.com`` -> ``z***@example.com``."""
    if email in (ERASED, MASKED):
        return email
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return (local[:1] or "*") + "***@" + domain


def mask_name(name: str) -> str:
    """``张伟`` -> ``张*``, ``Jane Doe`` -> ``J*** D**``: the first letter of each word."""
    if name in (ERASED, MASKED):
        return name
    words = name.split()
    if len(words) == 1 and len(name) <= 4:
        return name[:1] + "*" * (len(name) - 1)
    return " ".join(w[:1] + "*" * max(len(w) - 1, 2) for w in words)


MASKS = {
    "customer.phone": mask_phone,
    "customer.email": mask_email,
    "customer.name": mask_name,
}
"""How a personal field is masked; any other personal field reads ``MASKED``."""


def masked(path: str, value: object) -> object:
    """``value`` of the personal field ``path`` as a principal without the right sees it."""
    if value is None:
        return None
    if not isinstance(value, str):
        return MASKED
    mask = MASKS.get(path)
    return mask(value) if mask else (value if value == ERASED else MASKED)
