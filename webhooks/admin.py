"""Operator console for the inbox of Lithic webhooks: read-only."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from core.admin import FinancialRecordAdmin
from webhooks.models import Webhook


@admin.register(Webhook)
class WebhookAdmin(FinancialRecordAdmin):
    list_display = (
        "webhook_id",
        "event_type",
        "status",
        "attempts",
        "account",
        "received_at",
        "next_attempt_at",
        "processed_at",
    )
    list_select_related = ("account",)
    list_filter = ("status", "event_type")
    search_fields = ("=webhook_id", "=event_token")
    search_help_text = "Exact webhook id or event token."
    # Sorting by any other column sorts the whole table.
    sortable_by = ("received_at",)
    readonly_fields = ("formatted_payload",)
    fieldsets = (
        (None, {"fields": ("webhook_id", "event_token", "event_type", "account")}),
        (
            "Processing",
            {
                "fields": (
                    "status",
                    "attempts",
                    "last_error",
                    ("received_at", "next_attempt_at", "processed_at"),
                )
            },
        ),
        ("Payload", {"fields": ("formatted_payload",)}),
    )

    @admin.display(description="payload")
    def formatted_payload(self, obj) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))
