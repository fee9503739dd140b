"""The search box: accounts by name or token, users by email."""

from __future__ import annotations

from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import Account, User
from accounts.panels import change_url
from core.admin import SearchHit, as_uuid, search_provider

SHOWN = 10


@search_provider
def search_accounts(request, term: str) -> list[SearchHit]:
    if not request.user.has_perm("accounts.view_account"):
        return []
    token = as_uuid(term)
    if token is not None:
        found = Account.objects.filter(Q(token=token) | Q(lithic_account_token=token))
        return [SearchHit("Account", a.name, change_url(a), exact=True) for a in found]
    found = Account.objects.filter(name__istartswith=term).order_by("name")[:SHOWN]
    return [
        SearchHit("Account", a.name, change_url(a), exact=a.name.lower() == term.lower())
        for a in found
    ]


@search_provider
def search_users(request, term: str) -> list[SearchHit]:
    if "@" not in term or not request.user.has_perm("accounts.view_user"):
        return []
    # lower(email) is the expression of the users' unique index.
    found = User.objects.annotate(email_lower=Lower("email")).filter(email_lower=term.lower())
    return [
        SearchHit("User", f"{u.email} ({u.get_role_display() if u.account_id else 'operator'})",
                  change_url(u), exact=True)
        for u in found[:SHOWN]
    ]  # fmt: skip
