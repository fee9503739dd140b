"""Card products and the card lifecycle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from cards.models import Card, CardProduct, CardState
from core.errors import InvalidStateTransition

# Marks an argument the caller did not pass, so that None can mean "clear this field".
UNSET: Any = object()


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
    _check_product_name_free(product)
    product.full_clean()
    product.save()
    return product


def _check_product_name_free(product: CardProduct) -> None:
    # Model validation reports the live-name constraint (it has a condition) without a field
    # or code; callers need "this name is taken" on `name`.
    taken = CardProduct.objects.filter(account_id=product.account_id, name=product.name)
    if product.pk is not None:
        taken = taken.exclude(pk=product.pk)
    if taken.exists():
        raise ValidationError(
            {"name": ValidationError("A card product with this name exists.", code="unique")}
        )


@transaction.atomic
def card_product_update(
    *,
    product: CardProduct,
    name: str = UNSET,
    description: str = UNSET,
    card_type: str = UNSET,
    default_spend_limit: Decimal = UNSET,
    default_spend_limit_duration: str = UNSET,
    default_profile=UNSET,
    is_active: bool = UNSET,
) -> CardProduct:
    """Change a card product; cards already issued from it keep what they were given."""
    product = CardProduct.objects.select_for_update().get(pk=product.pk)
    wanted = {
        "name": name,
        "description": description,
        "card_type": card_type,
        "default_spend_limit": default_spend_limit,
        "default_spend_limit_duration": default_spend_limit_duration,
        "default_profile": default_profile,
        "is_active": is_active,
    }
    changed = []
    for field, value in wanted.items():
        if value is UNSET:
            continue
        if field == "default_profile":
            if (value.pk if value is not None else None) == product.default_profile_id:
                continue
        elif getattr(product, field) == value:
            continue
        setattr(product, field, value)
        changed.append(field)
    if not changed:
        return product
    if product.default_profile is not None and (
        product.default_profile.account_id != product.account_id
    ):
        raise ValidationError(
            {"default_profile": "The spending profile belongs to another account."}
        )
    if "name" in changed:
        _check_product_name_free(product)
    product.full_clean()
    product.save(update_fields=changed)
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
