"""An account's page: its spending profiles."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils.html import format_html

from accounts.models import Account
from accounts.panels import SHOWN, change_url, changelist_url
from core.admin import change_page_panel
from core.money import format_money
from core.panels import Column, table_panel
from spending.models import SpendingProfile, SpendLimitDuration

# A limit's duration in a table cell (the choices' labels are whole sentences).
PER = {
    SpendLimitDuration.TRANSACTION: "transaction",
    SpendLimitDuration.MONTHLY: "trailing month",
    SpendLimitDuration.ANNUALLY: "trailing year",
    SpendLimitDuration.FOREVER: "lifetime",
}


@change_page_panel(Account)
def account_profiles_panel(request, account):
    if not request.user.has_perm("spending.view_spendingprofile"):
        return None
    profiles = (
        SpendingProfile.objects.filter(account=account)
        .annotate(rules=Count("category_rules", filter=Q(category_rules__deleted__isnull=True)))
        .order_by("name")
    )
    total = profiles.count()
    return table_panel(
        id="account-profiles",
        title=f"Spending profiles ({total})",
        order=40,
        columns=[
            Column("Name"),
            Column("Limit", "money"),
            Column("Per"),
            Column("Rules", "number"),
            Column("Lithic sync"),
        ],  # fmt: skip
        rows=[
            (
                format_html('<a href="{}">{}</a>', change_url(profile), profile.name),
                format_money(profile.spend_limit) if profile.spend_limit else "no limit",
                PER.get(profile.spend_limit_duration, ""),
                profile.rules,
                profile.get_lithic_sync_status_display(),
            )
            for profile in profiles[:SHOWN]
        ],
        more_url=changelist_url(SpendingProfile, account__id__exact=account.pk),
        more_label=f"All {total} spending profiles",
        empty="No spending profiles.",
    )
