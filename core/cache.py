"""Redis behind a circuit breaker: losing it costs speed, never a request.

Each cache operation waits at most `REDIS_SOCKET_TIMEOUT_SECONDS` (a hung Redis keeps its port
open and never answers). The first operation that fails opens this process's breaker for
`REDIS_BREAKER_SECONDS`: meanwhile no operation goes to Redis at all, and each returns what a
miss returns (django-redis's IGNORE_EXCEPTIONS). After that the next operation is a probe:
success closes the breaker, failure opens it again.

What the cache holds is never the only truth: a miss, a failure and an open breaker all read
the database instead. Where a feature needs Redis to keep a promise (the API's request budget),
it asks `redis_available()` and falls back to something of its own when it is not.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from django.conf import settings
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted

log = logging.getLogger(__name__)


class Breaker:
    """This process's view of Redis: closed (use it), or open until a moment (skip it)."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allows(self) -> bool:
        return time.monotonic() >= self._open_until

    def failed(self, error: BaseException) -> None:
        seconds = float(settings.REDIS_BREAKER_SECONDS)
        with self._lock:
            self._open_until = time.monotonic() + seconds
        log.warning("Redis failed (%s): not asked again for %.0f s", error, seconds)

    def succeeded(self) -> None:
        self._open_until = 0.0

    def reset(self) -> None:
        """Closed again (tests)."""
        self.succeeded()


breaker = Breaker()


def redis_available() -> bool:
    """Whether cache operations go to Redis now (configured, and the breaker closed)."""
    return bool(settings.REDIS_URL) and breaker.allows()


class BreakerClient(DefaultClient):
    """django-redis's client, each operation guarded by the breaker (set as CLIENT_CLASS)."""

    def get_client(self, write=True, tried=None):
        if not breaker.allows():
            raise ConnectionInterrupted(connection=None)
        return super().get_client(write=write, tried=tried)

    def get_client_with_index(self, write=True, tried=None):
        if not breaker.allows():
            raise ConnectionInterrupted(connection=None)
        return super().get_client_with_index(write=write, tried=tried)


def _guarded(operation):
    @functools.wraps(operation)
    def guarded(self, *args, **kwargs):
        open_before = not breaker.allows()
        try:
            result = operation(self, *args, **kwargs)
        except ConnectionInterrupted as exc:
            if not open_before:
                breaker.failed(exc)
            raise
        breaker.succeeded()
        return result

    return guarded


# Every operation of the cache API: each one either reaches Redis or fails fast.
for _name in (
    "set", "add", "get", "get_many", "set_many", "delete", "delete_many", "delete_pattern",
    "incr", "decr", "has_key", "touch", "expire", "persist", "ttl", "clear", "keys",
    "incr_version",
):  # fmt: skip
    setattr(BreakerClient, _name, _guarded(getattr(DefaultClient, _name)))
