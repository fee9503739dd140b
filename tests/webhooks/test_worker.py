"""The worker, in process: dispatch, outcomes, retries with backoff, leases."""

from __future__ import annotations

import datetime
import random
import time
import types

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from tests.webhooks import handlers
from tests.webhooks.conftest import event_body
from webhooks.models import Webhook, WebhookStatus
from webhooks.worker import Worker, WorkerConfig, retry_delay

pytestmark = pytest.mark.django_db


def db_now() -> datetime.datetime:
    # Inside the test's transaction PostgreSQL's now() stands still: every timestamp the
    # worker writes is measured from it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def make_due() -> None:
    """Let time pass for the events waiting for a retry."""
    Webhook.objects.filter(status=WebhookStatus.FAILED).update(
        next_attempt_at=F("next_attempt_at") - datetime.timedelta(days=1)
    )


def test_handler_runs_and_event_is_processed(deliver, run_worker, acme):
    deliver(event_body("test.count", account_id=acme.pk), msg_id="msg_1")

    summary = run_worker()

    assert summary.processed == 1
    webhook = Webhook.objects.get()
    assert webhook.status == WebhookStatus.PROCESSED
    assert webhook.processed_at is not None
    assert webhook.account == acme
    assert (webhook.locked_by, webhook.locked_until, webhook.next_attempt_at) == ("", None, None)
    assert len(handlers.CALLS) == 1


def test_events_are_dispatched_on_their_raw_event_type(deliver, run_worker):
    deliver(event_body("test.actor"))
    deliver(event_body("TEST.ACTOR"))  # not the same type: no handler

    run_worker()

    assert handlers.ACTORS == ["worker:process_webhooks"]
    statuses = dict(Webhook.objects.values_list("event_type", "status"))
    assert statuses == {"test.actor": "PROCESSED", "TEST.ACTOR": "IGNORED"}


def test_unknown_event_type_is_ignored(deliver, run_worker):
    deliver(event_body("account_holder.created"))

    summary = run_worker()

    assert summary.ignored == 1
    webhook = Webhook.objects.get()
    assert webhook.status == WebhookStatus.IGNORED
    assert webhook.last_error == "no handler for this type"
    assert webhook.attempts == 0


def test_unimportable_handler_fails_the_event_instead_of_ignoring_it(deliver, run_worker, settings):
    settings.WEBHOOK_HANDLERS = {"test.count": "tests.webhooks.handlers.missing"}
    deliver(event_body("test.count"))

    run_worker()

    webhook = Webhook.objects.get()
    assert webhook.status == WebhookStatus.FAILED
    assert webhook.last_error.startswith("ImportError:")


def test_events_run_in_the_order_they_became_due(deliver, run_worker):
    bodies = [event_body("test.count", n=n) for n in range(7)]
    for n, body in enumerate(bodies):
        deliver(body, msg_id=f"msg_{n}")
    # One event arrived late but has waited longest (a retry due before the rest).
    Webhook.objects.filter(webhook_id="msg_5").update(
        next_attempt_at=timezone.now() - datetime.timedelta(hours=1)
    )

    run_worker(batch_size=3)

    assert [call["n"] for call in handlers.CALLS] == [5, 0, 1, 2, 3, 4, 6]


