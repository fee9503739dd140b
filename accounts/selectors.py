"""Reads of accounts and their settings."""

from __future__ import annotations

from typing import Any

from accounts.models import Account, AccountSetting
from accounts.settings_registry import get_spec, parse_setting


def account_setting_value(*, account: Account, key: str) -> Any:
    """The typed value of a setting, or its registered default when the account has none."""
    spec = get_spec(key)
    stored = AccountSetting.objects.filter(account=account, key=key).values_list("value", flat=True)
    for value in stored:
        return parse_setting(key, value)
    return spec.default


def user_list(*, actor):
    """The users of the actor's account (only themselves for roles limited to their own)."""
    from accounts.models import User
    from accounts.roles import OWN_ONLY

    users = User.objects.filter(account_id=actor.account_id)
    if actor.role in OWN_ONLY:
        users = users.filter(pk=actor.pk)
    return users
