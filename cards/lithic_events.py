"""Lithic's card webhooks, applied to our cards.

The inbox worker dispatches `card.created`, `card.updated`, `card.shipped`, `card.reissued`,
`card.renewed` and `card.converted` here on the raw `event_type`. Their payloads carry little
more than the card token (`card.updated` also the new `state`), and webhooks arrive at least
once and in any order, so with outbound access the handler reads the card from Lithic itself
(its current state, whatever the order of delivery) and applies that through
`cards.services.card_apply_lithic` — the same service `reconcile_lithic --fix` uses.
Without an API key (the demo) only what the payload says is applied: `card.updated`'s state.
"""

from __future__ import annotations

import uuid

from cards.models import Card
from cards.services import (
    UnknownLithicCard,
    card_adopt_replacement,
    card_apply_lithic,
    card_awaiting_lithic_exists,
)
from core import lithic_gateway
from core.errors import DomainError, EventIgnored

CARD_EVENT_TYPES = frozenset(
    {
        "card.created",
        "card.updated",
        "card.shipped",
        "card.reissued",
        "card.renewed",
        "card.converted",
    }
)


class CardEventInvalid(DomainError):
    """The payload is not a card event Lithic could have sent: it will not apply, ever."""

    code = "lithic_event_invalid"


def _token(payload: dict, field: str) -> str | None:
    raw = payload.get(field)
    if raw in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        raise CardEventInvalid(f"{field} is not a token: {raw!r}") from None


def handle_card_event(payload: dict) -> int | None:
    """Apply one card webhook; returns the card's account id.

    A card we do not know is, in order: a replacement of one of ours (`card.created` with
    `replacement_for`), which is adopted for the same cardholder; possibly one of ours whose
    create has not recorded Lithic's token yet (some card here is still on its way to Lithic),
    so `UnknownLithicCard` (code `unknown_card`) makes the worker try again later; otherwise a
    card made outside this back office, which is not adopted (no account to put it in is
    known): the event is ignored with that reason, and `reconcile_lithic` lists the card.
    """
    if not isinstance(payload, dict):
        raise CardEventInvalid("the card event is not a JSON object")
    event_type = payload.get("event_type")
    if event_type not in CARD_EVENT_TYPES:
        raise CardEventInvalid(f"not a card event: {event_type!r}")
    card_token = _token(payload, "card_token")
    if card_token is None:
        raise CardEventInvalid("the card event has no card_token")

    # LithicUnavailable propagates: the worker retries the event later.
    lithic_card = (
        lithic_gateway.card_get(card_token=card_token)
        if lithic_gateway.outbound_enabled()
        else None
    )
    if not Card.all_objects.filter(lithic_card_token=card_token).exists():
        replaced = _token(payload, "replacement_for") if event_type == "card.created" else None
        if replaced and Card.all_objects.filter(lithic_card_token=replaced).exists():
            card = card_adopt_replacement(
                replaced_token=replaced, card_token=card_token, lithic=lithic_card
            )
            return card.account_id
        if not card_awaiting_lithic_exists():
            raise EventIgnored(
                f"card {card_token} was not issued here and is not a replacement of one of "
                "ours: not adopted (reconcile_lithic lists it)"
            )
        raise UnknownLithicCard(f"No card here has the Lithic token {card_token} (yet).")

    if lithic_card is not None:
        card = card_apply_lithic(card_token=card_token, lithic=lithic_card)
    else:
        # Without outbound access only what the payload says is known: card.updated's state.
        state = payload.get("state") if event_type == "card.updated" else None
        card = card_apply_lithic(card_token=card_token, state=state or None)
    return card.account_id


__all__ = ["CARD_EVENT_TYPES", "CardEventInvalid", "UnknownLithicCard", "handle_card_event"]
