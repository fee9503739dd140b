"""An account's page in the console: its money, users, cards (and those out of step with
Lithic), products, spending profiles and latest transactions, each a click away."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from accounts.services import user_create
from cards.models import Card
from cards.services import card_product_create, card_set_state
from core.history import history_bypass
from spending.models import LithicSyncStatus
from spending.services import spending_profile_create
from tests.conftest import PASSWORD
from tests.console import console_login
from tests.transactions.conftest import asa_body

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def panel(html: str, panel_id: str) -> str:
    start = html.index(f'id="{panel_id}"')
    end = html.index("</table>", start)
    return text(html[start:end])


def page(client, account) -> str:
    response = client.get(f"/admin/accounts/account/{account.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def world(acme, globex, make_card, categories, customer_owner, cardholder, fixture_actor):
    profile = spending_profile_create(
        account=acme, name="Travel", spend_limit=Decimal("500.00"), spend_limit_duration="MONTHLY"
    )
    product = card_product_create(account=acme, name="Team cards", card_type="VIRTUAL")
    cards = [
        make_card(acme, cardholder=cardholder, last_four="4242", profile=profile),
        make_card(acme, last_four="1111"),
        make_card(acme, last_four="2222", lithic_card_token=None),
    ]
    card_set_state(card=cards[1], state="PAUSED")
    make_card(globex, last_four="9999")
    return {"profile": profile, "product": product, "cards": cards}


def test_the_account_page_shows_its_neighbours(operator_client, asa, acme, world, cardholder):
    approved = asa(asa_body(world["cards"][0], 12345, mcc="5734"))
    assert approved[1]["result"] == "APPROVED"
    with history_bypass("sync bookkeeping, as the outbox records Lithic's refusal"):
        Card.objects.filter(pk=world["cards"][2].pk).update(
            lithic_sync_status=LithicSyncStatus.REJECTED
        )

    html = page(operator_client, acme)

    money = panel(html, "account-money")
    assert "$25,000.00 $123.45 $24,876.55" in money  # posted, held, available

    users = panel(html, "account-users")
    assert cardholder.email in users and "otto@acme.test" in users and "Owner" in users

    cards = panel(html, "account-cards")
    assert "Cards (3)" in cards
    assert "•••• 4242" in cards and "•••• 1111" in cards and "9999" not in cards
    assert "2 open, 1 paused" in cards
    assert f'href="/admin/cards/card/?account__id__exact={acme.pk}"' in html

    out_of_step = panel(html, "account-cards-out-of-step")
    assert "•••• 2222" in out_of_step and "4242" not in out_of_step

    assert "Team cards" in panel(html, "account-products")
    profiles = panel(html, "account-profiles")
    assert "Travel $500.00 trailing month 0" in profiles

    latest = panel(html, "account-transactions")
    assert "$123.45" in latest and "•••• 4242" in latest
    # The panels come in this order: money first, transactions last.
    order = [html.index(f'id="{name}"') for name in
             ("account-money", "account-users", "account-cards", "account-products",
              "account-profiles", "account-transactions")]  # fmt: skip
    assert order == sorted(order)

    # Each "all of them" link is a working, filtered list.
    for url in re.findall(r'href="(/admin/[a-z]+/[a-z]+/\?[^"]+)"', html):
        assert operator_client.get(url.replace("&amp;", "&")).status_code == 200, url


def test_panels_follow_the_operators_permissions(client, acme, world, fixture_actor):
    viewer = user_create(email="vic@cardops.test", account=None, password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_account"))
    console_login(client, viewer)
    html = page(client, acme)
    assert 'id="account-money"' not in html  # holds are the ledger's (view_accountfunds)
    for hidden in ("account-users", "account-cards", "account-profiles", "account-transactions"):
        assert f'id="{hidden}"' not in html
