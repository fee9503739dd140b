from django.core.management.base import CommandError

from accounts.models import Account
from core.commands import AuditedCommand
from demo import builder
from demo.live import LIVE_DEFAULT, LiveActivityUnavailable, live_activity_possible
from demo.program import ROLES_IN_ORDER
from demo.summary import LiveSummary, SeedSummary


class Command(AuditedCommand):
    help = (
        "Create a realistic demo card program: accounts, users with every role, addresses, "
        "settings, spending profiles, card products, cards, a year of transactions loaded in "
        "bulk, and today's transactions through the authorization engine and the webhook inbox "
        "(PostgreSQL only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=3, help="accounts to create")
        parser.add_argument(
            "--users-per-account",
            type=int,
            default=6,
            help=f"users per account, at least {len(ROLES_IN_ORDER)} (one per role)",
        )
        parser.add_argument("--cards-per-account", type=int, default=8)
        parser.add_argument(
            "--transactions", type=int, default=2000, help="transactions in total, over all cards"
        )
        parser.add_argument(
            "--live",
            type=int,
            default=None,
            metavar="N",
            help=(
                "of --transactions, how many are decided by the authorization engine today and "
                "settled, voided, refunded and disputed through the webhook inbox (PostgreSQL "
                f"only); default {LIVE_DEFAULT} or all of --transactions if fewer, and none on "
                "SQLite or with --transactions-only"
            ),
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
        transactions = options["transactions"]
        if transactions < 0:
            raise CommandError("--transactions cannot be negative.")
        live, skipped = self._live(options)
        progress = not options["no_progress"]

        if options["transactions_only"]:
            try:
                summary = builder.transactions_extend(
                    transactions=transactions, live=live, seed=options["seed"], progress=progress
                )
            except ValueError as exc:
                raise CommandError(
                    f"{exc}; run seed_demo without --transactions-only first."
                ) from exc
            self._report_transactions(summary)
            return

        if options["accounts"] < 1:
            raise CommandError("--accounts must be at least 1.")
        if options["users_per_account"] < len(ROLES_IN_ORDER):
            raise CommandError(
                f"--users-per-account must be at least {len(ROLES_IN_ORDER)}, "
                "so that every account has every role."
            )
        if options["cards_per_account"] < 1:
            raise CommandError("--cards-per-account must be at least 1.")
        try:
            summary = builder.demo_seed(
                accounts=options["accounts"],
                users_per_account=options["users_per_account"],
                cards_per_account=options["cards_per_account"],
                transactions=transactions,
                live=live,
                seed=options["seed"],
                progress=progress,
            )
        except (ValueError, LiveActivityUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        summary.live_skipped = skipped
        self._report_program(summary, seed=options["seed"])
        self._report_transactions(summary)

    @staticmethod
    def _live(options) -> tuple[int, str]:
        """How many transactions go through the services, and why none do if none can here."""
        transactions, live = options["transactions"], options["live"]
        if live is None:
            return builder.live_default(
                transactions=transactions, transactions_only=options["transactions_only"]
            )
        if live < 0:
            raise CommandError("--live cannot be negative.")
        if live > transactions:
            raise CommandError(
                f"--live {live} is more than --transactions {transactions}: the live "
                "transactions are part of the total."
            )
        reason = live_activity_possible()
        if live and reason:
            raise CommandError(f"--live {live}: {reason}.")
        return live, ""

    def _line(self, label: str, value) -> None:
        self.stdout.write(f"  {label:<18} {value}")

    @staticmethod
    def _breakdown(counter) -> str:
        parts = ", ".join(f"{key} {count}" for key, count in counter.most_common())
        return f" ({parts})" if parts else ""

    def _report_program(self, summary: SeedSummary, *, seed: int) -> None:
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

    def _report_transactions(self, summary: SeedSummary) -> None:
        bulk = sum(summary.transactions.values())
        live = summary.live.transactions if summary.live else 0
        if summary.accounts == 0:
            self.stdout.write(self.style.SUCCESS("Added transactions to existing cards:"))
        self._line("transactions", f"{bulk + live} ({bulk} in bulk, {live} live)")
        line = f"{bulk}{self._breakdown(summary.transactions)}"
        if bulk and summary.window:
            start, end = summary.window
            line += f" on {summary.transaction_cards} cards, {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        self._line("history (bulk)", line)
        if summary.live is not None:
            self._report_live(summary.live)
        elif summary.live_skipped:
            self._line("live", f"none: {summary.live_skipped}")

    def _report_live(self, live: LiveSummary) -> None:
        self._line(
            "live (today)",
            f"{live.transactions}{self._breakdown(live.statuses)}, "
            f"{live.requests} authorization requests{self._breakdown(live.results)}",
        )
        self._line("decision traces", live.decisions)
        self._line("events", live.events)
        self._line("ledger entries", live.ledger_entries)
        self._line("spend counters", live.spend_counters)
        self._line("open holds", live.open_holds)
        self._line("webhooks", f"{live.deliveries}{self._breakdown(live.webhooks)}")
        self._line("disputes", live.disputes)
