"""Lithic's card webhooks keep our cards in step: through the real inbox, worker and handler."""

from __future__ import annotations

import uuid

import pytest

from cards.models import Card
from cards.services import card_set_state
from tests.lithic_payloads import card_event


def updated(card: Card, state: str) -> dict:
    return {
        "event_type": "card.updated",
        "card_token": str(card.lithic_card_token),
        "state": state,
        "previous_fields": {},
    }


def test_card_updated_applies_lithics_current_card(lithic_fake, issue, deliver):
    card = issue()
    lithic_fake.cards[str(card.lithic_card_token)].update(state="PAUSED", last_four="4242")

    webhook = deliver(updated(card, "PAUSED"))

    assert (webhook.status, webhook.account_id) == ("PROCESSED", card.account_id)
    card.refresh_from_db()
    assert (card.state, card.last_four) == ("PAUSED", "4242")
    assert lithic_fake.calls("GET", f"/v1/cards/{card.lithic_card_token}")
    latest = card.history.latest()
    assert latest.history_actor == "worker:process_webhooks"
    # Applying Lithic's state is not a change to send back to Lithic.
    assert card.lithic_sync_status == "SYNCED"
    assert not lithic_fake.calls("PATCH", f"/v1/cards/{card.lithic_card_token}")


def test_card_updates_delivered_out_of_order_end_in_lithics_state(lithic_fake, issue, deliver):
    card = issue()
    # Lithic paused the card, then opened it again; the webhooks arrive the other way round.
    lithic_fake.cards[str(card.lithic_card_token)]["state"] = "OPEN"
    deliver(updated(card, "OPEN"))
    deliver(updated(card, "PAUSED"))

    card.refresh_from_db()
    assert card.state == "OPEN"


def test_a_local_change_not_yet_at_lithic_is_not_overwritten(lithic_fake, issue, act, deliver):
    card = issue()
    lithic_fake.fail_next(3, status=503)
    act(card_set_state, card=card, state="PAUSED")
    card.refresh_from_db()
    assert card.lithic_sync_status == "PENDING"

    # Lithic still has it open and says so: our pause stays, the push will carry it.
    deliver(updated(card, "OPEN"))
    card.refresh_from_db()
    assert card.state == "PAUSED"

    # But CLOSED at Lithic is final, whatever is waiting here.
    lithic_fake.cards[str(card.lithic_card_token)]["state"] = "CLOSED"
    deliver(updated(card, "CLOSED"))
    card.refresh_from_db()
    assert card.state == "CLOSED"


def test_card_converted_takes_lithics_type(lithic_fake, issue, deliver):
    card = issue()
    lithic_fake.cards[str(card.lithic_card_token)].update(
        type="PHYSICAL", state="PENDING_FULFILLMENT"
    )

    deliver({"event_type": "card.converted", "card_token": str(card.lithic_card_token)})

    card.refresh_from_db()
    assert (card.type, card.state) == ("PHYSICAL", "PENDING_FULFILLMENT")


def test_card_shipped_and_renewed_change_nothing_when_lithic_agrees(lithic_fake, issue, deliver):
    card = issue()
    versions = card.history.count()
    token = str(card.lithic_card_token)

    shipped = deliver(card_event("card.shipped", token, shipping_method="USPS priority"))
    renewed = deliver({"event_type": "card.renewed", "card_token": token, "exp_year": "2031"})

    assert (shipped.status, renewed.status) == ("PROCESSED", "PROCESSED")
    assert card.history.count() == versions


