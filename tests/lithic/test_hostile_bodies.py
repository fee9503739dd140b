"""Every signed body gets an answer, never a 500 (issue point 7).

Each body starts as a valid Lithic payload and carries one thing Python, PostgreSQL or a field of
ours cannot take: JSON nested thousands deep, an amount of 10^30 cents (or merely more than a
12-digit amount column holds), a NUL character, a lone UTF-16 surrogate. The responder declines
it and records the request with the reason; the inbox stores it (DEAD, for an operator) and a
redelivery is a duplicate, not another failure.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.lithic_payloads import card_transaction, transaction_event
from tests.transactions.conftest import asa_payload
from transactions.models import Transaction, UnmatchedAuthorization
from webhooks.models import Webhook


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def deep_json(payload: dict, depth: int) -> bytes:
    # Built as text: json.dumps itself would recurse too deep to write it.
    head = json.dumps(payload)[:-1]
    return f'{head}, "extra": {"[" * depth}1{"]" * depth}}}'.encode()


@pytest.fixture
def card(acme, make_card, categories):
    return make_card(acme)


def asa_variants(card) -> dict[str, tuple[bytes, bool, str]]:
    """name: (body, whether its token can be read back, the reason recorded)."""
    base = asa_payload(card, 1200)
    huge = asa_payload(card, 1200, token=str(uuid.uuid4()))
    huge["amounts"]["cardholder"]["amount"] = 10**30
    wide = asa_payload(card, 1200, token=str(uuid.uuid4()))
    wide["amounts"]["cardholder"]["amount"] = 10**15
    nul = asa_payload(card, 1200, token=str(uuid.uuid4()))
    nul["merchant"]["descriptor"] = "COFFEE\x00SHOP"
    surrogate = asa_payload(card, 1200, token=str(uuid.uuid4()))
    surrogate["merchant"]["descriptor"] = "COFFEE \ud800 SHOP"
    shallow = asa_payload(card, 1200, token=str(uuid.uuid4()))
    shallow["extra"] = nested(100)
    nul_token = asa_payload(card, 1200, token=str(uuid.uuid4()) + "\x00")
    surrogate_card = asa_payload(card, 1200, token=str(uuid.uuid4()))
    surrogate_card["card"]["token"] = "\ud800" + surrogate_card["card"]["token"]
    return {
        "nested-5000": (deep_json(base, 5000), False, "nested deeper than"),
        "nested-100": (json.dumps(shallow).encode(), True, "nested deeper than"),
        "amount-1e30": (json.dumps(huge).encode(), True, "a number is beyond 64 bits"),
        "amount-1e15": (json.dumps(wide).encode(), True, "is beyond 9999999999.99"),
        "nul": (json.dumps(nul).encode(), True, "contains a NUL character"),
        "lone-surrogate": (json.dumps(surrogate).encode(), True, "lone surrogate"),
        # In the tokens themselves: recorded with the reason, without the token.
        "nul-in-token": (json.dumps(nul_token).encode(), False, "contains a NUL character"),
        "surrogate-in-card-token": (json.dumps(surrogate_card).encode(), True, "lone surrogate"),
    }


VARIANTS = [
    "nested-5000",
    "nested-100",
    "amount-1e30",
    "amount-1e15",
    "nul",
    "lone-surrogate",
    "nul-in-token",
    "surrogate-in-card-token",
]


@pytest.mark.parametrize("name", VARIANTS)
def test_the_responder_declines_and_records_what_it_cannot_take(asa, card, name):
    body, token_readable, reason = asa_variants(card)[name]
    status, answer = asa(body, malformed=True, msg_id="msg_hostile")
    assert status == 200
    assert answer["result"] == "SUSPECTED_FRAUD"
    recorded = UnmatchedAuthorization.objects.get()
    assert reason in recorded.reason
    assert not Transaction.objects.exists()
    if token_readable:
        token = json.loads(body)["token"]
        assert answer["token"] == token == recorded.token
        # Lithic's retry gets the same answer and records nothing more.
        assert asa(body, malformed=True, msg_id="msg_hostile") == (status, answer)
        assert UnmatchedAuthorization.objects.count() == 1
    else:
        assert "token" not in answer


def webhook_variants(card) -> dict[str, tuple[bytes, str]]:
    def body() -> dict:
        events = [transaction_event("AUTHORIZATION", 1200)]
        return card_transaction(card.lithic_card_token, str(uuid.uuid4()), events)

    huge = body()
    huge["events"][0]["amounts"]["cardholder"]["amount"] = 10**30
    nul = body()
    nul["merchant"]["descriptor"] = "COFFEE\x00SHOP"
    surrogate = body()
    surrogate["merchant"]["descriptor"] = "COFFEE \ud800 SHOP"
    return {
        "nested-5000": (deep_json(body(), 5000), "nested deeper than"),
        "amount-1e30": (json.dumps(huge).encode(), "a number is beyond 64 bits"),
        "nul": (json.dumps(nul).encode(), "contains a NUL character"),
        "lone-surrogate": (json.dumps(surrogate).encode(), "lone surrogate"),
    }


@pytest.mark.parametrize("name", ["nested-5000", "amount-1e30", "nul", "lone-surrogate"])
def test_the_inbox_stores_what_it_cannot_take_for_an_operator(client, card, name):
    from tests.lithic.conftest import INBOX_URL, WEBHOOK_SECRET
    from tests.transactions.conftest import signed_headers

    body, reason = webhook_variants(card)[name]
    for attempt in ("stored", "duplicate"):  # Lithic retries what it sent
        headers = signed_headers(body, secret=WEBHOOK_SECRET, msg_id="msg_hostile")
        response = client.post(
            INBOX_URL, data=body, content_type="application/json", headers=headers
        )
        assert (response.status_code, response.json()) == (200, {"status": attempt})
    webhook = Webhook.objects.get()
    assert webhook.status == "DEAD"
    assert reason in webhook.last_error
    assert webhook.payload["raw_body"]  # kept whole, as text, for an operator to read


def test_an_amount_beyond_our_columns_is_dead_at_once_with_the_reason(deliver, card):
    body = card_transaction(
        card.lithic_card_token, str(uuid.uuid4()), [transaction_event("AUTHORIZATION", 10**15)]
    )
    webhook = deliver(body)
    assert (webhook.status, webhook.attempts) == ("DEAD", 1)
    assert "is beyond 9999999999.99" in webhook.last_error
    assert not Transaction.objects.exists()
