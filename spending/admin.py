"""Operator console for the MCC catalogue and spending profiles."""

from __future__ import annotations

from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from core.admin import (
    RECORD_FIELDSET,
    BusinessInlineMixin,
    BusinessModelAdmin,
    DeletedFilter,
    ReadOnlyAdminMixin,
    highlight_deleted,
)
from spending.models import ProfileCategory, SpendingCategory, SpendingProfile


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
class SpendingProfileAdmin(BusinessModelAdmin):
    list_display = (
        highlight_deleted,
        "account",
        "spend_limit",
        "spend_limit_duration",
        "lithic_auth_rule_token",
        "updated_at",
    )
    list_select_related = ("account",)
    list_filter = (DeletedFilter, "spend_limit_duration")
    search_fields = ("^name", "=token", "=lithic_auth_rule_token", "^account__name")
    search_help_text = "Start of the profile or account name, or an exact token."
    autocomplete_fields = ("account",)
    readonly_fields = ("lithic_auth_rule_token", *BusinessModelAdmin.readonly_fields)
    change_readonly_fields = ("account",)
    fieldsets = (
        (None, {"fields": ("account", "name", "description")}),
        ("Spend limit", {"fields": (("spend_limit", "spend_limit_duration"),)}),
        ("Lithic", {"fields": ("lithic_auth_rule_token",)}),
        RECORD_FIELDSET,
    )
    inlines = (ProfileCategoryInline,)


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
