import sys

from core.commands import AuditedCommand
from core.models import check_run_record
from transactions.selectors import ledger_mismatches


class Command(AuditedCommand):
    help = (
        "Prove that every account balance equals the sum of its ledger entries, that held "
        "funds equal the open holds, and that every spend counter equals the open and settled "
        "amounts in its window. Exits 1 on any mismatch."
    )

    def handle(self, *args, **options):
        problems = ledger_mismatches()
        check_run_record(
            "check_ledger",
            ok=not problems,
            summary=f"{len(problems)} mismatch(es): " + "; ".join(problems[:5])
            if problems
            else "balances, holds and counters agree",
        )
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            self.stderr.write(self.style.ERROR(f"check_ledger: {len(problems)} mismatch(es)"))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("check_ledger: balances, holds and counters agree"))
