"""Helpers for the authorization tests: cards, categories and requests signed as Lithic signs."""

from __future__ import annotations

import copy
import json
import time
import uuid
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from cards.services import card_issue
from lithic_integration import signatures
from spending.models import SpendingCategory
from tests import lithic_spec
from tests.conftest import asa_process_settings
from transactions.models import AccountFunds, SpendCounter

ASA_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTAxMjM0NTY3ODk="
ASA_URL = "/lithic/asa/"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lithic"


@pytest.fixture(autouse=True)
def _asa_secret(settings):
    settings.LITHIC_ASA_SECRET = ASA_SECRET
    settings.LITHIC_ASA_SECRETS = []


@pytest.fixture
def categories(db, fixture_actor):
    """The few merchant categories these tests use (leaf data, not the whole catalogue)."""
    rows = {
        "5812": ("Eating places, restaurants", False, ""),
        "5734": ("Computer software stores", False, ""),
        "7995": ("Betting, casino gambling", True, "gambling"),
    }
    made = {}
    for mcc, (description, high_risk, reason) in rows.items():
        made[mcc] = SpendingCategory.objects.create(
            mcc=mcc,
            description=description,
            group="test",
            range_start=mcc,
            range_end=mcc,
            is_high_risk=high_risk,
            risk_reason=reason,
        )
    return made


@pytest.fixture
def make_card(fixture_actor):
    def make(account, **options):
        options.setdefault("lithic_card_token", uuid.uuid4())
        return card_issue(account=account, **options)

    return make


ASA_EXAMPLE = json.loads((FIXTURES / "asa_authorization_example.json").read_text())


def asa_payload(
    card,
    cents: int,
    *,
    mcc: str = "5812",
    status: str = "AUTHORIZATION",
    token: str | None = None,
    card_present: bool = False,
    event_token: str | None = None,
) -> dict:
    """Lithic's ASA request (the fixture, valid against lithic-openapi.yml) for this card."""
    body = copy.deepcopy(ASA_EXAMPLE)
    body["token"] = token or str(uuid.uuid4())
    body["status"] = status
    body["created"] = "2026-11-14T15:20:08Z"
    for field in ("amount", "authorization_amount", "merchant_amount"):
        body[field] = cents
    amounts = body["amounts"]
    for part in ("cardholder", "hold", "merchant"):
        amounts[part]["amount"] = cents
    body["card"]["token"] = str(card.lithic_card_token)
    body["merchant"]["mcc"] = mcc
    body["pos"]["entry_mode"]["card"] = "PRESENT" if card_present else "NOT_PRESENT"
    if event_token is not None:
        body["event_token"] = event_token
    return body


def asa_body(card, cents: int, **options) -> bytes:
    """`asa_payload` as the bytes Lithic signs and sends."""
    return json.dumps(asa_payload(card, cents, **options)).encode()


def signed_headers(
    body: bytes,
    *,
    secret: str = ASA_SECRET,
    timestamp: int | None = None,
    msg_id: str | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers for `body`, made as Lithic makes them (ASA and events)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures.sign(
            secret=secret, msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }


@pytest.fixture
def asa(db):
    """POST a signed ASA request to the responder; returns (status code, parsed JSON).

    The request goes through the responder's own URLs and middleware (config.asa_settings),
    on a client of its own, as if to its own processes; the test's `client` stays the web's.

    A body that parses as Lithic's request must be one Lithic could send, and every answer one
    Lithic accepts (both checked against lithic-openapi.yml); `malformed=True` sends a body
    that is deliberately not.
    """

    responder = Client()

    def post(body: bytes, *, malformed: bool = False, **sign_options):
        if not malformed:
            assert lithic_spec.webhook_problems(json.loads(body)) == []
        with override_settings(**asa_process_settings()):
            response = responder.post(
                ASA_URL,
                data=body,
                content_type="application/json",
                headers=signed_headers(body, **sign_options),
            )
        answer = response.json()
        if response.status_code == 200:
            assert lithic_spec.asa_response_problems(answer) == []
        return response.status_code, answer

    return post


def dollars(value: str) -> Decimal:
    return Decimal(value)


def money(account, card) -> dict:
    """The account's posted balance and open holds, and the card's lifetime spend counter."""
    account.refresh_from_db()
    life = SpendCounter.objects.filter(scope="CARD", owner_id=card.pk, period="life").first()
    funds = AccountFunds.objects.filter(account=account).first()
    return {
        "balance": account.balance,
        "held": funds.held if funds else Decimal("0"),
        "spent": life.amount if life else Decimal("0"),
    }


def check_ledger() -> int:
    """`manage.py check_ledger`'s exit status (0: balances, holds and counters agree)."""
    try:
        call_command("check_ledger", stdout=StringIO(), stderr=StringIO())
    except SystemExit as exc:
        return exc.code
    return 0
