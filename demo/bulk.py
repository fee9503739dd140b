"""The demo's transaction history, loaded in bulk: a year of card activity in seconds.

One row generator (`transaction_rows`) feeds two loaders: PostgreSQL streams the rows through
COPY, so memory stays flat at millions of rows; other databases (the SQLite of
`make run-sqlite`) use `bulk_create` in batches. The benchmarks in bench/ load through the same
generator.

These rows are history as it stood before this back office kept a ledger: written directly, with
no decision trace, events, holds or spend counters, so `check_ledger` holds on them. What the
product itself records comes from the live part (`demo.live`), through the services.

Everything random is drawn from `transaction_rng(seed)`; transaction tokens are `uuid4()`.
"""

from __future__ import annotations

import datetime
import itertools
import random
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql
from tqdm import tqdm

from accounts.selectors import account_setting_value
from cards.models import Card, CardState
from demo.merchants import (
    EVERYONE,
    SINGLE_MESSAGE_MCCS,
    TIPPED_MCCS,
    MerchantPicker,
    cents,
    picker_for,
)
from demo.summary import SeedSummary
from spending.models import ProfileCategory, SpendingCategory
from transactions import partitioning
from transactions.models import Transaction, TransactionStatus, TransactionType

# The order of the values in every generated row: the COPY column list and the bulk_create
# field names at once. `id` is left to the database.
TRANSACTION_COLUMNS = (
    "token",
    "account_id",
    "card_id",
    "amount",
    "settled_amount",
    "currency",
    "merchant_descriptor",
    "merchant_city",
    "merchant_country",
    "mcc",
    "type",
    "status",
    "result",
    "declined_reason",
    "transaction_date",
    "created_at",
    "updated_at",
    "deleted",
    "hold_amount",
    "refunded_amount",
    "profile_id",
    "counted",
    "decision",
    "cardholder_id",
)
STATUS_INDEX = TRANSACTION_COLUMNS.index("status")

COPY_CHUNK_ROWS = 50_000
BULK_CREATE_BATCH = 2_000

WINDOW_DAYS = 365
PENDING_DAYS = 7  # authorizations younger than this may not have cleared yet
PAUSED_DAYS = 21  # paused cards were paused this long ago: newer attempts are declined
CLOSED_DAYS = 60  # closed cards were closed this long ago: they have no newer activity

OTHER_DECLINES = (
    ("INSUFFICIENT_FUNDS", "Insufficient funds in the program account", 4),
    ("VELOCITY_EXCEEDED", "Card spend limit reached for the period", 4),
    ("SUSPECTED_FRAUD", "Declined by fraud rules: unusual merchant and amount for this card", 2),
)
_OTHER_DECLINE_CUM = list(itertools.accumulate(weight for _, _, weight in OTHER_DECLINES))
RANDOM_DECLINE_RATE = 0.03
PENDING_RATE = 0.7
VOID_RATE = 0.015
EXPIRY_RATE = 0.004
REFUND_RATE = 0.015
TIP_RATE = 0.5
DECLINED = TransactionStatus.DECLINED

# Spend happens in office hours, UTC-ish for a US program: weight per hour of the day.
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 11, 10, 10, 9, 9, 9, 8, 7, 6, 4, 2, 1)
_HOUR_CUM = list(itertools.accumulate(_HOUR_WEIGHTS))

ZERO = Decimal("0.00")


def transaction_rng(seed: int) -> random.Random:
    """The random stream of the transaction rows, apart from the program's own stream."""
    return random.Random(f"transactions:{seed}")  # noqa: S311 - demo data, not security


