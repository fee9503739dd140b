"""Liveness and readiness probes."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import replicas
from core.audit import client_ip


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


def _replica_check(alias: str, state: replicas.ReplicaState | None) -> dict:
    if state is None:
        return {"status": "not measured yet"}
    lag = None if state.lag_seconds is None else round(state.lag_seconds, 3)
    return {"status": state.detail, "serving_reads": state.healthy, "lag_seconds": lag}


@never_cache
@require_GET
def readyz(request):
    """Ready while this process can serve: the primary answers. Replicas and Redis are
    reported; without them reads go to the primary and the cache is skipped."""
    checks: dict = {"database": _check_database("default")}
    if settings.DATABASE_REPLICA_ALIASES:
        replicas.monitor.usable()  # starts the measurements in a process that made no read yet
        states = replicas.monitor.states()
        checks["replicas"] = {
            alias: _replica_check(alias, states.get(alias))
            for alias in settings.DATABASE_REPLICA_ALIASES
        }
    checks["redis"] = _check_cache()
    ready = checks["database"] == "ok"
    body: dict = {"ready": ready}
    if _may_see_details(request):
        body["checks"] = checks
    return JsonResponse(body, status=200 if ready else 503)


def _may_see_details(request) -> bool:
    """What each dependency answered is for this host and the console's operators only: to
    anyone else it maps the infrastructure."""
    address = client_ip(request)
    try:
        if address and ipaddress.ip_address(address).is_loopback:
            return True
    except ValueError:
        pass
    return admin.site.has_permission(request)
