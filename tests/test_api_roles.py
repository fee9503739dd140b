"""The role table, written out from the issue and checked against the running API.

The issue's rules: owners and admins manage everything in their account; analysts read
everything in the account and write nothing; plain users see their own cards and
transactions and may pause their own card. The spending-category catalogue is global
reference data (not an account's), so every role may read it.

The table below is written by hand from those rules, never computed from accounts.roles.POLICY:
the point is to check POLICY (and the routes) against the spec. "Allowed" means the request
got past the role check (anything but 401/403; the empty body may give a 400, a plain user's
other cards a 404); "refused" means 403 `permission_denied`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from django.db import transaction
from django.urls import Resolver404, resolve

from accounts.roles import POLICY
from tests.api_world import api_routes, build_world

OWNER, ADMIN, USER, ANALYST = "owner", "admin", "user", "analyst"
ROLES = (OWNER, ADMIN, USER, ANALYST)
MANAGERS = {OWNER, ADMIN}
READERS = {OWNER, ADMIN, ANALYST}
EVERYONE = set(ROLES)


@dataclass(frozen=True)
class Row:
    resource: str  # the POLICY row
    action: str
    method: str
    path: str  # placeholders filled from the test world
    allowed: frozenset
    routed: bool = True  # False: the spec offers no such operation; every role gets 405

    @property
    def id(self) -> str:
        return f"{self.resource}.{self.action}:{self.method}"


def _crud(resource, collection, detail, *, read, write, offered=("create", "patch")) -> list[Row]:
    """The usual rows; `offered` says which writes the resource offers beyond delete: PATCH is
    the way to change an object, PUT is offered only where it is the natural verb (settings)."""
    rows = [
        Row(resource, "list", "GET", collection, frozenset(read)),
        Row(resource, "create", "POST", collection, frozenset(write), "create" in offered),
        Row(resource, "retrieve", "GET", detail, frozenset(read)),
        Row(resource, "update", "PUT", detail, frozenset(write), "put" in offered),
        Row(resource, "partial_update", "PATCH", detail, frozenset(write), "patch" in offered),
        Row(resource, "destroy", "DELETE", detail, frozenset(write)),
        Row(resource, "history", "GET", f"{detail}history/", frozenset(read)),
    ]
    return [r if r.routed else replace(r, allowed=frozenset()) for r in rows]


V1 = "/api/v1"
TABLE: list[Row] = [
    # The caller's own account: read by readers, changed by managers, never created or deleted.
    Row("account", "retrieve", "GET", f"{V1}/account/", frozenset(READERS)),
    Row("account", "update", "PUT", f"{V1}/account/", frozenset(), routed=False),
    Row("account", "partial_update", "PATCH", f"{V1}/account/", frozenset(MANAGERS)),
    Row("account", "history", "GET", f"{V1}/account/history/", frozenset(READERS)),
    *_crud("users", f"{V1}/users/", f"{V1}/users/{{member}}/", read=READERS, write=MANAGERS),
    *_crud(
        "addresses",
        f"{V1}/addresses/",
        f"{V1}/addresses/{{address}}/",
        read=READERS,
        write=MANAGERS,
    ),
    *_crud(
        "account_settings",
        f"{V1}/settings/",
        f"{V1}/settings/{{setting}}/",
        read=READERS,
        write=MANAGERS,
        offered=("put",),  # PUT /settings/{key}/ sets a setting, new or not
    ),
    *_crud(
        "card_products",
        f"{V1}/card-products/",
        f"{V1}/card-products/{{product}}/",
        read=READERS,
        write=MANAGERS,
    ),
    *_crud(
        "spending_profiles",
        f"{V1}/spending-profiles/",
        f"{V1}/spending-profiles/{{profile}}/",
        read=READERS,
        write=MANAGERS,
    ),
    Row("spending_categories", "list", "GET", f"{V1}/spending-categories/", frozenset(EVERYONE)),
    Row(
        "spending_categories",
        "retrieve",
        "GET",
        f"{V1}/spending-categories/{{mcc}}/",
        frozenset(EVERYONE),
    ),
    # Cards: a plain user reads and pauses their own; cards are closed, never deleted or PUT.
    Row("cards", "list", "GET", f"{V1}/cards/", frozenset(EVERYONE)),
    Row("cards", "create", "POST", f"{V1}/cards/", frozenset(MANAGERS)),
    Row("cards", "retrieve", "GET", f"{V1}/cards/{{card}}/", frozenset(EVERYONE)),
    Row("cards", "update", "PUT", f"{V1}/cards/{{card}}/", frozenset(), routed=False),
    Row("cards", "partial_update", "PATCH", f"{V1}/cards/{{card}}/", frozenset(MANAGERS)),
    Row("cards", "destroy", "DELETE", f"{V1}/cards/{{card}}/", frozenset(), routed=False),
    Row("cards", "pause", "POST", f"{V1}/cards/{{card}}/pause/", frozenset(MANAGERS | {USER})),
    Row("cards", "unpause", "POST", f"{V1}/cards/{{card}}/unpause/", frozenset(MANAGERS)),
    Row("cards", "close", "POST", f"{V1}/cards/{{card}}/close/", frozenset(MANAGERS)),
    Row("cards", "history", "GET", f"{V1}/cards/{{card}}/history/", frozenset(EVERYONE)),
    # Transactions are read-only for everyone (a plain user: those of their own cards).
    Row("transactions", "list", "GET", f"{V1}/transactions/", frozenset(EVERYONE)),
    Row(
        "transactions",
        "retrieve",
        "GET",
        f"{V1}/transactions/{{transaction}}/",
        frozenset(EVERYONE),
    ),
    # Disputes as Lithic reports them: read-only, like the transactions they are about.
    Row("disputes", "list", "GET", f"{V1}/disputes/", frozenset(EVERYONE)),
    Row("disputes", "retrieve", "GET", f"{V1}/disputes/{{dispute}}/", frozenset(EVERYONE)),
    # Lithic's balance beside ours, and its backtests of a profile's rule: read by readers.
    Row("balance_reports", "list", "GET", f"{V1}/balance-reports/", frozenset(READERS)),
    Row(
        "spending_profiles",
        "backtests",
        "GET",
        f"{V1}/spending-profiles/{{profile}}/backtests/",
        frozenset(READERS),
    ),
]


def _route(path: str):
    """(view actions mapping, resolved) or None when the path is not routed at all."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return getattr(match.func, "actions", None) or {}


