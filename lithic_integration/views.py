"""Lithic's Auth Stream Access endpoint: verify, decide, answer. Fast, and closed on failure."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import SecurityEventKind
from accounts.security import security_event_record_refusal
from core.db import use_primary
from lithic_integration import asa as asa_request
from lithic_integration import signatures
from transactions import authorization as asa

logger = logging.getLogger("lithic.asa")


@csrf_exempt
@require_POST
def asa_authorize(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    body = request.body
    try:
        signatures.verify(secret=settings.LITHIC_ASA_SECRET, headers=request.headers, body=body)
    except signatures.SignatureError as exc:
        logger.warning("ASA request refused: %s", exc)
        security_event_record_refusal(
            kind=SecurityEventKind.ASA_BAD_SIGNATURE, request=request, reason=str(exc)
        )
        return JsonResponse({"error": {"code": exc.code, "message": "bad signature"}}, status=401)

    with use_primary():
        try:
            try:
                parsed = asa_request.parse_request(body)
            except asa_request.MalformedRequest as exc:
                answer = asa.record_unmatched(
                    token=exc.token,
                    card_token=exc.card_token,
                    result=settings.ASA_MALFORMED_RESULT,
                    reason=f"malformed request: {exc.reason}",
                    body=body,
                )
            else:
                answer = asa.authorize(parsed, body=body)
        except DatabaseError:
            # Unreachable database, statement timeout, lock wait past the budget: decline now
            # rather than let Lithic time out. Nothing was recorded, so nothing was approved.
            logger.exception("ASA decision failed; declining")
            if connection.in_atomic_block is False:
                connection.close_if_unusable_or_obsolete()
            token = _token_of(body)
            answer = asa.Answer(token, settings.ASA_FAILURE_RESULT, "decision failed")
    logger.info(
        "ASA %s %s %s%s in %.1f ms",
        answer.token,
        answer.result,
        answer.reason,
        " (replay)" if answer.replay else "",
        (time.perf_counter() - started) * 1000,
    )
    return JsonResponse(answer.as_json())


def _token_of(body: bytes) -> str | None:
    try:
        return asa_request.parse_request(body).token
    except asa_request.MalformedRequest as exc:
        return exc.token or None
