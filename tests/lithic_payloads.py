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
CREDIT_TYPES = frozenset({"CREDIT_AUTHORIZATION", "FINANCIAL_CREDIT_AUTHORIZATION"})


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
    settled, for a force post with none), settled the clearings' sum; the flat fields are
    positive, the structured `amounts` signed as the document's example is.
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
    # The transaction's `amounts` are signed from the account's side (the document's example: a
    # pending $18 purchase has cardholder 0 and hold -1800): cardholder, merchant and settlement
    # are what settled, hold what is pending.
    sign = 1 if authorizations and authorizations[0]["type"] in CREDIT_TYPES else -1
    amounts = body["amounts"]
    amounts["cardholder"]["amount"] = amounts["merchant"]["amount"] = sign * settled
    amounts["hold"]["amount"] = sign * authorized if status == "PENDING" else 0
    amounts["settlement"]["amount"] = sign * settled
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


# --- Disputes ----------------------------------------------------------------------------------


def dispute_event(
    kind: str,
    created: str = T0,
    *,
    action: str = "",
    stage: str = "",
    amount: int | None = None,
    polarity: str = "",
    token: str | None = None,
) -> dict[str, Any]:
    """One event of a Managed Disputes timeline (schema `event`): WORKFLOW with `action`
    (OPENED, CLOSED, REOPENED), CARDHOLDER_LIABILITY with `action` (PROVISIONAL_CREDIT_GRANTED,
    ...), or FINANCIAL with `stage` (CHARGEBACK, REPRESENTMENT, ...) and `polarity`."""
    if kind == "WORKFLOW":
        data: dict[str, Any] = {
            "type": kind,
            "stage": "CLAIM",
            "action": action or "OPENED",
            "reason": "Not Sent",
            "amount": amount,
            "disposition": None,
        }
    elif kind == "CARDHOLDER_LIABILITY":
        data = {"type": kind, "action": action, "amount": amount or 0, "reason": "Provisional"}
    else:
        data = {"type": kind, "stage": stage, "amount": amount or 0, "polarity": polarity}
    return {"token": token or str(uuid.uuid4()), "type": kind, "created": created, "data": data}


def managed_dispute(
    *,
    card_token: str,
    transaction_token: str | None,
    events: list[dict[str, Any]],
    token: str | None = None,
    event_type: str = "dispute_transaction.updated",
    original: int = 10_000,
    status: str = "OPEN",
    created: str = T0,
    updated: str | None = None,
) -> dict[str, Any]:
    """A `dispute_transaction.created` / `.updated` body (schema `dispute`)."""
    return {
        "event_type": event_type,
        "case_id": f"ROL{uuid.uuid4().int % 100000:05d}",
        "token": token or str(uuid.uuid4()),
        "card_token": str(card_token),
        "account_token": str(uuid.uuid4()),
        "claim_token": str(uuid.uuid4()),
        "network": "VISA",
        "currency": "USD",
        "created": created,
        "updated": updated or max([created, *(e["created"] for e in events)]),
        "merchant": {
            "acceptor_id": "174030075991",
            "acquiring_institution_id": "191231",
            "descriptor": "COFFEE SHOP",
            "mcc": "5812",
            "city": "NEW YORK",
            "state": "NY",
            "country": "USA",
        },
        "transaction_series": None
        if transaction_token is None
        else {
            "type": "DISPUTE",
            "related_transaction_token": str(transaction_token),
            "related_transaction_event_token": None,
        },
        "liability_allocation": {
            "original_amount": original,
            "recovered_amount": 0,
            "written_off_amount": 0,
            "denied_amount": 0,
            "remaining_amount": original,
        },
        "disposition": None,
        "status": status,
        "events": copy.deepcopy(events),
    }


def chargeback_dispute(
    *, transaction_token: str, status: str = "NEW", amount: int = 10_000, token: str | None = None
) -> dict[str, Any]:
    """A `dispute.updated` body (Chargebacks API, schema `dispute-v1`)."""
    return {
        "event_type": "dispute.updated",
        "token": token or str(uuid.uuid4()),
        "transaction_token": str(transaction_token),
        "amount": amount,
        "status": status,
        "reason": "FRAUD_CARD_NOT_PRESENT",
        "created": T0,
        "arbitration_date": None,
        "customer_filed_date": T0,
        "customer_note": None,
        "network_claim_ids": None,
        "network_filed_date": None,
        "network_reason_code": None,
        "prearbitration_date": None,
        "primary_claim_id": None,
        "representment_date": None,
        "resolution_date": None,
        "resolution_note": None,
        "resolution_reason": None,
    }


# --- Enhanced data, balances, backtests ---------------------------------------------------------


def enhanced_data(
    *,
    transaction_token: str,
    event_token: str,
    token: str | None = None,
    event_type: str = "card_transaction.enhanced_data.created",
    tax_cents: int = 412,
) -> dict[str, Any]:
    """A `card_transaction.enhanced_data.*` body (schema `enhanced-data`)."""
    return {
        "event_type": event_type,
        "token": token or str(uuid.uuid4()),
        "transaction_token": str(transaction_token),
        "event_token": str(event_token),
        "common": {
            "customer_reference_number": "PO-1187",
            "merchant_reference_number": None,
            "order_date": "2026-11-14",
            "tax": {"amount": tax_cents, "exempt": "TAX_INCLUDED", "merchant_tax_id": None},
            "line_items": [
                {
                    "product_code": "SKU-1",
                    "description": "Printer paper",
                    "quantity": "4",
                    "amount": "1200",
                }
            ],
        },
        "fleet": [],
    }


def balance_updated(
    *, financial_account_token: str, total: int, pending: int, account_type: str = "ISSUING"
) -> dict[str, Any]:
    """A `balance.updated` body (schema `balance-updated`) for one financial account."""
    return {
        "event_type": "balance.updated",
        "data": [
            {
                "token": str(financial_account_token),
                "type": account_type,
                "currency": "USD",
                "total_amount": total,
                "pending_amount": pending,
                "available_amount": total - pending,
                "created": T0,
                "updated": now_iso(),
                "last_transaction_event_token": str(uuid.uuid4()),
                "last_transaction_token": str(uuid.uuid4()),
            }
        ],
    }


def backtest_report(
    *, backtest_token: str, approved: int = 120, declined: int = 7
) -> dict[str, Any]:
    """An `auth_rules.backtest_report.created` body (schema `backtest-report`)."""
    stats = {"version": 2, "approved": approved, "declined": declined, "examples": []}
    return {
        "event_type": "auth_rules.backtest_report.created",
        "backtest_token": str(backtest_token),
        "simulation_parameters": {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
        "results": {"current_version": {**stats, "version": 1}, "draft_version": stats},
    }
