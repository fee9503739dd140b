"""Two workers side by side on 1,000 real transaction events: each applied once, money exact."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.services import account_create
from cards.services import card_issue
from core.audit import system_actor
from tests.lithic_payloads import card_transaction, transaction_event
from transactions.models import LedgerEntry, Transaction, TransactionEvent
from webhooks.models import Webhook
from webhooks.services import Delivery, webhook_receive
from webhooks.worker import Worker, WorkerConfig

D = Decimal
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lithic"
TRANSACTIONS = 250  # four deliveries each: 1,000 events


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"card_transaction_updated_{name}.json").read_text())


def lifecycle(card_token: str, n: int) -> tuple[list[dict], tuple]:
    """Four deliveries of one transaction (authorization, then its clearing or its void, each
    twice under different webhook-ids: Lithic retried them) and its expected end state."""
    token = str(uuid.uuid4())
    cents = 1000 + n
    authorization = transaction_event("AUTHORIZATION", cents)
    auth = card_transaction(card_token, token, [authorization])
    later = "2026-11-15T09:00:00Z"
    if n % 2:
        second = transaction_event("CLEARING", cents - 100, later)
        end = card_transaction(card_token, token, [authorization, second], status="SETTLED")
        expected = ("SETTLED", D("0"), (D(cents) - 100) / 100)
    else:
        second = transaction_event("AUTHORIZATION_REVERSAL", cents, later)
        end = card_transaction(card_token, token, [authorization, second], status="VOIDED")
        expected = ("VOIDED", D("0"), D("0"))
    return [auth, auth, end, end], (token, expected)


@pytest.mark.django_db(transaction=True)
def test_two_workers_apply_1000_events_each_once(settings, categories):
    settings.WEBHOOK_BATCH_SIZE = 20
    with system_actor("test:setup"):
        account = account_create(name="Busy Co", balance=D("100000.00"), tax_id="22-2222222")
        cards = [card_issue(account=account, lithic_card_token=uuid.uuid4()) for _ in range(5)]

    deliveries, expected = [], {}
    for n in range(TRANSACTIONS):
        bodies, (token, end) = lifecycle(str(cards[n % 5].lithic_card_token), n)
        deliveries += bodies
        expected[token] = end
    random.Random(7).shuffle(deliveries)
    for body in deliveries:
        text = json.dumps(body)
        stored = webhook_receive(
            webhook_id=f"msg_{uuid.uuid4().hex}",
            delivery=Delivery(
                event_type="card_transaction.updated", event_token=body["token"], payload_json=text
            ),
        )
        assert stored

    config = WorkerConfig.from_settings()
    workers = [Worker(config=config), Worker(config=config)]
    errors = []

    def run(worker: Worker) -> None:
        try:
            worker.run(once=True)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors
    assert all(not thread.is_alive() for thread in threads)

    assert Counter(Webhook.objects.values_list("status", flat=True)) == {"PROCESSED": 1000}
    assert [w.summary.processed > 0 for w in workers] == [True, True]  # both took a share
    assert sum(w.summary.processed for w in workers) == 1000  # and nothing twice

    for token, (status, hold, settled) in expected.items():
        txn = Transaction.objects.get(token=token)
        assert (txn.status, txn.hold_amount, txn.settled_amount) == (status, hold, settled)
    assert TransactionEvent.objects.count() == 2 * TRANSACTIONS
    assert LedgerEntry.objects.filter(kind="SETTLEMENT").count() == TRANSACTIONS // 2
    account.refresh_from_db()
    settled_total = sum(end[2] for end in expected.values())
    assert account.balance == D("100000.00") - settled_total
    call_command("check_ledger", stdout=StringIO())  # exits non-zero on any mismatch
