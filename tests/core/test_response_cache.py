"""The API's cached lists and Redis behind its breaker.

Lists are served from Redis while nothing they show has changed, and never once it has: the
generation a list is stored under is bumped by the database in the transaction that changes
its rows, whoever changes them. Redis down, hung or flushed costs speed, not answers; the
request budget is kept per process meanwhile.
"""

from __future__ import annotations

import time
import uuid

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.models import CardProduct
from cards.services import card_issue, card_product_create, card_update
from core.cache import breaker
from spending.services import mcc_catalogue_load
from tests.processes import PrivateRedis, project_env, run_script

CARDS = "/api/v1/cards/"


def _queries_of(client, path, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response, [q["sql"] for q in queries]


def _reads(queries, table):
    return [sql for sql in queries if f'FROM "{table}"' in sql]


def test_a_list_is_served_from_the_cache_until_a_card_changes(
    api_client, customer_admin, acme, fixture_actor
):
    card = card_issue(account=acme, memo="before")
    client = api_client(customer_admin)

    first, first_queries = _queries_of(client, CARDS)
    again, again_queries = _queries_of(client, CARDS)
    assert again.content == first.content
    assert _reads(first_queries, "cards") and not _reads(again_queries, "cards")

    card_update(card=card, memo="after")
    changed, changed_queries = _queries_of(client, CARDS)
    assert _reads(changed_queries, "cards")
    assert [row["memo"] for row in changed.json()["results"]] == ["after"]


def test_a_change_made_by_sql_alone_is_seen_at_once(
    api_client, customer_admin, acme, fixture_actor
):
    # No service, no signal: the trigger bumps the generation all the same.
    card_product_create(account=acme, name="Travel")
    client = api_client(customer_admin)
    assert [p["name"] for p in client.get("/api/v1/card-products/").json()["results"]] == ["Travel"]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE card_products SET name = 'Renamed' WHERE account_id = %s", [acme.pk])
    names = [p["name"] for p in client.get("/api/v1/card-products/").json()["results"]]
    assert names == ["Renamed"]


@pytest.mark.django_db(transaction=True)
def test_a_change_made_by_another_process_is_read_at_once(api_client, customer_admin, acme):
    from core.audit import system_actor

    with system_actor("test"):
        card = card_issue(account=acme, memo="before")
    client = api_client(customer_admin)
    assert client.get(CARDS).json()["results"][0]["memo"] == "before"  # stored

    database = connection.settings_dict
    url = (
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
        f"{database['PORT']}/{database['NAME']}"
    )
    run_script(
        "from cards.models import Card\n"
        "from cards.services import card_update\n"
        "from core.audit import system_actor\n"
        "with system_actor('test:other-process'):\n"
        f"    card_update(card=Card.objects.get(pk={card.pk}), memo='after')\n",
        env=project_env(DATABASE_URL=url),
    )
    assert client.get(CARDS).json()["results"][0]["memo"] == "after"


def test_entries_belong_to_their_caller(api_client, customer_admin, customer_analyst, acme, globex):
    from accounts.models import Role
    from accounts.services import user_create
    from core.audit import system_actor

    with system_actor("test"):
        card_issue(account=acme, cardholder=customer_admin)
        card_issue(account=acme)
        plain = user_create(email="pat@acme.test", account=acme, role=Role.USER)
        other = user_create(email="gus@globex.test", account=globex, role=Role.OWNER)
    # The same URL for an admin, a plain user (their own cards only) and another account.
    assert api_client(customer_admin).get(CARDS).json()["count"] == 2
    assert api_client(plain).get(CARDS).json()["count"] == 0
    assert api_client(other).get(CARDS).json()["count"] == 0
    assert api_client(customer_analyst).get(CARDS, {"page_size": 1}).json()["count"] == 2


def test_settings_and_the_catalogue_follow_their_changes(api_client, customer_admin, acme):
    client = api_client(customer_admin)
    mcc_catalogue_load()
    listed = client.get("/api/v1/spending-categories/", {"search": "5411"}).json()
    assert listed["count"] == 1

    with connection.cursor() as cursor:  # no service: the trigger bumps the catalogue anyway
        cursor.execute(
            "UPDATE spending_categories SET description = 'Corner shops' WHERE mcc = '5411'"
        )
    listed = client.get("/api/v1/spending-categories/", {"search": "5411"}).json()
    assert listed["results"][0]["description"] == "Corner shops"

    before = {s["key"]: s["value"] for s in client.get("/api/v1/settings/").json()["results"]}
    changed = client.put("/api/v1/settings/timezone/", {"value": "Europe/Paris"}, format="json")
    assert changed.status_code == 200, changed.content
    after = {s["key"]: s["value"] for s in client.get("/api/v1/settings/").json()["results"]}
    assert after == {**before, "timezone": "Europe/Paris"}


# --- Redis down, hung, flushed -----------------------------------------------------------------


@pytest.fixture(scope="module")
def private_redis():
    redis = PrivateRedis()
    yield redis
    redis.destroy()


@pytest.fixture
def on_private_redis(private_redis, settings):
    """The cache in a Redis of the test's own, which it may hang, kill or flush."""
    settings.REDIS_URL = private_redis.url
    settings.REDIS_BREAKER_SECONDS = 2.0
    caches_setting = {**settings.CACHES}
    caches_setting["default"] = {
        **caches_setting["default"],
        "LOCATION": private_redis.url,
        "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    settings.CACHES = caches_setting
    breaker.reset()
    yield private_redis
    private_redis.resume()
    breaker.reset()


def test_redis_hung_costs_one_short_wait_then_none(
    on_private_redis, api_client, customer_admin, acme, fixture_actor
):
    card_issue(account=acme, memo="one")
    client = api_client(customer_admin)
    assert client.get(CARDS).status_code == 200

    on_private_redis.hang()
    timings = []
    for _ in range(5):
        started = time.monotonic()
        response = client.get(CARDS)
        timings.append(time.monotonic() - started)
        assert response.status_code == 200
        assert response.json()["results"][0]["memo"] == "one"
    # The first request waits for Redis (its socket timeout), the breaker spares the others.
    assert timings[0] < 2.0
    assert max(timings[1:]) < 0.25
    assert not breaker.allows()


def test_a_change_while_redis_hangs_is_not_lost_when_it_comes_back(
    on_private_redis, api_client, customer_admin, acme, fixture_actor, settings
):
    card = card_issue(account=acme, memo="old")
    client = api_client(customer_admin)
    client.get(CARDS)  # cached under the current generation
    on_private_redis.hang()
    card_update(card=card, memo="new")  # no invalidation could reach Redis now
    assert client.get(CARDS).json()["results"][0]["memo"] == "new"
    on_private_redis.resume()
    breaker.reset()
    assert client.get(CARDS).json()["results"][0]["memo"] == "new"


def test_redis_flushed_or_killed_serves_from_the_database(
    on_private_redis, api_client, customer_admin, acme, fixture_actor
):
    card_issue(account=acme, memo="kept")
    client = api_client(customer_admin)
    client.get(CARDS)
    caches["default"].clear()
    assert client.get(CARDS).json()["results"][0]["memo"] == "kept"


def test_the_request_budget_holds_without_redis(
    on_private_redis, api_client, customer_admin, monkeypatch
):
    from accounts.api.throttling import ApiKeyRateThrottle

    monkeypatch.setattr(
        ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1000/min", "api_key_local": "3/min"}
    )
    caches["local"].clear()
    client = api_client(customer_admin)
    on_private_redis.hang()
    statuses = [client.get("/api/v1/card-products/").status_code for _ in range(5)]
    # The first request finds Redis hung (and is let through); then this process counts.
    assert statuses.count(429) >= 1
    assert statuses[:3] == [200, 200, 200]
    limited = client.get("/api/v1/card-products/")
    assert limited.status_code == 429
    assert "Retry-After" in limited


def test_card_products_query_counts_are_those_of_a_hit(api_client, customer_admin, acme):
    CardProduct.objects.create(account=acme, name="Hit")
    client = api_client(customer_admin)
    client.get("/api/v1/card-products/")
    _response, queries = _queries_of(client, "/api/v1/card-products/")
    assert not _reads(queries, "card_products")
    assert any("FROM cache_generations" in sql for sql in queries)
