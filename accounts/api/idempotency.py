"""Idempotency-Key for POST: the first response is stored and replayed to retries.

- The same key and the same body replay the first response (status and body).
- The same key with a different body is refused (422 `idempotency_key_reused`).
- While the first request still runs, a duplicate is refused (409 `idempotency_key_in_use`).
- Keys are scoped per API key. A 5xx is not stored, so the client may retry.

The claim is committed on its own before the request runs, so a concurrent duplicate sees it
at once; the request's own writes and the stored response commit together, so a crash can
never leave work done without its stored response. A claim whose process died is taken over
after IDEMPOTENCY_LOCK_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from accounts.models import ApiKey, IdempotencyRecord
from core.api.errors import Conflict, UnprocessableEntity

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyInvalid(UnprocessableEntity):
    default_code = "idempotency_key_invalid"


class IdempotencyKeyReused(UnprocessableEntity):
    default_code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was already used with a different request. Use a new key for a "
        "new request."
    )


class IdempotencyKeyInUse(Conflict):
    default_code = "idempotency_key_in_use"
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."


@dataclass
class Claim:
    record: IdempotencyRecord


class Replay(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, response: Response):
        self.response = response


def fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    material = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(material.encode()).hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def claim(request, *, key: str) -> Claim:
    """Claim `key` for this request, or raise Replay / IdempotencyKeyReused / ...InUse."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyKeyInvalid(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.")
    api_key: ApiKey = request.auth
    wanted = fingerprint(request)
    now = timezone.now()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                api_key=api_key,
                account_id=api_key.account_id,
                key=key,
                request_fingerprint=wanted,
                locked_at=now,
            )
        return Claim(record=record)
    except IntegrityError:
        pass

    record = IdempotencyRecord.objects.get(api_key=api_key, key=key)
    if record.request_fingerprint != wanted:
        raise IdempotencyKeyReused()
    if record.state == IdempotencyRecord.State.COMPLETED:
        raise Replay(_replay(record))
    stale_before = now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS)
    taken_over = IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS, locked_at__lt=stale_before
    ).update(locked_at=now)
    if taken_over:
        record.locked_at = now
        return Claim(record=record)
    raise IdempotencyKeyInUse()


def complete(claim: Claim, response: Response) -> None:
    """Store the response to replay. Runs in the request's transaction when it succeeded."""
    body = json.loads(json.dumps(response.data, cls=JSONEncoder))
    IdempotencyRecord.objects.filter(pk=claim.record.pk).update(
        state=IdempotencyRecord.State.COMPLETED,
        response_status=response.status_code,
        response_body=body,
        completed_at=timezone.now(),
    )


def release(claim: Claim) -> None:
    """Forget the claim (after a server error), so the client's retry runs afresh."""
    IdempotencyRecord.objects.filter(
        pk=claim.record.pk, state=IdempotencyRecord.State.IN_PROGRESS
    ).delete()


def purge_expired() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def is_server_error(response: Response) -> bool:
    return response.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR
