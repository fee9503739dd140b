"""The demo's live part: today's transactions recorded by the engine, the inbox and the worker."""

from __future__ import annotations

import datetime
import json
import uuid
from collections import Counter
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F, Q
from django.utils import timezone

from demo import payloads
from tests import lithic_spec
from tests.test_layers import top_level_imports
from transactions.models import (
    AccountFunds,
    Dispute,
    LedgerEntry,
    LedgerEntryKind,
    SpendCounter,
    Transaction,
    TransactionEvent,
    TransactionStatus,
)
from webhooks.models import Webhook, WebhookStatus

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCT_PACKAGES = (
    "config",
    "core",
    "accounts",
    "spending",
    "cards",
    "transactions",
    "webhooks",
    "lithic_integration",
)
PROGRAM = {
    "accounts": 2,
    "users_per_account": 4,
    "cards_per_account": 4,
    "transactions": 300,
    "live": 80,
    "no_progress": True,
}


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO(), **{**PROGRAM, **options})
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed()


def live_transactions():
    return Transaction.objects.exclude(decision=None)


def check_ledger() -> str:
    """`manage.py check_ledger`'s output; it exits 1 on any mismatch."""
    out = StringIO()
    call_command("check_ledger", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_live_transactions_are_part_of_the_total(seeded):
    assert Transaction.objects.count() == 300
    assert live_transactions().count() == 80
    assert "transactions       300 (220 in bulk, 80 live)" in seeded


def test_the_ledger_agrees_after_a_live_seed(seeded):
    assert "balances, holds and counters agree" in check_ledger()


def test_every_live_transaction_has_its_decision_and_its_answer(seeded):
    for txn in live_transactions():
        steps = txn.decision["steps"]
        assert steps[0]["rule"] == "card_and_account"
        assert steps[-1]["result"] == txn.result
        assert txn.events.filter(source="ASA").exists()
        assert txn.transaction_date.date() >= (timezone.now() - datetime.timedelta(days=1)).date()


def test_live_transactions_end_in_every_state(seeded):
    statuses = Counter(live_transactions().values_list("status", flat=True))
    for status in ("PENDING", "SETTLED", "DECLINED", "VOIDED"):
        assert statuses[status] > 0, (status, statuses)
    assert statuses[TransactionStatus.VOIDED] == 2


def test_approvals_hold_and_count_and_settlements_post(seeded):
    pending = live_transactions().filter(status=TransactionStatus.PENDING, type="AUTHORIZATION")
    assert pending.filter(hold_amount__gt=0, counted=True).exists()
    assert AccountFunds.objects.filter(held__gt=0).exists()
    assert SpendCounter.objects.filter(amount__gt=0).exists()
    kinds = Counter(LedgerEntry.objects.values_list("kind", flat=True))
    assert kinds[LedgerEntryKind.OPENING] == 2
    assert (
        kinds[LedgerEntryKind.SETTLEMENT]
        == live_transactions()
        .filter(
            status=TransactionStatus.SETTLED, type__in=("AUTHORIZATION", "FINANCIAL_AUTHORIZATION")
        )
        .count()
    )
    assert kinds[LedgerEntryKind.RETURN] == 1
    assert kinds[LedgerEntryKind.DISPUTE] == 1
    # Every entry past the opening one names the event that moved the money.
    assert (
        not LedgerEntry.objects.exclude(kind=LedgerEntryKind.OPENING)
        .filter(event_token=None)
        .exists()
    )


def test_a_refund_and_a_dispute_are_recorded(seeded):
    refunded = live_transactions().get(refunded_amount__gt=0)
    assert refunded.refunded_amount <= refunded.settled_amount
    assert refunded.events.filter(type="RETURN").exists()
    dispute = Dispute.objects.get()
    assert dispute.transaction.status == TransactionStatus.SETTLED
    assert dispute.credited == dispute.amount > Decimal("0")
    assert dispute.events.count() == 2


def test_the_inbox_keeps_what_it_could_not_apply(seeded):
    statuses = Counter(Webhook.objects.values_list("status", flat=True))
    assert statuses[WebhookStatus.FAILED] == 2
    assert statuses[WebhookStatus.DEAD] == 1
    assert set(statuses) == {WebhookStatus.PROCESSED, WebhookStatus.FAILED, WebhookStatus.DEAD}
    for failed in Webhook.objects.filter(status=WebhookStatus.FAILED):
        assert "UnknownCard" in failed.last_error
        assert failed.next_attempt_at is not None
    dead = Webhook.objects.get(status=WebhookStatus.DEAD)
    assert "not JSON" in dead.last_error


def test_the_inbox_holds_only_bodies_lithic_could_send(seeded):
    bodies = Webhook.objects.exclude(status=WebhookStatus.DEAD).values_list("payload", flat=True)
    assert bodies
    for body in bodies:
        assert lithic_spec.webhook_problems(body) == []


def test_the_live_part_moves_no_money_of_the_bulk_history(seeded):
    bulk = Transaction.objects.filter(decision=None)
    assert not bulk.filter(Q(counted=True) | Q(hold_amount__gt=0)).exists()
    assert not TransactionEvent.all_objects.filter(transaction__decision=None).exists()
    assert not Transaction.objects.exclude(account_id=F("card__account_id")).exists()


def test_asa_requests_are_what_lithic_sends():
    now = timezone.now()
    for status, present in (("AUTHORIZATION", False), ("FINANCIAL_AUTHORIZATION", True)):
        body = payloads.asa_request(
            token=str(uuid.uuid4()),
            event_token=str(uuid.uuid4()),
            status=status,
            cents=1234,
            card_token=str(uuid.uuid4()),
            last_four="4242",
            descriptor="SHELL OIL 57442180",
            mcc="5541",
            city="Austin",
            country="US",
            created=now,
            card_present=present,
        )
        assert lithic_spec.webhook_problems(json.loads(json.dumps(body))) == []


def test_transactions_zero_drives_nothing_live(db):
    out = seed(transactions=0, live=None)
    assert not Transaction.objects.exists()
    assert not Webhook.objects.exists()
    assert "transactions       0 (0 in bulk, 0 live)" in out


def test_transactions_only_loads_in_bulk_unless_told(seeded):
    seed(transactions_only=True, transactions=50, live=None)
    assert Transaction.objects.count() == 350
    assert live_transactions().count() == 80
    seed(transactions_only=True, transactions=30, live=30)
    assert live_transactions().count() == 110
    assert "balances, holds and counters agree" in check_ledger()


def test_the_default_is_two_hundred_live_or_all_if_fewer(db):
    out = seed(accounts=1, transactions=120, live=None)
    assert live_transactions().count() == 120
    assert "transactions       120 (0 in bulk, 120 live)" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [({"live": -1}, "--live cannot be negative"), ({"live": 301}, "more than --transactions")],
)
def test_bad_live_counts_are_refused(db, options, message):
    with pytest.raises(CommandError, match=message):
        seed(**options)
    assert not Transaction.objects.exists()


def test_without_postgresql_the_default_loads_everything_in_bulk(db, monkeypatch):
    # The SQLite of `make run-sqlite`: the suite runs on PostgreSQL only, so the check is replaced.
    reason = "the authorization engine needs PostgreSQL"
    monkeypatch.setattr("demo.builder.live_activity_possible", lambda: reason)
    monkeypatch.setattr("demo.management.commands.seed_demo.live_activity_possible", lambda: reason)
    out = seed(live=None)
    assert live_transactions().count() == 0
    assert Transaction.objects.count() == 300
    assert f"live               none: {reason}" in out
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        seed(live=5)


def test_no_product_package_imports_the_demo():
    importers = [
        str(path.relative_to(ROOT))
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "demo" in top_level_imports(path)
    ]
    assert importers == []
