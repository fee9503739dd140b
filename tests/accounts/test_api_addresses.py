"""The addresses API: addresses of the account and of its users through one endpoint."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Address
from accounts.services import address_add, user_create

STREET = {
    "address_type": "shipping",
    "line1": "1 Infinite Loop",
    "city": "Cupertino",
    "region": "CA",
    "postal_code": "95014",
}


def add(client, owner, **fields):
    return client.post("/api/v1/addresses/", {"owner": owner, **STREET, **fields}, format="json")


def error(response) -> dict:
    return response.json()["errors"][0]


def test_add_an_account_address(api_client, customer_admin, acme):
    response = add(api_client(customer_admin), {"type": "account"}, is_primary=True)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == {"type": "account", "token": str(acme.token)}
    assert body["line1"] == "1 Infinite Loop"
    assert body["country"] == "US"
    assert body["is_primary"] is True
    assert "id" not in body
    address = Address.objects.get(token=body["token"])
    assert address.owner == acme
    assert address.account == acme


def test_add_a_users_address(api_client, customer_admin, cardholder, acme):
    owner = {"type": "user", "token": str(cardholder.token)}
    response = add(api_client(customer_admin), owner, line2="Apt 4", country="GB")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == owner
    assert body["line2"] == "Apt 4"
    address = Address.objects.get(token=body["token"])
    assert address.owner == cardholder
    assert address.account == acme


@pytest.mark.parametrize(
    ("owner", "attr", "code"),
    [
        ({"type": "user"}, "owner.token", "required"),
        ({"type": "user", "token": "not-a-uuid"}, "owner.token", "invalid"),
        ({"type": "robot"}, "owner.type", "invalid_choice"),
        ({}, "owner.type", "required"),
    ],
)
def test_owner_validation_errors(api_client, customer_admin, owner, attr, code):
    response = add(api_client(customer_admin), owner)
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert (error(response)["attr"], error(response)["code"]) == (attr, code)


def test_another_accounts_user_or_account_is_not_an_owner(
    api_client, customer_admin, other_customer, globex
):
    client = api_client(customer_admin)
    for owner in (
        {"type": "user", "token": str(other_customer.token)},
        {"type": "account", "token": str(globex.token)},
    ):
        response = add(client, owner)
        assert response.status_code == 400
        assert (error(response)["attr"], error(response)["code"]) == (
            "owner.token",
            "does_not_exist",
        )
    assert not Address.objects.exists()


@pytest.mark.parametrize(
    ("fields", "attr", "code"),
    [
        ({"country": "us"}, "country", "invalid"),
        ({"address_type": "home"}, "address_type", "invalid_choice"),
        ({"line1": ""}, "line1", "blank"),
        ({"postal_code": "9" * 21}, "postal_code", "max_length"),
    ],
)
def test_field_validation_errors(api_client, customer_admin, fields, attr, code):
    response = add(api_client(customer_admin), {"type": "account"}, **fields)
    assert response.status_code == 400
    assert (error(response)["attr"], error(response)["code"]) == (attr, code)


def test_a_new_primary_demotes_the_previous_one(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    first = add(client, {"type": "account"}, is_primary=True).json()["token"]
    second = add(client, {"type": "account"}, is_primary=True).json()["token"]
    assert client.get(f"/api/v1/addresses/{first}/").json()["is_primary"] is False
    assert client.get(f"/api/v1/addresses/{second}/").json()["is_primary"] is True
    # Making the first primary again through PATCH demotes the second.
    response = client.patch(f"/api/v1/addresses/{first}/", {"is_primary": True})
    assert response.status_code == 200, response.json()
    assert client.get(f"/api/v1/addresses/{second}/").json()["is_primary"] is False
    # A billing primary does not compete with the shipping one.
    billing = add(client, {"type": "account"}, address_type="billing", is_primary=True)
    assert billing.json()["is_primary"] is True
    assert client.get(f"/api/v1/addresses/{first}/").json()["is_primary"] is True


def test_patch_changes_fields(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    token = add(client, {"type": "account"}).json()["token"]
    response = client.patch(
        f"/api/v1/addresses/{token}/", {"line1": "2 Main St", "country": "CA", "region": ""}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["line1"], body["country"], body["region"]) == ("2 Main St", "CA", "")
    bad = client.patch(f"/api/v1/addresses/{token}/", {"country": "Canada"})
    assert bad.status_code == 400
    assert error(bad)["attr"] == "country"


def test_list_filters(api_client, customer_admin, cardholder, acme):
    with_owner = {
        "account": address_add(owner=acme, address_type="billing", **_plain()),
        "user": address_add(owner=cardholder, address_type="shipping", **_plain()),
    }
    client = api_client(customer_admin)

    def tokens(query):
        response = client.get(f"/api/v1/addresses/?{query}")
        assert response.status_code == 200, response.json()
        return [a["token"] for a in response.json()["results"]]

    assert tokens("owner_type=account") == [str(with_owner["account"].token)]
    assert tokens("owner_type=user") == [str(with_owner["user"].token)]
    assert tokens(f"owner={cardholder.token}") == [str(with_owner["user"].token)]
    assert tokens(f"owner={acme.token}") == [str(with_owner["account"].token)]
    assert tokens(f"owner_type=user&owner={acme.token}") == []
    assert tokens("address_type=billing") == [str(with_owner["account"].token)]
    assert client.get("/api/v1/addresses/?owner_type=robot").status_code == 400
    assert client.get("/api/v1/addresses/?owner=nope").status_code == 400


def _plain(**extra):
    return {"line1": "9 Side St", "city": "Springfield", "postal_code": "12345", **extra}


def test_another_accounts_address_is_not_found(api_client, customer_admin, globex, other_customer):
    theirs = address_add(owner=other_customer, address_type="billing", **_plain())
    client = api_client(customer_admin)
    url = f"/api/v1/addresses/{theirs.token}/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"city": "Gotham"}).status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get(f"{url}history/").status_code == 404
    assert client.get("/api/v1/addresses/").json()["results"] == []
    assert client.get(f"/api/v1/addresses/?owner={other_customer.token}").json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.city == "Springfield"


def test_delete_is_a_soft_delete(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    token = add(client, {"type": "account"}, is_primary=True).json()["token"]
    assert client.delete(f"/api/v1/addresses/{token}/").status_code == 204
    row = Address.all_objects.get(token=token)
    assert row.deleted is not None
    assert client.get("/api/v1/addresses/").json()["results"] == []
    assert client.get(f"/api/v1/addresses/{token}/").status_code == 404
    # The deleted primary no longer blocks a new one.
    assert add(client, {"type": "account"}, is_primary=True).status_code == 201


def test_roles(api_client, customer_analyst, cardholder, acme):
    address = address_add(owner=cardholder, address_type="shipping", **_plain())
    analyst = api_client(customer_analyst)
    assert analyst.get(f"/api/v1/addresses/{address.token}/").json()["line1"] == "9 Side St"
    assert add(analyst, {"type": "account"}).status_code == 403
    assert analyst.delete(f"/api/v1/addresses/{address.token}/").status_code == 403
    own = api_client(cardholder)
    assert own.get("/api/v1/addresses/").status_code == 403


def test_history_names_the_user_and_the_key_and_masks_street_lines(
    api_client, customer_admin, cardholder
):
    client = api_client(customer_admin)
    token = add(client, {"type": "user", "token": str(cardholder.token)}).json()["token"]
    client.patch(f"/api/v1/addresses/{token}/", {"line1": "5 New Road", "city": "Austin"})
    response = client.get(f"/api/v1/addresses/{token}/history/")
    assert response.status_code == 200
    entries = response.json()["results"]
    assert [e["change"] for e in entries] == ["changed", "created"]
    latest = entries[0]
    assert latest["user"] == {"token": str(customer_admin.token), "email": "ada@acme.test"}
    assert latest["api_key"] == client.api_key.prefix
    assert {"field": "city", "old": "Cupertino", "new": "Austin"} in latest["changes"]
    assert {"field": "line1", "old": "••••Loop", "new": "••••Road"} in latest["changes"]
    created = {c["field"]: c["new"] for c in entries[1]["changes"]}
    # References are tokens and names, never numeric ids.
    assert created["owner_type"] == "user"
    assert created["owner_id"] == str(cardholder.token)
    assert created["account"] == str(cardholder.account.token)
    assert "id" not in created


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/addresses/?page_size=100")
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow_with_rows(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    users = [user_create(email=f"a{n}@acme.test", account=acme) for n in range(6)]
    address_add(owner=acme, address_type="billing", **_plain())
    address_add(owner=users[0], address_type="billing", **_plain())
    assert client.get("/api/v1/addresses/").json()["count"] == 2
    few = _list_queries(client)
    for n in range(10):
        owner = acme if n % 2 else users[n % 6]
        address_add(owner=owner, address_type="shipping", **_plain())
    assert client.get("/api/v1/addresses/").json()["count"] == 12
    assert _list_queries(client) == few


def test_addresses_of_a_deleted_user_still_name_their_owner(api_client, customer_admin, cardholder):
    address = address_add(owner=cardholder, address_type="shipping", **_plain())
    client = api_client(customer_admin)
    assert client.delete(f"/api/v1/users/{cardholder.token}/").status_code == 204
    owner = {"type": "user", "token": str(cardholder.token)}
    assert client.get(f"/api/v1/addresses/{address.token}/").json()["owner"] == owner
    assert client.get("/api/v1/addresses/").json()["results"][0]["owner"] == owner
    # A deleted user cannot be given new addresses.
    response = add(client, owner)
    assert (response.status_code, error(response)["code"]) == (400, "does_not_exist")
