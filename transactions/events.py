"""A transaction's events, applied here: Lithic's reports, our answers, the services.

Lithic delivers a transaction's events at least once and in any order, in payloads that carry
the transaction's events so far (sometimes only some of them). Everything here follows from one
rule: the state of a transaction is a function of the *set* of its events, folded in Lithic's
order (`created`, then the lifecycle order of the event types, then the token). So

- an event already recorded (its token is in `transaction_events`) changes nothing;
- new events are added to the set and the whole set is folded again from the start, so a late
  delivery lands where it belongs;

and the difference between the folded state and the stored one is what moves: the account's
held funds by the change of the hold, the spend counters by the change of hold + settled, and the
ledger by one entry per new clearing, correction or return (a posting depends on its event
alone, not on the order). Whatever order the events arrive in, the transaction, the holds, the
counters and the balance end where they would have in order, and each event token moves money
once.

Our responder's answers are events too (source ASA), recorded under tokens of their own. They
are provisional: when Lithic reports the same authorization (the event whose token the request
carried, or else the authorization of the same type in the same place in the order), Lithic's
event counts in the fold instead. Lithic's word wins: an approval Lithic declined after all (its
own rules, our answer too late or unreadable) releases its hold and its spend, and a decline
Lithic approved (stand-in) holds and counts what Lithic approved.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from cards.models import Card
from transactions import ledger
from transactions.authorization import CREDIT_TYPES, DEBIT_TYPES
from transactions.errors import (
    AmountInvalid,
    EventOutOfSequence,
    InvalidStateTransition,
    TransactionNotFound,
    UnknownCard,
)
from transactions.models import (
    EventSource,
    EventType,
    LedgerEntryKind,
    Transaction,
    TransactionEvent,
    TransactionStatus,
    TransactionType,
)

ZERO = Decimal("0.00")
CENTS = Decimal("0.01")

AUTHORIZATION_TYPES = frozenset(
    {
        EventType.AUTHORIZATION,
        EventType.FINANCIAL_AUTHORIZATION,
        EventType.CREDIT_AUTHORIZATION,
        EventType.FINANCIAL_CREDIT_AUTHORIZATION,
        EventType.BALANCE_INQUIRY,
    }
)
# Within one instant, the order a transaction's life goes in.
LIFECYCLE_RANK = {
    EventType.AUTHORIZATION: 0,
    EventType.FINANCIAL_AUTHORIZATION: 0,
    EventType.CREDIT_AUTHORIZATION: 0,
    EventType.FINANCIAL_CREDIT_AUTHORIZATION: 0,
    EventType.BALANCE_INQUIRY: 0,
    EventType.AUTHORIZATION_ADVICE: 1,
    EventType.CREDIT_AUTHORIZATION_ADVICE: 1,
    EventType.AUTHORIZATION_REVERSAL: 2,
    EventType.CLEARING: 3,
    EventType.CORRECTION_DEBIT: 4,
    EventType.CORRECTION_CREDIT: 4,
    EventType.AUTHORIZATION_EXPIRY: 5,
    EventType.RETURN: 6,
    EventType.RETURN_REVERSAL: 7,
}
EVENT_TYPES = frozenset(LIFECYCLE_RANK)


@dataclass(frozen=True)
class Event:
    token: uuid.UUID
    type: str
    amount: Decimal
    created: datetime.datetime
    result: str = "APPROVED"
    reason: str = ""  # why it was declined (our rule, or Lithic's detailed results)
    source: str = EventSource.LITHIC
    network_event_token: uuid.UUID | None = None  # ASA: Lithic's token of the request
    order: int = 0  # ASA: the order the requests were recorded in

    @property
    def sort_key(self) -> tuple:
        return (self.created, LIFECYCLE_RANK[self.type], str(self.token))

    @property
    def approved(self) -> bool:
        return self.result == "APPROVED"


@dataclass(frozen=True)
class State:
    """What the events of a transaction add up to."""

    status: str
    hold: Decimal = ZERO
    settled: Decimal = ZERO
    refunded: Decimal = ZERO
    declined_reason: str = ""

    @property
    def spend(self) -> Decimal:
        """What the spend counters hold for a counted transaction: open hold plus settled."""
        return self.hold + self.settled


# ---------------------------------------------------------------------------------------------
# The fold


def initial_state(txn_type: str) -> State:
    if txn_type == TransactionType.BALANCE_INQUIRY:
        return State(TransactionStatus.SETTLED)
    return State(TransactionStatus.PENDING)


def step(state: State, event: Event, *, txn_type: str) -> State:
    """One event's effect on the state; the ledger postings are `posting(event)`."""
    kind = event.type
    credit = txn_type in CREDIT_TYPES
    if kind in AUTHORIZATION_TYPES:
        if not event.approved:
            if state.settled or state.hold:
                return state  # a declined incremental authorization changes nothing
            return replace(
                state, status=TransactionStatus.DECLINED, declined_reason=_declined_reason(event)
            )
        if credit or kind == EventType.BALANCE_INQUIRY:
            return state
        return replace(state, status=TransactionStatus.PENDING, hold=state.hold + event.amount)
    if kind in (EventType.AUTHORIZATION_ADVICE, EventType.CREDIT_AUTHORIZATION_ADVICE):
        if credit or state.status != TransactionStatus.PENDING or not event.approved:
            return state
        # An advice restates the amount authorized: the hold becomes that amount.
        return replace(state, hold=event.amount)
    if kind == EventType.AUTHORIZATION_REVERSAL:
        hold = state.hold - min(event.amount, state.hold)
        status = state.status
        if hold == 0 and state.status == TransactionStatus.PENDING and not state.settled:
            status = TransactionStatus.VOIDED
        return replace(state, hold=hold, status=status)
    if kind == EventType.AUTHORIZATION_EXPIRY:
        status = state.status
        if state.status == TransactionStatus.PENDING and not state.settled:
            status = TransactionStatus.EXPIRED
        return replace(state, hold=ZERO, status=status)
    if kind == EventType.CLEARING:
        return replace(
            state,
            hold=ZERO,
            settled=state.settled + event.amount,
            status=TransactionStatus.SETTLED,
        )
    if kind == EventType.CORRECTION_DEBIT:
        return replace(state, settled=state.settled + event.amount)
    if kind == EventType.CORRECTION_CREDIT:
        return replace(state, settled=max(ZERO, state.settled - event.amount))
    if kind == EventType.RETURN:
        return replace(state, refunded=state.refunded + event.amount)
    if kind == EventType.RETURN_REVERSAL:
        return replace(state, refunded=max(ZERO, state.refunded - event.amount))
    raise ValueError(f"unknown event type {kind}")


