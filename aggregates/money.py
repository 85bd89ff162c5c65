"""Money: an amount in a currency, exact (``Decimal``), for remedies and approval limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from aggregates.errors import InvalidIntakeError

CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
"""ISO 4217 alphabetic codes (CNY, USD, EUR, ...)."""
MAX_AMOUNT = Decimal("1000000000")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Any, currency: str, field: str = "amount") -> Money:
        """Checked: a non-negative amount with at most two decimal places, below a billion, and
        a three-letter currency code. Raises ``InvalidIntakeError`` naming ``field``."""
        try:
            value = Decimal(str(amount))
        except (InvalidOperation, ValueError):
            raise InvalidIntakeError(field, "must be a decimal number") from None
        if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
            raise InvalidIntakeError(field, "must be between 0 and 999999999.99")
        if value != value.quantize(Decimal("0.01")):
            raise InvalidIntakeError(field, "has at most two decimal places")
        if not isinstance(currency, str) or not CURRENCY_PATTERN.fullmatch(currency):
            raise InvalidIntakeError("currency", "must be a three-letter ISO 4217 code, e.g. CNY")
        return cls(value.quantize(Decimal("0.01")), currency)

    def covers(self, other: Money) -> bool:
        """Whether a limit of ``self`` covers ``other`` (same currency, not less)."""
        return self.currency == other.currency and self.amount >= other.amount

    def to_json(self) -> dict[str, str]:
        """As stored in events and shown by the API: the amount as a string (``"500.00"``), so no
        consumer reads it through a binary float."""
        return {"amount": str(self.amount), "currency": self.currency}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Money:
        return cls(Decimal(str(data["amount"])), str(data["currency"]))
