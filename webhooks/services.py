"""Every state change of the inbox outside the worker: storing a delivery, retry, replay."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from lithic_integration import payloads
from webhooks.models import REPLAYABLE_STATUSES, RETRYABLE_STATUSES, Webhook, WebhookStatus


def _max_length(field: str) -> int:
    length = getattr(Webhook._meta.get_field(field), "max_length", None)
    assert isinstance(length, int)  # noqa: S101 - these are CharFields
    return length


WEBHOOK_ID_MAX_LENGTH = _max_length("webhook_id")
_EVENT_TYPE_MAX_LENGTH = _max_length("event_type")
_EVENT_TOKEN_MAX_LENGTH = _max_length("event_token")

# One statement, one round trip: the receiving endpoint is on Lithic's clock. A duplicate
# `webhook-id` (Lithic delivers at least once) inserts nothing and returns no row.
_INSERT_SQL = """
    INSERT INTO webhooks (
        deleted, webhook_id, event_token, event_type, account_id, payload, status, attempts,
        last_error, received_at, next_attempt_at, processed_at, locked_by, locked_until
    )
    VALUES (
        NULL, %(webhook_id)s, %(event_token)s, %(event_type)s, NULL, %(payload)s::jsonb,
        %(status)s, 0, %(last_error)s, now(), CASE WHEN %(due)s THEN now() END, NULL, '', NULL
    )
    ON CONFLICT (webhook_id) DO NOTHING
    RETURNING id
"""


@dataclass(frozen=True)
class Delivery:
    """What the receiving endpoint made of a signed body."""

    event_type: str
    event_token: str
    payload_json: str
    error: str = ""


def delivery_parse(*, body: bytes) -> Delivery:
    """Read the event type and token of a signed body; a malformed body is kept, not refused.

    What PostgreSQL's jsonb or a handler could not take (not JSON, nested too deep, a NUL or a
    lone surrogate in a string, a number beyond 64 bits) is stored as text, DEAD, with the
    reason, for an operator: a signed delivery is never lost and never answered 500.
    """
    try:
        payload = payloads.load(body)
    except payloads.UnreadablePayload as exc:
        return _malformed(body, exc.reason)
    text = body.decode("utf-8")
    if not isinstance(payload, dict):
        return _malformed(body, f"body is a JSON {type(payload).__name__}, not an object")
    event_type = payload.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        return _malformed(body, "body has no event_type string")
    if len(event_type) > _EVENT_TYPE_MAX_LENGTH:
        return _malformed(body, f"event_type longer than {_EVENT_TYPE_MAX_LENGTH} characters")
    token = payload.get("token")
    event_token = token if isinstance(token, str) and len(token) <= _EVENT_TOKEN_MAX_LENGTH else ""
    return Delivery(event_type=event_type, event_token=event_token, payload_json=text)


def _malformed(body: bytes, error: str) -> Delivery:
    # Kept whole, as text, so that nothing Lithic sent is lost and an operator can read it.
    text = payloads.storable(body.decode("utf-8", "backslashreplace"))
    return Delivery(
        event_type="", event_token="", payload_json=json.dumps({"raw_body": text}), error=error
    )


def webhook_receive(*, webhook_id: str, delivery: Delivery) -> bool:
    """Store a delivery once per webhook-id; False when that id was stored before."""
    malformed = bool(delivery.error)
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_SQL,
            {
                "webhook_id": webhook_id,
                "event_token": delivery.event_token,
                "event_type": delivery.event_type,
                "payload": delivery.payload_json,
                # Nothing can apply a malformed body: it waits for an operator, as DEAD.
                "status": WebhookStatus.DEAD if malformed else WebhookStatus.PENDING,
                "last_error": delivery.error,
                "due": not malformed,
            },
        )
        return cursor.fetchone() is not None


def _requeue(*, queryset: QuerySet, statuses: list[str], actor, message: str) -> list[Webhook]:
    with transaction.atomic():
        # Rows a worker holds are PROCESSING and so not selected; the lock keeps a worker
        # from claiming a selected row between this read and the update.
        selected = Webhook.objects.filter(pk__in=queryset.values("pk"), status__in=statuses)
        rows = list(selected.select_for_update().order_by("id"))
        if not rows:
            return []
        Webhook.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=WebhookStatus.PENDING,
            attempts=0,
            # The inbox's clock is PostgreSQL's now() everywhere (the worker's SQL included);
            # Django's Now() is the statement's time, which inside a transaction is later.
            next_attempt_at=RawSQL("now()", ()),
            locked_by="",
            locked_until=None,
        )
        LogEntry.objects.log_actions(
            user_id=actor.pk, queryset=rows, action_flag=CHANGE, change_message=message
        )
    return rows


def webhook_retry(*, queryset: QuerySet, actor) -> list[Webhook]:
    """Queue the FAILED and DEAD events among `queryset` again, due now, with fresh attempts."""
    return _requeue(queryset=queryset, statuses=RETRYABLE_STATUSES, actor=actor, message="Retried.")


def webhook_replay(*, queryset: QuerySet, actor) -> list[Webhook]:
    """Run the PROCESSED, IGNORED and DEAD events among `queryset` again (idempotent handlers)."""
    return _requeue(
        queryset=queryset, statuses=REPLAYABLE_STATUSES, actor=actor, message="Replayed."
    )
