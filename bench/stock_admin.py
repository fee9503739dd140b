"""The baseline of bench_admin: Django's stock ModelAdmin of the same models, as a project that
took the admin as it comes would have it, mounted at /admin/stock/ beside the console (under
/admin/, so its requests see every account, as an operator's do).

- The transaction list: the same columns, filters on the same fields, a search by merchant
  (`icontains`), Django's paginator (COUNT(*), OFFSET), its default ordering.
- A card's page: the stock change form.
- The overview: the console's figures computed from `transactions` itself, as an overview
  without rollups would.

Used only by the benchmark (bench/settings.py, in its pages process).
"""

from __future__ import annotations

import datetime

from django.contrib import admin
from django.db.models import Count, Q, Sum
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone

from cards.models import Card
from config.urls import urlpatterns as console_urlpatterns
from transactions.models import Transaction, TransactionStatus

site = admin.AdminSite(name="stock")


class StockTransactionAdmin(admin.ModelAdmin):
    list_display = ("token", "transaction_date", "card", "account", "merchant_descriptor", "mcc",
                    "amount", "status", "result")  # fmt: skip
    list_filter = ("status", "result", "transaction_date", "account", "type")
    list_select_related = ("card", "account")
    search_fields = ("merchant_descriptor",)
    ordering = ("-transaction_date", "-id")


site.register(Transaction, StockTransactionAdmin)
site.register(Card, admin.ModelAdmin)


def overview(request):
    """The console overview's figures, read from the transactions of the last 30 days."""
    today = timezone.now().astimezone(datetime.UTC).date()
    since = datetime.datetime.combine(
        today - datetime.timedelta(days=29), datetime.time.min, tzinfo=datetime.UTC
    )
    recent = Transaction.objects.filter(transaction_date__gte=since)
    declined = Q(status=TransactionStatus.DECLINED)
    totals = recent.aggregate(
        approved=Count("id", filter=~declined),
        declined=Count("id", filter=declined),
        spend=Sum("amount", filter=~declined),
    )
    by_day = list(
        recent.exclude(declined)
        .values("transaction_date__date")
        .annotate(total=Sum("amount"))
        .order_by("transaction_date__date")
    )
    reasons = list(recent.filter(declined).values("result").annotate(n=Count("id")).order_by("-n"))
    merchants = list(
        recent.exclude(declined)
        .values("merchant_descriptor")
        .annotate(total=Sum("amount"))
        .order_by("-total")[:8]
    )
    mccs = list(
        recent.exclude(declined).values("mcc").annotate(total=Sum("amount")).order_by("-total")[:8]
    )
    return JsonResponse(
        {
            "totals": totals,
            "days": len(by_day),
            "reasons": len(reasons),
            "merchants": len(merchants),
            "mccs": len(mccs),
        },
        json_dumps_params={"default": str},
    )


urlpatterns = [
    path("admin/stock/overview/", site.admin_view(overview), name="stock_overview"),
    path("admin/stock/", site.urls),
    *console_urlpatterns,
]
