import environ
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from accounts.models import User
from accounts.services import user_create
from core.commands import AuditedCommand

DEFAULT_EMAIL = "admin@example.com"
ADMIN_URL = "http://127.0.0.1:8000/admin/"


class Command(AuditedCommand):
    help = (
        "Create the demo operator (a staff superuser) from DEMO_ADMIN_EMAIL and "
        "DEMO_ADMIN_PASSWORD, or reset its password to DEMO_ADMIN_PASSWORD if it exists."
    )

    def handle(self, *args, **options):
        # Read at run time, not from settings: settings.py has already loaded .env into the
        # environment, and tests change these variables per test.
        env = environ.Env()
        email = env.str("DEMO_ADMIN_EMAIL", default="").strip() or DEFAULT_EMAIL
        password = env.str("DEMO_ADMIN_PASSWORD", default="")
        if not password.strip():
            raise CommandError(
                "DEMO_ADMIN_PASSWORD is empty. Set it in .env (`make run` writes one with a "
                "generated password) or in the environment, then run ensure_admin again."
            )

        with transaction.atomic():
            user = User.objects.select_for_update().filter(email__iexact=email).first()
            self._validate_password(password, user or User(email=email))
            if user is None:
                user = user_create(
                    email=email,
                    account=None,
                    password=password,
                    is_staff=True,
                    is_superuser=True,
                    first_name="Demo",
                    last_name="Admin",
                )
                action = "created"
            else:
                if not user.is_staff:
                    # Never turn a customer's user into an operator because of an env variable.
                    raise CommandError(
                        f"{email} is a customer user, not an operator; choose another "
                        "DEMO_ADMIN_EMAIL."
                    )
                user.set_password(password)
                changed = ["password"]
                for flag in ("is_active", "is_superuser"):
                    if not getattr(user, flag):
                        setattr(user, flag, True)
                        changed.append(flag)
                user.save(update_fields=changed)
                action = "password reset" if changed == ["password"] else "password reset, enabled"

        self.stdout.write(self.style.SUCCESS(f"Demo admin {action}."))
        self.stdout.write(
            "\n".join(
                [
                    "=" * 60,
                    f"  Admin URL: {ADMIN_URL}",
                    f"  Email:     {user.email}",
                    f"  Password:  {password}",
                    (
                        "  Second factor: enrolled at the first login (QR code)"
                        if settings.ADMIN_MFA_REQUIRED
                        else "  Second factor: off in this demo (ADMIN_MFA_REQUIRED=false)"
                    ),
                    "=" * 60,
                ]
            )
        )

    @staticmethod
    def _validate_password(password: str, user: User) -> None:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(
                "DEMO_ADMIN_PASSWORD is too weak for a superuser: " + " ".join(exc.messages)
            ) from exc
