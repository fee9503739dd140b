"""The console's transaction list: search by merchant (a trigram index), last four, amount or
token; filters for dates, amounts, card, MCC, account and declined reason."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from tests.transactions.conftest import asa_payload
from transactions.models import MerchantName, Transaction

pytestmark = pytest.mark.django_db

LIST = "/admin/transactions/transaction/"


def authorize(asa, card, cents: int, *, merchant: str, mcc: str = "5812") -> str:
    payload = asa_payload(card, cents, mcc=mcc)
    payload["merchant"]["descriptor"] = merchant
    return asa(json.dumps(payload).encode())[1]["result"]


@pytest.fixture
def traffic(asa, acme, globex, make_card, categories):
    uma = make_card(
        acme, last_four="4242", spend_limit=Decimal("100.00"), spend_limit_duration="TRANSACTION"
    )
    other = make_card(globex, last_four="1111")
    authorize(asa, uma, 1250, merchant="Blue Bottle Coffee")
    authorize(asa, uma, 9900, merchant="FIGMA.COM", mcc="5734")
    authorize(asa, uma, 15000, merchant="Figma.com", mcc="5734")  # over the card's limit
    authorize(asa, uma, 500, merchant="Lucky Casino", mcc="7995")  # a blocked category
    authorize(asa, other, 1250, merchant="Corner Deli")
    call_command("refresh_rollups", stdout=StringIO())  # the merchant names, among others
    return {"uma": uma, "other": other}


def listed(client, **params) -> list[Transaction]:
    response = client.get(LIST, params)
    assert response.status_code == 200, response
    return list(response.context["cl"].result_list)


def merchants(rows) -> list[str]:
    return sorted(t.merchant_descriptor for t in rows)


def test_search_by_merchant_last_four_amount_and_token(operator_client, traffic):
    assert merchants(listed(operator_client, q="figma")) == ["FIGMA.COM", "Figma.com"]
    assert merchants(listed(operator_client, q="bottle cof")) == ["Blue Bottle Coffee"]
    assert len(listed(operator_client, q="4242")) == 4
    assert merchants(listed(operator_client, q="12.50")) == ["Blue Bottle Coffee", "Corner Deli"]
    assert merchants(listed(operator_client, q="$99.00")) == ["FIGMA.COM"]
    one = Transaction.objects.get(merchant_descriptor="Corner Deli")
    assert listed(operator_client, q=str(one.token)) == [one]


def test_filters(operator_client, traffic, globex):
    assert merchants(listed(operator_client, card="1111")) == ["Corner Deli"]
    assert len(listed(operator_client, card=str(traffic["uma"].lithic_card_token))) == 4
    assert merchants(listed(operator_client, mcc__exact="5734")) == ["FIGMA.COM", "Figma.com"]
    assert merchants(listed(operator_client, amount__gte="50", amount__lte="$150.00")) == [
        "FIGMA.COM",
        "Figma.com",
    ]
    assert merchants(listed(operator_client, account__id__exact=globex.pk)) == ["Corner Deli"]
    declined = listed(operator_client, result__exact="UNAUTHORIZED_MERCHANT")
    assert merchants(declined) == ["Lucky Casino"]
    today = Transaction.objects.first().transaction_date.date().isoformat()
    assert len(listed(operator_client, transaction_date__gte=today)) == 5
    assert listed(operator_client, transaction_date__lt=today) == []


def test_a_bad_filter_value_is_an_error_page_not_a_crash(operator_client, traffic):
    for params in ({"amount__gte": "lots"}, {"mcc__exact": "58"}, {"card": "abc"},
                   {"transaction_date__gte": "yesterday"}):  # fmt: skip
        response = operator_client.get(LIST, params)
        assert response.status_code == 302 and response.url.endswith("?e=1"), params


def test_the_declined_reason_is_a_column(operator_client, traffic):
    page = operator_client.get(LIST).content.decode()
    assert "Declined because" in page
    assert "VELOCITY_EXCEEDED" in page and "UNAUTHORIZED_MERCHANT" in page
    assert "$150.00" in page


def plan(queryset) -> str:
    """PostgreSQL's plan of the query, with scans of whole tables made unattractive."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_merchant_search_reads_indexes_only(traffic):
    with connection.cursor() as cursor:  # names enough for an index to beat reading them all
        cursor.execute(
            "INSERT INTO merchant_names (name) SELECT 'Shop ' || n FROM generate_series(1, 50000) n"
        )
        cursor.execute("ANALYZE merchant_names")
    names = MerchantName.objects.filter(name__icontains="figma").values("name")
    assert "merchant_names_trgm_idx" in plan(names)
    by_name = Transaction.objects.filter(merchant_descriptor__in=["FIGMA.COM"]).values("pk")
    assert "merchant_date_idx" in plan(by_name) or "merchant_descriptor_transaction" in plan(
        by_name
    )
