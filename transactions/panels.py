"""An account's page: its money (posted balance, open holds, available) and latest transactions."""

from __future__ import annotations

from django.utils.html import format_html

from accounts.models import Account
from accounts.panels import change_url, changelist_url
from core.admin import change_page_panel
from core.money import format_money
from core.panels import Column, table_panel, when
from transactions.models import ZERO, AccountFunds, Transaction

RECENT = 10


@change_page_panel(Account)
def account_money_panel(request, account):
    if not request.user.has_perm("transactions.view_accountfunds"):
        return None
    funds = AccountFunds.objects.filter(account=account).first()
    held = funds.held if funds else ZERO
    currency = account.currency
    return table_panel(
        id="account-money",
        title="Money",
        order=10,
        columns=[
            Column("Posted balance", "money"),
            Column("Open holds", "money"),
            Column("Available", "money"),
        ],  # fmt: skip
        rows=[
            (
                format_money(account.balance, currency),
                format_money(held, currency),
                format_money(account.balance - held, currency),
            )
        ],
    )


@change_page_panel(Account)
def account_transactions_panel(request, account):
    if not request.user.has_perm("transactions.view_transaction"):
        return None
    latest = (
        Transaction.objects.filter(account=account)
        .select_related("card")
        .order_by("-transaction_date")[:RECENT]
    )
    return table_panel(
        id="account-transactions",
        title="Latest transactions",
        order=50,
        columns=[
            Column("When"),
            Column("Card"),
            Column("Merchant"),
            Column("Status"),
            Column("Amount", "money"),
            Column("Declined because"),
        ],  # fmt: skip
        rows=[
            (
                format_html('<a href="{}">{}</a>', change_url(t), when(t.transaction_date)),
                f"•••• {t.card.last_four}" if t.card.last_four else t.card.token,
                t.merchant_descriptor,
                t.get_status_display(),
                format_money(t.amount, t.currency),
                t.declined_reason,
            )
            for t in latest
        ],
        more_url=changelist_url(Transaction, account__id__exact=account.pk),
        more_label="All transactions of this account",
        empty="No transactions yet.",
    )
