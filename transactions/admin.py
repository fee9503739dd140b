"""Operator console for card transactions and their Lithic events: read-only."""

from __future__ import annotations

import re

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten, quote
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from cards.models import Card
from core.admin import (
    FinancialRecordAdmin,
    FinancialRecordInline,
    PagePanel,
    as_uuid,
    change_page_panel,
    money_column,
)
from core.filters import InputFilter, parse_amount, range_filter
from transactions import selectors
from transactions.explain import (
    decision_checked_at,
    decision_mccs,
    decision_result,
    decision_sentences,
    decision_title,
    event_sentence,
    mcc_descriptions,
)
from transactions.models import (
    EVENT_TYPES,
    AccountFunds,
    BalanceReport,
    Dispute,
    DisputeEvent,
    EventSource,
    LedgerEntry,
    MerchantName,
    SpendCounter,
    Transaction,
    TransactionEnhancedData,
    TransactionEvent,
    TransactionStatus,
    UnmatchedAuthorization,
)

# --- A card's page: its spend against each limit, and its latest transactions -----------------


@change_page_panel(Card)
def card_spend_panel(request, card) -> PagePanel | None:
    if not request.user.has_perm("transactions.view_spendcounter"):
        return None
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


# --- A transaction's page: its decision, its events, and who it belongs to -----------------------

EVENTS_SHOWN = 200


def _transaction_events(txn: Transaction) -> list[TransactionEvent]:
    """The transaction's events, oldest first (one more than shown, to tell there are more);
    read once per page, the decision and timeline panels both use them."""
    events = getattr(txn, "_console_events", None)
    if events is None:
        events = list(
            TransactionEvent.objects.filter(transaction_id=txn.pk).order_by("created", "id")[
                : EVENTS_SHOWN + 1
            ]
        )
        txn._console_events = events  # type: ignore[attr-defined]
    return events


@change_page_panel(Transaction)
def transaction_decision_panel(request, txn: Transaction) -> PagePanel:
    """Why the authorization engine approved or declined it, and each later request's why."""
    later = []
    if request.user.has_perm("transactions.view_transactionevent"):
        later = [
            event
            for event in _transaction_events(txn)[:EVENTS_SHOWN]
            if event.source == EventSource.ASA and event.decision is not None
        ]
    # One query for the names of every merchant category the page's traces mention.
    names = mcc_descriptions(decision_mccs([txn.decision, *(e.decision for e in later)]))
    sentences = decision_sentences(txn.decision, currency=txn.currency, mcc_names=names)
    engine_result = decision_result(txn.decision)
    lithic_differs = bool(txn.result and engine_result and txn.result != engine_result)
    return PagePanel(
        id="transaction-decision",
        title=decision_title(sentences),
        template="admin/transactions/panels/decision.html",
        context={
            "currency": txn.currency,
            "verdict": sentences[0],
            "rules": sentences[1:],
            "checked_at": decision_checked_at(txn.decision),
            "lithic_result": txn.result if lithic_differs else "",
            "later": [
                {
                    "event": event,
                    "checked_at": decision_checked_at(event.decision) or event.created,
                    "sentences": decision_sentences(
                        event.decision, currency=txn.currency, mcc_names=names
                    ),
                }
                for event in later
            ],
        },
    )


@change_page_panel(Transaction)
def transaction_timeline_panel(request, txn: Transaction) -> PagePanel | None:
    """The transaction's events, oldest first, each a sentence."""
    if not request.user.has_perm("transactions.view_transactionevent"):
        return None
    events = _transaction_events(txn)
    changelist = reverse("admin:transactions_transactionevent_changelist")
    return PagePanel(
        id="transaction-timeline",
        title="Timeline",
        template="admin/transactions/panels/timeline.html",
        context={
            "rows": [
                {
                    "event": event,
                    "text": event_sentence(
                        event_type=event.type,
                        result=event.result,
                        reason=event.reason,
                        amount=event.amount,
                        source=event.source,
                        currency=txn.currency,
                        type_label=event.get_type_display() if event.type in EVENT_TYPES else "",
                    ),
                }
                for event in events[:EVENTS_SHOWN]
            ],
            "more_url": f"{changelist}?q={txn.token}" if len(events) > EVENTS_SHOWN else "",
        },
    )


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


# A search by part of a merchant's name looks at this many names at most.
MERCHANTS_MATCHED = 500

# The results a decline carries: the authorization engine's, then the commonest of Lithic's own
# (its transaction `result` enum); any other is reachable as ?result__exact=CODE.
DECLINE_RESULTS = (
    "CARD_PAUSED", "UNAUTHORIZED_MERCHANT", "VELOCITY_EXCEEDED", "INSUFFICIENT_FUNDS",
    "SUSPECTED_FRAUD", "CARD_CLOSED", "CARD_SPEND_LIMIT_EXCEEDED", "ACCOUNT_INACTIVE",
    "CUSTOMER_ASA_TIMEOUT", "DECLINED",
)  # fmt: skip


class DeclinedReasonFilter(admin.SimpleListFilter):
    """The Lithic result of a decline (the engine's codes, and Lithic's own)."""

    title = "declined reason"
    parameter_name = "result__exact"

    def lookups(self, request, model_admin):
        return [(code, code.replace("_", " ").lower()) for code in DECLINE_RESULTS]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=TransactionStatus.DECLINED, result=self.value())
        return queryset


