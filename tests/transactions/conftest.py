"""Helpers for the authorization tests: cards, categories and requests signed as Lithic signs."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from cards.services import card_issue
from lithic_integration import signatures
from spending.models import SpendingCategory
from transactions.models import AccountFunds, SpendCounter

ASA_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTAxMjM0NTY3ODk="
ASA_URL = "/lithic/asa/"


@pytest.fixture(autouse=True)
def _asa_secret(settings):
    settings.LITHIC_ASA_SECRET = ASA_SECRET


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


def asa_body(
    card,
    cents: int,
    *,
    mcc: str = "5812",
    status: str = "AUTHORIZATION",
    token: str | None = None,
    card_present: bool = False,
) -> bytes:
    """An authorization object shaped like Lithic's (tests/fixtures/lithic), as bytes."""
    return json.dumps(
        {
            "token": token or str(uuid.uuid4()),
            "status": status,
            "created": "2026-11-14T15:20:08Z",
            "amount": cents,
            "amounts": {
                "cardholder": {"amount": cents, "conversion_rate": "1.000000", "currency": "USD"},
                "hold": {"amount": cents, "currency": "USD"},
                "merchant": {"amount": cents, "currency": "USD"},
                "settlement": None,
            },
            "card": {"token": str(card.lithic_card_token), "last_four": "3860", "state": "OPEN"},
            "merchant": {
                "city": "NEW YORK",
                "country": "USA",
                "descriptor": "coffee shop",
                "mcc": mcc,
                "state": "NY",
            },
            "pos": {"entry_mode": {"card": "PRESENT" if card_present else "NOT_PRESENT"}},
        }
    ).encode()


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
def asa(client):
    """POST a signed ASA request; returns (status code, parsed JSON)."""

    def post(body: bytes, **sign_options):
        response = client.post(
            ASA_URL,
            data=body,
            content_type="application/json",
            headers=signed_headers(body, **sign_options),
        )
        return response.status_code, response.json()

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