def _declined_reason(event: Event) -> str:
    if event.source == EventSource.ASA:
        return event.reason or f"declined ({event.result})"
    return f"declined at Lithic: {event.reason or event.result}"[:255]


def effective_events(events: Iterable[Event]) -> list[Event]:
    """The events that count: Lithic's, and our answers Lithic has not reported yet.

    Our answer to a request is the same authorization as Lithic's event with the token the
    request carried; without one, the n-th answer of a type is Lithic's n-th authorization
    event of that type not already claimed by a token. Status events (Lithic's status of a
    transaction it reported without events) count only while no event of Lithic's is known.
    """
    events = list(events)
    lithic = [e for e in events if e.source == EventSource.LITHIC]
    if not lithic:
        statuses = [e for e in events if e.source == EventSource.STATUS]
        if any(e.type in AUTHORIZATION_TYPES and not e.approved for e in statuses):
            return statuses  # Lithic declined the transaction: none of our answers stands
        lithic = statuses
    answers = sorted(
        (e for e in events if e.source == EventSource.ASA), key=lambda e: (e.created, e.order)
    )
    reported = {e.token for e in lithic}
    claimed = {a.network_event_token for a in answers if a.network_event_token in reported}
    by_type: dict[str, list[Event]] = {}
    for event in sorted(lithic, key=lambda e: e.sort_key):
        if event.type in AUTHORIZATION_TYPES and event.token not in claimed:
            by_type.setdefault(event.type, []).append(event)
    standing = []
    for answer in answers:
        if answer.network_event_token is not None:
            if answer.network_event_token not in reported:
                standing.append(answer)
        elif by_type.get(answer.type):
            by_type[answer.type].pop(0)  # Lithic reported it: its event counts instead
        else:
            standing.append(answer)
    return [*lithic, *standing]


