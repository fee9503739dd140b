"""Operator console for the inbox of Lithic webhooks: read, retry, replay."""

from __future__ import annotations

import datetime
import json

from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext
from django.utils.html import format_html

from core.admin import FinancialRecordAdmin
from webhooks.models import Webhook
from webhooks.selectors import webhook_inbox_summary
from webhooks.services import webhook_replay, webhook_retry


def age_text(age: datetime.timedelta | None) -> str:
    """A short, exact-enough age for a queue: "3 s", "12 min 5 s", "2 h 14 min", "3 d 4 h"."""
    if age is None:
        return ""
    seconds = int(age.total_seconds())
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


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
                    ("locked_by", "locked_until"),
                )
            },
        ),
        ("Payload", {"fields": ("formatted_payload",)}),
    )
    actions = ("retry_events", "replay_events")

    @admin.display(description="payload")
    def formatted_payload(self, obj) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def changelist_view(self, request, extra_context=None):
        summary = webhook_inbox_summary()
        extra_context = {
            **(extra_context or {}),
            "inbox": summary,
            "inbox_oldest_pending": age_text(summary.oldest_pending_age),
        }
        return super().changelist_view(request, extra_context)

    # Retrying and replaying change a financial record's processing state, not its content:
    # a permission of their own, not "change".
    def has_retry_permission(self, request) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.retry_{opts.model_name}")

    @admin.action(permissions=["retry"], description="Retry selected failed or dead events now")
    def retry_events(self, request, queryset):
        requeued = webhook_retry(queryset=queryset, actor=request.user)
        self._report(
            request,
            queryset,
            requeued,
            done="queued for retry",
            rule="failed or dead ones are retried",
        )

    @admin.action(
        permissions=["retry"], description="Replay selected processed, ignored or dead events"
    )
    def replay_events(self, request, queryset):
        requeued = webhook_replay(queryset=queryset, actor=request.user)
        self._report(
            request,
            queryset,
            requeued,
            done="queued for replay",
            rule="processed, ignored or dead ones are replayed",
        )

    def _report(self, request, queryset, requeued, *, done: str, rule: str) -> None:
        skipped = queryset.count() - len(requeued)
        if requeued:
            self.message_user(
                request,
                f"{len(requeued)} {model_ngettext(self.opts, len(requeued))} {done}.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected {model_ngettext(self.opts, skipped)} skipped: only {rule}.",
                messages.WARNING,
            )
