"""Convert an unpartitioned `transactions` table while the product runs (docs/operations.md)."""

from __future__ import annotations

import time

import psycopg
from django.core.management.base import CommandError
from django.db import connection, transaction

from core.commands import AuditedCommand
from core.roles import grant_runtime_privileges, owner_connection
from transactions import partitioning


class Command(AuditedCommand):
    help = (
        "Copy the rows of the unpartitioned transactions table into the partitioned one that "
        "migrate built beside it, in batches (interrupt and run again at any time: it goes on "
        "where it stopped), compare counts and sums month by month, and swap the tables under "
        "a short lock. Runs as the owner role (DATABASE_MIGRATE_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=20_000, help="rows per batch")
        parser.add_argument(
            "--pause", type=float, default=0.0, help="seconds to wait between batches"
        )
        parser.add_argument(
            "--status", action="store_true", help="say where the conversion is, change nothing"
        )
        parser.add_argument(
            "--no-swap", action="store_true", help="copy and compare, but do not swap"
        )
        parser.add_argument(
            "--drop-old",
            action="store_true",
            help=f"after the swap, drop {partitioning.OLD} (archive it first)",
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1 or options["pause"] < 0:
            raise CommandError("--batch-size must be positive and --pause not negative")
        if connection.vendor != "postgresql":
            raise CommandError("transactions are partitioned on PostgreSQL only")
        with owner_connection() as as_owner:
            with connection.cursor() as cursor:
                state = partitioning.progress(cursor)
            if options["status"]:
                self._report(state)
                return
            if state.state == "unpartitioned":
                raise CommandError("nothing to convert from: run migrate first")
            if state.state == "copying":
                self._copy(options["batch_size"], options["pause"])
                self._check()
                if options["no_swap"]:
                    self.stdout.write("copied and compared; not swapped (--no-swap)")
                    return
                self._swap(as_owner)
            else:
                self.stdout.write("transactions is partitioned")
            if options["drop_old"]:
                with transaction.atomic(), connection.cursor() as cursor:
                    try:
                        partitioning.drop_old(cursor)
                    except partitioning.PartitioningError as error:
                        raise CommandError(str(error)) from error
                self.stdout.write(f"dropped {partitioning.OLD}")

    def _report(self, state: partitioning.Progress) -> None:
        if state.state == "copying":
            self.stdout.write(
                f"copying: {state.rows_copied} rows copied through id {state.copied_through}, "
                f"{state.rows_left} left"
            )
        else:
            self.stdout.write(state.state)

    def _copy(self, size: int, pause: float) -> None:
        total, started = 0, time.monotonic()
        while True:
            # One transaction per batch: an interruption loses at most the batch in progress.
            with transaction.atomic(), connection.cursor() as cursor:
                seen = partitioning.copy_batch(cursor, size)
            if not seen:
                break
            total += seen
            rate = total / max(time.monotonic() - started, 1e-6)
            self.stdout.write(f"copied {total} rows ({rate:,.0f} rows/s)")
            if pause:
                time.sleep(pause)

    def _check(self) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            # One snapshot of both tables: every committed write is in both or in neither. The
            # statement must come first in the transaction, before the tenant context.
            with psycopg.ClientCursor(connection.connection) as first:
                first.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            found = partitioning.differences(cursor)
            months = len(partitioning.figures(cursor, partitioning.SHADOW))
        if found:
            for line in found:
                self.stderr.write(line)
            raise CommandError(
                f"{len(found)} month(s) differ: nothing was swapped; run the command again"
            )
        self.stdout.write(f"counts and sums agree in all {months} month(s)")

    def _swap(self, as_owner: bool) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                partitioning.swap(cursor)
        except Exception as error:
            raise CommandError(
                f"the swap did not happen ({error}); the old table still serves: run again"
            ) from error
        with transaction.atomic(), connection.cursor() as cursor:
            partitioning.validate_references(cursor)
        if as_owner:
            grant_runtime_privileges()
        self.stdout.write(
            self.style.SUCCESS(
                f"swapped: transactions is partitioned; the old table is {partitioning.OLD}"
            )
        )
