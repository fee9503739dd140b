"""Getting local changes to Lithic: the outbox on the row, the push, its bookkeeping.

A service that changes something Lithic must hear about sends its app's signal
(`cards.signals.card_changed`, `spending.signals.spending_profile_changed`) inside its own
transaction; the receivers here call `sync_mark_pending` there and then, so the change and
"Lithic must get version N" commit together, or neither does. The domain apps never import this
package: they announce a change, the integration decides what Lithic must hear.
The push runs after the commit (`transaction.on_commit`), never inside the transaction, and the
`sync_lithic` worker retries whatever is still pending. Until Lithic confirms, the local row is
what the authorization responder decides on, so the local state is what protects us meanwhile.

Bookkeeping writes (status, version, errors, attempts) are conditional `UPDATE`s under
`history_bypass`: they are not business changes, the sync columns are excluded from the history
tables, and the condition on `lithic_version` is what keeps an older push from marking a newer
change as confirmed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.history import history_bypass
from core.leases import lease
from lithic_integration import gateway as lithic_gateway
from lithic_integration.errors import LithicError, LithicRejected
from spending.models import LithicSynced, LithicSyncStatus

log = logging.getLogger(__name__)

BOOKKEEPING = "Lithic sync bookkeeping (outbox columns, not business values)"

Push = Callable[[Any], None]


def _bookkeeping_rows(model: type[LithicSynced], **lookups) -> models.QuerySet:
    # Django's plain manager: safedelete's `all_objects.update()` still adds
    # `deleted IS NULL`, and a deleted profile's push (deactivating its rule) must be recorded.
    return model._base_manager.filter(**lookups)


def sync_backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter: a random wait up to base * 2^(attempts-1), capped."""
    base = float(settings.LITHIC_SYNC_BACKOFF_BASE_SECONDS)
    ceiling = min(
        base * (2 ** max(attempts - 1, 0)), float(settings.LITHIC_SYNC_BACKOFF_MAX_SECONDS)
    )
    # Half fixed, half random: never immediately, and many rows failing together spread out.
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


def sync_mark_pending(*, model: type[LithicSynced], pk: int, push: Push) -> None:
    """Record, in the caller's transaction, a local change of the row that Lithic must receive.

    With outbound sync off the row is LOCAL_ONLY and nothing is scheduled.
    """
    enabled = lithic_gateway.outbound_enabled()
    values = {
        "lithic_version": F("lithic_version") + 1,
        "lithic_sync_error": "",
        "lithic_sync_attempts": 0,
    }
    if enabled:
        # If the on-commit push never happens (the process died), the worker takes it from here.
        values["lithic_sync_status"] = LithicSyncStatus.PENDING
        values["lithic_next_attempt_at"] = timezone.now() + timedelta(
            seconds=float(settings.LITHIC_SYNC_BACKOFF_BASE_SECONDS)
        )
    else:
        values["lithic_sync_status"] = LithicSyncStatus.LOCAL_ONLY
        values["lithic_next_attempt_at"] = None
    with history_bypass(BOOKKEEPING):
        _bookkeeping_rows(model, pk=pk).update(**values)
    if enabled and not _push_scheduled(model, pk):
        transaction.on_commit(_PushOnCommit(model=model, pk=pk, push=push), robust=True)


@dataclass
class _PushOnCommit:
    """The push a transaction runs once it has committed (one per row, however many changes)."""

    model: type[LithicSynced]
    pk: int
    push: Push
    started: bool = False

    def __call__(self) -> None:
        self.started = True
        with lithic_gateway.short_budget():
            # A request is waiting: it does not queue behind another process's push.
            sync_push(model=self.model, pk=self.pk, push=self.push, wait=False)


def _push_scheduled(model: type[LithicSynced], pk: int) -> bool:
    """Whether this transaction already pushes the row on commit: one push carries every change
    (it reads the row then), and a second one would undo a failed push's backoff at once.

    A callback still registered belongs to this transaction or to a savepoint that is still
    open around this call (a rolled-back savepoint takes its callbacks with it), so it commits
    whenever the new change does; one that has started may have read the row already.
    """
    return any(
        isinstance(callback, _PushOnCommit)
        and callback.model is model
        and callback.pk == pk
        and not callback.started
        for _savepoints, callback, _robust in transaction.get_connection().run_on_commit
    )


def push_lease_name(model: type[LithicSynced], pk: int) -> str:
    """The name of the row's push lease (core.leases)."""
    return f"lithic_sync:{model._meta.db_table}:{pk}"


def _push_lease_seconds() -> float:
    """Longer than a push can take: every attempt of the SDK at its full timeout, and a margin."""
    attempts = int(settings.LITHIC_MAX_RETRIES) + 1
    return float(settings.LITHIC_TIMEOUT_SECONDS) * attempts + 30.0


@contextmanager
def _row_push_lock(model: type[LithicSynced], pk: int, *, wait: bool) -> Iterator[bool]:
    """Yields whether this process may push the row now (always, when `wait`).

    One push per row at a time, across processes: two pushes of different versions racing
    to Lithic could land in the wrong order while the newer one is recorded as confirmed.
    A lease, not a row lock or a session lock: it is held across the HTTP call, outside any
    transaction, and works behind PgBouncer in transaction mode (core.leases).
    """
    with lease(push_lease_name(model, pk), seconds=_push_lease_seconds(), wait=wait) as held:
        yield held


