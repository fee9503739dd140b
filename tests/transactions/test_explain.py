"""A decision trace as sentences (transactions.explain): every rule the engine writes, every kind
of decline, and stored rows that lack keys or hold odd types."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest

from spending.models import SpendingCategory
from transactions import authorization
from transactions.explain import (
    APPROVED,
    DECLINED,
    FAILED,
    NOTE,
    PASSED,
    RULE_LABELS,
    decision_checked_at,
    decision_mccs,
    decision_result,
    decision_sentences,
    decision_title,
    event_sentence,
    mcc_descriptions,
)

NAMES = {"7995": "Betting, casino gambling", "5812": "Eating places, restaurants"}
CHECKED_AT = "2026-11-14T15:20:08.123456+00:00"


def trace(*steps, result="APPROVED", reason=""):
    """A decision as the engine stores it: its steps, then its result."""
    return {"checked_at": CHECKED_AT, "steps": [*steps, {"result": result, "reason": reason}]}


def texts(decision, **options) -> list[str]:
    return [s.text for s in decision_sentences(decision, mcc_names=NAMES, **options)]


CARD_OK = {
    "rule": "card_and_account",
    "card_state": "OPEN",
    "account_status": "ACTIVE",
    "passed": True,
}
MERCHANT_OK = {
    "rule": "merchant_category",
    "mcc": "5812",
    "profile_rule": None,
    "profile_has_allow_list": False,
    "mcc_high_risk": False,
    "account_blocks_high_risk": True,
    "passed": True,
}
NO_CARD_LIMIT = {"rule": "card_spend_limit", "limit": "none", "passed": True}


def limit(rule="card_spend_limit", **values):
    check = {
        "rule": rule,
        "limit": "100.00",
        "duration": "TRANSACTION",
        "spent": "0.00",
        "remaining": "100.00",
        "amount": "12.50",
        "passed": True,
    }
    check.update(values)
    return check


def funds(**values):
    check = {
        "rule": "available_balance",
        "balance": "25000.00",
        "held": "40.00",
        "available": "24960.00",
        "amount": "12.50",
        "passed": True,
    }
    check.update(values)
    return check


def test_every_rule_the_engine_writes_has_a_name_here():
    source = Path(authorization.__file__).read_text()
    written = set(re.findall(r'"rule": "(\w+)"', source)) | set(re.findall(r'what="(\w+)"', source))
    assert written, "the engine's rule names were not found in its source"
    assert written <= set(RULE_LABELS)


def test_an_approval_puts_the_verdict_first_and_explains_each_rule_in_order():
    decision = trace(
        CARD_OK,
        MERCHANT_OK,
        limit(),
        limit(
            "profile_spend_limit",
            limit="500.00",
            duration="MONTHLY",
            spent="65.50",
            remaining="434.50",
            window="2026-10-21 to 2026-11-14",
        ),
        funds(),
    )
    sentences = decision_sentences(decision, mcc_names=NAMES)
    assert [s.outcome for s in sentences] == [APPROVED, PASSED, PASSED, PASSED, PASSED, PASSED]
    assert [s.text for s in sentences] == [
        "Approved by the authorization engine: every rule passed.",
        "Card and account: card open, account active: passed.",
        "Merchant category 5812 (Eating places, restaurants): no rule restricts it: passed.",
        "Card limit: $100.00 per transaction; this authorization $12.50 — within the limit: "
        "passed.",
        "Profile limit: $500.00 per trailing month (2026-10-21 to 2026-11-14, UTC); spent "
        "$65.50, $434.50 left; this authorization $12.50 — within the limit, $422.00 left after "
        "it: passed.",
        "Available balance: $25,000.00 posted, $40.00 held, $24,960.00 available; this "
        "authorization $12.50 — covered, $24,947.50 left after it: passed.",
    ]
    assert decision_title(sentences) == "Why it was approved"
    assert decision_result(decision) == "APPROVED"


def test_no_card_limit_reads_as_none_set():
    assert texts(trace(CARD_OK, MERCHANT_OK, NO_CARD_LIMIT, funds()))[3] == (
        "Card limit: none set: passed."
    )


def test_a_card_limit_decline_says_by_how_much():
    decision = trace(
        CARD_OK,
        MERCHANT_OK,
        limit(amount="150.00", passed=False),
        result="VELOCITY_EXCEEDED",
        reason="card spend limit 100.00 TRANSACTION: 100.00 left, 150.00 asked",
    )
    sentences = decision_sentences(decision, mcc_names=NAMES)
    assert sentences[0].outcome == DECLINED
    assert sentences[0].text == (
        "Declined by the authorization engine: over a spend limit (VELOCITY_EXCEEDED), at the "
        "card limit."
    )
    assert sentences[-1].text == (
        "Card limit: $100.00 per transaction; this authorization $150.00 — over the limit by "
        "$50.00: declined."
    )
    assert sentences[-1].outcome == FAILED
    assert decision_title(sentences) == "Why it was declined"


@pytest.mark.parametrize(
    ("duration", "period"),
    [
        ("MONTHLY", "per trailing month"),
        ("ANNUALLY", "per trailing year"),
        ("FOREVER", "for the profile's whole life"),
    ],
)
def test_a_profile_limit_decline_shows_spent_left_and_the_excess(duration, period):
    check = limit(
        "profile_spend_limit",
        limit="50.00",
        duration=duration,
        spent="30.00",
        remaining="20.00",
        amount="30.00",
        passed=False,
    )
    sentences = decision_sentences(
        trace(CARD_OK, MERCHANT_OK, NO_CARD_LIMIT, check, result="VELOCITY_EXCEEDED")
    )
    assert sentences[0].text.endswith("(VELOCITY_EXCEEDED), at the profile limit.")
    assert sentences[-1].text == (
        f"Profile limit: $50.00 {period}; spent $30.00, $20.00 left; this authorization $30.00 — "
        "over the limit by $10.00: declined."
    )


def test_a_later_request_on_a_per_transaction_limit_counts_what_the_transaction_holds():
    check = limit(spent="52.00", remaining="48.00", amount="18.00")
    assert texts(trace(check))[1] == (
        "Card limit: $100.00 per transaction; $52.00 already on this transaction, $48.00 left; "
        "this authorization $18.00 — within the limit, $30.00 left after it: passed."
    )


def test_a_window_already_over_a_lowered_limit_says_so():
    check = limit(
        duration="MONTHLY", spent="120.00", remaining="-20.00", amount="1.00", passed=False
    )
    assert texts(trace(check, result="VELOCITY_EXCEEDED"))[1] == (
        "Card limit: $100.00 per trailing month; spent $120.00, already over the limit by "
        "$20.00; this authorization $1.00 — over the limit by $21.00: declined."
    )


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({"mcc": "7995", "profile_rule": "BLOCKED"}, "blocked by the profile"),
        ({"mcc": "5812", "profile_has_allow_list": True}, "not on the profile's allow-list"),
        (
            {"mcc": "7995", "mcc_high_risk": True, "account_blocks_high_risk": True},
            "high-risk, and the account blocks high-risk categories",
        ),
    ],
)
def test_each_merchant_refusal_names_the_category_and_the_reason(values, why):
    step = {
        "rule": "merchant_category",
        "profile_rule": None,
        "profile_has_allow_list": False,
        "mcc_high_risk": False,
        "account_blocks_high_risk": True,
        "passed": False,
        **values,
    }
    sentences = decision_sentences(
        trace(CARD_OK, step, result="UNAUTHORIZED_MERCHANT", reason="MCC blocked"),
        mcc_names=NAMES,
    )
    assert sentences[0].text == (
        "Declined by the authorization engine: the merchant category is not allowed "
        "(UNAUTHORIZED_MERCHANT), at the merchant category check."
    )
    assert (
        sentences[-1].text
        == f"Merchant category {values['mcc']} ({NAMES[values['mcc']]}): {why}: declined."
    )


def test_the_example_from_the_console_reads_as_written():
    step = {"rule": "merchant_category", "mcc": "7995", "profile_rule": "BLOCKED", "passed": False}
    assert texts([step, {"result": "UNAUTHORIZED_MERCHANT", "reason": ""}])[1] == (
        "Merchant category 7995 (Betting, casino gambling): blocked by the profile: declined."
    )


def test_a_category_missing_from_the_catalogue_or_allowed_says_so():
    allowed = {
        **MERCHANT_OK,
        "mcc": "5734",
        "profile_rule": "ALLOWED",
        "profile_has_allow_list": True,
    }
    risky = {**MERCHANT_OK, "mcc": "7995", "mcc_high_risk": True, "account_blocks_high_risk": False}
    assert texts(trace(allowed))[1] == (
        "Merchant category 5734 (not in the catalogue): on the profile's allow-list: passed."
    )
    assert texts(trace(risky))[1] == (
        "Merchant category 7995 (Betting, casino gambling): high-risk, allowed by the account's "
        "setting: passed."
    )


@pytest.mark.parametrize(
    ("state", "status", "reason", "rule_text"),
    [
        ("PAUSED", "ACTIVE", "card paused", "card paused, account active"),
        ("OPEN", "SUSPENDED", "account suspended", "card open, account suspended"),
        (
            "PENDING_ACTIVATION",
            "ACTIVE",
            "card pending_activation: only card-not-present use is allowed",
            "card pending activation, account active",
        ),
    ],
)
def test_a_card_or_account_refusal_gives_the_engines_reason(state, status, reason, rule_text):
    step = {
        "rule": "card_and_account",
        "card_state": state,
        "account_status": status,
        "passed": False,
    }
    sentences = decision_sentences(trace(step, result="CARD_PAUSED", reason=reason))
    assert sentences[0].text == (
        "Declined by the authorization engine: the card or the account cannot be used "
        f"(CARD_PAUSED), at the card and account check: {reason}."
    )
    assert sentences[1].text == f"Card and account: {rule_text}: declined."


def test_an_account_changed_under_the_lock_is_a_refusal_without_a_passed_key():
    step = {"rule": "account_under_lock", "account_status": "CLOSED"}
    sentences = decision_sentences(
        trace(CARD_OK, MERCHANT_OK, step, result="CARD_PAUSED", reason="account closed")
    )
    assert sentences[0].text.endswith("at the account check under its lock: account closed.")
    assert sentences[-1].text == "Account re-checked under its lock: account closed: declined."
    assert sentences[-1].outcome == FAILED


def test_insufficient_funds_says_how_short():
    step = funds(
        balance="5000.00", held="4000.00", available="1000.00", amount="1000.01", passed=False
    )
    sentences = decision_sentences(
        trace(
            CARD_OK,
            MERCHANT_OK,
            NO_CARD_LIMIT,
            step,
            result="INSUFFICIENT_FUNDS",
            reason="available balance 1000.00, 1000.01 asked",
        )
    )
    assert sentences[0].text == (
        "Declined by the authorization engine: not enough available balance "
        "(INSUFFICIENT_FUNDS), at the available balance check."
    )
    assert sentences[-1].text == (
        "Available balance: $5,000.00 posted, $4,000.00 held, $1,000.00 available; this "
        "authorization $1,000.01 — short by $0.01: declined."
    )


def test_a_balance_inquiry_is_answered_with_the_balance():
    step = {"rule": "balance_inquiry", "balance": "25000.00", "held": "40.00", "passed": True}
    assert texts(trace(CARD_OK, step)) == [
        "Approved by the authorization engine: every rule passed.",
        "Card and account: card open, account active: passed.",
        "Balance inquiry: $25,000.00 posted, $40.00 held, $24,960.00 available: answered.",
    ]


def test_a_credit_authorization_checks_the_card_only():
    assert texts(trace(CARD_OK)) == [
        "Approved by the authorization engine: every rule passed.",
        "Card and account: card open, account active: passed.",
    ]


def test_an_unknown_rule_shows_its_name_and_values():
    step = {"rule": "velocity_count", "count": 7, "max": 5, "window": "1h", "passed": False}
    sentences = decision_sentences(trace(CARD_OK, step, result="SOMETHING_NEW", reason="x"))
    assert sentences[0].text == (
        'Declined by the authorization engine (SOMETHING_NEW), at rule "velocity_count".'
    )
    assert sentences[-1].text == 'Rule "velocity_count": count=7, max=5, window=1h: declined.'


def test_an_unknown_result_without_a_failed_rule_gives_the_reason():
    sentences = decision_sentences(trace(CARD_OK, result="REVIEW", reason="manual review"))
    assert sentences[0].text == "Declined by the authorization engine (REVIEW): manual review."


@pytest.mark.parametrize(
    "decision",
    [
        None,
        "",
        "not json",
        "[1, 2",
        42,
        3.5,
        True,
        {},
        {"steps": None},
        {"steps": "x"},
        [],
        {"checked_at": CHECKED_AT},
    ],
)
def test_no_trace_says_the_engine_did_not_decide(decision):
    sentences = decision_sentences(decision)
    assert len(sentences) == 1
    assert sentences[0].outcome == NOTE
    assert sentences[0].text.startswith("No decision trace")
    assert decision_title(sentences) == "Why it was approved or declined"


def test_a_bare_list_and_a_json_text_read_like_the_engines_dict():
    steps = trace(CARD_OK)["steps"]
    expected = texts(trace(CARD_OK))
    assert texts(steps) == expected
    assert texts(
        '{"steps": [' + '{"rule": "card_and_account", "card_state": "OPEN", '
        '"account_status": "ACTIVE", "passed": true}, {"result": "APPROVED"}]}'
    ) == (expected)


def test_missing_keys_still_read():
    decision = {
        "steps": [
            {"rule": "card_and_account"},
            {"rule": "merchant_category"},
            {"rule": "card_spend_limit"},
            {"rule": "profile_spend_limit", "limit": "50.00"},
            {"rule": "available_balance", "amount": "1.00"},
            {"rule": "balance_inquiry"},
            {"reason": "no rule key, no result key"},
        ]
    }
    assert texts(decision) == [
        "No final result recorded.",
        "Card and account: card state not recorded, account status not recorded: outcome not "
        "recorded.",
        "Merchant category (none sent): no rule restricts it: outcome not recorded.",
        "Card limit: limit not recorded: outcome not recorded.",
        "Profile limit: $50.00: outcome not recorded.",
        "Available balance: this authorization $1.00: outcome not recorded.",
        "Balance inquiry: outcome not recorded.",
        "Unnamed step: reason=no rule key, no result key: outcome not recorded.",
    ]


def test_numbers_of_any_stored_type_are_exact_money_and_junk_is_shown_as_is():
    check = limit(limit=100, spent=0, remaining=100.1, amount=Decimal("0.10"))
    assert texts(trace(check))[1] == (
        "Card limit: $100.00 per transaction; this authorization $0.10 — within the limit: passed."
    )
    junk = limit(limit="a lot", remaining=None, spent=["x"], amount="NaN", passed="true")
    assert texts(trace(junk))[1] == (
        'Card limit: a lot per transaction; spent ["x"]; this authorization NaN: passed.'
    )
    huge = limit(limit="1e999999", amount=10**30)
    assert texts(trace(huge))[1] == (
        "Card limit: 1e999999 per transaction; this authorization 1000000000000000000000000000000: "
        "passed."
    )
    inf = funds(balance="Infinity", held=True, available=None, amount={"cents": 5})
    assert texts(trace(inf))[1] == "Available balance: Infinity posted, true held: passed."


def test_steps_that_are_not_objects_and_extra_results_are_notes():
    decision = {"steps": ["junk", 5, None, CARD_OK, {"result": "APPROVED"}, {"result": "X"}]}
    sentences = decision_sentences(decision)
    assert sentences[0].text == "Declined by the authorization engine (X)."
    assert [s.text for s in sentences[1:]] == [
        "Also recorded: result APPROVED.",
        'Unreadable step: "junk".',
        "Unreadable step: 5.",
        "Unreadable step: null.",
        "Card and account: card open, account active: passed.",
    ]


def test_a_failed_rule_without_a_result_is_still_a_decline():
    sentences = decision_sentences({"steps": [CARD_OK, limit(passed=False)]})
    assert sentences[0].text == (
        "Declined by the authorization engine, at the card limit (no final result recorded)."
    )
    assert sentences[0].outcome == DECLINED


def test_long_values_are_cut_short():
    step = {"rule": "x" * 10, "blob": "y" * 500}
    (_, sentence) = decision_sentences({"steps": [step, {"result": "APPROVED"}]})
    assert len(sentence.text) < 150 and sentence.text.count("y") == 79


def test_amounts_follow_the_transactions_currency():
    assert texts(trace(limit()), currency="EUR")[1].startswith("Card limit: €100.00")
    assert texts(trace(limit()), currency="")[1].startswith("Card limit: $100.00")


def test_checked_at_and_mccs_are_read_from_the_trace():
    decision = trace(MERCHANT_OK, {**MERCHANT_OK, "mcc": 7995}, {**MERCHANT_OK, "mcc": "79"})
    assert decision_checked_at(decision) == datetime.datetime(
        2026, 11, 14, 15, 20, 8, 123456, tzinfo=datetime.UTC
    )
    assert decision_checked_at({"checked_at": "yesterday"}) is None
    assert decision_checked_at({"checked_at": "2026-11-14T15:20:08"}).tzinfo is datetime.UTC
    assert decision_checked_at([]) is None
    assert decision_mccs([decision, None, "x", {"steps": [1]}]) == {"5812", "7995"}
    assert decision_result(None) == ""


@pytest.mark.django_db
def test_mcc_names_are_one_query_for_every_code(django_assert_num_queries, fixture_actor):
    for mcc, description in NAMES.items():
        SpendingCategory.objects.create(
            mcc=mcc, description=description, group="test", range_start=mcc, range_end=mcc
        )
    with django_assert_num_queries(1):
        assert mcc_descriptions(["7995", "5812", "0001"]) == NAMES
    with django_assert_num_queries(0):
        assert mcc_descriptions([]) == {}


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (
            {
                "event_type": "AUTHORIZATION",
                "result": "APPROVED",
                "amount": Decimal("12.50"),
                "source": "ASA",
                "type_label": "Authorization",
            },
            "Authorization approved, $12.50, from the authorization engine",
        ),
        (
            {
                "event_type": "AUTHORIZATION",
                "result": "VELOCITY_EXCEEDED",
                "source": "ASA",
                "amount": "150",
                "reason": "card spend limit 100.00 TRANSACTION",
            },
            "Authorization declined (VELOCITY_EXCEEDED), $150.00, from the authorization engine: "
            "card spend limit 100.00 TRANSACTION",
        ),
        (
            {"event_type": "CLEARING", "result": "APPROVED", "amount": "48", "source": "LITHIC"},
            "Clearing, $48.00, reported by Lithic",
        ),
        (
            {"event_type": "NEW_KIND", "result": "", "amount": None, "source": "ELSEWHERE"},
            "New kind, source ELSEWHERE",
        ),
    ],
)
def test_an_event_reads_as_one_line(event, text):
    assert event_sentence(**{"reason": "", **event}) == text
