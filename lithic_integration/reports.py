"""What Lithic reports beside a transaction's events: its L2/L3 data and the balances.

- `card_transaction.enhanced_data.created` / `.updated`: kept on the transaction.
- `balance.updated`: each financial account's balance, recorded beside ours; a difference is
  left for reconciliation (`reconcile_lithic` lists it).
"""

from __future__ import annotations

from typing import Any

from lithic_integration import fields
from lithic_integration.errors import LithicPayloadInvalid
from lithic_integration.money import from_cents
from transactions.services import (
    LithicBalance,
    balance_report_record,
    transaction_store_enhanced_data,
)


def handle_enhanced_data(payload: dict[str, Any]) -> int | None:
    """The inbox worker's handler for `card_transaction.enhanced_data.created` / `.updated`."""
    payload = fields.obj(payload, "the enhanced data")
    fleet = payload.get("fleet")
    row = transaction_store_enhanced_data(
        token=fields.token(payload.get("token"), "token"),
        transaction_token=fields.token(payload.get("transaction_token"), "transaction_token"),
        event_token=fields.token(payload.get("event_token"), "event_token"),
        common=fields.obj(payload.get("common"), "common"),
        fleet=fleet if isinstance(fleet, list) else [],
    )
    return row.account_id


def handle_balance_updated(payload: dict[str, Any]) -> int | None:
    """The inbox worker's handler for `balance.updated`: one report per financial account."""
    data = fields.obj(payload, "the balance update").get("data")
    if not isinstance(data, list):
        raise LithicPayloadInvalid("`data` is not a list")
    accounts = set()
    for index, raw in enumerate(data):
        raw = fields.obj(raw, f"data[{index}]")
        report = balance_report_record(
            balance=LithicBalance(
                financial_account_token=fields.token(raw.get("token"), f"data[{index}].token"),
                financial_account_type=fields.text(raw.get("type"), 16),
                currency=fields.text(raw.get("currency") or "USD", 3),
                total=from_cents(
                    raw.get("total_amount"), f"data[{index}].total_amount", signed=True
                ),
                pending=from_cents(
                    raw.get("pending_amount"), f"data[{index}].pending_amount", signed=True
                ),
                available=from_cents(
                    raw.get("available_amount"), f"data[{index}].available_amount", signed=True
                ),
                reported_at=fields.moment(raw.get("updated"), f"data[{index}].updated"),
                last_transaction_token=fields.optional_token(
                    raw.get("last_transaction_token"), f"data[{index}].last_transaction_token"
                ),
            )
        )
        if report.account_id is not None:
            accounts.add(report.account_id)
    return accounts.pop() if len(accounts) == 1 else None
