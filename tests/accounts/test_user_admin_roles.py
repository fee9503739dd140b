"""The console changes a customer user's role and activity through accounts.services.user_update:
the account's last active owner stays one, and the refusal is a form error."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django import forms
from django.contrib.admin.models import LogEntry

from accounts.models import Role, User
from accounts.services import user_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LAST_OWNER = "The last active owner of an account cannot be demoted or removed."


def change_url(user) -> str:
    return f"/admin/accounts/user/{user.pk}/change/"


def change_form_data(client, user, **changes) -> dict:
    """The user's change form as the page fills it in, with `changes` typed over it."""
    response = client.get(change_url(user))
    assert response.status_code == 200
    form = response.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
        else:
            data[name] = "" if value is None else str(value)
    for inline in response.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_console_refuses_to_demote_the_last_owner(operator_client, customer_owner):
    history_before = customer_owner.history.count()

    response = operator_client.post(
        change_url(customer_owner),
        change_form_data(operator_client, customer_owner, role=Role.ADMIN, first_name="Otto"),
    )

    assert response.status_code == 200  # the form again, not a server error
    form = response.context["adminform"].form
    assert form.errors["role"] == [LAST_OWNER]
    assert LAST_OWNER in text(response.content.decode())
    assert 'value="admin" selected' in response.content.decode()  # as the operator posted it
    stored = User.objects.get(pk=customer_owner.pk)
    assert (stored.role, stored.first_name) == (Role.OWNER, "")  # nothing of the save is kept
    assert customer_owner.history.count() == history_before
    assert not LogEntry.objects.filter(object_id=str(customer_owner.pk)).exists()


def test_the_console_refuses_to_deactivate_the_last_owner(operator_client, customer_owner):
    response = operator_client.post(
        change_url(customer_owner),
        change_form_data(operator_client, customer_owner, is_active=False),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["is_active"] == [LAST_OWNER]
    assert User.objects.get(pk=customer_owner.pk).is_active


def test_demoting_and_deactivating_the_last_owner_at_once_is_refused_above_the_form(
    operator_client, customer_owner
):
    response = operator_client.post(
        change_url(customer_owner),
        change_form_data(operator_client, customer_owner, role=Role.USER, is_active=False),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [LAST_OWNER]
    stored = User.objects.get(pk=customer_owner.pk)
    assert (stored.role, stored.is_active) == (Role.OWNER, True)


def test_the_console_demotes_an_owner_while_another_remains(
    operator_client, operator, acme, customer_owner, fixture_actor
):
    user_create(email="olga@acme.test", account=acme, role=Role.OWNER, password=PASSWORD)

    response = operator_client.post(
        change_url(customer_owner),
        change_form_data(operator_client, customer_owner, role=Role.ADMIN, first_name="Otto"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    stored = User.objects.get(pk=customer_owner.pk)
    assert (stored.role, stored.first_name) == (Role.ADMIN, "Otto")
    role_change = stored.history.filter(role=Role.ADMIN).earliest("history_date")
    assert role_change.history_user == operator
    assert role_change.prev_record.role == Role.OWNER
    message = LogEntry.objects.get(object_id=str(stored.pk)).get_change_message()
    assert "Role" in message and "First name" in message


def test_the_console_makes_an_owner_of_another_user(operator_client, cardholder, customer_owner):
    response = operator_client.post(
        change_url(cardholder), change_form_data(operator_client, cardholder, role=Role.OWNER)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(pk=cardholder.pk).role == Role.OWNER


def test_other_fields_of_the_last_owner_still_save(operator_client, customer_owner):
    response = operator_client.post(
        change_url(customer_owner),
        change_form_data(operator_client, customer_owner, first_name="Otto", last_name="Owner"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    stored = User.objects.get(pk=customer_owner.pk)
    assert (stored.role, stored.first_name, stored.last_name) == (Role.OWNER, "Otto", "Owner")


def test_an_operator_without_an_account_is_edited_as_before(operator_client, fixture_actor):
    colleague = user_create(
        email="carl@cardops.test", account=None, password=PASSWORD, is_staff=True
    )

    response = operator_client.post(
        change_url(colleague),
        change_form_data(operator_client, colleague, is_active=False, first_name="Carl"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    stored = User.objects.get(pk=colleague.pk)
    assert (stored.is_active, stored.first_name) == (False, "Carl")


def test_the_last_owner_cannot_be_deleted_from_the_console(operator_client, customer_owner):
    page = operator_client.post(
        f"/admin/accounts/user/{customer_owner.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert "Not deleted:" in page.content.decode()
    assert User.objects.get(pk=customer_owner.pk).deleted is None

    listed = operator_client.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [customer_owner.pk], "post": "yes"},
        follow=True,
    )
    assert "not deleted:" in listed.content.decode()
    assert "Soft-deleted" not in listed.content.decode()
    assert User.objects.get(pk=customer_owner.pk).deleted is None


def test_another_user_is_deleted_through_the_service(operator_client, customer_owner, cardholder):
    operator_client.post(f"/admin/accounts/user/{cardholder.pk}/delete/", {"post": "yes"})
    assert User.all_objects.get(pk=cardholder.pk).deleted is not None
