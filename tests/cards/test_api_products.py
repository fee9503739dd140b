"""The card products API: create, change, soft delete, history, tenant isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.models import CardProduct
from cards.services import card_product_create
from core.audit import system_actor
from spending.services import spending_profile_create

URL = "/api/v1/card-products/"


@pytest.fixture
def travel(acme):
    with system_actor("test:fixtures"):
        return spending_profile_create(account=acme, name="Travel")


@pytest.fixture
def product(acme, travel):
    with system_actor("test:fixtures"):
        return card_product_create(
            account=acme,
            name="Travel card",
            card_type="PHYSICAL",
            default_spend_limit=Decimal("750.00"),
            default_profile=travel,
        )


def errors(response) -> list[tuple]:
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


def test_create_returns_the_product_with_defaults(api_client, customer_admin, travel):
    client = api_client(customer_admin)
    response = client.post(
        URL, {"name": "Ops", "default_profile": str(travel.token)}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Ops"
    assert body["card_type"] == "VIRTUAL"
    assert body["default_spend_limit"] == "0.00"
    assert body["default_spend_limit_duration"] == "MONTHLY"
    assert body["default_profile"] == str(travel.token)
    assert body["is_active"] is True
    assert "id" not in body
    assert set(body) == {
        "token",
        "name",
        "description",
        "card_type",
        "default_spend_limit",
        "default_spend_limit_duration",
        "default_profile",
        "is_active",
        "created_at",
    }


def test_list_and_retrieve(api_client, customer_analyst, product):
    client = api_client(customer_analyst)
    listed = client.get(URL).json()
    assert [p["token"] for p in listed["results"]] == [str(product.token)]
    detail = client.get(f"{URL}{product.token}/").json()
    assert detail["default_spend_limit"] == "750.00"
    assert detail["card_type"] == "PHYSICAL"


def test_duplicate_live_name_is_a_unique_validation_error(api_client, customer_admin, product):
    response = api_client(customer_admin).post(URL, {"name": "Travel card"}, format="json")
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert errors(response) == [("name", "unique")]


def test_rename_onto_a_live_name_is_a_unique_validation_error(
    api_client, customer_admin, product, acme
):
    with system_actor("test:fixtures"):
        other = card_product_create(account=acme, name="Office")
    response = api_client(customer_admin).patch(
        f"{URL}{other.token}/", {"name": "Travel card"}, format="json"
    )
    assert response.status_code == 400
    assert errors(response) == [("name", "unique")]


def test_name_of_a_deleted_product_can_be_used_again(api_client, customer_admin, product):
    client = api_client(customer_admin)
    assert client.delete(f"{URL}{product.token}/").status_code == 204
    assert client.post(URL, {"name": "Travel card"}, format="json").status_code == 201


def test_partial_update_changes_only_what_is_sent(api_client, customer_admin, product):
    response = api_client(customer_admin).patch(
        f"{URL}{product.token}/",
        {"default_spend_limit": "99.90", "is_active": False, "default_profile": None},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["default_spend_limit"] == "99.90"
    assert body["is_active"] is False
    assert body["default_profile"] is None
    assert body["card_type"] == "PHYSICAL"
    assert body["name"] == "Travel card"


@pytest.mark.parametrize(
    ("payload", "attr", "code"),
    [
        ({"default_spend_limit": "-1.00"}, "default_spend_limit", "min_value"),
        ({"default_spend_limit": "1.234"}, "default_spend_limit", "max_decimal_places"),
        ({"card_type": "PLASTIC"}, "card_type", "invalid_choice"),
        (
            {"default_spend_limit_duration": "DAILY"},
            "default_spend_limit_duration",
            "invalid_choice",
        ),
        ({"default_profile": "not-a-token"}, "default_profile", "invalid"),
        ({"name": ""}, "name", "blank"),
    ],
)
def test_bad_input_is_a_validation_error_with_a_code(
    api_client, customer_admin, product, payload, attr, code
):
    response = api_client(customer_admin).patch(f"{URL}{product.token}/", payload, format="json")
    assert response.status_code == 400
    assert errors(response) == [(attr, code)]


def test_another_accounts_profile_cannot_be_the_default(api_client, other_customer, travel):
    response = api_client(other_customer).post(
        URL, {"name": "Mine", "default_profile": str(travel.token)}, format="json"
    )
    assert response.status_code == 400
    assert errors(response) == [("default_profile", "does_not_exist")]


def test_another_accounts_product_is_not_found(api_client, other_customer, product):
    client = api_client(other_customer)
    path = f"{URL}{product.token}/"
    assert client.get(path).status_code == 404
    assert client.patch(path, {"name": "Stolen"}, format="json").status_code == 404
    assert client.delete(path).status_code == 404
    assert client.get(f"{path}history/").status_code == 404
    assert client.get(URL).json()["results"] == []
    product.refresh_from_db()
    assert product.name == "Travel card" and product.deleted is None


def test_delete_is_soft(api_client, customer_admin, product):
    client = api_client(customer_admin)
    assert client.delete(f"{URL}{product.token}/").status_code == 204
    assert client.get(f"{URL}{product.token}/").status_code == 404
    assert client.get(URL).json()["results"] == []
    stored = CardProduct.all_objects.get(pk=product.pk)
    assert stored.deleted is not None


def test_analyst_reads_but_cannot_write(api_client, customer_analyst, product):
    client = api_client(customer_analyst)
    assert client.get(f"{URL}{product.token}/").status_code == 200
    assert client.post(URL, {"name": "X"}, format="json").status_code == 403
    assert client.patch(f"{URL}{product.token}/", {"name": "X"}, format="json").status_code == 403
    assert client.delete(f"{URL}{product.token}/").status_code == 403


def test_plain_user_cannot_read_products(api_client, cardholder, product):
    assert api_client(cardholder).get(URL).status_code == 403


def test_soft_delete_is_recorded_with_the_user_and_the_key(api_client, customer_admin, product):
    client = api_client(customer_admin)
    client.delete(f"{URL}{product.token}/")
    latest = CardProduct.all_objects.get(pk=product.pk).history.order_by("-history_date").first()
    assert latest.deleted is not None
    assert latest.history_user == customer_admin
    assert latest.history_api_key == client.api_key.prefix


def test_history_endpoint_attribution(api_client, customer_admin, product):
    client = api_client(customer_admin)
    client.patch(
        f"{URL}{product.token}/", {"name": "Travel (EU)"}, format="json", REMOTE_ADDR="203.0.113.9"
    )
    response = client.get(f"{URL}{product.token}/history/")
    assert response.status_code == 200
    entries = response.json()["results"]
    assert [e["change"] for e in entries] == ["changed", "created"]
    latest = entries[0]
    assert latest["user"] == {"token": str(customer_admin.token), "email": "ada@acme.test"}
    assert latest["api_key"] == client.api_key.prefix
    assert latest["ip_address"] == "203.0.113.9"
    assert {"field": "name", "old": "Travel card", "new": "Travel (EU)"} in latest["changes"]
    assert entries[1]["actor"] == "test:fixtures"


def test_unchanged_patch_writes_no_history(api_client, customer_admin, product):
    client = api_client(customer_admin)
    client.patch(f"{URL}{product.token}/", {"name": "Travel card"}, format="json")
    assert product.history.count() == 1


def test_list_query_count_does_not_grow_with_rows(api_client, customer_admin, acme, travel):
    client = api_client(customer_admin)
    client.get(URL)  # the key's first use records its last-use time once

    def count_for(total: int) -> int:
        with system_actor("test:fixtures"):
            for index in range(CardProduct.objects.count(), total):
                card_product_create(account=acme, name=f"P{index}", default_profile=travel)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL)
        assert len(response.json()["results"]) == total
        return len(queries)

    assert count_for(2) == count_for(12)
