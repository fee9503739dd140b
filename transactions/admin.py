"""Operator console for card transactions and their Lithic events: read-only."""

from __future__ import annotations

from django.contrib import admin

from core.admin import FinancialRecordAdmin, FinancialRecordInline
from transactions.models import Transaction, TransactionEvent


class TransactionEventInline(FinancialRecordInline):
    model = TransactionEvent
    fk_name = "transaction"
    fields = ("token", "type", "amount", "result", "created", "recorded_at")
    readonly_fields = fields


@admin.register(Transaction)
class TransactionAdmin(FinancialRecordAdmin):
    list_display = (
        "token",
        "card",
        "amount",
        "currency",
        "merchant_descriptor",
        "mcc",
        "status",
        "transaction_date",
        "account",
    )
    list_select_related = ("card", "account")
    list_filter = ("status", "type")
    search_fields = ("=token",)
    search_help_text = "Exact transaction token."
    # Sorting by any other column sorts the whole table.
    sortable_by = ("transaction_date",)
    readonly_fields = ("token", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("token", "account", "card", "type", "status", "transaction_date")}),
        ("Amounts", {"fields": (("amount", "settled_amount", "currency"),)}),
        (
            "Merchant",
            {"fields": ("merchant_descriptor", ("merchant_city", "merchant_country"), "mcc")},
        ),
        ("Decision", {"fields": ("result", "declined_reason")}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    inlines = (TransactionEventInline,)


@admin.register(TransactionEvent)
class TransactionEventAdmin(FinancialRecordAdmin):
    list_display = ("token", "transaction", "type", "amount", "result", "created", "account")
    list_select_related = ("transaction", "account")
    list_filter = ("type",)
    search_fields = ("=token", "=transaction__token")
    search_help_text = "Exact event token or transaction token."
    sortable_by = ("created",)
    readonly_fields = ("recorded_at",)
    fields = (
        "token",
        "transaction",
        "account",
        "type",
        "amount",
        "result",
        "created",
        "recorded_at",
    )
