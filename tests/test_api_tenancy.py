"""The cross-tenant walk: with the most powerful key of account A (an owner), every route of the
API and every method it allows, with every object token of account B. Nothing may leak and
nothing of B may change: another account's object is a 404, exactly like one that does not
exist; lists never show B's tokens; references to B's objects in a body are "does not exist"."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from accounts.api.throttling import ApiKeyRateThrottle
from accounts.models import Account, AccountSetting, Address, User
from accounts.services import account_setting_set
from cards.models import Card, CardProduct
from core.audit import system_actor
from spending.models import AuthRuleBacktest, ProfileCategory, SpendingProfile
from tests.api_world import api_routes, build_world
from transactions.models import BalanceReport, Dispute, Transaction

# Settings are addressed by their registry key, which every account shares: B sets one that A
# does not, with a value that appears nowhere else.
B_ONLY_SETTING = ("default_card_spend_limit", Decimal("4321.98"))
WRITE_BODIES = {"post": "{}", "put": '{"value": 1}', "patch": "{}", "delete": ""}
B_MODELS = (
    Account,
    User,
    Address,
    AccountSetting,
    CardProduct,
    SpendingProfile,
    ProfileCategory,
    Dispute,
    BalanceReport,
    AuthRuleBacktest,
)


@pytest.fixture
def a_world(acme, customer_owner):
    return build_world(acme, slug="acme", owner=customer_owner, transactions=6, seed=1)


@pytest.fixture
def b_world(globex, other_customer):
    world = build_world(globex, slug="globex", owner=other_customer, transactions=6, seed=2)
    with system_actor("test:fixtures"):
        account_setting_set(account=globex, key=B_ONLY_SETTING[0], value=B_ONLY_SETTING[1])
    return world


def _snapshot(account: Account) -> dict:
    """B's rows and history counts, to compare before and after the walk."""
    state = {}
    for model in (*B_MODELS, Card, Transaction):
        rows = model.all_objects if hasattr(model, "all_objects") else model.objects
        rows = rows.filter(pk=account.pk) if model is Account else rows.filter(account=account)
        state[model.__name__] = sorted(map(repr, rows.order_by("pk").values()))
        if hasattr(model, "history"):
            history = model.history.model.objects
            history = (
                history.filter(id=account.pk)
                if model is Account
                else history.filter(account_id=account.pk)
            )
            state[f"{model.__name__}.history"] = history.count()
    return state


def _b_tokens(world) -> set[str]:
    return set(world.tokens().values())


def _send(client, method: str, path: str):
    return client.generic(
        method.upper(), path, data=WRITE_BODIES.get(method, ""), content_type="application/json"
    )


def test_every_detail_route_answers_404_for_every_object_of_another_account(
    api_client, customer_owner, a_world, b_world, globex
):
    client = api_client(customer_owner)
    before = _snapshot(globex)
    b_tokens = sorted(_b_tokens(b_world))
    requests = 0
    leaks = []
    routes = [r for r in api_routes() if r.params]
    assert routes, "no detail routes found"
    for route in routes:
        (param,) = route.params
        if param == "token":
            values, expect_404 = b_tokens, True
        elif param == "key":
            # Keys are shared names: A's request reaches A's own setting (or its default).
            values, expect_404 = [B_ONLY_SETTING[0]], False
        elif param == "mcc":
            continue  # the MCC catalogue is global reference data, not B's
        else:
            pytest.fail(f"unknown lookup `{param}` in {route.template}: teach the walk about it")
        for value in values:
            path = route.path(**{param: value})
            for method in route.actions:
                response = _send(client, method, path)
                requests += 1
                body = response.content.decode()
                if expect_404:
                    code = response.json()["errors"][0]["code"] if response.content else None
                    if response.status_code != 404 or code != "not_found":
                        leaks.append(
                            f"{method.upper()} {path}: {response.status_code} {body[:150]}"
                        )
                elif str(B_ONLY_SETTING[1]) in body or any(t in body for t in b_tokens):
                    leaks.append(f"{method.upper()} {path}: shows B's data: {body[:150]}")
    print(f"\ncross-tenant walk: {requests} requests over {len(routes)} detail routes")
    assert not leaks, f"{len(leaks)} leaks:\n" + "\n".join(leaks)
    assert _snapshot(globex) == before


