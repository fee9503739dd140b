"""The MCC catalogue and spending profiles (allowed/blocked categories, profile limits)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.history import audited_history
from core.models import LIVE, BusinessModel


class SpendLimitDuration(models.TextChoices):
    """Lithic's `spend_limit_duration`, verbatim, and decided as Lithic decides it (the windows
    are trailing, not calendar months or years: transactions.spend_windows)."""

    TRANSACTION = "TRANSACTION", "Per transaction"
    MONTHLY = "MONTHLY", "Trailing month (from 6 days after this date last month, UTC)"
    ANNUALLY = "ANNUALLY", "Trailing year (the 365 days up to today, UTC)"
    FOREVER = "FOREVER", "Lifetime"


SPEND_LIMIT_DURATIONS = [choice.value for choice in SpendLimitDuration]


class RiskReason(models.TextChoices):
    """Why a merchant category counts as high-risk ("" when it does not)."""

    NONE = "", "Not high-risk"
    GAMBLING = "gambling", "Gambling"
    QUASI_CASH = "quasi_cash", "Quasi-cash"
    CRYPTO = "crypto", "Crypto and foreign currency"
    WIRE_TRANSFER = "wire_transfer", "Wire transfers and money orders"
    ADULT = "adult", "Adult content"
    DATING = "dating", "Dating and escort services"


RISK_REASONS = [c.value for c in RiskReason]


class SpendingCategory(BusinessModel):
    """One ISO 18245 merchant category code."""

    RiskReason = RiskReason

    mcc = models.CharField(max_length=4)
    description = models.CharField(max_length=255)
    group = models.CharField(max_length=255, help_text="The ISO 18245 range this code is in")
    range_start = models.CharField(max_length=4)
    range_end = models.CharField(max_length=4)
    is_high_risk = models.BooleanField(default=False)
    risk_reason = models.CharField(
        max_length=20, choices=RiskReason.choices, blank=True, default=""
    )

    history = audited_history("spending_categories_history")

    class Meta:
        db_table = "spending_categories"
        ordering = ("mcc",)
        verbose_name_plural = "spending categories"
        constraints = [
            models.UniqueConstraint(
                fields=["mcc"], condition=LIVE, name="spending_categories_mcc_uniq"
            ),
            models.CheckConstraint(
                condition=Q(mcc__regex=r"^[0-9]{4}$"), name="spending_categories_mcc_format"
            ),
            models.CheckConstraint(
                condition=Q(risk_reason__in=RISK_REASONS),
                name="spending_categories_risk_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(is_high_risk=False, risk_reason="")
                | (Q(is_high_risk=True) & ~Q(risk_reason="")),
                name="spending_categories_risk_reason_iff_high_risk",
            ),
        ]
        indexes = [models.Index(fields=["is_high_risk"], name="spending_cat_high_risk_idx")]

    def __str__(self) -> str:
        return f"{self.mcc} {self.description}"


class LithicSyncStatus(models.TextChoices):
    """Whether Lithic holds what this row holds (docs/lithic.md says what to do about each)."""

    LOCAL_ONLY = "LOCAL_ONLY", "Local only (outbound sync off)"
    PENDING = "PENDING", "Pending push to Lithic"
    SYNCED = "SYNCED", "In step with Lithic"
    REJECTED = "REJECTED", "Rejected by Lithic (needs an operator)"


LITHIC_SYNC_STATUSES = [c.value for c in LithicSyncStatus]

LITHIC_SYNC_FIELDS = (
    "lithic_sync_status",
    "lithic_version",
    "lithic_synced_version",
    "lithic_sync_error",
    "lithic_sync_attempts",
    "lithic_next_attempt_at",
    "lithic_synced_at",
)
"""Outbox bookkeeping: kept out of the change history (spending.lithic_sync writes them)."""


class LithicSynced(models.Model):
    """The outbox on the row: a local change and "Lithic must get this" commit together.

    Every change Lithic must hear about bumps `lithic_version` in the same transaction; a push
    that Lithic confirmed records the version it pushed, and only if no newer change arrived.
    """

    lithic_sync_status = models.CharField(
        "Lithic sync",
        max_length=10,
        choices=LithicSyncStatus.choices,
        default=LithicSyncStatus.LOCAL_ONLY,
        db_default=LithicSyncStatus.LOCAL_ONLY,
    )
    lithic_version = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Bumped by every local change Lithic must receive"
    )
    lithic_synced_version = models.PositiveIntegerField(
        default=0, db_default=0, help_text="The last version Lithic confirmed"
    )
    lithic_sync_error = models.TextField("last Lithic error", blank=True, default="", db_default="")
    lithic_sync_attempts = models.PositiveIntegerField(default=0, db_default=0)
    lithic_next_attempt_at = models.DateTimeField(null=True, blank=True)
    lithic_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def in_step_with_lithic(self) -> bool:
        return self.lithic_sync_status == LithicSyncStatus.SYNCED


class SpendingProfile(LithicSynced, BusinessModel):
    """A reusable rule set for cards: allowed/blocked MCCs and an optional spend limit."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="spending_profiles"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    # Indexed by its partial unique index (an equality lookup implies NOT NULL).
    lithic_auth_rule_token = models.UUIDField(null=True, blank=True)
    spend_limit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    spend_limit_duration = models.CharField(
        max_length=12, choices=SpendLimitDuration.choices, null=True, blank=True
    )

    history = audited_history("spending_profiles_history", excluded_fields=LITHIC_SYNC_FIELDS)

    class Meta:
        db_table = "spending_profiles"
        ordering = ("account", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"],
                condition=LIVE,
                name="spending_profiles_account_name_uniq",
            ),
            models.UniqueConstraint(
                fields=["lithic_auth_rule_token"],
                condition=Q(lithic_auth_rule_token__isnull=False),
                name="spending_profiles_lithic_auth_rule_token_uniq",
            ),
            models.CheckConstraint(
                condition=Q(spend_limit__isnull=True) | Q(spend_limit__gte=0),
                name="spending_profiles_spend_limit_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(spend_limit_duration__isnull=True)
                | Q(spend_limit_duration__in=SPEND_LIMIT_DURATIONS),
                name="spending_profiles_duration_valid",
            ),
            models.CheckConstraint(
                condition=Q(spend_limit__isnull=True, spend_limit_duration__isnull=True)
                | Q(spend_limit__isnull=False, spend_limit_duration__isnull=False),
                name="spending_profiles_limit_and_duration_together",
            ),
            models.CheckConstraint(
                condition=Q(lithic_sync_status__in=LITHIC_SYNC_STATUSES),
                name="spending_profiles_lithic_sync_status_valid",
            ),
        ]
        indexes = [
            # The sync worker's queue: rows waiting for a push, soonest first.
            models.Index(
                fields=["lithic_next_attempt_at"],
                condition=Q(lithic_sync_status="PENDING"),
                name="spending_profiles_sync_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        super().clean()
        if (self.spend_limit is None) != (self.spend_limit_duration is None):
            raise ValidationError("A spend limit and its duration are set together.")


class ProfileCategory(BusinessModel):
    """A category a profile allows or blocks. Any ALLOWED row makes the profile an allow-list."""

    class Rule(models.TextChoices):
        ALLOWED = "ALLOWED", "Allowed"
        BLOCKED = "BLOCKED", "Blocked"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    profile = models.ForeignKey(
        SpendingProfile, on_delete=models.PROTECT, related_name="category_rules"
    )
    category = models.ForeignKey(SpendingCategory, on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=7, choices=Rule.choices)

    history = audited_history("profile_categories_history")

    class Meta:
        db_table = "profile_categories"
        ordering = ("profile", "category")
        verbose_name_plural = "profile categories"
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "category"], condition=LIVE, name="profile_categories_uniq"
            ),
            models.CheckConstraint(
                condition=Q(rule__in=["ALLOWED", "BLOCKED"]), name="profile_categories_rule_valid"
            ),
        ]
        indexes = [models.Index(fields=["account"], name="profile_categories_account_idx")]

    def __str__(self) -> str:
        # "ALLOWED 5812 Eating places, restaurants": the code and its name, never a row id.
        category = self.category if self.category_id is not None else "(no category)"
        return f"{self.rule} {category}"

    def clean(self):
        super().clean()
        if self.profile_id and self.account_id is None:
            self.account_id = self.profile.account_id
        if self.profile_id and self.account_id != self.profile.account_id:
            raise ValidationError({"account": "Must be the profile's account."})


