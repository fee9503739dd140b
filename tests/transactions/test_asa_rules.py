"""The authorization decision, rule by rule, through the signed endpoint."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.utils import timezone

from accounts.models import Account, SecurityEvent
from accounts.services import account_setting_set
from cards.models import CardState
from lithic_integration import views as asa_view
from spending.models import ProfileCategory
from spending.services import profile_category_set, spending_profile_create
from tests.transactions.conftest import ASA_URL, asa_body, signed_headers
from transactions.models import (
    AccountFunds,
    SpendCounter,
    Transaction,
    TransactionEvent,
    TransactionStatus,
    UnmatchedAuthorization,
)
from transactions.selectors import ledger_mismatches

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(acme, make_card, categories):
    return make_card(acme)


def test_approval_places_the_hold_and_records_transaction_and_event(asa, acme, card):
    body = asa_body(card, 1250)
    status, answer = asa(body)
    token = json.loads(body)["token"]
    assert status == 200
    assert answer == {"token": token, "result": "APPROVED"}
    txn = Transaction.objects.get(token=token)
    assert txn.status == TransactionStatus.PENDING
    assert txn.amount == Decimal("12.50")
    assert txn.hold_amount == Decimal("12.50")
    assert txn.counted
    assert AccountFunds.objects.get(account=acme).held == Decimal("12.50")
    event = TransactionEvent.objects.get(transaction=txn)
    assert (event.type, event.amount, event.result) == (
        "AUTHORIZATION",
        Decimal("12.50"),
        "APPROVED",
    )
    acme.refresh_from_db()
    assert acme.balance == Decimal("25000.00")  # a hold is not a posting
    assert ledger_mismatches() == []


def test_fixture_payload_from_lithic_is_understood(asa, acme, card):
    with open("tests/fixtures/lithic/asa_authorization_example.json", "rb") as fixture:
        payload = json.load(fixture)
    payload["card"]["token"] = str(card.lithic_card_token)
    status, answer = asa(json.dumps(payload).encode())
    assert answer == {"token": payload["token"], "result": "APPROVED"}
    assert Transaction.objects.get(token=payload["token"]).amount == Decimal("0.52")


def test_unknown_card_is_card_paused_and_recorded(asa, card):
    card.lithic_card_token = uuid.uuid4()  # not saved: a token we do not know
    body = asa_body(card, 100)
    status, answer = asa(body)
    assert answer["result"] == "CARD_PAUSED"
    unmatched = UnmatchedAuthorization.objects.get(token=json.loads(body)["token"])
    assert unmatched.reason == "unknown card"
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    ("state", "card_present", "result", "reason"),
    [
        (CardState.CLOSED, False, "CARD_PAUSED", "card closed"),
        (CardState.PAUSED, False, "CARD_PAUSED", "card paused"),
        (CardState.PENDING_ACTIVATION, True, "CARD_PAUSED", "card pending_activation"),
        (CardState.PENDING_FULFILLMENT, True, "CARD_PAUSED", "card pending_fulfillment"),
        (CardState.PENDING_ACTIVATION, False, "APPROVED", ""),
        (CardState.PENDING_FULFILLMENT, False, "APPROVED", ""),
        (CardState.OPEN, True, "APPROVED", ""),
    ],
)
def test_card_state_rule(asa, acme, make_card, categories, state, card_present, result, reason):
    card = make_card(acme, state=state)
    body = asa_body(card, 500, card_present=card_present)
    _, answer = asa(body)
    assert answer["result"] == result
    txn = Transaction.objects.get(token=json.loads(body)["token"])
    assert txn.declined_reason.startswith(reason)
    assert txn.status == ("PENDING" if result == "APPROVED" else "DECLINED")


@pytest.mark.parametrize("status", [Account.Status.PAUSED, Account.Status.CLOSED])
def test_inactive_account_is_card_paused(asa, acme, card, status):
    acme.status = status
    acme.save(update_fields=["status"])
    body = asa_body(card, 500)
    _, answer = asa(body)
    assert answer["result"] == "CARD_PAUSED"
    assert Transaction.objects.get().declined_reason == f"account {status.lower()}"


def test_profile_blocked_mcc_is_unauthorized_merchant(asa, acme, make_card, categories):
    profile = spending_profile_create(account=acme, name="No restaurants")
    profile_category_set(
        profile=profile, category=categories["5812"], rule=ProfileCategory.Rule.BLOCKED
    )
    card = make_card(acme, profile=profile)
    _, answer = asa(asa_body(card, 500, mcc="5812"))
    assert answer["result"] == "UNAUTHORIZED_MERCHANT"
    assert "blocked by the card's spending profile" in Transaction.objects.get().declined_reason
    _, answer = asa(asa_body(card, 500, mcc="5734"))
    assert answer["result"] == "APPROVED"


def test_allow_list_refuses_what_it_does_not_contain(asa, acme, make_card, categories):
    profile = spending_profile_create(account=acme, name="Software only")
    profile_category_set(
        profile=profile, category=categories["5734"], rule=ProfileCategory.Rule.ALLOWED
    )
    card = make_card(acme, profile=profile)
    assert asa(asa_body(card, 500, mcc="5734"))[1]["result"] == "APPROVED"
    assert asa(asa_body(card, 500, mcc="5812"))[1]["result"] == "UNAUTHORIZED_MERCHANT"
    # A code missing from the catalogue is not on the allow-list either.
    assert asa(asa_body(card, 500, mcc="0001"))[1]["result"] == "UNAUTHORIZED_MERCHANT"


def test_high_risk_mcc_follows_the_account_setting(asa, acme, card, fixture_actor):
    # The setting defaults to blocking.
    assert asa(asa_body(card, 500, mcc="7995"))[1]["result"] == "UNAUTHORIZED_MERCHANT"
    assert "high-risk" in Transaction.objects.get().declined_reason
    account_setting_set(account=acme, key="block_high_risk_mcc", value=False)
    assert asa(asa_body(card, 500, mcc="7995"))[1]["result"] == "APPROVED"


@pytest.mark.parametrize("duration", ["TRANSACTION", "MONTHLY", "ANNUALLY", "FOREVER"])
def test_card_limit_is_velocity_exceeded_past_it(asa, acme, make_card, categories, duration):
    card = make_card(acme, spend_limit=Decimal("100.00"), spend_limit_duration=duration)
    assert asa(asa_body(card, 6000))[1]["result"] == "APPROVED"
    second = asa(asa_body(card, 6000))[1]["result"]
    # Per transaction, each $60 is within $100; in a window, $120 is not.
    assert second == ("APPROVED" if duration == "TRANSACTION" else "VELOCITY_EXCEEDED")
    assert asa(asa_body(card, 10001))[1]["result"] == "VELOCITY_EXCEEDED"
    declined = Transaction.objects.filter(status="DECLINED").order_by("id").last()
    assert declined.declined_reason.startswith("card spend limit 100.00")
    steps = {step.get("rule"): step for step in declined.decision["steps"]}
    assert steps["card_spend_limit"]["passed"] is False
    assert steps["card_spend_limit"]["limit"] == "100.00"
    assert ledger_mismatches() == []


def test_limit_is_exact_to_the_cent(asa, acme, make_card, categories):
    card = make_card(acme, spend_limit=Decimal("10.00"), spend_limit_duration="MONTHLY")
    assert asa(asa_body(card, 999))[1]["result"] == "APPROVED"
    assert asa(asa_body(card, 2))[1]["result"] == "VELOCITY_EXCEEDED"
    assert asa(asa_body(card, 1))[1]["result"] == "APPROVED"
    assert SpendCounter.objects.get(
        scope="CARD", owner_id=card.pk, period="life"
    ).amount == Decimal("10.00")


def test_zero_card_limit_means_no_limit(asa, acme, make_card, categories):
    card = make_card(acme, spend_limit=Decimal("0.00"), spend_limit_duration="TRANSACTION")
    assert asa(asa_body(card, 2_000_000))[1]["result"] == "APPROVED"


def test_profile_limit_counts_every_card_of_the_profile(asa, acme, make_card, categories):
    profile = spending_profile_create(
        account=acme, name="Team", spend_limit=Decimal("50.00"), spend_limit_duration="MONTHLY"
    )
    first, second = make_card(acme, profile=profile), make_card(acme, profile=profile)
    assert asa(asa_body(first, 3000))[1]["result"] == "APPROVED"
    assert asa(asa_body(second, 3000))[1]["result"] == "VELOCITY_EXCEEDED"
    declined = Transaction.objects.get(status="DECLINED")
    assert declined.declined_reason.startswith("profile spend limit 50.00 MONTHLY: 20.00 left")
    assert asa(asa_body(second, 2000))[1]["result"] == "APPROVED"


def test_insufficient_funds_counts_open_holds(asa, globex, make_card, categories):
    card = make_card(globex)  # $5,000.00
    assert asa(asa_body(card, 400_000))[1]["result"] == "APPROVED"
    assert asa(asa_body(card, 100_001))[1]["result"] == "INSUFFICIENT_FUNDS"
    assert Transaction.objects.get(status="DECLINED").declined_reason == (
        "available balance 1000.00, 1000.01 asked"
    )
    assert asa(asa_body(card, 100_000))[1]["result"] == "APPROVED"
    assert AccountFunds.objects.get(account=globex).held == Decimal("5000.00")


def test_partial_approval_is_never_given(asa, globex, make_card, categories):
    card = make_card(globex)
    body = asa_body(card, 500_001)  # one cent more than the balance
    status, answer = asa(body)
    assert answer == {"token": json.loads(body)["token"], "result": "INSUFFICIENT_FUNDS"}
    assert "approved_amount" not in answer
    assert AccountFunds.objects.get(account=globex).held == 0


def test_limit_is_checked_before_balance(asa, globex, make_card, categories):
    card = make_card(globex, spend_limit=Decimal("10.00"), spend_limit_duration="TRANSACTION")
    assert asa(asa_body(card, 900_000))[1]["result"] == "VELOCITY_EXCEEDED"


def test_retry_returns_the_same_answer_and_changes_nothing(asa, acme, card):
    body = asa_body(card, 700)
    first = asa(body, msg_id="msg_retried")
    funds = AccountFunds.objects.get(account=acme).held
    second = asa(body, msg_id="msg_retried")  # Lithic's retry: same message, new signature
    assert first == second
    assert Transaction.objects.count() == 1
    assert TransactionEvent.objects.count() == 1
    assert AccountFunds.objects.get(account=acme).held == funds == Decimal("7.00")
    assert ledger_mismatches() == []


def test_retry_of_a_decline_is_the_same_decline(asa, globex, make_card, categories):
    card = make_card(globex)
    body = asa_body(card, 900_000)
    assert asa(body, msg_id="msg_declined") == asa(body, msg_id="msg_declined")
    assert Transaction.objects.count() == 1
    assert TransactionEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"[]", "`body` is missing or not an object"),
        (json.dumps({"token": "x"}).encode(), "`token` is not a UUID"),
    ],
)
def test_malformed_body_is_declined_and_recorded(asa, body, reason):
    status, answer = asa(body, malformed=True)
    assert status == 200
    assert answer["result"] == "SUSPECTED_FRAUD"
    assert UnmatchedAuthorization.objects.get().reason.startswith(f"malformed request: {reason}")


def test_malformed_fields_keep_the_token(asa, card):
    payload = json.loads(asa_body(card, 100))
    payload["amounts"]["cardholder"]["amount"] = "12.00"
    body = json.dumps(payload).encode()
    _, answer = asa(body, malformed=True)
    assert answer == {"token": payload["token"], "result": "SUSPECTED_FRAUD"}
    assert asa(body, malformed=True)[1] == answer
    assert UnmatchedAuthorization.objects.count() == 1
    assert not Transaction.objects.exists()


def test_balance_inquiry_is_answered_without_a_hold(asa, acme, card):
    body = asa_body(card, 0, status="BALANCE_INQUIRY")
    assert asa(body)[1]["result"] == "APPROVED"
    txn = Transaction.objects.get()
    assert (txn.type, txn.status, txn.hold_amount) == ("BALANCE_INQUIRY", "SETTLED", 0)
    assert not AccountFunds.objects.exists()


def test_credit_authorization_is_approved_without_hold_or_limit(asa, acme, make_card, categories):
    card = make_card(acme, spend_limit=Decimal("1.00"), spend_limit_duration="TRANSACTION")
    body = asa_body(card, 50_000, status="CREDIT_AUTHORIZATION", mcc="7995")
    assert asa(body)[1]["result"] == "APPROVED"
    txn = Transaction.objects.get()
    assert (txn.type, txn.status, txn.hold_amount, txn.counted) == (
        "CREDIT_AUTHORIZATION",
        "PENDING",
        0,
        False,
    )


def test_credit_to_a_closed_card_is_refused(asa, acme, make_card, categories):
    card = make_card(acme, state=CardState.CLOSED)
    assert asa(asa_body(card, 100, status="CREDIT_AUTHORIZATION"))[1]["result"] == "CARD_PAUSED"


def test_decision_trace_lists_every_rule(asa, acme, make_card, categories):
    card = make_card(acme, spend_limit=Decimal("500.00"), spend_limit_duration="MONTHLY")
    asa(asa_body(card, 12_000))
    steps = Transaction.objects.get().decision["steps"]
    assert [step.get("rule") for step in steps] == [
        "card_and_account",
        "merchant_category",
        "card_spend_limit",
        "available_balance",
        None,
    ]
    assert steps[2]["remaining"] == "500.00"
    assert steps[3]["available"] == "25000.00"
    assert steps[-1] == {"result": "APPROVED", "reason": ""}


def test_database_failure_declines_fast_and_records_nothing(asa, card, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(asa_view, "authorize", unreachable)
    started = timezone.now()
    body = asa_body(card, 100)
    status, answer = asa(body)
    assert status == 200
    assert answer == {"token": json.loads(body)["token"], "result": "SUSPECTED_FRAUD"}
    assert timezone.now() - started < datetime.timedelta(seconds=1)
    assert not Transaction.objects.exists()


def test_asa_refuses_get(client, asa_process):
    assert client.get(ASA_URL).status_code == 405


def test_unsigned_request_is_401_and_nothing_recorded(client, card, asa_process):
    body = asa_body(card, 100)
    response = client.post(ASA_URL, data=body, content_type="application/json")
    assert response.status_code == 401
    assert not Transaction.objects.exists()
    assert not UnmatchedAuthorization.objects.exists()
    event = SecurityEvent.objects.get()
    assert (event.kind, event.outcome, event.path) == ("asa_bad_signature", "failure", ASA_URL)
    assert "missing webhook-id" in event.detail


def test_a_timestamp_too_long_to_be_a_time_is_401_not_500(client, card, asa_process):
    body = asa_body(card, 100)
    headers = {**signed_headers(body), "webhook-timestamp": "9" * 400}
    response = client.post(ASA_URL, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert not Transaction.objects.exists()
    assert SecurityEvent.objects.get().detail == "webhook-timestamp is not an integer of seconds"


def test_tampered_request_is_401(client, card, asa_process):
    body = asa_body(card, 100)
    headers = signed_headers(body)
    response = client.post(
        ASA_URL, data=body.replace(b"100", b"900"), content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert not Transaction.objects.exists()
    event = SecurityEvent.objects.get()
    assert (event.kind, event.webhook_id) == ("asa_bad_signature", headers["webhook-id"])
    assert event.detail == "no matching signature"
