"""Card products and the card lifecycle."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from cards.models import Card, CardProduct, CardState
from core.errors import InvalidStateTransition


@transaction.atomic
def card_product_create(
    *,
    account,
    name: str,
    card_type: str = "VIRTUAL",
    default_spend_limit: Decimal = Decimal("0.00"),
    default_spend_limit_duration: str = "MONTHLY",
    default_profile=None,
    description: str = "",
) -> CardProduct:
    """Create a card product (a template cards are issued from)."""
    product = CardProduct(
        account=account,
        name=name,
        card_type=card_type,
        default_spend_limit=default_spend_limit,
        default_spend_limit_duration=default_spend_limit_duration,
        default_profile=default_profile,
        description=description,
    )
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def card_issue(
    *,
    account,
    product: CardProduct | None = None,
    cardholder=None,
    memo: str = "",
    spend_limit: Decimal | None = None,
    spend_limit_duration: str | None = None,
    profile=None,
    lithic_card_token=None,
    last_four: str = "",
    state: str = CardState.OPEN,
) -> Card:
    """Issue a card, taking type, limit and profile from its product unless given."""
    card = Card(
        account=account,
        product=product,
        cardholder=cardholder,
        memo=memo,
        type=product.card_type if product else "VIRTUAL",
        spend_limit=spend_limit
        if spend_limit is not None
        else (product.default_spend_limit if product else Decimal("0.00")),
        spend_limit_duration=spend_limit_duration
        or (product.default_spend_limit_duration if product else "MONTHLY"),
        profile=profile if profile is not None else (product.default_profile if product else None),
        lithic_card_token=lithic_card_token,
        last_four=last_four,
        state=state,
    )
    card.full_clean()
    card.save()
    return card


def _card_for_update(card: Card) -> Card:
    return Card.objects.select_for_update().get(pk=card.pk)


@transaction.atomic
def card_set_state(*, card: Card, state: str) -> Card:
    """Move a card to another Lithic state; CLOSED is final."""
    card = _card_for_update(card)
    if card.state == CardState.CLOSED and state != CardState.CLOSED:
        raise InvalidStateTransition("A closed card cannot be reopened.", code="card_closed")
    if card.state != state:
        card.state = state
        card.full_clean()
        card.save(update_fields=["state"])
    return card


@transaction.atomic
def card_set_limit(*, card: Card, spend_limit: Decimal, spend_limit_duration: str) -> Card:
    """Change a card's spend limit (0 means no limit)."""
    card = _card_for_update(card)
    card.spend_limit = spend_limit
    card.spend_limit_duration = spend_limit_duration
    card.full_clean()
    card.save(update_fields=["spend_limit", "spend_limit_duration"])
    return card


@transaction.atomic
def card_update(
    *, card: Card, memo: str | None = None, profile=None, clear_profile: bool = False
) -> Card:
    """Change a card's memo and/or spending profile."""
    card = _card_for_update(card)
    changed = []
    if memo is not None and memo != card.memo:
        card.memo = memo
        changed.append("memo")
    if clear_profile and card.profile_id is not None:
        card.profile = None
        changed.append("profile")
    elif profile is not None and profile.pk != card.profile_id:
        card.profile = profile
        changed.append("profile")
    if changed:
        card.full_clean()
        card.save(update_fields=changed)
    return card
