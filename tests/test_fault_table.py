"""The fault table: the product as deployed, under each fault, with counts.

A private PostgreSQL with a streaming replica, PgBouncer in transaction mode in front of the
primary, and a private Redis (tests/processes.py). Two web processes (gunicorn, `config.wsgi`)
and the responder (`config.asa_wsgi`) connect through PgBouncer; the web reads the replica.

Each case runs the same traffic for a while, injects its fault, and runs it again:

- a writer (an API key) creates a card product on one web process and reads it back at once on
  the other, by token and in the (cached) list: a 404 or a list without it is a stale read
  after its own write;
- a reader (another key) lists the account's cards, alternating between the processes;
- the responder is asked to authorize on an open card and on a paused card (and the writer
  pauses and unpauses a third card, asking right after each change): an approval of a paused
  card or a decline of an open one is a wrong answer;
- any answer of 500 or more, or no answer, is an error.

Every case must end with 0 errors, 0 stale reads after an own write and 0 wrong answers. The
table is printed at the end of the run (tests/conftest.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
import requests

from tests.processes import (
    Gunicorn,
    PrivatePgBouncer,
    PrivatePostgres,
    PrivateRedis,
    PrivateReplica,
    migrate_and_seed,
    project_env,
    run_script,
)
from tests.transactions.conftest import ASA_SECRET, asa_body, signed_headers

HTTPS = {"X-Forwarded-Proto": "https"}
PHASE_SECONDS = 2.0

CARDS_SCRIPT = """
import json, uuid
from accounts.models import Account, User
from accounts.services import api_key_create
from cards.services import card_issue, card_set_state
from core.audit import system_actor
with system_actor("test:faults"):
    account = Account.objects.get(name="Process Co")
    owner = User.objects.get(email="owner@process.test")
    _, reader = api_key_create(user=owner, name="reader")
    paused = card_issue(account=account, lithic_card_token=uuid.uuid4())
    card_set_state(card=paused, state="PAUSED")
    toggled = card_issue(account=account, lithic_card_token=uuid.uuid4())
print(json.dumps({"reader": reader, "paused": str(paused.lithic_card_token),
                  "toggled": str(toggled.lithic_card_token), "toggled_id": str(toggled.token)}))
