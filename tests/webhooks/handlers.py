"""Handlers the inbox tests route event types to (settings.WEBHOOK_HANDLERS)."""

from __future__ import annotations

import os
import time

from django.db import connection, transaction

from core.audit import current_audit

# In-process handlers record here; `reset()` runs around every test.
CALLS: list[dict] = []
ACTORS: list[str] = []
BROKEN = {"value": True}


def reset() -> None:
    CALLS.clear()
    ACTORS.clear()
    BROKEN["value"] = True


def count(payload: dict) -> int | None:
    """Counts its runs; returns the account id the payload names, as real handlers may."""
    CALLS.append(payload)
    return payload.get("account_id")


def fail_while_broken(payload: dict) -> None:
    """Fails until a test repairs it, like a handler whose dependency is down."""
    if BROKEN["value"]:
        raise RuntimeError("ledger service unavailable")
    CALLS.append(payload)


def record_actor(payload: dict) -> None:
    ACTORS.append(current_audit().actor)


# --- For worker processes (tests/webhooks/test_worker_processes.py) ---------------------------

RUNS_TABLE = "webhook_test_runs"
APPLIED_TABLE = "webhook_test_applied"
CREATE_TABLES_SQL = f"""
    CREATE TABLE {RUNS_TABLE} (
        token text NOT NULL, pid integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE TABLE {APPLIED_TABLE} (token text PRIMARY KEY, pid integer NOT NULL);
"""
DROP_TABLES_SQL = f"DROP TABLE IF EXISTS {RUNS_TABLE}, {APPLIED_TABLE}"


def record_run(payload: dict) -> None:
    """One row per run in a table without a unique key (doubles would show), then the effect.

    The effect is applied once per token, durably, as real handlers are idempotent per Lithic
    event token: a run repeated after a crash finds it applied and changes nothing.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RUNS_TABLE} (token, pid) VALUES (%s, %s)",  # noqa: S608
            [payload["token"], os.getpid()],
        )
    if payload.get("sleep"):
        time.sleep(payload["sleep"])
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {APPLIED_TABLE} (token, pid) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (token) DO NOTHING",
            [payload["token"], os.getpid()],
        )
