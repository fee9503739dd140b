"""Incremental authorizations (issue point 3): the ASA `token` names the transaction, the
request is named by its `event_token` (or, without one, by the delivery's `webhook-id`, which
Lithic keeps when it retries). Every new request is decided on its own, under the same locks;
only an exact retry is answered from the record."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from cards.models import CardState
from cards.services import card_set_state
from tests.transactions.conftest import asa_body, check_ledger, money, signed_headers
from transactions.models import Transaction, TransactionEvent

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def card(acme, make_card, categories):
    return make_card(acme, spend_limit=D("100.00"), spend_limit_duration="FOREVER")


def test_a_new_event_on_a_known_transaction_is_decided_and_grows_the_hold(asa, acme, card):
    token = str(uuid.uuid4())
    assert asa(asa_body(card, 5200, token=token, event_token=str(uuid.uuid4())))[1] == {
        "token": token,
        "result": "APPROVED",
    }
    second = asa(asa_body(card, 1800, token=token, event_token=str(uuid.uuid4())))[1]
    assert second == {"token": token, "result": "APPROVED"}

    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.amount, txn.hold_amount) == ("PENDING", D("70.00"), D("70.00"))
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("70.00"), "spent": D("70.00")}
    events = list(txn.events.order_by("id"))
    assert [(e.source, e.amount, e.result) for e in events] == [
        ("ASA", D("52.00"), "APPROVED"),
        ("ASA", D("18.00"), "APPROVED"),
    ]
    # The later request's own decision, with the spend the first one left.
    card_limit = next(s for s in events[1].decision["steps"] if s.get("rule") == "card_spend_limit")
    assert (card_limit["spent"], card_limit["remaining"]) == ("52.00", "48.00")
    assert check_ledger() == 0


def test_an_exact_retry_is_answered_from_the_record(asa, acme, card):
    token, event_token = str(uuid.uuid4()), str(uuid.uuid4())
    body = asa_body(card, 4000, token=token, event_token=event_token)
    first = asa(body)
    # Lithic's retry of the same request; even a fresh webhook-id does not make it a new one.
    assert asa(body) == first
    assert TransactionEvent.objects.count() == 1
    assert money(acme, card)["held"] == D("40.00")


def test_without_an_event_token_the_webhook_id_names_the_request(asa, acme, card):
    token = str(uuid.uuid4())
    body = asa_body(card, 3000, token=token)
    assert asa(body, msg_id="msg_first")[1]["result"] == "APPROVED"
    assert asa(body, msg_id="msg_first")[1]["result"] == "APPROVED"  # a retry
    assert money(acme, card)["held"] == D("30.00")
    assert asa(asa_body(card, 1000, token=token), msg_id="msg_second")[1]["result"] == "APPROVED"
    assert money(acme, card)["held"] == D("40.00")
    assert TransactionEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("cents", "result"),
    [(5_000, "VELOCITY_EXCEEDED"), (4_800, "APPROVED")],
)
def test_each_increment_is_checked_against_the_limit(asa, acme, card, cents, result):
    token = str(uuid.uuid4())
    asa(asa_body(card, 5200, token=token, event_token=str(uuid.uuid4())))
    answer = asa(asa_body(card, cents, token=token, event_token=str(uuid.uuid4())))[1]
    assert answer["result"] == result
    txn = Transaction.objects.get(token=token)
    expected_hold = D("52.00") + (D(cents) / 100 if result == "APPROVED" else 0)
    assert (txn.status, txn.hold_amount) == ("PENDING", expected_hold)
    if result != "APPROVED":
        declined = txn.events.get(result=result)
        assert declined.reason.startswith("card spend limit 100.00 FOREVER")
    assert check_ledger() == 0


def test_an_increment_beyond_the_available_balance_is_insufficient_funds(
    asa, globex, make_card, categories
):
    card = make_card(globex)  # balance 5,000.00, no limit
    token = str(uuid.uuid4())
    asa(asa_body(card, 400_000, token=token, event_token=str(uuid.uuid4())))
    answer = asa(asa_body(card, 150_000, token=token, event_token=str(uuid.uuid4())))[1]
    assert answer["result"] == "INSUFFICIENT_FUNDS"
    assert money(globex, card)["held"] == D("4000.00")


def test_an_increment_on_a_card_paused_since_is_refused(asa, acme, card, fixture_actor):
    token = str(uuid.uuid4())
    asa(asa_body(card, 1000, token=token, event_token=str(uuid.uuid4())))
    card_set_state(card=card, state=CardState.PAUSED)
    answer = asa(asa_body(card, 1000, token=token, event_token=str(uuid.uuid4())))[1]
    assert answer["result"] == "CARD_PAUSED"
    assert Transaction.objects.get(token=token).hold_amount == D("10.00")


def test_a_first_decline_then_an_approved_increment_counts_the_transaction(
    asa, acme, make_card, categories
):
    card = make_card(acme, spend_limit=D("30.00"), spend_limit_duration="TRANSACTION")
    token = str(uuid.uuid4())
    assert asa(asa_body(card, 5000, token=token, event_token=str(uuid.uuid4())))[1]["result"] == (
        "VELOCITY_EXCEEDED"
    )
    assert asa(asa_body(card, 2000, token=token, event_token=str(uuid.uuid4())))[1]["result"] == (
        "APPROVED"
    )
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount, txn.counted) == ("PENDING", D("20.00"), True)
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("20.00"), "spent": D("20.00")}
    assert check_ledger() == 0


def test_a_per_transaction_limit_covers_the_whole_transaction(asa, acme, make_card, categories):
    """Lithic's TRANSACTION: "each individual transaction under the spend limit"; increments
    of one transaction add up, they are not each a transaction."""
    card = make_card(acme, spend_limit=D("30.00"), spend_limit_duration="TRANSACTION")
    token = str(uuid.uuid4())

    def ask(cents: int) -> str:
        return asa(asa_body(card, cents, token=token, event_token=str(uuid.uuid4())))[1]["result"]

    assert ask(2500) == "APPROVED"
    assert ask(2500) == "VELOCITY_EXCEEDED"  # 50.00 in one transaction
    assert ask(500) == "APPROVED"  # 30.00: at the limit
    assert ask(1) == "VELOCITY_EXCEEDED"
    # Another transaction starts from nothing.
    assert asa(asa_body(card, 3000))[1]["result"] == "APPROVED"
    txn = Transaction.objects.get(token=token)
    assert txn.hold_amount == D("30.00")
    last = txn.events.order_by("id").last()
    card_limit = next(s for s in last.decision["steps"] if s.get("rule") == "card_spend_limit")
    assert (card_limit["spent"], card_limit["amount"]) == ("30.00", "0.01")
    assert check_ledger() == 0


@pytest.mark.django_db(transaction=True)
def test_racing_increments_never_pass_the_limit(asa_server, acme, make_card, categories, settings):
    settings.ASA_DEADLINE_MS = 10_000  # the locking is the subject, not the time budget
    card = make_card(acme, spend_limit=D("100.00"), spend_limit_duration="FOREVER")
    token = str(uuid.uuid4())
    bodies = [asa_body(card, 1000, token=token, event_token=str(uuid.uuid4())) for _ in range(25)]

    def post(body: bytes) -> str:
        headers = {**signed_headers(body), "Content-Type": "application/json"}
        response = requests.post(
            asa_server.url + "/lithic/asa/", data=body, headers=headers, timeout=30
        )
        assert response.status_code == 200
        return response.json()["result"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, bodies))
    assert results.count("APPROVED") == 10
    assert results.count("VELOCITY_EXCEEDED") == 15
    txn = Transaction.objects.get(token=token)
    assert txn.hold_amount == D("100.00")
    assert TransactionEvent.objects.filter(transaction=txn).count() == 25
    assert check_ledger() == 0
    assert json.loads(bodies[0])["token"] == token
