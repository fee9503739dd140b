"""Lithic's event webhooks: verify the signature, store the event, answer. Nothing else.

Applying the event is the worker's job (`manage.py process_webhooks`): the answer must not wait
for it, and an event that fails to apply must still be kept.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import SecurityEventKind
from accounts.security import security_event_record_refusal
from core.tenancy import system_scope
from lithic_integration import signatures
from webhooks.services import WEBHOOK_ID_MAX_LENGTH, delivery_parse, webhook_receive

logger = logging.getLogger("webhooks.inbox")

# The inbox stores events of every account, and of none yet (core.tenancy).
INBOX_SCOPE = "webhooks-inbox"


def webhook_secrets() -> list[str]:
    """The secrets a delivery may be signed with: the current one, then any being rotated."""
    return signatures.configured_secrets(
        settings.LITHIC_WEBHOOK_SECRET, settings.LITHIC_WEBHOOK_SECRETS
    )


@csrf_exempt
@require_POST
def lithic_webhook(request: HttpRequest) -> HttpResponse:
    if connection.vendor != "postgresql":
        # The inbox is PostgreSQL's (ON CONFLICT, jsonb, SKIP LOCKED); the SQLite of
        # `make run-sqlite` cannot take events, and saying so beats a 500 that Lithic would retry.
        return JsonResponse(
            {
                "error": {
                    "code": "postgresql_required",
                    "message": "The webhook inbox needs PostgreSQL (DATABASE_URL).",
                }
            },
            status=503,
        )
    body = request.body
    try:
        webhook_id = signatures.verify_any(
            secrets=webhook_secrets(), headers=request.headers, body=body
        )
    except signatures.SignatureError as exc:
        logger.warning("Lithic webhook refused: %s", exc)
        security_event_record_refusal(
            kind=SecurityEventKind.WEBHOOK_BAD_SIGNATURE, request=request, reason=str(exc)
        )
        return JsonResponse(
            {"error": {"code": exc.code, "message": f"bad signature: {exc}"}}, status=401
        )
    if len(webhook_id) > WEBHOOK_ID_MAX_LENGTH:
        return JsonResponse(
            {
                "error": {
                    "code": "invalid_webhook_id",
                    "message": f"webhook-id longer than {WEBHOOK_ID_MAX_LENGTH} characters",
                }
            },
            status=400,
        )

    delivery = delivery_parse(body=body)
    try:
        with system_scope(INBOX_SCOPE):
            stored = webhook_receive(webhook_id=webhook_id, delivery=delivery)
    except Exception:  # noqa: BLE001 - a signed delivery is never answered 500
        # Not stored: Lithic retries a delivery that was not acknowledged.
        logger.exception("Lithic webhook %s could not be stored", webhook_id)
        return JsonResponse(
            {
                "error": {
                    "code": "storage_unavailable",
                    "message": "The event could not be stored; deliver it again later.",
                }
            },
            status=503,
        )
    if delivery.error:
        logger.error("Lithic webhook %s kept as DEAD: %s", webhook_id, delivery.error)
    else:
        logger.info(
            "Lithic webhook %s %s %s",
            webhook_id,
            delivery.event_type,
            "stored" if stored else "duplicate",
        )
    return JsonResponse({"status": "stored" if stored else "duplicate"})
