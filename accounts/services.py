"""Every state change of accounts, users, addresses and settings."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import (
    Account,
    AccountSetting,
    Address,
    Role,
    SecurityEventKind,
    SecurityEventOutcome,
    User,
)
from accounts.settings_registry import validate_setting


@transaction.atomic
def account_create(
    *,
    name: str,
    currency: str = "USD",
    balance: Decimal = Decimal("0.00"),
    tax_id: str = "",
    lithic_account_token=None,
) -> Account:
    """Create an account (tenant)."""
    account = Account(
        name=name,
        currency=currency,
        balance=balance,
        tax_id=tax_id,
        lithic_account_token=lithic_account_token,
    )
    account.full_clean()
    account.save()
    return account


@transaction.atomic
def user_create(
    *,
    email: str,
    account: Account | None,
    role: str = Role.USER,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    date_of_birth: datetime.date | None = None,
    password: str | None = None,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """Create a customer user (with an account) or an operator (staff, no account needed)."""
    return User.objects.create_user(
        email=email,
        password=password,
        account=account,
        role=role,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        date_of_birth=date_of_birth,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )


@transaction.atomic
def address_add(
    *,
    owner: Account | User,
    address_type: str,
    line1: str,
    city: str,
    postal_code: str,
    country: str = "US",
    line2: str = "",
    region: str = "",
    is_primary: bool = False,
) -> Address:
    """Add an address to an account or a user; a new primary address demotes the old one."""
    owner_type = ContentType.objects.get_for_model(owner)
    if is_primary:
        current = Address.objects.select_for_update().filter(
            owner_type=owner_type, owner_id=owner.pk, address_type=address_type, is_primary=True
        )
        for old in current:
            old.is_primary = False
            old.save(update_fields=["is_primary"])
    address = Address(
        owner_type=owner_type,
        owner_id=owner.pk,
        address_type=address_type,
        line1=line1,
        line2=line2,
        city=city,
        region=region,
        postal_code=postal_code,
        country=country,
        is_primary=is_primary,
    )
    address.full_clean()
    address.save()
    return address


@transaction.atomic
def account_setting_set(*, account: Account, key: str, value) -> AccountSetting:
    """Set one typed setting; unknown keys and wrong types raise ValidationError."""
    stored = validate_setting(key, value)
    setting = AccountSetting.objects.select_for_update().filter(account=account, key=key).first()
    if setting is None:
        setting = AccountSetting(account=account, key=key, value=stored)
        setting.full_clean()
        setting.save()
    elif setting.value != stored:
        setting.value = stored
        setting.full_clean()
        setting.save(update_fields=["value"])
    return setting


@transaction.atomic
def api_key_create(*, user: User, name: str, expires_at=None) -> tuple:
    """Create an API key for a customer user. Returns (key row, the key itself, shown once)."""
    from accounts.models import ApiKey

    if user.account_id is None:
        raise ValidationError({"user": "API keys belong to customer users (with an account)."})
    api_key = ApiKey(user=user, account_id=user.account_id, name=name, expiry_date=expires_at)
    key = ApiKey.objects.assign_key(api_key)
    api_key.full_clean(exclude=["id", "prefix", "hashed_key"])
    api_key.save()
    _api_key_event(SecurityEventKind.API_KEY_CREATED, api_key)
    return api_key, key


def _api_key_event(kind: str, api_key) -> None:
    from accounts.security import security_event_record

    security_event_record(
        kind=kind,
        outcome=SecurityEventOutcome.SUCCESS,
        target=f"accounts.apikey:{api_key.pk}",
        detail=f"key {api_key.prefix} ({api_key.name}) of user {api_key.user_id}, "
        f"account {api_key.account_id}",
    )


@transaction.atomic
def api_key_revoke(*, api_key) -> None:
    """Revoke an API key for good."""
    from django.utils import timezone

    from accounts.models import ApiKey

    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not api_key.revoked:
        api_key.revoked = True
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked", "revoked_at"])
        _api_key_event(SecurityEventKind.API_KEY_REVOKED, api_key)


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()
"""Default of optional update arguments: the field keeps its value (None may be a value)."""


def _apply(obj, changes: dict) -> list[str]:
    """Set the given fields on obj; returns the names of those whose value changed."""
    changed = []
    for name, value in changes.items():
        if value is UNCHANGED or getattr(obj, name) == value:
            continue
        setattr(obj, name, value)
        changed.append(name)
    return changed


@transaction.atomic
def account_update(*, account: Account, name=UNCHANGED, tax_id=UNCHANGED) -> Account:
    """Change an account's name and/or tax id."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    changed = _apply(account, {"name": name, "tax_id": tax_id})
    if changed:
        account.full_clean()
        account.save(update_fields=changed)
    return account


def _is_owner(user: User) -> bool:
    # Read again (under the account lock where it matters): the actor may have been demoted
    # by a request that committed after this one authenticated.
    return User.objects.filter(pk=user.pk, role=Role.OWNER, is_active=True).exists()


def _require_owner(*, actor: User | None, doing: str) -> None:
    # actor None is the console or a command, which operators are trusted with.
    if actor is not None and not _is_owner(actor):
        from accounts.errors import OwnerRoleRequired

        raise OwnerRoleRequired(f"Only an owner may {doing}.")