def fold(state: State, events: Iterable[Event], *, txn_type: str) -> State:
    for event in sorted(events, key=lambda e: e.sort_key):
        state = step(state, event, txn_type=txn_type)
    return state


def posting(event: Event, *, txn_type: str) -> tuple[Decimal, str] | None:
    """The ledger entry (signed amount, kind) an event makes, whatever came before it."""
    credit = txn_type in CREDIT_TYPES
    if event.source != EventSource.LITHIC or not event.approved or not event.amount:
        return None
    if event.type == EventType.CLEARING:
        if credit:
            return event.amount, LedgerEntryKind.CREDIT
        return -event.amount, LedgerEntryKind.SETTLEMENT
    if event.type == EventType.CORRECTION_DEBIT:
        return -event.amount, LedgerEntryKind.ADJUSTMENT
    if event.type == EventType.CORRECTION_CREDIT:
        return event.amount, LedgerEntryKind.ADJUSTMENT
    if event.type == EventType.RETURN:
        return event.amount, LedgerEntryKind.RETURN
    if event.type == EventType.RETURN_REVERSAL:
        return -event.amount, LedgerEntryKind.RETURN
    return None


# ---------------------------------------------------------------------------------------------
# Applying events to a stored transaction


def _stored_events(txn: Transaction) -> list[Event]:
    return [
        Event(
            token=e.token,
            type=e.type,
            amount=e.amount,
            created=e.created,
            result=e.result,
            reason=e.reason,
            source=e.source,
            network_event_token=e.network_event_token,
            order=e.pk,
        )
        for e in TransactionEvent.all_objects.filter(transaction_id=txn.pk)
    ]


def _current_state(txn: Transaction) -> State:
    return State(
        status=txn.status,
        hold=txn.hold_amount,
        settled=txn.settled_amount,
        refunded=txn.refunded_amount,
        declined_reason=txn.declined_reason,
    )


def converge(txn: Transaction, incoming: list[Event]) -> tuple[Transaction, list[Event]]:
    """Apply the events of `incoming` not recorded yet; the caller holds the account lock and
    the transaction's row lock. Returns the transaction and the events that were new."""
    stored = _stored_events(txn)
    known = {e.token for e in stored}
    fresh: list[Event] = []
    for event in sorted(incoming, key=lambda e: e.sort_key):
        if event.token not in known:
            known.add(event.token)
            fresh.append(event)
    if not fresh:
        return txn, []
    before = _current_state(txn)
    # A transaction recorded before its events were (demo data) starts from what it is.
    start = initial_state(txn.type) if stored else before
    after = fold(start, effective_events([*stored, *fresh]), txn_type=txn.type)
    if after.refunded > after.settled:
        raise EventOutOfSequence(
            f"transaction {txn.token}: returns {after.refunded} exceed what settled "
            f"({after.settled}); waiting for the clearing"
        )
    changed = _move_money(txn, before, after, fresh)
    TransactionEvent.objects.bulk_create(
        [
            TransactionEvent(
                token=e.token,
                account_id=txn.account_id,
                transaction=txn,
                type=e.type,
                amount=e.amount,
                result=e.result,
                reason=e.reason[:255],
                source=e.source,
                created=e.created,
            )
            for e in fresh
        ]
    )
    if after.status == TransactionStatus.DECLINED and before.status != TransactionStatus.DECLINED:
        txn.declined_reason = after.declined_reason or "declined at Lithic"
    txn.status = after.status
    txn.hold_amount = after.hold
    txn.settled_amount = after.settled
    txn.refunded_amount = after.refunded
    txn.save(
        update_fields=[
            "status",
            "hold_amount",
            "settled_amount",
            "refunded_amount",
            "declined_reason",
            *changed,
            "updated_at",
        ]
    )
    return txn, fresh


