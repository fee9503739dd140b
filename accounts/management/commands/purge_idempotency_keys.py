from django.conf import settings

from accounts.api.idempotency import purge_expired
from core.commands import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Delete stored Idempotency-Key responses older than IDEMPOTENCY_KEY_TTL_HOURS "
        "(run it daily, e.g. from cron)."
    )

    def handle(self, *args, **options):
        deleted = purge_expired()
        self.stdout.write(
            f"Deleted {deleted} idempotency record(s) older than "
            f"{settings.IDEMPOTENCY_KEY_TTL_HOURS} hours."
        )
