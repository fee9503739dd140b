"""Soft delete and undelete of business rows, with the history row written by save()."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core.errors import DomainError


class UndeleteConflict(DomainError):
    code = "undelete_conflict"


@transaction.atomic
def soft_delete(*, obj) -> None:
    """Mark a business row deleted; it stays in the table and in every reference to it."""
    obj.delete()


@transaction.atomic
def undelete(*, obj) -> None:
    """Bring a soft-deleted row back; refuses if a live row now holds its unique values."""
    try:
        with transaction.atomic():
            obj.undelete()
    except IntegrityError as exc:
        raise UndeleteConflict(
            f"{obj._meta.verbose_name} '{obj}' cannot be restored: a live row has taken its "
            "unique value (name, email, ...). Rename or delete that row first."
        ) from exc
