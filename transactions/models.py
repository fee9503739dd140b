"""Card transactions and the Lithic events that make them up.

Transactions are financial records: never deleted (corrected by later events), no per-row
django-simple-history — the TransactionEvent rows are their append-only history.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import FinancialRecord

ZERO = Decimal("0.00")


class TransactionStatus(models.TextChoices):
    """Lithic's transaction `status`, verbatim."""

    PENDING = "PENDING", "Pending"
    SETTLED = "SETTLED", "Settled"
    DECLINED = "DECLINED", "Declined"
    VOIDED = "VOIDED", "Voided"
    EXPIRED = "EXPIRED", "Expired"


class TransactionType(models.TextChoices):
    """The kind of authorization Lithic asked about (the ASA request's `status`)."""

    AUTHORIZATION = "AUTHORIZATION", "Authorization"
    CREDIT_AUTHORIZATION = "CREDIT_AUTHORIZATION", "Credit authorization"
    FINANCIAL_AUTHORIZATION = "FINANCIAL_AUTHORIZATION", "Financial authorization"
    FINANCIAL_CREDIT_AUTHORIZATION = "FINANCIAL_CREDIT_AUTHORIZATION", "Financial credit auth."
    BALANCE_INQUIRY = "BALANCE_INQUIRY", "Balance inquiry"


class EventType(models.TextChoices):
    """Lithic's transaction event `type`, verbatim."""

    AUTHORIZATION = "AUTHORIZATION", "Authorization"
    AUTHORIZATION_ADVICE = "AUTHORIZATION_ADVICE", "Authorization advice"
    AUTHORIZATION_EXPIRY = "AUTHORIZATION_EXPIRY", "Authorization expiry"
    AUTHORIZATION_REVERSAL = "AUTHORIZATION_REVERSAL", "Authorization reversal"
    BALANCE_INQUIRY = "BALANCE_INQUIRY", "Balance inquiry"
    CLEARING = "CLEARING", "Clearing"
    CORRECTION_CREDIT = "CORRECTION_CREDIT", "Correction credit"
    CORRECTION_DEBIT = "CORRECTION_DEBIT", "Correction debit"
    CREDIT_AUTHORIZATION = "CREDIT_AUTHORIZATION", "Credit authorization"
    CREDIT_AUTHORIZATION_ADVICE = "CREDIT_AUTHORIZATION_ADVICE", "Credit authorization advice"
    FINANCIAL_AUTHORIZATION = "FINANCIAL_AUTHORIZATION", "Financial authorization"
    FINANCIAL_CREDIT_AUTHORIZATION = "FINANCIAL_CREDIT_AUTHORIZATION", "Financial credit auth."
    RETURN = "RETURN", "Return"
    RETURN_REVERSAL = "RETURN_REVERSAL", "Return reversal"


TRANSACTION_STATUSES = [c.value for c in TransactionStatus]
TRANSACTION_TYPES = [c.value for c in TransactionType]
EVENT_TYPES = [c.value for c in EventType]


