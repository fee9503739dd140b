"""Every Lithic payload the suite sends, and every answer of the fake, is one Lithic's OpenAPI
document allows (tests/fixtures/lithic/lithic-openapi.yml, through tests/lithic_spec.py).

The builders of tests/lithic_payloads.py and tests/transactions/conftest.py are what the other
tests send (the `asa` and `deliver` fixtures check each payload again as it is sent, and the
`lithic_fake` fixture fails a test whose requests or answers break the document); here they are
checked across their options, and the checker itself is shown to refuse what is wrong.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from lithic_integration import gateway
from lithic_integration.asa import ASA_RESULTS, answer_json
from lithic_integration.errors import LithicRejected
from tests import lithic_payloads as lp
from tests import lithic_spec
from tests.lithic_fake import API_KEY
from transactions.authorization import Answer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lithic"
TOKEN = str(uuid.uuid4())


class _Card:
    lithic_card_token = TOKEN


@pytest.mark.parametrize(
    "name",
    [
        "asa_authorization_example",
        "card_transaction_updated_authorization",
        "card_transaction_updated_clearing",
        "card_transaction_updated_void",
    ],
)
def test_every_payload_fixture_is_valid(name):
    payload = json.loads((FIXTURES / f"{name}.json").read_text())
    assert lithic_spec.webhook_problems(payload) == []


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"status": "FINANCIAL_AUTHORIZATION"},
        {"status": "CREDIT_AUTHORIZATION", "mcc": "7995"},
        {"status": "BALANCE_INQUIRY"},
        {"card_present": True},
        {"event_token": TOKEN},
    ],
)
def test_asa_requests_the_suite_sends_are_valid(options):
    from tests.transactions.conftest import asa_payload

    assert lithic_spec.webhook_problems(asa_payload(_Card, 1234, **options)) == []


EVENT_TYPES = [
    "AUTHORIZATION",
    "AUTHORIZATION_ADVICE",
    "AUTHORIZATION_EXPIRY",
    "AUTHORIZATION_REVERSAL",
    "BALANCE_INQUIRY",
    "CLEARING",
    "CORRECTION_CREDIT",
    "CORRECTION_DEBIT",
    "CREDIT_AUTHORIZATION",
    "CREDIT_AUTHORIZATION_ADVICE",
    "FINANCIAL_AUTHORIZATION",
    "FINANCIAL_CREDIT_AUTHORIZATION",
    "RETURN",
    "RETURN_REVERSAL",
]


@pytest.mark.parametrize("kind", EVENT_TYPES)
@pytest.mark.parametrize("status", ["PENDING", "SETTLED", "DECLINED", "VOIDED", "EXPIRED"])
def test_card_transactions_the_suite_sends_are_valid(kind, status):
    events = [lp.transaction_event("AUTHORIZATION", 5200), lp.transaction_event(kind, 100)]
    assert (
        lithic_spec.webhook_problems(lp.card_transaction(TOKEN, TOKEN, events, status=status)) == []
    )


def test_declined_and_event_less_card_transactions_are_valid():
    declined = lp.transaction_event(
        "AUTHORIZATION", 5200, result="DECLINED", detailed_results=["CUSTOMER_ASA_TIMEOUT"]
    )
    body = lp.card_transaction(TOKEN, TOKEN, [declined], status="DECLINED")
    assert lithic_spec.webhook_problems(body) == []
    # `events` is not required, and the deprecated `authorization_amount` may be null.
    body = {
        **lp.card_transaction(TOKEN, TOKEN, [], status="DECLINED"),
        "authorization_amount": None,
    }
    del body["events"]
    assert lithic_spec.webhook_problems(body) == []


@pytest.mark.parametrize(
    "event_type",
    [
        "card.created",
        "card.updated",
        "card.shipped",
        "card.renewed",
        "card.reissued",
        "card.converted",
    ],
)
def test_card_events_the_suite_sends_are_valid(event_type):
    assert lithic_spec.webhook_problems(lp.card_event(event_type, TOKEN)) == []


@pytest.mark.parametrize(
    "payload",
    [
        lp.managed_dispute(
            card_token=TOKEN,
            transaction_token=TOKEN,
            event_type="dispute_transaction.created",
            events=[lp.dispute_event("WORKFLOW")],
        ),
        lp.managed_dispute(
            card_token=TOKEN,
            transaction_token=None,
            events=[
                lp.dispute_event(
                    "CARDHOLDER_LIABILITY", action="PROVISIONAL_CREDIT_GRANTED", amount=1
                ),
                lp.dispute_event("FINANCIAL", stage="REPRESENTMENT", amount=1, polarity="DEBIT"),
            ],
        ),
        lp.chargeback_dispute(transaction_token=TOKEN, status="CASE_WON"),
        lp.enhanced_data(transaction_token=TOKEN, event_token=TOKEN),
        lp.enhanced_data(
            transaction_token=TOKEN,
            event_token=TOKEN,
            event_type="card_transaction.enhanced_data.updated",
        ),
        lp.balance_updated(financial_account_token=TOKEN, total=100, pending=10),
        lp.backtest_report(backtest_token=TOKEN),
    ],
    ids=[
        "dispute-created",
        "dispute-updated",
        "chargeback",
        "enhanced",
        "enhanced-updated",
        "balance",
        "backtest",
    ],
)
def test_the_other_events_the_suite_sends_are_valid(payload):
    assert lithic_spec.webhook_problems(payload) == []


@pytest.mark.parametrize(
    "answer",
    [
        Answer(TOKEN, "APPROVED"),
        Answer(None, "SUSPECTED_FRAUD", "malformed"),
        Answer("not-a-uuid", "SUSPECTED_FRAUD"),
        Answer(TOKEN, "APPROVED", balance=Decimal("120.55"), available=Decimal("-3.10")),
        *(Answer(TOKEN, result) for result in ASA_RESULTS),
    ],
)
def test_every_answer_the_responder_can_give_is_one_lithic_accepts(answer):
    reply = answer_json(answer)
    assert lithic_spec.asa_response_problems(reply) == []
    assert "approved_amount" not in reply  # no partial approvals


def test_the_checker_refuses_what_lithic_would_not_send():
    good = lp.card_transaction(TOKEN, TOKEN, [lp.transaction_event("AUTHORIZATION", 100)])
    assert lithic_spec.webhook_problems({**good, "status": "SETTLING"})
    assert lithic_spec.webhook_problems({k: v for k, v in good.items() if k != "card_token"})
    assert lithic_spec.webhook_problems({**good, "token": "not-a-uuid"})
    assert lithic_spec.webhook_problems({**good, "event_type": "card_transaction.exploded"})
    assert lithic_spec.asa_response_problems({"token": TOKEN, "result": "MAYBE"})
    assert lithic_spec.asa_response_problems({"token": TOKEN})


def test_the_fake_answers_each_operation_as_the_document_says(lithic_fake):
    """Through the real SDK: each call's answer is checked by the fake against its operation
    (status code and schema); any mismatch fails the `lithic_fake` fixture."""
    card = gateway.card_create(
        idempotency_key="conformance-1",
        type="VIRTUAL",
        spend_limit=Decimal("10.00"),
        spend_limit_duration="MONTHLY",
        profile_token=TOKEN,
    )
    gateway.card_update(
        card_token=card.token,
        spend_limit=Decimal("20.00"),
        spend_limit_duration="ANNUALLY",
        memo="x",
        profile_token=None,
        state="PAUSED",
    )
    assert gateway.card_get(card_token=card.token).state == "PAUSED"
    assert [c.token for c in gateway.cards_iter(page_size=1)] == [card.token]
    rule = gateway.auth_rule_create(
        idempotency_key="conformance-2",
        name="r",
        profile_token=TOKEN,
        parameters={
            "action": "DECLINE",
            "conditions": [{"attribute": "MCC", "operation": "IS_ONE_OF", "value": ["7995"]}],
        },
    )
    gateway.auth_rule_promote(rule_token=rule)
    gateway.auth_rule_draft(
        rule_token=rule,
        parameters={
            "action": "DECLINE",
            "conditions": [{"attribute": "MCC", "operation": "IS_NOT_ONE_OF", "value": ["5812"]}],
        },
    )
    gateway.auth_rule_deactivate(rule_token=rule)
    assert gateway.auth_rule_backtest_create(
        rule_token=rule, start=lp_moment("2026-10-01"), end=lp_moment("2026-11-01")
    )
    lithic_fake.add_transaction(card_token=card.token, amount=500)
    assert len(list(gateway.transactions_iter())) == 1
    with pytest.raises(LithicRejected):
        gateway.card_get(card_token=str(uuid.uuid4()))  # a 404, with Lithic's error body
    statuses = {(r.method, r.path.split("/")[2]) for r in lithic_fake.requests}
    assert ("POST", "cards") in statuses and ("POST", "auth_rules") in statuses
    assert lithic_fake.spec_problems == []
    # An auth rule is created with 201 Created, as the document says.
    (create,) = lithic_fake.calls("POST", "/v2/auth_rules")
    assert create.body["type"] == "CONDITIONAL_ACTION"


def test_the_fake_refuses_a_body_lithic_would_refuse(lithic_fake):
    import httpx

    response = httpx.post(
        f"{lithic_fake.base_url}/v1/cards",
        json={"type": "PLASTIC"},
        headers={"Authorization": API_KEY},
    )
    assert response.status_code == 400
    assert lithic_spec.response_problems("POST", "/v1/cards", 400, response.json()) == []
    # It counts as a problem of the test that sent it: nothing of ours should send it.
    assert lithic_fake.spec_problems
    lithic_fake.spec_problems.clear()


def lp_moment(day: str):
    import datetime

    return datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC)