def sync_push(
    *, model: type[LithicSynced], pk: int, push: Push, force: bool = False, wait: bool = True
) -> str:
    """Push the row's current state to Lithic now; returns the sync status it ends in.

    Only PENDING rows are pushed unless `force` (an operator's "push now", which also takes
    LOCAL_ONLY and REJECTED rows). Failures are recorded on the row, never raised. Without
    `wait`, a row another process is pushing right now is left PENDING for `sync_lithic`
    (that push started before this change and will not mark it confirmed).
    """
    with _row_push_lock(model, pk, wait=wait) as held:
        if not held:
            return LithicSyncStatus.PENDING
        row = model._base_manager.filter(pk=pk).first()
        if row is None:
            return ""
        if not force and row.lithic_sync_status != LithicSyncStatus.PENDING:
            return row.lithic_sync_status
        if not lithic_gateway.outbound_enabled():
            return row.lithic_sync_status
        version = row.lithic_version
        try:
            push(row)
        except LithicRejected as exc:
            _record(model, pk, version, status=LithicSyncStatus.REJECTED, error=exc.message)
            return LithicSyncStatus.REJECTED
        except LithicError as exc:
            _record_failure(
                model, pk, version, attempts=row.lithic_sync_attempts, error=exc.message
            )
            return LithicSyncStatus.PENDING
        except Exception as exc:
            # A bug or a database hiccup in the push: kept as a failure to retry, and logged.
            log.exception("Lithic push of %s %s failed", model.__name__, pk)
            _record_failure(
                model, pk, version, attempts=row.lithic_sync_attempts, error=f"internal: {exc!r}"
            )
            return LithicSyncStatus.PENDING
        if _record(model, pk, version, status=LithicSyncStatus.SYNCED, error=""):
            return LithicSyncStatus.SYNCED
        return LithicSyncStatus.PENDING


def _record(model, pk: int, version: int, *, status: str, error: str) -> bool:
    """Record the outcome for `version`; a row changed meanwhile (newer version) is left alone."""
    values: dict[str, Any] = {"lithic_sync_status": status, "lithic_sync_error": error[:2000]}
    if status == LithicSyncStatus.SYNCED:
        values.update(
            lithic_synced_version=version,
            lithic_synced_at=timezone.now(),
            lithic_sync_attempts=0,
            lithic_next_attempt_at=None,
        )
    else:
        values.update(
            lithic_next_attempt_at=None, lithic_sync_attempts=F("lithic_sync_attempts") + 1
        )
    with history_bypass(BOOKKEEPING):
        return bool(_bookkeeping_rows(model, pk=pk, lithic_version=version).update(**values))


def _record_failure(model, pk: int, version: int, *, attempts: int, error: str) -> None:
    delay = sync_backoff_seconds(attempts + 1)
    with history_bypass(BOOKKEEPING):
        _bookkeeping_rows(model, pk=pk, lithic_version=version).update(
            lithic_sync_status=LithicSyncStatus.PENDING,
            lithic_sync_error=error[:2000],
            lithic_sync_attempts=F("lithic_sync_attempts") + 1,
            lithic_next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )


def sync_due(*, model: type[LithicSynced], limit: int, retry_now: bool = False) -> list[int]:
    """Ids of the rows the worker should push now (all pending ones with `retry_now`)."""
    rows = model._base_manager.filter(lithic_sync_status=LithicSyncStatus.PENDING)
    if not retry_now:
        rows = rows.filter(
            Q(lithic_next_attempt_at__isnull=True) | Q(lithic_next_attempt_at__lte=timezone.now())
        )
    return list(
        rows.order_by(F("lithic_next_attempt_at").asc(nulls_first=True), "pk").values_list(
            "pk", flat=True
        )[:limit]
    )


def sync_counts(*, model: type[LithicSynced]) -> dict[str, int]:
    """How many live rows are in each sync status (for the console's banner)."""
    counts = dict.fromkeys(LithicSyncStatus.values, 0)
    for row in model._default_manager.values("lithic_sync_status").annotate(n=models.Count("pk")):
        counts[row["lithic_sync_status"]] = row["n"]
    return counts


# --- The domain's announcements ----------------------------------------------------------------


def connect_receivers() -> None:
    """Listen to the domain apps' change signals (called once, from the app's `ready()`)."""
    from cards.signals import card_changed
    from spending.signals import spending_profile_changed

    card_changed.connect(_card_changed, dispatch_uid="lithic_outbox_card_changed")
    spending_profile_changed.connect(
        _profile_changed, dispatch_uid="lithic_outbox_spending_profile_changed"
    )


def _card_changed(sender: type[LithicSynced], *, pk: int, **kwargs: Any) -> None:
    from lithic_integration.cards import card_push

    sync_mark_pending(model=sender, pk=pk, push=card_push)


def _profile_changed(sender: type[LithicSynced], *, pk: int, **kwargs: Any) -> None:
    from lithic_integration.auth_rules import spending_profile_push

    sync_mark_pending(model=sender, pk=pk, push=spending_profile_push)
