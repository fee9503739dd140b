"""The responder on its own processes, as deployed: an answer within the deadline, or no effect.

gunicorn serves `config.asa_wsgi` (and, for the flood, `config.wsgi`) against a PostgreSQL
cluster and a Redis of this module's own (tests/processes.py), which the tests stop, restart
and hang. The clients time every answer; the database says what was recorded.

- With PostgreSQL stopped, with the pool on: every request is declined within the deadline,
  nothing is recorded then or later, and once PostgreSQL is back the responder approves again;
  a restart between two requests costs no request at all, and a connection lost in the middle
  of a decision costs a second attempt on a new one, not a decline.
- A request that waited past its deadline before a worker took it (the backlog) is declined
  at once and never approved late, even when the database is free by then.
- While the web processes are flooded with admin logins (Argon2) and API requests, and while
  their Redis hangs, every authorization is still decided within the deadline.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest
import requests

from tests.processes import (
    Gunicorn,
    PrivatePostgres,
    PrivateRedis,
    migrate_and_seed,
    project_env,
)
from tests.transactions.conftest import ASA_SECRET, asa_body, signed_headers

HTTPS = {"X-Forwarded-Proto": "https"}
# What an answer may take beyond the deadline: the HTTP round trip and gunicorn's own work.
MARGIN_MS = 250


class _Card:
    def __init__(self, token: str):
        self.lithic_card_token = token


@pytest.fixture(scope="module")
def private():
    """A PostgreSQL and a Redis of this module's own, migrated, with an account and a card."""
    postgres, redis = PrivatePostgres(), PrivateRedis()
    try:
        seed = migrate_and_seed(project_env(**postgres.env, REDIS_URL=redis.url))
        yield postgres, redis, seed
    finally:
        redis.destroy()
        postgres.destroy()


def responder(postgres, *, deadline_ms: int, workers: int = 2) -> Gunicorn:
    return Gunicorn(
        "config.asa_wsgi:application",
        env=project_env(
            **postgres.env,
            LITHIC_ASA_SECRET=ASA_SECRET,
            ASA_DEADLINE_MS=str(deadline_ms),
            DATABASE_POOL_MAX_SIZE="2",
        ),
        workers=workers,
    )


def authorize(server: Gunicorn, card, cents: int = 100) -> tuple[str, str, float]:
    """(token, result, milliseconds) of one signed request."""
    body = asa_body(card, cents)
    started = time.monotonic()
    response = requests.post(
        f"{server.url}/lithic/asa/",
        data=body,
        headers={**signed_headers(body), "Content-Type": "application/json", **HTTPS},
        timeout=30,
    )
    elapsed = (time.monotonic() - started) * 1000
    assert response.status_code == 200
    answer = response.json()
    return answer["token"], answer["result"], elapsed


def recorded(postgres) -> set[str]:
    rows = postgres.psql("SELECT token FROM transactions", database="app")
    return set(rows.split()) if rows else set()


def test_with_postgresql_stopped_every_request_is_declined_in_time_and_nothing_is_left(private):
    postgres, _redis, seed = private
    card = _Card(seed["card_token"])
    deadline = 400
    # One worker: each gunicorn worker has its own pool, and recovery is about that pool.
    server = responder(postgres, deadline_ms=deadline, workers=1)
    try:
        approved = [authorize(server, card) for _ in range(3)]
        assert {result for _, result, _ in approved} == {"APPROVED"}

        postgres.stop()
        during = [authorize(server, card) for _ in range(4)]
        with ThreadPoolExecutor(max_workers=6) as pool:  # more than the worker at once
            during += list(pool.map(lambda _: authorize(server, card), range(6)))
        assert {result for _, result, _ in during} == {"SUSPECTED_FRAUD"}
        slowest = max(ms for _, _, ms in during)
        # A queued request waits for a worker, then has only what is left of its deadline.
        assert slowest < 2 * deadline + MARGIN_MS, slowest
        assert max(ms for _, _, ms in during[:4]) < deadline + MARGIN_MS

        postgres.start()
        # The pool reconnects on its own (psycopg_pool's backoff between attempts): within
        # seconds every request is approved again.
        back = time.monotonic()
        while authorize(server, card)[1] != "APPROVED":
            assert time.monotonic() - back < 10, "the responder did not recover"
        after = [authorize(server, card) for _ in range(5)]
        assert {result for _, result, _ in after} == {"APPROVED"}

        # A restart between two requests: broken pooled connections are found at checkout.
        postgres.stop()
        postgres.start()
        restarted = [authorize(server, card) for _ in range(5)]
        assert {result for _, result, _ in restarted} == {"APPROVED"}
    finally:
        server.stop()

    stored = recorded(postgres)
    assert not stored & {token for token, _, _ in during}  # not then, not later
    assert {token for token, _, _ in approved + after + restarted} <= stored


@contextmanager
def account_held(postgres, account_id: int) -> Iterator[psycopg.Connection]:
    """A transaction that holds the account's row lock until it is rolled back."""
    with psycopg.connect(postgres.url, autocommit=False) as blocker:
        # Raw psycopg has no tenant context: the operator's session sets one itself.
        blocker.execute("SELECT set_config('app.all_accounts', 'on', true)")
        blocker.execute("SELECT id FROM accounts WHERE id = %s FOR UPDATE", [account_id])
        assert blocker.execute("SELECT count(*) FROM accounts").fetchone() == (1,)
        yield blocker


