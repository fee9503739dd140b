"""Operator console for accounts, their users, addresses and settings.

PII (tax ids, phone numbers, street lines, birth dates) is encrypted at rest and never shown in
lists: lists show the last four characters, or the city and country of an address.
"""

from __future__ import annotations

import json
from decimal import Decimal

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import quote
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.contenttypes.admin import GenericStackedInline
from django.contrib.contenttypes.forms import BaseGenericInlineFormSet
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from rest_framework_api_key.models import APIKey as LibraryAPIKey
from simple_history.admin import SimpleHistoryAdmin

from accounts.models import (
    Account,
    AccountSetting,
    Address,
    ApiKey,
    IdempotencyRecord,
    SecurityEvent,
    SecurityEventKind,
    SecurityEventOutcome,
    User,
)
from accounts.security import security_event_record, user_target
from accounts.services import api_key_create, api_key_revoke, user_delete, user_update
from accounts.settings_registry import REGISTRY
from core.admin import (
    RECORD_FIELDSET,
    BusinessInlineMixin,
    BusinessModelAdmin,
    BusinessModelForm,
    DeletedFilter,
    FinancialRecordAdmin,
    ReadOnlyAdminMixin,
    ServiceRefusalMixin,
    highlight_deleted,
    money_column,
)
from core.errors import DomainError
from core.streaming import csv_response


def _last_four(value: str) -> str:
    return f"•••• {value}" if value else ""


# --- Settings ----------------------------------------------------------------------------------


class _FloatAsTextDecoder(json.JSONDecoder):
    # Money settings are decimals: a typed 12.50 stays the text "12.50", never a float.
    def __init__(self, *args, **kwargs):
        kwargs["parse_float"] = str
        super().__init__(*args, **kwargs)


class SettingValueField(forms.JSONField):
    """A setting value typed as JSON (true, 15, 12.50); input that is not JSON is plain text."""

    def __init__(self, **kwargs):
        kwargs.setdefault("decoder", _FloatAsTextDecoder)
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            return value.strip()


_TYPE_HINTS = {
    bool: "true or false",
    int: "a whole number",
    Decimal: "an amount, e.g. 250.00",
    str: "text",
}


def _known_settings_help() -> str:
    items = format_html_join(
        "",
        "<li><code>{}</code>: {} (default {}). {}</li>",
        (
            (
                spec.key,
                _TYPE_HINTS.get(spec.type, spec.type.__name__),
                json.dumps(
                    str(spec.default) if isinstance(spec.default, Decimal) else spec.default
                ),
                spec.description,
            )
            for spec in sorted(REGISTRY.values(), key=lambda spec: spec.key)
        ),
    )
    return format_html("Known settings:<ul>{}</ul>", items)


class AccountSettingForm(BusinessModelForm):
    """The key and value are checked by accounts.settings_registry (AccountSetting.clean)."""

    value = SettingValueField(
        widget=forms.TextInput(attrs={"size": 30}), help_text=_known_settings_help()
    )
    constraint_messages = {
        "account_settings_account_key_uniq": (
            "This account already has this setting; change that setting instead."
        ),
    }

    class Meta:
        model = AccountSetting
        fields = ("account", "key", "value")
        help_texts = {"key": "One of the known settings listed under the value."}


class AccountSettingInline(BusinessInlineMixin, admin.TabularInline):
    model = AccountSetting
    form = AccountSettingForm
    fields = ("key", "value")


@admin.register(AccountSetting)
class AccountSettingAdmin(BusinessModelAdmin):
    form = AccountSettingForm
    list_display = (highlight_deleted, "account", "updated_at")
    list_select_related = ("account",)
    list_filter = (DeletedFilter, "key")
    search_fields = ("^key", "^account__name")
    autocomplete_fields = ("account",)
    change_readonly_fields = ("account",)
    fieldsets = ((None, {"fields": ("account", "key", "value")}), RECORD_FIELDSET)


# --- Addresses ---------------------------------------------------------------------------------


class AddressForm(BusinessModelForm):
    constraint_messages = {
        "addresses_one_primary_per_owner_type": (
            "The owner already has a primary address of this type; make that one non-primary first."
        ),
    }

    class Meta:
        model = Address
        fields = "__all__"


class AddressInlineFormSet(BaseGenericInlineFormSet):
    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        # Address.clean checks the owner and derives the tenant from it, so new rows need
        # their owner before validation, not only when they are saved.
        form.instance.owner = self.instance
        return form

    def clean(self):
        super().clean()
        primary_types = [
            form.cleaned_data["address_type"]
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("is_primary")
            and form.cleaned_data.get("address_type")
        ]
        if len(primary_types) != len(set(primary_types)):
            raise ValidationError("Only one address of each type can be primary.")


