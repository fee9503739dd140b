"""Card changes reach Lithic through the SDK: create with an Idempotency-Key, update in cents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cards.models import Card
from cards.services import card_set_limit, card_set_state, card_update


def test_issue_creates_the_card_at_lithic_with_a_key_derived_from_our_token(lithic_fake, issue):
    card = issue(memo="Conference")

    creates = lithic_fake.calls("POST", "/v1/cards")
    assert len(creates) == 1
    assert creates[0].headers["idempotency-key"] == f"card-create-{card.token}"
    assert creates[0].body == {
        "type": "VIRTUAL",
        "spend_limit": 75000,
        "spend_limit_duration": "MONTHLY",
        "memo": "Conference",
        "state": "OPEN",
    }
    lithic_card = lithic_fake.cards[str(card.lithic_card_token)]
    assert card.last_four == lithic_card["last_four"]
    assert card.lithic_sync_status == "SYNCED"
    assert card.lithic_synced_version == card.lithic_version == 1


def test_a_lost_response_is_retried_with_the_same_key_and_makes_one_card(lithic_fake, issue):
    lithic_fake.lose_next_response(1)

    card = issue()

    creates = lithic_fake.calls("POST", "/v1/cards")
    assert len(creates) == 2
    assert {c.headers["idempotency-key"] for c in creates} == {f"card-create-{card.token}"}
    assert len(lithic_fake.cards) == 1
    assert str(card.lithic_card_token) in lithic_fake.cards
    assert card.lithic_sync_status == "SYNCED"


def test_the_push_on_commit_has_its_own_short_budget_and_the_worker_the_full_one(
    lithic_fake, issue, settings, call_command_output
):
    # The request that issued the card waits for one attempt only; sync_lithic gets three.
    settings.LITHIC_ON_COMMIT_MAX_RETRIES = 0
    lithic_fake.fail_next(1, status=503)

    card = issue()

    assert len(lithic_fake.calls("POST", "/v1/cards")) == 1
    assert (card.lithic_sync_status, card.lithic_card_token) == ("PENDING", None)

    lithic_fake.fail_next(2, status=503)  # the third attempt of the worker's budget lands
    assert "1 synced" in call_command_output("sync_lithic", "--once", "--retry-now")
    assert len(lithic_fake.calls("POST", "/v1/cards")) == 1 + 3
    assert len(lithic_fake.cards) == 1


def test_a_create_that_timed_out_is_retried_later_and_still_makes_one_card(
    lithic_fake, issue, call_command_output
):
    # Every attempt of the first push is carried out by Lithic but answered too late.
    lithic_fake.hang_next(3, seconds=0.8)

    card = issue()

    assert card.lithic_sync_status == "PENDING"
    assert card.lithic_card_token is None
    assert "did not answer in time" in card.lithic_sync_error
    assert card.lithic_sync_attempts == 1
    assert card.lithic_next_attempt_at is not None

    call_command_output("sync_lithic", "--once", "--retry-now")

    card.refresh_from_db()
    assert card.lithic_sync_status == "SYNCED"
    assert len(lithic_fake.cards) == 1
    assert str(card.lithic_card_token) in lithic_fake.cards
    keys = {c.headers["idempotency-key"] for c in lithic_fake.calls("POST", "/v1/cards")}
    assert keys == {f"card-create-{card.token}"}


def test_pause_unpause_limit_memo_and_close_call_cards_update(lithic_fake, issue, act):
    card = issue()
    path = f"/v1/cards/{card.lithic_card_token}"

    act(card_set_state, card=card, state="PAUSED")
    act(card_set_state, card=card, state="OPEN")
    act(
        card_set_limit, card=card, spend_limit=Decimal("120.55"), spend_limit_duration="TRANSACTION"
    )
    act(card_update, card=card, memo="Travel only")
    act(card_set_state, card=card, state="CLOSED")

    updates = [r.body for r in lithic_fake.calls("PATCH", path)]
    assert [u["state"] for u in updates] == ["PAUSED", "OPEN", "OPEN", "OPEN", "CLOSED"]
    assert updates[2]["spend_limit"] == 12055
    assert updates[2]["spend_limit_duration"] == "TRANSACTION"
    assert updates[3]["memo"] == "Travel only"
    assert lithic_fake.cards[str(card.lithic_card_token)]["state"] == "CLOSED"
    card.refresh_from_db()
    assert card.lithic_sync_status == "SYNCED"
    assert card.lithic_version == card.lithic_synced_version == 6


def test_lithic_5xx_leaves_the_change_pending_until_the_worker_pushes_it(
    lithic_fake, issue, act, call_command_output
):
    card = issue()
    lithic_fake.fail_next(3, status=503)

    act(card_set_state, card=card, state="PAUSED")

    card.refresh_from_db()
    # Ours is paused (the authorization responder declines on it); Lithic has not heard yet.
    assert card.state == "PAUSED"
    assert lithic_fake.cards[str(card.lithic_card_token)]["state"] == "OPEN"
    assert card.lithic_sync_status == "PENDING"
    assert "503" in card.lithic_sync_error
    assert card.lithic_sync_attempts == 1

    # Not due yet: the worker leaves it for its backoff.
    assert "nothing was due" in call_command_output("sync_lithic", "--once")
    output = call_command_output("sync_lithic", "--once", "--retry-now")

    assert "1 synced" in output
    card.refresh_from_db()
    assert card.lithic_sync_status == "SYNCED"
    assert card.lithic_sync_error == ""
    assert card.lithic_sync_attempts == 0
    assert lithic_fake.cards[str(card.lithic_card_token)]["state"] == "PAUSED"


def test_lithic_4xx_marks_the_change_rejected_and_the_worker_leaves_it(
    lithic_fake, issue, act, call_command_output
):
    card = issue()
    lithic_fake.fail_next(1, status=422, message="spend_limit exceeds program limit")

    act(card_set_limit, card=card, spend_limit=Decimal("99999.00"), spend_limit_duration="MONTHLY")

    card.refresh_from_db()
    assert card.lithic_sync_status == "REJECTED"
    assert "spend_limit exceeds program limit" in card.lithic_sync_error
    before = len(lithic_fake.requests)
    call_command_output("sync_lithic", "--once", "--retry-now")
    assert len(lithic_fake.requests) == before


def test_a_push_does_not_mark_a_newer_change_as_confirmed(lithic_fake, issue):
    from lithic_integration.cards import card_push
    from lithic_integration.outbox import sync_mark_pending, sync_push

    card = issue()
    sync_mark_pending(model=Card, pk=card.pk, push=card_push)

    def push_while_someone_changes_the_card(row):
        card_push(row)
        # A newer local change commits while this push is on its way.
        sync_mark_pending(model=Card, pk=row.pk, push=card_push)

    status = sync_push(model=Card, pk=card.pk, push=push_while_someone_changes_the_card)

    card.refresh_from_db()
    assert status == "PENDING"
    assert card.lithic_sync_status == "PENDING"
    assert card.lithic_version == 3
    assert card.lithic_synced_version == 1


def test_sub_cent_amounts_are_refused_at_the_boundary():
    from lithic_integration.errors import SubCentAmount
    from lithic_integration.money import from_cents, to_cents

    assert to_cents(Decimal("120.55")) == 12055
    assert to_cents(Decimal("0")) == 0
    assert to_cents(Decimal("1.5")) == 150
    assert from_cents(12055) == Decimal("120.55")
    with pytest.raises(SubCentAmount):
        to_cents(Decimal("0.001"))
    with pytest.raises(SubCentAmount):
        to_cents(12.5)


@pytest.mark.django_db(transaction=True)  # the pushes run after real commits, as deployed
def test_the_push_on_commit_does_not_wait_for_another_processs_push(
    lithic_fake, issue, act, call_command_output
):
    import threading

    from django.db import connection

    from core.leases import lease
    from lithic_integration.outbox import push_lease_name

    card = issue()
    held, release = threading.Event(), threading.Event()

    def another_process_pushing():
        # Its own database session holds the card's push lease, as sync_lithic would.
        with lease(push_lease_name(Card, card.pk), seconds=60, wait=True):
            held.set()
            release.wait(10)
        connection.close()

    other = threading.Thread(target=another_process_pushing)
    other.start()
    assert held.wait(10)
    try:
        act(card_set_state, card=card, state="PAUSED")
        card.refresh_from_db()
        assert card.lithic_sync_status == "PENDING"  # left for the worker, not waited for
        assert not lithic_fake.calls("PATCH", f"/v1/cards/{card.lithic_card_token}")
    finally:
        release.set()
        other.join(10)

    assert "1 synced" in call_command_output("sync_lithic", "--once", "--retry-now")
    assert lithic_fake.cards[str(card.lithic_card_token)]["state"] == "PAUSED"
