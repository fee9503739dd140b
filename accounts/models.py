"""The tenant (Account), its people (User), generic addresses and typed settings."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey

from core.encryption import (
    BlindIndexField,
    EncryptedCharField,
    EncryptedDateField,
    blind_index_filter,
)
from core.history import AuditedAllManager, AuditedDeletedManager, AuditedManager, audited_history
from core.models import LIVE, BusinessModel, FinancialRecord
from core.tenancy import system_scope

CURRENCY_CHECK = Q(currency__regex=r"^[A-Z]{3}$")


class Account(BusinessModel):
    """A business customer: the tenant every customer-owned row belongs to."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        PAUSED = "PAUSED", "Paused"
        CLOSED = "CLOSED", "Closed"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    balance = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default="USD")
    lithic_account_token = models.UUIDField(null=True, blank=True)
    lithic_financial_account_token = models.UUIDField(
        null=True,
        blank=True,
        help_text="The Lithic financial account holding this account's funds (balance reports)",
    )
    tax_id = EncryptedCharField(max_length=32, blank=True, default="")
    tax_id_index = BlindIndexField(source="tax_id")

    addresses = GenericRelation(
        "accounts.Address",
        content_type_field="owner_type",
        object_id_field="owner_id",
        related_query_name="account_owner",
    )
    history = audited_history("accounts_history")

    class Meta:
        db_table = "accounts"
        ordering = ("name", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["ACTIVE", "PAUSED", "CLOSED"]), name="accounts_status_valid"
            ),
            models.CheckConstraint(condition=Q(balance__gte=0), name="accounts_balance_gte_0"),
            models.CheckConstraint(condition=CURRENCY_CHECK, name="accounts_currency_iso4217"),
            # External identities stay unique across soft-deleted rows too: one Lithic account
            # maps to exactly one row, ever.
            models.UniqueConstraint(
                fields=["lithic_account_token"],
                condition=Q(lithic_account_token__isnull=False),
                name="accounts_lithic_account_token_uniq",
            ),
            models.UniqueConstraint(
                fields=["lithic_financial_account_token"],
                condition=Q(lithic_financial_account_token__isnull=False),
                name="accounts_lithic_financial_account_token_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tax_id_last_four(self) -> str:
        return self.tax_id[-4:] if self.tax_id else ""

    @classmethod
    def tax_id_lookup(cls, tax_id: str) -> dict:
        return blind_index_filter("tax_id_index", tax_id)


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    USER = "user", "User"
    ANALYST = "analyst", "Analyst"


class UserManager(AuditedManager, BaseUserManager):
    use_in_migrations = False

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(BusinessModel, AbstractBaseUser, PermissionsMixin):
    """A person: a customer's user (with an account and a role) or an operator (staff)."""

    email = models.EmailField(max_length=254)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.USER)
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    phone = EncryptedCharField(max_length=32, blank=True, default="")
    date_of_birth = EncryptedDateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log in to the operator console.")
    date_joined = models.DateTimeField(default=timezone.now)

    addresses = GenericRelation(
        "accounts.Address",
        content_type_field="owner_type",
        object_id_field="owner_id",
        related_query_name="user_owner",
    )
    # The password hash never goes into history rows.
    history = audited_history("users_history", excluded_fields=["password", "last_login"])

    objects = UserManager()
    all_objects = AuditedAllManager()
    deleted_objects = AuditedDeletedManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        db_table = "users"
        ordering = ("email",)
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=LIVE, name="users_email_ci_uniq"),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "admin", "user", "analyst"]),
                name="users_role_valid",
            ),
            models.CheckConstraint(
                condition=Q(account__isnull=False) | Q(is_staff=True),
                name="users_account_required_unless_staff",
            ),
        ]
        indexes = [models.Index(fields=["account", "role"], name="users_account_role_idx")]
        permissions = [
            ("reveal_pii", "Can reveal personal data in the console (with a reason, logged)"),
            ("unlock_login", "Can lift a login lockout"),
            ("reset_mfa", "Can remove a user's second factor (they enrol again)"),
            ("view_audit_trail", "Can read and export the audit trail of every change"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email)
        if self.account_id is None and not self.is_staff:
            raise ValidationError({"account": "A customer user must belong to an account."})
        clash = User.objects.filter(email__iexact=self.email).exclude(pk=self.pk)
        # Emails are unique across accounts: the check looks past the caller's account (a yes
        # or no, nothing else), as the unique index does.
        with system_scope("email-check"):
            taken = bool(self.email) and clash.exists()
        if taken:
            raise ValidationError({"email": "A user with this email already exists."})

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def phone_last_four(self) -> str:
        return self.phone[-4:] if self.phone else ""


class Address(BusinessModel):
    """A postal address of an Account or a User (generic relation)."""

    class Type(models.TextChoices):
        BILLING = "billing", "Billing"
        SHIPPING = "shipping", "Shipping"
        BUSINESS = "business", "Business"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    owner_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    owner_id = models.PositiveBigIntegerField()
    owner = GenericForeignKey("owner_type", "owner_id")
    address_type = models.CharField(max_length=10, choices=Type.choices)
    is_primary = models.BooleanField(default=False)
    line1 = EncryptedCharField(max_length=200)
    line2 = EncryptedCharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True, default="", help_text="State/province")
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, default="US", help_text="ISO 3166-1 alpha-2")

    history = audited_history("addresses_history")

    class Meta:
        db_table = "addresses"
        ordering = ("id",)
        verbose_name_plural = "addresses"
        constraints = [
            models.CheckConstraint(
                condition=Q(address_type__in=["billing", "shipping", "business"]),
                name="addresses_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$"), name="addresses_country_iso3166"
            ),
            models.UniqueConstraint(
                fields=["owner_type", "owner_id", "address_type"],
                condition=Q(is_primary=True) & LIVE,
                name="addresses_one_primary_per_owner_type",
            ),
        ]
        indexes = [
            models.Index(fields=["owner_type", "owner_id"], name="addresses_owner_idx"),
            models.Index(fields=["account"], name="addresses_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_address_type_display()} address, {self.city} {self.country}"

    def owner_account_id(self) -> int | None:
        owner = self.owner
        if owner is None:
            return None
        return owner.pk if isinstance(owner, Account) else owner.account_id

    def clean_fields(self, exclude=None):
        # The tenant column is derived from the owner, so fill it before "required" checks.
        if self.account_id is None:
            self.account_id = self.owner_account_id()
        super().clean_fields(exclude=exclude)

    def clean(self):
        super().clean()
        if self.owner is None:
            raise ValidationError("An address needs an owner (an account or a user).")
        if not isinstance(self.owner, Account | User):
            raise ValidationError("Only accounts and users have addresses.")
        owner_account_id = self.owner_account_id()
        if owner_account_id is None:
            raise ValidationError("Only accounts and customer users have addresses.")
        if self.account_id != owner_account_id:
            raise ValidationError({"account": "The address must belong to its owner's account."})


class AccountSetting(BusinessModel):
    """One typed setting of an account; the known keys live in accounts.settings_registry."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="settings")
    key = models.CharField(max_length=64)
    value = models.JSONField()

    history = audited_history("account_settings_history")

    class Meta:
        db_table = "account_settings"
        ordering = ("account", "key")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "key"], condition=LIVE, name="account_settings_account_key_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value!r}"

    def clean(self):
        from accounts.settings_registry import validate_setting

        super().clean()
        self.value = validate_setting(self.key, self.value)


class ApiKey(AbstractAPIKey):
    """A customer's API key: acts as its user, within the user's account.

    Stored as a SHA-512 hash with an 8-character public prefix (djangorestframework-api-key);
    the full key is shown once, at creation.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_keys")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The last request of this key that may have written (core.read_your_writes).
    last_write_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = audited_history(
        "api_keys_history", excluded_fields=["hashed_key", "last_used_at", "last_write_at"]
    )

    class Meta(AbstractAPIKey.Meta):
        db_table = "api_keys"
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        indexes = [models.Index(fields=["account", "-created"], name="api_keys_account_idx")]

    def clean(self):
        super().clean()
        if self.user_id and self.user.account_id is None:
            raise ValidationError({"user": "API keys belong to customer users (with an account)."})
        if self.user_id and self.account_id is None:
            self.account_id = self.user.account_id
        if self.user_id and self.account_id != self.user.account_id:
            raise ValidationError({"account": "Must be the user's account."})


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an Idempotency-Key, replayed for retries."""

    class State(models.TextChoices):
        IN_PROGRESS = "IN_PROGRESS", "In progress"
        COMPLETED = "COMPLETED", "Completed"

    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    locked_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "idempotency_keys"
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_keys_uniq"),
            models.CheckConstraint(
                condition=Q(state__in=["IN_PROGRESS", "COMPLETED"]),
                name="idempotency_keys_state_valid",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_keys_created_idx")]

    def __str__(self) -> str:
        return self.key


class SecurityEventKind(models.TextChoices):
    # Operators' sessions in the console.
    LOGIN = "login", "Login"
    LOGIN_FAILED = "login_failed", "Login failed"
    LOGIN_THROTTLED = "login_throttled", "Login refused: too many attempts at once"
    LOCKOUT = "lockout", "Locked out after repeated failures"
    UNLOCK = "unlock", "Lockout lifted by an operator"
    LOGOUT = "logout", "Logout"
    SESSION_EXPIRED = "session_expired", "Session ended by a timeout"
    MFA_ENROLLED = "mfa_enrolled", "Second factor enrolled"
    MFA_VERIFIED = "mfa_verified", "Second factor verified"
    MFA_FAILED = "mfa_failed", "Second factor refused"
    MFA_RESET = "mfa_reset", "Second factor removed by an operator"
    PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset requested"
    PASSWORD_RESET = "password_reset", "Password reset with an emailed link"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    # What operators did with sensitive data and with people's access.
    PII_REVEALED = "pii_revealed", "Personal data revealed"
    EXPORT = "export", "Data exported"
    ROLE_CHANGED = "role_changed", "Role or permissions changed"
    API_KEY_CREATED = "api_key_created", "API key created"
    API_KEY_REVOKED = "api_key_revoked", "API key revoked"
    OPERATOR_READ = "operator_read", "Operator read tenant data in the console"
    # Refused requests from outside.
    API_KEY_REFUSED = "api_key_refused", "API request refused: bad API key"
    API_KEY_THROTTLED = "api_key_throttled", "API request refused: too many bad API keys"
    WEBHOOK_BAD_SIGNATURE = "webhook_bad_signature", "Webhook refused: bad signature"
    ASA_BAD_SIGNATURE = "asa_bad_signature", "ASA request refused: bad signature"


class SecurityEventOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class SecurityEvent(FinancialRecord):
    """One security-relevant event: who, what, when, outcome, origin and target.

    Append-only: rows are never changed or deleted (in PostgreSQL a trigger refuses UPDATE and
    DELETE, and the runtime role may only INSERT). It never holds request bodies or secrets,
    only what identifies the attempt.

    Hash-chained (accounts.security): rows are numbered by `seq` without gaps, and each row's
    `row_hash` covers the previous row's hash and the row's own canonical content, so
    `manage.py verify_security_log` finds a row edited, removed or slipped in afterwards.

    A row with `count` > 1 stands for that many identical refusals from one origin between
    `occurred_at` and `window_end` (accounts.security.security_event_record_refusal).
    """

    # The runtime database role may only read and add rows (core.roles).
    db_append_only = True

    seq = models.BigIntegerField(unique=True, help_text="Position in the hash chain, from 1")
    kind = models.CharField(max_length=40, choices=SecurityEventKind.choices)
    outcome = models.CharField(
        max_length=10, choices=SecurityEventOutcome.choices, default=SecurityEventOutcome.FAILURE
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=100, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    path = models.CharField(max_length=255, blank=True, default="")
    webhook_id = models.CharField(
        max_length=255, blank=True, default="", help_text="webhook-id header, when one was sent"
    )
    target = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="What the act was done to: `app.model:pk`, a field after a dot, or an email",
    )
    detail = models.TextField(blank=True, default="")
    count = models.PositiveIntegerField(
        default=1, help_text="Identical refusals this row stands for"
    )
    window_end = models.DateTimeField(
        null=True, blank=True, help_text="The last of `count` refusals, when more than one"
    )
    prev_hash = models.CharField(max_length=64)
    row_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        db_table = "security_events"
        ordering = ("-seq",)
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=SecurityEventKind.values), name="security_events_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=SecurityEventOutcome.values),
                name="security_events_outcome_valid",
            ),
            models.CheckConstraint(condition=Q(seq__gte=1), name="security_events_seq_positive"),
        ]
        indexes = [
            models.Index(fields=["-occurred_at", "-id"], name="security_events_time_idx"),
            models.Index(fields=["kind", "-occurred_at"], name="security_events_kind_idx"),
            models.Index(fields=["user", "-occurred_at"], name="security_events_user_idx"),
            models.Index(fields=["target"], name="security_events_target_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class SecurityRefusalWindow(models.Model):
    """How many identical refusals (same kind, origin and target) one window saw
    (accounts.security).

    The first refusal of a window is written to the security log at once; the rest only
    count here, and one row of the log stands for them when the window has ended. A flood
    costs one row of this table per origin and window, and at most two rows of the log.
    """

    kind = models.CharField(max_length=40, choices=SecurityEventKind.choices)
    origin = models.CharField(max_length=64, help_text="The client's IP address")
    target = models.CharField(max_length=255, blank=True, default="")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    last_at = models.DateTimeField()
    path = models.CharField(max_length=255, blank=True, default="")
    detail = models.TextField(blank=True, default="")
    closed = models.BooleanField(default=False)

    class Meta:
        db_table = "security_refusal_windows"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "origin", "target", "window_start"],
                name="security_refusal_windows_uniq",
            )
        ]
        indexes = [
            models.Index(
                fields=["window_start"],
                condition=Q(closed=False),
                name="security_refusal_open_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} from {self.origin} at {self.window_start:%Y-%m-%d %H:%M}"
