"""Lithic's dispute webhooks, read into the transactions app's terms and applied.

- `dispute_transaction.created` / `.updated` (Managed Disputes): the case with its timeline of
  events; provisional credits and chargebacks move the cardholder's account
  (transactions.disputes).
- `dispute.updated` (Chargebacks API): the dispute's status and amounts; no money moves.
"""

from __future__ import annotations

from typing import Any

from cards.selectors import card_awaiting_lithic_exists
from core.errors import EventIgnored
from lithic_integration import fields
from lithic_integration.errors import LithicPayloadInvalid
from lithic_integration.money import from_cents
from transactions.disputes import DisputeEventReport, DisputeReport, dispute_apply
from transactions.errors import UnknownCard
from transactions.models import Dispute

ZERO_CENTS = 0


def _cents(value: Any, what: str) -> Any:
    return from_cents(ZERO_CENTS if value is None else value, what)


def _event(raw: Any, index: int) -> DisputeEventReport:
    raw = fields.obj(raw, f"events[{index}]")
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    kind = fields.text(raw.get("type"), 24)
    if kind not in ("WORKFLOW", "FINANCIAL", "CARDHOLDER_LIABILITY"):
        raise LithicPayloadInvalid(f"events[{index}].type {kind!r} is not a dispute event type")
    amount = data.get("amount")
    return DisputeEventReport(
        token=fields.token(raw.get("token"), f"events[{index}].token"),
        type=kind,
        created=fields.moment(raw.get("created"), f"events[{index}].created"),
        action=fields.text(data.get("action") or data.get("stage"), 40),
        amount=None if amount is None else from_cents(amount, f"events[{index}].data.amount"),
        polarity=fields.text(data.get("polarity"), 8),
        reason=fields.text(data.get("reason"), 255),
        data=data,
    )


def managed_dispute(payload: Any) -> DisputeReport:
    """A Managed Disputes case (schema `dispute`) as a `DisputeReport`."""
    payload = fields.obj(payload, "the dispute")
    series = payload.get("transaction_series")
    series = series if isinstance(series, dict) else {}
    allocation = payload.get("liability_allocation")
    allocation = allocation if isinstance(allocation, dict) else {}
    events = payload.get("events")
    if events is not None and not isinstance(events, list):
        raise LithicPayloadInvalid("`events` is not a list")
    return DisputeReport(
        token=fields.token(payload.get("token"), "token"),
        source=Dispute.Source.MANAGED,
        opened_at=fields.moment(payload.get("created"), "created"),
        updated_at=fields.moment(payload.get("updated") or payload.get("created"), "updated"),
        payload=payload,
        card_token=fields.optional_token(payload.get("card_token"), "card_token"),
        transaction_token=fields.optional_token(
            series.get("related_transaction_token"), "related_transaction_token"
        ),
        case_id=fields.text(payload.get("case_id"), 64),
        network=fields.text(payload.get("network"), 16),
        currency=fields.text(payload.get("currency") or "USD", 3),
        status=fields.text(payload.get("status"), 20),
        disposition=fields.text(payload.get("disposition"), 20),
        amount=_cents(allocation.get("original_amount"), "original_amount"),
        recovered_amount=_cents(allocation.get("recovered_amount"), "recovered_amount"),
        written_off_amount=_cents(allocation.get("written_off_amount"), "written_off_amount"),
        denied_amount=_cents(allocation.get("denied_amount"), "denied_amount"),
        remaining_amount=_cents(allocation.get("remaining_amount"), "remaining_amount"),
        events=[_event(raw, index) for index, raw in enumerate(events or [])],
    )


def chargeback_dispute(payload: Any) -> DisputeReport:
    """A Chargebacks API dispute (schema `dispute-v1`) as a `DisputeReport` (no events)."""
    payload = fields.obj(payload, "the dispute")
    created = fields.moment(payload.get("created"), "created")
    updated = (
        fields.optional_moment(payload.get("resolution_date"), "resolution_date")
        or fields.optional_moment(payload.get("updated"), "updated")
        or created
    )
    return DisputeReport(
        token=fields.token(payload.get("token"), "token"),
        source=Dispute.Source.CHARGEBACK,
        opened_at=created,
        updated_at=max(updated, created),
        payload=payload,
        transaction_token=fields.optional_token(
            payload.get("transaction_token"), "transaction_token"
        ),
        case_id=fields.text(payload.get("primary_claim_id"), 64),
        status=fields.text(payload.get("status"), 20),
        disposition=fields.text(payload.get("resolution_reason"), 20),
        reason=fields.text(payload.get("reason"), 64),
        amount=_cents(payload.get("amount"), "amount"),
    )


def _apply(report: DisputeReport) -> int | None:
    try:
        return dispute_apply(report).account_id
    except UnknownCard as exc:
        if card_awaiting_lithic_exists() or report.source == Dispute.Source.CHARGEBACK:
            raise  # the card, or the transaction's webhook, may still be on its way
        raise EventIgnored(f"{exc.message}: a dispute of a card not issued here") from exc


def handle_dispute_transaction(payload: dict[str, Any]) -> int | None:
    """The inbox worker's handler for `dispute_transaction.created` and `.updated`."""
    return _apply(managed_dispute(payload))


def handle_dispute_updated(payload: dict[str, Any]) -> int | None:
    """The inbox worker's handler for `dispute.updated` (Chargebacks API)."""
    return _apply(chargeback_dispute(payload))
