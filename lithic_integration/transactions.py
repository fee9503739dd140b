"""Lithic's card transaction object, read into the transactions app's terms and applied.

`card_transaction.updated` (the webhook) and `GET /v1/transactions` (reconciliation) both carry
Lithic's transaction object; `network_transaction(payload)` reads it (cents to Decimal through
`lithic_integration.money`) and `transactions.events.transaction_apply_network` applies it.
"""

from __future__ import annotations

from typing import Any

from lithic_integration import fields
from lithic_integration.errors import LithicPayloadInvalid
from lithic_integration.money import from_cents
from transactions.events import (
    AUTHORIZATION_TYPES,
    EVENT_TYPES,
    Event,
    NetworkTransaction,
    transaction_apply_network,
)
from transactions.models import Transaction, TransactionStatus


def _cardholder_cents(owner: dict[str, Any]) -> Any:
    """`amounts.cardholder.amount` of an event or a transaction, or None when absent."""
    amounts = owner.get("amounts")
    cardholder = amounts.get("cardholder") if isinstance(amounts, dict) else None
    return cardholder.get("amount") if isinstance(cardholder, dict) else None


def _first_cents(*candidates: Any) -> Any:
    return next((c for c in candidates if c is not None), None)


def _reason(raw: dict[str, Any], result: str) -> str:
    details = raw.get("detailed_results")
    named = [str(d) for d in details if d != "APPROVED"] if isinstance(details, list) else []
    return ", ".join(named) if named else ("" if result == "APPROVED" else result)


def parse_events(payload: dict[str, Any]) -> list[Event]:
    """The transaction's events; `events` is optional in Lithic's schema (none yet is [])."""
    events = payload.get("events")
    if events is None:
        return []
    if not isinstance(events, list):
        raise LithicPayloadInvalid("`events` is not a list")
    parsed = []
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            raise LithicPayloadInvalid(f"events[{index}] is not an object")
        kind = raw.get("type")
        if kind not in EVENT_TYPES:
            raise LithicPayloadInvalid(
                f"events[{index}].type {str(kind)[:40]!r} is not a Lithic event type"
            )
        result = str(raw.get("result") or "APPROVED")
        # `amounts` is the event's amount now; the flat `amount` is deprecated.
        cents = _first_cents(_cardholder_cents(raw), raw.get("amount"))
        parsed.append(
            Event(
                token=fields.token(raw.get("token"), f"events[{index}].token"),
                type=kind,
                amount=from_cents(cents, f"events[{index}].amounts.cardholder.amount"),
                created=fields.moment(raw.get("created"), f"events[{index}].created"),
                result=result[:40],
                reason=_reason(raw, result)[:255],
            )
        )
    return parsed


def settled_amount(payload: dict[str, Any]) -> Any:
    """What settled, in cents: `settled_amount` (deprecated but required), else the magnitude of
    `amounts.settlement.amount` (signed there: a debit's is negative)."""
    if payload.get("settled_amount") is not None:
        return payload["settled_amount"]
    amounts = payload.get("amounts")
    settlement = amounts.get("settlement") if isinstance(amounts, dict) else None
    cents = settlement.get("amount") if isinstance(settlement, dict) else None
    return abs(cents) if isinstance(cents, int) and not isinstance(cents, bool) else 0


def _first_authorization_cents(payload: dict[str, Any]) -> Any:
    events = payload.get("events")
    if not isinstance(events, list):
        return None
    authorizations = [
        e for e in events if isinstance(e, dict) and e.get("type") in AUTHORIZATION_TYPES
    ]
    if not authorizations:
        return None
    first = min(authorizations, key=lambda e: str(e.get("created") or ""))
    return _first_cents(_cardholder_cents(first), first.get("amount"))


def transaction_amount(payload: dict[str, Any]) -> Any:
    """The transaction's authorized amount in cents, from what the spec guarantees: the
    deprecated and nullable `authorization_amount`, else the first authorization event's
    amount (`events` is optional), else the deprecated but required `amount` (what settled,
    for a force post with no authorization).

    Not the transaction's `amounts.cardholder.amount`: that is the estimated *settled* amount,
    signed (a debit's is negative, a pending one's 0), and `amounts.hold` the pending amount.
    """
    return _first_cents(
        payload.get("authorization_amount"),
        _first_authorization_cents(payload),
        payload.get("amount"),
        0,
    )


def network_transaction(payload: Any) -> NetworkTransaction:
    """Lithic's transaction object as a `NetworkTransaction`; LithicPayloadInvalid otherwise."""
    if not isinstance(payload, dict):
        raise LithicPayloadInvalid("the transaction is not a JSON object")
    token = fields.token(payload.get("token"), "token")
    events = parse_events(payload)
    merchant = fields.part(payload, "merchant")
    cardholder = fields.part(fields.part(payload, "amounts"), "cardholder")
    mcc = str(merchant.get("mcc") or "")
    status = str(payload.get("status") or TransactionStatus.PENDING)
    return NetworkTransaction(
        token=token,
        card_token=fields.token(payload.get("card_token"), "card_token"),
        created=fields.moment(payload.get("created"), "created"),
        events=events,
        amount=from_cents(transaction_amount(payload), "authorization_amount"),
        currency=str(cardholder.get("currency") or payload.get("merchant_currency") or "USD"),
        merchant_descriptor=str(merchant.get("descriptor") or ""),
        merchant_city=str(merchant.get("city") or ""),
        merchant_country=str(merchant.get("country") or ""),
        mcc=mcc if len(mcc) == 4 and mcc.isdigit() else "",
        result=str(payload.get("result") or "APPROVED")[:40],
        status=status if status in TransactionStatus.values else TransactionStatus.PENDING,
    )


def transaction_apply_lithic(payload: Any) -> Transaction:
    """Create or bring up to date the transaction Lithic describes (its API object, as sent in
    `card_transaction.updated`); idempotent, and the same end state in any order of delivery."""
    return transaction_apply_network(network_transaction(payload))


def handle_card_transaction_updated(payload: dict[str, Any]) -> int | None:
    """The inbox worker's handler for `card_transaction.updated`."""
    return transaction_apply_lithic(payload).account_id
