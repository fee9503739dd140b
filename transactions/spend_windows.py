"""Spend limit windows exactly as Lithic defines them for `spend_limit_duration`.

Lithic's definitions (OpenAPI schema `spend_limit_duration`), and how they are read here:

- `TRANSACTION`: each authorization on its own; no window.
- `MONTHLY`: "the trailing month ... the time window we consider for monthly velocity starts
  6 days after the current calendar date one month prior". Today's date one month back (the
  last day of the shorter month when that date does not exist: 31 March goes back to 28 or
  29 February), plus 6 days, up to and including today.
- `ANNUALLY`: "the trailing year": the days after today's date one year back (29 February goes
  back to 28 February), up to and including today: 365 days, or 366 across a 29 February.
- `FOREVER`: the card's (or profile's) whole life.

Dates are UTC calendar dates: Lithic states every time in UTC, so a daylight-saving change
anywhere never moves a window's edge. Spend is kept per UTC day (`spend_counters`), so a
decision sums at most 366 small rows whatever the size of the transactions table.
"""

from __future__ import annotations

import calendar
import datetime

from spending.models import SpendLimitDuration
from transactions.models import LIFETIME_PERIOD

MONTHLY_OFFSET_DAYS = 6


def utc_date(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(datetime.UTC).date()


def shift_months(day: datetime.date, months: int) -> datetime.date:
    """The same day of the month `months` later (or earlier), clamped to that month's end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


def window_first_day(duration: str, moment: datetime.datetime) -> datetime.date | None:
    """The first UTC day a limit of this duration counts at `moment`; None for TRANSACTION and
    FOREVER (no window, or all of time)."""
    today = utc_date(moment)
    if duration == SpendLimitDuration.MONTHLY:
        return shift_months(today, -1) + datetime.timedelta(days=MONTHLY_OFFSET_DAYS)
    if duration == SpendLimitDuration.ANNUALLY:
        return shift_months(today, -12) + datetime.timedelta(days=1)
    return None


def day_period(moment: datetime.datetime | datetime.date) -> str:
    """The counter period of the UTC day a moment falls on: `2026-11-14`."""
    day = moment if not isinstance(moment, datetime.datetime) else utc_date(moment)
    return day.isoformat()


def periods_read(duration: str | None, moment: datetime.datetime) -> tuple[str, str] | None:
    """The range of counter periods (first, last, inclusive) a limit of this duration reads at
    `moment`; None when it reads none (TRANSACTION, or no limit)."""
    if duration == SpendLimitDuration.FOREVER:
        return LIFETIME_PERIOD, LIFETIME_PERIOD
    first = window_first_day(duration or "", moment)
    if first is None:
        return None
    return day_period(first), day_period(moment)


def periods_written(moment: datetime.datetime) -> tuple[str, str]:
    """The counter periods spend at `moment` is added to: its UTC day, and the lifetime."""
    return day_period(moment), LIFETIME_PERIOD
