"""Enums and replies as Lithic has them (issue point 5).

The deprecated card types apply; every reply carries the request's token when it had one; a
balance inquiry is answered with our balance; the failure and malformed results, and every
signing secret, are checked when a process starts; the ASA secret rotates like the webhook one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError

from lithic_integration import checks
from lithic_integration import views as asa_view
from tests.lithic_payloads import card_event
from tests.transactions.conftest import asa_body, signed_headers
from transactions.models import Transaction

ROOT = Path(__file__).resolve().parent.parent.parent
OLD_ASA_SECRET = "whsec_" + "b2xkLWFzYS1zZWNyZXQtc3RpbGwtdmFsaWQtMjRo"
D = Decimal


@pytest.fixture
def card(acme, make_card, categories):
    return make_card(acme)


# --- Card types --------------------------------------------------------------------------------


@pytest.mark.parametrize("card_type", ["UNLOCKED", "DIGITAL_WALLET"])
def test_a_card_of_a_deprecated_type_applies(lithic_fake, issue, deliver, card_type):
    card = issue()
    lithic_fake.cards[str(card.lithic_card_token)]["type"] = card_type
    webhook = deliver(card_event("card.updated", card.lithic_card_token, state="OPEN"))
    assert webhook.status == "PROCESSED", webhook.last_error
    card.refresh_from_db()
    assert card.type == card_type


def test_no_new_product_is_made_with_a_deprecated_type(api_client, customer_admin):
    response = api_client(customer_admin).post(
        "/api/v1/card-products/", {"name": "Old", "card_type": "UNLOCKED"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "card_type"


# --- The token in every reply ------------------------------------------------------------------


def test_approvals_declines_and_unknown_cards_repeat_the_token(asa, card, make_card, acme):
    for body in (
        asa_body(card, 100),
        asa_body(card, 1_000_000_000),  # beyond the balance
        asa_body(type("Unknown", (), {"lithic_card_token": uuid.uuid4()}), 100),
    ):
        assert asa(body)[1]["token"] == json.loads(body)["token"]


def test_a_malformed_request_repeats_a_token_it_could_read(asa, card):
    payload = json.loads(asa_body(card, 100))
    payload["merchant"]["mcc"] = "not-an-mcc"
    answer = asa(json.dumps(payload).encode(), malformed=True)[1]
    assert answer == {"token": payload["token"], "result": "SUSPECTED_FRAUD"}


def test_a_failed_decision_repeats_the_token(asa, card, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(asa_view, "authorize", unreachable)
    body = asa_body(card, 100)
    assert asa(body)[1] == {"token": json.loads(body)["token"], "result": "SUSPECTED_FRAUD"}


def test_an_unexpected_error_is_a_decline_with_the_token_never_a_500(asa, card, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(asa_view, "authorize", broken)
    body = asa_body(card, 100)
    status, answer = asa(body)
    assert (status, answer) == (
        200,
        {"token": json.loads(body)["token"], "result": "SUSPECTED_FRAUD"},
    )


# --- Balance inquiries -------------------------------------------------------------------------


def test_a_balance_inquiry_is_answered_with_our_balance_in_cents(asa, acme, card):
    assert asa(asa_body(card, 12_345))[1]["result"] == "APPROVED"  # holds 123.45
    body = asa_body(card, 0, status="BALANCE_INQUIRY")
    status, answer = asa(body)
    assert status == 200
    assert answer == {
        "token": json.loads(body)["token"],
        "result": "APPROVED",
        "balance": {"amount": 2_500_000, "available": 2_500_000 - 12_345},
    }
    txn = Transaction.objects.get(token=answer["token"])
    assert (txn.type, txn.status, txn.hold_amount) == ("BALANCE_INQUIRY", "SETTLED", 0)


def test_a_balance_inquiry_on_a_paused_card_gets_no_balance(asa, acme, make_card, categories):
    card = make_card(acme, state="PAUSED")
    answer = asa(asa_body(card, 0, status="BALANCE_INQUIRY"))[1]
    assert answer["result"] == "CARD_PAUSED"
    assert "balance" not in answer


# --- Start-up checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("ASA_FAILURE_RESULT", "SYSTEM_ERROR", "is not one of Lithic's ASA results"),
        ("ASA_MALFORMED_RESULT", "APPROVED", "would not decline"),
        ("ASA_FAILURE_RESULT", "CHALLENGE", "would not decline"),
        ("LITHIC_ASA_SECRET", "whsec_", "no key after `whsec_`"),
        ("LITHIC_WEBHOOK_SECRET", "whsec_not base64!", "not base64"),
        ("LITHIC_ASA_SECRETS", ["whsec_QUJD"], "at least 16 are needed"),
    ],
)
def test_a_setting_that_cannot_work_is_named(settings, setting, value, message):
    setattr(settings, setting, value)
    problems = checks.configuration_problems()
    assert any(setting in p and message in p for p in problems), problems
    with pytest.raises(ImproperlyConfigured, match=setting):
        checks.check_configuration()


def test_the_configuration_of_the_suite_is_sound():
    assert checks.configuration_problems() == []


@pytest.mark.parametrize(
    ("entry", "env"),
    [
        ("manage.py", {"LITHIC_ASA_SECRET": "whsec_"}),
        ("asa", {"ASA_FAILURE_RESULT": "SYSTEM_ERROR"}),
        ("web", {"LITHIC_WEBHOOK_SECRET": "whsec_"}),
    ],
)
def test_a_process_with_an_unusable_setting_does_not_start(entry, env):
    environment = {**os.environ, "ENV_FILE": "", **env}
    if entry == "manage.py":
        command = [sys.executable, "manage.py", "check"]
    else:
        module = "config.asa_wsgi" if entry == "asa" else "config.wsgi"
        command = [sys.executable, "-c", f"import {module}"]
    done = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "Lithic settings that cannot work" in done.stderr
    assert next(iter(env)) in done.stderr


# --- The ASA secret rotates --------------------------------------------------------------------


def test_the_previous_asa_secret_is_accepted_while_it_rotates(client, settings, card, asa_process):
    settings.LITHIC_ASA_SECRETS = [OLD_ASA_SECRET]
    body = asa_body(card, 100)
    response = client.post(
        "/lithic/asa/",
        data=body,
        content_type="application/json",
        headers=signed_headers(body, secret=OLD_ASA_SECRET),
    )
    assert (response.status_code, response.json()["result"]) == (200, "APPROVED")

    settings.LITHIC_ASA_SECRETS = []  # rotation over: the old secret is refused
    body = asa_body(card, 100)
    response = client.post(
        "/lithic/asa/",
        data=body,
        content_type="application/json",
        headers=signed_headers(body, secret=OLD_ASA_SECRET),
    )
    assert response.status_code == 401


# --- Its own processes -------------------------------------------------------------------------


def test_the_web_processes_do_not_serve_the_responder(client, card):
    body = asa_body(card, 100)
    response = client.post(
        "/lithic/asa/", data=body, content_type="application/json", headers=signed_headers(body)
    )
    assert response.status_code == 404


def test_the_responders_processes_serve_nothing_else_and_use_no_redis(client, asa_process):
    from config import asa_settings

    for path in ("/admin/login/", "/api/v1/cards/", "/webhooks/lithic/"):
        assert client.get(path).status_code == 404
    assert client.get("/healthz/").status_code == 200
    assert asa_settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    assert asa_settings.REDIS_URL == ""
    assert asa_settings.MIDDLEWARE == ["django.middleware.security.SecurityMiddleware"]
    database = asa_settings.DATABASES["default"]
    assert database["OPTIONS"]["pool"]["timeout"] == asa_settings.ASA_DEADLINE_MS / 1000
    assert database["CONN_HEALTH_CHECKS"] is True