class CardFilter(InputFilter):
    """A card by its last four digits or its token (or Lithic token)."""

    title = "card"
    inputs = (("card", "last four or token", "4242"),)

    def apply(self, queryset, values):
        term = values["card"]
        token = as_uuid(term)
        if token is not None:
            cards = Card.all_objects.filter(Q(token=token) | Q(lithic_card_token=token))
        elif re.fullmatch(r"[0-9]{4}", term):
            cards = Card.all_objects.filter(last_four=term)
        else:
            raise IncorrectLookupParameters("a card is its last four digits or a token")
        return queryset.filter(card_id__in=list(cards.values_list("pk", flat=True)[:1000]))


class MccFilter(InputFilter):
    title = "merchant category"
    inputs = (("mcc__exact", "MCC", "5812"),)

    def parse(self, parameter, value):
        if not re.fullmatch(r"[0-9]{4}", value.strip()):
            raise ValueError("an MCC is four digits")
        return value.strip()

    def apply(self, queryset, values):
        return queryset.filter(**values)


@admin.register(Transaction)
class TransactionAdmin(FinancialRecordAdmin):
    """A transaction, who it belongs to, and (in panels below the form) why it was approved or
    declined and what happened to it since; its webhook deliveries are the webhooks app's."""

    list_display = (
        "short_token",
        "transaction_date",
        "card",
        "account",
        "merchant_descriptor",
        "mcc",
        money_column("amount", currency_field="currency"),
        "status",
        "declined_because",
    )
    list_select_related = ("card", "account")
    list_filter = (
        "status",
        DeclinedReasonFilter,
        range_filter("transaction_date", "date (UTC)", kind="time"),
        range_filter("amount", "amount", kind="amount"),
        CardFilter,
        MccFilter,
        ("account", admin.RelatedFieldListFilter),
        "type",
    )
    search_fields = ("=token",)
    search_help_text = (
        "A transaction token, a card's last four digits, an amount with its cents (12.50), or "
        "part of a merchant's name."
    )
    # Sorting by any other column sorts the whole table.
    sortable_by = ("transaction_date",)
    readonly_fields = (
        "token",
        "created_at",
        "updated_at",
        "account_link",
        "card_link",
        "cardholder_link",
        "decision_summary",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "token",
                    "account_link",
                    "card_link",
                    "cardholder_link",
                    "type",
                    "status",
                    "transaction_date",
                )
            },
        ),
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
        ("Decision", {"fields": ("result", "declined_reason", "decision_summary")}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    # The events are the timeline panel (transaction_timeline_panel), not an inline.
    inlines = (DisputeInline, EnhancedDataInline)

    @admin.display(description="token", ordering="transaction_date")
    def short_token(self, obj: Transaction) -> str:
        return format_html('<span title="{}">{}…</span>', obj.token, str(obj.token)[:8])

    @admin.display(description="declined because")
    def declined_because(self, obj: Transaction) -> str:
        if obj.status != TransactionStatus.DECLINED:
            return ""
        return format_html(
            '<span title="{}">{}</span>', obj.declined_reason, obj.result or "declined"
        )

    def get_search_results(self, request, queryset, search_term):
        """A token exactly; four digits: the cards with that last four; an amount with its
        cents; anything else: part of the merchant's name."""
        term = search_term.strip()
        if not term or as_uuid(term):
            return super().get_search_results(request, queryset, search_term)
        if re.fullmatch(r"[0-9]{4}", term):
            cards = Card.all_objects.filter(last_four=term).values_list("pk", flat=True)[:1000]
            return queryset.filter(card_id__in=list(cards)), False
        if re.fullmatch(r"\$?[0-9][0-9,]*\.[0-9]{2}", term):
            return queryset.filter(amount=parse_amount(term)), False
        # The names that match (merchant_names' trigram index), then their transactions by
        # name (an index on merchant and date): a LIKE on transactions itself would run after
        # row-level security, on every row (decision 64).
        names = MerchantName.objects.filter(name__icontains=term).values_list("name", flat=True)
        return queryset.filter(merchant_descriptor__in=list(names[:MERCHANTS_MATCHED])), False

    @admin.display(description="account")
    def account_link(self, obj: Transaction) -> str:
        url = reverse("admin:accounts_account_change", args=(quote(obj.account_id),))
        return format_html('<a href="{}" id="transaction-account">{}</a>', url, obj.account)

    @admin.display(description="card")
    def card_link(self, obj: Transaction) -> str:
        card = obj.card
        url = reverse("admin:cards_card_change", args=(quote(card.pk),))
        return format_html(
            '<a href="{}" id="transaction-card">{}</a> ({})', url, card, card.get_state_display()
        )

    @admin.display(description="cardholder")
    def cardholder_link(self, obj: Transaction) -> str:
        """Who held the card when it was authorized; for a transaction recorded before that was
        kept, the card's holder now, said as such."""
        holder_id = obj.cardholder_id
        now = ""
        if holder_id is None:
            holder_id = obj.card.cardholder_id
            if holder_id is None:
                return "None: the card had no cardholder of its own."
            now = " (the card's holder now; not recorded at the time)"
        # Only the columns shown: a whole user row would decrypt the cardholder's personal data.
        row = (
            User.all_objects.filter(pk=holder_id)
            .values_list("email", "first_name", "last_name")
            .first()
        )
        if row is None:
            return f"User {holder_id} (not found)"
        email, first, last = row
        name = f"{first} {last}".strip()
        url = reverse("admin:accounts_user_change", args=(quote(holder_id),))
        return format_html(
            '<a href="{}" id="transaction-cardholder">{}</a>{}',
            url,
            f"{name} <{email}>" if name else email,
            now,
        )

    @admin.display(description="engine's verdict")
    def decision_summary(self, obj: Transaction) -> str:
        sentences = decision_sentences(obj.decision, currency=obj.currency)
        if len(sentences) == 1:
            return sentences[0].text
        return format_html(
            '{} <a href="#transaction-decision">Why, rule by rule</a>', sentences[0].text
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
