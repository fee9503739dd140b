"""Shared set-up for the Lithic sync tests: a product, a profile and a way to issue cards."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db.models import F

from cards.services import card_issue, card_product_create
from core.audit import system_actor
from spending.services import mcc_catalogue_load, spending_profile_create
from tests import lithic_spec
from tests.transactions.conftest import (  # noqa: F401 - the responder's fixtures, here too
    _asa_secret,
    asa,
    categories,
    make_card,
    signed_headers,
)
from webhooks.models import Webhook
from webhooks.worker import Worker, WorkerConfig

WEBHOOK_SECRET = "whsec_" + "Y2FyZC1ldmVudHMtdGVzdC1zZWNyZXQtMDEyMzQ1Ng=="
INBOX_URL = "/webhooks/lithic/"


@pytest.fixture(autouse=True)
def _inbox(settings):
    settings.LITHIC_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.LITHIC_WEBHOOK_SECRETS = []
    settings.WEBHOOK_MAX_ATTEMPTS = 3


@pytest.fixture
def drain(django_capture_on_commit_callbacks):
    """Run a worker until nothing is due, with the pushes its handlers schedule on commit."""

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            Worker(config=WorkerConfig.from_settings()).run(once=True)

    return run


@pytest.fixture
def deliver(client, drain):
    """`deliver(payload)`: POST a signed Lithic event to the inbox, run a worker until nothing
    is due, and return the event's inbox row. The payload must be one Lithic could send
    (checked against lithic-openapi.yml) unless `malformed=True`."""

    def post(payload: dict, *, malformed: bool = False, msg_id: str | None = None) -> Webhook:
        if not malformed:
            assert lithic_spec.webhook_problems(payload) == []
        body = json.dumps(payload).encode()
        headers = signed_headers(body, secret=WEBHOOK_SECRET, msg_id=msg_id)
        response = client.post(
            INBOX_URL, data=body, content_type="application/json", headers=headers
        )
        assert response.status_code == 200
        drain()
        return Webhook.objects.get(webhook_id=headers["webhook-id"])

    return post


@pytest.fixture
def retry_now(drain):
    """`retry_now(webhook)`: let its backoff pass (the database's clock stands still in a
    test), drain, and return the row."""

    def run(webhook: Webhook) -> Webhook:
        Webhook.objects.filter(pk=webhook.pk).update(next_attempt_at=F("received_at"))
        drain()
        webhook.refresh_from_db()
        return webhook

    return run


@pytest.fixture
def catalogue(db):
    with system_actor("test:fixtures"):
        mcc_catalogue_load()


@pytest.fixture
def travel_profile(acme, catalogue, django_capture_on_commit_callbacks):
    """A block-list profile, pushed to Lithic when outbound sync is on (request `lithic_fake`
    first)."""
    with system_actor("test:fixtures"), django_capture_on_commit_callbacks(execute=True):
        profile = spending_profile_create(
            account=acme, name="Travel", blocked_mccs=["7995", "5813", "6051"]
        )
    profile.refresh_from_db()
    return profile


@pytest.fixture
def product(acme):
    with system_actor("test:fixtures"):
        return card_product_create(
            account=acme,
            name="Virtual",
            default_spend_limit=Decimal("750.00"),
            default_spend_limit_duration="MONTHLY",
        )


@pytest.fixture
def issue(acme, product, django_capture_on_commit_callbacks):
    """`issue(**kwargs)`: issue a card through the service and run its on-commit push."""

    def make(**kwargs):
        with system_actor("test:issue"), django_capture_on_commit_callbacks(execute=True):
            card = card_issue(account=acme, product=product, **kwargs)
        card.refresh_from_db()
        return card

    return make


@pytest.fixture
def call_command_output():
    """`call_command_output(name, *args)`: run a management command, return its stdout."""
    import io

    from django.core.management import call_command

    def run(name, *args):
        out = io.StringIO()
        call_command(name, *args, stdout=out, stderr=out)
        return out.getvalue()

    return run


@pytest.fixture
def act(django_capture_on_commit_callbacks):
    """`act(fn, **kwargs)`: run a service as a test actor, then its on-commit pushes."""

    def run(fn, **kwargs):
        with system_actor("test"), django_capture_on_commit_callbacks(execute=True):
            result = fn(**kwargs)
        if hasattr(result, "refresh_from_db"):
            result.refresh_from_db()
        return result

    return run
