"""An account's page: its cards (and those out of step with Lithic) and its card products."""

from __future__ import annotations

from django.db.models import Count
from django.utils.html import format_html

from accounts.models import Account
from accounts.panels import SHOWN, change_url, changelist_url
from cards.models import Card, CardProduct
from core.admin import change_page_panel
from core.money import format_money
from core.panels import Column, table_panel
from spending.models import LithicSyncStatus
from spending.panels import PER

OUT_OF_STEP = (LithicSyncStatus.PENDING, LithicSyncStatus.REJECTED)


def _card_rows(cards):
    return [
        (
            format_html('<a href="{}">•••• {}</a>', change_url(card), card.last_four or "----"),
            card.cardholder.email if card.cardholder_id else "",
            card.get_state_display(),
            format_money(card.spend_limit) if card.spend_limit else "no limit",
            PER.get(card.spend_limit_duration, "") if card.spend_limit else "",
            card.get_lithic_sync_status_display(),
        )
        for card in cards
    ]


CARD_COLUMNS = [Column("Card"), Column("Cardholder"), Column("State"), Column("Limit", "money"),
                Column("Per"), Column("Lithic sync")]  # fmt: skip


@change_page_panel(Account)
def account_cards_panel(request, account):
    if not request.user.has_perm("cards.view_card"):
        return None
    cards = Card.objects.filter(account=account)
    by_state = dict(cards.values_list("state").annotate(n=Count("id")).order_by())
    total = sum(by_state.values())
    summary = ", ".join(
        f"{n} {label.lower()}" for value, label in Card._meta.get_field("state").choices
        if (n := by_state.get(value))
    )  # fmt: skip
    return table_panel(
        id="account-cards",
        title=f"Cards ({total})",
        order=30,
        summary=summary,
        columns=CARD_COLUMNS,
        rows=_card_rows(cards.select_related("cardholder").order_by("-created_at")[:SHOWN]),
        more_url=changelist_url(Card, account__id__exact=account.pk),
        more_label=f"All {total} cards",
        empty="No cards.",
    )


@change_page_panel(Account)
def account_cards_out_of_step_panel(request, account):
    if not request.user.has_perm("cards.view_card"):
        return None
    cards = Card.objects.filter(account=account, lithic_sync_status__in=OUT_OF_STEP)
    total = cards.count()
    if not total:
        return None
    return table_panel(
        id="account-cards-out-of-step",
        title=f"Cards out of step with Lithic ({total})",
        order=31,
        columns=CARD_COLUMNS,
        rows=_card_rows(cards.select_related("cardholder").order_by("-created_at")[:SHOWN]),
        more_url=changelist_url(
            Card, account__id__exact=account.pk, lithic_sync_status__in=",".join(OUT_OF_STEP)
        ),
        more_label="All of them",
    )


@change_page_panel(Account)
def account_products_panel(request, account):
    if not request.user.has_perm("cards.view_cardproduct"):
        return None
    products = CardProduct.objects.filter(account=account).order_by("name")
    return table_panel(
        id="account-products",
        title="Card products",
        order=35,
        columns=[
            Column("Name"),
            Column("Type"),
            Column("Default limit", "money"),
            Column("Per"),
            Column("Active"),
        ],  # fmt: skip
        rows=[
            (
                format_html('<a href="{}">{}</a>', change_url(product), product.name),
                product.get_card_type_display(),
                format_money(product.default_spend_limit),
                PER.get(product.default_spend_limit_duration, "")
                if product.default_spend_limit
                else "",
                "yes" if product.is_active else "no",
            )
            for product in products[:SHOWN]
        ],
        empty="No card products.",
    )
