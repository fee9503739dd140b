"""The account settings API: typed values by key, reset to default, history per key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountSetting
from accounts.selectors import account_setting_value
from accounts.services import account_setting_set
from accounts.settings_registry import REGISTRY


def error(response) -> dict:
    return response.json()["errors"][0]


def put(client, key, value):
    return client.put(f"/api/v1/settings/{key}/", {"value": value}, format="json")


def test_list_shows_every_registered_key_with_its_effective_value(
    api_client, customer_analyst, acme
):
    account_setting_set(account=acme, key="statement_day", value=15)
    response = api_client(customer_analyst).get("/api/v1/settings/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == len(REGISTRY)
    by_key = {s["key"]: s for s in body["results"]}
    assert sorted(by_key) == sorted(REGISTRY)
    assert by_key["statement_day"] | {"updated_at": None} == {
        "key": "statement_day",
        "value": 15,
        "default": 1,
        "is_default": False,
        "type": "integer",
        "description": REGISTRY["statement_day"].description,
        "updated_at": None,
    }
    assert by_key["statement_day"]["updated_at"] is not None
    limit = by_key["default_card_spend_limit"]
    assert (limit["value"], limit["default"], limit["is_default"], limit["type"]) == (
        "1000.00",
        "1000.00",
        True,
        "decimal",
    )
    assert limit["updated_at"] is None
    assert by_key["block_high_risk_mcc"]["value"] is True


def test_put_sets_a_typed_value(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    response = put(client, "low_balance_alert_threshold", "250.50")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["value"], body["is_default"]) == ("250.50", False)
    assert account_setting_value(account=acme, key="low_balance_alert_threshold") == Decimal(
        "250.50"
    )
    assert client.get("/api/v1/settings/low_balance_alert_threshold/").json()["value"] == "250.50"
    assert put(client, "timezone", "Europe/Paris").json()["value"] == "Europe/Paris"
    assert put(client, "require_card_memo", True).json()["value"] is True


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("statement_day", "15", "invalid_type"),
        ("statement_day", True, "invalid_type"),
        ("statement_day", 29, "invalid_value"),
        ("block_high_risk_mcc", 1, "invalid_type"),
        ("default_card_spend_limit", 12.5, "invalid_type"),
        ("default_card_spend_limit", "12.345", "invalid_type"),
        ("default_card_spend_limit", "-1.00", "invalid_value"),
        ("default_card_spend_limit", "NaN", "invalid_type"),
        ("default_card_spend_limit", "1e30", "invalid_type"),
        ("default_card_spend_limit", "10000000000.00", "invalid_type"),
        ("timezone", "Mars/Olympus", "invalid_value"),
        ("timezone", ["UTC"], "invalid_type"),
        ("timezone", {"tz": "UTC"}, "invalid_type"),
    ],
)
def test_wrong_type_or_value_is_a_validation_error_on_value(
    api_client, customer_admin, acme, key, value, code
):
    response = put(api_client(customer_admin), key, value)
    assert response.status_code == 400, response.json()
    assert response.json()["type"] == "validation_error"
    assert (error(response)["attr"], error(response)["code"]) == ("value", code)
    assert not AccountSetting.objects.filter(account=acme).exists()


def test_missing_or_null_value_is_a_validation_error(api_client, customer_admin):
    client = api_client(customer_admin)
    response = client.put("/api/v1/settings/statement_day/", {}, format="json")
    assert (response.status_code, error(response)["code"]) == (400, "required")
    response = put(client, "statement_day", None)
    assert (response.status_code, error(response)["code"]) == (400, "null")


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_key_is_not_found(api_client, customer_admin, method):
    client = api_client(customer_admin)
    response = getattr(client, method)("/api/v1/settings/favourite_colour/", {"value": 1})
    assert response.status_code == 404
    assert error(response)["code"] == "unknown_setting"
    response = client.get("/api/v1/settings/favourite_colour/history/")
    assert (response.status_code, error(response)["code"]) == (404, "unknown_setting")


def test_delete_resets_to_default_with_a_soft_delete(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    put(client, "statement_day", 10)
    response = client.delete("/api/v1/settings/statement_day/")
    assert response.status_code == 204
    row = AccountSetting.all_objects.get(account=acme, key="statement_day")
    assert row.deleted is not None
    body = client.get("/api/v1/settings/statement_day/").json()
    assert (body["value"], body["is_default"]) == (1, True)
    # Resetting a key at its default is a no-op; setting it again makes a new live row.
    assert client.delete("/api/v1/settings/statement_day/").status_code == 204
    assert put(client, "statement_day", 20).json()["value"] == 20
    assert AccountSetting.all_objects.filter(account=acme, key="statement_day").count() == 2


def test_accounts_do_not_share_settings(api_client, customer_admin, other_customer, acme):
    put(api_client(customer_admin), "statement_day", 12)
    theirs = api_client(other_customer)
    assert theirs.get("/api/v1/settings/statement_day/").json()["value"] == 1
    assert theirs.delete("/api/v1/settings/statement_day/").status_code == 204
    assert account_setting_value(account=acme, key="statement_day") == 12
    assert theirs.get("/api/v1/settings/statement_day/history/").json()["results"] == []


def test_roles(api_client, customer_analyst, cardholder):
    analyst = api_client(customer_analyst)
    assert analyst.get("/api/v1/settings/timezone/").status_code == 200
    assert put(analyst, "timezone", "UTC").status_code == 403
    assert analyst.delete("/api/v1/settings/timezone/").status_code == 403
    assert api_client(cardholder).get("/api/v1/settings/").status_code == 403


def test_history_spans_resets_and_names_the_user_and_the_key(api_client, customer_admin):
    client = api_client(customer_admin)
    put(client, "statement_day", 5)
    put(client, "statement_day", 6)
    client.delete("/api/v1/settings/statement_day/")
    put(client, "statement_day", 7)
    response = client.get("/api/v1/settings/statement_day/history/")
    assert response.status_code == 200, response.json()
    entries = response.json()["results"]
    assert [e["change"] for e in entries] == ["created", "deleted", "changed", "created"]
    for entry in entries:
        assert entry["user"] == {"token": str(customer_admin.token), "email": "ada@acme.test"}
        assert entry["api_key"] == client.api_key.prefix
    assert {"field": "value", "old": 6, "new": 7} in entries[0]["changes"]
    assert {"field": "value", "old": 5, "new": 6} in entries[2]["changes"]
    created = {c["field"]: c["new"] for c in entries[3]["changes"]}
    assert created["value"] == 5
    assert "id" not in created


def test_list_query_count_does_not_depend_on_stored_rows(
    api_client, customer_admin, acme, settings
):
    settings.API_LIST_CACHE_SECONDS = 0  # the queries of making the list, not of a cache hit
    client = api_client(customer_admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/settings/").status_code == 200
        return len(captured)

    account_setting_set(account=acme, key="statement_day", value=3)
    account_setting_set(account=acme, key="timezone", value="UTC")
    queries()  # the key's first use records it; later requests within a minute do not
    few = queries()
    for key, value in (
        ("block_high_risk_mcc", False),
        ("default_card_spend_limit", "10.00"),
        ("low_balance_alert_threshold", "1.00"),
        ("require_card_memo", True),
    ):
        account_setting_set(account=acme, key=key, value=value)
    assert queries() == few
