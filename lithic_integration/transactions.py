"""Lithic's card transaction object, read into the transactions app's terms and applied.

`card_transaction.updated` (the webhook) and `GET /v1/transactions` (reconciliation) both carry
Lithic's transaction object; `network_transaction(payload)` reads it (cents to Decimal through
`lithic_integration.money`) and `transactions.events.transaction_apply_network` applies it.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from lithic_integration.errors import LithicPayloadInvalid
from lithic_integration.money import from_cents
from transactions.events import EVENT_TYPES, Event, NetworkTransaction, transaction_apply_network
from transactions.models import Transaction


def _moment(value: Any, what: str) -> datetime.datetime:
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        raise LithicPayloadInvalid(f"{what} is not an ISO 8601 date-time: {str(value)[:40]!r}")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return moment


def _uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise LithicPayloadInvalid(f"{what} is not a token: {str(value)[:40]!r}") from None


def parse_events(payload: dict[str, Any]) -> list[Event]:
    events = payload.get("events")
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
        parsed.append(
            Event(
                token=_uuid(raw.get("token"), f"events[{index}].token"),
                type=kind,
                amount=from_cents(raw.get("amount"), f"events[{index}].amount"),
                created=_moment(raw.get("created"), f"events[{index}].created"),
                result=str(raw.get("result") or "APPROVED"),
            )
        )
    return parsed


def network_transaction(payload: Any) -> NetworkTransaction:
    """Lithic's transaction object as a `NetworkTransaction`; LithicPayloadInvalid otherwise."""
    if not isinstance(payload, dict):
        raise LithicPayloadInvalid("the transaction is not a JSON object")
    token = _uuid(payload.get("token"), "token")
    events = parse_events(payload)
    merchant = payload.get("merchant") if isinstance(payload.get("merchant"), dict) else {}
    amounts = payload.get("amounts") if isinstance(payload.get("amounts"), dict) else {}
    cardholder = amounts.get("cardholder") if isinstance(amounts.get("cardholder"), dict) else {}
    authorized = payload.get("authorization_amount", payload.get("amount", 0))
    mcc = str(merchant.get("mcc") or "")
    return NetworkTransaction(
        token=token,
        card_token=_uuid(payload.get("card_token"), "card_token"),
        created=_moment(payload.get("created"), "created"),
        events=events,
        amount=from_cents(authorized, "authorization_amount"),
        currency=str(cardholder.get("currency") or payload.get("merchant_currency") or "USD"),
        merchant_descriptor=str(merchant.get("descriptor") or ""),
        merchant_city=str(merchant.get("city") or ""),
        merchant_country=str(merchant.get("country") or ""),
        mcc=mcc if len(mcc) == 4 and mcc.isdigit() else "",
        result=str(payload.get("result") or "APPROVED"),
    )


def transaction_apply_lithic(payload: Any) -> Transaction:
    """Create or bring up to date the transaction Lithic describes (its API object, as sent in
    `card_transaction.updated`); idempotent, and the same end state in any order of delivery."""
    return transaction_apply_network(network_transaction(payload))


def handle_card_transaction_updated(payload: dict[str, Any]) -> int | None:
    """The inbox worker's handler for `card_transaction.updated`."""
    return transaction_apply_lithic(payload).account_id
