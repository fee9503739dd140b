"""Template filters of the operator console."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from core import audit_trail
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


@register.filter
def history_who(record) -> str:
    """The operator or user, else the API key, else the system actor of a history row."""
    return audit_trail.who(record)


@register.filter
def history_change(record) -> str:
    """Created, Changed, Deleted or Undeleted: a soft delete is a change of `deleted`."""
    if record.history_type == "~":
        for change in getattr(record, "history_delta_changes", None) or ():
            if getattr(change, "field", "") == "deleted":
                return "Deleted" if change.new is not None else "Undeleted"
    return audit_trail.change_kind(record)


@register.filter
def history_field_changes(record) -> list:
    """The row's changes with the soft delete left out (it is the row's kind)."""
    return [
        change
        for change in getattr(record, "history_delta_changes", None) or ()
        if getattr(change, "field", "") != "deleted"
    ]
