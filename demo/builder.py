"""A whole demo program in one call: the program, its history in bulk, then live activity.

The program and the bulk history are one transaction (all of it or nothing). The live activity
runs after it has committed, through the services, each step committed as production commits
it: the authorization engine and the webhook worker open their own durable transactions.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from demo.bulk import transactions_add
from demo.live import LIVE_DEFAULT, live_activity_possible, live_activity_run
from demo.program import program_create, program_rng
from demo.summary import SeedSummary
from spending.models import SpendingCategory
from spending.services import mcc_catalogue_load


def live_default(*, transactions: int, transactions_only: bool) -> tuple[int, str]:
    """How many of `transactions` go through the services when not told, and if none can
    here although some would have, why not."""
    if transactions_only or transactions <= 0:
        return 0, ""
    reason = live_activity_possible()
    if reason:
        return 0, reason
    return min(LIVE_DEFAULT, transactions), ""


@transaction.atomic
def program_seed(
    *,
    accounts: int,
    users_per_account: int,
    cards_per_account: int,
    transactions: int,
    seed: int,
    progress: bool = False,
) -> tuple[SeedSummary, list[int]]:
    """The program and `transactions` of bulk history, in one transaction; and its accounts."""
    summary = SeedSummary()
    if not SpendingCategory.all_objects.exists():
        summary.mcc_loaded = mcc_catalogue_load()["created"]
    accounts_created = program_create(
        accounts=accounts,
        users_per_account=users_per_account,
        cards_per_account=cards_per_account,
        rng=program_rng(seed),
        summary=summary,
        progress=progress,
    )
    account_ids = [account.pk for account in accounts_created]
    transactions_add(
        count=transactions, seed=seed, progress=progress, account_ids=account_ids, summary=summary
    )
    return summary, account_ids


def demo_seed(
    *,
    accounts: int,
    users_per_account: int,
    cards_per_account: int,
    transactions: int,
    live: int,
    seed: int,
    progress: bool = False,
) -> SeedSummary:
    """Build a demo program with `transactions` transactions, `live` of them through the
    services and the rest loaded in bulk."""
    if not 0 <= live <= transactions:
        raise ValueError(f"live transactions ({live}) must be between 0 and {transactions}")
    summary, account_ids = program_seed(
        accounts=accounts,
        users_per_account=users_per_account,
        cards_per_account=cards_per_account,
        transactions=transactions - live,
        seed=seed,
        progress=progress,
    )
    if live:
        summary.live = live_activity_run(
            count=live, seed=seed, account_ids=account_ids, progress=progress
        )
    return summary


def transactions_extend(
    *,
    transactions: int,
    live: int,
    seed: int,
    progress: bool = False,
    account_ids: Iterable[int] | None = None,
) -> SeedSummary:
    """Add `transactions` to the cards already present, `live` of them through the services."""
    if not 0 <= live <= transactions:
        raise ValueError(f"live transactions ({live}) must be between 0 and {transactions}")
    summary = transactions_add(
        count=transactions - live, seed=seed, progress=progress, account_ids=account_ids
    )
    if live:
        summary.live = live_activity_run(
            count=live, seed=seed, account_ids=account_ids, progress=progress
        )
    return summary
