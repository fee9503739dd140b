"""The operations console's own admin site: who may come in, and how.

- **Password**, checked at most LOGIN_PASSWORD_CHECKS_PER_SECOND times a second across all
  processes (an Argon2 hash costs a quarter of a second of CPU): more attempts get a 429
  before anything is hashed.
- **Lockout** (django-axes): after LOGIN_FAILURE_LIMIT failures for one username, or from one
  address, further attempts are refused for LOGIN_LOCKOUT_MINUTES, before any hashing.
- **Second factor** (django-otp): a TOTP code, a passkey (accounts.passkeys), or one of the
  single-use recovery codes given at enrolment. A staff user without either enrols on first
  login (QR code or passkey). Until the second factor is verified the session reaches nothing
  but these pages and logout.
- **Password reset** by email, with Django's expiring single-use links, for staff only.

Every step leaves a row in the security log (accounts.security, accounts.signals).
"""

from __future__ import annotations

import functools
import io
from urllib.parse import urlencode

import segno
from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts import budgets
from accounts.audit_views import audit_view
from accounts.middleware import ENDED_BECAUSE
from accounts.models import SecurityEventKind, SecurityEventOutcome, User
from accounts.security import (
    security_event_record,
    security_event_record_refusal,
    user_target,
)
from core.admin import console_search, console_views, overview_sections, pii_field_names
from core.audit import client_ip
from core.forms import reason_field
from core.tenancy import system_scope

TOTP_DEVICE_NAME = "Authenticator app"
REVEAL_PERMISSION = "accounts.reveal_pii"
# How long a revealed value stays on screen before the page goes back to the record.
REVEAL_SECONDS = 30
RECOVERY_DEVICE_NAME = "Recovery codes"
AUTH_SCOPE = "auth"
# The session key holding the recovery codes of a first enrolment by passkey until they are shown.
FRESH_RECOVERY_CODES = "console_fresh_recovery_codes"


# ----------------------------------------------------------------------------- django-axes


def axes_client_ip(request: HttpRequest) -> str | None:
    """The address lockouts count by: the one every other part of the product trusts."""
    return client_ip(request)


def axes_username(request: HttpRequest, credentials: dict | None) -> str:
    """Logins are by email, case-insensitively: so are lockouts."""
    value = (credentials or {}).get("username") or request.POST.get("username") or ""
    return value.strip().lower()


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' answer to a locked-out attempt: the console's page, HTTP 429."""
    response = render(
        request,
        "admin/locked_out.html",
        {
            **admin.site.each_context(request),
            "title": "Locked out",
            "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        status=429,
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


# ----------------------------------------------------------------------------- the budget


def password_check_allowed(request: HttpRequest) -> budgets.Count | None:
    """None if this request may have a password checked now, else how long to wait."""
    limit = settings.LOGIN_PASSWORD_CHECKS_PER_SECOND
    if limit <= 0:
        return None
    count = budgets.spend("password-checks", "all", window=1)
    return count if count.over(limit) else None


class ConsoleAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, which checks no password once the second's budget is spent."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many sign-in attempts right now. Wait a few seconds and try again.",
    }

    def clean(self):
        if getattr(self.request, "login_throttled", None) is not None:
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        return super().clean()


# ----------------------------------------------------------------------------- second factor


def mfa_required() -> bool:
    return settings.ADMIN_MFA_REQUIRED


def needs_second_factor(request: HttpRequest) -> bool:
    """A staff user who gave the password but not yet the second factor."""
    user = request.user
    return (
        mfa_required()
        and user.is_active
        and user.is_staff
        and not (hasattr(user, "is_verified") and user.is_verified())
    )


def confirmed_totp(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def passkeys(user: User):
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at")


def has_second_factor(user: User) -> bool:
    """An authenticator app or a passkey (recovery codes alone are not one: they run out)."""
    return confirmed_totp(user) is not None or passkeys(user).exists()


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _next_query(url: str, request: HttpRequest) -> str:
    return f"{url}?{urlencode({REDIRECT_FIELD_NAME: _safe_next(request)})}"


def _to(url_name: str, request: HttpRequest) -> HttpResponseRedirect:
    """A redirect to a page of the login's, passing on where the user was going."""
    return HttpResponseRedirect(_next_query(reverse(url_name), request))


