"""The money primitives shared by the authorization engine and the post-authorization services.

Every function here expects to run inside a transaction that already holds the account's row
lock (`account_lock`), so reads of balance, holds and counters are current and the writes that
follow cannot interleave with another writer of the same account.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F

from accounts.models import Account
from core.history import history_bypass
from core.postgresql.base import run_prepared
from transactions.errors import BalanceWouldGoNegative
from transactions.models import CounterScope, LedgerEntry, LedgerEntryKind
from transactions.spend_windows import periods_written

# FOR NO KEY UPDATE, not FOR UPDATE: it serialises the writers of this account's money but does
# not block the KEY SHARE locks that inserting rows referencing the account (its transactions,
# events, counters) takes.
ACCOUNT_LOCK_SQL = """
SELECT balance, status, deleted IS NOT NULL FROM accounts WHERE id = %s FOR NO KEY UPDATE
"""

# A separate statement after the lock, on purpose: in READ COMMITTED a row joined into the
# locking statement comes from the snapshot taken before the lock wait, and would be stale.
FUNDS_READ_SQL = "SELECT held FROM account_funds WHERE account_id = %s"

FUNDS_OPEN_SQL = """
INSERT INTO account_funds (account_id, held, opened_at, updated_at) VALUES (%s, 0, now(), now())
"""

OPENING_ENTRY_SQL = """
INSERT INTO ledger_entries
    (account_id, transaction_id, event_token, kind, amount, balance_after, created_at, deleted)
VALUES (%s, NULL, NULL, 'OPENING', %s, %s, now(), NULL)
"""

FUNDS_HOLD_SQL = """
UPDATE account_funds SET held = held + %s, updated_at = now()
WHERE account_id = %s AND held + %s >= 0
"""

# The spend in the card's and the profile's windows: a range of day counters (or the lifetime
# counter) each, read through the (scope, owner_id, period) unique index. NULL bounds read none.
COUNTERS_READ_SQL = """
SELECT scope, SUM(amount) FROM spend_counters
WHERE (scope = 'CARD' AND owner_id = %s AND period BETWEEN %s AND %s)
   OR (scope = 'PROFILE' AND owner_id = %s AND period BETWEEN %s AND %s)
