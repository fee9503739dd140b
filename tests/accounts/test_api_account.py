"""The caller's own account: read, rename, set the tax id (write-only), history."""

from __future__ import annotations

from accounts.models import Account


def test_get_returns_the_callers_account_without_secrets(api_client, customer_analyst, acme):
    response = api_client(customer_analyst).get("/api/v1/account/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["token"] == str(acme.token)
    assert body["name"] == "Acme Corp"
    assert body["balance"] == "25000.00"
    assert body["currency"] == "USD"
    assert body["status"] == "ACTIVE"
    assert body["tax_id_last_four"] == "6789"
    assert "tax_id" not in body
    assert "id" not in body


def test_each_caller_sees_only_their_own_account(api_client, other_customer, globex, acme):
    body = api_client(other_customer).get("/api/v1/account/").json()
    assert body["token"] == str(globex.token)
    assert body["name"] == "Globex Inc"


def test_patch_renames_and_sets_tax_id_write_only(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    response = client.patch(
        "/api/v1/account/", {"name": "Acme Holdings", "tax_id": "55-0001234"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["name"] == "Acme Holdings"
    assert body["tax_id_last_four"] == "1234"
    assert "tax_id" not in body
    acme.refresh_from_db()
    assert acme.name == "Acme Holdings"
    assert acme.tax_id == "55-0001234"


def test_patch_ignores_read_only_fields(api_client, customer_admin, acme):
    response = api_client(customer_admin).patch(
        "/api/v1/account/",
        {"balance": "99999999.00", "status": "CLOSED", "currency": "EUR"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    acme.refresh_from_db()
    assert str(acme.balance) == "25000.00"
    assert acme.status == Account.Status.ACTIVE
    assert acme.currency == "USD"


def test_blank_name_is_a_validation_error(api_client, customer_admin):
    response = api_client(customer_admin).patch("/api/v1/account/", {"name": ""}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["errors"][0]["attr"] == "name"
    assert body["errors"][0]["code"] == "blank"


def test_analyst_cannot_patch(api_client, customer_analyst):
    response = api_client(customer_analyst).patch(
        "/api/v1/account/", {"name": "Nope"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"


def test_plain_user_cannot_read_the_account(api_client, cardholder):
    assert api_client(cardholder).get("/api/v1/account/").status_code == 403


def test_put_and_delete_are_not_offered(api_client, customer_owner):
    client = api_client(customer_owner)
    assert client.put("/api/v1/account/", {"name": "X"}, format="json").status_code == 405
    assert client.delete("/api/v1/account/").status_code == 405


def test_history_names_the_user_and_the_key_and_masks_the_tax_id(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    client.patch("/api/v1/account/", {"name": "Acme Two", "tax_id": "77-7654321"}, format="json")
    response = client.get("/api/v1/account/history/")
    assert response.status_code == 200, response.json()
    entries = response.json()["results"]
    assert [e["change"] for e in entries] == ["changed", "created"]
    latest = entries[0]
    assert latest["user"] == {"token": str(customer_admin.token), "email": "ada@acme.test"}
    assert latest["api_key"] == client.api_key.prefix
    assert {"field": "name", "old": "Acme Corp", "new": "Acme Two"} in latest["changes"]
    tax = next(c for c in latest["changes"] if c["field"] == "tax_id")
    assert tax == {"field": "tax_id", "old": "••••6789", "new": "••••4321"}
    assert entries[1]["actor"] == "test:fixtures"


def test_history_shows_no_numeric_ids(api_client, customer_admin):
    entries = api_client(customer_admin).get("/api/v1/account/history/").json()["results"]
    fields = {change["field"] for entry in entries for change in entry["changes"]}
    assert "id" not in fields