class RevealForm(forms.Form):
    reason = reason_field(
        min_length=10, help_text="Why you need to see it (recorded in the security log)."
    )
    ticket = forms.CharField(
        required=False, max_length=64, label="Ticket id", help_text="Optional, e.g. OPS-1234."
    )


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text="The 6-digit code of your authenticator app, or one of your recovery codes.",
    )

    def clean_token(self) -> str:
        return "".join(self.cleaned_data["token"].split()).lower()


def _qr_svg(uri: str) -> str:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def issue_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with MFA_RECOVERY_CODES new ones (each used once)."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.MFA_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def verify_second_factor(user: User, token: str):
    """The device that accepts `token`, or None: six digits are an authenticator code, anything
    else a recovery code (used up by this). Each kind of device counts its own failures and
    makes the next attempt wait longer (django-otp's throttling)."""
    model = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    with transaction.atomic():
        for device in model.objects.select_for_update().filter(user=user, confirmed=True):
            if device.verify_token(token):
                return device
    return None


# ----------------------------------------------------------------------------- the site


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Card program operations"
    site_title = "Card program operations"
    index_title = "Operations console"
    login_form = ConsoleAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not needs_second_factor(request)

    def admin_view(self, view, cacheable=False):
        wrapped = super().admin_view(view, cacheable)

        def inner(request, *args, **kwargs):
            if request.user.is_authenticated and needs_second_factor(request):
                if request.path == reverse("admin:logout", current_app=self.name):
                    return view(request, *args, **kwargs)
                query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
                return HttpResponseRedirect(f"{reverse('admin:mfa_verify')}?{query}")
            return wrapped(request, *args, **kwargs)

        return wrapped if cacheable else _same_attributes(inner, wrapped)

    def get_urls(self):
        return [
            path("mfa/", self._second_factor_view(self.mfa_verify), name="mfa_verify"),
            path("mfa/setup/", self._second_factor_view(self.mfa_setup), name="mfa_setup"),
            path("mfa/codes/", self._second_factor_view(self.mfa_codes), name="mfa_codes"),
            path("mfa/passkeys/", self.admin_view(self.mfa_passkeys), name="mfa_passkeys"),
            path("search/", self.admin_view(self.search), name="search"),
            path("audit/", self.admin_view(self.audit), name="audit"),
            *(
                path(route, self.admin_view(functools.partial(view, self)), name=name)
                for route, name, view in console_views()
            ),
            path(
                "reveal/<str:app_label>/<str:model_name>/<str:object_id>/<str:field_name>/",
                self.admin_view(self.reveal_pii),
                name="reveal_pii",
            ),
            *super().get_urls(),
        ]

    def audit(self, request):
        return audit_view(self, request)

    # --- the search box on every page ---------------------------------------------------

    def search(self, request):
        """Tokens, Lithic tokens, last four, emails, merchant and account names: straight to
        the record when exactly one matches exactly, else the matches by kind."""
        term = request.GET.get("q", "")[:200]
        hits = console_search(request, term)
        exact = [hit for hit in hits if hit.exact]
        if len(exact) == 1:
            return HttpResponseRedirect(exact[0].url)
        kinds: dict[str, list] = {}
        for hit in hits:
            kinds.setdefault(hit.kind, []).append(hit)
        return self._page(
            request,
            "admin/search.html",
            {"title": f"Search: {term}" if term else "Search", "term": term, "kinds": kinds},
        )

    # --- personal data, revealed with a reason --------------------------------------------

    def reveal_pii(self, request, app_label, model_name, object_id, field_name):
        """One personal-data value of one record, shown for REVEAL_SECONDS after the operator
        gave a reason; the security log records who, what, why, from where and when."""
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError as exc:
            raise Http404 from exc
        model_admin = self._registry.get(model)
        if model_admin is None or field_name not in pii_field_names(model):
            raise Http404
        if not (
            request.user.has_perm(REVEAL_PERMISSION) and model_admin.has_view_permission(request)
        ):
            raise PermissionDenied
        obj = model_admin.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        field = model._meta.get_field(field_name)
        change_url = reverse(
            f"admin:{app_label}_{model_name}_change", args=(quote(obj.pk),), current_app=self.name
        )
        form = RevealForm(request.POST or None)
        context = {
            "title": f"Reveal {field.verbose_name}",
            "subject": obj,
            "field_label": field.verbose_name,
            "change_url": change_url,
            "form": form,
            "opts": model._meta,
        }
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            ticket = form.cleaned_data["ticket"]
            security_event_record(
                kind=SecurityEventKind.PII_REVEALED,
                request=request,
                outcome=SecurityEventOutcome.SUCCESS,
                target=f"{app_label}.{model_name}:{obj.pk}.{field_name}",
                detail=f"reason: {reason}" + (f"; ticket: {ticket}" if ticket else ""),
            )
            value = getattr(obj, field_name)
            return self._page(
                request,
                "admin/reveal_pii.html",
                {
                    **context,
                    "value": "" if value is None else str(value),
                    "revealed": True,
                    "seconds": REVEAL_SECONDS,
                },
            )
        return self._page(request, "admin/reveal_pii.html", context)

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        ended = request.session.pop(ENDED_BECAUSE, None) if hasattr(request, "session") else None
        if ended:
            messages.info(request, ended)
        if request.method == "POST":
            request.login_throttled = password_check_allowed(request)
            if request.login_throttled is not None:
                security_event_record_refusal(
                    kind=SecurityEventKind.LOGIN_THROTTLED,
                    request=request,
                    reason="the login page's budget of password checks was spent",
                    origin="*",  # the budget is everyone's: one count, whatever the address
                )
        if request.user.is_authenticated and needs_second_factor(request):
            return _to("admin:mfa_verify", request)
        response = super().login(request, extra_context)
        throttled = getattr(request, "login_throttled", None)
        if throttled is not None:
            response.status_code = 429
            response["Retry-After"] = str(throttled.retry_after)
        return response

    def index(self, request, extra_context=None):
        """The overview (each app's sections), above Django's list of apps."""
        extra_context = {**(extra_context or {}), "overview": overview_sections(request)}
        return super().index(request, extra_context)

    def each_context(self, request):
        context = super().each_context(request)
        context["mfa_required"] = mfa_required()
        context["console"] = True  # the console's own links (a plain AdminSite has none)
        return context

    # --- the second factor's pages ------------------------------------------------------

    def _second_factor_view(self, view):
        """For a staff user who gave the password: the pages before the rest of the console."""

        def inner(request, *args, **kwargs):
            user = request.user
            if not (user.is_authenticated and user.is_active and user.is_staff):
                query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
                return HttpResponseRedirect(f"{reverse('admin:login')}?{query}")
            return view(request, *args, **kwargs)

        return never_cache(csrf_protect(sensitive_post_parameters("token")(inner)))

    def _page(self, request, template: str, context: dict, status: int = 200):
        return TemplateResponse(
            request,
            template,
            {**self.each_context(request), REDIRECT_FIELD_NAME: _safe_next(request), **context},
            status=status,
        )

    def mfa_verify(self, request):
        user = request.user
        if not needs_second_factor(request):
            return HttpResponseRedirect(_safe_next(request))
        if not has_second_factor(user):
            return _to("admin:mfa_setup", request)
        form = TokenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            device = verify_second_factor(user, form.cleaned_data["token"])
            if device is not None:
                otp_login(request, device)
                recovery = isinstance(device, StaticDevice)
                security_event_record(
                    kind=SecurityEventKind.MFA_VERIFIED,
                    request=request,
                    outcome=SecurityEventOutcome.SUCCESS,
                    target=user_target(user),
                    detail="recovery code used" if recovery else "authenticator code",
                )
                return HttpResponseRedirect(_safe_next(request))
            security_event_record_refusal(
                kind=SecurityEventKind.MFA_FAILED,
                request=request,
                reason="wrong or reused code",
                target=user_target(user),
            )
            form.add_error(
                "token",
                "That code is not valid. Codes work once, for 30 seconds, and each wrong "
                "code makes the next attempt wait longer.",
            )
        return self._page(
            request,
            "admin/mfa/verify.html",
            {
                "form": form,
                "title": "Second factor",
                "has_passkey": passkeys(user).exists(),
                "has_app": confirmed_totp(user) is not None,
            },
        )

    def mfa_setup(self, request):
        user = request.user
        if has_second_factor(user):
            # Replacing a device is an operator's act (the user admin), never a logged-in one's.
            return _to("admin:mfa_verify", request)
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
        form = TokenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if device.verify_token(form.cleaned_data["token"]):
                with transaction.atomic():
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                    codes = issue_recovery_codes(user)
                    security_event_record(
                        kind=SecurityEventKind.MFA_ENROLLED,
                        request=request,
                        outcome=SecurityEventOutcome.SUCCESS,
                        target=user_target(user),
                        detail=f"authenticator app, {len(codes)} recovery codes",
                    )
                otp_login(request, device)
                return self._page(
                    request,
                    "admin/mfa/recovery_codes.html",
                    {"codes": codes, "title": "Your recovery codes"},
                )
            security_event_record_refusal(
                kind=SecurityEventKind.MFA_FAILED,
                request=request,
                reason="wrong code while enrolling",
                target=user_target(user),
            )
            form.add_error("token", "That code is not valid: check the app's clock and retry.")
        uri = device.config_url
        secret = uri.split("secret=", 1)[1].split("&", 1)[0]
        return self._page(
            request,
            "admin/mfa/setup.html",
            {
                "form": form,
                "qr_svg": _qr_svg(uri),
                "secret": secret,
                "title": "Set up a second factor",
                "after_passkey": _next_query(reverse("admin:mfa_codes"), request),
            },
        )

    def mfa_codes(self, request):
        """The recovery codes of a first enrolment by passkey, shown once."""
        codes = request.session.pop(FRESH_RECOVERY_CODES, None)
        if not codes:
            return HttpResponseRedirect(_safe_next(request))
        return self._page(
            request,
            "admin/mfa/recovery_codes.html",
            {"codes": codes, "title": "Your recovery codes"},
        )

    def mfa_passkeys(self, request):
        """The logged-in operator's passkeys, and adding one (removing is an operator's act:
        the user admin's `reset_mfa`)."""
        return self._page(
            request,
            "admin/mfa/passkeys.html",
            {"passkeys": passkeys(request.user), "title": "Your passkeys"},
        )


