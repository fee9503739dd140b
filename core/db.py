"""Where reads go: code that must read its own writes or decide on money pins the primary."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_pinned_to_primary: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pinned_to_primary", default=False
)


@contextmanager
def use_primary() -> Iterator[None]:
    """Send every read in this block to the primary (config.db_router reads the pin)."""
    token = _pinned_to_primary.set(True)
    try:
        yield
    finally:
        _pinned_to_primary.reset(token)


# The replica a request reads from, once it has read from one: every read of a request sees
# the same replica's snapshot moment, not one replica's and then an older one's.
_request_replica: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_replica", default=None
)


@contextmanager
def request_pin() -> Iterator[None]:
    """The span of one request: a `pin_request_to_primary()` inside it ends with it, and so
    does the replica it reads from."""
    token = _pinned_to_primary.set(_pinned_to_primary.get())
    replica_token = _request_replica.set(None)
    try:
        yield
    finally:
        _request_replica.reset(replica_token)
        _pinned_to_primary.reset(token)


def request_replica() -> str | None:
    return _request_replica.get()


def set_request_replica(alias: str) -> None:
    _request_replica.set(alias)


def pin_request_to_primary() -> None:
    """Send the rest of the current request's reads to the primary (core.read_your_writes).

    For the API key's authentication, which learns inside the view that its client wrote a
    moment ago; the pin ends with the request (`request_pin`).
    """
    _pinned_to_primary.set(True)


def pinned_to_primary() -> bool:
    return _pinned_to_primary.get()
