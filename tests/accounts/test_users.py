"""Users log in by email, case-insensitively; customers need an account, staff do not."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from accounts.services import user_create
from tests.conftest import PASSWORD


def test_login_by_email_ignores_case(customer_admin):
    # django-axes needs the request (its address counts failures).
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username="ADA@Acme.Test", password=PASSWORD) == customer_admin
    assert authenticate(request, username="ada@acme.test", password="wrong") is None


def test_email_is_unique_case_insensitively(customer_admin, acme):
    with pytest.raises(ValidationError):
        user_create(email="Ada@ACME.test", account=acme)


def test_customer_user_needs_an_account(db):
    with pytest.raises(ValidationError):
        user_create(email="lost@nowhere.test", account=None)


def test_staff_user_needs_no_account(db):
    user = user_create(email="support@cardops.test", account=None, is_staff=True)
    assert user.account is None


def test_console_login_works_for_staff(client, operator):
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "OPS@cardops.test", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
