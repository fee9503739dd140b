from core.commands import AuditedCommand
from transactions.rollups import rollups_refresh


class Command(AuditedCommand):
    help = (
        "Rebuild the daily rollups the console's overview reads, for the last ROLLUP_RECENT_DAYS "
        "days (or --days N). Run every minute (docs/operations.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="How many recent days")

    def handle(self, *args, **options):
        days = options["days"]
        if days is not None and days < 1:
            self.stderr.write("--days must be at least 1")
            raise SystemExit(2)
        written = rollups_refresh(days=days)
        self.stdout.write(f"refresh_rollups: {written} rollup row(s) written")