class Transaction(FinancialRecord):
    """One card transaction as Lithic reports it; `token` is Lithic's transaction token."""

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="transactions"
    )
    card = models.ForeignKey("cards.Card", on_delete=models.PROTECT, related_name="transactions")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    settled_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default="USD")
    merchant_descriptor = models.CharField(max_length=255, blank=True, default="")
    merchant_city = models.CharField(max_length=100, blank=True, default="")
    merchant_country = models.CharField(max_length=3, blank=True, default="")
    mcc = models.CharField(max_length=4, blank=True, default="")
    type = models.CharField(
        max_length=32, choices=TransactionType.choices, default=TransactionType.AUTHORIZATION
    )
    status = models.CharField(max_length=10, choices=TransactionStatus.choices)
    result = models.CharField(max_length=40, blank=True, default="", help_text="Lithic result")
    declined_reason = models.CharField(max_length=255, blank=True, default="")
    transaction_date = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # What the authorization engine and the post-authorization services maintain. Database
    # defaults, so bulk loads that do not name these columns (seed_demo's COPY) still work.
    hold_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=ZERO,
        db_default=ZERO,
        help_text="Open hold on the account's available balance",
    )
    refunded_amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO
    )
    profile = models.ForeignKey(
        "spending.SpendingProfile",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The spending profile whose limit this transaction counted against",
    )
    counted = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Counted in the spend counters (approved by the authorization engine)",
    )
    decision = models.JSONField(
        null=True, blank=True, help_text="Each rule checked at authorization, in order"
    )

    class Meta:
        db_table = "transactions"
        ordering = ("-transaction_date", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TRANSACTION_STATUSES), name="transactions_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(type__in=TRANSACTION_TYPES), name="transactions_type_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="transactions_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(settled_amount__gte=0), name="transactions_settled_amount_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="transactions_currency_iso4217"
            ),
            models.CheckConstraint(
                condition=Q(mcc="") | Q(mcc__regex=r"^[0-9]{4}$"), name="transactions_mcc_format"
            ),
            models.CheckConstraint(
                condition=~Q(status="DECLINED") | ~Q(declined_reason=""),
                name="transactions_declined_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(hold_amount__gte=0), name="transactions_hold_amount_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & Q(refunded_amount__lte=models.F("settled_amount")),
                name="transactions_settled_covers_refunded",
            ),
            models.CheckConstraint(
                condition=Q(hold_amount=0) | Q(status="PENDING"),
                name="transactions_hold_only_while_pending",
            ),
        ]
        indexes = [
            # The three read paths: a card's history, an account's history, and an account's
            # transactions by status (open holds, declines) - all newest first.
            models.Index(fields=["card", "-transaction_date"], name="transactions_card_date_idx"),
            models.Index(
                fields=["account", "-transaction_date"], name="transactions_account_date_idx"
            ),
            models.Index(
                fields=["account", "status", "-transaction_date"],
                name="transactions_acct_status_idx",
            ),
            # The operator console's program-wide list, newest first.
            models.Index(fields=["-transaction_date", "-id"], name="transactions_date_idx"),
            # Open holds of an account: check_ledger and hold reconciliation.
            models.Index(
                fields=["account"],
                condition=Q(hold_amount__gt=0),
                name="transactions_open_hold_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} {self.merchant_descriptor} ({self.status})"


class TransactionEvent(FinancialRecord):
    """One of Lithic's events on a transaction (authorization, clearing, reversal, ...)."""

    token = models.UUIDField(unique=True, help_text="Lithic's event token")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        related_name="events",
        # Transactions will be range-partitioned by date; references into them carry no FK.
        db_constraint=False,
    )
    type = models.CharField(max_length=40, choices=EventType.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    result = models.CharField(max_length=40, default="APPROVED")
    created = models.DateTimeField(help_text="When Lithic says the event happened")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "transaction_events"
        ordering = ("created", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=EVENT_TYPES), name="transaction_events_type_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["transaction", "created"], name="transaction_events_txn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.amount}"


class CounterScope(models.TextChoices):
    CARD = "CARD", "Card"
    PROFILE = "PROFILE", "Spending profile"


LIFETIME_PERIOD = "life"


class SpendCounter(models.Model):
    """Spend of one card or one spending profile in one window: open holds plus settled amounts.

    A card or profile keeps a row for its calendar month (`2026-11`), calendar year (`2026`) and
    lifetime (`life`) in UTC, whatever its current duration, so that changing a limit's duration
    finds the spend already there. No per-row history: transactions and ledger entries are the
    audit trail, and `check_ledger` recomputes every row from them.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    scope = models.CharField(max_length=8, choices=CounterScope.choices)
    owner_id = models.BigIntegerField(help_text="The card id or the spending profile id")
    period = models.CharField(max_length=7)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "spend_counters"
        ordering = ("scope", "owner_id", "period")
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "owner_id", "period"], name="spend_counters_window_uniq"
            ),
            models.CheckConstraint(
                condition=Q(scope__in=["CARD", "PROFILE"]), name="spend_counters_scope_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="spend_counters_amount_gte_0"),
        ]
        indexes = [models.Index(fields=["account"], name="spend_counters_account_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.owner_id} {self.period}: {self.amount}"


class AccountFunds(models.Model):
    """The per-account hold counter beside `Account.balance` (the posted balance).

    Available = balance - held. Created the first time the ledger touches an account, with an
    OPENING ledger entry for the balance it had then.
    """

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.PROTECT, primary_key=True, related_name="funds"
    )
    held = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "account_funds"
        verbose_name_plural = "account funds"
        constraints = [
            models.CheckConstraint(condition=Q(held__gte=0), name="account_funds_held_gte_0"),
        ]

    def __str__(self) -> str:
        return f"held {self.held}"


class LedgerEntryKind(models.TextChoices):
    OPENING = "OPENING", "Opening balance"
    SETTLEMENT = "SETTLEMENT", "Settlement (clearing)"
    RETURN = "RETURN", "Return (refund)"
    CREDIT = "CREDIT", "Credit (money in)"
    ADJUSTMENT = "ADJUSTMENT", "Correction by the network"


class LedgerEntry(FinancialRecord):
    """One change of an account's posted balance. The database refuses UPDATE and DELETE."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        db_constraint=False,
    )
    event_token = models.UUIDField(null=True, blank=True)
    kind = models.CharField(max_length=12, choices=LedgerEntryKind.choices)
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Signed: negative takes money off the balance"
    )
    balance_after = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_entries"
        ordering = ("id",)
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[c.value for c in LedgerEntryKind]),
                name="ledger_entries_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="ledger_entries_balance_after_gte_0"
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(kind="OPENING"),
                name="ledger_entries_one_opening_per_account",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "id"], name="ledger_entries_account_idx"),
            models.Index(fields=["transaction"], name="ledger_entries_txn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class UnmatchedAuthorization(FinancialRecord):
    """An ASA request that could not be tied to a card: unknown card or malformed body.

    Such a request cannot become a Transaction (which needs a card and an account), but it is
    answered and must be findable, and a retry of it must get the same answer.
    """

    token = models.CharField(max_length=64, help_text="Lithic's transaction token, if any")
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    card_token = models.CharField(max_length=64, blank=True, default="")
    result = models.CharField(max_length=40)
    reason = models.CharField(max_length=255)
    body = models.TextField(blank=True, default="", help_text="The request body (truncated)")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "unmatched_authorizations"
        ordering = ("-received_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["token"], condition=~Q(token=""), name="unmatched_auth_token_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.result}: {self.reason}"
