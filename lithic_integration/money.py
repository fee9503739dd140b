"""The one place where Lithic's integer cents and the product's Decimal amounts meet.

Lithic speaks integer cents (in the currency's smallest unit); the product speaks
`Decimal` with two places. Every amount crossing the boundary, in either direction, goes
through these two functions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lithic_integration.errors import LithicPayloadInvalid, SubCentAmount

CENT = Decimal("0.01")
# The widest amount the product stores: DecimalField(max_digits=12, decimal_places=2).
MAX_AMOUNT = Decimal("9999999999.99")


def to_cents(amount: Decimal) -> int:
    """Decimal dollars as Lithic's integer cents, exactly; a fraction of a cent is refused."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise SubCentAmount(f"not a Decimal amount: {amount!r}")
    if amount != amount.quantize(CENT):
        raise SubCentAmount(f"{amount} has a fraction of a cent; Lithic counts whole cents")
    return int(amount.quantize(CENT).scaleb(2))


def from_cents(cents: Any, what: str = "amount", *, signed: bool = False) -> Decimal:
    """Lithic's integer cents as Decimal dollars, or LithicPayloadInvalid saying which field.

    Refused: anything but an integer (booleans and floats included), a negative amount unless
    `signed`, and an amount wider than the product stores (12 digits).
    """
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise LithicPayloadInvalid(f"{what} is not an integer of cents: {_show(cents)}")
    if cents < 0 and not signed:
        raise LithicPayloadInvalid(f"{what} is negative: {_show(cents)}")
    amount = Decimal(cents).scaleb(-2)
    if abs(amount) > MAX_AMOUNT:
        raise LithicPayloadInvalid(f"{what} is beyond {MAX_AMOUNT}: {_show(cents)} cents")
    return amount.quantize(CENT)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
