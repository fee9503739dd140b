"""Report every difference between our cards and transactions and Lithic's; --fix takes Lithic's."""

from __future__ import annotations

import datetime
import sys

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.commands import AuditedCommand
from core.models import check_run_record
from lithic_integration import gateway as lithic_gateway
from lithic_integration.errors import LithicError
from lithic_integration.reconcile import (
    format_table,
    reconcile_balances,
    reconcile_cards,
    reconcile_transactions,
)


def _moment(value: str) -> datetime.datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r} is not a date (YYYY-MM-DD) or an ISO date-time")
        moment = datetime.datetime.combine(day, datetime.time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return moment


class Command(AuditedCommand):
    help = (
        "Page through Lithic's cards and transactions and report every difference from ours "
        "(missing here, missing at Lithic, state, last four, spend limit, transaction status "
        "and amounts), and the accounts whose latest balance reported by Lithic differs from "
        "ours. --fix applies Lithic's version through the same services the webhooks use. "
        "Exits 1 while differences remain."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="apply Lithic's version")
        parser.add_argument(
            "--since",
            help="transactions created since this date or date-time (UTC; default 30 days ago)",
        )
        parser.add_argument("--cards-only", action="store_true", help="skip transactions")
        parser.add_argument("--transactions-only", action="store_true", help="skip cards")

    def handle(self, *args, **options):
        if not lithic_gateway.outbound_enabled():
            raise CommandError("LITHIC_API_KEY is not set: there is no Lithic to compare with.")
        since = (
            _moment(options["since"])
            if options["since"]
            else timezone.now() - datetime.timedelta(days=30)
        )
        differences = []
        try:
            if not options["transactions_only"]:
                differences += reconcile_cards(fix=options["fix"])
            if not options["cards_only"]:
                differences += reconcile_transactions(since=since, fix=options["fix"])
                differences += reconcile_balances()
        except LithicError as exc:
            check_run_record("reconcile_lithic", ok=False, summary=f"stopped: {exc.message}")
            raise CommandError(f"reconcile_lithic stopped: {exc.message}") from exc
        remaining = [d for d in differences if not d.fixed]
        if differences:
            for line in format_table(differences):
                self.stdout.write(line)
        fixed = len(differences) - len(remaining)
        summary = f"reconcile_lithic: {len(differences)} difference(s), {fixed} fixed"
        check_run_record(
            "reconcile_lithic",
            ok=not remaining,
            summary=f"{len(differences)} difference(s), {fixed} fixed, {len(remaining)} remaining",
        )
        if remaining:
            self.stderr.write(self.style.ERROR(f"{summary}, {len(remaining)} remaining"))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(summary))
