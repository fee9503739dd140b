"""Domain errors of the transactions app, each with a stable code."""

from __future__ import annotations

from core.errors import DomainError, InvalidStateTransition

__all__ = [
    "AmountInvalid",
    "BalanceWouldGoNegative",
    "InvalidStateTransition",
    "TransactionNotFound",
]


class TransactionNotFound(DomainError):
    code = "transaction_not_found"


class AmountInvalid(DomainError):
    code = "amount_invalid"


class BalanceWouldGoNegative(DomainError):
    code = "balance_would_go_negative"
