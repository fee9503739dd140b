"""What a `seed_demo` run made, for its report."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LiveSummary:
    """What the live part drove through the services, and what the services recorded."""

    requests: int = 0  # authorization requests decided by the engine (incremental ones too)
    transactions: int = 0
    results: Counter = field(default_factory=Counter)  # by the engine's answer, first requests
    decisions: int = 0  # transactions with the engine's decision trace
    deliveries: int = 0  # webhook deliveries stored in the inbox
    webhooks: Counter = field(default_factory=Counter)  # by the inbox status they ended in
    events: int = 0  # transaction events recorded (our answers and Lithic's)
    ledger_entries: int = 0
    spend_counters: int = 0
    open_holds: int = 0  # transactions still holding funds
    disputes: int = 0
    statuses: Counter = field(default_factory=Counter)  # the live transactions, by status


@dataclass
class SeedSummary:
    accounts: int = 0
    users: int = 0
    addresses: int = 0
    settings: int = 0
    profiles: int = 0
    profile_rules: int = 0
    card_products: int = 0
    cards: Counter = field(default_factory=Counter)  # by state
    transactions: Counter = field(default_factory=Counter)  # bulk-loaded, by status
    transaction_cards: int = 0
    mcc_loaded: int = 0
    window: tuple[datetime.datetime, datetime.datetime] | None = None
    live: LiveSummary | None = None
    # Why the live part did not run, when it was asked for by default but cannot run here.
    live_skipped: str = ""
