"""The API's request budget per key: across processes in Redis, per process without it."""

from __future__ import annotations

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from core.cache import redis_available


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A request budget per API key, kept in the shared cache (so per key across processes).

    While Redis is unavailable (core.cache) the budget is this process's own, at the fallback
    rate `api_key_local`: counting in a cache that answers nothing would let every request
    through.
    """

    scope = "api_key"
    local_scope = "api_key_local"

    def allow_request(self, request, view):
        if not redis_available():
            self.cache = caches["local"]
            self.scope = self.local_scope
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        api_key = request.auth
        if api_key is None:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": api_key.prefix}
