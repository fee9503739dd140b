"""Cards at Lithic: the push of our changes, and Lithic's card webhooks applied to our cards.

Outbound, `card_push` makes Lithic's card match ours; `lithic_integration.outbox` runs it after
the change commits and records the outcome. Inbound, the inbox worker dispatches `card.created`,
`card.updated`, `card.shipped`, `card.reissued`, `card.renewed` and `card.converted` to
`handle_card_event` on the raw `event_type`. Their payloads carry little more than the card token
(`card.updated` also the new `state`), and webhooks arrive at least once and in any order, so
with outbound access the handler reads the card from Lithic itself (its current state, whatever
the order of delivery) and applies that through `cards.services.card_apply_lithic`, the same
service `reconcile_lithic --fix` uses. Without an API key (the demo) only what the payload says
is applied: `card.updated`'s state.
"""

from __future__ import annotations

import uuid
from typing import Any

from cards.errors import UnknownLithicCard
from cards.models import Card, CardState
from cards.selectors import card_awaiting_lithic_exists
from cards.services import (
    PUSHABLE_STATES,
    card_adopt_replacement,
    card_apply_lithic,
    card_record_lithic_identity,
)
from core.errors import EventIgnored
from lithic_integration import gateway as lithic_gateway
from lithic_integration.errors import LithicPayloadInvalid
from lithic_integration.outbox import sync_push

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


# --- Outbound ----------------------------------------------------------------------------------


def card_push(card: Card) -> None:
    """Make Lithic's card match ours (called by the outbox, outside any transaction).

    A card without a Lithic token is created with an Idempotency-Key derived from our token, so
    however often this runs (SDK retries, the worker, an operator) Lithic makes one card.
    Otherwise the state, limit, memo and profile tag are set as absolute values.
    """
    state = card.state if card.state in PUSHABLE_STATES else None
    profile_token = str(card.profile.token) if card.profile is not None else None
    if card.lithic_card_token is None:
        if card.state == CardState.CLOSED:
            return  # closed before Lithic ever made it: nothing to create, nothing to close
        created = lithic_gateway.card_create(
            idempotency_key=f"card-create-{card.token}",
            type=card.type,
            spend_limit=card.spend_limit,
            spend_limit_duration=card.spend_limit_duration,
            memo=card.memo,
            state=state,
            account_token=str(card.account.lithic_account_token or "") or None,
            product_id=(card.product.lithic_product_id or None) if card.product else None,
            profile_token=profile_token,
        )
        card_record_lithic_identity(
            card_pk=card.pk,
            lithic_card_token=created.token,
            last_four=created.last_four,
            state=created.state,
        )
        # A repeated key answers with the card as first created; a change made since then
        # (a pause before the card reached Lithic) still has to be applied.
        wanted = (card.spend_limit, card.spend_limit_duration, card.memo, profile_token or "")
        got = (created.spend_limit, created.spend_limit_duration, created.memo, created.profile_tag)
        state_differs = (
            state is not None and created.state in PUSHABLE_STATES and (created.state != state)
        )
        if wanted != got or state_differs:
            lithic_gateway.card_update(
                card_token=created.token,
                spend_limit=card.spend_limit,
                spend_limit_duration=card.spend_limit_duration,
                memo=card.memo,
                profile_token=profile_token,
                state=state if state_differs else None,
            )
        return
    lithic_gateway.card_update(
        card_token=str(card.lithic_card_token),
        spend_limit=card.spend_limit,
        spend_limit_duration=card.spend_limit_duration,
        memo=card.memo,
        profile_token=profile_token,
        state=state,
    )


def card_push_now(*, card: Card, force: bool = True) -> str:
    """Push the card to Lithic now (the console's action); returns the sync status."""
    return sync_push(model=Card, pk=card.pk, push=card_push, force=force)


def card_apply(*, lithic: lithic_gateway.LithicCard) -> Card:
    """Apply Lithic's whole card object to ours (webhooks and `reconcile_lithic --fix`)."""
    return card_apply_lithic(card_token=lithic.token, processor=lithic)


# --- Inbound: the card webhooks ------------------------------------------------------------------


def _token(payload: dict[str, Any], field: str) -> str | None:
    raw = payload.get(field)
    if raw in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        raise LithicPayloadInvalid(f"{field} is not a token: {str(raw)[:80]!r}") from None


def handle_card_event(payload: dict[str, Any]) -> int | None:
    """Apply one card webhook; returns the card's account id.

    A card we do not know is, in order: a replacement of one of ours (`card.created` with
    `replacement_for`), which is adopted for the same cardholder; possibly one of ours whose
    create has not recorded Lithic's token yet (some card here is still on its way to Lithic),
    so `UnknownLithicCard` (code `unknown_card`) makes the worker try again later; otherwise a
    card made outside this back office, which is not adopted (no account to put it in is
    known): the event is ignored with that reason, and `reconcile_lithic` lists the card.
    """
    if not isinstance(payload, dict):
        raise LithicPayloadInvalid("the card event is not a JSON object")
    event_type = payload.get("event_type")
    if event_type not in CARD_EVENT_TYPES:
        raise LithicPayloadInvalid(f"not a card event: {str(event_type)[:80]!r}")
    card_token = _token(payload, "card_token")
    if card_token is None:
        raise LithicPayloadInvalid("the card event has no card_token")

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
                replaced_token=replaced,
                card_token=card_token,
                processor=lithic_card,
            )
            return card.account_id
        if not card_awaiting_lithic_exists():
            raise EventIgnored(
                f"card {card_token} was not issued here and is not a replacement of one of "
                "ours: not adopted (reconcile_lithic lists it)"
            )
        raise UnknownLithicCard(f"No card here has the Lithic token {card_token} (yet).")

    if lithic_card is not None:
        card = card_apply(lithic=lithic_card)
    else:
        # Without outbound access only what the payload says is known: card.updated's state.
        state = payload.get("state") if event_type == "card.updated" else None
        card = card_apply_lithic(card_token=card_token, state=state or None)
    return card.account_id