def _move_money(txn: Transaction, before: State, after: State, fresh: list[Event]) -> list[str]:
    """Move the holds, the counters and the ledger by what changed; returns the transaction
    fields it changed (a debit Lithic approved becomes counted against the limits)."""
    changed: list[str] = []
    spend_delta = after.spend - before.spend
    if not txn.counted and txn.type in DEBIT_TYPES and after.spend > 0:
        # Approved after all (Lithic's stand-in, or a force post): it counts from now on, all
        # of it, against the card's and its profile's limits.
        txn.counted = True
        txn.profile_id = Card.all_objects.filter(pk=txn.card_id).values_list(
            "profile_id", flat=True
        )[0]
        spend_delta = after.spend
        changed = ["counted", "profile"]
    with connection.cursor() as cursor:
        hold_delta = after.hold - before.hold
        if hold_delta:
            ledger.funds_hold(cursor, account_id=txn.account_id, delta=hold_delta)
        if txn.counted and spend_delta:
            ledger.counters_add(
                cursor,
                account_id=txn.account_id,
                card_id=txn.card_id,
                profile_id=txn.profile_id,
                moment=txn.transaction_date,
                delta=spend_delta,
            )
    for event in fresh:
        entry = posting(event, txn_type=txn.type)
        if entry is None:
            continue
        amount, kind = entry
        ledger.ledger_post(
            account_id=txn.account_id,
            amount=amount,
            kind=kind,
            transaction_id=txn.pk,
            event_token=event.token,
        )
    return changed