@dataclass(frozen=True)
class CardSpend:
    """What the row generator needs to know about one card."""

    card_id: int
    account_id: int
    currency: str
    state: str
    profile_name: str = ""
    allowed_mccs: frozenset[str] = frozenset()  # non-empty: the profile is an allow-list
    blocked_mccs: frozenset[str] = frozenset()
    high_risk_mccs: frozenset[str] = frozenset()  # empty unless the account blocks high risk
    lithic_card_token: uuid.UUID | None = None  # what Lithic names the card in its requests

    def refusal(self, mcc: str) -> str:
        """Why the card's rules refuse this MCC, or "" if they do not."""
        if mcc in self.high_risk_mccs:
            return (
                f"Merchant category {mcc} is high-risk and the account blocks high-risk merchants"
            )
        if self.allowed_mccs and mcc not in self.allowed_mccs:
            return (
                f"Merchant category {mcc} is not allowed by spending profile '{self.profile_name}'"
            )
        if mcc in self.blocked_mccs:
            return f"Merchant category {mcc} is blocked by spending profile '{self.profile_name}'"
        return ""


def card_spends(*, account_ids: Iterable[int] | None = None) -> list[CardSpend]:
    """Live cards that can have transactions, with the rules that decline them, in id order."""
    live = (
        Card.objects.filter(state__in=(CardState.OPEN, CardState.PAUSED, CardState.CLOSED))
        .select_related("account", "profile")
        .order_by("id")
    )
    if account_ids is not None:
        live = live.filter(account_id__in=list(account_ids))
    cards = list(live)

    rules: dict[int, dict[str, set[str]]] = {}
    profile_rules = ProfileCategory.objects.filter(
        profile_id__in={c.profile_id for c in cards if c.profile_id}
    ).values_list("profile_id", "category__mcc", "rule")
    for profile_id, mcc, rule in profile_rules:
        rules.setdefault(profile_id, {}).setdefault(rule, set()).add(mcc)

    high_risk = frozenset(
        SpendingCategory.objects.filter(is_high_risk=True).values_list("mcc", flat=True)
    )
    blocks_high_risk = {
        account.pk: account_setting_value(account=account, key="block_high_risk_mcc")
        for account in {c.account for c in cards}
    }

    spends = []
    for card in cards:
        card_rules = rules.get(card.profile_id, {}) if card.profile_id else {}
        spends.append(
            CardSpend(
                card_id=card.pk,
                account_id=card.account_id,
                currency=card.account.currency,
                state=card.state,
                profile_name=card.profile.name if card.profile else "",
                allowed_mccs=frozenset(card_rules.get(ProfileCategory.Rule.ALLOWED, ())),
                blocked_mccs=frozenset(card_rules.get(ProfileCategory.Rule.BLOCKED, ())),
                high_risk_mccs=high_risk if blocks_high_risk[card.account_id] else frozenset(),
                lithic_card_token=card.lithic_card_token,
            )
        )
    return spends