@pytest.mark.parametrize("failures", [1, 2, 3, 4, 5, 8, 20])
def test_retry_delay_is_exponential_capped_and_jittered_down(settings, failures):
    config = WorkerConfig.from_settings()
    ceiling = min(60.0, 10.0 * 2 ** (failures - 1))
    rng = random.Random(failures)

    delays = [retry_delay(failures=failures, config=config, rng=rng) for _ in range(200)]

    assert all(0.75 * ceiling <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 100  # actually random


def test_failing_handler_backs_off_exponentially_then_dies(deliver, run_worker):
    deliver(event_body("test.fail"), msg_id="msg_failing")
    seen = []

    for attempt in range(1, 5):
        started = db_now()
        summary = run_worker()
        webhook = Webhook.objects.get()
        seen.append(webhook.status)
        assert webhook.attempts == attempt
        assert webhook.last_error.startswith("RuntimeError: ledger service unavailable")
        assert "Traceback" in webhook.last_error
        if attempt < 4:
            assert summary.failed == 1
            ceiling = min(60.0, 10.0 * 2 ** (attempt - 1))  # 10, 20, 40 seconds
            delay = (webhook.next_attempt_at - started).total_seconds()
            assert 0.75 * ceiling <= delay <= ceiling, (attempt, delay)
            # Not due yet: a worker leaves it alone.
            assert run_worker().failed == 0
            make_due()
        else:
            assert summary.dead == 1
            assert webhook.next_attempt_at is None

    assert seen == ["FAILED", "FAILED", "FAILED", "DEAD"]
    assert handlers.CALLS == []
    make_due()
    assert run_worker().dead == 0  # dead events wait for an operator


def test_handler_runs_outside_any_transaction_of_the_worker(deliver, run_worker, settings):
    # Handlers commit their own effects with atomic(durable=True); nesting would raise.
    settings.WEBHOOK_HANDLERS = {"test.durable": "tests.webhooks.test_worker.durable_handler"}
    deliver(event_body("test.durable"))

    run_worker()

    assert Webhook.objects.get().status == WebhookStatus.PROCESSED
    assert DURABLE_RUNS == [0]


DURABLE_RUNS: list[int] = []


def durable_handler(payload: dict) -> None:
    from django.db import transaction

    # Raises RuntimeError if the worker had opened a transaction around the handler.
    with transaction.atomic(durable=True):
        DURABLE_RUNS.append(0)


# --- Leases ------------------------------------------------------------------------------------


def worker(**overrides) -> Worker:
    return Worker(config=WorkerConfig.from_settings(**overrides))


def test_claimed_events_are_not_claimed_again_while_the_lease_holds(deliver):
    for _ in range(5):
        deliver(event_body("test.count"))
    first, second = worker(batch_size=3), worker(batch_size=3)

    claimed_first = first.claim()
    claimed_second = second.claim()
    claimed_third = worker().claim()

    assert len(claimed_first) == 3
    assert len(claimed_second) == 2
    assert claimed_third == []
    assert {e.id for e in claimed_first}.isdisjoint(e.id for e in claimed_second)
    rows = Webhook.objects.filter(status=WebhookStatus.PROCESSING)
    assert rows.count() == 5
    assert set(rows.values_list("locked_by", flat=True)) == {first.name, second.name}


def test_expired_lease_is_taken_over_and_the_late_worker_cannot_finish(deliver):
    deliver(event_body("test.count"), msg_id="msg_stuck")
    hung = worker()
    [event] = hung.claim()
    Webhook.objects.update(locked_until=timezone.now() - datetime.timedelta(seconds=1))

    rescuer = worker()
    summary = rescuer.run(once=True)
    # The hung worker wakes up and tries to record its outcome: the lease is no longer its own.
    outcome = hung.process(event)

    assert summary.released == 1
    assert summary.processed == 1
    assert outcome.startswith("lease lost")
    webhook = Webhook.objects.get()
    assert webhook.status == WebhookStatus.PROCESSED
    assert webhook.last_error == ""
    # At least once: both ran the handler; idempotent handlers make that harmless.
    assert len(handlers.CALLS) == 2


def test_released_claim_keeps_its_failure_history(deliver, run_worker):
    deliver(event_body("test.fail"))
    run_worker()
    make_due()
    hung = worker()
    hung.claim()
    Webhook.objects.update(locked_until=timezone.now() - datetime.timedelta(seconds=1))

    worker().release_expired()

    webhook = Webhook.objects.get()
    assert webhook.status == WebhookStatus.FAILED
    assert webhook.attempts == 1
    assert webhook.last_error.startswith(f"lease of {hung.name} expired; run again\n")
    assert "RuntimeError: ledger service unavailable" in webhook.last_error


def test_stop_hands_back_unstarted_claims(deliver, settings):
    settings.WEBHOOK_HANDLERS = {"test.count": "tests.webhooks.test_worker.stopping_handler"}
    for n in range(4):
        deliver(event_body("test.count", n=n))
    stopping = worker(batch_size=10)
    STOPPING["worker"] = stopping

    stopping.run()

    assert stopping.summary.processed == 1
    assert stopping.summary.handed_back == 3
    statuses = sorted(Webhook.objects.values_list("status", flat=True))
    assert statuses == ["PENDING", "PENDING", "PENDING", "PROCESSED"]
    assert not Webhook.objects.exclude(locked_by="").exists()


STOPPING: dict = {}


def stopping_handler(payload: dict) -> None:
    # A SIGTERM arriving while this event runs.
    STOPPING["worker"].request_stop()


def test_lease_is_renewed_before_half_of_it_is_gone(deliver, settings, monkeypatch):
    for _ in range(3):
        deliver(event_body("test.count"))
    slow = worker(batch_size=3, lease_seconds=30)
    clock = iter([0.0, 1.0, 16.0, 17.0, 40.0, 41.0])
    fake_time = types.SimpleNamespace(monotonic=lambda: next(clock), perf_counter=time.perf_counter)
    monkeypatch.setattr("webhooks.worker.time", fake_time)
    renewed = []
    real_renew = slow._renew

    def renew(events):
        renewed.append(len(events))
        return real_renew(events)

    monkeypatch.setattr(slow, "_renew", renew)

    slow.run_batch()

    assert renewed == [2, 1]
    assert Webhook.objects.filter(status=WebhookStatus.PROCESSED).count() == 3


def test_worker_settings_are_validated():
    with pytest.raises(ValueError, match="batch size"):
        WorkerConfig.from_settings(batch_size=0)
    with pytest.raises(ValueError, match="jitter"):
        WorkerConfig.from_settings(retry_jitter=1.5)
