"""Operators' access to the console: password, second factor, lockout, budget, reset, sessions."""

from __future__ import annotations

import re
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import budgets
from accounts.middleware import LAST_SEEN, LOGIN_AT
from accounts.models import SecurityEvent, SecurityEventKind, User
from accounts.services import user_create
from tests.conftest import PASSWORD
from tests.console import console_login, current_code, totp_device
from tests.core.test_settings import PRODUCTION_LIKE, run_manage

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
INDEX = "/admin/"


def log_in(client: Client, email: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"username": email, "password": password, "next": INDEX}, **extra)


def kinds() -> list[str]:
    return list(SecurityEvent.objects.order_by("seq").values_list("kind", flat=True))


@pytest.fixture
def hashes(monkeypatch):
    """How many passwords were hashed (an Argon2 check costs a quarter of a second of CPU)."""
    count = {"n": 0}
    real = Argon2PasswordHasher.verify

    def counted(self, password, encoded):
        count["n"] += 1
        return real(self, password, encoded)

    monkeypatch.setattr(Argon2PasswordHasher, "verify", counted)
    return count


@pytest.fixture
def staff(fixture_actor):
    return user_create(email="sam@cardops.test", account=None, password=PASSWORD, is_staff=True)


# ----------------------------------------------------------------------------- second factor


def test_a_first_login_enrols_a_second_factor_before_anything_else(client, operator, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # retry at once after the wrong code (tested below)
    assert log_in(client, operator.email).status_code == 302
    # The password alone opens nothing: every console page sends to the second factor.
    for path in (INDEX, "/admin/accounts/account/", "/admin/accounts/securityevent/export/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/mfa/")
    setup = client.get("/admin/mfa/", follow=True)
    assert setup.redirect_chain[-1][0].startswith("/admin/mfa/setup/")
    page = setup.content.decode()
    assert "<svg" in page  # the QR code, drawn inline
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page).group(1)
    assert device.config_url.count(secret) == 1

    wrong = client.post("/admin/mfa/setup/", {"token": "000000", "next": INDEX})
    assert wrong.status_code == 200 and "not valid" in wrong.content.decode()
    assert client.get(INDEX).status_code == 302

    done = client.post("/admin/mfa/setup/", {"token": current_code(device), "next": INDEX})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == 10
    assert client.get(INDEX).status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert kinds() == [
        SecurityEventKind.LOGIN,
        SecurityEventKind.MFA_FAILED,
        SecurityEventKind.MFA_ENROLLED,
    ]


def test_a_code_logs_in_once_and_a_recovery_code_once(client, operator):
    device = totp_device(operator)
    codes_device = StaticDevice.objects.create(user=operator, name="Recovery codes")
    codes_device.token_set.create(token="abcd2345")
    code = current_code(device)

    log_in(client, operator.email)
    assert client.post("/admin/mfa/", {"token": code, "next": INDEX}).status_code == 302
    assert client.get(INDEX).status_code == 200

    again = Client()
    log_in(again, operator.email)
    replay = again.post("/admin/mfa/", {"token": code, "next": INDEX})
    assert replay.status_code == 200 and "not valid" in replay.content.decode()
    assert again.post("/admin/mfa/", {"token": "ABCD 2345"}).status_code == 302  # recovery
    assert again.get(INDEX).status_code == 200

    third = Client()
    log_in(third, operator.email)
    assert third.post("/admin/mfa/", {"token": "abcd2345"}).status_code == 200  # used up
    verified = SecurityEvent.objects.filter(kind=SecurityEventKind.MFA_VERIFIED)
    assert list(verified.values_list("detail", flat=True).order_by("seq")) == [
        "authenticator code",
        "recovery code used",
    ]


def test_each_wrong_code_makes_the_next_attempt_wait(client, operator):
    device = totp_device(operator)
    log_in(client, operator.email)
    client.post("/admin/mfa/", {"token": "000000"})
    refused = client.post("/admin/mfa/", {"token": current_code(device)})
    assert refused.status_code == 200  # the right code, but too soon after a wrong one
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # the refused right code counted nothing


