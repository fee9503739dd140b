"""Lithic's payloads as Lithic sends them, for the demo's live activity.

The ASA request (`card_authorization.approval_request`), the card transaction webhook
(`card_transaction.updated`) and the Managed Disputes webhook (`dispute_transaction.created`),
with the fields their schemas in Lithic's OpenAPI document require (tests/demo checks every
body against it). Amounts are integer cents here, as on the wire; the integration reads them
into Decimal (`lithic_integration.money`) like any other delivery.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

# Lithic names a merchant's country in ISO 3166 alpha-3; the demo's merchants carry alpha-2.
ALPHA3 = {"US": "USA", "CA": "CAN", "GB": "GBR", "PT": "PRT", "AU": "AUS", "IL": "ISR"}
CREDIT_EVENTS = frozenset({"RETURN", "CORRECTION_CREDIT", "CREDIT_AUTHORIZATION"})
CREDIT_TYPES = frozenset({"CREDIT_AUTHORIZATION", "FINANCIAL_CREDIT_AUTHORIZATION"})
AUTHORIZATION_TYPES = frozenset(
    {
        "AUTHORIZATION",
        "FINANCIAL_AUTHORIZATION",
        "CREDIT_AUTHORIZATION",
        "FINANCIAL_CREDIT_AUTHORIZATION",
        "BALANCE_INQUIRY",
    }
)


def iso(moment: datetime.datetime) -> str:
    """A moment as Lithic writes it: UTC, to the second, with a Z."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(cents: int, *, rate: bool = False) -> dict[str, Any]:
    amount: dict[str, Any] = {"amount": cents, "currency": "USD"}
    if rate:
        amount["conversion_rate"] = "1.000000"
    return amount


def _merchant(descriptor: str, mcc: str, city: str, country: str) -> dict[str, Any]:
    return {
        "acceptor_id": "174030075991",
        "acquiring_institution_id": "191231",
        "city": city.upper(),
        "country": ALPHA3.get(country, country),
        "descriptor": descriptor,
        "mcc": mcc,
        "state": "",
        "postal_code": None,
        "street_address": None,
        "phone_number": None,
    }


def _pos(card_present: bool) -> dict[str, Any]:
    return {
        "entry_mode": {
            "card": "PRESENT" if card_present else "NOT_PRESENT",
            "cardholder": "PRESENT" if card_present else "MAIL_ORDER",
            "pan": "CONTACTLESS" if card_present else "KEY_ENTERED",
            "pin_entered": False,
        },
        "terminal": {
            "attended": card_present,
            "card_retention_capable": False,
            "on_premise": card_present,
            "operator": "CARD_ACCEPTOR" if card_present else "CARDHOLDER",
            "partial_approval_capable": False,
            "pin_capability": "UNSPECIFIED",
            "type": "POS_TERMINAL" if card_present else "ECOMMERCE",
        },
    }


def asa_request(
    *,
    token: str,
    event_token: str,
    status: str,
    cents: int,
    card_token: str,
    last_four: str,
    descriptor: str,
    mcc: str,
    city: str,
    country: str,
    created: datetime.datetime,
    card_present: bool,
) -> dict[str, Any]:
    """An Auth Stream Access request (`card_authorization.approval_request`)."""
    return {
        "event_type": "card_authorization.approval_request",
        "token": token,
        "event_token": event_token,
        "status": status,
        "created": iso(created),
        "amount": cents,
        "acquirer_fee": 0,
        "authorization_amount": cents,
        "settled_amount": 0,
        "merchant_amount": cents,
        "merchant_currency": "USD",
        "cardholder_currency": "USD",
        "cash_amount": 0,
        "transaction_initiator": "CARDHOLDER",
        "network": "VISA",
        "amounts": {
            "cardholder": _money(cents, rate=True),
            "hold": _money(cents),
            "merchant": _money(cents),
            "settlement": None,
        },
        "avs": {"address": "", "zipcode": "", "address_on_file_match": "NOT_PRESENT"},
        "card": {
            "token": card_token,
            "last_four": last_four,
            "memo": "",
            "spend_limit": 0,
            "spend_limit_duration": "TRANSACTION",
            "state": "OPEN",
            "tags": {},
            "type": "VIRTUAL",
        },
        "merchant": _merchant(descriptor, mcc, city, country),
        "pos": _pos(card_present),
        "name_validation": None,
        "service_location": None,
        "token_info": None,
    }


def transaction_event(
    kind: str, cents: int, created: datetime.datetime, *, token: str | None = None
) -> dict[str, Any]:
    """One approved event of a card transaction (schema `transaction_event`)."""
    return {
        "token": token or str(uuid.uuid4()),
        "type": kind,
        "amount": cents,
        "amounts": {
            "cardholder": _money(cents, rate=True),
            "merchant": _money(cents),
            "settlement": _money(cents, rate=True) if kind == "CLEARING" else None,
        },
        "created": iso(created),
        "result": "APPROVED",
        "detailed_results": ["APPROVED"],
        "effective_polarity": "CREDIT" if kind in CREDIT_EVENTS else "DEBIT",
        "rule_results": [],
        "network_info": None,
    }


