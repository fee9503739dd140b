"""Money as people read it: `$227,426.60`, `−$12.00`, `€1,250.00`, `1,250.00 CHF`."""

from __future__ import annotations

from decimal import Decimal

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}
MINUS = "\u2212"


def format_money(amount: Decimal | int | None, currency: str = "USD") -> str:
    """Thousands separated, two decimals, the currency's symbol (or its code after)."""
    if amount is None:
        return ""
    value = Decimal(amount)
    digits = f"{abs(value):,.2f}"
    sign = MINUS if value < 0 else ""
    symbol = SYMBOLS.get(currency.upper())
    if symbol:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{digits} {currency.upper()}"
