"""Lithic's Auth Stream Access request, read into the authorization engine's terms.

`parse_request` turns the signed body (Lithic's authorization object, amounts in cents) into
`transactions.authorization.AuthorizationRequest` (Decimal amounts), or raises
`MalformedRequest` saying what is wrong, with whatever token and card token could be read so the
answer and the record still name them.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any

from lithic_integration.errors import LithicPayloadInvalid
from lithic_integration.money import from_cents
from transactions.authorization import AuthorizationRequest
from transactions.models import TransactionType

MCC_RE = re.compile(r"^[0-9]{4}$")


class MalformedRequest(ValueError):
    def __init__(self, reason: str, *, token: str = "", card_token: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.token = token
        self.card_token = card_token


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedRequest(f"`{name}` is missing or not an object")
    return value


def parse_request(body: bytes) -> AuthorizationRequest:
    """Lithic's authorization object, validated; MalformedRequest says what is wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("body is not JSON") from None
    payload = _object(payload, "body")
    raw_token = payload.get("token")
    token = raw_token if isinstance(raw_token, str) else ""
    card = payload.get("card")
    card_token = card.get("token") if isinstance(card, dict) else None
    card_token = card_token if isinstance(card_token, str) else ""

    def bad(reason: str) -> MalformedRequest:
        return MalformedRequest(reason, token=token[:64], card_token=card_token[:64])

    try:
        token = str(uuid.UUID(token))
    except ValueError:
        raise bad("`token` is not a UUID") from None
    status = payload.get("status")
    if status not in TransactionType.values:
        raise bad(f"unknown `status` {str(status)[:40]!r}")
    try:
        cardholder = _object(_object(payload.get("amounts"), "amounts").get("cardholder"), "c")
        merchant = _object(payload.get("merchant"), "merchant")
    except MalformedRequest as exc:
        raise bad(exc.reason) from None
    try:
        amount = from_cents(cardholder.get("amount"), "`amounts.cardholder.amount`")
    except LithicPayloadInvalid as exc:
        raise bad(exc.message) from None
    try:
        card_token = str(uuid.UUID(card_token))
    except ValueError:
        raise bad("`card.token` is not a UUID") from None
    mcc = merchant.get("mcc")
    if not isinstance(mcc, str) or not MCC_RE.match(mcc):
        raise bad("`merchant.mcc` is not a four-digit code")
    currency = cardholder.get("currency") or "USD"
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise bad("`amounts.cardholder.currency` is not an ISO 4217 code")
    pos = payload.get("pos") if isinstance(payload.get("pos"), dict) else {}
    entry_mode = pos.get("entry_mode") if isinstance(pos.get("entry_mode"), dict) else {}
    created = None
    if isinstance(payload.get("created"), str):
        try:
            created = datetime.datetime.fromisoformat(payload["created"].replace("Z", "+00:00"))
        except ValueError:
            created = None
    return AuthorizationRequest(
        token=token,
        status=status,
        amount=amount,
        currency=currency,
        card_token=card_token,
        mcc=mcc,
        merchant_descriptor=str(merchant.get("descriptor") or "")[:255],
        merchant_city=str(merchant.get("city") or "")[:100],
        merchant_country=str(merchant.get("country") or "")[:3],
        card_present=entry_mode.get("card") != "NOT_PRESENT",
        created=created,
    )
