"""Operator console for the MCC catalogue and spending profiles."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import flatten
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from core.admin import (
    RECORD_FIELDSET,
    BusinessInlineMixin,
    BusinessModelAdmin,
    DeletedFilter,
    ReadOnlyAdminMixin,
    RelatedHistory,
    RelatedHistoryMixin,
    highlight_deleted,
    money_column,
)
from spending.models import (
    AuthRuleBacktest,
    LithicSyncStatus,
    ProfileCategory,
    SpendingCategory,
    SpendingProfile,
)

LITHIC_SYNC_FIELDSET = (
    "Lithic sync",
    {
        "fields": (
            "lithic_sync_status",
            "lithic_sync_error",
            ("lithic_version", "lithic_synced_version"),
            ("lithic_sync_attempts", "lithic_next_attempt_at"),
            "lithic_synced_at",
        )
    },
)
LITHIC_SYNC_READONLY = (
    "lithic_sync_status",
    "lithic_sync_error",
    "lithic_version",
    "lithic_synced_version",
    "lithic_sync_attempts",
    "lithic_next_attempt_at",
    "lithic_synced_at",
)


class LithicSyncColumnMixin:
    """The sync status as a list column (the Lithic integration adds its banner and actions)."""

    @admin.display(description="Lithic", ordering="lithic_sync_status")
    def lithic_sync(self, obj):
        labels = {
            LithicSyncStatus.SYNCED: "✓ synced",
            LithicSyncStatus.PENDING: "… pending",
            LithicSyncStatus.REJECTED: "✗ rejected",
            LithicSyncStatus.LOCAL_ONLY: "local only",
        }
        label = labels.get(obj.lithic_sync_status, obj.lithic_sync_status)
        if obj.lithic_sync_error:
            return format_html('<span title="{}">{}</span>', obj.lithic_sync_error, label)
        return label


@admin.register(SpendingCategory)
class SpendingCategoryAdmin(ReadOnlyAdminMixin, BusinessModelAdmin):
    """The ISO 18245 catalogue, read-only.

    `manage.py load_mcc` (spending.services.mcc_catalogue_load) owns these rows and would
    overwrite any hand edit on its next run.
    """

    list_display = (highlight_deleted, "group", "is_high_risk", "risk_reason")
    list_filter = (DeletedFilter, "is_high_risk", "risk_reason")
    search_fields = ("=mcc", "description")
    search_help_text = "Exact MCC, or words of the description."
    fieldsets = (
        (None, {"fields": ("mcc", "description", "group", ("range_start", "range_end"))}),
        ("Risk", {"fields": ("is_high_risk", "risk_reason")}),
        RECORD_FIELDSET,
    )


class ProfileCategoryInlineFormSet(BaseInlineFormSet):
    def save_new(self, form, commit=True):
        # The tenant column copies the profile's account; on the add page the profile has only
        # just been saved, after the rule forms were validated.
        form.instance.account_id = self.instance.account_id
        return super().save_new(form, commit=commit)


class ProfileCategoryInline(BusinessInlineMixin, admin.TabularInline):
    model = ProfileCategory
    formset = ProfileCategoryInlineFormSet
    fields = ("category", "rule")
    autocomplete_fields = ("category",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category")


class BacktestInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The backtests Lithic ran of the profile's rule (requested with the console's action)."""

    model = AuthRuleBacktest
    fk_name = "profile"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("backtest_token", "status", "start", "end", "reported_at", "results")
    readonly_fields = tuple(flatten(fields))


@admin.register(SpendingProfile)
class SpendingProfileAdmin(RelatedHistoryMixin, LithicSyncColumnMixin, BusinessModelAdmin):
    """A profile's page lists its rules, and the cards that use it (a panel of the cards app);
    its history page also lists every change to its rules."""

    list_display = (
        highlight_deleted,
        "account",
        money_column("spend_limit"),
        "spend_limit_duration",
        "lithic_auth_rule_token",
        "lithic_sync",
        "updated_at",
    )
    list_select_related = ("account",)
    list_filter = (DeletedFilter, "lithic_sync_status", "spend_limit_duration")
    search_fields = ("^name", "=token", "=lithic_auth_rule_token", "^account__name")
    search_help_text = "Start of the profile or account name, or an exact token."
    autocomplete_fields = ("account",)
    readonly_fields = (
        "lithic_auth_rule_token",
        *LITHIC_SYNC_READONLY,
        *BusinessModelAdmin.readonly_fields,
    )
    change_readonly_fields = ("account",)
    fieldsets = (
        (None, {"fields": ("account", "name", "description")}),
        ("Spend limit", {"fields": (("spend_limit", "spend_limit_duration"),)}),
        ("Lithic", {"fields": ("lithic_auth_rule_token",)}),
        LITHIC_SYNC_FIELDSET,
        RECORD_FIELDSET,
    )
    inlines = (ProfileCategoryInline, BacktestInline)
    related_histories = (RelatedHistory(ProfileCategory, parent="profile", noun="Rule"),)
    # The Lithic integration adds its own actions (lithic_integration.admin).
    actions: tuple[str, ...] = BusinessModelAdmin.actions


@admin.register(ProfileCategory)
class ProfileCategoryAdmin(BusinessModelAdmin):
    list_display = (highlight_deleted, "profile", "category", "rule", "account")
    list_select_related = ("profile", "category", "account")
    list_filter = (DeletedFilter, "rule")
    search_fields = ("=category__mcc", "^profile__name", "^account__name")
    search_help_text = "Exact MCC, or the start of the profile or account name."
    autocomplete_fields = ("profile", "category")
    # The account is the profile's (ProfileCategory.clean); a rule stays on its profile.
    readonly_fields = ("account", *BusinessModelAdmin.readonly_fields)
    change_readonly_fields = ("profile",)
    fieldsets = (
        (None, {"fields": ("profile", "category", "rule", "account")}),
        RECORD_FIELDSET,
    )


@admin.register(AuthRuleBacktest)
class AuthRuleBacktestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Lithic's backtests of profiles' rules: requested from the console, reported by Lithic."""

    list_display = ("backtest_token", "profile", "status", "start", "end", "reported_at")
    list_select_related = ("profile",)
    list_filter = ("status",)
    search_fields = ("=backtest_token", "^profile__name")
    search_help_text = "Exact backtest token, or the start of the profile's name."
    fields = (
        ("backtest_token", "status"),
        ("profile", "account", "rule_token"),
        ("start", "end"),
        ("requested_by", "requested_at", "reported_at"),
        "results",
    )
    readonly_fields = tuple(flatten(fields))
