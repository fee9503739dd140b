"""`reconcile_lithic` pages through Lithic's cards and transactions and finds every difference."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from cards.models import Card
from lithic_integration import gateway as lithic_gateway
from lithic_integration.transactions import transaction_apply_lithic
from transactions.models import LedgerEntry, Transaction

D = Decimal


def reconcile(*args: str) -> tuple[int, str]:
    """Run the command; returns its exit status and everything it printed."""
    out = io.StringIO()
    try:
        call_command("reconcile_lithic", *args, stdout=out, stderr=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def lines_about(output: str, token) -> list[str]:
    return [line for line in output.splitlines() if str(token) in line]


@pytest.fixture
def funded(acme):
    """Acme, whose opening balance (25,000.00, tests/conftest.py) the clearings draw on."""
    return acme


def test_everything_in_step_reports_nothing_and_exits_0(lithic_fake, issue):
    issue()
    issue()

    status, output = reconcile()

    assert status == 0
    assert "0 difference(s)" in output


def test_a_planted_card_state_difference_is_found_and_fixed(lithic_fake, issue):
    card = issue()
    lithic_fake.cards[str(card.lithic_card_token)]["state"] = "PAUSED"

    status, output = reconcile("--cards-only")

    assert status == 1
    (line,) = lines_about(output, card.lithic_card_token)
    assert line.split()[:5] == ["card", str(card.lithic_card_token), "state", "OPEN", "PAUSED"]
    card.refresh_from_db()
    assert card.state == "OPEN"  # a report changes nothing

    status, output = reconcile("--cards-only", "--fix")
    assert status == 0
    assert "1 difference(s), 1 fixed" in output
    card.refresh_from_db()
    assert card.state == "PAUSED"
    assert card.history.latest().history_actor == "command:reconcile_lithic"
    assert reconcile("--cards-only")[0] == 0


def test_cards_missing_on_either_side_are_listed(lithic_fake, issue):
    ours = issue()
    del lithic_fake.cards[str(ours.lithic_card_token)]
    foreign = lithic_fake.add_card(type="PHYSICAL", state="OPEN", last_four="7777")

    status, output = reconcile("--cards-only", "--fix")

    assert status == 1
    assert "missing at Lithic" in lines_about(output, ours.lithic_card_token)[0]
    (line,) = lines_about(output, foreign["token"])
    assert "missing here" in line and "not adopted" in line
    assert not Card.objects.filter(lithic_card_token=foreign["token"]).exists()


def test_every_page_of_lithics_cards_is_read(lithic_fake):
    for _ in range(5):
        lithic_fake.add_card()

    tokens = [card.token for card in lithic_gateway.cards_iter(page_size=2)]

    assert sorted(tokens) == sorted(lithic_fake.cards)
    pages = lithic_fake.calls("GET", "/v1/cards")
    assert len(pages) == 3
    assert [p.query.get("starting_after") for p in pages] == [None, tokens[1], tokens[3]]


def test_a_transaction_missing_here_is_created_with_its_money_by_fix(lithic_fake, issue, funded):
    card = issue()
    txn = lithic_fake.add_transaction(
        card_token=str(card.lithic_card_token), amount=4200, settled=4150
    )

    status, output = reconcile("--transactions-only")
    assert status == 1
    assert "missing here" in lines_about(output, txn["token"])[0]
    assert not Transaction.objects.filter(token=txn["token"]).exists()

    status, output = reconcile("--transactions-only", "--fix")

    assert status == 0, output
    local = Transaction.objects.get(token=txn["token"])
    assert (local.status, local.amount, local.settled_amount) == ("SETTLED", D("42.00"), D("41.50"))
    funded.refresh_from_db()
    assert funded.balance == D("25000.00") - D("41.50")
    assert LedgerEntry.objects.filter(transaction=local, kind="SETTLEMENT").count() == 1
    call_command("check_ledger", stdout=io.StringIO())


def test_a_planted_transaction_status_and_amount_difference_is_found(lithic_fake, issue, funded):
    card = issue()
    at_lithic = lithic_fake.add_transaction(
        card_token=str(card.lithic_card_token), amount=3000, settled=2500
    )
    # We heard only of the authorization; Lithic has since cleared it for less.
    authorization_only = {
        **at_lithic,
        "status": "PENDING",
        "settled_amount": 0,
        "events": at_lithic["events"][:1],
    }
    transaction_apply_lithic(authorization_only)

    status, output = reconcile("--transactions-only")

    assert status == 1
    found = {line.split()[2]: line.split()[3:5] for line in lines_about(output, at_lithic["token"])}
    assert found == {"status": ["PENDING", "SETTLED"], "settled_amount": ["0.00", "25.00"]}

    assert reconcile("--transactions-only", "--fix")[0] == 0
    local = Transaction.objects.get(token=at_lithic["token"])
    assert (local.status, local.hold_amount, local.settled_amount) == ("SETTLED", 0, D("25.00"))
    call_command("check_ledger", stdout=io.StringIO())


def test_our_transaction_lithic_does_not_know_is_listed(lithic_fake, issue, funded):
    card = issue()
    at_lithic = lithic_fake.add_transaction(card_token=str(card.lithic_card_token), amount=900)
    transaction_apply_lithic(at_lithic)
    del lithic_fake.transactions[at_lithic["token"]]

    status, output = reconcile("--transactions-only")

    assert status == 1
    assert "missing at Lithic" in lines_about(output, at_lithic["token"])[0]


def test_without_an_api_key_there_is_nothing_to_compare_with(db):
    with pytest.raises(CommandError, match="LITHIC_API_KEY is not set"):
        call_command("reconcile_lithic")


def test_lithic_unavailable_stops_with_a_clear_error(db, lithic_fake):
    lithic_fake.fail_next(3, status=503)
    with pytest.raises(CommandError, match="reconcile_lithic stopped: list cards: Lithic answered"):
        call_command("reconcile_lithic", stdout=io.StringIO())


def test_a_bad_since_is_refused(db, lithic_fake):
    with pytest.raises(CommandError, match="not a date"):
        call_command("reconcile_lithic", "--since", "last tuesday")


def test_a_card_outside_its_profiles_rule_is_found_and_left_to_a_push(
    lithic_fake, issue, travel_profile
):
    from lithic_integration.cards import card_push_now

    card = issue(profile=travel_profile)
    lithic_fake.cards[str(card.lithic_card_token)]["tags"].clear()  # changed at Lithic

    status, output = reconcile("--cards-only", "--fix")

    assert status == 1
    (line,) = lines_about(output, card.lithic_card_token)
    assert line.split()[2:6] == ["profile", "tag", str(travel_profile.token), "-"]
    assert "push ours" in line

    assert card_push_now(card=card) == "SYNCED"
    assert lithic_fake.rules_covering(str(card.lithic_card_token))
    assert reconcile("--cards-only")[0] == 0
