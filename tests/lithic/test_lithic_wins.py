"""Money events applied as Lithic means them (issue points 1 and 2), through the real inbox.

1. Our responder approved, Lithic declined after all (its own rules, our answer too late or
   unreadable): the hold and the spend go, the transaction is DECLINED with Lithic's reason,
   and `reconcile_lithic --fix` repairs the same state found afterwards. The other way round
   (we declined, Lithic approved in stand-in) holds and counts what Lithic approved.
2. Amounts and events as the document allows them: a null `authorization_amount`, no `events`,
   `amounts` beside the deprecated flat `amount`, and a force-posted clearing with no
   authorization before it.

Every payload starts from one valid against lithic-openapi.yml (the `deliver` and `asa`
fixtures check it).
"""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal

import pytest

from tests.lithic_payloads import card_transaction, transaction_event
from tests.transactions.conftest import asa_body, check_ledger, money
from transactions.models import LedgerEntry, Transaction, TransactionEvent

D = Decimal
T0 = "2026-11-14T15:20:08Z"
LATER = "2026-11-15T09:00:00Z"


@pytest.fixture
def card(acme, make_card, categories):
    return make_card(acme, spend_limit=D("1000.00"), spend_limit_duration="FOREVER")


def approved_by_us(asa, card, cents: int, **options) -> str:
    body = asa_body(card, cents, **options)
    assert asa(body)[1]["result"] == "APPROVED"
    return json.loads(body)["token"]


def declined_at_lithic(cents: int, why: str, **options) -> dict:
    return transaction_event(
        "AUTHORIZATION", cents, T0, result="DECLINED", detailed_results=[why], **options
    )


# --- 1. Lithic's word wins -------------------------------------------------------------------


@pytest.mark.parametrize(
    "why", ["CUSTOMER_ASA_TIMEOUT", "MALFORMED_ASA_RESPONSE", "AUTH_RULE_BLOCKED_MCC"]
)
def test_an_approval_lithic_declined_releases_the_hold_and_the_spend(asa, deliver, acme, card, why):
    token = approved_by_us(asa, card, 5200)
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("52.00"), "spent": D("52.00")}

    webhook = deliver(
        card_transaction(card.lithic_card_token, token, [declined_at_lithic(5200, why)],
                         status="DECLINED", result="DECLINED")
    )  # fmt: skip

    assert webhook.status == "PROCESSED"
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount, txn.result) == ("DECLINED", 0, "APPROVED")
    assert txn.declined_reason == f"declined at Lithic: {why}"
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    # Both stay on record: what we answered, and what Lithic did.
    assert sorted(txn.events.values_list("source", "result")) == [
        ("ASA", "APPROVED"),
        ("LITHIC", "DECLINED"),
    ]
    assert not LedgerEntry.objects.filter(transaction=txn).exists()
    assert check_ledger() == 0


def test_the_declined_event_is_matched_by_its_event_token_when_the_request_had_one(
    asa, deliver, acme, card
):
    event_token = str(uuid.uuid4())
    token = approved_by_us(asa, card, 3000, event_token=event_token)
    event = declined_at_lithic(3000, "CUSTOMER_ASA_TIMEOUT", token=event_token)
    deliver(card_transaction(card.lithic_card_token, token, [event], status="DECLINED"))

    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount) == ("DECLINED", 0)
    asa_event = txn.events.get(source="ASA")
    assert str(asa_event.network_event_token) == event_token
    assert money(acme, card)["held"] == D("0")
    assert check_ledger() == 0


def test_a_second_delivery_of_the_decline_changes_nothing_more(asa, deliver, acme, card):
    token = approved_by_us(asa, card, 5200)
    body = card_transaction(
        card.lithic_card_token, token, [declined_at_lithic(5200, "CUSTOMER_ASA_TIMEOUT")],
        status="DECLINED",
    )  # fmt: skip
    deliver(body)
    deliver(copy.deepcopy(body))
    assert TransactionEvent.objects.filter(transaction__token=token).count() == 2
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    assert check_ledger() == 0


def test_a_decline_lithic_approved_in_stand_in_holds_counts_and_settles(
    asa, deliver, acme, make_card, categories
):
    card = make_card(acme, spend_limit=D("10.00"), spend_limit_duration="FOREVER")
    body = asa_body(card, 5200)
    assert asa(body)[1]["result"] == "VELOCITY_EXCEEDED"
    token = json.loads(body)["token"]
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}

    approved = transaction_event("AUTHORIZATION", 5200, T0)
    deliver(card_transaction(card.lithic_card_token, token, [approved]))
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount, txn.counted) == ("PENDING", D("52.00"), True)
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("52.00"), "spent": D("52.00")}

    clearing = transaction_event("CLEARING", 5200, LATER)
    deliver(card_transaction(card.lithic_card_token, token, [approved, clearing], status="SETTLED"))
    assert money(acme, card) == {"balance": D("24948.00"), "held": D("0"), "spent": D("52.00")}
    assert check_ledger() == 0


