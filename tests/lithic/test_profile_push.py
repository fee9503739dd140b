"""A spending profile compiles to one Lithic Auth Rule v2 on the cards that use it."""

from __future__ import annotations

import pytest

from cards.services import card_set_state, card_update
from core.audit import system_actor
from spending.services import spending_profile_create, spending_profile_update


@pytest.fixture
def act(django_capture_on_commit_callbacks):
    """`act(fn, **kwargs)`: run a service as a test actor, then its on-commit pushes."""

    def run(fn, **kwargs):
        with system_actor("test"), django_capture_on_commit_callbacks(execute=True):
            result = fn(**kwargs)
        if hasattr(result, "refresh_from_db"):
            result.refresh_from_db()
        return result

    return run


def test_block_list_profile_becomes_a_decline_rule_on_its_cards(
    lithic_fake, issue, travel_profile, act
):
    card = issue(profile=travel_profile)
    travel_profile.refresh_from_db()

    creates = lithic_fake.calls("POST", "/v2/auth_rules")
    assert len(creates) == 1
    assert creates[0].headers["idempotency-key"] == f"auth-rule-create-{travel_profile.token}"
    assert creates[0].body == {
        "type": "CONDITIONAL_ACTION",
        "event_stream": "AUTHORIZATION",
        "name": f"Spending profile {travel_profile.token}",
        "card_tokens": [str(card.lithic_card_token)],
        "parameters": {
            "action": "DECLINE",
            "conditions": [
                {"attribute": "MCC", "operation": "IS_ONE_OF", "value": ["5813", "6051", "7995"]}
            ],
        },
    }
    rule_token = str(travel_profile.lithic_auth_rule_token)
    assert [
        r.path for r in lithic_fake.calls("POST", path_prefix=f"/v2/auth_rules/{rule_token}")
    ] == [f"/v2/auth_rules/{rule_token}/promote"]
    rule = lithic_fake.auth_rules[rule_token]
    assert rule["state"] == "ACTIVE"
    assert rule["current_version"]["parameters"]["conditions"][0]["value"] == [
        "5813",
        "6051",
        "7995",
    ]
    assert travel_profile.lithic_sync_status == "SYNCED"


def test_allow_list_profile_declines_everything_else(lithic_fake, acme, catalogue, issue, act):
    profile = act(
        spending_profile_create,
        account=acme,
        name="Fuel only",
        allowed_mccs=["5542", "5541"],
        blocked_mccs=["7995"],
    )
    # No card at Lithic uses it yet: nothing to enforce, nothing sent.
    assert lithic_fake.calls(path_prefix="/v2/auth_rules") == []
    assert profile.lithic_sync_status == "SYNCED"
    assert profile.lithic_auth_rule_token is None

    issue(profile=profile)

    (create,) = lithic_fake.calls("POST", "/v2/auth_rules")
    assert create.body["parameters"]["conditions"] == [
        {"attribute": "MCC", "operation": "IS_NOT_ONE_OF", "value": ["5541", "5542"]}
    ]


def test_rule_changes_draft_and_promote_on_the_same_rule(lithic_fake, issue, travel_profile, act):
    issue(profile=travel_profile)
    travel_profile.refresh_from_db()
    rule_token = str(travel_profile.lithic_auth_rule_token)
    before = len(lithic_fake.requests)

    act(spending_profile_update, profile=travel_profile, blocked_mccs=["7995"])

    later = lithic_fake.requests[before:]
    assert [(r.method, r.path) for r in later][-3:] == [
        ("PATCH", f"/v2/auth_rules/{rule_token}"),
        ("POST", f"/v2/auth_rules/{rule_token}/draft"),
        ("POST", f"/v2/auth_rules/{rule_token}/promote"),
    ]
    assert later[-2].body["parameters"]["conditions"][0]["value"] == ["7995"]
    assert len(lithic_fake.auth_rules) == 1
    current = lithic_fake.auth_rules[rule_token]["current_version"]
    assert current["parameters"]["conditions"][0]["value"] == ["7995"]
    travel_profile.refresh_from_db()
    assert travel_profile.lithic_sync_status == "SYNCED"


def test_moving_a_card_to_another_profile_moves_it_between_rules(
    lithic_fake, acme, issue, travel_profile, act
):
    card = issue(profile=travel_profile)
    other = act(spending_profile_create, account=acme, name="Strict", blocked_mccs=["5813"])

    act(card_update, card=card, profile=other)

    travel_profile.refresh_from_db()
    other.refresh_from_db()
    old_rule = lithic_fake.auth_rules[str(travel_profile.lithic_auth_rule_token)]
    new_rule = lithic_fake.auth_rules[str(other.lithic_auth_rule_token)]
    # The old profile has no card left at Lithic: its rule is switched off, not emptied.
    assert old_rule["state"] == "INACTIVE"
    assert new_rule["state"] == "ACTIVE"
    assert new_rule["card_tokens"] == [str(card.lithic_card_token)]
    assert travel_profile.lithic_sync_status == other.lithic_sync_status == "SYNCED"


def test_closing_the_last_card_deactivates_the_rule(lithic_fake, issue, travel_profile, act):
    card = issue(profile=travel_profile)

    act(card_set_state, card=card, state="CLOSED")

    travel_profile.refresh_from_db()
    assert lithic_fake.auth_rules[str(travel_profile.lithic_auth_rule_token)]["state"] == (
        "INACTIVE"
    )


def test_rule_rejected_by_lithic_is_shown_on_the_profile(lithic_fake, issue, travel_profile, act):
    lithic_fake.fail_next(1, status=400, message="conditions are invalid")
    # The card's own create goes first; the failure hits the rule's create.
    lithic_fake.faults.insert(0, lithic_fake.faults.pop())
    lithic_fake.faults.clear()

    issue(profile=travel_profile)
    lithic_fake.fail_next(1, status=400, message="conditions are invalid")
    act(spending_profile_update, profile=travel_profile, blocked_mccs=["7995"])

    travel_profile.refresh_from_db()
    assert travel_profile.lithic_sync_status == "REJECTED"
    assert "conditions are invalid" in travel_profile.lithic_sync_error