def transaction_rows(
    *,
    cards: Sequence[CardSpend],
    count: int,
    rng: random.Random,
    now: datetime.datetime,
) -> Iterator[tuple]:
    """Yield `count` transaction rows (values in TRANSACTION_COLUMNS order) over the last year.

    A generator on purpose: the loaders stream it, so a million rows never sit in memory.
    """
    if count <= 0:
        return
    if not cards:
        raise ValueError("no cards to put transactions on")
    everyone = EVERYONE  # locals: read for every row
    pickers: dict[frozenset[str], MerchantPicker] = {}
    for card in cards:
        if card.allowed_mccs and card.allowed_mccs not in pickers:
            pickers[card.allowed_mccs] = picker_for(card.allowed_mccs)
    # Some cards are used every day, some once a month.
    card_weights = [
        rng.randint(2, 12)
        if c.state == CardState.OPEN
        else (3 if c.state == CardState.PAUSED else 2)
        for c in cards
    ]
    card_cum = list(itertools.accumulate(card_weights))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day = datetime.timedelta(days=1)
    hours = range(24)

    for _ in range(count):
        card = rng.choices(cards, cum_weights=card_cum)[0]
        picker = pickers.get(card.allowed_mccs, everyone)
        # A card on an allow-list is mostly used where it works; the rest are declines.
        merchant = picker.pick(rng) if rng.random() < 0.95 else everyone.pick(rng)
        city, country = rng.choice(merchant.places)

        if card.state == CardState.CLOSED:
            age_days = rng.randrange(CLOSED_DAYS, WINDOW_DAYS)
        else:
            age_days = rng.randrange(WINDOW_DAYS)
        hour = rng.choices(hours, cum_weights=_HOUR_CUM)[0]
        when = (
            midnight
            - age_days * day
            + datetime.timedelta(
                seconds=hour * 3600 + rng.randrange(3600), microseconds=rng.randrange(1_000_000)
            )
        )
        if when > now:
            when -= day

        amount_cents = merchant.amount_cents(rng)
        settled_cents = 0
        result, declined_reason = "APPROVED", ""
        if merchant.refundable and rng.random() < REFUND_RATE:
            # A refund from the merchant: credits are not subject to spending rules.
            kind = TransactionType.CREDIT_AUTHORIZATION
            status, settled_cents = TransactionStatus.SETTLED, amount_cents
        else:
            kind = (
                TransactionType.FINANCIAL_AUTHORIZATION
                if merchant.mcc in SINGLE_MESSAGE_MCCS
                else TransactionType.AUTHORIZATION
            )
            refusal = card.refusal(merchant.mcc)
            if card.state == CardState.PAUSED and age_days < PAUSED_DAYS:
                status, result, declined_reason = DECLINED, "CARD_PAUSED", "Card is paused"
            elif refusal:
                status, result, declined_reason = DECLINED, "UNAUTHORIZED_MERCHANT", refusal
            elif rng.random() < RANDOM_DECLINE_RATE:
                status = DECLINED
                result, declined_reason, _ = rng.choices(
                    OTHER_DECLINES, cum_weights=_OTHER_DECLINE_CUM
                )[0]
            elif age_days < PENDING_DAYS and rng.random() < PENDING_RATE:
                status = TransactionStatus.PENDING
            elif rng.random() < VOID_RATE:
                status = TransactionStatus.VOIDED
            elif age_days > 30 and rng.random() < EXPIRY_RATE:
                status = TransactionStatus.EXPIRED
            else:
                status, settled_cents = TransactionStatus.SETTLED, amount_cents
                if merchant.mcc in TIPPED_MCCS and rng.random() < TIP_RATE:
                    # Restaurants authorize the bill and clear it with the tip added.
                    settled_cents += amount_cents * rng.randint(15, 22) // 100

        yield (
            uuid.uuid4(),
            card.account_id,
            card.card_id,
            cents(amount_cents),
            cents(settled_cents),
            card.currency,
            merchant.descriptor,
            city,
            country,
            merchant.mcc,
            kind.value,
            status.value,
            result,
            declined_reason,
            when,
            now,
            now,
            None,
            # Demo history predates the ledger: no open holds and nothing in the spend counters,
            # so `check_ledger` holds on a seeded database.
            ZERO,
            ZERO,
            None,
            False,
            None,
            # The cardholder at authorization is what the engine records; this history predates it.
            None,
        )


def csv_field(value) -> str:
    """One value as a field of PostgreSQL's CSV format (the loaders' and the benchmark's)."""
    # Strings are always quoted: in PostgreSQL's CSV format an unquoted empty field is NULL,
    # and blank merchant fields and reasons must stay empty strings.
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return str(value)


def csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    """Each row as one line of PostgreSQL's CSV format, newline included."""
    for row in rows:
        yield ",".join(map(csv_field, row)) + "\n"


def _csv_chunk(rows: Iterator[tuple]) -> tuple[bytes, int]:
    """The next COPY_CHUNK_ROWS rows (fewer at the end) as CSV, and how many there are."""
    lines = list(csv_lines(itertools.islice(rows, COPY_CHUNK_ROWS)))
    return "".join(lines).encode(), len(lines)


