"""`Authorization: Api-Key <key>`: the request acts as the key's user, in the key's account."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts import budgets
from accounts.models import Account, ApiKey, SecurityEventKind, User
from accounts.security import security_event_record_refusal
from core.audit import client_ip
from core.db import pin_request_to_primary, use_primary
from core.encryption import encrypted_fields
from core.tenancy import enter_account, system_scope

KEYWORD = "Api-Key"
_PERSONAL_DATA = [
    *(f"user__{field.name}" for field in encrypted_fields(User)),
    *(f"account__{field.name}" for field in encrypted_fields(Account)),
]
# Record use at most this often per key: a write per request would cost more than it tells.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, key = header.partition(" ")
        if keyword != KEYWORD or not key.strip():
            return None
        key = key.strip()
        # An address that sent too many bad keys is refused before any key is looked at:
        # otherwise a valid key found during the flood would still answer differently.
        origin = client_ip(request._request) or "unknown"
        spent = budgets.spent("bad-api-keys", origin, window=settings.API_BAD_KEY_WINDOW_SECONDS)
        if spent.over(settings.API_BAD_KEY_LIMIT - 1):
            security_event_record_refusal(
                kind=SecurityEventKind.API_KEY_THROTTLED,
                request=request._request,
                reason="too many bad API keys from this address",
            )
            raise exceptions.Throttled(
                wait=spent.retry_after,
                detail="Too many requests with bad API keys from this address.",
            )
        prefix = key.partition(".")[0]
        # Whose key it is decides the context, so the key is read in the narrow system
        # context `api-key`; everything after runs in the key's account (core.tenancy).
        # From the primary: a key created a moment ago works, and a revoked one stops, at once.
        # The user's and the account's personal data stay encrypted until something reads them.
        with system_scope("api-key"), use_primary():
            api_key = (
                ApiKey.objects.select_related("user", "account")
                .defer(*_PERSONAL_DATA)
                .filter(prefix=prefix, revoked=False)
                .first()
            )
        if api_key is None or not api_key.is_valid(key):
            raise self._refused(request, origin, "invalid_api_key", "Invalid API key.", prefix)
        if api_key.has_expired:
            raise self._refused(
                request, origin, "api_key_expired", "This API key has expired.", prefix
            )
        user = api_key.user
        if not user.is_active or user.deleted is not None or user.account_id != api_key.account_id:
            raise exceptions.AuthenticationFailed(
                "This API key's user is disabled.", code="user_inactive"
            )
        if api_key.account.deleted is not None or api_key.account.status == Account.Status.CLOSED:
            raise exceptions.AuthenticationFailed("This account is closed.", code="account_closed")
        enter_account(api_key.account_id, f"api_key:{api_key.prefix}")
        self._touch(api_key)
        self._read_your_writes(request._request, api_key)
        # The audit context (core.audit) reads this from the Django request for history rows.
        request._request.audit_api_key = api_key.prefix
        return user, api_key

    def authenticate_header(self, request):
        return KEYWORD

    @staticmethod
    def _refused(request, origin: str, code: str, message: str, prefix: str):
        """Count a bad key against its address, log it, and give the error to raise."""
        budgets.spend("bad-api-keys", origin, window=settings.API_BAD_KEY_WINDOW_SECONDS)
        security_event_record_refusal(
            kind=SecurityEventKind.API_KEY_REFUSED,
            request=request._request,
            reason=f"{code}: key prefix {prefix[:16]!r}",
        )
        return exceptions.AuthenticationFailed(message, code=code)

    @staticmethod
    def _read_your_writes(request, api_key: ApiKey) -> None:
        """A key that wrote within the window reads the primary (core.read_your_writes); a
        request that may write leaves the mark, after its response."""
        if not settings.DATABASE_REPLICA_ALIASES:
            return
        window = timedelta(seconds=settings.READ_YOUR_WRITES_SECONDS)
        if api_key.last_write_at is not None and timezone.now() - api_key.last_write_at < window:
            pin_request_to_primary()

        def mark() -> None:
            # After the response, outside the request's own context (core.read_your_writes).
            with system_scope("api-key"):
                ApiKey.objects.filter(pk=api_key.pk).update(last_write_at=timezone.now())

        request.read_your_writes_mark = mark

    @staticmethod
    def _touch(api_key: ApiKey) -> None:
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`",
        }
