from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import Account, Role, User
from accounts.services import api_key_create
from core.commands import AuditedCommand


class Command(AuditedCommand):
    help = "Create an API key for a customer user and print it (it is shown only once)."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="Email of the customer user the key acts as")
        who.add_argument(
            "--demo",
            action="store_true",
            help="The owner of the oldest account (for the demo data of `make run`)",
        )
        parser.add_argument("--name", default="", help="A label for the key")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, user, demo, name, expires_in_days, **options):
        if demo:
            owner = (
                User.objects.filter(role=Role.OWNER, account__in=Account.objects.all())
                .order_by("account__created_at", "account_id", "id")
                .first()
            )
            if owner is None:
                raise CommandError("No account owner exists yet; run seed_demo first.")
            target = owner
        else:
            target = User.objects.filter(email__iexact=user.strip()).first()
            if target is None:
                raise CommandError(f"No user with email {user!r}.")
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            api_key, key = api_key_create(
                user=target,
                name=name or ("demo" if demo else "command line"),
                expires_at=expires_at,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"API key for {target.email} ({target.get_role_display()}, {target.account.name}); "
            "it is shown only this once:"
        )
        self.stdout.write(self.style.SUCCESS(f"  Authorization: Api-Key {key}"))
