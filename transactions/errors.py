"""Domain errors of the transactions app, each with a stable code."""

from __future__ import annotations

from core.errors import DomainError, InvalidStateTransition

__all__ = [
    "AmountInvalid",
    "BalanceWouldGoNegative",
    "EventOutOfSequence",
    "InvalidStateTransition",
    "TransactionNotFound",
    "UnknownCard",
]


class TransactionNotFound(DomainError):
    code = "transaction_not_found"


class AmountInvalid(DomainError):
    code = "amount_invalid"


class BalanceWouldGoNegative(DomainError):
    code = "balance_would_go_negative"


class UnknownCard(DomainError):
    """The transaction's card is not (yet) ours: `card.created` may still be on its way."""

    code = "unknown_card"


class EventOutOfSequence(DomainError):
    """The events known so far do not make a valid transaction; the missing ones will."""

    code = "event_out_of_sequence"
