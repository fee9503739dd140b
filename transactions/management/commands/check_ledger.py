import sys

from core.commands import AuditedCommand
from transactions.selectors import ledger_mismatches


class Command(AuditedCommand):
    help = (
        "Prove that every account balance equals the sum of its ledger entries, that held "
        "funds equal the open holds, and that every spend counter equals the open and settled "
        "amounts in its window. Exits 1 on any mismatch."
    )

    def handle(self, *args, **options):
        problems = ledger_mismatches()
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            self.stderr.write(self.style.ERROR(f"check_ledger: {len(problems)} mismatch(es)"))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("check_ledger: balances, holds and counters agree"))
