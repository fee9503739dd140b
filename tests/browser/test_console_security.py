"""An operator's day, in a real browser: log in with a password and an authenticator code, see
someone locked out after repeated failures, reveal a tax id with a reason, and find that reveal
in the security log."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from selenium.webdriver.common.by import By

from accounts.models import SecurityEvent, SecurityEventKind
from accounts.services import user_create
from tests.browser.pages import csp_violations, fill, follow, log_in, submit
from tests.conftest import PASSWORD
from tests.console import current_code

pytestmark = pytest.mark.django_db(transaction=True)

TAX_ID = "12-3456789"


def test_login_lockout_reveal_and_the_security_log(
    live_server, browser, operator, acme, fixture_actor
):
    base = live_server.url
    device = TOTPDevice.objects.create(user=operator, name="Authenticator app", confirmed=True)
    user_create(email="sam@cardops.test", account=None, password=PASSWORD, is_staff=True)

    # 1. Password, then the authenticator's code.
    ops = browser()
    log_in(ops, base, operator.email, PASSWORD)
    assert "/admin/mfa/" in ops.current_url
    fill(ops, "token", current_code(device))
    submit(ops, "mfa-form")
    assert ops.find_element(By.ID, "site-name").text == "Card program operations"
    assert ops.find_element(By.CSS_SELECTOR, "#content h1").text == "Operations console"

    # 2. Someone else at another desk gets the password wrong ten times, and is locked out.
    other = browser()
    for _ in range(10):
        log_in(other, base, "sam@cardops.test", "not-the-password-1")
    assert "locked for 30 minutes" in other.find_element(By.ID, "locked-out").text
    log_in(other, base, "sam@cardops.test", PASSWORD)  # the right password changes nothing
    assert other.find_elements(By.ID, "locked-out")

    # 3. The operator reveals Acme's tax id, giving a reason.
    ops.get(f"{base}/admin/accounts/account/{acme.pk}/change/")
    tax_field = ops.find_element(By.NAME, "tax_id")
    assert tax_field.get_attribute("value") == ""
    assert "•••• 6789" in tax_field.get_attribute("placeholder")
    assert TAX_ID not in ops.page_source
    follow(ops, ops.find_element(By.CSS_SELECTOR, "a.reveal-pii"))
    fill(ops, "reason", "KYC review for the partner bank")
    fill(ops, "ticket", "OPS-77")
    submit(ops, "reveal-form")
    assert ops.find_element(By.ID, "revealed-value").text == TAX_ID

    # 4. The reveal is in the security log, found through the console's filters.
    ops.get(f"{base}/admin/accounts/securityevent/?kind__exact=pii_revealed")
    rows = ops.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert f"accounts.account:{acme.pk}.tax_id" in rows[0].text
    assert operator.email in rows[0].text
    follow(ops, rows[0].find_element(By.CSS_SELECTOR, "th a, td a"))
    assert "KYC review for the partner bank; ticket: OPS-77" in ops.page_source

    assert csp_violations(ops) == [] and csp_violations(other) == []
    logged = set(SecurityEvent.objects.values_list("kind", flat=True))
    assert {
        SecurityEventKind.LOGIN,
        SecurityEventKind.MFA_VERIFIED,
        SecurityEventKind.LOGIN_FAILED,
        SecurityEventKind.LOCKOUT,
        SecurityEventKind.PII_REVEALED,
    } <= logged
