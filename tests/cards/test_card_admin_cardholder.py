"""A card's cardholder changes only through cards.services.card_set_cardholder: a user of the
card's account, recorded in the card's history, from the API's side and the console's alike."""

from __future__ import annotations

import uuid

import pytest
from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Role
from accounts.services import user_create
from cards import admin as cards_admin
from cards.models import Card
from cards.services import card_issue, card_set_cardholder
from core.soft_delete import soft_delete
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(acme, cardholder, fixture_actor):
    return card_issue(
        account=acme, cardholder=cardholder, last_four="4242", lithic_card_token=uuid.uuid4()
    )


@pytest.fixture
def colleague(acme, fixture_actor):
    """Another user of Acme, to hand the card to."""
    return user_create(email="carl@acme.test", account=acme, role=Role.USER, password=PASSWORD)


def change_url(card) -> str:
    return f"/admin/cards/card/{card.pk}/change/"


def change_form_data(client, card, **changes) -> dict:
    """The card's change form as the page fills it in, with `changes` typed over it."""
    response = client.get(change_url(card))
    assert response.status_code == 200
    form = response.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else str(value)
    data.update(changes)
    return data


# --- The service -------------------------------------------------------------------------------


def test_set_cardholder_gives_the_card_to_another_user_of_its_account(card, cardholder, colleague):
    card = card_set_cardholder(card=card, cardholder=colleague)

    assert Card.objects.get(pk=card.pk).cardholder == colleague
    latest = card.history.latest()
    assert (latest.cardholder_id, latest.history_actor) == (colleague.pk, "test:fixtures")
    assert latest.prev_record.cardholder_id == cardholder.pk


def test_set_cardholder_to_none_leaves_the_card_with_nobody(card):
    card_set_cardholder(card=card, cardholder=None)

    assert Card.objects.get(pk=card.pk).cardholder is None


def test_set_cardholder_rejects_a_user_of_another_account(card, cardholder, other_customer):
    history_before = card.history.count()

    with pytest.raises(ValidationError) as refused:
        card_set_cardholder(card=card, cardholder=other_customer)

    assert refused.value.error_dict["cardholder"][0].code == "cardholder_other_account"
    assert Card.objects.get(pk=card.pk).cardholder == cardholder
    assert card.history.count() == history_before


def test_set_cardholder_rejects_an_operator(card, operator):
    with pytest.raises(ValidationError) as refused:
        card_set_cardholder(card=card, cardholder=operator)

    assert refused.value.error_dict["cardholder"][0].code == "cardholder_other_account"


def test_set_cardholder_rejects_a_deleted_user(card, colleague):
    soft_delete(obj=colleague)

    with pytest.raises(ValidationError) as refused:
        card_set_cardholder(card=card, cardholder=colleague)

    assert refused.value.error_dict["cardholder"][0].code == "cardholder_deleted"


def test_set_cardholder_to_the_same_user_writes_no_history(card, cardholder):
    history_before = card.history.count()

    card_set_cardholder(card=card, cardholder=cardholder)

    assert card.history.count() == history_before


# --- The console -------------------------------------------------------------------------------


def test_the_console_changes_the_cardholder_through_the_service(
    operator_client, operator, card, colleague, monkeypatch
):
    calls = []
    real = cards_admin.card_set_cardholder

    def recording(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(cards_admin, "card_set_cardholder", recording)

    response = operator_client.post(
        change_url(card), change_form_data(operator_client, card, cardholder=str(colleague.pk))
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert [call["cardholder"] for call in calls] == [colleague]
    assert Card.objects.get(pk=card.pk).cardholder == colleague
    latest = card.history.latest()
    assert (latest.cardholder_id, latest.history_user) == (colleague.pk, operator)


def test_the_console_refuses_a_cardholder_of_another_account(
    operator_client, card, cardholder, other_customer
):
    response = operator_client.post(
        change_url(card),
        change_form_data(operator_client, card, cardholder=str(other_customer.pk)),
    )

    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["cardholder"]
    assert Card.objects.get(pk=card.pk).cardholder == cardholder


def test_the_console_leaves_the_cardholder_alone_when_only_the_memo_changes(
    operator_client, card, cardholder, monkeypatch
):
    calls = []
    monkeypatch.setattr(cards_admin, "card_set_cardholder", lambda **kwargs: calls.append(kwargs))

    response = operator_client.post(
        change_url(card), change_form_data(operator_client, card, memo="Team travel")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert calls == []
    stored = Card.objects.get(pk=card.pk)
    assert (stored.memo, stored.cardholder) == ("Team travel", cardholder)
