"""Liveness and readiness probes."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database(alias: str) -> str:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_cache() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    try:
        client = cache.client.get_client(write=True)  # django-redis: bypasses IGNORE_EXCEPTIONS
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
    return "ok"


@never_cache
@require_GET
def readyz(request):
    checks = {"database": _check_database("default")}
    for alias in settings.DATABASE_REPLICA_ALIASES:
        checks[alias] = _check_database(alias)
    checks["redis"] = _check_cache()
    # Redis down slows us down but does not make us unready; databases do.
    ready = all(v == "ok" for k, v in checks.items() if k != "redis")
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)
