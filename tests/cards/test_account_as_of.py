"""An account as it was at a past moment: users and roles, cards and their states and limits,
profiles and rules, settings, rebuilt from the histories."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from accounts.services import account_setting_set, user_update
from cards.services import card_issue, card_set_limit, card_set_state
from core.soft_delete import soft_delete
from spending.models import SpendingCategory
from spending.services import profile_category_set, spending_profile_create

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def as_of(client, account, moment) -> str:
    response = client.get(
        f"/admin/accounts/account/{account.pk}/as-of/",
        {"at": moment.strftime("%Y-%m-%dT%H:%M:%S")},
    )
    assert response.status_code == 200
    return text(response.content.decode())


def test_the_account_as_it_was(operator_client, acme, customer_admin, cardholder, fixture_actor):
    gambling = SpendingCategory.objects.create(
        mcc="7995", description="Betting", group="t", range_start="7995", range_end="7995"
    )
    profile = spending_profile_create(account=acme, name="Travel")
    card = card_issue(account=acme, cardholder=cardholder, last_four="4242",
                      spend_limit=Decimal("100.00"), spend_limit_duration="MONTHLY")  # fmt: skip
    account_setting_set(account=acme, key="statement_day", value=15)
    time.sleep(1.1)  # the form's precision is a second
    before = timezone.now()
    time.sleep(1.1)

    user_update(user=customer_admin, role=Role.ANALYST)
    card_set_state(card=card, state="PAUSED")
    card_set_limit(card=card, spend_limit=Decimal("250.00"), spend_limit_duration="ANNUALLY")
    profile_category_set(profile=profile, category=gambling, rule="BLOCKED")
    soft_delete(obj=profile)
    account_setting_set(account=acme, key="statement_day", value=1)

    then = as_of(operator_client, acme, before)
    assert "ada@acme.test Admin yes" in then
    assert "•••• 4242 uma@acme.test Open $100.00 per trailing month" in then
    assert "Travel no limit none" in then
    assert "statement_day 15" in then

    now = as_of(operator_client, acme, timezone.now())
    assert "ada@acme.test Analyst yes" in now
    assert "•••• 4242 uma@acme.test Paused $250.00 per trailing year" in now
    assert "Spending profiles (0)" in now  # deleted since
    assert "statement_day 1" in now

    long_ago = as_of(operator_client, acme, before.replace(year=2001))
    assert "did not exist yet" in long_ago


def test_the_account_page_offers_it(operator_client, acme):
    page = operator_client.get(f"/admin/accounts/account/{acme.pk}/change/").content.decode()
    assert f'action="/admin/accounts/account/{acme.pk}/as-of/"' in page
    bad = operator_client.get(f"/admin/accounts/account/{acme.pk}/as-of/", {"at": "yesterday"})
    assert bad.status_code == 200 and "Enter a valid date/time." in bad.content.decode()
