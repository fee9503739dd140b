"""An account's page: its users (the panels of the other apps add cards, profiles, money)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html

from accounts.models import Account, User
from core.admin import change_page_panel
from core.panels import Column, table_panel, when

SHOWN = 20


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=(obj.pk,))


def changelist_url(model, **filters) -> str:
    opts = model._meta
    query = "&".join(f"{name}={value}" for name, value in filters.items())
    return f"{reverse(f'admin:{opts.app_label}_{opts.model_name}_changelist')}?{query}"


@change_page_panel(Account)
def account_users_panel(request, account):
    if not request.user.has_perm("accounts.view_user"):
        return None
    users = User.objects.filter(account=account).order_by("role", "email")
    total = users.count()
    return table_panel(
        id="account-users",
        title=f"Users ({total})",
        order=20,
        columns=[
            Column("Email"),
            Column("Name"),
            Column("Role"),
            Column("Active"),
            Column("Last login"),
        ],  # fmt: skip
        rows=[
            (
                format_html('<a href="{}">{}</a>', change_url(user), user.email),
                user.get_full_name(),
                user.get_role_display(),
                "yes" if user.is_active else "no",
                when(user.last_login) or "never",
            )
            for user in users[:SHOWN]
        ],
        more_url=changelist_url(User, account__id__exact=account.pk) if total > SHOWN else "",
        more_label=f"All {total} users",
        empty="No users.",
    )
