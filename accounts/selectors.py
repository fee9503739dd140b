"""Reads of accounts and their settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType

from accounts.models import Account, AccountSetting
from accounts.settings_registry import REGISTRY, SettingSpec, get_spec, parse_setting


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


def account_list(*, actor):
    """The actor's own account (a queryset of one row)."""
    return Account.objects.filter(pk=actor.account_id)


def address_list(*, actor):
    """Addresses of the actor's account and of its users, with their owners prefetched (one
    query per owner type, whatever the page size)."""
    from accounts.models import Address, User
    from accounts.roles import OWN_ONLY

    addresses = Address.objects.filter(account_id=actor.account_id).prefetch_related("owner")
    if actor.role in OWN_ONLY:
        addresses = addresses.filter(
            owner_type=ContentType.objects.get_for_model(User), owner_id=actor.pk
        )
    return addresses


def account_setting_rows(*, actor):
    """The stored (non-default) settings of the actor's account."""
    return AccountSetting.objects.filter(account_id=actor.account_id)


@dataclass(frozen=True)
class EffectiveSetting:
    """A registered setting of an account: its stored row, or its default when there is none."""

    spec: SettingSpec
    row: AccountSetting | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def is_default(self) -> bool:
        return self.row is None

    @property
    def value(self) -> Any:
        return parse_setting(self.key, self.row.value) if self.row else self.spec.default

    @property
    def updated_at(self):
        return self.row.updated_at if self.row else None


def account_setting_effective_list(*, actor) -> list[EffectiveSetting]:
    """Every registered setting of the actor's account, in key order (one query)."""
    rows = {row.key: row for row in account_setting_rows(actor=actor).filter(key__in=REGISTRY)}
    return [EffectiveSetting(spec=REGISTRY[key], row=rows.get(key)) for key in sorted(REGISTRY)]


def account_setting_effective_get(*, actor, key: str) -> EffectiveSetting | None:
    """One registered setting of the actor's account, or None for a key nobody registered."""
    spec = REGISTRY.get(key)
    if spec is None:
        return None
    row = account_setting_rows(actor=actor).filter(key=key).first()
    return EffectiveSetting(spec=spec, row=row)
