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
