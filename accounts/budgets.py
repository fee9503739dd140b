"""Counting attempts per window, shared by every process through Redis.

The login page's budget of password checks and the API's budget of bad keys per address both
count here. While Redis is unavailable (core.cache) each process counts on its own: a budget
that counted in a cache answering nothing would let every attempt through.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import caches

from core.cache import redis_available


@dataclass(frozen=True)
class Count:
    count: int
    retry_after: int  # seconds until the window ends

    def over(self, limit: int) -> bool:
        return self.count > limit


def _cache():
    return caches["default"] if redis_available() else caches["local"]


def _key(name: str, ident: str, window: int, now: float) -> tuple[str, int]:
    bucket = int(now // window)
    return f"budget:{name}:{ident}:{bucket}", math.ceil((bucket + 1) * window - now)


def spend(name: str, ident: str, *, window: int = 1) -> Count:
    """Count one attempt of `ident` in the current window of `window` seconds."""
    key, left = _key(name, ident, window, time.time())
    cache = _cache()
    count = None
    if cache.add(key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.set(key, 1, timeout=window + 1)
            count = 1
    if count is None:  # Redis failed during the call: this process's own count
        return spend_locally(key, window, left)
    return Count(count, max(left, 1))


def spend_locally(key: str, window: int, left: int) -> Count:
    local = caches["local"]
    if local.add(key, 1, timeout=window + 1):
        return Count(1, max(left, 1))
    return Count(local.incr(key), max(left, 1))


def spent(name: str, ident: str, *, window: int = 1) -> Count:
    """How many attempts `ident` has made in the current window (nothing counted)."""
    key, left = _key(name, ident, window, time.time())
    value = _cache().get(key)
    if value is None and not redis_available():
        value = caches["local"].get(key)
    return Count(int(value or 0), max(left, 1))
