"""Lithic's Auth Stream Access endpoint: verify, decide, answer. Within the deadline, or no effect.

Served by its own processes (`config.asa_wsgi`), never behind the admin or the API. Every
signed request gets a 200 with one of Lithic's results; nothing signed is ever answered 500.

- The deadline counts from when the request arrived (`core.receipt`, backlog wait included):
  a request that waited past it is declined at once, without touching the database.
- The database work runs inside what is left (connection checkout, lock waits, statements); a
  decision that cannot commit in time is rolled back and declined: no approval, no hold.
- A lost connection (PostgreSQL or the pooler restarted, a failover) is tried again on a new
  one while the deadline leaves room: a decision that did not commit is made again, and one that
  did is found by its token and replayed.
- Any other database error, or anything unexpected, declines with `ASA_FAILURE_RESULT` and
  records nothing, so Lithic's retry is decided afresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import SecurityEventKind
from accounts.security import security_event_record_refusal
from core.db import use_primary
from core.deadline import Deadline, DeadlinePassed
from core.receipt import received_at
from core.tenancy import system_scope
from lithic_integration import signatures
from lithic_integration.asa import MalformedRequest, answer_json, parse_request, token_of
from transactions.authorization import Answer, authorize, record_unmatched

logger = logging.getLogger("lithic.asa")

# The responder decides for every account: the database context it runs in (core.tenancy).
ASA_SCOPE = "asa"
# After a lost connection: a pause, then another attempt if this much of the deadline is left.
RETRY_PAUSE_SECONDS = 0.05
RETRY_AT_LEAST_MS = 100


def asa_secrets() -> list[str]:
    """The secrets a request may be signed with: the current one, then any being rotated."""
    return signatures.configured_secrets(settings.LITHIC_ASA_SECRET, settings.LITHIC_ASA_SECRETS)


@csrf_exempt
@require_POST
def asa_authorize(request: HttpRequest) -> HttpResponse:
    arrived = received_at(request.META)
    started = time.monotonic()
    deadline = Deadline.after(settings.ASA_DEADLINE_MS, start=arrived)
    body = request.body
    try:
        request_id = signatures.verify_any(
            secrets=asa_secrets(), headers=request.headers, body=body
        )
    except signatures.SignatureError as exc:
        logger.warning("ASA request refused: %s", exc)
        security_event_record_refusal(
            kind=SecurityEventKind.ASA_BAD_SIGNATURE, request=request, reason=str(exc)
        )
        return _reply({"error": {"code": exc.code, "message": "bad signature"}}, status=401)

    try:
        answer = _decide(body, request_id=request_id, deadline=deadline)
    except Exception:  # noqa: BLE001 - a signed request is answered, never with a 500
        logger.exception("ASA decision failed unexpectedly; declining")
        answer = Answer(token_of(body), settings.ASA_FAILURE_RESULT, "internal error")
    logger.info(
        "ASA %s %s %s%s in %.1f ms (%.1f ms since arrival)",
        answer.token,
        answer.result,
        answer.reason,
        " (replay)" if answer.replay else "",
        (time.monotonic() - started) * 1000,
        (time.monotonic() - arrived) * 1000,
    )
    return _reply(answer_json(answer))


def _reply(data: dict, *, status: int = 200) -> JsonResponse:
    # A length, not chunks: the responder's processes run without the web's middleware (which
    # sets it), and Lithic reads one small answer.
    response = JsonResponse(data, status=status)
    response["Content-Length"] = str(len(response.content))
    return response


def _decide(body: bytes, *, request_id: str, deadline: Deadline) -> Answer:
    while True:
        if deadline.passed:
            # Lithic has declined it already; deciding now could only leave a hold it never sees.
            return Answer(
                token_of(body),
                settings.ASA_FAILURE_RESULT,
                f"arrived {deadline.elapsed_ms()} ms ago: "
                f"past the {deadline.budget_ms} ms deadline",
            )
        answer, connection_lost = _decide_once(body, request_id=request_id, deadline=deadline)
        if not connection_lost or deadline.remaining_ms() < RETRY_AT_LEAST_MS:
            return answer
        # authorize() is idempotent by the request's token, so a second attempt is safe even if
        # the first one's COMMIT reached the server before the connection went.
        logger.warning("ASA %s: the database connection was lost; trying again", answer.token)
        time.sleep(min(RETRY_PAUSE_SECONDS, deadline.remaining_ms() / 1000))


def _decide_once(body: bytes, *, request_id: str, deadline: Deadline) -> tuple[Answer, bool]:
    """The answer, and whether it is a decline because the connection was lost."""
    with _bound_connection_wait(deadline), use_primary(), system_scope(ASA_SCOPE):
        try:
            try:
                parsed = parse_request(body, request_id=request_id)
            except MalformedRequest as exc:
                answer = record_unmatched(
                    token=exc.token,
                    card_token=exc.card_token,
                    result=settings.ASA_MALFORMED_RESULT,
                    reason=f"malformed request: {exc.reason}"[:255],
                    body=body,
                    deadline=deadline,
                )
                return answer, False
            return authorize(parsed, body=body, deadline=deadline), False
        except DeadlinePassed as exc:
            return Answer(token_of(body), settings.ASA_FAILURE_RESULT, str(exc)), False
        except DatabaseError:
            # Unreachable database, statement timeout, lock wait past the deadline: decline now
            # rather than let Lithic time out. Nothing was recorded, so nothing was approved.
            logger.exception("ASA decision failed; declining")
            if connection.in_atomic_block is False:
                connection.close_if_unusable_or_obsolete()
            lost = connection.connection is None
            return Answer(token_of(body), settings.ASA_FAILURE_RESULT, "decision failed"), lost


@contextmanager
def _bound_connection_wait(deadline: Deadline) -> Iterator[None]:
    """Wait for a pooled connection no longer than the deadline leaves, for this request only.

    The responder's processes handle one request at a time (sync workers), so the pool's
    checkout timeout can be this request's own; it is put back afterwards, so what runs outside
    a decision (a refusal's security event, a probe) waits as configured.
    """
    pool = getattr(connection, "pool", None) if connection.vendor == "postgresql" else None
    if pool is None or connection.connection is not None:
        yield
        return
    configured = pool.timeout
    pool.timeout = max(deadline.remaining_ms(), 1) / 1000
    try:
        yield
    finally:
        pool.timeout = configured
