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


def pinned_to_primary() -> bool:
    return _pinned_to_primary.get()
