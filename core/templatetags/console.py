"""Template filters of the operator console."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from core.money import format_money

register = template.Library()


@register.filter
def money(amount, currency: str = "USD") -> str:
    """`{{ amount|money:currency }}`: $1,234.56, in a right-aligned span."""
    if amount is None or amount == "":
        return ""
    return format_html('<span class="money">{}</span>', format_money(amount, currency or "USD"))


@register.filter
def thousands(number) -> str:
    """`{{ 1000000|thousands }}`: 1,000,000."""
    try:
        return f"{int(number):,}"
    except (TypeError, ValueError):
        return str(number)