def lock_transaction(token: uuid.UUID | str) -> Transaction | None:
    """The transaction, row-locked after its account's lock (the house order); None if absent."""
    account_id = (
        Transaction.objects.filter(token=token).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        return None
    with connection.cursor() as cursor:
        ledger.account_lock(cursor, account_id)
    return Transaction.objects.select_for_update().get(token=token)


# ---------------------------------------------------------------------------------------------
# A transaction as the network reports it (parsed by the Lithic integration)


@dataclass(frozen=True)
class NetworkTransaction:
    """A card transaction as Lithic reports it, in our units (`lithic_integration.transactions`
    reads Lithic's object into this)."""

    token: uuid.UUID
    card_token: uuid.UUID
    created: datetime.datetime
    events: list[Event]
    amount: Decimal
    currency: str = "USD"
    merchant_descriptor: str = ""
    merchant_city: str = ""
    merchant_country: str = ""
    mcc: str = ""
    result: str = "APPROVED"
    status: str = TransactionStatus.PENDING  # Lithic's status (used when it sent no events)


def _transaction_type(events: list[Event]) -> str:
    for event in sorted(events, key=lambda e: e.sort_key):
        if event.type in AUTHORIZATION_TYPES:
            return event.type
    return TransactionType.AUTHORIZATION


def _new_transaction(report: NetworkTransaction, card: Card) -> Transaction:
    """The transaction Lithic saw first (ASA off, a force post, a decline before ASA), as its
    first state; `converge` then applies its events (and counts it, once approved)."""
    txn_type = _transaction_type(report.events)
    status, reason = initial_state(txn_type).status, ""
    if not report.events and report.status == TransactionStatus.DECLINED:
        # Lithic sent no events to fold (they are optional): its status is all there is.
        status, reason = TransactionStatus.DECLINED, f"declined at Lithic: {report.result}"
    return Transaction.objects.create(
        token=report.token,
        account_id=card.account_id,
        card=card,
        cardholder_id=card.cardholder_id,
        amount=report.amount,
        currency=report.currency,
        merchant_descriptor=report.merchant_descriptor[:255],
        merchant_city=report.merchant_city[:100],
        merchant_country=report.merchant_country[:3],
        mcc=report.mcc,
        type=txn_type,
        status=status,
        result=report.result[:40],
        declined_reason=reason[:255],
        transaction_date=report.created,
    )


@transaction.atomic(durable=True)
def transaction_apply_network(report: NetworkTransaction) -> Transaction:
    """Create or bring up to date the transaction the network reports; idempotent, and the
    same end state in any order of delivery."""
    txn = lock_transaction(report.token)
    if txn is None:
        card = Card.all_objects.filter(lithic_card_token=report.card_token).first()
        if card is None:
            raise UnknownCard(f"no card with Lithic token {report.card_token}")
        with connection.cursor() as cursor:
            ledger.account_lock(cursor, card.account_id)
        # Another worker may have created it while this one waited for the lock.
        txn = Transaction.objects.select_for_update().filter(token=report.token).first()
        if txn is None:
            txn = _new_transaction(report, card)
    txn, _ = converge(txn, report.events or status_events(txn, report))
    return txn


STATUS_EVENT_NAMESPACE = uuid.UUID("0b6f2f7e-3c55-4d0e-9a51-6c1f1d7e8a40")


def status_events(txn: Transaction, report: NetworkTransaction) -> list[Event]:
    """Lithic's status of a transaction it reported without events (`events` is optional), as
    the one event that status implies for a transaction still pending here.

    DECLINED is a declined authorization (our approvals no longer stand), VOIDED a reversal of
    what is held, EXPIRED an expiry. Such an event moves holds and counters, never the ledger,
    and stops counting once Lithic reports any event of its own (`effective_events`); the same
    status again is the same event. SETTLED without events is left to reconciliation: what
    settled must post under Lithic's own clearing event, or it could post twice.
    """
    if report.events or txn.status != TransactionStatus.PENDING:
        return []
    if report.status == TransactionStatus.DECLINED:
        kind, amount, result = txn.type, txn.amount, report.result or "DECLINED"
        if result == "APPROVED":
            result = "DECLINED"
    elif report.status == TransactionStatus.VOIDED:
        kind, amount, result = EventType.AUTHORIZATION_REVERSAL, txn.hold_amount, "APPROVED"
    elif report.status == TransactionStatus.EXPIRED:
        kind, amount, result = EventType.AUTHORIZATION_EXPIRY, ZERO, "APPROVED"
    else:
        return []
    return [
        Event(
            token=uuid.uuid5(STATUS_EVENT_NAMESPACE, f"{txn.token}:{report.status}"),
            type=kind,
            amount=amount,
            created=timezone.now(),
            result=result,
            reason="" if result == "APPROVED" else result,
            source=EventSource.STATUS,
        )
    ]


# ---------------------------------------------------------------------------------------------
# The services: one event each, checked against the current state first


def _positive(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(CENTS):
        raise AmountInvalid(f"amount must be a positive Decimal in cents, got {amount!r}")
    return amount


def apply_one(
    *,
    token: uuid.UUID | str,
    event_token: uuid.UUID,
    kind: str,
    amount: Decimal | None,
    occurred_at: datetime.datetime | None,
    allowed: tuple[str, ...],
    verb: str,
) -> Transaction:
    """Lock, refuse what the current state does not allow, and converge on one more event."""
    txn = lock_transaction(token)
    if txn is None:
        raise TransactionNotFound(f"no transaction {token}")
    if TransactionEvent.all_objects.filter(token=event_token).exists():
        return txn
    if txn.type not in DEBIT_TYPES or txn.status not in allowed:
        raise InvalidStateTransition(f"cannot {verb} a {txn.status} {txn.type} transaction")
    if kind == EventType.AUTHORIZATION_REVERSAL:
        amount = txn.hold_amount if amount is None else _positive(amount)
        if amount > txn.hold_amount:
            raise AmountInvalid(f"reversal {amount} exceeds the open hold {txn.hold_amount}")
    elif kind == EventType.AUTHORIZATION_EXPIRY:
        amount = txn.hold_amount
    elif kind == EventType.RETURN:
        _positive(amount)
        if txn.refunded_amount + amount > txn.settled_amount:
            raise AmountInvalid(
                f"refund {amount} exceeds what is left to refund "
                f"({txn.settled_amount - txn.refunded_amount})"
            )
    else:
        _positive(amount)
    event = Event(
        token=event_token,
        type=kind,
        amount=amount,
        created=occurred_at or timezone.now(),
    )
    txn, _ = converge(txn, [event])
    return txn