def _same_attributes(inner, wrapped):
    """`inner` standing in for `wrapped`, with the attributes the admin's URLs read."""
    for attribute in ("admin_site", "model_admin", "csrf_exempt", "login_required"):
        if hasattr(wrapped, attribute):
            setattr(inner, attribute, getattr(wrapped, attribute))
    inner.__wrapped__ = wrapped
    return inner


# ----------------------------------------------------------------------------- password reset


class StaffPasswordResetForm(auth_forms.PasswordResetForm):
    """Reset links go to active staff only; customers' users have no console password."""

    def get_users(self, email):
        with system_scope(AUTH_SCOPE):
            users = list(User.objects.filter(email__iexact=email, is_active=True, is_staff=True))
        return (user for user in users if user.has_usable_password())


class ConsoleSetPasswordForm(auth_forms.SetPasswordForm):
    def save(self, commit=True):
        self.user._password_event = SecurityEventKind.PASSWORD_RESET
        with system_scope(AUTH_SCOPE):
            return super().save(commit)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = StaffPasswordResetForm
    email_template_name = "registration/password_reset_email.html"

    def post(self, request, *args, **kwargs):
        throttled = password_check_allowed(request)
        if throttled is not None:
            response = self.get(request, *args, **kwargs)
            response.status_code = 429
            response["Retry-After"] = str(throttled.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        security_event_record(
            kind=SecurityEventKind.PASSWORD_RESET_REQUESTED,
            request=self.request,
            outcome=SecurityEventOutcome.SUCCESS,
            target=form.cleaned_data["email"].strip().lower()[:255],
        )
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = ConsoleSetPasswordForm

    def get_user(self, uidb64):
        with system_scope(AUTH_SCOPE):
            return super().get_user(uidb64)


def password_reset_urls():
    context = {"site_header": ConsoleAdminSite.site_header}
    return [
        path(
            "admin/password_reset/",
            PasswordResetView.as_view(extra_context=context),
            name="admin_password_reset",
        ),
        path(
            "admin/password_reset/done/",
            auth_views.PasswordResetDoneView.as_view(extra_context=context),
            name="password_reset_done",
        ),
        path(
            "admin/reset/<uidb64>/<token>/",
            PasswordResetConfirmView.as_view(extra_context=context),
            name="password_reset_confirm",
        ),
        path(
            "admin/reset/done/",
            auth_views.PasswordResetCompleteView.as_view(extra_context=context),
            name="password_reset_complete",
        ),
    ]
