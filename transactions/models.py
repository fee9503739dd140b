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


class EventSource(models.TextChoices):
    """Who recorded an event: Lithic (its event token), our responder (its answer), or Lithic's
    status of a transaction it reported without events (counted only until events come)."""

    LITHIC = "LITHIC", "Reported by Lithic"
    ASA = "ASA", "Answered by our authorization responder"
    STATUS = "STATUS", "Lithic's status, reported without events"


TRANSACTION_STATUSES = [c.value for c in TransactionStatus]
TRANSACTION_TYPES = [c.value for c in TransactionType]
EVENT_TYPES = [c.value for c in EventType]


class Transaction(FinancialRecord):
    """One card transaction as Lithic reports it; `token` is Lithic's transaction token.

    On PostgreSQL the table is partitioned by month of `transaction_date`, and TransactionKey
    keeps `id` and `token` unique across the partitions (transactions.partitioning).
    """

    token = models.UUIDField(default=uuid.uuid4, db_index=True, editable=False)
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
    # Who held the card when it was authorized: a card's cardholder may change later, and the
    # past spend stays theirs. Empty on transactions recorded before this was kept. No index:
    # nothing looks transactions up by cardholder, and each authorization writes one less.
    cardholder = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text="The card's holder when the transaction was authorized",
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
            # A merchant's transactions, newest first (the console's search by merchant).
            models.Index(
                fields=["merchant_descriptor", "-transaction_date"],
                name="transactions_merchant_date_idx",
            ),
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


class TransactionKey(models.Model):
    """A transaction's id, token, account and date: unique across the partitions of
    `transactions`, which PostgreSQL cannot enforce on a partitioned table itself.

    A database trigger writes the row in the statement that inserts the transaction, and
    references into transactions are foreign keys to it (transactions.partitioning). It is
    never changed or removed, also when old partitions are detached. SQLite keeps the unique
    index of `transactions.token` instead, and this table stays empty there.
    """

    db_append_only = True

    id = models.BigIntegerField(primary_key=True, help_text="The transaction's id")
    token = models.UUIDField(unique=True, help_text="The transaction's token")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    transaction_date = models.DateTimeField(help_text="The partition the transaction is in")

    class Meta:
        db_table = "transaction_keys"

    def __str__(self) -> str:
        return f"transaction {self.id} ({self.token})"


class TransactionEvent(FinancialRecord):
    """One event of a transaction (authorization, clearing, reversal, ...): reported by Lithic,
    or an authorization request our responder answered (`source` ASA).

    An ASA event is provisional: once Lithic reports the same authorization (the event with its
    `network_event_token`, or otherwise the authorization of the same type in the same place
    in the order), Lithic's event counts instead and the ASA event stays as the record of what
    we answered (transactions.events).
    """

    # The runtime database role may only read and add rows (core.roles).
    db_append_only = True

    token = models.UUIDField(
        unique=True, help_text="Lithic's event token, or the token of our record of a request"
    )
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        related_name="events",
        # Transactions are range-partitioned by date: the reference is to TransactionKey.
        db_constraint=False,
    )
    type = models.CharField(max_length=40, choices=EventType.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    result = models.CharField(max_length=40, default="APPROVED")
    reason = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        help_text="Why it was declined: our rule, or Lithic's detailed results",
    )
    source = models.CharField(
        max_length=8,
        choices=EventSource.choices,
        default=EventSource.LITHIC,
        db_default=EventSource.LITHIC,
    )
    network_event_token = models.UUIDField(
        null=True, blank=True, help_text="ASA: Lithic's event token of the request, if it sent one"
    )
    request_id = models.CharField(
        max_length=100,
        blank=True,
        default="",
        db_default="",
        help_text="ASA: the webhook-id of the request (the same on Lithic's retry)",
    )
    decision = models.JSONField(
        null=True, blank=True, help_text="ASA: each rule checked for a later (incremental) request"
    )
    created = models.DateTimeField(help_text="When Lithic says the event happened")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "transaction_events"
        ordering = ("created", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=EVENT_TYPES), name="transaction_events_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=[c.value for c in EventSource]),
                name="transaction_events_source_valid",
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
    """Spend of one card or one spending profile on one UTC day, or over its lifetime: open
    holds plus settled amounts of the counted transactions dated then.

    A card or profile keeps a row per day it spent (`2026-11-14`) and one for its lifetime
    (`life`), whatever its current duration: a trailing window (transactions.spend_windows) is
    the sum of its days, so changing a limit's duration finds the spend already there. No
    per-row history: transactions and ledger entries are the audit trail, and `check_ledger`
    recomputes every row from them.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    scope = models.CharField(max_length=8, choices=CounterScope.choices)
    owner_id = models.BigIntegerField(help_text="The card id or the spending profile id")
    period = models.CharField(max_length=10, help_text="A UTC day (YYYY-MM-DD) or `life`")
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
    DISPUTE = "DISPUTE", "Dispute credit or its reversal"


class LedgerEntry(FinancialRecord):
    """One change of an account's posted balance. The database refuses UPDATE and DELETE."""

    # The runtime database role may only read and add rows (core.roles).
    db_append_only = True

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