class AddressInline(BusinessInlineMixin, GenericStackedInline):
    model = Address
    form = AddressForm
    formset = AddressInlineFormSet
    ct_field = "owner_type"
    ct_fk_field = "owner_id"
    fields = (
        ("address_type", "is_primary"),
        "line1",
        "line2",
        ("city", "region"),
        ("postal_code", "country"),
    )


@admin.register(Address)
class AddressAdmin(BusinessModelAdmin):
    form = AddressForm
    # No street lines here: they are PII. City and country locate an address well enough.
    list_display = (
        highlight_deleted,
        "owner_display",
        "account",
        "address_type",
        "is_primary",
        "city",
        "country",
    )
    list_select_related = ("account",)
    list_filter = (DeletedFilter, "address_type", "is_primary", "country")
    search_fields = ("=token", "^postal_code", "^city", "^account__name")
    search_help_text = "Exact token, or the start of a postal code, city or account name."
    readonly_fields = ("account", *BusinessModelAdmin.readonly_fields)
    change_readonly_fields = ("owner_type", "owner_id")
    fieldsets = (
        (None, {"fields": (("owner_type", "owner_id"), "account")}),
        (
            "Address",
            {
                "fields": (
                    ("address_type", "is_primary"),
                    "line1",
                    "line2",
                    ("city", "region"),
                    ("postal_code", "country"),
                )
            },
        ),
        RECORD_FIELDSET,
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("owner")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner_type":
            owner_types = ContentType.objects.get_for_models(Account, User).values()
            kwargs["queryset"] = ContentType.objects.filter(pk__in=[ct.pk for ct in owner_types])
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="owner")
    def owner_display(self, obj) -> str:
        owner = obj.owner
        if owner is None:
            return ""
        return f"{owner._meta.verbose_name.capitalize()}: {owner}"


# --- Accounts ----------------------------------------------------------------------------------


@admin.register(Account)
class AccountAdmin(BusinessModelAdmin):
    list_display = (
        highlight_deleted,
        "status",
        money_column("balance"),
        "currency",
        "tax_id_masked",
        "lithic_account_token",
        "created_at",
    )
    list_filter = (DeletedFilter, "status", "currency")
    # `=tax_id` matches a whole tax id through its blind index (core.admin.IndexedSearchMixin).
    search_fields = ("^name", "=token", "=lithic_account_token", "=tax_id")
    search_help_text = "Start of the name, or an exact token, Lithic account token or tax id."
    readonly_fields = ("balance", "lithic_account_token", *BusinessModelAdmin.readonly_fields)
    change_readonly_fields = ("currency",)
    fieldsets = (
        (None, {"fields": ("name", "status", "tax_id")}),
        ("Money", {"fields": ("balance", "currency")}),
        ("Lithic", {"fields": ("lithic_account_token",)}),
        RECORD_FIELDSET,
    )

    def get_inlines(self, request, obj):
        # Addresses hang off a saved owner (a generic relation), so they come after creation.
        if obj is None:
            return (AccountSettingInline,)
        return (AccountSettingInline, AddressInline)

    @admin.display(description="tax id")
    def tax_id_masked(self, obj) -> str:
        return _last_four(obj.tax_id_last_four)


# --- Users -------------------------------------------------------------------------------------


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes = {}


class UserCreationForm(auth_forms.AdminUserCreationForm):
    """Django's admin creation form (password1/password2), for a user who logs in by email."""

    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User
        fields = ("email", "account", "role", "is_staff", "first_name", "last_name")
        field_classes = {}


# Who controls a customer's account: these change only through accounts.services.user_update,
# which keeps an active owner on every account.
_OWNER_RULE_FIELDS = ("role", "is_active")


@admin.register(User)
class UserAdmin(ServiceRefusalMixin, BusinessModelAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = (
        highlight_deleted,
        "full_name",
        "account",
        "role",
        "phone_masked",
        "is_staff",
        "is_active",
        "last_login",
    )
    list_select_related = ("account",)
    list_filter = (DeletedFilter, "role", "is_staff", "is_superuser", "is_active")
    search_fields = ("^email", "=token", "^last_name")
    search_help_text = "Start of the email or last name, or an exact token."
    ordering = ("email",)
    autocomplete_fields = ("account",)
    readonly_fields = ("last_login", "date_joined", *BusinessModelAdmin.readonly_fields)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Customer", {"fields": ("account", "role")}),
        ("Personal info", {"fields": ("first_name", "last_name", "phone", "date_of_birth")}),
        (
            "Permissions",
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
        RECORD_FIELDSET,
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
        ("Customer", {"fields": ("account", "role")}),
        ("Operator", {"fields": ("is_staff",)}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
    )

    def get_inlines(self, request, obj):
        # Only customer users (with an account) have addresses.
        if obj is not None and obj.account_id is not None:
            return (AddressInline,)
        return ()

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            # The service's refusal (the last owner, an owner deleted by a non-owner): nothing
            # was deleted; back to the user's page with the reason.
            self.message_user(request, f"Not deleted: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:accounts_user_change", args=(quote(object_id),))
            )

    def delete_model(self, request, obj):
        """A customer user is deleted through `user_delete`, which keeps an owner on every
        account; an operator (no account) as any business row."""
        if obj.account_id is None:
            super().delete_model(request, obj)
        else:
            user_delete(user=obj)

    def delete_queryset(self, request, queryset):
        for user in queryset.filter(deleted__isnull=True):
            try:
                with transaction.atomic():
                    self.delete_model(request, user)
            except DomainError as exc:
                self.message_user(request, f"{user} not deleted: {exc.message}", messages.ERROR)

    def save_model(self, request, obj, form, change):
        """A customer user's role and activity change through `user_update`, whose refusal
        (the account's last active owner) is shown on the form; other fields as edited."""
        changed = form.changed_data
        guarded = {name: getattr(obj, name) for name in _OWNER_RULE_FIELDS if name in changed}
        stored = User.objects.get(pk=obj.pk) if change and guarded else None
        if stored is None or stored.account_id is None:
            # A new user, an operator (no account), or neither role nor activity changed.
            super().save_model(request, obj, form, change)
            return
        try:
            # The rule is about the account the user is in now (the stored row), whatever the
            # form does to the account field.
            user_update(user=stored, **guarded)
        except DomainError as exc:
            field = next(iter(guarded)) if len(guarded) == 1 else NON_FIELD_ERRORS
            raise ValidationError({field: exc.message}) from exc
        concrete = {field.name for field in User._meta.concrete_fields}
        others = [name for name in changed if name in concrete and name not in guarded]
        if others:
            obj.save(update_fields=others)

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj) -> str:
        return f"{obj.first_name} {obj.last_name}".strip()

    @admin.display(description="phone")
    def phone_masked(self, obj) -> str:
        return _last_four(obj.phone_last_four)

    actions = (*BusinessModelAdmin.actions, "lift_login_lockout", "remove_second_factor")

    def has_unlock_permission(self, request) -> bool:
        return request.user.has_perm("accounts.unlock_login")

    def has_reset_mfa_permission(self, request) -> bool:
        return request.user.has_perm("accounts.reset_mfa")

    @admin.action(permissions=["unlock"], description="Lift the login lockout of the selected")
    def lift_login_lockout(self, request, queryset):
        lifted = sum(lift_lockout(request, username=user.email.lower()) for user in queryset)
        self.message_user(request, f"Lifted {lifted} lockout record(s).", messages.SUCCESS)

    @admin.action(
        permissions=["reset_mfa"],
        description="Remove the second factor of the selected (they enrol again at login)",
    )
    def remove_second_factor(self, request, queryset):
        for user in queryset:
            removed = remove_second_factor(user)
            security_event_record(
                kind=SecurityEventKind.MFA_RESET,
                request=request,
                outcome=SecurityEventOutcome.SUCCESS,
                target=user_target(user),
                detail=f"{removed} device(s) removed",
            )
        self.message_user(
            request, f"Removed the second factor of {queryset.count()} user(s).", messages.SUCCESS
        )


def lift_lockout(request, *, username: str = "", ip: str = "") -> int:
    """Forget the failed logins of a username or an address (django-axes), and log it."""
    lifted = axes_reset(username=username or None, ip=ip or None)
    security_event_record(
        kind=SecurityEventKind.UNLOCK,
        request=request,
        outcome=SecurityEventOutcome.SUCCESS,
        target=username or ip,
        detail=f"{lifted} failed-login record(s) forgotten",
    )
    return lifted


def remove_second_factor(user: User) -> int:
    removed = 0
    for model in (TOTPDevice, StaticDevice, WebAuthnCredential):
        count, _ = model.objects.filter(user=user).delete()
        removed += count
    return removed


