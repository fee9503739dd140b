"""Reads of the transactions app: the ledger and counter reconciliation, a card's spend."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from accounts.roles import OWN_ONLY
from spending.models import SpendLimitDuration
from transactions.models import (
    LIFETIME_PERIOD,
    ZERO,
    BalanceReport,
    CounterScope,
    Dispute,
    SpendCounter,
    Transaction,
)
from transactions.spend_windows import day_period, periods_read, window_first_day

# Posted balance against the ledger, for every account the ledger has touched; accounts it has
# not touched must have no entries.
BALANCE_MISMATCH_SQL = """
SELECT a.id, a.balance, COALESCE(e.total, 0)
FROM accounts a
LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM ledger_entries GROUP BY account_id) e
       ON e.account_id = a.id
LEFT JOIN account_funds f ON f.account_id = a.id
WHERE (f.account_id IS NOT NULL OR e.account_id IS NOT NULL)
  AND a.balance IS DISTINCT FROM COALESCE(e.total, 0)
ORDER BY a.id
"""

HOLD_MISMATCH_SQL = """
SELECT COALESCE(f.account_id, h.account_id), COALESCE(f.held, 0), COALESCE(h.total, 0)
FROM account_funds f
FULL JOIN (SELECT account_id, SUM(hold_amount) AS total FROM transactions
            WHERE hold_amount > 0 GROUP BY account_id) h
       ON h.account_id = f.account_id
WHERE COALESCE(f.held, 0) <> COALESCE(h.total, 0)
ORDER BY 1
"""

# Every counter against the open and settled amounts of the counted transactions of its UTC day
# (or of all time, for `life`), those of detached months included (transactions.partitioning).
COUNTER_MISMATCH_SQL = """
WITH counted AS (
    SELECT card_id, profile_id, hold_amount + settled_amount AS amount,
           to_char(transaction_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
    FROM transactions WHERE counted
), expected AS (
    SELECT scope, owner_id, period, SUM(amount) AS amount FROM (
        SELECT 'CARD' AS scope, card_id AS owner_id, day AS period, amount FROM counted
        UNION ALL SELECT 'CARD', card_id, 'life', amount FROM counted
        UNION ALL SELECT 'PROFILE', profile_id, day, amount FROM counted
                  WHERE profile_id IS NOT NULL
        UNION ALL SELECT 'PROFILE', profile_id, 'life', amount FROM counted
                  WHERE profile_id IS NOT NULL
        UNION ALL SELECT scope, owner_id, period, amount FROM transactions_retired_spend
    ) windows GROUP BY scope, owner_id, period
)
SELECT COALESCE(c.scope, x.scope), COALESCE(c.owner_id, x.owner_id),
       COALESCE(c.period, x.period), COALESCE(c.amount, 0), COALESCE(x.amount, 0)
FROM spend_counters c
FULL JOIN expected x
       ON x.scope = c.scope AND x.owner_id = c.owner_id AND x.period = c.period
WHERE COALESCE(c.amount, 0) <> COALESCE(x.amount, 0)
ORDER BY 1, 2, 3
"""

# What each dispute says it credited against the ledger entries its events posted.
DISPUTE_MISMATCH_SQL = """
SELECT d.id, d.credited, COALESCE(SUM(l.amount), 0)
FROM disputes d
LEFT JOIN dispute_events e ON e.dispute_id = d.id
LEFT JOIN ledger_entries l ON l.event_token = e.token AND l.kind = 'DISPUTE'
GROUP BY d.id, d.credited
HAVING d.credited <> COALESCE(SUM(l.amount), 0)
ORDER BY d.id
"""

ENTRY_CHAIN_SQL = """
SELECT account_id, id, balance_after, running FROM (
    SELECT account_id, id, balance_after,
           SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS running
    FROM ledger_entries
) entries
WHERE balance_after <> running
ORDER BY account_id, id
"""


def ledger_mismatches() -> list[str]:
    """Every way the balances, holds and counters disagree with the records; empty if none."""
    problems: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(BALANCE_MISMATCH_SQL)
        for account_id, balance, total in cursor.fetchall():
            problems.append(f"account {account_id}: balance {balance} != ledger sum {total}")
        cursor.execute(ENTRY_CHAIN_SQL)
        for account_id, entry_id, after, running in cursor.fetchall():
            problems.append(
                f"account {account_id}: ledger entry {entry_id} says balance {after}, "
                f"entries up to it sum to {running}"
            )
        cursor.execute(HOLD_MISMATCH_SQL)
        for account_id, held, total in cursor.fetchall():
            problems.append(f"account {account_id}: held {held} != open holds {total}")
        cursor.execute(DISPUTE_MISMATCH_SQL)
        for dispute_id, credited, posted in cursor.fetchall():
            problems.append(f"dispute {dispute_id}: credited {credited} != ledger entries {posted}")
        cursor.execute(COUNTER_MISMATCH_SQL)
        for scope, owner_id, period, stored, expected in cursor.fetchall():
            problems.append(
                f"{scope.lower()} {owner_id} window {period}: counter {stored} != "
                f"open + settled {expected}"
            )
    return problems


def transaction_list(*, actor) -> QuerySet[Transaction]:
    """Transactions of the actor's account (their own for roles limited to their own: made
    while they held the card), with the card and the cardholder's token (`cardholder_token`)
    the API shows joined in.

    Only the cardholder's token: a whole user row would decrypt the cardholder's personal data
    once per transaction listed."""
    transactions = (
        Transaction.objects.filter(account_id=actor.account_id)
        .select_related("card")
        # Who held the card at authorization; for older rows (not recorded then), its holder now.
        .annotate(cardholder_token=Coalesce(F("cardholder__token"), F("card__cardholder__token")))
    )
    if actor.role in OWN_ONLY:
        # Their own spending: not a previous holder's on a card they hold now.
        transactions = transactions.filter(
            Q(cardholder=actor) | Q(cardholder__isnull=True, card__cardholder=actor)
        )
    return transactions


def dispute_list(*, actor) -> QuerySet[Dispute]:
    """Disputes of the actor's account (of their own cards for roles limited to their own)."""
    disputes = Dispute.objects.filter(account_id=actor.account_id).select_related(
        "transaction", "card"
    )
    if actor.role in OWN_ONLY:
        disputes = disputes.filter(card__cardholder=actor)
    return disputes.order_by("-opened_at", "-id")


