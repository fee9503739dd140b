"""Racing authorizations over real HTTP against a live server on PostgreSQL.

Each request is handled in its own server thread with its own database connection, so these
are real concurrent transactions; the tests check that no interleaving passes a limit or the
balance, and that no request is refused that would have fitted.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.db import connection, transaction

from accounts.services import account_create
from tests.transactions.conftest import asa_body, signed_headers
from transactions.models import AccountFunds, SpendCounter, Transaction, UnmatchedAuthorization
from transactions.selectors import ledger_mismatches

pytestmark = pytest.mark.django_db(transaction=True)
CLIENTS = 32
D = Decimal


@pytest.fixture(autouse=True)
def _generous_budget(settings):
    # These tests prove the locking, not the time budget: on a loaded CI machine a queue of
    # 32 requests on one account may take longer than production's 300 ms.
    settings.ASA_DEADLINE_MS = 10_000


def post_all(url: str, bodies: list[bytes], *, msg_id: str | None = None) -> list[str]:
    """POST each body at once from many clients; each a new request unless `msg_id` makes
    them copies of one (Lithic's retries keep the webhook-id)."""

    def post(body: bytes) -> str:
        headers = {**signed_headers(body, msg_id=msg_id), "Content-Type": "application/json"}
        response = requests.post(url, data=body, headers=headers, timeout=30)
        assert response.status_code == 200
        return response.json()["result"]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(post, bodies))


def amount_of(body: bytes) -> Decimal:
    return D(json.loads(body)["amounts"]["cardholder"]["amount"]) / 100


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_card_limit_holds_under_200_concurrent_authorizations(
    asa_server, acme, make_card, categories, seed
):
    card = make_card(acme, spend_limit=D("1000.00"), spend_limit_duration="MONTHLY")
    rng = random.Random(seed)
    bodies = [asa_body(card, 700) for _ in range(200)]
    rng.shuffle(bodies)
    results = post_all(asa_server.url + "/lithic/asa/", bodies)
    assert results.count("APPROVED") == 142
    assert results.count("VELOCITY_EXCEEDED") == 58
    approved = Transaction.objects.filter(card=card, result="APPROVED")
    assert sum(t.amount for t in approved) == D("994.00")
    counter = SpendCounter.objects.get(scope="CARD", owner_id=card.pk, period="life")
    assert counter.amount == D("994.00")
    assert ledger_mismatches() == []


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_mixed_amounts_never_overspend_and_never_refuse_what_fits(
    asa_server, acme, make_card, categories, seed
):
    card = make_card(acme, spend_limit=D("1000.00"), spend_limit_duration="MONTHLY")
    rng = random.Random(seed)
    bodies = [asa_body(card, rng.randint(100, 2500)) for _ in range(200)]
    results = post_all(asa_server.url + "/lithic/asa/", bodies)
    approved = sum(amount_of(b) for b, r in zip(bodies, results, strict=True) if r == "APPROVED")
    assert approved <= D("1000.00")
    remaining = D("1000.00") - approved
    # Spend only grows, so whatever was refused did not fit even into what is left at the end.
    refused = [amount_of(b) for b, r in zip(bodies, results, strict=True) if r != "APPROVED"]
    assert set(results) <= {"APPROVED", "VELOCITY_EXCEEDED"}
    assert all(amount > remaining for amount in refused)
    assert ledger_mismatches() == []


@pytest.mark.parametrize("seed", [21, 22])
def test_account_balance_holds_across_cards(asa_server, make_card, categories, fixture_actor, seed):
    account = account_create(name=f"Thin Ltd {seed}", balance=D("1000.00"))
    cards = [make_card(account) for _ in range(4)]  # no card limits: only the balance binds
    rng = random.Random(seed)
    bodies = [asa_body(rng.choice(cards), 700) for _ in range(200)]
    results = post_all(asa_server.url + "/lithic/asa/", bodies)
    assert results.count("APPROVED") == 142
    assert results.count("INSUFFICIENT_FUNDS") == 58
    assert AccountFunds.objects.get(account=account).held == D("994.00")
    assert ledger_mismatches() == []


def test_concurrent_retries_of_one_authorization_have_one_effect(
    asa_server, acme, make_card, categories
):
    card = make_card(acme)
    body = asa_body(card, 1234)
    results = post_all(asa_server.url + "/lithic/asa/", [body] * 40, msg_id="msg_retried")
    assert results == ["APPROVED"] * 40
    assert Transaction.objects.count() == 1
    assert AccountFunds.objects.get(account=acme).held == D("12.34")
    assert ledger_mismatches() == []


def test_lock_wait_past_the_budget_declines_fast_and_records_nothing(
    asa_server, acme, make_card, categories, settings
):
    settings.ASA_DEADLINE_MS = 200
    card = make_card(acme)
    body = asa_body(card, 500)
    with transaction.atomic(), connection.cursor() as cursor:
        # An operator's long transaction holding the account row.
        cursor.execute("SELECT id FROM accounts WHERE id = %s FOR UPDATE", [acme.pk])
        started = time.monotonic()
        first_id = f"msg_{uuid.uuid4().hex}"
        response = requests.post(
            asa_server.url + "/lithic/asa/",
            data=body,
            headers={**signed_headers(body, msg_id=first_id), "Content-Type": "application/json"},
            timeout=10,
        )
        elapsed = time.monotonic() - started
    assert response.json() == {"token": json.loads(body)["token"], "result": "SUSPECTED_FRAUD"}
    assert elapsed < 1.0
    assert not Transaction.objects.exists()
    assert not UnmatchedAuthorization.objects.exists()
    # Once the lock is gone, Lithic's retry is decided normally.
    retry = requests.post(
        asa_server.url + "/lithic/asa/",
        data=body,
        headers={**signed_headers(body, msg_id=first_id), "Content-Type": "application/json"},
        timeout=10,
    )
    assert retry.json()["result"] == "APPROVED"
    assert str(uuid.UUID(retry.json()["token"])) == json.loads(body)["token"]
