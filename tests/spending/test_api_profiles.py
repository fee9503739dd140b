"""The spending profiles API: limits, allowed/blocked categories, deletion rules, history."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.services import card_issue, card_product_create, card_set_state
from core.audit import system_actor
from spending.models import ProfileCategory, SpendingCategory, SpendingProfile
from spending.services import spending_profile_create

URL = "/api/v1/spending-profiles/"
CODES = {
    "5812": "Eating places, restaurants",
    "5814": "Fast food restaurants",
    "5734": "Computer software stores",
    "4511": "Airlines",
    "7995": "Betting, casino gambling",
}


@pytest.fixture
def catalogue(db, fixture_actor):
    """The few merchant categories these tests use (leaf data, not the whole catalogue)."""
    return {
        mcc: SpendingCategory.objects.create(
            mcc=mcc,
            description=description,
            group="test",
            range_start=mcc,
            range_end=mcc,
            is_high_risk=mcc == "7995",
            risk_reason="gambling" if mcc == "7995" else "",
        )
        for mcc, description in CODES.items()
    }


@pytest.fixture
def travel(acme, catalogue):
    with system_actor("test:fixtures"):
        return spending_profile_create(
            account=acme,
            name="Travel",
            spend_limit=Decimal("500.00"),
            spend_limit_duration="MONTHLY",
            allowed_mccs=["4511", "5812"],
            blocked_mccs=["7995"],
        )


def errors(response) -> list[tuple]:
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


def live_rules(profile) -> dict[str, str]:
    rows = ProfileCategory.objects.filter(profile=profile).select_related("category")
    return {row.category.mcc: row.rule for row in rows}


def test_create_with_limit_and_categories(api_client, customer_admin, catalogue):
    response = api_client(customer_admin).post(
        URL,
        {
            "name": "Meals",
            "spend_limit": "40.00",
            "spend_limit_duration": "TRANSACTION",
            "allowed_mccs": ["5814", "5812"],
            "blocked_mccs": ["7995"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["spend_limit"] == "40.00"
    assert body["spend_limit_duration"] == "TRANSACTION"
    assert body["allowed_mccs"] == ["5812", "5814"]
    assert body["blocked_mccs"] == ["7995"]
    assert body["lithic_auth_rule_token"] is None
    assert "id" not in body


def test_create_without_limit_or_categories(api_client, customer_admin):
    response = api_client(customer_admin).post(URL, {"name": "Plain"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["spend_limit"] is None and body["spend_limit_duration"] is None
    assert body["allowed_mccs"] == [] and body["blocked_mccs"] == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"spend_limit": "10.00"}, [("spend_limit_duration", "limit_and_duration_together")]),
        ({"spend_limit_duration": "MONTHLY"}, [("spend_limit", "limit_and_duration_together")]),
        (
            {"spend_limit": "-5.00", "spend_limit_duration": "MONTHLY"},
            [("spend_limit", "min_value")],
        ),
        ({"allowed_mccs": ["58"]}, [("allowed_mccs.0", "invalid")]),
        ({"allowed_mccs": ["0000"]}, [("allowed_mccs", "unknown_mcc")]),
        ({"blocked_mccs": ["5812", "9999"]}, [("blocked_mccs", "unknown_mcc")]),
        (
            {"allowed_mccs": ["5812"], "blocked_mccs": ["5812"]},
            [("blocked_mccs", "allowed_and_blocked")],
        ),
        ({"allowed_mccs": "5812"}, [("allowed_mccs", "not_a_list")]),
    ],
)
def test_create_rejects_bad_input_with_a_code(
    api_client, customer_admin, catalogue, payload, expected
):
    response = api_client(customer_admin).post(URL, {"name": "Bad", **payload}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["type"] == "validation_error"
    assert errors(response) == expected
    assert not SpendingProfile.objects.filter(name="Bad").exists()


def test_duplicate_live_name_is_a_unique_validation_error(api_client, customer_admin, travel):
    response = api_client(customer_admin).post(URL, {"name": "Travel"}, format="json")
    assert response.status_code == 400
    assert errors(response) == [("name", "unique")]


def test_writing_one_list_replaces_it_and_leaves_the_other(api_client, customer_admin, travel):
    response = api_client(customer_admin).patch(
        f"{URL}{travel.token}/", {"allowed_mccs": ["5734", "5812"]}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["allowed_mccs"] == ["5734", "5812"]
    assert body["blocked_mccs"] == ["7995"]
    assert body["spend_limit"] == "500.00"
    assert live_rules(travel) == {"5734": "ALLOWED", "5812": "ALLOWED", "7995": "BLOCKED"}
    removed = ProfileCategory.all_objects.get(profile=travel, category__mcc="4511")
    assert removed.deleted is not None


def test_an_empty_list_clears_it(api_client, customer_admin, travel):
    response = api_client(customer_admin).patch(
        f"{URL}{travel.token}/", {"allowed_mccs": []}, format="json"
    )
    assert response.json()["allowed_mccs"] == []
    assert live_rules(travel) == {"7995": "BLOCKED"}


def test_a_code_moves_between_lists(api_client, customer_admin, travel):
    response = api_client(customer_admin).patch(
        f"{URL}{travel.token}/",
        {"allowed_mccs": ["4511"], "blocked_mccs": ["5812", "7995"]},
        format="json",
    )
    body = response.json()
    assert body["allowed_mccs"] == ["4511"]
    assert body["blocked_mccs"] == ["5812", "7995"]
    row = ProfileCategory.objects.get(profile=travel, category__mcc="5812")
    assert row.rule == "BLOCKED"


def test_rules_are_replaced_all_or_nothing(api_client, customer_admin, travel):
    response = api_client(customer_admin).patch(
        f"{URL}{travel.token}/",
        {"name": "Renamed", "allowed_mccs": ["5734"], "blocked_mccs": ["0001"]},
        format="json",
    )
    assert response.status_code == 400
    assert errors(response) == [("blocked_mccs", "unknown_mcc")]
    travel.refresh_from_db()
    assert travel.name == "Travel"
    assert live_rules(travel) == {"4511": "ALLOWED", "5812": "ALLOWED", "7995": "BLOCKED"}


def test_limit_can_be_cleared_and_changed(api_client, customer_admin, travel):
    client = api_client(customer_admin)
    path = f"{URL}{travel.token}/"
    assert client.patch(path, {"spend_limit": "650.00"}, format="json").json()["spend_limit"] == (
        "650.00"
    )
    response = client.patch(
        path, {"spend_limit": None, "spend_limit_duration": None}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["spend_limit"] is None
    response = client.patch(path, {"spend_limit": "1.00"}, format="json")
    assert response.status_code == 400
    assert errors(response) == [("spend_limit_duration", "limit_and_duration_together")]


def test_lithic_auth_rule_token_is_read_only(api_client, customer_admin, travel):
    response = api_client(customer_admin).patch(
        f"{URL}{travel.token}/",
        {"lithic_auth_rule_token": "6f4f3c5e-1a1a-4b4b-8c8c-123456789abc"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["lithic_auth_rule_token"] is None


def test_delete_is_soft(api_client, customer_admin, travel):
    client = api_client(customer_admin)
    assert client.delete(f"{URL}{travel.token}/").status_code == 204
    assert client.get(f"{URL}{travel.token}/").status_code == 404
    assert SpendingProfile.all_objects.get(pk=travel.pk).deleted is not None
    # Its name is free again.
    assert client.post(URL, {"name": "Travel"}, format="json").status_code == 201


def test_profile_used_by_an_open_card_cannot_be_deleted(api_client, customer_admin, acme, travel):
    with system_actor("test:fixtures"):
        card = card_issue(account=acme, profile=travel)
    client = api_client(customer_admin)
    response = client.delete(f"{URL}{travel.token}/")
    assert response.status_code == 409
    assert errors(response) == [(None, "profile_in_use")]
    assert SpendingProfile.objects.filter(pk=travel.pk).exists()
    with system_actor("test:fixtures"):
        card_set_state(card=card, state="CLOSED")
    assert client.delete(f"{URL}{travel.token}/").status_code == 204


def test_profile_used_by_a_card_product_cannot_be_deleted(api_client, customer_admin, acme, travel):
    with system_actor("test:fixtures"):
        card_product_create(account=acme, name="Travel card", default_profile=travel)
    response = api_client(customer_admin).delete(f"{URL}{travel.token}/")
    assert response.status_code == 409
    assert errors(response) == [(None, "profile_in_use")]


def test_another_accounts_profile_is_not_found(api_client, other_customer, travel):
    client = api_client(other_customer)
    path = f"{URL}{travel.token}/"
    assert client.get(path).status_code == 404
    assert client.patch(path, {"name": "Stolen"}, format="json").status_code == 404
    assert client.delete(path).status_code == 404
    assert client.get(f"{path}history/").status_code == 404
    assert client.get(URL).json()["results"] == []
    travel.refresh_from_db()
    assert travel.name == "Travel" and travel.deleted is None


def test_roles(api_client, customer_analyst, cardholder, travel):
    analyst = api_client(customer_analyst)
    assert analyst.get(f"{URL}{travel.token}/").status_code == 200
    assert analyst.post(URL, {"name": "X"}, format="json").status_code == 403
    assert analyst.delete(f"{URL}{travel.token}/").status_code == 403
    assert api_client(cardholder).get(URL).status_code == 403


def test_history_names_the_user_and_the_key(api_client, customer_admin, travel):
    client = api_client(customer_admin)
    client.patch(
        f"{URL}{travel.token}/",
        {"spend_limit": "800.00"},
        format="json",
        REMOTE_ADDR="192.0.2.33",
    )
    response = client.get(f"{URL}{travel.token}/history/")
    assert response.status_code == 200
    entries = response.json()["results"]
    assert [e["change"] for e in entries] == ["changed", "created"]
    latest = entries[0]
    assert latest["user"] == {"token": str(customer_admin.token), "email": "ada@acme.test"}
    assert latest["api_key"] == client.api_key.prefix
    assert latest["ip_address"] == "192.0.2.33"
    assert {"field": "spend_limit", "old": "500.00", "new": "800.00"} in latest["changes"]
    assert entries[1]["actor"] == "test:fixtures" and entries[1]["user"] is None


def test_rule_changes_are_attributed(api_client, customer_admin, travel):
    client = api_client(customer_admin)
    client.patch(f"{URL}{travel.token}/", {"blocked_mccs": []}, format="json")
    removed = ProfileCategory.all_objects.get(profile=travel, category__mcc="7995")
    latest = removed.history.order_by("-history_date").first()
    assert latest.deleted is not None
    assert latest.history_user == customer_admin
    assert latest.history_api_key == client.api_key.prefix


def test_list_query_count_does_not_grow_with_rows(api_client, customer_admin, acme, catalogue):
    client = api_client(customer_admin)
    client.get(URL)  # the key's first use records its last-use time once

    def count_for(total: int) -> int:
        with system_actor("test:fixtures"):
            for index in range(SpendingProfile.objects.count(), total):
                spending_profile_create(
                    account=acme,
                    name=f"P{index}",
                    allowed_mccs=["5812", "5814"],
                    blocked_mccs=["7995"],
                )
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL)
        results = response.json()["results"]
        assert len(results) == total
        assert all(r["allowed_mccs"] == ["5812", "5814"] for r in results)
        return len(queries)

    assert count_for(2) == count_for(12)
