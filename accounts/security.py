"""The security event log: one call records who tried what, from where, and how it ended."""

from __future__ import annotations

import ipaddress
import logging

from django.db import DatabaseError
from django.http import HttpRequest

from accounts.models import SecurityEvent, SecurityEventOutcome
from core.audit import client_ip, current_audit

logger = logging.getLogger("accounts.security")

# Header carrying the message id of a Standard Webhooks request (Lithic events and ASA).
_WEBHOOK_ID_HEADER = "webhook-id"


def _clip(value: str, field: str) -> str:
    return value[: SecurityEvent._meta.get_field(field).max_length]


def _valid_ip(value: str | None) -> str | None:
    # A forwarded-for header is client-controlled text; the column only takes addresses.
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def security_event_record(
    *,
    kind: str,
    request: HttpRequest | None = None,
    detail: str = "",
    outcome: str = SecurityEventOutcome.FAILURE,
) -> SecurityEvent:
    """Record a security event; origin and actor come from the request or the audit context.

    Callers pass a reason in `detail`, never a request body, a secret or a signature.
    """
    audit = current_audit()
    if request is not None:
        ip = client_ip(request)
        user_agent = request.META.get("HTTP_USER_AGENT", "")
        path = request.path
        webhook_id = request.headers.get(_WEBHOOK_ID_HEADER, "")
        user = getattr(request, "user", None)
    else:
        ip, user_agent, path, webhook_id = audit.ip, audit.user_agent, "", ""
        user = audit.acting_user()
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return SecurityEvent.objects.create(
        kind=kind,
        outcome=outcome,
        user=user,
        actor=_clip(audit.actor, "actor"),
        ip=_valid_ip(ip),
        user_agent=_clip(user_agent, "user_agent"),
        path=_clip(path, "path"),
        webhook_id=_clip(webhook_id, "webhook_id"),
        detail=detail,
    )


def security_event_record_refusal(*, kind: str, request: HttpRequest, reason: str) -> None:
    """Record a refused request (a bad signature); never raises.

    The refusal stands without its log row: a failing database must not turn a 401 into a
    500, which the sender (Lithic, or an attacker) would see differently.
    """
    try:
        security_event_record(kind=kind, request=request, detail=reason)
    except DatabaseError:
        logger.exception("could not record a refused request (%s) to %s", kind, request.path)