def _check_owner_role_change(*, actor: User | None, before: str | None, after: str) -> None:
    if before != after and Role.OWNER in (before, after):
        _require_owner(actor=actor, doing="grant or remove the owner role")


def _check_other_owner_remains(*, user: User) -> None:
    from accounts.errors import LastOwner

    assert user.account_id is not None  # noqa: S101 - owners belong to an account
    others = User.objects.filter(
        account_id=user.account_id, role=Role.OWNER, is_active=True
    ).exclude(pk=user.pk)
    if not others.exists():
        raise LastOwner("The last active owner of an account cannot be demoted or removed.")


def _lock_account_users(*, user: User) -> User:
    # Role and activity changes of one account's users run one at a time (the account row is
    # the lock), so two requests cannot each remove "the other" last owner.
    assert user.account_id is not None  # noqa: S101 - customer users belong to an account
    Account.objects.select_for_update().filter(pk=user.account_id).first()
    return User.objects.select_for_update().get(pk=user.pk)


@transaction.atomic
def user_create_by(
    *,
    actor: User,
    email: str,
    role: str = Role.USER,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    date_of_birth: datetime.date | None = None,
) -> User:
    """Create a user in the actor's account (no password: such users do not log in to the
    console); only an owner may create an owner."""
    _check_owner_role_change(actor=actor, before=None, after=role)
    return user_create(
        email=email,
        account=actor.account,
        role=role,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        date_of_birth=date_of_birth,
    )


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: User | None = None,
    email=UNCHANGED,
    role=UNCHANGED,
    first_name=UNCHANGED,
    last_name=UNCHANGED,
    phone=UNCHANGED,
    date_of_birth=UNCHANGED,
    is_active=UNCHANGED,
) -> User:
    """Change a customer user. Only an owner may grant or remove the owner role, deactivate an
    owner or change an owner's email; the last active owner of an account stays one."""
    user = _lock_account_users(user=user)
    was_active_owner = user.role == Role.OWNER and user.is_active
    if role is not UNCHANGED:
        _check_owner_role_change(actor=actor, before=user.role, after=role)
    if is_active is False and was_active_owner:
        _require_owner(actor=actor, doing="deactivate an owner")
    if email is not UNCHANGED and user.role == Role.OWNER and email != user.email:
        # An owner's email is where the account's control is recovered: as much theirs as
        # the role itself.
        _require_owner(actor=actor, doing="change an owner's email")
    changed = _apply(
        user,
        {
            "email": email,
            "role": role,
            "first_name": first_name,
            "last_name": last_name,
            "phone": phone,
            "date_of_birth": date_of_birth,
            "is_active": is_active,
        },
    )
    if not changed:
        return user
    if was_active_owner and not (user.role == Role.OWNER and user.is_active):
        _check_other_owner_remains(user=user)
    user.full_clean(exclude=["password"])
    user.save(update_fields=changed)
    return user


@transaction.atomic
def user_delete(*, user: User, actor: User | None = None) -> None:
    """Soft-delete a customer user. Nobody deletes themselves; only an owner deletes an owner;
    the last active owner stays."""
    from accounts.errors import CannotDeleteSelf
    from core.soft_delete import soft_delete

    if actor is not None and actor.pk == user.pk:
        raise CannotDeleteSelf("You cannot delete your own user.")
    user = _lock_account_users(user=user)
    if user.role == Role.OWNER:
        _require_owner(actor=actor, doing="delete an owner")
        if user.is_active:
            _check_other_owner_remains(user=user)
    soft_delete(obj=user)


def _demote_primary(*, address: Address) -> None:
    current = (
        Address.objects.select_for_update()
        .filter(
            owner_type_id=address.owner_type_id,
            owner_id=address.owner_id,
            address_type=address.address_type,
            is_primary=True,
        )
        .exclude(pk=address.pk)
    )
    for old in current:
        old.is_primary = False
        old.save(update_fields=["is_primary"])


@transaction.atomic
def address_update(
    *,
    address: Address,
    address_type=UNCHANGED,
    line1=UNCHANGED,
    line2=UNCHANGED,
    city=UNCHANGED,
    region=UNCHANGED,
    postal_code=UNCHANGED,
    country=UNCHANGED,
    is_primary=UNCHANGED,
) -> Address:
    """Change an address; making it primary demotes the owner's current primary of its type."""
    address = Address.objects.select_for_update().get(pk=address.pk)
    changed = _apply(
        address,
        {
            "address_type": address_type,
            "line1": line1,
            "line2": line2,
            "city": city,
            "region": region,
            "postal_code": postal_code,
            "country": country,
            "is_primary": is_primary,
        },
    )
    if not changed:
        return address
    if address.is_primary and {"is_primary", "address_type"} & set(changed):
        _demote_primary(address=address)
    address.full_clean()
    address.save(update_fields=changed)
    return address


@transaction.atomic
def account_setting_reset(*, account: Account, key: str) -> None:
    """Return a setting to its registered default (the stored row is soft-deleted)."""
    from accounts.settings_registry import get_spec
    from core.soft_delete import soft_delete

    get_spec(key)
    setting = AccountSetting.objects.select_for_update().filter(account=account, key=key).first()
    if setting is not None:
        soft_delete(obj=setting)
