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


WEBHOOK_STATUSES = [c.value for c in WebhookStatus]


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
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhooks"
        ordering = ("-received_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WEBHOOK_STATUSES), name="webhooks_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhooks_due_idx"),
            models.Index(fields=["event_type", "-received_at"], name="webhooks_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"
