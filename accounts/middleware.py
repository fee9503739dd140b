"""The console's sessions: operators' reads recorded, and sessions that end on time.

Operators' reads in the console are recorded as such: who looked at which page, when, from
where.

An operator's context sees every account (core.tenancy), so each page of the console that shows
tenant rows (a list, a record, its history) leaves one row in the security log, kind
`operator_read`, with the operator, the path and its filters.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout

from accounts.models import SecurityEventKind, SecurityEventOutcome
from accounts.security import security_event_record
from core.tenancy import current_scope

# The console's views that show rows: django.contrib.admin's URL names end so.
READ_VIEWS = ("_changelist", "_change", "_history")
# The console's own pages that show tenant rows of many models (no model admin behind them).
READ_PAGES = frozenset({"audit", "search", "account_as_of"})
QUERY_KEPT = 400
# Tables whose rows are the accounts themselves (their policy compares `id`).
TENANT_KEYED_BY_ID = ("accounts", "accounts_history")


def _shows_tenant_rows(match) -> bool:
    """Whether the console view is of a model under row-level security (core.tenancy)."""
    model_admin = getattr(match.func, "model_admin", None)
    if model_admin is None:
        return False
    opts = model_admin.model._meta
    if opts.db_table in TENANT_KEYED_BY_ID:
        return True
    return any(field.column == "account_id" for field in opts.concrete_fields)


class OperatorReadLog:
    """After TenancyMiddleware: it reads the context that middleware gave the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        scope = current_scope()
        match = request.resolver_match
        if (
            scope is not None
            and scope.kind == "operator"
            and request.method in ("GET", "HEAD")
            and response.status_code == 200
            and match is not None
            and match.namespace == "admin"
            and (
                match.url_name in READ_PAGES
                or ((match.url_name or "").endswith(READ_VIEWS) and _shows_tenant_rows(match))
            )
        ):
            target = str(match.kwargs.get("object_id", match.kwargs.get("account_id", "")))
            query = request.META.get("QUERY_STRING", "")[:QUERY_KEPT]
            security_event_record(
                kind=SecurityEventKind.OPERATOR_READ,
                request=request,
                outcome=SecurityEventOutcome.SUCCESS,
                detail=" ".join(part for part in (match.url_name, target, query) if part),
            )
        return response


# Session keys of the console's timeouts.
LOGIN_AT = "_login_at"
LAST_SEEN = "_last_seen"
ENDED_BECAUSE = "_session_ended_because"
# The last request's time is written at most this often: one session write a minute, not one
# a request (the idle timeout is exact to within it).
LAST_SEEN_RESOLUTION = 60


class SessionTimeouts:
    """A console session ends after SESSION_IDLE_SECONDS without a request and
    SESSION_ABSOLUTE_SECONDS after its login, whatever happens in between (PCI DSS 8.2.8).

    The user is logged out (the security log says why: `session_expired`) and the request goes
    on as an anonymous one, which the console sends to its login page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            self._check(request, session)
        return self.get_response(request)

    @staticmethod
    def _check(request, session) -> None:
        now = time.time()
        login_at = session.setdefault(LOGIN_AT, now)
        last_seen = session.get(LAST_SEEN, login_at)
        reason = None
        if now - login_at > settings.SESSION_ABSOLUTE_SECONDS:
            reason = f"{settings.SESSION_ABSOLUTE_SECONDS // 3600} hours after its login"
        elif now - last_seen > settings.SESSION_IDLE_SECONDS:
            reason = f"{settings.SESSION_IDLE_SECONDS // 60} minutes without activity"
        if reason is None:
            if now - last_seen >= LAST_SEEN_RESOLUTION or LAST_SEEN not in session:
                session[LAST_SEEN] = now
            return
        request.logout_reason = f"session ended: {reason}"
        logout(request)
        # Said on the login page (accounts.console), in the session that logout started.
        request.session[ENDED_BECAUSE] = f"Your session ended {reason}. Please log in again."
