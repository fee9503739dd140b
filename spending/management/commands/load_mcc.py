from core.commands import AuditedCommand
from spending.services import mcc_catalogue_load


class Command(AuditedCommand):
    help = "Load or update the ISO 18245 merchant category codes (idempotent)."

    def handle(self, *args, **options):
        counts = mcc_catalogue_load()
        self.stdout.write(
            self.style.SUCCESS(
                "MCC catalogue: {created} created, {updated} updated, {unchanged} unchanged".format(
                    **counts
                )
            )
        )
