"""The overview's transaction sections: authorizations, spend, declines, top merchants and
categories (from the daily rollups, transactions.rollups), and the ledger check."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html

from core.admin import overview_section
from core.charts import bar_rows, column_chart
from core.models import check_run_latest
from core.money import format_money
from core.panels import Figure, overview_panel, when
from spending.models import SpendingCategory
from transactions.models import TransactionStatus
from transactions.rollups import SPENT, overview

APPROVED_STATUSES = ",".join(s for s in TransactionStatus.values if s != TransactionStatus.DECLINED)
SPENT_STATUSES = ",".join(SPENT)


def transactions_url(first: datetime.date, last: datetime.date, **filters: str) -> str:
    """The transaction list for these UTC days (inclusive), with these filters."""
    end = last + datetime.timedelta(days=1)
    query = {
        "transaction_date__gte": f"{first.isoformat()}T00:00:00Z",
        "transaction_date__lt": f"{end.isoformat()}T00:00:00Z",
        **filters,
    }
    return f"{reverse('admin:transactions_transaction_changelist')}?{urlencode(query)}"


def _rate(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"


def _allowed(request) -> bool:
    return request.user.has_perm("transactions.view_transaction")


@overview_section
def authorizations_section(request):
    if not _allowed(request):
        return None
    data = overview()
    figures = []
    for key, tally, first, caption in (
        ("today", data.day, data.today, "today"),
        ("30d", data.month, data.since, "last 30 days"),
    ):
        figures += [
            Figure(f"approved-{key}", f"{tally.approved:,}", f"approved, {caption}",
                   transactions_url(first, data.today, status__in=APPROVED_STATUSES)),
            Figure(f"declined-{key}", f"{tally.declined:,}", f"declined, {caption}",
                   transactions_url(first, data.today, status__exact=TransactionStatus.DECLINED),
                   bad=bool(tally.declined)),
            Figure(f"decline-rate-{key}", _rate(tally.decline_rate), f"decline rate, {caption}"),
            Figure(f"spend-{key}", format_money(tally.spend), f"spend, {caption}",
                   transactions_url(first, data.today, status__in=SPENT_STATUSES)),
        ]  # fmt: skip
    return overview_panel(
        id="overview-authorizations",
        title="Authorizations",
        order=10,
        figures=figures,
        note="UTC days, from the daily rollups (rebuilt every minute by refresh_rollups).",
    )


@overview_section
def spend_section(request):
    if not _allowed(request):
        return None
    data = overview()
    days = [day for day, _ in data.spend_by_day]
    chart = column_chart(
        [(f"{day.day} {day:%b}", amount) for day, amount in data.spend_by_day],
        title="Spend per day, last 30 days",
        label=format_money,
        href=lambda i: transactions_url(days[i], days[i], status__in=SPENT_STATUSES),
    )
    return overview_panel(
        id="overview-spend", title="Spend per day (30 days)", order=20, html=chart
    )


@overview_section
def declines_section(request):
    if not _allowed(request):
        return None
    data = overview()
    rows = [
        (result or "(no reason)", n,
         transactions_url(data.since, data.today, status__exact=TransactionStatus.DECLINED,
                          result__exact=result))
        for result, n in data.declines_by_result
    ]  # fmt: skip
    today = ", ".join(f"{result}: {n:,}" for result, n in data.declines_by_result_today)
    return overview_panel(
        id="overview-declines",
        title="Declines by reason (30 days)",
        order=30,
        html=bar_rows(rows, value_label=lambda n: f"{n:,}"),
        note=f"Today: {today}" if today else "No declines today.",
    )


def _top_spend(*, id: str, title: str, order: int, top, label, lookup: str):
    """Bars of the top spenders of the 30 days, each a link to its transactions."""
    data = overview()
    rows = [
        (label(key), total, transactions_url(data.since, data.today, **{lookup: key}))
        for key, _, total in top(data)
    ]
    return overview_panel(
        id=id, title=title, order=order, html=bar_rows(rows, value_label=format_money)
    )


@overview_section
def merchants_section(request):
    if not _allowed(request):
        return None
    return _top_spend(
        id="overview-merchants",
        title="Top merchants by spend (30 days)",
        order=40,
        top=lambda data: data.top_merchants,
        label=str,
        lookup="merchant_descriptor__exact",
    )


@overview_section
def categories_section(request):
    if not _allowed(request):
        return None
    mccs = [mcc for mcc, _, _ in overview().top_mccs]
    names = dict(SpendingCategory.objects.filter(mcc__in=mccs).values_list("mcc", "description"))
    return _top_spend(
        id="overview-mccs",
        title="Top merchant categories by spend (30 days)",
        order=50,
        top=lambda data: data.top_mccs,
        label=lambda mcc: f"{mcc} {names.get(mcc, '')}".strip(),
        lookup="mcc__exact",
    )


@overview_section
def ledger_section(request):
    if not _allowed(request):
        return None
    run = check_run_latest("check_ledger")
    if run is None:
        figure = Figure("ledger-check", "never run", "check_ledger", bad=True)
    else:
        figure = Figure(
            "ledger-check",
            "agrees" if run.ok else "MISMATCH",
            f"check_ledger, {when(run.ran_at)}",
            bad=not run.ok,
        )
    return overview_panel(
        id="overview-ledger",
        title="Ledger",
        order=60,
        figures=[figure],
        note=format_html("{}", run.summary) if run else "Run `manage.py check_ledger` daily.",
    )
