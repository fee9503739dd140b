"""Who is acting: the audit context that every history row is stamped with.

A request sets it in `AuditContextMiddleware` (user, IP address, user agent); commands and
workers set a named system actor with `system_actor("command:load_mcc")`. History rows copy it
in the `pre_create_historical_record` receiver below and in `core.history`'s bulk helpers.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

from core.tenancy import system_scope

USER_AGENT_MAX_LENGTH = 512


@dataclass(frozen=True)
class AuditContext:
    request: Any = None  # the HttpRequest, read lazily: DRF authenticates inside the view
    user: Any = None
    ip: str | None = None
    user_agent: str = ""
    actor: str = ""
    api_key: str = ""
    reason: str = ""  # why, in the operator's words (a pause, a close): the history's reason

    def acting_user(self):
        user = self.user
        if user is None and self.request is not None:
            user = getattr(self.request, "user", None)
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        return user

    def history_attrs(self) -> dict[str, Any]:
        api_key = self.api_key
        if not api_key and self.request is not None:
            api_key = getattr(self.request, "audit_api_key", "") or ""
        attrs = {
            "history_ip": self.ip,
            "history_user_agent": self.user_agent[:USER_AGENT_MAX_LENGTH],
            "history_actor": self.actor,
            "history_api_key": api_key,
        }
        if self.reason:
            attrs["history_change_reason"] = self.reason
        return attrs


_EMPTY = AuditContext()
_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "audit_context", default=None
)


def current_audit() -> AuditContext:
    return _current.get() or _EMPTY


@contextmanager
def audit_context(**values: Any) -> Iterator[AuditContext]:
    """Act with these audit values (merged over the current ones) for the block."""
    context = replace(current_audit(), **values)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


@contextmanager
def system_actor(name: str, **values: Any) -> Iterator[AuditContext]:
    """Act as a named system actor (a command or a worker), with no request behind it.

    The database sees every account for the block, in the system context `system:<name>`
    (core.tenancy).
    """
    with (
        system_scope(name),
        audit_context(actor=name, request=None, ip=None, user_agent="", **values) as context,
    ):
        yield context


def history_user_for(instance=None, request=None, **kwargs):
    """`get_user` hook for django-simple-history."""
    return current_audit().acting_user()


def client_ip(request) -> str | None:
    """The client's address, trusting exactly TRUSTED_PROXY_COUNT proxies in front of us."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit_context(
            request=request,
            user=None,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            actor="",
        ):
            return self.get_response(request)


@receiver(pre_create_historical_record)
def stamp_history_row(sender, history_instance, **kwargs) -> None:
    for name, value in current_audit().history_attrs().items():
        if hasattr(history_instance, name):
            setattr(history_instance, name, value)
