"""`card_transaction.updated`: Lithic's events applied exactly once, in any order of delivery."""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.services import account_create
from lithic_integration.errors import LithicPayloadInvalid as LithicEventInvalid
from lithic_integration.transactions import (
    handle_card_transaction_updated,
    transaction_apply_lithic,
)
from tests.lithic_payloads import card_transaction, transaction_event
from tests.transactions.conftest import asa_body, check_ledger, money
from transactions.errors import EventOutOfSequence, UnknownCard
from transactions.models import (
    LedgerEntry,
    Transaction,
    TransactionEvent,
)

pytestmark = pytest.mark.django_db
D = Decimal
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lithic"
T0 = "2026-11-14T15:20:08Z"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"card_transaction_updated_{name}.json").read_text())


def event(kind: str, cents: int, created: str, result: str = "APPROVED") -> dict:
    return transaction_event(kind, cents, created, result=result)


def payload(card, token: str, events: list[dict], *, status: str = "PENDING") -> dict:
    """A `card_transaction.updated` body shaped like the fixture, carrying `events`."""
    return card_transaction(card.lithic_card_token, token, events, status=status)


@pytest.fixture
def card(acme, make_card, categories):
    return make_card(acme, spend_limit=D("1000.00"), spend_limit_duration="MONTHLY")


@pytest.fixture
def authorized(asa, card):
    """A transaction the ASA responder approved, and the matching Lithic authorization event."""

    def run(cents: int) -> tuple[str, dict]:
        body = asa_body(card, cents)
        assert asa(body)[1]["result"] == "APPROVED"
        return json.loads(body)["token"], event("AUTHORIZATION", cents, T0)

    return run


def test_the_fixture_lifecycle_applies_to_a_card_the_responder_never_saw(acme, card):
    fixture_card_token = fixture("authorization")["card_token"]
    card.lithic_card_token = uuid.UUID(fixture_card_token)
    card.save(update_fields=["lithic_card_token"])

    account_id = handle_card_transaction_updated(fixture("authorization"))
    assert account_id == acme.pk
    txn = Transaction.objects.get(token=fixture("authorization")["token"])
    assert (txn.status, txn.amount, txn.hold_amount, txn.counted) == ("PENDING", D("52.00"),
                                                                      D("52.00"), True)  # fmt: skip
    assert (txn.mcc, txn.merchant_descriptor, txn.profile_id) == ("5812", "coffee shop",
                                                                  card.profile_id)  # fmt: skip
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("52.00"), "spent": D("52.00")}

    handle_card_transaction_updated(fixture("clearing"))
    txn.refresh_from_db()
    assert (txn.status, txn.hold_amount, txn.settled_amount) == ("SETTLED", 0, D("48.00"))
    assert money(acme, card) == {"balance": D("24952.00"), "held": D("0"), "spent": D("48.00")}
    assert TransactionEvent.objects.filter(transaction=txn).count() == 2
    assert check_ledger() == 0


def test_authorization_then_clearing_of_a_different_amount(acme, card, authorized):
    token, auth = authorized(5200)
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("52.00"), "spent": D("52.00")}

    # Lithic's authorization event is the one the responder answered: no second hold.
    transaction_apply_lithic(payload(card, token, [auth]))
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("52.00"), "spent": D("52.00")}
    events = TransactionEvent.objects.filter(transaction__token=token)
    assert sorted(events.values_list("source", flat=True)) == ["ASA", "LITHIC"]

    clearing = event("CLEARING", 4875, "2026-11-15T09:00:00Z")
    transaction_apply_lithic(payload(card, token, [auth, clearing], status="SETTLED"))
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount, txn.settled_amount) == ("SETTLED", 0, D("48.75"))
    assert money(acme, card) == {"balance": D("24951.25"), "held": D("0"), "spent": D("48.75")}
    entry = LedgerEntry.objects.get(transaction=txn)
    assert (entry.kind, entry.amount, str(entry.event_token)) == (
        "SETTLEMENT",
        D("-48.75"),
        clearing["token"],
    )
    assert check_ledger() == 0


def test_authorization_then_partial_then_full_reversal(acme, card, authorized):
    token, auth = authorized(10000)
    partial = event("AUTHORIZATION_REVERSAL", 2500, "2026-11-14T16:00:00Z")
    rest = event("AUTHORIZATION_REVERSAL", 7500, "2026-11-14T17:00:00Z")

    transaction_apply_lithic(payload(card, token, [auth, partial]))
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount) == ("PENDING", D("75.00"))
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("75.00"), "spent": D("75.00")}

    transaction_apply_lithic(payload(card, token, [auth, partial, rest], status="VOIDED"))
    txn.refresh_from_db()
    assert (txn.status, txn.hold_amount, txn.settled_amount) == ("VOIDED", 0, 0)
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}
    assert not LedgerEntry.objects.filter(transaction=txn).exists()
    assert check_ledger() == 0


def test_the_same_delivery_five_times_has_one_effect(acme, card, authorized):
    token, auth = authorized(5200)
    body = payload(card, token, [auth, event("CLEARING", 5000, "2026-11-15T09:00:00Z")])
    for _ in range(5):
        transaction_apply_lithic(copy.deepcopy(body))
    assert money(acme, card) == {"balance": D("24950.00"), "held": D("0"), "spent": D("50.00")}
    assert LedgerEntry.objects.filter(kind="SETTLEMENT").count() == 1
    lithic = TransactionEvent.objects.filter(transaction__token=token, source="LITHIC")
    assert lithic.count() == 2
    assert check_ledger() == 0


