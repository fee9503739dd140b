"""Passkeys as the console's second factor: who may start a ceremony, what the pages offer, and
what the security log keeps. The ceremonies themselves run in a real browser with a virtual
authenticator (tests/browser/test_passkeys.py)."""

from __future__ import annotations

import json
import os

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.admin import remove_second_factor
from accounts.console import FRESH_RECOVERY_CODES
from accounts.models import SecurityEvent, SecurityEventKind
from accounts.services import user_create
from tests.conftest import PASSWORD
from tests.console import console_login, totp_device

pytestmark = pytest.mark.django_db

BASE = "/admin/mfa/passkey/"
REGISTER_BEGIN = f"{BASE}registration/begin/"
REGISTER_COMPLETE = f"{BASE}registration/complete/"
VERIFY_BEGIN = f"{BASE}verification/begin/"
VERIFY_COMPLETE = f"{BASE}verification/complete/"


@pytest.fixture
def staff(fixture_actor):
    return user_create(email="sam@cardops.test", account=None, password=PASSWORD, is_staff=True)


def passkey(user, name: str = "Laptop") -> WebAuthnCredential:
    """A stored passkey (its key material is never checked by these tests)."""
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=os.urandom(32),
        public_key=os.urandom(77),
        sign_count=0,
    )


def post_json(client: Client, url: str, body: dict | None = None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def password_only(client: Client, user) -> Client:
    """Logged in with the password, the second factor not given yet."""
    client.force_login(user)
    return client


def refusals() -> list[str]:
    return list(
        SecurityEvent.objects.filter(kind=SecurityEventKind.MFA_FAILED).values_list(
            "detail", flat=True
        )
    )


def test_every_ceremony_needs_a_staff_user_who_gave_the_password(client, staff, cardholder):
    for url in (REGISTER_BEGIN, REGISTER_COMPLETE, VERIFY_BEGIN, VERIFY_COMPLETE):
        response = post_json(client, url)
        assert response.status_code == 403, url
        assert response.json()["code"] == "console_login_required"

    password_only(client, cardholder)  # a customer's user is no operator
    response = post_json(client, VERIFY_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] == "console_login_required"
    # Logged; identical refusals from one address within a minute share one row.
    assert refusals() == ["passkey registration refused: console_login_required"]


def test_a_user_without_a_second_factor_may_register_a_passkey_at_the_first_login(client, staff):
    password_only(client, staff)
    response = post_json(client, REGISTER_BEGIN)
    assert response.status_code == 200
    options = response.json()
    assert options["rp"] == {"id": "localhost", "name": "Card program operations"}
    assert options["user"]["name"] == staff.email
    assert options["challenge"]
    assert client.session["otp_webauthn_register_state"]


def test_a_user_with_a_second_factor_must_verify_it_before_adding_a_passkey(client, staff):
    totp_device(staff)
    password_only(client, staff)
    response = post_json(client, REGISTER_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] == "user_not_verified"

    verified = console_login(Client(), staff)  # the same user, verified: may add one
    assert post_json(verified, REGISTER_BEGIN).status_code == 200


def test_verification_offers_only_the_users_own_passkeys(client, staff, operator):
    mine = passkey(staff)
    passkey(operator, "Someone else's")
    password_only(client, staff)
    response = post_json(client, VERIFY_BEGIN)
    assert response.status_code == 200
    offered = response.json()["allowCredentials"]
    assert len(offered) == 1
    assert offered[0]["type"] == "public-key"
    assert mine.credential_id_sha256  # stored by hash; the id itself goes to the browser


def test_a_completion_without_a_begun_ceremony_is_refused_and_logged(client, staff):
    passkey(staff)
    password_only(client, staff)
    response = post_json(client, VERIFY_COMPLETE, {"id": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_state"
    assert "passkey verification refused: invalid_state" in refusals()
    # Still not verified: the console sends the user back to the second-factor page.
    assert client.get("/admin/").url.startswith("/admin/mfa/")


def test_a_forged_answer_is_refused_and_the_challenge_cannot_be_replayed(client, staff):
    passkey(staff)
    password_only(client, staff)
    assert post_json(client, VERIFY_BEGIN).status_code == 200
    forged = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"},
    }
    first = post_json(client, VERIFY_COMPLETE, forged)
    assert first.status_code in (404, 422)
    again = post_json(client, VERIFY_COMPLETE, forged)
    assert again.json()["code"] == "invalid_state"  # the challenge was used up by the first try
    assert client.get("/admin/").status_code == 302


def test_malformed_json_is_a_clear_400(client, staff):
    password_only(client, staff)
    response = client.post(REGISTER_BEGIN, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_the_verify_page_offers_the_passkey_and_the_setup_page_offers_registering_one(
    client, staff
):
    password_only(client, staff)
    setup = client.get("/admin/mfa/", follow=True)
    assert setup.redirect_chain[-1][0].startswith("/admin/mfa/setup/")
    page = setup.content.decode()
    assert 'id="passkey-register-button"' in page
    assert 'id="otp_webauthn_config"' in page
    assert "/admin/mfa/codes/?next=" in page  # where a first passkey leads: the recovery codes

    passkey(staff)
    page = client.get("/admin/mfa/").content.decode()
    assert 'id="passkey-verification-button"' in page
    assert "authenticator app" not in page.split('id="mfa-form"')[0].split("Or enter")[-1]
    assert client.get("/admin/mfa/setup/").status_code == 302  # enrolled: no second enrolment


def test_recovery_codes_of_a_first_passkey_are_shown_once(client, staff):
    passkey(staff)
    verified = console_login(client, staff)
    session = verified.session
    session[FRESH_RECOVERY_CODES] = ["abcd1234", "efgh5678"]
    session.save()
    page = verified.get("/admin/mfa/codes/?next=/admin/")
    assert page.status_code == 200
    assert "abcd1234" in page.content.decode()
    again = verified.get("/admin/mfa/codes/?next=/admin/")
    assert again.status_code == 302 and again.url == "/admin/"


def test_the_passkeys_page_lists_ones_own_and_needs_the_second_factor(client, staff, operator):
    passkey(staff, "Office key")
    passkey(operator, "Not mine")
    password_only(client, staff)
    assert client.get("/admin/mfa/passkeys/").status_code == 302
    console_login(client, staff)
    page = client.get("/admin/mfa/passkeys/").content.decode()
    assert "Office key" in page and "Not mine" not in page
    assert 'id="passkeys-link"' in page


def test_an_operators_reset_removes_passkeys_too(staff):
    passkey(staff)
    totp_device(staff)
    StaticDevice.objects.create(user=staff, name="Recovery codes", confirmed=True)
    assert remove_second_factor(staff) == 3
    assert not WebAuthnCredential.objects.filter(user=staff).exists()
