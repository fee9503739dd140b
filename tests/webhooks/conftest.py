"""Helpers for the inbox tests: bodies signed exactly as Lithic signs them, and a worker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.transactions.conftest import signed_headers as sign_as_lithic
from tests.webhooks import handlers
from webhooks.worker import Worker, WorkerConfig

WEBHOOK_SECRET = "whsec_" + "d2ViaG9vay1zZWNyZXQtZm9yLXRlc3RzLTAxMjM0NTY="
OTHER_SECRET = "whsec_" + "YW5vdGhlci1zZWNyZXQtZm9yLXRlc3RzLTk4NzY1NDM="
URL = "/webhooks/lithic/"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lithic"
LIFECYCLE = ("authorization", "clearing", "void")

TEST_HANDLERS = {
    "test.count": "tests.webhooks.handlers.count",
    "test.fail": "tests.webhooks.handlers.fail_while_broken",
    "test.actor": "tests.webhooks.handlers.record_actor",
    "card_transaction.updated": "tests.webhooks.handlers.count",
}


def fixture_body(name: str) -> bytes:
    """A Lithic event fixture's exact bytes (signatures cover bytes, not parsed JSON)."""
    return (FIXTURES / f"card_transaction_updated_{name}.json").read_bytes()


def event_body(event_type: str = "test.count", **fields) -> bytes:
    return json.dumps({"event_type": event_type, "token": str(uuid.uuid4()), **fields}).encode()


def signed_headers(body: bytes, *, secret: str = WEBHOOK_SECRET, **options) -> dict[str, str]:
    """Headers signing `body` with the inbox's secret, as Lithic signs its events."""
    return sign_as_lithic(body, secret=secret, **options)


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.LITHIC_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.LITHIC_WEBHOOK_SECRETS = []
    settings.WEBHOOK_HANDLERS = TEST_HANDLERS
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10.0
    settings.WEBHOOK_RETRY_MAX_SECONDS = 60.0
    settings.WEBHOOK_RETRY_JITTER = 0.25
    settings.WEBHOOK_LEASE_SECONDS = 30.0


@pytest.fixture(autouse=True)
def _fresh_handlers():
    handlers.reset()
    yield
    handlers.reset()


@pytest.fixture
def deliver(client):
    """POST a body to the inbox, signed unless `headers` are given; returns the response."""

    def post(body: bytes, *, headers: dict[str, str] | None = None, **sign_options):
        return client.post(
            URL,
            data=body,
            content_type="application/json",
            headers=signed_headers(body, **sign_options) if headers is None else headers,
        )

    return post


@pytest.fixture
def run_worker():
    """Run an in-process worker until nothing is due; returns its summary."""

    def run(**overrides):
        worker = Worker(config=WorkerConfig.from_settings(**overrides))
        return worker.run(once=True)

    return run
