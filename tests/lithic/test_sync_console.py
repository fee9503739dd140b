"""What is out of step with Lithic, in the console and the API; and the demo without Lithic."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from cards.models import Card
from cards.services import card_issue, card_set_state
from core.audit import system_actor
from spending.models import SpendingProfile

CARDS = reverse("admin:cards_card_changelist")
PROFILES = reverse("admin:spending_spendingprofile_changelist")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Outbound switched off (no LITHIC_API_KEY, the demo) ---------------------------------------


def test_without_an_api_key_changes_stay_local_and_say_so(
    acme, product, django_capture_on_commit_callbacks
):
    with system_actor("test"), django_capture_on_commit_callbacks() as callbacks:
        card = card_issue(account=acme, product=product)
        card_set_state(card=card, state="PAUSED")

    assert callbacks == []  # nothing is scheduled to be sent anywhere
    card.refresh_from_db()
    assert (card.lithic_sync_status, card.lithic_card_token) == ("LOCAL_ONLY", None)
    assert card.lithic_synced_at is None


def test_without_an_api_key_the_console_says_outbound_sync_is_off(
    operator_client, acme, product, fixture_actor
):
    card = card_issue(account=acme, product=product)

    for url in (CARDS, PROFILES):
        response = operator_client.get(url)
        assert response.status_code == 200
        assert any("Outbound sync to Lithic is off" in m for m in messages_of(response)), url
    assert "local only" in operator_client.get(CARDS).content.decode()

    pushed = operator_client.post(
        CARDS, {"action": "push_to_lithic", "_selected_action": [card.pk]}, follow=True
    )
    assert "nothing was sent" in " ".join(messages_of(pushed))
    card.refresh_from_db()
    assert card.lithic_sync_status == "LOCAL_ONLY"


def test_without_an_api_key_the_api_shows_local_only(api_client, customer_admin, product):
    client = api_client(customer_admin)
    response = client.post("/api/v1/cards/", {"product": str(product.token)}, format="json")
    assert response.status_code == 201
    assert response.json()["lithic_sync_status"] == "LOCAL_ONLY"
    assert response.json()["lithic_card_token"] is None


def test_sync_lithic_refuses_to_run_without_an_api_key(db):
    with pytest.raises(CommandError, match="LITHIC_API_KEY is not set"):
        call_command("sync_lithic", "--once")


# --- Outbound on: the console shows what is out of step and can push it ----------------------


def test_console_counts_what_is_out_of_step_and_filters_it(
    lithic_fake, operator_client, issue, act
):
    in_step = issue()
    behind = issue()
    lithic_fake.fail_next(3, status=503)
    act(card_set_state, card=behind, state="PAUSED")

    response = operator_client.get(CARDS)
    (banner,) = [m for m in messages_of(response) if "Out of step with Lithic" in m]
    assert "1 pending, 0 rejected by Lithic, 0 local only" in banner
    pending = operator_client.get(CARDS, {"lithic_sync_status__exact": "PENDING"})
    listed = list(pending.context["cl"].result_list)
    assert listed == [Card.objects.get(pk=behind.pk)]
    assert in_step not in listed


def test_push_now_from_the_console_brings_the_card_in_step(
    lithic_fake, operator_client, issue, act
):
    card = issue()
    lithic_fake.fail_next(3, status=503)
    act(card_set_state, card=card, state="PAUSED")

    response = operator_client.post(
        CARDS, {"action": "push_to_lithic", "_selected_action": [card.pk]}, follow=True
    )

    assert "1 now in step with Lithic." in messages_of(response)
    card.refresh_from_db()
    assert card.lithic_sync_status == "SYNCED"
    assert lithic_fake.cards[str(card.lithic_card_token)]["state"] == "PAUSED"


def test_push_now_reports_what_lithic_refused(lithic_fake, operator_client, issue, travel_profile):
    issue(profile=travel_profile)
    profile = SpendingProfile.objects.get(pk=travel_profile.pk)
    lithic_fake.fail_next(1, status=400, message="conditions are invalid")

    response = operator_client.post(
        PROFILES, {"action": "push_to_lithic", "_selected_action": [profile.pk]}, follow=True
    )

    assert "1 still rejected: see 'last Lithic error' on each." in messages_of(response)
    profile.refresh_from_db()
    assert profile.lithic_sync_status == "REJECTED"
    assert "conditions are invalid" in profile.lithic_sync_error
    page = operator_client.get(reverse("admin:spending_spendingprofile_change", args=[profile.pk]))
    assert "conditions are invalid" in page.content.decode()


def test_console_limit_change_goes_through_the_service_and_reaches_lithic(
    lithic_fake, operator_client, issue, django_capture_on_commit_callbacks
):
    card = issue()
    url = reverse("admin:cards_card_change", args=[card.pk])
    form = operator_client.get(url).context["adminform"].form
    data = {
        name: (value.pk if hasattr(value, "pk") else value)
        for name, value in form.initial.items()
        if name in form.fields and value is not None
    }
    data.update(spend_limit="321.00", spend_limit_duration="TRANSACTION")

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    (update,) = lithic_fake.calls("PATCH", f"/v1/cards/{card.lithic_card_token}")
    assert (update.body["spend_limit"], update.body["spend_limit_duration"]) == (
        32100,
        "TRANSACTION",
    )
    card.refresh_from_db()
    assert (card.spend_limit, card.lithic_sync_status) == (Decimal("321.00"), "SYNCED")
    assert card.history.latest().history_user.email == "ops@cardops.test"


def test_sync_lithic_prints_what_it_did(lithic_fake, issue, act):
    card = issue()
    lithic_fake.fail_next(3, status=503)
    act(card_set_state, card=card, state="PAUSED")

    out = io.StringIO()
    call_command("sync_lithic", "--once", "--retry-now", stdout=out)

    assert out.getvalue().strip() == "sync_lithic: 1 synced"