class AuthRuleBacktest(models.Model):
    """A backtest of a profile's Lithic rule: what the rule would have approved and declined.

    Requested from the console (Lithic's `POST /v2/auth_rules/{token}/backtests`), reported by
    Lithic later with `auth_rules.backtest_report.created`, which is stored here on its profile.
    A report for a backtest not requested here is kept with no profile.
    """

    class Status(models.TextChoices):
        REQUESTED = "REQUESTED", "Requested"
        REPORTED = "REPORTED", "Reported"

    backtest_token = models.UUIDField(unique=True, help_text="Lithic's backtest token")
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    profile = models.ForeignKey(
        SpendingProfile,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="backtests",
    )
    rule_token = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    start = models.DateTimeField(null=True, blank=True, help_text="First moment simulated")
    end = models.DateTimeField(null=True, blank=True, help_text="Last moment simulated")
    results = models.JSONField(
        null=True, blank=True, help_text="Lithic's statistics for the current and draft version"
    )
    requested_by = models.CharField(max_length=255, blank=True, default="")
    requested_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "auth_rule_backtests"
        ordering = ("-requested_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["REQUESTED", "REPORTED"]),
                name="auth_rule_backtests_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["profile"], name="backtests_profile_idx")]

    def __str__(self) -> str:
        return f"backtest {self.backtest_token} ({self.status})"