def card_transaction_updated(
    *,
    token: str,
    card_token: str,
    status: str,
    descriptor: str,
    mcc: str,
    city: str,
    country: str,
    card_present: bool,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    """A `card_transaction.updated` body carrying the transaction's events so far.

    Its amounts follow the events: authorized is the first authorization's amount, settled
    the clearings' sum. The flat fields are positive; the structured `amounts` are signed from
    the account's side, as in Lithic's example (a purchase's settled amount is negative).
    """
    authorizations = [e for e in events if e["type"] in AUTHORIZATION_TYPES]
    authorized = authorizations[0]["amount"] if authorizations else 0
    settled = sum(e["amount"] for e in events if e["type"] == "CLEARING")
    created = authorizations[0]["created"] if authorizations else events[0]["created"]
    sign = 1 if authorizations and authorizations[0]["type"] in CREDIT_TYPES else -1
    held = authorized if status == "PENDING" else 0
    return {
        "event_type": "card_transaction.updated",
        "token": token,
        "account_token": str(uuid.uuid4()),
        "card_token": card_token,
        "created": created,
        "updated": max(e["created"] for e in events),
        "status": status,
        "result": "APPROVED",
        "amount": settled if status == "SETTLED" else authorized,
        "authorization_amount": authorized,
        "settled_amount": settled,
        "merchant_amount": authorized,
        "merchant_authorization_amount": authorized,
        "merchant_currency": "USD",
        "acquirer_fee": 0,
        "authorization_code": f"{uuid.uuid4().int % 1_000_000:06d}",
        "network": "VISA",
        "network_risk_score": None,
        "amounts": {
            "cardholder": _money(sign * settled, rate=True),
            "hold": _money(sign * held),
            "merchant": _money(sign * settled),
            "settlement": _money(sign * settled),
        },
        "avs": {"address": "", "zipcode": ""},
        "merchant": _merchant(descriptor, mcc, city, country),
        "pos": _pos(card_present),
        "tags": {},
        "cardholder_authentication": None,
        "token_info": None,
        "financial_account_token": None,
        "acquirer_reference_number": None,
        "service_location": None,
        "events": events,
    }


def dispute_transaction_created(
    *,
    token: str,
    card_token: str,
    transaction_token: str,
    descriptor: str,
    mcc: str,
    city: str,
    country: str,
    cents: int,
    opened: datetime.datetime,
    credited: datetime.datetime,
) -> dict[str, Any]:
    """A Managed Disputes case just opened, with a provisional credit granted to the cardholder
    (`dispute_transaction.created`, schema `dispute`)."""
    events = [
        {
            "token": str(uuid.uuid4()),
            "type": "WORKFLOW",
            "created": iso(opened),
            "data": {
                "type": "WORKFLOW",
                "stage": "CLAIM",
                "action": "OPENED",
                "reason": "Not as described",
                "amount": cents,
                "disposition": None,
            },
        },
        {
            "token": str(uuid.uuid4()),
            "type": "CARDHOLDER_LIABILITY",
            "created": iso(credited),
            "data": {
                "type": "CARDHOLDER_LIABILITY",
                "action": "PROVISIONAL_CREDIT_GRANTED",
                "amount": cents,
                "reason": "Provisional credit while the claim is investigated",
            },
        },
    ]
    merchant = _merchant(descriptor, mcc, city, country)
    return {
        "event_type": "dispute_transaction.created",
        "case_id": f"ROL{uuid.uuid4().int % 100000:05d}",
        "token": token,
        "card_token": card_token,
        "account_token": str(uuid.uuid4()),
        "claim_token": str(uuid.uuid4()),
        "network": "VISA",
        "currency": "USD",
        "created": iso(opened),
        "updated": iso(credited),
        "merchant": {key: merchant[key] for key in _DISPUTE_MERCHANT_FIELDS},
        "transaction_series": {
            "type": "DISPUTE",
            "related_transaction_token": transaction_token,
            "related_transaction_event_token": None,
        },
        "liability_allocation": {
            "original_amount": cents,
            "recovered_amount": 0,
            "written_off_amount": 0,
            "denied_amount": 0,
            "remaining_amount": cents,
        },
        "disposition": None,
        "status": "OPEN",
        "events": events,
    }


_DISPUTE_MERCHANT_FIELDS = (
    "acceptor_id",
    "acquiring_institution_id",
    "descriptor",
    "mcc",
    "city",
    "state",
    "country",
)
