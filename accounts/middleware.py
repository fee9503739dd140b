"""Operators' reads in the console are recorded as such: who looked at which page, when, from
where.

An operator's context sees every account (core.tenancy), so each page of the console that shows
tenant rows (a list, a record, its history) leaves one row in the security log, kind
`operator_read`, with the operator, the path and its filters.
"""

from __future__ import annotations

from accounts.models import SecurityEventKind, SecurityEventOutcome
from accounts.security import security_event_record
from core.tenancy import current_scope

# The console's views that show rows: django.contrib.admin's URL names end so.
READ_VIEWS = ("_changelist", "_change", "_history")
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
            and (match.url_name or "").endswith(READ_VIEWS)
            and _shows_tenant_rows(match)
        ):
            target = match.kwargs.get("object_id", "")
            query = request.META.get("QUERY_STRING", "")[:QUERY_KEPT]
            security_event_record(
                kind=SecurityEventKind.OPERATOR_READ,
                request=request,
                outcome=SecurityEventOutcome.SUCCESS,
                detail=" ".join(part for part in (match.url_name, target, query) if part),
            )
        return response
