"""Real `manage.py process_webhooks` processes on the test database: side by side, killed, stopped.

The handler (`tests.webhooks.handlers.record_run`) writes a row per run into a table with no
unique key, so a run repeated anywhere shows, and applies its effect once per token, as real
handlers are idempotent per Lithic event token.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from core.roles import owner_connection, runtime_role
from tests.webhooks.handlers import APPLIED_TABLE, CREATE_TABLES_SQL, DROP_TABLES_SQL, RUNS_TABLE
from webhooks.models import Webhook
from webhooks.services import Delivery, webhook_receive

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _tables():
    # The runtime role creates nothing (core.roles): the owner makes the test's tables.
    runtime = runtime_role()
    with owner_connection(), connection.cursor() as cursor:
        cursor.execute(DROP_TABLES_SQL)
        cursor.execute(CREATE_TABLES_SQL)
        cursor.execute(f'GRANT SELECT, INSERT ON {RUNS_TABLE}, {APPLIED_TABLE} TO "{runtime}"')
    yield
    with owner_connection(), connection.cursor() as cursor:
        cursor.execute(DROP_TABLES_SQL)


def store_events(count: int, **payload) -> list[str]:
    tokens = [str(uuid.uuid4()) for _ in range(count)]
    for token in tokens:
        assert webhook_receive(
            webhook_id=f"msg_{token}",
            delivery=Delivery(
                event_type="test.record",
                event_token=token,
                payload_json=json.dumps({"event_type": "test.record", "token": token, **payload}),
            ),
        )
    return tokens


def start_worker(*args: str) -> subprocess.Popen:
    """A worker process on this test's database, with the test handler."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.webhooks.worker_settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "DATABASE_REPLICA_URLS": "",
        "ENV_FILE": "",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "process_webhooks", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def scalar(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def wait_for(condition, *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finish(process: subprocess.Popen, timeout: float = 120.0) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker exited {process.returncode}:\n{out}\n{err}"
    return out


def statuses() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Webhook.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_two_worker_processes_run_1000_events_each_exactly_once():
    store_events(1000)

    workers = [start_worker("--once", "--batch-size", "20") for _ in range(2)]
    for worker in workers:
        finish(worker)

    assert statuses() == {"PROCESSED": 1000}
    # No event ran twice anywhere: one run row per event, one effect per event.
    assert scalar(f"SELECT count(*) FROM {RUNS_TABLE}") == 1000  # noqa: S608
    assert scalar(f"SELECT count(DISTINCT token) FROM {RUNS_TABLE}") == 1000  # noqa: S608
    assert scalar(f"SELECT count(*) FROM {APPLIED_TABLE}") == 1000  # noqa: S608
    # Both processes took a share.
    assert scalar(f"SELECT count(DISTINCT pid) FROM {APPLIED_TABLE}") == 2  # noqa: S608


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing():
    tokens = store_events(200, sleep=0.02)
    victim = start_worker("--batch-size", "50", "--lease-seconds", "2", "--poll-interval", "0.1")
    wait_for(
        lambda: scalar(f"SELECT count(*) FROM {RUNS_TABLE}") >= 30,  # noqa: S608
        what="the first worker to be mid-batch",
    )
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    # Its claims are still held: nothing else may take them until the lease runs out.
    held = Webhook.objects.filter(status="PROCESSING").count()
    assert held > 0
    assert statuses().get("PROCESSED", 0) < 200

    time.sleep(2.2)  # the lease of the killed worker runs out
    out = finish(start_worker("--once", "--batch-size", "50", "--lease-seconds", "2"))

    assert statuses() == {"PROCESSED": 200}
    assert f"released {held}" in out
    # Every event's effect exactly once ...
    assert scalar(f"SELECT count(*) FROM {APPLIED_TABLE}") == 200  # noqa: S608
    assert scalar(f"SELECT count(DISTINCT token) FROM {RUNS_TABLE}") == 200  # noqa: S608
    # ... and at most the event in hand at the kill ran a second time.
    doubled = scalar(
        f"SELECT count(*) FROM (SELECT token FROM {RUNS_TABLE} "  # noqa: S608
        "GROUP BY token HAVING count(*) > 1) AS d"
    )
    assert doubled <= 1
    assert set(tokens) == set(Webhook.objects.values_list("event_token", flat=True))


def test_sigterm_finishes_the_event_in_hand_and_hands_the_batch_back():
    store_events(10, sleep=0.5)
    worker = start_worker("--batch-size", "10", "--poll-interval", "0.1")
    wait_for(
        lambda: scalar(f"SELECT count(*) FROM {RUNS_TABLE}") >= 1,  # noqa: S608
        what="the first event to start",
    )
    worker.send_signal(signal.SIGTERM)
    started = time.monotonic()
    out = finish(worker, timeout=30)

    assert time.monotonic() - started < 5
    runs = scalar(f"SELECT count(*) FROM {RUNS_TABLE}")  # noqa: S608
    applied = scalar(f"SELECT count(*) FROM {APPLIED_TABLE}")  # noqa: S608
    assert runs == applied  # what was started was finished
    counts = statuses()
    assert counts == {"PROCESSED": applied, "PENDING": 10 - applied}
    assert f"handed_back {10 - applied}" in out
    # Handed back means free at once: no lease left on them.
    assert not Webhook.objects.exclude(locked_by="").exists()
