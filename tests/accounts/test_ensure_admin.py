from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User

PASSWORD = "plum-Orbit-canal-42"
NEW_PASSWORD = "lantern-Quiet-harbor-77"


def ensure_admin() -> str:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.fixture
def admin_env(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_EMAIL", "root@cardops.test")
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", PASSWORD)


def test_creates_the_staff_superuser(db, admin_env):
    out = ensure_admin()
    user = User.objects.get(email="root@cardops.test")
    assert user.is_staff and user.is_superuser and user.is_active
    assert user.account is None
    assert user.check_password(PASSWORD)
    assert "http://127.0.0.1:8000/admin/" in out
    assert "root@cardops.test" in out
    assert PASSWORD in out
    assert user.history.get().history_actor == "command:ensure_admin"


def test_resets_the_password_of_an_existing_admin(db, admin_env, monkeypatch):
    ensure_admin()
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", NEW_PASSWORD)
    out = ensure_admin()
    [user] = User.objects.filter(email__iexact="root@cardops.test")
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)
    assert "password reset" in out
    assert NEW_PASSWORD in out
    assert user.history.count() == 2


def test_reenables_a_deactivated_admin(db, admin_env):
    ensure_admin()
    user = User.objects.get(email="root@cardops.test")
    user.is_active = False
    user.save(update_fields=["is_active"])
    ensure_admin()
    user.refresh_from_db()
    assert user.is_active


def test_email_defaults_to_admin_at_example_com(db, monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_EMAIL", raising=False)
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", PASSWORD)
    ensure_admin()
    assert User.objects.get(email="admin@example.com").is_superuser


@pytest.mark.parametrize("password", [None, "", "   "])
def test_missing_password_is_an_error(db, monkeypatch, password):
    if password is None:
        monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DEMO_ADMIN_PASSWORD", password)
    with pytest.raises(CommandError, match="DEMO_ADMIN_PASSWORD is empty"):
        ensure_admin()
    assert not User.objects.filter(is_superuser=True).exists()


def test_weak_password_is_an_error(db, admin_env, monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "password")
    with pytest.raises(CommandError, match="too weak"):
        ensure_admin()
    assert not User.objects.exists()


def test_refuses_to_promote_a_customer_user(db, monkeypatch, customer_admin):
    monkeypatch.setenv("DEMO_ADMIN_EMAIL", customer_admin.email.upper())
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", PASSWORD)
    with pytest.raises(CommandError, match="customer user"):
        ensure_admin()
    customer_admin.refresh_from_db()
    assert not customer_admin.is_staff and not customer_admin.is_superuser
    assert not customer_admin.check_password(PASSWORD)
