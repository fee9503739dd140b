"""The inbox of events Lithic sends us: stored first, applied exactly once by a worker."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import FinancialRecord


class WebhookStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PROCESSING = "PROCESSING", "Processing"
    PROCESSED = "PROCESSED", "Processed"
    FAILED = "FAILED", "Failed (will retry)"
    DEAD = "DEAD", "Dead (retries exhausted)"
    IGNORED = "IGNORED", "Ignored (no handler)"


WEBHOOK_STATUSES = [c.value for c in WebhookStatus]
# Statuses a worker picks up once `next_attempt_at` has come.
DUE_STATUSES = [WebhookStatus.PENDING.value, WebhookStatus.FAILED.value]
RETRYABLE_STATUSES = [WebhookStatus.FAILED.value, WebhookStatus.DEAD.value]
REPLAYABLE_STATUSES = [
    WebhookStatus.PROCESSED.value,
    WebhookStatus.IGNORED.value,
    WebhookStatus.DEAD.value,
]


class Webhook(FinancialRecord):
    """One delivery from Lithic, keyed by its `webhook-id` header."""

    webhook_id = models.CharField(max_length=100, unique=True, help_text="webhook-id header")
    event_token = models.CharField(max_length=64, blank=True, default="", db_index=True)
    event_type = models.CharField(max_length=100)
    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        default=timezone.now,
        help_text="When a worker may next pick the event up (pending and failed events).",
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    # The claim of the worker processing the event; another worker may take the event over
    # only once `locked_until` has passed (the first worker died or hung).
    locked_by = models.CharField(max_length=100, blank=True, default="", db_default="")
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhooks"
        ordering = ("-received_at", "-id")
        permissions = (("retry_webhook", "Can retry and replay webhook events"),)
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WEBHOOK_STATUSES), name="webhooks_status_valid"
            ),
            # A row that waits for a worker must say when it is due, or no worker finds it.
            models.CheckConstraint(
                condition=~Q(status__in=DUE_STATUSES) | Q(next_attempt_at__isnull=False),
                name="webhooks_due_has_next_attempt",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=WebhookStatus.PROCESSING, locked_until__isnull=False)
                    & ~Q(locked_by="")
                )
                | (
                    ~Q(status=WebhookStatus.PROCESSING) & Q(locked_until__isnull=True, locked_by="")
                ),
                name="webhooks_lease_iff_processing",
            ),
            models.CheckConstraint(
                condition=~Q(status=WebhookStatus.PROCESSED) | Q(processed_at__isnull=False),
                name="webhooks_processed_has_processed_at",
            ),
        ]
        indexes = [
            # The workers' queue: due rows in the order they became due.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="webhooks_due_at_idx",
                condition=Q(status__in=DUE_STATUSES),
            ),
            # Claims whose lease may have run out.
            models.Index(
                fields=["locked_until"],
                name="webhooks_lease_idx",
                condition=Q(status=WebhookStatus.PROCESSING),
            ),
            # The console's status filter and the inbox counts above the list.
            models.Index(fields=["status", "received_at"], name="webhooks_status_idx"),
            models.Index(fields=["event_type", "-received_at"], name="webhooks_type_idx"),
            models.Index(fields=["-received_at", "-id"], name="webhooks_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"
