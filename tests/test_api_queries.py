"""No N+1: the number of queries of every list (and history) request is the same for 2 rows
as for 12. Each list route needs a way to make more of its rows here; a new list without one
fails, so that it is measured before it ships."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.services import account_setting_set, address_add, user_create
from accounts.settings_registry import REGISTRY
from cards.services import card_issue, card_product_create, card_set_limit
from core.audit import system_actor
from demo.bulk import transactions_add
from spending.models import ProfileCategory
from spending.services import profile_category_set, spending_profile_create
from tests.api_world import (
    api_routes,
    balance_reports_add,
    build_world,
    dispute_add,
    spending_category,
)
from transactions.models import Transaction

_serial = itertools.count()
SETTING_VALUES = {
    "block_high_risk_mcc": False,
    "default_card_spend_limit": Decimal("250.00"),
    "low_balance_alert_threshold": Decimal("75.00"),
    "statement_day": 15,
    "require_card_memo": True,
    "timezone": "Europe/Paris",
}


def _cards(world, n):
    for _ in range(n):
        card_issue(
            account=world.account,
            product=world.product,
            cardholder=world.member,
            profile=world.profile,
            memo=f"card {next(_serial)}",
        )


def _products(world, n):
    for _ in range(n):
        card_product_create(
            account=world.account, name=f"product {next(_serial)}", default_profile=world.profile
        )


def _profiles(world, n):
    for _ in range(n):
        profile = spending_profile_create(account=world.account, name=f"profile {next(_serial)}")
        profile_category_set(
            profile=profile, category=world.category, rule=ProfileCategory.Rule.BLOCKED
        )


def _categories(world, n):
    for _ in range(n):
        spending_category(f"{7000 + next(_serial) % 2000:04d}", "Test category")


def _transactions(world, n):
    transactions_add(count=n, seed=next(_serial), account_ids=[world.account.pk])


def _disputes(world, n):
    own = list(Transaction.objects.filter(account=world.account).order_by("id")[:n])
    if len(own) < n:
        transactions_add(count=n - len(own), seed=next(_serial), account_ids=[world.account.pk])
        own = list(Transaction.objects.filter(account=world.account).order_by("id")[:n])
    for txn in own:
        dispute_add(txn)


def _balance_reports(world, n):
    balance_reports_add(world.account, n)


def _users(world, n):
    for _ in range(n):
        user = user_create(
            email=f"u{next(_serial)}@acme.test", account=world.account, role=Role.ANALYST
        )
        address_add(
            owner=user, address_type="shipping", line1="3 Road", city="Town", postal_code="1"
        )


def _addresses(world, n):
    for index in range(n):
        owner = world.account if index % 2 else world.member
        address_add(owner=owner, address_type="business", line1="4 Lane", city="C", postal_code="2")


def _settings(world, n):
    # The registry bounds this list: "n" settings, capped by the keys that exist.
    for key in list(SETTING_VALUES)[: min(n, len(REGISTRY))]:
        account_setting_set(account=world.account, key=key, value=SETTING_VALUES[key])


def _card_changes(world, n):
    for index in range(n):
        card_set_limit(
            card=world.card, spend_limit=Decimal(100 + index), spend_limit_duration="MONTHLY"
        )


MAKERS: dict[str, Callable] = {
    "/api/v1/cards/": _cards,
    "/api/v1/card-products/": _products,
    "/api/v1/spending-profiles/": _profiles,
    "/api/v1/spending-categories/": _categories,
    "/api/v1/transactions/": _transactions,
    "/api/v1/disputes/": _disputes,
    "/api/v1/balance-reports/": _balance_reports,
    "/api/v1/users/": _users,
    "/api/v1/addresses/": _addresses,
    "/api/v1/settings/": _settings,
}
LIST_ROUTES = sorted(r.template for r in api_routes() if r.actions.get("get") == "list")
# Lists that hold at most a handful of rows by construction.
SMALL = {"/api/v1/settings/": (1, len(REGISTRY))}
# Lists that always show every row they can (settings: each key, stored or default).
FIXED_LENGTH = {"/api/v1/settings/"}


@pytest.fixture
def world(acme, customer_owner):
    return build_world(acme, slug="acme", owner=customer_owner, transactions=0)


def _count(client, path) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"page_size": 100})
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return len(queries), len(rows)


@pytest.mark.parametrize("path", LIST_ROUTES)
def test_list_queries_do_not_grow_with_the_page(path, world, api_client, customer_owner):
    maker = MAKERS.get(path)
    assert maker is not None, f"no way to make rows for {path}: add one to MAKERS"
    client = api_client(customer_owner)
    client.get(path)  # first use of the key records last_used_at: not part of the list's cost
    few, many = SMALL.get(path, (2, 12))
    with system_actor("test:fixtures"):
        maker(world, few)
    small_queries, small_rows = _count(client, path)
    with system_actor("test:fixtures"):
        maker(world, many - few)
    big_queries, big_rows = _count(client, path)
    if path not in FIXED_LENGTH:
        assert big_rows > small_rows, "the second page should show the new rows"
    assert big_queries == small_queries, (
        f"{path}: {small_queries} queries for {small_rows} rows, {big_queries} for {big_rows}"
    )


def test_history_queries_do_not_grow_with_the_page(world, api_client, customer_owner):
    """The history mixin is shared by every resource: measured once, on cards."""
    route = "/api/v1/cards/{token}/history/"
    assert route in {r.template for r in api_routes()}
    client = api_client(customer_owner)
    path = route.format(token=world.card.token)
    client.get(path)
    with system_actor("test:fixtures"):
        _card_changes(world, 2)
    small_queries, small_rows = _count(client, path)
    with system_actor("test:fixtures"):
        _card_changes(world, 10)
    big_queries, big_rows = _count(client, path)
    assert big_rows > small_rows
    assert big_queries == small_queries
