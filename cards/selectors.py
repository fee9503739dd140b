"""Reads of card products and cards, scoped to what the actor may see."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.roles import OWN_ONLY
from cards.models import Card, CardProduct, CardState


def card_product_list(*, actor) -> QuerySet[CardProduct]:
    return CardProduct.objects.filter(account_id=actor.account_id).select_related("default_profile")


def card_list(*, actor) -> QuerySet[Card]:
    cards = Card.objects.filter(account_id=actor.account_id).select_related(
        "product", "profile", "cardholder"
    )
    if actor.role in OWN_ONLY:
        cards = cards.filter(cardholder=actor)
    return cards


def card_awaiting_lithic_exists() -> bool:
    """Whether any card here is on its way to Lithic without a Lithic token yet (a create in
    flight or waiting for a retry): an unknown Lithic card may still turn out to be one of them.
    """
    return (
        Card.objects.filter(lithic_card_token__isnull=True, lithic_sync_status="PENDING")
        .exclude(state=CardState.CLOSED)
        .exists()
    )
