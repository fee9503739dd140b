"""Passkeys (WebAuthn) as the console's second factor, through django-otp-webauthn.

Its four JSON endpoints (begin and complete, for registration and for verification) with the
console's rules on top:

- **Staff only, password first.** Every endpoint needs a staff user who has given the password;
  a passkey never replaces the password (OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN is off), so the
  lockout and the login budget guard every way in.
- **Enrolment as with an authenticator app.** A user without a second factor may register a
  passkey at the first login (and gets recovery codes, shown once); a user who has one must
  have verified it in this session first (the library's own rule).
- **Every outcome is in the security log:** enrolment, verification, and each refusal (counted
  per origin like the other refusals), with the library's machine-readable reason.
"""

from __future__ import annotations

import json

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import JsonResponse
from django.urls import path, reverse
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn import exceptions, views
from django_otp_webauthn.models import WebAuthnCredential

from accounts.console import FRESH_RECOVERY_CODES, has_second_factor, issue_recovery_codes
from accounts.models import SecurityEventKind, SecurityEventOutcome
from accounts.security import (
    security_event_record,
    security_event_record_refusal,
    user_target,
)


class ConsoleUser(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "console_login_required"
    default_detail = "Log in to the console with your password first."


class _Console:
    """Staff who gave the password; refusals are logged."""

    ceremony = ""

    def get_user(self) -> AbstractBaseUser | None:
        user = self.request.user  # type: ignore[attr-defined]
        if user.is_authenticated and user.is_active and user.is_staff:
            return user
        return None

    def initial(self, request, *args, **kwargs):
        if self.get_user() is None:
            raise ConsoleUser()
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.OTPWebAuthnApiError):
            user = self.get_user()
            security_event_record_refusal(
                kind=SecurityEventKind.MFA_FAILED,
                request=self.request,  # type: ignore[attr-defined]
                reason=f"passkey {self.ceremony} refused: {exc.code}",
                target=user_target(user) if user else "",
            )
        return super().handle_exception(exc)  # type: ignore[misc]


class RegistrationBegin(_Console, views.BeginCredentialRegistrationView):
    ceremony = "registration"


class RegistrationComplete(_Console, views.CompleteCredentialRegistrationView):
    ceremony = "registration"

    def post(self, *args, **kwargs):
        user = self.get_user()
        first = not has_second_factor(user)
        response = super().post(*args, **kwargs)
        credential = WebAuthnCredential.objects.get(pk=_json(response)["id"])
        codes = issue_recovery_codes(user) if first else []
        security_event_record(
            kind=SecurityEventKind.MFA_ENROLLED,
            request=self.request,
            outcome=SecurityEventOutcome.SUCCESS,
            target=user_target(user),
            detail=f"passkey {credential.name!r}"
            + (f", {len(codes)} recovery codes" if codes else ""),
        )
        if codes:
            self.request.session[FRESH_RECOVERY_CODES] = codes
        return response


class VerificationBegin(_Console, views.BeginCredentialAuthenticationView):
    ceremony = "verification"


class VerificationComplete(_Console, views.CompleteCredentialAuthenticationView):
    ceremony = "verification"

    def get_success_url(self):
        return self.get_redirect_url() or reverse("admin:index")

    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        credential = WebAuthnCredential.objects.get(pk=_json(response)["id"])
        security_event_record(
            kind=SecurityEventKind.MFA_VERIFIED,
            request=self.request,
            outcome=SecurityEventOutcome.SUCCESS,
            target=user_target(credential.user),
            detail=f"passkey {credential.name!r}",
        )
        return response


def _json(response: JsonResponse) -> dict:
    return json.loads(response.content)


app_name = "otp_webauthn"  # the library's script finds the endpoints by these names

urlpatterns = [
    path(
        "registration/begin/",
        RegistrationBegin.as_view(),
        name="credential-registration-begin",
    ),
    path(
        "registration/complete/",
        RegistrationComplete.as_view(),
        name="credential-registration-complete",
    ),
    path(
        "verification/begin/",
        VerificationBegin.as_view(),
        name="credential-authentication-begin",
    ),
    path(
        "verification/complete/",
        VerificationComplete.as_view(),
        name="credential-authentication-complete",
    ),
    path(
        "jsi18n/",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
        name="js-i18n-catalog",
    ),
]