def test_a_return_before_its_clearing_waits_for_the_clearing(acme, card, authorized):
    token, auth = authorized(5000)
    clearing = event("CLEARING", 5000, "2026-11-15T09:00:00Z")
    refund = event("RETURN", 2000, "2026-11-16T09:00:00Z")
    with pytest.raises(EventOutOfSequence):
        transaction_apply_lithic(payload(card, token, [refund]))
    assert money(acme, card)["balance"] == D("25000.00")  # nothing moved
    transaction_apply_lithic(payload(card, token, [clearing]))
    transaction_apply_lithic(payload(card, token, [refund]))
    txn = Transaction.objects.get(token=token)
    assert (txn.settled_amount, txn.refunded_amount) == (D("50.00"), D("20.00"))
    assert money(acme, card)["balance"] == D("24970.00")
    assert check_ledger() == 0


def test_a_declined_authorization_holds_nothing(acme, card):
    token = str(uuid.uuid4())
    declined = event("AUTHORIZATION", 9900, T0, result="INSUFFICIENT_FUNDS")
    transaction_apply_lithic(payload(card, token, [declined], status="DECLINED"))
    txn = Transaction.objects.get(token=token)
    assert (txn.status, txn.hold_amount, txn.declined_reason) == (
        "DECLINED",
        0,
        "declined at Lithic: INSUFFICIENT_FUNDS",
    )
    assert money(acme, card) == {"balance": D("25000.00"), "held": D("0"), "spent": D("0")}


def test_unknown_card_and_malformed_payloads_are_refused(card):
    body = payload(card, str(uuid.uuid4()), [event("AUTHORIZATION", 100, T0)])
    with pytest.raises(UnknownCard):
        transaction_apply_lithic({**body, "card_token": str(uuid.uuid4())})
    for broken in (
        {**body, "events": "x"},
        {**body, "token": "not-a-token"},
        {**body, "events": [{**body["events"][0], "amount": 1.5, "amounts": None}]},
        {**body, "events": [{**body["events"][0], "amounts": {"cardholder": {"amount": -5}}}]},
        {**body, "events": [{**body["events"][0], "type": "PURCHASE"}]},
        {**body, "events": [{**body["events"][0], "created": "yesterday"}]},
    ):
        with pytest.raises(LithicEventInvalid):
            transaction_apply_lithic(broken)
    assert not Transaction.objects.exists()


# ---------------------------------------------------------------------------------------------
# Any order of delivery ends in one state


LIFECYCLE = [  # (type, cents, created)
    ("AUTHORIZATION", 10000, T0),
    ("AUTHORIZATION_REVERSAL", 3000, "2026-11-14T18:00:00Z"),
    ("CLEARING", 6000, "2026-11-15T09:00:00Z"),
    ("RETURN", 2000, "2026-11-18T09:00:00Z"),
]
PERMUTATIONS = 300


def deliveries(card, token: str, events: list[dict]) -> list[dict]:
    """Every webhook Lithic could send for the lifecycle: each step's cumulative payload and
    each event alone (a partial payload), some twice."""
    cumulative = [payload(card, token, events[: i + 1]) for i in range(len(events))]
    single = [payload(card, token, [e]) for e in events]
    return [*cumulative, *single, cumulative[-1], single[0]]


def final_state(token: str) -> tuple:
    txn = Transaction.objects.get(token=token)
    events = Counter((e.type, e.amount) for e in TransactionEvent.objects.filter(transaction=txn))
    entries = Counter((e.kind, e.amount) for e in LedgerEntry.objects.filter(transaction=txn))
    return (
        txn.status,
        txn.hold_amount,
        txn.settled_amount,
        txn.refunded_amount,
        txn.hold_amount + txn.settled_amount,  # what it counts in the spend counters
        frozenset(events.items()),
        frozenset(entries.items()),
    )


def test_any_order_of_delivery_converges_to_the_in_order_state(
    make_card, categories, asa, settings
):
    # The responder's budget is a transaction-local setting; here the whole test is one
    # transaction, whose deferred foreign-key checks at the end must not run under it.
    settings.ASA_DEADLINE_MS = 60_000
    rich = account_create(name="Rich Co", balance=D("1000000.00"), tax_id="11-1111111")
    card = make_card(rich)  # no spend limit: every authorization fits
    rng = random.Random(20261125)

    def lifecycle(*, through_asa: bool) -> tuple[str, list[dict]]:
        token = str(uuid.uuid4())
        events = [event(kind, cents, created) for kind, cents, created in LIFECYCLE]
        if through_asa:
            body = json.loads(asa_body(card, LIFECYCLE[0][1], token=token))
            assert asa(json.dumps(body).encode())[1]["result"] == "APPROVED"
        return token, events

    reference = {}
    for through_asa in (False, True):
        token, events = lifecycle(through_asa=through_asa)
        for body in deliveries(card, token, events)[: len(events)]:
            transaction_apply_lithic(body)
        reference[through_asa] = final_state(token)
    assert reference[False][:5] == ("SETTLED", 0, D("60.00"), D("20.00"), D("60.00"))

    retried = 0
    for n in range(PERMUTATIONS):
        through_asa = n % 10 == 0  # the responder's path is slower; a tenth is enough
        token, events = lifecycle(through_asa=through_asa)
        queue = deliveries(card, token, events)
        rng.shuffle(queue)
        while queue:  # the inbox retries what could not apply yet, after the rest
            body = queue.pop(0)
            try:
                transaction_apply_lithic(body)
            except EventOutOfSequence:
                retried += 1
                queue.append(body)
        assert final_state(token) == reference[through_asa], f"permutation {n}"

    assert retried > 0  # some orders did have to wait for a missing clearing
    assert check_ledger() == 0
    rich.refresh_from_db()
    runs = PERMUTATIONS + 2
    assert rich.balance == D("1000000.00") - runs * D("40.00")
    assert money(rich, card)["spent"] == runs * D("60.00")
