"""The webhook worker: claims due events, runs their handlers, records how each run ended.

Each step is its own short statement in autocommit mode, never one long transaction:

1. Claims whose lease ran out (their worker died or hung) go back to the queue.
2. A batch of due events is claimed with `FOR UPDATE SKIP LOCKED` and marked PROCESSING with a
   lease (`locked_by`, `locked_until`), so workers side by side never take the same event.
3. Each event's handler runs outside any transaction (handlers commit their own effects,
   durably), under the system actor `worker:process_webhooks`.
4. The outcome is written only while the lease is still this worker's
   (`WHERE id = ... AND locked_by = ...`); a lost lease means the event runs again elsewhere,
   which idempotent handlers absorb.

A stop request (SIGTERM, SIGINT) lets the event in hand finish and hands the batch's unstarted
events back at once.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

from core.audit import system_actor
from core.errors import EventIgnored
from core.tenancy import system_scope
from webhooks.handlers import handler_for

logger = logging.getLogger("webhooks.worker")

ACTOR = "worker:process_webhooks"
WORKER_SCOPE = "webhooks-worker"
LAST_ERROR_MAX_CHARS = 4000

# An expired claim goes back as it was before it was taken: PENDING if it never failed.
_RELEASE_EXPIRED_SQL = """
    WITH expired AS (
        SELECT id FROM webhooks
        WHERE status = 'PROCESSING' AND locked_until < now()
        ORDER BY locked_until
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE webhooks AS w
    SET status = CASE WHEN w.attempts = 0 THEN 'PENDING' ELSE 'FAILED' END,
        next_attempt_at = now(),
        last_error = left(
            'lease of ' || w.locked_by || ' expired; run again'
            || CASE WHEN w.last_error = '' THEN '' ELSE E'\n' || w.last_error END,
            %(max_error)s),
        locked_by = '',
        locked_until = NULL
    FROM expired
    WHERE w.id = expired.id
    RETURNING w.webhook_id
"""

_CLAIM_SQL = """
    WITH due AS (
        SELECT id FROM webhooks
        WHERE status IN ('PENDING', 'FAILED') AND next_attempt_at <= now()
        ORDER BY next_attempt_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE webhooks AS w
    SET status = 'PROCESSING',
        locked_by = %(worker)s,
        locked_until = now() + %(lease)s * interval '1 second'
    FROM due
    WHERE w.id = due.id
    RETURNING w.id, w.webhook_id, w.event_type, w.payload, w.attempts, w.next_attempt_at
"""

_RENEW_SQL = """
    UPDATE webhooks SET locked_until = now() + %(lease)s * interval '1 second'
    WHERE id = ANY(%(ids)s) AND locked_by = %(worker)s AND status = 'PROCESSING'
    RETURNING id
"""

_FINISH_SQL = """
    UPDATE webhooks
    SET status = %(status)s,
        processed_at = now(),
        next_attempt_at = NULL,
        last_error = %(last_error)s,
        account_id = COALESCE(%(account_id)s, account_id),
        locked_by = '',
        locked_until = NULL
    WHERE id = %(id)s AND locked_by = %(worker)s AND status = 'PROCESSING'
"""

_FAIL_SQL = """
    UPDATE webhooks
    SET attempts = attempts + 1,
        status = CASE WHEN attempts + 1 >= %(max_attempts)s THEN 'DEAD' ELSE 'FAILED' END,
        next_attempt_at = CASE WHEN attempts + 1 >= %(max_attempts)s THEN NULL
                               ELSE now() + %(delay)s * interval '1 second' END,
        last_error = %(last_error)s,
        locked_by = '',
        locked_until = NULL
    WHERE id = %(id)s AND locked_by = %(worker)s AND status = 'PROCESSING'
    RETURNING status, attempts
"""

_HAND_BACK_SQL = """
    UPDATE webhooks
    SET status = CASE WHEN attempts = 0 THEN 'PENDING' ELSE 'FAILED' END,
        locked_by = '',
        locked_until = NULL
    WHERE id = ANY(%(ids)s) AND locked_by = %(worker)s AND status = 'PROCESSING'
"""


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int
    lease_seconds: float
    poll_interval: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    retry_jitter: float

    @classmethod
    def from_settings(cls, **overrides: Any) -> WorkerConfig:
        values = {
            "batch_size": settings.WEBHOOK_BATCH_SIZE,
            "lease_seconds": settings.WEBHOOK_LEASE_SECONDS,
            "poll_interval": settings.WEBHOOK_POLL_INTERVAL_SECONDS,
            "max_attempts": settings.WEBHOOK_MAX_ATTEMPTS,
            "retry_base_seconds": settings.WEBHOOK_RETRY_BASE_SECONDS,
            "retry_max_seconds": settings.WEBHOOK_RETRY_MAX_SECONDS,
            "retry_jitter": settings.WEBHOOK_RETRY_JITTER,
        }
        values.update({name: value for name, value in overrides.items() if value is not None})
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if self.lease_seconds <= 0:
            raise ValueError("lease must be longer than 0 seconds")
        if self.poll_interval < 0:
            raise ValueError("poll interval cannot be negative")
        if self.max_attempts < 1:
            raise ValueError("max attempts must be at least 1")
        if self.retry_base_seconds < 0 or self.retry_max_seconds < 0:
            raise ValueError("retry delays cannot be negative")
        if not 0 <= self.retry_jitter <= 1:
            raise ValueError("retry jitter must be between 0 and 1")


def retry_delay(*, failures: int, config: WorkerConfig, rng: random.Random | None = None) -> float:
    """Seconds before the next run after the `failures`-th failure: exponential and capped.

    Jitter takes up to `retry_jitter` of the delay off at random, so events that failed
    together (a dependency was down) do not all come back in the same instant, and the cap
    stays a cap.
    """
    ceiling = min(config.retry_max_seconds, config.retry_base_seconds * 2 ** (failures - 1))
    draw = (rng or random).random()
    return ceiling * (1 - config.retry_jitter * draw)


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    webhook_id: str
    event_type: str
    payload: Any
    attempts: int


@dataclass
class RunSummary:
    processed: int = 0
    ignored: int = 0
    failed: int = 0
    dead: int = 0
    lost: int = 0
    handed_back: int = 0
    released: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{name} {value}" for name, value in vars(self).items())


def _worker_name() -> str:
    # Unique per process and run, so that a restarted worker with a reused pid cannot finish
    # its predecessor's claims.
    host = socket.gethostname()[:60]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _error_summary(exc: BaseException) -> str:
    summary = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    return (summary + "\n\n" + trace[-(LAST_ERROR_MAX_CHARS - len(summary)) :])[
        :LAST_ERROR_MAX_CHARS
    ]


@dataclass
class Worker:
    """One worker process's loop. `request_stop()` is safe to call from a signal handler."""

    config: WorkerConfig
    name: str = field(default_factory=_worker_name)
    summary: RunSummary = field(default_factory=RunSummary)

    def __post_init__(self) -> None:
        self._stop = threading.Event()

    # -- control --

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, *, once: bool = False) -> RunSummary:
        """Process due events until stopped; with `once`, until none is due."""
        # The inbox holds every account's events: the worker is a named system context.
        with system_scope(WORKER_SCOPE):
            return self._run(once=once)

    def _run(self, *, once: bool) -> RunSummary:
        logger.info(
            "%s started (batch %d, lease %ss%s)",
            self.name,
            self.config.batch_size,
            self.config.lease_seconds,
            ", once" if once else "",
        )
        while not self.stopping:
            try:
                claimed = self.run_batch()
            except DatabaseError:
                if once:
                    raise
                # The database went away or failed over: our claims come back to the queue
                # when their lease expires; try again after a pause on a fresh connection.
                logger.exception("%s: database error; retrying", self.name)
                connection.close()
                self._stop.wait(max(self.config.poll_interval, 1.0))
                continue
            if claimed == 0:
                if once:
                    break
                self._stop.wait(self.config.poll_interval)
        logger.info("%s stopped: %s", self.name, self.summary)
        return self.summary

    # -- one batch --

    def run_batch(self) -> int:
        """Release expired claims, claim one batch and process it; returns how many were claimed."""
        self.release_expired()
        events = self.claim()
        if not events:
            return 0
        lease_started = time.monotonic()
        pending = list(events)
        try:
            while pending and not self.stopping:
                if time.monotonic() - lease_started > self.config.lease_seconds / 2:
                    # Renew before half the lease is gone, so an event is never started on a
                    # claim that could expire while it runs.
                    pending = self._renew(pending)
                    lease_started = time.monotonic()
                    if not pending:
                        break
                self.process(pending.pop(0))
        finally:
            if pending:
                self.hand_back(pending)
        return len(events)

    def release_expired(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                _RELEASE_EXPIRED_SQL,
                {"limit": max(self.config.batch_size, 100), "max_error": LAST_ERROR_MAX_CHARS},
            )
            released = [row[0] for row in cursor.fetchall()]
        for webhook_id in released:
            logger.warning("%s: lease on %s had expired; queued again", self.name, webhook_id)
        self.summary.released += len(released)
        return len(released)

    def claim(self) -> list[ClaimedEvent]:
        with connection.cursor() as cursor:
            cursor.execute(
                _CLAIM_SQL,
                {
                    "limit": self.config.batch_size,
                    "worker": self.name,
                    "lease": self.config.lease_seconds,
                },
            )
            rows = cursor.fetchall()
        rows.sort(key=lambda row: (row[5], row[0]))  # RETURNING keeps no order
        return [
            ClaimedEvent(
                id=row[0],
                webhook_id=row[1],
                event_type=row[2],
                # Django's psycopg setup hands jsonb over as text for JSONField to parse.
                payload=json.loads(row[3]) if isinstance(row[3], str) else row[3],
                attempts=row[4],
            )
            for row in rows
        ]

    def hand_back(self, events: list[ClaimedEvent]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                _HAND_BACK_SQL, {"ids": [event.id for event in events], "worker": self.name}
            )
            count = cursor.rowcount
        self.summary.handed_back += count
        logger.info("%s: handed back %d unstarted event(s)", self.name, count)

    def _renew(self, events: list[ClaimedEvent]) -> list[ClaimedEvent]:
        with connection.cursor() as cursor:
            cursor.execute(
                _RENEW_SQL,
                {
                    "ids": [event.id for event in events],
                    "worker": self.name,
                    "lease": self.config.lease_seconds,
                },
            )
            kept = {row[0] for row in cursor.fetchall()}
        lost = [event for event in events if event.id not in kept]
        for event in lost:
            logger.warning(
                "%s: lost the claim on %s before starting it", self.name, event.webhook_id
            )
        return [event for event in events if event.id in kept]

    # -- one event --

    def process(self, event: ClaimedEvent) -> str:
        """Run one claimed event's handler and record the outcome; returns the new status."""
        started = time.perf_counter()
        try:
            handler = handler_for(event.event_type)
            if handler is None:
                outcome = self._finish(event, status="IGNORED", error="no handler for this type")
            else:
                with system_actor(ACTOR):
                    result = handler(event.payload)
                outcome = self._finish(event, status="PROCESSED", account_id=_account_id(result))
        except EventIgnored as exc:
            outcome = self._finish(event, status="IGNORED", error=exc.reason)
        except Exception as exc:  # noqa: BLE001 - any handler failure is recorded and retried
            outcome = self._fail(event, exc)
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "%s %s %s attempt %d: %s in %.1f ms",
            self.name,
            event.webhook_id,
            event.event_type or "-",
            event.attempts + 1,
            outcome,
            elapsed_ms,
        )
        return outcome

    def _finish(self, event: ClaimedEvent, *, status: str, error: str = "", account_id=None):
        with connection.cursor() as cursor:
            cursor.execute(
                _FINISH_SQL,
                {
                    "status": status,
                    "last_error": error,
                    "account_id": account_id,
                    "id": event.id,
                    "worker": self.name,
                },
            )
            if cursor.rowcount == 0:
                self.summary.lost += 1
                return "lease lost (will run again)"
        if status == "IGNORED":
            self.summary.ignored += 1
        else:
            self.summary.processed += 1
        return status

    def _fail(self, event: ClaimedEvent, exc: Exception) -> str:
        delay = retry_delay(failures=event.attempts + 1, config=self.config)
        # An error that says it is permanent (a payload that can never apply) is DEAD at once,
        # for an operator, instead of being retried until it is.
        max_attempts = 1 if getattr(exc, "permanent", False) else self.config.max_attempts
        with connection.cursor() as cursor:
            cursor.execute(
                _FAIL_SQL,
                {
                    "max_attempts": max_attempts,
                    "delay": delay,
                    "last_error": _error_summary(exc),
                    "id": event.id,
                    "worker": self.name,
                },
            )
            row = cursor.fetchone()
        if row is None:
            self.summary.lost += 1
            return f"{type(exc).__name__}; lease lost (will run again)"
        status, attempts = row
        if status == "DEAD":
            self.summary.dead += 1
            return f"DEAD after {attempts} attempts: {type(exc).__name__}: {exc}"
        self.summary.failed += 1
        return f"FAILED ({type(exc).__name__}: {exc}); retry in {delay:.0f} s"


def _account_id(result: Any) -> int | None:
    # The handler contract: the local Account id the event belongs to, or None.
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    if result is not None:
        logger.warning("handler returned %r, not an account id; ignored", result)
    return None