def test_an_incremental_authorization_lithic_declined_leaves_the_first_hold(
    asa, deliver, acme, card
):
    first_token, second = str(uuid.uuid4()), str(uuid.uuid4())
    token = approved_by_us(asa, card, 5000, event_token=first_token)
    approved_by_us(asa, card, 2000, token=token, event_token=second)
    assert money(acme, card)["held"] == D("70.00")

    first = transaction_event("AUTHORIZATION", 5000, T0, token=first_token)
    declined = declined_at_lithic(2000, "CUSTOMER_ASA_TIMEOUT", token=second)
    declined["created"] = LATER
    deliver(card_transaction(card.lithic_card_token, token, [first, declined]))

    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount) == ("PENDING", D("50.00"))
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("50.00"), "spent": D("50.00")}
    assert check_ledger() == 0


def test_reconcile_fix_releases_an_approval_lithic_declined(
    lithic_fake, asa, acme, card, call_command_output
):
    token = approved_by_us(asa, card, 5200)
    lithic_fake.add_transaction(
        card_token=str(card.lithic_card_token),
        amount=5200,
        status="DECLINED",
        events=[declined_at_lithic(5200, "CUSTOMER_ASA_TIMEOUT")],
        token=token,
    )

    out = call_command_output("reconcile_lithic", "--transactions-only", "--fix")

    assert "1 fixed" in out
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount) == ("DECLINED", 0)
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    assert check_ledger() == 0
    # And again: nothing left to fix.
    assert "0 difference(s)" in call_command_output("reconcile_lithic", "--transactions-only")


# --- 2. What the document allows to be null or absent -----------------------------------------


def test_a_null_authorization_amount_reads_the_first_authorization_event(deliver, acme, card):
    token = str(uuid.uuid4())
    body = card_transaction(
        card.lithic_card_token, token, [transaction_event("AUTHORIZATION", 4100)]
    )
    body["authorization_amount"] = None
    deliver(body)
    txn = Transaction.objects.get(token=token)
    assert (txn.amount, txn.hold_amount, txn.status) == (D("41.00"), D("41.00"), "PENDING")
    assert check_ledger() == 0


def test_the_structured_amounts_are_signed_and_mean_what_settled(deliver, acme, card):
    """`amounts.cardholder` of a transaction is its estimated settled amount, negative for a
    debit (the document's example); it is not the authorized amount and never refused."""
    token = str(uuid.uuid4())
    body = card_transaction(
        card.lithic_card_token,
        token,
        [
            transaction_event("AUTHORIZATION", 4100),
            transaction_event("CLEARING", 4000, LATER),
        ],
        status="SETTLED",
    )
    body["authorization_amount"] = None
    assert body["amounts"]["cardholder"]["amount"] == -4000
    assert body["amounts"]["settlement"]["amount"] == -4000
    assert deliver(body).status == "PROCESSED"
    txn = Transaction.objects.get(token=token)
    assert (txn.amount, txn.settled_amount, txn.hold_amount, txn.status) == (
        D("41.00"),
        D("40.00"),
        D("0"),
        "SETTLED",
    )
    assert money(acme, card)["balance"] == D("25000.00") - D("40.00")
    assert check_ledger() == 0


def test_events_are_not_required(deliver, acme, card, asa):
    known = approved_by_us(asa, card, 1500)
    body = card_transaction(card.lithic_card_token, known, [])
    del body["events"]
    assert deliver(body).status == "PROCESSED"
    assert Transaction.objects.get(token=known).hold_amount == D("15.00")  # nothing applied

    declined = str(uuid.uuid4())
    body = card_transaction(
        card.lithic_card_token, declined, [], status="DECLINED", result="DECLINED"
    )
    del body["events"]
    assert deliver(body).status == "PROCESSED"
    txn = Transaction.objects.get(token=declined)
    assert (txn.status, txn.hold_amount, txn.declined_reason) == (
        "DECLINED",
        0,
        "declined at Lithic: DECLINED",
    )
    assert check_ledger() == 0


def test_an_increment_is_dated_when_it_came_not_when_the_transaction_began(
    deliver, acme, card, asa
):
    """The ASA `created` is when the transaction first occurred; an increment decided later
    sorts after what Lithic reported in between, so folding again keeps its hold."""
    token = str(uuid.uuid4())
    first = asa(asa_body(card, 2000, token=token, event_token=str(uuid.uuid4())))[1]
    assert first["result"] == "APPROVED"
    authorization = transaction_event("AUTHORIZATION", 2000, T0)
    advice = transaction_event("AUTHORIZATION_ADVICE", 2000, "2026-11-14T16:20:08Z")
    deliver(card_transaction(card.lithic_card_token, token, [authorization, advice]))

    increment = asa(asa_body(card, 1000, token=token, event_token=str(uuid.uuid4())))[1]
    assert increment["result"] == "APPROVED"
    assert Transaction.objects.get(token=token).hold_amount == D("30.00")

    # A partial reversal from before the increment: the events are folded again from the start.
    reversal = transaction_event("AUTHORIZATION_REVERSAL", 500, "2026-11-14T17:20:08Z")
    deliver(card_transaction(card.lithic_card_token, token, [authorization, advice, reversal]))
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount) == ("PENDING", D("25.00"))
    assert money(acme, card)["held"] == D("25.00")
    assert check_ledger() == 0


