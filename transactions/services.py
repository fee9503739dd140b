"""What follows an authorization: settle, void, expire, refund.

Each service is one durable transaction that locks the account, then the transaction (the house
order), records a TransactionEvent under Lithic's event token, and adjusts the hold, the spend
counters and the ledger exactly once: the same event token again changes nothing.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from transactions import ledger
from transactions.asa import DEBIT_TYPES
from transactions.errors import AmountInvalid, InvalidStateTransition, TransactionNotFound
from transactions.models import (
    EventType,
    LedgerEntryKind,
    Transaction,
    TransactionEvent,
    TransactionStatus,
)

ZERO = Decimal("0.00")


def _locked(token: uuid.UUID | str, event_token: uuid.UUID) -> tuple[Transaction, bool]:
    """The transaction, locked after its account; True if this event was already applied."""
    account_id = (
        Transaction.objects.filter(token=token).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        raise TransactionNotFound(f"no transaction {token}")
    with connection.cursor() as cursor:
        ledger.account_lock(cursor, account_id)
    txn = Transaction.objects.select_for_update().get(token=token)
    applied = TransactionEvent.objects.filter(token=event_token).exists()
    return txn, applied


def _positive(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise AmountInvalid(f"amount must be a positive Decimal in cents, got {amount!r}")
    return amount


def _release(txn: Transaction, amount: Decimal, *, counters_delta: Decimal) -> None:
    with connection.cursor() as cursor:
        if amount:
            ledger.funds_hold(cursor, account_id=txn.account_id, delta=-amount)
        if txn.counted and counters_delta:
            ledger.counters_add(
                cursor,
                account_id=txn.account_id,
                card_id=txn.card_id,
                profile_id=txn.profile_id,
                moment=txn.transaction_date,
                delta=counters_delta,
            )


def _event(txn, event_token, kind: EventType, amount: Decimal, occurred_at) -> None:
    TransactionEvent.objects.create(
        token=event_token,
        account_id=txn.account_id,
        transaction=txn,
        type=kind,
        amount=amount,
        result="APPROVED",
        created=occurred_at or timezone.now(),
    )


def _require_debit(txn: Transaction, verb: str, statuses: tuple[str, ...]) -> None:
    if txn.type not in DEBIT_TYPES or txn.status not in statuses:
        raise InvalidStateTransition(f"cannot {verb} a {txn.status} {txn.type} transaction")


@transaction.atomic(durable=True)
def transaction_settle(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    amount: Decimal,
    occurred_at: datetime.datetime | None = None,
) -> Transaction:
    """Clear `amount` (may differ from the hold): release the hold, post it to the ledger."""
    _positive(amount)
    txn, applied = _locked(token, event_token)
    if applied:
        return txn
    _require_debit(txn, "settle", (TransactionStatus.PENDING, TransactionStatus.SETTLED))
    released = txn.hold_amount
    _release(txn, released, counters_delta=amount - released)
    ledger.ledger_post(
        account_id=txn.account_id,
        amount=-amount,
        kind=LedgerEntryKind.SETTLEMENT,
        transaction_id=txn.pk,
        event_token=event_token,
    )
    txn.hold_amount = ZERO
    txn.settled_amount += amount
    txn.status = TransactionStatus.SETTLED
    txn.save(update_fields=["hold_amount", "settled_amount", "status", "updated_at"])
    _event(txn, event_token, EventType.CLEARING, amount, occurred_at)
    return txn


@transaction.atomic(durable=True)
def transaction_void(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    amount: Decimal | None = None,
    occurred_at: datetime.datetime | None = None,
) -> Transaction:
    """Reverse all of the open hold (amount None) or part of it."""
    txn, applied = _locked(token, event_token)
    if applied:
        return txn
    _require_debit(txn, "void", (TransactionStatus.PENDING,))
    amount = txn.hold_amount if amount is None else _positive(amount)
    if amount > txn.hold_amount:
        raise AmountInvalid(f"reversal {amount} exceeds the open hold {txn.hold_amount}")
    _release(txn, amount, counters_delta=-amount)
    txn.hold_amount -= amount
    if txn.hold_amount == 0:
        txn.status = TransactionStatus.VOIDED
    txn.save(update_fields=["hold_amount", "status", "updated_at"])
    _event(txn, event_token, EventType.AUTHORIZATION_REVERSAL, amount, occurred_at)
    return txn


@transaction.atomic(durable=True)
def transaction_expire(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    occurred_at: datetime.datetime | None = None,
) -> Transaction:
    """The authorization was never cleared: release its whole hold."""
    txn, applied = _locked(token, event_token)
    if applied:
        return txn
    _require_debit(txn, "expire", (TransactionStatus.PENDING,))
    amount = txn.hold_amount
    _release(txn, amount, counters_delta=-amount)
    txn.hold_amount = ZERO
    txn.status = TransactionStatus.EXPIRED
    txn.save(update_fields=["hold_amount", "status", "updated_at"])
    _event(txn, event_token, EventType.AUTHORIZATION_EXPIRY, amount, occurred_at)
    return txn


@transaction.atomic(durable=True)
def transaction_refund(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    amount: Decimal,
    occurred_at: datetime.datetime | None = None,
) -> Transaction:
    """A return on a settled purchase: credit the account, at most what was settled."""
    _positive(amount)
    txn, applied = _locked(token, event_token)
    if applied:
        return txn
    _require_debit(txn, "refund", (TransactionStatus.SETTLED,))
    if txn.refunded_amount + amount > txn.settled_amount:
        raise AmountInvalid(
            f"refund {amount} exceeds what is left to refund "
            f"({txn.settled_amount - txn.refunded_amount})"
        )
    ledger.ledger_post(
        account_id=txn.account_id,
        amount=amount,
        kind=LedgerEntryKind.RETURN,
        transaction_id=txn.pk,
        event_token=event_token,
    )
    txn.refunded_amount += amount
    txn.save(update_fields=["refunded_amount", "updated_at"])
    _event(txn, event_token, EventType.RETURN, amount, occurred_at)
    return txn
