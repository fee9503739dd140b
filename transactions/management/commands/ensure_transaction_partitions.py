"""Create the coming months' partitions of `transactions` (run daily from cron)."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import connection, transaction

from core.commands import AuditedCommand
from transactions import partitioning


class Command(AuditedCommand):
    help = (
        "Create the monthly partitions of transactions from this month to --months-ahead "
        "months ahead (rows already in the default partition move into their month). Safe to "
        "run at any time and as often as wanted; runs as the runtime role."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--months-ahead",
            type=int,
            default=partitioning.MONTHS_AHEAD,
            help=f"months after this one to create (default {partitioning.MONTHS_AHEAD})",
        )

    def handle(self, *args, **options):
        ahead = options["months_ahead"]
        if not 0 <= ahead <= 120:
            raise CommandError("--months-ahead must be between 0 and 120")
        if connection.vendor != "postgresql":
            self.stdout.write("ensure_transaction_partitions: nothing to do on this database")
            return
        now = partitioning.now_utc()
        with transaction.atomic(), connection.cursor() as cursor:
            if partitioning.progress(cursor).state == "unpartitioned":
                raise CommandError("transactions is not partitioned: run migrate first")
            # A lock it cannot get soon (a long migration) is an error for the next run, not a
            # queue that the responder's writes would wait in.
            cursor.execute("SET LOCAL lock_timeout = '5s'")
            created = partitioning.ensure_partitions(cursor, now, now, months_ahead=ahead)
        last = partitioning.month_start(now, ahead)
        self.stdout.write(
            self.style.SUCCESS(
                f"ensure_transaction_partitions: {created} partition(s) created; every month "
                f"to {last:%Y-%m} has one"
            )
        )