def test_a_half_logged_in_session_can_log_out(client, operator):
    totp_device(operator)
    log_in(client, operator.email)
    response = client.post("/admin/logout/")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert kinds()[-1] == SecurityEventKind.LOGOUT


def test_without_the_setting_a_password_is_enough(client, operator, settings):
    settings.ADMIN_MFA_REQUIRED = False  # development only: settings.py refuses it otherwise
    log_in(client, operator.email)
    assert client.get(INDEX).status_code == 200


def test_production_settings_refuse_to_turn_the_second_factor_off():
    result = run_manage("check", env={**PRODUCTION_LIKE, "ADMIN_MFA_REQUIRED": "false"})
    assert result.returncode != 0
    assert "ADMIN_MFA_REQUIRED=false is for development only" in result.stderr


# ----------------------------------------------------------------------------- lockout


def test_ten_failures_lock_the_account_out_before_any_hashing(client, staff, hashes):
    for _ in range(9):
        assert log_in(client, staff.email, "wrong-password-123").status_code == 200
    assert log_in(client, staff.email, "wrong-password-123").status_code == 429  # the 10th
    assert hashes["n"] == 10
    locked = log_in(client, "SAM@cardops.test")  # the right password, any case
    assert locked.status_code == 429
    assert "locked for 30 minutes" in locked.content.decode()
    assert locked["Retry-After"] == "1800"
    assert hashes["n"] == 10  # refused before the password was looked at
    failed = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_FAILED)
    assert failed.target == "sam@cardops.test" and failed.ip == "127.0.0.1"
    lockout = SecurityEvent.objects.get(kind=SecurityEventKind.LOCKOUT)
    assert lockout.target == "sam@cardops.test"
    # Attempts during the lockout count too, and start its 30 minutes again.
    assert AccessAttempt.objects.get(username="sam@cardops.test").failures_since_start == 11


def test_an_address_is_locked_out_across_usernames(client, staff, operator, hashes):
    for n in range(10):
        log_in(client, f"nobody{n}@cardops.test", "wrong-password-123", REMOTE_ADDR="192.0.2.9")
    assert log_in(client, staff.email, REMOTE_ADDR="192.0.2.9").status_code == 429
    assert log_in(client, staff.email, REMOTE_ADDR="192.0.2.10").status_code == 302


def test_an_operator_with_the_permission_lifts_a_lockout_and_it_is_logged(client, staff, operator):
    for _ in range(10):
        log_in(client, staff.email, "wrong-password-123")
    ops = console_login(Client(), operator)
    attempt = AccessAttempt.objects.get(username=staff.email)
    page = ops.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and staff.email in page.content.decode()
    ops.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_selected", "_selected_action": [attempt.pk]},
    )
    assert not AccessAttempt.objects.exists()
    unlock = SecurityEvent.objects.filter(kind=SecurityEventKind.UNLOCK).order_by("seq").first()
    assert unlock.user == operator and unlock.target == staff.email
    assert log_in(Client(), staff.email).status_code == 302


def test_lifting_a_lockout_needs_its_own_permission(client, staff, fixture_actor):
    for _ in range(10):
        log_in(client, staff.email, "wrong-password-123")
    helper = user_create(
        email="helper@cardops.test", account=None, password=PASSWORD, is_staff=True
    )
    helper.user_permissions.add(
        Permission.objects.get(codename="view_accessattempt"),
        Permission.objects.get(codename="view_user"),
        Permission.objects.get(codename="change_user"),
    )
    ops = console_login(Client(), User.objects.get(pk=helper.pk))
    attempt = AccessAttempt.objects.get(username=staff.email)
    page = ops.get("/admin/axes/accessattempt/")
    assert "lift_selected" not in page.content.decode()
    ops.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_selected", "_selected_action": [attempt.pk]},
    )
    assert AccessAttempt.objects.exists()
    users = ops.get("/admin/accounts/user/").content.decode()
    assert "lift_login_lockout" not in users and "remove_second_factor" not in users