def test_a_request_that_waited_past_its_deadline_for_a_worker_is_never_approved_late(private):
    postgres, _redis, seed = private
    card = _Card(seed["card_token"])
    server = responder(postgres, deadline_ms=500, workers=1)
    try:
        authorize(server, card)  # the worker's connection is warm
        # An operator's long transaction holds the account: the one worker's request waits
        # for it until its deadline, while the others queue behind it.
        with (
            account_held(postgres, seed["account_id"]) as blocker,
            ThreadPoolExecutor(max_workers=6) as pool,
        ):
            first = pool.submit(authorize, server, card)
            time.sleep(0.05)
            queued = [pool.submit(authorize, server, card) for _ in range(5)]
            # By the time the account is free, every queued request is past its deadline.
            time.sleep(1.2)
            blocker.rollback()
            answers = [first.result(), *(f.result() for f in queued)]
        assert {result for _, result, _ in answers} == {"SUSPECTED_FRAUD"}
        # Afterwards, a fresh request is approved: nothing was wrong but the wait.
        fresh_token, fresh, _ = authorize(server, card)
        assert fresh == "APPROVED"
    finally:
        server.stop()
    stored = recorded(postgres)
    assert not stored & {token for token, _, _ in answers}
    assert fresh_token in stored


def test_a_connection_lost_mid_decision_is_decided_again_on_a_new_one(private):
    postgres, _redis, seed = private
    card = _Card(seed["card_token"])
    server = responder(postgres, deadline_ms=2000, workers=1)
    try:
        authorize(server, card)  # the worker's connection is warm
        with (
            account_held(postgres, seed["account_id"]) as blocker,
            ThreadPoolExecutor(max_workers=1) as pool,
        ):
            pending = pool.submit(authorize, server, card)
            # The responder's backend, waiting for the account, ends as in a restart or a
            # failover: its decision is lost with it, uncommitted.
            waiting = ""
            until = time.monotonic() + 10
            while not waiting:
                assert time.monotonic() < until, "the request never waited for the account"
                waiting = postgres.psql(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = 'app' AND wait_event_type = 'Lock'"
                )
            postgres.psql(f"SELECT pg_terminate_backend({waiting})")
            blocker.rollback()
            token, result, elapsed = pending.result()
        assert result == "APPROVED"
        assert elapsed < 2000 + MARGIN_MS
    finally:
        server.stop()
    assert token in recorded(postgres)


def for_seconds(seconds: float, call) -> list:
    """`call()` again and again for `seconds`, one at a time (at least 20 times)."""
    results, until = [], time.monotonic() + seconds
    while time.monotonic() < until or len(results) < 20:
        results.append(call())
    return results


def _flood(web: Gunicorn, api_key: str, stop: threading.Event, counts: dict) -> list:
    """Admin logins with a wrong password (those the login budget lets through hash with
    Argon2) and API list requests."""

    def login() -> None:
        session = requests.Session()
        while not stop.is_set():
            page = session.get(f"{web.url}/admin/login/", headers=HTTPS, timeout=60)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            cookie = re.search(r"csrftoken=([^;]+)", page.headers.get("Set-Cookie", ""))
            assert token and cookie
            answer = requests.post(
                f"{web.url}/admin/login/",
                data={
                    "csrfmiddlewaretoken": token.group(1),
                    "username": "nobody@process.test",
                    "password": "not-the-password-123",
                },
                headers={
                    **HTTPS,
                    "Cookie": f"csrftoken={cookie.group(1)}",
                    "Referer": f"https://127.0.0.1:{web.port}/admin/login/",
                },
                timeout=60,
            )
            # The form again with its error, or 429: the login budget or the lockout refused
            # the attempt before hashing (accounts.console).
            assert answer.status_code in (200, 429), answer.status_code
            counts["logins"] += 1

    def api() -> None:
        while not stop.is_set():
            requests.get(
                f"{web.url}/api/v1/cards/",
                headers={**HTTPS, "Authorization": f"Api-Key {api_key}"},
                timeout=60,
            )
            counts["api"] += 1

    threads = [threading.Thread(target=login, daemon=True) for _ in range(8)]
    threads += [threading.Thread(target=api, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    return threads


def test_a_flood_of_logins_and_api_requests_and_a_hung_redis_do_not_delay_authorizations(
    private,
):
    postgres, redis, seed = private
    card = _Card(seed["card_token"])
    deadline = 1000
    server = responder(postgres, deadline_ms=deadline)
    # The web processes run at a lower CPU priority than the responder (docs/operations.md).
    web = Gunicorn(
        "config.wsgi:application",
        env=project_env(
            **postgres.env,
            REDIS_URL=redis.url,
            DATABASE_POOL="true",
            DATABASE_POOL_MAX_SIZE="2",
        ),
        workers=4,
        nice=10,
    )
    stop, counts = threading.Event(), {"logins": 0, "api": 0}
    threads = []
    try:
        quiet = [authorize(server, card) for _ in range(30)]
        threads = _flood(web, seed["api_key"], stop, counts)
        time.sleep(1.0)
        flooded = for_seconds(3, lambda: authorize(server, card))
        redis.hang()
        try:
            hung = for_seconds(3, lambda: authorize(server, card))
        finally:
            redis.resume()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        web.stop()
        server.stop()
    assert counts["logins"] >= 8 and counts["api"] >= 8, counts  # the flood was real
    for phase in (quiet, flooded, hung):
        assert {result for _, result, _ in phase} == {"APPROVED"}
        assert max(ms for _, _, ms in phase) < deadline
    assert {token for token, _, _ in quiet + flooded + hung} <= recorded(postgres)
    assert str(uuid.UUID(flooded[0][0])) == flooded[0][0]