@admin.register(AccessAttempt)
class LoginLockoutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Failed console logins as django-axes counts them: who is locked out, and lifting it."""

    list_display = ("username", "ip_address", "failures_since_start", "attempt_time", "locked")
    search_fields = ("=username", "=ip_address")
    search_help_text = "Exact email or address."
    ordering = ("-attempt_time",)
    fields = ("username", "ip_address", "user_agent", "path_info", "failures_since_start",
              "attempt_time")  # fmt: skip
    actions = ("lift_selected",)

    @admin.display(boolean=True, description="locked out")
    def locked(self, obj) -> bool:
        recent = obj.attempt_time > timezone.now() - settings.AXES_COOLOFF_TIME
        return recent and obj.failures_since_start >= settings.AXES_FAILURE_LIMIT

    def has_unlock_permission(self, request) -> bool:
        return request.user.has_perm("accounts.unlock_login")

    @admin.action(permissions=["unlock"], description="Lift the lockout of the selected")
    def lift_selected(self, request, queryset):
        lifted = 0
        for attempt in list(queryset):
            if attempt.username:
                lifted += lift_lockout(request, username=attempt.username)
            if attempt.ip_address:
                lifted += lift_lockout(request, ip=attempt.ip_address)
        self.message_user(request, f"Lifted {lifted} lockout record(s).", messages.SUCCESS)


# --- API keys --------------------------------------------------------------------------------

admin.site.unregister(LibraryAPIKey)
# django-otp's own pages would show a device's secret key (its QR code): devices are managed by
# their user at login, and removed by an operator with `reset_mfa` (UserAdmin).
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "name", "expiry_date")


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceRefusalMixin, SimpleHistoryAdmin):
    """Operators create keys for customer users (the key is shown once) and revoke them."""

    list_display = (
        "name",
        "prefix",
        "user",
        "account",
        "created",
        "expiry_date",
        "last_used_at",
        "revoked",
    )
    list_filter = ("revoked",)
    list_select_related = ("user", "account")
    search_fields = ("=prefix", "^user__email", "name")
    autocomplete_fields = ("user",)
    readonly_fields = (
        "prefix",
        "account",
        "created",
        "last_used_at",
        "revoked",
        "revoked_at",
    )
    actions = ("revoke_selected",)
    history_list_display = ("history_actor", "history_ip", "history_user_agent")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "expiry_date")
        return (
            "name",
            "prefix",
            "user",
            "account",
            "created",
            "expiry_date",
            "last_used_at",
            "revoked",
            "revoked_at",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (*self.readonly_fields, "user")

    def has_delete_permission(self, request, obj=None):
        return False  # keys are revoked, never deleted: their use stays traceable

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "expiry_date"])
            return
        try:
            created, key = api_key_create(user=obj.user, name=obj.name, expires_at=obj.expiry_date)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        obj.pk = created.pk
        obj.prefix = created.prefix
        self.message_user(
            request,
            format_html(
                "API key created. Copy it now, it is shown only once: <code>Api-Key {}</code>",
                key,
            ),
            messages.WARNING,
        )

    @admin.action(permissions=["change"], description="Revoke selected API keys")
    def revoke_selected(self, request, queryset):
        count = 0
        for api_key in queryset.filter(revoked=False):
            api_key_revoke(api_key=api_key)
            count += 1
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Stored first responses of idempotent POSTs (read-only; purged after their TTL)."""

    list_display = ("key", "api_key", "account", "state", "response_status", "created_at")
    list_filter = ("state",)
    list_select_related = ("api_key", "account")
    search_fields = ("=key",)
    show_facets = admin.ShowFacets.NEVER


@admin.register(SecurityEvent)
class SecurityEventAdmin(FinancialRecordAdmin):
    """The security log (append-only, hash-chained): read, filtered, exported as CSV.

    An export is itself a security event (kind `export`), naming the filters it was made with
    and how many rows it held.
    """

    list_display = (
        "seq",
        "occurred_at",
        "kind",
        "outcome",
        "user",
        "actor",
        "target",
        "ip",
        "count",
    )
    list_select_related = ("user",)
    list_filter = ("kind", "outcome", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("=target", "=actor", "=webhook_id", "=ip", "=user__email")
    search_help_text = "Exact target (app.model:pk), actor, webhook id, IP address or user email."
    sortable_by = ("seq", "occurred_at")
    date_hierarchy = None
    change_list_template = "admin/accounts/securityevent/change_list.html"
    fields = (
        ("seq", "kind", "outcome"),
        ("occurred_at", "window_end", "count"),
        ("user", "actor"),
        "target",
        ("ip", "user_agent"),
        ("path", "webhook_id"),
        "detail",
        ("prev_hash", "row_hash"),
    )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """The changelist's rows, as filtered, in CSV (newest first)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:accounts_securityevent_changelist"))
        rows = changelist.get_queryset(request).order_by("-seq")
        total = rows.count()
        security_event_record(
            kind=SecurityEventKind.EXPORT,
            request=request,
            outcome=SecurityEventOutcome.SUCCESS,
            target="accounts.securityevent",
            detail=f"{total} row(s); filters: {request.GET.urlencode() or 'none'}",
        )
        columns = [
            "seq", "occurred_at", "kind", "outcome", "user_id", "actor", "target", "ip",
            "user_agent", "path", "webhook_id", "count", "window_end", "detail", "row_hash",
        ]  # fmt: skip
        return csv_response(
            columns, rows.values_list(*columns).iterator(chunk_size=2000), name="security-log"
        )
