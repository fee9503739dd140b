"""The search box on every console page: a token, a Lithic token, last four, an email, a
merchant or an account name; straight to the record when exactly one matches exactly."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from accounts.services import user_create
from tests.conftest import PASSWORD
from tests.console import console_login
from tests.transactions.conftest import asa_payload
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

SEARCH = "/admin/search/"


@pytest.fixture
def cards(acme, globex, make_card, categories, cardholder):
    return {
        "uma": make_card(acme, cardholder=cardholder, last_four="4242"),
        "acme": make_card(acme, last_four="1234"),
        "globex": make_card(globex, last_four="1234"),
    }


def search(client, term: str):
    return client.get(SEARCH, {"q": term})


def test_the_search_box_is_on_every_page(operator_client):
    for url in ("/admin/", "/admin/cards/card/", "/admin/accounts/account/"):
        assert 'id="console-search"' in operator_client.get(url).content.decode(), url


def test_a_unique_last_four_goes_straight_to_the_card(operator_client, cards):
    response = search(operator_client, "4242")
    assert response.status_code == 302
    assert response.url == f"/admin/cards/card/{cards['uma'].pk}/change/"


def test_a_shared_last_four_lists_the_cards(operator_client, cards):
    response = search(operator_client, "1234")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Card (2)" in page
    assert "•••• 1234 of Acme Corp" in page and "•••• 1234 of Globex" in page


def test_tokens_emails_and_names_find_their_record(operator_client, cards, acme, cardholder):
    card = cards["acme"]
    for term in (str(card.token), str(card.lithic_card_token)):
        assert search(operator_client, term).url == f"/admin/cards/card/{card.pk}/change/"
    assert search(operator_client, str(acme.token)).url == (
        f"/admin/accounts/account/{acme.pk}/change/"
    )
    assert search(operator_client, "UMA@acme.test").url == (
        f"/admin/accounts/user/{cardholder.pk}/change/"
    )
    assert search(operator_client, "Acme Corp").url == f"/admin/accounts/account/{acme.pk}/change/"
    listed = search(operator_client, "ac")
    assert listed.status_code == 200 and "Acme Corp" in listed.content.decode()


def test_transactions_by_token_and_merchants_by_name(operator_client, asa, cards):
    payload = asa_payload(cards["uma"], 1250)
    payload["merchant"]["descriptor"] = "Blue Bottle Coffee"
    asa(json.dumps(payload).encode())
    call_command("refresh_rollups", stdout=StringIO())
    txn = Transaction.objects.get()

    assert search(operator_client, str(txn.token)).url == (
        f"/admin/transactions/transaction/{txn.pk}/change/"
    )
    merchants = search(operator_client, "blue bo")
    assert merchants.status_code == 200
    assert "Blue Bottle Coffee" in merchants.content.decode()
    exact = search(operator_client, "Blue Bottle Coffee")
    assert exact.status_code == 302
    listed = operator_client.get(exact.url)
    assert [t.pk for t in listed.context["cl"].result_list] == [txn.pk]


def test_nothing_found_says_so(operator_client, cards):
    response = search(operator_client, "no such thing")
    assert "Nothing matches “no such thing”." in response.content.decode()
    assert search(operator_client, "").status_code == 200


def test_search_respects_view_permissions(client, cards, fixture_actor):
    viewer = user_create(email="vic@cardops.test", account=None, password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_account"))
    console_login(client, viewer)
    response = search(client, "4242")
    assert response.status_code == 200
    assert "Nothing matches" in response.content.decode()
