"""Every change to business data, across all models: who, when, what, and how it changed.

Each audited model keeps its own history table (django-simple-history, core.history). The
audit trail reads them together: each table is asked for its newest rows matching the filters
(one index range on `history_date`), and the answers are merged by time. A page is a cursor
(`before`), never an offset, so the thousandth page costs what the first does.

How a row is described:
- **who**: the operator or customer user, else the API key (its prefix), else the named system
  actor (`command:seed_demo`, `worker:webhooks`);
- **change**: Created, Changed, Deleted or Undeleted. A soft delete is a save that sets
  `deleted`; it is told from the row before it (`prev_deleted`, one indexed lookup per row in
  the same query).
"""

from __future__ import annotations

import dataclasses
import datetime
import heapq
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.db.models import OuterRef, Q, Subquery
from django.urls import NoReverseMatch, reverse
from simple_history.models import HistoricalChanges

from core.encryption import BlindIndexField, EncryptedFieldMixin

PAGE_SIZE = 50
_NOT_SHOWN = "(personal data, not shown)"


def history_models() -> list[Any]:
    """The history model of every audited model, in a stable order."""
    found = [
        model
        for model in apps.get_models()
        if issubclass(model, HistoricalChanges) and hasattr(model, "instance_type")
    ]
    return sorted(found, key=lambda m: m.instance_type._meta.label)


def type_choices() -> list[tuple[str, str]]:
    return [
        (m.instance_type._meta.label_lower, str(m.instance_type._meta.verbose_name).capitalize())
        for m in history_models()
    ]


@dataclasses.dataclass(frozen=True)
class Filters:
    actor: str = ""  # an email, a system actor's name, or the start of an API key's prefix
    type: str = ""  # app_label.model_name
    account_id: int | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None


def who(record) -> str:
    if record.history_user_id is not None:
        user = record.history_user
        if user is None:
            return f"user #{record.history_user_id}"
        return user.email if user.account_id is not None else f"{user.email} (operations)"
    if record.history_api_key:
        return f"API key {record.history_api_key}"
    if record.history_actor:
        return record.history_actor
    return "unknown"


def change_kind(record) -> str:
    if record.history_type == "+":
        return "Created"
    if record.history_type == "-":
        return "Removed"
    deleted_now = getattr(record, "deleted", None) is not None
    deleted_before = getattr(record, "prev_deleted", None) is not None
    if deleted_now and not deleted_before:
        return "Deleted"
    if deleted_before and not deleted_now:
        return "Undeleted"
    return "Changed"


def _account_filter(history_model, account_id: int) -> Q | None:
    model = history_model.instance_type
    if model._meta.label_lower == "accounts.account":
        return Q(id=account_id)
    names = {f.name for f in history_model._meta.fields}
    if "account" in names:
        return Q(account_id=account_id)
    return None  # not an account's row (an operator, the MCC catalogue)


def _actor_filter(actor: str) -> Q:
    actor = actor.strip()
    if "@" in actor:
        return Q(history_user__email__iexact=actor)
    return Q(history_actor=actor) | Q(history_api_key__startswith=actor)


def _queryset(history_model, filters: Filters, before: datetime.datetime | None):
    rows = history_model.objects.all()
    if filters.account_id is not None:
        condition = _account_filter(history_model, filters.account_id)
        if condition is None:
            return None
        rows = rows.filter(condition)
    if filters.actor:
        rows = rows.filter(_actor_filter(filters.actor))
    if filters.since is not None:
        rows = rows.filter(history_date__gte=filters.since)
    if filters.until is not None:
        rows = rows.filter(history_date__lt=filters.until)
    if before is not None:
        rows = rows.filter(history_date__lt=before)
    if any(f.name == "deleted" for f in history_model._meta.fields):
        earlier = history_model.objects.filter(
            id=OuterRef("id"), history_date__lt=OuterRef("history_date")
        ).order_by("-history_date")
        rows = rows.annotate(prev_deleted=Subquery(earlier.values("deleted")[:1]))
    return rows.select_related("history_user").order_by("-history_date")


def _streams(filters: Filters, before, per_model: int | None) -> list[Iterator]:
    streams = []
    for history_model in history_models():
        if filters.type and history_model.instance_type._meta.label_lower != filters.type:
            continue
        rows = _queryset(history_model, filters, before)
        if rows is None:
            continue
        streams.append(iter(rows[:per_model]) if per_model else rows.iterator(chunk_size=1000))
    return streams


def _merged(streams: list[Iterator]) -> Iterator:
    return heapq.merge(*streams, key=lambda record: record.history_date, reverse=True)


def audit_page(filters: Filters, *, before=None, size: int = PAGE_SIZE) -> list:
    """The newest `size` history rows (before `before`) of all models matching `filters`."""
    return list(itertools.islice(_merged(_streams(filters, before, size)), size))


def audit_stream(filters: Filters, *, limit: int) -> Iterable:
    """Every matching row, newest first, at most `limit` (the CSV export)."""
    return itertools.islice(_merged(_streams(filters, None, None)), limit)


@dataclasses.dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


def field_changes(record) -> list[FieldChange]:
    """What a change changed, field by field; personal data is named but never shown."""
    if record.history_type != "~":
        return []
    previous = record.prev_record
    if previous is None:
        return []
    model = record.instance_type
    changes = []
    for change in record.diff_against(previous).changes:
        if change.field == "deleted":
            continue
        try:
            field = model._meta.get_field(change.field)
        except LookupError:
            field = None
        if isinstance(field, BlindIndexField):
            continue  # derived from personal data: its change is the encrypted field's
        if isinstance(field, EncryptedFieldMixin):
            changes.append(FieldChange(change.field, _NOT_SHOWN, _NOT_SHOWN))
        else:
            label = str(getattr(field, "verbose_name", change.field))
            changes.append(FieldChange(label, _text(change.old), _text(change.new)))
    return changes


def _text(value) -> str:
    return "—" if value in (None, "") else str(value)


def object_label(record) -> str:
    try:
        return str(record.instance)
    except Exception:  # noqa: BLE001 - a label must never break the page; fall back to the id
        return f"#{record.id}"


def history_url(record) -> str:
    opts = record.instance_type._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=(record.id,))
    except NoReverseMatch:
        return ""
