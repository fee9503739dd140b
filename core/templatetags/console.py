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
    """Created, Changed, Deleted or Undeleted: a soft delete is a change of `deleted`, told
    from the row before it."""
    if record.history_type == "~" and hasattr(record, "deleted"):
        previous = record.prev_record
        if previous is not None:
            before, now = previous.deleted is not None, record.deleted is not None
            if now and not before:
                return "Deleted"
            if before and not now:
                return "Undeleted"
        return "Changed"
    return audit_trail.change_kind(record)


@register.filter
def history_field_changes(record) -> list:
    """The row's changes with the soft delete left out (it is the row's kind)."""
    return [
        change
        for change in getattr(record, "history_delta_changes", None) or ()
        if not _is_deleted_field(record, change)
    ]


def _value(change, key: str):
    return change.get(key) if isinstance(change, dict) else getattr(change, key, None)


def _is_deleted_field(record, change) -> bool:
    """The soft delete's column, named as simple-history names it (its verbose name)."""
    name = str(_value(change, "field") or "")
    try:
        label = str(record.instance_type._meta.get_field("deleted").verbose_name)
    except Exception:  # noqa: BLE001 - a model without soft delete
        return False
    return name.lower() in {"deleted", label.lower()}