@pytest.fixture
def world(acme, customer_owner, cardholder):
    return build_world(acme, slug="acme", owner=customer_owner, member=cardholder, transactions=12)


@pytest.fixture
def clients(api_client, customer_owner, customer_admin, cardholder, customer_analyst):
    return {
        OWNER: api_client(customer_owner),
        ADMIN: api_client(customer_admin),
        USER: api_client(cardholder),
        ANALYST: api_client(customer_analyst),
    }


def _fill(path: str, world) -> str:
    own_txn = next(
        (t for t in world.transactions if t.card_id == world.member_card.pk),
        world.transactions[0],
    )
    return path.format(
        member=world.member.token,
        address=world.address.token,
        setting=world.setting.key,
        product=world.product.token,
        profile=world.profile.token,
        mcc=world.category.mcc,
        card=world.member_card.token,  # held by the plain user, so "allowed" is not hidden
        transaction=own_txn.token,
        dispute=world.disputes[0].token,  # on the plain user's card's transaction
    )


def _send(client, method: str, path: str):
    body = "{}" if method in ("POST", "PUT", "PATCH") else ""
    return client.generic(method, path, data=body, content_type="application/json")


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_role_table(row: Row, world, clients):
    path = _fill(row.path, world)
    actions = _route(path)
    if row.routed:
        if actions is None:
            pytest.skip(f"route not registered yet: {row.method} {row.path}")
        if row.method.lower() not in actions:
            pytest.skip(f"method not routed yet: {row.method} {row.path} ({row.action})")
        assert actions[row.method.lower()] == row.action, (
            f"{row.method} {row.path} runs `{actions[row.method.lower()]}`, expected `{row.action}`"
        )
    wrong = []
    for role, client in clients.items():
        # Each role acts on the same untouched world: undo every request's writes.
        with transaction.atomic():
            response = _send(client, row.method, path)
            transaction.set_rollback(True)
        status = response.status_code
        if not row.routed:
            if status != 405:
                wrong.append(f"{role}: expected 405 (not offered), got {status}")
        elif role in row.allowed:
            if status in (401, 403) or status >= 500:
                wrong.append(f"{role}: expected allowed, got {status} {response.content[:200]!r}")
        elif status != 403 or response.json()["errors"][0]["code"] != "permission_denied":
            wrong.append(f"{role}: expected 403 permission_denied, got {status}")
    assert not wrong, f"{row.method} {row.path}: " + "; ".join(wrong)


def test_every_policy_entry_is_in_the_table():
    in_table = {(r.resource, r.action) for r in TABLE}
    missing = sorted(
        (resource, action)
        for resource, actions in POLICY.items()
        for action in actions
        if (resource, action) not in in_table
    )
    assert not missing, f"POLICY entries with no row in the role table: {missing}"


def test_policy_agrees_with_the_table():
    """The same check without HTTP: catches a POLICY entry whose route is not registered yet."""
    wrong = []
    for row in TABLE:
        granted = {str(r) for r in POLICY.get(row.resource, {}).get(row.action, ())}
        if row.routed and granted != set(row.allowed):
            wrong.append(f"{row.id}: POLICY {sorted(granted)} != spec {sorted(row.allowed)}")
    assert not wrong, "\n".join(wrong)


def test_every_routed_operation_is_in_the_table():
    """A new endpoint (or action) must get its row here before it ships."""
    in_table = {(r.resource, r.method.lower(), r.action) for r in TABLE if r.routed}
    missing = sorted(
        f"{method.upper()} {route.template}: {route.view.policy_resource}.{action}"
        for route in api_routes()
        for method, action in route.actions.items()
        if (route.view.policy_resource, method, action) not in in_table
    )
    assert not missing, "routed operations with no row in the role table:\n" + "\n".join(missing)


def test_every_routed_row_of_the_table_resolves():
    """A row marked routed names a path the API serves (a renamed route fails here)."""
    pending = sorted(
        {r.path.split("{")[0] for r in TABLE if r.routed and _route(_fill_dummy(r.path)) is None}
    )
    assert not pending, f"rows marked routed with no route: {', '.join(pending)}"


def _fill_dummy(path: str) -> str:
    dummy = "00000000-0000-4000-8000-000000000000"
    return path.format(
        member=dummy,
        address=dummy,
        setting="block_high_risk_mcc",
        product=dummy,
        profile=dummy,
        mcc="5812",
        card=dummy,
        transaction=dummy,
        dispute=dummy,
    )
