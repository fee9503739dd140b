"""Lithic payloads for the tests, built from the fixtures and valid against lithic-openapi.yml.

Every builder returns a payload Lithic could send (the test for it is
tests/lithic/test_spec_conformance.py); tests change what they are about and nothing else.
Amounts are cents, in both the structured `amounts` and the deprecated flat fields, which agree.
"""

from __future__ import annotations

import copy
import datetime
import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lithic"
T0 = "2026-11-14T15:20:08Z"
AUTHORIZATION_TYPES = frozenset(
    {
        "AUTHORIZATION",
        "FINANCIAL_AUTHORIZATION",
        "CREDIT_AUTHORIZATION",
        "FINANCIAL_CREDIT_AUTHORIZATION",
        "BALANCE_INQUIRY",
    }
)
CREDIT_EVENTS = frozenset({"RETURN", "CORRECTION_CREDIT", "CREDIT_AUTHORIZATION"})


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _money(cents: int, *, rate: bool = True) -> dict[str, Any]:
    amount: dict[str, Any] = {"amount": cents, "currency": "USD"}
    if rate:
        amount["conversion_rate"] = "1.000000"
    return amount


def transaction_event(
    kind: str,
    cents: int,
    created: str = T0,
    *,
    result: str = "APPROVED",
    detailed_results: list[str] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """One event of a card transaction (schema `transaction_event`)."""
    return {
        "token": token or str(uuid.uuid4()),
        "type": kind,
        "amount": cents,
        "amounts": {
            "cardholder": _money(cents),
            "merchant": _money(cents, rate=False),
            "settlement": _money(cents) if kind == "CLEARING" else None,
        },
        "created": created,
        "result": result,
        "detailed_results": detailed_results or [result],
        "effective_polarity": "CREDIT" if kind in CREDIT_EVENTS else "DEBIT",
        "rule_results": [],
        "network_info": None,
    }


def card_transaction(
    card_token: str,
    token: str,
    events: list[dict[str, Any]],
    *,
    status: str = "PENDING",
    result: str | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """A `card_transaction.updated` body (schema `card_transaction`) carrying `events`.

    Its amounts follow the events: authorized is the first authorization's amount (what
    settled, for a force post with none), settled the clearings' sum.
    """
    body = fixture("card_transaction_updated_authorization")
    authorizations = [e for e in events if e["type"] in AUTHORIZATION_TYPES]
    settled = sum(e["amount"] for e in events if e["type"] == "CLEARING")
    authorized = authorizations[0]["amount"] if authorizations else settled
    first = authorizations[0] if authorizations else (events[0] if events else None)
    body.update(
        token=token,
        card_token=str(card_token),
        status=status,
        result=result or (first["result"] if first else "APPROVED"),
        created=created or (first["created"] if first else T0),
        amount=settled if status == "SETTLED" else authorized,
        authorization_amount=authorized,
        merchant_amount=authorized,
        merchant_authorization_amount=authorized,
        settled_amount=settled,
        events=copy.deepcopy(events),
    )
    body["updated"] = max([body["created"], *(e["created"] for e in events)])
    amounts = body["amounts"]
    amounts["cardholder"]["amount"] = amounts["merchant"]["amount"] = authorized
    amounts["hold"]["amount"] = authorized if status == "PENDING" else 0
    amounts["settlement"]["amount"] = settled
    return body


def card_event(event_type: str, card_token: str, **fields: Any) -> dict[str, Any]:
    """A `card.*` webhook body with the fields its schema requires."""
    required: dict[str, dict[str, Any]] = {
        "card.updated": {"previous_fields": {}, "state": "OPEN"},
        "card.shipped": {
            "bulk_order_token": None,
            "shipping_method": "USPS priority",
            "tracking_number": None,
        },
    }
    return {
        "event_type": event_type,
        "card_token": str(card_token),
        **required.get(event_type, {}),
        **fields,
    }


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
