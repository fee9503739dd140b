"""The receiving endpoint: signed deliveries are stored once and answered at once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import SecurityEvent, SecurityEventKind
from tests.webhooks import handlers
from tests.webhooks.conftest import (
    LIFECYCLE,
    OTHER_SECRET,
    URL,
    WEBHOOK_SECRET,
    event_body,
    fixture_body,
    signed_headers,
)
from webhooks.models import Webhook, WebhookStatus

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", LIFECYCLE)
def test_signed_lithic_event_is_stored_pending(deliver, name):
    body = fixture_body(name)

    response = deliver(body, msg_id=f"msg_{name}")

    assert response.status_code == 200
    assert response.json() == {"status": "stored"}
    webhook = Webhook.objects.get()
    payload = json.loads(body)
    assert webhook.webhook_id == f"msg_{name}"
    assert webhook.event_type == "card_transaction.updated"
    assert webhook.event_token == payload["token"]
    assert webhook.payload == payload
    assert webhook.status == WebhookStatus.PENDING
    assert webhook.attempts == 0
    assert webhook.next_attempt_at is not None
    assert webhook.processed_at is None
    assert not SecurityEvent.objects.exists()


def test_storing_is_one_statement(deliver):
    body = fixture_body("authorization")
    headers = signed_headers(body)

    with CaptureQueriesContext(connection) as queries:
        response = deliver(body, headers=headers)

    assert response.status_code == 200
    assert len(queries) == 1
    assert "ON CONFLICT" in queries[0]["sql"]


def test_five_deliveries_of_one_webhook_id_store_one_row_and_apply_once(deliver, run_worker):
    body = fixture_body("clearing")
    headers = signed_headers(body)

    responses = [deliver(body, headers=headers) for _ in range(5)]
    summary = run_worker()

    assert [r.status_code for r in responses] == [200] * 5
    assert [r.json()["status"] for r in responses] == ["stored"] + ["duplicate"] * 4
    assert Webhook.objects.count() == 1
    assert summary.processed == 1
    assert [json.loads(body)] == handlers.CALLS


def test_a_redelivery_with_a_fresh_signature_is_still_a_duplicate(deliver):
    body = fixture_body("void")
    first = deliver(body, msg_id="msg_same")
    # Lithic re-signs each attempt: same webhook-id, new timestamp and signature.
    again = deliver(body, msg_id="msg_same", timestamp=int(time.time()) - 60)

    assert (first.json(), again.json()) == ({"status": "stored"}, {"status": "duplicate"})
    assert Webhook.objects.count() == 1


def test_tampered_body_is_refused_and_recorded(deliver):
    body = fixture_body("authorization")
    headers = signed_headers(body, msg_id="msg_tampered")
    tampered = body.replace(b'"amount": 5200', b'"amount": 9200', 1)
    assert tampered != body

    response = deliver(tampered, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert not Webhook.objects.exists()
    event = SecurityEvent.objects.get()
    assert event.kind == SecurityEventKind.WEBHOOK_BAD_SIGNATURE
    assert event.outcome == "failure"
    assert event.path == URL
    assert event.ip == "127.0.0.1"
    assert event.webhook_id == "msg_tampered"
    assert event.detail == "no matching signature"


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_stale_or_future_timestamp_is_refused(deliver, age):
    body = fixture_body("clearing")

    response = deliver(body, timestamp=int(time.time()) - age)

    assert response.status_code == 401
    assert not Webhook.objects.exists()
    assert SecurityEvent.objects.get().detail == "webhook-timestamp outside the tolerance"


def test_a_timestamp_too_long_to_be_a_time_is_refused_not_500(deliver):
    body = fixture_body("clearing")
    headers = {**signed_headers(body), "webhook-timestamp": "9" * 400}

    response = deliver(body, headers=headers)

    assert response.status_code == 401
    assert not Webhook.objects.exists()
    assert SecurityEvent.objects.get().detail == "webhook-timestamp is not an integer of seconds"


def test_unsigned_request_is_refused(deliver):
    response = deliver(fixture_body("clearing"), headers={})

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "bad_signature", "message": "bad signature: missing webhook-id header"}
    }
    assert not Webhook.objects.exists()
    event = SecurityEvent.objects.get()
    assert event.webhook_id == ""
    assert event.detail == "missing webhook-id header"


def test_wrong_secret_is_refused(deliver):
    response = deliver(fixture_body("clearing"), secret=OTHER_SECRET)

    assert response.status_code == 401
    assert not Webhook.objects.exists()
    assert SecurityEvent.objects.count() == 1


def test_no_configured_secret_refuses_everything(deliver, settings):
    settings.LITHIC_WEBHOOK_SECRET = ""

    response = deliver(fixture_body("clearing"))

    assert response.status_code == 401
    assert SecurityEvent.objects.get().detail == "no signing secret configured"


def test_security_event_keeps_origin_but_never_body_or_secret(client):
    body = fixture_body("authorization")
    headers = signed_headers(body, secret=OTHER_SECRET, msg_id="msg_probe")
    client.post(
        URL,
        data=body,
        content_type="application/json",
        headers={**headers, "User-Agent": "probe/1.0"},
        REMOTE_ADDR="203.0.113.9",
    )

    event = SecurityEvent.objects.get()
    assert (event.ip, event.user_agent, event.webhook_id) == (
        "203.0.113.9",
        "probe/1.0",
        "msg_probe",
    )
    stored = " ".join(str(value) for value in vars(event).values())
    assert "coffee shop" not in stored
    assert "7842e70e" not in stored  # the transaction token in the body
    assert headers["webhook-signature"].split(",", 1)[1] not in stored
    assert WEBHOOK_SECRET.removeprefix("whsec_") not in stored
    assert OTHER_SECRET.removeprefix("whsec_") not in stored


def test_several_signatures_are_accepted_when_one_matches(deliver):
    body = fixture_body("authorization")
    good = signed_headers(body, msg_id="msg_rotating", timestamp=int(time.time()))
    old = signed_headers(
        body,
        secret=OTHER_SECRET,
        msg_id="msg_rotating",
        timestamp=int(good["webhook-timestamp"]),
    )
    headers = {
        **good,
        # Lithic signs with the old and the new secret while one is being rotated.
        "webhook-signature": f"{old['webhook-signature']} {good['webhook-signature']}",
    }

    response = deliver(body, headers=headers)

    assert response.status_code == 200
    assert Webhook.objects.get().webhook_id == "msg_rotating"


def test_secrets_being_rotated_are_accepted(deliver, settings):
    settings.LITHIC_WEBHOOK_SECRET = OTHER_SECRET
    settings.LITHIC_WEBHOOK_SECRETS = [WEBHOOK_SECRET]

    signed_with_new = deliver(event_body(), secret=OTHER_SECRET)
    signed_with_old = deliver(event_body(), secret=WEBHOOK_SECRET)

    assert (signed_with_new.status_code, signed_with_old.status_code) == (200, 200)
    assert Webhook.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(b"not json at all", "body is not JSON", id="not-json"),
        pytest.param(b"[1, 2, 3]", "body is a JSON list, not an object", id="list"),
        pytest.param(b'{"token": "abc"}', "body has no event_type string", id="no-type"),
        pytest.param(b'{"event_type": 7}', "body has no event_type string", id="type-not-str"),
        pytest.param(b'{"event_type": "x", "n": NaN}', "body is not JSON", id="nan"),
        pytest.param(b'{"event_type": "x\\u0000"}', "NUL character", id="escaped-nul"),
        pytest.param(b'\xef\xbb\xbf{"event_type": "x"}', "body is not JSON", id="bom"),
    ],
)
def test_signed_malformed_body_is_kept_as_dead(deliver, body, error):
    response = deliver(body, msg_id="msg_malformed")

    # Answered 2xx: Lithic would only send the same bytes again.
    assert response.status_code == 200
    webhook = Webhook.objects.get()
    assert webhook.status == WebhookStatus.DEAD
    assert webhook.event_type == ""
    assert error in webhook.last_error
    assert webhook.next_attempt_at is None
    assert webhook.payload["raw_body"] == body.decode("utf-8", "backslashreplace")
    assert not SecurityEvent.objects.exists()


def test_malformed_bodies_are_not_picked_up_by_workers(deliver, run_worker):
    deliver(b"[]")

    summary = run_worker()

    assert summary.processed == summary.ignored == summary.failed == 0
    assert Webhook.objects.get().status == WebhookStatus.DEAD


def test_overlong_webhook_id_is_a_client_error(deliver):
    response = deliver(event_body(), msg_id="msg_" + "x" * 200)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_webhook_id"
    assert not Webhook.objects.exists()


def test_only_post_is_allowed(client):
    assert client.get(URL).status_code == 405
    assert not SecurityEvent.objects.exists()


# --- Over real HTTP, concurrently ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_store_one_row(live_server, settings):
    body = fixture_body("authorization")
    headers = {**signed_headers(body), "Content-Type": "application/json"}

    def post(_):
        return requests.post(live_server.url + URL, data=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(16)))

    assert [r.status_code for r in responses] == [200] * 16
    assert sorted(r.json()["status"] for r in responses) == ["duplicate"] * 15 + ["stored"]
    assert Webhook.objects.count() == 1
