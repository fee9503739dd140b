"""How the console writes money, times and counts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import formats

from core.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("227426.60"), "USD", "$227,426.60"),
        (Decimal("-12"), "USD", "\u2212$12.00"),
        (Decimal("0.5"), "EUR", "€0.50"),
        (Decimal("1250"), "CHF", "1,250.00 CHF"),
        (1234567, "usd", "$1,234,567.00"),
        (None, "USD", ""),
    ],
)
def test_money_has_its_currency_and_thousands_separators(amount, currency, shown):
    assert format_money(amount, currency) == shown


def test_the_money_filter_is_right_aligned_and_escaped():
    html = Template("{% load console %}{{ a|money:c }}").render(
        Context({"a": Decimal("1000"), "c": "<b>"})
    )
    assert html == '<span class="money">1,000.00 &lt;B&gt;</span>'


def test_times_show_seconds_and_the_time_zone():
    moment = datetime.datetime(2026, 12, 7, 14, 3, 27, tzinfo=datetime.UTC)
    assert formats.date_format(moment, "DATETIME_FORMAT") == "7 Dec 2026, 14:03:27 UTC"
    assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == "2026-12-07 14:03:27 UTC"
