"""The search box: cards by token, Lithic token or last four digits."""

from __future__ import annotations

import re

from django.db.models import Q

from accounts.panels import change_url
from cards.models import Card
from core.admin import SearchHit, as_uuid, search_provider

SHOWN = 20


def _label(card: Card) -> str:
    holder = f", {card.cardholder.email}" if card.cardholder_id else ""
    state = card.get_state_display()
    return f"•••• {card.last_four or '----'} of {card.account.name}{holder} ({state})"


@search_provider
def search_cards(request, term: str) -> list[SearchHit]:
    if not request.user.has_perm("cards.view_card"):
        return []
    token = as_uuid(term)
    if token is not None:
        found = Card.objects.filter(Q(token=token) | Q(lithic_card_token=token))
    elif re.fullmatch(r"[0-9]{4}", term):
        found = Card.objects.filter(last_four=term).order_by("-created_at")
    else:
        return []
    found = list(found.select_related("account", "cardholder")[:SHOWN])
    # A last four names one card only when one card has it.
    exact = token is not None or len(found) == 1
    return [SearchHit("Card", _label(card), change_url(card), exact=exact) for card in found]
