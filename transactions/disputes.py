"""Disputes of card transactions, and the money they move on the cardholder's account.

Lithic reports a Managed Disputes case with its timeline of events, in any order and at least
once. The case's state is a function of the set of its events, like a transaction's:

- the provisional credit net: PROVISIONAL_CREDIT_GRANTED minus PROVISIONAL_CREDIT_REVERSED;
- the chargeback net: FINANCIAL events, CREDIT minus DEBIT (chargeback, representment,
  pre-arbitration, arbitration);

and the account is credited the larger of the two (never below nothing): the provisional
credit while it stands, or what the chargeback recovered, never both for the same money.
Each new event that changes that figure posts the difference to the ledger, once, under its
own token (`DISPUTE`), so redelivered events move nothing and any order of delivery ends in
the same balance. WRITTEN_OFF (the program keeps the loss) moves nothing: the provisional
credit simply stays.

Chargebacks API disputes (`dispute.updated`) carry a status and amounts, no events: they are
recorded and move no money here.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from cards.models import Card
from transactions import ledger
from transactions.errors import UnknownCard
from transactions.models import Dispute, DisputeEvent, LedgerEntryKind, Transaction

ZERO = Decimal("0.00")
GRANTED = "PROVISIONAL_CREDIT_GRANTED"
REVERSED = "PROVISIONAL_CREDIT_REVERSED"


@dataclass(frozen=True)
class DisputeEventReport:
    token: uuid.UUID
    type: str  # WORKFLOW, FINANCIAL, CARDHOLDER_LIABILITY
    created: datetime.datetime
    action: str = ""  # the workflow or liability action, or the financial stage
    amount: Decimal | None = None
    polarity: str = ""
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DisputeReport:
    """A dispute as Lithic reports it, in our units (read by lithic_integration.disputes)."""

    token: uuid.UUID
    source: str
    opened_at: datetime.datetime
    updated_at: datetime.datetime
    payload: dict[str, Any]
    card_token: uuid.UUID | None = None
    transaction_token: uuid.UUID | None = None
    case_id: str = ""
    network: str = ""
    currency: str = "USD"
    status: str = ""
    disposition: str = ""
    reason: str = ""
    amount: Decimal = ZERO
    recovered_amount: Decimal = ZERO
    written_off_amount: Decimal = ZERO
    denied_amount: Decimal = ZERO
    remaining_amount: Decimal = ZERO
    events: list[DisputeEventReport] = field(default_factory=list)


def dispute_credit(events: list[DisputeEventReport] | list[DisputeEvent]) -> Decimal:
    """What the dispute credits the account, given the set of its events."""
    provisional = financial = ZERO
    for event in events:
        amount = event.amount or ZERO
        if event.type == "CARDHOLDER_LIABILITY" and event.action == GRANTED:
            provisional += amount
        elif event.type == "CARDHOLDER_LIABILITY" and event.action == REVERSED:
            provisional -= amount
        elif event.type == "FINANCIAL":
            financial += amount if event.polarity == "CREDIT" else -amount
    return max(provisional, financial, ZERO)


def _owner(report: DisputeReport) -> tuple[int | None, int | None, Transaction | None]:
    """The account, card and transaction of ours the dispute is about."""
    txn = None
    if report.transaction_token is not None:
        txn = Transaction.objects.filter(token=report.transaction_token).first()
    card = None
    if report.card_token is not None:
        card = Card.all_objects.filter(lithic_card_token=report.card_token).first()
    if card is not None:
        return card.account_id, card.pk, txn
    if txn is not None:
        return txn.account_id, txn.card_id, txn
    return None, None, None


_COPIED = (
    "case_id",
    "network",
    "currency",
    "status",
    "disposition",
    "reason",
    "amount",
    "recovered_amount",
    "written_off_amount",
    "denied_amount",
    "remaining_amount",
    "payload",
)


@transaction.atomic(durable=True)
def dispute_apply(report: DisputeReport) -> Dispute:
    """Record the dispute Lithic reports and move the money its new events move; the same
    report again, or its events in another order, changes nothing more."""
    account_id, card_id, txn = _owner(report)
    if account_id is None:
        raise UnknownCard(
            f"dispute {report.token}: no card {report.card_token} and no transaction "
            f"{report.transaction_token} here"
        )
    with connection.cursor() as cursor:
        ledger.account_lock(cursor, account_id)
    dispute = Dispute.objects.select_for_update().filter(token=report.token).first()
    if dispute is None:
        dispute = Dispute(
            token=report.token,
            source=report.source,
            account_id=account_id,
            opened_at=report.opened_at,
            lithic_updated_at=report.updated_at,
        )
    dispute.card_id = dispute.card_id or card_id
    dispute.transaction = dispute.transaction or txn
    dispute.transaction_token = dispute.transaction_token or report.transaction_token
    if dispute.pk is None or report.updated_at >= dispute.lithic_updated_at:
        # A report older than the one recorded (a late delivery) does not turn its state back.
        for name in _COPIED:
            setattr(dispute, name, getattr(report, name))
        dispute.lithic_updated_at = report.updated_at
    dispute.save()

    stored = list(DisputeEvent.all_objects.filter(dispute=dispute))
    known = {event.token for event in stored}
    fresh = sorted(
        {e.token: e for e in report.events if e.token not in known}.values(),
        key=lambda e: (e.created, str(e.token)),
    )
    if not fresh:
        return dispute
    credit = dispute_credit([*stored, *fresh])
    change = credit - dispute.credited
    rows = [
        DisputeEvent(
            token=event.token,
            dispute=dispute,
            account_id=account_id,
            type=event.type[:24],
            action=event.action[:40],
            amount=event.amount,
            polarity=event.polarity[:8],
            reason=event.reason[:255],
            created=event.created,
            data=event.data,
            # The change is posted under the last new event: one entry per delivery that moves
            # money, and none for a delivery that brings nothing new.
            credit=change if event is fresh[-1] else ZERO,
        )
        for event in fresh
    ]
    DisputeEvent.objects.bulk_create(rows)
    if change:
        ledger.ledger_post(
            account_id=account_id,
            amount=change,
            kind=LedgerEntryKind.DISPUTE,
            transaction_id=dispute.transaction_id,
            event_token=fresh[-1].token,
        )
        dispute.credited = credit
        dispute.save(update_fields=["credited", "updated_at"])
    return dispute
