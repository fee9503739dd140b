"""What follows an authorization: settle, void, expire, refund; and what Lithic reports beside
a transaction's events (its enhanced data, the account's balance).

Each service is one durable transaction that locks the account, then the transaction (the house
order), refuses what the transaction's current state does not allow, and records one Lithic event
through the same convergence step the `card_transaction.updated` webhook uses
(`transactions.events.converge`): the hold, the spend counters and the ledger move exactly
once per event token, and the same event token again changes nothing.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import Account
from transactions.errors import TransactionNotFound
from transactions.events import apply_one
from transactions.models import (
    AccountFunds,
    BalanceReport,
    EventType,
    Transaction,
    TransactionEnhancedData,
    TransactionStatus,
)


@transaction.atomic(durable=True)
def transaction_settle(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    amount: Decimal,
    occurred_at: datetime.datetime | None = None,
) -> Transaction:
    """Clear `amount` (may differ from the hold): release the hold, post it to the ledger."""
    return apply_one(
        token=token,
        event_token=event_token,
        kind=EventType.CLEARING,
        amount=amount,
        occurred_at=occurred_at,
        allowed=(TransactionStatus.PENDING, TransactionStatus.SETTLED),
        verb="settle",
    )


@transaction.atomic(durable=True)
def transaction_void(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    amount: Decimal | None = None,
    occurred_at: datetime.datetime | None = None,
) -> Transaction:
    """Reverse all of the open hold (amount None) or part of it."""
    return apply_one(
        token=token,
        event_token=event_token,
        kind=EventType.AUTHORIZATION_REVERSAL,
        amount=amount,
        occurred_at=occurred_at,
        allowed=(TransactionStatus.PENDING,),
        verb="void",
    )


@transaction.atomic(durable=True)
def transaction_expire(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    occurred_at: datetime.datetime | None = None,
) -> Transaction:
    """The authorization was never cleared: release its whole hold."""
    return apply_one(
        token=token,
        event_token=event_token,
        kind=EventType.AUTHORIZATION_EXPIRY,
        amount=None,
        occurred_at=occurred_at,
        allowed=(TransactionStatus.PENDING,),
        verb="expire",
    )


@transaction.atomic(durable=True)
def transaction_refund(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    amount: Decimal,
    occurred_at: datetime.datetime | None = None,
) -> Transaction:
    """A return on a settled purchase: credit the account, at most what was settled."""
    return apply_one(
        token=token,
        event_token=event_token,
        kind=EventType.RETURN,
        amount=amount,
        occurred_at=occurred_at,
        allowed=(TransactionStatus.SETTLED,),
        verb="refund",
    )


# --- What Lithic reports beside the transaction's events ---------------------------------------


@transaction.atomic
def transaction_store_enhanced_data(
    *,
    token: uuid.UUID,
    transaction_token: uuid.UUID,
    event_token: uuid.UUID,
    common: dict[str, Any],
    fleet: list[Any],
) -> TransactionEnhancedData:
    """Keep Lithic's L2/L3 data of a transaction's event; a later report of it replaces it."""
    txn = Transaction.objects.filter(token=transaction_token).first()
    if txn is None:
        # The transaction's own webhook may still be on its way: the inbox tries again.
        raise TransactionNotFound(f"no transaction {transaction_token} (yet)")
    row, _ = TransactionEnhancedData.objects.update_or_create(
        token=token,
        defaults={
            "account_id": txn.account_id,
            "transaction": txn,
            "event_token": event_token,
            "common": common,
            "fleet": fleet,
        },
    )
    return row


@dataclass(frozen=True)
class LithicBalance:
    """One financial account's balance as Lithic reports it (`balance.updated`)."""

    financial_account_token: uuid.UUID
    financial_account_type: str
    currency: str
    total: Decimal
    pending: Decimal
    available: Decimal
    reported_at: datetime.datetime
    last_transaction_token: uuid.UUID | None = None


def balance_report_record(*, balance: LithicBalance) -> BalanceReport:
    """Record Lithic's balance beside ours; a difference is left for reconciliation.

    Lithic's total, pending and available amounts are our posted balance, open holds and
    available funds; a financial account that is none of ours is recorded and not compared.
    """
    account = Account.all_objects.filter(
        lithic_financial_account_token=balance.financial_account_token
    ).first()
    ours: dict[str, Decimal | None] = {"balance": None, "held": None, "available": None}
    matches, difference = None, ""
    if account is not None:
        funds = AccountFunds.objects.filter(account_id=account.pk).first()
        held = funds.held if funds else Decimal("0.00")
        ours = {"balance": account.balance, "held": held, "available": account.balance - held}
        pairs = (
            ("total", balance.total, "balance", ours["balance"]),
            ("pending", balance.pending, "held", ours["held"]),
            ("available", balance.available, "available", ours["available"]),
        )
        differing = [
            f"Lithic {theirs_name} {theirs} vs our {ours_name} {ours_value}"
            for theirs_name, theirs, ours_name, ours_value in pairs
            if theirs != ours_value
        ]
        matches, difference = not differing, "; ".join(differing)[:255]
    return BalanceReport.objects.create(
        account=account,
        financial_account_token=balance.financial_account_token,
        financial_account_type=balance.financial_account_type[:16],
        currency=balance.currency[:3],
        lithic_total=balance.total,
        lithic_pending=balance.pending,
        lithic_available=balance.available,
        our_balance=ours["balance"],
        our_held=ours["held"],
        our_available=ours["available"],
        matches=matches,
        difference=difference,
        last_transaction_token=balance.last_transaction_token,
        reported_at=balance.reported_at,
    )
