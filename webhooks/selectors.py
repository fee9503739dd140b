"""Reads of the inbox for the console."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.utils import timezone

from webhooks.models import Webhook, WebhookStatus

_WAITING_OR_STUCK = (
    WebhookStatus.PENDING,
    WebhookStatus.PROCESSING,
    WebhookStatus.FAILED,
    WebhookStatus.DEAD,
)


@dataclass(frozen=True)
class InboxSummary:
    pending: int
    processing: int
    failed: int
    dead: int
    oldest_pending_age: datetime.timedelta | None


def webhook_inbox_summary() -> InboxSummary:
    """Counts of events waiting or stuck, and how long the oldest pending one has waited.

    One query over the status index, whatever the size of the table (processed rows are not
    read).
    """
    counts = Webhook.objects.filter(status__in=_WAITING_OR_STUCK).aggregate(
        **{status.lower(): Count("pk", filter=Q(status=status)) for status in _WAITING_OR_STUCK},
        oldest=Min("received_at", filter=Q(status=WebhookStatus.PENDING)),
    )
    oldest = counts.pop("oldest")
    return InboxSummary(
        **counts,
        oldest_pending_age=(
            None if oldest is None else max(timezone.now() - oldest, datetime.timedelta(0))
        ),
    )
