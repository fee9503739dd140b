"""History that cannot be skipped by accident.

django-simple-history records `save()` and `delete()`, but not `QuerySet.update()`,
`bulk_update()` or raw SQL. Audited querysets therefore refuse `update()` and `bulk_update()`;
writes go through services that save rows one by one, or through `audited_bulk_update` /
`audited_bulk_create`, which write the history rows in the same transaction.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import models
from safedelete.managers import SafeDeleteAllManager, SafeDeleteDeletedManager, SafeDeleteManager
from safedelete.queryset import SafeDeleteQueryset
from simple_history.models import HistoricalRecords
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from core.audit import current_audit, history_user_for


class HistoryBypassError(RuntimeError):
    """A write that would change audited rows without writing their history."""


_bypass_reason: contextvars.ContextVar[str] = contextvars.ContextVar("history_bypass", default="")


@contextmanager
def history_bypass(reason: str) -> Iterator[None]:
    """Allow bulk writes that do not change business values (e.g. re-encrypting ciphertext)."""
    if not reason:
        raise ValueError("a history bypass needs a stated reason")
    token = _bypass_reason.set(reason)
    try:
        yield
    finally:
        _bypass_reason.reset(token)


class AuditedQuerySet(SafeDeleteQueryset):
    def update(self, **kwargs):
        if not _bypass_reason.get():
            raise HistoryBypassError(
                f"{self.model.__name__}.objects.update() would skip the change history; "
                "save each row through its service, or use core.history.audited_bulk_update()."
            )
        return super().update(**kwargs)

    update.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        if not _bypass_reason.get():
            raise HistoryBypassError(
                f"{self.model.__name__}.objects.bulk_update() would skip the change history; "
                "use core.history.audited_bulk_update()."
            )
        return super().bulk_update(objs, fields, batch_size=batch_size)

    bulk_update.alters_data = True


class AuditedManager(SafeDeleteManager):
    _queryset_class = AuditedQuerySet


class AuditedAllManager(SafeDeleteAllManager):
    _queryset_class = AuditedQuerySet


class AuditedDeletedManager(SafeDeleteDeletedManager):
    _queryset_class = AuditedQuerySet


class AuditedHistoricalModel(models.Model):
    """Columns every history row carries besides django-simple-history's own."""

    history_ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    history_user_agent = models.CharField("user agent", max_length=512, blank=True, default="")
    history_actor = models.CharField(
        "system actor",
        max_length=100,
        blank=True,
        default="",
        help_text="The command or worker that acted, e.g. command:load_mcc",
    )
    history_api_key = models.CharField("API key", max_length=64, blank=True, default="")

    class Meta:
        abstract = True


def audited_history(table_name: str, *, excluded_fields: Sequence[str] = ()) -> HistoricalRecords:
    return HistoricalRecords(
        table_name=table_name,
        bases=[AuditedHistoricalModel],
        get_user=history_user_for,
        excluded_fields=list(excluded_fields),
        user_related_name="+",
    )


def _bulk_history_kwargs() -> dict:
    context = current_audit()
    return {
        "default_user": context.acting_user(),
        "custom_historical_attrs": context.history_attrs(),
    }


def audited_bulk_create(model, objs: Iterable[models.Model], *, batch_size: int = 500):
    """bulk_create with one history row per created object, in one transaction."""
    return bulk_create_with_history(
        list(objs), model, batch_size=batch_size, **_bulk_history_kwargs()
    )


def audited_bulk_update(
    model, objs: Iterable[models.Model], fields: Sequence[str], *, batch_size: int = 500
) -> int:
    """bulk_update with one history row per updated object, in one transaction."""
    with history_bypass("history written by bulk_update_with_history"):
        return bulk_update_with_history(
            list(objs), model, list(fields), batch_size=batch_size, **_bulk_history_kwargs()
        )