def test_replacement_card_is_adopted_for_the_same_cardholder_and_profile(
    lithic_fake, issue, travel_profile, customer_admin, deliver
):
    old = issue(profile=travel_profile, cardholder=customer_admin, memo="Travel")
    new_at_lithic = lithic_fake.add_card(type="VIRTUAL", state="OPEN", last_four="1881")
    event = {
        "event_type": "card.created",
        "card_token": new_at_lithic["token"],
        "replacement_for": str(old.lithic_card_token),
    }

    first = deliver(event)
    again = deliver(event)  # Lithic delivered it twice, under two webhook-ids

    assert (first.status, again.status) == ("PROCESSED", "PROCESSED")
    new = Card.objects.get(lithic_card_token=new_at_lithic["token"])
    assert (new.account_id, new.cardholder_id, new.profile_id, new.product_id) == (
        old.account_id,
        old.cardholder_id,
        old.profile_id,
        old.product_id,
    )
    assert (new.state, new.last_four, new.memo) == ("OPEN", "1881", "Travel")
    assert Card.objects.filter(profile=travel_profile).count() == 2
    # The new card carries the profile's tag at Lithic, so the profile's rule covers it too.
    assert new_at_lithic["tags"] == {"spending_profile": str(travel_profile.token)}
    rule = lithic_fake.auth_rules[str(travel_profile.lithic_auth_rule_token)]
    assert lithic_fake.rules_covering(new_at_lithic["token"]) == [rule]
    assert new.lithic_sync_status == "SYNCED"


def test_a_card_made_outside_this_back_office_is_ignored_with_the_reason(
    lithic_fake, issue, deliver
):
    issue()  # ours, already at Lithic: nothing of ours is on its way
    foreign = lithic_fake.add_card(type="VIRTUAL")

    webhook = deliver({"event_type": "card.created", "card_token": foreign["token"]})

    assert webhook.status == "IGNORED"
    assert "not issued here" in webhook.last_error
    assert not Card.objects.filter(lithic_card_token=foreign["token"]).exists()


def test_card_created_before_our_create_recorded_the_token_is_retried(
    lithic_fake, acme, product, act, deliver, retry_now
):
    from cards.services import card_issue, card_record_lithic_identity
    from lithic_integration.gateway import card_get

    # Our create has not reached Lithic yet (it will be retried by sync_lithic) ...
    lithic_fake.fail_next(3, status=503)
    card = act(card_issue, account=acme, product=product)
    card.refresh_from_db()
    assert (card.lithic_card_token, card.lithic_sync_status) == (None, "PENDING")
    # ... when Lithic's card.created for it arrives.
    made = lithic_fake.add_card(type="VIRTUAL")

    webhook = deliver({"event_type": "card.created", "card_token": made["token"]})
    assert (webhook.status, webhook.attempts) == ("FAILED", 1)
    assert webhook.last_error.startswith("UnknownLithicCard")

    # Our create's answer is recorded (as the push records it), and the retry applies.
    lithic_card = card_get(card_token=made["token"])
    card_record_lithic_identity(
        card_pk=card.pk,
        lithic_card_token=lithic_card.token,
        last_four=lithic_card.last_four,
        state=lithic_card.state,
    )
    assert retry_now(webhook).status == "PROCESSED"


def test_lithic_unreachable_fails_the_event_for_a_retry(lithic_fake, issue, deliver, retry_now):
    card = issue()
    lithic_fake.fail_next(3, status=502)

    webhook = deliver(updated(card, "PAUSED"))

    assert (webhook.status, webhook.attempts) == ("FAILED", 1)
    assert "LithicUnavailable" in webhook.last_error
    lithic_fake.cards[str(card.lithic_card_token)]["state"] = "PAUSED"
    assert retry_now(webhook).status == "PROCESSED"
    card.refresh_from_db()
    assert card.state == "PAUSED"


def test_without_an_api_key_only_the_payloads_state_is_applied(acme, fixture_actor, deliver):
    from cards.services import card_issue

    card = card_issue(account=acme, lithic_card_token=uuid.uuid4())
    assert card.lithic_sync_status == "LOCAL_ONLY"

    paused = deliver(updated(card, "PAUSED"))
    shipped = deliver(card_event("card.shipped", card.lithic_card_token))

    assert (paused.status, shipped.status) == ("PROCESSED", "PROCESSED")
    card.refresh_from_db()
    assert card.state == "PAUSED"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        pytest.param({"event_type": "card.updated"}, "no card_token", id="no-token"),
        pytest.param(
            {"event_type": "card.updated", "card_token": "nope"}, "not a token", id="bad-token"
        ),
    ],
)
def test_malformed_card_event_is_dead_at_once_with_the_reason(db, deliver, payload, error):
    # It can never apply: it waits for an operator instead of being retried until it dies.
    webhook = deliver(payload, malformed=True)
    assert (webhook.status, webhook.attempts) == ("DEAD", 1)
    assert error in webhook.last_error
