"""Reads of the inbox for the console."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection

# One pass over the status index, whatever the table's size.
_SUMMARY_SQL = """
    SELECT count(*) FILTER (WHERE status = 'PENDING'),
           count(*) FILTER (WHERE status = 'PROCESSING'),
           count(*) FILTER (WHERE status = 'FAILED'),
           count(*) FILTER (WHERE status = 'DEAD'),
           min(received_at) FILTER (WHERE status = 'PENDING'),
           now()
    FROM webhooks
    WHERE status IN ('PENDING', 'PROCESSING', 'FAILED', 'DEAD')
"""


@dataclass(frozen=True)
class InboxSummary:
    pending: int
    processing: int
    failed: int
    dead: int
    oldest_pending_age: datetime.timedelta | None


def webhook_inbox_summary() -> InboxSummary:
    """Counts of events waiting or stuck, and how long the oldest pending one has waited."""
    with connection.cursor() as cursor:
        cursor.execute(_SUMMARY_SQL)
        pending, processing, failed, dead, oldest, now = cursor.fetchone()
    return InboxSummary(
        pending=pending,
        processing=processing,
        failed=failed,
        dead=dead,
        oldest_pending_age=None if oldest is None else max(now - oldest, datetime.timedelta(0)),
    )
