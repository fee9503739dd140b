"""What follows an authorization: settle, void, expire, refund.

Each service is one durable transaction that locks the account, then the transaction (the house
order), refuses what the transaction's current state does not allow, and records one Lithic event
through the same convergence step the `card_transaction.updated` webhook uses
(`transactions.events.converge`): the hold, the spend counters and the ledger move exactly
once per event token, and the same event token again changes nothing.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from django.db import transaction

from transactions.events import apply_one
from transactions.models import EventType, Transaction, TransactionStatus


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
