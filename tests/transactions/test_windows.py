"""Spend windows decide exactly as Lithic's `spend_limit_duration` does: trailing, by UTC date.

MONTHLY starts 6 days after today's date one month back; ANNUALLY is the days after today's
date one year back; both end today. The edges are tested to the microsecond, at month ends,
across a leap day, and across daylight-saving changes (which never move a UTC date).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.transactions.conftest import asa_body
from transactions import spend_windows
from transactions.selectors import ledger_mismatches

UTC = datetime.UTC
D = datetime.date
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("today", "monthly_from", "annually_from"),
    [
        (D(2026, 12, 2), D(2026, 11, 8), D(2025, 12, 3)),
        # Month ends: 31 March goes back to the last day of February.
        (D(2026, 3, 31), D(2026, 3, 6), D(2025, 4, 1)),
        (D(2026, 3, 29), D(2026, 3, 6), D(2025, 3, 30)),
        (D(2026, 3, 1), D(2026, 2, 7), D(2025, 3, 2)),
        (D(2026, 1, 5), D(2025, 12, 11), D(2025, 1, 6)),
        (D(2026, 5, 31), D(2026, 5, 6), D(2025, 6, 1)),
        # Leap years: 29 February exists in 2028, so 31 March goes back to it.
        (D(2028, 3, 31), D(2028, 3, 6), D(2027, 4, 1)),
        (D(2028, 2, 29), D(2028, 2, 4), D(2027, 3, 1)),
        (D(2029, 2, 28), D(2029, 2, 3), D(2028, 2, 29)),
        (D(2029, 3, 1), D(2029, 2, 7), D(2028, 3, 2)),
    ],
)
def test_window_first_days(today, monthly_from, annually_from):
    moment = datetime.datetime.combine(today, datetime.time(12, 0), tzinfo=UTC)
    assert spend_windows.window_first_day("MONTHLY", moment) == monthly_from
    assert spend_windows.window_first_day("ANNUALLY", moment) == annually_from
    assert spend_windows.window_first_day("TRANSACTION", moment) is None
    assert spend_windows.periods_read("FOREVER", moment) == ("life", "life")
    assert spend_windows.periods_read("TRANSACTION", moment) is None
    assert spend_windows.periods_read(None, moment) is None


@pytest.mark.parametrize(
    ("local", "utc_day"),
    [
        # New York springs forward at 02:00 on 8 March 2026 and falls back on 1 November:
        # the day a moment counts on is its UTC date either side of the change.
        (datetime.datetime(2026, 3, 8, 1, 59, 59, 999999, tzinfo=NEW_YORK), "2026-03-08"),
        (datetime.datetime(2026, 3, 8, 3, 0, tzinfo=NEW_YORK), "2026-03-08"),
        (datetime.datetime(2026, 3, 8, 20, 0, tzinfo=NEW_YORK), "2026-03-09"),  # 00:00 UTC
        (datetime.datetime(2026, 3, 8, 19, 59, 59, 999999, tzinfo=NEW_YORK), "2026-03-08"),
        (datetime.datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK), "2026-11-01"),
        (datetime.datetime(2026, 11, 1, 19, 0, tzinfo=NEW_YORK), "2026-11-02"),  # 00:00 UTC
        (datetime.datetime(2026, 10, 31, 20, 0, tzinfo=NEW_YORK), "2026-11-01"),  # 00:00 UTC
    ],
)
def test_days_are_utc_dates_whatever_the_local_clock_does(local, utc_day):
    assert spend_windows.day_period(local) == utc_day
    assert spend_windows.periods_written(local) == (utc_day, "life")


def at_utc(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=UTC)


def end_of(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.max, tzinfo=UTC)


@pytest.fixture
def at(monkeypatch):
    def move(moment: datetime.datetime):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return move


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("duration", "spent_at", "still_counted_at", "no_longer_counted_at"),
    [
        # Spent on 7 November: a MONTHLY window counts it up to 1 December (which starts on
        # 7 November), and no longer from 2 December (which starts on the 8th), to the
        # microsecond of midnight UTC.
        ("MONTHLY", at_utc(2026, 11, 7, 0, 0), end_of(D(2026, 12, 1)), at_utc(2026, 12, 2)),
        # Spent on 6 March 2026: 31 March's window starts on 6 March (28 February + 6 days).
        ("MONTHLY", end_of(D(2026, 3, 6)), end_of(D(2026, 3, 31)), at_utc(2026, 4, 1)),
        # Spent on 2 December 2025: the trailing year of 1 December 2026 still has it.
        ("ANNUALLY", end_of(D(2025, 12, 2)), end_of(D(2026, 12, 1)), at_utc(2026, 12, 2)),
        # Spent on the leap day: counted through 28 February 2029, gone on 1 March.
        ("ANNUALLY", at_utc(2028, 2, 29, 12), end_of(D(2029, 2, 28)), at_utc(2029, 3, 1)),
        # Spent in New York's evening of 7 March 2026, already 8 March in UTC, the night DST
        # starts: it counts on 8 March, so it leaves on 3 April, not on 2 April as a New York
        # date would have it.
        (
            "MONTHLY",
            datetime.datetime(2026, 3, 7, 20, 30, tzinfo=NEW_YORK).astimezone(UTC),
            end_of(D(2026, 4, 2)),
            at_utc(2026, 4, 3),
        ),
    ],
)
def test_spend_leaves_the_window_exactly_as_lithic_says(
    asa, acme, make_card, categories, at, duration, spent_at, still_counted_at, no_longer_counted_at
):
    card = make_card(acme, spend_limit=Decimal("100.00"), spend_limit_duration=duration)
    at(spent_at)
    assert asa(asa_body(card, 10_000))[1]["result"] == "APPROVED"  # the whole limit
    at(still_counted_at)
    assert asa(asa_body(card, 1))[1]["result"] == "VELOCITY_EXCEEDED"
    at(no_longer_counted_at)
    assert asa(asa_body(card, 10_000))[1]["result"] == "APPROVED"
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_lifetime_and_per_transaction_limits_have_no_window(asa, acme, make_card, categories, at):
    forever = make_card(acme, spend_limit=Decimal("50.00"), spend_limit_duration="FOREVER")
    each = make_card(acme, spend_limit=Decimal("50.00"), spend_limit_duration="TRANSACTION")
    at(at_utc(2026, 1, 1))
    assert asa(asa_body(forever, 5_000))[1]["result"] == "APPROVED"
    assert asa(asa_body(each, 5_000))[1]["result"] == "APPROVED"
    at(at_utc(2030, 1, 1))
    assert asa(asa_body(forever, 1))[1]["result"] == "VELOCITY_EXCEEDED"
    assert asa(asa_body(each, 5_000))[1]["result"] == "APPROVED"
    assert asa(asa_body(each, 5_001))[1]["result"] == "VELOCITY_EXCEEDED"


@pytest.mark.django_db
def test_a_profiles_window_is_lithics_too(asa, acme, make_card, categories, at, fixture_actor):
    from spending.services import spending_profile_create

    profile = spending_profile_create(
        account=acme, name="Trailing", spend_limit=Decimal("80.00"), spend_limit_duration="MONTHLY"
    )
    card = make_card(acme, profile=profile)
    at(at_utc(2026, 11, 7, 23))
    assert asa(asa_body(card, 8_000))[1]["result"] == "APPROVED"
    at(end_of(D(2026, 12, 1)))
    assert asa(asa_body(card, 1))[1]["result"] == "VELOCITY_EXCEEDED"
    at(at_utc(2026, 12, 2))
    assert asa(asa_body(card, 8_000))[1]["result"] == "APPROVED"


@pytest.mark.django_db
def test_the_decision_reads_counters_never_a_sum_over_transactions(
    asa, acme, make_card, categories
):
    card = make_card(acme, spend_limit=Decimal("1000.00"), spend_limit_duration="ANNUALLY")
    with CaptureQueriesContext(connection) as queries:
        assert asa(asa_body(card, 100))[1]["result"] == "APPROVED"
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    # One indexed lookup by token (is this an incremental authorization?) in the keys of the
    # transactions, and no read of the transactions themselves.
    assert re.findall(r"FROM transactions\b", sql) == []
    assert len(re.findall(r"FROM transaction_keys WHERE token = ", sql)) == 1
    assert "SUM(amount) FROM spend_counters" in sql
