from django.core.management.base import CommandError

from accounts.security import verify_chain
from core.commands import AuditedCommand

SHOWN = 20


class Command(AuditedCommand):
    help = (
        "Walk the security log's hash chain from its first row and report every row edited, "
        "removed or slipped in; exits non-zero if there is one. Record the head it prints "
        "somewhere the database's owner cannot write (a ticket, a daily report) and pass it "
        "back with --expect-head to find rows removed at the end."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            metavar="SEQ:HASH",
            help="A head printed by an earlier run: that row must still be there, unchanged.",
        )

    def handle(self, *args, **options):
        expect = None
        if options["expect_head"]:
            seq, _, digest = options["expect_head"].partition(":")
            if not seq.isdigit() or len(digest) != 64:
                raise CommandError("--expect-head takes SEQ:HASH, as this command prints it.")
            expect = (int(seq), digest.lower())
        report, problems = verify_chain(expect_head=expect)
        found = 0
        for problem in problems:
            found += 1
            if found <= SHOWN:
                self.stderr.write(str(problem))
        if found > SHOWN:
            self.stderr.write(f"... and {found - SHOWN} more.")
        head = f"{report.head_seq}:{report.head_hash}"
        if found:
            raise CommandError(
                f"The security log is NOT intact: {found} problem(s) in {report.rows} row(s)."
            )
        self.stdout.write(f"The security log is intact: {report.rows} row(s). Head {head}")
