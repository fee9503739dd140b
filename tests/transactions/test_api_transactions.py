"""The transactions API: read-only, tenant- and owner-scoped, filtered, cursor-paginated."""

from __future__ import annotations

import base64
import datetime
import uuid
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cards.services import card_issue, card_set_cardholder
from core.audit import system_actor
from core.roles import owner_connection
from tests.transactions.conftest import asa_body
from transactions.models import Transaction, TransactionEvent
from transactions.selectors import transaction_list

URL = "/api/v1/transactions/"
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def admin_card(acme, customer_admin):
    with system_actor("test:fixtures"):
        return card_issue(account=acme, cardholder=customer_admin, memo="admin", last_four="1111")


@pytest.fixture
def holder_card(acme, cardholder):
    with system_actor("test:fixtures"):
        return card_issue(account=acme, cardholder=cardholder, memo="holder", last_four="2222")


@pytest.fixture
def shared_card(acme):
    with system_actor("test:fixtures"):
        return card_issue(account=acme, memo="no cardholder")


@pytest.fixture
def globex_card(globex, other_customer):
    with system_actor("test:fixtures"):
        return card_issue(account=globex, cardholder=other_customer)


def record(card, *, minutes_ago: float = 0, amount: str = "10.00", **fields) -> Transaction:
    status = fields.pop("status", "SETTLED")
    if status == "DECLINED":
        fields.setdefault("declined_reason", "CARD_PAUSED")
    return Transaction.objects.create(
        account_id=card.account_id,
        card=card,
        amount=Decimal(amount),
        status=status,
        transaction_date=NOW - datetime.timedelta(minutes=minutes_ago),
        **fields,
    )


def tokens(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["token"] for row in response.json()["results"]]


def errors(response) -> list[tuple]:
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


def test_list_shows_the_fields_newest_first(api_client, customer_analyst, admin_card, shared_card):
    older = record(admin_card, minutes_ago=5, amount="12.34", mcc="5812", merchant_city="Austin")
    newer = record(shared_card, minutes_ago=1, status="PENDING")
    response = api_client(customer_analyst).get(URL)
    assert tokens(response) == [str(newer.token), str(older.token)]
    first, second = response.json()["results"]
    assert first["cardholder"] is None
    assert first["card"] == str(shared_card.token)
    assert second["card"] == str(admin_card.token)
    assert second["cardholder"] == str(admin_card.cardholder.token)
    assert second["amount"] == "12.34"
    assert second["mcc"] == "5812"
    assert set(second) == {
        "token",
        "card",
        "cardholder",
        "amount",
        "settled_amount",
        "currency",
        "merchant_descriptor",
        "merchant_city",
        "merchant_country",
        "mcc",
        "type",
        "status",
        "result",
        "declined_reason",
        "transaction_date",
        "created_at",
    }
    assert "next" in response.json() and "count" not in response.json()


def test_list_reads_no_personal_data_of_the_cardholder(api_client, customer_analyst, admin_card):
    record(admin_card)
    with CaptureQueriesContext(connection) as queries:
        response = api_client(customer_analyst).get(URL)
    assert response.json()["results"][0]["cardholder"] == str(admin_card.cardholder.token)
    (listed,) = [q["sql"] for q in queries if 'FROM "transactions"' in q["sql"]]
    # Decrypting them for every row listed cost more than the rest of the page.
    for column in ("phone", "date_of_birth", "email", "password"):
        assert f'"users"."{column}"' not in listed


def test_retrieve_shows_the_events_in_order(api_client, customer_admin, admin_card):
    txn = record(admin_card, amount="30.00", status="SETTLED", settled_amount=Decimal("30.00"))
    for offset, kind in ((2, "CLEARING"), (0, "AUTHORIZATION")):
        TransactionEvent.objects.create(
            token=uuid.uuid4(),
            account_id=admin_card.account_id,
            transaction=txn,
            type=kind,
            amount=Decimal("30.00"),
            created=NOW + datetime.timedelta(minutes=offset),
        )
    response = api_client(customer_admin).get(f"{URL}{txn.token}/")
    assert response.status_code == 200
    body = response.json()
    assert body["settled_amount"] == "30.00"
    assert [e["type"] for e in body["events"]] == ["AUTHORIZATION", "CLEARING"]
    assert set(body["events"][0]) == {"type", "amount", "result", "reason", "source", "created"}
    assert (body["disputes"], body["enhanced_data"]) == ([], [])


def test_plain_user_sees_only_their_own_cards_transactions(
    api_client, cardholder, holder_card, admin_card, shared_card
):
    mine = record(holder_card)
    theirs = record(admin_card)
    unassigned = record(shared_card)
    client = api_client(cardholder)
    assert tokens(client.get(URL)) == [str(mine.token)]
    assert client.get(f"{URL}{mine.token}/").status_code == 200
    assert client.get(f"{URL}{theirs.token}/").status_code == 404
    assert client.get(f"{URL}{unassigned.token}/").status_code == 404
    response = client.get(URL, {"card": str(admin_card.token)})
    assert response.status_code == 400
    assert errors(response) == [("card", "does_not_exist")]


