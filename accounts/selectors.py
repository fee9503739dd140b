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
