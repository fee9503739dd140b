"""A spending profile compiles to one Lithic Auth Rule v2 on the cards that use it."""

from __future__ import annotations

from cards.services import card_set_state, card_update
from spending.services import (
    spending_profile_create,
    spending_profile_delete,
    spending_profile_update,
)


def tag_rule(profile) -> dict:
    """The rule's entities: every card tagged with the profile's token."""
    return {
        "include": [{"type": "CARD_TAG", "key": "spending_profile", "value": str(profile.token)}]
    }


def test_block_list_profile_becomes_a_decline_rule_on_its_tagged_cards(
    lithic_fake, issue, travel_profile
):
    (create,) = lithic_fake.calls("POST", "/v2/auth_rules")
    assert create.headers["idempotency-key"] == f"auth-rule-create-{travel_profile.token}"
    assert create.body == {
        "type": "CONDITIONAL_ACTION",
        "event_stream": "AUTHORIZATION",
        "name": f"Spending profile {travel_profile.token}",
        "entities": tag_rule(travel_profile),
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

    card = issue(profile=travel_profile)

    (card_create,) = lithic_fake.calls("POST", "/v1/cards")
    assert card_create.body["tags"] == {"spending_profile": str(travel_profile.token)}
    assert lithic_fake.rules_covering(str(card.lithic_card_token)) == [rule]
    # A card joining the profile does not touch the rule.
    assert len(lithic_fake.calls(path_prefix="/v2/auth_rules")) == 2


def test_allow_list_profile_declines_everything_else(lithic_fake, acme, catalogue, act):
    act(
        spending_profile_create,
        account=acme,
        name="Fuel only",
        allowed_mccs=["5542", "5541"],
        blocked_mccs=["7995"],
    )

    (create,) = lithic_fake.calls("POST", "/v2/auth_rules")
    assert create.body["parameters"]["conditions"] == [
        {"attribute": "MCC", "operation": "IS_NOT_ONE_OF", "value": ["5541", "5542"]}
    ]


def test_profile_without_codes_has_no_rule(lithic_fake, acme, catalogue, act):
    profile = act(spending_profile_create, account=acme, name="Anything goes")

    assert lithic_fake.calls(path_prefix="/v2/auth_rules") == []
    assert (profile.lithic_sync_status, profile.lithic_auth_rule_token) == ("SYNCED", None)


def test_rule_changes_draft_and_promote_on_the_same_rule(lithic_fake, travel_profile, act):
    rule_token = str(travel_profile.lithic_auth_rule_token)
    before = len(lithic_fake.requests)

    act(spending_profile_update, profile=travel_profile, blocked_mccs=["7995"])

    later = lithic_fake.requests[before:]
    assert [(r.method, r.path) for r in later] == [
        ("POST", f"/v2/auth_rules/{rule_token}/draft"),
        ("POST", f"/v2/auth_rules/{rule_token}/promote"),
    ]
    assert later[0].body["parameters"]["conditions"][0]["value"] == ["7995"]
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
    token = str(card.lithic_card_token)

    act(card_update, card=card, profile=other)

    (update,) = lithic_fake.calls("PATCH", f"/v1/cards/{token}")
    assert update.body["tags"] == {"spending_profile": str(other.token)}
    assert lithic_fake.rules_covering(token) == [
        lithic_fake.auth_rules[str(other.lithic_auth_rule_token)]
    ]

    act(card_update, card=card, clear_profile=True)

    assert lithic_fake.calls("PATCH", f"/v1/cards/{token}")[-1].body["tags"] == {
        "spending_profile": None
    }
    assert lithic_fake.rules_covering(token) == []
    card.refresh_from_db()
    assert card.lithic_sync_status == "SYNCED"


def test_a_rule_without_codes_or_profile_is_deactivated_and_comes_back(
    lithic_fake, issue, travel_profile, act
):
    rule = lithic_fake.auth_rules[str(travel_profile.lithic_auth_rule_token)]

    act(spending_profile_update, profile=travel_profile, blocked_mccs=[])
    assert rule["state"] == "INACTIVE"

    act(spending_profile_update, profile=travel_profile, blocked_mccs=["7995"])
    assert rule["state"] == "ACTIVE"
    assert rule["current_version"]["parameters"]["conditions"][0]["value"] == ["7995"]

    card = issue(profile=travel_profile)
    act(card_set_state, card=card, state="CLOSED")
    act(spending_profile_delete, profile=travel_profile)
    assert rule["state"] == "INACTIVE"
    assert len(lithic_fake.auth_rules) == 1


def test_rule_rejected_by_lithic_is_shown_on_the_profile(lithic_fake, travel_profile, act):
    lithic_fake.fail_next(1, status=400, message="conditions are invalid")
    act(spending_profile_update, profile=travel_profile, blocked_mccs=["7995"])

    travel_profile.refresh_from_db()
    assert travel_profile.lithic_sync_status == "REJECTED"
    assert "conditions are invalid" in travel_profile.lithic_sync_error


def test_lithic_5xx_leaves_the_rule_pending_for_the_worker(
    lithic_fake, travel_profile, act, call_command_output
):
    lithic_fake.fail_next(3, status=500)
    act(spending_profile_update, profile=travel_profile, blocked_mccs=["7995"])
    travel_profile.refresh_from_db()
    assert travel_profile.lithic_sync_status == "PENDING"
    rule = lithic_fake.auth_rules[str(travel_profile.lithic_auth_rule_token)]
    assert rule["current_version"]["parameters"]["conditions"][0]["value"] != ["7995"]

    out = call_command_output("sync_lithic", "--once", "--retry-now")
    travel_profile.refresh_from_db()
    assert "1 synced" in out, travel_profile.lithic_sync_error

    assert rule["current_version"]["parameters"]["conditions"][0]["value"] == ["7995"]