class Dispute(models.Model):
    """A dispute of a card transaction as Lithic reports it, with the money it moved here.

    Managed Disputes (`dispute_transaction.created` / `.updated`) carry a timeline of events
    (`DisputeEvent`); their provisional credits and chargebacks move the cardholder's account
    through the ledger (transactions.disputes). Chargebacks API disputes (`dispute.updated`)
    carry a status only and move no money here.
    """

    class Source(models.TextChoices):
        MANAGED = "MANAGED", "Managed Disputes"
        CHARGEBACK = "CHARGEBACK", "Chargebacks API"

    token = models.UUIDField(unique=True, help_text="Lithic's dispute token")
    source = models.CharField(max_length=10, choices=Source.choices)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    card = models.ForeignKey(
        "cards.Card", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disputes",
        db_constraint=False,
    )
    transaction_token = models.UUIDField(
        null=True, blank=True, help_text="Lithic's token of the disputed transaction"
    )
    case_id = models.CharField(max_length=64, blank=True, default="")
    network = models.CharField(max_length=16, blank=True, default="")
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=20, blank=True, default="", help_text="Lithic's status")
    disposition = models.CharField(max_length=20, blank=True, default="")
    reason = models.CharField(max_length=64, blank=True, default="")
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, default=ZERO, help_text="Amount under dispute"
    )
    recovered_amount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    written_off_amount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    denied_amount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    remaining_amount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    credited = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=ZERO,
        help_text="What the dispute has credited the account here, net (ledger entries)",
    )
    opened_at = models.DateTimeField(help_text="Lithic's `created`")
    lithic_updated_at = models.DateTimeField(help_text="Lithic's `updated`")
    payload = models.JSONField(help_text="Lithic's latest dispute object")
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "disputes"
        ordering = ("-opened_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=["MANAGED", "CHARGEBACK"]), name="disputes_source_valid"
            ),
            models.CheckConstraint(condition=Q(credited__gte=0), name="disputes_credited_gte_0"),
        ]
        indexes = [
            models.Index(fields=["account", "-opened_at"], name="disputes_account_idx"),
            models.Index(fields=["transaction"], name="disputes_transaction_idx"),
        ]

    def __str__(self) -> str:
        return f"dispute {self.case_id or self.token} ({self.status or 'unknown'})"


class DisputeEvent(FinancialRecord):
    """One event of a dispute's timeline (Managed Disputes), and the money it moved here."""

    # The runtime database role may only read and add rows (core.roles).
    db_append_only = True

    token = models.UUIDField(unique=True, help_text="Lithic's dispute event token")
    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="events")
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    type = models.CharField(max_length=24, help_text="WORKFLOW, FINANCIAL or CARDHOLDER_LIABILITY")
    action = models.CharField(max_length=40, blank=True, default="", help_text="or the stage")
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    polarity = models.CharField(max_length=8, blank=True, default="")
    reason = models.CharField(max_length=255, blank=True, default="")
    created = models.DateTimeField(help_text="When Lithic says it happened")
    credit = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=ZERO,
        help_text="The ledger change this event made on the account (signed)",
    )
    data = models.JSONField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "dispute_events"
        ordering = ("created", "id")
        indexes = [models.Index(fields=["dispute", "created"], name="dispute_events_dispute_idx")]

    def __str__(self) -> str:
        return f"{self.type} {self.action} {self.amount or ''}".strip()


