"""A transaction's life through the real inbox: signed deliveries, the worker, the real handler."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from tests.transactions.conftest import asa_body, check_ledger, money, signed_headers
from transactions.models import LedgerEntry, Transaction
from webhooks.models import Webhook
from webhooks.worker import Worker, WorkerConfig

pytestmark = pytest.mark.django_db
D = Decimal
SECRET = "whsec_" + "bGlmZWN5Y2xlLXRlc3Qtc2VjcmV0LTAxMjM0NTY3OA=="
URL = "/webhooks/lithic/"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lithic"


@pytest.fixture(autouse=True)
def _inbox(settings):
    settings.LITHIC_WEBHOOK_SECRET = SECRET
    settings.LITHIC_WEBHOOK_SECRETS = []
    settings.WEBHOOK_MAX_ATTEMPTS = 3


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"card_transaction_updated_{name}.json").read_bytes()


def deliver(client, body: bytes, msg_id: str) -> int:
    headers = signed_headers(body, secret=SECRET, msg_id=msg_id)
    response = client.post(URL, data=body, content_type="application/json", headers=headers)
    return response.status_code


def drain() -> None:
    Worker(config=WorkerConfig.from_settings()).run(once=True)


@pytest.fixture
def card(acme, make_card, categories):
    token = json.loads(fixture_bytes("authorization"))["card_token"]
    return make_card(acme, lithic_card_token=uuid.UUID(token))


def test_each_delivery_five_times_is_one_row_and_one_effect(client, acme, card):
    for name in ("authorization", "clearing"):
        for _ in range(5):
            assert deliver(client, fixture_bytes(name), msg_id=f"msg_{name}") == 200
    assert Webhook.objects.count() == 2
    drain()
    assert set(Webhook.objects.values_list("status", "account_id")) == {("PROCESSED", acme.pk)}

    txn = Transaction.objects.get(token=json.loads(fixture_bytes("clearing"))["token"])
    assert (txn.status, txn.hold_amount, txn.settled_amount) == ("SETTLED", 0, D("48.00"))
    assert money(acme, card) == {"balance": D("24952.00"), "held": D("0"), "spent": D("48.00")}
    assert LedgerEntry.objects.filter(transaction=txn).count() == 1
    assert check_ledger() == 0


def test_the_clearing_delivered_before_the_authorization_ends_the_same(client, acme, card):
    assert deliver(client, fixture_bytes("clearing"), msg_id="msg_2") == 200
    drain()
    assert deliver(client, fixture_bytes("authorization"), msg_id="msg_1") == 200
    drain()
    txn = Transaction.objects.get(token=json.loads(fixture_bytes("clearing"))["token"])
    assert (txn.status, txn.hold_amount, txn.settled_amount) == ("SETTLED", 0, D("48.00"))
    assert money(acme, card) == {"balance": D("24952.00"), "held": D("0"), "spent": D("48.00")}
    assert check_ledger() == 0


def test_the_responders_authorization_is_not_held_twice(client, asa, acme, card):
    fixture = json.loads(fixture_bytes("void"))
    body = json.loads(asa_body(card, 5200, token=fixture["token"]))
    assert asa(json.dumps(body).encode())[1]["result"] == "APPROVED"
    assert money(acme, card)["held"] == D("52.00")

    assert deliver(client, fixture_bytes("authorization"), msg_id="msg_a") == 200
    assert deliver(client, fixture_bytes("void"), msg_id="msg_v") == 200
    drain()
    txn = Transaction.objects.get(token=fixture["token"])
    assert (txn.status, txn.hold_amount) == ("VOIDED", 0)
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    assert check_ledger() == 0


def test_an_event_for_a_card_not_yet_known_waits_for_it(client, acme, make_card, categories):
    assert deliver(client, fixture_bytes("authorization"), msg_id="msg_early") == 200
    drain()
    webhook = Webhook.objects.get()
    assert (webhook.status, webhook.attempts) == ("FAILED", 1)
    assert webhook.last_error.startswith("UnknownCard: no card with Lithic token")

    token = json.loads(fixture_bytes("authorization"))["card_token"]
    card = make_card(acme, lithic_card_token=uuid.UUID(token))
    Webhook.objects.filter(pk=webhook.pk).update(next_attempt_at=webhook.received_at)
    drain()
    webhook.refresh_from_db()
    assert webhook.status == "PROCESSED"
    assert money(acme, card)["held"] == D("52.00")
