"""Read-your-writes: a client that wrote reads the primary until replicas surely have it.

"A client" is an operator's browser session or an API key. Every request with a method that
may write (anything but GET, HEAD, OPTIONS, TRACE) reads the primary throughout, and marks its
client for `READ_YOUR_WRITES_SECONDS`, which is longer than any replica still in use can lag
(config.settings, core.replicas). The mark travels with the client, so it holds across
processes:

- a browser gets a signed cookie that expires with the window (sessions, the console);
- an API key is marked on its own row (`api_keys.last_write_at`), which the key's
  authentication reads from the primary on every request anyway; it pins the rest of the
  request there (accounts.api.authentication). The authentication leaves the mark to write in
  `request.read_your_writes_mark`, and this middleware calls it after the response.

Without replicas none of this runs.
"""

from __future__ import annotations

from django.conf import settings

from core.db import pin_request_to_primary, request_pin

COOKIE = "primary_reads"
COOKIE_SALT = "core.read_your_writes"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class ReadYourWritesMiddleware:
    """First in the chain: it decides where the request's reads go before any is made."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.DATABASE_REPLICA_ALIASES:
            return self.get_response(request)
        with request_pin():
            writes = request.method not in SAFE_METHODS
            if writes or self._marked(request):
                pin_request_to_primary()
            response = self.get_response(request)
            if writes:
                mark = getattr(request, "read_your_writes_mark", None)
                if mark is not None:
                    mark()
                elif self._has_session(request, response):
                    self._mark(response)
            return response

    @staticmethod
    def _marked(request) -> bool:
        value = request.get_signed_cookie(
            COOKIE,
            default=None,
            salt=COOKIE_SALT,
            max_age=settings.READ_YOUR_WRITES_SECONDS,
        )
        return value is not None

    @staticmethod
    def _has_session(request, response) -> bool:
        """A browser's client: it has a session, or this response gives it one (a login).
        Lithic's deliveries and unauthenticated calls have none to mark."""
        name = settings.SESSION_COOKIE_NAME
        return name in request.COOKIES or name in response.cookies

    @staticmethod
    def _mark(response) -> None:
        response.set_signed_cookie(
            COOKIE,
            "1",
            salt=COOKIE_SALT,
            max_age=settings.READ_YOUR_WRITES_SECONDS,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
