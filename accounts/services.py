"""Every state change of accounts, users, addresses and settings."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Account, AccountSetting, Address, Role, User
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
    return api_key, key


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
