"""Settle, void, expire and refund: holds, counters and the ledger move exactly once."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from core.roles import owner_connection
from tests.transactions.conftest import asa_body
from transactions import services
from transactions.errors import AmountInvalid, InvalidStateTransition, TransactionNotFound
from transactions.models import (
    AccountFunds,
    LedgerEntry,
    SpendCounter,
    Transaction,
    TransactionEvent,
)
from transactions.selectors import ledger_mismatches

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def card(acme, make_card, categories):
    return make_card(acme, spend_limit=D("1000.00"), spend_limit_duration="MONTHLY")


@pytest.fixture
def authorize(asa, card):
    def run(cents: int) -> Transaction:
        body = asa_body(card, cents)
        assert asa(body)[1]["result"] == "APPROVED"
        return Transaction.objects.get(token=json.loads(body)["token"])

    return run


def state(acme, card):
    acme.refresh_from_db()
    month = SpendCounter.objects.filter(scope="CARD", owner_id=card.pk, period="life").first()
    return {
        "balance": acme.balance,
        "held": AccountFunds.objects.get(account=acme).held,
        "spent": month.amount if month else D("0"),
    }


def ev() -> uuid.UUID:
    return uuid.uuid4()


def check_ledger() -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("check_ledger", stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, err.getvalue()
    return 0, out.getvalue()


@pytest.mark.parametrize(("cleared", "balance"), [("40.00", "24960.00"), ("46.00", "24954.00"),
                                                  ("35.50", "24964.50")])  # fmt: skip
def test_settle_posts_the_clearing_amount_and_releases_the_hold(
    acme, card, authorize, cleared, balance
):
    txn = authorize(4000)
    assert state(acme, card) == {"balance": D("25000.00"), "held": D("40.00"), "spent": D("40.00")}
    services.transaction_settle(token=txn.token, event_token=ev(), amount=D(cleared))
    assert state(acme, card) == {"balance": D(balance), "held": D("0"), "spent": D(cleared)}
    txn.refresh_from_db()
    assert (txn.status, txn.hold_amount, txn.settled_amount) == ("SETTLED", 0, D(cleared))
    entry = LedgerEntry.objects.get(transaction=txn)
    assert (entry.kind, entry.amount, entry.balance_after) == (
        "SETTLEMENT",
        -D(cleared),
        D(balance),
    )
    assert check_ledger()[0] == 0


def test_same_event_twice_changes_nothing(acme, card, authorize):
    txn = authorize(4000)
    event = ev()
    services.transaction_settle(token=txn.token, event_token=event, amount=D("40.00"))
    before = state(acme, card)
    services.transaction_settle(token=txn.token, event_token=event, amount=D("40.00"))
    assert state(acme, card) == before
    assert LedgerEntry.objects.filter(kind="SETTLEMENT").count() == 1
    assert TransactionEvent.objects.filter(token=event).count() == 1


def test_incremental_clearing_adds_to_the_settled_amount(acme, card, authorize):
    txn = authorize(4000)
    services.transaction_settle(token=txn.token, event_token=ev(), amount=D("30.00"))
    services.transaction_settle(token=txn.token, event_token=ev(), amount=D("15.00"))
    assert state(acme, card) == {"balance": D("24955.00"), "held": D("0"), "spent": D("45.00")}
    assert ledger_mismatches() == []


def test_partial_then_full_void(acme, card, authorize):
    txn = authorize(10_000)
    services.transaction_void(token=txn.token, event_token=ev(), amount=D("30.00"))
    txn.refresh_from_db()
    assert (txn.status, txn.hold_amount) == ("PENDING", D("70.00"))
    assert state(acme, card) == {"balance": D("25000.00"), "held": D("70.00"), "spent": D("70.00")}
    services.transaction_void(token=txn.token, event_token=ev())
    txn.refresh_from_db()
    assert (txn.status, txn.hold_amount) == ("VOIDED", 0)
    assert state(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    assert not LedgerEntry.objects.filter(transaction=txn).exists()
    assert ledger_mismatches() == []


def test_void_cannot_exceed_the_hold(card, authorize):
    txn = authorize(1000)
    with pytest.raises(AmountInvalid):
        services.transaction_void(token=txn.token, event_token=ev(), amount=D("10.01"))


def test_voided_spend_is_available_again(asa, acme, card, authorize):
    txn = authorize(100_000)  # the whole $1,000 limit
    assert asa(asa_body(card, 100))[1]["result"] == "VELOCITY_EXCEEDED"
    services.transaction_void(token=txn.token, event_token=ev())
    assert asa(asa_body(card, 100))[1]["result"] == "APPROVED"


def test_expire_releases_the_whole_hold(acme, card, authorize):
    txn = authorize(2500)
    services.transaction_expire(token=txn.token, event_token=ev())
    txn.refresh_from_db()
    assert (txn.status, txn.hold_amount) == ("EXPIRED", 0)
    assert state(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    with pytest.raises(InvalidStateTransition):
        services.transaction_settle(token=txn.token, event_token=ev(), amount=D("25.00"))


def test_refund_credits_the_account_up_to_what_was_settled(acme, card, authorize):
    txn = authorize(5000)
    services.transaction_settle(token=txn.token, event_token=ev(), amount=D("50.00"))
    services.transaction_refund(token=txn.token, event_token=ev(), amount=D("20.00"))
    assert state(acme, card)["balance"] == D("24970.00")
    with pytest.raises(AmountInvalid, match="30.00"):
        services.transaction_refund(token=txn.token, event_token=ev(), amount=D("30.01"))
    services.transaction_refund(token=txn.token, event_token=ev(), amount=D("30.00"))
    txn.refresh_from_db()
    assert (txn.refunded_amount, txn.settled_amount) == (D("50.00"), D("50.00"))
    assert state(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("50.00")}
    assert check_ledger()[0] == 0


def test_refund_needs_a_settled_transaction(card, authorize):
    txn = authorize(5000)
    with pytest.raises(InvalidStateTransition):
        services.transaction_refund(token=txn.token, event_token=ev(), amount=D("1.00"))


def test_unknown_transaction_and_bad_amounts_are_refused(card, authorize):
    with pytest.raises(TransactionNotFound):
        services.transaction_expire(token=uuid.uuid4(), event_token=ev())
    txn = authorize(100)
    for amount in (D("0"), D("-1.00"), D("1.001")):
        with pytest.raises(AmountInvalid):
            services.transaction_settle(token=txn.token, event_token=ev(), amount=amount)


def test_settlement_never_takes_the_balance_below_zero(asa, globex, make_card, categories):
    card = make_card(globex)
    body = asa_body(card, 500_000)
    assert asa(body)[1]["result"] == "APPROVED"
    token = json.loads(body)["token"]
    with pytest.raises(Exception, match="below zero"):
        services.transaction_settle(token=token, event_token=ev(), amount=D("5000.01"))
    assert ledger_mismatches() == []


def test_check_ledger_finds_a_balance_changed_outside_the_ledger(acme, card, authorize):
    authorize(1000)
    assert check_ledger()[0] == 0
    acme.refresh_from_db()
    acme.balance += D("1.00")
    acme.save(update_fields=["balance"])
    code, message = check_ledger()
    assert code == 1
    assert "balance 25001.00 != ledger sum 25000.00" in message


def test_check_ledger_finds_a_counter_out_of_step(acme, card, authorize):
    authorize(1000)
    counter = SpendCounter.objects.get(scope="CARD", owner_id=card.pk, period="life")
    counter.amount += 1
    counter.save(update_fields=["amount"])
    code, message = check_ledger()
    assert code == 1
    assert f"card {card.pk} window life: counter 11.00 != open + settled 10.00" in message


def test_check_ledger_finds_held_funds_out_of_step(acme, card, authorize):
    authorize(1000)
    AccountFunds.objects.filter(account=acme).update(held=D("3.00"))
    assert "held 3.00 != open holds 10.00" in check_ledger()[1]


@pytest.mark.django_db(transaction=True)
def test_even_the_owner_role_is_refused_by_the_ledgers_trigger(acme, card, authorize):
    authorize(1000)
    for statement in ("UPDATE ledger_entries SET amount = 0", "DELETE FROM ledger_entries"):
        with (
            owner_connection() as as_owner,
            pytest.raises(DatabaseError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            assert as_owner
            cursor.execute(statement)
    assert LedgerEntry.objects.filter(kind="OPENING").exists()


def test_ledger_entries_refuse_update_and_delete(acme, card, authorize):
    authorize(1000)
    entry = LedgerEntry.objects.get(kind="OPENING")
    for statement in ("UPDATE ledger_entries SET amount = 0", "DELETE FROM ledger_entries"):
        with (
            pytest.raises(DatabaseError, match="permission denied for table ledger_entries"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    with pytest.raises(Exception, match="cannot be deleted"):
        entry.delete()
