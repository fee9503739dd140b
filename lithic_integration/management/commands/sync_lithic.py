"""Push pending card and spending-profile changes to Lithic until Lithic confirms them."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import CommandError

from cards.models import Card
from core.commands import AuditedCommand
from lithic_integration import gateway as lithic_gateway
from lithic_integration.auth_rules import spending_profile_push
from lithic_integration.cards import card_push
from lithic_integration.outbox import sync_due, sync_push
from spending.models import LithicSyncStatus, SpendingProfile

# Cards first: a new card reaches Lithic (with its profile tag) before its profile's rule moves.
SYNCED_MODELS = ((Card, card_push), (SpendingProfile, spending_profile_push))


class Command(AuditedCommand):
    help = (
        "Push every PENDING card and spending profile to Lithic, retrying failures with "
        "exponential backoff and jitter (LITHIC_SYNC_BACKOFF_*). Runs until SIGTERM/SIGINT "
        "(finishing the push in hand), or with --once until nothing is due. REJECTED and "
        "LOCAL_ONLY rows are left to an operator (the console's 'Push to Lithic now')."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="push what is due now, then exit")
        parser.add_argument(
            "--retry-now",
            action="store_true",
            help="also push pending rows whose next attempt is not due yet (after an outage)",
        )
        parser.add_argument("--batch-size", type=int, default=100, help="rows read at a time")
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=None,
            help="seconds to wait when nothing is due (default LITHIC_SYNC_POLL_SECONDS)",
        )

    def handle(self, *args, **options):
        if not lithic_gateway.outbound_enabled():
            raise CommandError(
                "Outbound sync to Lithic is off (LITHIC_API_KEY is not set); nothing to push."
            )
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        poll = options["poll_interval"]
        poll = float(settings.LITHIC_SYNC_POLL_SECONDS) if poll is None else poll
        stopping = threading.Event()

        def stop(signum, frame):
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        totals = dict.fromkeys(LithicSyncStatus.values, 0)
        retry_now = options["retry_now"]
        while not stopping.is_set():
            pushed = 0
            for model, push in SYNCED_MODELS:
                for pk in sync_due(model=model, limit=options["batch_size"], retry_now=retry_now):
                    if stopping.is_set():
                        break
                    status = sync_push(model=model, pk=pk, push=push)
                    if status:
                        totals[status] += 1
                    pushed += 1
            if options["once"] and (retry_now or not pushed):
                break
            # --retry-now applies to the first pass only; afterwards the backoff rules again.
            retry_now = False
            if not pushed:
                stopping.wait(poll)
        summary = ", ".join(f"{n} {status.lower()}" for status, n in totals.items() if n)
        self.stdout.write(f"sync_lithic: {summary or 'nothing was due'}")