def without_events(
    card, token: str, status: str, result: str = "APPROVED", *, cents: int = 1500
) -> dict:
    body = card_transaction(card.lithic_card_token, token, [], status=status, result=result)
    del body["events"]
    for name in ("amount", "authorization_amount", "merchant_amount"):
        body[name] = body["merchant_authorization_amount"] = cents
    return body


@pytest.mark.parametrize(
    ("status", "result", "reason"),
    [
        ("DECLINED", "DECLINED", "declined at Lithic: DECLINED"),
        ("VOIDED", "APPROVED", ""),
        ("EXPIRED", "APPROVED", ""),
    ],
)
def test_a_final_status_without_events_releases_what_we_approved(
    deliver, acme, card, asa, status, result, reason
):
    token = approved_by_us(asa, card, 1500)
    assert money(acme, card)["held"] == D("15.00")

    assert deliver(without_events(card, token, status, result)).status == "PROCESSED"
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount, txn.declined_reason) == (status, 0, reason)
    # Nothing held; a decline also gives the spend back (a void or expiry keeps it counted
    # only while held, which is nothing now).
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    assert check_ledger() == 0

    # The same status again is the same event.
    assert deliver(without_events(card, token, status, result)).status == "PROCESSED"
    assert TransactionEvent.objects.filter(transaction=txn, source="STATUS").count() == 1
    assert LedgerEntry.objects.filter(transaction_id=txn.pk).count() == 0


def test_lithic_events_replace_the_status_it_reported_without_them(deliver, acme, card, asa):
    token = approved_by_us(asa, card, 1500)
    deliver(without_events(card, token, "VOIDED"))
    assert Transaction.objects.get(token=token).status == "VOIDED"

    # Then the events come, and they say it settled for less: they are what counts.
    events = [
        transaction_event("AUTHORIZATION", 1500),
        transaction_event("CLEARING", 1400, LATER),
    ]
    deliver(card_transaction(card.lithic_card_token, token, events, status="SETTLED"))
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount, txn.settled_amount) == ("SETTLED", 0, D("14.00"))
    assert money(acme, card) == {
        "balance": D("24986.00"),
        "held": D("0"),
        "spent": D("14.00"),
    }
    assert check_ledger() == 0


def test_reconcile_fix_applies_a_status_lithic_reports_without_events(
    asa, acme, card, lithic_fake, call_command_output
):
    token = approved_by_us(asa, card, 2300)
    reported = without_events(card, token, "DECLINED", "DECLINED", cents=2300)
    reported["created"] = reported["updated"] = Transaction.objects.get(
        token=token
    ).transaction_date.strftime("%Y-%m-%dT%H:%M:%SZ")
    lithic_fake.transactions[token] = reported

    out = call_command_output("reconcile_lithic", "--transactions-only", "--fix")

    assert "1 fixed" in out
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount) == ("DECLINED", 0)
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    assert check_ledger() == 0


def test_an_events_structured_amounts_win_over_the_deprecated_flat_amount(deliver, acme, card):
    token = str(uuid.uuid4())
    event = transaction_event("AUTHORIZATION", 6000)
    event["amount"] = 5750  # the settlement currency's amount; the account is the cardholder's
    deliver(card_transaction(card.lithic_card_token, token, [event]))
    assert Transaction.objects.get(token=token).hold_amount == D("60.00")


def test_a_force_posted_clearing_settles_and_posts_once(deliver, acme, card):
    token = str(uuid.uuid4())
    clearing = transaction_event("CLEARING", 2575, T0)
    body = card_transaction(card.lithic_card_token, token, [clearing], status="SETTLED")
    body["authorization_amount"] = None
    deliver(body)
    deliver(copy.deepcopy(body))  # Lithic redelivers it under a new webhook-id

    txn = Transaction.objects.get(token=token)
    assert (txn.type, txn.status, txn.amount, txn.settled_amount, txn.hold_amount) == (
        "AUTHORIZATION",
        "SETTLED",
        D("25.75"),
        D("25.75"),
        0,
    )
    assert txn.counted  # a force post still counts against the card's limit
    entry = LedgerEntry.objects.get(transaction=txn)
    assert (entry.kind, entry.amount, str(entry.event_token)) == (
        "SETTLEMENT",
        D("-25.75"),
        clearing["token"],
    )
    assert money(acme, card) == {"balance": D("24974.25"), "held": D("0"), "spent": D("25.75")}
    assert check_ledger() == 0