def test_another_accounts_transaction_is_not_found(
    api_client, other_customer, customer_admin, admin_card, globex_card
):
    ours = record(admin_card)
    theirs = record(globex_card)
    client = api_client(other_customer)
    assert tokens(client.get(URL)) == [str(theirs.token)]
    response = client.get(f"{URL}{ours.token}/")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    assert client.get(f"{URL}{uuid.uuid4()}/").status_code == 404


@pytest.mark.parametrize("which", ["another account's", "unknown"])
@pytest.mark.parametrize("name", ["card", "user"])
def test_filter_by_a_token_outside_the_account_is_does_not_exist(
    api_client, customer_admin, admin_card, globex_card, other_customer, which, name
):
    record(admin_card)
    if which == "unknown":
        value = str(uuid.uuid4())
    else:
        value = str(globex_card.token if name == "card" else other_customer.token)
    response = api_client(customer_admin).get(URL, {name: value})
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert errors(response) == [(name, "does_not_exist")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"card": "not-a-uuid"}, [("card", "invalid")]),
        ({"user": "42"}, [("user", "invalid")]),
        ({"status": "APPROVED"}, [("status", "invalid_choice")]),
        ({"amount_min": "ten"}, [("amount_min", "invalid")]),
        ({"amount_max": "NaN"}, [("amount_max", "invalid")]),
        ({"amount_max": "1e40"}, [("amount_max", "max_digits")]),
        ({"amount_min": "1.001"}, [("amount_min", "max_decimal_places")]),
        ({"date_from": "yesterday"}, [("date_from", "invalid")]),
        ({"date_to": "2026-13-45"}, [("date_to", "invalid")]),
        ({"mcc": "58120"}, [("mcc", "max_length")]),
    ],
)
def test_bad_filter_values_are_validation_errors(
    api_client, customer_admin, admin_card, query, expected
):
    response = api_client(customer_admin).get(URL, query)
    assert response.status_code == 400
    assert errors(response) == expected


def test_filter_by_card(api_client, customer_admin, admin_card, shared_card):
    wanted = record(admin_card)
    record(shared_card)
    response = api_client(customer_admin).get(URL, {"card": str(admin_card.token)})
    assert tokens(response) == [str(wanted.token)]


def test_filter_by_user(api_client, customer_admin, cardholder, admin_card, holder_card):
    record(admin_card)
    wanted = record(holder_card)
    response = api_client(customer_admin).get(URL, {"user": str(cardholder.token)})
    assert tokens(response) == [str(wanted.token)]


def test_filter_by_status(api_client, customer_admin, admin_card):
    record(admin_card, status="SETTLED")
    declined = record(admin_card, status="DECLINED")
    response = api_client(customer_admin).get(URL, {"status": "DECLINED"})
    assert tokens(response) == [str(declined.token)]


def test_filter_by_mcc(api_client, customer_admin, admin_card):
    wanted = record(admin_card, mcc="5812")
    record(admin_card, mcc="5814")
    response = api_client(customer_admin).get(URL, {"mcc": "5812"})
    assert tokens(response) == [str(wanted.token)]


def test_filter_by_date_range(api_client, customer_admin, admin_card):
    record(admin_card, minutes_ago=60 * 24 * 3)
    inside = record(admin_card, minutes_ago=60 * 24)
    record(admin_card, minutes_ago=0)
    client = api_client(customer_admin)
    start = (NOW - datetime.timedelta(days=2)).isoformat()
    end = (NOW - datetime.timedelta(hours=1)).isoformat()
    assert tokens(client.get(URL, {"date_from": start, "date_to": end})) == [str(inside.token)]
    # Bounds are inclusive.
    exact = inside.transaction_date.isoformat()
    assert tokens(client.get(URL, {"date_from": exact, "date_to": exact})) == [str(inside.token)]


def test_filter_by_amount_range(api_client, customer_admin, admin_card):
    record(admin_card, amount="9.99")
    low = record(admin_card, amount="10.00")
    high = record(admin_card, amount="50.00")
    record(admin_card, amount="50.01")
    response = api_client(customer_admin).get(URL, {"amount_min": "10.00", "amount_max": "50"})
    assert sorted(tokens(response)) == sorted([str(low.token), str(high.token)])


def test_read_only(api_client, customer_owner, admin_card):
    txn = record(admin_card)
    client = api_client(customer_owner)
    assert client.post(URL, {}, format="json").status_code in (403, 405)
    assert client.patch(f"{URL}{txn.token}/", {}, format="json").status_code in (403, 405)
    assert client.delete(f"{URL}{txn.token}/").status_code in (403, 405)
    assert Transaction.objects.filter(pk=txn.pk).exists()


