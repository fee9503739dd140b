from accounts.security import security_log_flush
from core.commands import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Write the security log's rows for refusal windows that have ended (repeated identical "
        "refusals from one origin, counted). Run it every minute, e.g. from cron."
    )

    def handle(self, *args, **options):
        closed = total = security_log_flush()
        while closed:
            closed = security_log_flush()
            total += closed
        self.stdout.write(f"Closed {total} refusal window(s).")
