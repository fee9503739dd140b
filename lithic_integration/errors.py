"""Errors of the Lithic integration, each with a stable machine-readable code."""

from __future__ import annotations

from core.errors import DomainError


class LithicError(DomainError):
    """Base of the errors an outbound Lithic call ends in."""


class LithicUnavailable(LithicError):
    """Lithic could not be reached or failed (timeout, connection, 5xx, 429): retry later."""

    code = "lithic_unavailable"
    http_status = 503


class LithicRejected(LithicError):
    """Lithic refused the request (4xx): retrying it unchanged will not help."""

    code = "lithic_rejected"
    http_status = 502

    def __init__(self, message: str, *, status_code: int | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.status_code = status_code


class LithicOutboundDisabled(LithicError):
    """No LITHIC_API_KEY: outbound calls are switched off (the demo)."""

    code = "lithic_outbound_disabled"
    http_status = 503


class SubCentAmount(DomainError):
    """An amount with a fraction of a cent cannot be sent to Lithic, which counts whole cents."""

    code = "sub_cent_amount"
    http_status = 400


class LithicPayloadInvalid(DomainError):
    """A signed payload that is not what Lithic's schema allows: it will not apply, ever."""

    code = "lithic_event_invalid"
    permanent = True