def balance_report_list(*, actor) -> QuerySet[BalanceReport]:
    """Lithic's balance reports of the actor's account beside ours, newest first."""
    return BalanceReport.objects.filter(account_id=actor.account_id).order_by("-reported_at", "-id")


def latest_balance_reports() -> QuerySet[BalanceReport]:
    """The latest balance report of each of our accounts Lithic reported on."""
    return (
        BalanceReport.objects.filter(account__isnull=False)
        .order_by("account_id", "-reported_at", "-id")
        .distinct("account_id")
    )


@dataclass(frozen=True)
class LimitWindow:
    """One limit of a card (its own, or its profile's) and the spend it counts now."""

    owner: str  # "Card", or "Profile <name>"
    limit: Decimal
    duration: str
    first_day: datetime.date | None  # None: all of the card's life, or each transaction alone
    last_day: datetime.date | None
    spent: Decimal | None  # None for a per-transaction limit: there is no window to fill

    @property
    def remaining(self) -> Decimal | None:
        return None if self.spent is None else max(self.limit - self.spent, ZERO)

    @property
    def used_percent(self) -> int | None:
        if self.spent is None or self.limit <= 0:
            return None
        return min(100, int(self.spent * 100 / self.limit))


def _counted(scope: str, owner_id: int, duration: str, moment: datetime.datetime) -> Decimal:
    periods = periods_read(duration, moment)
    if periods is None:
        return ZERO
    counters = SpendCounter.objects.filter(scope=scope, owner_id=owner_id)
    if periods == (LIFETIME_PERIOD, LIFETIME_PERIOD):
        counters = counters.filter(period=LIFETIME_PERIOD)
    else:
        counters = counters.filter(period__gte=periods[0], period__lte=periods[1])
    return counters.aggregate(total=Sum("amount"))["total"] or ZERO


def card_limit_windows(card, moment: datetime.datetime) -> list[LimitWindow]:
    """The card's limit and its profile's, each with the window the authorization engine reads
    at `moment` (transactions.spend_windows) and what the spend counters hold for it."""
    limits = []
    if card.spend_limit > 0:
        limits.append(("Card", CounterScope.CARD, card.pk, card.spend_limit,
                       card.spend_limit_duration))  # fmt: skip
    profile = card.profile
    if profile is not None and profile.spend_limit:
        limits.append((f"Profile {profile.name}", CounterScope.PROFILE, profile.pk,
                       profile.spend_limit, profile.spend_limit_duration))  # fmt: skip
    windows = []
    for owner, scope, owner_id, limit, duration in limits:
        per_transaction = duration == SpendLimitDuration.TRANSACTION
        first = window_first_day(duration, moment)
        windows.append(
            LimitWindow(
                owner=owner,
                limit=limit,
                duration=duration,
                first_day=first,
                last_day=None
                if per_transaction
                else datetime.date.fromisoformat(day_period(moment)),
                spent=None if per_transaction else _counted(scope, owner_id, duration, moment),
            )
        )
    return windows


def card_recent_transactions(card, *, limit: int = 10) -> list[Transaction]:
    return list(Transaction.objects.filter(card=card).order_by("-transaction_date")[:limit])
