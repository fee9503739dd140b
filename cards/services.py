"""Card products and the card lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from cards.errors import InvalidStateTransition, UnknownLithicCard
from cards.models import Card, CardProduct, CardState
from cards.signals import card_changed
from spending.models import LITHIC_SYNC_FIELDS

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
    # Lithic makes the card after the commit (cards.create, keyed by our token); its token and
    # last four come back then.
    _card_changed(card)
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
        _card_changed(card)
    return card


@transaction.atomic
def card_set_limit(*, card: Card, spend_limit: Decimal, spend_limit_duration: str) -> Card:
    """Change a card's spend limit (0 means no limit)."""
    card = _card_for_update(card)
    if (card.spend_limit, card.spend_limit_duration) == (spend_limit, spend_limit_duration):
        return card
    card.spend_limit = spend_limit
    card.spend_limit_duration = spend_limit_duration
    card.full_clean()
    card.save(update_fields=["spend_limit", "spend_limit_duration"])
    _card_changed(card)
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
        # The profile travels as the card's tag at Lithic, which moves it between rules.
        _card_changed(card)
    return card


@transaction.atomic
def card_set_cardholder(*, card: Card, cardholder) -> Card:
    """Give a card to another user of its account (None: to nobody)."""
    card = _card_for_update(card)
    if (cardholder.pk if cardholder is not None else None) == card.cardholder_id:
        return card
    if cardholder is not None:
        if cardholder.account_id != card.account_id:
            raise ValidationError(
                {
                    "cardholder": ValidationError(
                        "The cardholder must be a user of the card's account.",
                        code="cardholder_other_account",
                    )
                }
            )
        if cardholder.deleted is not None:
            raise ValidationError(
                {
                    "cardholder": ValidationError(
                        "A deleted user cannot hold a card.", code="cardholder_deleted"
                    )
                }
            )
    card.cardholder = cardholder
    card.full_clean()
    # The history row (who, when, from whom to whom) is written by this save. Lithic does not
    # hold the cardholder, so there is nothing to push.
    card.save(update_fields=["cardholder"])
    return card


# --- The processor's side: what Lithic says about our cards ----------------------------------

# The states we may ask Lithic for; the PENDING_* states are Lithic's own (fulfilment).
PUSHABLE_STATES = frozenset({CardState.OPEN, CardState.PAUSED, CardState.CLOSED})


def _card_changed(card: Card) -> None:
    # The Lithic integration records the pending push in this transaction (cards.signals).
    card_changed.send(sender=Card, pk=card.pk)
    # The caller gets the row as committed, sync status included.
    card.refresh_from_db(fields=LITHIC_SYNC_FIELDS)


@transaction.atomic
def card_record_lithic_identity(
    *, card_pk: int, lithic_card_token: str, last_four: str, state: str
) -> Card:
    """Record what Lithic made of our card on creation: its token, last four and first state."""
    card = Card.all_objects.select_for_update().get(pk=card_pk)
    changed = []
    if card.lithic_card_token is None:
        card.lithic_card_token = lithic_card_token
        changed.append("lithic_card_token")
    if last_four and card.last_four != last_four:
        card.last_four = last_four
        changed.append("last_four")
    if state not in PUSHABLE_STATES and card.state == CardState.OPEN:
        # A physical card starts in fulfilment at Lithic.
        card.state = state
        changed.append("state")
    if changed:
        card.full_clean()
        card.save(update_fields=changed)
    return card


@dataclass(frozen=True)
class ProcessorCard:
    """The fields of a card as the card processor (Lithic) holds them, in our units."""

    state: str
    type: str
    last_four: str
    spend_limit: Decimal
    spend_limit_duration: str
    memo: str


@transaction.atomic(durable=True)
def card_adopt_replacement(
    *, replaced_token: str, card_token: str, processor: ProcessorCard | None = None
) -> Card:
    """Lithic made a card to replace one of ours (`card.created` with `replacement_for`):
    record it for the same account, cardholder, product, profile, limit and memo.

    Its type, state and last four are Lithic's when known (`processor`); otherwise the replaced
    card's type, in Lithic's first state for that type. Adopting the same card twice returns it.
    """
    existing = Card.all_objects.filter(lithic_card_token=card_token).first()
    if existing is not None:
        return existing
    replaced = Card.all_objects.filter(lithic_card_token=replaced_token).first()
    if replaced is None:
        raise UnknownLithicCard(f"No card here has the Lithic token {replaced_token}.")
    card_type = processor.type if processor else replaced.type
    if processor is not None:
        state = processor.state
    else:
        state = CardState.PENDING_FULFILLMENT if card_type == "PHYSICAL" else CardState.OPEN
    card = Card(
        account_id=replaced.account_id,
        cardholder_id=replaced.cardholder_id,
        product_id=replaced.product_id,
        profile_id=replaced.profile_id,
        memo=replaced.memo,
        spend_limit=replaced.spend_limit,
        spend_limit_duration=replaced.spend_limit_duration,
        type=card_type,
        state=state,
        last_four=processor.last_four if processor else "",
        lithic_card_token=card_token,
    )
    card.full_clean()
    card.save()
    # Our limit, memo and profile tag go to the new card at Lithic (a replacement does not
    # inherit the replaced card's tags, so without this no profile rule would cover it).
    _card_changed(card)
    return card


# Fields we push to Lithic: while a local change is not yet confirmed (PENDING, REJECTED),
# Lithic's older value does not overwrite ours. The others (last four, type) are Lithic's.
_PUSHED = ("state", "spend_limit", "spend_limit_duration", "memo")


@transaction.atomic(durable=True)
def card_apply_lithic(
    *, card_token: str, processor: ProcessorCard | None = None, state: str | None = None
) -> Card:
    """Bring our card in step with Lithic's (its whole card, or only a reported state).

    Rules: Lithic's CLOSED always wins (it is final there). A card whose local change Lithic
    has not confirmed yet keeps our state, limit and memo (the push will carry them); a locally
    CLOSED card is never reopened. Applying the same thing twice changes nothing.
    """
    card = Card.all_objects.select_for_update().filter(lithic_card_token=card_token).first()
    if card is None:
        raise UnknownLithicCard(f"No card here has the Lithic token {card_token}.")
    incoming: dict[str, Any] = {}
    if processor is not None:
        incoming = {
            "last_four": processor.last_four,
            "type": processor.type,
            "state": processor.state,
            "spend_limit": processor.spend_limit,
            "spend_limit_duration": processor.spend_limit_duration,
            "memo": processor.memo,
        }
    elif state is not None:
        incoming = {"state": state}
    local_change_waiting = card.lithic_sync_status in ("PENDING", "REJECTED")
    changed = []
    for field, value in incoming.items():
        if value in (None, "") and field == "last_four":
            continue
        if getattr(card, field) == value:
            continue
        if field == "state":
            if card.state == CardState.CLOSED:
                continue
            if local_change_waiting and value != CardState.CLOSED:
                continue
        elif field in _PUSHED and local_change_waiting:
            continue
        setattr(card, field, value)
        changed.append(field)
    if not changed:
        return card
    card.full_clean()
    card.save(update_fields=changed)
    return card
