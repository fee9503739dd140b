"""The cards API: issue from a product, change, pause/unpause/close, history, soft rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cards.services import card_issue, card_product_create
from core.audit import system_actor
from spending.services import spending_profile_create


@pytest.fixture
def product(acme):
    with system_actor("test:fixtures"):
        profile = spending_profile_create(account=acme, name="Travel")
        return card_product_create(
            account=acme,
            name="Travel card",
            card_type="PHYSICAL",
            default_spend_limit=Decimal("750.00"),
            default_spend_limit_duration="MONTHLY",
            default_profile=profile,
        )


def issue(client, product, **extra):
    return client.post("/api/v1/cards/", {"product": str(product.token), **extra}, format="json")


def test_issue_takes_the_products_defaults(api_client, customer_admin, cardholder, product):
    client = api_client(customer_admin)
    response = issue(client, product, cardholder=str(cardholder.token), memo="Conference")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["type"] == "PHYSICAL"
    assert body["spend_limit"] == "750.00"
    assert body["spend_limit_duration"] == "MONTHLY"
    assert body["profile"] == str(product.default_profile.token)
    assert body["cardholder"] == str(cardholder.token)
    assert body["state"] == "OPEN"
    assert "id" not in body


def test_set_limit_pause_and_close(api_client, customer_admin, product):
    client = api_client(customer_admin)
    token = issue(client, product).json()["token"]
    response = client.patch(
        f"/api/v1/cards/{token}/",
        {"spend_limit": "120.50", "spend_limit_duration": "TRANSACTION"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["spend_limit"] == "120.50"
    assert client.post(f"/api/v1/cards/{token}/pause/").json()["state"] == "PAUSED"
    assert client.post(f"/api/v1/cards/{token}/unpause/").json()["state"] == "OPEN"
    assert client.post(f"/api/v1/cards/{token}/close/").json()["state"] == "CLOSED"


def test_closed_card_cannot_be_reopened(api_client, customer_admin, product):
    client = api_client(customer_admin)
    token = issue(client, product).json()["token"]
    client.post(f"/api/v1/cards/{token}/close/")
    response = client.post(f"/api/v1/cards/{token}/unpause/")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "card_closed"


def test_issue_rejects_another_accounts_product(api_client, other_customer, product):
    response = issue(api_client(other_customer), product)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == "product"
    assert error["code"] == "does_not_exist"


def test_negative_limit_is_a_validation_error(api_client, customer_admin, product):
    response = issue(api_client(customer_admin), product, spend_limit="-1.00")
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert response.json()["errors"][0]["attr"] == "spend_limit"


def test_history_names_the_user_and_the_key(api_client, customer_admin, product):
    client = api_client(customer_admin)
    token = issue(client, product).json()["token"]
    client.post(f"/api/v1/cards/{token}/pause/", REMOTE_ADDR="198.51.100.4")
    response = client.get(f"/api/v1/cards/{token}/history/")
    assert response.status_code == 200
    entries = response.json()["results"]
    assert [e["change"] for e in entries] == ["changed", "created"]
    latest = entries[0]
    assert latest["user"] == {"token": str(customer_admin.token), "email": "ada@acme.test"}
    assert latest["api_key"] == client.api_key.prefix
    assert latest["ip_address"] == "198.51.100.4"
    assert {"field": "state", "old": "OPEN", "new": "PAUSED"} in latest["changes"]


def test_plain_user_sees_and_pauses_only_their_own_cards(
    api_client, cardholder, customer_admin, acme, product
):
    with system_actor("test:fixtures"):
        mine = card_issue(account=acme, product=product, cardholder=cardholder)
        theirs = card_issue(account=acme, product=product, cardholder=customer_admin)
    client = api_client(cardholder)
    listed = [c["token"] for c in client.get("/api/v1/cards/").json()["results"]]
    assert listed == [str(mine.token)]
    assert client.post(f"/api/v1/cards/{mine.token}/pause/").status_code == 200
    assert client.post(f"/api/v1/cards/{theirs.token}/pause/").status_code == 404
    assert client.post(f"/api/v1/cards/{mine.token}/close/").status_code == 403


def test_unauthenticated_request_is_refused(client, db):
    response = client.get("/api/v1/cards/")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "not_authenticated"


def test_revoked_key_is_refused(api_client, customer_admin):
    from accounts.services import api_key_revoke

    client = api_client(customer_admin)
    api_key_revoke(api_key=client.api_key)
    response = client.get("/api/v1/cards/")
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "invalid_api_key"
