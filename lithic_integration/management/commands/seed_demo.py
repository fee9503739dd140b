from django.core.management.base import CommandError

from accounts.models import Account
from core.commands import AuditedCommand
from lithic_integration import demo


class Command(AuditedCommand):
    help = (
        "Create a realistic demo card program: accounts, users with every role, addresses, "
        "settings, spending profiles, card products, cards and a year of transactions."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=3, help="accounts to create")
        parser.add_argument(
            "--users-per-account",
            type=int,
            default=6,
            help=f"users per account, at least {len(demo.ROLES_IN_ORDER)} (one per role)",
        )
        parser.add_argument("--cards-per-account", type=int, default=8)
        parser.add_argument(
            "--transactions", type=int, default=2000, help="transactions in total, over all cards"
        )
        parser.add_argument("--seed", type=int, default=42, help="the same seed, the same data")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing if any account exists (what `make run` uses on every start)",
        )
        parser.add_argument(
            "--transactions-only",
            action="store_true",
            help="only add --transactions transactions to the cards already present",
        )

    def handle(self, *args, **options):
        if options["if_empty"] and Account.all_objects.exists():
            self.stdout.write("Accounts already exist: nothing seeded (--if-empty).")
            return
        if options["transactions"] < 0:
            raise CommandError("--transactions cannot be negative.")
        progress = not options["no_progress"]

        if options["transactions_only"]:
            try:
                summary = demo.transactions_add(
                    count=options["transactions"], seed=options["seed"], progress=progress
                )
            except ValueError as exc:
                raise CommandError(
                    f"{exc}; run seed_demo without --transactions-only first."
                ) from exc
            self._report_transactions(summary)
            return

        if options["accounts"] < 1:
            raise CommandError("--accounts must be at least 1.")
        if options["users_per_account"] < len(demo.ROLES_IN_ORDER):
            raise CommandError(
                f"--users-per-account must be at least {len(demo.ROLES_IN_ORDER)}, "
                "so that every account has every role."
            )
        if options["cards_per_account"] < 1:
            raise CommandError("--cards-per-account must be at least 1.")
        try:
            summary = demo.demo_seed(
                accounts=options["accounts"],
                users_per_account=options["users_per_account"],
                cards_per_account=options["cards_per_account"],
                transactions=options["transactions"],
                seed=options["seed"],
                progress=progress,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self._report_program(summary, seed=options["seed"])
        self._report_transactions(summary)

    def _line(self, label: str, value) -> None:
        self.stdout.write(f"  {label:<18} {value}")

    @staticmethod
    def _breakdown(counter) -> str:
        parts = ", ".join(f"{key} {count}" for key, count in counter.most_common())
        return f" ({parts})" if parts else ""

    def _report_program(self, summary: demo.SeedSummary, *, seed: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"Seeded a demo card program (seed {seed}):"))
        if summary.mcc_loaded:
            self._line("MCC catalogue", f"{summary.mcc_loaded} categories loaded")
        self._line("accounts", summary.accounts)
        self._line("users", f"{summary.users} (owner, admin, analyst and user in every account)")
        self._line("addresses", summary.addresses)
        self._line("account settings", summary.settings)
        self._line("spending profiles", f"{summary.profiles} ({summary.profile_rules} MCC rules)")
        self._line("card products", summary.card_products)
        cards = sum(summary.cards.values())
        self._line("cards", f"{cards}{self._breakdown(summary.cards)}")

    def _report_transactions(self, summary: demo.SeedSummary) -> None:
        total = sum(summary.transactions.values())
        if summary.accounts == 0:
            self.stdout.write(self.style.SUCCESS("Added transactions to existing cards:"))
        line = f"{total}{self._breakdown(summary.transactions)}"
        if total and summary.window:
            start, end = summary.window
            line += f" on {summary.transaction_cards} cards, {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        self._line("transactions", line)
