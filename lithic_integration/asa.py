"""Lithic's Auth Stream Access request and answer, in and out of the engine's terms.

`parse_request` turns the signed body (Lithic's authorization object, amounts in cents) into
`transactions.authorization.AuthorizationRequest` (Decimal amounts), or raises
`MalformedRequest` saying what is wrong, with whatever token and card token could be read so the
answer and the record still name them. `answer_json` is the reply Lithic reads (schema
`asa-response`), amounts in cents again.
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

from lithic_integration import fields, payloads
from lithic_integration.errors import LithicPayloadInvalid
from lithic_integration.money import from_cents, to_cents
from transactions.authorization import Answer, AuthorizationRequest
from transactions.models import TransactionType

MCC_RE = re.compile(r"^[0-9]{4}$")
TOKEN_KEPT = 64
# Lithic's ASA result values (schema `asa-response`): anything else declines as
# CUSTOM_ASA_RESULT, so the failure and malformed results must be one of these.
ASA_RESULTS = (
    "APPROVED",
    "AVS_INVALID",
    "CARD_PAUSED",
    "INSUFFICIENT_FUNDS",
    "UNAUTHORIZED_MERCHANT",
    "VELOCITY_EXCEEDED",
    "DRIVER_NUMBER_INVALID",
    "VEHICLE_NUMBER_INVALID",
    "SUSPECTED_FRAUD",
    "CHALLENGE",
)


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


def _tokens(payload: Any) -> tuple[str, str]:
    """The request's token and card token as sent (if strings), to name it in the answer."""
    if not isinstance(payload, dict):
        return "", ""
    raw_token = payload.get("token")
    card = payload.get("card")
    raw_card = card.get("token") if isinstance(card, dict) else None
    return _kept(raw_token), _kept(raw_card)


def _kept(raw: Any) -> str:
    """A token as sent, if it is text that can be stored and sent back (no NUL, no lone
    surrogate); "" otherwise: no token of Lithic's carries either."""
    if not isinstance(raw, str) or payloads.text_problem(raw):
        return ""
    return raw[:TOKEN_KEPT]


def parse_request(body: bytes, *, request_id: str = "") -> AuthorizationRequest:
    """Lithic's authorization object, validated; MalformedRequest says what is wrong.

    `request_id` is the delivery's `webhook-id`, which names the request when Lithic sends no
    `event_token`.
    """
    try:
        payload = payloads.load(body)
    except payloads.UnreadablePayload as exc:
        token, card_token = _tokens(exc.value)
        raise MalformedRequest(exc.reason, token=token, card_token=card_token) from None
    payload = _object(payload, "body")
    token, card_token = _tokens(payload)

    def bad(reason: str) -> MalformedRequest:
        return MalformedRequest(reason, token=token, card_token=card_token)

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
    entry_mode = fields.part(fields.part(payload, "pos"), "entry_mode")
    created = None
    if isinstance(payload.get("created"), str):
        try:
            created = datetime.datetime.fromisoformat(payload["created"].replace("Z", "+00:00"))
        except ValueError:
            created = None
    event_token = None
    if payload.get("event_token") is not None:
        try:
            event_token = str(uuid.UUID(str(payload["event_token"])))
        except ValueError:
            raise bad("`event_token` is not a UUID") from None
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
        event_token=event_token,
        request_id=request_id,
    )


def answer_json(answer: Answer) -> dict[str, Any]:
    """The reply Lithic reads: the request's token (when it had one), the result, and for a
    balance inquiry the balance in cents. Never `approved_amount`: its presence is a partial
    approval, which is never given."""
    reply: dict[str, Any] = {"result": answer.result}
    token = _uuid_or_none(answer.token)
    if token:
        reply["token"] = token
    if answer.balance is not None and answer.available is not None:
        reply["balance"] = {
            "amount": to_cents(answer.balance),
            "available": to_cents(answer.available),
        }
    return reply


def _uuid_or_none(value: str | None) -> str | None:
    # Lithic's tokens are UUIDs; a request whose `token` is not one had no token to repeat.
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


def token_of(body: bytes) -> str | None:
    """The request's token as sent, for an answer that could not be decided."""
    try:
        return parse_request(body).token
    except MalformedRequest as exc:
        return exc.token or None
