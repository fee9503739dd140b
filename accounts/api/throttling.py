from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A request budget per API key (kept in the shared cache, so per key across processes)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        api_key = request.auth
        if api_key is None:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": api_key.prefix}