"""


class _Card:
    def __init__(self, token: str):
        self.lithic_card_token = token


@dataclass
class Counts:
    requests: int = 0
    errors: int = 0
    stale: int = 0
    answers: int = 0
    wrong: int = 0
    latencies: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **deltas) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def note(self, text: str) -> None:
        with self.lock:
            if len(self.notes) < 12:
                self.notes.append(text)

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.99) - 1] * 1000 if ordered else 0.0


@pytest.fixture(scope="module")
def deployment():
    primary, redis = PrivatePostgres(), PrivateRedis()
    replica = bouncer = None
    servers: list[Gunicorn] = []
    try:
        env = project_env(**primary.env, REDIS_URL=redis.url)
        seed = migrate_and_seed(env)
        seed.update(json.loads(run_script(CARDS_SCRIPT, env=env)))
        replica = PrivateReplica(primary)
        bouncer = PrivatePgBouncer(primary)
        common = {
            "DATABASE_URL": bouncer.url,
            "DATABASE_PREPARED_STATEMENTS": "false",  # PgBouncer 1.18, transaction mode
            "REDIS_URL": redis.url,
            "DATABASE_POOL_MAX_SIZE": "2",
        }
        web_env = project_env(
            **common,
            DATABASE_REPLICA_URLS=replica.url,
            DATABASE_REPLICA_CHECK_SECONDS="0.2",
            # The request budget is not what this table measures (test_response_cache tests
            # the per-process one while Redis is away): out of the clients' way.
            API_THROTTLE_RATE="1000000/min",
            API_THROTTLE_FALLBACK_RATE="1000000/min",
        )
        servers = [Gunicorn("config.wsgi:application", env=web_env, workers=1) for _ in "AB"]
        servers.append(
            Gunicorn(
                "config.asa_wsgi:application",
                env=project_env(**common, LITHIC_ASA_SECRET=ASA_SECRET),
                workers=2,
            )
        )
        yield {
            "primary": primary,
            "replica": replica,
            "bouncer": bouncer,
            "redis": redis,
            "web": servers[:2],
            "asa": servers[2],
            **seed,
        }
    finally:
        for server in servers:
            server.stop()
        for part in (bouncer, replica):
            if part is not None:
                part.destroy()
        redis.destroy()
        primary.destroy()


def _timed(counts: Counts, call, *args, **kwargs):
    started = time.monotonic()
    try:
        response = call(*args, **kwargs)
    except requests.RequestException as exc:
        counts.add(requests=1, errors=1)
        counts.note(f"no answer: {type(exc).__name__}")
        return None
    counts.latencies.append(time.monotonic() - started)
    counts.add(requests=1)
    if response.status_code >= 500:
        counts.add(errors=1)
        counts.note(f"{response.status_code} {response.request.method} {response.url}")
        return None
    return response


def _api(server, key, method, path, **kwargs):
    headers = {"Authorization": f"Api-Key {key}", **HTTPS}
    return requests.request(
        method, f"{server.url}/api/v1/{path}", headers=headers, timeout=20, **kwargs
    )


def _authorize(server, card_token) -> requests.Response:
    body = asa_body(_Card(card_token), 100)
    return requests.post(
        f"{server.url}/lithic/asa/",
        data=body,
        headers={**signed_headers(body), "Content-Type": "application/json", **HTTPS},
        timeout=20,
    )


def _writer(d, counts: Counts, stop: threading.Event) -> None:
    a, b = d["web"]
    key = d["api_key"]
    n = 0
    while not stop.is_set():
        n += 1
        name = f"product {uuid.uuid4().hex[:8]}"
        created = _timed(counts, _api, a, key, "POST", "card-products/", json={"name": name})
        if created is None or created.status_code != 201:
            if created is not None:
                counts.add(errors=1)
                counts.note(f"create answered {created.status_code}")
            continue
        token = created.json()["token"]
        mine = _timed(counts, _api, b, key, "GET", f"card-products/{token}/")
        if mine is not None and mine.status_code != 200:
            counts.add(stale=1)
            counts.note(f"own product read back {mine.status_code}")
        listed = _timed(counts, _api, b, key, "GET", "card-products/", params={"page_size": 100})
        if listed is not None and token not in {p["token"] for p in listed.json()["results"]}:
            counts.add(stale=1)
            counts.note("own product missing from the list")
        # Deleted again (a soft delete), so that the list stays one page long.
        deleted = _timed(counts, _api, a, key, "DELETE", f"card-products/{token}/")
        if deleted is not None and deleted.status_code != 204:
            counts.add(errors=1)
            counts.note(f"delete answered {deleted.status_code}")
        if n % 3 == 0:
            # Pause, ask at once; unpause, ask at once.
            for verb, expect_approved in (("pause", False), ("unpause", True)):
                path = f"cards/{d['toggled_id']}/{verb}/"
                changed = _timed(counts, _api, a, key, "POST", path)
                if changed is None or changed.status_code != 200:
                    continue
                _ask(d, counts, d["toggled"], expect_approved)


def _ask(d, counts: Counts, card_token: str, expect_approved: bool) -> None:
    answer = _timed(counts, _authorize, d["asa"], card_token)
    if answer is None:
        return
    counts.add(answers=1)
    approved = answer.json().get("result") == "APPROVED"
    if approved != expect_approved:
        counts.add(wrong=1)
        expected = "open" if expect_approved else "paused"
        counts.note(f"ASA {answer.json().get('result')} for a card expected {expected}")


def _reader(d, counts: Counts, stop: threading.Event) -> None:
    servers = d["web"]
    n = 0
    while not stop.is_set():
        n += 1
        response = _timed(counts, _api, servers[n % 2], d["reader"], "GET", "cards/")
        if response is not None and response.status_code != 200:
            counts.add(errors=1)
            counts.note(f"reader answered {response.status_code}")


def _responder(d, counts: Counts, stop: threading.Event) -> None:
    while not stop.is_set():
        _ask(d, counts, d["card_token"], True)
        _ask(d, counts, d["paused"], False)


def run_traffic(d, counts: Counts, seconds: float = PHASE_SECONDS) -> None:
    stop = threading.Event()
    threads = [
        threading.Thread(target=worker, args=(d, counts, stop))
        for worker in (_writer, _reader, _responder)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(60)


def _case(d, record_property, name: str, inject, restore=None, *, during: float = PHASE_SECONDS):
    counts = Counts()
    run_traffic(d, counts)
    inject()
    try:
        run_traffic(d, counts, during)
    finally:
        if restore is not None:
            restore()
    run_traffic(d, counts, 1.0)
    row = {
        "order": time.time(),
        "case": name,
        "requests": counts.requests,
        "errors": counts.errors,
        "stale": counts.stale,
        "answers": counts.answers,
        "wrong": counts.wrong,
        "p99_ms": round(counts.p99_ms, 1),
    }
    record_property("fault_table_row", row)
    assert counts.requests > 20 and counts.answers > 10, row
    assert (counts.errors, counts.stale, counts.wrong) == (0, 0, 0), (row, counts.notes)


def test_no_fault(deployment, record_property):
    _case(deployment, record_property, "no fault", lambda: None)


def test_replica_lagging(deployment, record_property):
    replica = deployment["replica"]

    def resume():
        replica.resume_replay()
        replica.wait_replayed()

    # Paused long enough to pass the 5 s bound while the writer keeps writing.
    _case(
        deployment, record_property, "replica lagging 5 s", replica.pause_replay, resume, during=6.0
    )


def test_replica_down(deployment, record_property):
    replica = deployment["replica"]

    def start():
        replica.start()
        replica.wait_replayed()

    _case(deployment, record_property, "replica down", replica.stop, start)


def test_pgbouncer_restarted(deployment, record_property):
    bouncer = deployment["bouncer"]

    def restart():
        bouncer.stop()
        bouncer.start()

    _case(deployment, record_property, "PgBouncer restarted", restart)


def test_postgresql_restarted(deployment, record_property):
    primary, replica = deployment["primary"], deployment["replica"]

    def restart():
        primary.stop()
        primary.start()

    _case(deployment, record_property, "PostgreSQL restarted", restart, replica.wait_replayed)


def test_redis_killed(deployment, record_property):
    redis = deployment["redis"]
    _case(deployment, record_property, "Redis killed", redis.kill, redis.start)


def test_redis_hung(deployment, record_property):
    redis = deployment["redis"]
    _case(deployment, record_property, "Redis hung", redis.hang, redis.resume)


def test_replica_promoted_away(deployment, record_property):
    # Last: the replica stays a primary of its own.
    _case(deployment, record_property, "replica promoted away", deployment["replica"].promote)
