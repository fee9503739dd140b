"""Run a webhook worker: `manage.py process_webhooks` (a service) or `--once` (cron)."""

from __future__ import annotations

import signal

from django.core.management.base import CommandError
from django.db import connection

from core.commands import AuditedCommand
from webhooks.worker import Worker, WorkerConfig


class Command(AuditedCommand):
    help = (
        "Apply stored Lithic webhook events: claim due events, run their handlers, retry "
        "failures with backoff. Runs until SIGTERM/SIGINT (finishing the event in hand), or "
        "with --once until nothing is due. Defaults come from the WEBHOOK_* settings."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="process what is due now, then exit (cron)"
        )
        parser.add_argument("--batch-size", type=int, help="events claimed at a time")
        parser.add_argument(
            "--lease-seconds",
            type=float,
            help="how long a claim lasts before another worker may take it over",
        )
        parser.add_argument(
            "--poll-interval", type=float, help="seconds to wait when nothing is due"
        )
        parser.add_argument(
            "--max-attempts", type=int, help="failed runs after which an event is DEAD"
        )
        parser.add_argument("--retry-base-seconds", type=float, help="delay after a first failure")
        parser.add_argument("--retry-max-seconds", type=float, help="longest delay between runs")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The webhook workers need PostgreSQL (DATABASE_URL).")
        try:
            config = WorkerConfig.from_settings(
                batch_size=options["batch_size"],
                lease_seconds=options["lease_seconds"],
                poll_interval=options["poll_interval"],
                max_attempts=options["max_attempts"],
                retry_base_seconds=options["retry_base_seconds"],
                retry_max_seconds=options["retry_max_seconds"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        worker = Worker(config=config)

        def stop(signum, frame):
            worker.request_stop()

        # The event in hand finishes; the rest of the batch is handed back, then we exit 0.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        summary = worker.run(once=options["once"])
        self.stdout.write(f"{worker.name}: {summary}")
