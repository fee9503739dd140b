from django.core.management.base import CommandError
from tqdm import tqdm

from core.commands import AuditedCommand
from core.encryption import DecryptionError
from core.key_rotation import count_rows, models_with_encrypted_columns, rotate_model
from core.roles import owner_connection


class Command(AuditedCommand):
    help = (
        "Re-encrypt every encrypted column (history tables too) under the first key of "
        "FERNET_KEYS and refresh blind indexes. Safe to interrupt and run again. Runs as the "
        "owner role (DATABASE_MIGRATE_URL): history tables are append-only to the runtime role."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; exit 1 if any row is not yet under the first key.",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, batch_size, check, no_progress, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        with owner_connection():
            self._rotate(batch_size=batch_size, check=check, no_progress=no_progress)

    def _rotate(self, *, batch_size, check, no_progress):
        models = models_with_encrypted_columns()
        total = sum(count_rows(model) for model in models)
        pending = 0
        with tqdm(total=total, unit="row", disable=no_progress, file=self.stderr._out) as progress:
            for model in models:
                try:
                    stats = rotate_model(
                        model, batch_size=batch_size, dry_run=check, on_batch=progress.update
                    )
                except DecryptionError as exc:
                    raise CommandError(str(exc)) from exc
                pending += stats.rotated
                verb = "need re-encryption" if check else "re-encrypted"
                self.stdout.write(f"{stats.label}: {stats.scanned} rows, {stats.rotated} {verb}")
        if check and pending:
            raise CommandError(f"{pending} rows are not under the first key yet")
        self.stdout.write(self.style.SUCCESS("All encrypted values are under the first key."))
