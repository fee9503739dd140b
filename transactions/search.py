"""The search box: transactions by token, merchants by the start of their name."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from accounts.panels import change_url
from core.admin import SearchHit, as_uuid, search_provider
from core.money import format_money
from transactions.models import MerchantName, Transaction

SHOWN = 10


@search_provider
def search_transactions(request, term: str) -> list[SearchHit]:
    if not request.user.has_perm("transactions.view_transaction"):
        return []
    token = as_uuid(term)
    if token is None:
        return []
    return [
        SearchHit("Transaction",
                  f"{format_money(t.amount, t.currency)} at {t.merchant_descriptor} "
                  f"({t.get_status_display()})", change_url(t), exact=True)
        for t in Transaction.objects.filter(token=token)[:1]
    ]  # fmt: skip


@search_provider
def search_merchants(request, term: str) -> list[SearchHit]:
    """Merchant names (each once, trigram-indexed); each leads to its transactions."""
    if len(term) < 2 or as_uuid(term) or not request.user.has_perm("transactions.view_transaction"):
        return []
    names = (
        MerchantName.objects.filter(name__icontains=term)
        .values_list("name", flat=True)
        .order_by("name")[:SHOWN]
    )
    changelist = reverse("admin:transactions_transaction_changelist")
    return [
        SearchHit("Merchant", name,
                  f"{changelist}?{urlencode({'merchant_descriptor__exact': name})}",
                  exact=name.lower() == term.lower())
        for name in names
    ]  # fmt: skip