GROUP BY scope
"""

COUNTERS_ADD_SQL_HEAD = """
INSERT INTO spend_counters (account_id, scope, owner_id, period, amount, updated_at) VALUES
"""
COUNTERS_ADD_SQL_TAIL = """
ON CONFLICT (scope, owner_id, period)
DO UPDATE SET amount = spend_counters.amount + EXCLUDED.amount, updated_at = now()
"""


Statement = tuple[str, Sequence[Any] | Mapping[str, Any]]


def run_batch(cursor, statements: list[Statement]) -> list[list[tuple] | int]:
    """Several statements in one round trip; each one's rows, or its row count.

    They go as prepared statements of the connection (core.postgresql.base.run_prepared), so
    each is planned once per connection, not at every call. In READ COMMITTED each statement
    still takes its own snapshot, so a read placed after a lock sees what the lock waited for.
    """
    return run_prepared(cursor, statements)


@dataclass(frozen=True)
class LockedAccount:
    balance: Decimal
    status: str
    deleted: bool
    held: Decimal
    spent: dict[str, Decimal]  # by scope: the spend in that scope's window


PeriodRange = tuple[str, str] | None


@dataclass(frozen=True)
class SpendQuery:
    """Which windows to read under the lock: the card's and the profile's period ranges."""

    card_id: int
    card_periods: PeriodRange
    profile_id: int | None
    profile_periods: PeriodRange

    def params(self) -> list[Any]:
        card = self.card_periods or (None, None)
        profile = self.profile_periods or (None, None)
        return [self.card_id, *card, self.profile_id, *profile]


def account_lock(
    cursor,
    account_id: int,
    *,
    spend: SpendQuery | None = None,
    first: Statement | None = None,
) -> LockedAccount:
    """Lock the account row; its posted balance, status, open holds and (optionally) the spend
    in the card's and the profile's windows, all read after the lock.

    The first time the ledger touches an account its funds row and OPENING entry are created
    here, so the ledger always sums to the balance.
    """
    statements: list[Statement] = [(ACCOUNT_LOCK_SQL, [account_id]), (FUNDS_READ_SQL, [account_id])]
    if spend is not None:
        statements.append((COUNTERS_READ_SQL, spend.params()))
    if first is not None:
        # A statement to run in the same round trip before the lock (the time left for it).
        statements.insert(0, first)
    results = run_batch(cursor, statements)
    if first is not None:
        results = results[1:]
    balance, status, deleted = results[0][0]
    held = results[1][0][0] if results[1] else None
    if held is None:
        cursor.execute(FUNDS_OPEN_SQL, [account_id])
        cursor.execute(OPENING_ENTRY_SQL, [account_id, balance, balance])
        held = Decimal("0.00")
    spent: dict[str, Decimal] = {}
    if spend is not None:
        spent = {scope: value for scope, value in results[2]}
    return LockedAccount(balance, status, deleted, held, spent)


def funds_hold_statement(*, account_id: int, delta: Decimal) -> Statement:
    return FUNDS_HOLD_SQL, [delta, account_id, delta]


def funds_hold(cursor, *, account_id: int, delta: Decimal) -> None:
    """Add (or, negative, release) held funds."""
    cursor.execute(*funds_hold_statement(account_id=account_id, delta=delta))
    if cursor.rowcount != 1:
        raise RuntimeError(f"hold change {delta} on account {account_id} would go negative")


def counters_add(
    cursor,
    *,
    account_id: int,
    card_id: int,
    profile_id: int | None,
    moment: datetime.datetime,
    delta: Decimal,
) -> None:
    """Add `delta` to the card's (and the profile's) counters of `moment`'s day and lifetime."""
    windows = counter_windows(card_id=card_id, profile_id=profile_id, moment=moment)
    if delta >= 0:
        cursor.execute(*counters_add_statement(account_id=account_id, windows=windows, delta=delta))
        return
    # A release only ever lowers rows the authorization created; an upsert would check its
    # negative candidate row against the CHECK before finding the conflict.
    keys = " OR ".join(["(scope = %s AND owner_id = %s AND period = %s)"] * len(windows))
    cursor.execute(
        f"UPDATE spend_counters SET amount = amount + %s, updated_at = now() WHERE {keys}",  # noqa: S608 - placeholders only
        [delta, *(value for window in windows for value in window)],
    )
    if cursor.rowcount != len(windows):
        raise RuntimeError(f"spend counters missing for {windows}")


def counter_windows(
    *, card_id: int, profile_id: int | None, moment: datetime.datetime
) -> list[tuple[str, int, str]]:
    owners = [(CounterScope.CARD.value, card_id)]
    if profile_id is not None:
        owners.append((CounterScope.PROFILE.value, profile_id))
    periods = periods_written(moment)
    return [(scope, owner, period) for scope, owner in owners for period in periods]


def counters_add_statement(
    *, account_id: int, windows: list[tuple[str, int, str]], delta: Decimal
) -> Statement:
    """The upsert adding a non-negative `delta` to each window's counter."""
    values, params = [], []
    for scope, owner, period in windows:
        values.append("(%s, %s, %s, %s, %s, now())")
        params += [account_id, scope, owner, period, delta]
    return COUNTERS_ADD_SQL_HEAD + ", ".join(values) + COUNTERS_ADD_SQL_TAIL, params


def ledger_post(
    *,
    account_id: int,
    amount: Decimal,
    kind: LedgerEntryKind,
    transaction_id: int | None,
    event_token: uuid.UUID | None,
) -> LedgerEntry:
    """Change the posted balance by `amount` and write the ledger entry that records it."""
    changed = Account.all_objects.filter(pk=account_id)
    if amount < 0:
        changed = changed.filter(balance__gte=-amount)
    # The audit record of a balance change is the immutable ledger entry written just below,
    # in the same transaction; a simple-history row per authorization would duplicate it.
    with history_bypass(f"ledger entry {kind} on account {account_id}"):
        updated = changed.update(balance=F("balance") + amount)
    if updated != 1:
        raise BalanceWouldGoNegative(f"posting {amount} would take account {account_id} below zero")
    with connection.cursor() as cursor:
        cursor.execute("SELECT balance FROM accounts WHERE id = %s", [account_id])
        (balance_after,) = cursor.fetchone()
    return LedgerEntry.objects.create(
        account_id=account_id,
        transaction_id=transaction_id,
        event_token=event_token,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
    )
