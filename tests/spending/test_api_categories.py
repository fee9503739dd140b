"""The MCC catalogue API: read-only, looked up by code, searchable."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from spending.models import SpendingCategory

URL = "/api/v1/spending-categories/"
ROWS = [
    ("5812", "Eating places, restaurants", "Retail outlets", False, ""),
    ("5814", "Fast food restaurants", "Retail outlets", False, ""),
    ("5734", "Computer software stores", "Retail outlets", False, ""),
    ("4511", "Airlines, air carriers", "Transportation", False, ""),
    ("7995", "Betting, casino gambling", "Miscellaneous", True, "gambling"),
    ("6051", "Non-financial institutions: foreign currency", "Financial", True, "crypto"),
]


@pytest.fixture
def catalogue(db, fixture_actor):
    return [
        SpendingCategory.objects.create(
            mcc=mcc,
            description=description,
            group=group,
            range_start=mcc,
            range_end=mcc,
            is_high_risk=high_risk,
            risk_reason=reason,
        )
        for mcc, description, group, high_risk, reason in ROWS
    ]


def codes(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["mcc"] for row in response.json()["results"]]


def test_list_is_ordered_by_code_and_shows_the_fields(api_client, cardholder, catalogue):
    response = api_client(cardholder).get(URL)
    assert codes(response) == ["4511", "5734", "5812", "5814", "6051", "7995"]
    assert response.json()["results"][-1] == {
        "mcc": "7995",
        "description": "Betting, casino gambling",
        "group": "Miscellaneous",
        "range_start": "7995",
        "range_end": "7995",
        "is_high_risk": True,
        "risk_reason": "gambling",
    }


def test_retrieve_by_code(api_client, customer_analyst, catalogue):
    response = api_client(customer_analyst).get(f"{URL}5812/")
    assert response.status_code == 200
    assert response.json()["description"] == "Eating places, restaurants"


@pytest.mark.parametrize("code", ["0000", "58", "abcd", "58123"])
def test_unknown_or_malformed_code_is_not_found(api_client, customer_admin, catalogue, code):
    response = api_client(customer_admin).get(f"{URL}{code}/")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_deleted_category_is_not_found(api_client, customer_admin, catalogue):
    catalogue[0].delete()
    assert api_client(customer_admin).get(f"{URL}5812/").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=58", ["5812", "5814"]),
        ("search=581", ["5812", "5814"]),
        ("search=5812", ["5812"]),
        ("search=RESTAURANT", ["5812", "5814"]),
        ("search=casino", ["7995"]),
        ("search=nothing-like-this", []),
        ("is_high_risk=true", ["6051", "7995"]),
        ("is_high_risk=false", ["4511", "5734", "5812", "5814"]),
        ("group=transportation", ["4511"]),
        ("group=Retail%20outlets&search=fast", ["5814"]),
    ],
)
def test_filters(api_client, customer_admin, catalogue, query, expected):
    assert codes(api_client(customer_admin).get(f"{URL}?{query}")) == expected


def test_catalogue_is_read_only(api_client, customer_owner, catalogue):
    client = api_client(customer_owner)
    assert client.post(URL, {"mcc": "1234"}, format="json").status_code in (403, 405)
    assert client.patch(f"{URL}5812/", {"description": "x"}, format="json").status_code in (
        403,
        405,
    )
    assert client.delete(f"{URL}5812/").status_code in (403, 405)
    assert SpendingCategory.objects.count() == len(ROWS)


def test_list_query_count_does_not_grow_with_rows(api_client, customer_admin, fixture_actor):
    client = api_client(customer_admin)
    client.get(URL)  # the key's first use records its last-use time once

    def count_for(total: int) -> int:
        for index in range(SpendingCategory.objects.count(), total):
            mcc = f"{1000 + index:04d}"
            SpendingCategory.objects.create(
                mcc=mcc, description=f"Code {mcc}", group="g", range_start=mcc, range_end=mcc
            )
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL)
        assert len(response.json()["results"]) == total
        return len(queries)

    assert count_for(2) == count_for(12)