def test_lists_never_show_another_accounts_tokens(
    api_client, customer_owner, a_world, b_world, globex, monkeypatch
):
    # The walk sends more requests than one key's budget a minute; the budget is not its subject.
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "100000/min"})
    client = api_client(customer_owner)
    b_tokens = _b_tokens(b_world)
    lists = [r for r in api_routes() if not r.params and "get" in r.actions]
    requests = 0
    leaks = []
    # Filters that take a token, fed B's tokens: the answer is empty or a 400, never B's rows.
    filters = ("card", "user", "cardholder", "product", "profile", "owner", "account")
    for route in lists:
        queries = [{"page_size": 100}]
        queries += [
            {name: token, "page_size": 100} for name in filters for token in sorted(b_tokens)
        ]
        for query in queries:
            response = client.get(route.template, query)
            requests += 1
            asked = {str(v) for v in query.values()}
            body = response.content.decode()
            shown = {t for t in b_tokens - asked if t in body}
            if shown or response.status_code >= 500 or str(B_ONLY_SETTING[1]) in body:
                leaks.append(f"GET {route.template} {query}: {response.status_code} {shown}")
    print(f"\nlist walk: {requests} requests over {len(lists)} lists")
    assert not leaks, "\n".join(leaks)
    # A's own data is there: the walk looked at real pages, not empty ones.
    cards = client.get("/api/v1/cards/").json()["results"]
    assert {c["token"] for c in cards} == {str(a_world.card.token), str(a_world.member_card.token)}


def test_a_random_token_and_another_accounts_token_get_the_same_answer(
    api_client, customer_owner, b_world
):
    client = api_client(customer_owner)
    for route in api_routes():
        if route.params != ("token",) or "get" not in route.actions:
            continue
        theirs = client.get(route.path(token=b_world.card.token))
        nobodys = client.get(route.path(token=uuid.uuid4()))
        assert theirs.status_code == nobodys.status_code == 404
        assert theirs.json() == nobodys.json()


@pytest.mark.parametrize(
    ("field", "attr"),
    [("product", "product"), ("cardholder", "owner"), ("profile", "profile")],
)
def test_issuing_with_another_accounts_object_is_does_not_exist(
    api_client, customer_owner, a_world, b_world, globex, field, attr
):
    client = api_client(customer_owner)
    before = _snapshot(globex)
    body = {"product": str(a_world.product.token), field: str(getattr(b_world, attr).token)}
    response = client.post("/api/v1/cards/", body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == ("does_not_exist", field)
    assert Card.objects.filter(account=a_world.account).count() == 2
    assert _snapshot(globex) == before


def test_setting_a_cards_profile_to_another_accounts_profile_is_does_not_exist(
    api_client, customer_owner, a_world, b_world
):
    client = api_client(customer_owner)
    response = client.patch(
        f"/api/v1/cards/{a_world.card.token}/", {"profile": str(b_world.profile.token)}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "does_not_exist"
    a_world.card.refresh_from_db()
    assert a_world.card.profile_id == a_world.profile.pk


def test_body_references_in_every_create_are_scoped(api_client, customer_owner, a_world, b_world):
    """Every token-valued field of every POST body, fed B's tokens, is refused as unknown."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    client = api_client(customer_owner)
    b_tokens = sorted(_b_tokens(b_world))
    checked = 0
    wrong = []
    for path, operations in schema["paths"].items():
        if "{" in path:
            continue
        post = operations.get("post")
        if not post or "requestBody" not in post:
            continue
        ref = post["requestBody"]["content"]["application/json"]["schema"].get("$ref", "")
        properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
        for name, spec in properties.items():
            if spec.get("format") != "uuid" or spec.get("readOnly"):
                continue
            for token in b_tokens:
                response = client.post(path, {name: token}, format="json")
                checked += 1
                errors = (
                    {e["attr"]: e["code"] for e in response.json().get("errors", [])}
                    if response.status_code == 400
                    else {}
                )
                if errors.get(name) != "does_not_exist":
                    wrong.append(f"POST {path} {name}={token}: {response.status_code} {errors}")
    print(f"\nbody references: {checked} requests")
    assert checked
    assert not wrong, "\n".join(wrong)
