"""Domain errors of card products and cards, each with a stable code."""

from __future__ import annotations

from core.errors import DomainError, InvalidStateTransition

__all__ = ["InvalidStateTransition", "UnknownLithicCard"]


class UnknownLithicCard(DomainError):
    """No card here has this Lithic token (yet: our create may not have been recorded)."""

    code = "unknown_card"
