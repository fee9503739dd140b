"""Detach the monthly partitions of `transactions` older than a retention period."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import connection, transaction

from core.commands import AuditedCommand
from core.roles import owner_connection
from transactions import partitioning


class Command(AuditedCommand):
    help = (
        "Detach every monthly partition of transactions whose month ended more than "
        "--keep-months months ago. A detached month keeps its rows in a table of its own "
        "(archive it with pg_dump, then drop it); its tokens stay taken and check_ledger keeps "
        "what it counted. Runs as the owner role (DATABASE_MIGRATE_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--keep-months",
            type=int,
            required=True,
            help="months kept besides the current one (at least 13: a year's windows)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be detached, change nothing"
        )

    def handle(self, *args, **options):
        keep = options["keep_months"]
        if keep < 13:
            raise CommandError(
                "--keep-months must be at least 13: the yearly spend windows read a year back"
            )
        if connection.vendor != "postgresql":
            self.stdout.write("detach_transaction_partitions: nothing to do on this database")
            return
        cutoff = partitioning.month_start(partitioning.now_utc(), -keep)
        with owner_connection():
            with connection.cursor() as cursor:
                if partitioning.progress(cursor).state != "partitioned":
                    raise CommandError("transactions is not partitioned yet")
                old = [
                    p
                    for p in partitioning.partitions(cursor)
                    if not p.is_default and p.upper is not None and p.upper <= cutoff
                ]
            if not old:
                self.stdout.write(
                    f"detach_transaction_partitions: no month ends before {cutoff:%Y-%m}"
                )
                return
            for partition in old:
                if options["dry_run"]:
                    self.stdout.write(f"would detach {partition.name} (~{partition.rows} rows)")
                    continue
                try:
                    with transaction.atomic(), connection.cursor() as cursor:
                        rows = partitioning.detach(cursor, partition)
                except partitioning.PartitioningError as error:
                    raise CommandError(str(error)) from error
                self.stdout.write(
                    self.style.SUCCESS(
                        f"detached {partition.name}: {rows} rows, now a table of its own"
                    )
                )