def _copy_rows(rows: Iterator[tuple], on_rows: Callable[[int], object]) -> None:
    """COPY each chunk into a temporary table, then INSERT ... SELECT it into `transactions`.

    PostgreSQL refuses COPY FROM into a table under row-level security; a temporary table has
    none, and the INSERT then passes the policy's check like any other write (core.tenancy).
    A worker thread makes the next chunk while the server inserts this one (the waiting on the
    server releases the GIL), so generation costs time only where the server would be idle.
    A chunk in flight is a few megabytes of CSV, whatever the number of rows.
    """
    connection.ensure_connection()
    raw = connection.connection
    table = sql.Identifier(Transaction._meta.db_table)
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in TRANSACTION_COLUMNS)
    staging = sql.Identifier("demo_transactions_staging")
    with connection.cursor() as cursor:
        # Through Django's cursor: it carries the tenant context into the transaction.
        cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS {} ON COMMIT DROP AS "
                "SELECT {} FROM {} WITH NO DATA"
            )
            .format(staging, columns, table)
            .as_string(raw)
        )
    copy_statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(staging, columns)
    move_statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}; TRUNCATE {}").format(
        table, columns, columns, staging, staging
    )
    # One COPY per chunk keeps each statement bounded and lets progress advance between them;
    # all of them run inside the caller's transaction. The worker is the only reader of `rows`.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-rows") as worker:
        upcoming = worker.submit(_csv_chunk, rows)
        with raw.cursor() as cursor:
            while True:
                data, count = upcoming.result()
                if not count:
                    return
                upcoming = worker.submit(_csv_chunk, rows)
                with cursor.copy(copy_statement) as copy:
                    copy.write(data)
                cursor.execute(move_statement)
                on_rows(count)


def _bulk_create_rows(rows: Iterator[tuple], on_rows: Callable[[int], object]) -> None:
    while True:
        batch = [
            Transaction(**dict(zip(TRANSACTION_COLUMNS, row, strict=True)))
            for row in itertools.islice(rows, BULK_CREATE_BATCH)
        ]
        if not batch:
            return
        Transaction.objects.bulk_create(batch)
        on_rows(len(batch))


def transactions_load(rows: Iterable[tuple], *, total: int, progress: bool = False) -> Counter:
    """Insert generated rows (COPY on PostgreSQL, bulk_create elsewhere); counts by status."""
    statuses: Counter = Counter()
    if total <= 0:
        return statuses  # nothing to load: the table is not touched (nor need its columns)

    def counted(source: Iterable[tuple]) -> Iterator[tuple]:
        for row in source:
            statuses[row[STATUS_INDEX]] += 1
            yield row

    with (
        tqdm(
            total=total, desc="transactions", unit="txn", file=sys.stderr, disable=not progress
        ) as bar,
        transaction.atomic(),
    ):
        loader = _copy_rows if connection.vendor == "postgresql" else _bulk_create_rows
        loader(counted(rows), bar.update)
    return statuses


def partitions_ensure(now: datetime.datetime) -> None:
    """On PostgreSQL, each month of the window in its own partition, not the default one."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        partitioning.ensure_partitions(
            cursor,
            now - datetime.timedelta(days=WINDOW_DAYS),
            now,
            months_ahead=partitioning.MONTHS_AHEAD,
        )


def transactions_add(
    *,
    count: int,
    seed: int,
    progress: bool = False,
    account_ids: Iterable[int] | None = None,
    summary: SeedSummary | None = None,
) -> SeedSummary:
    """Add `count` transactions spread over the last year across the existing cards."""
    summary = summary or SeedSummary()
    cards = card_spends(account_ids=account_ids)
    if count > 0 and not cards:
        raise ValueError("there are no open, paused or closed cards to add transactions to")
    now = timezone.now()
    if count > 0:
        partitions_ensure(now)
    rows = transaction_rows(cards=cards, count=count, rng=transaction_rng(seed), now=now)
    summary.transactions += transactions_load(rows, total=count, progress=progress)
    summary.transaction_cards = len(cards)
    summary.window = (now - datetime.timedelta(days=WINDOW_DAYS), now)
    return summary
