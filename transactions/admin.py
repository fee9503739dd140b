"""Operator console for card transactions and their Lithic events: read-only."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin.utils import flatten
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cards.models import Card
from core.admin import (
    FinancialRecordAdmin,
    FinancialRecordInline,
    PagePanel,
    change_page_panel,
    money_column,
)
from transactions import selectors
from transactions.models import (
    AccountFunds,
    BalanceReport,
    Dispute,
    DisputeEvent,
    LedgerEntry,
    SpendCounter,
    Transaction,
    TransactionEnhancedData,
    TransactionEvent,
    UnmatchedAuthorization,
)

# --- A card's page: its spend against each limit, and its latest transactions -----------------


@change_page_panel(Card)
def card_spend_panel(request, card) -> PagePanel:
    windows = selectors.card_limit_windows(card, timezone.now())
    return PagePanel(
        id="card-spend",
        title="Spend against limits",
        template="admin/transactions/panels/card_spend.html",
        context={"windows": windows},
    )


@change_page_panel(Card)
def card_transactions_panel(request, card) -> PagePanel | None:
    if not request.user.has_perm("transactions.view_transaction"):
        return None
    changelist = reverse("admin:transactions_transaction_changelist")
    return PagePanel(
        id="card-transactions",
        title="Latest transactions",
        template="admin/transactions/panels/transactions.html",
        context={
            "transactions": selectors.card_recent_transactions(card),
            "more_url": f"{changelist}?card__id__exact={card.pk}",
        },
    )


class TransactionEventInline(FinancialRecordInline):
    model = TransactionEvent
    fk_name = "transaction"
    fields = ("token", "source", "type", "amount", "result", "reason", "created", "recorded_at")
    readonly_fields = tuple(flatten(fields))


class DisputeInline(FinancialRecordInline):
    model = Dispute
    fk_name = "transaction"
    fields = ("case_id", "source", "status", "disposition", "amount", "credited", "opened_at")
    readonly_fields = tuple(flatten(fields))


class EnhancedDataInline(FinancialRecordInline):
    model = TransactionEnhancedData
    fk_name = "transaction"
    fields = ("token", "event_token", "common", "fleet", "updated_at")
    readonly_fields = tuple(flatten(fields))


@admin.register(Transaction)
class TransactionAdmin(FinancialRecordAdmin):
    list_display = (
        "token",
        "card",
        money_column("amount", currency_field="currency"),
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
    readonly_fields = ("token", "created_at", "updated_at", "decision_trace")
    fieldsets = (
        (None, {"fields": ("token", "account", "card", "type", "status", "transaction_date")}),
        (
            "Amounts",
            {
                "fields": (
                    ("amount", "settled_amount", "currency"),
                    ("hold_amount", "refunded_amount"),
                    ("profile", "counted"),
                )
            },
        ),
        (
            "Merchant",
            {"fields": ("merchant_descriptor", ("merchant_city", "merchant_country"), "mcc")},
        ),
        ("Decision", {"fields": ("result", "declined_reason", "decision_trace")}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    inlines = (TransactionEventInline, DisputeInline, EnhancedDataInline)

    @admin.display(description="Why was this approved or declined")
    def decision_trace(self, obj: Transaction) -> str:
        steps = (obj.decision or {}).get("steps") or []
        if not steps:
            return "No decision trace (not decided by the authorization engine)."
        rows = []
        for step in steps:
            if "rule" in step:
                passed = "passed" if step.get("passed") else "FAILED"
                details = {k: v for k, v in step.items() if k not in ("rule", "passed")}
                rows.append((step["rule"], passed, json.dumps(details, sort_keys=True)))
            else:
                rows.append(("result", step.get("result", ""), step.get("reason", "")))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>", rows)
        checked = (obj.decision or {}).get("checked_at", "")
        return format_html(
            "<p>Checked at {}</p><table><tr><th>rule</th><th>outcome</th><th>values at that "
            "moment</th></tr>{}</table>",
            checked,
            body,
        )


@admin.register(TransactionEvent)
class TransactionEventAdmin(FinancialRecordAdmin):
    list_display = (
        "token",
        "transaction",
        "source",
        "type",
        money_column("amount"),
        "result",
        "created",
        "account",
    )
    list_select_related = ("transaction", "account")
    list_filter = ("type", "source")
    search_fields = ("=token", "=transaction__token")
    search_help_text = "Exact event token or transaction token."
    sortable_by = ("created",)
    readonly_fields = ("recorded_at",)
    fields = (
        "token",
        "transaction",
        "account",
        "source",
        "type",
        "amount",
        "result",
        "reason",
        "network_event_token",
        "request_id",
        "decision",
        "created",
        "recorded_at",
    )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(FinancialRecordAdmin):
    list_display = (
        "id",
        "account",
        "kind",
        money_column("amount"),
        money_column("balance_after"),
        "transaction",
        "created_at",
    )
    list_select_related = ("account", "transaction")
    list_filter = ("kind",)
    search_fields = ("=event_token", "=transaction__token")
    search_help_text = "Exact event token or transaction token."
    sortable_by = ("id",)
    fields = (
        "account",
        "kind",
        "amount",
        "balance_after",
        "transaction",
        "event_token",
        "created_at",
    )
    readonly_fields = tuple(flatten(fields))


@admin.register(UnmatchedAuthorization)
class UnmatchedAuthorizationAdmin(FinancialRecordAdmin):
    list_display = ("token", "card_token", "result", "reason", "received_at")
    list_filter = ("result",)
    search_fields = ("=token", "=card_token")
    search_help_text = "Exact transaction token or card token."
    sortable_by = ("received_at",)
    fields = ("token", "card_token", "account", "result", "reason", "body", "received_at")
    readonly_fields = tuple(flatten(fields))


@admin.register(SpendCounter)
class SpendCounterAdmin(FinancialRecordAdmin):
    """Derived totals, kept by the engine and checked by `check_ledger`: read-only."""

    list_display = ("scope", "owner_id", "period", money_column("amount"), "account", "updated_at")
    list_select_related = ("account",)
    list_filter = ("scope",)
    search_fields = ("=owner_id",)
    search_help_text = "Exact card or profile id."
    sortable_by = ("period",)
    fields = ("account", "scope", "owner_id", "period", "amount", "updated_at")
    readonly_fields = tuple(flatten(fields))


@admin.register(AccountFunds)
class AccountFundsAdmin(FinancialRecordAdmin):
    """Open holds per account, beside the posted balance: read-only."""

    list_display = ("account", money_column("held"), "opened_at", "updated_at")
    list_select_related = ("account",)
    fields = ("account", "held", "opened_at", "updated_at")
    readonly_fields = tuple(flatten(fields))


class DisputeEventInline(FinancialRecordInline):
    model = DisputeEvent
    fk_name = "dispute"
    fields = ("created", "type", "action", "amount", "polarity", "reason", "credit")
    readonly_fields = tuple(flatten(fields))


@admin.register(Dispute)
class DisputeAdmin(FinancialRecordAdmin):
    """Disputes as Lithic reports them; what they credited is in the ledger (read-only)."""

    list_display = (
        "case_id",
        "source",
        "status",
        "disposition",
        money_column("amount"),
        money_column("credited"),
        "transaction",
        "account",
        "opened_at",
    )
    list_select_related = ("transaction", "account")
    list_filter = ("source", "status", "disposition")
    search_fields = ("=token", "=case_id", "=transaction_token")
    search_help_text = "Exact dispute token, case id or transaction token."
    sortable_by = ("opened_at",)
    fields = (
        "token",
        "source",
        "case_id",
        "network",
        ("account", "card"),
        ("transaction", "transaction_token"),
        ("status", "disposition", "reason"),
        ("amount", "currency"),
        ("recovered_amount", "written_off_amount", "denied_amount", "remaining_amount"),
        "credited",
        ("opened_at", "lithic_updated_at"),
        "payload",
        ("recorded_at", "updated_at"),
    )
    readonly_fields = tuple(flatten(fields))
    inlines = (DisputeEventInline,)


@admin.register(DisputeEvent)
class DisputeEventAdmin(FinancialRecordAdmin):
    list_display = (
        "token",
        "dispute",
        "type",
        "action",
        money_column("amount"),
        "credit",
        "created",
    )
    list_select_related = ("dispute",)
    list_filter = ("type",)
    search_fields = ("=token", "=dispute__token")
    search_help_text = "Exact event token or dispute token."
    sortable_by = ("created",)
    fields = (
        "token",
        "dispute",
        "account",
        ("type", "action", "polarity"),
        ("amount", "credit"),
        "reason",
        "created",
        "data",
        "recorded_at",
    )
    readonly_fields = tuple(flatten(fields))


@admin.register(TransactionEnhancedData)
class TransactionEnhancedDataAdmin(FinancialRecordAdmin):
    list_display = ("token", "transaction", "event_token", "account", "updated_at")
    list_select_related = ("transaction", "account")
    search_fields = ("=token", "=transaction__token", "=event_token")
    search_help_text = "Exact token, transaction token or event token."
    sortable_by = ("updated_at",)
    fields = ("token", "transaction", "account", "event_token", "common", "fleet", "updated_at")
    readonly_fields = tuple(flatten(fields))


@admin.register(BalanceReport)
class BalanceReportAdmin(FinancialRecordAdmin):
    """Lithic's balances beside ours: a report that differs is for reconciliation."""

    list_display = (
        "reported_at",
        "account",
        "financial_account_type",
        "lithic_total",
        "our_balance",
        "lithic_pending",
        "our_held",
        "matches",
        "difference",
    )
    list_select_related = ("account",)
    list_filter = ("matches", "financial_account_type")
    search_fields = ("=financial_account_token",)
    search_help_text = "Exact Lithic financial account token."
    sortable_by = ("reported_at",)
    fields = (
        ("account", "financial_account_token", "financial_account_type", "currency"),
        ("lithic_total", "lithic_pending", "lithic_available"),
        ("our_balance", "our_held", "our_available"),
        ("matches", "difference"),
        "last_transaction_token",
        ("reported_at", "recorded_at"),
    )
    readonly_fields = tuple(flatten(fields))
