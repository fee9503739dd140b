"""Spend windows are calendar months and years in UTC: the edges, to the microsecond."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.transactions.conftest import asa_body
from transactions import ledger
from transactions.selectors import ledger_mismatches

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


@pytest.fixture
def at(monkeypatch):
    def move(moment: datetime.datetime):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return move


def test_period_keys_are_utc_calendar_windows():
    moment = datetime.datetime(
        2026, 12, 31, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
    )
    # 23:30 in New York on New Year's Eve is already January in UTC.
    assert ledger.period_keys(moment) == ("2027-01", "2027", "life")
    assert ledger.period_for("TRANSACTION", moment) is None


@pytest.mark.parametrize(
    ("duration", "before", "after", "fresh"),
    [
        # The month turns: the MONTHLY limit starts again, ANNUALLY and FOREVER do not.
        ("MONTHLY", datetime.datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),
         datetime.datetime(2026, 11, 1, tzinfo=UTC), True),
        ("ANNUALLY", datetime.datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),
         datetime.datetime(2026, 11, 1, tzinfo=UTC), False),
        # The year turns: MONTHLY and ANNUALLY start again, FOREVER does not.
        ("MONTHLY", datetime.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
         datetime.datetime(2027, 1, 1, tzinfo=UTC), True),
        ("ANNUALLY", datetime.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
         datetime.datetime(2027, 1, 1, tzinfo=UTC), True),
        ("FOREVER", datetime.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
         datetime.datetime(2027, 1, 1, tzinfo=UTC), False),
        # Inside one month nothing resets.
        ("MONTHLY", datetime.datetime(2026, 2, 1, tzinfo=UTC),
         datetime.datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC), False),
    ],
)  # fmt: skip
def test_window_edges(asa, acme, make_card, categories, at, duration, before, after, fresh):
    card = make_card(acme, spend_limit=Decimal("100.00"), spend_limit_duration=duration)
    at(before)
    assert asa(asa_body(card, 10_000))[1]["result"] == "APPROVED"  # the whole limit
    assert asa(asa_body(card, 1))[1]["result"] == "VELOCITY_EXCEEDED"
    at(after)
    assert asa(asa_body(card, 10_000))[1]["result"] == (
        "APPROVED" if fresh else "VELOCITY_EXCEEDED"
    )
    assert ledger_mismatches() == []
