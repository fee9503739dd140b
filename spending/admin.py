"""Operator console for the MCC catalogue and spending profiles."""

from __future__ import annotations

from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from core import lithic_gateway
from core.admin import (
    RECORD_FIELDSET,
    BusinessInlineMixin,
    BusinessModelAdmin,
    DeletedFilter,
    ReadOnlyAdminMixin,
    highlight_deleted,
)
from spending.lithic_sync import sync_counts
from spending.models import LithicSyncStatus, ProfileCategory, SpendingCategory, SpendingProfile
from spending.services import spending_profile_push_now

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


class LithicSyncAdminMixin:
    """What is out of step with Lithic: a column, a filter, a banner with counts, an action.

    `push_now(obj)` (set by the admin class) pushes one row and returns its new sync status.
    """

    def push_now(self, obj) -> str:
        raise NotImplementedError

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

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self._announce_sync_state(request)
        return super().changelist_view(request, extra_context=extra_context)

    def _announce_sync_state(self, request) -> None:
        counts = sync_counts(model=self.model)
        plural = self.model._meta.verbose_name_plural
        if not lithic_gateway.outbound_enabled():
            self.message_user(
                request,
                "Outbound sync to Lithic is off (LITHIC_API_KEY is not set): changes to "
                f"{plural} stay in this database and nothing is sent to Lithic.",
                messages.WARNING,
            )
            return
        pending = counts[LithicSyncStatus.PENDING]
        rejected = counts[LithicSyncStatus.REJECTED]
        local_only = counts[LithicSyncStatus.LOCAL_ONLY]
        if pending or rejected or local_only:
            self.message_user(
                request,
                f"Out of step with Lithic: {pending} pending, {rejected} rejected by Lithic, "
                f"{local_only} local only ({plural}). Filter by 'Lithic sync' to see them.",
                messages.ERROR if rejected else messages.WARNING,
            )

    @admin.action(permissions=["change"], description="Push to Lithic now")
    def push_to_lithic(self, request, queryset):
        if not lithic_gateway.outbound_enabled():
            self.message_user(
                request,
                "Outbound sync to Lithic is off (LITHIC_API_KEY is not set): nothing was sent.",
                messages.ERROR,
            )
            return
        outcomes: dict[str, int] = {}
        for obj in queryset:
            status = self.push_now(obj)
            outcomes[status] = outcomes.get(status, 0) + 1
        synced = outcomes.pop(LithicSyncStatus.SYNCED, 0)
        if synced:
            self.message_user(request, f"{synced} now in step with Lithic.", messages.SUCCESS)
        for status, n in outcomes.items():
            self.message_user(
                request,
                f"{n} still {status.lower()}: see 'last Lithic error' on each.",
                messages.ERROR,
            )


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


@admin.register(SpendingProfile)
class SpendingProfileAdmin(LithicSyncAdminMixin, BusinessModelAdmin):
    list_display = (
        highlight_deleted,
        "account",
        "spend_limit",
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
    inlines = (ProfileCategoryInline,)
    actions = (*BusinessModelAdmin.actions, "push_to_lithic")

    def push_now(self, obj) -> str:
        return spending_profile_push_now(profile=obj)


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
