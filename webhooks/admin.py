"""Operator console for the inbox of Lithic webhooks: read, retry, replay; and, on a
transaction's page, the deliveries that touched it (the transactions app cannot know them:
webhooks sits above it)."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext, quote
from django.urls import reverse
from django.utils.html import format_html

from cards.models import Card
from core.admin import FinancialRecordAdmin, PagePanel, change_page_panel
from core.money import format_money
from core.panels import when
from transactions.models import Dispute, Transaction, TransactionEnhancedData
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


# --- What a delivery is about, both ways ------------------------------------------------------

DELIVERIES_SHOWN = 50


@change_page_panel(Transaction)
def transaction_deliveries_panel(request, txn: Transaction) -> PagePanel | None:
    """The deliveries of Lithic events about the transaction, oldest first.

    Lithic names an event's object by its `token`, which the inbox keeps as `event_token`
    (indexed): the transaction's own for `card_transaction.updated`, the dispute's for
    `dispute_transaction.*` and `dispute.updated`, the enhanced data's for
    `card_transaction.enhanced_data.*`. Our authorization responder's requests are not
    inbox deliveries; they are the timeline's events "from the authorization engine".
    """
    if not request.user.has_perm("webhooks.view_webhook"):
        return None
    tokens = {str(txn.token)}
    for model in (Dispute, TransactionEnhancedData):
        found = model.objects.filter(transaction_id=txn.pk).values_list("token", flat=True)
        tokens.update(str(token) for token in found)
    # Not the payloads: a transaction object is kilobytes, and the list shows none of it.
    shown = (
        "webhook_id",
        "event_type",
        "status",
        "attempts",
        "last_error",
        "received_at",
        "processed_at",
    )
    deliveries = list(
        Webhook.objects.filter(event_token__in=sorted(tokens))
        .only(*shown)
        .order_by("received_at", "id")[: DELIVERIES_SHOWN + 1]
    )
    changelist = reverse("admin:webhooks_webhook_changelist")
    return PagePanel(
        id="transaction-webhooks",
        title="Webhook deliveries",
        template="admin/webhooks/panels/transaction_deliveries.html",
        context={
            "deliveries": deliveries[:DELIVERIES_SHOWN],
            "more_url": f"{changelist}?q={txn.token}" if len(deliveries) > DELIVERIES_SHOWN else "",
        },
    )


@change_page_panel(Webhook)
def webhook_subject_panel(request, webhook: Webhook) -> PagePanel | None:
    """The transaction, card or dispute the delivery's event is about, each a link."""
    user = request.user
    visible = {
        "transaction": user.has_perm("transactions.view_transaction"),
        "dispute": user.has_perm("transactions.view_dispute"),
        "card": user.has_perm("cards.view_card"),
    }
    if not any(visible.values()):
        return None
    payload = webhook.payload if isinstance(webhook.payload, dict) else {}
    rows: list[dict[str, str]] = []
    if visible["transaction"]:
        rows += _transaction_rows(_transaction_tokens(webhook.event_type, payload))
    if visible["dispute"] and webhook.event_type.startswith("dispute"):
        rows += _dispute_rows(_tokens([payload.get("token")]))
    if visible["card"]:
        rows += _card_rows(_tokens([payload.get("card_token")]))
    return PagePanel(
        id="webhook-subject",
        title="Applied to",
        template="admin/webhooks/panels/subject.html",
        context={"rows": rows},
    )


def _tokens(values: Iterable[Any]) -> list[uuid.UUID]:
    """The values that are UUIDs, once each, in order; anything else in a payload is skipped."""
    tokens: list[uuid.UUID] = []
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            token = uuid.UUID(value)
        except ValueError:
            continue
        if token not in tokens:
            tokens.append(token)
    return tokens


def _transaction_tokens(event_type: str, payload: dict[str, Any]) -> list[uuid.UUID]:
    series = payload.get("transaction_series")
    return _tokens(
        [
            # card_transaction.updated is the transaction object itself.
            payload.get("token") if event_type == "card_transaction.updated" else None,
            # Enhanced data and Chargebacks API disputes.
            payload.get("transaction_token"),
            # Managed disputes.
            series.get("related_transaction_token") if isinstance(series, dict) else None,
        ]
    )


def _not_here(kind: str, token: uuid.UUID) -> dict[str, str]:
    return {"kind": kind, "url": "", "text": f"{token}: not recorded here (yet)"}


def _transaction_rows(tokens: list[uuid.UUID]) -> list[dict[str, str]]:
    if not tokens:
        return []
    found = {t.token: t for t in Transaction.objects.filter(token__in=tokens)}
    rows = []
    for token in tokens:
        txn = found.get(token)
        if txn is None:
            rows.append(_not_here("Transaction", token))
            continue
        merchant = txn.merchant_descriptor or "an unnamed merchant"
        rows.append(
            {
                "kind": "Transaction",
                "url": reverse("admin:transactions_transaction_change", args=(quote(txn.pk),)),
                "text": f"{format_money(txn.amount, txn.currency)} at {merchant}, "
                f"{txn.get_status_display().lower()}, {when(txn.transaction_date)}",
            }
        )
    return rows


def _dispute_rows(tokens: list[uuid.UUID]) -> list[dict[str, str]]:
    if not tokens:
        return []
    found = {d.token: d for d in Dispute.objects.filter(token__in=tokens)}
    return [
        {
            "kind": "Dispute",
            "url": reverse("admin:transactions_dispute_change", args=(quote(found[token].pk),)),
            "text": str(found[token]),
        }
        if token in found
        else _not_here("Dispute", token)
        for token in tokens
    ]


def _card_rows(tokens: list[uuid.UUID]) -> list[dict[str, str]]:
    if not tokens:
        return []
    # A deleted card is still the card the event was about.
    found = {c.lithic_card_token: c for c in Card.all_objects.filter(lithic_card_token__in=tokens)}
    return [
        {
            "kind": "Card",
            "url": reverse("admin:cards_card_change", args=(quote(found[token].pk),)),
            "text": f"{found[token]} ({found[token].get_state_display().lower()})",
        }
        if token in found
        else _not_here("Card", token)
        for token in tokens
    ]
