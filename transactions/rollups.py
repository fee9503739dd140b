"""Daily rollups of transactions (and the merchant names seen), and the overview's figures.

`rollups_refresh()` rebuilds the rollups of the most recent days (ROLLUP_RECENT_DAYS, today
included) from the transactions dated then: each day is one range of the date index, replaced
in one database transaction, so a reader sees either the old or the new day. Statuses change
after the day (settlement, voids), so the recent days are rebuilt again on each run; a day
older than that is final (rebuild it with `--days`).

The overview reads only rollups: 31 days of them, whatever the size of `transactions`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from transactions.models import ZERO, DailyRollup, MerchantName, Transaction, TransactionStatus

DECLINED = TransactionStatus.DECLINED
# Spend is what is held or settled: a voided or expired authorization spent nothing.
SPENT = (TransactionStatus.PENDING, TransactionStatus.SETTLED)


def _day_range(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
    return start, start + datetime.timedelta(days=1)


def rollup_day(day: datetime.date) -> int:
    """Replace the rollups of one UTC day; returns how many rows it now has."""
    start, end = _day_range(day)
    groups = (
        Transaction.objects.filter(transaction_date__gte=start, transaction_date__lt=end)
        .values("account_id", "status", "result", "mcc", "merchant_descriptor")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by()
    )
    rows = [
        DailyRollup(
            day=day,
            account_id=g["account_id"],
            status=g["status"],
            result="" if g["status"] != DECLINED else g["result"],
            mcc=g["mcc"],
            merchant=g["merchant_descriptor"],
            count=g["n"],
            amount=g["total"] or ZERO,
        )
        for g in groups.iterator(chunk_size=5000)
    ]
    names = {row.merchant for row in rows if row.merchant}
    with transaction.atomic():
        DailyRollup.objects.filter(day=day).delete()
        DailyRollup.objects.bulk_create(rows, batch_size=2000)
        MerchantName.objects.bulk_create(
            [MerchantName(name=name) for name in sorted(names)],
            batch_size=2000,
            ignore_conflicts=True,
        )
    return len(rows)


def rollups_refresh(*, days: int | None = None, today: datetime.date | None = None) -> int:
    """Rebuild the last `days` days (ROLLUP_RECENT_DAYS), today included; returns rows written."""
    today = today or timezone.now().astimezone(datetime.UTC).date()
    days = days or settings.ROLLUP_RECENT_DAYS
    written = sum(rollup_day(today - datetime.timedelta(days=back)) for back in range(days))
    cache.delete(OVERVIEW_CACHE_KEY)
    return written


# --- The overview's figures ------------------------------------------------------------------

OVERVIEW_CACHE_KEY = "console:overview:transactions"
OVERVIEW_DAYS = 30
TOP = 8


@dataclass(frozen=True)
class Tally:
    approved: int
    declined: int
    spend: Decimal

    @property
    def decline_rate(self) -> float | None:
        total = self.approved + self.declined
        return None if total == 0 else self.declined / total


@dataclass(frozen=True)
class Overview:
    today: datetime.date
    since: datetime.date
    day: Tally
    month: Tally
    spend_by_day: list[tuple[datetime.date, Decimal]]
    declines_by_result: list[tuple[str, int]]
    declines_by_result_today: list[tuple[str, int]]
    top_merchants: list[tuple[str, int, Decimal]]
    top_mccs: list[tuple[str, int, Decimal]]


def _tally(rows) -> Tally:
    approved = declined = 0
    spend = ZERO
    for status, n, amount in rows:
        if status == DECLINED:
            declined += n
        else:
            approved += n
            if status in SPENT:
                spend += amount
    return Tally(approved=approved, declined=declined, spend=spend)


def overview(*, today: datetime.date | None = None) -> Overview:
    """Today's and the last 30 days' authorizations, spend, declines and top merchants, from
    the rollups (cached for ROLLUP_CACHE_SECONDS)."""
    today = today or timezone.now().astimezone(datetime.UTC).date()
    cached = cache.get(OVERVIEW_CACHE_KEY)
    if cached is not None and cached.today == today:
        return cached
    since = today - datetime.timedelta(days=OVERVIEW_DAYS - 1)
    recent = DailyRollup.objects.filter(day__gte=since, day__lte=today)
    by_day_status = list(
        recent.values_list("day", "status").annotate(n=Sum("count"), total=Sum("amount"))
    )
    day = _tally((s, n, a) for d, s, n, a in by_day_status if d == today)
    month = _tally((s, n, a) for _, s, n, a in by_day_status)
    spend: dict[datetime.date, Decimal] = {}
    for d, status, _, amount in by_day_status:
        if status in SPENT:
            spend[d] = spend.get(d, ZERO) + amount
    spend_by_day = [
        (since + datetime.timedelta(days=i), spend.get(since + datetime.timedelta(days=i), ZERO))
        for i in range(OVERVIEW_DAYS)
    ]
    declined = recent.filter(status=DECLINED)
    approved = recent.filter(status__in=SPENT)
    result = Overview(
        today=today,
        since=since,
        day=day,
        month=month,
        spend_by_day=spend_by_day,
        declines_by_result=list(
            declined.values_list("result").annotate(n=Sum("count")).order_by("-n")[:TOP]
        ),
        declines_by_result_today=list(
            declined.filter(day=today)
            .values_list("result")
            .annotate(n=Sum("count"))
            .order_by("-n")[:TOP]
        ),
        top_merchants=list(
            approved.exclude(merchant="")
            .values_list("merchant")
            .annotate(n=Sum("count"), total=Sum("amount"))
            .order_by("-total")[:TOP]
        ),
        top_mccs=list(
            approved.exclude(mcc="")
            .values_list("mcc")
            .annotate(n=Sum("count"), total=Sum("amount"))
            .order_by("-total")[:TOP]
        ),
    )
    cache.set(OVERVIEW_CACHE_KEY, result, settings.ROLLUP_CACHE_SECONDS)
    return result
