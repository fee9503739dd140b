"""Addresses belong to accounts or users through one generic relation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Address
from accounts.services import address_add
from core.soft_delete import soft_delete


def add(owner, **overrides):
    values = {
        "owner": owner,
        "address_type": "billing",
        "line1": "1 Main St",
        "city": "Springfield",
        "postal_code": "12345",
    }
    return address_add(**(values | overrides))


def test_accounts_and_users_both_have_addresses(acme, customer_admin):
    business = add(acme, address_type="business", is_primary=True)
    shipping = add(customer_admin, address_type="shipping", line1="9 Elm St")
    assert list(acme.addresses.all()) == [business]
    assert list(customer_admin.addresses.all()) == [shipping]
    assert shipping.owner == customer_admin
    # The tenant column is derived from the owner.
    assert business.account_id == acme.pk
    assert shipping.account_id == acme.pk


def test_generic_relation_is_queryable_from_the_address_side(acme, customer_admin):
    add(acme)
    add(customer_admin)
    assert Address.objects.filter(account_owner=acme).count() == 1
    assert Address.objects.filter(user_owner__email="ada@acme.test").count() == 1


def test_new_primary_address_demotes_the_previous_one(acme):
    first = add(acme, is_primary=True)
    second = add(acme, is_primary=True, line1="2 Main St")
    first.refresh_from_db()
    assert not first.is_primary
    assert second.is_primary


def test_primary_addresses_are_per_type(acme):
    add(acme, address_type="billing", is_primary=True)
    add(acme, address_type="shipping", is_primary=True)
    assert Address.objects.filter(is_primary=True).count() == 2


def test_address_must_be_in_its_owners_account(acme, globex, customer_admin):
    address = Address(
        owner=customer_admin,
        account=globex,
        address_type="billing",
        line1="x",
        city="y",
        postal_code="1",
    )
    with pytest.raises(ValidationError):
        address.full_clean()


def test_staff_without_account_cannot_have_addresses(operator):
    with pytest.raises(ValidationError):
        add(operator)


def test_soft_deleted_address_leaves_the_owners_list(acme):
    address = add(acme)
    soft_delete(obj=address)
    assert list(acme.addresses.all()) == []
