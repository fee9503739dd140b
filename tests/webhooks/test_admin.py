"""The inbox in the operator console: what waits, and retrying or replaying events."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.models import SecurityEvent
from accounts.services import user_create
from tests.conftest import PASSWORD
from tests.console import console_login
from tests.webhooks import handlers
from tests.webhooks.conftest import event_body, signed_headers
from webhooks.admin import age_text
from webhooks.models import Webhook, WebhookStatus

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:webhooks_webhook_changelist")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_event(status: str, **values) -> Webhook:
    defaults = {
        "webhook_id": f"msg_{status.lower()}_{Webhook.objects.count()}",
        "event_type": "test.count",
        "payload": {"event_type": "test.count", "token": "t"},
        "status": status,
        "attempts": 4 if status in ("FAILED", "DEAD") else 0,
        "last_error": "RuntimeError: boom" if status in ("FAILED", "DEAD") else "",
    }
    if status in ("DEAD", "PROCESSED", "IGNORED"):
        defaults["next_attempt_at"] = None
    if status in ("PROCESSED", "IGNORED"):
        defaults["processed_at"] = timezone.now()
    if status == "PROCESSING":
        defaults["locked_by"] = "host:1:abc"
        defaults["locked_until"] = timezone.now() + datetime.timedelta(minutes=1)
    return Webhook.objects.create(**(defaults | values))


def test_changelist_shows_the_inbox_counts_and_the_oldest_pending_age(operator_client):
    make_event("PENDING", received_at=timezone.now() - datetime.timedelta(minutes=12, seconds=5))
    make_event("PENDING")
    make_event("FAILED")
    for _ in range(3):
        make_event("DEAD")
    make_event("PROCESSED")

    response = operator_client.get(CHANGELIST)

    assert response.status_code == 200
    inbox = response.context["inbox"]
    assert (inbox.pending, inbox.processing, inbox.failed, inbox.dead) == (2, 0, 1, 3)
    assert datetime.timedelta(minutes=12) <= inbox.oldest_pending_age
    assert inbox.oldest_pending_age < datetime.timedelta(minutes=13)
    content = response.content.decode()
    assert 'id="webhook-inbox-summary"' in content
    assert "12 min" in content


def test_changelist_without_pending_events_says_none(operator_client):
    response = operator_client.get(CHANGELIST)

    assert response.context["inbox"].oldest_pending_age is None
    assert "<td>none</td>" in response.content.decode()


def test_changelist_filters_by_status_and_type(operator_client):
    make_event("DEAD")
    make_event("PENDING", event_type="card.created")

    dead = operator_client.get(CHANGELIST, {"status__exact": "DEAD"})
    cards = operator_client.get(CHANGELIST, {"event_type": "card.created"})

    assert [w.status for w in dead.context["cl"].result_list] == ["DEAD"]
    assert [w.event_type for w in cards.context["cl"].result_list] == ["card.created"]


def test_detail_page_shows_the_payload(operator_client):
    webhook = make_event("DEAD", payload={"event_type": "test.count", "memo": "from Lithic"})

    page = operator_client.get(reverse("admin:webhooks_webhook_change", args=[webhook.pk]))

    assert page.status_code == 200
    assert "from Lithic" in page.content.decode()


@pytest.mark.parametrize("age", [None, 3, 65, 7_300, 2 * 86_400 + 3_600])
def test_age_text(age):
    expected = {None: "", 3: "3 s", 65: "1 min 5 s", 7_300: "2 h 1 min", 176_400: "2 d 1 h"}
    delta = None if age is None else datetime.timedelta(seconds=age)
    assert age_text(delta) == expected[age]


def test_retry_requeues_failed_and_dead_events_only(operator_client, operator):
    failed, dead, processed = make_event("FAILED"), make_event("DEAD"), make_event("PROCESSED")

    response = operator_client.post(
        CHANGELIST,
        {"action": "retry_events", "_selected_action": [failed.pk, dead.pk, processed.pk]},
        follow=True,
    )

    content = response.content.decode()
    assert "2 webhooks queued for retry." in content
    assert "1 selected webhook skipped: only failed or dead ones are retried." in content
    for webhook in (failed, dead):
        webhook.refresh_from_db()
        assert webhook.status == WebhookStatus.PENDING
        assert webhook.attempts == 0
        assert webhook.next_attempt_at <= timezone.now()
    processed.refresh_from_db()
    assert processed.status == WebhookStatus.PROCESSED
    entries = LogEntry.objects.filter(user=operator, action_flag=CHANGE)
    assert sorted(int(e.object_id) for e in entries) == sorted([failed.pk, dead.pk])
    assert {e.change_message for e in entries} == {"Retried."}


def test_replay_requeues_processed_ignored_and_dead_events(operator_client, operator):
    events = [make_event(s) for s in ("PROCESSED", "IGNORED", "DEAD", "PENDING", "PROCESSING")]

    response = operator_client.post(
        CHANGELIST,
        {"action": "replay_events", "_selected_action": [e.pk for e in events]},
        follow=True,
    )

    content = response.content.decode()
    assert "3 webhooks queued for replay." in content
    assert "2 selected webhooks skipped" in content
    statuses = [Webhook.objects.get(pk=e.pk).status for e in events]
    assert statuses == ["PENDING", "PENDING", "PENDING", "PENDING", "PROCESSING"]
    assert LogEntry.objects.filter(user=operator, change_message="Replayed.").count() == 3


def test_dead_event_replayed_from_the_console_is_processed(
    deliver, run_worker, operator_client, operator
):
    body = event_body("test.fail")
    deliver(body, headers=signed_headers(body, msg_id="msg_dead"))
    for _ in range(4):
        run_worker()
        # Let the backoff pass (the database's clock stands still inside the test).
        Webhook.objects.filter(status="FAILED").update(
            next_attempt_at=F("next_attempt_at") - datetime.timedelta(days=1)
        )
    webhook = Webhook.objects.get()
    assert webhook.status == WebhookStatus.DEAD

    handlers.BROKEN["value"] = False  # the dependency is back
    operator_client.post(CHANGELIST, {"action": "replay_events", "_selected_action": [webhook.pk]})
    summary = run_worker()

    assert summary.processed == 1
    webhook.refresh_from_db()
    assert webhook.status == WebhookStatus.PROCESSED
    assert webhook.last_error == ""
    assert len(handlers.CALLS) == 1
    entry = LogEntry.objects.get(object_id=str(webhook.pk))
    assert entry.user == operator
    history = operator_client.get(reverse("admin:webhooks_webhook_history", args=[webhook.pk]))
    assert "Replayed." in history.content.decode()


def test_staff_without_the_permission_cannot_retry(client, fixture_actor):
    viewer = user_create(
        email="viewer@cardops.test", account=None, password=PASSWORD, is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhook"))
    console_login(client, viewer)
    dead = make_event("DEAD")

    page = client.get(CHANGELIST)
    client.post(CHANGELIST, {"action": "retry_events", "_selected_action": [dead.pk]})

    assert page.status_code == 200
    assert "retry_events" not in page.content.decode()
    dead.refresh_from_db()
    assert dead.status == WebhookStatus.DEAD
    assert not LogEntry.objects.exists()


def test_inbox_admin_cannot_add_change_or_delete(operator_client):
    webhook = make_event("PENDING")

    assert operator_client.get(reverse("admin:webhooks_webhook_add")).status_code == 403
    url = reverse("admin:webhooks_webhook_delete", args=[webhook.pk])
    assert operator_client.get(url).status_code == 403
    change = reverse("admin:webhooks_webhook_change", args=[webhook.pk])
    assert operator_client.post(change, {"status": "PROCESSED"}).status_code == 403


def test_security_events_are_listed_and_filtered(deliver, operator_client):
    deliver(event_body(), headers={})
    url = reverse("admin:accounts_securityevent_changelist")

    by_kind = operator_client.get(url, {"kind__exact": "webhook_bad_signature"})
    other_kind = operator_client.get(url, {"kind__exact": "asa_bad_signature"})
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = operator_client.get(
        url, {"occurred_at__gte": midnight.isoformat(), "kind__exact": "webhook_bad_signature"}
    )

    assert by_kind.context["cl"].result_count == 1
    assert other_kind.context["cl"].result_count == 0
    assert today.context["cl"].result_count == 1
    event = SecurityEvent.objects.get(kind="webhook_bad_signature")
    detail = reverse("admin:accounts_securityevent_change", args=[event.pk])
    assert operator_client.get(detail).status_code == 200
    assert operator_client.post(detail, {"detail": "edited"}).status_code == 403
