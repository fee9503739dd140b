"""Personal data in the console: masked on change forms, revealed only with a reason, logged."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import Account, Address, SecurityEvent, SecurityEventKind, User
from accounts.services import address_add, user_create
from tests.conftest import PASSWORD
from tests.console import console_login

pytestmark = pytest.mark.django_db

TAX_ID = "12-3456789"  # the acme fixture's


def change_url(obj) -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"


def reveal_url(obj, field: str) -> str:
    return f"/admin/reveal/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/{field}/"


def staff_with(*codenames: str) -> User:
    user = user_create(
        email=f"{'-'.join(codenames)[:40]}@cardops.test",
        account=None,
        password=PASSWORD,
        is_staff=True,
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


def account_form(client, acme, **changes) -> dict:
    """The account's change form as submitted with nothing typed in, plus `changes`."""
    page = client.get(change_url(acme))
    data = {"name": acme.name, "status": acme.status, "tax_id": ""}
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(changes)
    return data


def test_the_change_form_never_holds_the_value(operator_client, acme):
    page = operator_client.get(change_url(acme)).content.decode()
    assert TAX_ID not in page
    assert "•••• 6789 (hidden: type to replace)" in page
    assert f'href="{reveal_url(acme, "tax_id")}"' in page


def test_an_untouched_field_keeps_its_value_and_a_typed_one_replaces_it(operator_client, acme):
    response = operator_client.post(
        change_url(acme), account_form(operator_client, acme, name="Acme Corporation")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    acme = Account.objects.get(pk=acme.pk)
    assert (acme.name, acme.tax_id) == ("Acme Corporation", TAX_ID)
    message = LogEntry.objects.latest("action_time").get_change_message()
    assert "Name" in message and "Tax id" not in message  # left empty: not changed

    operator_client.post(change_url(acme), account_form(operator_client, acme, tax_id="55-1112223"))
    assert Account.objects.get(pk=acme.pk).tax_id == "55-1112223"

    operator_client.post(
        change_url(acme), account_form(operator_client, acme, **{"tax_id__clear": "on"})
    )
    assert Account.objects.get(pk=acme.pk).tax_id == ""
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.PII_REVEALED).exists()


def test_revealing_asks_a_reason_then_shows_the_value_and_logs_it(operator_client, operator, acme):
    form = operator_client.get(reveal_url(acme, "tax_id"))
    assert form.status_code == 200 and TAX_ID not in form.content.decode()

    no_reason = operator_client.post(reveal_url(acme, "tax_id"), {"reason": "why"})
    assert TAX_ID not in no_reason.content.decode()
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.PII_REVEALED).exists()

    shown = operator_client.post(
        reveal_url(acme, "tax_id"),
        {"reason": "KYC review requested by the bank", "ticket": "OPS-1234"},
        REMOTE_ADDR="203.0.113.5",
    )
    page = shown.content.decode()
    assert f'id="revealed-value" style="font-size:1.4em">{TAX_ID}<' in page
    assert f'http-equiv="refresh" content="30;url={change_url(acme)}"' in page
    assert "no-store" in shown["Cache-Control"]
    event = SecurityEvent.objects.get(kind=SecurityEventKind.PII_REVEALED)
    assert event.user == operator and event.ip == "203.0.113.5"
    assert event.target == f"accounts.account:{acme.pk}.tax_id"
    assert event.detail == "reason: KYC review requested by the bank; ticket: OPS-1234"


def test_revealing_is_its_own_permission(acme, fixture_actor):
    editor = staff_with("view_account", "change_account")
    client = console_login(Client(), editor)
    page = client.get(change_url(acme)).content.decode()
    assert "•••• 6789" in page and "reveal-pii" not in page
    assert client.get(reveal_url(acme, "tax_id")).status_code == 403
    assert (
        client.post(reveal_url(acme, "tax_id"), {"reason": "I would like to see it"}).status_code
        == 403
    )

    revealer = staff_with("view_account", "reveal_pii")
    client = console_login(Client(), revealer)
    assert client.get(reveal_url(acme, "tax_id")).status_code == 200


def test_a_view_only_operator_sees_the_masked_value(acme, fixture_actor):
    viewer = staff_with("view_account")
    page = console_login(Client(), viewer).get(change_url(acme)).content.decode()
    assert TAX_ID not in page and "•••• 6789" in page


def test_only_personal_data_fields_can_be_revealed(operator_client, acme):
    assert operator_client.get(reveal_url(acme, "name")).status_code == 404
    assert (
        operator_client.get(f"/admin/reveal/accounts/nothing/{acme.pk}/tax_id/").status_code == 404
    )
    assert operator_client.get("/admin/reveal/accounts/account/999999/tax_id/").status_code == 404


def test_users_phone_birth_date_and_street_lines_are_masked(
    operator_client, customer_admin, fixture_actor
):
    customer_admin.phone = "+1 415 555 0123"
    customer_admin.date_of_birth = datetime.date(1984, 2, 29)
    customer_admin.save()
    address = address_add(
        owner=customer_admin, address_type=Address.Type.BILLING, line1="42 Secret Street",
        city="Springfield", postal_code="12345", country="US",
    )  # fmt: skip
    page = operator_client.get(change_url(customer_admin)).content.decode()
    for secret in ("+1 415 555 0123", "555 0123", "1984-02-29", "1984", "42 Secret Street"):
        assert secret not in page
    assert "•••• 0123" in page
    assert reveal_url(address, "line1") in page
    assert (
        "Secret Street"
        in operator_client.post(
            reveal_url(address, "line1"), {"reason": "returned card, checking the address"}
        ).content.decode()
    )
