"""Reads of card products and cards, scoped to what the actor may see."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.roles import OWN_ONLY
from cards.models import Card, CardProduct


def card_product_list(*, actor) -> QuerySet[CardProduct]:
    return CardProduct.objects.filter(account_id=actor.account_id).select_related("default_profile")


def card_list(*, actor) -> QuerySet[Card]:
    cards = Card.objects.filter(account_id=actor.account_id).select_related(
        "product", "profile", "cardholder"
    )
    if actor.role in OWN_ONLY:
        cards = cards.filter(cardholder=actor)
    return cards
