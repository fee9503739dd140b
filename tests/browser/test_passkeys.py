"""Passkeys in a real browser (Chromium's virtual authenticator stands in for a security key):
an operator without a second factor registers a passkey at the first login and gets recovery
codes, then logs in again with the password and the passkey."""

from __future__ import annotations

import pytest
from django_otp_webauthn.models import WebAuthnCredential
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import (
    Protocol,
    Transport,
    VirtualAuthenticatorOptions,
)

from accounts.models import SecurityEvent, SecurityEventKind
from accounts.services import user_create
from tests.browser.pages import csp_violations, follow, log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def with_security_key(driver):
    driver.add_virtual_authenticator(
        VirtualAuthenticatorOptions(
            protocol=Protocol.CTAP2,
            transport=Transport.USB,
            has_resident_key=True,
            has_user_verification=True,
            is_user_consenting=True,
            is_user_verified=True,
        )
    )
    return driver


def log_out(driver) -> None:
    submit_button = driver.find_element(By.CSS_SELECTOR, "#logout-form button")
    follow(driver, submit_button)


def test_register_a_passkey_at_the_first_login_then_log_in_with_it(
    live_server, browser, settings, fixture_actor
):
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    base = live_server.url
    pat = user_create(email="pat@cardops.test", account=None, password=PASSWORD, is_staff=True)
    ops = with_security_key(browser())

    # First login: the password, then a passkey instead of an authenticator app.
    log_in(ops, base, pat.email, PASSWORD)
    assert "/admin/mfa/setup/" in ops.current_url
    follow(ops, ops.find_element(By.ID, "passkey-register-button"))
    assert "/admin/mfa/codes/" in ops.current_url
    codes = ops.find_elements(By.CSS_SELECTOR, "#recovery-codes li")
    assert len(codes) == 10
    follow(ops, ops.find_element(By.ID, "mfa-continue"))
    assert ops.find_element(By.CSS_SELECTOR, "#content h1").text == "Operations console"
    credential = WebAuthnCredential.objects.get(user=pat)
    assert credential.confirmed

    # The passkey is listed on the operator's own page.
    follow(ops, ops.find_element(By.ID, "passkeys-link"))
    assert credential.name in ops.find_element(By.ID, "passkey-list").text
    log_out(ops)

    # Next login: the password, then the passkey.
    log_in(ops, base, pat.email, PASSWORD)
    assert "/admin/mfa/" in ops.current_url
    follow(ops, ops.find_element(By.ID, "passkey-verification-button"))
    assert ops.find_element(By.CSS_SELECTOR, "#content h1").text == "Operations console"
    credential.refresh_from_db()
    assert credential.last_used_at is not None

    assert csp_violations(ops) == []
    events = list(
        SecurityEvent.objects.filter(
            kind__in=[SecurityEventKind.MFA_ENROLLED, SecurityEventKind.MFA_VERIFIED]
        )
        .order_by("seq")
        .values_list("kind", "detail", "user_id")
    )
    assert events == [
        (SecurityEventKind.MFA_ENROLLED, f"passkey {credential.name!r}, 10 recovery codes", pat.pk),
        (SecurityEventKind.MFA_VERIFIED, f"passkey {credential.name!r}", pat.pk),
    ]