def _next_cursor(response) -> str | None:
    link = response.json()["next"]
    return parse_qs(urlparse(link).query)["cursor"][0] if link else None


def test_cursor_pages_are_stable_under_inserts(api_client, customer_admin, admin_card):
    # Two rows share a timestamp, so the page boundary falls inside a tie.
    original = [record(admin_card, minutes_ago=m) for m in (1, 2, 3, 3, 4, 5, 6)]
    expected = [str(t.token) for t in Transaction.objects.order_by("-transaction_date", "-id")]
    assert set(expected) == {str(t.token) for t in original}
    client = api_client(customer_admin)
    first = client.get(URL, {"page_size": 3})
    seen = tokens(first)
    cursor = _next_cursor(first)
    # New transactions arrive between the pages, newer than everything listed.
    for minutes in (0, -1, -2):
        record(admin_card, minutes_ago=minutes)
    while cursor:
        page = client.get(URL, {"page_size": 3, "cursor": cursor})
        seen += tokens(page)
        cursor = _next_cursor(page)
    assert seen == expected


def test_page_size_is_bounded(api_client, customer_admin, admin_card):
    for index in range(3):
        record(admin_card, minutes_ago=index)
    response = api_client(customer_admin).get(URL, {"page_size": 100000})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        base64.b64encode(b"p=not-a-date").decode(),
        base64.b64encode(urlencode({"o": "9" * 30, "p": "x"}).encode()).decode(),
        base64.b64encode(b"\xff\xfe").decode(),
    ],
)
def test_tampered_cursor_is_a_client_error(api_client, customer_admin, admin_card, cursor):
    record(admin_card)
    response = api_client(customer_admin).get(URL, {"cursor": cursor})
    assert response.status_code in (400, 404), response.content
    assert response.json()["errors"][0]["code"]


def test_list_query_count_does_not_grow_with_rows(
    api_client, customer_admin, admin_card, holder_card, shared_card
):
    client = api_client(customer_admin)
    client.get(URL)  # the key's first use records its last-use time once
    cards = [admin_card, holder_card, shared_card]

    def count_for(total: int) -> int:
        for index in range(Transaction.objects.count(), total):
            record(cards[index % 3], minutes_ago=index)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL)
        assert len(response.json()["results"]) == total
        return len(queries)

    assert count_for(2) == count_for(12)


def partition_indexes(index: str) -> set[str]:
    """A partitioned table's index and the partitions' own indexes attached to it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [index],
        )
        return {index, *(row[0] for row in cursor.fetchall())}


def _plan(queryset) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_account_list_reads_through_the_account_date_index(customer_admin, acme, globex_card):
    # Many tenants' rows, of which Acme's are a small share: the shape in which scanning the
    # program-wide date index would read mostly other accounts' rows.
    with system_actor("test:fixtures"):
        busy, quiet = card_issue(account=acme), card_issue(account=acme)
    rows = [
        busy if index % 10 == 0 else quiet if index % 100 == 5 else globex_card
        for index in range(4000)
    ]
    Transaction.objects.bulk_create(
        Transaction(
            account_id=card.account_id,
            card=card,
            amount=Decimal("1.00"),
            status="SETTLED",
            transaction_date=NOW - datetime.timedelta(minutes=index),
        )
        for index, card in enumerate(rows)
    )
    # Only the owner may ANALYZE (core.roles), as autovacuum does in production.
    with owner_connection(), connection.cursor() as cursor:
        # The joined tables too: their statistics would otherwise be whatever autovacuum last
        # saw, and the plan would depend on when it ran.
        cursor.execute("ANALYZE transactions, cards, users")
    newest = transaction_list(actor=customer_admin).order_by("-transaction_date", "-id")[:50]
    plan = _plan(newest)
    # Each month's partition has its own copy of the index, which the plan names.
    used = {index for index in partition_indexes("transactions_account_date_idx") if index in plan}
    assert used, plan


def test_a_card_changing_hands_keeps_past_spend_with_its_holder(
    api_client, asa, acme, make_card, categories, cardholder, customer_admin
):
    card = make_card(acme, cardholder=cardholder)
    assert asa(asa_body(card, 1250))[1]["result"] == "APPROVED"
    before = Transaction.objects.get()
    card_set_cardholder(card=card, cardholder=customer_admin)
    assert asa(asa_body(card, 700))[1]["result"] == "APPROVED"
    after = Transaction.objects.exclude(pk=before.pk).get()

    # The new holder (a plain user would see only their own) is not shown the old one's spend.
    listed = api_client(customer_admin).get(URL, {"user": str(cardholder.token)})
    assert tokens(listed) == [str(before.token)]
    shown = {row["token"]: row["cardholder"] for row in listed.json()["results"]}
    assert shown == {str(before.token): str(cardholder.token)}
    theirs = api_client(customer_admin).get(URL, {"user": str(customer_admin.token)})
    assert tokens(theirs) == [str(after.token)]
    assert tokens(api_client(cardholder).get(URL)) == [str(before.token)]