# ----------------------------------------------------------------------------- the budget


def test_password_checks_beyond_the_budget_are_refused_before_hashing(
    client, staff, settings, hashes
):
    settings.LOGIN_PASSWORD_CHECKS_PER_SECOND = 3
    # This second's budget spent (by other attempts; other tests may add theirs), at the
    # start of a second so that the login below falls in the same one.
    time.sleep(1 - time.time() % 1)
    for _ in range(3):
        budgets.spend("password-checks", "all")
    refused = log_in(client, staff.email)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert "Too many sign-in attempts" in refused.content.decode()
    assert hashes["n"] == 0
    assert "_auth_user_id" not in client.session
    throttled = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_THROTTLED)
    assert throttled.ip == "127.0.0.1"


# ----------------------------------------------------------------------------- passwords


def test_a_password_reset_by_email_logs_in_with_the_new_password(client, operator, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    elsewhere = console_login(Client(), operator)
    response = client.post("/admin/password_reset/", {"email": "OPS@cardops.test"})
    assert response.status_code == 302
    (message,) = mail.outbox
    link = re.search(r"http://testserver(/admin/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    new = "a-new-long-passphrase-42"
    short = client.post(
        form.redirect_chain[-1][0], {"new_password1": "short-pw-11", "new_password2": "short-pw-11"}
    )
    assert "at least 12 characters" in short.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert log_in(Client(), operator.email, new).status_code == 302
    assert elsewhere.get(INDEX).status_code == 302  # the other session ended
    assert client.get(link).context["validlink"] is False  # single use
    assert kinds()[-3:] == [
        SecurityEventKind.PASSWORD_RESET_REQUESTED,
        SecurityEventKind.PASSWORD_RESET,
        SecurityEventKind.LOGIN,
    ]


def test_a_reset_is_never_sent_to_a_customer_user(client, customer_admin, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    customer_admin.set_password(PASSWORD)
    customer_admin.save()
    client.post("/admin/password_reset/", {"email": customer_admin.email})
    assert mail.outbox == []


def test_a_password_change_ends_every_other_session(operator):
    mine, other = console_login(Client(), operator), console_login(Client(), operator)
    new = "another-long-passphrase-7"
    changed = mine.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    assert mine.get(INDEX).status_code == 200
    assert other.get(INDEX).status_code == 302
    event = SecurityEvent.objects.get(kind=SecurityEventKind.PASSWORD_CHANGED)
    assert event.target == f"accounts.user:{operator.pk}"


# ----------------------------------------------------------------------------- sessions


@pytest.mark.parametrize(
    ("key", "age", "reason"),
    [
        pytest.param(LAST_SEEN, 16 * 60, "15 minutes without activity", id="idle"),
        pytest.param(LOGIN_AT, 12 * 3600 + 60, "12 hours after its login", id="absolute"),
    ],
)
def test_a_session_ends_on_time(operator, key, age, reason):
    client = console_login(Client(), operator)
    assert client.get(INDEX).status_code == 200
    session = client.session
    session[key] = time.time() - age
    session.save()
    response = client.get(INDEX, follow=True)
    assert response.redirect_chain[-1][0].startswith(LOGIN)
    assert f"Your session ended {reason}" in response.content.decode()
    event = SecurityEvent.objects.get(kind=SecurityEventKind.SESSION_EXPIRED)
    assert event.user == operator and reason in event.detail


def test_activity_keeps_a_session(operator):
    client = console_login(Client(), operator)
    client.get(INDEX)
    session = client.session
    session[LAST_SEEN] = time.time() - 14 * 60
    session.save()
    assert client.get(INDEX).status_code == 200
    assert client.session[LAST_SEEN] > time.time() - 5
