"""A card's page in the console: its spend against each limit, its latest transactions, and the
Pause, Unpause and Close buttons (a reason, a confirmation, the service, the history)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission

from accounts.services import user_create
from cards.models import Card, CardState
from spending.services import spending_profile_create
from tests.conftest import PASSWORD
from tests.console import console_login
from tests.transactions.conftest import asa_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(acme, make_card, categories):
    profile = spending_profile_create(
        account=acme, name="Travel", spend_limit=Decimal("500.00"), spend_limit_duration="MONTHLY"
    )
    return make_card(
        acme, spend_limit=Decimal("100.00"), spend_limit_duration="TRANSACTION", profile=profile
    )


def page(client, card) -> str:
    response = client.get(f"/admin/cards/card/{card.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def panel(html: str, panel_id: str) -> str:
    start = html.index(f'id="{panel_id}"')
    return text(html[start : html.index("</table>", start)])


def test_the_card_page_shows_spend_against_each_limit(operator_client, asa, card):
    for cents in (4000, 2550):
        assert asa(asa_body(card, cents))[1]["result"] == "APPROVED"
    assert asa(asa_body(card, 15000))[1]["result"] != "APPROVED"  # over the card's $100

    spend = panel(page(operator_client, card), "card-spend")
    assert "Card each transaction $100.00 – –" in spend
    assert "Profile Travel" in spend
    # The profile's trailing month: $500 limit, $65.50 spent, $434.50 left (13%).
    assert "$500.00 $65.50 $434.50 13%" in spend
    assert "(UTC, monthly)" in spend


def test_the_card_page_lists_its_latest_transactions_and_links_to_all(
    operator_client, asa, card, make_card, acme
):
    other = make_card(acme)
    assert asa(asa_body(card, 1999, mcc="5734"))[1]["result"] == "APPROVED"
    assert asa(asa_body(other, 777))[1]["result"] == "APPROVED"
    assert asa(asa_body(card, 15000))[1]["result"] != "APPROVED"

    html = page(operator_client, card)
    listed = panel(html, "card-transactions")
    assert "$19.99" in listed and "5734" in listed
    assert "$150.00" in listed and "Declined" in listed
    assert "$7.77" not in listed  # another card's
    assert f'href="/admin/transactions/transaction/?card__id__exact={card.pk}"' in html
    everything = operator_client.get(f"/admin/transactions/transaction/?card__id__exact={card.pk}")
    assert everything.status_code == 200
    assert "$7.77" not in everything.content.decode() and "7.77" not in everything.content.decode()


def test_pause_asks_for_a_reason_and_a_confirmation_and_keeps_the_reason(operator_client, card):
    html = page(operator_client, card)
    assert 'id="card-pause"' in html and 'id="card-close"' in html
    assert 'id="card-unpause"' not in html  # it is open

    url = f"/admin/cards/card/{card.pk}/state/pause/"
    form = operator_client.get(url)
    assert form.status_code == 200 and "Pause card" in form.content.decode()
    refused = operator_client.post(url, {"reason": "lost"})
    assert refused.status_code == 200
    errors = refused.context["form"].errors
    assert "confirm" in errors and "reason" in errors  # too short, and not confirmed
    card.refresh_from_db()
    assert card.state == CardState.OPEN

    done = operator_client.post(url, {"reason": "Cardholder reported it lost", "confirm": "on"})
    assert done.status_code == 302 and done.url == f"/admin/cards/card/{card.pk}/change/"
    card.refresh_from_db()
    assert card.state == CardState.PAUSED
    latest = card.history.order_by("-history_id").first()
    assert latest.history_change_reason == "Pause: Cardholder reported it lost"
    assert latest.history_user.email == "ops@cardops.test"
    assert LogEntry.objects.filter(change_message="Pause: Cardholder reported it lost").exists()

    html = page(operator_client, card)
    assert 'id="card-unpause"' in html and 'id="card-pause"' not in html


def test_close_is_final_and_a_closed_card_offers_nothing(operator_client, card):
    url = f"/admin/cards/card/{card.pk}/state/close/"
    assert "Closing is final" in operator_client.get(url).content.decode()
    operator_client.post(url, {"reason": "Employee left the company", "confirm": "on"})
    card.refresh_from_db()
    assert card.state == CardState.CLOSED
    html = page(operator_client, card)
    assert not re.search(r'id="card-(pause|unpause|close)"', html)
    # Asked again anyway (an old tab): nothing moves, the operator is told why.
    again = operator_client.post(
        f"/admin/cards/card/{card.pk}/state/unpause/",
        {"reason": "Try to reopen it", "confirm": "on"},
        follow=True,
    )
    assert "Not unpaused: the card is closed." in again.content.decode()
    card.refresh_from_db()
    assert card.state == CardState.CLOSED


def test_a_view_only_operator_sees_no_buttons_and_cannot_post(client, card, fixture_actor):
    viewer = user_create(email="vic@cardops.test", account=None, password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_card"),
        Permission.objects.get(codename="view_transaction"),
    )
    console_login(client, viewer)
    html = page(client, card)
    assert 'id="card-pause"' not in html
    assert 'id="card-transactions"' in html
    response = client.post(
        f"/admin/cards/card/{card.pk}/state/pause/", {"reason": "Not mine to do", "confirm": "on"}
    )
    assert response.status_code == 403
    assert Card.objects.get(pk=card.pk).state == CardState.OPEN


def test_the_history_page_shows_the_reason(operator_client, card):
    operator_client.post(
        f"/admin/cards/card/{card.pk}/state/pause/",
        {"reason": "Suspicious activity on the card", "confirm": "on"},
    )
    history = operator_client.get(f"/admin/cards/card/{card.pk}/history/").content.decode()
    assert "Pause: Suspicious activity on the card" in history
