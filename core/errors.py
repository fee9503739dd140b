"""Domain errors: each carries a stable, machine-readable code. Services raise these, never HTTP."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    # True for an error that retrying the same input can never cure (the webhook inbox then
    # marks the event DEAD at once instead of retrying it).
    permanent = False

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidStateTransition(DomainError):
    code = "invalid_state_transition"


class EventIgnored(Exception):
    """A webhook handler's answer that the event concerns nothing of ours and never will.

    The inbox marks the event IGNORED with this reason instead of retrying it (for example a
    card made at Lithic outside this back office). Not a DomainError: it is not a failure.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