class TransactionEnhancedData(models.Model):
    """L2/L3 commercial data Lithic reports for an event of a transaction (tax, line items,
    fleet), kept as Lithic sends it; the `.updated` event replaces it."""

    token = models.UUIDField(unique=True, help_text="Lithic's enhanced data token")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="enhanced_data", db_constraint=False
    )
    event_token = models.UUIDField(help_text="The transaction event it describes")
    common = models.JSONField(help_text="Tax, line items, references")
    fleet = models.JSONField(default=list)
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "transaction_enhanced_data"
        ordering = ("recorded_at", "id")
        verbose_name_plural = "transaction enhanced data"
        indexes = [models.Index(fields=["transaction"], name="txn_enhanced_data_txn_idx")]

    def __str__(self) -> str:
        return f"enhanced data {self.token}"


class BalanceReport(FinancialRecord):
    """A balance Lithic reported (`balance.updated`) beside ours at that moment.

    Lithic's financial account is matched to our account by
    `Account.lithic_financial_account_token`; when it is one of ours, its total, pending and
    available amounts are compared with our posted balance, open holds and available funds,
    and a report that differs is left for reconciliation (`reconcile_lithic` lists the latest
    one of each account).
    """

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    financial_account_token = models.UUIDField()
    financial_account_type = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    lithic_total = models.DecimalField(max_digits=14, decimal_places=2)
    lithic_pending = models.DecimalField(max_digits=14, decimal_places=2)
    lithic_available = models.DecimalField(max_digits=14, decimal_places=2)
    our_balance = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    our_held = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    our_available = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    matches = models.BooleanField(
        null=True, help_text="Whether Lithic's figures equal ours (empty: not one of ours)"
    )
    difference = models.CharField(max_length=255, blank=True, default="")
    last_transaction_token = models.UUIDField(null=True, blank=True)
    reported_at = models.DateTimeField(help_text="Lithic's `updated`")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "balance_reports"
        ordering = ("-reported_at", "-id")
        indexes = [
            models.Index(fields=["account", "-reported_at"], name="balance_reports_account_idx"),
            models.Index(
                fields=["-reported_at"],
                condition=Q(matches=False),
                name="balance_reports_differ_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.financial_account_type} {self.lithic_total} {self.currency}"


class DailyRollup(models.Model):
    """Transactions of one UTC day summed by account, status, Lithic result, MCC and merchant:
    what the console's overview reads instead of the transactions table.

    Kept current by `refresh_rollups` (transactions.rollups), which rebuilds the recent days
    from the transactions of each day (one index range per day); no row is written on the
    authorization path, so deciding an authorization never waits on a shared counter.
    """

    day = models.DateField()
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=TransactionStatus.choices)
    result = models.CharField(max_length=40, blank=True, default="")
    mcc = models.CharField(max_length=4, blank=True, default="")
    merchant = models.CharField(max_length=255, blank=True, default="")
    count = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        db_table = "transaction_daily_rollups"
        indexes = [models.Index(fields=["day"], name="transaction_rollups_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.status} {self.merchant}: {self.count}, {self.amount}"


class MerchantName(models.Model):
    """Every merchant name seen in a transaction, once: what a search by part of a merchant's
    name reads (its trigram index), before it looks up that merchant's transactions by name.

    `transactions` is under row-level security, and PostgreSQL applies a LIKE (not a leakproof
    operator) only after the policy, row by row, never through an index; this table has no
    tenant, so its trigram index serves the search (decision 64). Filled by refresh_rollups.
    """

    name = models.CharField(max_length=255)

    class Meta:
        db_table = "merchant_names"
        # A constraint, not `unique=True`: no second (pattern) index, which no search uses.
        constraints = [models.UniqueConstraint(fields=["name"], name="merchant_names_name_uniq")]

    def __str__(self) -> str:
        return self.name
