"""Domain errors: each carries a stable, machine-readable code. Services raise these, never HTTP."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidStateTransition(DomainError):
    code = "invalid_state_transition"
