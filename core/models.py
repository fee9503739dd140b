"""Abstract bases shared by the business models, and `core`'s own tables: named leases and
the generations of cached reads."""

from __future__ import annotations

import uuid

from django.db import models
from safedelete.models import NO_DELETE, SOFT_DELETE, SafeDeleteModel

from core.encryption import blind_index_fields
from core.history import AuditedAllManager, AuditedDeletedManager, AuditedManager


class BusinessModel(SafeDeleteModel):
    """Soft-deletable, audited row with a public UUID token.

    Deleting soft-deletes the row and nothing else: no cascade, so undelete restores exactly what
    was there. Foreign keys between business models are PROTECT, so a hard delete cannot null or
    remove references by accident.
    """

    _safedelete_policy = SOFT_DELETE
    deleted_by_cascade = None  # no cascading soft delete, so no column for it

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedManager()
    all_objects = AuditedAllManager()
    deleted_objects = AuditedDeletedManager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        """Soft-deleted (safedelete's `deleted` is set)."""
        return self.deleted is not None

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            update_fields = set(update_fields)
            for field in blind_index_fields(type(self)):
                if field.source in update_fields:
                    update_fields.add(field.name)
            update_fields.add("updated_at")
            kwargs["update_fields"] = update_fields
        super().save(*args, **kwargs)


LIVE = models.Q(deleted__isnull=True)
"""Condition for unique constraints that ignore soft-deleted rows."""


class RecordDeletionError(RuntimeError):
    """Financial records are permanent: they are corrected by new records, never deleted."""


class FinancialRecordQuerySet(models.QuerySet):
    def delete(self):
        raise RecordDeletionError(f"{self.model.__name__} rows cannot be deleted")

    delete.alters_data = True


class FinancialRecord(SafeDeleteModel):
    """Append-mostly money and event records (safedelete NO_DELETE), refusing deletion loudly.

    safedelete's NO_DELETE silently ignores `delete()`; a caller that believes it removed a
    transaction is worse off than one that gets an error, so these raise instead.
    """

    _safedelete_policy = NO_DELETE
    deleted_by_cascade = None

    objects = FinancialRecordQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise RecordDeletionError(f"{type(self).__name__} rows cannot be deleted")


class Lease(models.Model):
    """A named lock that outlives no transaction and needs no session: core.leases."""

    name = models.CharField(max_length=200, primary_key=True)
    holder = models.UUIDField()
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "core_leases"

    def __str__(self) -> str:
        return self.name


class CacheGeneration(models.Model):
    """How many times the rows behind a cached read have changed (core.response_cache).

    Bumped by database triggers in the transaction that changes them (core.migration_ops), so
    a reader sees the new generation exactly when it sees the new rows.
    """

    key = models.CharField(max_length=100, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "cache_generations"

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class CheckRun(models.Model):
    """The outcome of a scheduled check (`check_ledger`, `reconcile_lithic`): the console's
    overview shows the latest of each. One row per run; old rows may be pruned freely."""

    name = models.CharField(max_length=50)
    ran_at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    summary = models.TextField(blank=True, default="")

    class Meta:
        db_table = "core_check_runs"
        indexes = [models.Index(fields=["name", "-ran_at"], name="core_check_runs_latest_idx")]

    def __str__(self) -> str:
        return f"{self.name} at {self.ran_at}: {'ok' if self.ok else 'problems'}"


def check_run_record(name: str, *, ok: bool, summary: str) -> CheckRun:
    return CheckRun.objects.create(name=name, ok=ok, summary=summary[:4000])


def check_run_latest(name: str) -> CheckRun | None:
    return CheckRun.objects.filter(name=name).order_by("-ran_at").first()
