"""What happens to people's access is written to the security log as it happens: logins,
failures, lockouts, logouts, password changes, role and permission changes."""

from __future__ import annotations

import time

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_save

from accounts.middleware import LOGIN_AT
from accounts.models import SecurityEventKind, SecurityEventOutcome, User
from accounts.security import (
    security_event_record,
    security_event_record_refusal,
    user_target,
)
from core.tenancy import system_scope

# What a user may do: a change to any of these is a role or permission change.
ACCESS_FIELDS = ("role", "is_staff", "is_superuser", "is_active")


def _attempted(credentials: dict | None) -> str:
    return str((credentials or {}).get("username") or "").strip().lower()[:255]


def logged_in(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    if hasattr(request, "session"):
        request.session[LOGIN_AT] = time.time()  # the absolute timeout counts from here
    security_event_record(
        kind=SecurityEventKind.LOGIN,
        request=request,
        outcome=SecurityEventOutcome.SUCCESS,
        user=user,
        target=user_target(user),
        detail="password accepted",
    )


def login_failed(sender, credentials, request=None, **kwargs) -> None:
    if request is None or getattr(request, "axes_locked_out", False):
        return  # a refusal for a lockout is recorded as the lockout (below)
    security_event_record_refusal(
        kind=SecurityEventKind.LOGIN_FAILED,
        request=request,
        reason="wrong email or password",
        target=_attempted(credentials),
    )


def locked_out(sender, request, username, ip_address, **kwargs) -> None:
    security_event_record_refusal(
        kind=SecurityEventKind.LOCKOUT,
        request=request,
        reason=f"locked out after repeated failures (address {ip_address})",
        target=str(username or "").lower()[:255],
    )


def logged_out(sender, request, user, **kwargs) -> None:
    if request is None or user is None:
        return
    reason = getattr(request, "logout_reason", "")
    security_event_record(
        kind=SecurityEventKind.SESSION_EXPIRED if reason else SecurityEventKind.LOGOUT,
        request=request,
        outcome=SecurityEventOutcome.SUCCESS,
        user=user,
        target=user_target(user),
        detail=reason or "logged out",
    )


def access_before(sender, instance: User, update_fields=None, **kwargs) -> None:
    """Keep what the user could do before this save, to compare after it."""
    instance._access_before = None
    if instance.pk is None or instance._state.adding:
        return
    if update_fields is not None and not set(update_fields) & set(ACCESS_FIELDS):
        return
    with system_scope("auth"):
        instance._access_before = (
            User.all_objects.filter(pk=instance.pk).values(*ACCESS_FIELDS).first()
        )


def access_after(sender, instance: User, created: bool, **kwargs) -> None:
    if created:
        return
    if instance._password is not None:
        kind = getattr(instance, "_password_event", SecurityEventKind.PASSWORD_CHANGED)
        security_event_record(
            kind=kind,
            outcome=SecurityEventOutcome.SUCCESS,
            target=user_target(instance),
            user=None,
            detail="every other session of the user ended",
        )
    before = getattr(instance, "_access_before", None)
    if before:
        changes = [
            f"{field}: {before[field]} → {getattr(instance, field)}"
            for field in ACCESS_FIELDS
            if before[field] != getattr(instance, field)
        ]
        if changes:
            security_event_record(
                kind=SecurityEventKind.ROLE_CHANGED,
                outcome=SecurityEventOutcome.SUCCESS,
                target=user_target(instance),
                detail="; ".join(changes),
            )
    instance._access_before = None


def permissions_changed(sender, instance, action, model, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear") or not isinstance(instance, User):
        return
    what = "groups" if model._meta.model_name == "group" else "permissions"
    names = sorted(str(item) for item in model.objects.filter(pk__in=pk_set or ()))
    verb = {"post_add": "added", "post_remove": "removed", "post_clear": "all removed"}[action]
    security_event_record(
        kind=SecurityEventKind.ROLE_CHANGED,
        outcome=SecurityEventOutcome.SUCCESS,
        target=user_target(instance),
        detail=f"{what} {verb}: {', '.join(names)}" if names else f"{what} {verb}",
    )


def connect() -> None:
    user_logged_in.connect(logged_in, dispatch_uid="security_log_login")
    user_login_failed.connect(login_failed, dispatch_uid="security_log_login_failed")
    user_locked_out.connect(locked_out, dispatch_uid="security_log_lockout")
    user_logged_out.connect(logged_out, dispatch_uid="security_log_logout")
    pre_save.connect(access_before, sender=User, dispatch_uid="security_log_access_before")
    post_save.connect(access_after, sender=User, dispatch_uid="security_log_access_after")
    for through in (User.groups.through, User.user_permissions.through):
        m2m_changed.connect(permissions_changed, sender=through, dispatch_uid=f"security_{through}")
